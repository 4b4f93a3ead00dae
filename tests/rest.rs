//! The Tencent Cloud Chat REST API under `/v4`, over a real socket, against
//! spec/group-rules.md §8 (envelope, objects, endpoints), §6 (codes), §7
//! (limits), §3 (rules) and §10 (UserSig), and design.md's "Events": a change
//! made on `/v4` emits the same events on `/api/v1/events` as on `/api/v1`.
//!
//! Every reply must be HTTP 200 with `ActionStatus` / `ErrorCode` /
//! `ErrorInfo` in the body; the helpers check that on every call.
//!
//! Absence of events is checked without sleeping, as in tests/events.rs: each
//! watching user creates a one-member "fence" group after the actions under
//! test; once its stream shows the fence it has shown everything before it.

mod common;

use common::sse::{Watchers, assert_each, assert_nothing, sh, shapes};
use common::{ADMIN, APP_ID, KEY, TestServer, config_for};
use groupdeck::usersig::SigKey;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const GROUP_SVC: &str = "group_open_http_svc";
const LOGIN_SVC: &str = "im_open_login_svc";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn random() -> u32 {
    static N: AtomicU32 = AtomicU32::new(7_654_321);
    N.fetch_add(7_919, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// /v4 helpers

/// `service/command`: a bare command name means the group service.
fn full_path(cmd: &str) -> String {
    if cmd.contains('/') {
        cmd.to_string()
    } else {
        format!("{GROUP_SVC}/{cmd}")
    }
}

/// The query string Tencent's server SDKs send, as the app admin.
fn admin_query(ts: &TestServer) -> String {
    query_for(ADMIN, &ts.sig(ADMIN))
}

fn query_for(identifier: &str, usersig: &str) -> String {
    format!(
        "sdkappid={APP_ID}&identifier={identifier}&usersig={usersig}&random={}&contenttype=json",
        random()
    )
}

/// Checks the envelope every `/v4` reply must carry.
#[track_caller]
fn check_envelope(what: &str, status: u16, body: &Value) {
    assert_eq!(
        status, 200,
        "{what}: /v4 always answers HTTP 200; body {body}"
    );
    let st = body["ActionStatus"].as_str();
    assert!(
        st == Some("OK") || st == Some("FAIL"),
        "{what}: ActionStatus is OK or FAIL: {body}"
    );
    assert!(
        body["ErrorCode"].is_u64(),
        "{what}: ErrorCode is a number: {body}"
    );
    assert!(
        body["ErrorInfo"].is_string(),
        "{what}: ErrorInfo is a string: {body}"
    );
    if st == Some("OK") {
        assert_eq!(body["ErrorCode"], 0, "{what}: OK carries code 0: {body}");
        assert_eq!(body["ErrorInfo"], "", "{what}: OK carries no info: {body}");
    } else {
        assert_ne!(body["ErrorCode"], 0, "{what}: FAIL carries a code: {body}");
        assert_ne!(
            body["ErrorInfo"], "",
            "{what}: FAIL explains itself: {body}"
        );
    }
}

/// POSTs `body` (raw text) to `/v4/<path>?<query>`; `json_type` sets the
/// Content-Type header. Returns (HTTP status, parsed body).
async fn raw(
    ts: &TestServer,
    path: &str,
    query: &str,
    body: &str,
    json_type: bool,
) -> (u16, Value) {
    let url = if query.is_empty() {
        ts.url(&format!("/v4/{path}"))
    } else {
        ts.url(&format!("/v4/{path}?{query}"))
    };
    let mut req = ts.http.post(url).body(body.to_string());
    if json_type {
        req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body read");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({"unparsable reply": text}));
    (status, json)
}

/// Calls a command as the app admin; checks the envelope; returns the reply.
async fn v4(ts: &TestServer, cmd: &str, body: Value) -> Value {
    let path = full_path(cmd);
    let (status, reply) = raw(ts, &path, &admin_query(ts), &body.to_string(), true).await;
    check_envelope(&format!("{path} {body}"), status, &reply);
    reply
}

/// A call that must succeed.
async fn ok4(ts: &TestServer, cmd: &str, body: Value) -> Value {
    let reply = v4(ts, cmd, body.clone()).await;
    assert_eq!(
        reply["ActionStatus"], "OK",
        "{cmd} {body} must succeed: {reply}"
    );
    reply
}

/// A call that must fail with `code`.
async fn fail4(ts: &TestServer, cmd: &str, body: Value, code: u64) -> Value {
    let reply = v4(ts, cmd, body.clone()).await;
    assert_eq!(
        (reply["ActionStatus"].as_str(), reply["ErrorCode"].as_u64()),
        (Some("FAIL"), Some(code)),
        "{cmd} {body} must fail with {code}: {reply}"
    );
    reply
}

/// A call that must fail with one of `codes` (where the spec only says "error").
async fn fail4_any(ts: &TestServer, cmd: &str, body: Value, codes: &[u64]) -> Value {
    let reply = v4(ts, cmd, body.clone()).await;
    assert_eq!(
        reply["ActionStatus"], "FAIL",
        "{cmd} {body} must fail: {reply}"
    );
    let code = reply["ErrorCode"].as_u64().unwrap_or(0);
    assert!(
        codes.contains(&code),
        "{cmd} {body} must fail with one of {codes:?}, got {reply}"
    );
    reply
}

async fn import(ts: &TestServer, users: &[&str]) {
    for chunk in users.chunks(100) {
        let reply = ok4(
            ts,
            &format!("{LOGIN_SVC}/multiaccount_import"),
            json!({ "Accounts": chunk }),
        )
        .await;
        assert_eq!(
            reply["FailAccounts"],
            json!([]),
            "importing {chunk:?}: {reply}"
        );
    }
}

/// Creates a group on /v4 and returns its ID.
async fn create(ts: &TestServer, body: Value) -> String {
    let reply = ok4(ts, "create_group", body).await;
    reply["GroupId"].as_str().expect("GroupId").to_string()
}

fn members_json(users: &[&str]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| json!({ "Member_Account": u }))
            .collect(),
    )
}

/// `user` joins `gid` on /api/v1, which must succeed.
async fn join_v1(ts: &TestServer, user: &str, gid: &str) {
    let (status, body) = ts
        .post(
            user,
            &format!("/api/v1/groups/{}/join", TestServer::enc(gid)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The group object of one ID (`get_group_info`), per-item code 0.
async fn info(ts: &TestServer, gid: &str) -> Value {
    let reply = ok4(ts, "get_group_info", json!({ "GroupIdList": [gid] })).await;
    let item = reply["GroupInfo"][0].clone();
    assert_eq!(item["ErrorCode"], 0, "group info of {gid}: {reply}");
    item
}

/// `get_role_in_group` for users → their roles, in order.
async fn roles(ts: &TestServer, gid: &str, users: &[&str]) -> Vec<String> {
    let reply = ok4(
        ts,
        "get_role_in_group",
        json!({"GroupId": gid, "User_Account": users}),
    )
    .await;
    let list = reply["UserIdList"].as_array().expect("UserIdList").clone();
    assert_eq!(list.len(), users.len(), "{reply}");
    list.iter()
        .zip(users)
        .map(|(e, u)| {
            assert_eq!(e["Member_Account"], *u, "order of UserIdList: {reply}");
            e["Role"].as_str().expect("Role").to_string()
        })
        .collect()
}

fn group_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| e["GroupId"].as_str().expect("GroupId").to_string())
        .collect()
}

fn accounts(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("MemberList")
        .iter()
        .map(|e| {
            e["Member_Account"]
                .as_str()
                .expect("Member_Account")
                .to_string()
        })
        .collect()
}

fn keys(obj: &Value) -> BTreeSet<String> {
    obj.as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A numbered user ID for batch tests (need not exist).
fn uid(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

// ---------------------------------------------------------------------------
// Envelope, auth, routing

#[tokio::test]
async fn envelope_auth_and_routing() {
    let ts = TestServer::start().await;
    ts.register(&["alice"]).await;
    let list = full_path("get_appid_group_list");
    let sig = ts.sig(ADMIN);

    // (what, path, query, body, json content type, expected code)
    let now = unix_now();
    let expired = ts.key.sign_at(ADMIN, 60, now - 3_600, None);
    let foreign = SigKey::new(APP_ID, "another-app-key-0123456789abcdef").sign(ADMIN, 3_600);
    let other_app = SigKey::new(APP_ID + 1, KEY).sign(ADMIN, 3_600);
    let alice_sig = ts.sig("alice");
    let cases: Vec<(&str, String, String, String, bool, u64)> = vec![
        (
            "identifier not an app admin",
            list.clone(),
            query_for("alice", &alice_sig),
            "{}".into(),
            true,
            60010,
        ),
        (
            "sdkappid missing",
            list.clone(),
            format!("identifier={ADMIN}&usersig={sig}&random=1&contenttype=json"),
            "{}".into(),
            true,
            60012,
        ),
        (
            "wrong sdkappid",
            list.clone(),
            format!(
                "sdkappid={}&identifier={ADMIN}&usersig={sig}&random=1&contenttype=json",
                APP_ID + 1
            ),
            "{}".into(),
            true,
            60006,
        ),
        (
            "sdkappid not a number",
            list.clone(),
            format!("sdkappid=abc&identifier={ADMIN}&usersig={sig}&random=1&contenttype=json"),
            "{}".into(),
            true,
            60006,
        ),
        (
            "group command on the login service",
            format!("{LOGIN_SVC}/create_group"),
            admin_query(&ts),
            "{}".into(),
            true,
            10003,
        ),
        (
            "malformed UserSig",
            list.clone(),
            query_for(ADMIN, "not-a-usersig"),
            "{}".into(),
            true,
            70003,
        ),
        (
            "truncated UserSig",
            list.clone(),
            query_for(ADMIN, &sig[..sig.len() / 2]),
            "{}".into(),
            true,
            70003,
        ),
        (
            "empty UserSig",
            list.clone(),
            query_for(ADMIN, ""),
            "{}".into(),
            true,
            70002,
        ),
        (
            "expired UserSig",
            list.clone(),
            query_for(ADMIN, &expired),
            "{}".into(),
            true,
            70001,
        ),
        (
            "UserSig signed with another key",
            list.clone(),
            query_for(ADMIN, &foreign),
            "{}".into(),
            true,
            70009,
        ),
        (
            "UserSig of another app",
            list.clone(),
            query_for(ADMIN, &other_app),
            "{}".into(),
            true,
            70014,
        ),
        (
            "UserSig of another identifier",
            list.clone(),
            query_for(ADMIN, &alice_sig),
            "{}".into(),
            true,
            70013,
        ),
        (
            "unknown group command",
            format!("{GROUP_SVC}/no_such_command"),
            admin_query(&ts),
            "{}".into(),
            true,
            10003,
        ),
        (
            "unknown login command",
            format!("{LOGIN_SVC}/no_such_command"),
            admin_query(&ts),
            "{}".into(),
            true,
            10003,
        ),
        (
            "unknown service",
            "x/y".into(),
            admin_query(&ts),
            "{}".into(),
            true,
            60009,
        ),
        (
            "one-segment path",
            "foo".into(),
            admin_query(&ts),
            "{}".into(),
            true,
            60009,
        ),
        (
            "three-segment path",
            format!("{GROUP_SVC}/get_group_info/extra"),
            admin_query(&ts),
            "{}".into(),
            true,
            60009,
        ),
        (
            "unparsable JSON, group service",
            list.clone(),
            admin_query(&ts),
            "{\"Limit\": 1,".into(),
            true,
            10011,
        ),
        (
            "unparsable JSON, login service",
            format!("{LOGIN_SVC}/account_import"),
            admin_query(&ts),
            "{\"UserID\": ".into(),
            true,
            60003,
        ),
        (
            "wrong field type",
            list.clone(),
            admin_query(&ts),
            "{\"Limit\": \"ten\"}".into(),
            true,
            10004,
        ),
    ];
    for (what, path, query, body, json_type, code) in cases {
        let (status, reply) = raw(&ts, &path, &query, &body, json_type).await;
        check_envelope(what, status, &reply);
        assert_eq!(
            (reply["ActionStatus"].as_str(), reply["ErrorCode"].as_u64()),
            (Some("FAIL"), Some(code)),
            "{what}: POST /v4/{path}?{query} {body} → {reply}"
        );
    }

    // Refused without a specific code in the spec.
    for (what, path, body) in [
        ("empty body, group service", list.clone(), ""),
        ("blank body", list.clone(), "  \n"),
        ("JSON array body", list.clone(), "[]"),
        ("JSON string body", list.clone(), "\"x\""),
        (
            "empty body, login service",
            full_path(&format!("{LOGIN_SVC}/account_import")),
            "",
        ),
        (
            "JSON array body, login service",
            full_path(&format!("{LOGIN_SVC}/account_import")),
            "[{\"UserID\": \"x\"}]",
        ),
    ] {
        let (status, reply) = raw(&ts, &path, &admin_query(&ts), body, true).await;
        check_envelope(what, status, &reply);
        assert_eq!(reply["ActionStatus"], "FAIL", "{what}: {reply}");
    }

    // UserSig clock skew: up to 5 minutes ahead is accepted (§10.2 choice), an hour is not.
    let ahead = ts.key.sign_at(ADMIN, 86_400, unix_now() + 120, None);
    let (status, reply) = raw(&ts, &list, &query_for(ADMIN, &ahead), "{}", true).await;
    check_envelope("UserSig 2 minutes ahead", status, &reply);
    assert_eq!(reply["ActionStatus"], "OK", "2 minutes of skew: {reply}");
    let far = ts.key.sign_at(ADMIN, 86_400, unix_now() + 3_600, None);
    let (status, reply) = raw(&ts, &list, &query_for(ADMIN, &far), "{}", true).await;
    check_envelope("UserSig an hour ahead", status, &reply);
    assert_eq!(reply["ActionStatus"], "FAIL", "an hour of skew: {reply}");

    // A percent-encoded query (Python's urlencode turns `*` into %2A) is decoded.
    let encoded = common::percent_encoded(&sig);
    let (status, reply) = raw(
        &ts,
        &list,
        &format!(
            "sdkappid={APP_ID}&identifier={ADMIN}&usersig={encoded}&random=99&contenttype=json"
        ),
        "{}",
        true,
    )
    .await;
    check_envelope("percent-encoded UserSig", status, &reply);
    assert_eq!(
        reply["ActionStatus"], "OK",
        "percent-encoded UserSig: {reply}"
    );

    // No identifier at all.
    let (status, reply) = raw(
        &ts,
        &list,
        &format!("sdkappid={APP_ID}&usersig={sig}&random=1&contenttype=json"),
        "{}",
        true,
    )
    .await;
    check_envelope("identifier missing", status, &reply);
    assert_eq!(reply["ActionStatus"], "FAIL", "identifier missing: {reply}");

    // POST only, but still the envelope with HTTP 200.
    let resp = ts
        .http
        .get(ts.url(&format!("/v4/{list}?{}", admin_query(&ts))))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let reply: Value = resp.json().await.unwrap_or(Value::Null);
    check_envelope("GET on /v4", status, &reply);
    assert_eq!(reply["ActionStatus"], "FAIL", "GET on /v4: {reply}");

    // Also an unknown path without any query still answers the envelope.
    let (status, reply) = raw(&ts, "foo", "", "{}", true).await;
    check_envelope("bare /v4/foo", status, &reply);
    assert_eq!(reply["ErrorCode"], 60009, "{reply}");

    // Unknown keys are ignored.
    ok4(
        &ts,
        "get_appid_group_list",
        json!({"Limit": 10, "NotAField": [1, 2], "Next": 0}),
    )
    .await;
    ok4(
        &ts,
        &format!("{LOGIN_SVC}/account_import"),
        json!({"UserID": "extra_keys", "Whatever": {"a": 1}}),
    )
    .await;

    // A body sent without a Content-Type header is accepted (scripts do that).
    let (status, reply) = raw(
        &ts,
        &format!("{LOGIN_SVC}/account_import"),
        &admin_query(&ts),
        "{\"UserID\": \"no_ctype\"}",
        false,
    )
    .await;
    check_envelope("no content type", status, &reply);
    assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    let (status, reply) = raw(&ts, &list, &admin_query(&ts), "{\"Limit\": 5}", false).await;
    check_envelope("no content type, group service", status, &reply);
    assert_eq!(reply["ActionStatus"], "OK", "{reply}");
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "ctype", "Owner_Account": "no_ctype"}),
    )
    .await;
    assert_eq!(roles(&ts, &g, &["no_ctype"]).await, ["Owner"]);
}

#[tokio::test]
async fn per_command_rate_limit_answers_60007() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_for(&dir);
    cfg.rest_rate_per_command = 2;
    let ts = TestServer::start_with(dir, cfg).await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let reply = v4(&ts, "get_appid_group_list", json!({})).await;
        codes.push(reply["ErrorCode"].as_u64().unwrap_or(u64::MAX));
    }
    assert!(codes.contains(&0), "some calls pass: {codes:?}");
    assert!(codes.contains(&60007), "some calls are limited: {codes:?}");
    assert!(
        codes.iter().all(|c| *c == 0 || *c == 60007),
        "only OK or 60007: {codes:?}"
    );
    // The limit is per command: another command still passes.
    ok4(
        &ts,
        &format!("{LOGIN_SVC}/account_import"),
        json!({"UserID": "rate"}),
    )
    .await;
}

