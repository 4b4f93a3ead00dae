//! The event stream (`GET /api/v1/events`) on the wire, spoken byte by byte
//! over plain TCP: a connection whose first request is the stream is served
//! on the bare socket (its own response head, one HTTP chunk per SSE frame,
//! errors answered and the connection closed), and one that asks for it
//! after other requests is served by axum. Both must carry the same events.
//!
//! Absence is checked with fences (see tests/events.rs): a user creates a
//! one-member group, whose `group_created` goes to that user alone and has
//! a larger id than anything before it.

mod common;

use common::sse::{Ev, WAIT, assert_strictly_increasing, head, ids};
use common::{ADMIN, APP_ID, TestServer, config_for, gp, ok};
use groupdeck::usersig::SigKey;
use reqwest::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};

// ---------------------------------------------------------------------------
// Raw HTTP/1.x over a TCP socket

fn addr(ts: &TestServer) -> SocketAddr {
    ts.server.as_ref().expect("the server runs").addr
}

/// A request head: `GET {target} {version}`, a Host header and `headers`.
fn request(target: &str, version: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut text = format!("GET {target} {version}\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.into_bytes()
}

fn bearer(ts: &TestServer, user: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {}", ts.sig(user)))
}

/// A response head.
#[derive(Debug)]
struct Head {
    status_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {:?}", self.status_line))
    }

    /// The only value of header `name` (case-insensitive), if any.
    fn get(&self, name: &str) -> Option<&str> {
        let all: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            all.len() <= 1,
            "header {name} sent {} times: {self:?}",
            all.len()
        );
        all.first().copied()
    }
}

/// What one read gave.
enum Got {
    Data,
    /// The peer closed (FIN) or reset the connection.
    Closed,
    Timeout,
}

