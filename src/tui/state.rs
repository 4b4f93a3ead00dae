//! Everything the console shows, as plain data: the four panes, the popup,
//! the command line, messages, what is in flight and the connection. Views
//! are pure functions of it; only `update` changes it.

use super::keymap::Keymap;
use super::msg::Call;
use super::theme::Theme;
use crate::model::{AddOption, Event, GroupType};
use crate::server::api::{GroupInfo, JoinRequestInfo, MemberInfo};
use ratatui::layout::Rect;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tui_input::Input;

/// The four panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pane {
    Groups,
    Members,
    Requests,
    Events,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Groups, Pane::Members, Pane::Requests, Pane::Events];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Groups => "Groups",
            Pane::Members => "Members",
            Pane::Requests => "Requests",
            Pane::Events => "Events",
        }
    }

    pub fn number(self) -> usize {
        match self {
            Pane::Groups => 1,
            Pane::Members => 2,
            Pane::Requests => 3,
            Pane::Events => 4,
        }
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.number()) % 4]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.number() + 2) % 4]
    }
}

/// Where a list's data stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Load {
    /// Nothing asked yet (e.g. no group selected).
    #[default]
    Idle,
    Loading,
    Ready,
    Failed(String),
}

/// A scrollable, filterable list of rows.
#[derive(Debug, Clone)]
pub struct ListPane<T> {
    pub items: Vec<T>,
    pub load: Load,
    /// The filter text (`/`); empty = none.
    pub filter: String,
    /// Indices of the items the filter lets through; `None` when no filter.
    pub matches: Option<Vec<usize>>,
    /// The selected row among the visible ones.
    pub cursor: usize,
    /// The first visible row.
    pub offset: usize,
}

impl<T> Default for ListPane<T> {
    fn default() -> Self {
        ListPane {
            items: Vec::new(),
            load: Load::Idle,
            filter: String::new(),
            matches: None,
            cursor: 0,
            offset: 0,
        }
    }
}

