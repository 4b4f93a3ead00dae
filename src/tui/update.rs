//! `update(&mut State, Msg) -> Vec<Cmd>`: the console's whole behaviour,
//! pure. Keys become actions through the keymap, actions become calls for
//! the backend, replies and live events change the panes. No I/O here: the
//! loop and the backend task do it, so this is tested by feeding messages.

use super::command;
use super::keymap::{Action, Scope};
use super::msg::{Call, CallError, Cmd, Hello, Msg, Outcome, Reply, StreamMsg};
use super::state::{
    Connection, Field, FieldValue, Form, FormKind, Level, Load, NOTE_HISTORY, Note, OPTION_CHOICES,
    Pane, Popup, State, TYPE_CHOICES, option_of, type_of,
};
use crate::model::{AddOption, Event, EventKind, GroupType, Role};
use crate::server::api::{
    CreateGroupRequest, GroupInfo, InviteStatus, JoinRequestInfo, JoinStatus, MemberInfo,
};
use ratatui::crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use ratatui::layout::Position;
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

/// How many past events the log shows at start (those the user may see).
pub const HISTORY_EVENTS: u64 = 300;
/// Rows fetched per page of members or join requests.
pub const PAGE: u32 = 200;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: isize = 3;

/// The first commands of a run.
pub fn start(state: &mut State) -> Vec<Cmd> {
    let mut out = Vec::new();
    state.groups.load = Load::Loading;
    state.requests.list.load = Load::Loading;
    call(state, &mut out, Call::Hello);
    out
}

/// Applies one message; returns what the outside world must do.
pub fn update(state: &mut State, msg: Msg) -> Vec<Cmd> {
    let mut out = Vec::new();
    match msg {
        Msg::Key(key) => {
            if key.kind != KeyEventKind::Release {
                state.dirty = true;
                on_key(state, key, &mut out);
            }
        }
        Msg::Mouse(m) => on_mouse(state, m, &mut out),
        Msg::Paste(text) => on_paste(state, &text),
        Msg::Resize { width, height } => {
            state.width = width;
            state.height = height;
            for pane in [Pane::Groups, Pane::Members, Pane::Requests] {
                let rows = state.rows(pane);
                list_scroll(state, pane, rows);
            }
            state.dirty = true;
        }
        Msg::Tick { now_ms } => on_tick(state, now_ms),
        Msg::Reply { id, reply } => {
            let was = state.in_flight.remove(&id);
            state.dirty = true;
            on_reply(state, was, reply, &mut out);
        }
        Msg::Stream(s) => {
            state.dirty = true;
            on_stream(state, s, &mut out);
        }
        Msg::Terminate => {
            state.exiting = true;
            out.push(Cmd::Exit);
        }
    }
    // Whatever moved the Groups cursor (keys, a filter, a group going
    // away), the Members pane follows the group under it.
    if !state.exiting {
        select_group(state, &mut out);
    }
    out
}

fn list_scroll(state: &mut State, pane: Pane, rows: usize) {
    match pane {
        Pane::Groups => state.groups.scroll_into_view(rows),
        Pane::Members => state.members.list.scroll_into_view(rows),
        Pane::Requests => state.requests.list.scroll_into_view(rows),
        Pane::Events => {}
    }
}

/// Sends a call, remembering it as in flight. Calls of one slot replace each other.
fn call(state: &mut State, out: &mut Vec<Cmd>, call: Call) {
    if let Some(slot) = call.slot() {
        state.in_flight.retain(|_, c| c.slot() != Some(slot));
    }
    let id = state.next_call_id;
    state.next_call_id += 1;
    state.in_flight.insert(id, call.clone());
    out.push(Cmd::Call { id, call });
}

// ---- notes ----

pub fn note(state: &mut State, level: Level, text: impl Into<String>) {
    state.notes.push(Note {
        level,
        text: text.into(),
        at_ms: state.now_ms,
    });
    if state.notes.len() > NOTE_HISTORY {
        let drop = state.notes.len() - NOTE_HISTORY;
        state.notes.drain(..drop);
        state.sticky_error = state.sticky_error.and_then(|i| i.checked_sub(drop));
    }
    if level == Level::Error {
        state.sticky_error = Some(state.notes.len() - 1);
    } else if state.sticky_error.is_some() && level == Level::Success {
        // A later success does not hide an error: it stays until dismissed.
    }
    state.dirty = true;
}

fn error(state: &mut State, e: &CallError, doing: &str) {
    note(state, Level::Error, format!("{doing}: {}", e.message));
}

// ---- time ----

fn on_tick(state: &mut State, now_ms: u64) {
    let before = state.now_ms;
    state.now_ms = now_ms;
    // The spinner turns while calls are out.
    if !state.in_flight.is_empty() || state.connection != Connection::Connected {
        state.dirty = true;
    }
    // A success note fades.
    if let Some(last) = state.notes.last()
        && last.level != Level::Error
        && before.saturating_sub(last.at_ms) < super::state::NOTE_FADE_MS
        && now_ms.saturating_sub(last.at_ms) >= super::state::NOTE_FADE_MS
    {
        state.dirty = true;
    }
    // Ages ("3m") change at most once a second.
    if before / 1000 != now_ms / 1000 && !state.requests.list.is_empty() {
        state.dirty = true;
    }
}

// ---- keys ----

fn on_key(state: &mut State, key: KeyEvent, out: &mut Vec<Cmd>) {
    // Ctrl-C always leaves, whatever the keymap, popup or input line says;
    // pressed at the "changes in flight" question it leaves at once.
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl_c {
        let asked = matches!(state.popup, Some(Popup::ConfirmExit { .. }));
        state.popup = None;
        state.command = None;
        state.filter_input = None;
        if asked {
            state.exiting = true;
            out.push(Cmd::Exit);
        } else {
            request_exit(state, out);
        }
        return;
    }
    if state.popup.is_some() {
        on_popup_key(state, key, out);
        return;
    }
    if state.command.is_some() {
        on_command_key(state, key, out);
        return;
    }
    if state.filter_input.is_some() {
        on_filter_key(state, key);
        return;
    }
    if key.code == KeyCode::Esc {
        on_escape(state);
        return;
    }
    if let Some(action) = state.settings.keymap.action(&key) {
        dispatch(state, action, out);
    }
}

fn on_escape(state: &mut State) {
    if state.sticky_error.take().is_some() {
        return;
    }
    let rows = state.rows(state.focus);
    match state.focus {
        Pane::Groups if !state.groups.filter.is_empty() => {
            state.groups.filter.clear();
            state.groups.refilter(group_matches, rows);
        }
        Pane::Members if !state.members.list.filter.is_empty() => {
            state.members.list.filter.clear();
            state.members.list.refilter(member_matches, rows);
        }
        Pane::Requests if !state.requests.list.filter.is_empty() => {
            state.requests.list.filter.clear();
            state.requests.list.refilter(request_matches, rows);
        }
        Pane::Requests if !state.requests.marked.is_empty() => state.requests.marked.clear(),
        Pane::Events if !state.log.filter.is_empty() => {
            state.log.filter.clear();
            state.log.matches = None;
            state.log.scroll = 0;
            state.log.unseen = 0;
        }
        Pane::Events if state.log.scroll > 0 => {
            state.log.scroll = 0;
            state.log.unseen = 0;
        }
        _ => {}
    }
}

