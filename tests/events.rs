//! Live events over SSE (`GET /api/v1/events`), against design.md's "Events"
//! contract: who receives which kinds (members at the time, the subject
//! included; join requests to owner, admins and applicant only; nothing for
//! outsiders; everything for app admins with `scope=all`), resume with
//! `Last-Event-ID` / `?after=` (every entitled event after the id, exactly
//! once, in order), `reset` when the log no longer reaches back, the seam
//! between backlog and live tail, and a subscriber that does not read.
//!
//! Absence is checked without sleeping: after the actions under test each
//! watching user creates a one-member "fence" group, whose `group_created`
//! goes to that user alone and has a larger id than anything before it, so
//! once a stream shows its fence it has shown everything it will ever show
//! of what came before.

mod common;

use common::sse::{
    Ev, Sse, WAIT, Watchers, assert_each, assert_nothing, assert_strictly_increasing, connect,
    connect_with, head, ids, sh, shapes,
};
use common::{ADMIN, TestServer, config_for, gp, ok};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout};

// ---------------------------------------------------------------------------
// Small API helpers

async fn patch(ts: &TestServer, user: &str, gid: &str, body: Value) -> Value {
    ok(ts, user, Method::PATCH, &gp(gid), Some(body)).await
}

/// Joins (or applies to) a group; returns the reply (`status`, `request_id`).
async fn join(ts: &TestServer, user: &str, gid: &str) -> Value {
    ok(
        ts,
        user,
        Method::POST,
        &format!("{}/join", gp(gid)),
        Some(json!({})),
    )
    .await
}

async fn apply(ts: &TestServer, user: &str, gid: &str) -> u64 {
    let reply = join(ts, user, gid).await;
    assert_eq!(
        reply["status"], "pending",
        "{user} applying to {gid}: {reply}"
    );
    reply["request_id"].as_u64().expect("request_id")
}

async fn decide(ts: &TestServer, user: &str, request: u64, decision: &str) {
    let path = format!("/api/v1/pendency/{request}");
    ok(
        ts,
        user,
        Method::POST,
        &path,
        Some(json!({"decision": decision})),
    )
    .await;
}

async fn kick(ts: &TestServer, user: &str, gid: &str, target: &str) {
    let path = format!("{}/members/{target}", gp(gid));
    ok(
        ts,
        user,
        Method::DELETE,
        &path,
        Some(json!({"reason": "test"})),
    )
    .await;
}

async fn set_role(ts: &TestServer, user: &str, gid: &str, target: &str, role: &str) {
    let path = format!("{}/members/{target}/role", gp(gid));
    ok(ts, user, Method::PUT, &path, Some(json!({"role": role}))).await;
}

async fn quit(ts: &TestServer, user: &str, gid: &str) {
    ok(ts, user, Method::POST, &format!("{}/quit", gp(gid)), None).await;
}

/// The whole log as an app admin sees it (`scope=all`, from the start).
async fn admin_log(ts: &TestServer) -> Vec<Ev> {
    let h = head(ts).await;
    if h == 0 {
        return Vec::new();
    }
    let mut s = Sse::open(ts, ADMIN, "?scope=all&after=0", None).await;
    let log = s.until(WAIT, |e| e.id >= h).await;
    assert_strictly_increasing(&log, "admin log");
    assert!(
        log.iter().all(|e| e.kind != "reset"),
        "the whole log is retained here"
    );
    assert_eq!(
        log.last().map(|e| e.id),
        Some(h),
        "the admin log ends at the head"
    );
    log
}

// ---------------------------------------------------------------------------
// An independent model of "who receives what" (design.md), folded over the
// full log, to say which ids a user is entitled to.

#[derive(Default)]
struct Oracle {
    /// group -> member -> role ("Owner", "Admin", "Member").
    groups: HashMap<String, BTreeMap<String, &'static str>>,
    /// request id -> inviter, for invitations that need approval.
    inviters: HashMap<u64, String>,
}