/// A client connection and what it has read but not consumed.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(ts: &TestServer) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr(ts)))
            .await
            .expect("connects in time")
            .expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// A connection whose receive buffer is `bytes` (set before connecting,
    /// so the window the server sees stays that small).
    async fn connect_small(ts: &TestServer, bytes: u32) -> Raw {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let stream = timeout(WAIT, socket.connect(addr(ts)))
            .await
            .expect("connects in time")
            .expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("the request is written in time")
            .expect("the request is written");
    }

    /// Reads what arrives next, waiting at most until `deadline`.
    async fn read_more(&mut self, deadline: Instant) -> Got {
        self.buf.reserve(64 * 1024);
        match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Got::Timeout,
            Ok(Ok(0)) => Got::Closed,
            Ok(Ok(_)) => Got::Data,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Got::Closed,
            Ok(Err(e)) => panic!("read failed: {e}"),
        }
    }

    /// Reads a response head; fails after [`WAIT`] or if the peer closes first.
    async fn head(&mut self) -> Head {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                let text = String::from_utf8(self.buf[..at].to_vec()).expect("the head is text");
                self.buf.drain(..at + 4);
                let mut lines = text.split("\r\n");
                let status_line = lines.next().unwrap_or("").to_string();
                let headers = lines
                    .map(|l| {
                        let (n, v) = l
                            .split_once(':')
                            .unwrap_or_else(|| panic!("bad header line {l:?}"));
                        (n.trim().to_string(), v.trim().to_string())
                    })
                    .collect();
                return Head {
                    status_line,
                    headers,
                };
            }
            match self.read_more(deadline).await {
                Got::Data => {}
                Got::Closed => panic!(
                    "closed before a response head; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Got::Timeout => panic!(
                    "no response head within {WAIT:?}; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Exactly `n` bytes of body.
    async fn body(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        while self.buf.len() < n {
            match self.read_more(deadline).await {
                Got::Data => {}
                Got::Closed => panic!("closed after {} of {n} body bytes", self.buf.len()),
                Got::Timeout => panic!("only {} of {n} body bytes within {WAIT:?}", self.buf.len()),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// The server closes the connection without sending anything more.
    async fn expect_closed(&mut self, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(
                self.buf.is_empty(),
                "{what}: unexpected bytes after the response: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            match self.read_more(deadline).await {
                Got::Data => {}
                Got::Closed => return,
                Got::Timeout => panic!("{what}: the connection is still open after {WAIT:?}"),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A complete response with a `content-length` body (not a stream).
async fn response(raw: &mut Raw) -> (Head, Vec<u8>) {
    let head = raw.head().await;
    let len: usize = head
        .get("content-length")
        .unwrap_or_else(|| panic!("no content-length: {head:?}"))
        .parse()
        .expect("numeric content-length");
    let body = raw.body(len).await;
    (head, body)
}

/// Sends `req` on a fresh connection and checks the bare path's error
/// answer: status, JSON error body with `code`, `connection: close`, then
/// the connection closed. Returns the body.
async fn expect_error(ts: &TestServer, req: &[u8], status: u16, code: u64, what: &str) -> Value {
    expect_error_in(ts, req, status, code, "HTTP/1.1", what).await
}

/// [`expect_error`] for a given HTTP version, also checking that the
/// connection is closed after the answer.
async fn expect_error_in(
    ts: &TestServer,
    req: &[u8],
    status: u16,
    code: u64,
    version: &str,
    what: &str,
) -> Value {
    let mut raw = Raw::connect(ts).await;
    raw.send(req).await;
    let (head, body) = response(&mut raw).await;
    let body = check_error(&head, &body, status, code, version, what);
    raw.expect_closed(what).await;
    body
}

#[track_caller]
fn check_error(
    head: &Head,
    body: &[u8],
    status: u16,
    code: u64,
    version: &str,
    what: &str,
) -> Value {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    assert_eq!(
        head.status_line,
        format!("{version} {status} {reason}"),
        "{what}: status line; {head:?}, body {:?}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(
        head.get("content-type"),
        Some("application/json"),
        "{what}: {head:?}"
    );
    assert_eq!(head.get("connection"), Some("close"), "{what}: {head:?}");
    assert!(
        head.get("date").is_some_and(|d| !d.is_empty()),
        "{what}: {head:?}"
    );
    assert!(head.get("transfer-encoding").is_none(), "{what}: {head:?}");
    let json: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{what}: body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let obj = json.as_object().expect("an object");
    assert_eq!(obj.len(), 1, "{what}: only `error`: {json}");
    assert_eq!(json["error"]["code"].as_u64(), Some(code), "{what}: {json}");
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: a message: {json}"
    );
    assert_eq!(
        json["error"].as_object().map(|o| o.len()),
        Some(2),
        "{what}: code and message: {json}"
    );
    json
}

// ---------------------------------------------------------------------------
// SSE frames over the wire

/// How the stream's body is framed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Framing {
    /// HTTP/1.1 chunks, each exactly one SSE frame (the bare path).
    OneFramePerChunk,
    /// HTTP/1.1 chunks cut anywhere (hyper).
    Chunked,
    /// No transfer coding: the body runs until the connection closes.
    Plain,
}

enum Item {
    Ev(Ev),
    /// The last chunk (`0\r\n\r\n`), or the end of a plain body.
    End,
}

/// An open event stream read off a raw connection.
struct Wire {
    user: String,
    raw: Raw,
    framing: Framing,
    /// De-chunked SSE text not yet parsed (`Chunked`, `Plain`).
    text: Vec<u8>,
    /// SSE bytes received (frames and comments).
    bytes: usize,
    ended: bool,
    /// The text of the last frame (`OneFramePerChunk`).
    last_text: Vec<u8>,
    /// Fields of the event being read (`Chunked`).
    fields: Fields,
}

/// The fields of an SSE event read line by line.
#[derive(Default)]
struct Fields {
    id: String,
    event: String,
    data: Vec<String>,
}

/// One SSE frame's text: `None` for a comment (keep-alive), else its event,
/// checked like tests/common/sse.rs does.
#[track_caller]
fn parse_frame(text: &[u8], who: &str) -> Option<Ev> {
    let text = std::str::from_utf8(text).unwrap_or_else(|_| panic!("{who}: frame is not UTF-8"));
    assert!(
        text.ends_with("\n\n"),
        "{who}: a frame ends with a blank line: {text:?}"
    );
    let body = &text[..text.len() - 2];
    assert!(!body.contains("\n\n"), "{who}: one frame only: {text:?}");
    assert!(!body.contains('\r'), "{who}: no CR in a frame: {text:?}");
    if body.starts_with(':') {
        assert!(
            body.lines().all(|l| l.starts_with(':')),
            "{who}: a comment frame: {text:?}"
        );
        assert_eq!(body, ":keep-alive", "{who}: the keep-alive comment");
        return None;
    }
    let mut lines = body.split('\n');
    let mut field = |name: &str| {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{who}: no {name} line in {text:?}"));
        line.strip_prefix(&format!("{name}: "))
            .unwrap_or_else(|| panic!("{who}: expected `{name}: ` in {text:?}"))
            .to_string()
    };
    let id: u64 = field("id")
        .parse()
        .unwrap_or_else(|_| panic!("{who}: numeric id in {text:?}"));
    let kind = field("event");
    let data: Value = serde_json::from_str(&field("data"))
        .unwrap_or_else(|e| panic!("{who}: data is JSON ({e}) in {text:?}"));
    assert!(lines.next().is_none(), "{who}: three lines: {text:?}");
    if kind != "reset" {
        assert_eq!(
            data["id"].as_u64(),
            Some(id),
            "{who}: id and data.id: {text:?}"
        );
        assert_eq!(
            data["kind"].as_str(),
            Some(kind.as_str()),
            "{who}: {text:?}"
        );
        for f in ["time", "group_id", "actor", "targets", "detail"] {
            assert!(data.get(f).is_some(), "{who}: data has {f}: {text:?}");
        }
    }
    Some(Ev { id, kind, data })
}

impl Wire {
    fn new(user: &str, raw: Raw, framing: Framing) -> Wire {
        let mut w = Wire {
            user: user.to_string(),
            raw,
            framing,
            text: Vec::new(),
            bytes: 0,
            ended: false,
            last_text: Vec::new(),
            fields: Fields::default(),
        };
        if framing == Framing::Plain {
            w.text = std::mem::take(&mut w.raw.buf);
        }
        w
    }

    /// One line of the de-chunked body read by the SSE spec's rules (lines
    /// end in CRLF, LF or CR; unknown fields are ignored; a blank line
    /// dispatches an event that has data): `None` when no complete line is
    /// buffered, `Some(None)` for a line that completes no event.
    fn spec_line(&mut self) -> Option<Option<Ev>> {
        let pos = self.text.iter().position(|&b| b == b'\n' || b == b'\r')?;
        let mut next = pos + 1;
        if self.text[pos] == b'\r' {
            // A CR at the end may be the first half of CRLF.
            let follow = *self.text.get(pos + 1)?;
            if follow == b'\n' {
                next += 1;
            }
        }
        let line = String::from_utf8(self.text[..pos].to_vec()).expect("SSE text is UTF-8");
        self.text.drain(..next);
        self.bytes += next;
        if line.is_empty() {
            let f = std::mem::take(&mut self.fields);
            if f.data.is_empty() {
                return Some(None);
            }
            let text = format!(
                "id: {}\nevent: {}\ndata: {}\n\n",
                f.id,
                f.event,
                f.data.join("\n")
            );
            return Some(parse_frame(text.as_bytes(), &self.user));
        }
        if line.starts_with(':') {
            return Some(None);
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match name {
            "id" => self.fields.id = value.to_string(),
            "event" => self.fields.event = value.to_string(),
            "data" => self.fields.data.push(value.to_string()),
            _ => {}
        }
        Some(None)
    }

    /// Takes one complete item out of what was read, if there is one.
    fn parse_one(&mut self) -> Option<Item> {
        loop {
            // SSE text already de-chunked.
            if self.framing == Framing::Chunked {
                if let Some(item) = self.spec_line() {
                    match item {
                        Some(ev) => return Some(Item::Ev(ev)),
                        None => continue,
                    }
                }
            }
            if self.framing == Framing::Plain {
                if let Some(at) = find(&self.text, b"\n\n") {
                    let frame: Vec<u8> = self.text.drain(..at + 2).collect();
                    self.bytes += frame.len();
                    match parse_frame(&frame, &self.user) {
                        Some(ev) => return Some(Item::Ev(ev)),
                        None => continue,
                    }
                }
                return None;
            }
            // One chunk off the wire.
            let buf = &mut self.raw.buf;
            let line_end = find(buf, b"\r\n")?;
            let size_text = std::str::from_utf8(&buf[..line_end]).expect("chunk size is text");
            let size = usize::from_str_radix(size_text, 16)
                .unwrap_or_else(|_| panic!("{}: bad chunk size line {size_text:?}", self.user));
            assert!(
                !size_text.is_empty() && size_text.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: a bare hex chunk size, got {size_text:?}",
                self.user
            );
            if self.framing == Framing::OneFramePerChunk {
                assert_eq!(
                    size_text,
                    format!("{size:x}"),
                    "{}: lowercase hex",
                    self.user
                );
            }
            let total = line_end + 2 + size + 2;
            if buf.len() < total {
                return None;
            }
            assert_eq!(
                &buf[total - 2..total],
                b"\r\n",
                "{}: a chunk ends with CRLF",
                self.user
            );
            let data: Vec<u8> = buf[line_end + 2..line_end + 2 + size].to_vec();
            buf.drain(..total);
            if size == 0 {
                assert!(
                    self.text.is_empty() || self.framing == Framing::Chunked,
                    "{}: the stream ended inside a frame",
                    self.user
                );
                return Some(Item::End);
            }
            match self.framing {
                Framing::OneFramePerChunk => {
                    self.bytes += data.len();
                    self.last_text = data.clone();
                    if let Some(ev) = parse_frame(&data, &self.user) {
                        return Some(Item::Ev(ev));
                    }
                }
                _ => self.text.extend_from_slice(&data),
            }
        }
    }

    /// The next item, or `None` if nothing complete arrives by `deadline`.
    async fn item_by(&mut self, deadline: Instant) -> Option<Item> {
        assert!(!self.ended, "{}: read past the end", self.user);
        loop {
            if let Some(item) = self.parse_one() {
                if matches!(item, Item::End) {
                    self.ended = true;
                }
                return Some(item);
            }
            let before = self.raw.buf.len();
            match self.raw.read_more(deadline).await {
                Got::Data => {
                    if self.framing == Framing::Plain {
                        let new: Vec<u8> = self.raw.buf.drain(before..).collect();
                        self.text.extend_from_slice(&new);
                    }
                }
                Got::Timeout => return None,
                Got::Closed => {
                    if self.framing == Framing::Plain {
                        assert!(
                            self.text.is_empty(),
                            "{}: closed inside a frame: {:?}",
                            self.user,
                            String::from_utf8_lossy(&self.text)
                        );
                        self.ended = true;
                        return Some(Item::End);
                    }
                    panic!(
                        "{}: the connection closed without the last chunk; unparsed {:?}",
                        self.user,
                        String::from_utf8_lossy(&self.raw.buf)
                    );
                }
            }
        }
    }

    /// The next event, or `None` if none arrives within `within`; fails if
    /// the stream ends.
    async fn next_within(&mut self, within: Duration) -> Option<Ev> {
        match self.item_by(Instant::now() + within).await {
            None => None,
            Some(Item::Ev(e)) => Some(e),
            Some(Item::End) => panic!("the event stream of {} ended", self.user),
        }
    }

    async fn next(&mut self) -> Ev {
        match self.next_within(WAIT).await {
            Some(e) => e,
            None => panic!("no event for {} within {WAIT:?}", self.user),
        }
    }

    async fn take(&mut self, n: usize) -> Vec<Ev> {
        let mut got = Vec::new();
        while got.len() < n {
            got.push(self.next().await);
        }
        got
    }

    /// Every event up to and including id `upto`, within `limit` in all;
    /// fails on an event past `upto`.
    async fn read_through(&mut self, upto: u64, limit: Duration) -> Vec<Ev> {
        let deadline = Instant::now() + limit;
        let mut got: Vec<Ev> = Vec::new();
        while got.last().map(|e| e.id) != Some(upto) {
            match self.item_by(deadline).await {
                Some(Item::Ev(e)) => {
                    assert!(e.id <= upto, "{}: read past {upto}: {e:?}", self.user);
                    got.push(e);
                }
                Some(Item::End) => panic!("the event stream of {} ended", self.user),
                None => panic!(
                    "{}: got {} events, the last {:?}, not through {upto} within {limit:?}",
                    self.user,
                    got.len(),
                    got.last().map(|e| e.id)
                ),
            }
        }
        got
    }

    /// Creates this user's fence group and reads through its
    /// `group_created`; returns what came before it and the fence's id.
    /// The stream is its user's own and carried nothing else: that user's
    /// fence is the next thing on it.
    async fn fence_is_next(&mut self, ts: &TestServer) {
        let (before, _) = self.fence(ts).await;
        assert!(before.is_empty(), "{}: {before:?}", self.user);
    }

    async fn fence(&mut self, ts: &TestServer) -> (Vec<Ev>, u64) {
        let user = self.user.clone();
        let g = ts
            .create(&user, json!({"name": "fence", "type": "Work"}))
            .await;
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            match self.item_by(deadline).await {
                Some(Item::Ev(e)) if e.kind == "group_created" && e.group() == g => {
                    assert_eq!(e.targets(), vec![user.clone()], "a fence reaches its owner");
                    return (got, e.id);
                }
                Some(Item::Ev(e)) => got.push(e),
                Some(Item::End) => panic!("the event stream of {user} ended"),
                None => panic!(
                    "{user} did not see its fence within {WAIT:?}; got {:?}",
                    ids(&got)
                ),
            }
        }
    }

    /// De-chunked body text (`Chunked`) up to and including the first
    /// blank line (`\n\n`), read within [`WAIT`].
    async fn first_frame_text(&mut self) -> Vec<u8> {
        assert_eq!(self.framing, Framing::Chunked);
        let deadline = Instant::now() + WAIT;
        loop {
            while let Some(line_end) = find(&self.raw.buf, b"\r\n") {
                let size_text = std::str::from_utf8(&self.raw.buf[..line_end]).expect("text");
                let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
                let total = line_end + 2 + size + 2;
                if self.raw.buf.len() < total {
                    break;
                }
                let data: Vec<u8> = self.raw.buf[line_end + 2..line_end + 2 + size].to_vec();
                self.raw.buf.drain(..total);
                self.text.extend_from_slice(&data);
            }
            if let Some(at) = find(&self.text, b"\n\n") {
                return self.text.drain(..at + 2).collect();
            }
            match self.raw.read_more(deadline).await {
                Got::Data => {}
                Got::Closed => panic!("{}: closed", self.user),
                Got::Timeout => panic!(
                    "{}: no complete frame within {WAIT:?}; body so far {:?}",
                    self.user,
                    String::from_utf8_lossy(&self.text)
                ),
            }
        }
    }

    /// Reads to the end of the stream: the last chunk (or the close of a
    /// plain body), then the connection closes. Returns the events before it.
    async fn read_to_end(&mut self, limit: Duration) -> Vec<Ev> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        loop {
            match self.item_by(deadline).await {
                Some(Item::Ev(e)) => got.push(e),
                Some(Item::End) => break,
                None => panic!("{}: the stream did not end within {limit:?}", self.user),
            }
        }
        if self.framing != Framing::Plain {
            self.raw.expect_closed(&self.user).await;
        }
        got
    }
}

/// Checks the bare path's head of a live stream over HTTP/1.1.
#[track_caller]
fn check_stream_head(head: &Head, what: &str) {
    assert_eq!(head.status_line, "HTTP/1.1 200 OK", "{what}: {head:?}");
    assert_eq!(
        head.get("transfer-encoding"),
        Some("chunked"),
        "{what}: {head:?}"
    );
    assert_eq!(
        head.get("content-type"),
        Some("text/event-stream"),
        "{what}: {head:?}"
    );
    assert_eq!(
        head.get("cache-control"),
        Some("no-cache"),
        "{what}: {head:?}"
    );
    let date = head
        .get("date")
        .unwrap_or_else(|| panic!("{what}: no date: {head:?}"));
    assert!(
        httpdate::parse_http_date(date).is_ok(),
        "{what}: an HTTP date: {date:?}"
    );
    assert!(head.get("content-length").is_none(), "{what}: {head:?}");
    assert!(head.get("connection").is_none(), "{what}: {head:?}");
}

/// Opens `/api/v1/events{query}` as `user` on a fresh connection (the bare
/// path) with `extra` headers, and checks the 200 head.
async fn open_bare_with(
    ts: &TestServer,
    user: &str,
    query: &str,
    extra: &[(&str, String)],
) -> Wire {
    let mut headers = vec![bearer(ts, user)];
    headers.extend(extra.iter().cloned());
    let mut raw = Raw::connect(ts).await;
    raw.send(&request(
        &format!("/api/v1/events{query}"),
        "HTTP/1.1",
        &headers,
    ))
    .await;
    let head = raw.head().await;
    bare_wire(&head, raw, user, &format!("events{query} as {user}"))
}

/// Checks a bare stream's 200 head and reads `user`'s stream from `raw`.
#[track_caller]
fn bare_wire(head: &Head, raw: Raw, user: &str, what: &str) -> Wire {
    check_stream_head(head, what);
    Wire::new(user, raw, Framing::OneFramePerChunk)
}

async fn open_bare(ts: &TestServer, user: &str, query: &str) -> Wire {
    open_bare_with(ts, user, query, &[]).await
}

/// A bare stream of `user` from the current head.
async fn bare_from_head(ts: &TestServer, user: &str) -> Wire {
    let h = head(ts).await;
    open_bare(ts, user, &format!("?after={h}")).await
}

// ---------------------------------------------------------------------------
// API helpers

async fn patch(ts: &TestServer, user: &str, gid: &str, body: Value) {
    ok(ts, user, Method::PATCH, &gp(gid), Some(body)).await;
}

async fn join(ts: &TestServer, user: &str, gid: &str) {
    let path = format!("{}/join", gp(gid));
    let reply = ok(ts, user, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(reply["status"], "joined", "{user} joins {gid}: {reply}");
}

async fn kick(ts: &TestServer, user: &str, gid: &str, target: &str) {
    let path = format!("{}/members/{target}", gp(gid));
    ok(ts, user, Method::DELETE, &path, Some(json!({}))).await;
}

/// A public group anyone may join, owned by `owner`, with `members`.
async fn open_group(ts: &TestServer, owner: &str, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"user_id": m})).collect();
    ts.create(
        owner,
        json!({"name": name, "type": "Public", "add_option": "Any", "members": members}),
    )
    .await
}

// ---------------------------------------------------------------------------
// The 200 head and live frames

#[tokio::test]
async fn bare_stream_answers_chunked_sse_and_carries_only_entitled_events() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "x"]).await;
    let mut u = bare_from_head(&ts, "u").await;
    let mut x = bare_from_head(&ts, "x").await;

    let g = open_group(&ts, "o", "g", &["u"]).await;
    let created = head(&ts).await;
    patch(&ts, "o", &g, json!({"name": "renamed"})).await;
    let renamed = head(&ts).await;
    let other = open_group(&ts, "o", "other", &[]).await;
    patch(&ts, "o", &other, json!({"name": "not for u"})).await;
    join(&ts, "x", &other).await;
    patch(&ts, "o", &g, json!({"introduction": "hello"})).await;
    let intro = head(&ts).await;

    let got = u.take(3).await;
    assert_eq!(ids(&got), vec![created, renamed, intro]);
    assert_eq!(got[0].kind, "group_created");
    assert_eq!(got[0].group(), g);
    assert_eq!(got[0].data["actor"], "o");
    let mut targets = got[0].targets();
    targets.sort();
    assert_eq!(targets, vec!["o".to_string(), "u".to_string()]);
    assert_eq!(got[1].kind, "group_info_changed");
    assert_eq!(got[1].detail()["name"], "renamed", "{:?}", got[1]);
    assert_eq!(got[2].kind, "group_info_changed");
    assert_eq!(got[2].detail()["introduction"], "hello", "{:?}", got[2]);
    let (rest, _) = u.fence(&ts).await;
    assert!(
        rest.is_empty(),
        "u gets nothing of `other`: {:?}",
        ids(&rest)
    );

    // x joined `other` after its creation and rename: only its own join.
    let (got, _) = x.fence(&ts).await;
    assert_eq!(
        got.iter()
            .map(|e| (e.kind.as_str(), e.group()))
            .collect::<Vec<_>>(),
        vec![("member_joined", other.as_str())],
        "x: {:?}",
        ids(&got)
    );
}