// ---------------------------------------------------------------------------
// Accounts

#[tokio::test]
async fn account_import_and_signed_in_users() {
    let ts = TestServer::start().await;
    let imp = format!("{LOGIN_SVC}/account_import");
    ok4(
        &ts,
        &imp,
        json!({"UserID": "leckie", "Nick": "Leckie", "FaceUrl": "http://x/y.png"}),
    )
    .await;
    // Legacy key.
    ok4(&ts, &imp, json!({"Identifier": "legacy"})).await;
    // Importing again is fine.
    ok4(&ts, &imp, json!({"UserID": "leckie"})).await;
    // Invalid IDs are refused.
    let long = "u".repeat(33);
    for bad in ["", long.as_str(), "tab\there"] {
        let reply = v4(&ts, &imp, json!({ "UserID": bad })).await;
        assert_eq!(reply["ActionStatus"], "FAIL", "UserID {bad:?}: {reply}");
    }
    let reply = v4(&ts, &imp, json!({})).await;
    assert_eq!(reply["ActionStatus"], "FAIL", "no UserID: {reply}");

    // Imported accounts may own and join groups.
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "imp", "Owner_Account": "leckie",
               "MemberList": [{"Member_Account": "legacy"}]}),
    )
    .await;
    assert_eq!(
        roles(&ts, &g, &["leckie", "legacy"]).await,
        ["Owner", "Member"]
    );

    // A user who signed in on /api/v1 exists without account_import.
    ts.register(&["signed_in"]).await;
    let g2 = create(
        &ts,
        json!({"Type": "Private", "Name": "si", "Owner_Account": "signed_in"}),
    )
    .await;
    assert_eq!(roles(&ts, &g2, &["signed_in"]).await, ["Owner"]);
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "MemberList": members_json(&["signed_in"])}),
    )
    .await;
    assert_eq!(reply["MemberList"][0]["Result"], 1, "{reply}");

    // A user who neither signed in nor was imported does not exist.
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "x", "Owner_Account": "ghost"}),
        10019,
    )
    .await;
}

#[tokio::test]
async fn multiaccount_import_reports_failures_and_caps_the_batch() {
    let ts = TestServer::start().await;
    let cmd = format!("{LOGIN_SVC}/multiaccount_import");
    let long = "v".repeat(33);
    let reply = ok4(
        &ts,
        &cmd,
        json!({"Accounts": ["ma1", "", "ma2", long, "bad\u{7f}id", "ma3"]}),
    )
    .await;
    let failed: BTreeSet<String> = reply["FailAccounts"]
        .as_array()
        .expect("FailAccounts")
        .iter()
        .map(|v| v.as_str().expect("an id").to_string())
        .collect();
    assert_eq!(
        failed,
        set(&["", long.as_str(), "bad\u{7f}id"]),
        "the invalid IDs fail: {reply}"
    );
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "ma", "Owner_Account": "ma1",
               "MemberList": members_json(&["ma2", "ma3"])}),
    )
    .await;
    assert_eq!(info(&ts, &g).await["MemberNum"], 3);

    let hundred: Vec<String> = (0..100).map(|i| uid("h", i)).collect();
    let reply = ok4(&ts, &cmd, json!({ "Accounts": hundred })).await;
    assert_eq!(reply["FailAccounts"], json!([]), "{reply}");
    let many: Vec<String> = (0..101).map(|i| uid("m", i)).collect();
    fail4(&ts, &cmd, json!({ "Accounts": many }), 70206).await;
}

// ---------------------------------------------------------------------------
// create_group

#[tokio::test]
async fn create_group_every_type_and_both_spellings() {
    let ts = TestServer::start().await;
    import(&ts, &["own"]).await;
    let cases = [
        ("Private", "Private", "DisableApply"),
        ("Work", "Private", "DisableApply"),
        ("Public", "Public", "NeedPermission"),
        ("ChatRoom", "ChatRoom", "FreeAccess"),
        ("Meeting", "ChatRoom", "FreeAccess"),
        ("AVChatRoom", "AVChatRoom", "FreeAccess"),
        ("Community", "Community", "FreeAccess"),
    ];
    let mut seen = BTreeSet::new();
    for (input, legacy, apply) in cases {
        let reply = ok4(
            &ts,
            "create_group",
            json!({"Type": input, "Name": format!("t-{input}"), "Owner_Account": "own"}),
        )
        .await;
        let gid = reply["GroupId"].as_str().expect("GroupId").to_string();
        assert_eq!(reply["Type"], legacy, "create {input}: reply {reply}");
        let prefix = if input == "Community" {
            "@TGS#_"
        } else {
            "@TGS#"
        };
        assert!(gid.starts_with(prefix), "assigned ID {gid} for {input}");
        assert!(seen.insert(gid.clone()), "IDs are unique: {gid}");
        let g = info(&ts, &gid).await;
        assert_eq!(g["Type"], legacy, "get_group_info of a {input} group");
        assert_eq!(g["Name"], format!("t-{input}"));
        assert_eq!(g["Owner_Account"], "own");
        assert_eq!(
            g["ApplyJoinOption"], apply,
            "default join option of {input}"
        );
    }
    for bad in ["BChatRoom", "private", "", "Group"] {
        fail4(
            &ts,
            "create_group",
            json!({"Type": bad, "Name": "x", "Owner_Account": "own"}),
            10004,
        )
        .await;
    }
    fail4(
        &ts,
        "create_group",
        json!({"Name": "x", "Owner_Account": "own"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Owner_Account": "own"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "", "Owner_Account": "own"}),
        10004,
    )
    .await;
    // AVChatRoom takes no invite option (§8.3).
    fail4_any(
        &ts,
        "create_group",
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "own",
               "InviteJoinOption": "FreeAccess"}),
        &[10004, 10007],
    )
    .await;
    // Optional member keys of the documented request are accepted.
    import(&ts, &["mk"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "keys", "Owner_Account": "own",
               "AppDefinedData": [{"Key": "k", "Value": "v"}],
               "MemberList": [{"Member_Account": "mk", "JoinTime": 1_600_000_000u64,
                               "UnreadMsgNum": 3,
                               "AppMemberDefinedData": [{"Key": "mk", "Value": "mv"}]}]}),
    )
    .await;
    assert_eq!(info(&ts, &g).await["MemberNum"], 2);
    // A join option given in REST names is kept.
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "free", "Owner_Account": "own",
               "ApplyJoinOption": "FreeAccess", "InviteJoinOption": "NeedPermission"}),
    )
    .await;
    let i = info(&ts, &g).await;
    assert_eq!(i["ApplyJoinOption"], "FreeAccess");
    assert_eq!(i["InviteJoinOption"], "NeedPermission");
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "x", "ApplyJoinOption": "Sometimes"}),
        10004,
    )
    .await;
}

