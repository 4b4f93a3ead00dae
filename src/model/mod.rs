//! The rules of groups, pure: types, options, roles, permission checks,
//! field limits, events and error codes. No I/O, no async.

pub mod error;
pub mod event;
pub mod limits;
pub mod rules;
pub mod types;

pub use error::{ErrorClass, GroupError};
pub use event::{Audience, Event, EventKind, MembershipChange, Published};
pub use limits::Limits;
pub use rules::{GroupFacts, InviteOutcome, JoinOutcome, ModifyScope};
pub use types::{Actor, AddOption, GroupType, InviteOption, Role};
