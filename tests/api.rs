//! The user API (`/api/v1`) over a real socket: every route of design.md's
//! table, paging, and the error contract (status + `{"error": {"code",
//! "message"}}`, never a 500, never a partial change).

mod common;

use common::{ADMIN, APP_ID, KEY, TestServer, config_for};
use futures_util::stream::{self, StreamExt};
use groupdeck::usersig::SigKey;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

type Reply = (u16, Value);

/// reqwest is built with `rustls-no-provider`, so a process must pick a
/// crypto provider before building any client (the harness's included).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn start() -> TestServer {
    install_crypto_provider();
    TestServer::start().await
}

async fn start_with(dir: tempfile::TempDir, cfg: groupdeck::server::ServerConfig) -> TestServer {
    install_crypto_provider();
    TestServer::start_with(dir, cfg).await
}

/// The path of a group resource (`@TGS#...` IDs are percent-encoded).
fn gp(id: &str) -> String {
    format!("/api/v1/groups/{}", TestServer::enc(id))
}

/// Asserts an error answer: this status, this Tencent code, a non-empty message.
#[track_caller]
fn assert_error(reply: &Reply, status: u16, code: u64, what: &str) {
    let (s, body) = reply;
    assert_eq!(*s, status, "{what}: status (body {body})");
    assert_eq!(
        body["error"]["code"].as_u64(),
        Some(code),
        "{what}: error code (body {body})"
    );
    assert_error_shape(reply, what);
}

/// Asserts a 4xx answer with the error envelope and a non-empty message.
#[track_caller]
fn assert_error_shape(reply: &Reply, what: &str) {
    let (s, body) = reply;
    assert!(
        (400..500).contains(s),
        "{what}: expected a 4xx, got {s} (body {body})"
    );
    assert!(
        body["error"]["code"].as_u64().is_some_and(|c| c > 0),
        "{what}: no numeric error.code in {body}"
    );
    let msg = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        !msg.trim().is_empty(),
        "{what}: empty error.message in {body}"
    );
}

#[track_caller]
fn assert_ok(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.0, status, "{what}: status (body {})", reply.1);
}

struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Raw {
    fn reply(&self) -> Reply {
        (self.status, self.body.clone())
    }
}

/// A request with full control over the Authorization header, content type and body bytes.
async fn raw(
    ts: &TestServer,
    method: Method,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> Raw {
    let mut req = ts.http.request(method, ts.url(path));
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a);
    }
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Raw {
        status,
        headers,
        body,
    }
}

/// One HTTP/1.1 request written byte for byte (exact headers), answer read to the end.
async fn raw_http(
    ts: &TestServer,
    method: &str,
    path: &str,
    auth: &str,
    extra_headers: &str,
    body: &[u8],
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ts.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n{extra_headers}Connection: close\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn bearer(ts: &TestServer, user: &str) -> String {
    format!("Bearer {}", ts.sig(user))
}

async fn patch(ts: &TestServer, user: &str, path: &str, body: Value) -> Reply {
    ts.call(user, Method::PATCH, path, Some(body)).await
}

async fn put(ts: &TestServer, user: &str, path: &str, body: Value) -> Reply {
    ts.call(user, Method::PUT, path, Some(body)).await
}

async fn del(ts: &TestServer, user: &str, path: &str, body: Option<Value>) -> Reply {
    ts.call(user, Method::DELETE, path, body).await
}

/// Group info as `user`, which must succeed.
async fn info(ts: &TestServer, user: &str, gid: &str) -> Value {
    let r = ts.get(user, &gp(gid)).await;
    assert_ok(&r, 200, &format!("GET info of {gid} as {user}"));
    r.1
}

/// Walks a paged list to its end; checks page sizes and returns every item.
async fn walk(ts: &TestServer, user: &str, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut cursor: Option<String> = None;
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", TestServer::enc(c)));
        }
        let r = ts.get(user, &url).await;
        assert_ok(&r, 200, &format!("GET {url}"));
        let page = r.1["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit as usize, "{url}: page over the limit");
        pages += 1;
        assert!(pages < 1000, "{path}: paging does not end");
        items.extend(page);
        match r.1["next_cursor"].as_str() {
            Some(c) => {
                assert_ne!(cursor.as_deref(), Some(c), "{path}: cursor did not move");
                cursor = Some(c.to_string());
            }
            None => {
                assert!(
                    r.1["next_cursor"].is_null(),
                    "next_cursor must be a string or null"
                );
                break;
            }
        }
    }
    (items, pages)
}

fn ids_of(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|v| v[key].as_str().expect("id field").to_string())
        .collect()
}

fn assert_unique(ids: &[String], what: &str) {
    let set: HashSet<&String> = ids.iter().collect();
    assert_eq!(set.len(), ids.len(), "{what}: duplicates in {ids:?}");
}

/// Every group in the app, as the app admin sees it.
async fn all_group_ids(ts: &TestServer) -> Vec<String> {
    ids_of(
        &walk(ts, ADMIN, "/api/v1/groups?scope=all", 500).await.0,
        "group_id",
    )
}

/// The members of a group as (user_id, role).
async fn member_roles(ts: &TestServer, user: &str, gid: &str) -> Vec<(String, String)> {
    let (items, _) = walk(ts, user, &format!("{}/members", gp(gid)), 500).await;
    items
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn role_of(roles: &[(String, String)], user: &str) -> Option<String> {
    roles
        .iter()
        .find(|(u, _)| u == user)
        .map(|(_, r)| r.clone())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn me_reports_identity_and_app_admin_flag() {
    let ts = start().await;
    let r = ts.get("alice", "/api/v1/me").await;
    assert_ok(&r, 200, "me as alice");
    assert_eq!(r.1, json!({"user_id": "alice", "app_admin": false}));
    let r = ts.get(ADMIN, "/api/v1/me").await;
    assert_ok(&r, 200, "me as admin");
    assert_eq!(r.1, json!({"user_id": ADMIN, "app_admin": true}));
}

#[tokio::test]
async fn create_group_assigned_custom_and_with_members() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol"]).await;

    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "plain", "type": "Public"}),
        )
        .await;
    assert_ok(&r, 201, "create with assigned id");
    let assigned = r.1["group_id"].as_str().expect("group_id").to_string();
    assert!(assigned.starts_with("@TGS#"), "assigned id {assigned}");
    let g = info(&ts, "alice", &assigned).await;
    assert_eq!(g["name"], "plain");
    assert_eq!(g["type"], "Public");
    assert_eq!(g["add_option"], "Auth", "Public defaults to Auth");
    assert_eq!(g["owner"], "alice");
    assert_eq!(g["member_count"], 1);
    assert_eq!(g["my_role"], "Owner");

    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"group_id": "team-42", "name": "team", "type": "Meeting",
                   "introduction": "intro", "notification": "note"}),
        )
        .await;
    assert_ok(&r, 201, "create with custom id");
    assert_eq!(r.1, json!({"group_id": "team-42"}));
    let g = info(&ts, "alice", "team-42").await;
    assert_eq!(g["introduction"], "intro");
    assert_eq!(g["notification"], "note");
    assert_eq!(g["add_option"], "Any", "Meeting defaults to Any");

    // The same custom id again: 10025 for its owner, 10021 for someone else.
    let again = json!({"group_id": "team-42", "name": "again", "type": "Meeting"});
    let r = ts.post("alice", "/api/v1/groups", again.clone()).await;
    assert_error(&r, 409, 10025, "custom id reused by its owner");
    let r = ts.post("bob", "/api/v1/groups", again).await;
    assert_error(&r, 409, 10021, "custom id taken");
    assert_eq!(info(&ts, "alice", "team-42").await["name"], "team");

    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "crew", "type": "Public", "add_option": "Any",
                   "members": [{"user_id": "bob"}, {"user_id": "carol", "role": "Admin"}]}),
        )
        .await;
    assert_ok(&r, 201, "create with members");
    let gid = r.1["group_id"].as_str().unwrap().to_string();
    let g = info(&ts, "bob", &gid).await;
    assert_eq!(g["member_count"], 3);
    assert_eq!(g["my_role"], "Member");
    assert_eq!(g["add_option"], "Any");
    let roles = member_roles(&ts, "alice", &gid).await;
    assert_eq!(role_of(&roles, "alice").as_deref(), Some("Owner"));
    assert_eq!(role_of(&roles, "bob").as_deref(), Some("Member"));
    assert_eq!(role_of(&roles, "carol").as_deref(), Some("Admin"));
    assert_eq!(info(&ts, "carol", &gid).await["my_role"], "Admin");
}

