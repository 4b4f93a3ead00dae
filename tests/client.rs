//! The typed client (`groupdeck::client`) against a real server on
//! 127.0.0.1: every API method, decoded errors, TLS set-up, and the event
//! stream with its reconnect and resume.

mod common;

use common::{ADMIN, APP_ID, KEY, TestServer, config_for};
use groupdeck::client::{
    Client, ClientError, EventStream, EventStreamOptions, RequestFilter, StreamItem,
    install_crypto_provider,
};
use groupdeck::model::{AddOption, Event, EventKind, GroupType, Role};
use groupdeck::server::api::{
    CreateGroupRequest, InitialMember, InviteStatus, JoinStatus, ModifyGroupRequest,
};
use groupdeck::server::{self, RunningServer};
use groupdeck::usersig::SigKey;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// The longest any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(5);

async fn start() -> TestServer {
    install_crypto_provider();
    TestServer::start().await
}

fn client(ts: &TestServer, user: &str) -> Client {
    Client::new(&ts.base, user, &ts.sig(user)).expect("client builds")
}

fn sig(user: &str) -> String {
    SigKey::new(APP_ID, KEY).sign(user, 86_400)
}

fn new_group(t: GroupType, name: &str) -> CreateGroupRequest {
    CreateGroupRequest {
        group_id: None,
        name: name.to_string(),
        group_type: t,
        add_option: None,
        invite_option: None,
        introduction: None,
        notification: None,
        face_url: None,
        max_members: None,
        members: Vec::new(),
    }
}

