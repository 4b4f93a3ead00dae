//! The Tencent Cloud Chat REST API for groups (`/v4/<service>/<command>`),
//! so scripts and server SDKs written for Tencent work by changing only the
//! base URL. Every answer is HTTP 200 with `ActionStatus` / `ErrorCode` /
//! `ErrorInfo` in the body; the caller is an app admin named by `identifier`
//! and signed by `usersig`. The commands call the same service as `/api/v1`,
//! so a change made here emits the same events.

use super::AppState;
use super::auth::RateLimit;
use crate::model::limits::validate_user_id;
use crate::model::{Actor, AddOption, GroupError, GroupType, InviteOption, Role};
use crate::service::{GroupChanges, InviteResult, MemberChanges, MemberPosition, NewGroup, Tips};
use crate::store::{GroupRow, MemberRow};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A failed REST call: the Tencent code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub code: u32,
    pub info: String,
}

impl RestError {
    fn new(code: u32, info: impl Into<String>) -> RestError {
        RestError {
            code,
            info: info.into(),
        }
    }
}

impl From<GroupError> for RestError {
    fn from(e: GroupError) -> RestError {
        if let GroupError::Internal(_) = e {
            tracing::error!("internal error on /v4: {e}");
        }
        RestError::new(e.code(), e.to_string())
    }
}

type RestResult = Result<Map<String, Value>, RestError>;

fn ok_envelope(mut fields: Map<String, Value>) -> Json<Value> {
    fields.insert("ActionStatus".into(), json!("OK"));
    fields.insert("ErrorCode".into(), json!(0));
    fields.insert("ErrorInfo".into(), json!(""));
    Json(Value::Object(fields))
}

fn fail_envelope(e: RestError) -> Json<Value> {
    Json(json!({"ActionStatus": "FAIL", "ErrorCode": e.code, "ErrorInfo": e.info}))
}