#[tokio::test]
async fn joined_group_list_and_scope_all() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let public = ts
        .create("alice", json!({"name": "pub", "type": "Public"}))
        .await;
    let work = ts
        .create("alice", json!({"name": "work", "type": "Work"}))
        .await;
    let av = ts
        .create("alice", json!({"name": "live", "type": "AVChatRoom"}))
        .await;
    let bobs = ts
        .create("bob", json!({"name": "bob's", "type": "Meeting"}))
        .await;

    let (items, _) = walk(&ts, "alice", "/api/v1/groups", 100).await;
    let mut ids = ids_of(&items, "group_id");
    ids.sort();
    let mut want = vec![public.clone(), work.clone()];
    want.sort();
    assert_eq!(ids, want, "alice's joined groups (AVChatRoom not listed)");
    for g in &items {
        assert_eq!(g["my_role"], "Owner");
        assert_eq!(g["member_count"], 1);
    }
    // The AVChatRoom membership itself exists.
    assert_eq!(info(&ts, "alice", &av).await["my_role"], "Owner");

    let (items, _) = walk(&ts, "bob", "/api/v1/groups?scope=joined", 100).await;
    assert_eq!(ids_of(&items, "group_id"), vec![bobs.clone()]);

    let mut all = all_group_ids(&ts).await;
    all.sort();
    let mut want = vec![public, work, av, bobs];
    want.sort();
    assert_eq!(
        all, want,
        "scope=all lists every group, AVChatRoom included"
    );

    let r = ts.get("alice", "/api/v1/groups?scope=all").await;
    assert_error(&r, 403, 10007, "scope=all as a non-admin");
    let r = ts.get("alice", "/api/v1/groups?scope=everything").await;
    assert_error(&r, 400, 10004, "unknown scope");
    let r = ts.get("alice", "/api/v1/groups?limit=0").await;
    assert_error(&r, 400, 10004, "limit=0");
    let r = ts.get("alice", "/api/v1/groups?limit=-3").await;
    assert_error_shape(&r, "negative limit");
    assert_eq!(r.0, 400);
    let r = ts.get("alice", "/api/v1/groups?limit=ten").await;
    assert_error(&r, 400, 10004, "non-numeric limit");
}

#[tokio::test]
async fn joined_group_list_pages_without_gaps_or_duplicates() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let mut created = Vec::new();
    for i in 0..7 {
        let t = if i % 2 == 0 { "Public" } else { "Work" };
        created.push(
            ts.create("alice", json!({"name": format!("g{i}"), "type": t}))
                .await,
        );
    }
    created.sort();
    for limit in [1, 3, 7, 100] {
        let (items, pages) = walk(&ts, "alice", "/api/v1/groups", limit).await;
        let ids = ids_of(&items, "group_id");
        assert_unique(&ids, &format!("limit {limit}"));
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, created, "limit {limit}: every group exactly once");
        assert!(
            pages >= 7usize.div_ceil(limit as usize),
            "limit {limit}: {pages} pages"
        );
    }
    let (items, _) = walk(&ts, ADMIN, "/api/v1/groups?scope=all", 2).await;
    let mut ids = ids_of(&items, "group_id");
    assert_unique(&ids, "scope=all paging");
    ids.sort();
    assert_eq!(ids, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_limit_above_500_is_clamped() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let ts_ref = &ts;
    let created: Vec<String> = stream::iter(0..505)
        .map(|i| async move {
            ts_ref
                .create("alice", json!({"name": format!("m{i}"), "type": "Meeting"}))
                .await
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let r = ts.get("alice", "/api/v1/groups?limit=100000").await;
    assert_ok(&r, 200, "limit above the maximum is clamped, not refused");
    let first = r.1["items"].as_array().unwrap();
    assert_eq!(first.len(), 500, "a page holds at most 500");
    let cursor = r.1["next_cursor"]
        .as_str()
        .expect("more to come")
        .to_string();
    let r = ts
        .get(
            "alice",
            &format!(
                "/api/v1/groups?limit=100000&cursor={}",
                TestServer::enc(&cursor)
            ),
        )
        .await;
    assert_ok(&r, 200, "second page");
    let second = r.1["items"].as_array().unwrap();
    assert_eq!(second.len(), 5);
    let mut ids = ids_of(first, "group_id");
    ids.extend(ids_of(second, "group_id"));
    assert_unique(&ids, "clamped pages");
    let mut want = created;
    want.sort();
    ids.sort();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn group_info_counts_roles_and_pending_requests() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol", "dave"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "club", "type": "Public",
                   "members": [{"user_id": "bob", "role": "Admin"}, {"user_id": "carol"}]}),
        )
        .await;
    let r = ts
        .post(
            "dave",
            &format!("{}/join", gp(&gid)),
            json!({"message": "hi"}),
        )
        .await;
    assert_ok(&r, 200, "dave applies");
    assert_eq!(r.1["status"], "pending");

    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["group_id"], gid.as_str());
    assert_eq!(g["member_count"], 3);
    assert_eq!(g["my_role"], "Owner");
    assert_eq!(g["pending_requests"], 1);
    let g = info(&ts, "bob", &gid).await;
    assert_eq!(g["my_role"], "Admin");
    assert_eq!(g["pending_requests"], 1);
    let g = info(&ts, "carol", &gid).await;
    assert_eq!(g["my_role"], "Member");
    assert!(
        g["pending_requests"].is_null(),
        "members do not see the count: {g}"
    );
    let g = info(&ts, "dave", &gid).await;
    assert!(g["my_role"].is_null(), "a non-member has no role: {g}");
    assert!(g["pending_requests"].is_null());
    let g = info(&ts, ADMIN, &gid).await;
    assert_eq!(g["pending_requests"], 1, "app admins may decide");

    let r = ts.get("alice", &gp("no-such-group")).await;
    assert_error(&r, 404, 10010, "unknown group");
}

#[tokio::test]
async fn non_member_reading_a_work_group_is_refused() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let work = ts
        .create("alice", json!({"name": "secret", "type": "Work"}))
        .await;
    let public = ts
        .create("alice", json!({"name": "open", "type": "Public"}))
        .await;
    let r = ts.get("bob", &gp(&work)).await;
    assert_error(&r, 403, 10007, "non-member reads a Work group");
    let r = ts.get("bob", &format!("{}/members", gp(&work))).await;
    assert_error(&r, 403, 10007, "non-member lists a Work group's members");
    // A Public group's profile is readable by ID, its member list is not.
    assert_eq!(info(&ts, "bob", &public).await["name"], "open");
    let r = ts.get("bob", &format!("{}/members", gp(&public))).await;
    assert_error(&r, 403, 10007, "non-member lists members");
    assert_eq!(info(&ts, ADMIN, &work).await["name"], "secret");
}

#[tokio::test]
async fn modify_group_changes_and_reports_changed_fields() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "before", "type": "Public", "members": [{"user_id": "bob"}]}),
        )
        .await;
    let seq0 = info(&ts, "alice", &gid).await["info_seq"].as_u64().unwrap();

    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": "after", "add_option": "Any"}),
    )
    .await;
    assert_ok(&r, 200, "patch");
    let mut changed: Vec<String> = serde_json::from_value(r.1["changed"].clone()).unwrap();
    changed.sort();
    assert_eq!(changed, vec!["add_option", "name"]);
    let g = info(&ts, "bob", &gid).await;
    assert_eq!(g["name"], "after");
    assert_eq!(g["add_option"], "Any");
    let seq1 = g["info_seq"].as_u64().unwrap();
    assert!(seq1 > seq0, "info_seq bumps on a change");

    // The join option now admits bob's friend at once.
    let r = ts
        .post("carol", &format!("{}/join", gp(&gid)), json!({}))
        .await;
    assert_ok(&r, 200, "join after add_option Any");
    assert_eq!(r.1["status"], "joined");

    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": "after", "add_option": "Any"}),
    )
    .await;
    assert_ok(&r, 200, "unchanged patch");
    assert_eq!(r.1, json!({"changed": []}));
    assert_eq!(
        info(&ts, "alice", &gid).await["info_seq"].as_u64().unwrap(),
        seq1
    );

    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"introduction": "about us", "notification": "rules", "face_url": "http://x/y.png"}),
    )
    .await;
    assert_ok(&r, 200, "patch profile fields");
    assert_eq!(r.1["changed"].as_array().unwrap().len(), 3);
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["introduction"], "about us");
    assert_eq!(g["notification"], "rules");
    assert_eq!(g["face_url"], "http://x/y.png");

    // A Public member may not edit the profile.
    let r = patch(&ts, "bob", &gp(&gid), json!({"name": "hijack"})).await;
    assert_error(&r, 403, 10007, "member edits a Public group");
    let r = patch(&ts, "stranger", &gp(&gid), json!({"name": "hijack"})).await;
    assert_error(&r, 403, 10007, "non-member edits");
    assert_eq!(info(&ts, "alice", &gid).await["name"], "after");
    let r = patch(&ts, "alice", &gp("missing"), json!({"name": "x"})).await;
    assert_error(&r, 404, 10010, "patch unknown group");
}