fn request_exit(state: &mut State, out: &mut Vec<Cmd>) {
    if state.changes_in_flight() > 0 {
        state.popup = Some(Popup::ConfirmExit { yes: false });
    } else {
        state.exiting = true;
        out.push(Cmd::Exit);
    }
}

/// Whether an action is offered now (read-only hides changing ones).
pub fn available(state: &State, action: Action) -> bool {
    !(state.settings.read_only && action.changes())
}

/// Whether an action applies to the focused pane (for hints).
pub fn applies_here(state: &State, action: Action) -> bool {
    match action.scope() {
        Scope::Everywhere => true,
        Scope::Lists => true,
        Scope::Groups => matches!(state.focus, Pane::Groups | Pane::Members),
        Scope::Members => state.focus == Pane::Members,
        Scope::Requests => state.focus == Pane::Requests,
    }
}

fn dispatch(state: &mut State, action: Action, out: &mut Vec<Cmd>) {
    if !available(state, action) {
        note(
            state,
            Level::Error,
            format!(
                "read-only: \"{}\" is not available (the console was started with --read-only)",
                action.description()
            ),
        );
        return;
    }
    if !applies_here(state, action) {
        let (pane, n) = match action.scope() {
            Scope::Members => ("Members", Pane::Members),
            Scope::Requests => ("Requests", Pane::Requests),
            _ => ("Groups", Pane::Groups),
        };
        let key = state
            .settings
            .keymap
            .first(focus_action(n))
            .unwrap_or_default();
        note(
            state,
            Level::Info,
            format!("{} works in the {pane} pane (press {key})", action.hint()),
        );
        return;
    }
    let rows = state.rows(state.focus);
    match action {
        Action::FocusGroups => state.focus = Pane::Groups,
        Action::FocusMembers => state.focus = Pane::Members,
        Action::FocusRequests => state.focus = Pane::Requests,
        Action::FocusEvents => state.focus = Pane::Events,
        Action::FocusNext => state.focus = state.focus.next(),
        Action::FocusPrev => state.focus = state.focus.prev(),
        Action::Down => move_cursor(state, 1, out),
        Action::Up => move_cursor(state, -1, out),
        Action::PageDown => move_cursor(state, rows as isize, out),
        Action::PageUp => move_cursor(state, -(rows as isize), out),
        Action::Top => move_cursor(state, isize::MIN / 2, out),
        Action::Bottom => move_cursor(state, isize::MAX / 2, out),
        Action::Open => {
            if state.focus == Pane::Groups && state.groups.selected().is_some() {
                state.focus = Pane::Members;
            }
        }
        Action::Filter => {
            let current = match state.focus {
                Pane::Groups => state.groups.filter.clone(),
                Pane::Members => state.members.list.filter.clone(),
                Pane::Requests => state.requests.list.filter.clone(),
                Pane::Events => state.log.filter.clone(),
            };
            state.filter_input = Some(Input::new(current));
        }
        Action::Help => state.popup = Some(Popup::Help { scroll: 0 }),
        Action::Messages => {
            state.popup = Some(Popup::Messages { scroll: 0 });
            state.sticky_error = None;
        }
        Action::Command => state.command = Some(Default::default()),
        Action::Refresh => {
            reload_all(state, out);
            note(
                state,
                Level::Info,
                "re-reading groups, members and join requests",
            );
        }
        Action::Quit => request_exit(state, out),
        Action::Create => state.popup = Some(Popup::Form(create_form())),
        Action::Join => state.popup = Some(Popup::Form(join_form(""))),
        Action::Invite => match state.target_group() {
            Some(g) => {
                let id = g.group_id.clone();
                let title = format!("Invite to {} ({id})", g.name);
                state.popup = Some(Popup::Form(Form {
                    kind: FormKind::Invite { group_id: id },
                    title,
                    fields: vec![Field::text(
                        "Users",
                        "user IDs, separated by spaces or commas",
                        "",
                    )],
                    focus: 0,
                    error: None,
                }));
            }
            None => no_group(state),
        },
        Action::Approve => decide_selected(state, true, out),
        Action::Reject => decide_selected(state, false, out),
        Action::Select => {
            if let Some(r) = state.requests.list.selected() {
                let id = r.id;
                if !state.requests.marked.remove(&id) {
                    state.requests.marked.insert(id);
                }
                move_cursor(state, 1, out);
            }
        }
        Action::Leave => match state.target_group() {
            Some(g) => {
                let q = format!("Quit the group \"{}\" ({})?", g.name, g.group_id);
                let group_id = g.group_id.clone();
                state.popup = Some(Popup::Confirm {
                    question: q,
                    call: Call::Leave { group_id },
                    yes: false,
                });
            }
            None => no_group(state),
        },
        Action::Disband => match state.target_group() {
            Some(g) => {
                let form = disband_form(g);
                state.popup = Some(Popup::Form(form));
            }
            None => no_group(state),
        },
        Action::JoinOption => match state.target_group() {
            Some(g) => {
                let index = OPTION_CHOICES
                    .iter()
                    .position(|o| *o == g.add_option.as_str())
                    .unwrap_or(0);
                state.popup = Some(Popup::OptionPicker {
                    group_id: g.group_id.clone(),
                    group_name: g.name.clone(),
                    index,
                });
            }
            None => no_group(state),
        },
        Action::Kick => {
            if let Some((gid, m)) = selected_member(state) {
                if m.user_id == state.settings.user {
                    note(
                        state,
                        Level::Info,
                        format!(
                            "to leave {gid} yourself, use quit ({})",
                            state.settings.keymap.label(Action::Leave)
                        ),
                    );
                    return;
                }
                let q = format!("Kick {} from \"{}\"?", m.user_id, state.group_name(&gid));
                state.popup = Some(Popup::Confirm {
                    question: q,
                    call: Call::Kick {
                        group_id: gid,
                        user: m.user_id,
                    },
                    yes: false,
                });
            }
        }
        Action::ToggleAdmin => {
            if let Some((gid, m)) = selected_member(state) {
                let role = match m.role {
                    Role::Admin => Role::Member,
                    Role::Member => Role::Admin,
                    Role::Owner => {
                        note(
                            state,
                            Level::Info,
                            format!(
                                "{} owns the group; ownership moves only by transfer",
                                m.user_id
                            ),
                        );
                        return;
                    }
                };
                call(
                    state,
                    out,
                    Call::SetRole {
                        group_id: gid,
                        user: m.user_id,
                        role,
                    },
                );
            }
        }
    }
}

fn focus_action(p: Pane) -> Action {
    match p {
        Pane::Groups => Action::FocusGroups,
        Pane::Members => Action::FocusMembers,
        Pane::Requests => Action::FocusRequests,
        Pane::Events => Action::FocusEvents,
    }
}

fn no_group(state: &mut State) {
    note(state, Level::Info, "select a group first (Groups pane)");
}

