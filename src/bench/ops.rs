//! `bench ops`: concurrent clients doing a realistic mix of durable group
//! operations over HTTP, each client in a small world of its own so the
//! database stays bounded however long the run.
//!
//! Every client is one owner with three helper users, a free group
//! (Meeting, join option `Any`) and a moderated one (Public, `Auth`). It
//! cycles: create a group, change its join option, disband it; a helper
//! joins and quits the free group; a helper asks to join the moderated group
//! and the owner approves; the owner invites another helper; both are kicked.
//!
//! Against a plain `http://` server each client speaks HTTP/1.1 itself over
//! one kept-alive connection (see [`Wire`]): the same requests and replies
//! as the typed client, without its per-call overhead, which otherwise takes
//! a large share of the cores the server runs on. An `https://` server is
//! driven through the typed client.
//!
//! With the embedded server it also measures SQLite alone on the same disk
//! with the same durability (WAL, `synchronous=FULL`, 64 rows per
//! transaction), and reports groupdeck's ops/s as a ratio of those rows/s.

use super::report::{self, Machine, RawSqlite, Recorder, Report};
use super::{SIG_SECS, Settings, Target, as_user};
use crate::client::{CONNECT_TIMEOUT, Client, REQUEST_TIMEOUT};
use crate::model::{AddOption, GroupType, InviteOption};
use crate::server::api::{
    CreateGroupRequest, Created, DecideRequest, DecisionValue, InviteReply, InviteRequest,
    JoinReply, JoinRequest, JoinStatus, KickRequest, Modified, ModifyGroupRequest,
};
use crate::usersig::SigKey;
use anyhow::{Context, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CREATE: &str = "create";
const SET_OPTION: &str = "set join option";
const DISBAND: &str = "disband";
const JOIN: &str = "join (Any)";
const QUIT: &str = "quit";
const REQUEST: &str = "request (Auth)";
const APPROVE: &str = "approve";
const INVITE: &str = "invite";
const KICK: &str = "kick";

/// The table's order.
const ORDER: [&str; 9] = [
    CREATE, SET_OPTION, DISBAND, JOIN, QUIT, REQUEST, APPROVE, INVITE, KICK,
];

/// Rows per transaction of the raw SQLite measurement.
const RAW_BATCH: u64 = 64;
/// The longest the raw SQLite measurement runs.
const RAW_MAX_SECS: u64 = 3;

pub(crate) fn group_request(name: &str, t: GroupType, add: AddOption) -> CreateGroupRequest {
    CreateGroupRequest {
        add_option: Some(add),
        invite_option: Some(InviteOption::Auth),
        ..CreateGroupRequest::new(name, t)
    }
}

/// One client's users and groups.
struct World {
    owner: Client,
    helpers: [Client; 3],
    free: String,
    moderated: String,
    /// The plain-HTTP connection, when the server is `http://`.
    wire: Option<Wire>,
    /// `Bearer <UserSig>` of the owner and of each helper, for [`Wire`].
    auth: [String; 4],
}

/// Who makes a call.
#[derive(Clone, Copy)]
enum As {
    Owner,
    Helper(usize),
}

async fn setup(key: SigKey, run_id: String, base: Client, i: usize) -> anyhow::Result<World> {
    let name = format!("{run_id}-c{i}");
    let users = [
        name.clone(),
        format!("{name}-m0"),
        format!("{name}-m1"),
        format!("{name}-m2"),
    ];
    let owner = as_user(&key, &base, &users[0])?;
    let helpers = [
        as_user(&key, &base, &users[1])?,
        as_user(&key, &base, &users[2])?,
        as_user(&key, &base, &users[3])?,
    ];
    let auth = users.map(|u| format!("Bearer {}", key.sign(&u, SIG_SECS)));
    let wire = Wire::for_base(base.base())?;
    // A user exists once it has signed in; invitations need that.
    for h in &helpers {
        h.me().await?;
    }
    let free = owner
        .create_group(&group_request(
            "bench free",
            GroupType::Meeting,
            AddOption::Any,
        ))
        .await?;
    let moderated = owner
        .create_group(&group_request(
            "bench moderated",
            GroupType::Public,
            AddOption::Auth,
        ))
        .await?;
    Ok(World {
        owner,
        helpers,
        free,
        moderated,
        wire,
        auth,
    })
}

impl World {
    fn client(&self, who: As) -> &Client {
        match who {
            As::Owner => &self.owner,
            As::Helper(i) => &self.helpers[i],
        }
    }

    /// One call over [`Wire`]: `segments` under `/api/v1`, an optional JSON
    /// body; the decoded JSON reply.
    async fn wire_call<B: Serialize, T: DeserializeOwned>(
        &mut self,
        who: As,
        method: &str,
        segments: &[&str],
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let mut path_segments = vec!["api", "v1"];
        path_segments.extend_from_slice(segments);
        let url = self.client(who).url(&path_segments)?;
        let body = body.map(serde_json::to_vec).transpose()?;
        let auth = match who {
            As::Owner => &self.auth[0],
            As::Helper(i) => &self.auth[i + 1],
        };
        let wire = self
            .wire
            .as_mut()
            .ok_or_else(|| anyhow!("no plain HTTP connection"))?;
        let (status, reply) = wire.call(method, url.path(), auth, body.as_deref()).await?;
        if !(200..300).contains(&status) {
            return Err(crate::client::error_from_body(status, reply).into());
        }
        serde_json::from_slice(reply).map_err(|e| anyhow!("unexpected reply from the server: {e}"))
    }

    async fn create(&mut self, req: &CreateGroupRequest) -> anyhow::Result<String> {
        if self.wire.is_none() {
            return Ok(self.owner.create_group(req).await?);
        }
        let created: Created = self
            .wire_call(As::Owner, "POST", &["groups"], Some(req))
            .await?;
        Ok(created.group_id)
    }

    async fn modify(&mut self, id: &str, req: &ModifyGroupRequest) -> anyhow::Result<Modified> {
        if self.wire.is_none() {
            return Ok(self.owner.modify_group(id, req).await?);
        }
        self.wire_call(As::Owner, "PATCH", &["groups", id], Some(req))
            .await
    }

    async fn disband(&mut self, id: &str) -> anyhow::Result<()> {
        if self.wire.is_none() {
            return Ok(self.owner.disband(id).await?);
        }
        self.wire_call::<(), serde_json::Value>(As::Owner, "DELETE", &["groups", id], None)
            .await
            .map(drop)
    }

    async fn join(
        &mut self,
        who: As,
        id: &str,
        message: Option<&str>,
    ) -> anyhow::Result<JoinReply> {
        if self.wire.is_none() {
            return Ok(self.client(who).join(id, message).await?);
        }
        let body = JoinRequest {
            message: message.map(str::to_string),
        };
        self.wire_call(who, "POST", &["groups", id, "join"], Some(&body))
            .await
    }

    async fn quit(&mut self, who: As, id: &str) -> anyhow::Result<()> {
        if self.wire.is_none() {
            return Ok(self.client(who).quit(id).await?);
        }
        self.wire_call::<(), serde_json::Value>(who, "POST", &["groups", id, "quit"], None)
            .await
            .map(drop)
    }

    async fn decide(&mut self, request_id: u64) -> anyhow::Result<()> {
        if self.wire.is_none() {
            return Ok(self.owner.decide(request_id, true, None).await?);
        }
        let body = DecideRequest {
            decision: DecisionValue::Accept,
            reason: None,
        };
        let id = request_id.to_string();
        self.wire_call::<_, serde_json::Value>(As::Owner, "POST", &["pendency", &id], Some(&body))
            .await
            .map(drop)
    }

    async fn invite(&mut self, id: &str, user: &str) -> anyhow::Result<InviteReply> {
        if self.wire.is_none() {
            return Ok(self.owner.invite(id, &[user.to_string()]).await?);
        }
        let body = InviteRequest {
            user_ids: vec![user.to_string()],
        };
        self.wire_call(As::Owner, "POST", &["groups", id, "invite"], Some(&body))
            .await
    }

    async fn kick(&mut self, id: &str, user: &str) -> anyhow::Result<()> {
        if self.wire.is_none() {
            return Ok(self.owner.kick(id, user, None).await?);
        }
        let body = KickRequest { reason: None };
        self.wire_call::<_, serde_json::Value>(
            As::Owner,
            "DELETE",
            &["groups", id, "members", user],
            Some(&body),
        )
        .await
        .map(drop)
    }
}

/// A minimal HTTP/1.1 client over one kept-alive TCP connection (plain HTTP,
/// replies with a `Content-Length`, which is what the server sends). It
/// reconnects when the server closed the connection.
pub(crate) struct Wire {
    /// `host:port` to connect to, also the `Host` header.
    host: String,
    conn: Option<TcpStream>,
    out: Vec<u8>,
    reply: Vec<u8>,
}

impl Wire {
    /// A connection for `base` when it is `http://`; `None` otherwise.
    fn for_base(base: &reqwest::Url) -> anyhow::Result<Option<Wire>> {
        if base.scheme() != "http" {
            return Ok(None);
        }
        let host = base
            .host_str()
            .ok_or_else(|| anyhow!("the server URL {base} has no host"))?;
        let port = base.port_or_known_default().unwrap_or(80);
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Some(Wire::new(host)))
    }

    /// A connection to a plain HTTP server at `addr`.
    pub(crate) fn to(addr: std::net::SocketAddr) -> Wire {
        Wire::new(addr.to_string())
    }

    fn new(host: String) -> Wire {
        Wire {
            host,
            conn: None,
            out: Vec::with_capacity(1024),
            reply: Vec::with_capacity(4096),
        }
    }

    /// Sends one request and returns the status and the body.
    pub(crate) async fn call(
        &mut self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<(u16, &[u8])> {
        use std::io::Write;
        self.out.clear();
        write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\n",
            self.host
        )?;
        match body {
            Some(b) => {
                write!(
                    self.out,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )?;
                self.out.extend_from_slice(b);
            }
            None => self.out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
        }
        let reused = self.conn.is_some();
        let mut outcome = self.timed_round_trip().await;
        // A kept-alive connection the server closed before reading this
        // request: nothing of it was answered, so it is sent once more on a
        // new connection, as HTTP clients do.
        if reused && matches!(outcome, Err(Stale)) {
            outcome = self.timed_round_trip().await;
        }
        match outcome {
            Ok((status, start, len)) => Ok((status, &self.reply[start..start + len])),
            Err(e) => Err(e.into()),
        }
    }

    /// [`Wire::round_trip`] within [`REQUEST_TIMEOUT`]; a failed connection
    /// is dropped, so the next call opens a new one.
    async fn timed_round_trip(&mut self) -> Result<(u16, usize, usize), WireError> {
        let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, self.round_trip()).await {
            Ok(r) => r,
            Err(_) => Err(WireError::Other(format!(
                "no reply within {REQUEST_TIMEOUT:?}"
            ))),
        };
        if outcome.is_err() {
            self.conn = None;
        }
        outcome
    }

    /// Writes `out` and reads one reply into `reply`: the status and where
    /// the body lies in `reply`.
    async fn round_trip(&mut self) -> Result<(u16, usize, usize), WireError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.host))
                    .await
                    .map_err(|_| {
                        WireError::Other(format!("cannot connect to {}: timed out", self.host))
                    })?
                    .map_err(|e| {
                        WireError::Other(format!("cannot connect to {}: {e}", self.host))
                    })?;
                c.set_nodelay(true)
                    .map_err(|e| WireError::Other(e.to_string()))?;
                self.conn.insert(c)
            }
        };
        conn.write_all(&self.out).await.map_err(|_| Stale)?;
        self.reply.clear();
        let (status, head_len, body_len, close) = loop {
            let n = conn
                .read_buf(&mut self.reply)
                .await
                .map_err(|e| WireError::Other(format!("reading the reply: {e}")))?;
            if n == 0 {
                return Err(if self.reply.is_empty() {
                    Stale
                } else {
                    WireError::Other("the server closed the connection mid-reply".into())
                });
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut head = httparse::Response::new(&mut headers);
            let parsed = head
                .parse(&self.reply)
                .map_err(|e| WireError::Other(format!("bad reply head: {e}")))?;
            if let httparse::Status::Complete(head_len) = parsed {
                let status = head.code.unwrap_or(0);
                let mut body_len = None;
                let mut close = false;
                for h in head.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        body_len = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<usize>().ok());
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(WireError::Other(
                            "a chunked reply (only Content-Length is supported)".into(),
                        ));
                    }
                }
                let body_len = body_len
                    .ok_or_else(|| WireError::Other("a reply without Content-Length".into()))?;
                break (status, head_len, body_len, close);
            }
        };
        while self.reply.len() < head_len + body_len {
            let n = conn
                .read_buf(&mut self.reply)
                .await
                .map_err(|e| WireError::Other(format!("reading the reply: {e}")))?;
            if n == 0 {
                return Err(WireError::Other(
                    "the server closed the connection mid-reply".into(),
                ));
            }
        }
        if close {
            self.conn = None;
        }
        Ok((status, head_len, body_len))
    }
}

