//! The console: a full-screen moderation console on ratatui.
//!
//! The loop is the Elm architecture: terminal input, backend replies and live
//! events arrive as [`Msg`]s on one channel; [`update`] (pure) changes the
//! [`State`] and returns [`Cmd`]s; the [`backend`] task carries them out over
//! HTTP. The loop drains everything queued, then draws once, only when
//! something changed, at most about 60 frames a second: a burst of 500 tips
//! is one frame. The terminal is restored on every way out, a panic included.

pub mod backend;
pub mod command;
pub mod keymap;
pub mod msg;
pub mod state;
pub mod theme;
pub mod update;
pub mod view;

pub use msg::{Cmd, Msg};
pub use state::State;
pub use update::update;

use crate::client::Client;
use anyhow::Context;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io::Stdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The shortest time between two frames (about 60 per second).
pub const FRAME_FLOOR: Duration = Duration::from_millis(16);
/// The clock tick (spinner, fading messages, ages).
const TICK: Duration = Duration::from_millis(100);

/// Where to connect and how to look.
#[derive(Debug, Clone)]
pub struct Connect {
    pub server: String,
    pub user: String,
    pub usersig: String,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Restores the terminal: raw mode off, main screen back, mouse released, cursor shown.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Takes over the terminal; the returned guard gives it back when dropped,
/// and a panic hook gives it back before the panic message prints.
fn take_terminal() -> anyhow::Result<(Terminal<CrosstermBackend<Stdout>>, TerminalGuard)> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    enable_raw_mode().context("the console needs a terminal (is stdin a TTY?)")?;
    let guard = TerminalGuard;
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )
    .context("setting up the terminal")?;
    let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    Ok((terminal, guard))
}

struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Reads the terminal on a thread of its own and forwards what it reads.
fn spawn_input(tx: mpsc::UnboundedSender<Msg>, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::error!("reading the terminal: {e}");
                        let _ = tx.send(Msg::Terminate);
                        return;
                    }
                }
                let msg = match event::read() {
                    Ok(TermEvent::Key(k)) => Msg::Key(k),
                    Ok(TermEvent::Mouse(m)) => Msg::Mouse(m),
                    Ok(TermEvent::Paste(p)) => Msg::Paste(p),
                    Ok(TermEvent::Resize(width, height)) => Msg::Resize { width, height },
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::error!("reading the terminal: {e}");
                        let _ = tx.send(Msg::Terminate);
                        return;
                    }
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        })
        .ok();
}

/// Ends the console on SIGTERM or SIGHUP (Ctrl-C arrives as a key).
fn spawn_signals(tx: mpsc::UnboundedSender<Msg>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = hup.recv() => {},
        }
        let _ = tx.send(Msg::Terminate);
    });
    #[cfg(not(unix))]
    drop(tx);
}

/// Runs the console until the user leaves. Must be called inside a Tokio runtime.
pub async fn run(connect: Connect, settings: state::Settings) -> anyhow::Result<()> {
    let client = Client::new(&connect.server, &connect.user, &connect.usersig)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (mut terminal, guard) = take_terminal()?;
    let size = terminal.size()?;
    let stop_input = Arc::new(AtomicBool::new(false));
    spawn_input(tx.clone(), stop_input.clone());
    spawn_signals(tx.clone());
    let mut backend = backend::Backend::new(client, tx.clone());
    let mut state = State::new(settings, size.width, size.height, now_ms());
    let mut running = true;
    for cmd in update::start(&mut state) {
        running &= backend.handle(cmd);
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw: Option<Instant> = None;
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    while running {
        // Draw when dirty and the frame floor allows; otherwise wait for input.
        if state.dirty {
            let due = last_draw
                .map(|t| t + FRAME_FLOOR)
                .unwrap_or_else(Instant::now);
            if Instant::now() >= due {
                terminal.draw(|f| view::draw(f, &state))?;
                state.dirty = false;
                last_draw = Some(Instant::now());
            } else {
                tokio::select! {
                    m = rx.recv() => if let Some(m) = m { batch.push(m) },
                    _ = tokio::time::sleep_until(due.into()) => {},
                }
            }
        } else {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => batch.push(m),
                    None => break,
                },
                _ = tick.tick() => batch.push(Msg::Tick { now_ms: now_ms() }),
            }
        }
        // Everything already queued joins this batch: one frame for all of it.
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        // The clock first, so fades and ages are judged against it.
        for cmd in update(&mut state, Msg::Tick { now_ms: now_ms() }) {
            running &= backend.handle(cmd);
        }
        for m in batch.drain(..) {
            for cmd in update(&mut state, m) {
                if !backend.handle(cmd) {
                    running = false;
                }
            }
        }
    }
    stop_input.store(true, Ordering::Relaxed);
    drop(backend);
    drop(terminal);
    drop(guard);
    Ok(())
}

/// Whether colour is wanted: `NO_COLOR` (any non-empty value) turns it off.
pub fn color_wanted(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
