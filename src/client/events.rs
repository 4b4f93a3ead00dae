//! The live event stream (`GET /api/v1/events`, Server-Sent Events) with
//! automatic reconnection and resume.
//!
//! [`Client::events`] spawns one background task on the current Tokio runtime
//! and returns an [`EventStream`]: a [`futures_util::Stream`] of
//! [`StreamItem`]s (also readable with [`EventStream::recv`]) backed by a
//! bounded channel. The task connects, reports [`StreamItem::Connected`],
//! passes on every event in order and, whenever the connection fails or ends,
//! reports [`StreamItem::Disconnected`] with a running attempt count and
//! reconnects by itself with exponential backoff (100 ms doubling to 5 s, with
//! jitter), sending `Last-Event-ID: <last id seen>` so the server resumes
//! exactly after it: nothing is lost or delivered twice. As a guard, an event
//! whose id is not above the last id seen is dropped.
//!
//! The stream always resumes from a known id: with
//! [`EventStreamOptions::after`] unset, the task first reads the newest event
//! id from `/healthz` and starts there ("from now").
//!
//! A refused UserSig or a forbidden scope (401/403) is final: the stream
//! yields [`StreamItem::Fatal`] and ends. Every other failure is retried.
//! Dropping the [`EventStream`] stops the background task.

use super::error::describe_reqwest;
use super::{Client, ClientError, REQUEST_TIMEOUT, STREAM_IDLE_TIMEOUT, check};
use crate::model::Event;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The first reconnection delay; it doubles with each failure in a row.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest reconnection delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Items buffered between the background task and the reader.
const CHANNEL_CAPACITY: usize = 1024;
/// A connection that lived this long counts as healthy: the next failure
/// starts the backoff from the beginning again.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);

/// Where and what to follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStreamOptions {
    /// Resume after this event id; `None` = only events from now on.
    pub after: Option<u64>,
    /// Every event of every group (app admins only; others get
    /// [`StreamItem::Fatal`] with a 403).
    pub scope_all: bool,
}

/// What the event stream reports.
#[derive(Debug)]
pub enum StreamItem {
    /// A connection is established (the first one, or after a disconnect).
    Connected,
    /// One event, in id order, never twice.
    Event(Event),
    /// The server's log no longer reaches back to the last id seen (or that
    /// id is newer than the server's log): events may have been missed, so
    /// re-read state. The stream carries on after `last_event_id`.
    Reset { last_event_id: u64 },
    /// The connection failed or ended; a reconnection follows after a
    /// backoff. `attempt` counts failures in a row, from 1 ("reconnecting n").
    Disconnected { attempt: u32, error: String },
    /// The server refused the stream for good (bad or expired UserSig, or a
    /// scope not allowed): this is the last item.
    Fatal(ClientError),
}

/// The live event stream; see the [module documentation](self). Yields
/// [`StreamItem`]s until a [`StreamItem::Fatal`]; dropping it stops the
/// background task.
pub struct EventStream {
    rx: mpsc::Receiver<StreamItem>,
    task: Option<JoinHandle<()>>,
}

impl EventStream {
    /// The next item, or `None` after a [`StreamItem::Fatal`].
    pub async fn recv(&mut self) -> Option<StreamItem> {
        self.rx.recv().await
    }
}