// ---------------------------------------------------------------------------
// Resume

/// u reads one event, goes away, misses entitled and other events, and
/// resumes with `Last-Event-ID` (or `?after=`).
async fn resume_case(header: bool) {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "x"]).await;
    let g1 = open_group(&ts, "o", "g1", &["u"]).await;
    let g2 = open_group(&ts, "o", "g2", &[]).await;
    let mut s = bare_from_head(&ts, "u").await;
    patch(&ts, "o", &g1, json!({"name": "seen"})).await;
    let seen = s.next().await;
    assert_eq!(seen.kind, "group_info_changed");
    let last = seen.id;
    drop(s);

    let mut want = Vec::new();
    patch(&ts, "o", &g2, json!({"name": "not u's"})).await;
    patch(&ts, "o", &g1, json!({"name": "missed"})).await;
    want.push(head(&ts).await);
    join(&ts, "x", &g1).await;
    want.push(head(&ts).await);
    join(&ts, "x", &g2).await;
    kick(&ts, "o", &g1, "x").await;
    want.push(head(&ts).await);
    patch(&ts, "o", &g2, json!({"introduction": "still not u's"})).await;

    let resume = |s: u64| {
        if header {
            ("".to_string(), vec![("Last-Event-ID", s.to_string())])
        } else {
            (format!("?after={s}"), vec![])
        }
    };
    let (query, extra) = resume(last);
    let mut s = open_bare_with(&ts, "u", &query, &extra).await;
    let (missed, first_fence) = s.fence(&ts).await;
    assert_eq!(ids(&missed), want, "resumed after {last}");
    let kinds: Vec<&str> = missed.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["group_info_changed", "member_joined", "member_kicked"]
    );
    assert!(missed.iter().all(|e| e.group() == g1));

    // From the middle of what was missed.
    let (query, extra) = resume(want[0]);
    let mut s = open_bare_with(&ts, "u", &query, &extra).await;
    let got = s.take(2).await;
    assert_eq!(ids(&got), want[1..]);
    let (rest, _) = s.fence(&ts).await;
    assert_eq!(ids(&rest), vec![first_fence], "then only the earlier fence");
}

