//! The messages the console's loop feeds to `update` (keys, mouse, replies,
//! live events, time) and the commands `update` hands back for the backend
//! task to carry out. Both are plain data: `update` does no I/O.

use crate::model::{AddOption, Event, Role};
use crate::server::api::{
    CreateGroupRequest, GroupInfo, InviteReply, JoinReply, JoinRequestInfo, Me, MemberInfo, Page,
};
use ratatui::crossterm::event::{KeyEvent, MouseEvent};

/// Something that happened.
// A message is moved once through a channel and consumed: its size costs
// nothing worth an allocation per reply.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock, in Unix milliseconds (fades, spinner, ages).
    Tick {
        now_ms: u64,
    },
    /// The backend answered the call with this id.
    Reply {
        id: u64,
        reply: Reply,
    },
    /// The live event stream reported something.
    Stream(StreamMsg),
    /// A signal asked the console to end (SIGTERM, SIGHUP).
    Terminate,
}

/// What the event stream reports, as data.
#[derive(Debug, Clone)]
pub enum StreamMsg {
    /// Connected (first time or again); the stream resumes by itself.
    Connected,
    Event(Box<Event>),
    /// The server's log no longer reaches the last id seen: re-read state.
    Reset {
        last_event_id: u64,
    },
    Disconnected {
        attempt: u32,
        error: String,
    },
    /// Refused for good (bad UserSig, scope not allowed).
    Fatal(String),
}

/// A failed call, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The Tencent error code, when the server sent one.
    pub code: Option<u32>,
    pub status: Option<u16>,
    /// Already readable: `10009: the owner cannot quit a Public group — ...`.
    pub message: String,
}

impl CallError {
    pub fn from_client(e: &crate::client::ClientError) -> CallError {
        CallError {
            code: e.code(),
            status: e.status(),
            message: e.to_string(),
        }
    }
}

pub type CallResult<T> = Result<T, CallError>;

/// The answer to a [`Call`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// Who I am, and the newest event id when the state was read.
    Hello(CallResult<Hello>),
    Groups(CallResult<Vec<GroupInfo>>),
    Group {
        group_id: String,
        result: CallResult<GroupInfo>,
    },
    Members {
        group_id: String,
        /// The page asked for (`None` = the first).
        cursor: Option<String>,
        result: CallResult<Page<MemberInfo>>,
    },
    Requests {
        cursor: Option<String>,
        result: CallResult<Page<JoinRequestInfo>>,
    },
    /// A changing action finished.
    Done(CallResult<Outcome>),
}

/// The start-up facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub me: Me,
    /// The newest event id before anything was read: events after it are
    /// applied to the panes, events up to it only fill the log.
    pub last_event_id: u64,
}

/// What a successful action reports.
#[derive(Debug, Clone)]
pub enum Outcome {
    Created {
        group_id: String,
        name: String,
    },
    Joined {
        group_id: String,
        reply: JoinReply,
    },
    Invited {
        group_id: String,
        reply: InviteReply,
    },
    Decided {
        accepted: bool,
        count: usize,
        failed: Vec<(u64, CallError)>,
    },
    Left {
        group_id: String,
    },
    Disbanded {
        group_id: String,
    },
    OptionSet {
        group_id: String,
        option: AddOption,
        changed: bool,
    },
    Kicked {
        group_id: String,
        user: String,
    },
    RoleSet {
        group_id: String,
        user: String,
        role: Role,
        changed: bool,
    },
}

/// A call for the backend to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `me`, then the newest event id; then the event stream starts.
    Hello,
    Groups {
        scope_all: bool,
    },
    Group {
        group_id: String,
    },
    Members {
        group_id: String,
        cursor: Option<String>,
    },
    Requests {
        cursor: Option<String>,
    },
    Create(CreateGroupRequest),
    Join {
        group_id: String,
        message: Option<String>,
    },
    Invite {
        group_id: String,
        users: Vec<String>,
    },
    Decide {
        request_ids: Vec<u64>,
        accept: bool,
        reason: Option<String>,
    },
    Leave {
        group_id: String,
    },
    Disband {
        group_id: String,
    },
    SetOption {
        group_id: String,
        option: AddOption,
    },
    Kick {
        group_id: String,
        user: String,
    },
    SetRole {
        group_id: String,
        user: String,
        role: Role,
    },
}

impl Call {
    /// Whether it changes the server (shown as "in flight", asked about on quit).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Call::Hello
                | Call::Groups { .. }
                | Call::Group { .. }
                | Call::Members { .. }
                | Call::Requests { .. }
        )
    }

    /// Calls of the same slot replace each other: the newest wins.
    pub fn slot(&self) -> Option<&'static str> {
        match self {
            Call::Members { .. } => Some("members"),
            Call::Groups { .. } => Some("groups"),
            _ => None,
        }
    }

    /// What is in flight, for the status bar.
    pub fn label(&self) -> String {
        match self {
            Call::Hello => "connecting".into(),
            Call::Groups { .. } => "loading groups".into(),
            Call::Group { group_id } => format!("loading {group_id}"),
            Call::Members { .. } => "loading members".into(),
            Call::Requests { .. } => "loading join requests".into(),
            Call::Create(req) => format!("creating {}", req.name),
            Call::Join { group_id, .. } => format!("joining {group_id}"),
            Call::Invite { group_id, users } => {
                format!("inviting {} to {group_id}", users.join(", "))
            }
            Call::Decide {
                request_ids,
                accept,
                ..
            } => format!(
                "{} {} request{}",
                if *accept { "approving" } else { "rejecting" },
                request_ids.len(),
                if request_ids.len() == 1 { "" } else { "s" }
            ),
            Call::Leave { group_id } => format!("leaving {group_id}"),
            Call::Disband { group_id } => format!("disbanding {group_id}"),
            Call::SetOption { group_id, option } => {
                format!("setting {group_id} to {}", option.as_str())
            }
            Call::Kick { group_id, user } => format!("kicking {user} from {group_id}"),
            Call::SetRole {
                group_id,
                user,
                role,
            } => format!("making {user} {} of {group_id}", role.as_str()),
        }
    }
}

/// What `update` asks the outside world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Call {
        id: u64,
        call: Call,
    },
    /// Start (or restart) following events after this id.
    Follow {
        after: u64,
        scope_all: bool,
    },
    /// Leave the console.
    Exit,
}
