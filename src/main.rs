//! The `groupdeck` command line: parse, load config, call into the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use groupdeck::config::{self, ConfigFile, DEFAULT_APP_ID, Paths};
use groupdeck::server::{self, ServerConfig};
use groupdeck::usersig::{DEFAULT_EXPIRE_SECS, SigKey};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Requests allocate many small short-lived buffers on every worker thread;
/// mimalloc's thread-local free lists serve them with far less work than
/// the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "groupdeck",
    version,
    about = "Self-hosted chat groups (the Tencent Cloud Chat group model) and a terminal console to moderate them",
    long_about = "Self-hosted chat groups (the Tencent Cloud Chat group model) and a terminal console to moderate them.\n\n\
With no command, runs the console. With no --server it starts an embedded server on 127.0.0.1 \
over a SQLite file in the data directory, seeded with a demo world and simulated users (DEMO). \
Press ? in the console for every key."
)]
struct Cli {
    /// Print where config, keymap, data, key and logs live, then exit.
    #[arg(long)]
    print_paths: bool,
    #[command(flatten)]
    console: ConsoleArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The console's options (no subcommand).
#[derive(clap::Args)]
struct ConsoleArgs {
    /// A groupdeck server, e.g. http://127.0.0.1:9090 (default: an embedded demo server).
    #[arg(long, env = "GROUPDECK_SERVER")]
    server: Option<String>,
    /// The user ID to act as (with --server).
    #[arg(long, env = "GROUPDECK_USER")]
    user: Option<String>,
    /// The UserSig of that user (`groupdeck usersig --user ID` mints one).
    #[arg(long, env = "GROUPDECK_USERSIG", hide_env_values = true)]
    usersig: Option<String>,
    /// Hide and refuse every action that changes anything.
    #[arg(long)]
    read_only: bool,
    /// No colours (also when NO_COLOR is set); bold and reverse still mark focus.
    #[arg(long)]
    no_color: bool,
    /// Colour theme.
    #[arg(long, value_parser = ["dark", "light"])]
    theme: Option<String>,
    /// Demo: the mean time between simulated users' actions, in milliseconds (0 = none).
    #[arg(long, default_value_t = 2000, hide = true)]
    demo_pace_ms: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run the group service (HTTP + JSON API, live events over SSE).
    Serve(ServeArgs),
    /// Mint a UserSig with the server's key, as Tencent's console does.
    Usersig(UsersigArgs),
    /// Load generator: ops/s and latency percentiles against a server (embedded by default).
    Bench(groupdeck::bench::BenchArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GROUPDECK_LISTEN")]
    listen: Option<SocketAddr>,
    /// Database: sqlite://PATH (default: groupdeck.db in the data directory).
    #[arg(long, env = "GROUPDECK_DB")]
    db: Option<String>,
    /// The SDKAppID tickets must carry.
    #[arg(long, env = "GROUPDECK_APP_ID")]
    app_id: Option<u64>,
    /// File holding the secret key; created with a random key (mode 0600) when missing.
    #[arg(long, env = "GROUPDECK_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// An app admin identity (repeatable). Default: `administrator`.
    #[arg(
        long = "app-admin",
        env = "GROUPDECK_APP_ADMINS",
        value_delimiter = ','
    )]
    app_admins: Vec<String>,
    /// Requests per second allowed per identity (0 = unlimited).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Burst of requests allowed per identity.
    #[arg(long)]
    rate_burst: Option<u32>,
    /// Largest request body in bytes (larger ones get 413).
    #[arg(long)]
    body_limit: Option<usize>,
    /// How many of the newest events are kept for resuming streams.
    #[arg(long)]
    event_retention: Option<u64>,
    /// SQLite durability: `full` (default; fsync every commit) or `normal`.
    #[arg(long, value_parser = ["full", "normal"])]
    synchronous: Option<String>,
    /// Groups one user may create or join.
    #[arg(long)]
    user_group_limit: Option<u64>,
}

