//! Reading the live event stream (`GET /api/v1/events`) in tests: one frame
//! at a time with timeouts, per-user streams opened at the current head, and
//! "fences" that say when a stream has shown everything before them.
//!
//! A stream is either *checked* ([`Sse::open`], [`Sse::from_head`],
//! [`Sse::from_response`], [`Watchers::open`]): the answer must be
//! `text/event-stream`, every frame other than `reset` must agree with its
//! `data` (same id and kind, all the fields present) and a fence must reach
//! its owner alone; or *unchecked* (the `_unchecked` constructors): status
//! 200, and frames are only parsed.
#![allow(dead_code)]

use super::{ADMIN, TestServer};
use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// The most any single wait for an event may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// The newest event id (`/healthz`).
pub async fn head(ts: &TestServer) -> u64 {
    let (status, body) = ts.get(ADMIN, "/healthz").await;
    assert_eq!(status, 200, "healthz: {body}");
    body["last_event_id"].as_u64().expect("last_event_id")
}

/// One SSE frame: `id:`, `event:` and the parsed `data:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    pub id: u64,
    pub kind: String,
    pub data: Value,
}

/// (kind, group, targets): what most assertions compare.
pub type Shape = (String, String, Vec<String>);

impl Ev {
    pub fn group(&self) -> &str {
        self.data["group_id"].as_str().unwrap_or("")
    }

    pub fn targets(&self) -> Vec<String> {
        self.data["targets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn detail(&self) -> &Value {
        &self.data["detail"]
    }

    pub fn shape(&self) -> Shape {
        (self.kind.clone(), self.group().to_string(), self.targets())
    }
}

pub fn shapes(evs: &[Ev]) -> Vec<Shape> {
    evs.iter().map(Ev::shape).collect()
}

pub fn sh(kind: &str, group: &str, targets: &[&str]) -> Shape {
    (
        kind.to_string(),
        group.to_string(),
        targets.iter().map(|t| t.to_string()).collect(),
    )
}

pub fn ids(evs: &[Ev]) -> Vec<u64> {
    evs.iter().map(|e| e.id).collect()
}

pub type Frames = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// Requests `/api/v1/events{query}` as `user` (with `Last-Event-ID` if
/// given) and returns the answer, whatever its status.
pub async fn connect(
    ts: &TestServer,
    user: &str,
    query: &str,
    last_event_id: Option<u64>,
) -> reqwest::Response {
    connect_with(&ts.http, ts, user, query, last_event_id).await
}

/// [`connect`] over another client (HTTP/2, small windows...).
pub async fn connect_with(
    http: &reqwest::Client,
    ts: &TestServer,
    user: &str,
    query: &str,
    last_event_id: Option<u64>,
) -> reqwest::Response {
    let mut req = http
        .get(ts.url(&format!("/api/v1/events{query}")))
        .bearer_auth(ts.sig(user));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    timeout(WAIT, req.send())
        .await
        .expect("the event stream answers in time")
        .expect("the event stream request is sent")
}

/// An open event stream of one user. Nothing is read until asked.
pub struct Sse {
    pub user: String,
    pub frames: Frames,
    /// Whether frames and fences are checked (see the module docs).
    checked: bool,
}

impl Sse {
    /// A checked stream of `/api/v1/events{query}` as `user`.
    pub async fn open(ts: &TestServer, user: &str, query: &str, last_event_id: Option<u64>) -> Sse {
        let resp = connect(ts, user, query, last_event_id).await;
        Sse::from_response(user, query, resp)
    }

    /// [`Sse::open`] without the checks.
    pub async fn open_unchecked(
        ts: &TestServer,
        user: &str,
        query: &str,
        last_event_id: Option<u64>,
    ) -> Sse {
        let resp = connect(ts, user, query, last_event_id).await;
        Sse::from_response_unchecked(user, query, resp)
    }

    /// A checked stream over an answer of [`connect`] / [`connect_with`].
    pub fn from_response(user: &str, query: &str, resp: reqwest::Response) -> Sse {
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut sse = Sse::from_response_unchecked(user, query, resp);
        assert!(
            ctype.starts_with("text/event-stream"),
            "content type {ctype:?}"
        );
        sse.checked = true;
        sse
    }

    /// [`Sse::from_response`] without the checks: the status must be 200.
    pub fn from_response_unchecked(user: &str, query: &str, resp: reqwest::Response) -> Sse {
        let status = resp.status().as_u16();
        assert_eq!(status, 200, "events{query} as {user}");
        let frames = resp
            .bytes_stream()
            .eventsource()
            .map(|r| r.map_err(|e| e.to_string()));
        Sse {
            user: user.to_string(),
            frames: Box::pin(frames),
            checked: false,
        }
    }

    /// A checked stream that starts at the current head: whatever happens
    /// after this call reaches it (through the log if need be), nothing before.
    pub async fn from_head(ts: &TestServer, user: &str) -> Sse {
        let h = head(ts).await;
        Sse::open(ts, user, &format!("?after={h}"), None).await
    }

    /// [`Sse::from_head`] without the checks.
    pub async fn from_head_unchecked(ts: &TestServer, user: &str) -> Sse {
        let h = head(ts).await;
        Sse::open_unchecked(ts, user, &format!("?after={h}"), None).await
    }

