//! `GET /api/v1/events`: the live event stream as Server-Sent Events.
//!
//! A stream registers with the live [`Hub`](super::hub::Hub) first, then replays what it is
//! entitled to from the log after the client's last id, then goes live: the
//! hub replays what arrived meanwhile past that point and from then on its
//! shards write each frame straight to the socket. So there is no gap and
//! no duplicate between backlog and tail. A stream that falls behind (a
//! client not reading) goes back to the log and catches up; it never blocks
//! the writer or other streams and never silently drops an event. When the
//! log no longer reaches back to the client's id, it sends `reset` and
//! carries on from the newest id.
//!
//! Streams are served two ways with the same logic: a connection whose
//! first request is this route is answered by [`serve_connection`] on the
//! bare socket (a few hundred bytes per idle stream, frames written by the
//! hub), and one that asks for it after other requests goes through axum
//! ([`events`]), its frames passed on through a channel.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::hub::{Frame, Registration, Socket, Work};
use crate::model::GroupError;
use crate::service::Service;
use crate::store::rows;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

/// Event ids are stored as SQLite integers.
const MAX_EVENT_ID: u64 = i64::MAX as u64;

/// Events read from the log per query while catching up.
const CATCH_UP_PAGE: u32 = 500;
/// Event ids one catch-up query looks at, at most.
const CATCH_UP_WINDOW: u64 = 5_000;
/// A comment on idle streams this often keeps proxies from closing them.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id (the `Last-Event-ID` header wins when both are sent).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// `mine` (default) or `all`: every event of every group (app admins only).
    #[param(pattern = "^(mine|all)?$")]
    pub scope: Option<String>,
    /// The UserSig, for clients that cannot send an `Authorization` header.
    pub usersig: Option<String>,
}

/// A stream the caller may open: who follows what, from where.
struct Opened {
    /// `None`: every event (an app admin with `scope=all`).
    user: Option<String>,
    after: Option<u64>,
    slot: StreamSlot,
}

