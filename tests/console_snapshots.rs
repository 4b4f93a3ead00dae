//! Whole-screen snapshots of the console, drawn on ratatui's `TestBackend`
//! and kept with insta: the main screen at 80×24 and 120×40 over a world like
//! the demo's (all five group types, CJK and emoji names, roles, join
//! requests, twenty past events), and the screens people meet along the way:
//! too small, help, a confirmation, a sticky error, the create form,
//! read-only, no colour, loading and a paused event log.
//!
//! Everything drawn is fixed: the clock, the event times and the server
//! address. `INSTA_UPDATE=always cargo test --test console_snapshots` writes
//! new snapshots; with `CI=true` insta refuses to, and a change fails.

mod console_world;

use console_world::{
    Console, ME, MINUTE, NOW, call_id, ev, group, hello, joined, member, owner_cannot_quit,
    request, requested, settings, transport_error,
};
use groupdeck::model::{AddOption, Event, EventKind, GroupType, Role};
use groupdeck::server::api::{GroupInfo, JoinRequestInfo, MemberInfo};
use groupdeck::tui::msg::{Call, Msg, Reply};
use groupdeck::tui::state::{Settings, State};
use groupdeck::tui::update::start;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use serde_json::json;

/// The newest event id when the world was read: the twenty past events.
const BASELINE: u64 = 20;

// ---- the world ----

/// The demo's settings: the title bar says DEMO.
fn demo_settings(read_only: bool, color: bool) -> Settings {
    let mut s = settings(read_only);
    s.demo = true;
    s.theme.color = color;
    s
}

/// A group as the demo seeds it, with its owner and join option.
#[allow(clippy::too_many_arguments)]
fn demo_group(
    id: &str,
    name: &str,
    t: GroupType,
    owner: &str,
    option: AddOption,
    role: Role,
    count: u64,
) -> GroupInfo {
    GroupInfo {
        owner: Some(owner.into()),
        add_option: option,
        created_at: 1_735_689_600,
        info_seq: 3,
        ..group(id, name, t, Some(role), count)
    }
}

/// alice's groups, as the demo seeds them.
fn groups() -> Vec<GroupInfo> {
    use AddOption::*;
    use GroupType::*;
    vec![
        demo_group(
            "rust-guild",
            "Rust Guild 🦀",
            Public,
            ME,
            Auth,
            Role::Owner,
            17,
        ),
        demo_group(
            "coffee-chat",
            "Coffee Chat ☕",
            Public,
            ME,
            Any,
            Role::Owner,
            13,
        ),
        demo_group(
            "platform-team",
            "Platform Team 平台组",
            Work,
            ME,
            Forbid,
            Role::Owner,
            7,
        ),
        demo_group(
            "@TGS#_makers",
            "Makers 创客社区",
            Community,
            ME,
            Auth,
            Role::Owner,
            1_512,
        ),
        demo_group(
            "launch-live",
            "Launch Live 🚀",
            AVChatRoom,
            ME,
            Any,
            Role::Owner,
            11,
        ),
        demo_group(
            "design-crit",
            "Design Critique 设计评审",
            Public,
            "priya",
            Auth,
            Role::Admin,
            9,
        ),
        demo_group(
            "@TGS#_indie-games",
            "Indie Game Dev 🎮",
            Community,
            "diego",
            Any,
            Role::Admin,
            13,
        ),
        demo_group(
            "sre-oncall",
            "SRE 值班室 War Room",
            Meeting,
            "marcus",
            Any,
            Role::Admin,
            6,
        ),
        demo_group(
            "book-club",
            "読書会 Book Club 📚",
            Public,
            "yuki",
            Auth,
            Role::Member,
            10,
        ),
    ]
}

