//! `groupdeck bench fanout`: how fast one committed event reaches every live
//! subscriber of a big group, and what an idle event stream costs the server.
//!
//! The parent process runs an embedded server (a temporary SQLite file,
//! `synchronous=FULL`, rate limits off), fills one Community group with the
//! subscribers, and starts a swarm of worker processes (`groupdeck bench
//! fanout-worker`, this file's [`worker`]) that each hold their share of SSE
//! connections on 127.0.0.1; one process may hold only 20,000 files. A
//! member then joins and quits the group `--events` times, spaced out, and
//! every worker reports when each connection received each event. Latency is
//! measured from the instant the join or quit call returned in the server
//! process (the change is committed and published by then) to the instant a
//! worker read the frame, both on the machine's one realtime clock, in µs.
//!
//! With `--baseline`, a bare server (a tokio listener that writes each frame
//! of a `tokio::sync::broadcast` channel to every connection, nothing else)
//! faces the same swarm first, with frames of the same shape and size, and
//! groupdeck's figures are also printed as ratios of the bare ones.
//!
//! Everything stays on 127.0.0.1, is bounded in count and time, and stops by
//! itself; worker processes are killed when the run ends, however it ends.

use crate::model::{Actor, GroupType};
use crate::server::events::write_all;
use crate::server::{self, ServerConfig};
use crate::service::{NewGroup, Tips};
use crate::usersig::SigKey;
use anyhow::{Context, anyhow, bail};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The SDKAppID of the embedded server.
const APP_ID: u64 = 1_400_000_000;
/// The app admin that builds the group.
const ADMIN: &str = "administrator";
/// The group's owner (not a subscriber).
const OWNER: &str = "fanout-owner";
/// The member whose joins and quits are the timed events (not a subscriber).
const JOINER: &str = "fanout-joiner";
/// The group (a custom Community ID, so the baseline's frames can match its events).
const GROUP_ID: &str = "@TGS#_fanout";
/// Subscriber `i` is this prefix followed by `i`.
const SUBSCRIBER_PREFIX: &str = "fanout-sub-";
/// The most connections the server side may hold in one process (the machine allows 20,000 files).
const MAX_CONNECTIONS_PER_PROCESS: usize = 19_000;
/// Files the parent needs besides connections (database, logs, pipes, listeners).
const SPARE_FILES: u64 = 500;
/// Time between two timed events.
const EVENT_GAP: Duration = Duration::from_millis(200);
/// Events sent after the timed ones and not timed: a worker reports its
/// arrivals (a burst of work) once its streams have every event, which
/// would otherwise slow the other workers' reading of the last timed one.
const TRAILING_EVENTS: usize = 1;
/// How long the swarm may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long the workers may take to report after the last event.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole run, baseline included.
const OVERALL_TIMEOUT: Duration = Duration::from_secs(240);
/// Pause after the swarm is connected, before reading RSS and timing events.
const SETTLE: Duration = Duration::from_secs(1);
/// Connections a worker opens at once.
const CONNECT_CONCURRENCY: usize = 128;
/// The longest HTTP response head or SSE line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Invitations per call (the service's batch limit).
const INVITE_BATCH: usize = 300;
/// Initial members per create call (the service's limit).
const INITIAL_MEMBERS: usize = 100;

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// Live subscribers (SSE connections) to the one group.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Joins to time (each one is an event every subscriber must receive).
    #[arg(long, default_value_t = 20)]
    pub events: usize,
    /// Also run a bare tokio broadcast server with the same swarm, and print ratios.
    #[arg(long)]
    pub baseline: bool,
    /// Subscribers per worker process (this machine allows 20,000 files per process).
    #[arg(long, default_value_t = 8_000)]
    pub per_process: usize,
    /// The executable that runs `bench fanout-worker` (default: this one).
    #[arg(skip)]
    pub worker_exe: Option<PathBuf>,
    /// Run each worker's share as tasks in this process instead of a child process.
    #[arg(skip)]
    pub in_process: bool,
}

/// The hidden worker: `groupdeck bench fanout-worker ...` runs this in a child process.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The server to follow: http://127.0.0.1:PORT.
    #[arg(long)]
    pub url: String,
    /// The index of this worker's first subscriber (for messages).
    #[arg(long, default_value_t = 0)]
    pub first_user: usize,
    /// Event streams to open; one UserSig per line is read from stdin.
    #[arg(long)]
    pub count: usize,
    /// Events each stream waits for before the worker reports.
    #[arg(long, default_value_t = 20)]
    pub events: usize,
    /// Follow events after this id.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
}