impl Oracle {
    fn members(&self, g: &str) -> BTreeSet<String> {
        self.groups
            .get(g)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The audience of `e`, updating membership. Roles of initial members
    /// are not in `group_created`, so tests using the oracle grant admin
    /// with `admin_granted` only.
    fn audience(&mut self, e: &Ev) -> BTreeSet<String> {
        let g = e.group().to_string();
        let targets = e.targets();
        match e.kind.as_str() {
            "group_created" => {
                let owner = e.detail()["owner"].as_str().map(String::from);
                let m = self.groups.entry(g.clone()).or_default();
                m.clear();
                for t in &targets {
                    let role = if Some(t) == owner.as_ref() {
                        "Owner"
                    } else {
                        "Member"
                    };
                    m.insert(t.clone(), role);
                }
                self.members(&g)
            }
            "member_joined" => {
                let m = self.groups.entry(g.clone()).or_default();
                for t in &targets {
                    m.insert(t.clone(), "Member");
                }
                self.members(&g)
            }
            "member_quit" | "member_kicked" => {
                let aud = self.members(&g);
                if let Some(m) = self.groups.get_mut(&g) {
                    for t in &targets {
                        m.remove(t);
                    }
                }
                aud
            }
            "group_disbanded" => {
                let aud = self.members(&g);
                self.groups.remove(&g);
                aud
            }
            "admin_granted" | "admin_revoked" => {
                let role = if e.kind == "admin_granted" {
                    "Admin"
                } else {
                    "Member"
                };
                if let Some(m) = self.groups.get_mut(&g) {
                    for t in &targets {
                        m.insert(t.clone(), role);
                    }
                }
                self.members(&g)
            }
            "owner_changed" => {
                if let Some(m) = self.groups.get_mut(&g) {
                    if let Some(old) = e.detail()["old_owner"].as_str() {
                        m.insert(old.to_string(), "Member");
                    }
                    if let Some(new) = e.detail()["new_owner"].as_str() {
                        m.insert(new.to_string(), "Owner");
                    }
                }
                self.members(&g)
            }
            "group_info_changed" => self.members(&g),
            "join_requested" | "join_request_handled" => {
                let mut aud: BTreeSet<String> = self
                    .groups
                    .get(&g)
                    .map(|m| {
                        m.iter()
                            .filter(|(_, r)| matches!(**r, "Owner" | "Admin"))
                            .map(|(u, _)| u.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                aud.extend(targets);
                let rid = e.detail()["request_id"].as_u64().unwrap_or(0);
                if let Some(inv) = e.detail()["inviter"].as_str() {
                    self.inviters.insert(rid, inv.to_string());
                }
                if let Some(inv) = self.inviters.get(&rid) {
                    aud.insert(inv.clone());
                }
                aud
            }
            other => panic!("unknown event kind {other:?}"),
        }
    }
}

/// Ids in the log that `user` is entitled to, oldest first.
fn entitled_ids(log: &[Ev], user: &str) -> Vec<u64> {
    let mut o = Oracle::default();
    log.iter()
        .filter(|e| o.audience(e).contains(user))
        .map(|e| e.id)
        .collect()
}

fn ids_between(all: &[u64], after: u64, before: u64) -> Vec<u64> {
    all.iter()
        .copied()
        .filter(|&i| i > after && i < before)
        .collect()
}

// ---------------------------------------------------------------------------
// Who receives what

#[tokio::test]
async fn join_into_any_group_reaches_every_member_and_the_newcomer() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m", "n", "s"]).await;
    let g = ts
        .create("o", json!({"name": "any", "type": "Public", "add_option": "Any", "members": [{"user_id": "m"}]}))
        .await;
    let mut w = Watchers::open(&ts, &["o", "m", "n", "s"]).await;
    assert_eq!(join(&ts, "n", &g).await["status"], "joined");
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m", "n"],
        &[sh("member_joined", &g, &["n"])],
        "join",
    );
    for u in ["o", "m", "n"] {
        assert_eq!(got[u][0].detail()["via"], "join");
        assert_eq!(got[u][0].data["actor"], "n");
    }
    assert_nothing(&got, &["s"], "join");
}

#[tokio::test]
async fn application_then_approval_reach_approvers_and_applicant() {
    let ts = TestServer::start().await;
    ts.register(&["o", "a", "m", "p", "s"]).await;
    // Public groups take applications (Auth) by default.
    let g = ts
        .create(
            "o",
            json!({"name": "auth", "type": "Public",
                   "members": [{"user_id": "a", "role": "Admin"}, {"user_id": "m"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "a", "m", "p", "s"]).await;

    let rid = apply(&ts, "p", &g).await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "p"],
        &[sh("join_requested", &g, &["p"])],
        "application",
    );
    for u in ["o", "a", "p"] {
        assert_eq!(
            got[u][0].detail()["request_id"].as_u64(),
            Some(rid),
            "request id"
        );
    }
    assert_nothing(&got, &["m", "s"], "application");

    decide(&ts, "a", rid, "accept").await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "p"],
        &[
            sh("join_request_handled", &g, &["p"]),
            sh("member_joined", &g, &["p"]),
        ],
        "approval",
    );
    for u in ["o", "a", "p"] {
        let handled = got[u][0].detail();
        assert_eq!(handled["decision"], "accepted", "{u}: {handled}");
        assert_eq!(handled["by"], "a", "{u}: {handled}");
        assert_eq!(got[u][1].detail()["via"], "approval", "{u}");
    }
    assert_each(&got, &["m"], &[sh("member_joined", &g, &["p"])], "approval");
    assert_eq!(got["m"][0].detail()["via"], "approval");
    assert_nothing(&got, &["s"], "approval");
}

#[tokio::test]
async fn refusal_reaches_approvers_and_applicant_and_nobody_joins() {
    let ts = TestServer::start().await;
    ts.register(&["o", "a", "m", "q", "s"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "auth", "type": "Public",
                   "members": [{"user_id": "a", "role": "Admin"}, {"user_id": "m"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "a", "m", "q", "s"]).await;
    let rid = apply(&ts, "q", &g).await;
    decide(&ts, "o", rid, "refuse").await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "q"],
        &[
            sh("join_requested", &g, &["q"]),
            sh("join_request_handled", &g, &["q"]),
        ],
        "refusal",
    );
    for u in ["o", "a", "q"] {
        assert_eq!(got[u][1].detail()["decision"], "refused", "{u}");
        assert_eq!(got[u][1].detail()["by"], "o", "{u}");
    }
    assert_nothing(&got, &["m", "s"], "refusal");
    let (status, info) = ts.get("q", &gp(&g)).await;
    assert!(
        status != 200 || info["my_role"].is_null(),
        "q did not join: {info}"
    );
}

#[tokio::test]
async fn invitation_into_work_group_is_member_joined_via_invite() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m", "i", "s"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "work", "type": "Work", "members": [{"user_id": "m"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "m", "i", "s"]).await;
    let reply = ok(
        &ts,
        "o",
        Method::POST,
        &format!("{}/invite", gp(&g)),
        Some(json!({"user_ids": ["i"]})),
    )
    .await;
    assert_eq!(reply["results"][0]["result"], "added", "{reply}");
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m", "i"],
        &[sh("member_joined", &g, &["i"])],
        "invite",
    );
    for u in ["o", "m", "i"] {
        assert_eq!(got[u][0].detail()["via"], "invite", "{u}");
    }
    assert_nothing(&got, &["s"], "invite");
}

