//! Frame cost of the console with big lists: how long the view takes to
//! build one frame onto ratatui's `TestBackend` (so the figure is the
//! console's own work, not the terminal's), how long a whole
//! `Terminal::draw` takes (build, diff against the previous frame, swap),
//! and how long `update` takes for the messages of one frame. The state is
//! built by feeding messages to `update`, as the running console would:
//! hello, groups, page after page of join requests, the event log, then
//! members (the bulk of them put in place directly). Target: under 2 ms a
//! frame (the loop draws at most about 60 frames a second and must stay
//! responsive while it does).
//!
//! `cargo bench --bench render` (an optional argument keeps only the rows
//! whose name contains it: `cargo bench --bench render -- events`; env
//! BENCH_MS, default 1000: the time measured per row, after a warm-up).
//! Under `cargo test` it runs as a short smoke test on small lists.

mod console_fixture;
use console_fixture::{BIG, ME, NOW, call_id, key, member};

use groupdeck::model::{AddOption, Event, EventKind, GroupType, Role};
use groupdeck::server::api::{GroupInfo, JoinRequestInfo, Me, Page};
use groupdeck::tui::keymap::Keymap;
use groupdeck::tui::msg::{Call, Hello, Reply, StreamMsg};
use groupdeck::tui::state::{Pane, Settings};
use groupdeck::tui::theme::Theme;
use groupdeck::tui::{Msg, State, update, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The newest event id when the console starts: the log's history ends here.
const BASE_EVENT: u64 = 50_000_000;
const TARGET_US: f64 = 2_000.0;
const SIZES: [(u16, u16); 2] = [(120, 40), (200, 60)];

/// How much data, and how long to measure.
struct Scale {
    members: usize,
    events: usize,
    requests: usize,
    burst: usize,
    page: usize,
    budget: Duration,
    min_samples: usize,
    max_samples: usize,
}

impl Scale {
    fn full(budget: Duration) -> Scale {
        Scale {
            members: 100_000,
            events: 10_000,
            requests: 5_000,
            burst: 500,
            page: update::PAGE as usize,
            budget,
            min_samples: 5,
            max_samples: 20_000,
        }
    }

    /// Small enough for an unoptimised build under `cargo test`.
    fn smoke() -> Scale {
        Scale {
            members: 1_000,
            events: 500,
            requests: 300,
            burst: 20,
            page: update::PAGE as usize,
            budget: Duration::from_millis(20),
            min_samples: 2,
            max_samples: 50,
        }
    }
}

struct Stats {
    n: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let n = samples.len().max(1);
        let at = |p: f64| {
            let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
            samples.get(idx).copied().unwrap_or_default()
        };
        Stats {
            n: samples.len(),
            mean: samples.iter().sum::<Duration>() / n as u32,
            p50: at(0.50),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Bench {
    scale: Scale,
    only: Option<String>,
    over: Vec<String>,
}

impl Bench {
    fn wanted(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| name.contains(o))
    }

    /// Runs `once` (which times its own part and returns it) until the
    /// budget is spent, after a warm-up, and prints one table row.
    fn run(&mut self, name: &str, size: &str, mut once: impl FnMut() -> Duration) {
        if !self.wanted(name) {
            return;
        }
        let s = &self.scale;
        let started = Instant::now();
        let first = once();
        // A run longer than half the budget is its own warm-up and its own
        // sample, so that a pathological row still ends soon.
        let slow = first >= s.budget / 2;
        let mut samples = Vec::new();
        if slow {
            samples.push(first);
        } else {
            let warm_until = started + s.budget / 5;
            let mut warm = 1;
            while Instant::now() < warm_until && warm < 200 {
                black_box(once());
                warm += 1;
            }
        }
        let (min, started) = if slow {
            (1, started)
        } else {
            (s.min_samples, Instant::now())
        };
        while samples.len() < min || (started.elapsed() < s.budget && samples.len() < s.max_samples)
        {
            samples.push(once());
        }
        self.report(name, size, Stats::of(samples));
    }

    fn report(&mut self, name: &str, size: &str, st: Stats) {
        let ok = us(st.p99) < TARGET_US;
        if !ok {
            self.over.push(format!("{name} @ {size}"));
        }
        println!(
            "{:<66} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>6}  {}",
            name,
            size,
            us(st.mean),
            us(st.p50),
            us(st.p99),
            us(st.max),
            st.n,
            if ok { "ok" } else { "OVER" }
        );
    }
}

// ---- building the state through `update` ----

fn keys(state: &mut State, text: &str) {
    for c in text.chars() {
        update(state, key(KeyCode::Char(c)));
    }
}

fn settings() -> Settings {
    Settings {
        user: ME.to_string(),
        server: "http://127.0.0.1:7070".to_string(),
        demo: false,
        read_only: false,
        theme: Theme::default(),
        keymap: Keymap::defaults(),
    }
}

const GROUP_NAMES: [&str; 24] = [
    "Big Room",
    "读书会 reading club",
    "ops on-call",
    "design review",
    "Tuesday chess",
    "release train",
    "🎉 party planning",
    "support tier 2",
    "kernel hackers",
    "马拉松 runners",
    "board games",
    "security",
    "data platform",
    "mobile",
    "hiring loop",
    "frontend guild",
    "cooking",
    "photography",
    "infra budget",
    "alumni 2019",
    "book swap",
    "cycling",
    "sales EMEA",
    "moderators",
];

fn groups(members: usize) -> Vec<GroupInfo> {
    GROUP_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| GroupInfo {
            group_id: if i == 0 {
                BIG.to_string()
            } else {
                format!("@TGS#2G{i:05}")
            },
            group_type: GroupType::ALL[i % GroupType::ALL.len()],
            name: name.to_string(),
            introduction: String::new(),
            notification: String::new(),
            face_url: String::new(),
            owner: Some(if i % 3 == 2 { "someone-else" } else { ME }.to_string()),
            add_option: AddOption::Auth,
            invite_option: None,
            max_members: Some(200_000),
            member_count: if i == 0 {
                members as u64
            } else {
                40 + i as u64 * 13
            },
            created_at: NOW / 1000 - 86_400 * (i as u64 + 1),
            info_seq: 1,
            mute_all: false,
            my_role: Some(match i % 3 {
                0 => Role::Owner,
                1 => Role::Admin,
                _ => Role::Member,
            }),
            pending_requests: None,
        })
        .collect()
}

fn request(i: usize, groups: &[GroupInfo]) -> JoinRequestInfo {
    // Requests of the groups this user may decide (owner or admin).
    let deciders: Vec<&GroupInfo> = groups
        .iter()
        .filter(|g| matches!(g.my_role, Some(Role::Owner | Role::Admin)))
        .collect();
    let g = deciders[i % deciders.len()];
    let invite = i % 7 == 0;
    JoinRequestInfo {
        id: 1_000 + i as u64,
        group_id: g.group_id.clone(),
        group_name: g.name.clone(),
        group_type: Some(g.group_type),
        kind: if invite { "invite" } else { "join" }.to_string(),
        applicant: format!("applicant-{i:05}"),
        inviter: invite.then(|| format!("user-{:06}", i * 31 % 100_000)),
        message: match i % 4 {
            0 => String::new(),
            1 => "hi! I run the Tuesday reading group, may I join?".to_string(),
            2 => "请让我加入，谢谢".to_string(),
            _ => "line one\nline two with \x1b[31mescape".to_string(),
        },
        created_at: NOW - (i as u64 % 5_000) * 37_000,
        status: "pending".to_string(),
        handled_by: None,
        handled_at: None,
        reason: String::new(),
        can_decide: true,
    }
}

/// One event of the log; `i` varies kind, group and people.
fn event(id: u64, i: usize, time: u64, groups: &[GroupInfo]) -> Event {
    const KINDS: [EventKind; 8] = [
        EventKind::MemberJoined,
        EventKind::MemberQuit,
        EventKind::JoinRequested,
        EventKind::MemberJoined,
        EventKind::AdminGranted,
        EventKind::GroupInfoChanged,
        EventKind::MemberKicked,
        EventKind::JoinRequestHandled,
    ];
    let g = &groups[(i * 7) % groups.len()];
    let kind = KINDS[(i / 3) % KINDS.len()];
    let target = format!("user-{:06}", (i * 7919) % 100_000);
    let detail = match kind {
        EventKind::MemberJoined => json!({"via": "approval", "member_count": g.member_count}),
        EventKind::JoinRequested => json!({
            "request_id": i, "kind": "join",
            "message": "hi! I run the Tuesday reading group, may I join?"
        }),
        EventKind::GroupInfoChanged => json!({
            "fields": ["name", "add_option"], "name": g.name, "add_option": "Any"
        }),
        EventKind::MemberKicked => json!({"reason": "spam links"}),
        EventKind::JoinRequestHandled => json!({"request_id": i, "decision": "approved"}),
        _ => json!({}),
    };
    Event {
        id,
        time,
        group_id: g.group_id.clone(),
        kind,
        actor: if i % 2 == 0 { ME } else { "user-000017" }.to_string(),
        targets: vec![target],
        detail,
    }
}

/// The message the stream delivers for a live event.
fn live(e: Event) -> Msg {
    Msg::Stream(StreamMsg::Event(Box::new(e)))
}

/// The console just before the last page of members arrives.
struct LastPage {
    before: State,
    msg: Msg,
    loaded: usize,
}

/// A console with everything loaded: 24 groups, the join requests (page
/// by page, as scrolling to the bottom asks for them), a full event log,
/// and `members` members of the first group.
fn loaded(scale: &Scale) -> (State, LastPage) {
    let (w, h) = SIZES[0];
    let mut state = State::new(settings(), w, h, NOW);
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
                last_event_id: BASE_EVENT,
            })),
        },
    );
    update(&mut state, Msg::Stream(StreamMsg::Connected));
    let groups_id = call_id(&cmds, |c| matches!(c, Call::Groups { .. }));
    let mut requests_id = call_id(&cmds, |c| matches!(c, Call::Requests { .. }));
    let groups = groups(scale.members);
    let cmds = update(
        &mut state,
        Msg::Reply {
            id: groups_id,
            reply: Reply::Groups(Ok(groups.clone())),
        },
    );
    let mut members_id = call_id(&cmds, |c| matches!(c, Call::Members { .. }));

    // Join requests: one page, then End in the Requests pane asks for the next.
    keys(&mut state, "3");
    let mut sent = 0;
    while sent < scale.requests {
        let n = scale.page.min(scale.requests - sent);
        let items: Vec<JoinRequestInfo> = (sent..sent + n).map(|i| request(i, &groups)).collect();
        let cursor = (sent > 0).then(|| format!("r{sent}"));
        sent += n;
        let next = (sent < scale.requests).then(|| format!("r{sent}"));
        update(
            &mut state,
            Msg::Reply {
                id: requests_id,
                reply: Reply::Requests {
                    cursor,
                    result: Ok(Page {
                        items,
                        next_cursor: next.clone(),
                    }),
                },
            },
        );
        if next.is_some() {
            let cmds = update(&mut state, key(KeyCode::End));
            requests_id = call_id(&cmds, |c| matches!(c, Call::Requests { .. }));
        }
    }
    assert_eq!(state.requests.list.items.len(), scale.requests);

    // The log: history up to the start (shown, not applied to the panes).
    let first = BASE_EVENT + 1 - scale.events as u64;
    for i in 0..scale.events {
        let time = NOW - (scale.events - i) as u64 * 1_000;
        update(&mut state, live(event(first + i as u64, i, time, &groups)));
    }
    assert_eq!(state.log.events.len(), scale.events);

    // Members: the first pages as scrolling to the bottom asks for them;
    // the middle filled in directly (page by page through `update` the
    // whole load would take seconds: each page costs more than the one
    // before, see the page row of the table); the last page kept to be
    // timed through `update`.
    keys(&mut state, "2");
    let page = |id: u64, from: usize, to: usize| Msg::Reply {
        id,
        reply: Reply::Members {
            group_id: BIG.to_string(),
            cursor: (from > 0).then(|| format!("m{from}")),
            result: Ok(Page {
                items: (from..to).map(member).collect(),
                next_cursor: (to < scale.members).then(|| format!("m{to}")),
            }),
        },
    };
    let last = scale.members - scale.page;
    let by_pages = (3 * scale.page).min(last);
    let mut sent = 0;
    while sent < by_pages {
        let to = (sent + scale.page).min(by_pages);
        update(&mut state, page(members_id, sent, to));
        sent = to;
        if sent < by_pages {
            let cmds = update(&mut state, key(KeyCode::End));
            members_id = call_id(&cmds, |c| matches!(c, Call::Members { .. }));
        }
    }
    state.members.list.items.extend((sent..last).map(member));
    state.members.next_cursor = Some(format!("m{last}"));
    let cmds = update(&mut state, key(KeyCode::End));
    members_id = call_id(&cmds, |c| matches!(c, Call::Members { .. }));
    let last_page = LastPage {
        before: state.clone(),
        msg: page(members_id, last, scale.members),
        loaded: last,
    };
    update(&mut state, last_page.msg.clone());
    assert_eq!(state.members.list.items.len(), scale.members);
    assert!(state.members.next_cursor.is_none());
    keys(&mut state, "1");
    (state, last_page)
}