/// Rate limits per command (Tencent: 200 calls per second per API).
pub fn command_rate_limit(per_second: u32) -> RateLimit {
    RateLimit::new(per_second, per_second)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Svc {
    Login,
    Group,
}

const LOGIN_COMMANDS: &[&str] = &["account_import", "multiaccount_import"];
const GROUP_COMMANDS: &[&str] = &[
    "create_group",
    "get_appid_group_list",
    "get_group_info",
    "get_group_member_info",
    "modify_group_base_info",
    "add_group_member",
    "delete_group_member",
    "modify_group_member_info",
    "destroy_group",
    "get_joined_group_list",
    "get_role_in_group",
    "change_group_owner",
];

fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    raw.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /v4/{service}/{command}`.
pub async fn handle(
    State(st): State<Arc<AppState>>,
    method: Method,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw_query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Json<Value> {
    let Ok(Path((service, command))) = path else {
        return bad_path().await;
    };
    match dispatch(&st, method, &service, &command, raw_query.as_deref(), body).await {
        Ok(fields) => ok_envelope(fields),
        Err(e) => fail_envelope(e),
    }
}

/// Any other path under `/v4`.
pub async fn bad_path() -> Json<Value> {
    fail_envelope(RestError::new(
        60009,
        "bad resource path; use /v4/<service>/<command>",
    ))
}

async fn dispatch(
    st: &AppState,
    method: Method,
    service: &str,
    command: &str,
    raw_query: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let svc = match service {
        "im_open_login_svc" => Svc::Login,
        "group_open_http_svc" => Svc::Group,
        _ => {
            return Err(RestError::new(
                60009,
                format!("unknown service {service:?}"),
            ));
        }
    };
    let known = match svc {
        Svc::Login => LOGIN_COMMANDS.contains(&command),
        Svc::Group => GROUP_COMMANDS.contains(&command),
    };
    if !known {
        return Err(RestError::new(
            10003,
            format!("unknown command {service}/{command}"),
        ));
    }
    if method != Method::POST {
        return Err(RestError::new(60008, "use POST"));
    }
    let query = parse_query(raw_query);
    let app_id = match query_param(&query, "sdkappid") {
        None | Some("") => return Err(RestError::new(60012, "sdkappid is missing from the URL")),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| RestError::new(60006, format!("sdkappid {v:?} is not a number")))?,
    };
    if app_id != st.key.sdkappid() {
        return Err(RestError::new(
            60006,
            format!("sdkappid {app_id} is not this server's app"),
        ));
    }
    let identifier = match query_param(&query, "identifier") {
        None | Some("") => return Err(RestError::new(60004, "identifier is missing from the URL")),
        Some(v) => v.to_string(),
    };
    let usersig = query_param(&query, "usersig").unwrap_or("");
    st.key
        .verify(usersig, Some(&identifier))
        .map_err(|e| RestError::new(e.code(), e.to_string()))?;
    if !st.app_admins.contains(&identifier) {
        return Err(RestError::new(
            60010,
            format!("{identifier} is not an app admin; REST calls need an app admin identifier"),
        ));
    }
    if let Err(wait) = st.rest_rate_limit.check(command) {
        return Err(RestError::new(
            60007,
            format!("{command} is over its rate limit; retry in {wait} s"),
        ));
    }
    let body = body.map_err(|e| {
        RestError::new(
            60003,
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is too large".to_string()
            } else {
                format!("cannot read the request body: {}", e.body_text())
            },
        )
    })?;
    let parse_code = if svc == Svc::Group { 10011 } else { 60003 };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::new(
            parse_code,
            "the body is empty; send a JSON object ({} when there are no fields)",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| RestError::new(parse_code, format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(RestError::new(parse_code, "the body must be a JSON object"));
    }
    let cx = Cx {
        st,
        actor: Actor::app_admin(identifier),
        bad_param: if svc == Svc::Group { 10004 } else { 70402 },
    };
    match command {
        "account_import" => cx.account_import(value).await,
        "multiaccount_import" => cx.multiaccount_import(value).await,
        "create_group" => cx.create_group(value).await,
        "get_appid_group_list" => cx.get_appid_group_list(value).await,
        "get_group_info" => cx.get_group_info(value).await,
        "get_group_member_info" => cx.get_group_member_info(value).await,
        "modify_group_base_info" => cx.modify_group_base_info(value).await,
        "add_group_member" => cx.add_group_member(value).await,
        "delete_group_member" => cx.delete_group_member(value).await,
        "modify_group_member_info" => cx.modify_group_member_info(value).await,
        "destroy_group" => cx.destroy_group(value).await,
        "get_joined_group_list" => cx.get_joined_group_list(value).await,
        "get_role_in_group" => cx.get_role_in_group(value).await,
        "change_group_owner" => cx.change_group_owner(value).await,
        _ => Err(RestError::new(10003, format!("unknown command {command}"))),
    }
}

struct Cx<'a> {
    st: &'a AppState,
    actor: Actor,
    bad_param: u32,
}

// ---- request bodies -------------------------------------------------------

#[derive(Deserialize)]
struct AccountImport {
    #[serde(rename = "UserID", alias = "Identifier")]
    user_id: String,
    #[serde(rename = "Nick", default)]
    nick: String,
    #[serde(rename = "FaceUrl", default)]
    face_url: String,
}

#[derive(Deserialize)]
struct MultiAccountImport {
    #[serde(rename = "Accounts")]
    accounts: Vec<String>,
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

fn pairs(list: Option<Vec<KeyValue>>) -> Option<Vec<(String, String)>> {
    list.map(|l| l.into_iter().map(|kv| (kv.key, kv.value)).collect())
}

fn key_values(data: &std::collections::BTreeMap<String, String>, only: Option<&[String]>) -> Value {
    Value::Array(
        data.iter()
            .filter(|(k, _)| only.is_none_or(|keys| keys.iter().any(|o| o == *k)))
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

#[derive(Deserialize)]
struct RestMember {
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Role", default)]
    role: Option<String>,
}

#[derive(Deserialize)]
struct CreateGroup {
    #[serde(rename = "Type")]
    group_type: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "GroupId", default)]
    group_id: Option<String>,
    #[serde(rename = "Owner_Account", default)]
    owner: Option<String>,
    #[serde(rename = "Introduction", default)]
    introduction: Option<String>,
    #[serde(rename = "Notification", default)]
    notification: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberCount", default)]
    max_members: Option<u64>,
    #[serde(rename = "ApplyJoinOption", default)]
    apply_join_option: Option<String>,
    #[serde(rename = "InviteJoinOption", default)]
    invite_join_option: Option<String>,
    #[serde(rename = "AppDefinedData", default)]
    app_defined: Option<Vec<KeyValue>>,
    #[serde(rename = "MemberList", default)]
    members: Option<Vec<RestMember>>,
}

#[derive(Deserialize)]
struct AppGroupList {
    #[serde(rename = "Limit", default)]
    limit: Option<u64>,
    #[serde(rename = "Next", default)]
    next: Option<u64>,
    #[serde(rename = "GroupType", alias = "Type", default)]
    group_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct ResponseFilter {
    #[serde(rename = "GroupBaseInfoFilter", default)]
    base: Option<Vec<String>>,
    #[serde(rename = "MemberInfoFilter", default)]
    member: Option<Vec<String>>,
    #[serde(rename = "SelfInfoFilter", default)]
    self_info: Option<Vec<String>>,
    #[serde(rename = "AppDefinedDataFilter_Group", default)]
    group_keys: Option<Vec<String>>,
    #[serde(rename = "AppDefinedDataFilter_GroupMember", default)]
    member_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct GroupInfoReq {
    #[serde(rename = "GroupIdList")]
    ids: Vec<String>,
    #[serde(rename = "ResponseFilter", default)]
    filter: Option<ResponseFilter>,
}

#[derive(Deserialize)]
struct MemberInfoReq {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Limit", default)]
    limit: Option<u64>,
    #[serde(rename = "Offset", default)]
    offset: Option<u64>,
    #[serde(rename = "Next", default)]
    next: Option<String>,
    #[serde(rename = "MemberInfoFilter", default)]
    member_filter: Option<Vec<String>>,
    #[serde(rename = "MemberRoleFilter", default)]
    role_filter: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ModifyBaseInfo {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Introduction", default)]
    introduction: Option<String>,
    #[serde(rename = "Notification", default)]
    notification: Option<String>,
    #[serde(rename = "FaceUrl", default)]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberNum", default)]
    max_members: Option<u64>,
    #[serde(rename = "ApplyJoinOption", default)]
    apply_join_option: Option<String>,
    #[serde(rename = "InviteJoinOption", default)]
    invite_join_option: Option<String>,
    #[serde(rename = "ShutUpAllMember", alias = "MuteAllMember", default)]
    mute_all: Option<String>,
    #[serde(rename = "AppDefinedData", default)]
    app_defined: Option<Vec<KeyValue>>,
    #[serde(rename = "From_Account", default)]
    from_account: Option<String>,
}

#[derive(Deserialize)]
struct AddMembers {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Silence", default)]
    silence: Option<u8>,
    #[serde(rename = "MemberList")]
    members: Vec<RestMember>,
}

#[derive(Deserialize)]
struct DeleteMembers {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Silence", default)]
    silence: Option<u8>,
    #[serde(rename = "Reason", default)]
    reason: Option<String>,
    #[serde(rename = "MemberToDel_Account")]
    members: Vec<String>,
}

#[derive(Deserialize)]
struct ModifyMember {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Role", default)]
    role: Option<String>,
    #[serde(rename = "MsgFlag", default)]
    msg_flag: Option<String>,
    #[serde(rename = "NameCard", default)]
    name_card: Option<String>,
    #[serde(rename = "ShutUpTime", alias = "MuteTime", default)]
    mute_time: Option<u64>,
    #[serde(rename = "AppMemberDefinedData", default)]
    app_defined: Option<Vec<KeyValue>>,
}

#[derive(Deserialize)]
struct GroupIdOnly {
    #[serde(rename = "GroupId")]
    group_id: String,
}

#[derive(Deserialize)]
struct JoinedList {
    #[serde(rename = "Member_Account")]
    account: String,
    #[serde(rename = "Limit", default)]
    limit: Option<u64>,
    #[serde(rename = "Offset", default)]
    offset: Option<u64>,
    #[serde(rename = "GroupType", default)]
    group_type: Option<String>,
    #[serde(rename = "WithHugeGroups", default)]
    with_huge: Option<u8>,
    #[serde(rename = "WithNoActiveGroups", default)]
    with_inactive: Option<u8>,
    #[serde(rename = "ResponseFilter", default)]
    filter: Option<ResponseFilter>,
}

#[derive(Deserialize)]
struct RoleInGroup {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "User_Account")]
    users: Vec<String>,
}

#[derive(Deserialize)]
struct ChangeOwner {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "NewOwner_Account")]
    new_owner: String,
    #[serde(rename = "From_Account", default)]
    from_account: Option<String>,
}

// ---- reply objects --------------------------------------------------------

const BASE_FIELDS: &[&str] = &[
    "Type",
    "Name",
    "Appid",
    "Introduction",
    "Notification",
    "FaceUrl",
    "Owner_Account",
    "CreateTime",
    "InfoSeq",
    "LastInfoTime",
    "LastMsgTime",
    "NextMsgSeq",
    "MemberNum",
    "MaxMemberNum",
    "ApplyJoinOption",
    "InviteJoinOption",
    "ShutUpAllMember",
    "MuteAllMember",
    "AppDefinedData",
];

fn base_field(g: &GroupRow, app_id: u64, field: &str) -> Option<Value> {
    let on_off = |b: bool| if b { "On" } else { "Off" };
    Some(match field {
        "Type" => json!(g.group_type.rest_name()),
        "Name" => json!(g.name),
        "Appid" => json!(app_id),
        "Introduction" => json!(g.introduction),
        "Notification" => json!(g.notification),
        "FaceUrl" => json!(g.face_url),
        "Owner_Account" => json!(g.owner.clone().unwrap_or_default()),
        "CreateTime" => json!(g.created_at),
        "InfoSeq" => json!(g.info_seq),
        "LastInfoTime" => json!(g.last_info_time),
        "LastMsgTime" => json!(0),
        "NextMsgSeq" => json!(1),
        "MemberNum" => json!(g.member_count),
        "MaxMemberNum" => json!(g.max_members.unwrap_or(0)),
        "ApplyJoinOption" => json!(g.add_option.rest_name()),
        "InviteJoinOption" => json!(g.invite_option.map(|o| o.rest_name()).unwrap_or("")),
        "ShutUpAllMember" | "MuteAllMember" => json!(on_off(g.mute_all)),
        "AppDefinedData" => key_values(&g.app_data, None),
        _ => return None,
    })
}

const MEMBER_FIELDS: &[&str] = &[
    "Role",
    "JoinTime",
    "MsgSeq",
    "MsgFlag",
    "LastSendMsgTime",
    "ShutUpUntil",
    "MuteUntil",
    "NameCard",
    "AppMemberDefinedData",
];

fn member_field(m: &MemberRow, field: &str) -> Option<Value> {
    Some(match field {
        "Role" => json!(m.role.as_str()),
        "JoinTime" => json!(m.join_time),
        "MsgSeq" => json!(0),
        "MsgFlag" => json!(m.msg_flag),
        "LastSendMsgTime" => json!(0),
        "ShutUpUntil" | "MuteUntil" => json!(m.mute_until),
        "NameCard" => json!(m.name_card),
        "AppMemberDefinedData" => key_values(&m.app_data, None),
        _ => return None,
    })
}

fn member_object(m: &MemberRow, fields: Option<&[String]>) -> Value {
    let mut obj = Map::new();
    obj.insert("Member_Account".into(), json!(m.user_id));
    match fields {
        None => {
            for f in MEMBER_FIELDS {
                if let Some(v) = member_field(m, f) {
                    obj.insert((*f).into(), v);
                }
            }
        }
        Some(list) => {
            for f in list {
                let f = f.as_str();
                let f = if f == "MuteUntil" || f == "ShutUpUntil" {
                    // Emit both spellings whichever was asked for.
                    obj.insert("MuteUntil".into(), json!(m.mute_until));
                    "ShutUpUntil"
                } else {
                    f
                };
                if let Some(v) = member_field(m, f) {
                    obj.insert(f.into(), v);
                }
            }
        }
    }
    Value::Object(obj)
}

fn base_object(g: &GroupRow, app_id: u64, fields: Option<&[String]>, obj: &mut Map<String, Value>) {
    match fields {
        None => {
            for f in BASE_FIELDS {
                if let Some(v) = base_field(g, app_id, f) {
                    obj.insert((*f).into(), v);
                }
            }
        }
        Some(list) => {
            for f in list {
                if let Some(v) = base_field(g, app_id, f) {
                    obj.insert(f.clone(), v);
                }
                if f == "ShutUpAllMember" || f == "MuteAllMember" {
                    obj.insert(
                        "ShutUpAllMember".into(),
                        json!(if g.mute_all { "On" } else { "Off" }),
                    );
                    obj.insert(
                        "MuteAllMember".into(),
                        json!(if g.mute_all { "On" } else { "Off" }),
                    );
                }
            }
        }
    }
}

fn parse_type(s: &str, code: u32) -> Result<GroupType, RestError> {
    GroupType::parse_any(s).ok_or_else(|| {
        RestError::new(
            code,
            format!("Type {s:?} is not a group type: Private (Work), Public, ChatRoom (Meeting), AVChatRoom or Community"),
        )
    })
}

/// Every role, for member queries (1 Owner | 2 Admin | 4 Member).
const ALL_ROLES: u8 = 7;

fn parse_add_option(v: Option<String>, code: u32) -> Result<Option<AddOption>, RestError> {
    match nonempty(v) {
        None => Ok(None),
        Some(s) => AddOption::parse_any(&s).map(Some).ok_or_else(|| {
            RestError::new(
                code,
                format!("ApplyJoinOption {s:?} is not FreeAccess, NeedPermission or DisableApply"),
            )
        }),
    }
}

fn parse_invite_option(v: Option<String>, code: u32) -> Result<Option<InviteOption>, RestError> {
    match nonempty(v) {
        None => Ok(None),
        Some(s) => InviteOption::parse_any(&s).map(Some).ok_or_else(|| {
            RestError::new(
                code,
                format!(
                    "InviteJoinOption {s:?} is not FreeAccess, NeedPermission or DisableInvite"
                ),
            )
        }),
    }
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn on_off(v: &str, field: &str, code: u32) -> Result<bool, RestError> {
    match v {
        "On" => Ok(true),
        "Off" => Ok(false),
        other => Err(RestError::new(
            code,
            format!("{field} must be \"On\" or \"Off\", not {other:?}"),
        )),
    }
}

/// `Silence: 1` sends no tips for adds and tells only the removed of a removal.
fn silence(flag: Option<u8>) -> Tips {
    if flag == Some(1) {
        Tips::Silent
    } else {
        Tips::Everyone
    }
}

impl Cx<'_> {
    /// A list field must hold 1 to `max` entries (10005 past the cap).
    fn check_batch(&self, field: &str, len: usize, max: usize) -> Result<(), RestError> {
        if len == 0 {
            return Err(RestError::new(self.bad_param, format!("{field} is empty")));
        }
        if len > max {
            return Err(RestError::new(
                10005,
                format!("{field} holds {len} entries; at most {max}"),
            ));
        }
        Ok(())
    }

    fn body<T: DeserializeOwned>(&self, v: Value) -> Result<T, RestError> {
        serde_json::from_value(v)
            .map_err(|e| RestError::new(self.bad_param, format!("invalid request: {e}")))
    }

    fn service(&self) -> &crate::service::Service {
        &self.st.service
    }

    /// The operator shown in tips: `From_Account` when given (it must be a
    /// valid, existing account: 10012 otherwise), else the calling admin.
    /// Either way the call has the app admin's rights.
    async fn operator(&self, from: Option<String>) -> Result<Actor, RestError> {
        let Some(user) = nonempty(from) else {
            return Ok(self.actor.clone());
        };
        if validate_user_id(&user).is_err() || !self.service().user_exists(&user).await? {
            return Err(RestError::new(
                10012,
                format!("From_Account {user:?} is not an existing account"),
            ));
        }
        Ok(Actor::app_admin(user))
    }

    async fn account_import(&self, v: Value) -> RestResult {
        let req: AccountImport = self.body(v)?;
        validate_user_id(&req.user_id).map_err(|e| RestError::new(70402, e.to_string()))?;
        let failed = self
            .service()
            .import_users(vec![(req.user_id, req.nick, req.face_url)])
            .await?;
        if failed.is_empty() {
            Ok(Map::new())
        } else {
            Err(RestError::new(70402, "the account could not be imported"))
        }
    }

    async fn multiaccount_import(&self, v: Value) -> RestResult {
        let req: MultiAccountImport = self.body(v)?;
        if req.accounts.is_empty() || req.accounts.len() > 100 {
            return Err(RestError::new(
                70206,
                format!(
                    "Accounts holds {} accounts; send 1 to 100",
                    req.accounts.len()
                ),
            ));
        }
        let failed = self
            .service()
            .import_users(
                req.accounts
                    .into_iter()
                    .map(|a| (a, String::new(), String::new()))
                    .collect(),
            )
            .await?;
        let mut out = Map::new();
        out.insert("FailAccounts".into(), json!(failed));
        Ok(out)
    }

    async fn create_group(&self, v: Value) -> RestResult {
        let req: CreateGroup = self.body(v)?;
        let group_type = parse_type(&req.group_type, self.bad_param)?;
        let add_option = parse_add_option(req.apply_join_option, self.bad_param)?;
        let invite_option = parse_invite_option(req.invite_join_option, self.bad_param)?;
        let members = req.members.unwrap_or_default();
        if group_type == GroupType::AVChatRoom && !members.is_empty() {
            return Err(GroupError::denied(
                "an AVChatRoom group cannot be created with a MemberList",
            )
            .into());
        }
        let mut list = Vec::with_capacity(members.len());
        for m in members {
            let role = match m.role.as_deref() {
                None | Some("") | Some("Member") => None,
                Some("Admin") => Some(Role::Admin),
                Some(other) => {
                    return Err(RestError::new(
                        self.bad_param,
                        format!(
                            "Role {other:?} is not allowed at creation; use \"Admin\" or leave it out"
                        ),
                    ));
                }
            };
            list.push((m.account, role));
        }
        let owner = nonempty(req.owner);
        let spec = NewGroup {
            group_id: nonempty(req.group_id),
            name: req.name,
            group_type: Some(group_type),
            add_option,
            invite_option,
            introduction: req.introduction,
            notification: req.notification,
            face_url: req.face_url,
            // AVChatRoom groups are unlimited; scripts send a count anyway.
            max_members: req
                .max_members
                .filter(|_| group_type != GroupType::AVChatRoom),
            members: list,
            ownerless: owner.is_none(),
            owner,
            app_data: pairs(req.app_defined).unwrap_or_default(),
        };
        let g = self.service().create_group(&self.actor, spec).await?;
        let mut out = Map::new();
        out.insert("GroupId".into(), json!(g.group_id));
        out.insert("Type".into(), json!(g.group_type.rest_name()));
        Ok(out)
    }

    async fn get_appid_group_list(&self, v: Value) -> RestResult {
        let req: AppGroupList = self.body(v)?;
        let limit = req.limit.unwrap_or(10_000);
        if limit == 0 || limit > 10_000 {
            return Err(RestError::new(self.bad_param, "Limit must be 1 to 10000"));
        }
        let group_type = match nonempty(req.group_type) {
            None => None,
            Some(t) => Some(parse_type(&t, self.bad_param)?),
        };
        // `Next` is the creation sequence of the last group sent: stable
        // while groups come and go between pages.
        let after = req.next.unwrap_or(0);
        let (total, ids) = self
            .service()
            .group_ids(after, u32::try_from(limit).unwrap_or(10_000), group_type)
            .await?;
        let next = if (ids.len() as u64) < limit {
            0
        } else {
            ids.last().map(|(_, seq)| *seq).unwrap_or(0)
        };
        let mut out = Map::new();
        out.insert("TotalCount".into(), json!(total));
        out.insert(
            "GroupIdList".into(),
            Value::Array(
                ids.into_iter()
                    .map(|(id, _)| json!({"GroupId": id}))
                    .collect(),
            ),
        );
        out.insert("Next".into(), json!(next));
        Ok(out)
    }

    async fn get_group_info(&self, v: Value) -> RestResult {
        let req: GroupInfoReq = self.body(v)?;
        self.check_batch("GroupIdList", req.ids.len(), 50)?;
        let filter = req.filter.unwrap_or_default();
        // Members come with the full object, or when a member filter asks for them.
        let with_members = filter.base.is_none() || filter.member.is_some();
        let app_id = self.st.key.sdkappid();
        let mut infos = Vec::with_capacity(req.ids.len());
        for id in req.ids {
            let mut obj = Map::new();
            obj.insert("GroupId".into(), json!(id));
            match self
                .service()
                .member_page(
                    &id,
                    ALL_ROLES,
                    MemberPosition::Offset(0),
                    if with_members { 10_000 } else { 0 },
                )
                .await
            {
                Ok((g, members)) => {
                    obj.insert("ErrorCode".into(), json!(0));
                    obj.insert("ErrorInfo".into(), json!(""));
                    base_object(&g, app_id, filter.base.as_deref(), &mut obj);
                    if let Some(keys) = filter.group_keys.as_deref() {
                        obj.insert("AppDefinedData".into(), key_values(&g.app_data, Some(keys)));
                    }
                    if with_members && g.group_type != GroupType::AVChatRoom {
                        let list = members
                            .iter()
                            .map(|m| {
                                let mut v = member_object(m, filter.member.as_deref());
                                if let (Some(keys), Value::Object(o)) =
                                    (filter.member_keys.as_deref(), &mut v)
                                {
                                    o.insert(
                                        "AppMemberDefinedData".into(),
                                        key_values(&m.app_data, Some(keys)),
                                    );
                                }
                                v
                            })
                            .collect();
                        obj.insert("MemberList".into(), Value::Array(list));
                    }
                }
                Err(e) => {
                    obj.insert("ErrorCode".into(), json!(e.code()));
                    obj.insert("ErrorInfo".into(), json!(e.to_string()));
                }
            }
            infos.push(Value::Object(obj));
        }
        let mut out = Map::new();
        out.insert("GroupInfo".into(), Value::Array(infos));
        Ok(out)
    }

    async fn get_group_member_info(&self, v: Value) -> RestResult {
        let req: MemberInfoReq = self.body(v)?;
        let limit = req.limit.unwrap_or(6_000);
        if limit > 6_000 {
            return Err(RestError::new(self.bad_param, "Limit must be at most 6000"));
        }
        let limit = u32::try_from(limit.max(1)).unwrap_or(6_000);
        let mut roles: u8 = 0;
        for r in req.role_filter.unwrap_or_default() {
            roles |= match r.as_str() {
                "Owner" => 1,
                "Admin" => 2,
                "Member" => 4,
                other => {
                    return Err(RestError::new(
                        self.bad_param,
                        format!("MemberRoleFilter {other:?} is not Owner, Admin or Member"),
                    ));
                }
            };
        }
        if roles == 0 {
            roles = ALL_ROLES;
        }
        let (g, _) = self
            .service()
            .member_page(&req.group_id, ALL_ROLES, MemberPosition::Offset(0), 0)
            .await?;
        if g.group_type == GroupType::AVChatRoom {
            return Err(GroupError::denied("AVChatRoom groups keep no member list").into());
        }
        let community_paging = g.group_type == GroupType::Community && req.next.is_some();
        let position = if community_paging {
            MemberPosition::After(req.next.clone().unwrap_or_default())
        } else {
            MemberPosition::Offset(req.offset.unwrap_or(0))
        };
        let (g, members) = self
            .service()
            .member_page(&req.group_id, roles, position, limit)
            .await?;
        let mut out = Map::new();
        out.insert("MemberNum".into(), json!(g.member_count));
        out.insert(
            "MemberList".into(),
            Value::Array(
                members
                    .iter()
                    .map(|m| member_object(m, req.member_filter.as_deref()))
                    .collect(),
            ),
        );
        if g.group_type == GroupType::Community {
            let next = if members.len() as u32 == limit {
                members
                    .last()
                    .map(|m| m.user_id.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            out.insert("Next".into(), json!(next));
        }
        Ok(out)
    }

    async fn modify_group_base_info(&self, v: Value) -> RestResult {
        let req: ModifyBaseInfo = self.body(v)?;
        let add_option = parse_add_option(req.apply_join_option, self.bad_param)?;
        let invite_option = parse_invite_option(req.invite_join_option, self.bad_param)?;
        let mute_all = match req.mute_all.as_deref() {
            None => None,
            Some(s) => Some(on_off(s, "ShutUpAllMember", self.bad_param)?),
        };
        let changes = GroupChanges {
            name: req.name,
            introduction: req.introduction,
            notification: req.notification,
            face_url: req.face_url,
            add_option,
            invite_option,
            max_members: req.max_members,
            mute_all,
            app_data: pairs(req.app_defined),
        };
        let actor = self.operator(req.from_account).await?;
        self.service()
            .modify_group(&actor, &req.group_id, changes)
            .await?;
        Ok(Map::new())
    }

    async fn add_group_member(&self, v: Value) -> RestResult {
        let req: AddMembers = self.body(v)?;
        self.check_batch("MemberList", req.members.len(), 300)?;
        let tips = silence(req.silence);
        let users: Vec<String> = req.members.into_iter().map(|m| m.account).collect();
        let results = self
            .service()
            .invite(&self.actor, &req.group_id, users, tips)
            .await?;
        if !results.is_empty()
            && results
                .iter()
                .all(|(_, r)| matches!(r, InviteResult::Failed(GroupError::GroupFull { .. })))
        {
            if let Some((_, InviteResult::Failed(e))) = results.first() {
                return Err(e.clone().into());
            }
        }
        let list: Vec<Value> = results
            .into_iter()
            .map(|(user, r)| {
                let code = match r {
                    InviteResult::Added => 1,
                    InviteResult::Pending { .. } => 3,
                    InviteResult::Failed(GroupError::AlreadyMember { .. }) => 2,
                    InviteResult::Failed(_) => 0,
                };
                json!({"Member_Account": user, "Result": code})
            })
            .collect();
        let mut out = Map::new();
        out.insert("MemberList".into(), Value::Array(list));
        Ok(out)
    }

    async fn delete_group_member(&self, v: Value) -> RestResult {
        let req: DeleteMembers = self.body(v)?;
        self.check_batch("MemberToDel_Account", req.members.len(), 100)?;
        let tips = silence(req.silence);
        // Accounts that are not members are skipped, as on Tencent.
        self.service()
            .kick(
                &self.actor,
                &req.group_id,
                req.members,
                req.reason,
                tips,
                true,
            )
            .await?;
        Ok(Map::new())
    }

    async fn modify_group_member_info(&self, v: Value) -> RestResult {
        let req: ModifyMember = self.body(v)?;
        validate_user_id(&req.account)
            .map_err(|e| RestError::new(self.bad_param, e.to_string()))?;
        let role = match req.role.as_deref() {
            None | Some("") => None,
            Some("Admin") => Some(Role::Admin),
            Some("Member") => Some(Role::Member),
            Some("Owner") => {
                return Err(RestError::new(
                    self.bad_param,
                    "Role \"Owner\" cannot be set; use change_group_owner",
                ));
            }
            Some(other) => {
                return Err(RestError::new(
                    self.bad_param,
                    format!("Role {other:?} is not Admin or Member"),
                ));
            }
        };
        if let Some(flag) = req.msg_flag.as_deref() {
            if !matches!(flag, "AcceptAndNotify" | "AcceptNotNotify" | "Discard") {
                return Err(RestError::new(
                    self.bad_param,
                    format!("MsgFlag {flag:?} is not AcceptAndNotify, AcceptNotNotify or Discard"),
                ));
            }
        }
        let change = MemberChanges {
            name_card: req.name_card,
            msg_flag: req.msg_flag,
            mute_secs: req.mute_time,
            app_data: pairs(req.app_defined),
            role,
        };
        // One command: the role and the profile change together or not at all.
        self.service()
            .modify_member(&self.actor, &req.group_id, &req.account, change)
            .await?;
        Ok(Map::new())
    }

    async fn destroy_group(&self, v: Value) -> RestResult {
        let req: GroupIdOnly = self.body(v)?;
        self.service().disband(&self.actor, &req.group_id).await?;
        Ok(Map::new())
    }

    async fn get_joined_group_list(&self, v: Value) -> RestResult {
        let req: JoinedList = self.body(v)?;
        validate_user_id(&req.account)
            .map_err(|e| RestError::new(self.bad_param, e.to_string()))?;
        if req.limit.is_some_and(|l| l > 5_000) {
            return Err(RestError::new(self.bad_param, "Limit must be at most 5000"));
        }
        let group_type = match nonempty(req.group_type) {
            None => None,
            Some(t) => Some(parse_type(&t, self.bad_param)?),
        };
        let with_huge = req.with_huge == Some(1);
        let with_inactive = req.with_inactive == Some(1);
        let all = self.service().memberships(&req.account).await?;
        let listed: Vec<(GroupRow, MemberRow)> = all
            .into_iter()
            .filter(|(g, _)| with_huge || g.group_type.listed_as_joined())
            .filter(|(g, _)| with_inactive || g.group_type != GroupType::Work || g.activated)
            .filter(|(g, _)| group_type.is_none_or(|t| g.group_type == t))
            .collect();
        let total = listed.len();
        let offset = usize::try_from(req.offset.unwrap_or(0)).unwrap_or(usize::MAX);
        let limit = req
            .limit
            .filter(|l| *l > 0)
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX))
            .unwrap_or(usize::MAX);
        let filter = req.filter.unwrap_or_default();
        let app_id = self.st.key.sdkappid();
        let items: Vec<Value> = listed
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(g, m)| {
                let mut obj = Map::new();
                obj.insert("GroupId".into(), json!(g.group_id));
                if let Some(base) = filter.base.as_deref() {
                    base_object(&g, app_id, Some(base), &mut obj);
                }
                if let Some(fields) = filter.self_info.as_deref() {
                    let mut me = Map::new();
                    for f in fields {
                        if let Some(v) = member_field(&m, f) {
                            me.insert(f.clone(), v);
                        }
                    }
                    obj.insert("SelfInfo".into(), Value::Object(me));
                }
                Value::Object(obj)
            })
            .collect();
        let mut out = Map::new();
        out.insert("TotalCount".into(), json!(total));
        out.insert("GroupIdList".into(), Value::Array(items));
        Ok(out)
    }

    async fn get_role_in_group(&self, v: Value) -> RestResult {
        let req: RoleInGroup = self.body(v)?;
        self.check_batch("User_Account", req.users.len(), 500)?;
        let roles = self
            .service()
            .roles_in_group(&req.group_id, req.users)
            .await?;
        let list: Vec<Value> = roles
            .into_iter()
            .map(|(u, r)| json!({"Member_Account": u, "Role": r.map(|r| r.as_str()).unwrap_or("NotMember")}))
            .collect();
        let mut out = Map::new();
        out.insert("UserIdList".into(), Value::Array(list));
        Ok(out)
    }

    async fn change_group_owner(&self, v: Value) -> RestResult {
        let req: ChangeOwner = self.body(v)?;
        validate_user_id(&req.new_owner)
            .map_err(|e| RestError::new(self.bad_param, e.to_string()))?;
        let actor = self.operator(req.from_account).await?;
        self.service()
            .transfer_owner(&actor, &req.group_id, &req.new_owner)
            .await?;
        Ok(Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query(Some(
            "sdkappid=1400000000&identifier=admin&usersig=eJ%2Ba*b-c_&random=9&contenttype=json",
        ));
        assert_eq!(query_param(&q, "usersig"), Some("eJ+a*b-c_"));
        assert_eq!(query_param(&q, "identifier"), Some("admin"));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }
}
