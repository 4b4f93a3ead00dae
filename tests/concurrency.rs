//! Races and restarts against a real server: concurrent joins into a group
//! with a member cap, two approvers deciding the same request at once, and a
//! restart on the same database file (state, pending requests and the event
//! log survive; event ids keep increasing; a client resumes across it).

mod common;

use common::sse::{Ev, Sse, WAIT, head};
use common::{ADMIN, TestServer, gp, ok};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

async fn apply(ts: &TestServer, user: &str, gid: &str) -> u64 {
    let reply = ok(
        ts,
        user,
        Method::POST,
        &format!("{}/join", gp(gid)),
        Some(json!({})),
    )
    .await;
    assert_eq!(reply["status"], "pending", "{user} applying: {reply}");
    reply["request_id"].as_u64().expect("request_id")
}

/// Every member of a group, following the pages.
async fn member_ids(ts: &TestServer, user: &str, gid: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{}/members?limit=3", gp(gid));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = ok(ts, user, Method::GET, &path, None).await;
        for m in page["items"].as_array().expect("items") {
            out.push(m["user_id"].as_str().expect("user_id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Every join request `user` may see, any status.
async fn pendency(ts: &TestServer, user: &str) -> Vec<Value> {
    let page = ok(
        ts,
        user,
        Method::GET,
        "/api/v1/pendency?status=all&limit=500",
        None,
    )
    .await;
    page["items"].as_array().expect("items").clone()
}

// ---------------------------------------------------------------------------
// Events (read with common::sse)

/// The whole log, as an app admin sees it.
async fn admin_log(ts: &TestServer, after: u64) -> Vec<Ev> {
    let h = head(ts).await;
    if h == after {
        return Vec::new();
    }
    let mut s = Sse::open_unchecked(ts, ADMIN, &format!("?scope=all&after={after}"), None).await;
    let log = s.read_through(h).await;
    for w in log.windows(2) {
        assert!(w[0].id < w[1].id, "admin log out of order at {}", w[1].id);
    }
    assert!(
        log.iter().all(|e| e.kind != "reset"),
        "the whole log is retained"
    );
    log
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_joins_never_exceed_max_members() {
    const USERS: usize = 40;
    const MAX: u64 = 10;
    let ts = Arc::new(TestServer::start().await);
    let users: Vec<String> = (0..USERS).map(|i| format!("joiner{i:02}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    ts.register(&refs).await;
    ts.register(&["owner"]).await;
    let g = ts
        .create(
            "owner",
            json!({"name": "capped", "type": "Public", "add_option": "Any", "max_members": MAX}),
        )
        .await;
    let h0 = head(&ts).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(USERS));
    let mut tasks = Vec::new();
    for u in users.clone() {
        let ts = ts.clone();
        let g = g.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let (status, body) = ts.post(&u, &format!("{}/join", gp(&g)), json!({})).await;
            (u, status, body)
        }));
    }
    let mut joined = BTreeSet::new();
    for t in tasks {
        let (u, status, body) = timeout(Duration::from_secs(10), t)
            .await
            .expect("join in time")
            .expect("join task");
        match status {
            200 => {
                assert_eq!(body["status"], "joined", "{u}: {body}");
                joined.insert(u);
            }
            409 => assert_eq!(body["error"]["code"].as_u64(), Some(10014), "{u}: {body}"),
            other => panic!("{u}: unexpected {other} {body}"),
        }
    }
    assert_eq!(
        joined.len(),
        (MAX - 1) as usize,
        "exactly max_members - 1 joins succeed: {joined:?}"
    );

    let members: BTreeSet<String> = member_ids(&ts, "owner", &g).await.into_iter().collect();
    let mut want = joined.clone();
    want.insert("owner".to_string());
    assert_eq!(
        members, want,
        "the member list is the owner and the winners"
    );
    let info = ok(&ts, "owner", Method::GET, &gp(&g), None).await;
    assert_eq!(info["member_count"].as_u64(), Some(MAX), "{info}");

    // One member_joined per winner and nothing for the refused.
    let log = admin_log(&ts, h0).await;
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["member_joined"; (MAX - 1) as usize]);
    let targets: BTreeSet<String> = log
        .iter()
        .map(|e| e.data["targets"][0].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(targets, joined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_approvers_deciding_one_request_at_once_exactly_one_wins() {
    const ROUNDS: usize = 20;
    let ts = Arc::new(TestServer::start().await);
    ts.register(&["owner", "admin"]).await;
    let g = ts
        .create(
            "owner",
            json!({"name": "auth", "type": "Public", "members": [{"user_id": "admin", "role": "Admin"}]}),
        )
        .await;
    let mut accepted = 0u64;
    let mut decided_by: Vec<(String, &str)> = Vec::new();
    for round in 0..ROUNDS {
        let applicant = format!("applicant{round:02}");
        let rid = apply(&ts, &applicant, &g).await;
        let (d_owner, d_admin) = match round % 3 {
            0 => ("accept", "accept"),
            1 => ("accept", "refuse"),
            _ => ("refuse", "accept"),
        };
        let path = format!("/api/v1/pendency/{rid}");
        let (a, b) = tokio::join!(
            ts.post("owner", &path, json!({"decision": d_owner})),
            ts.post("admin", &path, json!({"decision": d_admin})),
        );
        let (winner, decision, loser) = match (a.0, b.0) {
            (200, 409) => ("owner", d_owner, b.1),
            (409, 200) => ("admin", d_admin, a.1),
            _ => panic!("round {round}: owner {a:?}, admin {b:?}: exactly one 200 and one 409"),
        };
        assert_eq!(
            loser["error"]["code"].as_u64(),
            Some(10024),
            "round {round}: {loser}"
        );
        decided_by.push((winner.to_string(), decision));

        let mine = pendency(&ts, &applicant).await;
        let req = mine
            .iter()
            .find(|r| r["id"].as_u64() == Some(rid))
            .unwrap_or_else(|| panic!("request {rid} listed for {applicant}: {mine:?}"));
        let status = if decision == "accept" {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(req["status"], status, "round {round}: {req}");
        assert_eq!(req["handled_by"], winner, "round {round}: {req}");
        let info = ts.get(&applicant, &gp(&g)).await.1;
        if decision == "accept" {
            accepted += 1;
            assert_eq!(info["my_role"], "Member", "round {round}: {info}");
        } else {
            assert!(info["my_role"].is_null(), "round {round}: {info}");
        }
    }
    let info = ok(&ts, "owner", Method::GET, &gp(&g), None).await;
    assert_eq!(info["member_count"].as_u64(), Some(2 + accepted), "{info}");
    // group_created, then per round: join_requested, one join_request_handled,
    // and member_joined when accepted.
    let log = admin_log(&ts, 0).await;
    let count = |k: &str| log.iter().filter(|e| e.kind == k).count();
    assert_eq!(count("join_requested"), ROUNDS);
    assert_eq!(
        count("join_request_handled"),
        ROUNDS,
        "one decision per request"
    );
    assert_eq!(count("member_joined") as u64, accepted);
    let handlers: Vec<(String, &str)> = log
        .iter()
        .filter(|e| e.kind == "join_request_handled")
        .map(|e| {
            let by = e.data["detail"]["by"].as_str().unwrap_or("").to_string();
            let d = if e.data["detail"]["decision"] == "accepted" {
                "accept"
            } else {
                "refuse"
            };
            (by, d)
        })
        .collect();
    assert_eq!(handlers, decided_by, "the events name the winners");
}

#[tokio::test]
async fn restart_keeps_state_pendency_and_the_event_log() {
    let mut ts = TestServer::start().await;
    ts.register(&["o", "a", "m", "p1", "p2", "w1", "x"]).await;
    let g1 = ts
        .create(
            "o",
            json!({"name": "public", "type": "Public", "introduction": "before restart",
                   "members": [{"user_id": "a", "role": "Admin"}, {"user_id": "m"}]}),
        )
        .await;
    let g2 = ts
        .create(
            "o",
            json!({"name": "work", "type": "Work", "members": [{"user_id": "w1"}]}),
        )
        .await;
    let g3 = ts
        .create(
            "x",
            json!({"name": "any", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let gone = ts
        .create("x", json!({"name": "gone", "type": "Public"}))
        .await;
    ok(&ts, "x", Method::DELETE, &gp(&gone), None).await;
    ok(
        &ts,
        "m",
        Method::POST,
        &format!("{}/join", gp(&g3)),
        Some(json!({})),
    )
    .await;
    let r1 = apply(&ts, "p1", &g1).await;
    let r2 = apply(&ts, "p2", &g1).await;
    ok(
        &ts,
        "o",
        Method::PATCH,
        &gp(&g1),
        Some(json!({"notification": "hello"})),
    )
    .await;
    ok(
        &ts,
        "o",
        Method::PUT,
        &format!("{}/members/m/role", gp(&g1)),
        Some(json!({"role": "Admin"})),
    )
    .await;

    async fn snapshot(ts: &TestServer, groups: &[(&str, &str)]) -> Vec<Value> {
        let mut out = Vec::new();
        for (user, g) in groups {
            out.push(ok(ts, user, Method::GET, &gp(g), None).await);
            out.push(json!(member_ids(ts, user, g).await));
            out.push(ok(ts, user, Method::GET, &format!("{}/members", gp(g)), None).await);
        }
        for user in ["o", "a", "p1", "p2", "m"] {
            out.push(json!(pendency(ts, user).await));
            out.push(ok(ts, user, Method::GET, "/api/v1/groups", None).await);
        }
        out
    }
    let groups = [("o", g1.as_str()), ("o", g2.as_str()), ("x", g3.as_str())];
    let before = snapshot(&ts, &groups).await;
    let h = head(&ts).await;
    let log_before = admin_log(&ts, 0).await;
    assert_eq!(log_before.last().map(|e| e.id), Some(h));

    // o follows its events up to the head (the last change is o's own),
    // then the server goes away.
    let mut old = Sse::open_unchecked(&ts, "o", "?after=0", None).await;
    let seen = old.read_through(h).await;
    timeout(Duration::from_secs(15), ts.restart())
        .await
        .expect("the server restarts in time");
    let end = timeout(WAIT, old.frames.next())
        .await
        .expect("the old stream ends when its server stops");
    assert!(
        end.is_none() || end.as_ref().is_some_and(|r| r.is_err()),
        "no event after the server stopped: {end:?}"
    );

    assert_eq!(
        snapshot(&ts, &groups).await,
        before,
        "state survives the restart"
    );
    assert_eq!(
        ts.get("o", &gp(&gone)).await.0,
        404,
        "a disbanded group stays gone"
    );
    assert_eq!(head(&ts).await, h, "the log's head survives");
    assert_eq!(
        admin_log(&ts, 0).await,
        log_before,
        "the log survives, same ids and contents"
    );

    // The pending requests can still be decided, and new events continue
    // after every id from before the restart.
    ok(
        &ts,
        "o",
        Method::POST,
        &format!("/api/v1/pendency/{r1}"),
        Some(json!({"decision": "accept"})),
    )
    .await;
    ok(
        &ts,
        "a",
        Method::POST,
        &format!("/api/v1/pendency/{r2}"),
        Some(json!({"decision": "refuse"})),
    )
    .await;
    let h2 = head(&ts).await;
    assert!(
        h2 > h,
        "new events after the restart: head {h2}, before {h}"
    );
    let new = admin_log(&ts, h).await;
    assert!(new.iter().all(|e| e.id > h), "{new:?}");
    let kinds: Vec<&str> = new.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "join_request_handled",
            "member_joined",
            "join_request_handled"
        ]
    );
    let full = admin_log(&ts, 0).await;
    assert_eq!(full.len(), log_before.len() + new.len());
    assert_eq!(&full[..log_before.len()], &log_before[..]);

    // o resumes from the last id it saw before the restart.
    let mut resumed = Sse::open_unchecked(&ts, "o", "", seen.last().map(|e| e.id)).await;
    let missed = resumed.read_through(h2).await;
    assert_eq!(
        missed.iter().map(|e| e.id).collect::<Vec<_>>(),
        new.iter().map(|e| e.id).collect::<Vec<_>>(),
        "o (owner) is entitled to all three"
    );
    let info = ok(&ts, "o", Method::GET, &gp(&g1), None).await;
    assert_eq!(info["member_count"].as_u64(), Some(4), "{info}");
    assert!(
        pendency(&ts, "p2")
            .await
            .iter()
            .any(|r| r["status"] == "refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_holds_when_joins_and_approvals_race() {
    const APPLICANTS: usize = 15;
    const JOINERS: usize = 15;
    const MAX: u64 = 10;
    let ts = Arc::new(TestServer::start().await);
    ts.register(&["owner", "admin"]).await;
    let g = ts
        .create(
            "owner",
            json!({"name": "capped", "type": "Public", "max_members": MAX,
                   "members": [{"user_id": "admin", "role": "Admin"}]}),
        )
        .await;
    let mut requests = Vec::new();
    for i in 0..APPLICANTS {
        let u = format!("applicant{i:02}");
        requests.push((u.clone(), apply(&ts, &u, &g).await));
    }
    // Now anyone may walk in, while the approvers work through the queue.
    ok(
        &ts,
        "owner",
        Method::PATCH,
        &gp(&g),
        Some(json!({"add_option": "Any"})),
    )
    .await;
    let joiners: Vec<String> = (0..JOINERS).map(|i| format!("walkin{i:02}")).collect();
    let refs: Vec<&str> = joiners.iter().map(String::as_str).collect();
    ts.register(&refs).await;

    let mut tasks = Vec::new();
    for (i, (u, rid)) in requests.iter().cloned().enumerate() {
        let ts = ts.clone();
        let approver = if i % 2 == 0 { "owner" } else { "admin" };
        tasks.push(tokio::spawn(async move {
            let path = format!("/api/v1/pendency/{rid}");
            let (status, body) = ts
                .post(approver, &path, json!({"decision": "accept"}))
                .await;
            (u, status, body)
        }));
    }
    for u in joiners.clone() {
        let ts = ts.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let (status, body) = ts.post(&u, &format!("{}/join", gp(&g)), json!({})).await;
            (u, status, body)
        }));
    }
    let mut added = BTreeSet::new();
    for t in tasks {
        let (u, status, body) = timeout(Duration::from_secs(10), t)
            .await
            .expect("in time")
            .expect("task");
        match status {
            200 => {
                added.insert(u);
            }
            409 => assert_eq!(body["error"]["code"].as_u64(), Some(10014), "{u}: {body}"),
            other => panic!("{u}: unexpected {other} {body}"),
        }
    }
    assert_eq!(
        added.len() as u64,
        MAX - 2,
        "owner + admin + exactly the free places: {added:?}"
    );
    let members: BTreeSet<String> = member_ids(&ts, "owner", &g).await.into_iter().collect();
    let mut want = added.clone();
    want.extend(["owner".to_string(), "admin".to_string()]);
    assert_eq!(members, want);
    let info = ok(&ts, "owner", Method::GET, &gp(&g), None).await;
    assert_eq!(info["member_count"].as_u64(), Some(MAX), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_user_joining_twice_at_once_joins_once() {
    let ts = Arc::new(TestServer::start().await);
    ts.register(&["owner"]).await;
    let g = ts
        .create(
            "owner",
            json!({"name": "any", "type": "Public", "add_option": "Any"}),
        )
        .await;
    let users: Vec<String> = (0..10).map(|i| format!("twice{i}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    ts.register(&refs).await;
    let h0 = head(&ts).await;
    for u in &users {
        let path = format!("{}/join", gp(&g));
        let (a, b) = tokio::join!(ts.post(u, &path, json!({})), ts.post(u, &path, json!({})));
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{u}: {a:?} {b:?}");
        let loser = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_eq!(loser["error"]["code"].as_u64(), Some(10013), "{u}: {loser}");
    }
    let info = ok(&ts, "owner", Method::GET, &gp(&g), None).await;
    assert_eq!(info["member_count"].as_u64(), Some(11), "{info}");
    let log = admin_log(&ts, h0).await;
    assert_eq!(log.len(), users.len(), "one member_joined per user");
}
