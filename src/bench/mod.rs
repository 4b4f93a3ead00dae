//! `groupdeck bench`: a load generator shipped with the server (like
//! pgbench). It drives a groupdeck server over HTTP with many concurrent
//! users and prints throughput and latency percentiles per operation.
//!
//! Without `--server` it starts its own embedded server on 127.0.0.1 over a
//! temporary SQLite file (`synchronous=FULL`, no rate limit), removed at the end.
//! Modes: `ops` (a mix of durable group operations, compared with the raw
//! batched-insert rate of SQLite on the same disk), `reads` (group info,
//! member pages, joined-group lists), `big` (one very large Community
//! against a 100-member group) and `fanout` (live event delivery to a swarm of
//! SSE subscribers, optionally against a bare broadcast server).

mod bare_http;
mod big;
pub mod fanout;
pub mod ops;
mod reads;
mod report;

use crate::client::Client;
use crate::config::{self, DEFAULT_APP_ID, Paths};
use crate::server::{self, RunningServer, ServerConfig};
use crate::service::Service;
use crate::usersig::SigKey;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The most concurrent clients a run may use.
pub const MAX_CLIENTS: usize = 1000;
/// The longest run, in seconds.
pub const MAX_SECONDS: u64 = 600;
/// How long a bench UserSig stays valid.
const SIG_SECS: u64 = 86_400;

/// `groupdeck bench MODE [options]`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub mode: Mode,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What to measure.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Mode {
    /// Concurrent durable group operations: create, join, request + approve,
    /// invite, quit, kick, join-option change; compared with raw SQLite inserts.
    Ops(ops::OpsArgs),
    /// Concurrent reads: group info, a members page, the joined-group list.
    Reads,
    /// Join/quit and a members page in a very large Community against a 100-member group.
    Big(BigArgs),
    /// Commit-to-delivery latency of one group's events to many live SSE
    /// subscribers, and server memory per idle stream.
    Fanout(fanout::FanoutArgs),
    /// One share of the fanout swarm, run in a child process.
    #[command(hide = true)]
    FanoutWorker(fanout::WorkerArgs),
}

/// Options every mode takes.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// A running groupdeck server, e.g. http://127.0.0.1:9090 (default: start an
    /// embedded one over a temporary SQLite file).
    #[arg(long, global = true, env = "GROUPDECK_SERVER")]
    pub server: Option<String>,
    /// With --server: the server's key file, to sign the bench users' UserSigs.
    #[arg(long, global = true, env = "GROUPDECK_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// With --server: the server's SDKAppID.
    #[arg(long, global = true, env = "GROUPDECK_APP_ID")]
    pub app_id: Option<u64>,
    /// Concurrent clients (at most 1000).
    #[arg(long, global = true, default_value_t = 64)]
    pub clients: usize,
    /// How long to run, in seconds (at most 600).
    #[arg(long, global = true, default_value_t = 10)]
    pub seconds: u64,
    /// Print one JSON document instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Options of `bench big`.
#[derive(clap::Args, Debug, Clone)]
pub struct BigArgs {
    /// Members of the large Community (at least 200, at most 100000).
    #[arg(long, default_value_t = 100_000)]
    pub members: u64,
}

/// Runs a bench to completion and prints its report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: BenchArgs) -> anyhow::Result<()> {
    let c = &args.common;
    let settings = Settings {
        clients: c.clients.clamp(1, MAX_CLIENTS),
        seconds: c.seconds.clamp(1, MAX_SECONDS),
        json: c.json,
    };
    match &args.mode {
        Mode::Fanout(f) => {
            if c.server.is_some() {
                anyhow::bail!(
                    "`bench fanout` measures its own embedded server (and its memory); run it without --server"
                );
            }
            return fanout::run(f, c.json).await;
        }
        Mode::FanoutWorker(w) => return fanout::worker(w).await,
        _ => {}
    }
    if let Mode::Big(_) = &args.mode
        && c.server.is_some()
    {
        anyhow::bail!(
            "`bench big` builds its large group through the service directly and so needs the embedded server; run it without --server"
        );
    }
    let target = Target::open(c).await?;
    let result = match &args.mode {
        Mode::Ops(o) => ops::run(&target, &settings, o).await,
        Mode::Reads => reads::run(&target, &settings).await,
        Mode::Big(b) => big::run(&target, &settings, b.members).await,
        // Returned above; kept here so the match stays whole.
        Mode::Fanout(_) | Mode::FanoutWorker(_) => Err(anyhow::anyhow!("fanout runs on its own")),
    };
    let stopped = target.close().await;
    let report = result?;
    stopped?;
    let text = if settings.json {
        let mut t = serde_json::to_string_pretty(&report)?;
        t.push('\n');
        t
    } else {
        report::render_table(&report)
    };
    write_stdout(&text)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the report")
        }
        _ => Ok(()),
    }
}