fn resized(base: &State, (w, h): (u16, u16)) -> State {
    let mut s = base.clone();
    update(
        &mut s,
        Msg::Resize {
            width: w,
            height: h,
        },
    );
    s
}

fn focus(state: &mut State, pane: Pane) {
    keys(state, &pane.number().to_string());
}

fn members_at(state: &mut State, row: usize) {
    focus(state, Pane::Members);
    let rows = state.rows(Pane::Members);
    state.members.list.move_to(row, rows);
}

fn requests_at(state: &mut State, row: usize) {
    focus(state, Pane::Requests);
    let rows = state.rows(Pane::Requests);
    state.requests.list.move_to(row, rows);
}

/// Sets a filter the way the user does: `/`, the text, Enter.
fn filter(state: &mut State, text: &str) {
    update(state, key(KeyCode::Char('/')));
    keys(state, text);
    update(state, key(KeyCode::Enter));
}

/// One more live event (not of the shown group), as arrives between frames.
fn one_more_event(state: &mut State) {
    let id = state.last_event_id + 1;
    let groups = state.groups.items.clone();
    let mut e = event(id, 1, NOW, &groups);
    e.group_id = groups[1].group_id.clone();
    update(state, live(e));
}

/// `view::draw` alone onto the test backend's buffer: the frame's build cost.
fn build(bench: &mut Bench, name: &str, size: &str, term: &mut Terminal<TestBackend>, s: &State) {
    bench.run(&format!("{name}: view::draw"), size, || {
        let t = Instant::now();
        let mut frame = term.get_frame();
        view::draw(&mut frame, s);
        t.elapsed()
    });
}