#[tokio::test]
async fn bare_resume_with_last_event_id_gets_exactly_the_missed_events() {
    resume_case(true).await;
}

#[tokio::test]
async fn bare_resume_with_after_gets_exactly_the_missed_events() {
    resume_case(false).await;
}

#[tokio::test]
async fn bare_last_event_id_wins_over_after() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u"]).await;
    let g = open_group(&ts, "o", "g", &["u"]).await;
    let first = head(&ts).await;
    patch(&ts, "o", &g, json!({"name": "two"})).await;
    let second = head(&ts).await;
    let mut s = open_bare_with(
        &ts,
        "u",
        "?after=0",
        &[("Last-Event-ID", first.to_string())],
    )
    .await;
    let got = s.next().await;
    assert_eq!(got.id, second, "resumed after the header's id: {got:?}");
}

#[tokio::test]
async fn bare_reset_when_the_id_is_newer_than_the_log() {
    let ts = TestServer::start().await;
    ts.register(&["o"]).await;
    let g = open_group(&ts, "o", "g", &[]).await;
    let h = head(&ts).await;
    let ahead = (h + 1000).to_string();
    let mut by_query = open_bare(&ts, "o", &format!("?after={ahead}")).await;
    let mut by_header = open_bare_with(&ts, "o", "", &[("Last-Event-ID", ahead)]).await;
    for s in [&mut by_query, &mut by_header] {
        let reset = s.next().await;
        assert_eq!(reset.kind, "reset", "{reset:?}");
        assert_eq!(reset.id, h, "{reset:?}");
        assert_eq!(reset.data["last_event_id"].as_u64(), Some(h), "{reset:?}");
        assert!(reset.data["reason"].is_string(), "{reset:?}");
    }
    patch(&ts, "o", &g, json!({"name": "next"})).await;
    for s in [&mut by_query, &mut by_header] {
        let live = s.next().await;
        assert_eq!((live.kind.as_str(), live.id), ("group_info_changed", h + 1));
    }
}