/// Authenticates and validates a request for the stream, taking one of the
/// caller's stream slots. The same checks, in the same order, on both paths.
async fn open(st: &Arc<AppState>, parts: &mut Parts) -> Result<Opened, ApiError> {
    let caller = Caller::from_request_parts(parts, st).await?.0;
    let Query(q) = Query::<EventsQuery>::try_from_uri(&parts.uri)?;
    let all = match q.scope.as_deref() {
        None | Some("") | Some("mine") => false,
        Some("all") if caller.app_admin => true,
        Some("all") => {
            return Err(
                GroupError::denied("only app admins may follow every event (scope=all)").into(),
            );
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown scope {other:?}; use `all`"
            )));
        }
    };
    if q.after.is_some_and(|a| a > MAX_EVENT_ID) {
        return Err(ApiError::bad_request(
            "after must be an event id (0 to 2^63-1)",
        ));
    }
    let after = match parts.headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|id| *id <= MAX_EVENT_ID)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        10004,
                        "Last-Event-ID must be an event id (a number)",
                    )
                })?,
        ),
        None => q.after,
    };
    let slot = StreamSlot::take(st, &caller.user_id)?;
    Ok(Opened {
        user: (!all).then_some(caller.user_id),
        after,
        slot,
    })
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event id", nullable = false, minimum = 0, maximum = 9223372036854775807_i64)),
    responses((status = 200, description = "text/event-stream of `id: <id>`, `event: <kind>`, `data: <Event JSON>`; \
        `event: reset` when the log no longer reaches back to the requested id", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn events(State(st): State<Arc<AppState>>, mut parts: Parts) -> Response {
    let opened = match open(&st, &mut parts).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    // Registered and placed in the log before the response head goes out:
    // a client that saw the head misses nothing committed after it.
    let registration = st.hub.register(opened.user, None);
    let bounds = match st.service.log_bounds().await {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let service = st.service.clone();
    let shutdown = st.shutdown.clone();
    tokio::spawn(async move {
        let _slot = opened.slot;
        let out = Out::Channel(tx);
        let start = Start {
            after: opened.after,
            bounds,
        };
        follow(&registration, &out, service, start, shutdown).await;
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>));
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Open event streams per identity, at most.
pub const MAX_STREAMS_PER_USER: usize = 32;

/// One of an identity's open streams; released when the stream task ends.
struct StreamSlot {
    state: Arc<AppState>,
    user: String,
}

impl StreamSlot {
    fn take(state: &Arc<AppState>, user: &str) -> Result<StreamSlot, ApiError> {
        let mut open = state
            .open_streams
            .lock()
            .map_err(|_| ApiError::from(GroupError::Internal("stream table poisoned".into())))?;
        let n = open.entry(user.to_string()).or_insert(0);
        if *n >= MAX_STREAMS_PER_USER {
            let mut e = ApiError::rate_limited(1);
            e.message = format!(
                "{user} already has {MAX_STREAMS_PER_USER} event streams open; close one first"
            );
            return Err(e);
        }
        *n += 1;
        Ok(StreamSlot {
            state: state.clone(),
            user: user.to_string(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.state.open_streams.lock() {
            if let Some(n) = open.get_mut(&self.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.user);
                }
            }
        }
    }
}

#[derive(Debug)]
enum StreamEnd {
    ClientGone,
    Store(GroupError),
    Shutdown,
}

impl std::fmt::Display for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamEnd::ClientGone => f.write_str("client went away"),
            StreamEnd::Store(e) => write!(f, "store: {e}"),
            StreamEnd::Shutdown => f.write_str("server shutting down"),
        }
    }
}

impl From<GroupError> for StreamEnd {
    fn from(e: GroupError) -> Self {
        StreamEnd::Store(e)
    }
}

/// Where a stream's bytes go.
enum Out {
    /// The connection itself (the hub writes live frames to it too).
    Socket(Arc<TcpStream>),
    /// An axum response body, which hyper frames.
    Channel(mpsc::Sender<Bytes>),
}

impl Out {
    fn chunked(&self, reg: &Registration) -> bool {
        reg.sub.socket().is_some_and(|s| s.chunked)
    }

    async fn write(&self, bytes: &[Bytes]) -> Result<(), StreamEnd> {
        match self {
            Out::Socket(stream) => {
                for b in bytes {
                    write_all(stream, b)
                        .await
                        .map_err(|_| StreamEnd::ClientGone)?;
                }
                Ok(())
            }
            Out::Channel(tx) => {
                for b in bytes {
                    tx.send(b.clone())
                        .await
                        .map_err(|_| StreamEnd::ClientGone)?;
                }
                Ok(())
            }
        }
    }

    async fn frame(&self, reg: &Registration, frame: &Frame) -> Result<(), StreamEnd> {
        let chunked = self.chunked(reg);
        self.write(std::slice::from_ref(frame.bytes(chunked))).await
    }

    /// Resolves when the client has gone away.
    async fn gone(&self) {
        match self {
            Out::Socket(stream) => {
                let mut scratch = [0u8; 64];
                loop {
                    if stream.readable().await.is_err() {
                        return;
                    }
                    match stream.try_read(&mut scratch) {
                        // Anything the client sends after its request is ignored.
                        Ok(0) => return,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            }
            Out::Channel(tx) => tx.closed().await,
        }
    }
}

/// Writes all of `buf` to a socket shared with other tasks (`&TcpStream`).
pub async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn wait_for_shutdown(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Runs a stream until the client leaves, the store fails or the server stops.
async fn follow(
    reg: &Registration,
    out: &Out,
    service: Arc<Service>,
    start: Start,
    shutdown: watch::Receiver<bool>,
) {
    let stream = Stream { reg, out, service };
    let end = tokio::select! {
        r = stream.run(start) => r,
        // The client went away: stop now, not at its next event.
        _ = out.gone() => Err(StreamEnd::ClientGone),
        _ = wait_for_shutdown(shutdown) => Err(StreamEnd::Shutdown),
    };
    if let Err(e) = end {
        tracing::debug!("event stream ended: {e}");
    }
}

/// Where a stream starts: the client's last id, and the log's (head,
/// pruned-through) read after the stream registered with the hub.
struct Start {
    after: Option<u64>,
    bounds: (u64, u64),
}

struct Stream<'a> {
    reg: &'a Registration,
    out: &'a Out,
    service: Arc<Service>,
}

fn reset_frame(head: u64, why: &str) -> Frame {
    let data = serde_json::json!({"last_event_id": head, "reason": why}).to_string();
    Frame::new(head, "reset", &data)
}

impl Stream<'_> {
    async fn run(&self, start: Start) -> Result<(), StreamEnd> {
        let sub = &self.reg.sub;
        let (head, pruned) = start.bounds;
        let mut last = match start.after {
            None => head,
            Some(a) if a > head => {
                let why = "the requested id is newer than this server's log";
                self.out.frame(self.reg, &reset_frame(head, why)).await?;
                head
            }
            Some(a) if a < pruned => {
                let why = "the log no longer reaches back to the requested id; re-read state";
                self.out.frame(self.reg, &reset_frame(head, why)).await?;
                head
            }
            Some(a) => a,
        };
        let mut upto = head;
        let mut keep_alive =
            tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        let ping = Frame::keep_alive();
        loop {
            // Boxed: the catch-up's futures are large, and an idle stream
            // should not carry their space while it waits.
            let groups = Box::pin(self.catch_up(&mut last, &mut upto)).await?;
            match sub.go_live(upto, groups) {
                Ok(first) => self.out.write(&first).await?,
                Err(from) => {
                    // The hub's buffer overflowed while reading the log.
                    last = from;
                    sub.start_buffering();
                    upto = self.service.log_bounds().await?.0;
                    continue;
                }
            }
            loop {
                match sub.next_work() {
                    Work::Write(bytes) => self.out.write(&bytes).await?,
                    Work::Broken => return Err(StreamEnd::ClientGone),
                    Work::CatchUp(from) => {
                        last = from;
                        sub.start_buffering();
                        upto = self.service.log_bounds().await?.0;
                        break;
                    }
                    Work::Idle => {
                        tokio::select! {
                            _ = sub.woken() => {}
                            _ = keep_alive.tick() => sub.keep_alive(&ping),
                        }
                    }
                }
            }
        }
    }

    /// Sends the entitled events in `(last, upto]` from the log; returns the
    /// user's groups as of `upto`. If pruning overtakes the stream (a client
    /// too slow for the retained log), it says `reset` and moves to the head.
    async fn catch_up(&self, last: &mut u64, upto: &mut u64) -> Result<HashSet<String>, StreamEnd> {
        let user = self.reg.sub.user().map(str::to_string);
        let mut past = rows::PastMemberships::since(*last);
        while *last < *upto {
            let u = user.clone();
            let mut carried = std::mem::take(&mut past);
            // A bounded window of ids per query keeps each one cheap however
            // far back the stream starts.
            let (from, to) = (*last, (*upto).min(last.saturating_add(CATCH_UP_WINDOW)));
            let (page, head, carried) = self
                .service
                .store()
                .read(move |c| {
                    let (head, pruned) = rows::log_bounds(c)?;
                    if from < pruned {
                        return Ok((None, head, carried));
                    }
                    let page = rows::entitled_events(
                        c,
                        u.as_deref(),
                        &mut carried,
                        from,
                        to,
                        CATCH_UP_PAGE,
                    )?;
                    Ok((Some(page), head, carried))
                })
                .await?;
            past = carried;
            let Some(page) = page else {
                let why = "the stream fell behind the retained log; re-read state";
                self.out.frame(self.reg, &reset_frame(head, why)).await?;
                *last = head;
                *upto = head;
                break;
            };
            let full = page.len() as u32 == CATCH_UP_PAGE;
            let chunked = self.out.chunked(self.reg);
            let frames: Vec<Bytes> = page
                .iter()
                .map(|e| {
                    let json = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
                    Frame::new(e.id, e.kind.as_str(), &json)
                        .bytes(chunked)
                        .clone()
                })
                .collect();
            self.out.write(&frames).await?;
            if let Some(e) = page.last() {
                *last = e.id;
            }
            if !full {
                *last = to;
            }
        }
        self.reg.sub.sent_through(*last);
        let at = *upto;
        match user {
            None => Ok(HashSet::new()),
            Some(user) => Ok(self
                .service
                .store()
                .read(move |c| rows::memberships_at(c, &user, at))
                .await?),
        }
    }
}

/// Serves a connection whose first request is `GET /api/v1/events` on the
/// bare socket: reads the request head, runs the same checks as the axum
/// route, and either answers the error or streams until the end.
pub async fn serve_connection(st: Arc<AppState>, stream: TcpStream) {
    let stream = Arc::new(stream);
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::Closed)) | Err(_) => return,
        Ok(Err(HeadError::Bad(status, message))) => {
            let e = ApiError::new(status, 10004, message);
            respond(&stream, e.into_response(), true).await;
            return;
        }
    };
    let (mut parts, http10) = head;
    tracing::debug!(uri = %parts.uri, "event stream");
    let opened = match open(&st, &mut parts).await {
        Ok(o) => o,
        Err(e) => {
            respond(&stream, e.into_response(), !http10).await;
            return;
        }
    };
    let chunked = !http10;
    // Registered and placed in the log before the response head goes out:
    // a client that saw the head misses nothing committed after it.
    let registration = st.hub.register(
        opened.user,
        Some(Socket {
            stream: stream.clone(),
            chunked,
        }),
    );
    let bounds = match st.service.log_bounds().await {
        Ok(b) => b,
        Err(e) => {
            respond(&stream, ApiError::from(e).into_response(), !http10).await;
            return;
        }
    };
    let status_line = if http10 {
        "HTTP/1.0 200 OK\r\nconnection: close\r\n"
    } else {
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
    };
    let response = format!(
        "{status_line}content-type: text/event-stream\r\ncache-control: no-cache\r\ndate: {}\r\n\r\n",
        httpdate_now()
    );
    if write_all(&stream, response.as_bytes()).await.is_err() {
        return;
    }
    let out = Out::Socket(stream.clone());
    let start = Start {
        after: opened.after,
        bounds,
    };
    follow(
        &registration,
        &out,
        st.service.clone(),
        start,
        st.shutdown.clone(),
    )
    .await;
    drop(registration);
    drop(opened.slot);
    if chunked {
        // The last chunk: the response ends cleanly.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), write_all(&stream, b"0\r\n\r\n")).await;
    }
}

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Headers accepted in a request, at most.
const MAX_HEADERS: usize = 64;

