//! `GET /api/v1/events`: the live event stream as Server-Sent Events.
//!
//! Each subscriber is a task that first subscribes to the live hub, then
//! replays what it is entitled to from the log after the client's last id,
//! then follows the live tail, skipping ids it already sent. So there is no
//! gap and no duplicate between backlog and tail. A subscriber that falls
//! behind the hub (a slow client) goes back to the log and catches up; it
//! never blocks the writer or other subscribers and never silently drops
//! an event. When the log no longer reaches back to the client's id, it
//! sends `reset` and carries on from the newest id.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use crate::model::{Audience, GroupError, Published};
use crate::service::Service;
use crate::store::rows;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

/// Event ids are stored as SQLite integers.
const MAX_EVENT_ID: u64 = i64::MAX as u64;

/// Events read from the log per query while catching up.
const CATCH_UP_PAGE: u32 = 500;
/// Event ids one catch-up query looks at, at most.
const CATCH_UP_WINDOW: u64 = 5_000;

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

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event id", nullable = false, minimum = 0, maximum = 9223372036854775807_i64)),
    responses((status = 200, description = "text/event-stream of `id: <id>`, `event: <kind>`, `data: <Event JSON>`; \
        `event: reset` when the log no longer reaches back to the requested id", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn events(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(q) = q?;
    let all = match q.scope.as_deref() {
        None | Some("") | Some("mine") => false,
        Some("all") if caller.0.app_admin => true,
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
    let after = match headers.get("last-event-id") {
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
    let slot = StreamSlot::take(&st, &caller.0.user_id)?;
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    let user = (!all).then(|| caller.0.user_id.clone());
    let service = st.service.clone();
    let shutdown = st.shutdown.clone();
    let gone = tx.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let mut sub = Subscriber {
            service,
            user,
            out: tx,
        };
        tokio::select! {
            r = sub.run(after) => {
                if let Err(e) = r {
                    tracing::debug!("event stream ended: {e}");
                }
            }
            // The client went away: stop now, not at its next event.
            _ = gone.closed() => {}
            _ = wait_for_shutdown(shutdown) => {}
        }
    });
    let stream = ReceiverStream::new(rx).map(Ok);
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    ))
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

async fn wait_for_shutdown(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[derive(Debug)]
enum StreamEnd {
    ClientGone,
    Store(GroupError),
    HubClosed,
}

impl std::fmt::Display for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamEnd::ClientGone => f.write_str("client went away"),
            StreamEnd::Store(e) => write!(f, "store: {e}"),
            StreamEnd::HubClosed => f.write_str("server shutting down"),
        }
    }
}

impl From<GroupError> for StreamEnd {
    fn from(e: GroupError) -> Self {
        StreamEnd::Store(e)
    }
}

struct Subscriber {
    service: Arc<Service>,
    /// `None` = every event (app admin, scope=all).
    user: Option<String>,
    out: mpsc::Sender<SseEvent>,
}

fn sse_event(e: &crate::model::Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    sse_frame(e, &data)
}

fn sse_frame(e: &crate::model::Event, json: &str) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.as_str())
        .data(json)
}

/// Whether `user` gets `p`, updating the set of groups it belongs to.
pub fn entitled(p: &Published, user: &str, groups: &mut HashSet<String>) -> bool {
    let gid = &p.event.group_id;
    if p.membership.joined.iter().any(|u| u == user) {
        groups.insert(gid.clone());
    }
    let deliver = match &p.audience {
        Audience::Members => groups.contains(gid),
        Audience::Only(users) => users.iter().any(|u| u == user),
    };
    if p.membership.dissolved || p.membership.left.iter().any(|u| u == user) {
        groups.remove(gid);
    }
    deliver
}

impl Subscriber {
    async fn send(&self, ev: SseEvent) -> Result<(), StreamEnd> {
        self.out.send(ev).await.map_err(|_| StreamEnd::ClientGone)
    }

    async fn send_reset(&self, head: u64, why: &str) -> Result<(), StreamEnd> {
        let data = serde_json::json!({"last_event_id": head, "reason": why}).to_string();
        self.send(
            SseEvent::default()
                .id(head.to_string())
                .event("reset")
                .data(data),
        )
        .await
    }

    async fn run(&mut self, after: Option<u64>) -> Result<(), StreamEnd> {
        let mut live = self.service.store().subscribe();
        let (head, pruned) = self.service.log_bounds().await?;
        let mut last = match after {
            None => head,
            Some(a) if a > head => {
                self.send_reset(head, "the requested id is newer than this server's log")
                    .await?;
                head
            }
            Some(a) if a < pruned => {
                self.send_reset(
                    head,
                    "the log no longer reaches back to the requested id; re-read state",
                )
                .await?;
                head
            }
            Some(a) => a,
        };
        let mut upto = head;
        loop {
            let mut groups = self.catch_up(&mut last, &mut upto).await?;
            match self.follow(&mut live, &mut last, &mut groups).await? {
                Followed::Lagged => {
                    live = self.service.store().subscribe();
                    upto = self.service.log_bounds().await?.0;
                }
            }
        }
    }

    /// Sends the entitled events in `(last, upto]` from the log; returns the
    /// user's groups as of `upto`. If pruning overtakes the stream (a client
    /// too slow for the retained log), it says `reset` and moves to the head.
    async fn catch_up(&self, last: &mut u64, upto: &mut u64) -> Result<HashSet<String>, StreamEnd> {
        while *last < *upto {
            let user = self.user.clone();
            // A bounded window of ids per query keeps each one cheap however
            // far back the stream starts.
            let (from, to) = (*last, (*upto).min(last.saturating_add(CATCH_UP_WINDOW)));
            let (page, head) = self
                .service
                .store()
                .read(move |c| {
                    let (head, pruned) = rows::log_bounds(c)?;
                    if from < pruned {
                        return Ok((None, head));
                    }
                    Ok((
                        Some(rows::entitled_events(
                            c,
                            user.as_deref(),
                            from,
                            to,
                            CATCH_UP_PAGE,
                        )?),
                        head,
                    ))
                })
                .await?;
            let Some(page) = page else {
                self.send_reset(
                    head,
                    "the stream fell behind the retained log; re-read state",
                )
                .await?;
                *last = head;
                *upto = head;
                break;
            };
            let full = page.len() as u32 == CATCH_UP_PAGE;
            for e in &page {
                self.send(sse_event(e)).await?;
                *last = e.id;
            }
            if !full {
                *last = to;
            }
        }
        let at = *upto;
        match self.user.clone() {
            None => Ok(HashSet::new()),
            Some(user) => Ok(self
                .service
                .store()
                .read(move |c| rows::memberships_at(c, &user, at))
                .await?),
        }
    }

    async fn follow(
        &self,
        live: &mut broadcast::Receiver<crate::store::sqlite::EventBatch>,
        last: &mut u64,
        groups: &mut HashSet<String>,
    ) -> Result<Followed, StreamEnd> {
        loop {
            match live.recv().await {
                Ok(batch) => {
                    for p in batch.iter() {
                        if p.event.id <= *last {
                            continue;
                        }
                        let deliver = match &self.user {
                            None => true,
                            Some(u) => entitled(p, u, groups),
                        };
                        if deliver {
                            self.send(sse_frame(&p.event, &p.json)).await?;
                        }
                        *last = p.event.id;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => return Ok(Followed::Lagged),
                Err(broadcast::error::RecvError::Closed) => return Err(StreamEnd::HubClosed),
            }
        }
    }
}

enum Followed {
    Lagged,
}