impl<T> ListPane<T> {
    /// Rows shown (after the filter).
    pub fn len(&self) -> usize {
        match &self.matches {
            Some(m) => m.len(),
            None => self.items.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item at a visible row.
    pub fn get(&self, row: usize) -> Option<&T> {
        match &self.matches {
            Some(m) => m.get(row).and_then(|i| self.items.get(*i)),
            None => self.items.get(row),
        }
    }

    pub fn selected(&self) -> Option<&T> {
        self.get(self.cursor)
    }

    /// Moves the cursor by `delta` rows, keeping it inside and visible in `height` rows.
    pub fn move_by(&mut self, delta: isize, height: usize) {
        let len = self.len();
        if len == 0 {
            self.cursor = 0;
            self.offset = 0;
            return;
        }
        let target = (self.cursor as isize + delta).clamp(0, len as isize - 1);
        self.cursor = target as usize;
        self.scroll_into_view(height);
    }

    pub fn move_to(&mut self, row: usize, height: usize) {
        self.cursor = row.min(self.len().saturating_sub(1));
        self.scroll_into_view(height);
    }

    /// Keeps `offset` so that the cursor is on screen.
    pub fn scroll_into_view(&mut self, height: usize) {
        let len = self.len();
        self.cursor = self.cursor.min(len.saturating_sub(1));
        let height = height.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + height {
            self.offset = self.cursor + 1 - height;
        }
        // No blank space below the last row when the list could fill it.
        let max_offset = len.saturating_sub(height);
        self.offset = self.offset.min(max_offset);
    }

    /// Re-applies the filter with `pred` (after items or the filter changed),
    /// keeping the cursor on the same item where it is still shown.
    pub fn refilter(&mut self, pred: impl Fn(&T, &str) -> bool, height: usize) {
        let keep = match &self.matches {
            Some(m) => m.get(self.cursor).copied(),
            None => Some(self.cursor),
        };
        if self.filter.is_empty() {
            self.matches = None;
            if let Some(k) = keep {
                self.cursor = k;
            }
        } else {
            let needle = self.filter.to_lowercase();
            let m: Vec<usize> = self
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| pred(it, &needle))
                .map(|(i, _)| i)
                .collect();
            self.cursor = keep
                .and_then(|k| m.iter().position(|i| *i >= k))
                .unwrap_or(0);
            self.matches = Some(m);
        }
        self.scroll_into_view(height);
    }

    /// Appends an item, checking only it against the filter (`needle` is
    /// the lowercased filter).
    pub fn push(&mut self, item: T, pred: impl Fn(&T, &str) -> bool) {
        let index = self.items.len();
        if let Some(m) = &mut self.matches {
            let needle = self.filter.to_lowercase();
            if pred(&item, &needle) {
                m.push(index);
            }
        }
        self.items.push(item);
    }

    /// Removes the item at `index`, keeping the filter's rows and the
    /// cursor's item where they were.
    pub fn remove(&mut self, index: usize, height: usize) {
        if index >= self.items.len() {
            return;
        }
        self.items.remove(index);
        let cursor_item = match &self.matches {
            Some(m) => m.get(self.cursor).copied(),
            None => Some(self.cursor),
        };
        if let Some(m) = &mut self.matches {
            if let Ok(pos) = m.binary_search(&index) {
                m.remove(pos);
            }
            for i in m.iter_mut() {
                if *i > index {
                    *i -= 1;
                }
            }
        }
        // A row above the cursor went away: the cursor follows its item.
        if let Some(c) = cursor_item
            && c > index
            && self.cursor > 0
        {
            self.cursor -= 1;
        }
        self.scroll_into_view(height);
    }

    /// The visible rows from `offset`, at most `height` of them.
    pub fn window(&self, height: usize) -> impl Iterator<Item = (usize, &T)> {
        (self.offset..self.len().min(self.offset + height))
            .filter_map(|r| self.get(r).map(|t| (r, t)))
    }
}

/// The members pane: one group's members, paged from the server.
#[derive(Debug, Clone, Default)]
pub struct MembersPane {
    pub group_id: Option<String>,
    pub list: ListPane<MemberInfo>,
    /// The user IDs in `list.items`, so pages and live joins never add one twice.
    pub ids: std::collections::HashSet<String>,
    /// The cursor of the next page; `None` once everything is loaded.
    pub next_cursor: Option<String>,
    /// A page request is out.
    pub loading_more: bool,
}

/// The requests pane: join requests this user may decide.
#[derive(Debug, Clone, Default)]
pub struct RequestsPane {
    pub list: ListPane<JoinRequestInfo>,
    pub next_cursor: Option<String>,
    pub loading_more: bool,
    /// Request ids marked with Space, to decide together.
    pub marked: BTreeSet<u64>,
}

/// The live log, newest last.
#[derive(Debug, Clone)]
pub struct EventLog {
    pub events: VecDeque<Event>,
    pub capacity: usize,
    /// Rows scrolled up from the tail; 0 = following.
    pub scroll: usize,
    /// Events that arrived while scrolled up.
    pub unseen: usize,
    pub filter: String,
    /// With a filter: the ids of the events it lets through, oldest first
    /// (kept as events arrive and leave, so no frame scans the log).
    pub matches: Option<VecDeque<u64>>,
}

impl EventLog {
    /// Events shown (after the filter).
    pub fn shown(&self) -> usize {
        match &self.matches {
            Some(m) => m.len(),
            None => self.events.len(),
        }
    }

    /// The event with this id, if still in the log.
    pub fn by_id(&self, id: u64) -> Option<&Event> {
        self.events
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .and_then(|i| self.events.get(i))
    }
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            events: VecDeque::new(),
            capacity: EVENT_LOG_CAPACITY,
            scroll: 0,
            unseen: 0,
            filter: String::new(),
            matches: None,
        }
    }
}

/// How many events the Events pane keeps.
pub const EVENT_LOG_CAPACITY: usize = 10_000;

/// How a note is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Error,
}