/// What a worker reports, in order: `ready`, then `ev ID MICROS` lines, then `done`.
#[derive(Debug)]
enum Report {
    Ready,
    Event { id: u64, at_us: u64 },
    Done,
    Failed(String),
    Ended,
}

impl Report {
    fn parse(line: &str) -> Report {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("ready") => Report::Ready,
            Some("done") => Report::Done,
            Some("ev") => {
                let id = parts.next().and_then(|v| v.parse().ok());
                let at = parts.next().and_then(|v| v.parse().ok());
                match (id, at) {
                    (Some(id), Some(at_us)) => Report::Event { id, at_us },
                    _ => Report::Failed(format!("unreadable worker line {line:?}")),
                }
            }
            _ => Report::Failed(format!("unexpected worker line {line:?}")),
        }
    }

    fn line(&self) -> String {
        match self {
            Report::Ready => "ready".into(),
            Report::Done => "done".into(),
            Report::Event { id, at_us } => format!("ev {id} {at_us}"),
            Report::Failed(m) => format!("failed {m}"),
            Report::Ended => "ended".into(),
        }
    }
}

/// The realtime clock in µs (shared by every process on the machine).
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// This process's resident set, KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files of this process (`None` = unknown or unlimited).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `http://127.0.0.1:PORT[/...]` -> the socket address; only loopback is accepted.
fn loopback_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http:// (got {url:?})"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = host
        .parse()
        .with_context(|| format!("--url must be http://127.0.0.1:PORT (got {url:?})"))?;
    if !addr.ip().is_loopback() {
        bail!("the fanout swarm only connects to 127.0.0.1 (got {addr})");
    }
    Ok(addr)
}

// ---------------------------------------------------------------------------
// The swarm side: plain TCP, a minimal HTTP/1.1 request, an SSE line reader.
// ---------------------------------------------------------------------------

/// Where a chunked body is.
enum Chunk {
    Size(Vec<u8>),
    Data(usize),
    Trailer(usize),
    Finished,
}

/// Turns response-body bytes into `(event id, receive time)` pairs.
struct SseReader {
    chunk: Option<Chunk>,
    line: Vec<u8>,
    id: Option<u64>,
    reset: bool,
}

impl SseReader {
    fn new(chunked: bool) -> SseReader {
        SseReader {
            chunk: chunked.then(|| Chunk::Size(Vec::new())),
            line: Vec::new(),
            id: None,
            reset: false,
        }
    }

    /// Feeds body bytes read at `at_us`; complete frames go to `got`.
    fn feed(&mut self, bytes: &[u8], at_us: u64, got: &mut Vec<(u64, u64)>) -> Result<(), String> {
        let Some(mut state) = self.chunk.take() else {
            return self.sse(bytes, at_us, got);
        };
        let mut i = 0;
        while i < bytes.len() {
            state = match state {
                Chunk::Size(mut size) => match bytes[i..].iter().position(|b| *b == b'\n') {
                    Some(p) => {
                        size.extend_from_slice(&bytes[i..i + p]);
                        i += p + 1;
                        let text = String::from_utf8_lossy(&size);
                        let hex = text.split(';').next().unwrap_or("").trim();
                        let n = usize::from_str_radix(hex, 16)
                            .map_err(|_| format!("bad chunk size {hex:?}"))?;
                        if n == 0 {
                            Chunk::Finished
                        } else {
                            Chunk::Data(n)
                        }
                    }
                    None => {
                        size.extend_from_slice(&bytes[i..]);
                        if size.len() > 64 {
                            return Err("chunk size line too long".into());
                        }
                        i = bytes.len();
                        Chunk::Size(size)
                    }
                },
                Chunk::Data(n) => {
                    let take = n.min(bytes.len() - i);
                    self.sse(&bytes[i..i + take], at_us, got)?;
                    i += take;
                    if take == n {
                        Chunk::Trailer(2)
                    } else {
                        Chunk::Data(n - take)
                    }
                }
                Chunk::Trailer(n) => {
                    let take = n.min(bytes.len() - i);
                    i += take;
                    if take == n {
                        Chunk::Size(Vec::new())
                    } else {
                        Chunk::Trailer(n - take)
                    }
                }
                Chunk::Finished => {
                    i = bytes.len();
                    Chunk::Finished
                }
            };
        }
        self.chunk = Some(state);
        Ok(())
    }

