//! `bench ops --baseline`: the same clients sending the same requests to a
//! bare HTTP/1.1 server on 127.0.0.1, one that answers every request at once
//! with a fixed small JSON body and does nothing else (no routing, no
//! authentication, no storage).
//!
//! Its round trips per second are the most any server answering one HTTP
//! request per operation could reach on this machine with the load
//! generator sharing its cores. groupdeck's ops/s is printed as a ratio of
//! it, and it as a ratio of the raw SQLite inserts, which bounds what the
//! ops/s ÷ raw-inserts ratio can be.

use super::ops::Wire;
use super::report::{OpStats, Recorder};
use crate::model::{AddOption, GroupType};
use crate::server::api::{
    DecideRequest, DecisionValue, InviteRequest, JoinRequest, KickRequest, ModifyGroupRequest,
};
use crate::usersig::SigKey;
use anyhow::Context;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The one operation name of a bare run.
const ROUND_TRIP: &str = "bare HTTP";

/// The reply to every request: a status line, the headers groupdeck's
/// replies carry, and a body of the size of a typical one.
const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 19\r\n\r\n{\"status\":\"joined\"}";

/// The longest request head or body the bare server accepts.
const MAX_REQUEST: usize = 64 * 1024;

/// The bare server; stops accepting when dropped.
struct BareServer {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl BareServer {
    async fn start() -> anyhow::Result<BareServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the bare HTTP server")?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        });
        Ok(BareServer { addr, accept })
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Answers each request on one connection until the client closes it (or
/// sends something that is not HTTP).
async fn serve(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let head = match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) if buf.len() <= MAX_REQUEST => break,
                _ => return,
            };
            let body = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body > MAX_REQUEST {
                return;
            }
            if buf.len() < head + body {
                break;
            }
            buf.drain(..head + body);
            if stream.write_all(REPLY).await.is_err() {
                return;
            }
        }
    }
}

/// One request of the cycle: method, path, JSON body.
type Shape = (&'static str, String, Option<Vec<u8>>);

/// The ten requests of one `bench ops` cycle, with the paths and bodies
/// groupdeck receives (IDs of the same length).
fn cycle(client: usize) -> anyhow::Result<Vec<Shape>> {
    let group = format!("%40TGS%23b{client:06}");
    let user = format!("b0000000000-c{client}-m1");
    let create = super::ops::group_request("bench scratch", GroupType::Public, AddOption::Any);
    let modify = ModifyGroupRequest {
        add_option: Some(AddOption::Auth),
        ..Default::default()
    };
    let join = JoinRequest { message: None };
    let request = JoinRequest {
        message: Some("bench".into()),
    };
    let decide = DecideRequest {
        decision: DecisionValue::Accept,
        reason: None,
    };
    let invite = InviteRequest {
        user_ids: vec![user.clone()],
    };
    let kick = KickRequest { reason: None };
    let g = format!("/api/v1/groups/{group}");
    Ok(vec![
        ("POST", "/api/v1/groups".into(), Some(json(&create)?)),
        ("PATCH", g.clone(), Some(json(&modify)?)),
        ("DELETE", g.clone(), None),
        ("POST", format!("{g}/join"), Some(json(&join)?)),
        ("POST", format!("{g}/quit"), None),
        ("POST", format!("{g}/join"), Some(json(&request)?)),
        (
            "POST",
            "/api/v1/pendency/123456".into(),
            Some(json(&decide)?),
        ),
        ("POST", format!("{g}/invite"), Some(json(&invite)?)),
        ("DELETE", format!("{g}/members/{user}"), Some(json(&kick)?)),
        ("DELETE", format!("{g}/members/{user}"), Some(json(&kick)?)),
    ])
}

fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

/// One client: the cycle's requests, one at a time, until `deadline`.
async fn drive(mut wire: Wire, shapes: Vec<Shape>, auth: String, deadline: Instant) -> Recorder {
    let mut rec = Recorder::default();
    let mut step = 0usize;
    while Instant::now() < deadline {
        let (method, path, body) = &shapes[step];
        let t = Instant::now();
        let r = wire
            .call(method, path, &auth, body.as_deref())
            .await
            .and_then(|(status, _)| {
                anyhow::ensure!(status == 200, "the bare server answered {status}");
                Ok(())
            });
        rec.outcome(ROUND_TRIP, t, r);
        step = (step + 1) % shapes.len();
    }
    rec
}

/// Runs `clients` clients against a bare server for `seconds`.
pub(crate) async fn run(key: &SigKey, clients: usize, seconds: u64) -> anyhow::Result<OpStats> {
    let server = BareServer::start().await?;
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    for i in 0..clients {
        let auth = format!(
            "Bearer {}",
            key.sign(&format!("b0000000000-c{i}"), super::SIG_SECS)
        );
        let wire = Wire::to(server.addr);
        tasks.spawn(drive(wire, cycle(i)?, auth, deadline));
    }
    let mut all = Recorder::default();
    while let Some(r) = tasks.join_next().await {
        all.merge(r.context("a bare client task failed")?)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(server);
    if let Some(e) = &all.first_error {
        anyhow::bail!("the bare HTTP run failed: {e}");
    }
    let (_, overall) = all.stats(&[ROUND_TRIP], elapsed)?;
    Ok(OpStats {
        name: ROUND_TRIP.into(),
        ..overall
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bare server answers pipelined and split requests, one reply each.
    #[tokio::test]
    async fn answers_each_request_once() -> anyhow::Result<()> {
        let server = BareServer::start().await?;
        let mut s = TcpStream::connect(server.addr).await?;
        let one = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
        let mut two = one.to_vec();
        two.extend_from_slice(b"GET /y HTTP/1.1\r\nHost: h\r\n\r\n");
        s.write_all(&two).await?;
        s.write_all(&one[..20]).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.write_all(&one[20..]).await?;
        let mut got = vec![0u8; REPLY.len() * 3];
        s.read_exact(&mut got).await?;
        assert_eq!(got, REPLY.repeat(3));
        // Nothing more: no fourth reply.
        let extra = tokio::time::timeout(Duration::from_millis(50), s.read(&mut [0u8; 1])).await;
        assert!(extra.is_err(), "an extra reply: {extra:?}");
        Ok(())
    }

    #[tokio::test]
    async fn a_short_run_counts_round_trips() -> anyhow::Result<()> {
        let key = SigKey::new(1400000000, "bare-test-key");
        let stats = run(&key, 2, 1).await?;
        assert!(stats.count > 0 && stats.errors == 0, "{stats:?}");
        assert!(
            stats.p50_ms > 0.0 && stats.p50_ms <= stats.p99_ms,
            "{stats:?}"
        );
        Ok(())
    }
}