#[tokio::test]
async fn create_group_owner_members_and_roles() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "bob", "peter", "m1"]).await;

    // The spec's sample.
    let g = create(
        &ts,
        json!({"Owner_Account": "o", "Type": "Public", "Name": "TestGroup",
               "ApplyJoinOption": "NeedPermission",
               "MemberList": [{"Member_Account": "bob", "Role": "Admin"},
                              {"Member_Account": "peter"}]}),
    )
    .await;
    assert_eq!(
        roles(&ts, &g, &["o", "bob", "peter", "m1"]).await,
        ["Owner", "Admin", "Member", "NotMember"]
    );
    assert_eq!(info(&ts, &g).await["MemberNum"], 3);

    // No Owner_Account: an ownerless group holding only the listed members.
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "nobody's",
               "MemberList": members_json(&["bob", "peter"])}),
    )
    .await;
    let i = info(&ts, &g).await;
    assert_eq!(i["Owner_Account"], "", "ownerless: {i}");
    assert_eq!(i["MemberNum"], 2, "{i}");
    assert_eq!(
        roles(&ts, &g, &["bob", "peter", ADMIN]).await,
        ["Member", "Member", "NotMember"]
    );
    let g = create(&ts, json!({"Type": "Private", "Name": "empty"})).await;
    let i = info(&ts, &g).await;
    assert_eq!(
        (i["Owner_Account"].clone(), i["MemberNum"].clone()),
        (json!(""), json!(0))
    );
    assert_eq!(i["MemberList"], json!([]), "{i}");

    // Unknown owner or member: 10019.
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "x", "Owner_Account": "ghost"}),
        10019,
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "x", "Owner_Account": "o",
               "MemberList": members_json(&["bob", "ghost"])}),
        10019,
    )
    .await;
    // AVChatRoom with a member list: 10007; and no group was left behind.
    let before = ok4(&ts, "get_appid_group_list", json!({})).await["TotalCount"].clone();
    fail4(
        &ts,
        "create_group",
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o",
               "MemberList": members_json(&["bob"])}),
        10007,
    )
    .await;
    let after = ok4(&ts, "get_appid_group_list", json!({})).await["TotalCount"].clone();
    assert_eq!(before, after, "a refused create leaves nothing");
    // Work groups take no admins; nobody is made Owner by the member list.
    fail4_any(
        &ts,
        "create_group",
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "bob", "Role": "Admin"}]}),
        &[10004, 10007],
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "w", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "bob", "Role": "Owner"}]}),
        10004,
    )
    .await;
    // At most 100 initial members.
    let users: Vec<String> = (0..101).map(|i| uid("init", i)).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    import(&ts, &refs).await;
    fail4_any(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "big", "Owner_Account": "o",
               "MemberList": members_json(&refs)}),
        &[10004, 10005],
    )
    .await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "big", "Owner_Account": "o",
               "MemberList": members_json(&refs[..100])}),
    )
    .await;
    assert_eq!(info(&ts, &g).await["MemberNum"], 101);
}

#[tokio::test]
async fn create_group_custom_ids() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "p"]).await;
    let reply = ok4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "mine", "GroupId": "my_group-1", "Owner_Account": "o"}),
    )
    .await;
    assert_eq!(reply["GroupId"], "my_group-1", "{reply}");
    assert_eq!(reply["Type"], "Public", "{reply}");
    assert_eq!(info(&ts, "my_group-1").await["Name"], "mine");

    // Reuse: 10025 when it is already the caller's (same owner), 10021 otherwise.
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "again", "GroupId": "my_group-1", "Owner_Account": "o"}),
        10025,
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "again", "GroupId": "my_group-1", "Owner_Account": "p"}),
        10021,
    )
    .await;
    // An ownerless group made by the app admin is "already yours" for the admin.
    create(
        &ts,
        json!({"Type": "Private", "Name": "adm", "GroupId": "admins_own"}),
    )
    .await;
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Private", "Name": "adm", "GroupId": "admins_own", "Owner_Account": "p"}),
        10021,
    )
    .await;

    // Reserved prefix, Community prefix, length, characters: 10015.
    let max48 = "g".repeat(48);
    let long49 = "g".repeat(49);
    for (ty, id) in [
        ("Public", "@TGS#abc"),
        ("Private", "@TGS#_abc"),
        ("Community", "community_without_prefix"),
        ("Public", long49.as_str()),
        ("Public", "caf\u{e9}"),
        ("Public", "tab\tid"),
    ] {
        fail4(
            &ts,
            "create_group",
            json!({"Type": ty, "Name": "bad id", "GroupId": id, "Owner_Account": "o"}),
            10015,
        )
        .await;
    }
    create(
        &ts,
        json!({"Type": "Public", "Name": "48", "GroupId": max48, "Owner_Account": "o"}),
    )
    .await;
    let reply = ok4(
        &ts,
        "create_group",
        json!({"Type": "Community", "Name": "c", "GroupId": "@TGS#_my_community", "Owner_Account": "o"}),
    )
    .await;
    assert_eq!(reply["GroupId"], "@TGS#_my_community");
    assert_eq!(reply["Type"], "Community");
    let with_space = create(
        &ts,
        json!({"Type": "Public", "Name": "sp", "GroupId": "has space ~!", "Owner_Account": "o"}),
    )
    .await;
    assert_eq!(with_space, "has space ~!");
    assert_eq!(info(&ts, "has space ~!").await["Name"], "sp");

    // A disbanded ID may be reused (spec §1.5 choice).
    ok4(&ts, "destroy_group", json!({"GroupId": "my_group-1"})).await;
    let reply = ok4(
        &ts,
        "create_group",
        json!({"Type": "Private", "Name": "reborn", "GroupId": "my_group-1", "Owner_Account": "p"}),
    )
    .await;
    assert_eq!(reply["Type"], "Private");
    let i = info(&ts, "my_group-1").await;
    assert_eq!(
        (i["Name"].clone(), i["Owner_Account"].clone()),
        (json!("reborn"), json!("p"))
    );
}

#[tokio::test]
async fn create_group_max_member_count() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "b", "c"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "small", "Owner_Account": "o", "MaxMemberCount": 3}),
    )
    .await;
    assert_eq!(info(&ts, &g).await["MaxMemberNum"], 3);
    // Defaults per type (§1.3): the edition caps.
    for (ty, cap) in [
        ("Private", 200),
        ("Public", 2_000),
        ("ChatRoom", 6_000),
        ("Community", 100_000),
    ] {
        let g = create(&ts, json!({"Type": ty, "Name": "d", "Owner_Account": "o"})).await;
        assert_eq!(
            info(&ts, &g).await["MaxMemberNum"],
            cap,
            "default cap of {ty}"
        );
    }
    // Over the group's own cap at creation: 10014.
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "full", "Owner_Account": "o", "MaxMemberCount": 3,
               "MemberList": members_json(&["a", "b", "c"])}),
        10014,
    )
    .await;
    // Over the edition ceiling: 10038.
    fail4(
        &ts,
        "create_group",
        json!({"Type": "Public", "Name": "huge", "Owner_Account": "o", "MaxMemberCount": 7_000}),
        10038,
    )
    .await;
    // `MaxMemberNum` is not the create_group key (the asymmetry is real): ignored.
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "asym", "Owner_Account": "o", "MaxMemberNum": 5}),
    )
    .await;
    assert_eq!(info(&ts, &g).await["MaxMemberNum"], 2_000);
}

// ---------------------------------------------------------------------------
// get_appid_group_list

async fn walk_app_groups(ts: &TestServer, limit: u64, extra: Value) -> (Vec<String>, Vec<u64>) {
    let mut next = 0u64;
    let mut all = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..50 {
        let mut body = json!({"Limit": limit, "Next": next});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let reply = ok4(ts, "get_appid_group_list", body).await;
        let page = group_ids(&reply["GroupIdList"]);
        assert!(
            page.len() as u64 <= limit,
            "a page holds at most Limit: {reply}"
        );
        totals.push(reply["TotalCount"].as_u64().expect("TotalCount"));
        all.extend(page);
        next = reply["Next"].as_u64().expect("Next is a number");
        if next == 0 {
            return (all, totals);
        }
    }
    panic!("paging never reached Next == 0");
}

