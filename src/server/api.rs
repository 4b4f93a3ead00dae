//! The user API (`/api/v1`): thin handlers that extract, call the service and
//! map the result. Request and reply types here are the wire contract; the
//! client module reuses them.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody, OptionalJson};
use crate::model::limits::validate_user_id_lookup;
use crate::model::{AddOption, GroupError, GroupType, InviteOption, Role};
use crate::service::{
    self, Decision, GroupChanges, GroupView, InviteResult, JoinResult, NewGroup, Tips,
};
use crate::store::{MemberRow, RequestListing, RequestStatus};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

type ApiResult<T> = Result<T, ApiError>;

/// An optional count that may arrive as `480` or `480.0` (JSON does not
/// tell integers from floats; some clients write every number as a float).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v: Option<serde_json::Number> = Option::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f <= 9.0e15 => Ok(Some(f as u64)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a whole number, got {n}"
            ))),
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub app_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialMember {
    #[schema(pattern = "^[ -~]{1,32}$")]
    pub user_id: String,
    /// `Admin` or `Member` (default).
    #[schema(value_type = Option<AssignableRole>)]
    pub role: Option<Role>,
}

/// The roles that can be given (ownership moves only by transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum AssignableRole {
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// A custom ID (printable ASCII, at most 48 bytes, not starting with `@TGS#`;
    /// Community IDs must start with `@TGS#_`); omitted, the server assigns `@TGS#...`.
    #[schema(pattern = "^[ -~]{1,48}$")]
    pub group_id: Option<String>,
    /// At most 30 bytes of UTF-8 (a CJK character takes 3).
    #[schema(min_length = 1, max_length = 30, pattern = "\\S")]
    pub name: String,
    #[serde(rename = "type")]
    pub group_type: GroupType,
    pub add_option: Option<AddOption>,
    pub invite_option: Option<InviteOption>,
    /// At most 240 bytes.
    #[schema(max_length = 240)]
    pub introduction: Option<String>,
    /// At most 300 bytes.
    #[schema(max_length = 300)]
    pub notification: Option<String>,
    /// At most 100 bytes.
    #[schema(max_length = 100)]
    pub face_url: Option<String>,
    /// Within the edition ceiling of the type (Work, Public, Meeting 6000; Community 100000).
    #[schema(minimum = 1, maximum = 100000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_members: Option<u64>,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub members: Vec<InitialMember>,
}