// ---------------------------------------------------------------------------
// Errors on the bare path

/// The axum route's answer to the same request, asked on a connection
/// that has served `/healthz` first: the same status and code.
async fn axum_answer(ts: &TestServer, query: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let mut raw = Raw::connect(ts).await;
    raw.send(&request("/healthz", "HTTP/1.1", &[])).await;
    let (h, _) = response(&mut raw).await;
    assert_eq!(h.status(), 200, "{h:?}");
    raw.send(&request(
        &format!("/api/v1/events{query}"),
        "HTTP/1.1",
        headers,
    ))
    .await;
    let (head, body) = response(&mut raw).await;
    assert_ne!(
        head.get("connection"),
        Some("close"),
        "axum keeps the connection: {head:?}"
    );
    (
        head.status(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

/// (what, query, headers, status, code).
type ErrorCase = (&'static str, String, Vec<(&'static str, String)>, u16, u64);

#[tokio::test]
async fn bare_errors_have_status_code_json_body_and_close() {
    let ts = TestServer::start().await;
    ts.register(&["u"]).await;
    let other_key = SigKey::new(APP_ID, "00".repeat(32));
    let wrong_key = (
        "Authorization",
        format!("Bearer {}", other_key.sign("u", 86_400)),
    );
    let cases: Vec<ErrorCase> = vec![
        ("no UserSig", "".into(), vec![], 401, 70002),
        (
            "a malformed UserSig",
            "".into(),
            vec![("Authorization", "Bearer not-a-usersig".into())],
            401,
            70003,
        ),
        (
            "a UserSig of another key",
            "".into(),
            vec![wrong_key],
            401,
            70009,
        ),
        (
            "a bad query UserSig",
            "?usersig=not-a-usersig".into(),
            vec![],
            401,
            70003,
        ),
        (
            "Last-Event-ID: abc",
            "".into(),
            vec![bearer(&ts, "u"), ("Last-Event-ID", "abc".into())],
            400,
            10004,
        ),
        (
            "scope=all by a non-admin",
            "?scope=all".into(),
            vec![bearer(&ts, "u")],
            403,
            10007,
        ),
        (
            "an unknown scope",
            "?scope=everything".into(),
            vec![bearer(&ts, "u")],
            400,
            10004,
        ),
        (
            "an unknown query parameter",
            "?since=3".into(),
            vec![bearer(&ts, "u")],
            400,
            10004,
        ),
        (
            "after beyond 2^63-1",
            format!("?after={}", u64::MAX),
            vec![bearer(&ts, "u")],
            400,
            10004,
        ),
    ];
    for (what, query, headers, status, code) in cases {
        let req = request(&format!("/api/v1/events{query}"), "HTTP/1.1", &headers);
        let body = expect_error(&ts, &req, status, code, what).await;
        let (axum_status, axum_body) = axum_answer(&ts, &query, &headers).await;
        assert_eq!(
            (axum_status, &axum_body["error"]["code"]),
            (status, &body["error"]["code"]),
            "{what}: the same answer on both paths; axum said {axum_body}"
        );
    }

    // An HTTP/1.0 request gets an HTTP/1.0 error.
    let req = request("/api/v1/events", "HTTP/1.0", &[]);
    expect_error_in(
        &ts,
        &req,
        401,
        70002,
        "HTTP/1.0",
        "HTTP/1.0 without a UserSig",
    )
    .await;
}

#[tokio::test]
async fn bare_error_closes_the_connection() {
    let ts = TestServer::start().await;
    // A second request after the error is not answered: the server closes.
    let mut req = request("/api/v1/events", "HTTP/1.1", &[]);
    req.extend(request("/healthz", "HTTP/1.1", &[]));
    expect_error_in(
        &ts,
        &req,
        401,
        70002,
        "HTTP/1.1",
        "pipelined after an error",
    )
    .await;
}

#[tokio::test]
async fn the_33rd_stream_of_one_identity_is_refused_until_one_closes() {
    let ts = TestServer::start().await;
    ts.register(&["many", "o"]).await;
    let h = head(&ts).await;
    let mut open = Vec::new();
    for _ in 0..32 {
        open.push(open_bare(&ts, "many", &format!("?after={h}")).await);
    }
    // `after` given: the reopened stream shows whatever happens once it
    // is open (see `bare_from_head`).
    let req = request(
        &format!("/api/v1/events?after={h}"),
        "HTTP/1.1",
        &[bearer(&ts, "many")],
    );
    let mut raw = Raw::connect(&ts).await;
    raw.send(&req).await;
    let (head33, body) = response(&mut raw).await;
    check_error(&head33, &body, 429, 10006, "HTTP/1.1", "the 33rd stream");
    assert!(
        head33
            .get("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)),
        "retry-after: {head33:?}"
    );
    raw.expect_closed("the 33rd stream").await;
    // The same on the axum path, which shares the count.
    let (status, json) = axum_answer(&ts, "", &[bearer(&ts, "many")]).await;
    assert_eq!(
        (status, json["error"]["code"].as_u64()),
        (429, Some(10006)),
        "{json}"
    );
    // Another identity is not affected.
    let mut other = bare_from_head(&ts, "o").await;
    let (before, _) = other.fence(&ts).await;
    assert!(before.is_empty());

    // Closing one frees a slot: the server notices the close by itself.
    drop(open.remove(0));
    let reopened = timeout(Duration::from_secs(10), async {
        loop {
            let mut raw = Raw::connect(&ts).await;
            raw.send(&req).await;
            let head = raw.head().await;
            match head.status() {
                200 => {
                    check_stream_head(&head, "the reopened stream");
                    return Wire::new("many", raw, Framing::OneFramePerChunk);
                }
                429 => {
                    let len: usize = head
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .expect("content-length");
                    raw.body(len).await;
                    // The server has not seen the close yet; ask again.
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("unexpected status {other}: {head:?}"),
            }
        }
    })
    .await
    .expect("a slot frees once a stream is closed");
    let mut reopened = reopened;
    // The reopened stream starts at the head and is live.
    let (_, fence) = reopened.fence(&ts).await;
    // And the 31 others are still served.
    for s in open.iter_mut() {
        let got = s.read_through(fence, WAIT).await;
        assert_eq!(got.last().map(|e| e.id), Some(fence));
    }
    // Still 32 open: the next is refused again.
    expect_error(&ts, &req, 429, 10006, "32 open again").await;
}

#[tokio::test]
async fn malformed_and_oversized_request_heads() {
    let ts = TestServer::start().await;
    ts.register(&["u"]).await;
    let sig = ts.sig("u");

    let bad = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sig}\r\nthis line is no header\r\n\r\n"
    );
    let body = expect_error(&ts, bad.as_bytes(), 400, 10004, "a malformed head").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("malformed")),
        "{body}"
    );
    let bad_version = "GET /api/v1/events HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n";
    expect_error(
        &ts,
        bad_version.as_bytes(),
        400,
        10004,
        "an unknown HTTP version",
    )
    .await;

    // More than 16 KiB of head without its end.
    let mut big = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sig}\r\nX-Padding: "
    )
    .into_bytes();
    big.resize(20 * 1024, b'a');
    let mut raw = Raw::connect(&ts).await;
    raw.send(&big).await;
    let (head, body) = response(&mut raw).await;
    check_error(&head, &body, 431, 10004, "HTTP/1.1", "a 20 KiB head");
    raw.expect_closed("a 20 KiB head").await;

    // A complete head over 16 KiB.
    let mut big = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sig}\r\nX-Padding: "
    )
    .into_bytes();
    big.resize(17 * 1024, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    expect_error(&ts, &big, 431, 10004, "a complete 17 KiB head").await;

    // Too many header lines.
    let many: Vec<(&str, String)> = (0..70).map(|i| ("X-Many", i.to_string())).collect();
    let req = request("/api/v1/events", "HTTP/1.1", &many);
    expect_error(&ts, &req, 431, 10004, "70 headers").await;

    // A head just under the limit is fine.
    let h = common::sse::head(&ts).await;
    let mut s = open_bare_with(
        &ts,
        "u",
        &format!("?after={h}"),
        &[("X-Padding", "a".repeat(15 * 1024))],
    )
    .await;
    s.fence_is_next(&ts).await;
}

