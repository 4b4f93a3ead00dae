//! The console's behaviour, tested by feeding messages to the pure
//! `update(&mut State, Msg) -> Vec<Cmd>` and looking at the state and the
//! calls it hands back: start-up, loading and paging, every key of the
//! default keymap, popups, forms and the `:` command line, read-only mode,
//! live events applied to the panes, the Events ring, notes and the
//! connection. No terminal, no network, no clock: time moves only by `Tick`.

mod console_world;

use console_world::*;
use groupdeck::model::{AddOption, Event, GroupType, Role};
use groupdeck::server::api::{
    CreateGroupRequest, GroupInfo, InviteOutcomeInfo, InviteReply, InviteStatus, JoinReply,
    JoinRequestInfo, JoinStatus, MemberInfo,
};
use groupdeck::tui::msg::{Call, Cmd, Msg, Outcome, Reply, StreamMsg};
use groupdeck::tui::state::{
    Connection, EVENT_LOG_CAPACITY, FieldValue, FormKind, Level, Load, NOTE_FADE_MS, Pane, Popup,
};
use groupdeck::tui::update::start;
use ratatui::crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use serde_json::json;

// ---- the groups, members and requests in view ----

/// The newest event id when the state was read.
const BASELINE: u64 = 100;

/// Five joined groups, the first three with join requests or changes to test.
fn groups() -> Vec<GroupInfo> {
    vec![
        group(
            "rust-guild",
            "Rust Guild 🦀",
            GroupType::Public,
            Some(Role::Owner),
            4,
        ),
        group(
            "coffee-chat",
            "Coffee Chat ☕",
            GroupType::Public,
            Some(Role::Admin),
            13,
        ),
        group(
            "platform-team",
            "Platform Team 平台组",
            GroupType::Work,
            Some(Role::Owner),
            7,
        ),
        group(
            "book-club",
            "読書会 Book Club 📚",
            GroupType::Public,
            Some(Role::Member),
            9,
        ),
        group(
            "@TGS#_makers",
            "Makers 创客社区",
            GroupType::Community,
            Some(Role::Owner),
            1512,
        ),
    ]
}

/// `n` Public groups `g00`, `g01`, … where I am a plain member.
fn numbered_groups(n: usize) -> Vec<GroupInfo> {
    (0..n)
        .map(|i| {
            group(
                &format!("g{i:02}"),
                &format!("Group {i}"),
                GroupType::Public,
                Some(Role::Member),
                3,
            )
        })
        .collect()
}

/// The members of `rust-guild`.
fn guild_members() -> Vec<MemberInfo> {
    vec![
        member("alice", Role::Owner),
        member("bob", Role::Admin),
        member("carol", Role::Member),
        member("dave", Role::Member),
    ]
}

fn many_members(from: usize, n: usize) -> Vec<MemberInfo> {
    (from..from + n)
        .map(|i| member(&format!("user{i:04}"), Role::Member))
        .collect()
}

fn requests() -> Vec<JoinRequestInfo> {
    vec![
        request(
            7,
            "rust-guild",
            "Rust Guild 🦀",
            "erin",
            "hi, I write async code",
        ),
        request(8, "rust-guild", "Rust Guild 🦀", "frank", ""),
        request(9, "coffee-chat", "Coffee Chat ☕", "gina", "espresso fan"),
    ]
}

impl Console {
    /// Started, greeted, with groups, join requests and the first group's
    /// members loaded, and the event stream connected.
    fn loaded() -> Console {
        Console::loaded_with(false, groups(), guild_members(), None)
    }

    /// The same world, read-only.
    fn loaded_read_only() -> Console {
        Console::loaded_with(true, groups(), guild_members(), None)
    }

    fn loaded_with(
        read_only: bool,
        groups: Vec<GroupInfo>,
        members: Vec<MemberInfo>,
        next_cursor: Option<&str>,
    ) -> Console {
        let mut c = Console::new(read_only);
        c.load(BASELINE, groups, requests(), members, next_cursor);
        c
    }
}

// ---- start-up and loading ----

#[test]
fn start_greets_then_follows_events_and_loads_groups_and_requests() {
    let mut c = Console::new(false);
    let out = start(&mut c.state);
    assert_eq!(
        out,
        vec![Cmd::Call {
            id: 1,
            call: Call::Hello
        }]
    );
    assert_eq!(c.state.connection, Connection::Connecting);
    assert_eq!(c.state.groups.load, Load::Loading);
    assert_eq!(c.state.requests.list.load, Load::Loading);
    assert_eq!(c.state.members.list.load, Load::Idle);

    let out = c.reply(1, hello(false, BASELINE));
    assert!(
        out.contains(&Cmd::Follow {
            after: 0,
            scope_all: false
        }),
        "{out:?}"
    );
    assert_eq!(
        call_list(&out),
        vec![
            Call::Groups { scope_all: false },
            Call::Requests { cursor: None }
        ]
    );
    assert_eq!(c.state.baseline, Some(BASELINE));
    assert!(!c.state.app_admin);
}

#[test]
fn an_app_admin_follows_every_event_from_a_bounded_history() {
    let mut c = Console::new(false);
    start(&mut c.state);
    let out = c.reply(1, hello(true, 5_000));
    let follow = out
        .iter()
        .find(|c| matches!(c, Cmd::Follow { .. }))
        .expect("follow");
    match follow {
        Cmd::Follow { after, scope_all } => {
            assert!(*scope_all);
            assert!(*after < 5_000 && *after > 0, "after {after}");
        }
        _ => unreachable!(),
    }
    assert!(
        calls(&out)
            .iter()
            .any(|(_, c)| *c == Call::Groups { scope_all: true })
    );
    assert!(c.state.app_admin);
}

#[test]
fn a_refused_identity_is_shown_as_refused() {
    let mut c = Console::new(false);
    start(&mut c.state);
    c.reply(
        1,
        Reply::Hello(Err(api_error(
            70001,
            401,
            "UserSig expired; mint a new one",
        ))),
    );
    assert!(matches!(c.state.connection, Connection::Refused(_)));
    assert_eq!(c.last_note().level, Level::Error);
    c.assert_note_mentions("UserSig expired");
}

#[test]
fn replies_fill_the_panes_and_tell_loading_ready_and_failed_apart() {
    let mut c = Console::new(false);
    start(&mut c.state);
    let out = c.reply(1, hello(false, BASELINE));
    let groups_id = call_id(&out, |c| matches!(c, Call::Groups { .. }));
    let requests_id = call_id(&out, |c| matches!(c, Call::Requests { .. }));

    assert_eq!(c.state.groups.load, Load::Loading);
    let out = c.reply(groups_id, Reply::Groups(Ok(groups())));
    assert_eq!(c.state.groups.load, Load::Ready);
    assert_eq!(c.state.groups.items.len(), 5);
    // The first group is selected and its members are asked for.
    assert_eq!(c.state.groups.cursor, 0);
    let (members_id, call) = only_call(out);
    assert_eq!(call, read_members("rust-guild", None));
    assert_eq!(c.state.members.group_id.as_deref(), Some("rust-guild"));
    assert_eq!(c.state.members.list.load, Load::Loading);

    // Join requests fail: the pane says so, the others are unaffected.
    c.reply(
        requests_id,
        Reply::Requests {
            cursor: None,
            result: Err(transport_error("connection refused")),
        },
    );
    assert_eq!(
        c.state.requests.list.load,
        Load::Failed("connection refused".into())
    );
    assert_eq!(c.state.groups.load, Load::Ready);

    // An empty but successful members page is Ready, not Loading.
    c.reply(members_id, members_page("rust-guild", None, vec![], None));
    assert_eq!(c.state.members.list.load, Load::Ready);
    assert!(c.state.members.list.items.is_empty());
}

#[test]
fn a_failed_group_read_is_an_error_and_the_pane_says_failed() {
    let mut c = Console::new(false);
    start(&mut c.state);
    let out = c.reply(1, hello(false, BASELINE));
    let groups_id = call_id(&out, |c| matches!(c, Call::Groups { .. }));
    c.reply(
        groups_id,
        Reply::Groups(Err(api_error(10002, 500, "internal error; try again"))),
    );
    assert!(matches!(c.state.groups.load, Load::Failed(ref m) if m.contains("10002")));
    assert_eq!(c.last_note().level, Level::Error);
    assert!(c.state.sticky_error.is_some());
}

