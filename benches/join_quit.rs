//! A rough throughput figure: concurrent users joining and quitting one
//! group over HTTP on 127.0.0.1, against an embedded server with the default
//! durability (`synchronous=FULL`). Prints ops/s and latency percentiles.
//!
//! `cargo bench --bench join_quit` (env: BENCH_CLIENTS, default 64; BENCH_SECS, default 5).

use groupdeck::server::{self, ServerConfig};
use groupdeck::usersig::SigKey;
use std::time::{Duration, Instant};

const APP_ID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef0123456789abcdef0123456789abcdef01234567";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = env_or("BENCH_CLIENTS", 64).clamp(1, 1000);
    let secs = env_or("BENCH_SECS", 5).clamp(1, 120);
    let dir = tempfile::tempdir()?;
    let mut cfg = ServerConfig::new(dir.path().join("bench.db"), APP_ID, KEY);
    cfg.rate_per_second = 0;
    let running = server::start(cfg).await?;
    let base = running.base_url();
    let key = SigKey::new(APP_ID, KEY);
    let http = reqwest::Client::builder().pool_max_idle_per_host(2000).build()?;

    let owner_sig = key.sign("bench-owner", 3600);
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/groups"))
        .bearer_auth(&owner_sig)
        .json(&serde_json::json!({"name": "bench", "type": "Meeting", "max_members": 6000}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let gid = encode(created["group_id"].as_str().unwrap_or_default());

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let http = http.clone();
        let sig = key.sign(&format!("bench-user-{i}"), 3600);
        let join = format!("{base}/api/v1/groups/{gid}/join");
        let quit = format!("{base}/api/v1/groups/{gid}/quit");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                for url in [&join, &quit] {
                    let t = Instant::now();
                    match http.post(url).bearer_auth(&sig).send().await {
                        Ok(r) if r.status().is_success() => lat.push(t.elapsed()),
                        _ => errors += 1,
                    }
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