    /// The next frame, or `None` if none arrives within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Ev> {
        let frame = match timeout(within, self.frames.next()).await {
            Err(_) => return None,
            Ok(None) => panic!("the event stream of {} ended", self.user),
            Ok(Some(Err(e))) => panic!("the event stream of {} failed: {e}", self.user),
            Ok(Some(Ok(f))) => f,
        };
        let data: Value = serde_json::from_str(&frame.data)
            .unwrap_or_else(|e| panic!("data of frame {frame:?} is not JSON: {e}"));
        let id: u64 = frame
            .id
            .parse()
            .unwrap_or_else(|_| panic!("frame {frame:?} has no numeric id"));
        let ev = Ev {
            id,
            kind: frame.event.clone(),
            data,
        };
        if self.checked && ev.kind != "reset" {
            assert_eq!(
                ev.data["id"].as_u64(),
                Some(id),
                "id: and data.id agree: {frame:?}"
            );
            assert_eq!(
                ev.data["kind"].as_str(),
                Some(ev.kind.as_str()),
                "event: and data.kind agree"
            );
            for field in ["time", "group_id", "actor", "targets", "detail"] {
                assert!(ev.data.get(field).is_some(), "data has {field}: {frame:?}");
            }
        }
        Some(ev)
    }

    /// The next frame; fails after [`WAIT`] or when the stream ends.
    pub async fn next(&mut self) -> Ev {
        match self.next_within(WAIT).await {
            Some(e) => e,
            None => panic!("no event for {} within {WAIT:?}", self.user),
        }
    }

    /// Reads until an event matches `stop` (included); fails after `limit`.
    pub async fn until(&mut self, limit: Duration, mut stop: impl FnMut(&Ev) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left).await {
                Some(e) => {
                    let done = stop(&e);
                    got.push(e);
                    if done {
                        return got;
                    }
                }
                None => panic!(
                    "{} did not see the expected event within {limit:?}; got {:?}",
                    self.user,
                    shapes(&got)
                ),
            }
        }
    }

    /// Reads exactly `n` frames, each within [`WAIT`].
    pub async fn take(&mut self, n: usize) -> Vec<Ev> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            got.push(self.next().await);
        }
        got
    }

    /// Frames up to and including id `upto`, each within [`WAIT`]; fails on
    /// a frame past `upto`.
    pub async fn read_through(&mut self, upto: u64) -> Vec<Ev> {
        let mut got = Vec::new();
        while got.last().map(|e: &Ev| e.id) != Some(upto) {
            let e = self.next().await;
            assert!(e.id <= upto, "read past {upto}: {e:?}");
            got.push(e);
        }
        got
    }

    /// Creates this user's fence group and reads up to its `group_created`;
    /// returns what came before it and the fence's event id.
    pub async fn fence(&mut self, ts: &TestServer) -> (Vec<Ev>, u64) {
        let user = self.user.clone();
        let fence = ts
            .create(&user, json!({"name": "fence", "type": "Work"}))
            .await;
        let mut got = self
            .until(WAIT, |e| e.kind == "group_created" && e.group() == fence)
            .await;
        let f = got.pop().expect("the fence event");
        if self.checked {
            assert_eq!(f.targets(), vec![user], "a fence reaches its owner");
        }
        (got, f.id)
    }
}

/// Several users' streams, opened at the current head.
pub struct Watchers {
    streams: BTreeMap<String, Sse>,
}

impl Watchers {
    /// Checked streams (see [`Sse::from_head`]).
    pub async fn open(ts: &TestServer, users: &[&str]) -> Watchers {
        let mut streams = BTreeMap::new();
        for u in users {
            streams.insert(u.to_string(), Sse::from_head(ts, u).await);
        }
        Watchers { streams }
    }

    /// Unchecked streams (see [`Sse::from_head_unchecked`]).
    pub async fn open_unchecked(ts: &TestServer, users: &[&str]) -> Watchers {
        let mut streams = BTreeMap::new();
        for u in users {
            streams.insert(u.to_string(), Sse::from_head_unchecked(ts, u).await);
        }
        Watchers { streams }
    }

    /// Everything each user received since the last settle (fences removed).
    pub async fn settle(&mut self, ts: &TestServer) -> BTreeMap<String, Vec<Ev>> {
        let mut out = BTreeMap::new();
        for (user, s) in self.streams.iter_mut() {
            let (got, _) = s.fence(ts).await;
            assert_strictly_increasing(&got, user);
            out.insert(user.clone(), got);
        }
        out
    }
}

#[track_caller]
pub fn assert_strictly_increasing(evs: &[Ev], who: &str) {
    for w in evs.windows(2) {
        assert!(
            w[0].id < w[1].id,
            "{who}: ids not strictly increasing: {:?}",
            ids(evs)
        );
    }
}

#[track_caller]
pub fn assert_nothing(got: &BTreeMap<String, Vec<Ev>>, users: &[&str], what: &str) {
    for u in users {
        assert!(
            got[*u].is_empty(),
            "{what}: {u} must receive nothing, got {:?}",
            shapes(&got[*u])
        );
    }
}

#[track_caller]
pub fn assert_each(got: &BTreeMap<String, Vec<Ev>>, users: &[&str], want: &[Shape], what: &str) {
    for u in users {
        assert_eq!(shapes(&got[*u]), want, "{what}: what {u} received");
    }
}
