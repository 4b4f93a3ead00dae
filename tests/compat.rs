//! Compatibility with a real third-party client: Tencent Cloud Chat's Python
//! server SDK `tencentcloud-sdk-python-im` (0.9.4) drives a real
//! `groupdeck serve` process over `/v4` (tests/compat/tencent_sdk.py), and
//! UserSigs are exchanged both ways with the reference signer
//! `tls-sig-api-v2`.
//!
//! `GROUPDECK_PY` names a Python with tests/requirements.txt installed;
//! scripts/test.sh sets it up. Without it the test prints a note and passes.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const APP_ID: u64 = 1_400_000_000;
const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const ADMIN: &str = "administrator";
/// How long the server may take to answer `/healthz`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the whole Python run may take (the SDK sets no request timeouts).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The script's own in-process deadline, inside [`SCRIPT_TIMEOUT`].
const SCRIPT_DEADLINE_SECS: u64 = 100;

/// Kills the child process when dropped, so a failing test never leaves a
/// server or a hung script behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// `GET /healthz` over a hand-written HTTP/1.0 request; true on a 200.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Waits for `child` to exit, up to `timeout`; `None` when it is still running.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return Some(status);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `groupdeck serve` on a free port and waits for `/healthz`.
/// Retries on a new port if the server exits first (the port was taken).
fn start_server(dir: &Path, key_file: &Path) -> (KillOnDrop, SocketAddr) {
    let log_path = dir.join("server.log");
    for attempt in 1..=3 {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = File::create(&log_path).expect("create server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_groupdeck"))
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--db")
            .arg(format!("sqlite://{}", dir.join("db.sqlite").display()))
            .arg("--key-file")
            .arg(key_file)
            .arg("--app-id")
            .arg(APP_ID.to_string())
            .arg("--app-admin")
            .arg(ADMIN)
            .env("GROUPDECK_DATA_DIR", dir.join("data"))
            .env("GROUPDECK_CONFIG_DIR", dir.join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("start groupdeck serve");
        let mut server = KillOnDrop(child);
        let start = Instant::now();
        while start.elapsed() < STARTUP_TIMEOUT {
            if healthy(addr) {
                return (server, addr);
            }
            if let Some(status) = server.0.try_wait().expect("poll server") {
                eprintln!(
                    "groupdeck serve exited with {status} before answering (attempt {attempt}):\n{}",
                    read_lossy(&log_path)
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if server.0.try_wait().expect("poll server").is_none() {
            panic!(
                "groupdeck serve did not answer GET /healthz on {addr} within {STARTUP_TIMEOUT:?}:\n{}",
                read_lossy(&log_path)
            );
        }
    }
    panic!(
        "groupdeck serve failed to start three times:\n{}",
        read_lossy(&log_path)
    );
}

#[test]
fn tencent_python_sdk_drives_a_real_server() {
    let Some(py) = std::env::var_os("GROUPDECK_PY").filter(|p| !p.is_empty()) else {
        println!(
            "note: GROUPDECK_PY is not set; skipping the compatibility test against Tencent's \
             Python SDK (tencentcloud-sdk-python-im). It needs GROUPDECK_PY from scripts/test.sh \
             (a python with tests/requirements.txt installed)."
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("groupdeck.key");
    std::fs::write(&key_file, format!("{KEY}\n")).expect("write the key file");

    let (mut server, addr) = start_server(dir.path(), &key_file);
    let base = format!("http://{addr}/v4");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/tencent_sdk.py");
    let out_path = dir.path().join("script.out");
    let err_path = dir.path().join("script.err");
    let started = Instant::now();
    let child = Command::new(&py)
        .arg(script)
        .arg(&base)
        .arg(APP_ID.to_string())
        .arg(KEY)
        .arg(ADMIN)
        .arg("--groupdeck")
        .arg(env!("CARGO_BIN_EXE_groupdeck"))
        .arg("--key-file")
        .arg(&key_file)
        .arg("--deadline")
        .arg(SCRIPT_DEADLINE_SECS.to_string())
        // `groupdeck usersig`, run by the script, must not read the user's config.
        .env("GROUPDECK_DATA_DIR", dir.path().join("data"))
        .env("GROUPDECK_CONFIG_DIR", dir.path().join("config"))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create script.out"))
        .stderr(File::create(&err_path).expect("create script.err"))
        .spawn()
        .expect("run GROUPDECK_PY");
    let mut script_proc = KillOnDrop(child);
    let status = wait_timeout(&mut script_proc.0, SCRIPT_TIMEOUT);
    drop(script_proc);
    let elapsed = started.elapsed();
    let server_alive = server.0.try_wait().expect("poll server").is_none();
    let _ = server.0.kill();
    let _ = server.0.wait();

    let stdout = read_lossy(&out_path);
    let stderr = read_lossy(&err_path);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- script stderr ---\n{stderr}");
    }
    println!("script ran for {:.1} s", elapsed.as_secs_f64());
    let Some(status) = status else {
        panic!(
            "the SDK script did not finish within {SCRIPT_TIMEOUT:?} and was killed; \
             server log:\n{}",
            read_lossy(&dir.path().join("server.log"))
        );
    };
    assert!(
        server_alive,
        "groupdeck serve exited during the run:\n{}",
        read_lossy(&dir.path().join("server.log"))
    );
    assert!(
        status.success(),
        "the SDK script failed ({status}); see the FAIL lines above"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed"),
        "the script's last line is not `N passed, 0 failed`: {last:?}"
    );
}