// ---------------------------------------------------------------------------
// How the request arrives

#[tokio::test]
async fn the_request_line_may_arrive_in_pieces() {
    let ts = TestServer::start().await;
    ts.register(&["u"]).await;
    let h = head(&ts).await;

    // Success: the first write stops right before the byte that decides.
    let req = request(
        &format!("/api/v1/events?after={h}"),
        "HTTP/1.1",
        &[bearer(&ts, "u")],
    );
    let mut raw = Raw::connect(&ts).await;
    raw.send(&req[..18]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    raw.send(&req[18..]).await;
    let head1 = raw.head().await;
    let mut s = bare_wire(&head1, raw, "u", "a split request line");
    s.fence_is_next(&ts).await;

    // An error shows which path served it: only the bare path closes the
    // connection after a 401 (axum would keep it open for the next request).
    for split in [4usize, 10, 18, 19] {
        let req = request("/api/v1/events", "HTTP/1.1", &[]);
        let mut raw = Raw::connect(&ts).await;
        raw.send(&req[..split]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        raw.send(&req[split..]).await;
        let (head, body) = response(&mut raw).await;
        let what = format!("request line split after {split} bytes");
        check_error(&head, &body, 401, 70002, "HTTP/1.1", &what);
        raw.expect_closed(&what).await;
    }
}

#[tokio::test]
async fn only_the_events_route_is_taken_off_axum() {
    let ts = TestServer::start().await;
    let sig = ts.sig("u");
    for (what, line, status) in [
        ("a longer path", "GET /api/v1/events/more HTTP/1.1", 404),
        ("a path with a suffix", "GET /api/v1/eventsx HTTP/1.1", 404),
        ("another method", "POST /api/v1/events HTTP/1.1", 405),
    ] {
        let mut raw = Raw::connect(&ts).await;
        let req = format!(
            "{line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sig}\r\ncontent-length: 0\r\n\r\n"
        );
        raw.send(req.as_bytes()).await;
        let (h, body) = response(&mut raw).await;
        assert_eq!(h.status(), status, "{what}: {h:?}");
        let json: Value = serde_json::from_slice(&body).expect("JSON error");
        assert!(json["error"]["code"].is_u64(), "{what}: {json}");
        // axum keeps the connection for the next request.
        assert_ne!(h.get("connection"), Some("close"), "{what}: {h:?}");
        raw.send(&request("/healthz", "HTTP/1.1", &[])).await;
        let (h, _) = response(&mut raw).await;
        assert_eq!(h.status(), 200, "{what}: then /healthz: {h:?}");
    }
}

#[tokio::test]
async fn http10_stream_is_plain_sse_until_close() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u"]).await;
    let h = head(&ts).await;
    let mut raw = Raw::connect(&ts).await;
    raw.send(&request(
        &format!("/api/v1/events?after={h}"),
        "HTTP/1.0",
        &[bearer(&ts, "u")],
    ))
    .await;
    let head10 = raw.head().await;
    assert_eq!(head10.status_line, "HTTP/1.0 200 OK", "{head10:?}");
    assert_eq!(head10.get("connection"), Some("close"), "{head10:?}");
    assert_eq!(
        head10.get("content-type"),
        Some("text/event-stream"),
        "{head10:?}"
    );
    assert_eq!(head10.get("cache-control"), Some("no-cache"), "{head10:?}");
    assert!(head10.get("transfer-encoding").is_none(), "{head10:?}");
    assert!(head10.get("content-length").is_none(), "{head10:?}");
    let mut s = Wire::new("u", raw, Framing::Plain);

    let g = open_group(&ts, "o", "g", &["u"]).await;
    let created = head(&ts).await;
    patch(&ts, "o", &g, json!({"name": "two"})).await;
    let renamed = head(&ts).await;
    let got = s.take(2).await;
    assert_eq!(ids(&got), vec![created, renamed]);
    assert_eq!(got[1].detail()["name"], "two");
    let (rest, _) = s.fence(&ts).await;
    assert!(rest.is_empty());
    assert!(
        s.raw.buf.is_empty() && s.text.is_empty(),
        "nothing but frames"
    );
}

#[tokio::test]
async fn usersig_in_the_query_instead_of_the_header() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u"]).await;
    let h = head(&ts).await;
    let mut raw = Raw::connect(&ts).await;
    let target = format!("/api/v1/events?after={h}&usersig={}", ts.sig("u"));
    raw.send(&request(&target, "HTTP/1.1", &[])).await;
    let head1 = raw.head().await;
    let mut s = bare_wire(&head1, raw, "u", "usersig in the query");
    let g = open_group(&ts, "o", "g", &["u"]).await;
    let got = s.next().await;
    assert_eq!(
        (got.kind.as_str(), got.group()),
        ("group_created", g.as_str())
    );
    // The fence is u's own: the stream is u's.
    s.fence_is_next(&ts).await;
}