#[tokio::test]
async fn quit_reaches_remaining_members_and_the_quitter_then_nothing_more() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m", "q", "n", "s"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "any", "type": "Public", "add_option": "Any",
                   "members": [{"user_id": "m"}, {"user_id": "q"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "m", "q", "s"]).await;
    quit(&ts, "q", &g).await;
    patch(&ts, "o", &g, json!({"name": "after quit"})).await;
    join(&ts, "n", &g).await;
    set_role(&ts, "o", &g, "m", "Admin").await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m"],
        &[
            sh("member_quit", &g, &["q"]),
            sh("group_info_changed", &g, &[]),
            sh("member_joined", &g, &["n"]),
            sh("admin_granted", &g, &["m"]),
        ],
        "quit",
    );
    assert_each(
        &got,
        &["q"],
        &[sh("member_quit", &g, &["q"])],
        "the quitter",
    );
    assert_nothing(&got, &["s"], "quit");
}

#[tokio::test]
async fn kick_reaches_everyone_including_the_kicked_one() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m", "k", "s"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "any", "type": "Public", "add_option": "Any",
                   "members": [{"user_id": "m"}, {"user_id": "k"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "m", "k", "s"]).await;
    kick(&ts, "o", &g, "k").await;
    patch(&ts, "o", &g, json!({"notification": "k is gone"})).await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m"],
        &[
            sh("member_kicked", &g, &["k"]),
            sh("group_info_changed", &g, &[]),
        ],
        "kick",
    );
    assert_each(
        &got,
        &["k"],
        &[sh("member_kicked", &g, &["k"])],
        "the kicked member",
    );
    assert_eq!(got["k"][0].data["actor"], "o");
    assert_nothing(&got, &["s"], "kick");
}

