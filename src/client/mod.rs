//! The typed client of the user API (`/api/v1`) and its live event stream,
//! shared by the console, the integration tests and the bench.
//!
//! ```no_run
//! # async fn demo() -> Result<(), groupdeck::client::ClientError> {
//! use groupdeck::client::{Client, EventStreamOptions};
//! let client = Client::new("http://127.0.0.1:8080", "alice", "<UserSig>")?;
//! let me = client.me().await?;
//! let groups = client.list_groups(false, None, Some(50)).await?;
//! let mut events = client.events(EventStreamOptions::default());
//! # Ok(()) }
//! ```
//!
//! Every method is one HTTP call with the request and reply types of
//! [`crate::server::api`], so the client cannot drift from the server's
//! contract. Failures are [`ClientError`]s; a refusal by the server keeps its
//! Tencent error code ([`ClientError::code`]). IDs are percent-encoded as
//! whole path segments (group IDs such as `@TGS#2ABC` contain `#` and `@`;
//! custom IDs and user IDs may contain `/`, `?`, `%` or spaces).
//!
//! TLS is rustls with the *ring* provider, installed as the process default
//! the first time a client is built ([`install_crypto_provider`]), so an
//! `https://` server works without any set-up by the caller.

mod error;
pub mod events;

pub use error::ClientError;
pub use events::{EventStream, EventStreamOptions, StreamItem};

use crate::model::Role;
use crate::server::api::{
    CreateGroupRequest, Created, DecideRequest, DecisionValue, GroupInfo, Health, InviteReply,
    InviteRequest, JoinReply, JoinRequest, JoinRequestInfo, KickRequest, Me, MemberInfo, Modified,
    ModifyGroupRequest, Page, RoleReply, SetRoleRequest, TransferRequest,
};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Once;
use std::time::Duration;

/// How long to wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one API call may take in all.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the event stream may stay silent, while it is being read, before
/// it counts as broken (the server sends a keep-alive comment every 15 s).
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// Installs rustls' *ring* crypto provider as the process default, once.
/// [`Client::new`] calls it; call it yourself before building any other
/// `reqwest::Client` in this process (reqwest is built with
/// `rustls-no-provider` and panics at build time without a default provider).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Which join requests [`Client::requests`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestFilter {
    /// Waiting for a decision (the server's default).
    #[default]
    Pending,
    Accepted,
    Refused,
    /// Ended without a decision (the group went away, the applicant joined otherwise, ...).
    Ended,
    All,
}

impl RequestFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestFilter::Pending => "pending",
            RequestFilter::Accepted => "accepted",
            RequestFilter::Refused => "refused",
            RequestFilter::Ended => "ended",
            RequestFilter::All => "all",
        }
    }
}

/// A connection to one groupdeck server as one user. Cheap to clone (the
/// connection pool is shared).
#[derive(Clone)]
pub struct Client {
    base: Url,
    user: String,
    /// `Bearer <UserSig>`, marked sensitive (kept out of debug output).
    auth: HeaderValue,
    /// API calls: connect and whole-request timeouts.
    http: reqwest::Client,
    /// The event stream: only a connect timeout (it is meant to stay open).
    stream_http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the UserSig.
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base` (`http://host:port` or
    /// `https://host/prefix`), acting as `user` with the UserSig `usersig`.
    /// Makes no network call.
    pub fn new(base: &str, user: &str, usersig: &str) -> Result<Client, ClientError> {
        let base = parse_base(base)?;
        install_crypto_provider();
        let auth = bearer(usersig)?;
        let plain_http = base.scheme() == "http";
        let http = build_http(plain_http, |b| b.timeout(REQUEST_TIMEOUT))?;
        // No whole-request timeout: the stream stays open. The reader times
        // the response head and each read itself (see `events`).
        let stream_http = build_http(plain_http, |b| b)?;
        Ok(Client {
            base,
            user: user.to_string(),
            auth,
            http,
            stream_http,
        })
    }

