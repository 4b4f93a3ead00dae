//! `bench reads`: concurrent reads over HTTP. Every client owns one Public
//! group and belongs to the groups of the (up to) 49 clients before it; each
//! then cycles through group info, one members page (limit 100) and its
//! joined-group list, over the groups it belongs to.

use super::ops::group_request;
use super::report::{Machine, Recorder, Report};
use super::{Settings, Target};
use crate::client::Client;
use crate::model::{AddOption, GroupType};
use crate::server::api::InitialMember;
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};

const INFO: &str = "group info";
const MEMBERS: &str = "members page";
const JOINED: &str = "joined groups";
const ORDER: [&str; 3] = [INFO, MEMBERS, JOINED];

/// Other members each group starts with.
const PEERS: usize = 49;

async fn drive(
    me: Client,
    i: usize,
    peers: usize,
    groups: Arc<Vec<String>>,
    deadline: Instant,
) -> Recorder {
    let mut rec = Recorder::default();
    let n = groups.len();
    let mut step = 0usize;
    while Instant::now() < deadline {
        // One of the groups this client belongs to: its own or a predecessor's.
        let back = (step / 3) % (peers + 1);
        let gid = &groups[(i + n - back) % n];
        let t = Instant::now();
        match step % 3 {
            0 => {
                let r = me.group(gid).await;
                rec.outcome(INFO, t, r);
            }
            1 => {
                let r = me.members(gid, None, Some(100)).await;
                rec.outcome(MEMBERS, t, r);
            }
            _ => {
                let r = me.list_groups(false, None, Some(100)).await;
                rec.outcome(JOINED, t, r);
            }
        }
        step = step.wrapping_add(1);
    }
    rec
}

pub(crate) async fn run(target: &Target, s: &Settings) -> anyhow::Result<Report> {
    let base = target.client(&format!("{}-base", target.run_id))?;
    let n = s.clients;
    let peers = PEERS.min(n - 1);
    let names: Vec<String> = (0..n).map(|i| format!("{}-r{i}", target.run_id)).collect();
    let mut clients = Vec::with_capacity(n);
    for name in &names {
        clients.push(target.as_user(&base, name)?);
    }
    // Users exist once they have signed in.
    let mut set = tokio::task::JoinSet::new();
    for c in &clients {
        let c = c.clone();
        set.spawn(async move { c.me().await });
    }
    while let Some(r) = set.join_next().await {
        r.context("signing in")??;
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        let mut req = group_request("bench reads", GroupType::Public, AddOption::Auth);
        req.members = (1..=peers)
            .map(|k| InitialMember {
                user_id: names[(i + k) % n].clone(),
                role: None,
            })
            .collect();
        set.spawn(async move { (i, c.create_group(&req).await) });
    }
    let mut groups = vec![String::new(); n];
    while let Some(r) = set.join_next().await {
        let (i, gid) = r.context("creating groups")?;
        groups[i] = gid.context("creating a group")?;
    }
    let groups = Arc::new(groups);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(s.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in clients.into_iter().enumerate() {
        tasks.spawn(drive(c, i, peers, groups.clone(), deadline));
    }
    let mut all = Recorder::default();
    while let Some(r) = tasks.join_next().await {
        all.merge(r.context("a client task failed")?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (operations, overall) = all.stats(&ORDER, elapsed)?;
    Ok(Report {
        mode: "reads".into(),
        machine: Machine {
            cores: super::cores(),
            synchronous: super::synchronous_label(target),
            server: target.describe(),
        },
        clients: n,
        seconds: elapsed,
        operations,
        overall: Some(overall),
        raw_sqlite: None,
        ratio_to_raw_inserts: None,
        bare_http: None,
        ratio_to_bare_http: None,
        bare_http_ratio_to_raw_inserts: None,
        big: None,
        first_error: all.first_error,
    })
}