    fn sse(&mut self, bytes: &[u8], at_us: u64, got: &mut Vec<(u64, u64)>) -> Result<(), String> {
        for b in bytes {
            if *b != b'\n' {
                self.line.push(*b);
                if self.line.len() > MAX_LINE {
                    return Err("an event-stream line is too long".into());
                }
                continue;
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches('\r')
                .to_string();
            self.line.clear();
            if line.is_empty() {
                if let Some(id) = self.id.take() {
                    if !self.reset {
                        got.push((id, at_us));
                    }
                }
                self.reset = false;
            } else if let Some(v) = line.strip_prefix("id:") {
                self.id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                self.reset = v.trim() == "reset";
            }
        }
        Ok(())
    }
}

/// Reads until a blank line (`\r\n\r\n`); returns the head and what followed it.
async fn read_head(stream: &TcpStream) -> anyhow::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_string();
            return Ok((head, buf[p + 4..].to_vec()));
        }
        if buf.len() > MAX_LINE {
            bail!("the HTTP head is longer than {MAX_LINE} bytes");
        }
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => bail!("the connection closed before the HTTP head ended"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// One open event stream, its head read.
struct Stream {
    tcp: TcpStream,
    reader: SseReader,
    got: Vec<(u64, u64)>,
}

async fn open_stream(addr: SocketAddr, after: u64, sig: &str) -> anyhow::Result<Stream> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let request = format!(
        "GET /api/v1/events?after={after} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {sig}\r\n\
         Accept: text/event-stream\r\n\r\n"
    );
    write_all(&tcp, request.as_bytes()).await?;
    let (head, rest) = read_head(&tcp).await?;
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        let body = String::from_utf8_lossy(&rest);
        bail!(
            "the event stream answered {status:?}: {}",
            body.chars().take(300).collect::<String>()
        );
    }
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let mut stream = Stream {
        tcp,
        reader: SseReader::new(chunked),
        got: Vec::new(),
    };
    stream
        .reader
        .feed(&rest, now_us(), &mut stream.got)
        .map_err(|e| anyhow!(e))?;
    Ok(stream)
}

/// Reads frames until `events` arrived, the server closed, or `deadline`.
async fn follow(mut s: Stream, events: usize, deadline: Instant) -> Vec<(u64, u64)> {
    let mut buf = vec![0u8; 4096];
    while s.got.len() < events {
        match tokio::time::timeout_at(deadline, s.tcp.readable()).await {
            Ok(Ok(())) => {}
            _ => break,
        }
        match s.tcp.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if s.reader.feed(&buf[..n], now_us(), &mut s.got).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    s.got
}

/// Opens every stream, says `Ready`, waits for the events, reports them, says `Done`.
async fn swarm(
    addr: SocketAddr,
    after: u64,
    sigs: Vec<String>,
    events: usize,
    deadline: Instant,
    out: mpsc::UnboundedSender<Report>,
) -> anyhow::Result<()> {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opening = Vec::with_capacity(sigs.len());
    for sig in sigs {
        let gate = gate.clone();
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            open_stream(addr, after, &sig).await
        }));
    }
    let mut streams = Vec::with_capacity(opening.len());
    let mut failure = None;
    for (i, task) in opening.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, task).await {
            Ok(Ok(Ok(s))) => streams.push(s),
            Ok(Ok(Err(e))) => {
                failure.get_or_insert_with(|| format!("stream {i}: {e:#}"));
            }
            Ok(Err(e)) => {
                failure.get_or_insert_with(|| format!("stream {i}: {e}"));
            }
            Err(_) => {
                failure.get_or_insert_with(|| "timed out opening the streams".to_string());
            }
        }
    }
    if let Some(f) = failure {
        bail!("{f}");
    }
    let _ = out.send(Report::Ready);
    let tasks: Vec<JoinHandle<Vec<(u64, u64)>>> = streams
        .into_iter()
        .map(|s| tokio::spawn(follow(s, events, deadline)))
        .collect();
    for t in tasks {
        if let Ok(got) = t.await {
            for (id, at_us) in got {
                let _ = out.send(Report::Event { id, at_us });
            }
        }
    }
    let _ = out.send(Report::Done);
    Ok(())
}