#[tokio::test]
async fn appid_group_list_pages_and_filters() {
    let ts = TestServer::start().await;
    import(&ts, &["o"]).await;
    let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (ty, n) in [
        ("Public", 3),
        ("Private", 2),
        ("ChatRoom", 1),
        ("AVChatRoom", 1),
        ("Community", 1),
    ] {
        for i in 0..n {
            let g = create(
                &ts,
                json!({"Type": ty, "Name": format!("{ty}{i}"), "Owner_Account": "o"}),
            )
            .await;
            by_type.entry(ty).or_default().push(g);
        }
    }
    let everything: BTreeSet<String> = by_type.values().flatten().cloned().collect();
    assert_eq!(everything.len(), 8);

    // Without paging: everything at once, Next 0.
    let reply = ok4(&ts, "get_appid_group_list", json!({})).await;
    assert_eq!(reply["TotalCount"], 8, "{reply}");
    assert_eq!(reply["Next"], 0, "{reply}");
    let ids = group_ids(&reply["GroupIdList"]);
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), everything);

    // Walking with Limit/Next visits every group once.
    for limit in [1, 3, 4, 8, 9] {
        let (ids, totals) = walk_app_groups(&ts, limit, json!({})).await;
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "no duplicates with Limit {limit}: {ids:?}"
        );
        assert_eq!(unique, everything, "every group with Limit {limit}");
        assert!(totals.iter().all(|t| *t == 8), "TotalCount {totals:?}");
    }

    // Type filter, either spelling, and the `Type` alias.
    for (filter, key, ty) in [
        ("Private", "GroupType", "Private"),
        ("Work", "GroupType", "Private"),
        ("ChatRoom", "GroupType", "ChatRoom"),
        ("Meeting", "GroupType", "ChatRoom"),
        ("Public", "GroupType", "Public"),
        ("Public", "Type", "Public"),
        ("Work", "Type", "Private"),
        ("AVChatRoom", "GroupType", "AVChatRoom"),
        ("Community", "GroupType", "Community"),
    ] {
        let want: BTreeSet<String> = by_type[ty].iter().cloned().collect();
        let reply = ok4(&ts, "get_appid_group_list", json!({ key: filter })).await;
        assert_eq!(
            reply["TotalCount"],
            want.len(),
            "TotalCount with {key}={filter}: {reply}"
        );
        let got: BTreeSet<String> = group_ids(&reply["GroupIdList"]).into_iter().collect();
        assert_eq!(got, want, "{key}={filter}");
        let (ids, totals) = walk_app_groups(&ts, 1, json!({ key: filter })).await;
        assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), want);
        assert_eq!(ids.len(), want.len(), "no duplicates: {ids:?}");
        assert!(totals.iter().all(|t| *t == want.len() as u64), "{totals:?}");
    }
    // An empty filter means none.
    let reply = ok4(&ts, "get_appid_group_list", json!({"GroupType": ""})).await;
    assert_eq!(reply["TotalCount"], 8, "{reply}");
    assert_eq!(group_ids(&reply["GroupIdList"]).len(), 8);
    fail4(
        &ts,
        "get_appid_group_list",
        json!({"GroupType": "Nope"}),
        10004,
    )
    .await;
    let reply = v4(&ts, "get_appid_group_list", json!({"Limit": 10_001})).await;
    assert_eq!(reply["ActionStatus"], "FAIL", "Limit over 10000: {reply}");

    // A disbanded group leaves the list.
    let gone = by_type["Public"][0].clone();
    ok4(&ts, "destroy_group", json!({"GroupId": gone})).await;
    let reply = ok4(&ts, "get_appid_group_list", json!({})).await;
    assert_eq!(reply["TotalCount"], 7, "{reply}");
    assert!(!group_ids(&reply["GroupIdList"]).contains(&gone));
}

// ---------------------------------------------------------------------------
// get_group_info

const GROUP_FIELDS: &[&str] = &[
    "GroupId",
    "Type",
    "Name",
    "Appid",
    "Introduction",
    "Notification",
    "FaceUrl",
    "Owner_Account",
    "CreateTime",
    "InfoSeq",
    "LastInfoTime",
    "LastMsgTime",
    "NextMsgSeq",
    "MemberNum",
    "MaxMemberNum",
    "ApplyJoinOption",
    "InviteJoinOption",
    "ShutUpAllMember",
    "MuteAllMember",
    "AppDefinedData",
    "MemberList",
];

const MEMBER_FIELDS: &[&str] = &[
    "Member_Account",
    "Role",
    "JoinTime",
    "MsgSeq",
    "MsgFlag",
    "LastSendMsgTime",
    "ShutUpUntil",
    "MuteUntil",
    "NameCard",
    "AppMemberDefinedData",
];

#[tokio::test]
async fn group_info_objects_errors_and_filters() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "adm", "mem"]).await;
    let t0 = unix_now();
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "Info", "Owner_Account": "o",
               "Introduction": "intro", "Notification": "notice",
               "FaceUrl": "http://x/f.png", "MaxMemberCount": 50,
               "MemberList": [{"Member_Account": "adm", "Role": "Admin"},
                              {"Member_Account": "mem"}]}),
    )
    .await;
    let i = info(&ts, &g).await;
    for f in GROUP_FIELDS {
        assert!(i.get(*f).is_some(), "group object has {f}: {i}");
    }
    assert_eq!(i["GroupId"], g);
    assert_eq!(i["Type"], "Public");
    assert_eq!(i["Name"], "Info");
    assert_eq!(i["Appid"], APP_ID);
    assert_eq!(i["Introduction"], "intro");
    assert_eq!(i["Notification"], "notice");
    assert_eq!(i["FaceUrl"], "http://x/f.png");
    assert_eq!(i["Owner_Account"], "o");
    let created = i["CreateTime"].as_u64().expect("CreateTime");
    assert!(
        created + 5 >= t0 && created <= unix_now() + 5,
        "CreateTime {created} is in Unix seconds around {t0}"
    );
    assert!(i["InfoSeq"].is_u64() && i["LastInfoTime"].is_u64(), "{i}");
    assert!(i["LastMsgTime"].is_u64() && i["NextMsgSeq"].is_u64(), "{i}");
    assert_eq!(i["MemberNum"], 3);
    assert_eq!(i["MaxMemberNum"], 50);
    assert_eq!(i["ApplyJoinOption"], "NeedPermission");
    assert_eq!(i["InviteJoinOption"], "DisableInvite");
    assert_eq!(i["ShutUpAllMember"], "Off");
    assert_eq!(i["MuteAllMember"], "Off");
    assert!(i["AppDefinedData"].is_array(), "{i}");
    let members = i["MemberList"].as_array().expect("MemberList").clone();
    assert_eq!(
        accounts(&i["MemberList"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        set(&["o", "adm", "mem"])
    );
    for m in &members {
        for f in MEMBER_FIELDS {
            assert!(m.get(*f).is_some(), "member object has {f}: {m}");
        }
        let want = match m["Member_Account"].as_str() {
            Some("o") => "Owner",
            Some("adm") => "Admin",
            _ => "Member",
        };
        assert_eq!(m["Role"], want, "{m}");
        assert_eq!(m["ShutUpUntil"], 0, "{m}");
        assert_eq!(m["MuteUntil"], 0, "{m}");
        assert_eq!(m["MsgFlag"], "AcceptAndNotify", "{m}");
        assert!(m["JoinTime"].as_u64().unwrap_or(0) + 5 >= t0, "{m}");
    }

    // InfoSeq bumps on a profile change.
    let seq = i["InfoSeq"].as_u64().expect("InfoSeq");
    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "Introduction": "new intro"}),
    )
    .await;
    let i2 = info(&ts, &g).await;
    assert!(
        i2["InfoSeq"].as_u64().expect("InfoSeq") > seq,
        "InfoSeq bumps: {seq} → {}",
        i2["InfoSeq"]
    );

    // Legacy spellings of the other types.
    let w = create(
        &ts,
        json!({"Type": "Work", "Name": "w", "Owner_Account": "o"}),
    )
    .await;
    let m = create(
        &ts,
        json!({"Type": "Meeting", "Name": "m", "Owner_Account": "o"}),
    )
    .await;
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "av", "Owner_Account": "o"}),
    )
    .await;
    // Per-item errors: the top level is OK.
    let reply = ok4(
        &ts,
        "get_group_info",
        json!({"GroupIdList": [w, "@TGS#1NOSUCHID", m, "no_such_custom", av]}),
    )
    .await;
    let items = reply["GroupInfo"].as_array().expect("GroupInfo").clone();
    assert_eq!(items.len(), 5, "{reply}");
    assert_eq!(
        group_ids(&reply["GroupInfo"]),
        [
            w.as_str(),
            "@TGS#1NOSUCHID",
            m.as_str(),
            "no_such_custom",
            av.as_str()
        ],
        "order kept"
    );
    assert_eq!(
        (items[0]["ErrorCode"].clone(), items[0]["Type"].clone()),
        (json!(0), json!("Private"))
    );
    assert_eq!(items[1]["ErrorCode"], 10010, "{}", items[1]);
    assert_eq!(
        (items[2]["ErrorCode"].clone(), items[2]["Type"].clone()),
        (json!(0), json!("ChatRoom"))
    );
    assert_eq!(items[3]["ErrorCode"], 10010, "{}", items[3]);
    assert!(
        items[1]["ErrorInfo"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "a failed item explains itself: {}",
        items[1]
    );
    // AVChatRoom: profile only, no member list.
    assert_eq!(items[4]["ErrorCode"], 0);
    assert_eq!(items[4]["Type"], "AVChatRoom");
    assert!(
        items[4].get("MemberList").is_none(),
        "AVChatRoom has no MemberList: {}",
        items[4]
    );

    // At most 50 IDs.
    let fifty: Vec<String> = (0..50).map(|i| format!("missing{i}")).collect();
    let reply = ok4(&ts, "get_group_info", json!({ "GroupIdList": fifty })).await;
    assert_eq!(reply["GroupInfo"].as_array().map(Vec::len), Some(50));
    let fifty_one: Vec<String> = (0..51).map(|i| format!("missing{i}")).collect();
    fail4_any(
        &ts,
        "get_group_info",
        json!({ "GroupIdList": fifty_one }),
        &[10004, 10005],
    )
    .await;

    // GroupBaseInfoFilter limits the base fields and drops the members.
    let reply = ok4(
        &ts,
        "get_group_info",
        json!({"GroupIdList": [g],
               "ResponseFilter": {"GroupBaseInfoFilter": ["Name", "Type", "MuteAllMember"]}}),
    )
    .await;
    let item = &reply["GroupInfo"][0];
    assert_eq!(item["Name"], "Info");
    assert_eq!(item["Type"], "Public");
    assert_eq!(item["MuteAllMember"], "Off");
    assert_eq!(item["ShutUpAllMember"], "Off", "both spellings: {item}");
    let allowed = set(&[
        "GroupId",
        "ErrorCode",
        "ErrorInfo",
        "Name",
        "Type",
        "MuteAllMember",
        "ShutUpAllMember",
    ]);
    assert!(
        keys(item).is_subset(&allowed),
        "only the asked fields: {item}"
    );
    // MemberInfoFilter limits the member fields.
    let reply = ok4(
        &ts,
        "get_group_info",
        json!({"GroupIdList": [g],
               "ResponseFilter": {"GroupBaseInfoFilter": ["Name"],
                                  "MemberInfoFilter": ["Role"]}}),
    )
    .await;
    let item = &reply["GroupInfo"][0];
    assert_eq!(item["Name"], "Info");
    assert!(item.get("Introduction").is_none(), "{item}");
    let list = item["MemberList"]
        .as_array()
        .expect("MemberList with a member filter");
    assert_eq!(list.len(), 3);
    for m in list {
        assert_eq!(keys(m), set(&["Member_Account", "Role"]), "{m}");
    }
    let reply = ok4(
        &ts,
        "get_group_info",
        json!({"GroupIdList": [g],
               "ResponseFilter": {"GroupBaseInfoFilter": ["Name"],
                                  "MemberInfoFilter": ["MuteUntil", "NameCard"]}}),
    )
    .await;
    for m in reply["GroupInfo"][0]["MemberList"]
        .as_array()
        .expect("MemberList")
    {
        assert!(
            m.get("MuteUntil").is_some() && m.get("ShutUpUntil").is_some(),
            "mute time in both spellings: {m}"
        );
        assert!(m.get("Role").is_none(), "{m}");
    }
}

// ---------------------------------------------------------------------------
// get_group_member_info