impl Stream for EventStream {
    type Item = StreamItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Client {
    /// Follows `GET /api/v1/events`; see the [module documentation](self).
    /// Needs a Tokio runtime (the reader is a spawned task); outside one the
    /// stream yields a single [`StreamItem::Fatal`].
    pub fn events(&self, opts: EventStreamOptions) -> EventStream {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let reader = Reader {
            client: self.clone(),
            scope_all: opts.scope_all,
            last: opts.after,
            tx,
        };
        let task = match tokio::runtime::Handle::try_current() {
            Ok(rt) => Some(rt.spawn(reader.run())),
            Err(_) => {
                let _ = reader.tx.try_send(StreamItem::Fatal(ClientError::Setup(
                    "the event stream needs a Tokio runtime".into(),
                )));
                None
            }
        };
        EventStream { rx, task }
    }
}

/// How one connection ended.
enum End {
    /// Retry after a backoff; `healthy` = it worked for a while.
    Broken {
        error: String,
        healthy: bool,
    },
    Fatal(ClientError),
    /// The [`EventStream`] was dropped.
    ReaderGone,
}

struct Reader {
    client: Client,
    scope_all: bool,
    /// The last event id seen (or the id to resume after).
    last: Option<u64>,
    tx: mpsc::Sender<StreamItem>,
}

impl Reader {
    async fn run(mut self) {
        let mut failures: u32 = 0;
        loop {
            match self.connection().await {
                End::ReaderGone => return,
                End::Fatal(e) => {
                    let _ = self.tx.send(StreamItem::Fatal(e)).await;
                    return;
                }
                End::Broken { error, healthy } => {
                    failures = if healthy {
                        1
                    } else {
                        failures.saturating_add(1)
                    };
                    let item = StreamItem::Disconnected {
                        attempt: failures,
                        error,
                    };
                    if self.tx.send(item).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff(failures)) => {}
                        _ = self.tx.closed() => return,
                    }
                }
            }
        }
    }

    async fn send(&self, item: StreamItem) -> Result<(), End> {
        self.tx.send(item).await.map_err(|_| End::ReaderGone)
    }

    /// One connection: connect, read until it breaks.
    async fn connection(&mut self) -> End {
        match self.connect_and_read().await {
            Ok(never) => match never {},
            Err(end) => end,
        }
    }

    async fn connect_and_read(&mut self) -> Result<std::convert::Infallible, End> {
        let last = match self.last {
            Some(id) => id,
            None => {
                let head = self
                    .client
                    .health()
                    .await
                    .map_err(|e| broken_or_fatal(e, false))?
                    .last_event_id;
                self.last = Some(head);
                head
            }
        };
        let mut url = self
            .client
            .url(&["api", "v1", "events"])
            .map_err(End::Fatal)?;
        if self.scope_all {
            url.query_pairs_mut().append_pair("scope", "all");
        }
        let request = self
            .client
            .stream_http
            .get(url)
            .header(AUTHORIZATION, self.client.auth.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache")
            .header("Last-Event-ID", last.to_string())
            .send();
        let response = match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Err(_) => return Err(broken("the server did not answer in time", false)),
            Ok(Err(e)) => return Err(broken(describe_reqwest(&e), false)),
            Ok(Ok(r)) => r,
        };
        let response = check(response)
            .await
            .map_err(|e| broken_or_fatal(e, false))?;
        let connected_at = Instant::now();
        self.send(StreamItem::Connected).await?;
        let mut delivered = false;
        let mut sse = response.bytes_stream().eventsource();
        loop {
            let read = tokio::time::timeout(STREAM_IDLE_TIMEOUT, sse.next()).await;
            let healthy = delivered || connected_at.elapsed() >= HEALTHY_AFTER;
            let next = match read {
                Err(_) => {
                    return Err(broken(
                        format!(
                            "nothing from the server for {} s",
                            STREAM_IDLE_TIMEOUT.as_secs()
                        ),
                        healthy,
                    ));
                }
                Ok(None) => return Err(broken("the server closed the stream", healthy)),
                Ok(Some(Err(EventStreamError::Transport(e)))) => {
                    return Err(broken(describe_reqwest(&e), healthy));
                }
                Ok(Some(Err(e))) => return Err(broken(format!("bad event stream: {e}"), healthy)),
                Ok(Some(Ok(ev))) => ev,
            };
            if self.handle(next).await? {
                delivered = true;
            }
        }
    }

    /// Passes one SSE message on; returns whether it yielded an item.
    async fn handle(&mut self, msg: eventsource_stream::Event) -> Result<bool, End> {
        if msg.event == "reset" {
            let id = serde_json::from_str::<serde_json::Value>(&msg.data)
                .ok()
                .and_then(|v| v.get("last_event_id").and_then(serde_json::Value::as_u64))
                .or_else(|| msg.id.trim().parse().ok());
            let Some(id) = id else {
                tracing::warn!("reset event without an id: {:?}", msg.data);
                return Ok(false);
            };
            // The server carries on after this id, even if it is below the
            // last id seen (its log was replaced): follow it.
            self.last = Some(id);
            self.send(StreamItem::Reset { last_event_id: id }).await?;
            return Ok(true);
        }
        let last = self.last.unwrap_or(0);
        match serde_json::from_str::<Event>(&msg.data) {
            Ok(event) => {
                if event.id <= last {
                    tracing::debug!("dropping event {} (already at {last})", event.id);
                    return Ok(false);
                }
                self.last = Some(event.id);
                self.send(StreamItem::Event(event)).await?;
                Ok(true)
            }
            Err(e) => {
                // A kind this client does not know yet, say: skip it, but
                // keep its place so a resume does not ask for it again.
                tracing::warn!(
                    "skipping an undecodable event {:?} ({:?}): {e}",
                    msg.id,
                    msg.event
                );
                if let Ok(id) = msg.id.trim().parse::<u64>() {
                    if id > last {
                        self.last = Some(id);
                    }
                }
                Ok(false)
            }
        }
    }
}

fn broken(error: impl Into<String>, healthy: bool) -> End {
    End::Broken {
        error: error.into(),
        healthy,
    }
}

/// 401 and 403 are final; anything else is worth another try.
fn broken_or_fatal(e: ClientError, healthy: bool) -> End {
    if e.is_auth() {
        End::Fatal(e)
    } else {
        broken(e.to_string(), healthy)
    }
}

/// The delay before reconnection `attempt` (1-based): 100 ms doubling to
/// 5 s, then a random point in its upper half.
pub fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let full = BACKOFF_START.saturating_mul(1u32 << exp).min(BACKOFF_MAX);
    let ms = full.as_millis() as u64;
    Duration::from_millis(rand::random_range(ms / 2..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        for (attempt, max_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (6, 3200),
            (7, 5000),
            (100, 5000),
        ] {
            let d = backoff(attempt).as_millis() as u64;
            assert!(d >= max_ms / 2 && d <= max_ms, "attempt {attempt}: {d} ms");
        }
    }
}