/// The hidden worker: reads `count` UserSigs from stdin, follows the stream
/// with each, prints `ready`, then `ev ID MICROS` per received event and `done`.
pub async fn worker(args: &WorkerArgs) -> anyhow::Result<()> {
    let addr = loopback_addr(&args.url)?;
    if args.count == 0 || args.count > MAX_CONNECTIONS_PER_PROCESS {
        bail!(
            "--count must be 1 to {MAX_CONNECTIONS_PER_PROCESS} (one process may hold 20,000 files)"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs.clamp(1, 3600));
    let count = args.count;
    let sigs = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let stdin = std::io::stdin();
        let mut sigs = Vec::with_capacity(count);
        for line in stdin.lock().lines().take(count) {
            sigs.push(
                line.context("reading UserSigs from stdin")?
                    .trim()
                    .to_string(),
            );
        }
        Ok(sigs)
    })
    .await
    .context("reading UserSigs")??;
    if sigs.len() < count {
        bail!(
            "expected {count} UserSigs on stdin (users from {}), got {}",
            args.first_user,
            sigs.len()
        );
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (after, events) = (args.after, args.events);
    let run = tokio::spawn(async move { swarm(addr, after, sigs, events, deadline, tx).await });
    let mut out = BufWriter::new(std::io::stdout());
    while let Some(report) = rx.recv().await {
        writeln!(out, "{}", report.line())?;
        if matches!(report, Report::Ready | Report::Done) {
            out.flush()?;
        }
    }
    out.flush()?;
    drop(out);
    run.await.context("the swarm task")?
}

// ---------------------------------------------------------------------------
// The parent side: workers, timing, figures.
// ---------------------------------------------------------------------------

/// Worker processes and tasks; killed or aborted when dropped.
#[derive(Default)]
struct Workers {
    children: Vec<Child>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A running swarm against one server.
struct Swarm {
    workers: Workers,
    count: usize,
    reports: mpsc::UnboundedReceiver<(usize, Report)>,
}

impl Swarm {
    /// Starts the workers for `sigs` (subscriber `i` has `sigs[i]`).
    fn start(
        args: &FanoutArgs,
        url: &str,
        after: u64,
        sigs: Vec<String>,
        timeout: Duration,
    ) -> anyhow::Result<Swarm> {
        let per = args.per_process.max(1);
        let (tx, reports) = mpsc::unbounded_channel();
        let mut workers = Workers::default();
        let mut count = 0;
        let mut sigs = sigs.into_iter();
        let mut first = 0;
        loop {
            let share: Vec<String> = sigs.by_ref().take(per).collect();
            if share.is_empty() {
                break;
            }
            let idx = count;
            count += 1;
            let n = share.len();
            if args.in_process {
                let addr = loopback_addr(url)?;
                let tx = tx.clone();
                let events = args.events + TRAILING_EVENTS;
                let deadline = Instant::now() + timeout;
                workers.tasks.push(tokio::spawn(async move {
                    let (wtx, mut wrx) = mpsc::unbounded_channel();
                    let run = swarm(addr, after, share, events, deadline, wtx);
                    let forward = async {
                        while let Some(r) = wrx.recv().await {
                            let _ = tx.send((idx, r));
                        }
                    };
                    let (result, ()) = tokio::join!(run, forward);
                    if let Err(e) = result {
                        let _ = tx.send((idx, Report::Failed(format!("{e:#}"))));
                    }
                    let _ = tx.send((idx, Report::Ended));
                }));
            } else {
                let exe = match &args.worker_exe {
                    Some(p) => p.clone(),
                    None => std::env::current_exe().context("finding this executable")?,
                };
                let mut child = std::process::Command::new(&exe)
                    .args(["bench", "fanout-worker", "--url", url])
                    .args(["--first-user", &first.to_string()])
                    .args(["--count", &n.to_string()])
                    .args(["--events", &(args.events + TRAILING_EVENTS).to_string()])
                    .args(["--after", &after.to_string()])
                    .args(["--timeout-secs", &timeout.as_secs().max(1).to_string()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .with_context(|| format!("starting the worker {}", exe.display()))?;
                let stdin = child.stdin.take();
                let stdout = child.stdout.take();
                workers.children.push(child);
                let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
                    bail!("the worker's stdin or stdout is not a pipe");
                };
                std::thread::spawn(move || {
                    let mut w = BufWriter::new(stdin);
                    for s in share {
                        if writeln!(w, "{s}").is_err() {
                            return;
                        }
                    }
                    let _ = w.flush();
                });
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if tx.send((idx, Report::parse(&line))).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send((idx, Report::Ended));
                });
            }
            first += n;
        }
        Ok(Swarm {
            workers,
            count,
            reports,
        })
    }