#[tokio::test]
async fn admin_grant_and_revoke_reach_all_members() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m1", "m2", "s"]).await;
    let g = ts
        .create("o", json!({"name": "p", "type": "Public", "members": [{"user_id": "m1"}, {"user_id": "m2"}]}))
        .await;
    let mut w = Watchers::open(&ts, &["o", "m1", "m2", "s"]).await;
    set_role(&ts, "o", &g, "m1", "Admin").await;
    set_role(&ts, "o", &g, "m1", "Member").await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m1", "m2"],
        &[
            sh("admin_granted", &g, &["m1"]),
            sh("admin_revoked", &g, &["m1"]),
        ],
        "grant/revoke",
    );
    assert_nothing(&got, &["s"], "grant/revoke");

    ok(
        &ts,
        "o",
        Method::POST,
        &format!("{}/owner", gp(&g)),
        Some(json!({"user_id": "m2"})),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m1", "m2"],
        &[sh("owner_changed", &g, &["m2"])],
        "transfer",
    );
    assert_nothing(&got, &["s"], "transfer");
}

#[tokio::test]
async fn join_option_change_is_group_info_changed_naming_add_option() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m", "s"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "p", "type": "Public", "members": [{"user_id": "m"}]}),
        )
        .await;
    let mut w = Watchers::open(&ts, &["o", "m", "s"]).await;
    patch(&ts, "o", &g, json!({"add_option": "Any"})).await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m"],
        &[sh("group_info_changed", &g, &[])],
        "add_option",
    );
    for u in ["o", "m"] {
        let fields = got[u][0].detail()["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            fields.contains(&json!("add_option")),
            "{u}: detail {}",
            got[u][0].detail()
        );
    }
    assert_nothing(&got, &["s"], "add_option");
}

#[tokio::test]
async fn disband_reaches_every_member_at_the_time() {
    let ts = TestServer::start().await;
    ts.register(&["o", "m1", "m2", "s"]).await;
    let g = ts
        .create("o", json!({"name": "p", "type": "Public", "members": [{"user_id": "m1"}, {"user_id": "m2"}]}))
        .await;
    let mut w = Watchers::open(&ts, &["o", "m1", "m2", "s"]).await;
    ok(&ts, "o", Method::DELETE, &gp(&g), None).await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "m1", "m2"],
        &[sh("group_disbanded", &g, &[])],
        "disband",
    );
    assert_nothing(&got, &["s"], "disband");
}