/// Why a round trip failed.
#[derive(Debug)]
enum WireError {
    /// The kept-alive connection was already closed: no reply came at all.
    Stale,
    Other(String),
}
use WireError::Stale;

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Stale => f.write_str("the server closed the connection"),
            WireError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for WireError {}

/// Runs the cycle until `deadline`, one operation at a time.
async fn drive(mut w: World, deadline: Instant) -> Recorder {
    let mut rec = Recorder::default();
    let mut step = 0usize;
    let mut scratch: Option<String> = None;
    let mut request: Option<u64> = None;
    let free = w.free.clone();
    let moderated = w.moderated.clone();
    let m1 = w.helpers[1].user().to_string();
    let m2 = w.helpers[2].user().to_string();
    let scratch_request = group_request("bench scratch", GroupType::Public, AddOption::Any);
    let change = ModifyGroupRequest {
        add_option: Some(AddOption::Auth),
        ..Default::default()
    };
    while Instant::now() < deadline {
        let t = Instant::now();
        match step {
            0 => {
                let r = w.create(&scratch_request).await;
                scratch = rec.outcome(CREATE, t, r);
            }
            1 => {
                if let Some(g) = &scratch {
                    let r = w.modify(g, &change).await;
                    rec.outcome(SET_OPTION, t, r);
                }
            }
            2 => {
                if let Some(g) = scratch.take() {
                    let r = w.disband(&g).await;
                    rec.outcome(DISBAND, t, r);
                }
            }
            3 => {
                let r = w.join(As::Helper(0), &free, None).await;
                rec.outcome(JOIN, t, r);
            }
            4 => {
                let r = w.quit(As::Helper(0), &free).await;
                rec.outcome(QUIT, t, r);
            }
            5 => {
                let r = w.join(As::Helper(1), &moderated, Some("bench")).await;
                request = match rec.outcome(REQUEST, t, r) {
                    Some(reply) if reply.status == JoinStatus::Pending => reply.request_id,
                    _ => None,
                };
            }
            6 => {
                if let Some(id) = request.take() {
                    let r = w.decide(id).await;
                    rec.outcome(APPROVE, t, r);
                }
            }
            7 => {
                let r = w.invite(&moderated, &m2).await;
                rec.outcome(INVITE, t, r);
            }
            8 => {
                let r = w.kick(&moderated, &m1).await;
                rec.outcome(KICK, t, r);
            }
            _ => {
                let r = w.kick(&moderated, &m2).await;
                rec.outcome(KICK, t, r);
            }
        }
        step = (step + 1) % 10;
    }
    rec
}