    /// Waits until every worker has all its streams open.
    async fn ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut ready = vec![false; self.count];
        while ready.iter().any(|r| !r) {
            let (idx, report) = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .map_err(|_| anyhow!("the swarm did not connect within {timeout:?}"))?
                .ok_or_else(|| anyhow!("every worker went away"))?;
            match report {
                Report::Ready => ready[idx] = true,
                Report::Failed(m) => bail!("worker {idx}: {m}"),
                Report::Ended => bail!("worker {idx} ended before its streams were open"),
                _ => {}
            }
        }
        Ok(())
    }

    /// Collects every reported `(event id, receive time)` until all workers are done.
    async fn collect(mut self, timeout: Duration) -> anyhow::Result<Vec<(u64, u64)>> {
        let deadline = Instant::now() + timeout;
        let mut done = vec![false; self.count];
        let mut got = Vec::new();
        while done.iter().any(|d| !d) {
            let next = tokio::time::timeout_at(deadline, self.reports.recv()).await;
            let Ok(Some((idx, report))) = next else {
                let missing = done.iter().filter(|d| !**d).count();
                bail!("{missing} worker(s) did not report within {timeout:?} after the last event");
            };
            match report {
                Report::Event { id, at_us } => got.push((id, at_us)),
                Report::Done | Report::Ended => done[idx] = true,
                Report::Failed(m) => bail!("worker {idx}: {m}"),
                Report::Ready => {}
            }
        }
        drop(self.workers);
        Ok(got)
    }
}

/// Latencies of one run.
struct Figures {
    expected: u64,
    delivered: u64,
    /// Commit to delivery over every (subscriber, event) pair, µs.
    all: Histogram<u64>,
    /// Commit to delivery at the last subscriber, per event, µs.
    last: Histogram<u64>,
    /// Server RSS per idle stream, KiB.
    rss_per_stream_kib: Option<f64>,
    connect_secs: f64,
}

impl Figures {
    fn new(
        subscribers: usize,
        commits: &HashMap<u64, u64>,
        got: &[(u64, u64)],
    ) -> anyhow::Result<Figures> {
        let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
            .map_err(|e| anyhow!("histogram: {e}"))?;
        let mut last = all.clone();
        let mut worst: HashMap<u64, u64> = HashMap::new();
        let mut delivered = 0;
        for (id, at) in got {
            let Some(commit) = commits.get(id) else {
                continue;
            };
            let lat = at.saturating_sub(*commit).max(1);
            all.saturating_record(lat);
            delivered += 1;
            let w = worst.entry(*id).or_insert(0);
            *w = (*w).max(lat);
        }
        for w in worst.values() {
            last.saturating_record(*w);
        }
        Ok(Figures {
            expected: (subscribers as u64).saturating_mul(commits.len() as u64),
            delivered,
            all,
            last,
            rss_per_stream_kib: None,
            connect_secs: 0.0,
        })
    }

    fn ms(h: &Histogram<u64>, q: f64) -> f64 {
        if h.is_empty() {
            return 0.0;
        }
        h.value_at_quantile(q) as f64 / 1000.0
    }

    /// (label, JSON key, value) rows, in print order.
    fn rows(&self) -> Vec<(&'static str, &'static str, f64)> {
        vec![
            (
                "all pairs p50 (ms)",
                "all_p50_ms",
                Figures::ms(&self.all, 0.50),
            ),
            (
                "all pairs p99 (ms)",
                "all_p99_ms",
                Figures::ms(&self.all, 0.99),
            ),
            (
                "all pairs max (ms)",
                "all_max_ms",
                self.all.max() as f64 / 1000.0,
            ),
            (
                "last subscriber p50 (ms)",
                "last_p50_ms",
                Figures::ms(&self.last, 0.50),
            ),
            (
                "last subscriber p99 (ms)",
                "last_p99_ms",
                Figures::ms(&self.last, 0.99),
            ),
            (
                "RSS per idle stream (KiB)",
                "rss_per_stream_kib",
                self.rss_per_stream_kib.unwrap_or(f64::NAN),
            ),
            ("connect time (s)", "connect_secs", self.connect_secs),
        ]
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "expected": self.expected,
            "delivered": self.delivered,
            "all_p50_ms": Figures::ms(&self.all, 0.50),
            "all_p99_ms": Figures::ms(&self.all, 0.99),
            "all_max_ms": self.all.max() as f64 / 1000.0,
            "last_p50_ms": Figures::ms(&self.last, 0.50),
            "last_p99_ms": Figures::ms(&self.last, 0.99),
            "rss_per_stream_kib": self.rss_per_stream_kib,
            "connect_secs": self.connect_secs,
        })
    }
}

/// A temporary directory for the database, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "groupdeck-fanout-{}-{}",
            std::process::id(),
            now_us()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn random_key() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..64)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

fn subscriber(i: usize) -> String {
    format!("{SUBSCRIBER_PREFIX}{i}")
}

