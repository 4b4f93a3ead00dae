//! The `:` command line: parsing a line into a command, and Tab completion
//! of command names, group IDs, join options, group types and member IDs.

use super::keymap::Action;
use super::state::{CommandLine, State};
use crate::model::{AddOption, GroupType};
use tui_input::Input;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join {
        group_id: String,
        message: Option<String>,
    },
    Invite {
        users: Vec<String>,
    },
    Create {
        group_type: GroupType,
        name: String,
    },
    Option(AddOption),
    Kick {
        user: String,
    },
    QuitGroup,
    Disband,
    Help,
    Refresh,
    Exit,
}

impl Command {
    /// The key action it corresponds to (read-only refuses the changing ones).
    pub fn action(&self) -> Option<Action> {
        match self {
            Command::Join { .. } => Some(Action::Join),
            Command::Invite { .. } => Some(Action::Invite),
            Command::Create { .. } => Some(Action::Create),
            Command::Option(_) => Some(Action::JoinOption),
            Command::Kick { .. } => Some(Action::Kick),
            Command::QuitGroup => Some(Action::Leave),
            Command::Disband => Some(Action::Disband),
            Command::Help | Command::Refresh | Command::Exit => None,
        }
    }
}

/// Every command: its name, its usage, and the key action it stands for
/// (read-only hides and refuses the changing ones).
pub const COMMANDS: [(&str, &str, Option<Action>); 10] = [
    ("join", "join ID [message]", Some(Action::Join)),
    ("invite", "invite USER...", Some(Action::Invite)),
    ("create", "create TYPE NAME", Some(Action::Create)),
    ("option", "option any|auth|forbid", Some(Action::JoinOption)),
    ("kick", "kick USER", Some(Action::Kick)),
    ("quit-group", "quit-group", Some(Action::Leave)),
    ("disband", "disband", Some(Action::Disband)),
    ("refresh", "refresh", None),
    ("help", "help", None),
    ("quit", "quit", None),
];

fn usage(name: &str) -> String {
    let u = COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, u, _)| *u)
        .unwrap_or(name);
    format!("usage: :{u}")
}

/// Parses a line (without the leading `:`).
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim().trim_start_matches(':').trim();
    let (name, rest) = match line.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (line, ""),
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    match name {
        "join" | "j" => {
            // The message is the rest of the line, spaces kept.
            let Some((id, _)) = words.split_first() else {
                return Err(usage("join"));
            };
            let message = rest[rest.find(id).map(|i| i + id.len()).unwrap_or(rest.len())..]
                .trim()
                .to_string();
            Ok(Command::Join {
                group_id: id.to_string(),
                message: (!message.is_empty()).then_some(message),
            })
        }
        "invite" => {
            let users = super::update::split_ids(rest);
            if users.is_empty() {
                return Err(usage("invite"));
            }
            Ok(Command::Invite { users })
        }
        "create" => {
            let Some((t, _)) = words.split_first() else {
                return Err(usage("create"));
            };
            let group_type = group_type_named(t).ok_or_else(|| {
                format!(
                    "unknown group type {t:?}; one of Work, Public, Meeting, AVChatRoom, Community"
                )
            })?;
            let name = rest[rest.find(t).map(|i| i + t.len()).unwrap_or(rest.len())..]
                .trim()
                .to_string();
            if name.is_empty() {
                return Err(usage("create"));
            }
            Ok(Command::Create { group_type, name })
        }
        "option" | "join-option" => match words.as_slice() {
            [o] => join_option_named(o)
                .map(Command::Option)
                .ok_or_else(|| format!("unknown join option {o:?}; one of any, auth, forbid")),
            _ => Err(usage("option")),
        },
        "kick" => match words.as_slice() {
            [u] => Ok(Command::Kick {
                user: u.to_string(),
            }),
            _ => Err(usage("kick")),
        },
        "quit-group" | "leave" => Ok(Command::QuitGroup),
        "disband" => Ok(Command::Disband),
        "help" | "h" => Ok(Command::Help),
        "refresh" => Ok(Command::Refresh),
        "quit" | "q" | "exit" => Ok(Command::Exit),
        "" => Err("type a command, e.g. :join @TGS#2ABC hello".into()),
        other => {
            let names: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| *n).collect();
            Err(format!(
                "unknown command :{other}; commands: {}",
                names.join(", ")
            ))
        }
    }
}

