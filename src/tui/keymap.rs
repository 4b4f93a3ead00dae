//! Key bindings: the actions a key can trigger, the default table
//! (`assets/keymap.toml`), the user's `keymap.toml` over it, and the lookup
//! from a key press to an action. The same table feeds dispatch, the `?` help
//! and the hint bar, so they cannot disagree.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// The default bindings, shipped with the binary.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// Where an action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Everywhere,
    Lists,
    Groups,
    Members,
    Requests,
}

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    FocusGroups,
    FocusMembers,
    FocusRequests,
    FocusEvents,
    FocusNext,
    FocusPrev,
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Filter,
    Help,
    Command,
    Messages,
    Refresh,
    Create,
    Join,
    Invite,
    Approve,
    Reject,
    Select,
    Leave,
    Disband,
    JoinOption,
    Kick,
    ToggleAdmin,
    Quit,
}

impl Action {
    pub const ALL: [Action; 30] = [
        Action::FocusGroups,
        Action::FocusMembers,
        Action::FocusRequests,
        Action::FocusEvents,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Down,
        Action::Up,
        Action::Top,
        Action::Bottom,
        Action::PageDown,
        Action::PageUp,
        Action::Open,
        Action::Filter,
        Action::Help,
        Action::Command,
        Action::Messages,
        Action::Refresh,
        Action::Create,
        Action::Join,
        Action::Invite,
        Action::Approve,
        Action::Reject,
        Action::Select,
        Action::Leave,
        Action::Disband,
        Action::JoinOption,
        Action::Kick,
        Action::ToggleAdmin,
        Action::Quit,
    ];

