//! The application layer. Each write is one command in one transaction: load
//! the facts, ask the model's rules, write the change and its events. Both
//! APIs (`/api/v1` and the Tencent `/v4`) call these functions, so the same
//! change emits the same events whichever API made it.

use crate::model::limits::{
    self, MAX_FACE_URL_BYTES, MAX_INITIAL_MEMBERS, MAX_INTRODUCTION_BYTES, MAX_INVITE_BATCH,
    MAX_MESSAGE_BYTES, MAX_NOTIFICATION_BYTES, MAX_REASON_BYTES,
};
use crate::model::{
    Actor, AddOption, Audience, EventKind, GroupError, GroupType, InviteOption, InviteOutcome,
    JoinOutcome, MembershipChange, ModifyScope, Role, rules,
};
use crate::store::rows;
use crate::store::{
    GroupRow, MemberRow, NewEvent, RequestListing, RequestRow, RequestStatus, SqliteStore, Tx,
};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

type Result<T> = std::result::Result<T, GroupError>;

/// The largest page any list returns.
pub const MAX_PAGE: u32 = 500;
pub const DEFAULT_PAGE: u32 = 100;

/// A group to create.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub group_id: Option<String>,
    pub name: String,
    pub group_type: Option<GroupType>,
    pub add_option: Option<AddOption>,
    pub invite_option: Option<InviteOption>,
    pub introduction: Option<String>,
    pub notification: Option<String>,
    pub face_url: Option<String>,
    pub max_members: Option<u64>,
    /// Initial members besides the owner, with an optional role (`Admin` or `Member`).
    pub members: Vec<(String, Option<Role>)>,
    /// The owner. `None` from the user API means the caller; `/v4` may leave a group ownerless.
    pub owner: Option<String>,
    pub ownerless: bool,
    /// Custom fields (`AppDefinedData`).
    pub app_data: Vec<(String, String)>,
}

/// A change of profile or options; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub introduction: Option<String>,
    pub notification: Option<String>,
    pub face_url: Option<String>,
    pub add_option: Option<AddOption>,
    pub invite_option: Option<InviteOption>,
    pub max_members: Option<u64>,
    pub mute_all: Option<bool>,
    /// Custom fields to set; an empty value deletes the key.
    pub app_data: Option<Vec<(String, String)>>,
}

/// A group as the caller sees it.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: GroupRow,
    pub my_role: Option<Role>,
    /// Pending join requests, for those who may decide them.
    pub pending_requests: Option<u64>,
}

/// The result of an application to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinResult {
    Joined,
    Pending { request_id: u64 },
}

/// What happened to one invitee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteResult {
    Added,
    Pending { request_id: u64 },
    Failed(GroupError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Refuse,
}

/// How loudly a change is announced (`/v4` `Silence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tips {
    #[default]
    Everyone,
    /// Only the users the change is about (kicked members); nobody for adds.
    Silent,
}

pub struct Service {
    store: Arc<SqliteStore>,
    known_users: Mutex<HashSet<String>>,
}

fn ensure_len(field: &str, value: &Option<String>, max: usize) -> Result<()> {
    match value {
        Some(v) => limits::check_len(field, v, max),
        None => Ok(()),
    }
}

fn load_group(tx: &mut dyn Tx, group_id: &str) -> Result<GroupRow> {
    tx.group(group_id)?
        .ok_or_else(|| GroupError::GroupNotFound(group_id.to_string()))
}

fn now_secs(tx: &dyn Tx) -> u64 {
    tx.now_ms() / 1000
}

/// Checks that a user may hold one more group.
fn check_user_room(tx: &mut dyn Tx, group_type: GroupType, user: &str) -> Result<()> {
    if !group_type.counts_toward_user_limit() {
        return Ok(());
    }
    let count = tx.user_group_count(user)?;
    let limit = tx.limits().user_group_limit;
    rules::check_user_limit(user, count, limit)
}

fn require_user(tx: &mut dyn Tx, user: &str) -> Result<()> {
    limits::validate_user_id(user)?;
    if tx.user_exists(user)? {
        Ok(())
    } else {
        Err(GroupError::UserNotFound(user.to_string()))
    }
}

fn member_event(
    group: &GroupRow,
    kind: EventKind,
    actor: &Actor,
    targets: Vec<String>,
    detail: Value,
    audience: Audience,
    membership: MembershipChange,
) -> NewEvent {
    NewEvent {
        group_id: group.group_id.clone(),
        kind,
        actor: actor.user_id.clone(),
        targets,
        detail,
        audience,
        membership,
    }
}

/// Announces a request to the group's approvers and the applicant.
fn request_audience(
    tx: &mut dyn Tx,
    group_id: &str,
    applicant: &str,
    inviter: Option<&str>,
) -> Result<Audience> {
    let mut users = tx.approvers(group_id)?;
    users.push(applicant.to_string());
    if let Some(inv) = inviter {
        users.push(inv.to_string());
    }
    users.sort();
    users.dedup();
    Ok(Audience::Only(users))
}