/// The bounded knobs of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub clients: usize,
    pub seconds: u64,
    pub json: bool,
}

/// The server under load: embedded (with its service and data directory) or remote.
pub(crate) struct Target {
    pub base: String,
    pub key: SigKey,
    /// A prefix that keeps this run's users and groups apart from earlier runs.
    pub run_id: String,
    pub embedded: Option<Embedded>,
}

pub(crate) struct Embedded {
    pub server: RunningServer,
    pub dir: TempDir,
}

impl Target {
    async fn open(c: &CommonArgs) -> anyhow::Result<Target> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        // Short enough that `{run_id}-c999-m9` stays within 32 bytes.
        let run_id = format!("b{:x}", (nanos as u64) & 0xff_ffff_ffff);
        match &c.server {
            Some(url) => {
                let key_file = match &c.key_file {
                    Some(p) => p.clone(),
                    None => Paths::resolve()?.key_file(),
                };
                let key = config::read_key(&key_file)?;
                let app_id = c.app_id.unwrap_or(DEFAULT_APP_ID);
                Ok(Target {
                    base: url.trim_end_matches('/').to_string(),
                    key: SigKey::new(app_id, key),
                    run_id,
                    embedded: None,
                })
            }
            None => {
                let dir = TempDir::new(&run_id)?;
                let key = crate::usersig::generate_key();
                let mut cfg = ServerConfig::new(dir.path.join("bench.db"), DEFAULT_APP_ID, &key);
                cfg.rate_per_second = 0;
                cfg.rest_rate_per_command = 0;
                cfg.synchronous_full = true;
                let server = server::start(cfg).await?;
                Ok(Target {
                    base: server.base_url(),
                    key: SigKey::new(DEFAULT_APP_ID, key),
                    run_id,
                    embedded: Some(Embedded { server, dir }),
                })
            }
        }
    }

    /// A client acting as `user`.
    pub fn client(&self, user: &str) -> anyhow::Result<Client> {
        Client::new(&self.base, user, &self.key.sign(user, SIG_SECS))
            .with_context(|| format!("connecting to {}", self.base))
    }

    /// Another user over the same connection pool.
    pub fn as_user(&self, base: &Client, user: &str) -> anyhow::Result<Client> {
        as_user(&self.key, base, user)
    }

    /// The embedded service, when the server runs in this process.
    pub fn service(&self) -> Option<&Arc<Service>> {
        self.embedded.as_ref().map(|e| &e.server.service)
    }

    /// The directory of the embedded server's database.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.embedded.as_ref().map(|e| e.dir.path.as_path())
    }

    /// Where the load goes, for the title line.
    pub fn describe(&self) -> String {
        match &self.embedded {
            Some(_) => format!("embedded server at {}", self.base),
            None => self.base.clone(),
        }
    }

    async fn close(self) -> anyhow::Result<()> {
        if let Some(e) = self.embedded {
            e.server.stop().await?;
            drop(e.dir);
        }
        Ok(())
    }
}

/// A directory under the system temp directory, removed when dropped.
pub(crate) struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    fn new(tag: &str) -> anyhow::Result<TempDir> {
        let path =
            std::env::temp_dir().join(format!("groupdeck-bench-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `user` over the pool of `base`, with a UserSig signed by `key`.
pub(crate) fn as_user(key: &SigKey, base: &Client, user: &str) -> anyhow::Result<Client> {
    Ok(base.with_user(user, &key.sign(user, SIG_SECS))?)
}

/// The durability the numbers were measured with.
pub(crate) fn synchronous_label(target: &Target) -> String {
    if target.embedded.is_some() {
        "FULL".into()
    } else {
        "as the server is set".into()
    }
}

/// The number of CPU cores this process may use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