#[tokio::test]
async fn group_member_info_paging_and_filters() {
    let ts = TestServer::start().await;
    let others: Vec<String> = (0..9).map(|i| uid("mem", i)).collect();
    let mut users: Vec<&str> = vec!["o"];
    users.extend(others.iter().map(String::as_str));
    import(&ts, &users).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "paged", "Owner_Account": "o",
               "MemberList": [
                   {"Member_Account": others[0], "Role": "Admin"},
                   {"Member_Account": others[1], "Role": "Admin"},
                   {"Member_Account": others[2]}, {"Member_Account": others[3]},
                   {"Member_Account": others[4]}, {"Member_Account": others[5]},
                   {"Member_Account": others[6]}, {"Member_Account": others[7]},
                   {"Member_Account": others[8]}]}),
    )
    .await;
    let everyone: BTreeSet<String> = users.iter().map(|s| s.to_string()).collect();

    // Everything by default.
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": g})).await;
    assert_eq!(reply["MemberNum"], 10, "{reply}");
    assert_eq!(
        accounts(&reply["MemberList"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        everyone
    );
    for m in reply["MemberList"].as_array().expect("MemberList") {
        for f in MEMBER_FIELDS {
            assert!(m.get(*f).is_some(), "member object has {f}: {m}");
        }
    }

    // Limit / Offset pages.
    let mut seen = Vec::new();
    for (offset, want) in [(0, 4), (4, 4), (8, 2), (12, 0)] {
        let reply = ok4(
            &ts,
            "get_group_member_info",
            json!({"GroupId": g, "Limit": 4, "Offset": offset}),
        )
        .await;
        assert_eq!(
            reply["MemberNum"], 10,
            "MemberNum is the whole group: {reply}"
        );
        let page = accounts(&reply["MemberList"]);
        assert_eq!(page.len(), want, "page at offset {offset}: {reply}");
        seen.extend(page);
    }
    assert_eq!(seen.len(), 10, "no duplicates across pages: {seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), everyone);

    // Limit ceiling.
    ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "Limit": 6_000}),
    )
    .await;
    fail4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "Limit": 6_001}),
        10004,
    )
    .await;

    // Role filter.
    let reply = ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberRoleFilter": ["Admin"]}),
    )
    .await;
    let admins: BTreeSet<String> = accounts(&reply["MemberList"]).into_iter().collect();
    assert_eq!(
        admins,
        set(&[others[0].as_str(), others[1].as_str()]),
        "{reply}"
    );
    let reply = ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberRoleFilter": ["Owner", "Admin"]}),
    )
    .await;
    assert_eq!(accounts(&reply["MemberList"]).len(), 3, "{reply}");
    for m in reply["MemberList"].as_array().expect("MemberList") {
        assert!(m["Role"] == "Owner" || m["Role"] == "Admin", "{m}");
    }
    let reply = ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberRoleFilter": ["Member"]}),
    )
    .await;
    assert_eq!(accounts(&reply["MemberList"]).len(), 7, "{reply}");
    fail4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberRoleFilter": ["Boss"]}),
        10004,
    )
    .await;

    // Member field filter.
    let reply = ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberInfoFilter": ["Role", "JoinTime"]}),
    )
    .await;
    for m in reply["MemberList"].as_array().expect("MemberList") {
        assert_eq!(keys(m), set(&["Member_Account", "Role", "JoinTime"]), "{m}");
    }

    // AVChatRoom keeps no member list; unknown groups are 10010.
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    fail4(&ts, "get_group_member_info", json!({"GroupId": av}), 10007).await;
    fail4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": "@TGS#1NOSUCH00"}),
        10010,
    )
    .await;
}

#[tokio::test]
async fn community_members_page_with_next() {
    let ts = TestServer::start().await;
    let others: Vec<String> = (0..24).map(|i| uid("cm", i)).collect();
    let mut users: Vec<&str> = vec!["owner"];
    users.extend(others.iter().map(String::as_str));
    import(&ts, &users).await;
    let c = create(
        &ts,
        json!({"Type": "Community", "Name": "c", "Owner_Account": "owner",
               "MemberList": members_json(&users[1..])}),
    )
    .await;
    let everyone: BTreeSet<String> = users.iter().map(|s| s.to_string()).collect();
    for limit in [10u64, 5, 25, 100] {
        let mut next = String::new();
        let mut seen = Vec::new();
        let mut done = false;
        for _ in 0..30 {
            let reply = ok4(
                &ts,
                "get_group_member_info",
                json!({"GroupId": c, "Limit": limit, "Next": next}),
            )
            .await;
            assert_eq!(reply["MemberNum"], 25, "{reply}");
            let page = accounts(&reply["MemberList"]);
            assert!(page.len() as u64 <= limit, "{reply}");
            seen.extend(page);
            next = reply["Next"]
                .as_str()
                .expect("a Community reply carries Next")
                .to_string();
            if next.is_empty() {
                done = true;
                break;
            }
        }
        assert!(done, "Next paging ends with an empty Next (Limit {limit})");
        assert_eq!(seen.len(), 25, "no duplicates with Limit {limit}: {seen:?}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), everyone);
    }
}

// ---------------------------------------------------------------------------
// modify_group_base_info

#[tokio::test]
async fn modify_group_base_info_fields_options_and_limits() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "b"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "before", "Owner_Account": "o",
               "MemberList": members_json(&["a", "b"])}),
    )
    .await;
    let m = "modify_group_base_info";
    ok4(
        &ts,
        m,
        json!({"GroupId": g, "Name": "after", "Introduction": "i", "Notification": "n",
               "FaceUrl": "http://f"}),
    )
    .await;
    let i = info(&ts, &g).await;
    assert_eq!(
        (
            i["Name"].clone(),
            i["Introduction"].clone(),
            i["Notification"].clone(),
            i["FaceUrl"].clone()
        ),
        (json!("after"), json!("i"), json!("n"), json!("http://f"))
    );

    // Join and invite options in REST names.
    for opt in ["FreeAccess", "DisableApply", "NeedPermission"] {
        ok4(&ts, m, json!({"GroupId": g, "ApplyJoinOption": opt})).await;
        assert_eq!(info(&ts, &g).await["ApplyJoinOption"], opt);
    }
    for opt in ["FreeAccess", "NeedPermission", "DisableInvite"] {
        ok4(&ts, m, json!({"GroupId": g, "InviteJoinOption": opt})).await;
        assert_eq!(info(&ts, &g).await["InviteJoinOption"], opt);
    }
    fail4(
        &ts,
        m,
        json!({"GroupId": g, "ApplyJoinOption": "Maybe"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        m,
        json!({"GroupId": g, "InviteJoinOption": "Maybe"}),
        10004,
    )
    .await;

    // MaxMemberNum: not below the member count; not over the ceiling.
    ok4(&ts, m, json!({"GroupId": g, "MaxMemberNum": 3})).await;
    assert_eq!(info(&ts, &g).await["MaxMemberNum"], 3);
    let reply = v4(&ts, m, json!({"GroupId": g, "MaxMemberNum": 2})).await;
    assert_eq!(
        reply["ActionStatus"], "FAIL",
        "below the member count: {reply}"
    );
    assert_eq!(info(&ts, &g).await["MaxMemberNum"], 3);
    fail4(&ts, m, json!({"GroupId": g, "MaxMemberNum": 7_000}), 10038).await;
    ok4(&ts, m, json!({"GroupId": g, "MaxMemberNum": 6_000})).await;
    assert_eq!(info(&ts, &g).await["MaxMemberNum"], 6_000);

    // Mute all, either spelling, read back in both.
    ok4(&ts, m, json!({"GroupId": g, "ShutUpAllMember": "On"})).await;
    let i = info(&ts, &g).await;
    assert_eq!(
        (i["ShutUpAllMember"].clone(), i["MuteAllMember"].clone()),
        (json!("On"), json!("On"))
    );
    ok4(&ts, m, json!({"GroupId": g, "MuteAllMember": "Off"})).await;
    let i = info(&ts, &g).await;
    assert_eq!(
        (i["ShutUpAllMember"].clone(), i["MuteAllMember"].clone()),
        (json!("Off"), json!("Off"))
    );
    ok4(&ts, m, json!({"GroupId": g, "MuteAllMember": "On"})).await;
    assert_eq!(info(&ts, &g).await["ShutUpAllMember"], "On");
    fail4(
        &ts,
        m,
        json!({"GroupId": g, "ShutUpAllMember": "Yes"}),
        10004,
    )
    .await;

    // Byte limits (a CJK character is 3 bytes): 10004 and nothing changes.
    let cjk10 = "群".repeat(10);
    ok4(&ts, m, json!({"GroupId": g, "Name": cjk10})).await;
    assert_eq!(info(&ts, &g).await["Name"], cjk10);
    let over: Vec<(&str, String)> = vec![
        ("Name", "群".repeat(11)),
        ("Name", "n".repeat(31)),
        ("Name", String::new()),
        ("Introduction", "i".repeat(241)),
        ("Notification", "n".repeat(301)),
        ("Notification", "公".repeat(101)),
        ("FaceUrl", "f".repeat(101)),
    ];
    for (field, value) in over {
        fail4(&ts, m, json!({"GroupId": g, field: value}), 10004).await;
    }
    let at_limit: Vec<(&str, String)> = vec![
        ("Introduction", "i".repeat(240)),
        ("Notification", "公".repeat(100)),
        ("FaceUrl", "f".repeat(100)),
        ("Name", "n".repeat(30)),
    ];
    for (field, value) in at_limit {
        ok4(&ts, m, json!({"GroupId": g, field: value.clone()})).await;
        assert_eq!(info(&ts, &g).await[field], value, "{field} at its limit");
    }

    fail4(
        &ts,
        m,
        json!({"GroupId": "@TGS#1NOSUCH00", "Name": "x"}),
        10010,
    )
    .await;

    // AVChatRoom: no invite option, no member cap; its profile is editable.
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    fail4_any(
        &ts,
        m,
        json!({"GroupId": av, "InviteJoinOption": "FreeAccess"}),
        &[10004, 10007],
    )
    .await;
    let reply = v4(&ts, m, json!({"GroupId": av, "MaxMemberNum": 100})).await;
    assert_eq!(
        reply["ActionStatus"], "FAIL",
        "AVChatRoom MaxMemberNum: {reply}"
    );
    ok4(
        &ts,
        m,
        json!({"GroupId": av, "Name": "live 2", "ShutUpAllMember": "On"}),
    )
    .await;
    let i = info(&ts, &av).await;
    assert_eq!(
        (i["Name"].clone(), i["MuteAllMember"].clone()),
        (json!("live 2"), json!("On"))
    );
}

// ---------------------------------------------------------------------------
// add_group_member / delete_group_member

#[tokio::test]
async fn add_group_member_results_and_limits() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "b", "c", "d"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "add", "Owner_Account": "o"}),
    )
    .await;
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "MemberList": members_json(&["a", "o", "ghost"])}),
    )
    .await;
    let results: BTreeMap<String, u64> = reply["MemberList"]
        .as_array()
        .expect("MemberList")
        .iter()
        .map(|e| {
            (
                e["Member_Account"]
                    .as_str()
                    .expect("Member_Account")
                    .to_string(),
                e["Result"].as_u64().expect("Result"),
            )
        })
        .collect();
    assert_eq!(
        results,
        BTreeMap::from([
            ("a".to_string(), 1),
            ("o".to_string(), 2),
            ("ghost".to_string(), 0)
        ]),
        "{reply}"
    );
    assert_eq!(info(&ts, &g).await["MemberNum"], 2);
    assert_eq!(
        roles(&ts, &g, &["a", "ghost"]).await,
        ["Member", "NotMember"]
    );

    // Silence: 1 still adds.
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "Silence": 1, "MemberList": members_json(&["b"])}),
    )
    .await;
    assert_eq!(
        reply["MemberList"],
        json!([{"Member_Account": "b", "Result": 1}])
    );
    assert_eq!(roles(&ts, &g, &["b"]).await, ["Member"]);

    // At most 300 per call.
    let many: Vec<String> = (0..301).map(|i| uid("x", i)).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    fail4_any(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "MemberList": members_json(&refs)}),
        &[10004, 10005],
    )
    .await;
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "MemberList": members_json(&refs[..300])}),
    )
    .await;
    assert_eq!(reply["MemberList"].as_array().map(Vec::len), Some(300));
    assert!(
        reply["MemberList"]
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["Result"] == 0),
        "unimported accounts fail: {reply}"
    );

    // The group's cap: a batch may partly succeed; a lone add over the cap is 10014.
    let small = create(
        &ts,
        json!({"Type": "Public", "Name": "small", "Owner_Account": "o", "MaxMemberCount": 2}),
    )
    .await;
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": small, "MemberList": members_json(&["c", "d"])}),
    )
    .await;
    assert_eq!(
        reply["MemberList"],
        json!([{"Member_Account": "c", "Result": 1}, {"Member_Account": "d", "Result": 0}]),
        "{reply}"
    );
    fail4(
        &ts,
        "add_group_member",
        json!({"GroupId": small, "MemberList": members_json(&["d"])}),
        10014,
    )
    .await;

    // AVChatRoom: 10007. Unknown group: 10010.
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    fail4(
        &ts,
        "add_group_member",
        json!({"GroupId": av, "MemberList": members_json(&["a"])}),
        10007,
    )
    .await;
    fail4(
        &ts,
        "add_group_member",
        json!({"GroupId": "@TGS#1NOSUCH00", "MemberList": members_json(&["a"])}),
        10010,
    )
    .await;
    // Work groups too (any type but AVChatRoom), bypassing options.
    let w = create(
        &ts,
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o"}),
    )
    .await;
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": w, "MemberList": members_json(&["a"])}),
    )
    .await;
    assert_eq!(reply["MemberList"][0]["Result"], 1);
}