#[tokio::test]
async fn usersig_in_the_query_may_be_percent_encoded() {
    let ts = TestServer::start().await;
    ts.register(&["u"]).await;
    let h = head(&ts).await;
    let sig = ts.sig("u");
    // The UserSig alphabet's `*`, `-` and `_`, percent-encoded as a URL
    // library may (the REST API takes such a UserSig too).
    let encoded = common::percent_encoded(&sig);
    assert_ne!(encoded, sig, "the sig has characters to encode");
    let query = format!("?after={h}&usersig={encoded}");
    let mut raw = Raw::connect(&ts).await;
    raw.send(&request(&format!("/api/v1/events{query}"), "HTTP/1.1", &[]))
        .await;
    let head1 = raw.head().await;
    let mut body = String::new();
    if head1.status() != 200 {
        if let Some(len) = head1.get("content-length").and_then(|v| v.parse().ok()) {
            body = String::from_utf8_lossy(&raw.body(len).await).into_owned();
        }
    }
    let what = format!("percent-encoded usersig; body {body}");
    let mut s = bare_wire(&head1, raw, "u", &what);
    s.fence_is_next(&ts).await;
}

// ---------------------------------------------------------------------------
// A stream on a reused connection (axum) and on a fresh one (bare)

/// Opens `/api/v1/events{query}` as `user` on a connection that has
/// served `/healthz` first (so axum serves it); returns the stream and the
/// head id `/healthz` reported.
async fn open_reused(ts: &TestServer, user: &str, query: &str) -> (Wire, u64) {
    let mut raw = Raw::connect(ts).await;
    raw.send(&request("/healthz", "HTTP/1.1", &[])).await;
    let (hh, body) = response(&mut raw).await;
    assert_eq!(hh.status_line, "HTTP/1.1 200 OK", "{hh:?}");
    assert_ne!(hh.get("connection"), Some("close"), "{hh:?}");
    let health: Value = serde_json::from_slice(&body).expect("healthz JSON");
    let h = health["last_event_id"].as_u64().expect("last_event_id");
    raw.send(&request(
        &format!("/api/v1/events{query}"),
        "HTTP/1.1",
        &[bearer(ts, user)],
    ))
    .await;
    let ah = raw.head().await;
    assert_eq!(ah.status_line, "HTTP/1.1 200 OK", "{ah:?}");
    assert_eq!(ah.get("transfer-encoding"), Some("chunked"), "{ah:?}");
    assert_eq!(ah.get("content-type"), Some("text/event-stream"), "{ah:?}");
    assert_eq!(ah.get("cache-control"), Some("no-cache"), "{ah:?}");
    (Wire::new(user, raw, Framing::Chunked), h)
}

#[tokio::test]
async fn a_stream_on_a_reused_connection_gets_the_same_events_through_axum() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u", "x"]).await;
    let h0 = head(&ts).await;
    let query = format!("?after={h0}");
    let (mut via_axum, _) = open_reused(&ts, "u", &query).await;
    let mut bare = open_bare(&ts, "u", &query).await;

    let g = open_group(&ts, "o", "g", &["u"]).await;
    let other = open_group(&ts, "o", "other", &[]).await;
    patch(&ts, "o", &g, json!({"introduction": "one"})).await;
    join(&ts, "x", &other).await;
    join(&ts, "x", &g).await;
    kick(&ts, "o", &g, "x").await;
    patch(&ts, "o", &other, json!({"introduction": "not u's"})).await;
    ok(&ts, "u", Method::POST, &format!("{}/quit", gp(&g)), None).await;
    patch(&ts, "o", &g, json!({"introduction": "after u left"})).await;

    let (a, fa) = via_axum.fence(&ts).await;
    let b = bare.read_through(fa, WAIT).await;
    let (b, fb) = (b[..b.len() - 1].to_vec(), b[b.len() - 1].id);
    assert_eq!(fa, fb);
    let kinds: Vec<&str> = a.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "group_created",
            "group_info_changed",
            "member_joined",
            "member_kicked",
            "member_quit"
        ],
        "{:?}",
        ids(&a)
    );
    assert_eq!(ids(&a), ids(&b), "the same events on both paths");
    assert_eq!(a, b, "the same frames on both paths");
    let (rest, _) = bare.fence(&ts).await;
    assert!(rest.is_empty(), "{:?}", ids(&rest));
}

#[tokio::test]
async fn the_axum_stream_body_is_the_same_sse_text_as_the_bare_one() {
    let ts = TestServer::start().await;
    ts.register(&["o", "u"]).await;
    let g = open_group(&ts, "o", "g", &["u"]).await;
    let h0 = head(&ts).await;
    let query = format!("?after={h0}");
    let (mut via_axum, _) = open_reused(&ts, "u", &query).await;
    let mut bare = open_bare(&ts, "u", &query).await;
    patch(&ts, "o", &g, json!({"name": "live"})).await;
    let live = bare.next().await;
    assert_eq!(live.id, h0 + 1);
    let want = String::from_utf8(bare.last_text.clone()).expect("text");
    assert!(want.starts_with(&format!("id: {}\n", h0 + 1)), "{want:?}");
    let got = String::from_utf8(via_axum.first_frame_text().await).expect("text");
    assert_eq!(
        got, want,
        "the axum response body (de-chunked) is the SSE frame itself"
    );

    // The backlog too (frames read from the log).
    let (mut backlog, _) = open_reused(&ts, "u", &format!("?after={h0}")).await;
    let got = String::from_utf8(backlog.first_frame_text().await).expect("text");
    assert_eq!(got, want, "a backlog frame on the axum path");
}

// ---------------------------------------------------------------------------
// A client that does not read