fn selected_member(state: &mut State) -> Option<(String, MemberInfo)> {
    let gid = state.members.group_id.clone();
    match (gid, state.members.list.selected().cloned()) {
        (Some(g), Some(m)) => Some((g, m)),
        _ => {
            note(state, Level::Info, "select a member first");
            None
        }
    }
}

/// The requests a decision applies to: the marked ones, else the selected one.
fn decision_targets(state: &State) -> Vec<u64> {
    if !state.requests.marked.is_empty() {
        return state.requests.marked.iter().copied().collect();
    }
    state
        .requests
        .list
        .selected()
        .map(|r| vec![r.id])
        .unwrap_or_default()
}

fn decide_selected(state: &mut State, accept: bool, out: &mut Vec<Cmd>) {
    let ids = decision_targets(state);
    if ids.is_empty() {
        note(state, Level::Info, "no join request selected");
        return;
    }
    if accept {
        call(
            state,
            out,
            Call::Decide {
                request_ids: ids,
                accept: true,
                reason: None,
            },
        );
        return;
    }
    let title = if ids.len() == 1 {
        match state.requests.list.items.iter().find(|r| r.id == ids[0]) {
            Some(r) => format!("Reject {}'s request to join {}", r.applicant, r.group_name),
            None => "Reject the join request".to_string(),
        }
    } else {
        format!("Reject {} join requests", ids.len())
    };
    state.popup = Some(Popup::Form(Form {
        kind: FormKind::Reject { request_ids: ids },
        title,
        fields: vec![Field::text(
            "Reason",
            "optional; Enter to reject, Esc to cancel",
            "",
        )],
        focus: 0,
        error: None,
    }));
}

fn create_form() -> Form {
    Form {
        kind: FormKind::Create,
        title: "Create a group".to_string(),
        fields: vec![
            Field::choice("Type", &TYPE_CHOICES, 0),
            Field::text("Name", "up to 30 bytes", ""),
            Field::text("ID", "optional; empty = assigned by the server", ""),
            Field::choice("Join option", &OPTION_CHOICES, 0),
        ],
        focus: 1,
        error: None,
    }
}

fn join_form(id: &str) -> Form {
    Form {
        kind: FormKind::Join,
        title: "Join a group".to_string(),
        fields: vec![
            Field::text("Group ID", "e.g. @TGS#2ABCDEF or a custom ID", id),
            Field::text("Message", "optional; shown to the approvers", ""),
        ],
        focus: 0,
        error: None,
    }
}

fn disband_form(g: &GroupInfo) -> Form {
    Form {
        kind: FormKind::Disband {
            group_id: g.group_id.clone(),
        },
        title: format!(
            "Disband \"{}\" for every member? This cannot be undone.",
            g.name
        ),
        fields: vec![Field::text("Type the group ID", "", "")],
        focus: 0,
        error: None,
    }
}

// ---- movement ----

fn move_cursor(state: &mut State, delta: isize, out: &mut Vec<Cmd>) {
    let rows = state.rows(state.focus);
    match state.focus {
        Pane::Groups => {
            state.groups.move_by(delta, rows);
        }
        Pane::Members => {
            state.members.list.move_by(delta, rows);
            more_members(state, out);
        }
        Pane::Requests => {
            state.requests.list.move_by(delta, rows);
            more_requests(state, out);
        }
        Pane::Events => {
            // Up scrolls back in time: the scroll counts rows from the tail.
            let len = visible_events(state);
            let max = len.saturating_sub(rows);
            let scroll = (state.log.scroll as isize - delta).clamp(0, max as isize);
            state.log.scroll = scroll as usize;
            if state.log.scroll == 0 {
                state.log.unseen = 0;
            }
        }
    }
}

/// Events that pass the Events pane's filter.
pub fn visible_events(state: &State) -> usize {
    state.log.shown()
}

/// Recomputes which events the Events pane's filter lets through.
fn refilter_events(state: &mut State) {
    if state.log.filter.is_empty() {
        state.log.matches = None;
        return;
    }
    let needle = state.log.filter.to_lowercase();
    let ids: std::collections::VecDeque<u64> = state
        .log
        .events
        .iter()
        .filter(|e| event_matches(state, e, &needle))
        .map(|e| e.id)
        .collect();
    state.log.matches = Some(ids);
}

pub fn event_matches(state: &State, e: &Event, needle: &str) -> bool {
    e.group_id.to_lowercase().contains(needle)
        || e.kind.as_str().contains(needle)
        || e.actor.to_lowercase().contains(needle)
        || e.targets.iter().any(|t| t.to_lowercase().contains(needle))
        || state
            .group(&e.group_id)
            .is_some_and(|g| g.name.to_lowercase().contains(needle))
}

/// Shows the selected group's members, fetching them if it changed.
fn select_group(state: &mut State, out: &mut Vec<Cmd>) {
    let selected = state.groups.selected().map(|g| g.group_id.clone());
    if selected == state.members.group_id {
        return;
    }
    state.members = Default::default();
    if let Some(id) = selected {
        state.members.group_id = Some(id.clone());
        state.members.list.load = Load::Loading;
        call(
            state,
            out,
            Call::Members {
                group_id: id,
                cursor: None,
            },
        );
    }
}

/// Near the end of what is loaded, fetch the next page.
fn more_members(state: &mut State, out: &mut Vec<Cmd>) {
    let rows = state.rows(Pane::Members);
    let m = &state.members;
    if m.loading_more || m.next_cursor.is_none() {
        return;
    }
    if m.list.cursor + rows * 2 < m.list.len() {
        return;
    }
    let (Some(gid), Some(cursor)) = (m.group_id.clone(), m.next_cursor.clone()) else {
        return;
    };
    state.members.loading_more = true;
    call(
        state,
        out,
        Call::Members {
            group_id: gid,
            cursor: Some(cursor),
        },
    );
}

fn more_requests(state: &mut State, out: &mut Vec<Cmd>) {
    let rows = state.rows(Pane::Requests);
    let r = &state.requests;
    if r.loading_more || r.list.cursor + rows * 2 < r.list.len() {
        return;
    }
    let Some(cursor) = r.next_cursor.clone() else {
        return;
    };
    state.requests.loading_more = true;
    call(
        state,
        out,
        Call::Requests {
            cursor: Some(cursor),
        },
    );
}

fn reload_all(state: &mut State, out: &mut Vec<Cmd>) {
    state.groups.load = Load::Loading;
    call(
        state,
        out,
        Call::Groups {
            scope_all: state.app_admin,
        },
    );
    state.requests.list.load = Load::Loading;
    state.requests.loading_more = false;
    call(state, out, Call::Requests { cursor: None });
    if let Some(gid) = state.members.group_id.clone() {
        state.members.list.load = Load::Loading;
        state.members.loading_more = false;
        call(
            state,
            out,
            Call::Members {
                group_id: gid,
                cursor: None,
            },
        );
    }
}

// ---- filters ----

pub fn group_matches(g: &GroupInfo, needle: &str) -> bool {
    g.name.to_lowercase().contains(needle)
        || g.group_id.to_lowercase().contains(needle)
        || g.group_type.as_str().to_lowercase().contains(needle)
}