#[tokio::test]
async fn disband_then_the_group_is_gone() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "doomed", "type": "Public", "members": [{"user_id": "bob"}]}),
        )
        .await;
    let r = del(&ts, "bob", &gp(&gid), None).await;
    assert_error(&r, 403, 10007, "a member disbands");
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 2);

    let r = del(&ts, "alice", &gp(&gid), None).await;
    assert_ok(&r, 200, "owner disbands");
    let r = ts.get("alice", &gp(&gid)).await;
    assert_error(&r, 404, 10010, "info after disband");
    let r = ts.get("bob", &format!("{}/members", gp(&gid))).await;
    assert_error(&r, 404, 10010, "members after disband");
    let r = del(&ts, "alice", &gp(&gid), None).await;
    assert_error(&r, 404, 10010, "disband twice");
    let r = ts
        .post("bob", &format!("{}/join", gp(&gid)), json!({}))
        .await;
    assert_error(&r, 404, 10010, "join after disband");
    let (items, _) = walk(&ts, "bob", "/api/v1/groups", 100).await;
    assert!(items.is_empty(), "gone from joined lists: {items:?}");

    // Work groups are disbanded only by app admins.
    let work = ts
        .create("alice", json!({"name": "w", "type": "Work"}))
        .await;
    let r = del(&ts, "alice", &gp(&work), None).await;
    assert_error(&r, 403, 10007, "owner disbands a Work group");
    let r = del(&ts, ADMIN, &gp(&work), None).await;
    assert_ok(&r, 200, "app admin disbands a Work group");
    let r = ts.get(ADMIN, &gp(&work)).await;
    assert_error(&r, 404, 10010, "Work group after disband");
}

#[tokio::test]
async fn join_and_quit() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol"]).await;
    let meeting = ts
        .create("alice", json!({"name": "m", "type": "Meeting"}))
        .await;
    let public = ts
        .create("alice", json!({"name": "p", "type": "Public"}))
        .await;
    let work = ts
        .create("alice", json!({"name": "w", "type": "Work"}))
        .await;

    // Free join: no body at all is fine.
    let r = ts
        .call("bob", Method::POST, &format!("{}/join", gp(&meeting)), None)
        .await;
    assert_ok(&r, 200, "join Meeting");
    assert_eq!(r.1["status"], "joined");
    assert!(r.1["request_id"].is_null());
    assert_eq!(info(&ts, "bob", &meeting).await["member_count"], 2);
    assert_eq!(info(&ts, "bob", &meeting).await["my_role"], "Member");

    let r = ts
        .post("bob", &format!("{}/join", gp(&meeting)), json!({}))
        .await;
    assert_error(&r, 409, 10013, "join twice");
    assert_eq!(info(&ts, "bob", &meeting).await["member_count"], 2);

    // Auth: a pending request.
    let r = ts
        .post(
            "carol",
            &format!("{}/join", gp(&public)),
            json!({"message": "let me in"}),
        )
        .await;
    assert_ok(&r, 200, "apply to Public");
    assert_eq!(r.1["status"], "pending");
    assert!(r.1["request_id"].as_u64().is_some(), "request_id: {}", r.1);
    let g = info(&ts, "carol", &public).await;
    assert!(g["my_role"].is_null(), "not a member yet");
    assert_eq!(g["member_count"], 1);

    // Forbid (Work default).
    let r = ts
        .post("bob", &format!("{}/join", gp(&work)), json!({}))
        .await;
    assert_error(&r, 403, 10007, "join a Work group");

    // Quit.
    let r = ts
        .post("bob", &format!("{}/quit", gp(&meeting)), json!({}))
        .await;
    assert_ok(&r, 200, "member quits");
    let g = info(&ts, "bob", &meeting).await;
    assert_eq!(g["member_count"], 1);
    assert!(g["my_role"].is_null());
    let r = ts
        .post("bob", &format!("{}/quit", gp(&meeting)), json!({}))
        .await;
    assert_error(&r, 403, 10007, "non-member quits");

    let r = ts
        .post("alice", &format!("{}/quit", gp(&public)), json!({}))
        .await;
    assert_error(&r, 403, 10009, "Public owner quits");
    let g = info(&ts, "alice", &public).await;
    assert_eq!(g["my_role"], "Owner");
    assert_eq!(g["owner"], "alice");

    // The owner of a Work group may quit; the group is left ownerless.
    let r = ts
        .call("alice", Method::POST, &format!("{}/quit", gp(&work)), None)
        .await;
    assert_ok(&r, 200, "Work owner quits");
    let g = info(&ts, ADMIN, &work).await;
    assert!(g["owner"].is_null(), "{g}");
    assert_eq!(g["member_count"], 0);
}

#[tokio::test]
async fn invite_reports_a_result_per_user() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol", "dave"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "work", "type": "Work", "members": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(info(&ts, "alice", &gid).await["invite_option"], "Any");

    let r = ts
        .post(
            "bob",
            &format!("{}/invite", gp(&gid)),
            json!({"user_ids": ["carol", "alice", "ghost-user"]}),
        )
        .await;
    assert_ok(&r, 200, "invite");
    let results = r.1["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 3, "one result per user: {results:?}");
    let by = |u: &str| {
        results
            .iter()
            .find(|x| x["user_id"] == u)
            .unwrap_or_else(|| panic!("no result for {u}"))
            .clone()
    };
    assert_eq!(by("carol")["result"], "added");
    let existing = by("alice");
    assert_eq!(existing["result"], "failed");
    assert_eq!(existing["code"], 10013);
    assert!(!existing["message"].as_str().unwrap_or("").is_empty());
    let ghost = by("ghost-user");
    assert_eq!(ghost["result"], "failed");
    assert_eq!(ghost["code"], 10019);
    assert!(!ghost["message"].as_str().unwrap_or("").is_empty());

    let g = info(&ts, "carol", &gid).await;
    assert_eq!(g["member_count"], 3);
    assert_eq!(g["my_role"], "Member");

    // A non-member cannot invite; an empty list is bad input.
    let r = ts
        .post(
            "dave",
            &format!("{}/invite", gp(&gid)),
            json!({"user_ids": ["dave"]}),
        )
        .await;
    assert_error(&r, 403, 10007, "non-member invites");
    let r = ts
        .post(
            "alice",
            &format!("{}/invite", gp(&gid)),
            json!({"user_ids": []}),
        )
        .await;
    assert_error(&r, 400, 10004, "empty invite");
    let r = ts
        .post(
            "alice",
            &format!("{}/invite", gp(&gid)),
            json!({"user_ids": "dave"}),
        )
        .await;
    assert_error(&r, 400, 10004, "user_ids not a list");
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 3);
}