/// How long a worker may live: connecting, the events, reporting.
fn worker_timeout(args: &FanoutArgs) -> Duration {
    CONNECT_TIMEOUT + EVENT_GAP * (args.events + TRAILING_EVENTS + 1) as u32 + COLLECT_TIMEOUT
}

/// Waits for the swarm, reads RSS around it; returns (RSS per stream, connect seconds).
async fn connect_swarm(
    swarm: &mut Swarm,
    subscribers: usize,
) -> anyhow::Result<(Option<f64>, f64)> {
    let before = rss_kib();
    let started = Instant::now();
    swarm.ready(CONNECT_TIMEOUT).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let after = rss_kib();
    let per = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / subscribers as f64),
        _ => None,
    };
    Ok((per, connect_secs))
}

/// An event of the shape and size of the timed joins (the baseline sends these).
fn sample_event(subscribers: usize) -> serde_json::Value {
    serde_json::json!({
        "id": 0,
        "time": now_us() / 1000,
        "group_id": GROUP_ID,
        "kind": "member_joined",
        "actor": JOINER,
        "targets": [JOINER],
        "detail": {"via": "join", "member_count": subscribers + 2},
    })
}

/// The groupdeck run.
async fn run_groupdeck(args: &FanoutArgs) -> anyhow::Result<Figures> {
    let dir = TempDir::new()?;
    let key = random_key();
    let mut cfg = ServerConfig::new(dir.0.join("fanout.db"), APP_ID, key.clone());
    cfg.app_admins = vec![ADMIN.to_string()];
    cfg.rate_per_second = 0;
    cfg.rest_rate_per_command = 0;
    cfg.synchronous_full = true;
    let running = server::start(cfg).await?;
    let result = drive_groupdeck(args, &running, &key).await;
    running.stop().await?;
    drop(dir);
    result
}

async fn drive_groupdeck(
    args: &FanoutArgs,
    running: &server::RunningServer,
    key: &str,
) -> anyhow::Result<Figures> {
    let service = &running.service;
    let admin = Actor::app_admin(ADMIN);
    let users: Vec<String> = (0..args.subscribers).map(subscriber).collect();
    let mut import: Vec<(String, String, String)> = vec![
        (OWNER.into(), String::new(), String::new()),
        (JOINER.into(), String::new(), String::new()),
    ];
    import.extend(
        users
            .iter()
            .map(|u| (u.clone(), String::new(), String::new())),
    );
    for batch in import.chunks(1000) {
        let failed = service.import_users(batch.to_vec()).await?;
        if !failed.is_empty() {
            bail!("could not create users {failed:?}");
        }
    }
    let initial = users.len().min(INITIAL_MEMBERS);
    let group = service
        .create_group(
            &admin,
            NewGroup {
                group_id: Some(GROUP_ID.into()),
                name: "fanout".into(),
                group_type: Some(GroupType::Community),
                owner: Some(OWNER.into()),
                members: users[..initial].iter().map(|u| (u.clone(), None)).collect(),
                ..Default::default()
            },
        )
        .await?;
    let gid = group.group_id;
    for batch in users[initial..].chunks(INVITE_BATCH) {
        service
            .invite(&admin, &gid, batch.to_vec(), Tips::Silent)
            .await?;
    }
    let (head, _) = service.log_bounds().await?;
    let sig_key = SigKey::new(APP_ID, key);
    let sigs = tokio::task::spawn_blocking(move || {
        users
            .iter()
            .map(|u| sig_key.sign(u, 86_400))
            .collect::<Vec<_>>()
    })
    .await
    .context("minting UserSigs")?;

    let mut swarm = Swarm::start(args, &running.base_url(), head, sigs, worker_timeout(args))?;
    let (rss, connect_secs) = connect_swarm(&mut swarm, args.subscribers).await?;

    let joiner = Actor::user(JOINER);
    let mut commits = HashMap::new();
    let mut joined = false;
    for k in 0..args.events + TRAILING_EVENTS {
        if joined {
            service.quit(&joiner, &gid).await?;
        } else {
            service.join(&joiner, &gid, None).await?;
        }
        let at = now_us();
        joined = !joined;
        let (id, _) = service.log_bounds().await?;
        if k < args.events {
            commits.insert(id, at);
        }
        tokio::time::sleep(EVENT_GAP).await;
    }
    let got = swarm.collect(COLLECT_TIMEOUT).await?;
    let mut figures = Figures::new(args.subscribers, &commits, &got)?;
    figures.rss_per_stream_kib = rss;
    figures.connect_secs = connect_secs;
    Ok(figures)
}