#[tokio::test]
async fn scope_all_is_for_app_admins_and_carries_everything() {
    let ts = TestServer::start().await;
    ts.register(&["o", "x", "p", "u"]).await;

    let resp = connect(&ts, "u", "?scope=all", None).await;
    assert_eq!(resp.status().as_u16(), 403, "scope=all as an ordinary user");
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(body["error"]["code"].as_u64(), Some(10007), "{body}");

    let start_id = head(&ts).await;
    let mut all = Sse::open(&ts, ADMIN, &format!("?scope=all&after={start_id}"), None).await;
    // The admin's own stream without scope=all: only groups it is in (none).
    let mut mine = Sse::from_head(&ts, ADMIN).await;
    let g1 = ts
        .create(
            "o",
            json!({"name": "a", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let g2 = ts.create("x", json!({"name": "b", "type": "Public"})).await;
    join(&ts, "u", &g1).await;
    let rid = apply(&ts, "p", &g2).await;
    decide(&ts, "x", rid, "accept").await;
    patch(&ts, "o", &g1, json!({"introduction": "hello"})).await;
    kick(&ts, "o", &g1, "u").await;
    ok(&ts, "x", Method::DELETE, &gp(&g2), None).await;
    let h = head(&ts).await;
    let got = all.until(WAIT, |e| e.id >= h).await;
    assert_strictly_increasing(&got, "admin scope=all");
    assert_eq!(
        shapes(&got),
        vec![
            sh("group_created", &g1, &["o"]),
            sh("group_created", &g2, &["x"]),
            sh("member_joined", &g1, &["u"]),
            sh("join_requested", &g2, &["p"]),
            sh("join_request_handled", &g2, &["p"]),
            sh("member_joined", &g2, &["p"]),
            sh("group_info_changed", &g1, &[]),
            sh("member_kicked", &g1, &["u"]),
            sh("group_disbanded", &g2, &[]),
        ],
        "an app admin with scope=all receives every event"
    );
    let (before_fence, _) = mine.fence(&ts).await;
    assert!(
        before_fence.is_empty(),
        "without scope=all an app admin gets only its groups: {:?}",
        shapes(&before_fence)
    );
}

// ---------------------------------------------------------------------------
// Resume

/// Reads a few events, disconnects, misses entitled and unentitled changes,
/// and resumes with `Last-Event-ID` (or `?after=`).
async fn resume_case(header: bool) {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "x", "p", "q", "r"]).await;
    let g1 = ts
        .create("o", json!({"name": "g1", "type": "Public", "add_option": "Any", "members": [{"user_id": "u"}]}))
        .await;
    let g2 = ts
        .create(
            "o",
            json!({"name": "g2", "type": "Public", "members": [{"user_id": "u"}]}),
        )
        .await;
    set_role(&ts, "o", &g2, "u", "Admin").await;
    let g3 = ts
        .create(
            "x",
            json!({"name": "g3", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let g4 = ts
        .create(
            "o",
            json!({"name": "g4", "type": "Public", "members": [{"user_id": "x"}]}),
        )
        .await;

    let mut s = Sse::open(&ts, "u", "?after=0", None).await;
    let mut seen = s.take(3).await;
    patch(&ts, "x", &g3, json!({"name": "g3 again"})).await;
    patch(&ts, "o", &g1, json!({"name": "g1 again"})).await;
    seen.extend(s.take(1).await);
    let last = seen.last().expect("events").id;
    drop(s);

    // While u is away.
    let rid = apply(&ts, "p", &g2).await; // u is an admin of g2
    join(&ts, "q", &g3).await; // not u's group
    apply(&ts, "r", &g4).await; // not u's group
    decide(&ts, "u", rid, "accept").await;
    join(&ts, "p", &g1).await;
    patch(&ts, "x", &g3, json!({"introduction": "x"})).await;
    patch(&ts, "o", &g1, json!({"introduction": "o"})).await;
    let rid2 = apply(&ts, "q", &g2).await;
    decide(&ts, "o", rid2, "refuse").await;
    set_role(&ts, "o", &g4, "x", "Admin").await;

    let mut s = if header {
        Sse::open(&ts, "u", "", Some(last)).await
    } else {
        Sse::open(&ts, "u", &format!("?after={last}"), None).await
    };
    let (missed, fence) = s.fence(&ts).await;

    let log = admin_log(&ts).await;
    let entitled = entitled_ids(&log, "u");
    assert_eq!(
        ids(&seen),
        ids_between(&entitled, 0, last + 1),
        "before the disconnect"
    );
    assert_eq!(
        ids(&missed),
        ids_between(&entitled, last, fence),
        "resumed after {last} ({}): exactly the missed entitled events, in order",
        if header { "Last-Event-ID" } else { "?after=" }
    );
    assert_eq!(
        shapes(&missed),
        vec![
            sh("join_requested", &g2, &["p"]),
            sh("join_request_handled", &g2, &["p"]),
            sh("member_joined", &g2, &["p"]),
            sh("member_joined", &g1, &["p"]),
            sh("group_info_changed", &g1, &[]),
            sh("join_requested", &g2, &["q"]),
            sh("join_request_handled", &g2, &["q"]),
        ]
    );
}

#[tokio::test]
async fn resume_with_last_event_id_gets_exactly_the_missed_events() {
    resume_case(true).await;
}

#[tokio::test]
async fn resume_with_after_gets_exactly_the_missed_events() {
    resume_case(false).await;
}

#[tokio::test]
async fn resume_across_membership_changes() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "v"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "g", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let mut s = Sse::from_head(&ts, "u").await;
    join(&ts, "u", &g).await;
    patch(&ts, "o", &g, json!({"name": "with u"})).await;
    let seen = s.take(2).await;
    assert_eq!(
        shapes(&seen),
        vec![
            sh("member_joined", &g, &["u"]),
            sh("group_info_changed", &g, &[])
        ]
    );
    let last = seen[1].id;
    drop(s);

    kick(&ts, "o", &g, "u").await;
    patch(&ts, "o", &g, json!({"name": "without u"})).await;
    join(&ts, "v", &g).await;
    set_role(&ts, "o", &g, "v", "Admin").await;

    let mut s = Sse::open(&ts, "u", "", Some(last)).await;
    let (missed, _) = s.fence(&ts).await;
    assert_eq!(
        shapes(&missed),
        vec![sh("member_kicked", &g, &["u"])],
        "after being kicked, u gets its kick and nothing of the group after it"
    );
    drop(s);

    // u comes back: resuming from before the kick again gives the kick, not
    // what happened while u was out, then everything since u rejoined.
    join(&ts, "u", &g).await;
    patch(&ts, "o", &g, json!({"name": "u is back"})).await;
    let mut s = Sse::open(&ts, "u", &format!("?after={last}"), None).await;
    let (missed, fence) = s.fence(&ts).await;
    let fences: Vec<&Ev> = missed.iter().filter(|e| e.group() != g).collect();
    let log = admin_log(&ts).await;
    let entitled = entitled_ids(&log, "u");
    assert_eq!(ids(&missed), ids_between(&entitled, last, fence));
    assert_eq!(
        shapes(&missed)
            .into_iter()
            .filter(|(_, grp, _)| *grp == g)
            .collect::<Vec<_>>(),
        vec![
            sh("member_kicked", &g, &["u"]),
            sh("member_joined", &g, &["u"]),
            sh("group_info_changed", &g, &[]),
        ]
    );
    // The only other event u is entitled to is its first fence.
    assert_eq!(fences.len(), 1, "{:?}", shapes(&missed));
    assert_eq!(fences[0].kind, "group_created");
}

#[tokio::test]
async fn resume_as_an_applicant_and_across_a_disband() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "x"]).await;
    let g = ts.create("o", json!({"name": "g", "type": "Public"})).await;
    let d = ts
        .create(
            "x",
            json!({"name": "d", "type": "Public", "members": [{"user_id": "u"}]}),
        )
        .await;
    let other = ts
        .create("x", json!({"name": "other", "type": "Public"}))
        .await;

    let mut s = Sse::from_head(&ts, "u").await;
    let rid = apply(&ts, "u", &g).await;
    let seen = s.take(1).await;
    assert_eq!(shapes(&seen), vec![sh("join_requested", &g, &["u"])]);
    let last = seen[0].id;
    drop(s);

    decide(&ts, "o", rid, "accept").await;
    patch(&ts, "o", &g, json!({"name": "welcome"})).await;
    ok(&ts, "x", Method::DELETE, &gp(&d), None).await;
    patch(&ts, "x", &other, json!({"name": "not for u"})).await;

    let mut s = Sse::open(&ts, "u", "", Some(last)).await;
    let (missed, _) = s.fence(&ts).await;
    assert_eq!(
        shapes(&missed),
        vec![
            sh("join_request_handled", &g, &["u"]),
            sh("member_joined", &g, &["u"]),
            sh("group_info_changed", &g, &[]),
            sh("group_disbanded", &d, &[]),
        ]
    );
}