/// The members of `rust-guild`.
fn members() -> Vec<MemberInfo> {
    let rows: [(&str, Role, &str); 17] = [
        ("alice", Role::Owner, "Alice Chen"),
        ("bob", Role::Admin, "Bob Martin"),
        ("carol", Role::Member, "Carol Okafor"),
        ("sam", Role::Member, ""),
        ("noah", Role::Member, "Noah Williams (NYC office)"),
        ("emma", Role::Member, ""),
        ("liam", Role::Member, "Liam O'Connor"),
        ("ivan", Role::Member, ""),
        ("anna", Role::Member, ""),
        ("kenji", Role::Member, "佐藤 健二"),
        ("raj", Role::Member, ""),
        ("tom", Role::Member, ""),
        ("felix", Role::Member, ""),
        ("grace", Role::Member, ""),
        ("oscar", Role::Member, ""),
        ("chen.jie", Role::Member, "陈杰"),
        ("mateo", Role::Member, "Mateo Rossi ⚽"),
    ];
    rows.iter()
        .map(|(user, role, card)| MemberInfo {
            join_time: 1_735_689_600,
            name_card: card.to_string(),
            ..member(user, *role)
        })
        .collect()
}

/// A pending request, `age_ms` old: to join, or an invitation by `inviter`.
fn demo_request(
    id: u64,
    group: (&str, &str),
    applicant: &str,
    inviter: Option<&str>,
    message: &str,
    age_ms: u64,
) -> JoinRequestInfo {
    JoinRequestInfo {
        group_type: None,
        kind: if inviter.is_some() { "invite" } else { "join" }.into(),
        inviter: inviter.map(str::to_string),
        created_at: NOW - age_ms,
        ..request(id, group.0, group.1, applicant, message)
    }
}

fn requests() -> Vec<JoinRequestInfo> {
    let guild = ("rust-guild", "Rust Guild 🦀");
    vec![
        demo_request(
            12,
            guild,
            "user0042",
            None,
            "Hi! A friend recommended this group.",
            4 * MINUTE,
        ),
        demo_request(
            13,
            guild,
            "hana.kim",
            None,
            "はじめまして、よろしくお願いします。",
            12 * MINUTE,
        ),
        demo_request(
            14,
            ("@TGS#_makers", "Makers 创客社区"),
            "li.na",
            None,
            "新人报到，请多关照！",
            2 * 60 * MINUTE,
        ),
        demo_request(
            15,
            ("design-crit", "Design Critique 设计评审"),
            "zoe",
            None,
            "Saw your talk at the meetup — can I join?",
            26 * 60 * MINUTE,
        ),
        demo_request(
            16,
            ("@TGS#_indie-games", "Indie Game Dev 🎮"),
            "oscar",
            Some("mateo"),
            "",
            30_000,
        ),
    ]
}

/// The event at the history's pace: from 09:05:00, 75 seconds apart.
fn paced(e: Event) -> Event {
    Event {
        time: NOW - 25 * MINUTE + (e.id - 1) * 75_000,
        ..e
    }
}