/// A whole `Terminal::draw`, alternating between two states so that every
/// frame has something to diff (a page scrolled, a new row at the tail).
fn full(
    bench: &mut Bench,
    name: &str,
    size: &str,
    term: &mut Terminal<TestBackend>,
    a: &State,
    b: &State,
) {
    let mut flip = false;
    bench.run(&format!("{name}: Terminal::draw"), size, || {
        flip = !flip;
        let s = if flip { a } else { b };
        let t = Instant::now();
        term.draw(|f| view::draw(f, s)).expect("test backend");
        t.elapsed()
    });
}

fn both(
    bench: &mut Bench,
    name: &str,
    size: &str,
    term: &mut Terminal<TestBackend>,
    a: &State,
    b: &State,
) {
    build(bench, name, size, term, a);
    full(bench, name, size, term, a, b);
}

/// `count` live `member_joined` events for a group (applied, not only
/// logged: their ids are past the start).
fn burst(state: &State, group_id: &str, count: usize) -> Vec<Msg> {
    let first = state.last_event_id + 1;
    let mut n = state.group(group_id).map_or(0, |g| g.member_count);
    (0..count)
        .map(|k| {
            n += 1;
            live(Event {
                id: first + k as u64,
                time: NOW,
                group_id: group_id.to_string(),
                kind: EventKind::MemberJoined,
                actor: ME.to_string(),
                targets: vec![format!("newcomer-{k:05}")],
                detail: json!({"via": "approval", "member_count": n}),
            })
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test` this runs as a short smoke test.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full_run = args.iter().any(|a| a == "--bench");
    let only = args.iter().find(|a| !a.starts_with('-')).cloned();
    let budget_ms = std::env::var("BENCH_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1_000)
        .clamp(50, 60_000);
    let scale = if full_run {
        Scale::full(Duration::from_millis(budget_ms))
    } else {
        Scale::smoke()
    };
    let (m, ev, rq, nb) = (scale.members, scale.events, scale.requests, scale.burst);

    if !full_run {
        println!(
            "smoke run (small lists, test build): `cargo bench --bench render` gives the figures"
        );
    }
    let started = Instant::now();
    let (base, last_page) = loaded(&scale);
    println!(
        "console frame cost: {m} members, {ev} events, {rq} join requests; TestBackend; \
         state built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<66} {:>7} {:>10} {:>10} {:>10} {:>10} {:>6}  target < {} µs (p99)",
        "scenario", "size", "mean µs", "p50 µs", "p99 µs", "max µs", "n", TARGET_US
    );
    let mut bench = Bench {
        scale,
        only,
        over: Vec::new(),
    };
    let name = format!(
        "update: members page ({}) at {} loaded",
        bench.scale.page, last_page.loaded
    );
    if bench.wanted(&name) {
        bench.run(&name, "-", || {
            let mut st = last_page.before.clone();
            let msg = last_page.msg.clone();
            let t = Instant::now();
            black_box(update(&mut st, msg));
            t.elapsed()
        });
    }
    drop(last_page);

    for (w, h) in SIZES {
        let size = format!("{w}x{h}");
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        let at = resized(&base, (w, h));

        // 1. Members: cursor in the middle, and at the end; a page down between frames.
        let rows = at.rows(Pane::Members);
        let mut a = at.clone();
        members_at(&mut a, m / 2);
        let mut b = at.clone();
        members_at(&mut b, m / 2 + rows);
        let name = format!("members {m}, cursor middle");
        both(&mut bench, &name, &size, &mut term, &a, &b);
        members_at(&mut a, m - 1);
        members_at(&mut b, m.saturating_sub(1 + rows));
        let name = format!("members {m}, cursor at end");
        both(&mut bench, &name, &size, &mut term, &a, &b);
        drop((a, b));

        // 2. Events: following the tail (a new event between frames), scrolled
        //    up (a page between frames), and with a filter set.
        let mut a = at.clone();
        focus(&mut a, Pane::Events);
        let mut b = a.clone();
        one_more_event(&mut b);
        let name = format!("events {ev}, following the tail");
        both(&mut bench, &name, &size, &mut term, &a, &b);

        let rows = a.rows(Pane::Events);
        let mut up = a.clone();
        up.log.scroll = ev / 2;
        let mut up2 = up.clone();
        up2.log.scroll += rows;
        let name = format!("events {ev}, scrolled up {}", ev / 2);
        both(&mut bench, &name, &size, &mut term, &up, &up2);
        drop((up, up2));

        // "ops" matches the events of one group in 24 (by its name).
        let mut fa = a.clone();
        filter(&mut fa, "ops");
        let shown = groupdeck::tui::update::visible_events(&fa);
        let mut fb = fa.clone();
        one_more_event(&mut fb);
        let name = format!("events {ev}, filter ({shown} match), tail");
        both(&mut bench, &name, &size, &mut term, &fa, &fb);
        fa.log.scroll = shown / 2;
        let mut fb = fa.clone();
        fb.log.scroll += rows;
        let name = format!("events {ev}, filter ({shown} match), up {}", shown / 2);
        both(&mut bench, &name, &size, &mut term, &fa, &fb);

        // A filter nothing matches: every frame looks at the whole log.
        let mut na = a.clone();
        filter(&mut na, "zq");
        let mut nb2 = na.clone();
        one_more_event(&mut nb2);
        let name = format!("events {ev}, filter (0 match)");
        both(&mut bench, &name, &size, &mut term, &na, &nb2);

        // Scrolling the filtered log is an `update` too (it counts the matches).
        if bench.wanted("update: page up, events filtered") {
            let mut s = fa.clone();
            let mut up = true;
            bench.run("update: page up, events filtered", &size, || {
                up = !up;
                let k = key(if up {
                    KeyCode::PageUp
                } else {
                    KeyCode::PageDown
                });
                let t = Instant::now();
                update(&mut s, k);
                t.elapsed()
            });
        }
        drop((a, b, fa, fb, na, nb2));

        // 3. Requests: cursor in the middle; a page down between frames.
        let rows = at.rows(Pane::Requests);
        let mut a = at.clone();
        requests_at(&mut a, rq / 2);
        let mut b = at.clone();
        requests_at(&mut b, rq / 2 + rows);
        let name = format!("requests {rq}, cursor middle");
        both(&mut bench, &name, &size, &mut term, &a, &b);
        drop((a, b));

        // 4. A burst of live member_joined events into the shown group: the
        //    loop applies all of them, then draws one frame.
        let mut shown = at.clone();
        members_at(&mut shown, m / 2);
        let msgs = burst(&shown, BIG, nb);
        let name = format!("update + Terminal::draw: {nb} member_joined at {m}");
        if bench.wanted(&name) {
            bench.run(&name, &size, || {
                let mut st = shown.clone();
                let batch = msgs.clone();
                let t = Instant::now();
                for msg in batch {
                    black_box(update(&mut st, msg));
                }
                term.draw(|f| view::draw(f, &st)).expect("test backend");
                t.elapsed()
            });
        }
    }

    // 4. `update` alone for the burst (the screen size plays no part): into
    //    the shown group, without and with a filter on the Members pane; and
    //    into another group, without and with join requests marked.
    let mut shown = resized(&base, SIZES[0]);
    members_at(&mut shown, m / 2);
    let mut filtered = shown.clone();
    filter(&mut filtered, "user-01");
    let mut marked = shown.clone();
    let marks = (rq / 25).max(1);
    requests_at(&mut marked, 0);
    for _ in 0..marks {
        update(&mut marked, key(KeyCode::Char(' ')));
    }
    assert_eq!(marked.requests.marked.len(), marks);
    let other = base.groups.items[1].group_id.clone();
    let cases = [
        (format!("at {m}"), &shown, BIG),
        (format!("at {m}, members filtered"), &filtered, BIG),
        ("into another group".to_string(), &shown, other.as_str()),
        (
            format!("into another group, {marks} requests marked"),
            &marked,
            other.as_str(),
        ),
    ];
    for (label, s, group) in cases {
        let msgs = burst(s, group, nb);
        let name = format!("update: {nb} member_joined {label}");
        if bench.wanted(&name) {
            let grows = if group == BIG { nb } else { 0 };
            bench.run(&name, "-", || {
                let mut st = s.clone();
                let batch = msgs.clone();
                let t = Instant::now();
                for msg in batch {
                    black_box(update(&mut st, msg));
                }
                let d = t.elapsed();
                assert_eq!(st.members.list.items.len(), m + grows);
                d
            });
        }
    }
    println!(
        "{} rows over the target; total {:.1} s",
        bench.over.len(),
        started.elapsed().as_secs_f64()
    );
    for o in &bench.over {
        println!("  over: {o}");
    }
}