    /// The same server as another user, sharing this client's connection
    /// pools (building a client loads the system's CA certificates, which
    /// costs milliseconds; the bench signs in thousands of users).
    pub fn with_user(&self, user: &str, usersig: &str) -> Result<Client, ClientError> {
        Ok(Client {
            base: self.base.clone(),
            user: user.to_string(),
            auth: bearer(usersig)?,
            http: self.http.clone(),
            stream_http: self.stream_http.clone(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The user this client acts as (as given to [`Client::new`]; the server
    /// goes by the UserSig, see [`Client::me`]).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `GET /api/v1/me`: who the UserSig says I am.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.fetch(self.get(&["api", "v1", "me"])?).await
    }

    /// `POST /api/v1/groups`; returns the new group's ID.
    pub async fn create_group(&self, req: &CreateGroupRequest) -> Result<String, ClientError> {
        let created: Created = self
            .fetch(
                self.request(Method::POST, &["api", "v1", "groups"])?
                    .json(req),
            )
            .await?;
        Ok(created.group_id)
    }

    /// `GET /api/v1/groups`: the groups I joined, or every group with
    /// `scope_all` (app admins only).
    pub async fn list_groups(
        &self,
        scope_all: bool,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<GroupInfo>, ClientError> {
        let mut req = paged(self.get(&["api", "v1", "groups"])?, cursor, limit);
        if scope_all {
            req = req.query(&[("scope", "all")]);
        }
        self.fetch(req).await
    }

    /// `GET /api/v1/groups/{id}`.
    pub async fn group(&self, id: &str) -> Result<GroupInfo, ClientError> {
        self.fetch(self.get(&["api", "v1", "groups", id])?).await
    }

    /// `PATCH /api/v1/groups/{id}`; returns the fields that actually changed.
    pub async fn modify_group(
        &self,
        id: &str,
        req: &ModifyGroupRequest,
    ) -> Result<Modified, ClientError> {
        self.fetch(
            self.request(Method::PATCH, &["api", "v1", "groups", id])?
                .json(req),
        )
        .await
    }

    /// `DELETE /api/v1/groups/{id}`.
    pub async fn disband(&self, id: &str) -> Result<(), ClientError> {
        self.execute(self.request(Method::DELETE, &["api", "v1", "groups", id])?)
            .await
    }

    /// `POST /api/v1/groups/{id}/join`: joined at once, or a pending request.
    pub async fn join(&self, id: &str, message: Option<&str>) -> Result<JoinReply, ClientError> {
        let body = JoinRequest {
            message: message.map(str::to_string),
        };
        self.fetch(
            self.request(Method::POST, &["api", "v1", "groups", id, "join"])?
                .json(&body),
        )
        .await
    }

    /// `POST /api/v1/groups/{id}/quit`.
    pub async fn quit(&self, id: &str) -> Result<(), ClientError> {
        self.execute(self.request(Method::POST, &["api", "v1", "groups", id, "quit"])?)
            .await
    }

    /// `POST /api/v1/groups/{id}/invite`: one result per user.
    pub async fn invite(&self, id: &str, users: &[String]) -> Result<InviteReply, ClientError> {
        let body = InviteRequest {
            user_ids: users.to_vec(),
        };
        self.fetch(
            self.request(Method::POST, &["api", "v1", "groups", id, "invite"])?
                .json(&body),
        )
        .await
    }

    /// `GET /api/v1/groups/{id}/members`, one page.
    pub async fn members(
        &self,
        id: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<MemberInfo>, ClientError> {
        self.fetch(paged(
            self.get(&["api", "v1", "groups", id, "members"])?,
            cursor,
            limit,
        ))
        .await
    }

    /// `DELETE /api/v1/groups/{id}/members/{user}`.
    pub async fn kick(
        &self,
        id: &str,
        user: &str,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        let body = KickRequest {
            reason: reason.map(str::to_string),
        };
        self.execute(
            self.request(
                Method::DELETE,
                &["api", "v1", "groups", id, "members", user],
            )?
            .json(&body),
        )
        .await
    }

    /// `PUT /api/v1/groups/{id}/members/{user}/role` (`Admin` or `Member`).
    pub async fn set_role(
        &self,
        id: &str,
        user: &str,
        role: Role,
    ) -> Result<RoleReply, ClientError> {
        let body = SetRoleRequest { role };
        self.fetch(
            self.request(
                Method::PUT,
                &["api", "v1", "groups", id, "members", user, "role"],
            )?
            .json(&body),
        )
        .await
    }

    /// `POST /api/v1/groups/{id}/owner`: make `user` the owner.
    pub async fn transfer_owner(&self, id: &str, user: &str) -> Result<(), ClientError> {
        let body = TransferRequest {
            user_id: user.to_string(),
        };
        self.execute(
            self.request(Method::POST, &["api", "v1", "groups", id, "owner"])?
                .json(&body),
        )
        .await
    }

    /// `GET /api/v1/pendency`: join requests I may decide, and my own.
    pub async fn requests(
        &self,
        status: RequestFilter,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<JoinRequestInfo>, ClientError> {
        let req = paged(self.get(&["api", "v1", "pendency"])?, cursor, limit)
            .query(&[("status", status.as_str())]);
        self.fetch(req).await
    }

    /// `POST /api/v1/pendency/{id}`: accept or refuse a join request.
    pub async fn decide(
        &self,
        request_id: u64,
        accept: bool,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        let body = DecideRequest {
            decision: if accept {
                DecisionValue::Accept
            } else {
                DecisionValue::Refuse
            },
            reason: reason.map(str::to_string),
        };
        let id = request_id.to_string();
        self.execute(
            self.request(Method::POST, &["api", "v1", "pendency", &id])?
                .json(&body),
        )
        .await
    }

    /// `GET /healthz` (no authentication needed): status and newest event id.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.fetch(self.get(&["healthz"])?).await
    }

    /// `GET /api/v1/openapi.json`: the API description.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.fetch(self.get(&["api", "v1", "openapi.json"])?).await
    }

    // ---- plumbing ----

    /// `base` + the percent-encoded `segments`.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        build_url(&self.base, segments)
    }

    fn get(&self, segments: &[&str]) -> Result<RequestBuilder, ClientError> {
        self.request(Method::GET, segments)
    }

    fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder, ClientError> {
        Ok(self
            .http
            .request(method, self.url(segments)?)
            .header(AUTHORIZATION, self.auth.clone()))
    }

    /// Sends and decodes a JSON reply.
    async fn fetch<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let resp = check(req.send().await?).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Decode(format!("{e} in {}", snippet(&bytes))))
    }

    /// Sends and checks the status; the body (`{"ok": true}`) is read and dropped.
    async fn execute(&self, req: RequestBuilder) -> Result<(), ClientError> {
        let resp = check(req.send().await?).await?;
        resp.bytes().await?;
        Ok(())
    }
}

fn paged(req: RequestBuilder, cursor: Option<&str>, limit: Option<u32>) -> RequestBuilder {
    #[derive(Serialize)]
    struct PageParams<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        cursor: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    }
    req.query(&PageParams { cursor, limit })
}

/// Passes a success through; turns an error status into a [`ClientError`].
pub(crate) async fn check(resp: Response) -> Result<Response, ClientError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    Err(error_from_body(status.as_u16(), &bytes))
}

