//! Stripe-Signature: signing exactly as Stripe does, verifying as the
//! official SDKs do, and the deliberate faults of each drill signature mode.
//!
//! The HMAC key is the whole secret string as Stripe issues it (`whsec_...`),
//! not base64-decoded. Header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's default verification tolerance, seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Per-delivery signature mode (`signature:` in a drill).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
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
    compute_literal(secret, &timestamp.to_string(), body)
}

/// `t=<t>,v1=<sig>`.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", compute(secret, timestamp, body))
}

/// HMAC over `"<t_literal>.<body>"` where `t_literal` is used verbatim
/// (the `bad-timestamp` mode signs a non-numeric literal).
fn compute_literal(secret: &str, t_literal: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(t_literal.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Why [`verify`] rejected a header. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `t=` that parses as an integer, or no `v1=` at all (this is also
    /// what an empty or garbage header gives).
    #[error("unable to extract timestamp and signatures from header")]
    Malformed,
    /// No secrets were given to verify against.
    #[error("no signing secret configured")]
    NoSecrets,
    /// Well-formed, but no `v1` matches any secret.
    #[error("no signatures found matching the expected signature for payload")]
    NoMatchingSignature,
    /// The signature matches but `t` is older than the tolerance allows.
    #[error("timestamp outside the tolerance zone ({age_secs}s old, tolerance {tolerance_secs}s)")]
    TimestampOutsideTolerance { age_secs: i64, tolerance_secs: i64 },
}

/// Verify a `Stripe-Signature` header the way the official SDKs do
/// (`stripe-python` `WebhookSignature.verify_header`, `stripe-node`
/// `verifyHeader`):
///
/// 1. split on `,`, each item on the first `=`; the last `t=` wins and must
///    parse as an integer; every `v1=` is a candidate (other schemes, such
///    as `v0=`, are ignored); no `t` or no `v1` → [`VerifyError::Malformed`];
/// 2. compute the expected signature over `"<t>.<body>"` for each secret and
///    compare every candidate in constant time; any match on any secret
///    passes (rotation, Connect's second secret);
/// 3. only then the time window: rejected when `now - t > tolerance_secs`
///    (`tolerance_secs <= 0` disables it, as in the SDKs).
///
/// **Future timestamps are accepted.** Every official SDK checks only the
/// past side of the window, so `t` far in the future verifies. A drill with
/// `signature: future` therefore tests the app's own extra check, not the
/// SDK's.
pub fn verify(
    secrets: &[&str],
    header: &str,
    body: &[u8],
    tolerance_secs: i64,
    now: i64,
) -> Result<(), VerifyError> {
    let mut timestamp: Option<Result<i64, ()>> = None;
    let mut candidates: Vec<&str> = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value.trim().parse::<i64>().map_err(|_| ())),
            "v1" => candidates.push(value),
            _ => {}
        }
    }
    let t = match timestamp {
        Some(Ok(t)) if !candidates.is_empty() => t,
        _ => return Err(VerifyError::Malformed),
    };
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = compute(secret, t, body);
        for candidate in &candidates {
            // Evaluate every comparison; `|=` keeps it branch-free per pair.
            matched |= ct_eq(expected.as_bytes(), candidate.as_bytes());
        }
    }
    if !matched {
        return Err(VerifyError::NoMatchingSignature);
    }
    let age = now.saturating_sub(t);
    if tolerance_secs > 0 && age > tolerance_secs {
        return Err(VerifyError::TimestampOutsideTolerance {
            age_secs: age,
            tolerance_secs,
        });
    }
    Ok(())
}

/// Constant-time equality for equal-length inputs (length is not secret:
/// a hex SHA-256 is always 64 bytes).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Knobs for the time-shifted modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOptions {
    /// How old `t` is for `stale` and `replayed`, seconds (default 600).
    pub stale_age_secs: i64,
    /// How far ahead `t` is for `future`, seconds (default 600).
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

/// What one delivery sends for its signature mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The `Stripe-Signature` value; `None` means send no header at all.
    pub header: Option<String>,
    /// The bytes to send; differs from the input only for `tampered`.
    pub body: Vec<u8>,
    /// Short human description of what was done (for reports).
    pub note: &'static str,
}

/// Why a header could not be prepared. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// `signature: secondary` but the target has no second secret.
    #[error("signature mode `secondary` needs the target's second signing secret, and none is configured")]
    NoSecondary,
}

/// The `t` literal of `bad-timestamp`. `NaN` is chosen on purpose: in
/// JavaScript `parseInt("NaN")` is `NaN` and every comparison with it is
/// false, so a hand-rolled window check written as `now - t > tol` lets it
/// through, and an HMAC computed over the header's literal `t` matches.
pub const BAD_TIMESTAMP_LITERAL: &str = "NaN";

/// The fixed `garbage` header: no `t=`, no `v1=`, nothing Stripe would send.
pub const GARBAGE_HEADER: &str = "sha256=not-a-stripe-signature";

/// A fresh random secret in Stripe's format, used for `wrong-secret` and the
/// decoy `v1` of `rotated`. Guaranteed different from `avoid`.
pub fn random_secret(avoid: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    loop {
        let s = format!(
            "whsec_{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
        );
        if s != avoid {
            return s;
        }
    }
}