/// Grants or revokes admin after the rules allow it; whether it changed.
fn apply_role(
    tx: &mut dyn Tx,
    g: &GroupRow,
    actor: &Actor,
    role: Option<Role>,
    target: &str,
    new_role: Role,
) -> Result<bool> {
    let target_role = tx.role(&g.group_id, target)?;
    rules::check_set_role(&g.facts(), actor, role, target, target_role, new_role)?;
    if target_role == Some(new_role) {
        return Ok(false);
    }
    tx.set_role(&g.group_id, target, new_role)?;
    let kind = if new_role == Role::Admin {
        EventKind::AdminGranted
    } else {
        EventKind::AdminRevoked
    };
    tx.emit(member_event(
        g,
        kind,
        actor,
        vec![target.to_string()],
        json!({"role": new_role.as_str()}),
        Audience::Members,
        MembershipChange::default(),
    ))?;
    Ok(true)
}

fn request_is_expired(tx: &dyn Tx, r: &RequestRow) -> bool {
    let retention_ms = tx.limits().request_retention_secs.saturating_mul(1000);
    r.created_at.saturating_add(retention_ms) < tx.now_ms()
}

impl Service {
    pub fn new(store: Arc<SqliteStore>) -> Service {
        Service {
            store,
            known_users: Mutex::new(HashSet::new()),
        }
    }

    pub fn store(&self) -> &Arc<SqliteStore> {
        &self.store
    }

    /// Pending join requests created before this time (Unix ms) have expired.
    fn request_cutoff(&self) -> u64 {
        let retention_ms = self
            .store
            .limits()
            .request_retention_secs
            .saturating_mul(1000);
        crate::store::sqlite::now_ms().saturating_sub(retention_ms)
    }

    /// Makes sure a signed-in user exists (a user who signs in exists, as on Tencent).
    pub async fn register(&self, user: &str) -> Result<()> {
        if self.known_users.lock().is_ok_and(|k| k.contains(user)) {
            return Ok(());
        }
        limits::validate_user_id(user)?;
        let u = user.to_string();
        self.store
            .write(move |tx| tx.ensure_user(&u, "", ""))
            .await?;
        if let Ok(mut known) = self.known_users.lock() {
            if known.len() > 100_000 {
                known.clear();
            }
            known.insert(user.to_string());
        }
        Ok(())
    }

    /// Imports accounts (`/v4` `account_import`); returns those that failed.
    pub async fn import_users(&self, users: Vec<(String, String, String)>) -> Result<Vec<String>> {
        let mut failed = Vec::new();
        let mut valid = Vec::new();
        for (id, nick, face) in users {
            if limits::validate_user_id(&id).is_ok() {
                valid.push((id, nick, face));
            } else {
                failed.push(id);
            }
        }
        self.store
            .write(move |tx| {
                for (id, nick, face) in &valid {
                    tx.ensure_user(id, nick, face)?;
                }
                Ok(())
            })
            .await?;
        Ok(failed)
    }

    pub async fn user_exists(&self, user: &str) -> Result<bool> {
        let u = user.to_string();
        self.store.read(move |c| rows::user_exists(c, &u)).await
    }