#[derive(clap::Args)]
struct UsersigArgs {
    /// The user ID to sign for.
    #[arg(long)]
    user: String,
    /// Validity in seconds (default 180 days).
    #[arg(long, default_value_t = DEFAULT_EXPIRE_SECS)]
    expire: u64,
    /// The SDKAppID.
    #[arg(long, env = "GROUPDECK_APP_ID")]
    app_id: Option<u64>,
    /// The server's key file.
    #[arg(long, env = "GROUPDECK_KEY_FILE")]
    key_file: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain on one line, without a backtrace: a person reads this.
            eprintln!("groupdeck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::resolve()?;
    if cli.print_paths {
        println!("config:  {}", paths.config_file().display());
        println!("keymap:  {}", paths.keymap_file().display());
        println!("data:    {}", paths.data_dir.display());
        println!("server:  {}", paths.server_db().display());
        println!("demo:    {}", paths.demo_db().display());
        println!("key:     {}", paths.key_file().display());
        println!("logs:    {}", paths.log_dir().display());
        return Ok(());
    }
    let file = ConfigFile::load(&paths.config_file())?;
    match cli.command {
        Some(Command::Serve(args)) => serve(args, file, &paths),
        Some(Command::Usersig(args)) => usersig(args, file, &paths),
        Some(Command::Bench(args)) => groupdeck::bench::run(args),
        None => console(cli.console, file, &paths),
    }
}

fn console(args: ConsoleArgs, file: ConfigFile, paths: &Paths) -> anyhow::Result<()> {
    use groupdeck::tui::{self, keymap::Keymap, state::Settings, theme};
    // Problems in keymap.toml are reported before the screen is taken over.
    let keymap = Keymap::load(&paths.keymap_file()).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow::anyhow!("the keymap file has problems:\n{}", lines.join("\n"))
    })?;
    let c = file.console;
    let theme_name = args.theme.or(c.theme).unwrap_or_else(|| "dark".into());
    let palette = theme::Palette::parse(&theme_name)
        .with_context(|| format!("theme must be `dark` or `light`, not {theme_name:?}"))?;
    let theme = theme::Theme {
        palette,
        color: tui::color_wanted(args.no_color || c.no_color),
    };
    let server = args.server.or(c.server);
    let user = args.user.or(c.user);
    let usersig = args.usersig.or(c.usersig);
    // Logs go to a file: the terminal belongs to the console.
    std::fs::create_dir_all(paths.log_dir())
        .with_context(|| format!("creating {}", paths.log_dir().display()))?;
    let appender = tracing_appender::rolling::never(paths.log_dir(), "console.log");
    let (writer, _log_guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(writer)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let read_only = args.read_only || c.read_only;
    runtime.block_on(async move {
        match server {
            Some(server) => {
                let user = user.context(
                    "--user is required with --server (or GROUPDECK_USER, or user in [console] of groupdeck.toml)",
                )?;
                let usersig = usersig.context(
                    "--usersig is required with --server (mint one with `groupdeck usersig --user ID` on the server's machine)",
                )?;
                let settings = Settings {
                    user: user.clone(),
                    server: server.clone(),
                    demo: false,
                    read_only,
                    theme,
                    keymap,
                };
                tui::run(
                    tui::Connect {
                        server,
                        user,
                        usersig,
                    },
                    settings,
                )
                .await
            }
            None => {
                std::fs::create_dir_all(&paths.data_dir)
                    .with_context(|| format!("creating {}", paths.data_dir.display()))?;
                let mut opts = groupdeck::demo::EmbeddedOptions::new(paths.demo_db(), paths.key_file());
                opts.simulate = args.demo_pace_ms > 0;
                opts.pace = std::time::Duration::from_millis(args.demo_pace_ms.max(1));
                let embedded = groupdeck::demo::start(opts).await?;
                let settings = Settings {
                    user: embedded.user.clone(),
                    server: embedded.base_url.trim_start_matches("http://").to_string(),
                    demo: true,
                    read_only,
                    theme,
                    keymap,
                };
                let result = tui::run(
                    tui::Connect {
                        server: embedded.base_url.clone(),
                        user: embedded.user.clone(),
                        usersig: embedded.usersig.clone(),
                    },
                    settings,
                )
                .await;
                if let Err(e) = embedded.stop().await {
                    tracing::warn!("stopping the embedded server: {e:#}");
                }
                result
            }
        }
    })
}

fn serve(args: ServeArgs, file: ConfigFile, paths: &Paths) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let s = file.server;
    let db = args.db.or(s.db);
    let db_path = match db {
        Some(d) => config::sqlite_path(&d)?,
        None => paths.server_db(),
    };
    let key_file = args
        .key_file
        .or(s.key_file)
        .unwrap_or_else(|| paths.key_file());
    let key = config::load_or_create_key(&key_file)?;
    let app_id = args.app_id.or(s.app_id).unwrap_or(DEFAULT_APP_ID);
    let mut cfg = ServerConfig::new(db_path, app_id, key);
    cfg.listen = match args.listen {
        Some(l) => l,
        None => match s.listen {
            Some(l) => l
                .parse()
                .with_context(|| format!("server.listen {l:?} is not an address"))?,
            None => SocketAddr::from(([127, 0, 0, 1], 9090)),
        },
    };
    let admins: Vec<String> = if args.app_admins.is_empty() {
        s.app_admins
    } else {
        args.app_admins
    };
    if !admins.is_empty() {
        cfg.app_admins = admins;
    }
    if let Some(v) = args.rate_limit.or(s.rate_limit) {
        cfg.rate_per_second = v;
        cfg.rate_burst = v.saturating_mul(2);
    }
    if let Some(v) = args.rate_burst.or(s.rate_burst) {
        cfg.rate_burst = v;
    }
    if let Some(v) = args.body_limit.or(s.body_limit) {
        cfg.body_limit = v;
    }
    if let Some(v) = args.event_retention.or(s.event_retention) {
        cfg.event_retention = v;
    }
    if let Some(v) = args.synchronous.or(s.synchronous) {
        cfg.synchronous_full = match v.as_str() {
            "full" | "FULL" => true,
            "normal" | "NORMAL" => false,
            other => anyhow::bail!("synchronous must be `full` or `normal`, not {other:?}"),
        };
    }
    if let Some(v) = args.user_group_limit.or(s.user_group_limit) {
        cfg.limits.user_group_limit = v;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = server::start(cfg.clone()).await?;
        eprintln!(
            "groupdeck serving on {} (app id {}, database {}, key {}; app admins: {})",
            running.base_url(),
            cfg.app_id,
            cfg.db_path.display(),
            key_file.display(),
            cfg.app_admins.join(", ")
        );
        running.run_until_signal().await
    })
}

fn usersig(args: UsersigArgs, file: ConfigFile, paths: &Paths) -> anyhow::Result<()> {
    groupdeck::model::limits::validate_user_id(&args.user).map_err(|e| anyhow::anyhow!("{e}"))?;
    let key_file = args
        .key_file
        .or(file.server.key_file)
        .unwrap_or_else(|| paths.key_file());
    let key = config::read_key(&key_file)?;
    let app_id = args.app_id.or(file.server.app_id).unwrap_or(DEFAULT_APP_ID);
    println!("{}", SigKey::new(app_id, key).sign(&args.user, args.expire));
    Ok(())
}