/// Prepare the header (and, for `tampered`, the bytes) a delivery sends
/// with `mode`. `now` is unix seconds; `secret` is the target's signing
/// secret, `secondary` its optional second one.
///
/// | mode | header |
/// |---|---|
/// | valid | `t=now,v1=HMAC(secret)` |
/// | none | no header |
/// | empty | `""` |
/// | garbage | [`GARBAGE_HEADER`] |
/// | wrong-secret | `t=now,v1=HMAC(random whsec_)` |
/// | stale | `t=now-stale_age`, valid `v1` |
/// | future | `t=now+future_secs`, valid `v1` (SDKs accept it) |
/// | bad-timestamp | `t=NaN,v1=HMAC over "NaN.<body>"` |
/// | tampered | valid for the input body, but a changed body is sent (see [`tamper`]) |
/// | replayed | `t=now-stale_age`, valid `v1`: a captured delivery sent later, back-dated instead of waited for |
/// | rotated | `t=now,v1=HMAC(random),v1=HMAC(secret)` |
/// | secondary | `t=now,v1=HMAC(secondary)`; [`SignError::NoSecondary`] without one |
pub fn signed_header(
    mode: SignatureMode,
    secret: &str,
    secondary: Option<&str>,
    now: i64,
    body: &[u8],
    opts: &SignOptions,
) -> Result<Prepared, SignError> {
    let same = |header: Option<String>, note: &'static str| Prepared {
        header,
        body: body.to_vec(),
        note,
    };
    Ok(match mode {
        SignatureMode::Valid => same(Some(header(secret, now, body)), "signed with the target secret, t=now"),
        SignatureMode::None => same(None, "no Stripe-Signature header"),
        SignatureMode::Empty => same(Some(String::new()), "empty Stripe-Signature header"),
        SignatureMode::Garbage => same(Some(GARBAGE_HEADER.to_string()), "garbage Stripe-Signature header (no t=, no v1=)"),
        SignatureMode::WrongSecret => same(
            Some(header(&random_secret(secret), now, body)),
            "well-formed, signed with a random other signing secret",
        ),
        SignatureMode::Stale => same(
            Some(header(secret, now - opts.stale_age_secs, body)),
            "validly signed, t older than the tolerance",
        ),
        SignatureMode::Future => same(
            Some(header(secret, now + opts.future_secs, body)),
            "validly signed, t in the future (official SDKs accept this; tests the app's own check)",
        ),
        SignatureMode::BadTimestamp => same(
            Some(format!(
                "t={BAD_TIMESTAMP_LITERAL},v1={}",
                compute_literal(secret, BAD_TIMESTAMP_LITERAL, body)
            )),
            "non-numeric t, v1 computed over that literal",
        ),
        SignatureMode::Tampered => {
            let h = header(secret, now, body);
            let (changed, note) = tamper(body);
            Prepared {
                header: Some(h),
                body: changed,
                note,
            }
        }
        SignatureMode::Replayed => same(
            Some(header(secret, now - opts.stale_age_secs, body)),
            "captured body+header replayed later (back-dated t, valid v1)",
        ),
        SignatureMode::Rotated => same(
            Some(format!(
                "t={now},v1={},v1={}",
                compute(&random_secret(secret), now, body),
                compute(secret, now, body)
            )),
            "two v1 signatures during rotation: an unknown secret first, then the target secret",
        ),
        SignatureMode::Secondary => {
            let second = secondary.ok_or(SignError::NoSecondary)?;
            same(Some(header(second, now, body)), "signed with the target's second secret")
        }
    })
}

/// Change one byte of `body` after signing while keeping it valid JSON:
///
/// - the last digit of the first `"created": <integer>` is bumped (so the
///   event claims another second: a real content change);
/// - otherwise, for a body starting with `{` or `[`, a space is inserted
///   after that first byte;
/// - otherwise (not JSON, or empty) a space is appended.
///
/// Returns the changed bytes and a note saying which was done.
pub fn tamper(body: &[u8]) -> (Vec<u8>, &'static str) {
    let key = b"\"created\"";
    if let Some(pos) = find(body, key) {
        let mut i = pos + key.len();
        while i < body.len() && body[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < body.len() && body[i] == b':' {
            i += 1;
            while i < body.len() && body[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while i < body.len() && body[i].is_ascii_digit() {
                i += 1;
            }
            let ends_number = i == body.len() || !matches!(body[i], b'.' | b'e' | b'E');
            if i > start && ends_number {
                let mut out = body.to_vec();
                let d = out[i - 1] - b'0';
                // 9 -> 8 rather than 0 so a one-digit "9" never changes length or turns into a leading zero issue.
                out[i - 1] = if d == 9 { b'8' } else { b'0' + d + 1 };
                return (
                    out,
                    "signed, then one digit of `created` changed in the body",
                );
            }
        }
    }
    if matches!(body.first(), Some(b'{') | Some(b'[')) {
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(body[0]);
        out.push(b' ');
        out.extend_from_slice(&body[1..]);
        return (out, "signed, then a space inserted into the JSON body");
    }
    let mut out = body.to_vec();
    out.push(b' ');
    (out, "signed, then a space appended to the body")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
