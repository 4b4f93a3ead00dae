//! `groupdeck bench fanout` at toy size: an embedded server, a small swarm in
//! two shares, a few events, and the bare broadcast baseline. Only that the
//! run completes and every subscriber receives every event is checked; the
//! figures themselves are not asserted.

pub use groupdeck::{model, server, service, usersig};

#[path = "../src/bench/fanout.rs"]
mod fanout;

use std::path::PathBuf;

/// The built binary, when it already knows the hidden worker command.
fn worker_binary() -> Option<PathBuf> {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_groupdeck"));
    let status = std::process::Command::new(&exe)
        .args(["bench", "fanout-worker", "--help"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(exe)
}

fn toy(baseline: bool) -> fanout::FanoutArgs {
    let exe = worker_binary();
    fanout::FanoutArgs {
        subscribers: 50,
        events: 3,
        baseline,
        per_process: 25,
        in_process: exe.is_none(),
        worker_exe: exe,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_at_toy_size_with_baseline() {
    let args = toy(true);
    let result = fanout::run(&args, false).await;
    assert!(result.is_ok(), "fanout run failed: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_prints_json() {
    let args = toy(false);
    let result = fanout::run(&args, true).await;
    assert!(result.is_ok(), "fanout run failed: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_refuses_more_streams_than_one_process_may_hold() {
    let mut args = toy(false);
    args.subscribers = 25_000;
    let result = fanout::run(&args, false).await;
    let message = format!(
        "{:#}",
        result.err().map(|e| e.to_string()).unwrap_or_default()
    );
    assert!(message.contains("20,000"), "unexpected: {message}");
}

#[tokio::test]
async fn the_worker_connects_only_to_loopback() {
    let args = fanout::WorkerArgs {
        url: "http://192.0.2.1:80".into(),
        first_user: 0,
        count: 1,
        events: 1,
        after: 0,
        timeout_secs: 1,
    };
    let result = fanout::worker(&args).await;
    assert!(result.is_err());
}

/// The command line may run both entry points on any runtime, spawned or not.
#[test]
fn the_entry_points_are_send() {
    fn send<T: Send>(_: &T) {}
    let args = toy(false);
    let run = fanout::run(&args, false);
    send(&run);
    let worker_args = fanout::WorkerArgs {
        url: "http://127.0.0.1:1".into(),
        first_user: 0,
        count: 1,
        events: 1,
        after: 0,
        timeout_secs: 1,
    };
    let work = fanout::worker(&worker_args);
    send(&work);
}
