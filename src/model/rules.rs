//! The permission rules of spec §3, one function per decision. Each takes the
//! facts of a group and the roles involved and answers what happens or which
//! error code refuses it. No I/O: the service loads the facts and writes the outcome.

use super::error::GroupError;
use super::types::{Actor, AddOption, GroupType, InviteOption, Role};

/// What the rules need to know about a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub group_id: String,
    pub group_type: GroupType,
    pub owner: Option<String>,
    pub add_option: AddOption,
    pub invite_option: Option<InviteOption>,
    /// `None` = unlimited.
    pub max_members: Option<u64>,
    pub member_count: u64,
}

/// The outcome of applying to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined,
    Pending,
}

/// The outcome of an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    /// The invitee is added at once.
    Added,
    /// The invitation waits for an owner or admin (pendency type 2).
    Pending,
}

/// The profile fields a modification touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModifyScope {
    pub profile: bool,
    pub add_option: bool,
    pub invite_option: bool,
    pub max_members: bool,
}

fn not_member(actor: &Actor, g: &GroupFacts) -> GroupError {
    GroupError::NotMember {
        user: actor.user_id.clone(),
        group: g.group_id.clone(),
    }
}

/// Reading a group's profile: members and app admins always; non-members only
/// for types that can be found by ID (every type but Work).
pub fn check_view(g: &GroupFacts, actor: &Actor, role: Option<Role>) -> Result<(), GroupError> {
    if actor.app_admin || role.is_some() || g.group_type != GroupType::Work {
        Ok(())
    } else {
        Err(GroupError::denied(format!(
            "{} is a Work group; only its members can see it",
            g.group_id
        )))
    }
}

/// Listing members: members and app admins.
pub fn check_list_members(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
) -> Result<(), GroupError> {
    if actor.app_admin || role.is_some() {
        Ok(())
    } else {
        Err(not_member(actor, g))
    }
}

/// Whether `count` more members fit (10014).
pub fn check_capacity(g: &GroupFacts, adding: u64) -> Result<(), GroupError> {
    match g.max_members {
        Some(max) if g.member_count.saturating_add(adding) > max => Err(GroupError::GroupFull {
            group: g.group_id.clone(),
            count: g.member_count,
            max,
        }),
        _ => Ok(()),
    }
}

/// Whether a user holding `count` groups may hold one more (10037).
pub fn check_user_limit(user: &str, count: u64, limit: u64) -> Result<(), GroupError> {
    if count >= limit {
        Err(GroupError::UserGroupLimit {
            user: user.to_string(),
            limit,
        })
    } else {
        Ok(())
    }
}

/// Applying to join (`joinGroup`).
pub fn check_join(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
) -> Result<JoinOutcome, GroupError> {
    if role.is_some() {
        return Err(GroupError::AlreadyMember {
            user: actor.user_id.clone(),
            group: g.group_id.clone(),
        });
    }
    match g.add_option {
        AddOption::Forbid => Err(GroupError::denied(format!(
            "{} does not accept join requests (join option Forbid); ask to be invited",
            g.group_id
        ))),
        AddOption::Auth => Ok(JoinOutcome::Pending),
        AddOption::Any => {
            check_capacity(g, 1)?;
            Ok(JoinOutcome::Joined)
        }
    }
}

/// Inviting users (`inviteUserToGroup`); app admins add directly like REST `add_group_member`.
pub fn check_invite(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
) -> Result<InviteOutcome, GroupError> {
    if g.group_type == GroupType::AVChatRoom {
        return Err(GroupError::denied(
            "AVChatRoom groups take no invitations; users join by themselves",
        ));
    }
    if actor.app_admin {
        return Ok(InviteOutcome::Added);
    }
    let Some(role) = role else {
        return Err(not_member(actor, g));
    };
    match g.invite_option.unwrap_or(InviteOption::Forbid) {
        InviteOption::Any => Ok(InviteOutcome::Added),
        // Owners and admins are the approvers, so their invitations need no approval.
        InviteOption::Auth if role >= Role::Admin => Ok(InviteOutcome::Added),
        InviteOption::Auth => Ok(InviteOutcome::Pending),
        InviteOption::Forbid => Err(GroupError::denied(format!(
            "invitations are disabled in {} (invite option Forbid); an owner or admin can enable them",
            g.group_id
        ))),
    }
}

/// Quitting. The owner may quit only a Work group, which is then left without an owner.
pub fn check_quit(g: &GroupFacts, actor: &Actor, role: Option<Role>) -> Result<(), GroupError> {
    match role {
        None => Err(not_member(actor, g)),
        Some(Role::Owner) if g.group_type != GroupType::Work => {
            Err(GroupError::OwnerCannotQuit(g.group_type.to_string()))
        }
        Some(_) => Ok(()),
    }
}