pub fn member_matches(m: &MemberInfo, needle: &str) -> bool {
    m.user_id.to_lowercase().contains(needle)
        || m.name_card.to_lowercase().contains(needle)
        || m.role.as_str().to_lowercase().contains(needle)
}

pub fn request_matches(r: &JoinRequestInfo, needle: &str) -> bool {
    r.applicant.to_lowercase().contains(needle)
        || r.group_name.to_lowercase().contains(needle)
        || r.group_id.to_lowercase().contains(needle)
        || r.message.to_lowercase().contains(needle)
}

fn on_filter_key(state: &mut State, key: KeyEvent) {
    let Some(input) = state.filter_input.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Enter => {
            state.filter_input = None;
            return;
        }
        KeyCode::Esc => {
            input.reset();
            state.filter_input = None;
        }
        _ => {
            if let Some(req) = to_input_request(&TermEvent::Key(key)) {
                input.handle(req);
            }
        }
    }
    let text = state
        .filter_input
        .as_ref()
        .map(|i| i.value().to_string())
        .unwrap_or_default();
    apply_filter(state, text);
}

fn apply_filter(state: &mut State, text: String) {
    let rows = state.rows(state.focus);
    match state.focus {
        Pane::Groups => {
            state.groups.filter = text;
            state.groups.refilter(group_matches, rows);
        }
        Pane::Members => {
            state.members.list.filter = text;
            state.members.list.refilter(member_matches, rows);
        }
        Pane::Requests => {
            state.requests.list.filter = text;
            state.requests.list.refilter(request_matches, rows);
        }
        Pane::Events => {
            if state.log.filter != text {
                state.log.filter = text;
                refilter_events(state);
            }
            state.log.scroll = 0;
            state.log.unseen = 0;
        }
    }
}

fn on_paste(state: &mut State, text: &str) {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let input = if let Some(Popup::Form(f)) = state.popup.as_mut() {
        match f.fields.get_mut(f.focus).map(|fl| &mut fl.value) {
            Some(FieldValue::Text(i)) => Some(i),
            _ => None,
        }
    } else if let Some(c) = state.command.as_mut() {
        Some(&mut c.input)
    } else {
        state.filter_input.as_mut()
    };
    if let Some(input) = input {
        for ch in text.chars() {
            input.handle(tui_input::InputRequest::InsertChar(ch));
        }
        state.dirty = true;
    }
    if state.filter_input.is_some() && state.popup.is_none() && state.command.is_none() {
        let t = state
            .filter_input
            .as_ref()
            .map(|i| i.value().to_string())
            .unwrap_or_default();
        apply_filter(state, t);
    }
}

// ---- popups ----

fn on_popup_key(state: &mut State, key: KeyEvent, out: &mut Vec<Cmd>) {
    let Some(popup) = state.popup.take() else {
        return;
    };
    let keep = match popup {
        Popup::Help { scroll } | Popup::Messages { scroll } => {
            let help = matches!(popup, Popup::Help { .. });
            let scroll = match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => None,
                KeyCode::Char('?') if help => None,
                KeyCode::Down | KeyCode::Char('j') => Some(scroll + 1),
                KeyCode::Up | KeyCode::Char('k') => Some(scroll.saturating_sub(1)),
                KeyCode::PageDown => Some(scroll + 10),
                KeyCode::PageUp => Some(scroll.saturating_sub(10)),
                KeyCode::Home | KeyCode::Char('g') => Some(0),
                _ => Some(scroll),
            };
            scroll.map(|scroll| {
                if help {
                    Popup::Help { scroll }
                } else {
                    Popup::Messages { scroll }
                }
            })
        }
        Popup::Confirm {
            question,
            call: c,
            yes,
        } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                call(state, out, c);
                None
            }
            KeyCode::Enter => {
                if yes {
                    call(state, out, c);
                }
                None
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => None,
            KeyCode::Left
            | KeyCode::Right
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Char('h')
            | KeyCode::Char('l') => Some(Popup::Confirm {
                question,
                call: c,
                yes: !yes,
            }),
            _ => Some(Popup::Confirm {
                question,
                call: c,
                yes,
            }),
        },
        Popup::ConfirmExit { yes } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                state.exiting = true;
                out.push(Cmd::Exit);
                None
            }
            KeyCode::Enter => {
                if yes {
                    state.exiting = true;
                    out.push(Cmd::Exit);
                }
                None
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                Some(Popup::ConfirmExit { yes: !yes })
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => None,
            _ => Some(Popup::ConfirmExit { yes }),
        },
        Popup::OptionPicker {
            group_id,
            group_name,
            index,
        } => match key.code {
            KeyCode::Esc | KeyCode::Char('q') => None,
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => Some(Popup::OptionPicker {
                group_id,
                group_name,
                index: (index + 1) % OPTION_CHOICES.len(),
            }),
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => Some(Popup::OptionPicker {
                group_id,
                group_name,
                index: (index + OPTION_CHOICES.len() - 1) % OPTION_CHOICES.len(),
            }),
            KeyCode::Enter => {
                if let Some(option) = OPTION_CHOICES.get(index).and_then(|o| option_of(o)) {
                    call(state, out, Call::SetOption { group_id, option });
                }
                None
            }
            _ => Some(Popup::OptionPicker {
                group_id,
                group_name,
                index,
            }),
        },
        Popup::Form(mut form) => {
            if on_form_key(state, &mut form, key, out) {
                Some(Popup::Form(form))
            } else {
                None
            }
        }
    };
    // A call made from the popup may have opened another popup (none do now).
    if state.popup.is_none() {
        state.popup = keep;
    }
}

/// Returns whether the form stays open.
fn on_form_key(state: &mut State, form: &mut Form, key: KeyEvent, out: &mut Vec<Cmd>) -> bool {
    let n = form.fields.len();
    match key.code {
        KeyCode::Esc => return false,
        KeyCode::Tab | KeyCode::Down => {
            form.focus = (form.focus + 1) % n;
            return true;
        }
        KeyCode::BackTab | KeyCode::Up => {
            form.focus = (form.focus + n - 1) % n;
            return true;
        }
        KeyCode::Enter => return !submit_form(state, form, out),
        _ => {}
    }
    let Some(field) = form.fields.get_mut(form.focus) else {
        return true;
    };
    match &mut field.value {
        FieldValue::Choice { options, index } => {
            let len = options.len().max(1);
            match key.code {
                KeyCode::Left | KeyCode::Char('h') => *index = (*index + len - 1) % len,
                KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                    *index = (*index + 1) % len
                }
                KeyCode::Char(c) => {
                    // Typing a letter picks the first choice starting with it.
                    let c = c.to_ascii_lowercase();
                    if let Some(i) = options
                        .iter()
                        .position(|o| o.to_ascii_lowercase().starts_with(c))
                    {
                        *index = i;
                    }
                }
                _ => {}
            }
        }
        FieldValue::Text(input) => {
            if let Some(req) = to_input_request(&TermEvent::Key(key)) {
                input.handle(req);
                form.error = None;
            }
        }
    }
    true
}