/// Twenty past events, the demo's history and a little simulated activity.
fn history() -> Vec<Event> {
    use EventKind::*;
    let events = vec![
        ev(
            1,
            "coffee-chat",
            GroupInfoChanged,
            ME,
            &[],
            json!({"fields": ["add_option"], "add_option": "Any"}),
        ),
        ev(
            2,
            "coffee-chat",
            MemberJoined,
            "grace",
            &["grace"],
            json!({"via": "join", "member_count": 13}),
        ),
        ev(
            3,
            "rust-guild",
            JoinRequested,
            "mateo",
            &["mateo"],
            json!({"request_id": 10, "kind": "join", "message": "Hi! Bob told me about this guild; I maintain a small async crate."}),
        ),
        ev(
            4,
            "rust-guild",
            JoinRequestHandled,
            "bob",
            &["mateo"],
            json!({"request_id": 10, "decision": "accepted", "by": "bob", "reason": ""}),
        ),
        ev(
            5,
            "rust-guild",
            MemberJoined,
            "bob",
            &["mateo"],
            json!({"via": "approval", "member_count": 17}),
        ),
        ev(
            6,
            "rust-guild",
            JoinRequested,
            "deals4u",
            &["deals4u"],
            json!({"request_id": 11, "kind": "join", "message": "cheap followers and stars!!! DM me"}),
        ),
        ev(
            7,
            "rust-guild",
            JoinRequestHandled,
            ME,
            &["deals4u"],
            json!({"request_id": 11, "decision": "refused", "by": ME, "reason": "Looks like spam."}),
        ),
        ev(
            8,
            "@TGS#_makers",
            MemberJoined,
            "carol",
            &["user0913"],
            json!({"via": "invite", "member_count": 1512}),
        ),
        ev(
            9,
            "@TGS#_indie-games",
            AdminGranted,
            "diego",
            &["mateo"],
            json!({"role": "Admin"}),
        ),
        ev(
            10,
            "sre-oncall",
            MemberQuit,
            "raj",
            &["raj"],
            json!({"member_count": 6}),
        ),
        ev(
            11,
            "coffee-chat",
            MemberKicked,
            "mei",
            &["deals4u"],
            json!({"reason": "Off-topic advertising.", "member_count": 13}),
        ),
        ev(
            12,
            "hack-week",
            GroupCreated,
            ME,
            &[ME],
            json!({"name": "Hack Week 2024 🔧", "type": "Public", "member_count": 1}),
        ),
        ev(
            13,
            "rust-guild",
            JoinRequested,
            "user0042",
            &["user0042"],
            json!({"request_id": 12, "kind": "join", "message": "Hi! A friend recommended this group."}),
        ),
        ev(
            14,
            "rust-guild",
            JoinRequested,
            "hana.kim",
            &["hana.kim"],
            json!({"request_id": 13, "kind": "join", "message": "はじめまして、よろしくお願いします。"}),
        ),
        ev(
            15,
            "@TGS#_makers",
            JoinRequested,
            "li.na",
            &["li.na"],
            json!({"request_id": 14, "kind": "join", "message": "新人报到，请多关照！"}),
        ),
        ev(
            16,
            "sre-oncall",
            AdminRevoked,
            "marcus",
            &["tom"],
            json!({"role": "Member"}),
        ),
        ev(
            17,
            "design-crit",
            JoinRequested,
            "zoe",
            &["zoe"],
            json!({"request_id": 15, "kind": "join", "message": "Saw your talk at the meetup — can I join?"}),
        ),
        ev(
            18,
            "@TGS#_indie-games",
            JoinRequested,
            "mateo",
            &["oscar"],
            json!({"request_id": 16, "kind": "invite", "inviter": "mateo", "message": ""}),
        ),
        ev(
            19,
            "launch-live",
            MemberJoined,
            "user1234",
            &["user1234"],
            json!({"via": "join", "member_count": 11}),
        ),
        ev(
            20,
            "hack-week",
            GroupDisbanded,
            ME,
            &[],
            json!({"name": "Hack Week 2024 🔧"}),
        ),
    ];
    events.into_iter().map(paced).collect()
}

// ---- driving the console ----

/// The world loaded, the stream connected and its history in the log.
fn world(width: u16, height: u16, read_only: bool, color: bool) -> Console {
    let mut c = Console::with(demo_settings(read_only, color), width, height);
    c.load(BASELINE, groups(), requests(), members(), None);
    for e in history() {
        c.event(e);
    }
    assert!(c.state.in_flight.is_empty(), "{:?}", c.state.in_flight);
    assert!(c.state.notes.is_empty(), "{:?}", c.state.notes);
    c
}

fn demo(width: u16, height: u16) -> Console {
    world(width, height, false, true)
}

fn render(state: &State) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(state.width, state.height)).expect("test terminal");
    terminal
        .draw(|f| groupdeck::tui::view::draw(f, state))
        .expect("draw");
    terminal
}