fn api_code(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, u32, String) {
    match r {
        Err(ClientError::Api {
            status,
            code,
            message,
        }) => (status, code, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn next_item(stream: &mut EventStream) -> StreamItem {
    timeout(WAIT, stream.recv())
        .await
        .expect("a stream item in time")
        .expect("the stream is open")
}

/// The next event, skipping `Connected`; anything else fails the test.
async fn next_event(stream: &mut EventStream) -> Event {
    loop {
        match next_item(stream).await {
            StreamItem::Event(e) => return e,
            StreamItem::Connected => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

async fn expect_connected(stream: &mut EventStream) {
    match next_item(stream).await {
        StreamItem::Connected => {}
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// Asserts nothing arrives for a short while.
async fn expect_quiet(stream: &mut EventStream) {
    if let Ok(item) = timeout(Duration::from_millis(300), stream.recv()).await {
        panic!("expected nothing, got {item:?}");
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn https_to_a_plain_port_fails_at_the_tls_handshake() {
    let ts = start().await;
    let https = ts.base.replacen("http://", "https://", 1);
    let c = Client::new(&https, "alice", &ts.sig("alice")).expect("an https client builds");
    let err = timeout(WAIT, c.health())
        .await
        .expect("fails in time")
        .expect_err("TLS to a plain-HTTP port fails");
    let text = err.to_string();
    assert!(matches!(err, ClientError::Network(_)), "{err:?}");
    assert!(
        !text.contains("TLS backend") && !text.contains("crypto provider"),
        "{text}"
    );
    // rustls saw the plain-HTTP answer: the handshake was attempted.
    let lower = text.to_lowercase();
    assert!(
        lower.contains("corrupt") || lower.contains("invalid") || lower.contains("tls"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_base_urls_are_refused() {
    install_crypto_provider();
    for bad in ["", "localhost:8080", "ftp://host", "http://host/?x=1"] {
        let r = Client::new(bad, "alice", "sig");
        assert!(
            matches!(r, Err(ClientError::InvalidUrl(_))),
            "{bad:?}: {r:?}"
        );
    }
    let r = Client::new("http://host", "alice", "bad\nsig");
    assert!(matches!(r, Err(ClientError::Setup(_))), "{r:?}");
}

#[tokio::test]
async fn identity_health_and_description() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let me = alice.me().await.expect("me");
    assert_eq!(me.user_id, "alice");
    assert!(!me.app_admin);
    assert!(client(&ts, ADMIN).me().await.expect("me").app_admin);
    let h = alice.health().await.expect("health");
    assert_eq!(h.status, "ok");
    let doc = alice.openapi().await.expect("openapi");
    assert!(doc["paths"]["/api/v1/groups"].is_object());

    let forged = Client::new(&ts.base, "alice", "not-a-usersig").expect("client");
    let err = forged.me().await.expect_err("a bad UserSig is refused");
    assert_eq!(err.status(), Some(401));
    assert!(err.code().is_some_and(|c| c >= 70_000), "{err}");
    assert!(err.is_auth());
}

#[tokio::test]
async fn group_lifecycle() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    // Another user on the same connection pool.
    let bob = alice.with_user("bob", &ts.sig("bob")).expect("bob");
    assert_eq!(bob.me().await.expect("bob signs in").user_id, "bob");
    assert_eq!(alice.me().await.expect("alice still").user_id, "alice");

    let id = alice
        .create_group(&new_group(GroupType::Public, "Lobby"))
        .await
        .expect("create");
    assert!(id.starts_with("@TGS#"), "{id}");

    let info = alice.group(&id).await.expect("group info");
    assert_eq!(info.group_id, id);
    assert_eq!(info.name, "Lobby");
    assert_eq!(info.group_type, GroupType::Public);
    assert_eq!(info.my_role, Some(Role::Owner));
    assert_eq!(info.member_count, 1);
    assert_eq!(info.add_option, AddOption::Auth);

    let page = alice.list_groups(false, None, None).await.expect("list");
    assert!(page.items.iter().any(|g| g.group_id == id));

    let modified = alice
        .modify_group(
            &id,
            &ModifyGroupRequest {
                add_option: Some(AddOption::Any),
                introduction: Some("all welcome".into()),
                ..ModifyGroupRequest::default()
            },
        )
        .await
        .expect("modify");
    assert!(
        modified.changed.iter().any(|f| f == "add_option"),
        "{:?}",
        modified.changed
    );

    let joined = bob.join(&id, Some("hi")).await.expect("join");
    assert_eq!(joined.status, JoinStatus::Joined);
    let (status, code, _) = api_code(bob.join(&id, None).await);
    assert_eq!((status, code), (409, 10013));

    // The Public owner cannot quit, and says why.
    let err = alice.quit(&id).await.expect_err("owner cannot quit");
    assert_eq!(err.code(), Some(10009));
    assert_eq!(err.status(), Some(403));
    assert_eq!(
        err.to_string(),
        "10009: the owner cannot quit a Public group — transfer ownership or disband it"
    );

    // Members, paged one at a time.
    let first = alice.members(&id, None, Some(1)).await.expect("members");
    assert_eq!(first.items.len(), 1);
    let cursor = first.next_cursor.expect("a second page");
    let second = alice
        .members(&id, Some(&cursor), Some(1))
        .await
        .expect("members page 2");
    let mut all: Vec<String> = first
        .items
        .iter()
        .chain(second.items.iter())
        .map(|m| m.user_id.clone())
        .collect();
    all.sort();
    assert_eq!(all, ["alice", "bob"]);

    let r = alice
        .set_role(&id, "bob", Role::Admin)
        .await
        .expect("grant admin");
    assert_eq!((r.role, r.changed), (Role::Admin, true));
    let r = alice
        .set_role(&id, "bob", Role::Admin)
        .await
        .expect("again");
    assert!(!r.changed);

    alice.transfer_owner(&id, "bob").await.expect("transfer");
    assert_eq!(
        bob.group(&id).await.expect("info").my_role,
        Some(Role::Owner)
    );
    alice.quit(&id).await.expect("a former owner may quit");
    let (status, code, _) = api_code(alice.kick(&id, "bob", None).await);
    assert_eq!((status, code), (403, 10007));

    bob.disband(&id).await.expect("disband");
    let (status, code, _) = api_code(bob.group(&id).await);
    assert_eq!((status, code), (404, 10010));
}

#[tokio::test]
async fn ids_with_reserved_characters_stay_one_path_segment() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let odd_user = "odd/us#r?x% y";
    let odd = client(&ts, odd_user);
    odd.me().await.expect("the odd user signs in");
    client(&ts, "carol").me().await.expect("carol signs in");

    let gid = "team a/b?c#d%e@f";
    let mut req = new_group(GroupType::Work, "Odd");
    req.group_id = Some(gid.to_string());
    req.members = vec![InitialMember {
        user_id: "carol".into(),
        role: None,
    }];
    assert_eq!(alice.create_group(&req).await.expect("create"), gid);
    assert_eq!(alice.group(gid).await.expect("info").group_id, gid);

    let invited = alice
        .invite(gid, &[odd_user.to_string(), "nobody-signed-in".to_string()])
        .await
        .expect("invite");
    assert_eq!(invited.results.len(), 2);
    let by_user = |u: &str| {
        invited
            .results
            .iter()
            .find(|r| r.user_id == u)
            .expect("a result per user")
            .clone()
    };
    assert_eq!(by_user(odd_user).result, InviteStatus::Added);
    let failed = by_user("nobody-signed-in");
    assert_eq!(failed.result, InviteStatus::Failed);
    assert!(failed.code.is_some());

    assert_eq!(
        odd.group(gid).await.expect("member view").my_role,
        Some(Role::Member)
    );
    alice
        .kick(gid, odd_user, Some("testing"))
        .await
        .expect("kick the odd user");
    let members = alice.members(gid, None, None).await.expect("members");
    let mut ids: Vec<_> = members.items.iter().map(|m| m.user_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["alice", "carol"]);

    // "." and ".." cannot be path segments: refused before sending.
    assert!(matches!(
        alice.group("..").await,
        Err(ClientError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn join_requests_are_listed_and_decided() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let bob = client(&ts, "bob");
    let carol = client(&ts, "carol");
    let id = alice
        .create_group(&new_group(GroupType::Public, "Club"))
        .await
        .expect("create");

    let reply = bob.join(&id, Some("let me in")).await.expect("apply");
    assert_eq!(reply.status, JoinStatus::Pending);
    let request_id = reply.request_id.expect("a request id");

    let inbox = alice
        .requests(RequestFilter::Pending, None, None)
        .await
        .expect("owner's inbox");
    let r = inbox
        .items
        .iter()
        .find(|r| r.id == request_id)
        .expect("the request is listed");
    assert_eq!(
        (r.applicant.as_str(), r.message.as_str()),
        ("bob", "let me in")
    );
    assert!(r.can_decide);
    let own = bob
        .requests(RequestFilter::default(), None, None)
        .await
        .expect("applicant's list");
    assert!(
        own.items
            .iter()
            .any(|r| r.id == request_id && !r.can_decide)
    );

    alice.decide(request_id, true, None).await.expect("accept");
    assert_eq!(
        bob.group(&id).await.expect("info").my_role,
        Some(Role::Member)
    );
    let (status, code, _) = api_code(alice.decide(request_id, false, None).await);
    assert_eq!((status, code), (409, 10024));

    let refused_id = carol
        .join(&id, None)
        .await
        .expect("apply")
        .request_id
        .expect("pending");
    alice
        .decide(refused_id, false, Some("members only"))
        .await
        .expect("refuse");
    let refused = alice
        .requests(RequestFilter::Refused, None, None)
        .await
        .expect("refused list");
    let r = refused
        .items
        .iter()
        .find(|r| r.id == refused_id)
        .expect("listed as refused");
    assert_eq!(
        (r.status.as_str(), r.reason.as_str()),
        ("refused", "members only")
    );
    let all = alice
        .requests(RequestFilter::All, None, Some(1))
        .await
        .expect("paged");
    assert_eq!(all.items.len(), 1);
    assert!(all.next_cursor.is_some());
}

#[tokio::test]
async fn scope_all_is_for_app_admins() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let id = alice
        .create_group(&new_group(GroupType::Meeting, "Stand-up"))
        .await
        .expect("create");
    let admin = client(&ts, ADMIN);
    let every = admin
        .list_groups(true, None, None)
        .await
        .expect("every group");
    assert!(every.items.iter().any(|g| g.group_id == id));
    assert!(
        admin
            .list_groups(false, None, None)
            .await
            .expect("joined")
            .items
            .is_empty()
    );
    let err = alice
        .list_groups(true, None, None)
        .await
        .expect_err("not an admin");
    assert_eq!(err.status(), Some(403));
    assert!(err.code().is_some());
}

#[tokio::test]
async fn events_arrive_in_order_and_resume_from_an_id() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let bob = client(&ts, "bob");
    bob.me().await.expect("bob signs in");
    let mut stream = alice.events(EventStreamOptions::default());
    expect_connected(&mut stream).await;

    let mut req = new_group(GroupType::Meeting, "Live");
    req.add_option = Some(AddOption::Any);
    let id = alice.create_group(&req).await.expect("create");
    bob.join(&id, None).await.expect("join");
    alice
        .set_role(&id, "bob", Role::Admin)
        .await
        .expect("grant");
    alice.kick(&id, "bob", Some("bye")).await.expect("kick");

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_event(&mut stream).await);
    }
    let kinds: Vec<_> = seen.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::GroupCreated,
            EventKind::MemberJoined,
            EventKind::AdminGranted,
            EventKind::MemberKicked
        ]
    );
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "{seen:?}");
    assert!(seen.iter().all(|e| e.group_id == id));
    assert_eq!(seen[1].targets, ["bob"]);
    expect_quiet(&mut stream).await;
    drop(stream);

    // A new stream after the first event replays the rest, in order.
    let mut resumed = alice.events(EventStreamOptions {
        after: Some(seen[0].id),
        scope_all: false,
    });
    let mut replay = Vec::new();
    for _ in 0..3 {
        replay.push(next_event(&mut resumed).await);
    }
    assert_eq!(replay, seen[1..]);
    expect_quiet(&mut resumed).await;
}

#[tokio::test]
async fn a_resume_id_beyond_the_log_is_reset() {
    let ts = start().await;
    let alice = client(&ts, "alice");
    let head = alice.health().await.expect("health").last_event_id;
    let mut stream = alice.events(EventStreamOptions {
        after: Some(head + 1_000),
        scope_all: false,
    });
    expect_connected(&mut stream).await;
    match next_item(&mut stream).await {
        StreamItem::Reset { last_event_id } => assert_eq!(last_event_id, head),
        other => panic!("expected Reset, got {other:?}"),
    }
    // Events after the reset point still arrive (the duplicate guard follows the reset).
    let id = alice
        .create_group(&new_group(GroupType::Work, "After reset"))
        .await
        .expect("create");
    let e = next_event(&mut stream).await;
    assert_eq!(
        (e.kind, e.group_id.as_str()),
        (EventKind::GroupCreated, id.as_str())
    );
    assert!(e.id > head);
}

#[tokio::test]
async fn refused_streams_end_with_a_fatal_item() {
    let ts = start().await;
    let forged = Client::new(&ts.base, "alice", "not-a-usersig").expect("client");
    let mut stream = forged.events(EventStreamOptions {
        after: Some(0),
        scope_all: false,
    });
    match next_item(&mut stream).await {
        StreamItem::Fatal(e) => assert_eq!(e.status(), Some(401), "{e}"),
        other => panic!("expected Fatal, got {other:?}"),
    }
    assert!(timeout(WAIT, stream.recv()).await.expect("ends").is_none());

    let mut stream = client(&ts, "alice").events(EventStreamOptions {
        after: None,
        scope_all: true,
    });
    match next_item(&mut stream).await {
        StreamItem::Fatal(e) => assert_eq!(e.status(), Some(403), "{e}"),
        other => panic!("expected Fatal, got {other:?}"),
    }

    // An app admin may follow everything.
    let mut all = client(&ts, ADMIN).events(EventStreamOptions {
        after: None,
        scope_all: true,
    });
    expect_connected(&mut all).await;
    let id = client(&ts, "alice")
        .create_group(&new_group(GroupType::Work, "Seen by admin"))
        .await
        .expect("create");
    assert_eq!(next_event(&mut all).await.group_id, id);
}

#[tokio::test]
async fn unreachable_servers_are_retried_with_a_growing_attempt_count() {
    install_crypto_provider();
    let base = format!("http://127.0.0.1:{}", free_port());
    let c = Client::new(&base, "alice", &sig("alice")).expect("client");
    let mut stream = c.events(EventStreamOptions {
        after: Some(0),
        scope_all: false,
    });
    for expected in 1..=3 {
        match next_item(&mut stream).await {
            StreamItem::Disconnected { attempt, error } => {
                assert_eq!(attempt, expected);
                assert!(error.contains("connect"), "{error}");
            }
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_stream_survives_a_restart_without_losing_or_repeating_events() {
    install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut fixed = config_for(&dir);
    fixed.listen = SocketAddr::from(([127, 0, 0, 1], port));
    let first: RunningServer = server::start(fixed.clone()).await.expect("server starts");
    let base = first.base_url();
    let on = |base: &str, user: &str| Client::new(base, user, &sig(user)).expect("client");
    let alice = on(&base, "alice");
    for u in ["bob", "carol"] {
        on(&base, u).me().await.expect("sign in");
    }

    let mut stream = alice.events(EventStreamOptions::default());
    expect_connected(&mut stream).await;
    let mut req = new_group(GroupType::Meeting, "Durable");
    req.add_option = Some(AddOption::Any);
    let id = alice.create_group(&req).await.expect("create");
    on(&base, "bob").join(&id, None).await.expect("join");
    let before = [next_event(&mut stream).await, next_event(&mut stream).await];
    assert_eq!(
        before.clone().map(|e| e.kind),
        [EventKind::GroupCreated, EventKind::MemberJoined]
    );

    first.stop().await.expect("server stops");
    match next_item(&mut stream).await {
        StreamItem::Disconnected { attempt: 1, .. } => {}
        other => panic!("expected Disconnected 1, got {other:?}"),
    }

    // While the stream's server is down, changes happen elsewhere on the same
    // data: a server on another port over the same file.
    let other = server::start(config_for(&dir))
        .await
        .expect("second server");
    let other_base = other.base_url();
    on(&other_base, "bob").quit(&id).await.expect("quit");
    on(&other_base, "carol")
        .join(&id, None)
        .await
        .expect("join");
    on(&other_base, "alice")
        .modify_group(
            &id,
            &ModifyGroupRequest {
                name: Some("Durable 2".into()),
                ..ModifyGroupRequest::default()
            },
        )
        .await
        .expect("rename");
    other.stop().await.expect("second server stops");

    // Back on the stream's port: it reconnects and resumes.
    let again = server::start(fixed)
        .await
        .expect("server restarts on the same port");
    let mut attempts = Vec::new();
    loop {
        match timeout(Duration::from_secs(10), stream.recv())
            .await
            .expect("reconnects in time")
            .expect("open")
        {
            StreamItem::Disconnected { attempt, .. } => attempts.push(attempt),
            StreamItem::Connected => break,
            other => panic!("expected Disconnected or Connected, got {other:?}"),
        }
    }
    assert!(
        attempts.windows(2).all(|w| w[1] == w[0] + 1),
        "attempts count up: {attempts:?}"
    );
    let missed = [
        next_event(&mut stream).await,
        next_event(&mut stream).await,
        next_event(&mut stream).await,
    ];
    assert_eq!(
        missed.clone().map(|e| e.kind),
        [
            EventKind::MemberQuit,
            EventKind::MemberJoined,
            EventKind::GroupInfoChanged
        ]
    );
    assert_eq!(missed[1].targets, ["carol"]);
    assert!(missed[0].id > before[1].id);
    assert!(missed.windows(2).all(|w| w[0].id < w[1].id));

    // Live again, and nothing was repeated in between.
    on(&again.base_url(), "alice")
        .kick(&id, "carol", None)
        .await
        .expect("kick");
    let live = next_event(&mut stream).await;
    assert_eq!(live.kind, EventKind::MemberKicked);
    assert!(live.id > missed[2].id);
    expect_quiet(&mut stream).await;
    drop(stream);
    again.stop().await.expect("stops");
}

fn sse_event(id: u64, kind: &str) -> String {
    let data = serde_json::json!({
        "id": id, "time": 0, "group_id": "g", "kind": kind,
        "actor": "alice", "targets": [], "detail": {}
    });
    format!("id: {id}\nevent: {kind}\ndata: {data}\n\n")
}

/// A one-connection SSE server that sends `body` and then holds the
/// connection open; the task returns the request head once the client hangs up.
async fn scripted_sse(body: String) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.expect("read");
            assert!(n > 0, "the client hung up early");
            head.extend_from_slice(&buf[..n]);
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n{body}"
        );
        sock.write_all(reply.as_bytes()).await.expect("write");
        // Wait for the client to close the connection.
        while sock.read(&mut buf).await.expect("read") > 0 {}
        String::from_utf8_lossy(&head).to_lowercase()
    });
    (base, task)
}

#[tokio::test]
async fn duplicates_and_unknown_kinds_are_dropped_and_dropping_the_stream_hangs_up() {
    install_crypto_provider();
    let body = [
        ": keep-alive\n\n".to_string(),
        sse_event(5, "group_created"),
        sse_event(5, "group_created"),
        sse_event(4, "member_joined"),
        sse_event(6, "a_kind_from_the_future"),
        sse_event(6, "member_joined"),
        "id: 3\nevent: reset\ndata: {\"last_event_id\": 3, \"reason\": \"log replaced\"}\n\n"
            .into(),
        sse_event(4, "member_quit"),
    ]
    .concat();
    let (base, server) = scripted_sse(body).await;
    let c = Client::new(&base, "alice", "the-sig").expect("client");
    let mut stream = c.events(EventStreamOptions {
        after: Some(2),
        scope_all: false,
    });
    expect_connected(&mut stream).await;
    let e = next_event(&mut stream).await;
    assert_eq!((e.id, e.kind), (5, EventKind::GroupCreated));
    // 5 again and 4 are old; 6 is of an unknown kind and skipped, and the
    // second 6 is then old too.
    match next_item(&mut stream).await {
        StreamItem::Reset { last_event_id: 3 } => {}
        other => panic!("expected Reset to 3, got {other:?}"),
    }
    let e = next_event(&mut stream).await;
    assert_eq!((e.id, e.kind), (4, EventKind::MemberQuit));
    expect_quiet(&mut stream).await;

    drop(stream);
    let head = timeout(WAIT, server)
        .await
        .expect("the connection closes when the stream is dropped")
        .expect("server task");
    assert!(head.starts_with("get /api/v1/events "), "{head}");
    assert!(head.contains("last-event-id: 2\r\n"), "{head}");
    assert!(head.contains("authorization: bearer the-sig\r\n"), "{head}");
}