// ---------------------------------------------------------------------------
// Reset

#[tokio::test]
async fn reset_when_the_log_no_longer_reaches_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_for(&dir);
    cfg.event_retention = 10;
    let ts = TestServer::start_with(dir, cfg).await;
    ts.register(&["o"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "g", "type": "Public", "add_option": "Any"}),
        )
        .await;
    for i in 0..40 {
        patch(&ts, "o", &g, json!({"introduction": format!("change {i}")})).await;
    }
    let h = head(&ts).await;
    assert!(h >= 41, "head {h}");

    for (query, header) in [("?after=1", None), ("", Some(1u64)), ("?after=0", None)] {
        let h = head(&ts).await;
        let mut s = Sse::open(&ts, "o", query, header).await;
        let first = s.next().await;
        assert_eq!(
            first.kind, "reset",
            "first frame for {query:?}/{header:?}: {first:?}"
        );
        assert_eq!(
            first.data["last_event_id"].as_u64(),
            Some(h),
            "reset names the head: {first:?}"
        );
        // Then the live stream carries on from the head.
        patch(&ts, "o", &g, json!({"name": format!("live {query}")})).await;
        let live = s.next().await;
        assert_eq!(live.kind, "group_info_changed", "{live:?}");
        let h2 = head(&ts).await;
        assert_eq!(live.id, h2, "the change right after the reset");
    }

    // Within the retained window there is no reset: exactly the events after the id.
    let h = head(&ts).await;
    let mut s = Sse::open(&ts, "o", &format!("?after={}", h - 5), None).await;
    let got = s.take(5).await;
    assert_eq!(
        ids(&got),
        ((h - 4)..=h).collect::<Vec<_>>(),
        "{:?}",
        shapes(&got)
    );
}

#[tokio::test]
async fn reset_when_after_is_beyond_the_head() {
    let ts = TestServer::start().await;
    ts.register(&["o"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "g", "type": "Public", "add_option": "Any"}),
        )
        .await;
    patch(&ts, "o", &g, json!({"name": "two"})).await;
    let h = head(&ts).await;
    let mut s = Sse::open(&ts, "o", &format!("?after={}", h + 1000), None).await;
    let first = s.next().await;
    assert_eq!(first.kind, "reset", "{first:?}");
    assert_eq!(first.data["last_event_id"].as_u64(), Some(h), "{first:?}");
    patch(&ts, "o", &g, json!({"name": "three"})).await;
    let live = s.next().await;
    assert_eq!(
        (live.kind.as_str(), live.id),
        ("group_info_changed", h + 1),
        "{live:?}"
    );
}