impl CreateGroupRequest {
    /// A group of this type and name, everything else left to the server's defaults.
    pub fn new(name: impl Into<String>, group_type: GroupType) -> CreateGroupRequest {
        CreateGroupRequest {
            group_id: None,
            name: name.into(),
            group_type,
            add_option: None,
            invite_option: None,
            introduction: None,
            notification: None,
            face_url: None,
            max_members: None,
            members: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub group_id: String,
}

/// A group as the caller sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupInfo {
    pub group_id: String,
    #[serde(rename = "type")]
    pub group_type: GroupType,
    pub name: String,
    pub introduction: String,
    pub notification: String,
    pub face_url: String,
    pub owner: Option<String>,
    pub add_option: AddOption,
    pub invite_option: Option<InviteOption>,
    /// `null` = unlimited.
    pub max_members: Option<u64>,
    pub member_count: u64,
    /// Unix seconds.
    pub created_at: u64,
    pub info_seq: u64,
    pub mute_all: bool,
    /// The caller's role; `null` when not a member.
    pub my_role: Option<Role>,
    /// Pending join requests, shown to those who may decide them.
    pub pending_requests: Option<u64>,
}

impl From<GroupView> for GroupInfo {
    fn from(v: GroupView) -> GroupInfo {
        let g = v.group;
        GroupInfo {
            group_id: g.group_id,
            group_type: g.group_type,
            name: g.name,
            introduction: g.introduction,
            notification: g.notification,
            face_url: g.face_url,
            owner: g.owner,
            add_option: g.add_option,
            invite_option: g.invite_option,
            max_members: g.max_members,
            member_count: g.member_count,
            created_at: g.created_at,
            info_seq: g.info_seq,
            mute_all: g.mute_all,
            my_role: v.my_role,
            pending_requests: v.pending_requests,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` when this is the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page (default 100; more than 500 counts as 500).
    #[param(minimum = 1)]
    pub limit: Option<i32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GroupListQuery {
    /// Items per page (default 100; more than 500 counts as 500).
    #[param(minimum = 1)]
    pub limit: Option<i32>,
    pub cursor: Option<String>,
    /// `joined` (default) or `all` (app admins only: every group).
    #[param(pattern = "^(joined|all)?$")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyGroupRequest {
    /// At most 30 bytes of UTF-8.
    #[schema(min_length = 1, max_length = 30, pattern = "\\S")]
    pub name: Option<String>,
    /// At most 240 bytes.
    #[schema(max_length = 240)]
    pub introduction: Option<String>,
    /// At most 300 bytes.
    #[schema(max_length = 300)]
    pub notification: Option<String>,
    /// At most 100 bytes.
    #[schema(max_length = 100)]
    pub face_url: Option<String>,
    pub add_option: Option<AddOption>,
    pub invite_option: Option<InviteOption>,
    /// App admins only; within the type's ceiling and not below the member count.
    #[schema(minimum = 1, maximum = 100000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_members: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Modified {
    /// The fields that actually changed.
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// At most 300 bytes.
    #[schema(max_length = 300)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinStatus {
    Joined,
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JoinReply {
    pub status: JoinStatus,
    /// The join request waiting for approval, when `pending`.
    pub request_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// 1 to 300 user IDs.
    #[schema(min_items = 1, max_items = 300)]
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    Added,
    Pending,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InviteOutcomeInfo {
    pub user_id: String,
    pub result: InviteStatus,
    pub request_id: Option<u64>,
    /// Set when `failed`: the Tencent code and why.
    pub code: Option<u32>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InviteReply {
    pub results: Vec<InviteOutcomeInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberInfo {
    pub user_id: String,
    pub role: Role,
    /// Unix seconds.
    pub join_time: u64,
    pub name_card: String,
    pub mute_until: u64,
}

impl From<MemberRow> for MemberInfo {
    fn from(m: MemberRow) -> MemberInfo {
        MemberInfo {
            user_id: m.user_id,
            role: m.role,
            join_time: m.join_time,
            name_card: m.name_card,
            mute_until: m.mute_until,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KickRequest {
    /// At most 300 bytes.
    #[schema(max_length = 300)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    /// `Admin` or `Member`.
    #[schema(value_type = AssignableRole)]
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleReply {
    pub role: Role,
    /// Whether the role changed (false when it already was that role).
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[schema(pattern = "^[ -~]{1,32}$")]
    pub user_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    /// Items per page (default 100; more than 500 counts as 500).
    #[param(minimum = 1)]
    pub limit: Option<i32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{0,19}$")]
    pub cursor: Option<String>,
    /// `pending` (default), `accepted`, `refused`, `ended` or `all`.
    #[param(pattern = "^(pending|accepted|refused|ended|all)$")]
    pub status: Option<String>,
}

/// A join request: an application, or an invitation waiting for approval.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JoinRequestInfo {
    pub id: u64,
    pub group_id: String,
    pub group_name: String,
    #[serde(rename = "group_type")]
    pub group_type: Option<GroupType>,
    /// `join` (applied) or `invite` (invited by `inviter`).
    pub kind: String,
    pub applicant: String,
    pub inviter: Option<String>,
    pub message: String,
    /// Unix milliseconds.
    pub created_at: u64,
    /// `pending`, `accepted`, `refused` or `ended`.
    pub status: String,
    pub handled_by: Option<String>,
    pub handled_at: Option<u64>,
    pub reason: String,
    /// Whether the caller may decide it.
    pub can_decide: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionValue {
    Accept,
    Refuse,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub decision: DecisionValue,
    /// At most 300 bytes.
    #[schema(max_length = 300)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ok {
    pub ok: bool,
}

fn ok() -> Json<Ok> {
    Json(Ok { ok: true })
}

fn page_limit(limit: Option<i32>) -> ApiResult<u32> {
    match limit {
        None => Ok(service::DEFAULT_PAGE),
        Some(n) if n < 1 => Err(ApiError::bad_request("limit must be at least 1")),
        Some(n) => Ok(u32::try_from(n)
            .unwrap_or(service::MAX_PAGE)
            .min(service::MAX_PAGE)),
    }
}

fn check_user_param(user: &str) -> ApiResult<()> {
    validate_user_id_lookup(user).map_err(ApiError::from)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user_id: caller.0.user_id,
        app_admin: caller.0.app_admin,
    })
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupRequest,
    responses((status = 201, body = Created), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_group(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> ApiResult<impl IntoResponse> {
    let spec = NewGroup {
        group_id: req.group_id,
        name: req.name,
        group_type: Some(req.group_type),
        add_option: req.add_option,
        invite_option: req.invite_option,
        introduction: req.introduction,
        notification: req.notification,
        face_url: req.face_url,
        max_members: req.max_members,
        members: req
            .members
            .into_iter()
            .map(|m| (m.user_id, m.role))
            .collect(),
        owner: None,
        ownerless: false,
        app_data: Vec::new(),
    };
    let g = st.service.create_group(&caller.0, spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            group_id: g.group_id,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupListQuery),
    responses((status = 200, body = Page<GroupInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_groups(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<GroupListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<GroupInfo>>> {
    let Query(q) = q?;
    let all = match q.scope.as_deref() {
        None | Some("") | Some("joined") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown scope {other:?}; use `joined` or `all`"
            )));
        }
    };
    let (items, next) = st
        .service
        .list_groups(&caller.0, all, q.cursor, page_limit(q.limit)?)
        .await?;
    Ok(Json(Page {
        items: items.into_iter().map(GroupInfo::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = GroupInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn group_info(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<GroupInfo>> {
    Ok(Json(st.service.group_view(&caller.0, &id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = ModifyGroupRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = Modified), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn modify_group(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ModifyGroupRequest>,
) -> ApiResult<Json<Modified>> {
    let changes = GroupChanges {
        name: req.name,
        introduction: req.introduction,
        notification: req.notification,
        face_url: req.face_url,
        add_option: req.add_option,
        invite_option: req.invite_option,
        max_members: req.max_members,
        mute_all: None,
        app_data: None,
    };
    let changed = st.service.modify_group(&caller.0, &id, changes).await?;
    Ok(Json(Modified {
        changed: changed.into_iter().map(String::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = Ok), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disband(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Ok>> {
    st.service.disband(&caller.0, &id).await?;
    Ok(ok())
}

#[utoipa::path(post, path = "/api/v1/groups/{id}/join", tag = "membership", request_body = JoinRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = JoinReply), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn join(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    OptionalJson(req): OptionalJson<JoinRequest>,
) -> ApiResult<Json<JoinReply>> {
    let reply = match st.service.join(&caller.0, &id, req.message).await? {
        JoinResult::Joined => JoinReply {
            status: JoinStatus::Joined,
            request_id: None,
        },
        JoinResult::Pending { request_id } => JoinReply {
            status: JoinStatus::Pending,
            request_id: Some(request_id),
        },
    };
    Ok(Json(reply))
}

#[utoipa::path(post, path = "/api/v1/groups/{id}/quit", tag = "membership", params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = Ok), (status = 403, body = ErrorBody)))]
pub async fn quit(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Ok>> {
    st.service.quit(&caller.0, &id).await?;
    Ok(ok())
}

#[utoipa::path(post, path = "/api/v1/groups/{id}/invite", tag = "membership", request_body = InviteRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = InviteReply), (status = 403, body = ErrorBody)))]
pub async fn invite(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> ApiResult<Json<InviteReply>> {
    let results = st
        .service
        .invite(&caller.0, &id, req.user_ids, Tips::Everyone)
        .await?;
    Ok(Json(InviteReply {
        results: results
            .into_iter()
            .map(|(user_id, r)| match r {
                InviteResult::Added => InviteOutcomeInfo {
                    user_id,
                    result: InviteStatus::Added,
                    request_id: None,
                    code: None,
                    message: None,
                },
                InviteResult::Pending { request_id } => InviteOutcomeInfo {
                    user_id,
                    result: InviteStatus::Pending,
                    request_id: Some(request_id),
                    code: None,
                    message: None,
                },
                InviteResult::Failed(e) => InviteOutcomeInfo {
                    user_id,
                    result: InviteStatus::Failed,
                    request_id: None,
                    code: Some(e.code()),
                    message: Some(e.to_string()),
                },
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "membership", params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$"), PageQuery),
    responses((status = 200, body = Page<MemberInfo>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<MemberInfo>>> {
    let Query(q) = q?;
    let (_, page, next) = st
        .service
        .members(&caller.0, &id, q.cursor, page_limit(q.limit)?)
        .await?;
    Ok(Json(Page {
        items: page.into_iter().map(MemberInfo::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "membership", request_body = KickRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$"), ("user_id" = String, Path, description = "member to remove", pattern = "^[ -~]{1,32}$")),
    responses((status = 200, body = Ok), (status = 403, body = ErrorBody)))]
pub async fn kick(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((id, user)): ApiPath<(String, String)>,
    OptionalJson(req): OptionalJson<KickRequest>,
) -> ApiResult<Json<Ok>> {
    check_user_param(&user)?;
    st.service
        .kick(
            &caller.0,
            &id,
            vec![user],
            req.reason,
            Tips::Everyone,
            false,
        )
        .await?;
    Ok(ok())
}

#[utoipa::path(put, path = "/api/v1/groups/{id}/members/{user_id}/role", tag = "membership", request_body = SetRoleRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$"), ("user_id" = String, Path, description = "member", pattern = "^[ -~]{1,32}$")),
    responses((status = 200, body = RoleReply), (status = 403, body = ErrorBody)))]
pub async fn set_role(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((id, user)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<RoleReply>> {
    check_user_param(&user)?;
    let changed = st.service.set_role(&caller.0, &id, &user, req.role).await?;
    Ok(Json(RoleReply {
        role: req.role,
        changed,
    }))
}

#[utoipa::path(post, path = "/api/v1/groups/{id}/owner", tag = "membership", request_body = TransferRequest,
    params(("id" = String, Path, description = "group ID (percent-encoded)", pattern = "^[ -~]{1,64}$")),
    responses((status = 200, body = Ok), (status = 403, body = ErrorBody)))]
pub async fn transfer_owner(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TransferRequest>,
) -> ApiResult<Json<Ok>> {
    check_user_param(&req.user_id)?;
    st.service
        .transfer_owner(&caller.0, &id, &req.user_id)
        .await?;
    Ok(ok())
}

fn request_info(caller: &Caller, l: RequestListing, approver_groups: &[String]) -> JoinRequestInfo {
    let r = l.request;
    let can_decide = r.status == RequestStatus::Pending
        && (caller.0.app_admin || approver_groups.contains(&r.group_id));
    JoinRequestInfo {
        id: r.id,
        kind: if r.inviter.is_some() {
            "invite"
        } else {
            "join"
        }
        .to_string(),
        group_id: r.group_id,
        group_name: l.group_name,
        group_type: l.group_type,
        applicant: r.applicant,
        inviter: r.inviter,
        message: r.message,
        created_at: r.created_at,
        status: r.status.as_str().to_string(),
        handled_by: r.handled_by,
        handled_at: r.handled_at,
        reason: r.reason,
        can_decide,
    }
}

#[utoipa::path(get, path = "/api/v1/pendency", tag = "join requests", params(RequestListQuery),
    responses((status = 200, body = Page<JoinRequestInfo>), (status = 400, body = ErrorBody)))]
pub async fn list_requests(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    q: Result<Query<RequestListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<JoinRequestInfo>>> {
    let Query(q) = q?;
    let status = match q.status.as_deref() {
        None | Some("pending") => Some(RequestStatus::Pending),
        Some("all") => None,
        Some(s) => Some(RequestStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown status {s:?}; use pending, accepted, refused, ended or all"
            ))
        })?),
    };
    let cursor = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid cursor {c:?}")))?,
        ),
    };
    let (items, next) = st
        .service
        .requests(&caller.0, status, cursor, page_limit(q.limit)?)
        .await?;
    let approver_groups = st.service.approver_groups(&caller.0, &items).await?;
    Ok(Json(Page {
        items: items
            .into_iter()
            .map(|l| request_info(&caller, l, &approver_groups))
            .collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

#[utoipa::path(post, path = "/api/v1/pendency/{id}", tag = "join requests", request_body = DecideRequest,
    params(("id" = u64, Path, description = "join request id", minimum = 1, maximum = 9223372036854775807_i64)),
    responses((status = 200, body = Ok), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decide(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<DecideRequest>,
) -> ApiResult<Json<Ok>> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::from(GroupError::RequestNotFound(id.clone())))?;
    let decision = match req.decision {
        DecisionValue::Accept => Decision::Accept,
        DecisionValue::Refuse => Decision::Refuse,
    };
    st.service
        .decide(&caller.0, id, decision, req.reason)
        .await?;
    Ok(ok())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// The newest event id.
    pub last_event_id: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()), responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn healthz(State(st): State<Arc<AppState>>) -> ApiResult<Json<Health>> {
    let (head, _) = st
        .service
        .log_bounds()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string()))?;
    Ok(Json(Health {
        status: "ok".into(),
        last_event_id: head,
    }))
}
