//! Criterion figures for the hot paths:
//!
//! - `rules/*`: one permission check of the pure model on prepared facts
//!   (joining under each join option, inviting, kicking by role).
//! - `fanout/*`: one committed event sent through a tokio broadcast channel
//!   to 100,000 in-process receivers, each deciding entitlement with
//!   `server::events::entitled` as a live subscriber does (half of them
//!   members of the group, half not); timed from the send until every
//!   receiver has looked at it. Target: under 50 ms an event.
//! - `frame/*`: one `Terminal::draw` of the console at 120×40 on ratatui's
//!   `TestBackend`, with 100,000 members loaded in the Members pane.
//!
//! `cargo bench --bench hot_paths` (criterion filters apply:
//! `cargo bench --bench hot_paths -- fanout`). Under `cargo test` each
//! benchmark runs once, on small sizes.

mod console_fixture;
use console_fixture::{BIG, ME, NOW, call_id, key, member};

use criterion::Criterion;
use groupdeck::model::rules::{check_invite, check_join, check_kick};
use groupdeck::model::{
    Actor, AddOption, Audience, Event, EventKind, GroupFacts, GroupType, InviteOption,
    MembershipChange, Published, Role,
};
use groupdeck::server::api::{GroupInfo, Me, MemberInfo, Page};
use groupdeck::server::events::entitled;
use groupdeck::store::sqlite::EventBatch;
use groupdeck::tui::keymap::Keymap;
use groupdeck::tui::msg::{Call, Hello, Reply, StreamMsg};
use groupdeck::tui::state::{Pane, Settings};
use groupdeck::tui::theme::Theme;
use groupdeck::tui::{Msg, State, update, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use serde_json::json;
use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

/// Sizes: the real ones under `cargo bench`, small ones under `cargo test`.
struct Scale {
    receivers: usize,
    members: usize,
}

impl Scale {
    fn from_args() -> Scale {
        if std::env::args().any(|a| a == "--bench") {
            Scale {
                receivers: 100_000,
                members: 100_000,
            }
        } else {
            Scale {
                receivers: 1_000,
                members: 1_000,
            }
        }
    }
}

// ---- rules ----

fn facts(group_type: GroupType, add_option: AddOption) -> GroupFacts {
    GroupFacts {
        group_id: BIG.to_string(),
        group_type,
        owner: Some("owner-1".to_string()),
        add_option,
        invite_option: Some(InviteOption::Auth),
        max_members: Some(200_000),
        member_count: 100_000,
    }
}

fn rules(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules");
    let stranger = Actor::user("user-stranger");
    for option in [AddOption::Any, AddOption::Auth, AddOption::Forbid] {
        let f = facts(GroupType::Public, option);
        g.bench_function(format!("check_join {option:?}"), |b| {
            b.iter(|| check_join(black_box(&f), black_box(&stranger), black_box(None)))
        });
    }
    let f = facts(GroupType::Public, AddOption::Auth);
    let member = Actor::user("user-000001");
    for role in [Role::Member, Role::Admin] {
        g.bench_function(format!("check_invite by {role:?}"), |b| {
            b.iter(|| check_invite(black_box(&f), black_box(&member), black_box(Some(role))))
        });
    }
    for role in [Role::Owner, Role::Admin, Role::Member] {
        g.bench_function(format!("check_kick by {role:?}"), |b| {
            b.iter(|| {
                check_kick(
                    black_box(&f),
                    black_box(&member),
                    black_box(Some(role)),
                    black_box("user-000002"),
                    black_box(Some(Role::Member)),
                )
            })
        });
    }
    g.finish();
}

// ---- fan-out ----

/// A `member_joined` of someone outside the receivers, so that no
/// receiver's memberships change from one event to the next.
fn published(id: u64) -> EventBatch {
    let newcomer = format!("newcomer-{id}");
    let event = Event {
        id,
        time: NOW + id,
        group_id: BIG.to_string(),
        kind: EventKind::MemberJoined,
        actor: ME.to_string(),
        targets: vec![newcomer.clone()],
        detail: json!({"via": "approval", "member_count": 100_001}),
    };
    let json: Arc<str> = serde_json::to_string(&event).expect("event json").into();
    Arc::new(vec![Published {
        event,
        json,
        audience: Audience::Members,
        membership: MembershipChange {
            joined: vec![newcomer],
            ..MembershipChange::default()
        },
    }])
}

fn fanout(c: &mut Criterion, scale: &Scale) {
    let n = scale.receivers;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (tx, _) = broadcast::channel::<EventBatch>(16);
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let delivered = Arc::new(AtomicUsize::new(0));
    for i in 0..n {
        // Subscribed here, before the first send, so no receiver misses it.
        let mut live = tx.subscribe();
        let user = format!("user-{i:06}");
        let mut groups = HashSet::new();
        if i % 2 == 0 {
            groups.insert(BIG.to_string());
        }
        let (done, all_done, delivered) = (done.clone(), all_done.clone(), delivered.clone());
        rt.spawn(async move {
            let mut last = 0;
            while let Ok(batch) = live.recv().await {
                let mut sent = 0;
                for p in batch.iter() {
                    if p.event.id <= last {
                        continue;
                    }
                    if entitled(p, &user, &mut groups) {
                        sent += 1;
                    }
                    last = p.event.id;
                }
                delivered.fetch_add(sent, Ordering::Relaxed);
                if done.fetch_add(1, Ordering::AcqRel) + 1 == n {
                    all_done.notify_one();
                }
            }
        });
    }

    let mut g = c.benchmark_group("fanout");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut id = 0;
    g.bench_function(format!("one event to {n} receivers"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                id += 1;
                let batch = published(id);
                done.store(0, Ordering::Release);
                delivered.store(0, Ordering::Relaxed);
                let t = Instant::now();
                tx.send(batch).expect("receivers");
                rt.block_on(all_done.notified());
                total += t.elapsed();
                assert_eq!(delivered.load(Ordering::Relaxed), n.div_ceil(2));
            }
            total
        })
    });
    g.finish();
    // Closing the channel ends every receiver task.
    drop(tx);
    rt.shutdown_timeout(Duration::from_secs(5));
}