/// The bare server: answers any request with SSE headers, then writes every broadcast frame.
struct BareServer {
    addr: SocketAddr,
    frames: broadcast::Sender<Arc<[u8]>>,
    accept: JoinHandle<()>,
}

impl BareServer {
    async fn start() -> anyhow::Result<BareServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (frames, _) = broadcast::channel::<Arc<[u8]>>(1024);
        let sender = frames.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let rx = sender.subscribe();
                tokio::spawn(BareServer::serve(tcp, rx));
            }
        });
        Ok(BareServer {
            addr,
            frames,
            accept,
        })
    }

    async fn serve(tcp: TcpStream, mut rx: broadcast::Receiver<Arc<[u8]>>) {
        let head = tokio::time::timeout(Duration::from_secs(30), read_head(&tcp)).await;
        if !matches!(head, Ok(Ok(_))) {
            return;
        }
        let response = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
        if write_all(&tcp, response).await.is_err() {
            return;
        }
        loop {
            match rx.recv().await {
                Ok(frame) => {
                    if write_all(&tcp, &frame).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Sends one frame (chunk-encoded) to every connection.
    fn send(&self, id: u64, sample: &serde_json::Value) -> u64 {
        let mut event = sample.clone();
        event["id"] = id.into();
        event["time"] = (now_us() / 1000).into();
        let body = format!("id: {id}\nevent: member_joined\ndata: {event}\n\n");
        let chunk = format!("{:x}\r\n{body}\r\n", body.len());
        let _ = self.frames.send(Arc::from(chunk.into_bytes()));
        now_us()
    }

    fn stop(self) {
        self.accept.abort();
    }
}

async fn run_bare(args: &FanoutArgs) -> anyhow::Result<Figures> {
    let sample = &sample_event(args.subscribers);
    let bare = BareServer::start().await?;
    let sigs = vec![String::from("bare"); args.subscribers];
    let url = format!("http://{}", bare.addr);
    let result = async {
        let mut swarm = Swarm::start(args, &url, 0, sigs, worker_timeout(args))?;
        let (rss, connect_secs) = connect_swarm(&mut swarm, args.subscribers).await?;
        let mut commits = HashMap::new();
        for k in 0..args.events + TRAILING_EVENTS {
            let id = k as u64 + 1;
            let at = bare.send(id, sample);
            if k < args.events {
                commits.insert(id, at);
            }
            tokio::time::sleep(EVENT_GAP).await;
        }
        let got = swarm.collect(COLLECT_TIMEOUT).await?;
        let mut figures = Figures::new(args.subscribers, &commits, &got)?;
        figures.rss_per_stream_kib = rss;
        figures.connect_secs = connect_secs;
        Ok(figures)
    }
    .await;
    bare.stop();
    result
}

fn check_limits(args: &FanoutArgs) -> anyhow::Result<()> {
    if args.subscribers == 0 || args.events == 0 || args.per_process == 0 {
        bail!("--subscribers, --events and --per-process must be at least 1");
    }
    if args.events > 10_000 {
        bail!("--events may be at most 10,000");
    }
    if args.per_process > MAX_CONNECTIONS_PER_PROCESS {
        bail!(
            "--per-process {} is over {MAX_CONNECTIONS_PER_PROCESS}: one process may hold at most 20,000 files",
            args.per_process
        );
    }
    // The server side of every stream lives in this process (and the
    // client side too when the workers run in it).
    let here = if args.in_process {
        args.subscribers.saturating_mul(2)
    } else {
        args.subscribers
    };
    if here > MAX_CONNECTIONS_PER_PROCESS {
        bail!(
            "{} subscribers need {here} open files in the server process, over {MAX_CONNECTIONS_PER_PROCESS}: \
             one process may hold at most 20,000 files here; use fewer subscribers \
             (a bigger swarm needs the server to run in several processes)",
            args.subscribers
        );
    }
    if let Some(soft) = open_files_limit() {
        let need = here as u64 + SPARE_FILES;
        if soft < need {
            bail!(
                "this process may open {soft} files but the run needs about {need}; \
                 raise the limit first (e.g. `ulimit -n {need}`) or use fewer subscribers"
            );
        }
    }
    Ok(())
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

fn print_table(args: &FanoutArgs, workers: usize, gd: &Figures, bare: Option<&Figures>) {
    println!(
        "fanout: {} subscribers on one Community group, {} events {} ms apart, {} worker {}, synchronous=FULL",
        args.subscribers,
        args.events,
        EVENT_GAP.as_millis(),
        workers,
        if args.in_process {
            "task group(s) in this process"
        } else {
            "process(es)"
        }
    );
    println!(
        "latency: from the instant the join/quit call returned in the server process to the frame's arrival (realtime clock, µs)"
    );
    if args.in_process {
        println!("note: the swarm ran in this process, so the RSS figure includes its side too");
    }
    let delivered = |f: &Figures| format!("{}/{}", f.delivered, f.expected);
    match bare {
        None => {
            println!("{:<28} {:>14}", "", "groupdeck");
            println!("{:<28} {:>14}", "delivered", delivered(gd));
            for (name, _, v) in gd.rows() {
                println!("{name:<28} {v:>14.2}");
            }
        }
        Some(b) => {
            println!(
                "{:<28} {:>14} {:>14} {:>8}",
                "", "groupdeck", "bare", "ratio"
            );
            println!(
                "{:<28} {:>14} {:>14} {:>8}",
                "delivered",
                delivered(gd),
                delivered(b),
                ""
            );
            for ((name, _, g), (_, _, v)) in gd.rows().into_iter().zip(b.rows()) {
                let r = ratio(g, v).map_or("-".to_string(), |r| format!("{r:.2}"));
                println!("{name:<28} {g:>14.2} {v:>14.2} {r:>8}");
            }
        }
    }
}

async fn run_all(args: &FanoutArgs, json: bool) -> anyhow::Result<()> {
    check_limits(args)?;
    let workers = args.subscribers.div_ceil(args.per_process);
    // The bare server goes first: memory freed by one run is reused by the
    // next, so the smaller run first keeps the larger one's RSS honest.
    let bare = if args.baseline {
        Some(run_bare(args).await?)
    } else {
        None
    };
    let gd = run_groupdeck(args).await?;
    if json {
        let ratios = bare.as_ref().map(|b| {
            let mut m = serde_json::Map::new();
            for ((_, key, g), (_, _, v)) in gd.rows().into_iter().zip(b.rows()) {
                m.insert(key.to_string(), ratio(g, v).into());
            }
            serde_json::Value::Object(m)
        });
        let doc = serde_json::json!({
            "mode": "fanout",
            "subscribers": args.subscribers,
            "events": args.events,
            "event_gap_ms": EVENT_GAP.as_millis() as u64,
            "workers": workers,
            "workers_in_process": args.in_process,
            "synchronous": "FULL",
            "latency_from": "the instant the join/quit call returned in the server process",
            "groupdeck": gd.json(),
            "bare": bare.as_ref().map(Figures::json),
            "ratio": ratios,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_table(args, workers, &gd, bare.as_ref());
    }
    let short = |f: &Figures| f.delivered < f.expected;
    if short(&gd) || bare.as_ref().is_some_and(short) {
        bail!("some subscribers did not receive every event (see `delivered`)");
    }
    Ok(())
}

/// `groupdeck bench fanout`: the embedded server, the swarm, the figures (a table, or JSON).
pub async fn run(args: &FanoutArgs, json: bool) -> anyhow::Result<()> {
    tokio::time::timeout(OVERALL_TIMEOUT, run_all(args, json))
        .await
        .map_err(|_| anyhow!("the fanout run did not finish within {OVERALL_TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_frames_split_anywhere_are_read_once() {
        let body = "id: 7\nevent: member_joined\ndata: {}\n\n:keep-alive\n\nid: 8\nevent: reset\ndata: {}\n\nid: 9\ndata: x\n\n";
        let wire = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        for split in 1..wire.len() {
            let mut r = SseReader::new(true);
            let mut got = Vec::new();
            for part in wire.as_bytes().chunks(split) {
                assert!(r.feed(part, 5, &mut got).is_ok());
            }
            assert_eq!(got, vec![(7, 5), (9, 5)], "split every {split} bytes");
        }
    }

    #[test]
    fn worker_lines_round_trip() {
        let line = Report::Event { id: 3, at_us: 42 }.line();
        assert!(matches!(
            Report::parse(&line),
            Report::Event { id: 3, at_us: 42 }
        ));
        assert!(matches!(Report::parse("ready"), Report::Ready));
        assert!(matches!(Report::parse("ev x"), Report::Failed(_)));
    }

    #[test]
    fn only_loopback_urls() {
        assert!(loopback_addr("http://127.0.0.1:80").is_ok());
        assert!(loopback_addr("http://10.0.0.1:80").is_err());
        assert!(loopback_addr("https://127.0.0.1:80").is_err());
    }
}
