//! `bench ops`: concurrent clients doing a realistic mix of durable group
//! operations over HTTP, each client in a small world of its own so the
//! database stays bounded however long the run.
//!
//! Every client is one owner with three helper users, a free group
//! (Meeting, join option `Any`) and a moderated one (Public, `Auth`). It
//! cycles: create a group, change its join option, disband it; a helper
//! joins and quits the free group; a helper asks to join the moderated group
//! and the owner approves; the owner invites another helper; both are kicked.
//!
//! With the embedded server it also measures SQLite alone on the same disk
//! with the same durability (WAL, `synchronous=FULL`, 64 rows per
//! transaction), and reports groupdeck's ops/s as a ratio of those rows/s.

use super::report::{self, Machine, RawSqlite, Recorder, Report};
use super::{Settings, Target, as_user};
use crate::client::Client;
use crate::model::{AddOption, GroupType, InviteOption};
use crate::server::api::{CreateGroupRequest, JoinStatus, ModifyGroupRequest};
use crate::usersig::SigKey;
use anyhow::Context;
use std::path::Path;
use std::time::{Duration, Instant};

const CREATE: &str = "create";
const SET_OPTION: &str = "set join option";
const DISBAND: &str = "disband";
const JOIN: &str = "join (Any)";
const QUIT: &str = "quit";
const REQUEST: &str = "request (Auth)";
const APPROVE: &str = "approve";
const INVITE: &str = "invite";
const KICK: &str = "kick";

/// The table's order.
const ORDER: [&str; 9] = [
    CREATE, SET_OPTION, DISBAND, JOIN, QUIT, REQUEST, APPROVE, INVITE, KICK,
];

/// Rows per transaction of the raw SQLite measurement.
const RAW_BATCH: u64 = 64;
/// The longest the raw SQLite measurement runs.
const RAW_MAX_SECS: u64 = 3;

pub(crate) fn group_request(name: &str, t: GroupType, add: AddOption) -> CreateGroupRequest {
    CreateGroupRequest {
        add_option: Some(add),
        invite_option: Some(InviteOption::Auth),
        ..CreateGroupRequest::new(name, t)
    }
}

/// One client's users and groups.
struct World {
    owner: Client,
    helpers: [Client; 3],
    free: String,
    moderated: String,
}

async fn setup(key: SigKey, run_id: String, base: Client, i: usize) -> anyhow::Result<World> {
    let name = format!("{run_id}-c{i}");
    let owner = as_user(&key, &base, &name)?;
    let helpers = [
        as_user(&key, &base, &format!("{name}-m0"))?,
        as_user(&key, &base, &format!("{name}-m1"))?,
        as_user(&key, &base, &format!("{name}-m2"))?,
    ];
    // A user exists once it has signed in; invitations need that.
    for h in &helpers {
        h.me().await?;
    }
    let free = owner
        .create_group(&group_request(
            "bench free",
            GroupType::Meeting,
            AddOption::Any,
        ))
        .await?;
    let moderated = owner
        .create_group(&group_request(
            "bench moderated",
            GroupType::Public,
            AddOption::Auth,
        ))
        .await?;
    Ok(World {
        owner,
        helpers,
        free,
        moderated,
    })
}