/// A group type by name, any case (`public`, `AVChatRoom`, ...).
fn group_type_named(s: &str) -> Option<GroupType> {
    GroupType::ALL
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
        .or_else(|| GroupType::parse_any(s))
}

/// A join option by name, any case (`any`, `Auth`, `FORBID`, ...).
fn join_option_named(s: &str) -> Option<AddOption> {
    [AddOption::Any, AddOption::Auth, AddOption::Forbid]
        .into_iter()
        .find(|o| o.as_str().eq_ignore_ascii_case(s))
        .or_else(|| AddOption::parse_any(s))
}

/// Candidates for the word under completion (the last word of `line`).
pub fn complete(state: &State, line: &str) -> Vec<String> {
    let ends_with_space = line.ends_with(' ');
    let words: Vec<&str> = line.split_whitespace().collect();
    let (index, prefix) = if ends_with_space || words.is_empty() {
        (words.len(), "")
    } else {
        (words.len() - 1, words[words.len() - 1])
    };
    let lower = prefix.to_lowercase();
    let starts = |c: &str| c.to_lowercase().starts_with(&lower);
    if index == 0 {
        return COMMANDS
            .iter()
            .filter(|(_, _, a)| a.is_none_or(|a| super::update::available(state, a)))
            .map(|(n, _, _)| n.to_string())
            .filter(|n| starts(n))
            .collect();
    }
    let command = words.first().copied().unwrap_or("");
    match (command, index) {
        ("join", 1) => {
            // Groups already known (as an app admin, every group).
            state
                .groups
                .items
                .iter()
                .map(|g| g.group_id.clone())
                .filter(|id| starts(id))
                .collect()
        }
        ("option", 1) => ["any", "auth", "forbid"]
            .iter()
            .map(|s| s.to_string())
            .filter(|s| starts(s))
            .collect(),
        ("create", 1) => GroupType::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .filter(|s| starts(s))
            .collect(),
        ("kick", 1) => state
            .members
            .list
            .items
            .iter()
            .map(|m| m.user_id.clone())
            .filter(|s| starts(s))
            .take(200)
            .collect(),
        _ => Vec::new(),
    }
}

/// Tab: replaces the last word with the next candidate.
pub fn apply_completion(cl: &mut CommandLine, candidates: Vec<String>) {
    if cl.completions.is_empty() {
        if candidates.is_empty() {
            return;
        }
        cl.completions = candidates;
        cl.completion_index = 0;
    } else {
        cl.completion_index = (cl.completion_index + 1) % cl.completions.len();
    }
    let value = cl.input.value();
    let base = match value.rfind(' ') {
        Some(i) => &value[..=i],
        None => "",
    };
    let Some(word) = cl.completions.get(cl.completion_index) else {
        return;
    };
    let only = cl.completions.len() == 1;
    let mut text = format!("{base}{word}");
    if only {
        text.push(' ');
    }
    cl.input = Input::new(text);
    if only {
        cl.completions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_command() {
        assert_eq!(
            parse("join @TGS#2AB hello there"),
            Ok(Command::Join {
                group_id: "@TGS#2AB".into(),
                message: Some("hello there".into())
            })
        );
        assert_eq!(
            parse(":join g1"),
            Ok(Command::Join {
                group_id: "g1".into(),
                message: None
            })
        );
        assert_eq!(
            parse("invite bob, carol dave"),
            Ok(Command::Invite {
                users: vec!["bob".into(), "carol".into(), "dave".into()]
            })
        );
        assert_eq!(
            parse("create public Book club 读书"),
            Ok(Command::Create {
                group_type: GroupType::Public,
                name: "Book club 读书".into()
            })
        );
        assert_eq!(
            parse("option FORBID"),
            Ok(Command::Option(AddOption::Forbid))
        );
        assert_eq!(parse("kick bob"), Ok(Command::Kick { user: "bob".into() }));
        assert_eq!(parse("quit-group"), Ok(Command::QuitGroup));
        assert_eq!(parse("disband"), Ok(Command::Disband));
    }

    #[test]
    fn explains_mistakes() {
        assert_eq!(parse("join"), Err("usage: :join ID [message]".into()));
        assert!(
            parse("option maybe")
                .unwrap_err()
                .contains("any, auth, forbid")
        );
        assert!(
            parse("create Club x")
                .unwrap_err()
                .contains("unknown group type")
        );
        assert!(parse("frobnicate").unwrap_err().contains("commands: join"));
        assert!(parse("kick").unwrap_err().starts_with("usage"));
    }
}