    /// The name used in `keymap.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Action::FocusGroups => "focus_groups",
            Action::FocusMembers => "focus_members",
            Action::FocusRequests => "focus_requests",
            Action::FocusEvents => "focus_events",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageDown => "page_down",
            Action::PageUp => "page_up",
            Action::Open => "open",
            Action::Filter => "filter",
            Action::Help => "help",
            Action::Command => "command",
            Action::Messages => "messages",
            Action::Refresh => "refresh",
            Action::Create => "create",
            Action::Join => "join",
            Action::Invite => "invite",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Select => "select",
            Action::Leave => "leave",
            Action::Disband => "disband",
            Action::JoinOption => "join_option",
            Action::Kick => "kick",
            Action::ToggleAdmin => "toggle_admin",
            Action::Quit => "quit",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// What it does, for `?`.
    pub fn description(self) -> &'static str {
        match self {
            Action::FocusGroups => "focus Groups",
            Action::FocusMembers => "focus Members",
            Action::FocusRequests => "focus Requests",
            Action::FocusEvents => "focus Events",
            Action::FocusNext => "focus the next pane",
            Action::FocusPrev => "focus the previous pane",
            Action::Down => "move down",
            Action::Up => "move up",
            Action::Top => "go to the top",
            Action::Bottom => "go to the bottom (of what is loaded)",
            Action::PageDown => "page down",
            Action::PageUp => "page up",
            Action::Open => "open: the selected group's members",
            Action::Filter => "filter the focused list (Esc clears)",
            Action::Help => "this help",
            Action::Command => "command line (the commands are listed below)",
            Action::Messages => "message history",
            Action::Refresh => "re-read everything from the server",
            Action::Create => "create a group",
            Action::Join => "join a group by ID",
            Action::Invite => "invite users to the selected group",
            Action::Approve => "approve the selected join request(s)",
            Action::Reject => "reject the selected join request(s)",
            Action::Select => "mark a join request (approve or reject several)",
            Action::Leave => "quit (leave) the selected group",
            Action::Disband => "disband the selected group",
            Action::JoinOption => "change the selected group's join option",
            Action::Kick => "kick the selected member",
            Action::ToggleAdmin => "grant or revoke admin for the selected member",
            Action::Quit => "leave the console",
        }
    }

    /// A short label for the hint bar.
    pub fn hint(self) -> &'static str {
        match self {
            Action::Open => "members",
            Action::Filter => "filter",
            Action::Help => "help",
            Action::Command => "command",
            Action::Create => "create",
            Action::Join => "join",
            Action::Invite => "invite",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Select => "mark",
            Action::Leave => "leave",
            Action::Disband => "disband",
            Action::JoinOption => "join option",
            Action::Kick => "kick",
            Action::ToggleAdmin => "admin ±",
            Action::Quit => "quit",
            Action::Messages => "messages",
            _ => self.name(),
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Action::Down
            | Action::Up
            | Action::Top
            | Action::Bottom
            | Action::PageDown
            | Action::PageUp
            | Action::Filter => Scope::Lists,
            Action::Open | Action::Leave | Action::Disband | Action::JoinOption => Scope::Groups,
            Action::Kick | Action::ToggleAdmin => Scope::Members,
            Action::Approve | Action::Reject | Action::Select => Scope::Requests,
            _ => Scope::Everywhere,
        }
    }

    /// Whether it changes anything on the server (refused with `--read-only`).
    pub fn changes(self) -> bool {
        matches!(
            self,
            Action::Create
                | Action::Join
                | Action::Invite
                | Action::Approve
                | Action::Reject
                | Action::Select
                | Action::Leave
                | Action::Disband
                | Action::JoinOption
                | Action::Kick
                | Action::ToggleAdmin
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key press as bindings name it: a code and the ctrl/alt modifiers
/// (shift is part of the character, or of `shift-tab`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// The key codes bindings can name, ordered for stable tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

impl Key {
    pub const fn plain(c: char) -> Key {
        Key {
            code: KeyCodeOrd::Char(c),
            ctrl: false,
            alt: false,
        }
    }

    /// The binding-level key of a terminal key event, if bindings can name it.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(' ') => KeyCodeOrd::Char(' '),
            KeyCode::Char(c) => {
                // Ctrl-letters arrive lowercase; shifted letters arrive uppercase.
                if ev.modifiers.contains(KeyModifiers::CONTROL) {
                    KeyCodeOrd::Char(c.to_ascii_lowercase())
                } else {
                    KeyCodeOrd::Char(c)
                }
            }
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCodeOrd::BackTab,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// Parses `"a"`, `"G"`, `"?"`, `"ctrl-c"`, `"shift-tab"`, `"pgdn"`, ...
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut rest = text;
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.chars().count() > 1 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.chars().count() > 1 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else if rest.chars().count() > 1 && lower.starts_with("shift-") {
                shift = true;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if shift {
                    KeyCodeOrd::Char(c.to_ascii_uppercase())
                } else if ctrl {
                    KeyCodeOrd::Char(c.to_ascii_lowercase())
                } else {
                    KeyCodeOrd::Char(c)
                }
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" if shift => KeyCodeOrd::BackTab,
                "tab" => KeyCodeOrd::Tab,
                "backtab" => KeyCodeOrd::BackTab,
                "space" => KeyCodeOrd::Char(' '),
                "backspace" => KeyCodeOrd::Backspace,
                "delete" | "del" => KeyCodeOrd::Delete,
                "insert" | "ins" => KeyCodeOrd::Insert,
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                "pgup" | "pageup" => KeyCodeOrd::PageUp,
                "pgdn" | "pgdown" | "pagedown" => KeyCodeOrd::PageDown,
                f if f.starts_with('f') && f.len() > 1 => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCodeOrd::F(n),
                    _ => return Err(format!("unknown key {text:?}")),
                },
                _ => return Err(format!("unknown key {text:?}")),
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("Space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
            KeyCodeOrd::Enter => f.write_str("Enter"),
            KeyCodeOrd::Esc => f.write_str("Esc"),
            KeyCodeOrd::Tab => f.write_str("Tab"),
            KeyCodeOrd::BackTab => f.write_str("Shift-Tab"),
            KeyCodeOrd::Backspace => f.write_str("Backspace"),
            KeyCodeOrd::Delete => f.write_str("Del"),
            KeyCodeOrd::Insert => f.write_str("Ins"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::Home => f.write_str("Home"),
            KeyCodeOrd::End => f.write_str("End"),
            KeyCodeOrd::PageUp => f.write_str("PgUp"),
            KeyCodeOrd::PageDown => f.write_str("PgDn"),
        }
    }
}

/// A problem in a keymap file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapProblem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for KeymapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The live bindings.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

/// One action's keys as written in a file, with the line they are on.
struct Entry {
    action: Action,
    keys: Vec<Key>,
    line: usize,
}

impl Keymap {
    /// The built-in bindings.
    pub fn defaults() -> Keymap {
        match Keymap::build(DEFAULT_KEYMAP, "default keymap", None) {
            Ok(k) => k,
            // The shipped table is checked by a unit test; an empty map keeps
            // the console usable enough to quit (Ctrl-C is handled apart).
            Err(_) => Keymap {
                by_key: HashMap::new(),
                by_action: BTreeMap::new(),
            },
        }
    }

    /// The defaults with `path` over them, when it exists. Every problem
    /// (bad TOML, unknown action or key, a key bound twice) is reported with
    /// the file and line.
    pub fn load(path: &Path) -> Result<Keymap, Vec<KeymapProblem>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Keymap::defaults()),
            Err(e) => {
                return Err(vec![KeymapProblem {
                    file: path.display().to_string(),
                    line: 0,
                    message: format!("cannot read it: {e}"),
                }]);
            }
        };
        Keymap::from_user_text(&text, &path.display().to_string())
    }

    /// The defaults with the bindings in `text` (named `file` in problems) over them.
    pub fn from_user_text(text: &str, file: &str) -> Result<Keymap, Vec<KeymapProblem>> {
        Keymap::build(DEFAULT_KEYMAP, "default keymap", Some((text, file)))
    }

    fn build(
        defaults: &str,
        default_name: &str,
        user: Option<(&str, &str)>,
    ) -> Result<Keymap, Vec<KeymapProblem>> {
        let mut problems = Vec::new();
        let base = parse_entries(defaults, default_name, &mut problems);
        let over = match user {
            Some((text, file)) => parse_entries(text, file, &mut problems),
            None => Vec::new(),
        };
        // Each action: the user's keys if listed there, else the defaults.
        let mut chosen: BTreeMap<Action, (Vec<Key>, Option<usize>)> = BTreeMap::new();
        for e in base {
            chosen.insert(e.action, (e.keys, None));
        }
        for e in over {
            chosen.insert(e.action, (e.keys, Some(e.line)));
        }
        let user_file = user.map(|(_, f)| f).unwrap_or(default_name);
        let mut by_key: HashMap<Key, (Action, Option<usize>)> = HashMap::new();
        for (action, (keys, line)) in &chosen {
            for key in keys {
                if let Some((other, other_line)) = by_key.get(key) {
                    let origin = |l: &Option<usize>| match l {
                        Some(n) => format!("line {n}"),
                        None => "the default keymap".to_string(),
                    };
                    // Report it on the user's line (the later one when both are).
                    let at = match (line, other_line) {
                        (Some(l), Some(o)) => (*l).max(*o),
                        (Some(l), None) | (None, Some(l)) => *l,
                        (None, None) => 0,
                    };
                    problems.push(KeymapProblem {
                        file: user_file.to_string(),
                        line: at,
                        message: format!(
                            "key {key} is bound to both {other} ({}) and {action} ({}); bind one of them to another key",
                            origin(other_line),
                            origin(line)
                        ),
                    });
                } else {
                    by_key.insert(*key, (*action, *line));
                }
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        }
        Ok(Keymap {
            by_key: by_key.into_iter().map(|(k, (a, _))| (k, a)).collect(),
            by_action: chosen.into_iter().map(|(a, (k, _))| (a, k)).collect(),
        })
    }

    /// The action bound to this key press.
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        Key::from_event(ev).and_then(|k| self.by_key.get(&k).copied())
    }

    /// The keys of an action, in the order written.
    pub fn keys(&self, action: Action) -> &[Key] {
        self.by_action
            .get(&action)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// `"j/↓"`: every key of an action, for help and hints.
    pub fn label(&self, action: Action) -> String {
        let keys: Vec<String> = self.keys(action).iter().map(Key::to_string).collect();
        keys.join("/")
    }

    /// The first key of an action, for short hints ("press a to approve").
    pub fn first(&self, action: Action) -> Option<String> {
        self.keys(action).first().map(Key::to_string)
    }
}