#[tokio::test]
async fn delete_group_member_and_its_limits() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "b", "c"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "del", "Owner_Account": "o",
               "MemberList": members_json(&["a", "b", "c"])}),
    )
    .await;
    ok4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "MemberToDel_Account": ["a"], "Reason": "spam"}),
    )
    .await;
    ok4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "Silence": 1, "MemberToDel_Account": ["b"]}),
    )
    .await;
    assert_eq!(
        roles(&ts, &g, &["o", "a", "b", "c"]).await,
        ["Owner", "NotMember", "NotMember", "Member"]
    );
    assert_eq!(info(&ts, &g).await["MemberNum"], 2);

    let many: Vec<String> = (0..101).map(|i| uid("y", i)).collect();
    fail4_any(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "MemberToDel_Account": many}),
        &[10004, 10005],
    )
    .await;
    assert_eq!(info(&ts, &g).await["MemberNum"], 2);
    fail4(
        &ts,
        "delete_group_member",
        json!({"GroupId": "@TGS#1NOSUCH00", "MemberToDel_Account": ["c"]}),
        10010,
    )
    .await;
    // AVChatRoom: nobody is removed (§1.2); a member who joined on /api/v1.
    ts.register(&["viewer"]).await;
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    join_v1(&ts, "viewer", &av).await;
    fail4(
        &ts,
        "delete_group_member",
        json!({"GroupId": av, "MemberToDel_Account": ["viewer"]}),
        10007,
    )
    .await;
}

// ---------------------------------------------------------------------------
// modify_group_member_info

#[tokio::test]
async fn modify_group_member_info_roles_cards_and_mutes() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "m", "out"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "mm", "Owner_Account": "o",
               "MemberList": members_json(&["a", "m"])}),
    )
    .await;
    let cmd = "modify_group_member_info";
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "Role": "Admin"}),
    )
    .await;
    assert_eq!(roles(&ts, &g, &["a"]).await, ["Admin"]);
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "Role": "Member"}),
    )
    .await;
    assert_eq!(roles(&ts, &g, &["a"]).await, ["Member"]);
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "Role": "Owner"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "o", "Role": "Owner"}),
        10004,
    )
    .await;
    assert_eq!(roles(&ts, &g, &["o", "a"]).await, ["Owner", "Member"]);

    // Name card: at most 50 bytes.
    let card = "名".repeat(16); // 48 bytes
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "NameCard": card}),
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "NameCard": "名".repeat(17)}),
        10004,
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "NameCard": "c".repeat(51)}),
        10004,
    )
    .await;
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "NameCard": "c".repeat(50), "MsgFlag": "Discard"}),
    )
    .await;

    // Mutes: ShutUpTime / MuteTime in, ShutUpUntil / MuteUntil out.
    let t0 = unix_now();
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "ShutUpTime": 600}),
    )
    .await;
    let member = |reply: &Value, who: &str| -> Value {
        reply["MemberList"]
            .as_array()
            .expect("MemberList")
            .iter()
            .find(|e| e["Member_Account"] == who)
            .cloned()
            .unwrap_or_else(|| panic!("{who} in {reply}"))
    };
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": g})).await;
    let mm = member(&reply, "m");
    let until = mm["ShutUpUntil"].as_u64().expect("ShutUpUntil");
    assert!(
        until >= t0 + 595 && until <= unix_now() + 605,
        "ShutUpUntil ≈ now + 600: {mm}"
    );
    assert_eq!(mm["MuteUntil"], mm["ShutUpUntil"], "{mm}");
    assert_eq!(mm["NameCard"], card);
    let ma = member(&reply, "a");
    assert_eq!(ma["NameCard"], "c".repeat(50));
    assert_eq!(ma["MsgFlag"], "Discard");
    assert_eq!(ma["ShutUpUntil"], 0);
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "MuteTime": 60}),
    )
    .await;
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "MuteTime": 0}),
    )
    .await;
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": g})).await;
    let (mm, ma) = (member(&reply, "m"), member(&reply, "a"));
    assert_eq!(
        (mm["ShutUpUntil"].clone(), mm["MuteUntil"].clone()),
        (json!(0), json!(0)),
        "unmuted: {mm}"
    );
    let until = ma["MuteUntil"].as_u64().expect("MuteUntil");
    assert!(until >= t0 + 55 && until <= unix_now() + 65, "{ma}");
    assert_eq!(ma["ShutUpUntil"], ma["MuteUntil"]);
    ok4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "m", "ShutUpTime": 4_294_967_295u64}),
    )
    .await;
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": g})).await;
    assert_eq!(
        member(&reply, "m")["ShutUpUntil"],
        4_294_967_295u64,
        "permanent mute"
    );
    // get_group_info shows the same.
    let i = info(&ts, &g).await;
    assert_eq!(member(&i, "m")["MuteUntil"], 4_294_967_295u64);

    // Not a member; bad values; unknown group.
    let reply = v4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "out", "NameCard": "x"}),
    )
    .await;
    assert_eq!(reply["ActionStatus"], "FAIL", "not a member: {reply}");
    let reply = v4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "out", "Role": "Admin"}),
    )
    .await;
    assert_eq!(reply["ActionStatus"], "FAIL", "not a member: {reply}");
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "Role": "Boss"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": g, "Member_Account": "a", "MsgFlag": "Loud"}),
        10004,
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": "@TGS#1NOSUCH00", "Member_Account": "a", "Role": "Admin"}),
        10010,
    )
    .await;

    // Work groups have no admins: 10007.
    let w = create(
        &ts,
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o",
               "MemberList": members_json(&["a"])}),
    )
    .await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": w, "Member_Account": "a", "Role": "Admin"}),
        10007,
    )
    .await;
    assert_eq!(roles(&ts, &w, &["a"]).await, ["Member"]);
    // AVChatRoom keeps no member profiles and has no admins: 10007.
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    ts.register(&["viewer"]).await;
    join_v1(&ts, "viewer", &av).await;
    for change in [json!({"Role": "Admin"}), json!({"NameCard": "card"})] {
        let mut body = json!({"GroupId": av, "Member_Account": "viewer"});
        if let (Some(b), Some(c)) = (body.as_object_mut(), change.as_object()) {
            b.extend(c.clone());
        }
        fail4(&ts, cmd, body, 10007).await;
    }
}

#[tokio::test]
async fn work_groups_refuse_mutes() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a"]).await;
    let cmd = "modify_group_member_info";
    let w = create(
        &ts,
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o",
               "MemberList": members_json(&["a"])}),
    )
    .await;
    // Work groups do not support muting (§1.2, §3): 10007, nothing changes.
    for key in ["ShutUpTime", "MuteTime"] {
        fail4(
            &ts,
            cmd,
            json!({"GroupId": w, "Member_Account": "a", key: 600}),
            10007,
        )
        .await;
    }
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": w})).await;
    for e in reply["MemberList"].as_array().expect("MemberList") {
        assert_eq!(e["ShutUpUntil"], 0, "Work members stay unmuted: {e}");
    }
}

// ---------------------------------------------------------------------------
// destroy_group

#[tokio::test]
async fn destroy_group_every_type_then_10010() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a"]).await;
    for ty in ["Private", "Public", "ChatRoom", "AVChatRoom", "Community"] {
        let members = if ty == "AVChatRoom" {
            json!([])
        } else {
            members_json(&["a"])
        };
        let g = create(
            &ts,
            json!({"Type": ty, "Name": "doomed", "Owner_Account": "o", "MemberList": members}),
        )
        .await;
        ok4(&ts, "destroy_group", json!({"GroupId": g})).await;
        let reply = ok4(&ts, "get_group_info", json!({"GroupIdList": [g]})).await;
        assert_eq!(reply["GroupInfo"][0]["ErrorCode"], 10010, "{ty}: {reply}");
        fail4(&ts, "destroy_group", json!({"GroupId": g}), 10010).await;
        fail4(&ts, "get_group_member_info", json!({"GroupId": g}), 10010).await;
        fail4(
            &ts,
            "get_role_in_group",
            json!({"GroupId": g, "User_Account": ["o"]}),
            10010,
        )
        .await;
        fail4(
            &ts,
            "add_group_member",
            json!({"GroupId": g, "MemberList": members_json(&["a"])}),
            10010,
        )
        .await;
        fail4(
            &ts,
            "modify_group_base_info",
            json!({"GroupId": g, "Name": "x"}),
            10010,
        )
        .await;
        fail4(
            &ts,
            "change_group_owner",
            json!({"GroupId": g, "NewOwner_Account": "a"}),
            10010,
        )
        .await;
        let joined = ok4(
            &ts,
            "get_joined_group_list",
            json!({"Member_Account": "o", "WithHugeGroups": 1, "WithNoActiveGroups": 1}),
        )
        .await;
        assert!(
            !group_ids(&joined["GroupIdList"]).contains(&g),
            "{ty}: a disbanded group leaves joined lists: {joined}"
        );
    }
    fail4(
        &ts,
        "destroy_group",
        json!({"GroupId": "@TGS#1NOSUCH00"}),
        10010,
    )
    .await;
}