/// A message for the user: the result of an action, or a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    pub text: String,
    pub at_ms: u64,
}

/// How long a success or info message stays on the message line.
pub const NOTE_FADE_MS: u64 = 4_000;
/// How many messages the history keeps.
pub const NOTE_HISTORY: usize = 200;

/// The connection to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    Reconnecting {
        attempt: u32,
        error: String,
    },
    /// Refused for good: the reason.
    Refused(String),
}

/// One field of a form.
#[derive(Debug, Clone)]
pub enum FieldValue {
    Text(Input),
    Choice { options: Vec<String>, index: usize },
}

#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub value: FieldValue,
    pub hint: &'static str,
}

impl Field {
    pub fn text(label: &'static str, hint: &'static str, initial: &str) -> Field {
        Field {
            label,
            value: FieldValue::Text(Input::new(initial.to_string())),
            hint,
        }
    }

    pub fn choice(label: &'static str, options: &[&str], index: usize) -> Field {
        Field {
            label,
            value: FieldValue::Choice {
                options: options.iter().map(|s| s.to_string()).collect(),
                index,
            },
            hint: "←/→ to change",
        }
    }

    pub fn value(&self) -> String {
        match &self.value {
            FieldValue::Text(i) => i.value().to_string(),
            FieldValue::Choice { options, index } => {
                options.get(*index).cloned().unwrap_or_default()
            }
        }
    }
}

/// What a form submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    Create,
    Join,
    Invite {
        group_id: String,
    },
    Reject {
        request_ids: Vec<u64>,
    },
    /// Typed confirmation: the group ID must be typed exactly.
    Disband {
        group_id: String,
    },
}

#[derive(Debug, Clone)]
pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Why the last submit was refused (shown in the form).
    pub error: Option<String>,
}

/// A popup over the panes; it takes the keys while open.
#[derive(Debug, Clone)]
pub enum Popup {
    Help {
        scroll: usize,
    },
    Messages {
        scroll: usize,
    },
    /// A y/n question; No is the default. Carries the call it confirms.
    Confirm {
        question: String,
        call: Call,
        yes: bool,
    },
    /// Quit while changes are in flight?
    ConfirmExit {
        yes: bool,
    },
    Form(Form),
    OptionPicker {
        group_id: String,
        group_name: String,
        index: usize,
    },
}

/// The `:` command line.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    pub input: Input,
    /// Completion candidates of the last Tab, and which one is shown.
    pub completions: Vec<String>,
    pub completion_index: usize,
    /// Position in the history while browsing with ↑/↓.
    pub history_index: Option<usize>,
}

/// Screen areas, computed from the terminal size (for drawing and for mouse hits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub groups: Rect,
    pub members: Rect,
    pub requests: Rect,
    pub events: Rect,
    pub message: Rect,
    pub status: Rect,
}

impl Areas {
    pub fn of(&self, pane: Pane) -> Rect {
        match pane {
            Pane::Groups => self.groups,
            Pane::Members => self.members,
            Pane::Requests => self.requests,
            Pane::Events => self.events,
        }
    }
}

/// Below this the console shows "terminal too small".
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Fixed settings of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub user: String,
    pub server: String,
    pub demo: bool,
    pub read_only: bool,
    pub theme: Theme,
    pub keymap: Keymap,
}

/// Everything on screen.
#[derive(Debug, Clone)]
pub struct State {
    pub settings: Settings,
    pub now_ms: u64,
    pub width: u16,
    pub height: u16,
    pub focus: Pane,
    pub groups: ListPane<GroupInfo>,
    /// Names of groups seen, kept after a group leaves the list (for
    /// messages and the log).
    pub names: std::collections::HashMap<String, String>,
    pub members: MembersPane,
    pub requests: RequestsPane,
    pub log: EventLog,
    pub popup: Option<Popup>,
    /// The filter being typed for the focused pane (`/`).
    pub filter_input: Option<Input>,
    pub command: Option<CommandLine>,
    pub command_history: Vec<String>,
    pub notes: Vec<Note>,
    /// The error on the message line until dismissed (index into `notes`).
    pub sticky_error: Option<usize>,
    pub connection: Connection,
    pub app_admin: bool,
    /// Events up to this id are already reflected in what was read.
    pub baseline: Option<u64>,
    pub last_event_id: u64,
    /// Calls out, by id.
    pub in_flight: BTreeMap<u64, Call>,
    pub next_call_id: u64,
    /// The console is ending.
    pub exiting: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
}

