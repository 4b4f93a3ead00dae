//! Group events (tips and join-request notices): their kinds, their shape on
//! the wire, and who is entitled to receive them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    GroupCreated,
    GroupInfoChanged,
    MemberJoined,
    MemberQuit,
    MemberKicked,
    AdminGranted,
    AdminRevoked,
    OwnerChanged,
    GroupDisbanded,
    JoinRequested,
    JoinRequestHandled,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::GroupCreated,
        EventKind::GroupInfoChanged,
        EventKind::MemberJoined,
        EventKind::MemberQuit,
        EventKind::MemberKicked,
        EventKind::AdminGranted,
        EventKind::AdminRevoked,
        EventKind::OwnerChanged,
        EventKind::GroupDisbanded,
        EventKind::JoinRequested,
        EventKind::JoinRequestHandled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::GroupCreated => "group_created",
            EventKind::GroupInfoChanged => "group_info_changed",
            EventKind::MemberJoined => "member_joined",
            EventKind::MemberQuit => "member_quit",
            EventKind::MemberKicked => "member_kicked",
            EventKind::AdminGranted => "admin_granted",
            EventKind::AdminRevoked => "admin_revoked",
            EventKind::OwnerChanged => "owner_changed",
            EventKind::GroupDisbanded => "group_disbanded",
            EventKind::JoinRequested => "join_requested",
            EventKind::JoinRequestHandled => "join_request_handled",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One committed event, as sent to clients: `{id, time, group_id, kind, actor, targets, detail}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Strictly increasing across the whole server.
    pub id: u64,
    /// Unix milliseconds.
    pub time: u64,
    pub group_id: String,
    pub kind: EventKind,
    /// Who caused it (a user ID).
    pub actor: String,
    /// The users it is about (joined, kicked, promoted, ...).
    pub targets: Vec<String>,
    /// Kind-specific facts, e.g. `{"via": "approval"}` or `{"fields": ["add_option"], ...}`.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Who receives an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the group at the time of the event (joiners included,
    /// leavers included in their own leave event).
    Members,
    /// Exactly these users (join requests: owner, admins, applicant; silent REST changes).
    Only(Vec<String>),
}

/// How an event changes membership; a live subscriber folds these to know
/// which groups' tips it is entitled to, without asking the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChange {
    pub joined: Vec<String>,
    pub left: Vec<String>,
    /// Every member left (disband).
    pub dissolved: bool,
}

/// An event as published by the store after commit: the wire event plus its audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub event: Event,
    pub audience: Audience,
    pub membership: MembershipChange,
}