// ---------------------------------------------------------------------------
// get_joined_group_list

#[tokio::test]
async fn joined_group_list_filters_paging_and_fields() {
    let ts = TestServer::start().await;
    import(&ts, &["u", "o", "x"]).await;
    let public = create(
        &ts,
        json!({"Type": "Public", "Name": "pub", "Owner_Account": "o",
               "MemberList": members_json(&["u"])}),
    )
    .await;
    let meeting = create(
        &ts,
        json!({"Type": "Meeting", "Name": "meet", "Owner_Account": "u"}),
    )
    .await;
    let community = create(
        &ts,
        json!({"Type": "Community", "Name": "com", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "u", "Role": "Admin"}]}),
    )
    .await;
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "av", "Owner_Account": "u"}),
    )
    .await;
    let lonely_work = create(
        &ts,
        json!({"Type": "Private", "Name": "alone", "Owner_Account": "u"}),
    )
    .await;
    let work = create(
        &ts,
        json!({"Type": "Work", "Name": "work", "Owner_Account": "o",
               "MemberList": members_json(&["u"])}),
    )
    .await;
    let cmd = "get_joined_group_list";
    let list = |reply: &Value| -> BTreeSet<String> {
        group_ids(&reply["GroupIdList"]).into_iter().collect()
    };
    let base: BTreeSet<String> = [&public, &meeting, &community, &work]
        .into_iter()
        .cloned()
        .collect();

    let reply = ok4(&ts, cmd, json!({"Member_Account": "u"})).await;
    assert_eq!(
        list(&reply),
        base,
        "default: no AVChatRoom, no inactive Work: {reply}"
    );
    assert_eq!(reply["TotalCount"], 4);
    let reply = ok4(
        &ts,
        cmd,
        json!({"Member_Account": "u", "WithHugeGroups": 1}),
    )
    .await;
    let mut want = base.clone();
    want.insert(av.clone());
    assert_eq!(list(&reply), want, "WithHugeGroups: {reply}");
    assert_eq!(reply["TotalCount"], 5);
    let reply = ok4(
        &ts,
        cmd,
        json!({"Member_Account": "u", "WithNoActiveGroups": 1}),
    )
    .await;
    let mut want = base.clone();
    want.insert(lonely_work.clone());
    assert_eq!(list(&reply), want, "WithNoActiveGroups: {reply}");
    assert_eq!(reply["TotalCount"], 5);
    let reply = ok4(
        &ts,
        cmd,
        json!({"Member_Account": "u", "WithNoActiveGroups": 1, "WithHugeGroups": 1}),
    )
    .await;
    assert_eq!(reply["TotalCount"], 6, "{reply}");
    let reply = ok4(
        &ts,
        cmd,
        json!({"Member_Account": "u", "WithHugeGroups": 0}),
    )
    .await;
    assert_eq!(reply["TotalCount"], 4, "WithHugeGroups 0: {reply}");

    // Limit/Offset pages; TotalCount ignores them.
    let mut seen = Vec::new();
    for (offset, want) in [(0, 2), (2, 2), (4, 0)] {
        let reply = ok4(
            &ts,
            cmd,
            json!({"Member_Account": "u", "Limit": 2, "Offset": offset}),
        )
        .await;
        assert_eq!(
            reply["TotalCount"], 4,
            "TotalCount ignores Limit/Offset: {reply}"
        );
        let page = group_ids(&reply["GroupIdList"]);
        assert_eq!(page.len(), want, "offset {offset}: {reply}");
        seen.extend(page);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), base);
    let reply = v4(&ts, cmd, json!({"Member_Account": "u", "Limit": 5_001})).await;
    assert_eq!(reply["ActionStatus"], "FAIL", "Limit over 5000: {reply}");

    // GroupType filter, either spelling.
    for (ty, want) in [
        ("Public", vec![&public]),
        ("Private", vec![&work]),
        ("Work", vec![&work]),
        ("ChatRoom", vec![&meeting]),
        ("Meeting", vec![&meeting]),
        ("Community", vec![&community]),
        ("", vec![&public, &meeting, &community, &work]),
    ] {
        let reply = ok4(&ts, cmd, json!({"Member_Account": "u", "GroupType": ty})).await;
        let want: BTreeSet<String> = want.into_iter().cloned().collect();
        assert_eq!(list(&reply), want, "GroupType {ty:?}: {reply}");
        assert_eq!(reply["TotalCount"], want.len(), "GroupType {ty:?}: {reply}");
    }

    // ResponseFilter: the asked base fields (Type in the legacy spelling) and SelfInfo.
    let reply = ok4(
        &ts,
        cmd,
        json!({"Member_Account": "u", "Limit": 10, "Offset": 0,
               "ResponseFilter": {"GroupBaseInfoFilter": ["Type", "Name"],
                                  "SelfInfoFilter": ["Role", "JoinTime"]}}),
    )
    .await;
    let items = reply["GroupIdList"].as_array().expect("GroupIdList");
    assert_eq!(items.len(), 4);
    for it in items {
        let gid = it["GroupId"].as_str().expect("GroupId");
        let (ty, name, role) = if gid == public {
            ("Public", "pub", "Member")
        } else if gid == meeting {
            ("ChatRoom", "meet", "Owner")
        } else if gid == community {
            ("Community", "com", "Admin")
        } else {
            ("Private", "work", "Member")
        };
        assert_eq!(it["Type"], ty, "{it}");
        assert_eq!(it["Name"], name, "{it}");
        assert_eq!(it["SelfInfo"]["Role"], role, "{it}");
        assert!(it["SelfInfo"]["JoinTime"].is_u64(), "{it}");
        assert!(
            it.get("Introduction").is_none(),
            "only the asked fields: {it}"
        );
        assert!(
            keys(it).is_subset(&set(&["GroupId", "Type", "Name", "SelfInfo"])),
            "{it}"
        );
    }

    // Any member change activates a Work group.
    ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": lonely_work, "MemberList": members_json(&["x"])}),
    )
    .await;
    let reply = ok4(&ts, cmd, json!({"Member_Account": "u"})).await;
    assert!(list(&reply).contains(&lonely_work), "activated: {reply}");
    assert_eq!(reply["TotalCount"], 5);

    // A user in no group; a user who does not exist.
    let reply = ok4(&ts, cmd, json!({"Member_Account": "nobody_here"})).await;
    assert_eq!(reply["TotalCount"], 0, "{reply}");
    assert_eq!(reply["GroupIdList"], json!([]));
}

// ---------------------------------------------------------------------------
// get_role_in_group / change_group_owner

#[tokio::test]
async fn role_in_group_and_its_limit() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "m", "n"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "r", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "a", "Role": "Admin"}, {"Member_Account": "m"}]}),
    )
    .await;
    assert_eq!(
        roles(&ts, &g, &["m", "o", "n", "a", "never_imported"]).await,
        ["Member", "Owner", "NotMember", "Admin", "NotMember"]
    );
    let five_hundred: Vec<String> = (0..500).map(|i| uid("r", i)).collect();
    let reply = ok4(
        &ts,
        "get_role_in_group",
        json!({"GroupId": g, "User_Account": five_hundred}),
    )
    .await;
    assert_eq!(reply["UserIdList"].as_array().map(Vec::len), Some(500));
    let too_many: Vec<String> = (0..501).map(|i| uid("r", i)).collect();
    fail4_any(
        &ts,
        "get_role_in_group",
        json!({"GroupId": g, "User_Account": too_many}),
        &[10004, 10005],
    )
    .await;
    fail4(
        &ts,
        "get_role_in_group",
        json!({"GroupId": "@TGS#1NOSUCH00", "User_Account": ["o"]}),
        10010,
    )
    .await;
}

#[tokio::test]
async fn change_group_owner_rules() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a", "m", "n"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "own", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "a", "Role": "Admin"}, {"Member_Account": "m"}]}),
    )
    .await;
    let cmd = "change_group_owner";
    // The new owner must be a member.
    let reply = v4(&ts, cmd, json!({"GroupId": g, "NewOwner_Account": "n"})).await;
    assert_eq!(reply["ActionStatus"], "FAIL", "non-member: {reply}");
    let reply = v4(&ts, cmd, json!({"GroupId": g, "NewOwner_Account": "ghost"})).await;
    assert_eq!(reply["ActionStatus"], "FAIL", "unknown user: {reply}");
    assert_eq!(info(&ts, &g).await["Owner_Account"], "o");

    ok4(&ts, cmd, json!({"GroupId": g, "NewOwner_Account": "m"})).await;
    assert_eq!(
        roles(&ts, &g, &["o", "a", "m"]).await,
        ["Member", "Admin", "Owner"],
        "the old owner becomes an ordinary member"
    );
    assert_eq!(info(&ts, &g).await["Owner_Account"], "m");
    ok4(&ts, cmd, json!({"GroupId": g, "NewOwner_Account": "a"})).await;
    assert_eq!(roles(&ts, &g, &["m", "a"]).await, ["Member", "Owner"]);

    // An ownerless group gets an owner.
    let ownerless = create(
        &ts,
        json!({"Type": "Public", "Name": "none", "MemberList": members_json(&["a", "m"])}),
    )
    .await;
    assert_eq!(info(&ts, &ownerless).await["Owner_Account"], "");
    ok4(
        &ts,
        cmd,
        json!({"GroupId": ownerless, "NewOwner_Account": "m"}),
    )
    .await;
    assert_eq!(info(&ts, &ownerless).await["Owner_Account"], "m");
    assert_eq!(
        roles(&ts, &ownerless, &["a", "m"]).await,
        ["Member", "Owner"]
    );

    // Work groups transfer too.
    let w = create(
        &ts,
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o", "MemberList": members_json(&["m"])}),
    )
    .await;
    ok4(&ts, cmd, json!({"GroupId": w, "NewOwner_Account": "m"})).await;
    assert_eq!(roles(&ts, &w, &["o", "m"]).await, ["Member", "Owner"]);

    // AVChatRoom: 10007, even to a member who joined.
    ts.register(&["viewer"]).await;
    let av = create(
        &ts,
        json!({"Type": "AVChatRoom", "Name": "live", "Owner_Account": "o"}),
    )
    .await;
    join_v1(&ts, "viewer", &av).await;
    fail4(
        &ts,
        cmd,
        json!({"GroupId": av, "NewOwner_Account": "viewer"}),
        10007,
    )
    .await;
    assert_eq!(info(&ts, &av).await["Owner_Account"], "o");
    fail4(
        &ts,
        cmd,
        json!({"GroupId": "@TGS#1NOSUCH00", "NewOwner_Account": "m"}),
        10010,
    )
    .await;
}

// ---------------------------------------------------------------------------
// Events (read with common::sse)

/// Signs `users` in and opens their event streams at the current head.
async fn watch(ts: &TestServer, users: &[&str]) -> Watchers {
    ts.register(users).await;
    Watchers::open_unchecked(ts, users).await
}

