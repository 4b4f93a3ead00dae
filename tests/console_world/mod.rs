//! The fixture world the console tests share: a fixed clock and user,
//! builders for the groups, members, join requests and events the server
//! sends, the replies and calls `update` trades, the keys a terminal sends,
//! and `Console`, a `State` driven one message at a time.
//!
//! Each test file brings its own data (which groups, members and requests
//! are in view) and uses the part of this it needs.
#![allow(dead_code)]

use groupdeck::model::{AddOption, Event, EventKind, GroupType, Role};
use groupdeck::server::api::{GroupInfo, JoinRequestInfo, Me, MemberInfo, Page};
use groupdeck::tui::keymap::Keymap;
use groupdeck::tui::msg::{Call, CallError, Cmd, Hello, Msg, Outcome, Reply, StreamMsg};
use groupdeck::tui::state::{Form, Note, Popup, Settings, State};
use groupdeck::tui::theme::{Palette, Theme};
use groupdeck::tui::update::{start, update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

/// 2025-03-14 09:30:00 UTC.
pub const NOW: u64 = 1_741_944_600_000;
pub const MINUTE: u64 = 60_000;
/// Who runs the console.
pub const ME: &str = "alice";

// ---- the world ----

/// The console as `ME` against a local server: dark, in colour, the
/// default keys.
pub fn settings(read_only: bool) -> Settings {
    Settings {
        user: ME.into(),
        server: "127.0.0.1:9090".into(),
        demo: false,
        read_only,
        theme: Theme {
            palette: Palette::Dark,
            color: true,
        },
        keymap: Keymap::defaults(),
    }
}

/// A group I am in with `role` (or not in, with `None`). Work groups take
/// no join requests; the others want approval.
pub fn group(id: &str, name: &str, t: GroupType, role: Option<Role>, count: u64) -> GroupInfo {
    GroupInfo {
        group_id: id.into(),
        group_type: t,
        name: name.into(),
        introduction: String::new(),
        notification: String::new(),
        face_url: String::new(),
        owner: None,
        add_option: if t == GroupType::Work {
            AddOption::Forbid
        } else {
            AddOption::Auth
        },
        invite_option: None,
        max_members: None,
        member_count: count,
        created_at: 1_700_000_000,
        info_seq: 1,
        mute_all: false,
        my_role: role,
        pending_requests: None,
    }
}

pub fn member(user: &str, role: Role) -> MemberInfo {
    MemberInfo {
        user_id: user.into(),
        role,
        join_time: 1_700_000_000,
        name_card: String::new(),
        mute_until: 0,
    }
}

/// A pending request to join a Public group, a minute old, mine to decide.
pub fn request(
    id: u64,
    group_id: &str,
    group_name: &str,
    applicant: &str,
    message: &str,
) -> JoinRequestInfo {
    JoinRequestInfo {
        id,
        group_id: group_id.into(),
        group_name: group_name.into(),
        group_type: Some(GroupType::Public),
        kind: "join".into(),
        applicant: applicant.into(),
        inviter: None,
        message: message.into(),
        created_at: NOW - MINUTE,
        status: "pending".into(),
        handled_by: None,
        handled_at: None,
        reason: String::new(),
        can_decide: true,
    }
}

/// An event from the last ten seconds; a higher id is a later time.
pub fn ev(
    id: u64,
    gid: &str,
    kind: EventKind,
    actor: &str,
    targets: &[&str],
    detail: serde_json::Value,
) -> Event {
    Event {
        id,
        time: NOW - 10_000 + id,
        group_id: gid.into(),
        kind,
        actor: actor.into(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        detail,
    }
}

// ---- events by kind ----

/// `who` joined by asking; the group has `count` members now.
pub fn joined(id: u64, gid: &str, who: &str, count: u64) -> Event {
    let detail = json!({"via": "join", "member_count": count});
    ev(id, gid, EventKind::MemberJoined, who, &[who], detail)
}

/// `who` quit; `count` members are left.
pub fn quit(id: u64, gid: &str, who: &str, count: u64) -> Event {
    let detail = json!({"member_count": count});
    ev(id, gid, EventKind::MemberQuit, who, &[who], detail)
}

/// `by` kicked `who` without a reason; `count` members are left.
pub fn kicked(id: u64, gid: &str, by: &str, who: &str, count: u64) -> Event {
    let detail = json!({"member_count": count});
    ev(id, gid, EventKind::MemberKicked, by, &[who], detail)
}

/// `who` asks to join: join request `request_id`.
pub fn requested(id: u64, gid: &str, who: &str, request_id: u64, message: &str) -> Event {
    let detail = json!({"request_id": request_id, "kind": "join", "message": message});
    ev(id, gid, EventKind::JoinRequested, who, &[who], detail)
}

/// `by` decided `applicant`'s request `request_id`: "accepted" or "refused".
pub fn handled(
    id: u64,
    gid: &str,
    by: &str,
    applicant: &str,
    request_id: u64,
    decision: &str,
) -> Event {
    let detail = json!({"request_id": request_id, "decision": decision, "by": by});
    let kind = EventKind::JoinRequestHandled;
    ev(id, gid, kind, by, &[applicant], detail)
}

/// `by` made `who` an admin.
pub fn granted(id: u64, gid: &str, by: &str, who: &str) -> Event {
    let detail = json!({"role": "Admin"});
    ev(id, gid, EventKind::AdminGranted, by, &[who], detail)
}

/// `by` made `who` a plain member again.
pub fn revoked(id: u64, gid: &str, by: &str, who: &str) -> Event {
    let detail = json!({"role": "Member"});
    ev(id, gid, EventKind::AdminRevoked, by, &[who], detail)
}

pub fn disbanded(id: u64, gid: &str, by: &str) -> Event {
    ev(id, gid, EventKind::GroupDisbanded, by, &[], json!({}))
}

/// `by` changed the group's profile: `detail` names the fields and their
/// new values.
pub fn info_changed(id: u64, gid: &str, by: &str, detail: serde_json::Value) -> Event {
    ev(id, gid, EventKind::GroupInfoChanged, by, &[], detail)
}

/// `old` handed the group to `new`.
pub fn owner_changed(id: u64, gid: &str, old: &str, new: &str) -> Event {
    let detail = json!({"old_owner": old, "new_owner": new});
    ev(id, gid, EventKind::OwnerChanged, old, &[new], detail)
}

// ---- replies ----

/// The greeting: who I am and the newest event id at that moment.
pub fn hello(app_admin: bool, last_event_id: u64) -> Reply {
    Reply::Hello(Ok(Hello {
        me: Me {
            user_id: ME.into(),
            app_admin,
        },
        last_event_id,
    }))
}

/// An error the server answered with.
pub fn api_error(code: u32, status: u16, message: &str) -> CallError {
    CallError::from_client(&groupdeck::client::ClientError::Api {
        status,
        code,
        message: message.into(),
    })
}

/// A call that never reached the server.
pub fn transport_error(message: &str) -> CallError {
    CallError {
        code: None,
        status: None,
        message: message.into(),
    }
}

pub fn done_ok(outcome: Outcome) -> Reply {
    Reply::Done(Ok(outcome))
}

/// The server's answer when the owner of a Public group tries to quit it.
pub fn owner_cannot_quit() -> Reply {
    Reply::Done(Err(api_error(
        10009,
        403,
        "the owner cannot quit a Public group — transfer ownership or disband it",
    )))
}

/// `count` join requests approved, none failed.
pub fn approved(count: usize) -> Reply {
    done_ok(Outcome::Decided {
        accepted: true,
        count,
        failed: vec![],
    })
}

pub fn option_set(gid: &str, option: AddOption, changed: bool) -> Reply {
    done_ok(Outcome::OptionSet {
        group_id: gid.into(),
        option,
        changed,
    })
}

pub fn members_page(
    gid: &str,
    cursor: Option<&str>,
    items: Vec<MemberInfo>,
    next: Option<&str>,
) -> Reply {
    Reply::Members {
        group_id: gid.into(),
        cursor: cursor.map(str::to_string),
        result: Ok(Page {
            items,
            next_cursor: next.map(str::to_string),
        }),
    }
}

pub fn requests_page(
    cursor: Option<&str>,
    items: Vec<JoinRequestInfo>,
    next: Option<&str>,
) -> Reply {
    Reply::Requests {
        cursor: cursor.map(str::to_string),
        result: Ok(Page {
            items,
            next_cursor: next.map(str::to_string),
        }),
    }
}

// ---- calls ----

pub fn read_members(gid: &str, cursor: Option<&str>) -> Call {
    Call::Members {
        group_id: gid.into(),
        cursor: cursor.map(str::to_string),
    }
}

pub fn approve(request_ids: &[u64]) -> Call {
    Call::Decide {
        request_ids: request_ids.to_vec(),
        accept: true,
        reason: None,
    }
}

pub fn reject(request_ids: &[u64], reason: Option<&str>) -> Call {
    Call::Decide {
        request_ids: request_ids.to_vec(),
        accept: false,
        reason: reason.map(str::to_string),
    }
}

pub fn join_group(gid: &str, message: Option<&str>) -> Call {
    Call::Join {
        group_id: gid.into(),
        message: message.map(str::to_string),
    }
}

pub fn set_option(gid: &str, option: AddOption) -> Call {
    Call::SetOption {
        group_id: gid.into(),
        option,
    }
}

pub fn set_role(gid: &str, user: &str, role: Role) -> Call {
    Call::SetRole {
        group_id: gid.into(),
        user: user.into(),
        role,
    }
}

// ---- what update hands back ----

pub fn calls(out: &[Cmd]) -> Vec<(u64, Call)> {
    out.iter()
        .filter_map(|c| match c {
            Cmd::Call { id, call } => Some((*id, call.clone())),
            _ => None,
        })
        .collect()
}

/// The calls in `out`, without their ids.
pub fn call_list(out: &[Cmd]) -> Vec<Call> {
    calls(out).into_iter().map(|(_, c)| c).collect()
}

/// The one call in `out` (and nothing else of note).
pub fn only_call(out: Vec<Cmd>) -> (u64, Call) {
    let found = calls(&out);
    assert_eq!(found.len(), 1, "expected one call, got {out:?}");
    found.into_iter().next().expect("one call")
}

/// The id of the one call of this shape in `out`.
pub fn call_id(out: &[Cmd], pred: impl Fn(&Call) -> bool) -> u64 {
    let ids: Vec<u64> = calls(out)
        .into_iter()
        .filter(|(_, c)| pred(c))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids.len(), 1, "expected one such call in {out:?}");
    ids[0]
}

pub fn no_calls(out: &[Cmd]) {
    assert!(calls(out).is_empty(), "expected no call, got {out:?}");
}

pub fn exits(out: &[Cmd]) -> bool {
    out.contains(&Cmd::Exit)
}

// ---- keys ----

pub fn press_event(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

/// A character as a terminal sends it: capitals carry Shift.
pub fn ch(c: char) -> KeyEvent {
    let m = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    press_event(KeyCode::Char(c), m)
}

pub fn code(c: KeyCode) -> KeyEvent {
    press_event(c, KeyModifiers::NONE)
}

pub fn ctrl(c: char) -> KeyEvent {
    press_event(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Shift-Tab as a terminal sends it: BackTab with Shift.
pub fn back_tab() -> KeyEvent {
    press_event(KeyCode::BackTab, KeyModifiers::SHIFT)
}

// ---- the console ----

/// The console's state, fed one message at a time through `update`.
pub struct Console {
    pub state: State,
}

impl Console {
    /// Not started yet, 80×24.
    pub fn new(read_only: bool) -> Console {
        Console::with(settings(read_only), 80, 24)
    }

    pub fn with(settings: Settings, width: u16, height: u16) -> Console {
        Console {
            state: State::new(settings, width, height, NOW),
        }
    }

    /// Starts and answers the start-up reads: the greeting (`baseline` is the
    /// newest event id), the groups, the join requests and, when there is a
    /// group, the first one's members; then the event stream connects.
    /// Nothing is left in flight.
    pub fn load(
        &mut self,
        baseline: u64,
        groups: Vec<GroupInfo>,
        requests: Vec<JoinRequestInfo>,
        members: Vec<MemberInfo>,
        next_cursor: Option<&str>,
    ) {
        let (hello_id, _) = only_call(start(&mut self.state));
        let out = self.reply(hello_id, hello(false, baseline));
        let (groups_id, requests_id) = (
            call_id(&out, |c| matches!(c, Call::Groups { .. })),
            call_id(&out, |c| matches!(c, Call::Requests { .. })),
        );
        let out = self.reply(groups_id, Reply::Groups(Ok(groups)));
        let members_id = calls(&out)
            .into_iter()
            .find(|(_, c)| matches!(c, Call::Members { .. }))
            .map(|(id, _)| id);
        self.reply(requests_id, requests_page(None, requests, None));
        if let (Some(id), Some(gid)) = (members_id, self.state.members.group_id.clone()) {
            self.reply(id, members_page(&gid, None, members, next_cursor));
        }
        self.stream(StreamMsg::Connected);
        assert!(
            self.state.in_flight.is_empty(),
            "{:?}",
            self.state.in_flight
        );
    }

    pub fn send(&mut self, msg: Msg) -> Vec<Cmd> {
        update(&mut self.state, msg)
    }

    pub fn key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        self.send(Msg::Key(k))
    }

    pub fn press(&mut self, c: char) -> Vec<Cmd> {
        self.key(ch(c))
    }

    pub fn code(&mut self, c: KeyCode) -> Vec<Cmd> {
        self.key(code(c))
    }

    /// Types text key by key; returns every command produced.
    pub fn type_text(&mut self, text: &str) -> Vec<Cmd> {
        text.chars().flat_map(|c| self.press(c)).collect()
    }

    /// Runs `:line`: opens the command line, types `line` and presses Enter;
    /// returns what Enter hands back.
    pub fn command(&mut self, line: &str) -> Vec<Cmd> {
        self.press(':');
        self.type_text(line);
        self.code(KeyCode::Enter)
    }

    pub fn reply(&mut self, id: u64, reply: Reply) -> Vec<Cmd> {
        self.send(Msg::Reply { id, reply })
    }

    pub fn event(&mut self, e: Event) -> Vec<Cmd> {
        self.send(Msg::Stream(StreamMsg::Event(Box::new(e))))
    }

    pub fn stream(&mut self, s: StreamMsg) -> Vec<Cmd> {
        self.send(Msg::Stream(s))
    }

    pub fn group(&self, id: &str) -> &GroupInfo {
        self.state
            .groups
            .items
            .iter()
            .find(|g| g.group_id == id)
            .unwrap_or_else(|| panic!("no group {id}"))
    }

    pub fn group_ids(&self) -> Vec<String> {
        self.state
            .groups
            .items
            .iter()
            .map(|g| g.group_id.clone())
            .collect()
    }

    /// The group under the Groups cursor.
    pub fn selected_group(&self) -> Option<&str> {
        self.state.groups.selected().map(|g| g.group_id.as_str())
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.state
            .members
            .list
            .items
            .iter()
            .map(|m| m.user_id.clone())
            .collect()
    }

    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.state
            .members
            .list
            .items
            .iter()
            .find(|m| m.user_id == user)
            .map(|m| m.role)
    }

    pub fn request_ids(&self) -> Vec<u64> {
        self.state
            .requests
            .list
            .items
            .iter()
            .map(|r| r.id)
            .collect()
    }

    /// The marked join requests, in order.
    pub fn marked(&self) -> Vec<u64> {
        self.state.requests.marked.iter().copied().collect()
    }

    /// What the command line holds, if it is open.
    pub fn command_input(&self) -> Option<&str> {
        self.state.command.as_ref().map(|cl| cl.input.value())
    }

    /// The open form; any other popup (or none) fails the test.
    #[track_caller]
    pub fn form(&self) -> &Form {
        match &self.state.popup {
            Some(Popup::Form(f)) => f,
            other => panic!("expected a form, got {other:?}"),
        }
    }

    pub fn last_note(&self) -> &Note {
        self.state.notes.last().expect("a note")
    }

    /// The newest note mentions `text`.
    #[track_caller]
    pub fn assert_note_mentions(&self, text: &str) {
        let note = &self.last_note().text;
        assert!(note.contains(text), "{text:?} is not in the note {note:?}");
    }

    /// The id of the one call of this shape in flight.
    pub fn in_flight(&self, pred: impl Fn(&Call) -> bool) -> u64 {
        let ids: Vec<u64> = self
            .state
            .in_flight
            .iter()
            .filter(|(_, c)| pred(c))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(ids.len(), 1, "in flight: {:?}", self.state.in_flight);
        ids[0]
    }
}