    pub async fn create_group(&self, actor: &Actor, spec: NewGroup) -> Result<GroupRow> {
        let group_type = spec.group_type.ok_or_else(|| {
            GroupError::invalid("type is required: Work, Public, Meeting, AVChatRoom or Community")
        })?;
        limits::validate_name(&spec.name)?;
        ensure_len("introduction", &spec.introduction, MAX_INTRODUCTION_BYTES)?;
        ensure_len("notification", &spec.notification, MAX_NOTIFICATION_BYTES)?;
        ensure_len("face_url", &spec.face_url, MAX_FACE_URL_BYTES)?;
        if let Some(id) = &spec.group_id {
            limits::validate_custom_group_id(id, group_type)?;
        }
        if group_type == GroupType::AVChatRoom {
            if !spec.members.is_empty() {
                return Err(GroupError::denied(
                    "an AVChatRoom group cannot be created with members; they join by themselves",
                ));
            }
            if spec.invite_option.is_some() {
                return Err(GroupError::denied(
                    "AVChatRoom groups take no invitations; the invite option cannot be set",
                ));
            }
        }
        if spec.members.len() > MAX_INITIAL_MEMBERS {
            return Err(GroupError::BatchTooLarge {
                got: spec.members.len(),
                max: MAX_INITIAL_MEMBERS,
            });
        }
        for (user, role) in &spec.members {
            limits::validate_user_id(user)?;
            match role {
                Some(Role::Owner) => {
                    return Err(GroupError::invalid(
                        "no initial member can be Owner; name the owner instead",
                    ));
                }
                Some(Role::Admin) if !group_type.has_admins() => {
                    return Err(GroupError::invalid(format!(
                        "{group_type} groups have no admins"
                    )));
                }
                _ => {}
            }
        }
        let owner = if spec.ownerless {
            None
        } else {
            Some(spec.owner.clone().unwrap_or_else(|| actor.user_id.clone()))
        };
        let actor = actor.clone();
        self.store
            .write(move |tx| {
                let max_members = match spec.max_members {
                    Some(m) => {
                        tx.limits().check_max_members(group_type, m, 0)?;
                        Some(m)
                    }
                    None => tx.limits().default_cap(group_type),
                };
                let group_id = match &spec.group_id {
                    Some(id) => {
                        if let Some(existing) = tx.group(id)? {
                            let mine = existing.owner.as_deref() == Some(actor.user_id.as_str())
                                || (owner.is_some() && existing.owner == owner);
                            return Err(if mine {
                                GroupError::GroupIdOwned(id.clone())
                            } else {
                                GroupError::GroupIdTaken(id.clone())
                            });
                        }
                        id.clone()
                    }
                    None => loop {
                        let id = limits::generate_group_id(group_type);
                        if tx.group(&id)?.is_none() {
                            break id;
                        }
                    },
                };
                let mut everyone: Vec<(String, Role)> = Vec::new();
                if let Some(o) = &owner {
                    require_user(tx, o)?;
                    everyone.push((o.clone(), Role::Owner));
                }
                for (user, role) in &spec.members {
                    if everyone.iter().any(|(u, _)| u == user) {
                        continue;
                    }
                    require_user(tx, user)?;
                    everyone.push((user.clone(), role.unwrap_or(Role::Member)));
                }
                if let Some(max) = max_members {
                    let n = everyone.len() as u64;
                    if n > max {
                        return Err(GroupError::GroupFull {
                            group: group_id,
                            count: n,
                            max,
                        });
                    }
                }
                for (user, _) in &everyone {
                    check_user_room(tx, group_type, user)?;
                }
                let now = now_secs(tx);
                let mut group = GroupRow {
                    group_id: group_id.clone(),
                    group_type,
                    name: spec.name.clone(),
                    introduction: spec.introduction.clone().unwrap_or_default(),
                    notification: spec.notification.clone().unwrap_or_default(),
                    face_url: spec.face_url.clone().unwrap_or_default(),
                    owner: owner.clone(),
                    add_option: spec.add_option.unwrap_or(group_type.default_add_option()),
                    invite_option: spec.invite_option.or(group_type.default_invite_option()),
                    max_members,
                    member_count: everyone.len() as u64,
                    created_at: now,
                    info_seq: 1,
                    last_info_time: now,
                    mute_all: false,
                    activated: everyone.len() > 1,
                    app_data: Default::default(),
                };
                limits::merge_custom_fields(
                    &mut group.app_data,
                    &spec.app_data,
                    limits::GROUP_FIELDS,
                )?;
                tx.insert_group(&group)?;
                for (user, role) in &everyone {
                    tx.add_member(&group, user, *role)?;
                }
                let targets: Vec<String> = everyone.iter().map(|(u, _)| u.clone()).collect();
                tx.emit(member_event(
                    &group,
                    EventKind::GroupCreated,
                    &actor,
                    targets.clone(),
                    json!({
                        "type": group_type.as_str(),
                        "name": group.name,
                        "owner": group.owner,
                        "add_option": group.add_option.as_str(),
                        "invite_option": group.invite_option.map(|o| o.as_str()),
                        "member_count": group.member_count,
                    }),
                    Audience::Members,
                    MembershipChange {
                        joined: targets,
                        ..Default::default()
                    },
                ))?;
                group.activated = group.member_count > 1;
                Ok(group)
            })
            .await
    }

    pub async fn group_view(&self, actor: &Actor, group_id: &str) -> Result<GroupView> {
        limits::validate_group_id_lookup(group_id)?;
        let gid = group_id.to_string();
        let user = actor.user_id.clone();
        let cutoff = self.request_cutoff();
        let (group, role, pending) = self
            .store
            .read(move |c| {
                let Some(g) = rows::group(c, &gid)? else {
                    return Ok((None, None, 0));
                };
                let role = rows::role(c, &gid, &user)?;
                let pending = rows::pending_count(c, &gid, cutoff)?;
                Ok((Some(g), role, pending))
            })
            .await?;
        let group = group.ok_or_else(|| GroupError::GroupNotFound(group_id.to_string()))?;
        rules::check_view(&group.facts(), actor, role)?;
        Ok(GroupView {
            pending_requests: rules::is_approver(actor, role).then_some(pending),
            group,
            my_role: role,
        })
    }