/// The screen as text, one line per row.
fn screen(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

fn contains(terminal: &Terminal<TestBackend>, text: &str) -> bool {
    screen(terminal).iter().any(|l| l.contains(text))
}

// ---- the main screen ----

#[test]
fn main_screen_80x24() {
    let c = demo(80, 24);
    let t = render(&c.state);
    insta::assert_snapshot!("main_80x24", t.backend());
    assert!(contains(&t, "DEMO"));
    assert!(contains(&t, "● connected"));
}

#[test]
fn main_screen_120x40() {
    let c = demo(120, 40);
    let t = render(&c.state);
    insta::assert_snapshot!("main_120x40", t.backend());
}

#[test]
fn members_focused_with_a_marked_request_120x40() {
    let mut c = demo(120, 40);
    c.press('3');
    c.press(' ');
    c.press(' ');
    c.press('2');
    c.press('j');
    let t = render(&c.state);
    insta::assert_snapshot!("members_focused_120x40", t.backend());
    assert!(contains(&t, "2 marked"));
}

#[test]
fn too_small_50x12() {
    let c = demo(50, 12);
    let t = render(&c.state);
    insta::assert_snapshot!("too_small_50x12", t.backend());
    assert!(contains(&t, "terminal too small"));
}

#[test]
fn the_minimum_size_draws_the_panes() {
    let c = demo(60, 16);
    let t = render(&c.state);
    assert!(!contains(&t, "terminal too small"));
    insta::assert_snapshot!("minimum_60x16", t.backend());
}

// ---- popups and the message line ----

#[test]
fn help_popup_120x40() {
    let mut c = demo(120, 40);
    c.press('?');
    let t = render(&c.state);
    insta::assert_snapshot!("help_120x40", t.backend());
    assert!(contains(&t, "kick the selected member"));
}

#[test]
fn help_scrolled_to_the_end_120x40() {
    let mut c = demo(120, 40);
    c.press('?');
    for _ in 0..40 {
        c.press('j');
    }
    let t = render(&c.state);
    insta::assert_snapshot!("help_end_120x40", t.backend());
    assert!(contains(&t, "approve the selected join request"));
    // The closing line fits the popup (or is cut with an ellipsis).
    let lines = screen(&t);
    let last = lines
        .iter()
        .find(|l| l.contains("Esc closes popups"))
        .expect("the closing line");
    let start = last.find("Esc closes popups").unwrap_or(0);
    let inside = last[start..].split('│').next().unwrap_or("");
    assert!(
        inside.trim_end().ends_with("error.") || inside.trim_end().ends_with('…'),
        "the help line is cut without a mark: {inside:?}"
    );
    assert!(contains(&t, "Times in the Events pane are UTC."));
}

#[test]
fn help_popup_80x24() {
    let mut c = demo(80, 24);
    c.press('?');
    let t = render(&c.state);
    insta::assert_snapshot!("help_80x24", t.backend());
}

#[test]
fn confirm_leave_80x24() {
    let mut c = demo(80, 24);
    c.press('L');
    let t = render(&c.state);
    insta::assert_snapshot!("confirm_leave_80x24", t.backend());
    assert!(contains(&t, "[N] No"));
}

#[test]
fn sticky_error_80x24() {
    let mut c = demo(80, 24);
    c.press('L');
    let out = c.press('y');
    let leave = call_id(&out, |c| matches!(c, Call::Leave { .. }));
    c.reply(leave, owner_cannot_quit());
    let t = render(&c.state);
    insta::assert_snapshot!("error_10009_80x24", t.backend());
    let lines = screen(&t);
    assert!(lines[22].contains("10009"), "{}", lines[22]);
    // Still there later; Esc removes it.
    c.send(Msg::Tick {
        now_ms: NOW + MINUTE,
    });
    assert!(screen(&render(&c.state))[22].contains("10009"));
    c.code(KeyCode::Esc);
    assert!(!screen(&render(&c.state))[22].contains("10009"));
}

#[test]
fn create_form_80x24() {
    let mut c = demo(80, 24);
    c.press('c');
    c.type_text("读书会 Book club");
    let t = render(&c.state);
    insta::assert_snapshot!("create_form_80x24", t.backend());
}

#[test]
fn create_form_refusal_80x24() {
    let mut c = demo(80, 24);
    c.press('c');
    c.code(KeyCode::Enter);
    let t = render(&c.state);
    insta::assert_snapshot!("create_form_refused_80x24", t.backend());
    assert!(contains(&t, "a group needs a name"));
}

#[test]
fn command_line_with_completions_80x24() {
    let mut c = demo(80, 24);
    c.press(':');
    c.press('q');
    c.code(KeyCode::Tab);
    let t = render(&c.state);
    insta::assert_snapshot!("command_line_80x24", t.backend());
}

#[test]
fn popups_keep_their_border_beside_wide_characters() {
    // The create form's left edge falls on the second half of a CJK
    // character in the Groups pane ("SRE 值班室"); the form still needs its
    // border on every row, so nothing wide may straddle the edge.
    let mut c = demo(80, 24);
    c.press('c');
    check_popup_edges(&render(&c.state));
    let mut c = demo(120, 40);
    c.press('?');
    check_popup_edges(&render(&c.state));
}

/// Every row of the popup (found by its rounded corners) starts with a
/// border cell that is not covered by a wide character just left of it.
fn check_popup_edges(t: &Terminal<TestBackend>) {
    use unicode_width::UnicodeWidthStr;
    let buf = t.backend().buffer();
    let (x, top) = (0..buf.area.height)
        .find_map(|y| {
            (0..buf.area.width)
                .find(|x| buf[(*x, y)].symbol() == "╭")
                .map(|x| (x, y))
        })
        .expect("a popup");
    let bottom = (top..buf.area.height)
        .find(|y| buf[(x, *y)].symbol() == "╰")
        .expect("the popup's bottom");
    for y in top..=bottom {
        let left = buf[(x - 1, y)].symbol();
        assert!(
            left.width() <= 1,
            "row {y}: {left:?} at column {} covers the popup's border at {x}",
            x - 1
        );
    }
}

#[test]
fn emoji_with_a_variation_selector_is_cut_to_its_column() {
    // "🛠️" is U+1F6E0 U+FE0F: two columns on screen. A name cut just after
    // it must still end with "…" inside its column, and the columns after
    // the name must not move.
    let mut c = demo(80, 24);
    let out = c.event(paced(joined(21, "hack-week", ME, 3)));
    let id = call_id(&out, |c| matches!(c, Call::Group { .. }));
    c.reply(
        id,
        Reply::Group {
            group_id: "hack-week".into(),
            result: Ok(demo_group(
                "hack-week",
                "Hack Week 🛠️ 2024 edition",
                GroupType::Public,
                ME,
                AddOption::Any,
                Role::Member,
                3,
            )),
        },
    );
    c.press('G');
    let t = render(&c.state);
    let lines = screen(&t);
    let buf = t.backend().buffer();
    let groups = c.state.areas().groups;
    let row = (groups.y + 2..groups.bottom())
        .find(|y| lines[*y as usize].contains("Hack Week"))
        .expect("the group's row");
    let public_at = |y: u16| {
        (0..buf.area.width - 5).find(|x| {
            (0..6)
                .map(|i| buf[(*x + i, y)].symbol())
                .collect::<String>()
                == "Public"
        })
    };
    let other = (groups.y + 2..groups.bottom())
        .find(|y| *y != row && public_at(*y).is_some())
        .expect("another Public group");
    assert_eq!(
        public_at(row),
        public_at(other),
        "the TYPE column moved on the row of \"Hack Week 🛠️ 2024 edition\": {}",
        lines[row as usize]
    );
    assert!(lines[row as usize].contains('…'), "{}", lines[row as usize]);
}

// ---- modes ----

#[test]
fn read_only_120x40() {
    let c = world(120, 40, true, true);
    let t = render(&c.state);
    insta::assert_snapshot!("read_only_120x40", t.backend());
    let status = &screen(&t)[39];
    assert!(status.contains("read-only"), "{status}");
    for changing in [
        "approve", "reject", "leave", "disband", "create", "join", "kick",
    ] {
        assert!(!status.contains(changing), "{changing} in {status}");
    }
}

#[test]
fn read_only_hints_per_pane_80x24() {
    let mut c = world(80, 24, true, true);
    for pane in ['1', '2', '3', '4'] {
        c.press(pane);
        let t = render(&c.state);
        let status = &screen(&t)[23];
        for changing in [
            "approve", "reject", "mark", "leave", "disband", "kick", "admin",
        ] {
            assert!(
                !status.contains(changing),
                "pane {pane}: {changing} in {status}"
            );
        }
    }
}

#[test]
fn read_only_help_120x40() {
    let mut c = world(120, 40, true, true);
    c.press('?');
    let t = render(&c.state);
    assert!(!contains(&t, "disband the selected group"));
    assert!(contains(&t, "move down"));
    assert!(contains(&t, ":refresh"));
    // Changing commands are hidden like changing keys.
    for command in [
        ":join",
        ":invite",
        ":create",
        ":option",
        ":kick",
        ":quit-group",
        ":disband",
    ] {
        assert!(!contains(&t, command), "read-only help lists {command}");
    }
}

#[test]
fn no_color_80x24() {
    let c = world(80, 24, false, false);
    let t = render(&c.state);
    insta::assert_snapshot!("no_color_80x24", t.backend());
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "a coloured cell: {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "a coloured cell: {cell:?}");
    }
    // Focus and selection are still marked: the selected group's row is
    // reversed, and so is the focused pane's title.
    let lines = screen(&t);
    let row = lines
        .iter()
        .position(|l| l.contains("Rust Guild"))
        .expect("the first group") as u16;
    assert!(buf[(2, row)].modifier.contains(Modifier::REVERSED));
    let title_x = (0..buf.area.width - 2)
        .find(|x| buf[(*x, 0)].symbol() == "1" && buf[(*x + 2, 0)].symbol() == "G")
        .expect("the Groups title");
    assert!(buf[(title_x, 0)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn colour_marks_kinds_and_roles() {
    let c = demo(80, 24);
    let t = render(&c.state);
    let buf = t.backend().buffer();
    assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
}

// ---- loading and the event log ----

#[test]
fn loading_and_failed_panes_80x24() {
    let mut c = Console::with(demo_settings(false, true), 80, 24);
    start(&mut c.state);
    let out = c.reply(1, hello(false, BASELINE));
    let requests_id = call_id(&out, |c| matches!(c, Call::Requests { .. }));
    let unreachable = transport_error("cannot reach 127.0.0.1:9090 (connection refused)");
    c.reply(
        requests_id,
        Reply::Requests {
            cursor: None,
            result: Err(unreachable),
        },
    );
    let t = render(&c.state);
    insta::assert_snapshot!("loading_80x24", t.backend());
    assert!(contains(&t, "loading…"));
    assert!(contains(&t, "error: cannot reach"));
}

#[test]
fn empty_world_80x24() {
    let mut c = Console::with(demo_settings(false, true), 80, 24);
    c.load(0, vec![], vec![], vec![], None);
    let t = render(&c.state);
    insta::assert_snapshot!("empty_80x24", t.backend());
    assert!(contains(&t, "no groups yet"));
}

#[test]
fn events_paused_80x24() {
    let mut c = demo(80, 24);
    c.press('4');
    for _ in 0..5 {
        c.press('k');
    }
    c.event(Event {
        time: NOW - 10_000,
        ..joined(21, "rust-guild", "sofia", 18)
    });
    let lurker = "Long-time lurker, first-time applicant 👋";
    c.event(Event {
        time: NOW - 5_000,
        ..requested(22, "rust-guild", "omar", 17, lurker)
    });
    let t = render(&c.state);
    insta::assert_snapshot!("events_paused_80x24", t.backend());
    assert!(contains(&t, "paused · 2 new"));
}