enum HeadError {
    Closed,
    Bad(StatusCode, &'static str),
}

/// Reads and parses the request head; returns its parts and whether it is HTTP/1.0.
async fn read_head(stream: &TcpStream) -> Result<(Parts, bool), HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => return to_parts(&req),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Bad(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "too many request headers",
                ));
            }
            Err(_) => {
                return Err(HeadError::Bad(
                    StatusCode::BAD_REQUEST,
                    "malformed HTTP request",
                ));
            }
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::Bad(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request head is too large",
            ));
        }
        stream.readable().await.map_err(|_| HeadError::Closed)?;
        let mut chunk = [0u8; 2048];
        let want = chunk.len().min(MAX_HEAD - buf.len());
        match stream.try_read(&mut chunk[..want]) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return Err(HeadError::Closed),
        }
    }
}

fn to_parts(req: &httparse::Request<'_, '_>) -> Result<(Parts, bool), HeadError> {
    let bad = |m| HeadError::Bad(StatusCode::BAD_REQUEST, m);
    let http10 = req.version == Some(0);
    let mut builder = axum::http::Request::builder()
        .method(req.method.unwrap_or("GET"))
        .uri(req.path.unwrap_or("/"))
        .version(if http10 {
            axum::http::Version::HTTP_10
        } else {
            axum::http::Version::HTTP_11
        });
    for h in req.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    let request = builder
        .body(())
        .map_err(|_| bad("malformed request line or header"))?;
    Ok((request.into_parts().0, http10))
}

/// Writes a complete (error) response and closes the connection.
async fn respond(stream: &TcpStream, resp: Response, http11: bool) {
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.{} {} {}\r\n",
        u8::from(http11),
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\ndate: {}\r\n\r\n",
        body.len(),
        httpdate_now()
    ));
    let _ = write_all(stream, head.as_bytes()).await;
    let _ = write_all(stream, &body).await;
}

/// The `Date` header's value for now.
fn httpdate_now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}