    /// Groups the actor belongs to, or every group for an app admin asking `all`.
    pub async fn list_groups(
        &self,
        actor: &Actor,
        all: bool,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<(Vec<GroupView>, Option<String>)> {
        if all && !actor.app_admin {
            return Err(GroupError::denied(
                "only app admins may list every group (scope=all)",
            ));
        }
        let limit = limit.clamp(1, MAX_PAGE);
        let after = cursor.unwrap_or_default();
        let user = actor.user_id.clone();
        let is_admin = actor.app_admin;
        let cutoff = self.request_cutoff();
        let items = self
            .store
            .read(move |c| {
                let list: Vec<(GroupRow, Option<Role>)> = if all {
                    rows::all_groups(c, &after, limit, None)?
                        .into_iter()
                        .map(|g| {
                            let role = rows::role(c, &g.group_id, &user)?;
                            Ok((g, role))
                        })
                        .collect::<rusqlite::Result<_>>()?
                } else {
                    rows::joined_groups(c, &user, &after, limit, false)?
                        .into_iter()
                        .map(|(g, r)| (g, Some(r)))
                        .collect()
                };
                list.into_iter()
                    .map(|(g, role)| {
                        let approver = is_admin || matches!(role, Some(Role::Owner | Role::Admin));
                        let pending = if approver {
                            Some(rows::pending_count(c, &g.group_id, cutoff)?)
                        } else {
                            None
                        };
                        Ok(GroupView {
                            group: g,
                            my_role: role,
                            pending_requests: pending,
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let next = (items.len() as u32 == limit)
            .then(|| items.last().map(|v| v.group.group_id.clone()))
            .flatten();
        Ok((items, next))
    }

    pub async fn modify_group(
        &self,
        actor: &Actor,
        group_id: &str,
        ch: GroupChanges,
    ) -> Result<Vec<&'static str>> {
        limits::validate_group_id_lookup(group_id)?;
        if let Some(name) = &ch.name {
            limits::validate_name(name)?;
        }
        ensure_len("introduction", &ch.introduction, MAX_INTRODUCTION_BYTES)?;
        ensure_len("notification", &ch.notification, MAX_NOTIFICATION_BYTES)?;
        ensure_len("face_url", &ch.face_url, MAX_FACE_URL_BYTES)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                let scope = ModifyScope {
                    profile: ch.name.is_some()
                        || ch.introduction.is_some()
                        || ch.notification.is_some()
                        || ch.face_url.is_some()
                        || ch.mute_all.is_some()
                        || ch.app_data.is_some(),
                    add_option: ch.add_option.is_some(),
                    invite_option: ch.invite_option.is_some(),
                    max_members: ch.max_members.is_some(),
                };
                rules::check_modify(&g.facts(), &actor, role, scope)?;
                if let Some(m) = ch.max_members {
                    tx.limits()
                        .check_max_members(g.group_type, m, g.member_count)?;
                }
                let mut changed: Vec<&'static str> = Vec::new();
                let mut detail = serde_json::Map::new();
                macro_rules! apply {
                    ($field:ident, $name:literal, $val:expr) => {
                        if let Some(v) = ch.$field.clone() {
                            if g.$field != v {
                                g.$field = v;
                                changed.push($name);
                                detail.insert($name.into(), $val(&g.$field));
                            }
                        }
                    };
                }
                apply!(name, "name", |v: &String| json!(v));
                apply!(introduction, "introduction", |v: &String| json!(v));
                apply!(notification, "notification", |v: &String| json!(v));
                apply!(face_url, "face_url", |v: &String| json!(v));
                apply!(add_option, "add_option", |v: &AddOption| json!(v.as_str()));
                apply!(mute_all, "mute_all", |v: &bool| json!(v));
                if let Some(updates) = &ch.app_data {
                    if limits::merge_custom_fields(&mut g.app_data, updates, limits::GROUP_FIELDS)?
                    {
                        changed.push("app_defined_data");
                        detail.insert("app_defined_data".into(), json!(g.app_data));
                    }
                }
                if let Some(opt) = ch.invite_option {
                    if g.invite_option != Some(opt) {
                        g.invite_option = Some(opt);
                        changed.push("invite_option");
                        detail.insert("invite_option".into(), json!(opt.as_str()));
                    }
                }
                if let Some(m) = ch.max_members {
                    if g.max_members != Some(m) {
                        g.max_members = Some(m);
                        changed.push("max_members");
                        detail.insert("max_members".into(), json!(m));
                    }
                }
                if changed.is_empty() {
                    return Ok(changed);
                }
                g.info_seq += 1;
                g.last_info_time = now_secs(tx);
                tx.update_group(&g)?;
                detail.insert("fields".into(), json!(changed));
                tx.emit(member_event(
                    &g,
                    EventKind::GroupInfoChanged,
                    &actor,
                    Vec::new(),
                    Value::Object(detail),
                    Audience::Members,
                    MembershipChange::default(),
                ))?;
                Ok(changed)
            })
            .await
    }

    pub async fn disband(&self, actor: &Actor, group_id: &str) -> Result<()> {
        limits::validate_group_id_lookup(group_id)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                rules::check_disband(&g.facts(), &actor, role)?;
                tx.end_pending_requests(&gid, None)?;
                tx.delete_group(&gid)?;
                tx.emit(member_event(
                    &g,
                    EventKind::GroupDisbanded,
                    &actor,
                    Vec::new(),
                    json!({"name": g.name, "type": g.group_type.as_str(), "member_count": g.member_count}),
                    Audience::Members,
                    MembershipChange {
                        dissolved: true,
                        ..Default::default()
                    },
                ))?;
                Ok(())
            })
            .await
    }

    pub async fn join(
        &self,
        actor: &Actor,
        group_id: &str,
        message: Option<String>,
    ) -> Result<JoinResult> {
        limits::validate_group_id_lookup(group_id)?;
        ensure_len("message", &message, MAX_MESSAGE_BYTES)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                let outcome = rules::check_join(&g.facts(), &actor, role)?;
                check_user_room(tx, g.group_type, &actor.user_id)?;
                let message = message.clone().unwrap_or_default();
                match outcome {
                    JoinOutcome::Joined => {
                        tx.add_member(&g, &actor.user_id, Role::Member)?;
                        g.member_count += 1;
                        g.activated = true;
                        tx.update_group(&g)?;
                        tx.end_pending_requests(&gid, Some(&actor.user_id))?;
                        tx.emit(member_event(
                            &g,
                            EventKind::MemberJoined,
                            &actor,
                            vec![actor.user_id.clone()],
                            json!({"via": "join", "member_count": g.member_count}),
                            Audience::Members,
                            MembershipChange {
                                joined: vec![actor.user_id.clone()],
                                ..Default::default()
                            },
                        ))?;
                        Ok(JoinResult::Joined)
                    }
                    JoinOutcome::Pending => {
                        let now = tx.now_ms();
                        let id = match tx.pending_request(&gid, &actor.user_id)? {
                            // One pending request per applicant and group:
                            // applying again refreshes it.
                            Some(mut existing) => {
                                existing.message = message.clone();
                                existing.created_at = now;
                                tx.update_request(&existing)?;
                                existing.id
                            }
                            _ => tx.insert_request(&RequestRow {
                                id: 0,
                                group_id: gid.clone(),
                                applicant: actor.user_id.clone(),
                                inviter: None,
                                message: message.clone(),
                                created_at: now,
                                status: RequestStatus::Pending,
                                handled_by: None,
                                handled_at: None,
                                reason: String::new(),
                            })?,
                        };
                        let audience = request_audience(tx, &gid, &actor.user_id, None)?;
                        tx.emit(member_event(
                            &g,
                            EventKind::JoinRequested,
                            &actor,
                            vec![actor.user_id.clone()],
                            json!({"request_id": id, "kind": "join", "message": message}),
                            audience,
                            MembershipChange::default(),
                        ))?;
                        Ok(JoinResult::Pending { request_id: id })
                    }
                }
            })
            .await
    }