/// Returns whether the form was submitted (and closes).
fn submit_form(state: &mut State, form: &mut Form, out: &mut Vec<Cmd>) -> bool {
    let value = |i: usize| form.fields.get(i).map(Field::value).unwrap_or_default();
    match form.kind.clone() {
        FormKind::Create => {
            let Some(group_type) = type_of(&value(0)) else {
                return false;
            };
            let name = value(1).trim().to_string();
            if name.is_empty() {
                form.error = Some("a group needs a name".into());
                form.focus = 1;
                return false;
            }
            if name.len() > 30 {
                form.error = Some(format!(
                    "the name is {} bytes; at most 30 (a CJK character takes 3)",
                    name.len()
                ));
                form.focus = 1;
                return false;
            }
            let id = value(2).trim().to_string();
            let add_option = option_of(&value(3));
            let req = CreateGroupRequest {
                group_id: (!id.is_empty()).then_some(id),
                add_option: add_option.filter(|_| group_type != GroupType::Work),
                ..CreateGroupRequest::new(name, group_type)
            };
            call(state, out, Call::Create(req));
            true
        }
        FormKind::Join => {
            let id = value(0).trim().to_string();
            if id.is_empty() {
                form.error = Some("type the ID of the group to join".into());
                return false;
            }
            let message = value(1).trim().to_string();
            call(
                state,
                out,
                Call::Join {
                    group_id: id,
                    message: (!message.is_empty()).then_some(message),
                },
            );
            true
        }
        FormKind::Invite { group_id } => {
            let users = split_ids(&value(0));
            if users.is_empty() {
                form.error = Some("type one or more user IDs".into());
                return false;
            }
            call(state, out, Call::Invite { group_id, users });
            true
        }
        FormKind::Reject { request_ids } => {
            let reason = value(0).trim().to_string();
            call(
                state,
                out,
                Call::Decide {
                    request_ids,
                    accept: false,
                    reason: (!reason.is_empty()).then_some(reason),
                },
            );
            true
        }
        FormKind::Disband { group_id } => {
            if value(0).trim() != group_id {
                form.error = Some(format!("type {group_id} exactly to disband, or Esc"));
                return false;
            }
            call(state, out, Call::Disband { group_id });
            true
        }
    }
}

pub fn split_ids(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

// ---- the command line ----

fn on_command_key(state: &mut State, key: KeyEvent, out: &mut Vec<Cmd>) {
    let Some(cl) = state.command.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Esc => state.command = None,
        KeyCode::Enter => {
            let line = cl.input.value().trim().to_string();
            state.command = None;
            if line.is_empty() {
                return;
            }
            if state.command_history.last() != Some(&line) {
                state.command_history.push(line.clone());
            }
            run_command(state, &line, out);
        }
        KeyCode::Tab => {
            let candidates = command::complete(state, cl_value(state));
            if let Some(cl) = state.command.as_mut() {
                command::apply_completion(cl, candidates);
            }
        }
        KeyCode::Up | KeyCode::Down => {
            let n = state.command_history.len();
            if n == 0 {
                return;
            }
            let idx = match (key.code, cl.history_index) {
                (KeyCode::Up, None) => Some(n - 1),
                (KeyCode::Up, Some(i)) => Some(i.saturating_sub(1)),
                (KeyCode::Down, Some(i)) if i + 1 < n => Some(i + 1),
                _ => None,
            };
            cl.history_index = idx;
            let text = idx
                .and_then(|i| state.command_history.get(i).cloned())
                .unwrap_or_default();
            cl.input = Input::new(text);
            cl.completions.clear();
        }
        _ => {
            if let Some(req) = to_input_request(&TermEvent::Key(key)) {
                cl.input.handle(req);
                cl.completions.clear();
            }
        }
    }
}

fn cl_value(state: &State) -> &str {
    state
        .command
        .as_ref()
        .map(|c| c.input.value())
        .unwrap_or("")
}

fn run_command(state: &mut State, line: &str, out: &mut Vec<Cmd>) {
    match command::parse(line) {
        Err(e) => note(state, Level::Error, e),
        Ok(cmd) => {
            use command::Command as C;
            let action = cmd.action();
            if let Some(a) = action
                && !available(state, a)
            {
                note(
                    state,
                    Level::Error,
                    format!(
                        "read-only: :{} is not available (the console was started with --read-only)",
                        line.split_whitespace().next().unwrap_or("")
                    ),
                );
                return;
            }
            match cmd {
                C::Help => state.popup = Some(Popup::Help { scroll: 0 }),
                C::Refresh => reload_all(state, out),
                C::Exit => request_exit(state, out),
                C::Join { group_id, message } => call(state, out, Call::Join { group_id, message }),
                C::Create { group_type, name } => {
                    let req = CreateGroupRequest::new(name, group_type);
                    call(state, out, Call::Create(req));
                }
                C::Invite { users } => match state.target_group() {
                    Some(g) => {
                        let group_id = g.group_id.clone();
                        call(state, out, Call::Invite { group_id, users });
                    }
                    None => no_group(state),
                },
                C::Option(option) => match state.target_group() {
                    Some(g) => {
                        let group_id = g.group_id.clone();
                        call(state, out, Call::SetOption { group_id, option });
                    }
                    None => no_group(state),
                },
                C::Kick { user } => match state.target_group() {
                    Some(g) => {
                        let q = format!("Kick {user} from \"{}\"?", g.name);
                        let group_id = g.group_id.clone();
                        state.popup = Some(Popup::Confirm {
                            question: q,
                            call: Call::Kick { group_id, user },
                            yes: false,
                        });
                    }
                    None => no_group(state),
                },
                C::QuitGroup => dispatch_on_group(state, Action::Leave, out),
                C::Disband => dispatch_on_group(state, Action::Disband, out),
            }
        }
    }
}

/// A group action from the command line: on the selected group, whatever pane is focused.
fn dispatch_on_group(state: &mut State, action: Action, out: &mut Vec<Cmd>) {
    let focus = state.focus;
    if !matches!(focus, Pane::Groups | Pane::Members) {
        state.focus = Pane::Groups;
    }
    dispatch(state, action, out);
    state.focus = focus;
}

// ---- mouse ----

fn on_mouse(state: &mut State, m: MouseEvent, out: &mut Vec<Cmd>) {
    if state.popup.is_some() || state.too_small() {
        return;
    }
    let at = Position::new(m.column, m.row);
    let areas = state.areas();
    let Some(pane) = Pane::ALL.into_iter().find(|p| areas.of(*p).contains(at)) else {
        return;
    };
    match m.kind {
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let delta = if m.kind == MouseEventKind::ScrollDown {
                WHEEL_ROWS
            } else {
                -WHEEL_ROWS
            };
            let focus = state.focus;
            state.focus = pane;
            if pane == Pane::Events {
                move_cursor(state, delta, out);
            } else {
                // The wheel moves the selection, keeping it on screen.
                move_cursor(state, delta, out);
            }
            state.focus = focus;
            state.dirty = true;
        }
        MouseEventKind::Down(MouseButton::Left) => {
            state.focus = pane;
            state.dirty = true;
            let area = areas.of(pane);
            // Border and header rows come first in the list panes.
            let first_row = area.y + 2;
            if pane != Pane::Events && m.row >= first_row {
                let row = (m.row - first_row) as usize;
                let rows = state.rows(pane);
                match pane {
                    Pane::Groups => {
                        let target = state.groups.offset + row;
                        if target < state.groups.len() {
                            state.groups.move_to(target, rows);
                        }
                    }
                    Pane::Members => {
                        let target = state.members.list.offset + row;
                        if target < state.members.list.len() {
                            state.members.list.move_to(target, rows);
                            more_members(state, out);
                        }
                    }
                    Pane::Requests => {
                        let target = state.requests.list.offset + row;
                        if target < state.requests.list.len() {
                            state.requests.list.move_to(target, rows);
                        }
                    }
                    Pane::Events => {}
                }
            }
        }
        _ => {}
    }
}