impl State {
    pub fn new(settings: Settings, width: u16, height: u16, now_ms: u64) -> State {
        State {
            settings,
            now_ms,
            width,
            height,
            focus: Pane::Groups,
            groups: ListPane::default(),
            names: Default::default(),
            members: MembersPane::default(),
            requests: RequestsPane::default(),
            log: EventLog::default(),
            popup: None,
            filter_input: None,
            command: None,
            command_history: Vec::new(),
            notes: Vec::new(),
            sticky_error: None,
            connection: Connection::Connecting,
            app_admin: false,
            baseline: None,
            last_event_id: 0,
            in_flight: BTreeMap::new(),
            next_call_id: 1,
            exiting: false,
            dirty: true,
        }
    }

    pub fn too_small(&self) -> bool {
        self.width < MIN_WIDTH || self.height < MIN_HEIGHT
    }

    /// The screen areas for the current size.
    pub fn areas(&self) -> Areas {
        super::view::layout(Rect::new(0, 0, self.width, self.height))
    }

    /// Rows of list content a pane shows (its height inside the border, less the header).
    pub fn rows(&self, pane: Pane) -> usize {
        let h = self.areas().of(pane).height as usize;
        match pane {
            Pane::Events => h.saturating_sub(2).max(1),
            _ => h.saturating_sub(3).max(1),
        }
    }

    /// The group a group action applies to: the Groups selection, or the
    /// group whose members are shown when Members is focused.
    pub fn target_group(&self) -> Option<&GroupInfo> {
        match self.focus {
            Pane::Members => {
                let id = self.members.group_id.as_deref()?;
                self.group(id)
            }
            _ => self.groups.selected(),
        }
    }

    pub fn group(&self, id: &str) -> Option<&GroupInfo> {
        self.groups.items.iter().find(|g| g.group_id == id)
    }

    pub fn group_mut(&mut self, id: &str) -> Option<&mut GroupInfo> {
        self.groups.items.iter_mut().find(|g| g.group_id == id)
    }

    /// The name of a group for messages: its name when known, else its ID.
    pub fn group_name(&self, id: &str) -> String {
        match self.group(id) {
            Some(g) => g.name.clone(),
            None => self
                .names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string()),
        }
    }

    /// Remembers a group's name.
    pub fn remember_name(&mut self, id: &str, name: &str) {
        if self.names.get(id).map(String::as_str) != Some(name) {
            self.names.insert(id.to_string(), name.to_string());
        }
    }

    /// Changing calls still out.
    pub fn changes_in_flight(&self) -> usize {
        self.in_flight.values().filter(|c| c.changes()).count()
    }

    /// The note on the message line now: a sticky error, or a fresh one.
    pub fn current_note(&self) -> Option<&Note> {
        if let Some(i) = self.sticky_error {
            return self.notes.get(i);
        }
        let last = self.notes.last()?;
        (last.level != Level::Error && self.now_ms.saturating_sub(last.at_ms) < NOTE_FADE_MS)
            .then_some(last)
    }
}

/// Labels and parsing of the choices forms offer.
pub const TYPE_CHOICES: [&str; 5] = ["Public", "Work", "Meeting", "AVChatRoom", "Community"];
pub const OPTION_CHOICES: [&str; 3] = ["Auth", "Any", "Forbid"];

pub fn type_of(label: &str) -> Option<GroupType> {
    GroupType::parse_any(label)
}

pub fn option_of(label: &str) -> Option<AddOption> {
    AddOption::parse_any(label)
}
