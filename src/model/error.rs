//! Every way a group operation can be refused, with its Tencent error code
//! (spec §6) and a message a moderator understands at a glance.

use thiserror::Error;

/// The class of a failure, which the HTTP layer turns into a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    BadInput,
    Forbidden,
    NotFound,
    Conflict,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupError {
    #[error("{0}")]
    InvalidParam(String),
    #[error("too many accounts in one request: {got} (at most {max})")]
    BatchTooLarge { got: usize, max: usize },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("the owner cannot quit a {0} group — transfer ownership or disband it")]
    OwnerCannotQuit(String),
    #[error("group {0} does not exist or was disbanded")]
    GroupNotFound(String),
    #[error("{user} is already a member of {group}")]
    AlreadyMember { user: String, group: String },
    #[error("group {group} is full ({count}/{max}); raise max_members or remove members")]
    GroupFull { group: String, count: u64, max: u64 },
    #[error("invalid group ID: {0}")]
    InvalidGroupId(String),
    #[error("account {0} does not exist; import it first")]
    UserNotFound(String),
    #[error("group ID {0} is already in use")]
    GroupIdTaken(String),
    #[error("join request {0} was already handled")]
    RequestHandled(String),
    #[error("group ID {0} is already in use and is yours; use it")]
    GroupIdOwned(String),
    #[error("{user} has reached the limit of {limit} groups; quit a group first")]
    UserGroupLimit { user: String, limit: u64 },
    #[error("{0}")]
    OverCeiling(String),
    #[error("{user} is not a member of {group}")]
    NotMember { user: String, group: String },
    #[error("join request {0} does not exist")]
    RequestNotFound(String),
    #[error("{0} already owns the group")]
    AlreadyOwner(String),
    #[error("storage failure: {0}; retry")]
    Internal(String),
}

impl GroupError {
    /// The Tencent error code.
    pub fn code(&self) -> u32 {
        match self {
            GroupError::InvalidParam(_) => 10004,
            GroupError::BatchTooLarge { .. } => 10005,
            GroupError::PermissionDenied(_) => 10007,
            GroupError::OwnerCannotQuit(_) => 10009,
            GroupError::GroupNotFound(_) => 10010,
            GroupError::AlreadyMember { .. } => 10013,
            GroupError::GroupFull { .. } => 10014,
            GroupError::InvalidGroupId(_) => 10015,
            GroupError::UserNotFound(_) => 10019,
            GroupError::GroupIdTaken(_) => 10021,
            GroupError::RequestHandled(_) => 10024,
            GroupError::GroupIdOwned(_) => 10025,
            GroupError::UserGroupLimit { .. } => 10037,
            GroupError::OverCeiling(_) => 10038,
            GroupError::NotMember { .. } => 10007,
            GroupError::RequestNotFound(_) => 10004,
            GroupError::AlreadyOwner(_) => 10004,
            GroupError::Internal(_) => 10002,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            GroupError::InvalidParam(_)
            | GroupError::BatchTooLarge { .. }
            | GroupError::InvalidGroupId(_)
            | GroupError::OverCeiling(_) => ErrorClass::BadInput,
            GroupError::PermissionDenied(_)
            | GroupError::OwnerCannotQuit(_)
            | GroupError::NotMember { .. } => ErrorClass::Forbidden,
            GroupError::GroupNotFound(_)
            | GroupError::UserNotFound(_)
            | GroupError::RequestNotFound(_) => ErrorClass::NotFound,
            GroupError::AlreadyMember { .. }
            | GroupError::GroupFull { .. }
            | GroupError::GroupIdTaken(_)
            | GroupError::RequestHandled(_)
            | GroupError::GroupIdOwned(_)
            | GroupError::AlreadyOwner(_)
            | GroupError::UserGroupLimit { .. } => ErrorClass::Conflict,
            GroupError::Internal(_) => ErrorClass::Internal,
        }
    }

    pub fn denied(msg: impl Into<String>) -> GroupError {
        GroupError::PermissionDenied(msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> GroupError {
        GroupError::InvalidParam(msg.into())
    }
}