#[tokio::test]
async fn members_page_through_every_member_once() {
    let ts = start().await;
    let users: Vec<String> = (0..24).map(|i| format!("user{i:02}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    ts.register(&refs).await;
    ts.register(&["alice"]).await;
    let members: Vec<Value> = users.iter().map(|u| json!({"user_id": u})).collect();
    let gid = ts
        .create(
            "alice",
            json!({"name": "big", "type": "Public", "members": members}),
        )
        .await;
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 25);

    let (items, pages) = walk(&ts, "user07", &format!("{}/members", gp(&gid)), 10).await;
    assert!(pages >= 3, "25 members at 10 a page: {pages} pages");
    let ids = ids_of(&items, "user_id");
    assert_unique(&ids, "member pages");
    let mut got = ids.clone();
    got.sort();
    let mut want = users.clone();
    want.push("alice".into());
    want.sort();
    assert_eq!(got, want, "every member exactly once");
    for m in &items {
        let want_role = if m["user_id"] == "alice" {
            "Owner"
        } else {
            "Member"
        };
        assert_eq!(m["role"], want_role, "{m}");
        assert!(m["join_time"].as_u64().is_some(), "{m}");
    }

    let r = ts
        .get("alice", &format!("{}/members?limit=0", gp(&gid)))
        .await;
    assert_error(&r, 400, 10004, "members limit=0");
    let r = ts
        .get("alice", &format!("{}/members?limit=9999", gp(&gid)))
        .await;
    assert_ok(&r, 200, "members limit clamped");
    assert_eq!(r.1["items"].as_array().unwrap().len(), 25);
    let r = ts
        .get("alice", &format!("{}/members?bogus=1", gp(&gid)))
        .await;
    assert_error_shape(&r, "unknown query parameter");
    assert_eq!(r.0, 400);
    let r = ts.get("alice", &format!("{}/members", gp("nope"))).await;
    assert_error(&r, 404, 10010, "members of an unknown group");
}

#[tokio::test]
async fn kick_with_and_without_reason() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol", "dave"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "k", "type": "Public",
                   "members": [{"user_id": "bob"}, {"user_id": "carol"}, {"user_id": "dave"}]}),
        )
        .await;
    let r = del(&ts, "alice", &format!("{}/members/bob", gp(&gid)), None).await;
    assert_ok(&r, 200, "kick without body");
    let r = del(
        &ts,
        "alice",
        &format!("{}/members/carol", gp(&gid)),
        Some(json!({"reason": "spam"})),
    )
    .await;
    assert_ok(&r, 200, "kick with reason");
    let roles = member_roles(&ts, "alice", &gid).await;
    assert_eq!(role_of(&roles, "bob"), None);
    assert_eq!(role_of(&roles, "carol"), None);
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 2);
    let r = ts.get("bob", &format!("{}/members", gp(&gid))).await;
    assert_error(&r, 403, 10007, "kicked member lists members");

    // A plain member may not kick; the owner stays.
    let r = del(&ts, "dave", &format!("{}/members/alice", gp(&gid)), None).await;
    assert_error(&r, 403, 10007, "member kicks the owner");
    let r = del(
        &ts,
        "alice",
        &format!("{}/members/dave", gp(&gid)),
        Some(json!({"reason": "x", "extra": 1})),
    )
    .await;
    assert_error_shape(&r, "kick with an unknown field");
    assert_eq!(r.0, 400);
    let r = del(
        &ts,
        "alice",
        &format!("{}/members/dave", gp(&gid)),
        Some(json!({"reason": "r".repeat(301)})),
    )
    .await;
    assert_error(&r, 400, 10004, "kick reason over 300 bytes");
    let r = del(&ts, "alice", &format!("{}/members/%01dave", gp(&gid)), None).await;
    assert_error(&r, 400, 10004, "kick an invalid user id");
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 2);
    assert_eq!(info(&ts, "dave", &gid).await["my_role"], "Member");
}

#[tokio::test]
async fn set_role_grants_and_revokes_admin() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "r", "type": "Public", "members": [{"user_id": "bob"}, {"user_id": "carol"}]}),
        )
        .await;
    let path = format!("{}/members/bob/role", gp(&gid));
    let r = put(&ts, "alice", &path, json!({"role": "Admin"})).await;
    assert_ok(&r, 200, "grant admin");
    assert_eq!(r.1, json!({"role": "Admin", "changed": true}));
    assert_eq!(info(&ts, "bob", &gid).await["my_role"], "Admin");
    let r = put(&ts, "alice", &path, json!({"role": "Admin"})).await;
    assert_ok(&r, 200, "grant again");
    assert_eq!(r.1, json!({"role": "Admin", "changed": false}));
    let roles = member_roles(&ts, "alice", &gid).await;
    assert_eq!(role_of(&roles, "bob").as_deref(), Some("Admin"));

    // Only the owner grants; an admin cannot promote.
    let r = put(
        &ts,
        "bob",
        &format!("{}/members/carol/role", gp(&gid)),
        json!({"role": "Admin"}),
    )
    .await;
    assert_error(&r, 403, 10007, "admin grants admin");
    let r = put(&ts, "alice", &path, json!({"role": "Owner"})).await;
    assert_error(&r, 400, 10004, "role Owner via set role");
    let r = put(&ts, "alice", &path, json!({"role": "Boss"})).await;
    assert_error(&r, 400, 10004, "unknown role");
    assert_eq!(info(&ts, "bob", &gid).await["my_role"], "Admin");

    let r = put(&ts, "alice", &path, json!({"role": "Member"})).await;
    assert_ok(&r, 200, "revoke admin");
    assert_eq!(r.1, json!({"role": "Member", "changed": true}));
    assert_eq!(info(&ts, "bob", &gid).await["my_role"], "Member");

    // Work groups have no admins.
    let work = ts
        .create(
            "alice",
            json!({"name": "w", "type": "Work", "members": [{"user_id": "bob"}]}),
        )
        .await;
    let r = put(
        &ts,
        "alice",
        &format!("{}/members/bob/role", gp(&work)),
        json!({"role": "Admin"}),
    )
    .await;
    assert_error(&r, 403, 10007, "admin in a Work group");
    assert_eq!(info(&ts, "bob", &work).await["my_role"], "Member");
}

#[tokio::test]
async fn transfer_owner_demotes_the_old_owner() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "t", "type": "Public", "members": [{"user_id": "bob"}]}),
        )
        .await;
    let owner = format!("{}/owner", gp(&gid));
    let r = ts.post("alice", &owner, json!({"user_id": "carol"})).await;
    assert_error_shape(&r, "transfer to a non-member");
    assert_eq!(info(&ts, "alice", &gid).await["owner"], "alice");
    let r = ts.post("bob", &owner, json!({"user_id": "bob"})).await;
    assert_error(&r, 403, 10007, "member takes ownership");

    let r = ts.post("alice", &owner, json!({"user_id": "bob"})).await;
    assert_ok(&r, 200, "transfer");
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["owner"], "bob");
    assert_eq!(g["my_role"], "Member");
    let roles = member_roles(&ts, "bob", &gid).await;
    assert_eq!(role_of(&roles, "bob").as_deref(), Some("Owner"));
    assert_eq!(role_of(&roles, "alice").as_deref(), Some("Member"));
    // The old owner may now quit, the new one may not.
    let r = ts
        .post("bob", &format!("{}/quit", gp(&gid)), json!({}))
        .await;
    assert_error(&r, 403, 10009, "new owner quits");
    let r = ts
        .post("alice", &format!("{}/quit", gp(&gid)), json!({}))
        .await;
    assert_ok(&r, 200, "old owner quits");
    let r = ts.post("alice", &owner, json!({})).await;
    assert_error(&r, 400, 10004, "transfer without user_id");
}

