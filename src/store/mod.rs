//! Persistence. The service's write logic runs against the [`Tx`] trait: one
//! call of it is one command inside a durable transaction, and the events it
//! emits commit with it. [`sqlite`] is the embedded implementation.

pub mod rows;
pub mod sqlite;
pub mod walvfs;

pub use rows::RequestListing;

use crate::model::{
    AddOption, Audience, EventKind, GroupError, GroupFacts, GroupType, InviteOption, Limits,
    MembershipChange, Role,
};

pub use sqlite::{SqliteConfig, SqliteStore};
use std::collections::BTreeMap;

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub group_id: String,
    pub group_type: GroupType,
    pub name: String,
    pub introduction: String,
    pub notification: String,
    pub face_url: String,
    pub owner: Option<String>,
    pub add_option: AddOption,
    pub invite_option: Option<InviteOption>,
    pub max_members: Option<u64>,
    pub member_count: u64,
    /// Unix seconds.
    pub created_at: u64,
    pub info_seq: u64,
    pub last_info_time: u64,
    pub mute_all: bool,
    pub activated: bool,
    /// Custom fields (`AppDefinedData`).
    pub app_data: BTreeMap<String, String>,
}

impl GroupRow {
    pub fn facts(&self) -> GroupFacts {
        GroupFacts {
            group_id: self.group_id.clone(),
            group_type: self.group_type,
            owner: self.owner.clone(),
            add_option: self.add_option,
            invite_option: self.invite_option,
            max_members: self.max_members,
            member_count: self.member_count,
        }
    }
}

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user_id: String,
    pub role: Role,
    /// Unix seconds.
    pub join_time: u64,
    pub name_card: String,
    pub mute_until: u64,
    pub msg_flag: String,
    /// Custom fields (`AppMemberDefinedData`).
    pub app_data: BTreeMap<String, String>,
}

/// The state of a join request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Accepted,
    Refused,
    /// Ended without a decision: the applicant joined another way or the group was disbanded.
    Ended,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Refused => "refused",
            RequestStatus::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Option<RequestStatus> {
        match s {
            "pending" => Some(RequestStatus::Pending),
            "accepted" => Some(RequestStatus::Accepted),
            "refused" => Some(RequestStatus::Refused),
            "ended" => Some(RequestStatus::Ended),
            _ => None,
        }
    }
}

/// A join request (an application, or an invitation waiting for approval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: u64,
    pub group_id: String,
    pub applicant: String,
    /// Set when the request is an invitation by this member.
    pub inviter: Option<String>,
    pub message: String,
    /// Unix milliseconds.
    pub created_at: u64,
    pub status: RequestStatus,
    pub handled_by: Option<String>,
    pub handled_at: Option<u64>,
    pub reason: String,
}

/// An event to be committed with the command that caused it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub group_id: String,
    pub kind: EventKind,
    pub actor: String,
    pub targets: Vec<String>,
    pub detail: serde_json::Value,
    pub audience: Audience,
    pub membership: MembershipChange,
}

pub type StoreResult<T> = Result<T, GroupError>;

/// One command's view of the store inside a transaction. Every membership
/// change is followed by the event that announces it (so intervals of
/// entitlement line up with event ids).
pub trait Tx {
    /// The time of this batch, Unix milliseconds.
    fn now_ms(&self) -> u64;
    fn limits(&self) -> &Limits;

    fn user_exists(&mut self, user: &str) -> StoreResult<bool>;
    /// Registers a user if new; returns whether it was created.
    fn ensure_user(&mut self, user: &str, nick: &str, face_url: &str) -> StoreResult<bool>;
    /// Groups the user created or joined that count toward the per-user limit.
    fn user_group_count(&mut self, user: &str) -> StoreResult<u64>;

    fn group(&mut self, group_id: &str) -> StoreResult<Option<GroupRow>>;
    fn insert_group(&mut self, group: &GroupRow) -> StoreResult<()>;
    /// Writes the profile, options, owner and counters of an existing group.
    fn update_group(&mut self, group: &GroupRow) -> StoreResult<()>;
    fn delete_group(&mut self, group_id: &str) -> StoreResult<()>;

    fn role(&mut self, group_id: &str, user: &str) -> StoreResult<Option<Role>>;
    /// Adds a member, entitled from the next event on. Keeps counters in step.
    fn add_member(&mut self, group: &GroupRow, user: &str, role: Role) -> StoreResult<()>;
    /// Removes a member, entitled up to and including the next event.
    fn remove_member(&mut self, group: &GroupRow, user: &str) -> StoreResult<()>;
    fn set_role(&mut self, group_id: &str, user: &str, role: Role) -> StoreResult<()>;
    /// Updates a member's name card, mute deadline (Unix seconds, 0 = not muted) and message flag.
    fn update_member_profile(&mut self, group_id: &str, member: &MemberRow) -> StoreResult<()>;
    fn member(&mut self, group_id: &str, user: &str) -> StoreResult<Option<MemberRow>>;
    fn member_ids(&mut self, group_id: &str) -> StoreResult<Vec<String>>;
    /// The owner and admins.
    fn approvers(&mut self, group_id: &str) -> StoreResult<Vec<String>>;

    fn request(&mut self, id: u64) -> StoreResult<Option<RequestRow>>;
    fn pending_request(
        &mut self,
        group_id: &str,
        applicant: &str,
    ) -> StoreResult<Option<RequestRow>>;
    /// Inserts a request and returns its id (the `id` field is ignored).
    fn insert_request(&mut self, request: &RequestRow) -> StoreResult<u64>;
    fn update_request(&mut self, request: &RequestRow) -> StoreResult<()>;
    /// Ends the pending requests of a group (of one applicant when given).
    fn end_pending_requests(&mut self, group_id: &str, applicant: Option<&str>) -> StoreResult<()>;

    /// Appends an event; returns its id.
    fn emit(&mut self, event: NewEvent) -> StoreResult<u64>;
}
