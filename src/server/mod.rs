//! The HTTP server (axum): the user API under `/api/v1`, the SSE event
//! stream, the OpenAPI document and the health check, with body limits,
//! timeouts and per-identity rate limits.

pub mod api;
pub mod auth;
pub mod error;
pub mod events;
pub mod hub;
pub mod openapi;
pub mod rest;

use crate::model::Limits;
use crate::service::Service;
use crate::store::{SqliteConfig, SqliteStore};
use crate::usersig::SigKey;
use anyhow::Context;
use auth::RateLimit;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, post, put};
use axum::{Json, Router};
use error::ApiError;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// How long stopping waits for open connections and stream tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything `groupdeck serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub db_path: PathBuf,
    pub app_id: u64,
    pub key: String,
    pub app_admins: Vec<String>,
    /// Requests per second per identity (0 = unlimited) and the burst allowed.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// `/v4` calls per second per command (Tencent: 200); 0 = unlimited.
    pub rest_rate_per_command: u32,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub event_retention: u64,
    pub synchronous_full: bool,
    pub limits: Limits,
}

impl ServerConfig {
    pub fn new(db_path: impl Into<PathBuf>, app_id: u64, key: impl Into<String>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_path: db_path.into(),
            app_id,
            key: key.into(),
            app_admins: vec!["administrator".into()],
            rate_per_second: 200,
            rate_burst: 400,
            rest_rate_per_command: 200,
            body_limit: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            event_retention: 1_000_000,
            synchronous_full: true,
            limits: Limits::default(),
        }
    }
}

/// Shared by every handler.
pub struct AppState {
    pub service: Arc<Service>,
    pub key: SigKey,
    pub app_admins: HashSet<String>,
    pub rate_limit: RateLimit,
    pub rest_rate_limit: RateLimit,
    pub verified: auth::VerifiedSigs,
    /// Open event streams per identity.
    pub open_streams: std::sync::Mutex<HashMap<String, usize>>,
    /// Flips to `true` when the server stops, ending live streams.
    pub shutdown: watch::Receiver<bool>,
    /// Live fan-out of committed events to the open streams.
    pub hub: hub::Hub,
}

/// Unknown routes: the REST envelope under `/v4`, the API error elsewhere.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path() == "/v4" || uri.path().starts_with("/v4/") {
        rest::bad_path().await.into_response()
    } else {
        ApiError::not_found_route().into_response()
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        60009,
        "this method is not allowed on this route; see /api/v1/openapi.json",
    )
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        10002,
        "internal error; the request was not applied, retry",
    )
    .into_response()
}

/// The whole HTTP surface over a state.
pub fn router(state: Arc<AppState>, body_limit: usize, timeout: Duration) -> Router {
    let api = Router::new()
        .route("/api/v1/me", get(api::me))
        .route(
            "/api/v1/groups",
            post(api::create_group).get(api::list_groups),
        )
        .route(
            "/api/v1/groups/{id}",
            get(api::group_info)
                .patch(api::modify_group)
                .delete(api::disband),
        )
        .route("/api/v1/groups/{id}/join", post(api::join))
        .route("/api/v1/groups/{id}/quit", post(api::quit))
        .route("/api/v1/groups/{id}/invite", post(api::invite))
        .route("/api/v1/groups/{id}/members", get(api::members))
        .route("/api/v1/groups/{id}/members/{user_id}", delete(api::kick))
        .route(
            "/api/v1/groups/{id}/members/{user_id}/role",
            put(api::set_role),
        )
        .route("/api/v1/groups/{id}/owner", post(api::transfer_owner))
        .route("/api/v1/pendency", get(api::list_requests))
        .route("/api/v1/pendency/{id}", post(api::decide))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(api::healthz))
        .route("/v4/{service}/{command}", any(rest::handle))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    Router::new()
        .route("/api/v1/events", get(events::events))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A running server: its address, and a way to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends live streams, waits for requests in flight.
    pub async fn stop(self) -> anyhow::Result<()> {
        let RunningServer {
            service,
            stop,
            mut task,
            ..
        } = self;
        let _ = stop.send(true);
        // Connections get a few seconds to finish; a client that stopped
        // reading its event stream must not hold the server up forever.
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(joined) => joined.context("server task")??,
            Err(_) => {
                tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
                task.abort();
            }
        }
        // Wait for the last holders of the store (stream tasks) to let go,
        // then close it off the async threads: its writer finishes the
        // commands already queued before this returns.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while Arc::strong_count(&service) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::task::spawn_blocking(move || drop(service))
            .await
            .context("closing the store")?;
        Ok(())
    }

    /// Runs until Ctrl-C or SIGTERM, then stops.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The request line that sends a fresh connection to the bare event stream.