fn wmem_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(4 << 20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_client_that_does_not_read_loses_nothing() {
    // `slow` opens its stream with an 8 KB receive buffer and reads nothing
    // while far more than the server's socket buffer (tcp_wmem's maximum)
    // plus the 1 MiB queue of frames is produced; `fast` reads all along.
    // Frames are large: 300 members of 32-byte ids join at once, then are
    // removed 100 at a time with a 300-byte reason.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config_for(&dir);
    cfg.rest_rate_per_command = 0;
    let ts = Arc::new(TestServer::start_with(dir, cfg).await);
    ts.register(&["o", "slow", "fast"]).await;
    let fillers: Vec<String> = (0..300).map(|i| format!("filler-{i:025}")).collect();
    for f in &fillers {
        ts.register(&[f.as_str()]).await;
    }
    let g = ts
        .create(
            "o",
            json!({"name": "big", "type": "Public", "add_option": "Any",
                   "members": [{"user_id": "slow"}, {"user_id": "fast"}]}),
        )
        .await;
    let h0 = head(&ts).await;
    let query = format!("?after={h0}");

    let mut slow_raw = Raw::connect_small(&ts, 8 * 1024).await;
    slow_raw
        .send(&request(
            &format!("/api/v1/events{query}"),
            "HTTP/1.1",
            &[bearer(&ts, "slow")],
        ))
        .await;
    let slow_head = slow_raw.head().await;
    check_stream_head(&slow_head, "slow");
    let mut slow = Wire::new("slow", slow_raw, Framing::OneFramePerChunk);

    let mut fast = open_bare(&ts, "fast", &query).await;
    let fast_bytes = Arc::new(AtomicUsize::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(None::<u64>);
    let reader = {
        let fast_bytes = fast_bytes.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let upto = *stop_rx.borrow_and_update();
                if let Some(upto) = upto {
                    if got.last().map(|e: &Ev| e.id) == Some(upto) {
                        return got;
                    }
                }
                tokio::select! {
                    e = fast.next_within(Duration::from_secs(60)) => {
                        let e = e.expect("fast: an event within 60 s");
                        got.push(e);
                        fast_bytes.store(fast.bytes, Ordering::Relaxed);
                    }
                    changed = stop_rx.changed() => changed.expect("the test runs"),
                }
            }
        })
    };

    let target = wmem_max() + (1 << 20) + 8 * 1024 + (2 << 20);
    let sig = ts.sig(ADMIN);
    let reason = "r".repeat(300);
    let produce = async {
        let mut cycles = 0;
        while fast_bytes.load(Ordering::Relaxed) < target {
            assert!(cycles < 2_000, "{cycles} cycles produced too few bytes");
            cycles += 1;
            ok(
                &ts,
                ADMIN,
                Method::POST,
                &format!("{}/invite", gp(&g)),
                Some(json!({"user_ids": fillers})),
            )
            .await;
            for batch in fillers.chunks(100) {
                let url = ts.url(&format!(
                    "/v4/group_open_http_svc/delete_group_member?sdkappid={APP_ID}&identifier={ADMIN}&usersig={sig}&random={cycles}&contenttype=json"
                ));
                let resp = ts
                    .http
                    .post(url)
                    .json(&json!({"GroupId": g, "MemberToDel_Account": batch, "Reason": reason}))
                    .send()
                    .await
                    .expect("REST sent");
                let body: Value = resp.json().await.expect("REST JSON");
                assert_eq!(body["ActionStatus"], "OK", "{body}");
            }
        }
        cycles
    };
    let cycles = timeout(Duration::from_secs(180), produce)
        .await
        .expect("production finishes");
    let h1 = head(&ts).await;
    assert_eq!(h1 - h0, cycles as u64 * 4, "four events a cycle");
    stop_tx.send(Some(h1)).expect("reader alive");
    let fast_got = timeout(Duration::from_secs(60), reader)
        .await
        .expect("the reading client gets everything")
        .expect("reader task");
    let want: Vec<u64> = ((h0 + 1)..=h1).collect();
    assert!(fast_got.iter().all(|e| e.kind != "reset"));
    assert_eq!(ids(&fast_got), want, "fast gets every event once, in order");

    let slow_got = slow.read_through(h1, Duration::from_secs(120)).await;
    assert_strictly_increasing(&slow_got, "slow");
    assert!(
        slow_got.iter().all(|e| e.kind != "reset"),
        "slow: no reset, the log reaches back"
    );
    assert_eq!(ids(&slow_got), ids(&fast_got), "slow: no gap, no duplicate");
    assert_eq!(slow_got, fast_got, "slow: the same frames");
    assert!(
        slow.bytes >= target,
        "slow received {} bytes, more than the socket and queue hold ({target})",
        slow.bytes
    );
    let (rest, _) = slow.fence(&ts).await;
    assert!(rest.is_empty(), "slow: nothing more: {:?}", ids(&rest));
}

// ---------------------------------------------------------------------------
// Shutdown

#[tokio::test]
async fn shutdown_ends_a_bare_stream_with_the_last_chunk() {
    let mut ts = TestServer::start().await;
    ts.register(&["o", "u"]).await;
    let mut chunked = bare_from_head(&ts, "u").await;
    let h = head(&ts).await;
    let mut raw = Raw::connect(&ts).await;
    raw.send(&request(
        &format!("/api/v1/events?after={h}"),
        "HTTP/1.0",
        &[bearer(&ts, "u")],
    ))
    .await;
    let head10 = raw.head().await;
    assert_eq!(head10.status_line, "HTTP/1.0 200 OK");
    let mut plain = Wire::new("u", raw, Framing::Plain);

    open_group(&ts, "o", "g", &["u"]).await;
    let created = head(&ts).await;
    assert_eq!(chunked.next().await.id, created);
    assert_eq!(plain.next().await.id, created);

    let server = ts.server.take().expect("running");
    let stopping = tokio::spawn(async move { server.stop().await });
    let rest = chunked.read_to_end(Duration::from_secs(10)).await;
    assert!(rest.is_empty(), "{:?}", ids(&rest));
    let rest = plain.read_to_end(Duration::from_secs(10)).await;
    assert!(rest.is_empty(), "{:?}", ids(&rest));
    timeout(Duration::from_secs(20), stopping)
        .await
        .expect("the server stops in time")
        .expect("stop task")
        .expect("the server stops cleanly");
}

/// A stream opened without an id starts where the log stood when the
/// response head was sent: anything committed after the client saw the
/// head reaches it, on both paths. Repeated, as the window is narrow.
#[tokio::test]
async fn a_stream_without_an_id_misses_nothing_committed_after_its_head() {
    let ts = TestServer::start().await;
    ts.register(&["o"]).await;
    for round in 0..10 {
        let mut bare = open_bare(&ts, "o", "").await;
        let (mut reused, _) = open_reused(&ts, "o", "").await;
        let g = open_group(&ts, "o", &format!("fence {round}"), &[]).await;
        let created = head(&ts).await;
        for (wire, path) in [(&mut bare, "bare"), (&mut reused, "axum")] {
            let got = wire.take(1).await;
            assert_eq!(ids(&got), vec![created], "round {round}, {path}: {g}");
        }
    }
}