#[tokio::test]
async fn pendency_listing_visibility_paging_and_decisions() {
    let ts = start().await;
    ts.register(&["alice", "bob", "carol", "dave", "erin", "frank"])
        .await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "club", "type": "Public", "members": [{"user_id": "bob", "role": "Admin"}]}),
        )
        .await;
    let other = ts
        .create("frank", json!({"name": "other", "type": "Public"}))
        .await;
    let mut req_ids = Vec::new();
    for (user, g) in [("carol", &gid), ("dave", &gid), ("erin", &other)] {
        let r = ts
            .post(
                user,
                &format!("{}/join", gp(g)),
                json!({"message": format!("from {user}")}),
            )
            .await;
        assert_ok(&r, 200, "apply");
        assert_eq!(r.1["status"], "pending");
        req_ids.push(r.1["request_id"].as_u64().unwrap());
    }
    let (carol_req, dave_req, erin_req) = (req_ids[0], req_ids[1], req_ids[2]);

    // The owner and the admin see their group's requests, not frank's.
    for approver in ["alice", "bob"] {
        let (items, _) = walk(&ts, approver, "/api/v1/pendency", 100).await;
        let mut ids: Vec<u64> = items.iter().map(|i| i["id"].as_u64().unwrap()).collect();
        ids.sort();
        assert_eq!(
            ids,
            vec![carol_req, dave_req],
            "{approver} sees the club's requests"
        );
        for i in &items {
            assert_eq!(i["group_id"], gid.as_str());
            assert_eq!(i["group_name"], "club");
            assert_eq!(i["status"], "pending");
            assert_eq!(i["kind"], "join");
            assert_eq!(i["can_decide"], true);
        }
        let carol = items.iter().find(|i| i["applicant"] == "carol").unwrap();
        assert_eq!(carol["message"], "from carol");
    }
    // The applicant sees its own only, and may not decide it.
    let (items, _) = walk(&ts, "carol", "/api/v1/pendency", 100).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], carol_req);
    assert_eq!(items[0]["can_decide"], false);
    // A stranger sees none; the other group's owner sees only erin's.
    let (items, _) = walk(&ts, "dave-the-stranger", "/api/v1/pendency", 100).await;
    assert!(items.is_empty(), "{items:?}");
    let (items, _) = walk(&ts, "frank", "/api/v1/pendency", 100).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], erin_req);
    // App admins see all.
    let (items, _) = walk(&ts, ADMIN, "/api/v1/pendency", 100).await;
    assert_eq!(items.len(), 3);

    // Paging one at a time.
    let (items, pages) = walk(&ts, "alice", "/api/v1/pendency", 1).await;
    let ids: Vec<String> = items.iter().map(|i| i["id"].to_string()).collect();
    assert_unique(&ids, "pendency pages");
    assert_eq!(ids.len(), 2);
    assert!(pages >= 2);
    let r = ts.get("alice", "/api/v1/pendency?limit=0").await;
    assert_error(&r, 400, 10004, "pendency limit=0");
    let r = ts.get("alice", "/api/v1/pendency?status=bogus").await;
    assert_error(&r, 400, 10004, "unknown status filter");

    // Deciding.
    let r = ts
        .post(
            "carol",
            &format!("/api/v1/pendency/{carol_req}"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_error(&r, 403, 10007, "applicant decides its own request");
    let r = ts
        .post(
            "alice",
            &format!("/api/v1/pendency/{carol_req}"),
            json!({"decision": "maybe"}),
        )
        .await;
    assert_error(&r, 400, 10004, "unknown decision value");
    assert_eq!(info(&ts, "alice", &gid).await["pending_requests"], 2);

    let r = ts
        .post(
            "alice",
            &format!("/api/v1/pendency/{carol_req}"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_ok(&r, 200, "accept");
    let g = info(&ts, "carol", &gid).await;
    assert_eq!(g["my_role"], "Member");
    assert_eq!(g["member_count"], 3);
    let r = ts
        .post(
            "bob",
            &format!("/api/v1/pendency/{carol_req}"),
            json!({"decision": "refuse"}),
        )
        .await;
    assert_error(&r, 409, 10024, "second decision");
    assert_eq!(info(&ts, "carol", &gid).await["my_role"], "Member");

    let r = ts
        .post(
            "bob",
            &format!("/api/v1/pendency/{dave_req}"),
            json!({"decision": "refuse", "reason": "full"}),
        )
        .await;
    assert_ok(&r, 200, "refuse");
    let g = info(&ts, "dave", &gid).await;
    assert!(g["my_role"].is_null());
    assert_eq!(g["member_count"], 3);
    let r = ts
        .post(
            "alice",
            &format!("/api/v1/pendency/{dave_req}"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_error(&r, 409, 10024, "accept after refuse");
    assert!(info(&ts, "dave", &gid).await["my_role"].is_null());

    let r = ts
        .post(
            "alice",
            "/api/v1/pendency/987654",
            json!({"decision": "accept"}),
        )
        .await;
    assert_error_shape(&r, "unknown request id");
    assert_eq!(r.0, 404);
    let r = ts
        .post(
            "alice",
            "/api/v1/pendency/not-a-number",
            json!({"decision": "accept"}),
        )
        .await;
    assert_error_shape(&r, "non-numeric request id");
    assert_eq!(r.0, 404);

    // Handled requests leave the default (pending) list and show with status=all.
    let (items, _) = walk(&ts, "alice", "/api/v1/pendency", 100).await;
    assert!(items.is_empty(), "{items:?}");
    let (items, _) = walk(&ts, "alice", "/api/v1/pendency?status=all", 1).await;
    assert_eq!(items.len(), 2);
    let carol = items.iter().find(|i| i["id"] == carol_req).unwrap();
    assert_eq!(carol["status"], "accepted");
    assert_eq!(carol["handled_by"], "alice");
    assert_eq!(carol["can_decide"], false);
    let dave = items.iter().find(|i| i["id"] == dave_req).unwrap();
    assert_eq!(dave["status"], "refused");
    assert_eq!(dave["handled_by"], "bob");
    assert_eq!(dave["reason"], "full");
    let (items, _) = walk(&ts, "dave", "/api/v1/pendency?status=refused", 100).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], dave_req);
    assert_eq!(info(&ts, "alice", &gid).await["pending_requests"], 0);
}

#[tokio::test]
async fn healthz_and_openapi_document() {
    let ts = start().await;
    let r = raw(&ts, Method::GET, "/healthz", None, None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "ok");
    assert!(r.body["last_event_id"].as_u64().is_some(), "{}", r.body);

    let resp = ts
        .http
        .get(ts.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the OpenAPI document is valid JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "openapi version"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let routes: &[(&str, &[&str])] = &[
        ("/api/v1/me", &["get"]),
        ("/api/v1/groups", &["get", "post"]),
        ("/api/v1/groups/{id}", &["get", "patch", "delete"]),
        ("/api/v1/groups/{id}/join", &["post"]),
        ("/api/v1/groups/{id}/quit", &["post"]),
        ("/api/v1/groups/{id}/invite", &["post"]),
        ("/api/v1/groups/{id}/members", &["get"]),
        ("/api/v1/groups/{id}/members/{user_id}", &["delete"]),
        ("/api/v1/groups/{id}/members/{user_id}/role", &["put"]),
        ("/api/v1/groups/{id}/owner", &["post"]),
        ("/api/v1/pendency", &["get"]),
        ("/api/v1/pendency/{id}", &["post"]),
        ("/api/v1/events", &["get"]),
        ("/healthz", &["get"]),
    ];
    for (path, methods) in routes {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        for m in *methods {
            assert!(
                item.get(*m).is_some(),
                "{m} {path} missing from the OpenAPI document"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_and_wrong_types_change_nothing() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let gid = ts
        .create("alice", json!({"name": "keep", "type": "Public"}))
        .await;
    let auth = bearer(&ts, "alice");
    let json_ct = Some("application/json");

    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        Some(&auth),
        json_ct,
        Some(b"{\"name\": ".to_vec()),
    )
    .await;
    assert_error(&r.reply(), 400, 10011, "truncated JSON on create");
    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        Some(&auth),
        json_ct,
        Some(b"not json".to_vec()),
    )
    .await;
    assert_error(&r.reply(), 400, 10011, "garbage on create");
    let r = raw(
        &ts,
        Method::PATCH,
        &gp(&gid),
        Some(&auth),
        json_ct,
        Some(b"{'name': 'x'}".to_vec()),
    )
    .await;
    assert_error(&r.reply(), 400, 10011, "single-quoted JSON on patch");
    let r = raw(
        &ts,
        Method::POST,
        &format!("{}/join", gp(&gid)),
        Some(&auth),
        json_ct,
        Some(b"{\"message\":".to_vec()),
    )
    .await;
    assert_error(&r.reply(), 400, 10011, "truncated JSON on join");

    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": 5, "type": "Public"}),
        )
        .await;
    assert_error(&r, 400, 10004, "name: 5 on create");
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Public", "max_members": "many"}),
        )
        .await;
    assert_error(&r, 400, 10004, "max_members as a string");
    let r = ts
        .post("alice", "/api/v1/groups", json!(["name", "type"]))
        .await;
    assert_error(&r, 400, 10004, "an array instead of an object");
    let r = patch(&ts, "alice", &gp(&gid), json!({"name": 5})).await;
    assert_error(&r, 400, 10004, "name: 5 on patch");
    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": null, "introduction": ["a"]}),
    )
    .await;
    assert_error(&r, 400, 10004, "introduction as a list");
    let r = ts
        .post("alice", "/api/v1/groups", json!({"type": "Public"}))
        .await;
    assert_error(&r, 400, 10004, "missing name");
    let r = ts
        .post("alice", "/api/v1/groups", json!({"name": "x"}))
        .await;
    assert_error(&r, 400, 10004, "missing type");
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "", "type": "Public"}),
        )
        .await;
    assert_error(&r, 400, 10004, "empty name");

    assert_eq!(
        all_group_ids(&ts).await,
        vec![gid.clone()],
        "no group was created"
    );
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["name"], "keep");
    assert_eq!(g["introduction"], "");
    assert_eq!(g["info_seq"], 1);
}

