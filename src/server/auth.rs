//! Who is calling: `Authorization: Bearer <UserSig>` verified against the
//! server's app id and key, the per-identity rate limit, and registration of
//! users on first sign-in.

use super::AppState;
use super::error::ApiError;
use crate::model::Actor;
use crate::model::limits::validate_user_id;
use crate::usersig::SigKey;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;

/// The authenticated caller of a `/api/v1` route.
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

/// Requests per second and burst per identity; `None` disables limiting.
pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        RateLimit { limiter }
    }

    /// `Err(seconds to wait)` when the identity is over its rate.
    pub fn check(&self, who: &str) -> Result<(), u64> {
        let Some(l) = &self.limiter else {
            return Ok(());
        };
        l.check_key(&who.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets identities that have been idle long enough to be back at full burst.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// UserSigs already verified, so a client's every request does not pay for
/// base64, zlib, JSON and HMAC again. Bounded; expiry is checked on each hit.
pub struct VerifiedSigs {
    seen: Mutex<HashMap<String, (String, u64)>>,
}

const VERIFIED_SIGS_MAX: usize = 50_000;

impl VerifiedSigs {
    pub fn new() -> VerifiedSigs {
        VerifiedSigs {
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The user a UserSig authenticates, verifying it unless seen before.
    pub fn identify(&self, key: &SigKey, sig: &str) -> Result<String, ApiError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some((user, expires)) = self.seen.lock().ok().and_then(|m| m.get(sig).cloned()) {
            if now <= expires {
                return Ok(user);
            }
        }
        let ticket = key.verify(sig, None)?;
        validate_user_id(&ticket.identifier)
            .map_err(|_| unauthorized(70003, "the UserSig names an invalid user ID"))?;
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= VERIFIED_SIGS_MAX {
                seen.clear();
            }
            seen.insert(
                sig.to_string(),
                (ticket.identifier.clone(), ticket.expires_at()),
            );
        }
        Ok(ticket.identifier)
    }
}

impl Default for VerifiedSigs {
    fn default() -> Self {
        VerifiedSigs::new()
    }
}

fn unauthorized(code: u32, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The UserSig from the `Authorization` header, or, on the event stream, the
/// `usersig` query parameter (browsers' EventSource cannot set headers).
fn presented_sig(parts: &Parts) -> Result<String, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| unauthorized(70003, "the Authorization header is not valid text"))?;
        let sig = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .ok_or_else(|| unauthorized(70003, "use `Authorization: Bearer <UserSig>`"))?;
        return Ok(sig.trim().to_string());
    }
    // Only the event stream takes the sig in the query (EventSource cannot set headers).
    let from_query = parts
        .uri
        .query()
        .filter(|_| parts.uri.path() == "/api/v1/events")
        .and_then(|q| {
            // Percent-decoded, as URL encoders write `*` as `%2A`.
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "usersig")
                .map(|(_, v)| v.into_owned())
        });
    from_query.ok_or_else(|| {
        unauthorized(
            70002,
            "no UserSig: send `Authorization: Bearer <UserSig>` (mint one with `groupdeck usersig --user ID`)",
        )
    })
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let sig = presented_sig(parts)?;
        let user = st.verified.identify(&st.key, &sig)?;
        st.rate_limit.check(&user).map_err(ApiError::rate_limited)?;
        st.service.register(&user).await?;
        let app_admin = st.app_admins.contains(&user);
        Ok(Caller(Actor {
            user_id: user,
            app_admin,
        }))
    }
}