#[test]
fn join_requests_set_pending_counts_on_the_groups_i_manage() {
    let c = Console::loaded();
    assert_eq!(c.request_ids(), vec![7, 8, 9]);
    assert_eq!(c.state.requests.list.load, Load::Ready);
    assert_eq!(c.group("rust-guild").pending_requests, Some(2));
    assert_eq!(c.group("coffee-chat").pending_requests, Some(1));
    assert_eq!(c.group("platform-team").pending_requests, Some(0));
    // A plain member does not decide requests: no count.
    assert_eq!(c.group("book-club").pending_requests, None);
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol", "dave"]);
    assert_eq!(c.state.members.list.load, Load::Ready);
    assert_eq!(c.state.connection, Connection::Connected);
}

#[test]
fn requests_already_decided_or_not_mine_to_decide_stay_out_of_the_inbox() {
    let mut c = Console::loaded();
    let out = c.key(ctrl('r'));
    let requests_id = call_id(&out, |c| matches!(c, Call::Requests { .. }));
    let mut handled = request(20, "rust-guild", "Rust Guild 🦀", "zed", "");
    handled.status = "accepted".into();
    let mut own = request(21, "kernel", "Kernel", ME, "let me in");
    own.can_decide = false;
    let yan = request(22, "rust-guild", "Rust Guild 🦀", "yan", "");
    c.reply(
        requests_id,
        requests_page(None, vec![handled, own, yan], None),
    );
    assert_eq!(c.request_ids(), vec![22]);
}

// ---- moving and selecting ----

#[test]
fn moving_in_groups_selects_a_group_and_the_latest_members_read_wins() {
    let mut c = Console::loaded();
    assert_eq!(c.state.focus, Pane::Groups);
    let (first, call) = only_call(c.press('j'));
    assert_eq!(call, read_members("coffee-chat", None));
    let (second, call) = only_call(c.press('j'));
    assert_eq!(call, read_members("platform-team", None));
    assert_eq!(c.state.members.group_id.as_deref(), Some("platform-team"));
    assert_eq!(c.state.members.list.load, Load::Loading);
    // Only the newest read is in flight.
    assert_eq!(c.in_flight(|c| matches!(c, Call::Members { .. })), second);
    assert!(!c.state.in_flight.contains_key(&first));

    // The older reply arrives late: dropped.
    c.reply(
        first,
        members_page("coffee-chat", None, vec![member("mei", Role::Admin)], None),
    );
    assert!(c.state.members.list.items.is_empty());
    assert_eq!(c.state.members.list.load, Load::Loading);

    c.reply(
        second,
        members_page(
            "platform-team",
            None,
            vec![member("alice", Role::Owner), member("sam", Role::Member)],
            None,
        ),
    );
    assert_eq!(c.member_ids(), vec!["alice", "sam"]);
    assert_eq!(c.state.members.list.load, Load::Ready);
}

#[test]
fn a_members_reply_for_a_group_no_longer_shown_is_dropped_even_if_in_flight() {
    let mut c = Console::loaded();
    let (id, _) = only_call(c.press('j'));
    c.reply(
        id,
        members_page(
            "rust-guild",
            None,
            vec![member("ghost", Role::Member)],
            None,
        ),
    );
    assert_eq!(c.state.members.group_id.as_deref(), Some("coffee-chat"));
    assert!(c.member_ids().is_empty());
}

#[test]
fn moving_within_the_same_group_asks_nothing() {
    let mut c = Console::loaded();
    // Already at the top: `k` and `g` stay on rust-guild.
    no_calls(&c.press('k'));
    no_calls(&c.press('g'));
    assert_eq!(c.state.groups.cursor, 0);
}

/// Row `i` of the Groups pane is on screen.
fn group_in_view(c: &Console, i: usize) -> bool {
    let offset = c.state.groups.offset;
    offset <= i && i < offset + c.state.rows(Pane::Groups)
}

#[test]
fn movement_keys_move_top_bottom_and_by_page() {
    let mut c = Console::loaded_with(false, numbered_groups(30), vec![], None);
    let rows = c.state.rows(Pane::Groups);
    assert!(rows > 1 && rows < 30, "rows {rows}");

    c.press('j');
    assert_eq!(c.state.groups.cursor, 1);
    c.code(KeyCode::Down);
    assert_eq!(c.state.groups.cursor, 2);
    c.press('k');
    assert_eq!(c.state.groups.cursor, 1);
    c.code(KeyCode::Up);
    assert_eq!(c.state.groups.cursor, 0);

    c.code(KeyCode::PageDown);
    assert_eq!(c.state.groups.cursor, rows);
    c.key(ctrl('d'));
    assert_eq!(c.state.groups.cursor, 2 * rows);
    c.code(KeyCode::PageUp);
    assert_eq!(c.state.groups.cursor, rows);
    c.key(ctrl('u'));
    assert_eq!(c.state.groups.cursor, 0);

    c.press('G');
    assert_eq!(c.state.groups.cursor, 29);
    // The selection stays on screen.
    assert!(group_in_view(&c, 29));
    assert_eq!(c.state.members.group_id.as_deref(), Some("g29"));
    c.press('g');
    assert_eq!(c.state.groups.cursor, 0);
    assert_eq!(c.state.groups.offset, 0);
    c.code(KeyCode::End);
    assert_eq!(c.state.groups.cursor, 29);
    c.code(KeyCode::Home);
    assert_eq!(c.state.groups.cursor, 0);
    // Past the ends nothing moves.
    c.press('k');
    assert_eq!(c.state.groups.cursor, 0);
}

#[test]
fn focus_keys_pick_and_cycle_panes() {
    let mut c = Console::loaded();
    c.press('2');
    assert_eq!(c.state.focus, Pane::Members);
    c.press('3');
    assert_eq!(c.state.focus, Pane::Requests);
    c.press('4');
    assert_eq!(c.state.focus, Pane::Events);
    c.press('1');
    assert_eq!(c.state.focus, Pane::Groups);
    c.code(KeyCode::Tab);
    assert_eq!(c.state.focus, Pane::Members);
    c.code(KeyCode::Tab);
    c.code(KeyCode::Tab);
    c.code(KeyCode::Tab);
    assert_eq!(c.state.focus, Pane::Groups);
    // Shift-Tab arrives as BackTab with Shift.
    c.key(back_tab());
    assert_eq!(c.state.focus, Pane::Events);
    c.key(back_tab());
    assert_eq!(c.state.focus, Pane::Requests);
    // Enter on a group opens its members.
    c.press('1');
    c.code(KeyCode::Enter);
    assert_eq!(c.state.focus, Pane::Members);
}

#[test]
fn members_page_in_as_the_cursor_nears_the_end() {
    let mut c = Console::loaded_with(false, groups(), many_members(0, 200), Some("c200"));
    c.press('2');
    let len = c.state.members.list.len();
    let rows = c.state.rows(Pane::Members);
    let mut asked = Vec::new();
    let mut asked_at = None;
    for _ in 0..len {
        let out = c.press('j');
        if !calls(&out).is_empty() {
            asked_at.get_or_insert(c.state.members.list.cursor);
        }
        asked.extend(calls(&out));
        if c.state.members.list.cursor == len - 1 {
            break;
        }
    }
    // One next-page call, with the cursor, asked before the last row.
    assert_eq!(asked.len(), 1, "{asked:?}");
    let (id, call) = asked[0].clone();
    assert_eq!(call, read_members("rust-guild", Some("c200")));
    assert!(c.state.members.loading_more);
    let at = asked_at.expect("asked");
    assert!(
        at < len - 1 && at + 3 * rows >= len,
        "asked at row {at} of {len}"
    );

    c.reply(
        id,
        members_page("rust-guild", Some("c200"), many_members(200, 50), None),
    );
    assert_eq!(c.state.members.list.items.len(), 250);
    assert!(!c.state.members.loading_more);
    assert_eq!(c.state.members.next_cursor, None);
    // The cursor stayed where it was.
    assert_eq!(c.state.members.list.cursor, len - 1);
    // All loaded: the bottom asks nothing more.
    no_calls(&c.press('G'));
    assert_eq!(c.state.members.list.cursor, 249);
}

#[test]
fn bottom_loads_one_page_at_a_time_not_everything() {
    let mut c = Console::loaded_with(false, groups(), many_members(0, 200), Some("c200"));
    c.press('2');
    let (id, call) = only_call(c.press('G'));
    assert_eq!(call, read_members("rust-guild", Some("c200")));
    assert_eq!(c.state.members.list.cursor, 199);
    // While the page is out, more G asks nothing.
    no_calls(&c.press('G'));

    let out = c.reply(
        id,
        members_page(
            "rust-guild",
            Some("c200"),
            many_members(200, 200),
            Some("c400"),
        ),
    );
    // The page arrived; the cursor is far from the new end: nothing more.
    no_calls(&out);
    assert_eq!(c.state.members.list.items.len(), 400);
    assert_eq!(c.state.members.list.cursor, 199);

    let (_, call) = only_call(c.press('G'));
    assert_eq!(call, read_members("rust-guild", Some("c400")));
}