/// Asserts that between two events with no `reset` in between, no event of
/// `entitled` is skipped, and that nothing is repeated or out of order.
#[track_caller]
fn assert_no_silent_gap(got: &[Ev], entitled: &[u64], who: &str) {
    let mut prev: Option<u64> = None;
    for e in got {
        if e.kind == "reset" {
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            assert!(e.id > p, "{who}: {} after {p}", e.id);
            let skipped: Vec<u64> = entitled
                .iter()
                .copied()
                .filter(|&i| i > p && i < e.id)
                .collect();
            assert!(
                skipped.is_empty(),
                "{who}: after {p} came {} without a reset; skipped {} entitled events ({:?}..={:?})",
                e.id,
                skipped.len(),
                skipped.first(),
                skipped.last()
            );
        }
        prev = Some(e.id);
    }
}

/// A stream stalled in the middle of its backlog while the log is pruned
/// past its position must get `reset` before it jumps, never a silent gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_catch_up_overtaken_by_pruning_gets_a_reset_not_a_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_for(&dir);
    cfg.event_retention = 600;
    let ts = TestServer::start_with(dir, cfg).await;
    ts.register(&["o", "u"]).await;
    let g = ts
        .create(
            "o",
            json!({"name": "g", "type": "Public", "members": [{"user_id": "u"}]}),
        )
        .await;
    // ~800-byte frames: a 500-event page of backlog is far more than a
    // 16 KB HTTP/2 window and the server's small queue hold.
    let big = |i: usize| {
        json!({"introduction": format!("{i:06}{}", "i".repeat(230)),
               "notification": format!("{i:06}{}", "n".repeat(290))})
    };
    for i in 0..599 {
        patch(&ts, "o", &g, big(i)).await;
    }
    let h0 = head(&ts).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .http2_initial_stream_window_size(16 * 1024)
        .http2_initial_connection_window_size(16 * 1024)
        .http2_adaptive_window(false)
        .build()
        .expect("HTTP/2 client");
    let resp = connect_with(&h2, &ts, "u", "?after=0", None).await;
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let mut s = Sse::from_response("u", "?after=0", resp);
    // The backlog has started: the first event arrives (no reset: the log
    // reaches back to 0 still). Then u stops reading.
    let first = s.next().await;
    assert_eq!(first.id, 1, "{first:?}");
    for i in 0..700 {
        patch(&ts, "o", &g, big(1000 + i)).await;
    }
    let h1 = head(&ts).await;
    let mut got = vec![first];
    got.extend(s.until(Duration::from_secs(10), |e| e.id >= h1).await);
    let entitled: Vec<u64> = (1..=h1).collect();
    assert!(h0 < h1);
    assert_no_silent_gap(&got, &entitled, "u");
}

