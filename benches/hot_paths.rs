//! Criterion figures for the hot paths:
//!
//! - `rules/*`: one permission check of the pure model on prepared facts
//!   (joining under each join option, inviting, kicking by role).
//! - `fanout/*`: one committed event fanned out by the live hub
//!   (`server::hub`) to 100,000 registered streams, each folding the
//!   membership change and deciding entitlement (half of them members of
//!   the group, half not), on one thread, shard after shard (the server
//!   runs its shards in parallel, one thread per core). `cursors`: until
//!   every stream has the frame queued. `tasks`: each stream also has a
//!   task parked on it, as a stream without a socket does, timed until
//!   every member's task has taken its frame. Target: under 50 ms an event.
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
use groupdeck::server::hub::{FrameBatch, Hub, Registration, Work};
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
use tokio::sync::Notify;

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
    Arc::new(vec![Published {
        event,
        audience: Audience::Members,
        membership: MembershipChange {
            joined: vec![newcomer],
            ..MembershipChange::default()
        },
    }])
}

/// `n` live registrations, the even ones members of the big group.
fn streams(hub: &Hub, n: usize) -> Vec<Registration> {
    (0..n)
        .map(|i| {
            let reg = hub.register(Some(format!("user-{i:06}")), None);
            let mut groups = HashSet::new();
            if i % 2 == 0 {
                groups.insert(BIG.to_string());
            }
            // Nothing was buffered: going live replays nothing.
            let _ = reg.sub.go_live(0, groups);
            reg
        })
        .collect()
}

fn frames_taken(reg: &Registration) -> usize {
    match reg.sub.next_work() {
        Work::Write(frames) => frames.len(),
        _ => 0,
    }
}

fn fanout(c: &mut Criterion, scale: &Scale) {
    let n = scale.receivers;
    let shards = std::thread::available_parallelism().map_or(2, |c| c.get());
    let mut g = c.benchmark_group("fanout");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut id = 0;

    let hub = Hub::inert(shards);
    let regs = streams(&hub, n);
    g.bench_function(format!("one event to {n} cursors"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                id += 1;
                let batch = Arc::new(FrameBatch::new(published(id)));
                let t = Instant::now();
                hub.fan_out_now(&batch);
                total += t.elapsed();
                let delivered: usize = regs.iter().map(frames_taken).sum();
                assert_eq!(delivered, n.div_ceil(2));
            }
            total
        })
    });
    drop(regs);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    let hub = Hub::inert(shards);
    let regs: Vec<Arc<Registration>> = streams(&hub, n).into_iter().map(Arc::new).collect();
    let members = n.div_ceil(2);
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let tasks: Vec<_> = regs
        .iter()
        .map(|reg| {
            let (reg, done, all_done) = (reg.clone(), done.clone(), all_done.clone());
            rt.spawn(async move {
                loop {
                    reg.sub.woken().await;
                    if frames_taken(&reg) > 0 && done.fetch_add(1, Ordering::AcqRel) + 1 == members
                    {
                        all_done.notify_one();
                    }
                }
            })
        })
        .collect();
    g.bench_function(format!("one event to {n} parked tasks"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                id += 1;
                let batch = Arc::new(FrameBatch::new(published(id)));
                done.store(0, Ordering::Release);
                let t = Instant::now();
                hub.fan_out_now(&batch);
                rt.block_on(all_done.notified());
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
    for t in tasks {
        t.abort();
    }
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