#[test]
fn requests_page_in_with_their_cursor() {
    let mut c = Console::loaded();
    let out = c.key(ctrl('r'));
    let requests_id = call_id(&out, |c| matches!(c, Call::Requests { .. }));
    let page: Vec<JoinRequestInfo> = (100..300)
        .map(|i| request(i, "rust-guild", "Rust Guild 🦀", &format!("user{i}"), ""))
        .collect();
    c.reply(requests_id, requests_page(None, page, Some("r300")));
    c.press('3');
    let (_, call) = only_call(c.press('G'));
    assert_eq!(
        call,
        Call::Requests {
            cursor: Some("r300".into())
        }
    );
    assert!(c.state.requests.loading_more);
}

// ---- filter ----

#[test]
fn slash_filters_the_focused_list_and_esc_clears_it() {
    let mut c = Console::loaded();
    c.press('/');
    assert!(c.state.filter_input.is_some());
    c.type_text("club");
    assert_eq!(c.state.groups.filter, "club");
    assert_eq!(c.state.groups.len(), 1);
    assert_eq!(c.selected_group(), Some("book-club"));
    // Enter keeps the filter, closes the input.
    c.code(KeyCode::Enter);
    assert!(c.state.filter_input.is_none());
    assert_eq!(c.state.groups.len(), 1);
    // Esc clears it; the selection stays on the same group.
    c.code(KeyCode::Esc);
    assert_eq!(c.state.groups.filter, "");
    assert_eq!(c.state.groups.len(), 5);
    assert_eq!(c.selected_group(), Some("book-club"));
}

#[test]
fn esc_while_typing_a_filter_drops_it() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('/');
    c.type_text("gina");
    assert_eq!(c.state.requests.list.len(), 1);
    c.code(KeyCode::Esc);
    assert!(c.state.filter_input.is_none());
    assert_eq!(c.state.requests.list.filter, "");
    assert_eq!(c.state.requests.list.len(), 3);
}

#[test]
fn a_filter_matching_nothing_shows_nothing_and_members_filter_by_role() {
    let mut c = Console::loaded();
    c.press('2');
    c.press('/');
    c.type_text("admin");
    assert_eq!(c.state.members.list.len(), 1);
    assert_eq!(
        c.state.members.list.selected().map(|m| m.user_id.as_str()),
        Some("bob")
    );
    c.type_text("zzz");
    assert!(c.state.members.list.is_empty());
    assert!(c.state.members.list.selected().is_none());
    // The filter never asks the server (it filters what is loaded).
    no_calls(&c.code(KeyCode::Enter));
}

#[test]
fn the_filter_moving_the_group_selection_shows_that_groups_members() {
    let mut c = Console::loaded();
    c.press('/');
    let out = c.type_text("coffee");
    assert_eq!(c.selected_group(), Some("coffee-chat"));
    // The Members pane follows the Groups selection.
    assert_eq!(
        c.state.members.group_id.as_deref(),
        Some("coffee-chat"),
        "members still show {:?} while coffee-chat is selected; calls: {out:?}",
        c.state.members.group_id
    );
}

// ---- join requests: approve, reject, mark ----

#[test]
fn approve_decides_the_selected_request() {
    let mut c = Console::loaded();
    c.press('3');
    let (id, call) = only_call(c.press('a'));
    assert_eq!(call, approve(&[7]));
    assert_eq!(c.state.changes_in_flight(), 1);
    c.reply(id, approved(1));
    assert_eq!(c.last_note().level, Level::Success);
    c.assert_note_mentions("approved");
    assert_eq!(c.state.changes_in_flight(), 0);
}

#[test]
fn approve_outside_the_requests_pane_says_where_it_works() {
    let mut c = Console::loaded();
    let out = c.press('a');
    no_calls(&out);
    assert_eq!(c.last_note().level, Level::Info);
    c.assert_note_mentions("Requests");
}

#[test]
fn reject_asks_for_a_reason_then_refuses_with_it() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('j');
    no_calls(&c.press('r'));
    // The reason form, for frank's request.
    let form = c.form();
    assert_eq!(
        form.kind,
        FormKind::Reject {
            request_ids: vec![8]
        }
    );
    assert!(form.title.contains("frank"), "{}", form.title);
    c.type_text("Please introduce yourself");
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, reject(&[8], Some("Please introduce yourself")));
    assert!(c.state.popup.is_none());
}

#[test]
fn reject_without_a_reason_and_esc_cancels() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('r');
    no_calls(&c.code(KeyCode::Esc));
    assert!(c.state.popup.is_none());
    c.press('r');
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, reject(&[7], None));
}

#[test]
fn space_marks_several_and_one_call_decides_them_all() {
    let mut c = Console::loaded();
    c.press('3');
    no_calls(&c.press(' '));
    assert_eq!(c.state.requests.list.cursor, 1, "Space moves on");
    c.press('j');
    c.press(' ');
    assert_eq!(c.marked(), vec![7, 9]);
    // Space again on a marked one unmarks it.
    c.press('k');
    c.press(' ');
    c.press('k');
    c.press('k');
    c.press(' ');
    assert_eq!(c.marked(), vec![8, 9], "7 unmarked, 8 marked");
    c.press('g');
    c.press(' ');
    let (id, call) = only_call(c.press('a'));
    assert_eq!(call, approve(&[7, 8, 9]));
    c.reply(id, approved(3));
    assert!(c.state.requests.marked.is_empty());
    c.assert_note_mentions("3");
}

#[test]
fn marked_requests_are_rejected_together_and_esc_clears_marks() {
    let mut c = Console::loaded();
    c.press('3');
    c.press(' ');
    c.press(' ');
    c.press('r');
    assert_eq!(
        c.form().kind,
        FormKind::Reject {
            request_ids: vec![7, 8]
        }
    );
    c.code(KeyCode::Esc);
    assert_eq!(c.state.requests.marked.len(), 2);
    c.code(KeyCode::Esc);
    assert!(c.state.requests.marked.is_empty());
}

#[test]
fn a_partly_failed_decision_keeps_an_error_that_names_the_request() {
    let mut c = Console::loaded();
    c.press('3');
    c.press(' ');
    c.press(' ');
    let (id, _) = only_call(c.press('a'));
    c.reply(
        id,
        done_ok(Outcome::Decided {
            accepted: true,
            count: 1,
            failed: vec![(8, api_error(10013, 409, "frank is already a member"))],
        }),
    );
    assert_eq!(c.last_note().level, Level::Error);
    c.assert_note_mentions("request 8");
    assert!(c.state.sticky_error.is_some());
}

// ---- group actions ----

