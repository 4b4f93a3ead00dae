//! `bench big`: does a very large group slow its members down? Builds a
//! Community of `--members` (default 100,000) through the embedded service
//! (accounts imported in bulk, members added by the app admin in batches of
//! 300), and a 100-member Community beside it, then measures over HTTP, one
//! client at a time, interleaved: a user joining and quitting each, and the
//! owner reading one members page (limit 100) from the middle of each.
//!
//! Each group holds one member fewer than its size before the probe user
//! joins, so the join takes it to the full size.

use super::report::{self, BigReport, BigRow, Machine, Recorder, Report};
use super::{Settings, Target};
use crate::model::limits::MAX_INVITE_BATCH;
use crate::model::{Actor, GroupType};
use crate::service::{InviteResult, NewGroup, Service, Tips};
use anyhow::Context;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The small group's size.
const SMALL: u64 = 100;
/// The large group's bounds.
const MIN_BIG: u64 = 200;
const MAX_BIG: u64 = 100_000;
/// Accounts per import.
const IMPORT_CHUNK: usize = 10_000;
/// Invitations in flight while building (they share the writer's group commit).
const BUILD_PARALLEL: usize = 4;
/// The most samples of each kind.
const MAX_SAMPLES: u32 = 2000;
/// The app admin identity the embedded server knows.
const APP_ADMIN: &str = "administrator";

fn user_name(run: &str, k: u64) -> String {
    format!("{run}-u{k:06}")
}

/// Imports users `0..count`.
async fn import(svc: &Service, run: &str, count: u64, extra: &[String]) -> anyhow::Result<()> {
    let mut all: Vec<String> = (0..count).map(|k| user_name(run, k)).collect();
    all.extend(extra.iter().cloned());
    for chunk in all.chunks(IMPORT_CHUNK) {
        let batch = chunk
            .iter()
            .map(|u| (u.clone(), String::new(), String::new()))
            .collect();
        let failed = svc.import_users(batch).await?;
        if let Some(f) = failed.first() {
            anyhow::bail!("importing bench users failed for {f}");
        }
    }
    Ok(())
}

/// A Community owned by `owner` with users `0..others` as members.
async fn build_group(
    svc: &Arc<Service>,
    run: &str,
    owner: &str,
    name: &str,
    others: u64,
) -> anyhow::Result<String> {
    let admin = Actor::app_admin(APP_ADMIN);
    let g = svc
        .create_group(
            &admin,
            NewGroup {
                name: name.to_string(),
                group_type: Some(GroupType::Community),
                owner: Some(owner.to_string()),
                ..Default::default()
            },
        )
        .await
        .context("creating a bench group")?;
    let gid = g.group_id;
    let batches: Vec<Vec<String>> = (0..others)
        .collect::<Vec<u64>>()
        .chunks(MAX_INVITE_BATCH)
        .map(|c| c.iter().map(|&k| user_name(run, k)).collect())
        .collect();
    let mut adds = futures_util::stream::iter(batches.into_iter().map(|users| {
        let svc = svc.clone();
        let admin = admin.clone();
        let gid = gid.clone();
        async move { svc.invite(&admin, &gid, users, Tips::Silent).await }
    }))
    .buffer_unordered(BUILD_PARALLEL);
    while let Some(results) = adds.next().await {
        for (user, r) in results.context("adding members")? {
            if let InviteResult::Failed(e) = r {
                anyhow::bail!("adding {user} to the bench group: {e}");
            }
        }
    }
    drop(adds);
    Ok(gid)
}

pub(crate) async fn run(target: &Target, s: &Settings, members: u64) -> anyhow::Result<Report> {
    let svc = target
        .service()
        .context("`bench big` needs the embedded server")?
        .clone();
    let big = members.clamp(MIN_BIG, MAX_BIG);
    let run = target.run_id.as_str();
    let owner = format!("{run}-own");
    let probe = format!("{run}-probe");
    let built = Instant::now();
    // Both groups: the owner plus users, one short of full so the probe's join fills it.
    import(&svc, run, big - 2, &[owner.clone(), probe.clone()]).await?;
    let big_gid = build_group(&svc, run, &owner, "bench big", big - 2).await?;
    let small_gid = build_group(&svc, run, &owner, "bench small", SMALL - 2).await?;
    let build_seconds = built.elapsed().as_secs_f64();

    let owner_c = target.client(&owner)?;
    let probe_c = target.as_user(&owner_c, &probe)?;
    let big_mid = user_name(run, (big - 2) / 2);
    let small_mid = user_name(run, (SMALL - 2) / 2);
    let mut rec = Recorder::default();
    // Half the time each for join/quit and for pages, the two groups interleaved.
    let half = Duration::from_millis(s.seconds.saturating_mul(500));
    let phase_end = Instant::now() + half;
    let mut n = 0;
    while n < 3 || (n < MAX_SAMPLES && Instant::now() < phase_end) {
        for (gid, join, quit) in [
            (&small_gid, "small join", "small quit"),
            (&big_gid, "big join", "big quit"),
        ] {
            let t = Instant::now();
            let r = probe_c.join(gid, None).await;
            rec.outcome(join, t, r);
            let t = Instant::now();
            let r = probe_c.quit(gid).await;
            rec.outcome(quit, t, r);
        }
        n += 1;
    }
    let phase_end = Instant::now() + half;
    let mut n = 0;
    while n < 3 || (n < MAX_SAMPLES && Instant::now() < phase_end) {
        for (gid, mid, what) in [
            (&small_gid, &small_mid, "small page"),
            (&big_gid, &big_mid, "big page"),
        ] {
            let t = Instant::now();
            let r = owner_c.members(gid, Some(mid), Some(100)).await;
            rec.outcome(what, t, r);
        }
        n += 1;
    }
    let row = |what: &str, small: &str, big: &str| {
        let (small, big) = (rec.latency(small), rec.latency(big));
        BigRow {
            what: what.to_string(),
            ratio_p50: report::ratio(big.p50_ms, small.p50_ms),
            ratio_p99: report::ratio(big.p99_ms, small.p99_ms),
            small,
            big,
        }
    };
    let rows = vec![
        row("join", "small join", "big join"),
        row("quit", "small quit", "big quit"),
        row("members page (100)", "small page", "big page"),
    ];
    Ok(Report {
        mode: "big".into(),
        machine: Machine {
            cores: super::cores(),
            synchronous: super::synchronous_label(target),
            server: target.describe(),
        },
        clients: 1,
        seconds: half.as_secs_f64() * 2.0,
        operations: Vec::new(),
        overall: None,
        raw_sqlite: None,
        ratio_to_raw_inserts: None,
        bare_http: None,
        ratio_to_bare_http: None,
        bare_http_ratio_to_raw_inserts: None,
        big: Some(BigReport {
            big_members: big,
            small_members: SMALL,
            build_seconds,
            rows,
        }),
        first_error: rec.first_error.clone(),
    })
}
