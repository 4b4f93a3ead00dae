//! A rough throughput figure: concurrent users joining and quitting one
//! group over HTTP on 127.0.0.1, against an embedded server with the default
//! durability (`synchronous=FULL`). Prints ops/s and latency percentiles.
//!
//! `cargo bench --bench join_quit` (env: BENCH_CLIENTS, default 64; BENCH_SECS, default 5).

use groupdeck::client::Client;
use groupdeck::model::GroupType;
use groupdeck::server::api::CreateGroupRequest;
use groupdeck::server::{self, ServerConfig};
use groupdeck::usersig::SigKey;
use std::time::{Duration, Instant};

const APP_ID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef0123456789abcdef0123456789abcdef01234567";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; under `cargo test` this runs as a short smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    let clients = env_or("BENCH_CLIENTS", if full { 64 } else { 4 }).clamp(1, 1000);
    let secs = env_or("BENCH_SECS", if full { 5 } else { 1 }).clamp(1, 120);
    let dir = tempfile::tempdir()?;
    let mut cfg = ServerConfig::new(dir.path().join("bench.db"), APP_ID, KEY);
    cfg.rate_per_second = 0;
    let running = server::start(cfg).await?;
    let base = running.base_url();
    let key = SigKey::new(APP_ID, KEY);
    let owner = Client::new(&base, "bench-owner", &key.sign("bench-owner", 3600))?;
    let gid = owner
        .create_group(&CreateGroupRequest {
            max_members: Some(6000),
            ..CreateGroupRequest::new("bench", GroupType::Meeting)
        })
        .await?;

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let user = format!("bench-user-{i}");
        let client = owner.with_user(&user, &key.sign(&user, 3600))?;
        let gid = gid.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.join(&gid, None).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
                let t = Instant::now();
                match client.quit(&gid).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!("join/quit over HTTP, {clients} clients, {secs} s, synchronous=FULL");
    println!("  ops:     {} ({} errors)", all.len(), errors);
    println!("  ops/s:   {:.0}", all.len() as f64 / elapsed);
    println!(
        "  latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        percentile(&all, 1.0).as_secs_f64() * 1e3
    );
    running.stop().await?;
    Ok(())
}