#[test]
fn leave_asks_first_and_no_is_the_default() {
    let mut c = Console::loaded();
    no_calls(&c.press('L'));
    match &c.state.popup {
        Some(Popup::Confirm {
            call,
            yes,
            question,
        }) => {
            assert!(!yes, "No is the default");
            assert_eq!(
                *call,
                Call::Leave {
                    group_id: "rust-guild".into()
                }
            );
            assert!(question.contains("Rust Guild"), "{question}");
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
    // Enter takes the default: no call.
    no_calls(&c.code(KeyCode::Enter));
    assert!(c.state.popup.is_none());
    // n and Esc say no too.
    c.press('L');
    no_calls(&c.press('n'));
    assert!(c.state.popup.is_none());
    c.press('L');
    no_calls(&c.code(KeyCode::Esc));
    // Other keys leave the question open.
    c.press('L');
    no_calls(&c.press('z'));
    assert!(matches!(c.state.popup, Some(Popup::Confirm { .. })));
    let (_, call) = only_call(c.press('y'));
    assert_eq!(
        call,
        Call::Leave {
            group_id: "rust-guild".into()
        }
    );
    assert!(c.state.popup.is_none());
}

#[test]
fn leave_confirmed_by_moving_to_yes_then_enter() {
    let mut c = Console::loaded();
    c.press('L');
    c.code(KeyCode::Left);
    assert!(matches!(
        c.state.popup,
        Some(Popup::Confirm { yes: true, .. })
    ));
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert!(matches!(call, Call::Leave { .. }));
}

#[test]
fn disband_needs_the_group_id_typed_exactly() {
    let mut c = Console::loaded();
    no_calls(&c.press('D'));
    assert_eq!(
        c.form().kind,
        FormKind::Disband {
            group_id: "rust-guild".into()
        }
    );
    c.type_text("rust-guil");
    no_calls(&c.code(KeyCode::Enter));
    // The form stays open after a wrong ID and says which one it wants.
    let error = &c.form().error;
    assert!(
        error.as_deref().unwrap_or("").contains("rust-guild"),
        "{error:?}"
    );
    c.press('d');
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(
        call,
        Call::Disband {
            group_id: "rust-guild".into()
        }
    );
    assert!(c.state.popup.is_none());
}

#[test]
fn join_option_picker_sets_the_chosen_option() {
    let mut c = Console::loaded();
    no_calls(&c.press('o'));
    match &c.state.popup {
        Some(Popup::OptionPicker {
            group_id, index, ..
        }) => {
            assert_eq!(group_id, "rust-guild");
            assert_eq!(*index, 0, "starts on the current option (Auth)");
        }
        other => panic!("{other:?}"),
    }
    c.press('j');
    let (id, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, set_option("rust-guild", AddOption::Any));
    c.reply(id, option_set("rust-guild", AddOption::Any, true));
    assert_eq!(c.last_note().level, Level::Success);
    c.assert_note_mentions("Any");
    // Esc closes the picker without a call.
    c.press('o');
    no_calls(&c.code(KeyCode::Esc));
    assert!(c.state.popup.is_none());
}

#[test]
fn group_keys_from_the_members_pane_act_on_the_group_shown() {
    let mut c = Console::loaded();
    c.press('2');
    c.press('L');
    assert!(matches!(
        &c.state.popup,
        Some(Popup::Confirm { call: Call::Leave { group_id }, .. }) if group_id == "rust-guild"
    ));
}

#[test]
fn group_keys_in_the_requests_pane_say_where_they_work() {
    let mut c = Console::loaded();
    c.press('3');
    no_calls(&c.press('D'));
    assert!(c.state.popup.is_none());
    c.assert_note_mentions("Groups");
}

#[test]
fn group_keys_without_a_group_ask_for_one() {
    let mut c = Console::loaded_with(false, vec![], vec![], None);
    no_calls(&c.press('L'));
    assert!(c.state.popup.is_none());
    assert_eq!(c.last_note().level, Level::Info);
}

// ---- member actions ----

#[test]
fn kick_asks_then_kicks_the_selected_member() {
    let mut c = Console::loaded();
    c.press('2');
    c.press('j');
    c.press('j');
    no_calls(&c.press('x'));
    match &c.state.popup {
        Some(Popup::Confirm { call, yes, .. }) => {
            assert!(!yes);
            assert_eq!(
                *call,
                Call::Kick {
                    group_id: "rust-guild".into(),
                    user: "carol".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let (id, call) = only_call(c.press('y'));
    assert!(matches!(call, Call::Kick { .. }));
    c.reply(
        id,
        done_ok(Outcome::Kicked {
            group_id: "rust-guild".into(),
            user: "carol".into(),
        }),
    );
    c.assert_note_mentions("kicked carol");
}

#[test]
fn kicking_myself_points_to_leave_instead() {
    let mut c = Console::loaded();
    c.press('2');
    no_calls(&c.press('x'));
    assert!(c.state.popup.is_none());
    c.assert_note_mentions("quit (L)");
}

#[test]
fn m_toggles_admin_and_refuses_the_owner() {
    let mut c = Console::loaded();
    c.press('2');
    // alice owns the group.
    no_calls(&c.press('m'));
    assert_eq!(c.last_note().level, Level::Info);
    c.assert_note_mentions("owns");
    // bob is an admin: revoke.
    c.press('j');
    let (_, call) = only_call(c.press('m'));
    assert_eq!(call, set_role("rust-guild", "bob", Role::Member));
    // carol is a member: grant.
    c.press('j');
    let (id, call) = only_call(c.press('m'));
    assert_eq!(call, set_role("rust-guild", "carol", Role::Admin));
    c.reply(
        id,
        done_ok(Outcome::RoleSet {
            group_id: "rust-guild".into(),
            user: "carol".into(),
            role: Role::Admin,
            changed: true,
        }),
    );
    c.assert_note_mentions("carol is now an admin");
}

#[test]
fn member_keys_outside_the_members_pane_say_where_they_work() {
    let mut c = Console::loaded();
    no_calls(&c.press('x'));
    no_calls(&c.press('m'));
    c.assert_note_mentions("Members");
}

// ---- forms: join, invite, create ----

#[test]
fn join_form_sends_the_id_and_message() {
    let mut c = Console::loaded();
    no_calls(&c.press('J'));
    assert_eq!(c.form().kind, FormKind::Join);
    // An empty ID is refused in the form.
    no_calls(&c.code(KeyCode::Enter));
    assert!(c.form().error.is_some());
    c.type_text("@TGS#2XYZ");
    c.code(KeyCode::Tab);
    c.type_text("hello there");
    let (id, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, join_group("@TGS#2XYZ", Some("hello there")));
    assert!(c.state.popup.is_none());
    c.reply(
        id,
        done_ok(Outcome::Joined {
            group_id: "@TGS#2XYZ".into(),
            reply: JoinReply {
                status: JoinStatus::Pending,
                request_id: Some(77),
            },
        }),
    );
    c.assert_note_mentions("77");
}

#[test]
fn joining_then_the_member_joined_event_adds_the_group() {
    let mut c = Console::loaded();
    let (id, call) = only_call(c.event(joined(101, "kernel", ME, 6)));
    assert_eq!(
        call,
        Call::Group {
            group_id: "kernel".into()
        }
    );
    c.reply(
        id,
        Reply::Group {
            group_id: "kernel".into(),
            result: Ok(group(
                "kernel",
                "Kernel Hackers",
                GroupType::Work,
                Some(Role::Member),
                6,
            )),
        },
    );
    assert!(c.group_ids().contains(&"kernel".to_string()));
}

#[test]
fn invite_form_splits_the_ids() {
    let mut c = Console::loaded();
    no_calls(&c.press('i'));
    assert_eq!(
        c.form().kind,
        FormKind::Invite {
            group_id: "rust-guild".into()
        }
    );
    c.type_text("bob, carol  dave,bob");
    let (id, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(
        call,
        Call::Invite {
            group_id: "rust-guild".into(),
            users: vec!["bob".into(), "carol".into(), "dave".into()]
        }
    );
    c.reply(
        id,
        done_ok(Outcome::Invited {
            group_id: "rust-guild".into(),
            reply: InviteReply {
                results: vec![
                    InviteOutcomeInfo {
                        user_id: "dave".into(),
                        result: InviteStatus::Added,
                        request_id: None,
                        code: None,
                        message: None,
                    },
                    InviteOutcomeInfo {
                        user_id: "bob".into(),
                        result: InviteStatus::Failed,
                        request_id: None,
                        code: Some(10013),
                        message: Some("already a member".into()),
                    },
                ],
            },
        }),
    );
    let n = c.last_note();
    assert_eq!(n.level, Level::Error, "a partial failure stays visible");
    assert!(
        n.text.contains("added dave") && n.text.contains("10013"),
        "{}",
        n.text
    );
}

#[test]
fn create_form_refuses_an_empty_name_then_creates() {
    let mut c = Console::loaded();
    no_calls(&c.press('c'));
    let form = c.form();
    assert_eq!(form.kind, FormKind::Create);
    assert_eq!(
        form.fields[form.focus].label, "Name",
        "the name is asked first"
    );
    no_calls(&c.code(KeyCode::Enter));
    assert!(c.form().error.is_some(), "an empty name is refused");
    c.type_text("Book club 读书");
    let (id, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(
        call,
        Call::Create(CreateGroupRequest {
            group_id: None,
            name: "Book club 读书".into(),
            group_type: GroupType::Public,
            add_option: Some(AddOption::Auth),
            invite_option: None,
            introduction: None,
            notification: None,
            face_url: None,
            max_members: None,
            members: vec![],
        })
    );
    c.reply(
        id,
        done_ok(Outcome::Created {
            group_id: "@TGS#2NEW".into(),
            name: "Book club 读书".into(),
        }),
    );
    c.assert_note_mentions("@TGS#2NEW");
}

#[test]
fn create_form_fields_type_id_and_option() {
    let mut c = Console::loaded();
    c.press('c');
    // Back to the type choice, pick Community by its letter.
    c.key(back_tab());
    c.press('c');
    c.code(KeyCode::Tab);
    c.type_text("Makers");
    c.code(KeyCode::Tab);
    c.type_text("@TGS#_makers2");
    c.code(KeyCode::Tab);
    c.code(KeyCode::Right);
    match &c.form().fields[3].value {
        FieldValue::Choice { options, index } => assert_eq!(options[*index], "Any"),
        other => panic!("{other:?}"),
    }
    let (_, call) = only_call(c.code(KeyCode::Enter));
    match call {
        Call::Create(req) => {
            assert_eq!(req.group_type, GroupType::Community);
            assert_eq!(req.name, "Makers");
            assert_eq!(req.group_id.as_deref(), Some("@TGS#_makers2"));
            assert_eq!(req.add_option, Some(AddOption::Any));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_form_refuses_a_name_over_30_bytes() {
    let mut c = Console::loaded();
    c.press('c');
    c.type_text("读书会读书会读书会读书会"); // 12 CJK characters = 36 bytes
    no_calls(&c.code(KeyCode::Enter));
    let error = &c.form().error;
    assert!(
        error.as_deref().is_some_and(|e| e.contains("30")),
        "{error:?}"
    );
}

// ---- the command line ----

#[test]
fn command_line_join_with_a_message() {
    let mut c = Console::loaded();
    no_calls(&c.press(':'));
    assert!(c.state.command.is_some());
    c.type_text("join @TGS#2ABC hello there");
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, join_group("@TGS#2ABC", Some("hello there")));
    assert!(c.state.command.is_none());
    assert_eq!(c.state.command_history, vec!["join @TGS#2ABC hello there"]);
}

#[test]
fn command_line_option_sets_the_selected_groups_join_option() {
    let mut c = Console::loaded();
    let out = c.command("option forbid");
    let notes: Vec<&str> = c.state.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        call_list(&out),
        vec![set_option("rust-guild", AddOption::Forbid)],
        "notes: {notes:?}"
    );
}

#[test]
fn command_line_option_accepts_the_sdk_spelling() {
    let mut c = Console::loaded();
    let (_, call) = only_call(c.command("option Forbid"));
    assert_eq!(call, set_option("rust-guild", AddOption::Forbid));
}

#[test]
fn command_line_create_invite_kick_quit_group_and_disband() {
    let mut c = Console::loaded();
    let (_, call) = only_call(c.command("create Public Night owls"));
    assert!(
        matches!(&call, Call::Create(r) if r.name == "Night owls" && r.group_type == GroupType::Public),
        "{call:?}"
    );

    let (_, call) = only_call(c.command("invite bob carol"));
    assert_eq!(
        call,
        Call::Invite {
            group_id: "rust-guild".into(),
            users: vec!["bob".into(), "carol".into()]
        }
    );

    // :kick asks first, like x.
    no_calls(&c.command("kick carol"));
    assert!(matches!(
        &c.state.popup,
        Some(Popup::Confirm { call: Call::Kick { user, .. }, yes: false, .. }) if user == "carol"
    ));
    c.code(KeyCode::Esc);

    // :quit-group asks like L, :disband opens the typed-ID form like D, from any pane.
    c.press('3');
    no_calls(&c.command("quit-group"));
    assert!(matches!(
        &c.state.popup,
        Some(Popup::Confirm { call: Call::Leave { group_id }, .. }) if group_id == "rust-guild"
    ));
    assert_eq!(c.state.focus, Pane::Requests);
    c.code(KeyCode::Esc);
    no_calls(&c.command("disband"));
    assert_eq!(
        c.form().kind,
        FormKind::Disband {
            group_id: "rust-guild".into()
        }
    );
}

#[test]
fn command_line_create_accepts_a_lowercase_type() {
    let mut c = Console::loaded();
    let out = c.command("create public Night owls");
    let notes: Vec<&str> = c.state.notes.iter().map(|n| n.text.as_str()).collect();
    let found = calls(&out);
    assert_eq!(found.len(), 1, "notes: {notes:?}");
    assert!(matches!(&found[0].1, Call::Create(r) if r.group_type == GroupType::Public));
}

#[test]
fn unknown_command_is_an_error_note() {
    let mut c = Console::loaded();
    no_calls(&c.command("frobnicate now"));
    let n = c.last_note();
    assert_eq!(n.level, Level::Error);
    assert!(n.text.contains("unknown command :frobnicate"), "{}", n.text);
    assert!(n.text.contains("join"), "lists the commands: {}", n.text);
    // A usage mistake says how to use it.
    c.code(KeyCode::Esc);
    no_calls(&c.command("join"));
    c.assert_note_mentions("usage: :join");
}

#[test]
fn command_line_history_comes_back_with_up() {
    let mut c = Console::loaded();
    c.command("join g1 first");
    c.command("join g2");
    assert_eq!(c.state.command_history, vec!["join g1 first", "join g2"]);

    c.press(':');
    c.code(KeyCode::Up);
    assert_eq!(c.command_input(), Some("join g2"));
    c.code(KeyCode::Up);
    assert_eq!(c.command_input(), Some("join g1 first"));
    c.code(KeyCode::Down);
    assert_eq!(c.command_input(), Some("join g2"));
    // Enter runs the recalled line.
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, join_group("g2", None));
    // Running the same line again does not repeat it in the history.
    assert_eq!(c.state.command_history.len(), 2);
}

#[test]
fn tab_completes_command_names_and_group_ids() {
    let mut c = Console::loaded();
    c.press(':');
    c.type_text("jo");
    c.code(KeyCode::Tab);
    assert_eq!(c.command_input(), Some("join "));
    c.type_text("co");
    c.code(KeyCode::Tab);
    assert_eq!(c.command_input(), Some("join coffee-chat "));
    let (_, call) = only_call(c.code(KeyCode::Enter));
    assert_eq!(call, join_group("coffee-chat", None));

    // Several candidates: Tab cycles through them.
    c.press(':');
    c.press('q');
    c.code(KeyCode::Tab);
    let first = c.command_input().map(str::to_string);
    c.code(KeyCode::Tab);
    let second = c.command_input().map(str::to_string);
    let mut seen = vec![first.unwrap_or_default(), second.unwrap_or_default()];
    seen.sort();
    assert_eq!(seen, vec!["quit", "quit-group"]);
    assert_eq!(
        c.state.command.as_ref().map(|cl| cl.completions.len()),
        Some(2)
    );

    // Group IDs with CJK-free prefixes of Community groups.
    c.code(KeyCode::Esc);
    c.press(':');
    c.type_text("join @");
    c.code(KeyCode::Tab);
    assert_eq!(c.command_input(), Some("join @TGS#_makers "));
}

#[test]
fn esc_and_ctrl_c_close_the_command_line_without_running_it() {
    let mut c = Console::loaded();
    c.press(':');
    c.type_text("join g1");
    no_calls(&c.code(KeyCode::Esc));
    assert!(c.state.command.is_none());
    assert!(c.state.command_history.is_empty());
    c.press(':');
    c.type_text("join g1");
    let out = c.key(ctrl('c'));
    no_calls(&out);
    assert!(c.state.command.is_none());
}

// ---- help, quit ----

#[test]
fn question_mark_opens_help_and_esc_or_question_mark_closes_it() {
    let mut c = Console::loaded();
    no_calls(&c.press('?'));
    assert!(matches!(c.state.popup, Some(Popup::Help { scroll: 0 })));
    c.press('j');
    assert!(matches!(c.state.popup, Some(Popup::Help { scroll: 1 })));
    // Keys go to the popup, not the panes.
    assert_eq!(c.state.groups.cursor, 0);
    c.press('?');
    assert!(c.state.popup.is_none());
    c.press('?');
    c.code(KeyCode::Esc);
    assert!(c.state.popup.is_none());
}

#[test]
fn messages_popup_lists_notes_and_dismisses_the_sticky_error() {
    let mut c = Console::loaded();
    c.command("nope");
    assert!(c.state.sticky_error.is_some());
    c.press('M');
    assert!(matches!(c.state.popup, Some(Popup::Messages { .. })));
    assert!(c.state.sticky_error.is_none());
    assert_eq!(c.state.notes.len(), 1, "the history keeps it");
}

#[test]
fn q_exits_when_nothing_is_changing() {
    let mut c = Console::loaded();
    let out = c.press('q');
    assert_eq!(out, vec![Cmd::Exit]);
    assert!(c.state.exiting);
}

#[test]
fn ctrl_c_exits() {
    let mut c = Console::loaded();
    assert!(exits(&c.key(ctrl('c'))));
    assert!(c.state.exiting);
}

#[test]
fn q_asks_while_a_change_is_in_flight() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('a');
    assert_eq!(c.state.changes_in_flight(), 1);
    let out = c.press('q');
    assert!(!exits(&out));
    assert!(matches!(
        c.state.popup,
        Some(Popup::ConfirmExit { yes: false })
    ));
    // Enter = No.
    assert!(!exits(&c.code(KeyCode::Enter)));
    assert!(c.state.popup.is_none());
    assert!(!c.state.exiting);
    // Ctrl-C asks too; y leaves.
    assert!(!exits(&c.key(ctrl('c'))));
    assert!(matches!(
        c.state.popup,
        Some(Popup::ConfirmExit { yes: false })
    ));
    assert!(exits(&c.press('y')));
    assert!(c.state.exiting);
}

#[test]
fn reads_in_flight_do_not_hold_up_quitting() {
    let mut c = Console::loaded();
    c.press('j'); // a Members read
    assert_eq!(c.state.in_flight.len(), 1);
    assert!(exits(&c.press('q')));
}

#[test]
fn ctrl_c_in_a_popup_closes_it_and_leaves() {
    let mut c = Console::loaded();
    c.press('?');
    assert!(exits(&c.key(ctrl('c'))));
    c = Console::loaded();
    c.press('c');
    c.type_text("half-typed");
    assert!(exits(&c.key(ctrl('c'))));
}

#[test]
fn ctrl_c_while_typing_a_filter_still_leaves() {
    let mut c = Console::loaded();
    c.press('/');
    c.type_text("ru");
    let out = c.key(ctrl('c'));
    assert!(
        exits(&out),
        "Ctrl-C is swallowed by the filter input: filter_input still {:?}",
        c.state.filter_input.as_ref().map(|i| i.value().to_string())
    );
}

#[test]
fn terminate_exits_at_once() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('a');
    assert_eq!(c.send(Msg::Terminate), vec![Cmd::Exit]);
}

#[test]
fn key_releases_are_ignored() {
    let mut c = Console::loaded();
    let mut k = ch('j');
    k.kind = ratatui::crossterm::event::KeyEventKind::Release;
    no_calls(&c.key(k));
    assert_eq!(c.state.groups.cursor, 0);
}

// ---- read-only ----

#[test]
fn read_only_refuses_every_changing_key_without_a_call() {
    let mut c = Console::loaded_read_only();
    // (pane to focus, key)
    let cases = [
        ('1', 'c'),
        ('1', 'J'),
        ('1', 'i'),
        ('1', 'L'),
        ('1', 'D'),
        ('1', 'o'),
        ('2', 'x'),
        ('2', 'm'),
        ('3', 'a'),
        ('3', 'r'),
        ('3', ' '),
    ];
    for (pane, key) in cases {
        c.press(pane);
        c.code(KeyCode::Esc); // dismiss the previous error
        let before = c.state.notes.len();
        let out = c.press(key);
        no_calls(&out);
        assert!(
            c.state.popup.is_none(),
            "{key:?} opened {:?}",
            c.state.popup
        );
        assert_eq!(c.state.notes.len(), before + 1, "{key:?} says why");
        let n = c.last_note();
        assert_eq!(n.level, Level::Error, "{key:?}");
        assert!(n.text.contains("read-only"), "{key:?}: {}", n.text);
    }
    assert!(c.state.requests.marked.is_empty());
    assert!(c.state.in_flight.is_empty());
}

#[test]
fn read_only_refuses_changing_commands_but_not_reading_ones() {
    let mut c = Console::loaded_read_only();
    for line in [
        "join g1",
        "option Any",
        "create Public x",
        "kick bob",
        "disband",
        "quit-group",
        "invite bob",
    ] {
        no_calls(&c.command(line));
        assert!(c.state.popup.is_none(), "{line}");
        assert!(
            c.last_note().text.contains("read-only"),
            "{line}: {}",
            c.last_note().text
        );
    }
    // Reading still works: refresh, moving, filtering, help.
    assert!(!calls(&c.command("refresh")).is_empty());
    c.press('?');
    assert!(matches!(c.state.popup, Some(Popup::Help { .. })));
    c.code(KeyCode::Esc);
    let (_, call) = only_call(c.press('j'));
    assert!(matches!(call, Call::Members { .. }));
}

// ---- live events ----

#[test]
fn member_joined_quit_and_kicked_update_the_count_and_the_members_pane() {
    let mut c = Console::loaded();
    no_calls(&c.event(joined(101, "rust-guild", "zed", 5)));
    assert_eq!(c.group("rust-guild").member_count, 5);
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol", "dave", "zed"]);
    assert_eq!(c.role_of("zed"), Some(Role::Member));

    c.event(quit(102, "rust-guild", "dave", 4));
    assert_eq!(c.group("rust-guild").member_count, 4);
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol", "zed"]);

    c.event(Event {
        detail: json!({"reason": "spam", "member_count": 3}),
        ..kicked(103, "rust-guild", "alice", "zed", 3)
    });
    assert_eq!(c.group("rust-guild").member_count, 3);
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol"]);

    // A group not shown: only its count changes.
    c.event(joined(104, "coffee-chat", "yan", 14));
    assert_eq!(c.group("coffee-chat").member_count, 14);
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol"]);
    assert_eq!(c.state.log.events.len(), 4);
}

#[test]
fn my_own_quit_or_kick_removes_the_group_and_its_requests() {
    let mut c = Console::loaded();
    c.event(quit(101, "coffee-chat", ME, 12));
    assert!(!c.group_ids().contains(&"coffee-chat".to_string()));
    assert_eq!(c.request_ids(), vec![7, 8]);

    c.event(kicked(102, "book-club", "yuki", ME, 8));
    assert_eq!(
        c.group_ids(),
        vec!["rust-guild", "platform-team", "@TGS#_makers"]
    );
}

#[test]
fn quitting_the_shown_group_shows_the_next_groups_members() {
    let mut c = Console::loaded();
    let out = c.event(quit(101, "rust-guild", ME, 3));
    assert!(!c.group_ids().contains(&"rust-guild".to_string()));
    let selected = c.state.groups.selected().map(|g| g.group_id.clone());
    assert_eq!(selected.as_deref(), Some("coffee-chat"));
    assert_eq!(
        c.state.members.group_id, selected,
        "the Groups cursor is on coffee-chat but the Members pane shows {:?} (calls: {out:?})",
        c.state.members.group_id
    );
}

#[test]
fn join_requested_and_handled_keep_the_inbox_and_the_pending_count() {
    let mut c = Console::loaded();
    c.event(requested(101, "rust-guild", "hugo", 50, "let me in"));
    assert_eq!(c.request_ids(), vec![7, 8, 9, 50]);
    let r = c.state.requests.list.items.last().expect("request");
    assert_eq!(r.applicant, "hugo");
    assert_eq!(r.group_name, "Rust Guild 🦀");
    assert_eq!(r.message, "let me in");
    assert_eq!(c.group("rust-guild").pending_requests, Some(3));

    // A group where I am a plain member: not mine to decide.
    c.event(requested(102, "book-club", "ivy", 51, ""));
    assert_eq!(c.request_ids(), vec![7, 8, 9, 50]);

    c.event(handled(103, "rust-guild", "bob", "erin", 7, "accepted"));
    assert_eq!(c.request_ids(), vec![8, 9, 50]);
    assert_eq!(c.group("rust-guild").pending_requests, Some(2));
}

#[test]
fn a_handled_request_leaves_the_marks_too() {
    let mut c = Console::loaded();
    c.press('3');
    c.press(' ');
    c.press(' ');
    c.event(handled(101, "rust-guild", "bob", "erin", 7, "refused"));
    assert_eq!(c.marked(), vec![8]);
    let (_, call) = only_call(c.press('a'));
    assert_eq!(call, approve(&[8]));
}

#[test]
fn admin_granted_and_revoked_change_role_badges() {
    let mut c = Console::loaded();
    c.event(granted(101, "rust-guild", ME, "carol"));
    assert_eq!(c.role_of("carol"), Some(Role::Admin));
    c.event(revoked(102, "rust-guild", ME, "bob"));
    assert_eq!(c.role_of("bob"), Some(Role::Member));
}

#[test]
fn losing_admin_takes_that_groups_requests_out_of_the_inbox() {
    let mut c = Console::loaded();
    c.press('3');
    c.press('j');
    c.press('j');
    c.press(' '); // marks 9 (coffee-chat)
    assert!(c.state.requests.marked.contains(&9));
    c.event(revoked(101, "coffee-chat", "mei", ME));
    assert_eq!(c.group("coffee-chat").my_role, Some(Role::Member));
    assert_eq!(c.request_ids(), vec![7, 8]);
    assert!(
        c.state.requests.marked.is_empty(),
        "request 9 left the inbox but is still marked: {:?}",
        c.state.requests.marked
    );
}

#[test]
fn becoming_admin_reloads_the_inbox() {
    let mut c = Console::loaded();
    let (_, call) = only_call(c.event(granted(101, "book-club", "yuki", ME)));
    assert_eq!(call, Call::Requests { cursor: None });
    assert_eq!(c.group("book-club").my_role, Some(Role::Admin));
}

#[test]
fn group_disbanded_removes_the_group_and_its_requests() {
    let mut c = Console::loaded();
    c.event(disbanded(101, "rust-guild", ME));
    assert!(!c.group_ids().contains(&"rust-guild".to_string()));
    assert_eq!(c.request_ids(), vec![9]);
    assert_ne!(c.state.members.group_id.as_deref(), Some("rust-guild"));
}

#[test]
fn a_disbanded_groups_requests_leave_the_marks_too() {
    let mut c = Console::loaded();
    c.press('3');
    c.press(' '); // marks 7 (rust-guild)
    c.event(disbanded(101, "rust-guild", "bob"));
    assert_eq!(c.request_ids(), vec![9]);
    assert!(
        c.state.requests.marked.is_empty(),
        "request 7 of a disbanded group is still marked: {:?}",
        c.state.requests.marked
    );
}

#[test]
fn group_info_changed_updates_the_join_option_and_name() {
    let mut c = Console::loaded();
    let option = json!({"fields": ["add_option"], "add_option": "Forbid"});
    c.event(info_changed(101, "rust-guild", "bob", option));
    assert_eq!(c.group("rust-guild").add_option, AddOption::Forbid);
    let name = json!({"fields": ["name"], "name": "Tea Time 🍵"});
    c.event(info_changed(102, "coffee-chat", "mei", name));
    assert_eq!(c.group("coffee-chat").name, "Tea Time 🍵");
    let r = c
        .state
        .requests
        .list
        .items
        .iter()
        .find(|r| r.id == 9)
        .expect("request 9");
    assert_eq!(r.group_name, "Tea Time 🍵");
}

#[test]
fn owner_changed_moves_the_star() {
    let mut c = Console::loaded();
    c.event(owner_changed(101, "rust-guild", ME, "bob"));
    assert_eq!(c.role_of("bob"), Some(Role::Owner));
    assert_eq!(c.role_of(ME), Some(Role::Member));
    assert_eq!(c.group("rust-guild").my_role, Some(Role::Member));
}

/// What events may change, as text, to compare before and after.
fn panes(c: &Console) -> [String; 5] {
    [
        format!("{:?}", c.state.groups.items),
        format!("{:?}", c.state.members),
        format!("{:?}", c.state.requests.list.items),
        format!("{:?}", c.state.requests.marked),
        c.state.log.events.len().to_string(),
    ]
}

#[test]
fn the_same_event_twice_changes_nothing_more() {
    let events = vec![
        joined(101, "rust-guild", "zed", 5),
        quit(101, "rust-guild", "dave", 3),
        kicked(101, "rust-guild", ME, "carol", 3),
        quit(101, "coffee-chat", ME, 12),
        requested(101, "rust-guild", "hugo", 50, ""),
        handled(101, "rust-guild", "bob", "erin", 7, "accepted"),
        granted(101, "rust-guild", ME, "carol"),
        revoked(101, "rust-guild", ME, "bob"),
        disbanded(101, "rust-guild", ME),
        info_changed(
            101,
            "rust-guild",
            ME,
            json!({"fields": ["add_option"], "add_option": "Any"}),
        ),
        owner_changed(101, "rust-guild", ME, "bob"),
    ];
    for e in events {
        let kind = e.kind;
        let mut c = Console::loaded();
        c.event(e.clone());
        let once = panes(&c);
        let out = c.event(e.clone());
        no_calls(&out);
        assert_eq!(panes(&c), once, "{kind:?} applied twice");
        // Again after another event in between (a resumed stream replaying).
        c.event(info_changed(
            102,
            "platform-team",
            ME,
            json!({"fields": []}),
        ));
        let between = panes(&c);
        c.event(e);
        assert_eq!(panes(&c), between, "{kind:?} replayed later");
    }
}

#[test]
fn a_new_event_already_reflected_in_what_was_read_is_not_counted_twice() {
    let mut c = Console::loaded();
    // erin's request 7 was read with the inbox; its event comes after the baseline.
    c.event(requested(101, "rust-guild", "erin", 7, "hi"));
    assert_eq!(c.request_ids(), vec![7, 8, 9]);
    assert_eq!(c.group("rust-guild").pending_requests, Some(2));
    // carol was read with the members.
    c.event(joined(102, "rust-guild", "carol", 4));
    assert_eq!(c.member_ids(), vec!["alice", "bob", "carol", "dave"]);
}

#[test]
fn events_at_or_below_the_baseline_only_go_into_the_log() {
    let mut c = Console::loaded();
    let before = panes(&c);
    for id in [40, 99, BASELINE] {
        no_calls(&c.event(quit(id, "rust-guild", "carol", 1)));
    }
    c.event(disbanded(BASELINE, "coffee-chat", "mei"));
    assert_eq!(
        c.state.log.events.len(),
        3,
        "the duplicate of {BASELINE} is not logged"
    );
    let after = panes(&c);
    assert_eq!(before[..4], after[..4]);
    assert_eq!(c.state.last_event_id, BASELINE);
    // The next one is live.
    c.event(joined(BASELINE + 1, "rust-guild", "zed", 5));
    assert_eq!(c.group("rust-guild").member_count, 5);
}

#[test]
fn events_before_the_greeting_are_only_logged() {
    let mut c = Console::new(false);
    start(&mut c.state);
    c.event(joined(5, "rust-guild", "zed", 5));
    assert_eq!(c.state.log.events.len(), 1);
    assert!(c.state.groups.items.is_empty());
}

// ---- the Events pane ----

/// An event that changes nothing in view: a new notification.
fn filler(id: u64) -> Event {
    let detail = json!({"fields": ["notification"], "notification": format!("note {id}")});
    info_changed(id, "platform-team", ME, detail)
}

/// Thirty events in the log, the Events pane scrolled back a row, and one
/// more event since.
fn paused_with_one_new_event() -> Console {
    let mut c = Console::loaded();
    for id in 1..=30 {
        c.event(filler(BASELINE + id));
    }
    c.press('4');
    c.press('k');
    c.event(filler(BASELINE + 31));
    c
}

#[test]
fn the_event_log_is_a_bounded_ring() {
    let mut c = Console::loaded();
    let n = EVENT_LOG_CAPACITY as u64 + 25;
    for id in 1..=n {
        c.event(filler(BASELINE + id));
    }
    assert_eq!(c.state.log.events.len(), EVENT_LOG_CAPACITY);
    assert_eq!(
        c.state.log.events.front().map(|e| e.id),
        Some(BASELINE + 26)
    );
    assert_eq!(c.state.log.events.back().map(|e| e.id), Some(BASELINE + n));
}

#[test]
fn scrolling_up_pauses_counts_new_events_and_bottom_resumes() {
    let mut c = Console::loaded();
    for id in 1..=40 {
        c.event(filler(BASELINE + id));
    }
    c.press('4');
    assert_eq!(c.state.log.scroll, 0);
    c.press('k');
    assert_eq!(c.state.log.scroll, 1, "up scrolls back");
    c.code(KeyCode::PageUp);
    let rows = c.state.rows(Pane::Events);
    assert_eq!(c.state.log.scroll, 1 + rows);
    c.event(filler(BASELINE + 41));
    c.event(filler(BASELINE + 42));
    assert_eq!(c.state.log.unseen, 2);
    assert_eq!(c.state.log.scroll, 3 + rows, "the rows in view stay still");
    c.press('G');
    assert_eq!(c.state.log.scroll, 0);
    assert_eq!(c.state.log.unseen, 0);
    // Following again: new events are not counted.
    c.event(filler(BASELINE + 43));
    assert_eq!(c.state.log.unseen, 0);
    assert_eq!(c.state.log.scroll, 0);

    // End resumes too; so do j and PgDn when they reach the tail.
    c.press('g');
    assert_eq!(c.state.log.scroll, 43 - rows, "top of the log");
    c.event(filler(BASELINE + 44));
    assert_eq!(c.state.log.unseen, 1);
    c.code(KeyCode::End);
    assert_eq!((c.state.log.scroll, c.state.log.unseen), (0, 0));
    c.press('k');
    c.press('j');
    assert_eq!((c.state.log.scroll, c.state.log.unseen), (0, 0));
}

#[test]
fn esc_in_the_events_pane_returns_to_the_tail() {
    let mut c = paused_with_one_new_event();
    c.code(KeyCode::Esc);
    assert_eq!((c.state.log.scroll, c.state.log.unseen), (0, 0));
}

#[test]
fn a_short_log_cannot_be_scrolled() {
    let mut c = Console::loaded();
    c.event(filler(BASELINE + 1));
    c.press('4');
    c.press('k');
    assert_eq!(c.state.log.scroll, 0);
}

#[test]
fn leaving_the_paused_view_through_the_filter_forgets_the_unseen_count() {
    let mut c = paused_with_one_new_event();
    assert_eq!(c.state.log.unseen, 1);
    // Typing a filter jumps back to the tail...
    c.press('/');
    c.type_text("platform");
    c.code(KeyCode::Enter);
    assert_eq!(c.state.log.scroll, 0);
    // ...so nothing is waiting below any more.
    assert_eq!(
        c.state.log.unseen, 0,
        "back at the tail with a stale \"new\" count"
    );
}

#[test]
fn a_filtered_paused_log_stays_still_when_other_events_arrive() {
    let mut c = Console::loaded();
    for id in 1..=30 {
        c.event(joined(BASELINE + id, "coffee-chat", &format!("u{id}"), 13));
    }
    c.press('4');
    c.press('/');
    c.type_text("coffee");
    c.code(KeyCode::Enter);
    c.press('k');
    assert_eq!(c.state.log.scroll, 1);
    // An event the filter hides arrives: the filtered view must not move.
    c.event(filler(BASELINE + 31));
    assert_eq!(
        (c.state.log.scroll, c.state.log.unseen),
        (1, 0),
        "a hidden event scrolled the paused, filtered view"
    );
}

// ---- notes ----

#[test]
fn an_error_stays_with_its_code_until_esc() {
    let mut c = Console::loaded();
    c.press('L');
    let (id, _) = only_call(c.press('y'));
    c.reply(id, owner_cannot_quit());
    let n = c.state.current_note().expect("a note").clone();
    assert_eq!(n.level, Level::Error);
    assert!(n.text.contains("10009"), "{}", n.text);
    assert!(
        n.text.contains("rust-guild"),
        "says what failed: {}",
        n.text
    );
    assert!(c.state.sticky_error.is_some());
    // Time does not fade an error.
    c.send(Msg::Tick {
        now_ms: NOW + 10 * NOTE_FADE_MS,
    });
    assert_eq!(c.state.current_note(), Some(&n));
    // Esc dismisses it; the history keeps it.
    no_calls(&c.code(KeyCode::Esc));
    assert!(c.state.sticky_error.is_none());
    assert_eq!(c.state.current_note(), None);
    assert_eq!(c.state.notes.last(), Some(&n));
    // The first Esc only dismissed the error: focus and lists are untouched.
    assert_eq!(c.state.focus, Pane::Groups);
}

#[test]
fn an_error_is_not_hidden_by_a_later_success() {
    let mut c = Console::loaded();
    let (leave, _) = {
        c.press('L');
        only_call(c.press('y'))
    };
    c.press('o');
    let (option, _) = only_call(c.code(KeyCode::Enter));
    c.reply(leave, owner_cannot_quit());
    c.reply(option, option_set("rust-guild", AddOption::Auth, false));
    assert_eq!(c.state.current_note().map(|n| n.level), Some(Level::Error));
    // Esc dismisses the error; Esc does not clear anything else on the way.
    c.code(KeyCode::Esc);
    assert!(c.state.sticky_error.is_none());
}

#[test]
fn a_success_fades_after_the_fade_time() {
    let mut c = Console::loaded();
    c.press('o');
    let (id, _) = only_call(c.code(KeyCode::Enter));
    c.reply(id, option_set("rust-guild", AddOption::Auth, false));
    let n = c.state.current_note().expect("shown").clone();
    assert_eq!(n.level, Level::Success);
    assert!(n.text.contains("already"), "{}", n.text);
    c.state.dirty = false;
    c.send(Msg::Tick {
        now_ms: NOW + NOTE_FADE_MS - 1,
    });
    assert!(c.state.current_note().is_some());
    c.state.dirty = false;
    c.send(Msg::Tick {
        now_ms: NOW + NOTE_FADE_MS,
    });
    assert!(c.state.current_note().is_none());
    assert!(c.state.dirty, "the fade is redrawn");
    // The history keeps it.
    assert_eq!(c.state.notes.last(), Some(&n));
}

// ---- the connection ----

#[test]
fn disconnect_and_reconnect_show_in_the_connection_state() {
    let mut c = Console::loaded();
    no_calls(&c.stream(StreamMsg::Disconnected {
        attempt: 3,
        error: "connection refused".into(),
    }));
    assert_eq!(
        c.state.connection,
        Connection::Reconnecting {
            attempt: 3,
            error: "connection refused".into()
        }
    );
    let out = c.stream(StreamMsg::Connected);
    assert_eq!(c.state.connection, Connection::Connected);
    // Nothing failed meanwhile: nothing is re-read.
    no_calls(&out);
    assert_eq!(c.last_note().level, Level::Success);
}

#[test]
fn reads_that_failed_while_away_are_retried_on_reconnect() {
    let mut c = Console::loaded();
    c.stream(StreamMsg::Disconnected {
        attempt: 1,
        error: "connection reset".into(),
    });
    let (id, _) = only_call(c.press('j'));
    c.reply(
        id,
        Reply::Members {
            group_id: "coffee-chat".into(),
            cursor: None,
            result: Err(transport_error("connection refused")),
        },
    );
    assert!(matches!(c.state.members.list.load, Load::Failed(_)));
    let out = c.stream(StreamMsg::Connected);
    assert!(call_list(&out).contains(&read_members("coffee-chat", None)));
}

#[test]
fn reset_reloads_everything() {
    let mut c = Console::loaded();
    let out = c.stream(StreamMsg::Reset {
        last_event_id: 5_000,
    });
    assert_eq!(
        call_list(&out),
        vec![
            Call::Groups { scope_all: false },
            Call::Requests { cursor: None },
            read_members("rust-guild", None),
        ]
    );
    assert_eq!(c.state.groups.load, Load::Loading);
    assert_eq!(c.state.requests.list.load, Load::Loading);
    assert_eq!(c.state.members.list.load, Load::Loading);
    assert_eq!(c.state.baseline, Some(5_000));
    // Events up to the new baseline are history now.
    c.event(joined(4_999, "rust-guild", "zed", 99));
    assert_eq!(c.group("rust-guild").member_count, 4);
}

#[test]
fn a_fatal_stream_error_is_refused_and_kept() {
    let mut c = Console::loaded();
    c.stream(StreamMsg::Fatal("UserSig expired".into()));
    assert_eq!(
        c.state.connection,
        Connection::Refused("UserSig expired".into())
    );
    assert!(c.state.sticky_error.is_some());
}

#[test]
fn ctrl_r_rereads_everything() {
    let mut c = Console::loaded();
    let out = c.key(ctrl('r'));
    assert_eq!(calls(&out).len(), 3);
    assert_eq!(c.last_note().level, Level::Info);
}

// ---- mouse and resize ----

fn mouse(kind: MouseEventKind, (column, row): (u16, u16)) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn a_click_focuses_a_pane_and_the_wheel_moves_it() {
    let mut c = Console::loaded();
    let areas = c.state.areas();
    let at = |r: ratatui::layout::Rect| (r.x + 2, r.y + 2);
    c.send(mouse(
        MouseEventKind::Down(MouseButton::Left),
        at(areas.requests),
    ));
    assert_eq!(c.state.focus, Pane::Requests);
    assert_eq!(c.state.requests.list.cursor, 0, "the first row was clicked");
    let out = c.send(mouse(MouseEventKind::ScrollDown, at(areas.groups)));
    assert_eq!(
        c.state.focus,
        Pane::Requests,
        "the wheel does not take focus"
    );
    assert_eq!(c.state.groups.cursor, 3);
    assert!(matches!(only_call(out).1, Call::Members { .. }));
}

#[test]
fn resize_keeps_the_selection_on_screen() {
    let mut c = Console::loaded_with(false, numbered_groups(30), vec![], None);
    c.press('G');
    c.send(Msg::Resize {
        width: 120,
        height: 40,
    });
    assert!(group_in_view(&c, 29));
    c.send(Msg::Resize {
        width: 60,
        height: 16,
    });
    assert!(group_in_view(&c, 29));
}