#[tokio::test]
async fn unknown_enum_values_and_fields_are_refused() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let gid = ts
        .create("alice", json!({"name": "keep", "type": "Public"}))
        .await;

    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Bogus"}),
        )
        .await;
    assert_error(&r, 400, 10004, "type Bogus");
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Public", "add_option": "Sometimes"}),
        )
        .await;
    assert_error(&r, 400, 10004, "add_option Sometimes on create");
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Public", "members": [{"user_id": "bob", "role": "Chief"}]}),
        )
        .await;
    assert_error(&r, 400, 10004, "unknown member role");
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Public", "colour": "red"}),
        )
        .await;
    assert_error_shape(&r, "unknown field on create");
    assert_eq!(r.0, 400);
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "x", "type": "Public", "members": [{"user_id": "bob", "nick": "b"}]}),
        )
        .await;
    assert_error_shape(&r, "unknown field in a member");
    assert_eq!(r.0, 400);

    let r = patch(&ts, "alice", &gp(&gid), json!({"add_option": "Sometimes"})).await;
    assert_error(&r, 400, 10004, "add_option Sometimes on patch");
    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": "changed", "add_option": "Sometimes"}),
    )
    .await;
    assert_error(&r, 400, 10004, "valid name with a bad add_option");
    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": "changed", "nmae": "typo"}),
    )
    .await;
    assert_error_shape(&r, "unknown field on patch");
    assert_eq!(r.0, 400);
    let r = ts
        .post(
            "bob",
            &format!("{}/join", gp(&gid)),
            json!({"message": "hi", "urgent": true}),
        )
        .await;
    assert_error_shape(&r, "unknown field on join");
    assert_eq!(r.0, 400);

    assert_eq!(
        all_group_ids(&ts).await,
        vec![gid.clone()],
        "no group was created"
    );
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["name"], "keep");
    assert_eq!(g["add_option"], "Auth");
    assert_eq!(g["pending_requests"], 0, "bob's join was not recorded");
}

#[tokio::test]
async fn over_long_fields_are_refused_whole() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let gid = ts
        .create("alice", json!({"name": "keep", "type": "Work"}))
        .await;

    let cjk11 = "群".repeat(11);
    assert_eq!(cjk11.len(), 33);
    let refused = [
        (
            json!({"name": "a".repeat(31), "type": "Public"}),
            10004,
            "31-byte name",
        ),
        (
            json!({"name": cjk11, "type": "Public"}),
            10004,
            "11 CJK chars = 33 bytes",
        ),
        (
            json!({"name": "ok", "type": "Public", "introduction": "i".repeat(241)}),
            10004,
            "241-byte introduction",
        ),
        (
            json!({"name": "ok", "type": "Public", "notification": "n".repeat(301)}),
            10004,
            "301-byte notification",
        ),
        (
            json!({"name": "ok", "type": "Public", "face_url": "f".repeat(101)}),
            10004,
            "101-byte face_url",
        ),
        (
            json!({"group_id": "g".repeat(49), "name": "ok", "type": "Public"}),
            10015,
            "49-byte custom group id",
        ),
        (
            json!({"group_id": "bad\u{1}id", "name": "ok", "type": "Public"}),
            10015,
            "custom group id with a control char",
        ),
        (
            json!({"group_id": "@TGS#mine", "name": "ok", "type": "Public"}),
            10015,
            "reserved prefix",
        ),
    ];
    for (body, code, what) in refused {
        let r = ts.post("alice", "/api/v1/groups", body).await;
        assert_error(&r, 400, code, what);
    }
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "ok", "type": "Public", "members": [{"user_id": "bob"}, {"user_id": "nobody"}]}),
        )
        .await;
    assert_error_shape(&r, "unknown initial member");
    assert_eq!(r.1["error"]["code"], 10019);
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "ok", "type": "Work", "members": [{"user_id": "bob", "role": "Admin"}]}),
        )
        .await;
    assert_error(&r, 400, 10004, "Admin in a Work group at creation");
    let r = ts
        .post(
            "bob",
            &format!("{}/join", gp(&gid)),
            json!({"message": "m".repeat(301)}),
        )
        .await;
    assert_error(&r, 400, 10004, "301-byte join message");

    // At the limits exactly: accepted.
    let at_limits = ts
        .create(
            "alice",
            json!({"name": "a".repeat(30), "type": "Public", "group_id": "x".repeat(48)}),
        )
        .await;
    assert_eq!(at_limits, "x".repeat(48));
    let cjk10 = ts
        .create("alice", json!({"name": "群".repeat(10), "type": "Public"}))
        .await;
    assert_eq!(info(&ts, "alice", &cjk10).await["name"], "群".repeat(10));

    let mut want = vec![gid.clone(), at_limits, cjk10];
    want.sort();
    let mut all = all_group_ids(&ts).await;
    all.sort();
    assert_eq!(all, want, "no refused create left a group behind");

    // PATCH with one good and one over-long field changes nothing.
    let r = patch(&ts, "alice", &gp(&gid), json!({"name": "b".repeat(31)})).await;
    assert_error(&r, 400, 10004, "31-byte name on patch");
    let r = patch(&ts, "alice", &gp(&gid), json!({"name": "群".repeat(11)})).await;
    assert_error(&r, 400, 10004, "33-byte CJK name on patch");
    let r = patch(
        &ts,
        "alice",
        &gp(&gid),
        json!({"name": "fine", "introduction": "i".repeat(241)}),
    )
    .await;
    assert_error(&r, 400, 10004, "good name + over-long introduction");
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["name"], "keep");
    assert_eq!(g["introduction"], "");
    assert_eq!(g["info_seq"], 1);
}

#[tokio::test]
async fn invalid_group_ids_in_the_path() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let long = "x".repeat(200);
    let bad_ids = [long.as_str(), "%01abc", "ab%7Fcd", "%00", "tab%09id"];
    for id in bad_ids {
        let base = format!("/api/v1/groups/{id}");
        let attempts: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, base.clone(), None),
            (Method::PATCH, base.clone(), Some(json!({"name": "x"}))),
            (Method::DELETE, base.clone(), None),
            (Method::POST, format!("{base}/join"), Some(json!({}))),
            (Method::POST, format!("{base}/quit"), Some(json!({}))),
            (
                Method::POST,
                format!("{base}/invite"),
                Some(json!({"user_ids": ["alice"]})),
            ),
            (Method::GET, format!("{base}/members"), None),
            (Method::DELETE, format!("{base}/members/alice"), None),
            (
                Method::PUT,
                format!("{base}/members/alice/role"),
                Some(json!({"role": "Admin"})),
            ),
            (
                Method::POST,
                format!("{base}/owner"),
                Some(json!({"user_id": "alice"})),
            ),
        ];
        for (method, path, body) in attempts {
            let what = format!("{method} {}", &path[..path.len().min(60)]);
            let r = ts.call("alice", method, &path, body).await;
            assert_error_shape(&r, &what);
            let code = r.1["error"]["code"].as_u64().unwrap();
            assert!(
                (r.0 == 400 && code == 10015) || (r.0 == 404 && code == 10010),
                "{what}: expected 400/10015 or 404/10010, got {}/{code} ({})",
                r.0,
                r.1
            );
        }
    }
    assert!(all_group_ids(&ts).await.is_empty());
}

/// Contract: every error, a bad path included, is `{"error": {"code", "message"}}`.
#[tokio::test]
async fn non_utf8_path_segments_get_the_error_envelope() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let gid = ts
        .create("alice", json!({"name": "g", "type": "Public"}))
        .await;
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/groups/%FF%FE".into(), None),
        (
            Method::PATCH,
            "/api/v1/groups/%FF".into(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            "/api/v1/groups/%FF/join".into(),
            Some(json!({})),
        ),
        (Method::GET, "/api/v1/groups/%C3%28/members".into(), None),
        (Method::DELETE, format!("{}/members/%FF", gp(&gid)), None),
        (
            Method::PUT,
            format!("{}/members/%FF/role", gp(&gid)),
            Some(json!({"role": "Admin"})),
        ),
        (
            Method::POST,
            "/api/v1/pendency/%FF".into(),
            Some(json!({"decision": "accept"})),
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body) in attempts {
        let r = ts.call("alice", method.clone(), &path, body).await;
        let ok = (400..500).contains(&r.0)
            && r.1["error"]["code"].as_u64().is_some()
            && r.1["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        if !ok {
            failures.push(format!("{method} {path} -> {} {}", r.0, r.1));
        }
    }
    assert_eq!(info(&ts, "alice", &gid).await["member_count"], 1);
    assert!(
        failures.is_empty(),
        "answers without the error envelope:\n{}",
        failures.join("\n")
    );
}