/// Runs the cycle until `deadline`, one operation at a time.
async fn drive(w: World, deadline: Instant) -> Recorder {
    let mut rec = Recorder::default();
    let mut step = 0usize;
    let mut scratch: Option<String> = None;
    let mut request: Option<u64> = None;
    let [m0, m1, m2] = &w.helpers;
    let (o, free, moderated) = (&w.owner, w.free.as_str(), w.moderated.as_str());
    while Instant::now() < deadline {
        let t = Instant::now();
        match step {
            0 => {
                let r = o
                    .create_group(&group_request(
                        "bench scratch",
                        GroupType::Public,
                        AddOption::Any,
                    ))
                    .await;
                scratch = rec.outcome(CREATE, t, r);
            }
            1 => {
                if let Some(g) = &scratch {
                    let change = ModifyGroupRequest {
                        add_option: Some(AddOption::Auth),
                        ..Default::default()
                    };
                    let r = o.modify_group(g, &change).await;
                    rec.outcome(SET_OPTION, t, r);
                }
            }
            2 => {
                if let Some(g) = scratch.take() {
                    let r = o.disband(&g).await;
                    rec.outcome(DISBAND, t, r);
                }
            }
            3 => {
                let r = m0.join(free, None).await;
                rec.outcome(JOIN, t, r);
            }
            4 => {
                let r = m0.quit(free).await;
                rec.outcome(QUIT, t, r);
            }
            5 => {
                let r = m1.join(moderated, Some("bench")).await;
                request = match rec.outcome(REQUEST, t, r) {
                    Some(reply) if reply.status == JoinStatus::Pending => reply.request_id,
                    _ => None,
                };
            }
            6 => {
                if let Some(id) = request.take() {
                    let r = o.decide(id, true, None).await;
                    rec.outcome(APPROVE, t, r);
                }
            }
            7 => {
                let r = o.invite(moderated, &[m2.user().to_string()]).await;
                rec.outcome(INVITE, t, r);
            }
            8 => {
                let r = o.kick(moderated, m1.user(), None).await;
                rec.outcome(KICK, t, r);
            }
            _ => {
                let r = o.kick(moderated, m2.user(), None).await;
                rec.outcome(KICK, t, r);
            }
        }
        step = (step + 1) % 10;
    }
    rec
}

pub(crate) async fn run(target: &Target, s: &Settings) -> anyhow::Result<Report> {
    let base = target.client(&format!("{}-base", target.run_id))?;
    // SQLite alone first, so the two measurements do not share the disk.
    let raw = match target.data_dir() {
        Some(dir) => {
            let path = dir.join("raw.db");
            let secs = s.seconds.min(RAW_MAX_SECS);
            let r = tokio::task::spawn_blocking(move || raw_inserts(&path, secs))
                .await
                .context("raw SQLite measurement")??;
            Some(r)
        }
        None => None,
    };
    let mut worlds = Vec::with_capacity(s.clients);
    let mut setups = tokio::task::JoinSet::new();
    for i in 0..s.clients {
        setups.spawn(setup(
            target.key.clone(),
            target.run_id.clone(),
            base.clone(),
            i,
        ));
    }
    while let Some(w) = setups.join_next().await {
        worlds.push(w.context("setting up a client")??);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(s.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for w in worlds {
        tasks.spawn(drive(w, deadline));
    }
    let mut all = Recorder::default();
    while let Some(r) = tasks.join_next().await {
        all.merge(r.context("a client task failed")?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (operations, overall) = all.stats(&ORDER, elapsed)?;
    let ratio = raw
        .as_ref()
        .map(|r| report::ratio(overall.ops_per_s, r.rows_per_s));
    Ok(Report {
        mode: "ops".into(),
        machine: Machine {
            cores: super::cores(),
            synchronous: super::synchronous_label(target),
            server: target.describe(),
        },
        clients: s.clients,
        seconds: elapsed,
        operations,
        overall: Some(overall),
        raw_sqlite: raw,
        ratio_to_raw_inserts: ratio,
        big: None,
        first_error: all.first_error,
    })
}

/// Inserts rows in transactions of [`RAW_BATCH`] for about `secs` seconds.
fn raw_inserts(path: &Path, secs: u64) -> anyhow::Result<RawSqlite> {
    let mut conn =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, group_id TEXT NOT NULL, user_id TEXT NOT NULL, at INTEGER NOT NULL)",
    )?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs.max(1));
    let mut rows = 0u64;
    while Instant::now() < deadline {
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO rows (group_id, user_id, at) VALUES (?1, ?2, ?3)")?;
            for k in 0..RAW_BATCH {
                let n = rows + k;
                stmt.execute(rusqlite::params![
                    format!("@TGS#{}", n % 1000),
                    format!("user-{n}"),
                    n as i64
                ])?;
            }
        }
        tx.commit()?;
        rows += RAW_BATCH;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    Ok(RawSqlite {
        rows,
        rows_per_transaction: RAW_BATCH,
        seconds,
        rows_per_s: report::ratio(rows as f64, seconds),
    })
}