// ---------------------------------------------------------------------------
// Backlog, live tail, slow subscribers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_right_after_backlog_has_no_gap_or_duplicate() {
    let ts = Arc::new(TestServer::start().await);
    ts.register(&["o", "u", "x"]).await;
    let a = ts
        .create("o", json!({"name": "a", "type": "Public", "add_option": "Any", "members": [{"user_id": "u"}]}))
        .await;
    let b = ts
        .create(
            "x",
            json!({"name": "b", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let c = ts
        .create(
            "o",
            json!({"name": "c", "type": "Public", "add_option": "Any"}),
        )
        .await;

    let producer = {
        let ts = ts.clone();
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_millis(1000);
            let mut i = 0u32;
            while Instant::now() < until {
                patch(&ts, "o", &a, json!({"introduction": format!("a{i}")})).await;
                patch(&ts, "x", &b, json!({"introduction": format!("b{i}")})).await;
                // u's membership of c changes all the time.
                if i % 2 == 0 {
                    join(&ts, "u", &c).await;
                } else {
                    quit(&ts, "u", &c).await;
                }
                patch(&ts, "o", &c, json!({"introduction": format!("c{i}")})).await;
                i += 1;
            }
            i
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = Sse::open(&ts, "u", "?after=0", None).await;
    let mut got = Vec::new();
    while !producer.is_finished() {
        if let Some(e) = s.next_within(Duration::from_millis(50)).await {
            got.push(e);
        }
    }
    let rounds = producer.await.expect("producer");
    assert!(rounds >= 10, "the producer made only {rounds} rounds");
    let (rest, fence) = s.fence(&ts).await;
    got.extend(rest);

    let log = admin_log(&ts).await;
    let entitled = ids_between(&entitled_ids(&log, "u"), 0, fence);
    let got_ids = ids(&got);
    assert_strictly_increasing(&got, "u");
    let missing: Vec<u64> = entitled
        .iter()
        .copied()
        .filter(|i| !got_ids.contains(i))
        .collect();
    let extra: Vec<u64> = got_ids
        .iter()
        .copied()
        .filter(|i| !entitled.contains(i))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, not entitled {extra:?} (of {} entitled)",
        entitled.len()
    );
    assert_eq!(got_ids, entitled);
}

/// Reads exactly `n` events (failing after `limit`).
async fn read_n(s: &mut Sse, n: usize, limit: Duration) -> Vec<Ev> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match s.next_within(left).await {
            Some(e) => got.push(e),
            None => panic!(
                "{} got only {} of {n} events within {limit:?}",
                s.user,
                got.len()
            ),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_read_holds_nobody_up_and_loses_nothing() {
    // Two subscribers never read until the end: `slow` over HTTP/1.1 (the
    // kernel's socket buffers on loopback can hold a few MB of its frames)
    // and `tight` over HTTP/2 with 64 KB flow-control windows, whose stream
    // the server cannot push more than 64 KB into: its subscriber stalls
    // after a few hundred events and, with well over 1,024 commits after
    // that (the live hub's capacity; the last 1,080 one at a time), must
    // fall back to the log to catch up.
    const PRODUCERS: usize = 3;
    const EACH: usize = 640;
    const SEQUENTIAL: usize = 1080;
    const TOTAL: usize = PRODUCERS * EACH + SEQUENTIAL;
    let ts = Arc::new(TestServer::start().await);
    ts.register(&["slow", "tight", "fast"]).await;
    let mut groups = Vec::new();
    for p in 0..PRODUCERS {
        let owner = format!("owner{p}");
        ts.register(&[owner.as_str()]).await;
        let g = ts
            .create(
                &owner,
                json!({"name": format!("g{p}"), "type": "Public",
                       "members": [{"user_id": "slow"}, {"user_id": "tight"}, {"user_id": "fast"}]}),
            )
            .await;
        groups.push((owner, g));
    }
    let h0 = head(&ts).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .http2_initial_stream_window_size(64 * 1024)
        .http2_initial_connection_window_size(64 * 1024)
        .http2_adaptive_window(false)
        .build()
        .expect("HTTP/2 client");
    let mut slow = Sse::open(&ts, "slow", &format!("?after={h0}"), None).await;
    let query = format!("?after={h0}");
    let resp = connect_with(&h2, &ts, "tight", &query, None).await;
    assert_eq!(
        resp.version(),
        reqwest::Version::HTTP_2,
        "the tight stream is HTTP/2"
    );
    let mut tight = Sse::from_response("tight", &query, resp);
    let mut fast = Sse::open(&ts, "fast", &format!("?after={h0}"), None).await;
    let reader =
        tokio::spawn(async move { read_n(&mut fast, TOTAL, Duration::from_secs(20)).await });

    let mut tasks = Vec::new();
    for (owner, g) in groups.clone() {
        let ts = ts.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                patch(
                    &ts,
                    &owner,
                    &g,
                    json!({"introduction": format!("concurrent {i}")}),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer");
    }
    // One at a time: each change is its own commit, its own hub message.
    let (owner, g) = &groups[0];
    for i in 0..SEQUENTIAL {
        patch(
            &ts,
            owner,
            g,
            json!({"introduction": format!("sequential {i}")}),
        )
        .await;
    }
    // The reading subscriber gets everything while the other two have not
    // read a byte: they block nobody. (The timeout only guards against a hang.)
    let fast_got = timeout(Duration::from_secs(20), reader)
        .await
        .expect("the reading subscriber finishes while the others stall")
        .expect("reader task");
    assert_strictly_increasing(&fast_got, "fast");
    assert!(fast_got.iter().all(|e| e.kind == "group_info_changed"));

    let h1 = head(&ts).await;
    assert_eq!(h1 - h0, TOTAL as u64, "one event per change");
    let want: Vec<u64> = ((h0 + 1)..=h1).collect();
    assert_eq!(ids(&fast_got), want);

    for s in [&mut slow, &mut tight] {
        let got = read_n(s, TOTAL, Duration::from_secs(10)).await;
        assert!(
            got.iter().all(|e| e.kind != "reset"),
            "{}: no reset, the log reaches back",
            s.user
        );
        assert_eq!(
            ids(&got),
            want,
            "{} gets every event once, in order",
            s.user
        );
        // And nothing more is pending for it.
        let (rest, _) = s.fence(&ts).await;
        assert!(rest.is_empty(), "{}: {:?}", s.user, shapes(&rest));
    }
}