/// Contract: an empty body on create is 400 (with the envelope), however it is sent.
/// Requests are written byte for byte so the headers are exactly these.
#[tokio::test]
async fn empty_body_on_create_is_400() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let auth = bearer(&ts, "alice");
    let json_ct = "Content-Type: application/json\r\n";
    let cases: [(&str, String, &[u8]); 5] = [
        (
            "JSON Content-Type, Content-Length: 0",
            format!("{json_ct}Content-Length: 0\r\n"),
            b"",
        ),
        (
            "JSON Content-Type, whitespace body",
            format!("{json_ct}Content-Length: 3\r\n"),
            b"  \n",
        ),
        (
            "JSON Content-Type, no Content-Length (no body)",
            json_ct.to_string(),
            b"",
        ),
        (
            "no Content-Type, Content-Length: 0",
            "Content-Length: 0\r\n".to_string(),
            b"",
        ),
        (
            "no Content-Type, no Content-Length (no body)",
            String::new(),
            b"",
        ),
    ];
    let mut failures = Vec::new();
    for (what, headers, body) in cases {
        let r = raw_http(&ts, "POST", "/api/v1/groups", &auth, &headers, body).await;
        let ok = r.0 == 400
            && r.1["error"]["code"].as_u64().is_some()
            && r.1["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        if !ok {
            failures.push(format!("POST /api/v1/groups, {what} -> {} {}", r.0, r.1));
        }
    }
    assert!(all_group_ids(&ts).await.is_empty(), "nothing created");
    assert!(
        failures.is_empty(),
        "expected 400 with the error envelope:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let ts = start().await;
    ts.register(&["alice", "bob"]).await;
    let gid = ts
        .create(
            "alice",
            json!({"name": "keep", "type": "Public", "members": [{"user_id": "bob"}]}),
        )
        .await;
    let auth = bearer(&ts, "alice");

    // An empty PATCH is bad input too.
    let r = raw(
        &ts,
        Method::PATCH,
        &gp(&gid),
        Some(&auth),
        Some("application/json"),
        Some(Vec::new()),
    )
    .await;
    assert_error_shape(&r.reply(), "empty patch body");
    assert_eq!(r.status, 400);

    let body = serde_json::to_vec(&json!({"name": "x", "type": "Public"})).unwrap();
    for ct in [Some("text/plain"), None, Some("application/xml")] {
        let r = raw(
            &ts,
            Method::POST,
            "/api/v1/groups",
            Some(&auth),
            ct,
            Some(body.clone()),
        )
        .await;
        assert_error_shape(&r.reply(), &format!("create as {ct:?}"));
        assert_eq!(r.status, 415, "create as {ct:?}: {}", r.body);
    }
    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        Some(&auth),
        Some("application/x-www-form-urlencoded"),
        Some(b"name=x&type=Public".to_vec()),
    )
    .await;
    assert_error_shape(&r.reply(), "create as a form");
    assert_eq!(r.status, 415);
    let patch_body = serde_json::to_vec(&json!({"name": "renamed"})).unwrap();
    let r = raw(
        &ts,
        Method::PATCH,
        &gp(&gid),
        Some(&auth),
        Some("text/plain"),
        Some(patch_body),
    )
    .await;
    assert_error_shape(&r.reply(), "patch as text/plain");
    assert_eq!(r.status, 415);
    let role_body = serde_json::to_vec(&json!({"role": "Admin"})).unwrap();
    let r = raw(
        &ts,
        Method::PUT,
        &format!("{}/members/bob/role", gp(&gid)),
        Some(&auth),
        Some("text/plain"),
        Some(role_body),
    )
    .await;
    assert_error_shape(&r.reply(), "set role as text/plain");
    assert_eq!(r.status, 415);
    let invite_body = serde_json::to_vec(&json!({"user_ids": ["carol"]})).unwrap();
    let r = raw(
        &ts,
        Method::POST,
        &format!("{}/invite", gp(&gid)),
        Some(&auth),
        Some("text/plain"),
        Some(invite_body),
    )
    .await;
    assert_error_shape(&r.reply(), "invite as text/plain");
    assert_eq!(r.status, 415);

    assert_eq!(all_group_ids(&ts).await, vec![gid.clone()]);
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["name"], "keep");
    assert_eq!(g["member_count"], 2);
    assert_eq!(info(&ts, "bob", &gid).await["my_role"], "Member");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_for(&dir);
    cfg.body_limit = 1024;
    let ts = start_with(dir, cfg).await;
    ts.register(&["alice", "bob"]).await;
    let gid = ts
        .create("alice", json!({"name": "keep", "type": "Meeting"}))
        .await;
    let auth = bearer(&ts, "alice");
    let big = |extra: Value| {
        let mut v = extra;
        v["introduction"] = json!("i".repeat(4096));
        serde_json::to_vec(&v).unwrap()
    };
    let json_ct = Some("application/json");

    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        Some(&auth),
        json_ct,
        Some(big(json!({"name": "x", "type": "Public"}))),
    )
    .await;
    assert_error_shape(&r.reply(), "4 KiB create");
    assert_eq!(r.status, 413);
    let r = raw(
        &ts,
        Method::PATCH,
        &gp(&gid),
        Some(&auth),
        json_ct,
        Some(big(json!({"name": "y"}))),
    )
    .await;
    assert_error_shape(&r.reply(), "4 KiB patch");
    assert_eq!(r.status, 413);
    let bob = bearer(&ts, "bob");
    let join_body = serde_json::to_vec(&json!({"message": "m".repeat(4096)})).unwrap();
    let r = raw(
        &ts,
        Method::POST,
        &format!("{}/join", gp(&gid)),
        Some(&bob),
        json_ct,
        Some(join_body),
    )
    .await;
    assert_error_shape(&r.reply(), "4 KiB join");
    assert_eq!(r.status, 413);

    // Just under the limit is fine.
    let r = ts
        .post(
            "alice",
            "/api/v1/groups",
            json!({"name": "small", "type": "Public", "introduction": "i".repeat(200)}),
        )
        .await;
    assert_ok(&r, 201, "small create");
    let small = r.1["group_id"].as_str().unwrap().to_string();

    let mut want = vec![gid.clone(), small];
    want.sort();
    let mut all = all_group_ids(&ts).await;
    all.sort();
    assert_eq!(all, want);
    let g = info(&ts, "alice", &gid).await;
    assert_eq!(g["name"], "keep");
    assert_eq!(g["member_count"], 1, "bob's oversized join did not apply");
}

#[tokio::test]
async fn unknown_route_and_wrong_method() {
    let ts = start().await;
    ts.register(&["alice"]).await;
    let gid = ts
        .create("alice", json!({"name": "g", "type": "Public"}))
        .await;
    for path in [
        "/api/v1/nope",
        "/api/v2/groups",
        &format!("{}/bogus", gp(&gid)),
        "/",
    ] {
        let r = ts.get("alice", path).await;
        assert_error(&r, 404, 60009, &format!("GET {path}"));
    }
    let r = raw(&ts, Method::GET, "/api/v1/nope", None, None, None).await;
    assert_eq!(r.status, 404, "unknown route without a sig: {}", r.body);
    assert_error_shape(&r.reply(), "unknown route without a sig");

    let wrong: Vec<(Method, String)> = vec![
        (Method::PUT, "/api/v1/groups".into()),
        (Method::DELETE, "/api/v1/me".into()),
        (Method::POST, gp(&gid)),
        (Method::GET, format!("{}/join", gp(&gid))),
        (Method::PATCH, "/api/v1/pendency".into()),
        (Method::GET, "/api/v1/pendency/1".into()),
        (Method::POST, "/healthz".into()),
    ];
    for (method, path) in wrong {
        let what = format!("{method} {path}");
        let r = ts.call("alice", method, &path, Some(json!({}))).await;
        assert_error_shape(&r, &what);
        assert_eq!(r.0, 405, "{what}: {}", r.1);
    }
    assert_eq!(all_group_ids(&ts).await, vec![gid]);
}

