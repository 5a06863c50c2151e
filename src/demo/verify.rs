//! The demo's own Stripe signature check, as the official SDKs do it.
//!
//! The demo stands in for a customer's app, so it carries its own verifier rather than luota's
//! `stripe` module: a bug in luota's signer must not be hidden by the same bug in the app it tests.
//!
//! `Stripe-Signature: t=1700000000,v1=<hex>,v1=<hex>,v0=...`: the HMAC-SHA256 of `"{t}.{body}"` keyed
//! by the whole `whsec_...` string (not base64-decoded); any `v1` may match any accepted secret.
//! Like the SDKs, a `t` older than the tolerance is rejected; unlike them, the demo also rejects a
//! `t` too far in the future (its own extra check).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's default tolerance for old timestamps, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused. Messages are safe to return to the client: no secret, no expected
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("Stripe-Signature header has no v1 signature")]
    NoV1,
    #[error("timestamp outside the tolerance zone")]
    TooOld,
    #[error("timestamp is in the future")]
    InFuture,
    #[error("no signature matches the expected signature for the payload")]
    NoMatch,
}

/// What the verifier checks; the faults switch parts of it off.
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    pub secrets: Vec<&'a str>,
    pub tolerance_secs: i64,
    pub future_window_secs: i64,
    /// false: `t` is never compared with the clock (the `no-timestamp-window` fault).
    pub check_time: bool,
}

struct Parsed {
    t: i64,
    t_raw: String,
    v1: Vec<Vec<u8>>,
}

fn parse(header: &str) -> Result<Parsed, VerifyError> {
    let mut t_raw: Option<String> = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "t" => t_raw = Some(v.trim().to_string()),
            // A v1 that is not hex can never match; skip it, as the SDKs do.
            "v1" => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    v1.push(bytes)
                }
            }
            _ => {}
        }
    }
    let t_raw = t_raw.ok_or(VerifyError::Malformed)?;
    let t: i64 = t_raw.parse().map_err(|_| VerifyError::Malformed)?;
    if v1.is_empty() {
        return Err(VerifyError::NoV1);
    }
    Ok(Parsed { t, t_raw, v1 })
}

impl Verifier<'_> {
    /// Verifies `header` over the raw `body` bytes at clock time `now` (unix seconds).
    pub fn verify(&self, header: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let parsed = parse(header)?;
        let matched = self.secrets.iter().any(|secret| {
            parsed.v1.iter().any(|sig| {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                    .expect("HMAC accepts any key length");
                mac.update(parsed.t_raw.as_bytes());
                mac.update(b".");
                mac.update(body);
                // verify_slice compares in constant time.
                mac.verify_slice(sig).is_ok()
            })
        });
        if !matched {
            return Err(VerifyError::NoMatch);
        }
        if self.check_time {
            if now - parsed.t > self.tolerance_secs {
                return Err(VerifyError::TooOld);
            }
            if parsed.t - now > self.future_window_secs {
                return Err(VerifyError::InFuture);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn verifier<'a>(secrets: Vec<&'a str>) -> Verifier<'a> {
        Verifier {
            secrets,
            tolerance_secs: 300,
            future_window_secs: 300,
            check_time: true,
        }
    }

    #[test]
    fn accepts_any_v1_with_any_secret() {
        let body = b"{\n  \"id\": \"evt_1\"\n}";
        let good = sign("whsec_b", "1000", body);
        let header = format!("t=1000,v1={},v1={good},v0=abc", "00".repeat(32));
        assert_eq!(
            verifier(vec!["whsec_a", "whsec_b"]).verify(&header, body, 1000),
            Ok(())
        );
        assert_eq!(
            verifier(vec!["whsec_a"]).verify(&header, body, 1000),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn time_window_both_sides() {
        let body = b"{}";
        let h = |t: i64| format!("t={t},v1={}", sign("whsec_a", &t.to_string(), body));
        let v = verifier(vec!["whsec_a"]);
        assert_eq!(v.verify(&h(1000), body, 1300), Ok(()));
        assert_eq!(v.verify(&h(1000), body, 1301), Err(VerifyError::TooOld));
        assert_eq!(v.verify(&h(1300), body, 1000), Ok(()));
        assert_eq!(v.verify(&h(1301), body, 1000), Err(VerifyError::InFuture));
        let lax = Verifier {
            check_time: false,
            ..v
        };
        assert_eq!(lax.verify(&h(1), body, 1_000_000), Ok(()));
    }

    #[test]
    fn malformed_headers() {
        let v = verifier(vec!["whsec_a"]);
        assert_eq!(v.verify("", b"{}", 0), Err(VerifyError::Malformed));
        assert_eq!(v.verify("garbage", b"{}", 0), Err(VerifyError::Malformed));
        assert_eq!(
            v.verify("t=abc,v1=00", b"{}", 0),
            Err(VerifyError::Malformed)
        );
        assert_eq!(v.verify("t=1", b"{}", 0), Err(VerifyError::NoV1));
        assert_eq!(v.verify("t=1,v1=zz", b"{}", 0), Err(VerifyError::NoV1));
    }

    #[test]
    fn body_bytes_matter() {
        let v = verifier(vec!["whsec_a"]);
        let header = format!("t=5,v1={}", sign("whsec_a", "5", b"{\"a\":1}"));
        assert_eq!(v.verify(&header, b"{\"a\":1}", 5), Ok(()));
        assert_eq!(
            v.verify(&header, b"{\"a\": 1}", 5),
            Err(VerifyError::NoMatch)
        );
    }
}
