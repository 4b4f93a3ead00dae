//! The vocabulary of groups: types, join and invite options, roles, and the
//! per-type facts of the capability matrix (spec §1.2, §2). Pure data.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The five group types, spelled as the SDK spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum GroupType {
    Work,
    Public,
    Meeting,
    AVChatRoom,
    Community,
}

impl GroupType {
    pub const ALL: [GroupType; 5] = [
        GroupType::Work,
        GroupType::Public,
        GroupType::Meeting,
        GroupType::AVChatRoom,
        GroupType::Community,
    ];

    /// The SDK name (`Work`, `Meeting`, ...), used on `/api/v1` and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Work => "Work",
            GroupType::Public => "Public",
            GroupType::Meeting => "Meeting",
            GroupType::AVChatRoom => "AVChatRoom",
            GroupType::Community => "Community",
        }
    }

    /// The legacy REST name (`Private`, `ChatRoom`, ...), emitted on `/v4`.
    pub fn rest_name(self) -> &'static str {
        match self {
            GroupType::Work => "Private",
            GroupType::Meeting => "ChatRoom",
            other => other.as_str(),
        }
    }

    /// Parses either spelling (SDK or legacy REST).
    pub fn parse_any(s: &str) -> Option<GroupType> {
        match s {
            "Work" | "Private" => Some(GroupType::Work),
            "Public" => Some(GroupType::Public),
            "Meeting" | "ChatRoom" => Some(GroupType::Meeting),
            "AVChatRoom" => Some(GroupType::AVChatRoom),
            "Community" => Some(GroupType::Community),
            _ => None,
        }
    }

    /// Whether the admin role exists in this type.
    pub fn has_admins(self) -> bool {
        !matches!(self, GroupType::Work | GroupType::AVChatRoom)
    }

    /// Whether the type appears in joined-group lists (AVChatRoom does not).
    pub fn listed_as_joined(self) -> bool {
        self != GroupType::AVChatRoom
    }

    /// Whether joining this type counts toward the per-user group limit.
    pub fn counts_toward_user_limit(self) -> bool {
        self != GroupType::AVChatRoom
    }

    pub fn default_add_option(self) -> AddOption {
        match self {
            GroupType::Work => AddOption::Forbid,
            GroupType::Public => AddOption::Auth,
            GroupType::Meeting | GroupType::AVChatRoom | GroupType::Community => AddOption::Any,
        }
    }

    /// `None` for AVChatRoom, where invitations are impossible.
    pub fn default_invite_option(self) -> Option<InviteOption> {
        match self {
            GroupType::Work => Some(InviteOption::Any),
            GroupType::Public | GroupType::Meeting | GroupType::Community => {
                Some(InviteOption::Forbid)
            }
            GroupType::AVChatRoom => None,
        }
    }

    /// The letter after `@TGS#` in server-assigned IDs.
    pub fn id_letter(self) -> char {
        match self {
            GroupType::Work => '1',
            GroupType::Public => '2',
            GroupType::Meeting => '3',
            GroupType::AVChatRoom => 'a',
            GroupType::Community => '_',
        }
    }
}

impl std::fmt::Display for GroupType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may join by applying (spec §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum AddOption {
    Forbid,
    Auth,
    Any,
}

impl AddOption {
    pub fn as_str(self) -> &'static str {
        match self {
            AddOption::Forbid => "Forbid",
            AddOption::Auth => "Auth",
            AddOption::Any => "Any",
        }
    }
    pub fn rest_name(self) -> &'static str {
        match self {
            AddOption::Forbid => "DisableApply",
            AddOption::Auth => "NeedPermission",
            AddOption::Any => "FreeAccess",
        }
    }
    /// Parses the SDK name or the REST name.
    pub fn parse_any(s: &str) -> Option<AddOption> {
        match s {
            "Forbid" | "DisableApply" => Some(AddOption::Forbid),
            "Auth" | "NeedPermission" => Some(AddOption::Auth),
            "Any" | "FreeAccess" => Some(AddOption::Any),
            _ => None,
        }
    }
}

/// What an invitation by a member does (spec §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum InviteOption {
    Forbid,
    Auth,
    Any,
}

impl InviteOption {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteOption::Forbid => "Forbid",
            InviteOption::Auth => "Auth",
            InviteOption::Any => "Any",
        }
    }
    pub fn rest_name(self) -> &'static str {
        match self {
            InviteOption::Forbid => "DisableInvite",
            InviteOption::Auth => "NeedPermission",
            InviteOption::Any => "FreeAccess",
        }
    }
    pub fn parse_any(s: &str) -> Option<InviteOption> {
        match s {
            "Forbid" | "DisableInvite" => Some(InviteOption::Forbid),
            "Auth" | "NeedPermission" => Some(InviteOption::Auth),
            "Any" | "FreeAccess" => Some(InviteOption::Any),
            _ => None,
        }
    }
}

/// A member's role in a group. App admins are not a role (see [`Actor`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "Member",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "Member" => Some(Role::Member),
            "Admin" => Some(Role::Admin),
            "Owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub app_admin: bool,
}

impl Actor {
    pub fn user(id: impl Into<String>) -> Actor {
        Actor {
            user_id: id.into(),
            app_admin: false,
        }
    }
    pub fn app_admin(id: impl Into<String>) -> Actor {
        Actor {
            user_id: id.into(),
            app_admin: true,
        }
    }
}