// ---- replies ----

fn on_reply(state: &mut State, was: Option<Call>, reply: Reply, out: &mut Vec<Cmd>) {
    match reply {
        Reply::Hello(Ok(hello)) => on_hello(state, hello, out),
        Reply::Hello(Err(e)) => {
            state.connection = Connection::Refused(e.message.clone());
            error(state, &e, "the server refused this identity");
        }
        Reply::Groups(result) => {
            if was.is_none() {
                return; // replaced by a newer read
            }
            match result {
                Ok(groups) => {
                    let rows = state.rows(Pane::Groups);
                    let keep = state.groups.selected().map(|g| g.group_id.clone());
                    for g in &groups {
                        state.remember_name(&g.group_id, &g.name);
                    }
                    state.groups.items = groups;
                    state.groups.load = Load::Ready;
                    state.groups.matches = None;
                    if let Some(k) = keep
                        && let Some(i) = state.groups.items.iter().position(|g| g.group_id == k)
                    {
                        state.groups.cursor = i;
                    }
                    state.groups.refilter(group_matches, rows);
                    tag_requests(state);
                }
                Err(e) => {
                    state.groups.load = Load::Failed(e.message.clone());
                    error(state, &e, "cannot read the groups");
                }
            }
        }
        Reply::Group { group_id, result } => match result {
            Ok(info) => upsert_group(state, info),
            Err(e) if e.status == Some(404) || e.status == Some(403) => {
                remove_group(state, &group_id);
            }
            Err(e) => error(state, &e, &format!("cannot read {group_id}")),
        },
        Reply::Members {
            group_id,
            cursor,
            result,
        } => {
            if was.is_none() || state.members.group_id.as_deref() != Some(group_id.as_str()) {
                return; // another group is shown now
            }
            let rows = state.rows(Pane::Members);
            state.members.loading_more = false;
            match result {
                Ok(page) => {
                    if cursor.is_none() {
                        state.members.list.items.clear();
                        state.members.ids.clear();
                        state.members.list.cursor = 0;
                        state.members.list.offset = 0;
                    }
                    append_members(state, page.items);
                    state.members.next_cursor = page.next_cursor;
                    state.members.list.load = Load::Ready;
                    state.members.list.refilter(member_matches, rows);
                    more_members(state, out);
                }
                Err(e) => {
                    state.members.list.load = Load::Failed(e.message.clone());
                }
            }
        }
        Reply::Requests { cursor, result } => {
            let rows = state.rows(Pane::Requests);
            state.requests.loading_more = false;
            match result {
                Ok(page) => {
                    if cursor.is_none() {
                        state.requests.list.items.clear();
                    }
                    for r in page.items {
                        if r.can_decide
                            && r.status == "pending"
                            && !state.requests.list.items.iter().any(|x| x.id == r.id)
                        {
                            state.requests.list.items.push(r);
                        }
                    }
                    let ids: Vec<u64> = state.requests.list.items.iter().map(|r| r.id).collect();
                    state.requests.marked.retain(|id| ids.contains(id));
                    state.requests.next_cursor = page.next_cursor;
                    state.requests.list.load = Load::Ready;
                    state.requests.list.refilter(request_matches, rows);
                    tag_requests(state);
                }
                Err(e) => {
                    state.requests.list.load = Load::Failed(e.message.clone());
                }
            }
        }
        Reply::Done(result) => on_done(state, was, result),
    }
}

fn on_hello(state: &mut State, hello: Hello, out: &mut Vec<Cmd>) {
    state.app_admin = hello.me.app_admin;
    state.baseline = Some(hello.last_event_id);
    state.last_event_id = state.last_event_id.max(hello.last_event_id);
    out.push(Cmd::Follow {
        after: hello.last_event_id.saturating_sub(HISTORY_EVENTS),
        scope_all: hello.me.app_admin,
    });
    reload_all(state, out);
}

fn upsert_group(state: &mut State, info: GroupInfo) {
    state.remember_name(&info.group_id, &info.name);
    if info.my_role.is_none() && !state.app_admin {
        remove_group(state, &info.group_id);
        return;
    }
    let rows = state.rows(Pane::Groups);
    match state.group_mut(&info.group_id) {
        Some(g) => *g = info,
        None => state.groups.items.push(info),
    }
    state.groups.load = Load::Ready;
    state.groups.refilter(group_matches, rows);
}

fn remove_group(state: &mut State, group_id: &str) {
    let rows = state.rows(Pane::Groups);
    let before = state.groups.items.len();
    let selected = state.groups.selected().map(|g| g.group_id.clone());
    state.groups.items.retain(|g| g.group_id != group_id);
    if state.groups.items.len() != before {
        if selected.as_deref() == Some(group_id) {
            // Stay on the same row, now the next group.
        } else if let Some(s) = selected
            && let Some(i) = state.groups.items.iter().position(|g| g.group_id == s)
        {
            state.groups.cursor = i;
            state.groups.matches = None;
        }
        state.groups.refilter(group_matches, rows);
    }
    let rrows = state.rows(Pane::Requests);
    state.requests.list.items.retain(|r| r.group_id != group_id);
    prune_marks(state);
    state.requests.list.refilter(request_matches, rrows);
    if state.members.group_id.as_deref() == Some(group_id) {
        state.members = Default::default();
    }
}

fn append_members(state: &mut State, items: Vec<MemberInfo>) {
    let m = &mut state.members;
    // Rows added by live events may come again in a later page.
    for item in items {
        if m.ids.insert(item.user_id.clone()) {
            m.list.items.push(item);
        }
    }
}

/// Keeps the per-group pending counts in step with the Requests pane when
/// the server did not give one.
fn tag_requests(state: &mut State) {
    if state.requests.list.load != Load::Ready || state.requests.next_cursor.is_some() {
        return;
    }
    let mut counts: std::collections::HashMap<&str, u64> = Default::default();
    for r in &state.requests.list.items {
        *counts.entry(r.group_id.as_str()).or_default() += 1;
    }
    let counts: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for g in &mut state.groups.items {
        if matches!(g.my_role, Some(Role::Owner | Role::Admin)) || state.app_admin {
            g.pending_requests = Some(
                counts
                    .iter()
                    .find(|(id, _)| *id == g.group_id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0),
            );
        }
    }
}

