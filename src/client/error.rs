//! [`ClientError`]: every way a call through [`super::Client`] can fail, with
//! a `Display` a person can read in a status line.

use thiserror::Error;

/// A failed call.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server refused the call with its `{"error": {"code", "message"}}`
    /// body, e.g. `10009: the owner cannot quit a Public group — transfer
    /// ownership or disband it`.
    #[error("{code}: {message}")]
    Api {
        status: u16,
        code: u32,
        message: String,
    },
    /// The server (or something in front of it, such as a proxy) answered
    /// with an error status but without groupdeck's error body.
    #[error("HTTP {status} from the server: {body}")]
    Http { status: u16, body: String },
    /// The server could not be reached, or the connection broke.
    #[error("{}", describe_reqwest(.0))]
    Network(#[from] reqwest::Error),
    /// The server answered, but not with what this client expected.
    #[error("unexpected reply from the server: {0}")]
    Decode(String),
    /// The base URL, or an ID that must become part of a URL, is unusable.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The client could not be set up (bad UserSig characters, TLS set-up).
    #[error("cannot set up the client: {0}")]
    Setup(String),
}

impl ClientError {
    /// The Tencent error code, when the server sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Http { status, .. } => Some(*status),
            ClientError::Network(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// Whether the UserSig was refused (401) or the call is not allowed (403):
    /// retrying the same call will not help.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

/// reqwest's own message is terse ("error sending request for url (...)");
/// the cause is in its source chain, so say what happened and why.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the server did not answer in time"
    } else if e.is_connect() {
        "cannot connect to the server"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the reply"
    } else if e.is_builder() {
        "cannot build the request"
    } else {
        "network error"
    };
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        // hyper-util's wrapper ("client error (Connect)") says nothing new.
        if !text.starts_with("client error (") && !causes.contains(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    let url = e
        .url()
        .map(|u| format!(" ({})", redact(u)))
        .unwrap_or_default();
    if causes.is_empty() {
        format!("{what}{url}: {e}")
    } else {
        format!("{what}{url}: {}", causes.join(": "))
    }
}

/// A URL for messages, without its query (which could carry a UserSig).
fn redact(u: &reqwest::Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}