/// The server's `{"error": {"code", "message"}}`, or the raw body when it is not that.
pub(crate) fn error_from_body(status: u16, bytes: &[u8]) -> ClientError {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        code: u32,
        message: String,
    }
    match serde_json::from_slice::<Body>(bytes) {
        Ok(b) => ClientError::Api {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => ClientError::Http {
            status,
            body: if bytes.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("no body")
                    .to_string()
            } else {
                snippet(bytes)
            },
        },
    }
}

/// The start of a body, for messages.
fn snippet(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn parse_base(base: &str) -> Result<Url, ClientError> {
    let url =
        Url::parse(base.trim()).map_err(|e| ClientError::InvalidUrl(format!("{base:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::InvalidUrl(format!(
            "{base:?}: use an http:// or https:// URL"
        )));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(ClientError::InvalidUrl(format!("{base:?}: no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::InvalidUrl(format!(
            "{base:?}: the server URL cannot have a query or fragment"
        )));
    }
    Ok(url)
}

/// Appends percent-encoded segments to `base`'s path (keeping a path prefix
/// such as `https://host/groupdeck/`).
fn build_url(base: &Url, segments: &[&str]) -> Result<Url, ClientError> {
    let mut path = base.path().trim_end_matches('/').to_string();
    for s in segments {
        if s.is_empty() || *s == "." || *s == ".." {
            return Err(ClientError::InvalidUrl(format!(
                "the ID {s:?} cannot be addressed in a URL path"
            )));
        }
        path.push('/');
        encode_segment(s, &mut path);
    }
    let mut url = base.clone();
    url.set_path(&path);
    Ok(url)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `#`,
/// `?`, `/`, `%`, `@` and spaces in an ID stay inside its path segment.
fn encode_segment(s: &str, out: &mut String) {
    use std::fmt::Write;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn bearer(usersig: &str) -> Result<HeaderValue, ClientError> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", usersig.trim())).map_err(|_| {
        ClientError::Setup("the UserSig contains characters not allowed in an HTTP header".into())
    })?;
    auth.set_sensitive(true);
    Ok(auth)
}