fn parse_entries(text: &str, file: &str, problems: &mut Vec<KeymapProblem>) -> Vec<Entry> {
    let table: toml::Spanned<BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>> =
        match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
                problems.push(KeymapProblem {
                    file: file.to_string(),
                    line,
                    message: e.message().to_string(),
                });
                return Vec::new();
            }
        };
    let mut entries = Vec::new();
    for (name, value) in table.into_inner() {
        let line = line_of(text, name.span().start);
        let Some(action) = Action::from_name(name.get_ref()) else {
            let known: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            problems.push(KeymapProblem {
                file: file.to_string(),
                line,
                message: format!(
                    "unknown action {:?}; actions are: {}",
                    name.get_ref(),
                    known.join(", ")
                ),
            });
            continue;
        };
        let texts: Vec<String> = match value.get_ref() {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => problems.push(KeymapProblem {
                            file: file.to_string(),
                            line,
                            message: format!(
                                "{action}: keys must be strings, like \"a\" or \"ctrl-c\""
                            ),
                        }),
                    }
                }
                out
            }
            _ => {
                problems.push(KeymapProblem {
                    file: file.to_string(),
                    line,
                    message: format!(
                        "{action}: expected a key or a list of keys, like [\"a\", \"ctrl-c\"]"
                    ),
                });
                continue;
            }
        };
        let mut keys: Vec<Key> = Vec::new();
        for t in texts {
            match Key::parse(&t) {
                Ok(k) if !keys.contains(&k) => keys.push(k),
                Ok(_) => {}
                Err(message) => problems.push(KeymapProblem {
                    file: file.to_string(),
                    line,
                    message: format!("{action}: {message}"),
                }),
            }
        }
        entries.push(Entry { action, keys, line });
    }
    entries
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventKind;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            state: ratatui::crossterm::event::KeyEventState::NONE,
        }
    }

    #[test]
    fn the_shipped_table_binds_every_action() {
        let map = Keymap::build(DEFAULT_KEYMAP, "default keymap", None).expect("defaults parse");
        for a in Action::ALL {
            assert!(!map.keys(a).is_empty(), "{a} has no key");
        }
        assert_eq!(
            map.action(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Select)
        );
    }

    #[test]
    fn a_user_file_replaces_an_actions_keys() {
        let map =
            Keymap::from_user_text("kick = [\"K\", \"delete\"]\n", "keymap.toml").expect("valid");
        assert_eq!(
            map.action(&press(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(Action::Kick)
        );
        assert_eq!(
            map.action(&press(KeyCode::Delete, KeyModifiers::NONE)),
            Some(Action::Kick)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(map.label(Action::Kick), "K/Del");
    }

    #[test]
    fn conflicts_name_the_file_and_line() {
        let text = "# mine\nhelp = [\"h\"]\n\ndisband = [\"x\"]\n";
        let problems = Keymap::from_user_text(text, "keymap.toml").expect_err("conflict");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 4);
        assert!(problems[0].to_string().starts_with("keymap.toml:4: key x"));
        assert!(problems[0].message.contains("kick"));

        let text = "kick = [\"z\"]\ndisband = [\"z\"]\n";
        let problems = Keymap::from_user_text(text, "keymap.toml").expect_err("conflict");
        assert_eq!(problems[0].line, 2, "{problems:?}");
        assert!(problems[0].message.contains("line 1"), "{problems:?}");
    }

    #[test]
    fn bad_names_keys_and_syntax_are_reported() {
        let problems = Keymap::from_user_text("kik = [\"z\"]\n", "k.toml").expect_err("bad");
        assert!(problems[0].message.contains("unknown action \"kik\""));
        let problems =
            Keymap::from_user_text("\nkick = [\"hyper-z\"]\n", "k.toml").expect_err("bad");
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("unknown key"));
        let problems = Keymap::from_user_text("kick = [\n", "k.toml").expect_err("bad");
        assert_eq!(problems[0].file, "k.toml");
    }

    #[test]
    fn keys_round_trip_through_their_names() {
        for text in [
            "a",
            "G",
            "?",
            "ctrl-c",
            "shift-tab",
            "pgdn",
            "f5",
            "space",
            "alt-x",
        ] {
            let key = Key::parse(text).expect(text);
            let again = Key::parse(
                &key.to_string()
                    .replace("Ctrl-", "ctrl-")
                    .replace("Alt-", "alt-")
                    .replace("Shift-Tab", "shift-tab")
                    .replace("PgDn", "pgdn")
                    .replace("Space", "space"),
            )
            .expect("reparse");
            assert_eq!(key, again, "{text}");
        }
    }
}