/// Options of `bench ops`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OpsArgs {
    /// Also drive a bare HTTP server (one that answers every request at once
    /// and does nothing else) with the same clients and requests, and print
    /// groupdeck's ops/s as a ratio of its round trips/s.
    #[arg(long)]
    pub baseline: bool,
}

pub(crate) async fn run(target: &Target, s: &Settings, args: &OpsArgs) -> anyhow::Result<Report> {
    let base = target.client(&format!("{}-base", target.run_id))?;
    // SQLite alone first, so the two measurements do not share the disk.
    let raw = match target.data_dir() {
        Some(dir) => {
            let path = dir.join("raw.db");
            let secs = s.seconds.min(RAW_MAX_SECS);
            let r = tokio::task::spawn_blocking(move || raw_inserts(&path, secs))
                .await
                .context("raw SQLite measurement")??;
            Some(r)
        }
        None => None,
    };
    let mut worlds = Vec::with_capacity(s.clients);
    let mut setups = tokio::task::JoinSet::new();
    for i in 0..s.clients {
        setups.spawn(setup(
            target.key.clone(),
            target.run_id.clone(),
            base.clone(),
            i,
        ));
    }
    while let Some(w) = setups.join_next().await {
        worlds.push(w.context("setting up a client")??);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(s.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for w in worlds {
        tasks.spawn(drive(w, deadline));
    }
    let mut all = Recorder::default();
    while let Some(r) = tasks.join_next().await {
        all.merge(r.context("a client task failed")?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (operations, overall) = all.stats(&ORDER, elapsed)?;
    let ratio = raw
        .as_ref()
        .map(|r| report::ratio(overall.ops_per_s, r.rows_per_s));
    // After groupdeck's run, so that its server is idle and the two runs
    // do not share the cores.
    let bare = if args.baseline {
        Some(super::bare_http::run(&target.key, s.clients, s.seconds).await?)
    } else {
        None
    };
    let ratio_to_bare_http = bare
        .as_ref()
        .map(|b| report::ratio(overall.ops_per_s, b.ops_per_s));
    let bare_http_ratio_to_raw_inserts = bare
        .as_ref()
        .zip(raw.as_ref())
        .map(|(b, r)| report::ratio(b.ops_per_s, r.rows_per_s));
    Ok(Report {
        mode: "ops".into(),
        machine: Machine {
            cores: super::cores(),
            synchronous: super::synchronous_label(target),
            server: target.describe(),
        },
        clients: s.clients,
        seconds: elapsed,
        operations,
        overall: Some(overall),
        raw_sqlite: raw,
        ratio_to_raw_inserts: ratio,
        ratio_to_bare_http,
        bare_http_ratio_to_raw_inserts,
        bare_http: bare,
        big: None,
        first_error: all.first_error,
    })
}

/// Inserts rows in transactions of [`RAW_BATCH`] for about `secs` seconds.
fn raw_inserts(path: &Path, secs: u64) -> anyhow::Result<RawSqlite> {
    let mut conn =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, group_id TEXT NOT NULL, user_id TEXT NOT NULL, at INTEGER NOT NULL)",
    )?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs.max(1));
    let mut rows = 0u64;
    while Instant::now() < deadline {
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO rows (group_id, user_id, at) VALUES (?1, ?2, ?3)")?;
            for k in 0..RAW_BATCH {
                let n = rows + k;
                stmt.execute(rusqlite::params![
                    format!("@TGS#{}", n % 1000),
                    format!("user-{n}"),
                    n as i64
                ])?;
            }
        }
        tx.commit()?;
        rows += RAW_BATCH;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    Ok(RawSqlite {
        rows,
        rows_per_transaction: RAW_BATCH,
        seconds,
        rows_per_s: report::ratio(rows as f64, seconds),
    })
}
