//! Test harness shared by the integration tests: a real server on
//! 127.0.0.1:0 over a temporary SQLite file, and UserSigs for any user.
#![allow(dead_code)]

pub mod sse;

use groupdeck::server::{self, RunningServer, ServerConfig};
use groupdeck::usersig::SigKey;
use std::path::PathBuf;

pub const APP_ID: u64 = 1_400_000_000;
pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
pub const ADMIN: &str = "administrator";

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub http: reqwest::Client,
    pub key: SigKey,
}

/// reqwest is built without a bundled crypto provider; the tests use ring's.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn config_for(dir: &tempfile::TempDir) -> ServerConfig {
    let mut cfg = ServerConfig::new(dir.path().join("groupdeck.db"), APP_ID, KEY);
    cfg.app_admins = vec![ADMIN.to_string()];
    cfg.rate_per_second = 0;
    cfg.synchronous_full = false;
    cfg
}

impl TestServer {
    /// A fresh server with the default test configuration.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config_for(&dir);
        TestServer::start_with(dir, cfg).await
    }

    /// A server over `dir` with `cfg` (use [`config_for`] and adjust).
    pub async fn start_with(dir: tempfile::TempDir, cfg: ServerConfig) -> TestServer {
        install_crypto();
        let server = server::start(cfg).await.expect("server starts");
        let base = server.base_url();
        TestServer {
            server: Some(server),
            dir,
            base,
            http: reqwest::Client::new(),
            key: SigKey::new(APP_ID, KEY),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("groupdeck.db")
    }

    pub fn sig(&self, user: &str) -> String {
        self.key.sign(user, 86_400)
    }

    /// Stops the server and starts a new one on the same database file.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.expect("server stops");
        }
        let cfg = config_for(&self.dir);
        let server = server::start(cfg).await.expect("server restarts");
        self.base = server.base_url();
        self.server = Some(server);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Percent-encodes a group ID for use in a path (`@TGS#...` contains `#`).
    pub fn enc(id: &str) -> String {
        id.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// Sends a request as `user` and returns (status, JSON body or Null).
    pub async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.sig(user));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    pub async fn get(&self, user: &str, path: &str) -> (u16, serde_json::Value) {
        self.call(user, reqwest::Method::GET, path, None).await
    }

    pub async fn post(
        &self,
        user: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(user, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// Creates a group as `owner` and returns its ID.
    pub async fn create(&self, owner: &str, body: serde_json::Value) -> String {
        let (status, json) = self.post(owner, "/api/v1/groups", body).await;
        assert_eq!(status, 201, "create failed: {json}");
        json["group_id"].as_str().expect("group_id").to_string()
    }

    /// Makes sure users exist (a user exists once it has signed in).
    pub async fn register(&self, users: &[&str]) {
        for u in users {
            let (status, _) = self.get(u, "/api/v1/me").await;
            assert_eq!(status, 200);
        }
    }
}

/// The path of a group under `/api/v1`.
pub fn gp(id: &str) -> String {
    format!("/api/v1/groups/{}", TestServer::enc(id))
}

/// Sends a request and asserts a 2xx answer; returns the JSON body.
pub async fn ok(
    ts: &TestServer,
    user: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let what = format!("{method} {path} as {user}");
    let (status, json) = ts.call(user, method, path, body).await;
    assert!(
        (200..300).contains(&status),
        "{what}: status {status}, body {json}"
    );
    json
}

/// A UserSig with its alphabet's `*`, `-` and `_` percent-encoded, as URL
/// encoders may write it (Python's `urlencode` turns `*` into `%2A`).
pub fn percent_encoded(sig: &str) -> String {
    sig.chars()
        .map(|c| match c {
            '*' => "%2A".to_string(),
            '-' => "%2D".to_string(),
            '_' => "%5F".to_string(),
            c => c.to_string(),
        })
        .collect()
}