fn on_done(state: &mut State, was: Option<Call>, result: Result<Outcome, CallError>) {
    let doing = was
        .as_ref()
        .map(Call::label)
        .unwrap_or_else(|| "the last action".into());
    match result {
        Err(e) => error(state, &e, &capitalize(&doing)),
        Ok(outcome) => {
            let text = match outcome {
                Outcome::Created { group_id, name } => {
                    format!("created \"{name}\" ({group_id})")
                }
                Outcome::Joined { group_id, reply } => match reply.status {
                    JoinStatus::Joined => format!("joined {}", state.group_name(&group_id)),
                    JoinStatus::Pending => format!(
                        "asked to join {group_id}; an owner or admin must approve (request {})",
                        reply.request_id.map(|i| i.to_string()).unwrap_or_default()
                    ),
                },
                Outcome::Invited { group_id, reply } => {
                    let added: Vec<&str> = reply
                        .results
                        .iter()
                        .filter(|r| r.result == InviteStatus::Added)
                        .map(|r| r.user_id.as_str())
                        .collect();
                    let pending: Vec<&str> = reply
                        .results
                        .iter()
                        .filter(|r| r.result == InviteStatus::Pending)
                        .map(|r| r.user_id.as_str())
                        .collect();
                    let failed: Vec<String> = reply
                        .results
                        .iter()
                        .filter(|r| r.result == InviteStatus::Failed)
                        .map(|r| {
                            format!(
                                "{} ({}: {})",
                                r.user_id,
                                r.code.map(|c| c.to_string()).unwrap_or_default(),
                                r.message.clone().unwrap_or_default()
                            )
                        })
                        .collect();
                    let name = state.group_name(&group_id);
                    let mut parts = Vec::new();
                    if !added.is_empty() {
                        parts.push(format!("added {} to {name}", added.join(", ")));
                    }
                    if !pending.is_empty() {
                        parts.push(format!(
                            "invited {} (waiting for approval)",
                            pending.join(", ")
                        ));
                    }
                    if !failed.is_empty() {
                        let text = format!("could not invite {}", failed.join("; "));
                        if parts.is_empty() {
                            note(state, Level::Error, text);
                            return;
                        }
                        parts.push(text);
                        note(state, Level::Error, parts.join("; "));
                        return;
                    }
                    parts.join("; ")
                }
                Outcome::Decided {
                    accepted,
                    count,
                    failed,
                } => {
                    let verb = if accepted { "approved" } else { "rejected" };
                    if !failed.is_empty() {
                        let why: Vec<String> = failed
                            .iter()
                            .map(|(id, e)| format!("request {id}: {}", e.message))
                            .collect();
                        note(
                            state,
                            Level::Error,
                            format!(
                                "{verb} {count} of {}; {}",
                                count + failed.len(),
                                why.join("; ")
                            ),
                        );
                        return;
                    }
                    state.requests.marked.clear();
                    if count == 1 {
                        format!("{verb} the join request")
                    } else {
                        format!("{verb} {count} join requests")
                    }
                }
                Outcome::Left { group_id } => format!("left {}", state.group_name(&group_id)),
                Outcome::Disbanded { group_id } => format!("disbanded {group_id}"),
                Outcome::OptionSet {
                    group_id,
                    option,
                    changed,
                } => {
                    let name = state.group_name(&group_id);
                    if changed {
                        format!("{name}: join option is now {}", option.as_str())
                    } else {
                        format!("{name}: join option was already {}", option.as_str())
                    }
                }
                Outcome::Kicked { group_id, user } => {
                    format!("kicked {user} from {}", state.group_name(&group_id))
                }
                Outcome::RoleSet {
                    group_id,
                    user,
                    role,
                    changed,
                } => {
                    let name = state.group_name(&group_id);
                    match (role, changed) {
                        (Role::Admin, true) => format!("{user} is now an admin of {name}"),
                        (_, true) => format!("{user} is no longer an admin of {name}"),
                        (_, false) => format!("{user} was already {} of {name}", role.as_str()),
                    }
                }
            };
            note(state, Level::Success, text);
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

// ---- the event stream ----

fn on_stream(state: &mut State, s: StreamMsg, out: &mut Vec<Cmd>) {
    match s {
        StreamMsg::Connected => {
            let was_down = matches!(state.connection, Connection::Reconnecting { .. });
            state.connection = Connection::Connected;
            if was_down {
                note(state, Level::Success, "reconnected; live events resumed");
                // Reads that failed while the server was away are retried.
                if matches!(state.groups.load, Load::Failed(_))
                    || matches!(state.requests.list.load, Load::Failed(_))
                    || matches!(state.members.list.load, Load::Failed(_))
                {
                    reload_all(state, out);
                }
            }
        }
        StreamMsg::Disconnected { attempt, error } => {
            state.connection = Connection::Reconnecting { attempt, error };
        }
        StreamMsg::Fatal(message) => {
            state.connection = Connection::Refused(message.clone());
            note(
                state,
                Level::Error,
                format!("live events stopped: {message}"),
            );
        }
        StreamMsg::Reset { last_event_id } => {
            state.baseline = Some(last_event_id);
            state.last_event_id = last_event_id;
            note(
                state,
                Level::Info,
                "the server's event log no longer reaches back far enough; re-reading everything",
            );
            reload_all(state, out);
        }
        StreamMsg::Event(e) => {
            let e = *e;
            if e.id <= state.last_event_id && state.log.events.back().is_some_and(|l| l.id >= e.id)
            {
                return; // already seen
            }
            state.last_event_id = state.last_event_id.max(e.id);
            if state.baseline.is_some_and(|b| e.id > b) {
                apply_event(state, &e, out);
            }
            push_event(state, e);
        }
    }
}

fn push_event(state: &mut State, e: Event) {
    let passes =
        state.log.matches.is_none() || event_matches(state, &e, &state.log.filter.to_lowercase());
    let log = &mut state.log;
    let id = e.id;
    log.events.push_back(e);
    if passes && let Some(m) = &mut log.matches {
        m.push_back(id);
    }
    if log.events.len() > log.capacity
        && let Some(old) = log.events.pop_front()
        && let Some(m) = &mut log.matches
        && m.front() == Some(&old.id)
    {
        m.pop_front();
    }
    // Paused (scrolled up): keep the rows in view still and count what
    // waits below; events the filter hides move nothing.
    if log.scroll > 0 && passes {
        log.scroll += 1;
        log.unseen += 1;
        log.scroll = log.scroll.min(log.shown());
    }
}

fn detail_u64(e: &Event, key: &str) -> Option<u64> {
    e.detail.get(key).and_then(|v| v.as_u64())
}

fn detail_str<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    e.detail.get(key).and_then(|v| v.as_str())
}

/// Changes the panes for one live event (idempotent: the same event twice
/// leaves the same state).
fn apply_event(state: &mut State, e: &Event, out: &mut Vec<Cmd>) {
    let me = state.settings.user.clone();
    let gid = e.group_id.clone();
    let is_me = e.targets.contains(&me);
    let shown = state.members.group_id.as_deref() == Some(gid.as_str());
    if let Some(name) = detail_str(e, "name")
        && matches!(
            e.kind,
            EventKind::GroupCreated | EventKind::GroupInfoChanged
        )
    {
        state.remember_name(&gid, name);
    }
    if let Some(count) = detail_u64(e, "member_count")
        && let Some(g) = state.group_mut(&gid)
    {
        g.member_count = count;
    }
    match e.kind {
        EventKind::GroupCreated => {
            if is_me || state.app_admin {
                call(state, out, Call::Group { group_id: gid });
            }
        }
        EventKind::GroupInfoChanged => {
            if let Some(g) = state.group_mut(&gid) {
                if let Some(v) = detail_str(e, "name") {
                    g.name = v.to_string();
                }
                if let Some(v) = detail_str(e, "introduction") {
                    g.introduction = v.to_string();
                }
                if let Some(v) = detail_str(e, "notification") {
                    g.notification = v.to_string();
                }
                if let Some(v) = detail_str(e, "face_url") {
                    g.face_url = v.to_string();
                }
                if let Some(v) = detail_str(e, "add_option").and_then(AddOption::parse_any) {
                    g.add_option = v;
                }
                if let Some(v) = detail_u64(e, "max_members") {
                    g.max_members = Some(v);
                }
                if let Some(v) = e.detail.get("mute_all").and_then(|v| v.as_bool()) {
                    g.mute_all = v;
                }
            }
            // Names shown in the Requests pane follow.
            if let Some(name) = detail_str(e, "name") {
                for r in state
                    .requests
                    .list
                    .items
                    .iter_mut()
                    .filter(|r| r.group_id == gid)
                {
                    r.group_name = name.to_string();
                }
            }
        }
        EventKind::MemberJoined => {
            if is_me && state.group(&gid).is_none() {
                call(
                    state,
                    out,
                    Call::Group {
                        group_id: gid.clone(),
                    },
                );
            }
            if shown {
                let m = &mut state.members;
                for t in &e.targets {
                    if m.ids.insert(t.clone()) {
                        m.list.push(
                            MemberInfo {
                                user_id: t.clone(),
                                role: Role::Member,
                                join_time: e.time / 1000,
                                name_card: String::new(),
                                mute_until: 0,
                            },
                            member_matches,
                        );
                    }
                }
            }
        }
        EventKind::MemberQuit | EventKind::MemberKicked => {
            if is_me && !state.app_admin {
                remove_group(state, &gid);
                return;
            }
            if shown {
                let rows = state.rows(Pane::Members);
                let m = &mut state.members;
                for t in &e.targets {
                    // Only members already loaded are looked for.
                    if m.ids.remove(t)
                        && let Some(i) = m.list.items.iter().position(|x| x.user_id == *t)
                    {
                        m.list.remove(i, rows);
                    }
                }
            }
        }
        EventKind::AdminGranted | EventKind::AdminRevoked => {
            let role = if e.kind == EventKind::AdminGranted {
                Role::Admin
            } else {
                Role::Member
            };
            set_roles(state, &gid, &e.targets, role);
            if is_me {
                if let Some(g) = state.group_mut(&gid) {
                    g.my_role = Some(role);
                }
                if role == Role::Admin {
                    // Now an approver here: its requests belong in the inbox.
                    state.requests.list.load = Load::Loading;
                    call(state, out, Call::Requests { cursor: None });
                } else if !state.app_admin {
                    let rows = state.rows(Pane::Requests);
                    state.requests.list.items.retain(|r| r.group_id != gid);
                    prune_marks(state);
                    state.requests.list.refilter(request_matches, rows);
                    if let Some(g) = state.group_mut(&gid) {
                        g.pending_requests = None;
                    }
                }
            }
        }
        EventKind::OwnerChanged => {
            let old = detail_str(e, "old_owner").map(str::to_string);
            let new = detail_str(e, "new_owner").map(str::to_string);
            if let Some(o) = &old {
                set_roles(state, &gid, std::slice::from_ref(o), Role::Member);
            }
            if let Some(n) = &new {
                set_roles(state, &gid, std::slice::from_ref(n), Role::Owner);
            }
            if let Some(g) = state.group_mut(&gid) {
                g.owner = new.clone();
                if new.as_deref() == Some(me.as_str()) {
                    g.my_role = Some(Role::Owner);
                } else if old.as_deref() == Some(me.as_str()) {
                    g.my_role = Some(Role::Member);
                }
            }
            if new.as_deref() == Some(me.as_str()) {
                call(state, out, Call::Requests { cursor: None });
            }
        }
        EventKind::GroupDisbanded => remove_group(state, &gid),
        EventKind::JoinRequested => {
            let Some(request_id) = detail_u64(e, "request_id") else {
                return;
            };
            let applicant = e.targets.first().cloned().unwrap_or_default();
            let may_decide = state.app_admin
                || state
                    .group(&gid)
                    .is_some_and(|g| matches!(g.my_role, Some(Role::Owner | Role::Admin)));
            if !may_decide || applicant == me {
                return;
            }
            if state.requests.list.items.iter().any(|r| r.id == request_id) {
                return;
            }
            let (group_name, group_type) = match state.group(&gid) {
                Some(g) => (g.name.clone(), Some(g.group_type)),
                None => (gid.clone(), None),
            };
            let kind = detail_str(e, "kind").unwrap_or("join").to_string();
            let inviter = detail_str(e, "inviter").map(str::to_string);
            state.requests.list.items.push(JoinRequestInfo {
                id: request_id,
                group_id: gid.clone(),
                group_name,
                group_type,
                kind,
                applicant,
                inviter,
                message: detail_str(e, "message").unwrap_or("").to_string(),
                created_at: e.time,
                status: "pending".into(),
                handled_by: None,
                handled_at: None,
                reason: String::new(),
                can_decide: true,
            });
            let rows = state.rows(Pane::Requests);
            state.requests.list.refilter(request_matches, rows);
            if let Some(g) = state.group_mut(&gid) {
                g.pending_requests = Some(g.pending_requests.unwrap_or(0) + 1);
            }
        }
        EventKind::JoinRequestHandled => {
            let Some(request_id) = detail_u64(e, "request_id") else {
                return;
            };
            let rows = state.rows(Pane::Requests);
            let before = state.requests.list.items.len();
            state.requests.list.items.retain(|r| r.id != request_id);
            state.requests.marked.remove(&request_id);
            if state.requests.list.items.len() != before {
                state.requests.list.matches = None;
                state.requests.list.refilter(request_matches, rows);
                if let Some(g) = state.group_mut(&gid) {
                    g.pending_requests = g.pending_requests.map(|n| n.saturating_sub(1));
                }
            }
        }
    }
}

/// Marks only name requests still listed.
fn prune_marks(state: &mut State) {
    if state.requests.marked.is_empty() {
        return;
    }
    let listed: std::collections::HashSet<u64> =
        state.requests.list.items.iter().map(|r| r.id).collect();
    state.requests.marked.retain(|id| listed.contains(id));
}

fn set_roles(state: &mut State, gid: &str, users: &[String], role: Role) {
    if state.members.group_id.as_deref() != Some(gid) {
        return;
    }
    for m in state.members.list.items.iter_mut() {
        if users.contains(&m.user_id) {
            m.role = role;
        }
    }
}