#[tokio::test]
async fn authentication_failures() {
    let ts = start().await;
    let create = serde_json::to_vec(&json!({"name": "x", "type": "Public"})).unwrap();
    let json_ct = Some("application/json");

    let r = raw(&ts, Method::GET, "/api/v1/me", None, None, None).await;
    assert_error(&r.reply(), 401, 70002, "no Authorization");
    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        None,
        json_ct,
        Some(create.clone()),
    )
    .await;
    assert_error(&r.reply(), 401, 70002, "create without Authorization");

    for garbage in [
        "Bearer garbage!!",
        "Bearer eJyrVkrLz1eyUkpKLFKqBQAkLAT5",
        "Basic YWxpY2U6cHc=",
    ] {
        let r = raw(&ts, Method::GET, "/api/v1/me", Some(garbage), None, None).await;
        assert_error(&r.reply(), 401, 70003, garbage);
    }

    let long_ago = now_secs() - 10 * 86_400;
    let expired = ts.key.sign_at("alice", 60, long_ago, None);
    let r = raw(
        &ts,
        Method::GET,
        "/api/v1/me",
        Some(&format!("Bearer {expired}")),
        None,
        None,
    )
    .await;
    assert_error(&r.reply(), 401, 70001, "expired sig");
    let r = raw(
        &ts,
        Method::POST,
        "/api/v1/groups",
        Some(&format!("Bearer {expired}")),
        json_ct,
        Some(create.clone()),
    )
    .await;
    assert_error(&r.reply(), 401, 70001, "create with an expired sig");

    let other_key = SigKey::new(
        APP_ID,
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let sig = other_key.sign("alice", 3600);
    let r = raw(
        &ts,
        Method::GET,
        "/api/v1/me",
        Some(&format!("Bearer {sig}")),
        None,
        None,
    )
    .await;
    assert_error(&r.reply(), 401, 70009, "sig from another key");

    let other_app = SigKey::new(APP_ID + 1, KEY);
    let sig = other_app.sign("alice", 3600);
    let r = raw(
        &ts,
        Method::GET,
        "/api/v1/me",
        Some(&format!("Bearer {sig}")),
        None,
        None,
    )
    .await;
    assert_error(&r.reply(), 401, 70014, "sig with another app id");
    let sig = other_app.sign(ADMIN, 3600);
    let r = raw(
        &ts,
        Method::GET,
        "/api/v1/groups?scope=all",
        Some(&format!("Bearer {sig}")),
        None,
        None,
    )
    .await;
    assert_error(&r.reply(), 401, 70014, "admin sig with another app id");

    // Nothing was created by the refused requests, and a good sig still works.
    assert!(all_group_ids(&ts).await.is_empty());
    let r = ts.get("alice", "/api/v1/me").await;
    assert_ok(&r, 200, "good sig");
}

#[tokio::test]
async fn rate_limit_per_identity() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_for(&dir);
    cfg.rate_per_second = 2;
    cfg.rate_burst = 2;
    let ts = start_with(dir, cfg).await;
    let auth = bearer(&ts, "alice");
    let mut limited = 0;
    for _ in 0..10 {
        let r = raw(&ts, Method::GET, "/api/v1/me", Some(&auth), None, None).await;
        if r.status == 429 {
            limited += 1;
            assert_error(&r.reply(), 429, 10006, "rate limited");
            let retry = r
                .headers
                .get(RETRY_AFTER)
                .expect("Retry-After header on 429")
                .to_str()
                .unwrap();
            let secs: u64 = retry.parse().expect("Retry-After is whole seconds");
            assert!(secs >= 1, "Retry-After {secs}");
        } else {
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    assert!(
        limited >= 1,
        "10 quick requests at 2/s burst 2: none limited"
    );
    let r = ts.get("bob", "/api/v1/me").await;
    assert_ok(&r, 200, "another user is still served");
    assert_eq!(r.1["user_id"], "bob");
}

/// Expired pending requests list as ended; decided ones stay listable with `status=all`.
#[tokio::test]
async fn expired_requests_list_as_ended_and_all_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_for(&dir);
    cfg.limits.request_retention_secs = 1;
    let ts = start_with(dir, cfg).await;
    ts.register(&["owner", "bob", "carol"]).await;
    let g = ts
        .create("owner", json!({"name": "inbox", "type": "Public"}))
        .await;
    let (s, j) = ts.post("bob", &format!("{}/join", gp(&g)), json!({})).await;
    assert_eq!(s, 200, "{j}");
    let accepted = j["request_id"].as_u64().expect("request id");
    let (s, _) = ts
        .post(
            "owner",
            &format!("/api/v1/pendency/{accepted}"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, j) = ts
        .post("carol", &format!("{}/join", gp(&g)), json!({}))
        .await;
    assert_eq!(s, 200, "{j}");
    let stale = j["request_id"].as_u64().expect("request id");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let ids = |v: &serde_json::Value| -> Vec<u64> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["id"].as_u64())
            .collect()
    };
    let (_, pending) = ts.get("owner", "/api/v1/pendency").await;
    assert!(
        ids(&pending).is_empty(),
        "expired requests are not pending: {pending}"
    );
    let (_, ended) = ts.get("owner", "/api/v1/pendency?status=ended").await;
    assert_eq!(ids(&ended), vec![stale], "{ended}");
    assert_eq!(ended["items"][0]["status"], "ended");
    let (_, all) = ts.get("owner", "/api/v1/pendency?status=all").await;
    assert_eq!(ids(&all), vec![accepted, stale], "{all}");
    let (s, j) = ts
        .post(
            "owner",
            &format!("/api/v1/pendency/{stale}"),
            json!({"decision": "accept"}),
        )
        .await;
    assert_eq!((s, j["error"]["code"].as_u64()), (409, Some(10024)), "{j}");
}

/// A group made under a disbanded group's ID does not inherit its join requests.
#[tokio::test]
async fn a_reused_group_id_starts_with_no_requests() {
    let ts = start().await;
    ts.register(&["alice", "bob", "dave"]).await;
    ts.create(
        "alice",
        json!({"name": "first", "type": "Public", "group_id": "team"}),
    )
    .await;
    let (s, _) = ts
        .post(
            "bob",
            "/api/v1/groups/team/join",
            json!({"message": "call me at 555"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = ts
        .call(
            "alice",
            reqwest::Method::DELETE,
            "/api/v1/groups/team",
            None,
        )
        .await;
    assert_eq!(s, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ts.create(
        "dave",
        json!({"name": "second", "type": "Public", "group_id": "team"}),
    )
    .await;
    let (_, all) = ts.get("dave", "/api/v1/pendency?status=all").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(0), "{all}");
    let (_, info) = ts.get("dave", "/api/v1/groups/team").await;
    assert_eq!(info["pending_requests"], 0, "{info}");
    // The applicant still sees its own (ended) request.
    let (_, own) = ts.get("bob", "/api/v1/pendency?status=all").await;
    assert_eq!(own["items"][0]["status"], "ended", "{own}");
}

/// An invitation waiting for approval and the invitee's own application are one request.
#[tokio::test]
async fn one_pending_request_per_applicant() {
    let ts = start().await;
    ts.register(&["owner", "mem", "bob"]).await;
    let g = ts
        .create(
            "owner",
            json!({"name": "p", "type": "Public", "invite_option": "Auth",
                   "members": [{"user_id": "mem"}]}),
        )
        .await;
    let (s, j) = ts
        .post(
            "mem",
            &format!("{}/invite", gp(&g)),
            json!({"user_ids": ["bob"]}),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    assert_eq!(j["results"][0]["result"], "pending", "{j}");
    let (s, j) = ts
        .post(
            "bob",
            &format!("{}/join", gp(&g)),
            json!({"message": "me too"}),
        )
        .await;
    assert_eq!(s, 200, "{j}");
    let (_, list) = ts.get("owner", "/api/v1/pendency").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, info) = ts.get("owner", &gp(&g)).await;
    assert_eq!(info["pending_requests"], 1, "{info}");
}

/// One identity may hold a bounded number of event streams; closing one frees a place.
#[tokio::test]
async fn event_streams_per_identity_are_bounded() {
    let ts = start().await;
    let open = |user: &'static str| {
        let req = ts
            .http
            .get(ts.url("/api/v1/events"))
            .bearer_auth(ts.sig(user));
        async move { req.send().await.expect("request sent") }
    };
    let mut streams = Vec::new();
    for _ in 0..groupdeck::server::events::MAX_STREAMS_PER_USER {
        let r = open("greedy").await;
        assert_eq!(r.status().as_u16(), 200);
        streams.push(r);
    }
    let refused = open("greedy").await;
    assert_eq!(refused.status().as_u16(), 429);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], 10006, "{body}");
    // Someone else is unaffected.
    assert_eq!(open("other").await.status().as_u16(), 200);
    // Closing a stream frees its place (the server notices the disconnect).
    drop(streams.pop());
    let mut ok = false;
    for _ in 0..50 {
        let r = open("greedy").await;
        if r.status().as_u16() == 200 {
            ok = true;
            streams.push(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "a closed stream's place comes back");
}