// ---- console frame ----

/// The console with one group of `members` members, all loaded, the
/// Members pane focused and its cursor at `row`.
fn console(members: usize, row: usize) -> State {
    let settings = Settings {
        user: ME.to_string(),
        server: "http://127.0.0.1:7070".to_string(),
        demo: false,
        read_only: false,
        theme: Theme::default(),
        keymap: Keymap::defaults(),
    };
    let mut state = State::new(settings, 120, 40, NOW);
    let cmds = update::start(&mut state);
    let hello = call_id(&cmds, |c| *c == Call::Hello);
    let me = Me {
        user_id: ME.to_string(),
        app_admin: false,
    };
    let cmds = update(
        &mut state,
        Msg::Reply {
            id: hello,
            reply: Reply::Hello(Ok(Hello {
                me,
                last_event_id: 1,
            })),
        },
    );
    update(&mut state, Msg::Stream(StreamMsg::Connected));
    let groups_id = call_id(&cmds, |c| matches!(c, Call::Groups { .. }));
    let group = GroupInfo {
        group_id: BIG.to_string(),
        group_type: GroupType::Public,
        name: "Big Room".to_string(),
        introduction: String::new(),
        notification: String::new(),
        face_url: String::new(),
        owner: Some(ME.to_string()),
        add_option: AddOption::Auth,
        invite_option: None,
        max_members: Some(200_000),
        member_count: members as u64,
        created_at: NOW / 1000 - 86_400,
        info_seq: 1,
        mute_all: false,
        my_role: Some(Role::Owner),
        pending_requests: None,
    };
    let cmds = update(
        &mut state,
        Msg::Reply {
            id: groups_id,
            reply: Reply::Groups(Ok(vec![group])),
        },
    );
    let members_id = call_id(&cmds, |c| matches!(c, Call::Members { .. }));
    // The first page through `update`, the rest put in place directly
    // (page after page through `update` would take seconds to build).
    let page = (update::PAGE as usize).min(members);
    update(
        &mut state,
        Msg::Reply {
            id: members_id,
            reply: Reply::Members {
                group_id: BIG.to_string(),
                cursor: None,
                result: Ok(Page {
                    items: (0..page).map(member).collect(),
                    next_cursor: (page < members).then(|| format!("m{page}")),
                }),
            },
        },
    );
    let rest: Vec<MemberInfo> = (page..members).map(member).collect();
    state
        .members
        .ids
        .extend(rest.iter().map(|m| m.user_id.clone()));
    state.members.list.items.extend(rest);
    state.members.next_cursor = None;
    assert_eq!(state.members.list.items.len(), members);
    update(
        &mut state,
        key(KeyCode::Char(
            char::from_digit(Pane::Members.number() as u32, 10).expect("pane number"),
        )),
    );
    let rows = state.rows(Pane::Members);
    state.members.list.move_to(row, rows);
    state
}

fn frame(c: &mut Criterion, scale: &Scale) {
    let m = scale.members;
    let a = console(m, m / 2);
    let rows = a.rows(Pane::Members);
    let mut b = a.clone();
    b.members.list.move_to(m / 2 + rows, rows);
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    let mut g = c.benchmark_group("frame");
    // Alternating between two pages, so each frame has a diff to make.
    let mut flip = false;
    g.bench_function(format!("Terminal::draw 120x40, {m} members"), |bch| {
        bch.iter(|| {
            flip = !flip;
            let s = if flip { &a } else { &b };
            term.draw(|f| view::draw(f, s)).expect("test backend");
        })
    });
    g.finish();
}

fn main() {
    let scale = Scale::from_args();
    let mut c = Criterion::default().configure_from_args();
    rules(&mut c);
    fanout(&mut c, &scale);
    frame(&mut c, &scale);
    c.final_summary();
}