/// Kicking `target`.
pub fn check_kick(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
    target: &str,
    target_role: Option<Role>,
) -> Result<(), GroupError> {
    if g.group_type == GroupType::AVChatRoom {
        return Err(GroupError::denied(
            "members cannot be removed from an AVChatRoom group",
        ));
    }
    if !actor.app_admin && role.is_none() {
        return Err(not_member(actor, g));
    }
    let Some(target_role) = target_role else {
        return Err(GroupError::NotMember {
            user: target.to_string(),
            group: g.group_id.clone(),
        });
    };
    if target == actor.user_id {
        return Err(GroupError::denied(
            "you cannot remove yourself; quit the group instead",
        ));
    }
    if target_role == Role::Owner {
        return Err(GroupError::denied(
            "the owner cannot be removed; transfer ownership first",
        ));
    }
    if actor.app_admin {
        return Ok(());
    }
    let allowed = match (g.group_type, role) {
        (GroupType::Work, Some(Role::Owner)) => true,
        (GroupType::Work, _) => false,
        (_, Some(Role::Owner)) => true,
        (_, Some(Role::Admin)) => target_role == Role::Member,
        _ => false,
    };
    if allowed {
        Ok(())
    } else if role == Some(Role::Admin) {
        Err(GroupError::denied(
            "an admin may remove ordinary members only",
        ))
    } else if g.group_type == GroupType::Work {
        Err(GroupError::denied(
            "only the owner may remove members of a Work group",
        ))
    } else {
        Err(GroupError::denied(
            "only the owner or an admin may remove members",
        ))
    }
}

/// Disbanding. Work groups only by an app admin; other types by the owner or an app admin.
pub fn check_disband(g: &GroupFacts, actor: &Actor, role: Option<Role>) -> Result<(), GroupError> {
    if actor.app_admin {
        return Ok(());
    }
    if g.group_type == GroupType::Work {
        return Err(GroupError::denied(
            "a Work group can be disbanded only by an app admin",
        ));
    }
    match role {
        Some(Role::Owner) => Ok(()),
        None => Err(not_member(actor, g)),
        Some(_) => Err(GroupError::denied("only the owner may disband the group")),
    }
}

/// Modifying the profile or options.
pub fn check_modify(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
    scope: ModifyScope,
) -> Result<(), GroupError> {
    if scope.invite_option && g.group_type == GroupType::AVChatRoom {
        return Err(GroupError::denied(
            "AVChatRoom groups take no invitations; the invite option cannot be set",
        ));
    }
    if scope.max_members && !actor.app_admin {
        return Err(GroupError::denied(
            "only an app admin may change max_members",
        ));
    }
    if actor.app_admin {
        return Ok(());
    }
    let Some(role) = role else {
        return Err(not_member(actor, g));
    };
    let allowed = match g.group_type {
        GroupType::Work => true,
        GroupType::AVChatRoom => role == Role::Owner,
        _ => role >= Role::Admin,
    };
    if allowed {
        Ok(())
    } else if g.group_type == GroupType::AVChatRoom {
        Err(GroupError::denied(
            "only the owner may edit an AVChatRoom group",
        ))
    } else {
        Err(GroupError::denied(
            "only the owner or an admin may edit the group",
        ))
    }
}

/// Granting (`Admin`) or revoking (`Member`) admin.
pub fn check_set_role(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
    target: &str,
    target_role: Option<Role>,
    new_role: Role,
) -> Result<(), GroupError> {
    if !g.group_type.has_admins() {
        return Err(GroupError::denied(format!(
            "{} groups have no admins",
            g.group_type
        )));
    }
    if new_role == Role::Owner {
        return Err(GroupError::invalid(
            "the Owner role cannot be assigned; transfer ownership instead",
        ));
    }
    if !actor.app_admin && role != Some(Role::Owner) {
        return Err(if role.is_none() {
            not_member(actor, g)
        } else {
            GroupError::denied("only the owner may grant or revoke admin")
        });
    }
    match target_role {
        None => Err(GroupError::NotMember {
            user: target.to_string(),
            group: g.group_id.clone(),
        }),
        Some(Role::Owner) => Err(GroupError::denied("the owner's role cannot be changed")),
        Some(_) => Ok(()),
    }
}

/// Transferring ownership to `new_owner`, who must be a member.
pub fn check_transfer(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
    new_owner: &str,
    new_owner_role: Option<Role>,
) -> Result<(), GroupError> {
    if g.group_type == GroupType::AVChatRoom {
        return Err(GroupError::denied(
            "ownership of an AVChatRoom group cannot be transferred",
        ));
    }
    if !actor.app_admin && role != Some(Role::Owner) {
        return Err(if role.is_none() {
            not_member(actor, g)
        } else {
            GroupError::denied("only the owner may transfer ownership")
        });
    }
    match new_owner_role {
        None => Err(GroupError::NotMember {
            user: new_owner.to_string(),
            group: g.group_id.clone(),
        }),
        Some(Role::Owner) => Err(GroupError::AlreadyOwner(new_owner.to_string())),
        Some(_) => Ok(()),
    }
}

/// Deciding a join request: the owner, an admin, or an app admin.
pub fn check_handle_request(
    g: &GroupFacts,
    actor: &Actor,
    role: Option<Role>,
) -> Result<(), GroupError> {
    if actor.app_admin || matches!(role, Some(Role::Owner | Role::Admin)) {
        Ok(())
    } else if role.is_none() {
        Err(not_member(actor, g))
    } else {
        Err(GroupError::denied(
            "only the owner or an admin may decide join requests",
        ))
    }
}

/// Who may see and decide a group's join requests.
pub fn is_approver(actor: &Actor, role: Option<Role>) -> bool {
    actor.app_admin || matches!(role, Some(Role::Owner | Role::Admin))
}
