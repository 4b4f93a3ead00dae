//! The demo world behind `groupdeck` with no server named: an embedded
//! server on `127.0.0.1` (a free port) over a local SQLite file, seeded once
//! with `assets/demo.json` (users, groups of every type, join requests and a
//! history of events), and simulated users who keep applying, joining,
//! leaving and deciding so every pane of the console is alive. The console
//! connects to it as [`DEMO_USER`].
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use groupdeck::demo::{self, EmbeddedOptions};
//! let demo = demo::start(EmbeddedOptions::new("demo.db", "demo.key")).await?;
//! // connect a client to demo.base_url as demo.user with demo.usersig ...
//! demo.stop().await?;
//! # Ok(()) }
//! ```

pub mod seed;
pub mod simulation;
pub mod world;

use crate::client::Client;
use crate::config::{DEFAULT_APP_ID, load_or_create_key};
use crate::server::{RunningServer, ServerConfig};
use crate::usersig::{DEFAULT_EXPIRE_SECS, SigKey};
use anyhow::Context;
use simulation::Simulation;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use world::World;

/// The console's identity in the demo world.
pub const DEMO_USER: &str = "alice";

/// The mean time between two simulated moves, unless told otherwise.
pub const DEFAULT_PACE: Duration = Duration::from_secs(2);

/// Where the embedded server keeps its data, and how lively the world is.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The SQLite database (created when missing).
    pub db_path: PathBuf,
    /// The server key (created, mode 0600, when missing).
    pub key_file: PathBuf,
    pub app_id: u64,
    /// Whether simulated users act while the console runs.
    pub simulate: bool,
    /// The mean time between two simulated moves (each waits between half
    /// and one and a half of it).
    pub pace: Duration,
}

impl EmbeddedOptions {
    /// The defaults: the default app id, simulation on, a move every 2 s or so.
    pub fn new(db_path: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> EmbeddedOptions {
        EmbeddedOptions {
            db_path: db_path.into(),
            key_file: key_file.into(),
            app_id: DEFAULT_APP_ID,
            simulate: true,
            pace: DEFAULT_PACE,
        }
    }
}

/// A running embedded server with the demo world, and what the console
/// needs to connect to it.
pub struct Embedded {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// [`DEMO_USER`].
    pub user: String,
    /// The user's UserSig, signed with the server's key.
    pub usersig: String,
    /// Whether this start seeded the world (false when the database already had it).
    pub seeded_now: bool,
    server: RunningServer,
    simulation: Option<Simulation>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The UserSig stays out of debug output.
        f.debug_struct("Embedded")
            .field("base_url", &self.base_url)
            .field("user", &self.user)
            .field("seeded_now", &self.seeded_now)
            .field("simulating", &self.simulation.is_some())
            .finish_non_exhaustive()
    }
}

impl Embedded {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Stops the simulated users, then the server.
    pub async fn stop(self) -> anyhow::Result<()> {
        let Embedded {
            server, simulation, ..
        } = self;
        if let Some(sim) = simulation {
            sim.stop().await;
        }
        server.stop().await.context("stopping the embedded server")
    }
}

/// Starts the embedded server over `opts.db_path`, seeds the demo world if
/// this database does not have it yet, and starts the simulated users when
/// `opts.simulate` is set.
pub async fn start(opts: EmbeddedOptions) -> anyhow::Result<Embedded> {
    let world = Arc::new(World::embedded()?);
    let key = load_or_create_key(&opts.key_file)?;
    if let Some(dir) = opts.db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut config = ServerConfig::new(&opts.db_path, opts.app_id, key.clone());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = crate::server::start(config)
        .await
        .context("starting the embedded server")?;
    let seeded_now = match seed::seed_once(&server.service, &world).await {
        Ok(seeded) => seeded,
        Err(e) => {
            if let Err(stop) = server.stop().await {
                tracing::warn!("stopping the embedded server after a failed seed: {stop:#}");
            }
            return Err(e.context(format!(
                "seeding the demo world into {}",
                opts.db_path.display()
            )));
        }
    };
    let sig_key = SigKey::new(opts.app_id, key);
    let user = world.local_user.clone();
    let usersig = sig_key.sign(&user, DEFAULT_EXPIRE_SECS);
    let base_url = server.base_url();
    let simulation = if opts.simulate {
        match Client::new(&base_url, &user, &usersig) {
            Ok(base) => Some(Simulation::spawn(base, sig_key, world, opts.pace)),
            Err(e) => {
                if let Err(stop) = server.stop().await {
                    tracing::warn!("stopping the embedded server: {stop:#}");
                }
                return Err(anyhow::Error::new(e).context("starting the demo simulation"));
            }
        }
    } else {
        None
    };
    Ok(Embedded {
        base_url,
        user,
        usersig,
        seeded_now,
        server,
        simulation,
    })
}
