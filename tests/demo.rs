//! The demo world of the embedded mode: seeded once with every group type
//! and the local user's roles, join requests waiting in the inbox and a
//! history in the event log; started again it is not seeded twice; with the
//! simulation on, new events keep arriving, none of them by the local user.

use groupdeck::client::{Client, EventStreamOptions, RequestFilter, StreamItem};
use groupdeck::demo::{self, DEMO_USER, Embedded, EmbeddedOptions};
use groupdeck::model::{AddOption, GroupType, Role};
use groupdeck::server::api::GroupInfo;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// A generous bound for anything that waits on the simulation.
const PATIENCE: Duration = Duration::from_secs(60);

fn options(dir: &Path, simulate: bool) -> EmbeddedOptions {
    let mut opts = EmbeddedOptions::new(dir.join("demo.db"), dir.join("demo.key"));
    opts.simulate = simulate;
    opts
}

fn client_of(demo: &Embedded) -> Client {
    groupdeck::client::install_crypto_provider();
    Client::new(&demo.base_url, &demo.user, &demo.usersig).expect("client builds")
}

/// Every group the user joined, by ID.
async fn joined(client: &Client) -> HashMap<String, GroupInfo> {
    let mut all = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .list_groups(false, cursor.as_deref(), Some(100))
            .await
            .expect("joined groups");
        for g in page.items {
            all.insert(g.group_id.clone(), g);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

fn has(
    groups: &HashMap<String, GroupInfo>,
    t: GroupType,
    role: Role,
    opt: Option<AddOption>,
) -> bool {
    groups.values().any(|g| {
        g.group_type == t && g.my_role == Some(role) && opt.is_none_or(|o| g.add_option == o)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_world_is_seeded_with_every_type_and_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = demo::start(options(dir.path(), false))
        .await
        .expect("demo starts");
    assert!(demo.seeded_now);
    assert_eq!(demo.user, DEMO_USER);
    let client = client_of(&demo);
    assert_eq!(client.me().await.expect("me").user_id, DEMO_USER);

    let groups = joined(&client).await;
    assert!(
        (8..=14).contains(&groups.len()),
        "{} joined groups",
        groups.len()
    );
    use AddOption::{Any, Auth};
    use GroupType::*;
    assert!(
        has(&groups, Public, Role::Owner, Some(Auth)),
        "owns a Public Auth group"
    );
    assert!(
        has(&groups, Public, Role::Owner, Some(Any)),
        "owns a Public Any group"
    );
    assert!(has(&groups, Work, Role::Owner, None), "owns a Work group");
    assert!(
        has(&groups, Community, Role::Owner, Some(Auth)),
        "owns a Community Auth group"
    );
    let admin_of = groups
        .values()
        .filter(|g| g.my_role == Some(Role::Admin))
        .count();
    assert!(admin_of >= 2, "admin of {admin_of} groups");
    assert!(
        has(&groups, Public, Role::Admin, Some(Auth)),
        "admin of an Auth group"
    );
    assert!(
        groups.values().any(|g| g.my_role == Some(Role::Member)),
        "a plain member somewhere"
    );
    assert!(has(&groups, Meeting, Role::Admin, None) || has(&groups, Meeting, Role::Member, None));
    // AVChatRoom groups stay out of joined lists (spec): read it by ID.
    let live = client.group("launch-live").await.expect("the live room");
    assert_eq!(live.group_type, AVChatRoom);
    assert_eq!(live.my_role, Some(Role::Owner));
    assert!(live.member_count > 1);
    // Names exercise width-aware rendering.
    assert!(groups.values().any(|g| {
        g.name
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }));
    assert!(
        groups
            .values()
            .any(|g| g.name.chars().any(|c| c as u32 >= 0x1F300))
    );

    // A large Community to page through.
    let big = groups
        .values()
        .max_by_key(|g| g.member_count)
        .expect("groups");
    assert_eq!(big.group_type, Community);
    assert!(big.member_count >= 1_500, "{} members", big.member_count);
    let page = client
        .members(&big.group_id, None, Some(100))
        .await
        .expect("members");
    assert_eq!(page.items.len(), 100);
    assert!(page.next_cursor.is_some());

    // Join requests the local user can decide, with messages.
    let inbox = client
        .requests(RequestFilter::Pending, None, Some(100))
        .await
        .expect("requests");
    let decidable: Vec<_> = inbox.items.iter().filter(|r| r.can_decide).collect();
    assert!(
        (4..=8).contains(&decidable.len()),
        "{} decidable requests",
        decidable.len()
    );
    assert!(decidable.iter().filter(|r| !r.message.is_empty()).count() >= 4);
    assert!(decidable.iter().any(|r| r.kind == "invite"));
    for r in &decidable {
        let g = &groups[&r.group_id];
        assert!(matches!(g.my_role, Some(Role::Owner | Role::Admin)));
    }
    let pending_shown: u64 = groups.values().filter_map(|g| g.pending_requests).sum();
    assert_eq!(pending_shown as usize, decidable.len());

    // A history in the event log: creations, joins, a kick, a refusal ...
    let health = client.health().await.expect("health");
    assert!(
        health.last_event_id >= 40,
        "last event {}",
        health.last_event_id
    );
    let mut stream = client.events(EventStreamOptions {
        after: Some(0),
        scope_all: false,
    });
    let mut kinds = std::collections::HashSet::new();
    let mut seen = 0u64;
    let read = tokio::time::timeout(PATIENCE, async {
        while let Some(item) = stream.recv().await {
            if let StreamItem::Event(e) = item {
                seen = e.id;
                kinds.insert(e.kind.as_str());
                // Everything up to the seeded head is the history.
                if e.id >= health.last_event_id - 10 {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the history streams (up to event {seen})");
    for kind in [
        "group_created",
        "member_joined",
        "member_quit",
        "member_kicked",
        "admin_granted",
        "group_info_changed",
        "join_requested",
        "join_request_handled",
    ] {
        assert!(kinds.contains(kind), "no {kind} in the history: {kinds:?}");
    }
    drop(stream);
    demo.stop().await.expect("demo stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_does_not_seed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = demo::start(options(dir.path(), false))
        .await
        .expect("demo starts");
    let client = client_of(&first);
    let groups_before = joined(&client).await;
    let head_before = client.health().await.expect("health").last_event_id;
    first.stop().await.expect("demo stops");

    let second = demo::start(options(dir.path(), false))
        .await
        .expect("demo starts again");
    assert!(!second.seeded_now);
    let client = client_of(&second);
    let groups_after = joined(&client).await;
    assert_eq!(groups_after.len(), groups_before.len());
    for (id, g) in &groups_after {
        assert_eq!(g.member_count, groups_before[id].member_count, "{id}");
    }
    assert_eq!(
        client.health().await.expect("health").last_event_id,
        head_before
    );
    second.stop().await.expect("demo stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulation_keeps_the_world_moving_without_acting_as_the_local_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path(), true);
    opts.pace = Duration::from_millis(20);
    let demo = demo::start(opts).await.expect("demo starts");
    let client = client_of(&demo);
    let head = client.health().await.expect("health").last_event_id;

    // Follow everything from here on, as an app admin would.
    let key = groupdeck::usersig::SigKey::new(
        groupdeck::config::DEFAULT_APP_ID,
        std::fs::read_to_string(dir.path().join("demo.key"))
            .expect("key")
            .trim(),
    );
    let admin = client
        .with_user("administrator", &key.sign("administrator", 3600))
        .expect("admin client");
    let mut stream = admin.events(EventStreamOptions {
        after: Some(head),
        scope_all: true,
    });
    let mut events = Vec::new();
    let waited = tokio::time::timeout(PATIENCE, async {
        while let Some(item) = stream.recv().await {
            match item {
                StreamItem::Event(e) => {
                    events.push(e);
                    if events.len() >= 40 {
                        break;
                    }
                }
                StreamItem::Fatal(e) => panic!("event stream refused: {e}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "only {} events arrived", events.len());
    assert!(
        events.iter().all(|e| e.actor != DEMO_USER),
        "the local user never acts"
    );
    let actors: std::collections::HashSet<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    assert!(actors.len() >= 3, "several users act: {actors:?}");
    drop(stream);

    // The local user's inbox stays bounded.
    let inbox = client
        .requests(RequestFilter::Pending, None, Some(100))
        .await
        .expect("requests");
    let decidable = inbox.items.iter().filter(|r| r.can_decide).count();
    assert!(decidable <= 14, "{decidable} pending requests");

    demo.stop().await.expect("demo stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_cut_short_is_redone_from_the_start() {
    use groupdeck::model::Actor;
    use groupdeck::server::{self, ServerConfig};
    use groupdeck::service::NewGroup;

    let dir = tempfile::tempdir().expect("tempdir");
    let opts = options(dir.path(), false);
    // An earlier start got as far as one group, under its demo ID.
    let key = groupdeck::config::load_or_create_key(&opts.key_file).expect("key");
    let early = server::start(ServerConfig::new(&opts.db_path, opts.app_id, key))
        .await
        .expect("server starts");
    early
        .service
        .import_users(vec![(DEMO_USER.into(), String::new(), String::new())])
        .await
        .expect("import");
    let half = NewGroup {
        group_id: Some("rust-guild".into()),
        name: "half done".into(),
        group_type: Some(GroupType::Public),
        ..NewGroup::default()
    };
    early
        .service
        .create_group(&Actor::user(DEMO_USER), half)
        .await
        .expect("create");
    early.stop().await.expect("server stops");

    let demo = demo::start(opts).await.expect("demo starts");
    assert!(demo.seeded_now);
    let client = client_of(&demo);
    let groups = joined(&client).await;
    let guild = &groups["rust-guild"];
    assert_eq!(guild.name, "Rust Guild 🦀");
    assert!(guild.member_count > 10);
    assert_eq!(guild.pending_requests, Some(2));

    // The same world as a fresh seed.
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = demo::start(options(fresh_dir.path(), false))
        .await
        .expect("demo starts");
    let fresh_groups = joined(&client_of(&fresh)).await;
    assert_eq!(groups.len(), fresh_groups.len());
    for (id, g) in &fresh_groups {
        assert_eq!(groups[id].member_count, g.member_count, "{id}");
        assert_eq!(groups[id].my_role, g.my_role, "{id}");
    }
    fresh.stop().await.expect("demo stops");
    demo.stop().await.expect("demo stops");
}