fn build_http(
    plain_http: bool,
    tune: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client, ClientError> {
    let builder = || {
        tune(
            reqwest::Client::builder()
                .tls_backend_rustls()
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!("groupdeck/", env!("CARGO_PKG_VERSION"))),
        )
    };
    match builder().build() {
        Ok(c) => Ok(c),
        // The platform verifier fails to build where the system has no CA
        // certificates (a bare container). A plain-http server does not need
        // them: build with an empty trust store instead, so https fails at
        // the handshake with a clear error rather than the client not building.
        Err(_) if plain_http => builder()
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| ClientError::Setup(describe_chain(&e))),
        Err(e) => Err(ClientError::Setup(format!(
            "{} (for https, the system needs CA certificates, e.g. the ca-certificates package)",
            describe_chain(&e)
        ))),
    }
}

fn describe_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_whole() {
        let base = parse_base("http://127.0.0.1:8080").expect("base");
        let u = build_url(&base, &["api", "v1", "groups", "@TGS#2AB/C?d%e f"]).expect("url");
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/api/v1/groups/%40TGS%232AB%2FC%3Fd%25e%20f"
        );
        let prefixed = parse_base("https://example.com/deck/").expect("base");
        let u = build_url(&prefixed, &["healthz"]).expect("url");
        assert_eq!(u.as_str(), "https://example.com/deck/healthz");
        assert!(build_url(&base, &["api", ".."]).is_err());
    }

    #[test]
    fn bad_bases_are_refused() {
        assert!(parse_base("ftp://x").is_err());
        assert!(parse_base("not a url").is_err());
        assert!(parse_base("http://x/?a=b").is_err());
    }

    #[test]
    fn error_bodies_decode() {
        let e = error_from_body(
            403,
            br#"{"error":{"code":10009,"message":"the owner cannot quit a Public group"}}"#,
        );
        assert_eq!(e.code(), Some(10009));
        assert_eq!(e.to_string(), "10009: the owner cannot quit a Public group");
        let e = error_from_body(502, b"<html>bad gateway</html>");
        assert_eq!(e.code(), None);
        assert_eq!(e.status(), Some(502));
    }
}