const EVENTS_REQUEST: &[u8] = b"GET /api/v1/events";
/// How long a new connection may take to show its first request line.
const CLASSIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections and looks at each one's first request line: a
/// connection opened for `GET /api/v1/events` is served by
/// [`events::serve_connection`] on the bare socket (a stream then costs a
/// few hundred bytes, not an HTTP connection's buffers); every other one is
/// handed to axum.
struct StreamListener {
    accepted: tokio::sync::mpsc::Receiver<(tokio::net::TcpStream, SocketAddr)>,
    addr: SocketAddr,
}

impl StreamListener {
    fn start(
        listener: tokio::net::TcpListener,
        state: Arc<AppState>,
        mut shutdown: watch::Receiver<bool>,
    ) -> StreamListener {
        let addr = listener
            .local_addr()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, accepted) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(conn) => conn,
                        Err(e) => {
                            // Out of files or similar: wait rather than spin.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = shutdown.changed() => break,
                };
                let _ = tcp.set_nodelay(true);
                let tx = tx.clone();
                let state = state.clone();
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    let stream = tokio::select! {
                        s = opens_event_stream(&tcp) => s,
                        // A connection still silent when the server stops is dropped.
                        _ = stop.wait_for(|stopped| *stopped) => return,
                    };
                    if stream {
                        events::serve_connection(state, tcp).await;
                    } else {
                        let _ = tx.send((tcp, peer)).await;
                    }
                });
            }
        });
        StreamListener { accepted, addr }
    }
}

/// Whether the connection's first bytes are `GET /api/v1/events` followed
/// by a space or `?`; waits (bounded) for that many bytes to arrive.
async fn opens_event_stream(tcp: &tokio::net::TcpStream) -> bool {
    let deadline = tokio::time::Instant::now() + CLASSIFY_TIMEOUT;
    let mut buf = [0u8; EVENTS_REQUEST.len() + 1];
    loop {
        let n = match tokio::time::timeout_at(deadline, tcp.peek(&mut buf)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if n == 0 || !EVENTS_REQUEST.starts_with(&buf[..n.min(EVENTS_REQUEST.len())]) {
            return false;
        }
        if n == buf.len() {
            return matches!(buf[EVENTS_REQUEST.len()], b' ' | b'?');
        }
        // Part of the request line so far; peeking again at once would spin.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl axum::serve::Listener for StreamListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The accept loop has stopped (shutdown): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// Opens the store and starts serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let mut store_config = SqliteConfig::new(&config.db_path);
    store_config.synchronous_full = config.synchronous_full;
    store_config.event_retention = config.event_retention;
    store_config.limits = config.limits.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(store_config))
        .await
        .context("opening the store")?
        .with_context(|| format!("opening the database {}", config.db_path.display()))?;
    let hub = hub::Hub::start(store.subscribe()).context("starting the event fan-out")?;
    let service = Arc::new(Service::new(store));
    let (stop, shutdown) = watch::channel(false);
    let state = Arc::new(AppState {
        service: service.clone(),
        key: SigKey::new(config.app_id, config.key.clone()),
        app_admins: config.app_admins.iter().cloned().collect(),
        rate_limit: RateLimit::new(config.rate_per_second, config.rate_burst),
        rest_rate_limit: rest::command_rate_limit(config.rest_rate_per_command),
        verified: auth::VerifiedSigs::new(),
        open_streams: Default::default(),
        shutdown: shutdown.clone(),
        hub,
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = router(state.clone(), config.body_limit, config.request_timeout);
    let idle_state = state.clone();
    let mut idle_stop = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => idle_state.rate_limit.forget_idle(),
                _ = idle_stop.changed() => break,
            }
        }
    });
    let listener = StreamListener::start(listener, state, shutdown.clone());
    let mut stop_rx = shutdown;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                while !*stop_rx.borrow() {
                    if stop_rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await
    });
    tracing::info!("groupdeck listening on http://{addr}");
    Ok(RunningServer {
        addr,
        service,
        stop,
        task,
    })
}
