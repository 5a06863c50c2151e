//! Stripe-Signature: signing exactly as Stripe does, verifying as the
//! official SDKs do, and the deliberate faults of each drill signature mode.
//!
//! The HMAC key is the whole secret string as Stripe issues it (`whsec_...`),
//! not base64-decoded. Header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use serde::{Deserialize, Serialize};

/// Stripe's default verification tolerance, seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Per-delivery signature mode (`signature:` in a drill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureMode {
    #[default]
    Valid,
    None,
    Empty,
    Garbage,
    WrongSecret,
    Stale,
    Future,
    BadTimestamp,
    Tampered,
    Replayed,
    Rotated,
    Secondary,
}

impl SignatureMode {
    /// Negative modes default to expecting a 4xx.
    pub fn is_negative(self) -> bool {
        !matches!(
            self,
            SignatureMode::Valid | SignatureMode::Rotated | SignatureMode::Secondary
        )
    }
}

/// Lowercase hex HMAC-SHA256(secret, "<t>.<body>").
pub fn compute(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let _ = (secret, timestamp, body);
    todo!("stripe helper")
}

/// `t=<t>,v1=<sig>`.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", compute(secret, timestamp, body))
}

// TEMPORARY STUBS (replaced by the stripe module's implementation).
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub stale_age_secs: i64,
    pub future_secs: i64,
}
impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            stale_age_secs: 600,
            future_secs: 600,
        }
    }
}
pub struct Prepared {
    pub header: Option<String>,
    pub body: Vec<u8>,
    pub note: &'static str,
}
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no secondary secret")]
    NoSecondary,
}
pub fn signed_header(
    mode: SignatureMode,
    secret: &str,
    secondary: Option<&str>,
    now: i64,
    body: &[u8],
    opts: &SignOptions,
) -> Result<Prepared, SignError> {
    let _ = (mode, secret, secondary, now, body, opts);
    todo!()
}