#[tokio::test]
async fn events_of_create_add_and_silent_add() {
    let ts = TestServer::start().await;
    let mut w = watch(&ts, &["o", "a", "b", "n", "q", "s"]).await;

    // create_group with members: group_created to every member.
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "ev", "Owner_Account": "o",
               "MemberList": [{"Member_Account": "a", "Role": "Admin"}, {"Member_Account": "b"}]}),
    )
    .await;
    let got = w.settle(&ts).await;
    for u in ["o", "a", "b"] {
        assert_eq!(
            shapes(&got[u]).len(),
            1,
            "create: {u} got {:?}",
            shapes(&got[u])
        );
        assert_eq!(got[u][0].kind, "group_created", "{u}");
        assert_eq!(got[u][0].group(), g, "{u}");
        let mut t = got[u][0].targets();
        t.sort();
        assert_eq!(t, ["a", "b", "o"], "create targets every member");
    }
    assert_nothing(&got, &["n", "q", "s"], "create");

    // add_group_member: member_joined via invite to all members incl. the new one.
    let reply = ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "MemberList": members_json(&["n"])}),
    )
    .await;
    assert_eq!(reply["MemberList"][0]["Result"], 1);
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "b", "n"],
        &[sh("member_joined", &g, &["n"])],
        "add_group_member",
    );
    for u in ["o", "n"] {
        assert_eq!(
            got[u][0].data["detail"]["via"], "invite",
            "{u}: {:?}",
            got[u][0].data
        );
    }
    assert_nothing(&got, &["q", "s"], "add_group_member");

    // Silence: 1 — nobody gets member_joined...
    ok4(
        &ts,
        "add_group_member",
        json!({"GroupId": g, "Silence": 1, "MemberList": members_json(&["q"])}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_nothing(&got, &["o", "a", "b", "n", "q", "s"], "silent add");
    // ...but the new member gets the group's later tips.
    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "Notification": "hello q"}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "b", "n", "q"],
        &[sh("group_info_changed", &g, &[])],
        "tips after a silent add",
    );
    assert_nothing(&got, &["s"], "tips after a silent add");
}

#[tokio::test]
async fn events_of_delete_and_silent_delete() {
    let ts = TestServer::start().await;
    let mut w = watch(&ts, &["o", "a", "k", "k2", "s"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "ev", "Owner_Account": "o",
               "MemberList": members_json(&["a", "k", "k2"])}),
    )
    .await;
    w.settle(&ts).await;

    ok4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "MemberToDel_Account": ["k"], "Reason": "off-topic"}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "k", "k2"],
        &[sh("member_kicked", &g, &["k"])],
        "delete_group_member",
    );
    assert_eq!(
        got["k"][0].data["detail"]["reason"], "off-topic",
        "the reason travels: {:?}",
        got["k"][0].data
    );
    assert_nothing(&got, &["s"], "delete_group_member");

    ok4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "Silence": 1, "MemberToDel_Account": ["k2"]}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["k2"],
        &[sh("member_kicked", &g, &["k2"])],
        "silent delete: the removed member",
    );
    assert_nothing(&got, &["o", "a", "k", "s"], "silent delete");
}

#[tokio::test]
async fn events_of_info_owner_and_destroy() {
    let ts = TestServer::start().await;
    let mut w = watch(&ts, &["o", "a", "m", "s"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "ev", "Owner_Account": "o",
               "MemberList": members_json(&["a", "m"])}),
    )
    .await;
    w.settle(&ts).await;

    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "ApplyJoinOption": "FreeAccess"}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "m"],
        &[sh("group_info_changed", &g, &[])],
        "ApplyJoinOption",
    );
    for u in ["o", "a", "m"] {
        let fields = got[u][0].data["detail"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            fields.contains(&json!("add_option")),
            "{u}: detail {}",
            got[u][0].data["detail"]
        );
    }
    assert_nothing(&got, &["s"], "ApplyJoinOption");
    assert_eq!(
        got["o"][0].data["actor"], ADMIN,
        "the operator is the app admin"
    );

    // From_Account names the operator shown in tips.
    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "Name": "renamed", "From_Account": "o"}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "m"],
        &[sh("group_info_changed", &g, &[])],
        "Name with From_Account",
    );
    assert_eq!(got["m"][0].data["actor"], "o", "{:?}", got["m"][0].data);
    let fields = got["m"][0].data["detail"]["fields"].clone();
    assert_eq!(fields, json!(["name"]), "{:?}", got["m"][0].data);

    // Role changes are admin_granted / admin_revoked, as on /api/v1.
    for role in ["Admin", "Member"] {
        ok4(
            &ts,
            "modify_group_member_info",
            json!({"GroupId": g, "Member_Account": "m", "Role": role}),
        )
        .await;
    }
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "m"],
        &[
            sh("admin_granted", &g, &["m"]),
            sh("admin_revoked", &g, &["m"]),
        ],
        "modify_group_member_info Role",
    );
    assert_nothing(&got, &["s"], "modify_group_member_info Role");

    ok4(
        &ts,
        "change_group_owner",
        json!({"GroupId": g, "NewOwner_Account": "a"}),
    )
    .await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "m"],
        &[sh("owner_changed", &g, &["a"])],
        "change_group_owner",
    );
    assert_nothing(&got, &["s"], "change_group_owner");

    ok4(&ts, "destroy_group", json!({"GroupId": g})).await;
    let got = w.settle(&ts).await;
    assert_each(
        &got,
        &["o", "a", "m"],
        &[sh("group_disbanded", &g, &[])],
        "destroy_group",
    );
    assert_nothing(&got, &["s"], "destroy_group");
}

// ---------------------------------------------------------------------------
// custom fields (AppDefinedData / AppMemberDefinedData)

#[tokio::test]
async fn custom_fields_are_stored_filtered_and_limited() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "a"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "c", "Owner_Account": "o",
               "MemberList": members_json(&["a"]),
               "AppDefinedData": [{"Key": "Topic", "Value": "rust"}, {"Key": "Level", "Value": "2"}]}),
    )
    .await;
    let data = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .expect("a key/value list")
            .iter()
            .map(|kv| {
                (
                    kv["Key"].as_str().unwrap_or_default().to_string(),
                    kv["Value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let group = info(&ts, &g).await;
    assert_eq!(
        data(&group["AppDefinedData"]),
        vec![
            ("Level".into(), "2".into()),
            ("Topic".into(), "rust".into())
        ]
    );

    // An empty value deletes the key; a new key is added.
    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "AppDefinedData": [{"Key": "Level", "Value": ""}, {"Key": "Lang", "Value": "zh"}]}),
    )
    .await;
    let reply = ok4(
        &ts,
        "get_group_info",
        json!({"GroupIdList": [g], "ResponseFilter": {"AppDefinedDataFilter_Group": ["Lang"]}}),
    )
    .await;
    assert_eq!(
        data(&reply["GroupInfo"][0]["AppDefinedData"]),
        vec![("Lang".into(), "zh".into())]
    );
    let group = info(&ts, &g).await;
    assert_eq!(
        data(&group["AppDefinedData"]),
        vec![
            ("Lang".into(), "zh".into()),
            ("Topic".into(), "rust".into())
        ]
    );

    // Bad keys, long values and too many keys are refused and change nothing.
    for bad in [
        json!([{"Key": "has space", "Value": "x"}]),
        json!([{"Key": "WayTooLongKeyName", "Value": "x"}]),
        json!([{"Key": "Big", "Value": "x".repeat(513)}]),
        Value::Array(
            (0..19)
                .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
                .collect(),
        ),
    ] {
        fail4(
            &ts,
            "modify_group_base_info",
            json!({"GroupId": g, "AppDefinedData": bad}),
            10004,
        )
        .await;
    }
    let group = info(&ts, &g).await;
    assert_eq!(data(&group["AppDefinedData"]).len(), 2);

    // Member fields: at most 5 keys, values up to 64 bytes.
    ok4(
        &ts,
        "modify_group_member_info",
        json!({"GroupId": g, "Member_Account": "a", "AppMemberDefinedData": [{"Key": "Color", "Value": "red"}]}),
    )
    .await;
    fail4(
        &ts,
        "modify_group_member_info",
        json!({"GroupId": g, "Member_Account": "a", "AppMemberDefinedData": [{"Key": "Color", "Value": "r".repeat(65)}]}),
        10004,
    )
    .await;
    let reply = ok4(
        &ts,
        "get_group_member_info",
        json!({"GroupId": g, "MemberRoleFilter": ["Member"]}),
    )
    .await;
    assert_eq!(
        data(&reply["MemberList"][0]["AppMemberDefinedData"]),
        vec![("Color".into(), "red".into())]
    );
}

/// A refused role change takes the profile change in the same call down with it.
#[tokio::test]
async fn modify_group_member_info_is_all_or_nothing() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "bob"]).await;
    let w = create(
        &ts,
        json!({"Type": "Private", "Name": "w", "Owner_Account": "o",
               "MemberList": members_json(&["bob"])}),
    )
    .await;
    fail4(
        &ts,
        "modify_group_member_info",
        json!({"GroupId": w, "Member_Account": "bob", "NameCard": "CHANGED", "Role": "Admin"}),
        10007,
    )
    .await;
    let reply = ok4(&ts, "get_group_member_info", json!({"GroupId": w})).await;
    for m in reply["MemberList"].as_array().expect("MemberList") {
        assert_eq!(m["NameCard"], "", "nothing changed: {m}");
    }
}

/// `From_Account` must name an existing account (10012); non-members in a
/// removal list are skipped; a non-UTF-8 path still gets the envelope.
#[tokio::test]
async fn operators_removals_and_odd_paths() {
    let ts = TestServer::start().await;
    import(&ts, &["o", "bob", "eve"]).await;
    let g = create(
        &ts,
        json!({"Type": "Public", "Name": "p", "Owner_Account": "o",
               "MemberList": members_json(&["bob"])}),
    )
    .await;
    fail4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "Name": "x", "From_Account": "ghost-user"}),
        10012,
    )
    .await;
    assert_eq!(info(&ts, &g).await["Name"], "p", "nothing changed");
    ok4(
        &ts,
        "modify_group_base_info",
        json!({"GroupId": g, "Name": "x", "From_Account": "o"}),
    )
    .await;

    ok4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "MemberToDel_Account": ["eve", "bob"]}),
    )
    .await;
    assert_eq!(roles(&ts, &g, &["bob"]).await, vec!["NotMember"]);
    fail4(
        &ts,
        "delete_group_member",
        json!({"GroupId": g, "MemberToDel_Account": ["eve"]}),
        10007,
    )
    .await;

    let (status, reply) = raw(&ts, "%FF/x", &admin_query(&ts), "{}", true).await;
    assert_eq!(status, 200);
    assert_eq!(reply["ErrorCode"], 60009, "{reply}");
}

/// `Next` stays valid when groups already listed are destroyed between pages.
#[tokio::test]
async fn appid_group_list_next_survives_changes() {
    let ts = TestServer::start().await;
    import(&ts, &["o"]).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            create(
                &ts,
                json!({"Type": "Public", "Name": format!("g{i}"), "Owner_Account": "o"}),
            )
            .await,
        );
    }
    let page1 = ok4(&ts, "get_appid_group_list", json!({"Limit": 2})).await;
    assert_eq!(group_ids(&page1["GroupIdList"]), made[..2].to_vec());
    ok4(&ts, "destroy_group", json!({"GroupId": made[0]})).await;
    let page2 = ok4(
        &ts,
        "get_appid_group_list",
        json!({"Limit": 2, "Next": page1["Next"]}),
    )
    .await;
    assert_eq!(group_ids(&page2["GroupIdList"]), made[2..4].to_vec());
    assert_eq!(page2["TotalCount"], 4);
}