    pub async fn quit(&self, actor: &Actor, group_id: &str) -> Result<()> {
        limits::validate_group_id_lookup(group_id)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                rules::check_quit(&g.facts(), &actor, role)?;
                tx.remove_member(&g, &actor.user_id)?;
                g.member_count = g.member_count.saturating_sub(1);
                if role == Some(Role::Owner) {
                    g.owner = None;
                }
                tx.update_group(&g)?;
                tx.emit(member_event(
                    &g,
                    EventKind::MemberQuit,
                    &actor,
                    vec![actor.user_id.clone()],
                    json!({"member_count": g.member_count, "was_owner": role == Some(Role::Owner)}),
                    Audience::Members,
                    MembershipChange {
                        left: vec![actor.user_id.clone()],
                        ..Default::default()
                    },
                ))?;
                Ok(())
            })
            .await
    }

    /// Invites (user API) or adds (app admin, `/v4` `add_group_member`) users; a result per user.
    pub async fn invite(
        &self,
        actor: &Actor,
        group_id: &str,
        users: Vec<String>,
        tips: Tips,
    ) -> Result<Vec<(String, InviteResult)>> {
        limits::validate_group_id_lookup(group_id)?;
        if users.is_empty() {
            return Err(GroupError::invalid("name at least one user to invite"));
        }
        if users.len() > MAX_INVITE_BATCH {
            return Err(GroupError::BatchTooLarge {
                got: users.len(),
                max: MAX_INVITE_BATCH,
            });
        }
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                let mode = rules::check_invite(&g.facts(), &actor, role)?;
                let mut results: Vec<(String, InviteResult)> = Vec::with_capacity(users.len());
                let mut added: Vec<String> = Vec::new();
                let mut seen = HashSet::new();
                for user in users.iter().cloned() {
                    if !seen.insert(user.clone()) {
                        continue;
                    }
                    let outcome = (|| -> Result<InviteResult> {
                        require_user(tx, &user)?;
                        if tx.role(&gid, &user)?.is_some() {
                            return Err(GroupError::AlreadyMember {
                                user: user.clone(),
                                group: gid.clone(),
                            });
                        }
                        match mode {
                            InviteOutcome::Added => {
                                rules::check_capacity(&g.facts(), 1)?;
                                check_user_room(tx, g.group_type, &user)?;
                                tx.add_member(&g, &user, Role::Member)?;
                                g.member_count += 1;
                                tx.end_pending_requests(&gid, Some(&user))?;
                                Ok(InviteResult::Added)
                            }
                            InviteOutcome::Pending => {
                                let now = tx.now_ms();
                                let id = match tx.pending_request(&gid, &user)? {
                                    // Already waiting (an application or an
                                    // earlier invitation): refresh, do not duplicate.
                                    Some(mut existing) => {
                                        existing.created_at = now;
                                        tx.update_request(&existing)?;
                                        existing.id
                                    }
                                    None => tx.insert_request(&RequestRow {
                                        id: 0,
                                        group_id: gid.clone(),
                                        applicant: user.clone(),
                                        inviter: Some(actor.user_id.clone()),
                                        message: String::new(),
                                        created_at: now,
                                        status: RequestStatus::Pending,
                                        handled_by: None,
                                        handled_at: None,
                                        reason: String::new(),
                                    })?,
                                };
                                let audience = request_audience(tx, &gid, &user, Some(&actor.user_id))?;
                                tx.emit(member_event(
                                    &g,
                                    EventKind::JoinRequested,
                                    &actor,
                                    vec![user.clone()],
                                    json!({"request_id": id, "kind": "invite", "inviter": actor.user_id, "message": ""}),
                                    audience,
                                    MembershipChange::default(),
                                ))?;
                                Ok(InviteResult::Pending { request_id: id })
                            }
                        }
                    })();
                    match outcome {
                        Ok(InviteResult::Added) => {
                            added.push(user.clone());
                            results.push((user, InviteResult::Added));
                        }
                        Ok(other) => results.push((user, other)),
                        Err(e @ GroupError::Internal(_)) => return Err(e),
                        Err(e) => results.push((user, InviteResult::Failed(e))),
                    }
                }
                if !added.is_empty() {
                    g.activated = true;
                    tx.update_group(&g)?;
                    let audience = match tips {
                        Tips::Everyone => Audience::Members,
                        Tips::Silent => Audience::Only(Vec::new()),
                    };
                    tx.emit(member_event(
                        &g,
                        EventKind::MemberJoined,
                        &actor,
                        added.clone(),
                        json!({"via": "invite", "inviter": actor.user_id, "member_count": g.member_count}),
                        audience,
                        MembershipChange {
                            joined: added,
                            ..Default::default()
                        },
                    ))?;
                }
                Ok(results)
            })
            .await
    }

    pub async fn members(
        &self,
        actor: &Actor,
        group_id: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<(GroupRow, Vec<MemberRow>, Option<String>)> {
        limits::validate_group_id_lookup(group_id)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let gid = group_id.to_string();
        let user = actor.user_id.clone();
        let after = cursor.unwrap_or_default();
        let (group, role, page) = self
            .store
            .read(move |c| {
                let Some(g) = rows::group(c, &gid)? else {
                    return Ok((None, None, Vec::new()));
                };
                let role = rows::role(c, &gid, &user)?;
                let page = rows::members(c, &gid, &after, limit)?;
                Ok((Some(g), role, page))
            })
            .await?;
        let group = group.ok_or_else(|| GroupError::GroupNotFound(group_id.to_string()))?;
        rules::check_list_members(&group.facts(), actor, role)?;
        let next = (page.len() as u32 == limit)
            .then(|| page.last().map(|m| m.user_id.clone()))
            .flatten();
        Ok((group, page, next))
    }

    pub async fn kick(
        &self,
        actor: &Actor,
        group_id: &str,
        targets: Vec<String>,
        reason: Option<String>,
        tips: Tips,
        skip_non_members: bool,
    ) -> Result<()> {
        limits::validate_group_id_lookup(group_id)?;
        ensure_len("reason", &reason, MAX_REASON_BYTES)?;
        if targets.is_empty() {
            return Err(GroupError::invalid("name at least one member to remove"));
        }
        if targets.len() > 100 {
            return Err(GroupError::BatchTooLarge {
                got: targets.len(),
                max: 100,
            });
        }
        let actor = actor.clone();
        let gid = group_id.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                let mut removed = Vec::new();
                for target in targets.iter().cloned() {
                    if removed.contains(&target) {
                        continue;
                    }
                    let target_role = tx.role(&gid, &target)?;
                    if target_role.is_none() && skip_non_members {
                        continue;
                    }
                    rules::check_kick(&g.facts(), &actor, role, &target, target_role)?;
                    tx.remove_member(&g, &target)?;
                    g.member_count = g.member_count.saturating_sub(1);
                    removed.push(target);
                }
                if removed.is_empty() {
                    return Err(GroupError::denied(
                        "none of these users is a member of the group",
                    ));
                }
                tx.update_group(&g)?;
                let audience = match tips {
                    Tips::Everyone => Audience::Members,
                    Tips::Silent => Audience::Only(removed.clone()),
                };
                tx.emit(member_event(
                    &g,
                    EventKind::MemberKicked,
                    &actor,
                    removed.clone(),
                    json!({"reason": reason.clone().unwrap_or_default(), "member_count": g.member_count}),
                    audience,
                    MembershipChange {
                        left: removed,
                        ..Default::default()
                    },
                ))?;
                Ok(())
            })
            .await
    }

    pub async fn set_role(
        &self,
        actor: &Actor,
        group_id: &str,
        target: &str,
        new_role: Role,
    ) -> Result<bool> {
        limits::validate_group_id_lookup(group_id)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        let target = target.to_string();
        self.store
            .write(move |tx| {
                let g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                apply_role(tx, &g, &actor, role, &target, new_role)
            })
            .await
    }

    pub async fn transfer_owner(
        &self,
        actor: &Actor,
        group_id: &str,
        new_owner: &str,
    ) -> Result<()> {
        limits::validate_group_id_lookup(group_id)?;
        let actor = actor.clone();
        let gid = group_id.to_string();
        let new_owner = new_owner.to_string();
        self.store
            .write(move |tx| {
                let mut g = load_group(tx, &gid)?;
                let role = tx.role(&gid, &actor.user_id)?;
                let new_role = tx.role(&gid, &new_owner)?;
                rules::check_transfer(&g.facts(), &actor, role, &new_owner, new_role)?;
                let old_owner = g.owner.clone();
                if let Some(old) = &old_owner {
                    tx.set_role(&gid, old, Role::Member)?;
                }
                tx.set_role(&gid, &new_owner, Role::Owner)?;
                g.owner = Some(new_owner.clone());
                g.info_seq += 1;
                g.last_info_time = now_secs(tx);
                tx.update_group(&g)?;
                tx.emit(member_event(
                    &g,
                    EventKind::OwnerChanged,
                    &actor,
                    vec![new_owner.clone()],
                    json!({"old_owner": old_owner, "new_owner": new_owner}),
                    Audience::Members,
                    MembershipChange::default(),
                ))?;
                Ok(())
            })
            .await
    }

    pub async fn requests(
        &self,
        actor: &Actor,
        status: Option<RequestStatus>,
        cursor: Option<u64>,
        limit: u32,
    ) -> Result<(Vec<RequestListing>, Option<u64>)> {
        let limit = limit.clamp(1, MAX_PAGE);
        let user = actor.user_id.clone();
        let admin = actor.app_admin;
        let cutoff = self.request_cutoff();
        let items = self
            .store
            .read(move |c| {
                rows::requests_for(c, &user, admin, status, cutoff, cursor.unwrap_or(0), limit)
            })
            .await?;
        let next = (items.len() as u32 == limit)
            .then(|| items.last().map(|r| r.request.id))
            .flatten();
        Ok((items, next))
    }

    pub async fn decide(
        &self,
        actor: &Actor,
        request_id: u64,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<()> {
        ensure_len("reason", &reason, MAX_REASON_BYTES)?;
        let actor = actor.clone();
        self.store
            .write(move |tx| {
                let mut req = tx
                    .request(request_id)?
                    .ok_or_else(|| GroupError::RequestNotFound(request_id.to_string()))?;
                let gid = req.group_id.clone();
                let Some(mut g) = tx.group(&gid)? else {
                    return Err(if req.status == RequestStatus::Pending {
                        GroupError::GroupNotFound(gid)
                    } else {
                        GroupError::RequestHandled(request_id.to_string())
                    });
                };
                let role = tx.role(&gid, &actor.user_id)?;
                rules::check_handle_request(&g.facts(), &actor, role)?;
                if req.status != RequestStatus::Pending || request_is_expired(tx, &req) {
                    return Err(GroupError::RequestHandled(request_id.to_string()));
                }
                let applicant = req.applicant.clone();
                if decision == Decision::Accept {
                    if tx.role(&gid, &applicant)?.is_some() {
                        return Err(GroupError::AlreadyMember {
                            user: applicant,
                            group: gid,
                        });
                    }
                    rules::check_capacity(&g.facts(), 1)?;
                    check_user_room(tx, g.group_type, &applicant)?;
                }
                req.status = if decision == Decision::Accept {
                    RequestStatus::Accepted
                } else {
                    RequestStatus::Refused
                };
                req.handled_by = Some(actor.user_id.clone());
                req.handled_at = Some(tx.now_ms());
                req.reason = reason.clone().unwrap_or_default();
                tx.update_request(&req)?;
                let audience = request_audience(tx, &gid, &applicant, req.inviter.as_deref())?;
                tx.emit(member_event(
                    &g,
                    EventKind::JoinRequestHandled,
                    &actor,
                    vec![applicant.clone()],
                    json!({
                        "request_id": request_id,
                        "decision": if decision == Decision::Accept { "accepted" } else { "refused" },
                        "by": actor.user_id,
                        "reason": req.reason,
                        "kind": if req.inviter.is_some() { "invite" } else { "join" },
                    }),
                    audience,
                    MembershipChange::default(),
                ))?;
                if decision == Decision::Accept {
                    tx.add_member(&g, &applicant, Role::Member)?;
                    g.member_count += 1;
                    g.activated = true;
                    tx.update_group(&g)?;
                    // Any other request of the same applicant ends: it joined.
                    tx.end_pending_requests(&gid, Some(&applicant))?;
                    tx.emit(member_event(
                        &g,
                        EventKind::MemberJoined,
                        &actor,
                        vec![applicant.clone()],
                        json!({
                            "via": if req.inviter.is_some() { "invite" } else { "approval" },
                            "request_id": request_id,
                            "inviter": req.inviter,
                            "member_count": g.member_count,
                        }),
                        Audience::Members,
                        MembershipChange {
                            joined: vec![applicant],
                            ..Default::default()
                        },
                    ))?;
                }
                Ok(())
            })
            .await
    }

    /// The groups among these requests' groups where the actor may decide.
    pub async fn approver_groups(
        &self,
        actor: &Actor,
        items: &[RequestListing],
    ) -> Result<Vec<String>> {
        let mut groups: Vec<String> = items.iter().map(|l| l.request.group_id.clone()).collect();
        groups.sort();
        groups.dedup();
        if actor.app_admin || groups.is_empty() {
            return Ok(groups);
        }
        let user = actor.user_id.clone();
        self.store
            .read(move |c| {
                let mut out = Vec::new();
                for g in groups {
                    if matches!(rows::role(c, &g, &user)?, Some(Role::Owner | Role::Admin)) {
                        out.push(g);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// The newest event id and the id through which the log was pruned.
    pub async fn log_bounds(&self) -> Result<(u64, u64)> {
        self.store.read(rows::log_bounds).await
    }

    /// Every group's ID by offset (`/v4` `get_appid_group_list`): total, page.
    pub async fn group_ids(
        &self,
        after: u64,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> Result<(u64, Vec<(String, u64)>)> {
        self.store
            .read(move |c| {
                let total = rows::count_groups(c, group_type)?;
                let ids = rows::group_ids_after(c, after, limit, group_type)?;
                Ok((total, ids))
            })
            .await
    }

    /// A group and a page of its members by offset or after a user ID,
    /// filtered by roles (bit set: 1 Owner, 2 Admin, 4 Member; `limit` 0 =
    /// the group alone) (`/v4` `get_group_info`, `get_group_member_info`).
    pub async fn member_page(
        &self,
        group_id: &str,
        roles: u8,
        position: MemberPosition,
        limit: u32,
    ) -> Result<(GroupRow, Vec<MemberRow>)> {
        limits::validate_group_id_lookup(group_id)?;
        let gid = group_id.to_string();
        let (group, members) = self
            .store
            .read(move |c| {
                let Some(g) = rows::group(c, &gid)? else {
                    return Ok((None, Vec::new()));
                };
                let members = match &position {
                    _ if limit == 0 => Vec::new(),
                    MemberPosition::Offset(o) => {
                        rows::members_by_offset(c, &gid, roles, *o, limit)?
                    }
                    MemberPosition::After(u) => rows::members_after(c, &gid, roles, u, limit)?,
                };
                Ok((Some(g), members))
            })
            .await?;
        let group = group.ok_or_else(|| GroupError::GroupNotFound(group_id.to_string()))?;
        Ok((group, members))
    }

    /// Every group a user belongs to, with its member row.
    pub async fn memberships(&self, user: &str) -> Result<Vec<(GroupRow, MemberRow)>> {
        let u = user.to_string();
        self.store.read(move |c| rows::memberships(c, &u)).await
    }

    /// The role of each user in a group (`None` = not a member).
    pub async fn roles_in_group(
        &self,
        group_id: &str,
        users: Vec<String>,
    ) -> Result<Vec<(String, Option<Role>)>> {
        limits::validate_group_id_lookup(group_id)?;
        let gid = group_id.to_string();
        let (exists, roles) = self
            .store
            .read(move |c| {
                if rows::group(c, &gid)?.is_none() {
                    return Ok((false, Vec::new()));
                }
                let roles = users
                    .into_iter()
                    .map(|u| {
                        let r = rows::role(c, &gid, &u)?;
                        Ok((u, r))
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((true, roles))
            })
            .await?;
        if !exists {
            return Err(GroupError::GroupNotFound(group_id.to_string()));
        }
        Ok(roles)
    }

    /// Changes a member's name card, mute and message flag (`/v4` `modify_group_member_info`).
    pub async fn modify_member(
        &self,
        actor: &Actor,
        group_id: &str,
        user: &str,
        change: MemberChanges,
    ) -> Result<()> {
        limits::validate_group_id_lookup(group_id)?;
        if let Some(card) = &change.name_card {
            limits::check_len("NameCard", card, limits::MAX_NAME_CARD_BYTES)?;
        }
        let actor = actor.clone();
        let gid = group_id.to_string();
        let user = user.to_string();
        self.store
            .write(move |tx| {
                let g = load_group(tx, &gid)?;
                if g.group_type == GroupType::AVChatRoom {
                    return Err(GroupError::denied(
                        "AVChatRoom groups keep no member profiles",
                    ));
                }
                let role = tx.role(&gid, &actor.user_id)?;
                if !actor.app_admin && role.is_none() {
                    return Err(GroupError::NotMember {
                        user: actor.user_id.clone(),
                        group: gid.clone(),
                    });
                }
                let mut m = tx
                    .member(&gid, &user)?
                    .ok_or_else(|| GroupError::NotMember {
                        user: user.clone(),
                        group: gid.clone(),
                    })?;
                if let Some(new_role) = change.role {
                    apply_role(tx, &g, &actor, role, &user, new_role)?;
                }
                if change.mute_secs.is_some() && g.group_type == GroupType::Work {
                    return Err(GroupError::denied(
                        "Work groups do not support muting members",
                    ));
                }
                if let Some(card) = change.name_card.clone() {
                    m.name_card = card;
                }
                if let Some(updates) = &change.app_data {
                    limits::merge_custom_fields(&mut m.app_data, updates, limits::MEMBER_FIELDS)?;
                }
                if let Some(flag) = change.msg_flag.clone() {
                    m.msg_flag = flag;
                }
                if let Some(secs) = change.mute_secs {
                    m.mute_until = match secs {
                        0 => 0,
                        u64::MAX | 4_294_967_295 => 4_294_967_295,
                        s => now_secs(tx).saturating_add(s),
                    };
                }
                tx.update_member_profile(&gid, &m)?;
                Ok(())
            })
            .await
    }
}

/// Where a members page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberPosition {
    Offset(u64),
    After(String),
}

/// A change of a member's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MemberChanges {
    pub name_card: Option<String>,
    pub msg_flag: Option<String>,
    /// Seconds to mute from now; 0 lifts the mute, 4294967295 is permanent.
    pub mute_secs: Option<u64>,
    /// Custom fields to set; an empty value deletes the key.
    pub app_data: Option<Vec<(String, String)>>,
    /// `Admin` or `Member`.
    pub role: Option<Role>,
}
