//! Stripe-Signature: known answers from OpenSSL, sign/verify properties,
//! and what every drill signature mode produces and how an SDK-style
//! verifier (tolerance 300 s) judges it.

use luota::stripe::signature::{
    compute, header, signed_header, tamper, verify, SignError, SignOptions, SignatureMode,
    VerifyError, BAD_TIMESTAMP_LITERAL, DEFAULT_TOLERANCE_SECS, GARBAGE_HEADER,
};
use proptest::prelude::*;

struct Vector {
    secret: String,
    t: i64,
    body: Vec<u8>,
    v1: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/signatures.txt");
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut secret = None;
        let mut t = None;
        let mut body = None;
        let mut v1 = None;
        for line in block.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match k {
                "secret" => secret = Some(v.to_string()),
                "t" => t = Some(v.parse().unwrap()),
                "body-hex" => body = Some(hex::decode(v.trim()).unwrap()),
                "v1" => v1 = Some(v.to_string()),
                other => panic!("unknown vector line {other:?}"),
            }
        }
        out.push(Vector {
            secret: secret.expect("secret"),
            t: t.expect("t"),
            body: body.expect("body-hex"),
            v1: v1.expect("v1"),
        });
    }
    out
}

#[test]
fn vectors_cover_the_promised_cases() {
    let v = vectors();
    assert!(v.len() >= 5);
    assert!(v.iter().any(|v| v.body.is_empty()), "an empty body");
    assert!(
        v.iter().any(|v| v.body.iter().any(|b| *b >= 0x80)),
        "a non-ASCII body"
    );
    assert!(
        v.iter().any(|v| v.body.starts_with(b"{\n  \"")),
        "a pretty-printed multi-line body"
    );
}

#[test]
fn compute_matches_openssl_vectors() {
    for v in vectors() {
        assert_eq!(compute(&v.secret, v.t, &v.body), v.v1, "t={}", v.t);
        assert_eq!(
            header(&v.secret, v.t, &v.body),
            format!("t={},v1={}", v.t, v.v1)
        );
        let h = format!("t={},v1={}", v.t, v.v1);
        assert_eq!(verify(&[&v.secret], &h, &v.body, 300, v.t + 1), Ok(()));
    }
}

const SECRET: &str = "whsec_primary_0123456789abcdefABCDEF";
const SECOND: &str = "whsec_secondary_zyxwvutsrqponmlk";
const NOW: i64 = 1_756_300_000;
const BODY: &[u8] = b"{\n  \"id\": \"evt_test\",\n  \"object\": \"event\",\n  \"created\": 1756299999,\n  \"type\": \"invoice.paid\"\n}";

fn prep(mode: SignatureMode) -> luota::stripe::signature::Prepared {
    signed_header(
        mode,
        SECRET,
        Some(SECOND),
        NOW,
        BODY,
        &SignOptions::default(),
    )
    .unwrap()
}

/// Verify what a mode produced as an app holding both secrets would.
fn judge(mode: SignatureMode) -> Result<(), VerifyError> {
    let p = prep(mode);
    let h = p.header.unwrap_or_default();
    verify(&[SECRET, SECOND], &h, &p.body, DEFAULT_TOLERANCE_SECS, NOW)
}

#[test]
fn sign_options_defaults() {
    let o = SignOptions::default();
    assert_eq!((o.stale_age_secs, o.future_secs), (600, 600));
}

#[test]
fn mode_valid() {
    let p = prep(SignatureMode::Valid);
    assert_eq!(
        p.header.as_deref(),
        Some(header(SECRET, NOW, BODY).as_str())
    );
    assert_eq!(p.body, BODY);
    assert_eq!(judge(SignatureMode::Valid), Ok(()));
    assert!(!SignatureMode::Valid.is_negative());
}

#[test]
fn mode_none() {
    let p = prep(SignatureMode::None);
    assert_eq!(p.header, None);
    assert_eq!(p.body, BODY);
    assert_eq!(judge(SignatureMode::None), Err(VerifyError::Malformed));
}

#[test]
fn mode_empty() {
    let p = prep(SignatureMode::Empty);
    assert_eq!(p.header.as_deref(), Some(""));
    assert_eq!(judge(SignatureMode::Empty), Err(VerifyError::Malformed));
}

#[test]
fn mode_garbage() {
    let p = prep(SignatureMode::Garbage);
    let h = p.header.unwrap();
    assert_eq!(h, GARBAGE_HEADER);
    assert!(!h.contains("t=") && !h.contains("v1="));
    assert_eq!(judge(SignatureMode::Garbage), Err(VerifyError::Malformed));
}

#[test]
fn mode_wrong_secret() {
    let p = prep(SignatureMode::WrongSecret);
    let h = p.header.unwrap();
    let (t, v1) = h.split_once(',').unwrap();
    assert_eq!(t, format!("t={NOW}"));
    let sig = v1.strip_prefix("v1=").unwrap();
    assert_eq!(sig.len(), 64);
    assert!(sig
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_ne!(sig, compute(SECRET, NOW, BODY));
    assert_ne!(sig, compute(SECOND, NOW, BODY));
    assert_eq!(
        judge(SignatureMode::WrongSecret),
        Err(VerifyError::NoMatchingSignature)
    );
    // Random per call.
    assert_ne!(prep(SignatureMode::WrongSecret).header.unwrap(), h);
}

#[test]
fn mode_stale() {
    let p = prep(SignatureMode::Stale);
    let t = NOW - 600;
    assert_eq!(p.header.unwrap(), header(SECRET, t, BODY));
    assert_eq!(
        judge(SignatureMode::Stale),
        Err(VerifyError::TimestampOutsideTolerance {
            age_secs: 600,
            tolerance_secs: 300
        })
    );
    // Configurable age.
    let p = signed_header(
        SignatureMode::Stale,
        SECRET,
        None,
        NOW,
        BODY,
        &SignOptions {
            stale_age_secs: 120,
            future_secs: 600,
        },
    )
    .unwrap();
    assert_eq!(p.header.unwrap(), header(SECRET, NOW - 120, BODY));
}

#[test]
fn mode_future_is_accepted_like_the_official_sdks() {
    let p = prep(SignatureMode::Future);
    assert_eq!(p.header.unwrap(), header(SECRET, NOW + 600, BODY));
    // Official SDKs only bound the past side: a future t verifies.
    assert_eq!(judge(SignatureMode::Future), Ok(()));
    assert!(SignatureMode::Future.is_negative());
}

#[test]
fn mode_bad_timestamp() {
    let p = prep(SignatureMode::BadTimestamp);
    let h = p.header.unwrap();
    let mut lit = BAD_TIMESTAMP_LITERAL.as_bytes().to_vec();
    lit.push(b'.');
    lit.extend_from_slice(BODY);
    // v1 is HMAC over the literal, checked with an independent HMAC use.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&lit);
    let want = hex::encode(mac.finalize().into_bytes());
    assert_eq!(h, format!("t={BAD_TIMESTAMP_LITERAL},v1={want}"));
    assert!(BAD_TIMESTAMP_LITERAL.parse::<i64>().is_err());
    assert_eq!(
        judge(SignatureMode::BadTimestamp),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn mode_tampered() {
    let p = prep(SignatureMode::Tampered);
    assert_eq!(
        p.header.as_deref(),
        Some(header(SECRET, NOW, BODY).as_str())
    );
    assert_ne!(p.body, BODY);
    assert_eq!(p.body.len(), BODY.len());
    let diffs = p.body.iter().zip(BODY).filter(|(a, b)| a != b).count();
    assert_eq!(diffs, 1);
    let v: serde_json::Value = serde_json::from_slice(&p.body).expect("still valid JSON");
    assert_eq!(v["created"], 1_756_299_998i64); // last digit 9 -> 8
    assert_eq!(
        judge(SignatureMode::Tampered),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn tamper_fallbacks_stay_valid_json() {
    let (b, note) = tamper(br#"{"a":1}"#);
    assert_eq!(b, br#"{ "a":1}"#);
    assert!(note.contains("space"));
    let (b, _) = tamper(br#"{"created":1700000000}"#);
    assert_eq!(b, br#"{"created":1700000001}"#);
    let (b, _) = tamper(b"");
    assert_eq!(b, b" ");
    // created as a float is not touched (would not be one byte in a digit sequence we own)
    let (b, _) = tamper(br#"{"created":1.5}"#);
    assert_eq!(b, br#"{ "created":1.5}"#);
}

#[test]
fn mode_replayed() {
    let p = prep(SignatureMode::Replayed);
    assert_eq!(p.header.unwrap(), header(SECRET, NOW - 600, BODY));
    assert_eq!(p.body, BODY);
    assert!(matches!(
        judge(SignatureMode::Replayed),
        Err(VerifyError::TimestampOutsideTolerance { .. })
    ));
}

#[test]
fn mode_rotated() {
    let p = prep(SignatureMode::Rotated);
    let h = p.header.unwrap();
    let parts: Vec<&str> = h.split(',').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], format!("t={NOW}"));
    assert!(parts[1].starts_with("v1="));
    assert_ne!(parts[1], format!("v1={}", compute(SECRET, NOW, BODY)));
    assert_eq!(parts[2], format!("v1={}", compute(SECRET, NOW, BODY)));
    assert_eq!(judge(SignatureMode::Rotated), Ok(()));
    // Only the primary secret known to the app: still passes.
    assert_eq!(verify(&[SECRET], &h, BODY, 300, NOW), Ok(()));
    // A verifier that only looks at the first v1 would reject it.
    let first_only = format!("{},{}", parts[0], parts[1]);
    assert_eq!(
        verify(&[SECRET], &first_only, BODY, 300, NOW),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn mode_secondary() {
    let p = prep(SignatureMode::Secondary);
    let h = p.header.unwrap();
    assert_eq!(h, header(SECOND, NOW, BODY));
    assert_eq!(judge(SignatureMode::Secondary), Ok(()));
    // A single-secret app rejects it.
    assert_eq!(
        verify(&[SECRET], &h, BODY, 300, NOW),
        Err(VerifyError::NoMatchingSignature)
    );
    let err = signed_header(
        SignatureMode::Secondary,
        SECRET,
        None,
        NOW,
        BODY,
        &SignOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, SignError::NoSecondary);
}

#[test]
fn every_mode_has_a_note_and_negativity_matches_verify() {
    use SignatureMode::*;
    for mode in [
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
    ] {
        let p = prep(mode);
        assert!(!p.note.is_empty(), "{mode:?}");
        let ok = judge(mode).is_ok();
        // Future is negative by drill intent but accepted by SDKs.
        if mode != Future {
            assert_eq!(ok, !mode.is_negative(), "{mode:?}");
        }
    }
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    use SignatureMode::*;
    for mode in [
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
    ] {
        let p = prep(mode);
        let dbg = format!("{p:?}");
        assert!(!dbg.contains(SECRET) && !dbg.contains(SECOND), "{mode:?}");
        assert!(!dbg.contains("whsec_"), "{mode:?}");
        if let Err(e) = judge(mode) {
            let s = format!("{e} {e:?}");
            assert!(!s.contains("whsec_"), "{s}");
        }
    }
    let e = SignError::NoSecondary;
    assert!(!format!("{e} {e:?}").contains("whsec_"));
}

#[test]
fn verify_parsing_like_the_sdks() {
    let sig = compute(SECRET, NOW, BODY);
    // Unknown schemes ignored, order free, v0 ignored.
    let h = format!("v0=abc,v1={sig},t={NOW}");
    assert_eq!(verify(&[SECRET], &h, BODY, 300, NOW), Ok(()));
    // v0 alone is not enough.
    let h = format!("t={NOW},v0={sig}");
    assert_eq!(
        verify(&[SECRET], &h, BODY, 300, NOW),
        Err(VerifyError::Malformed)
    );
    // No t.
    assert_eq!(
        verify(&[SECRET], &format!("v1={sig}"), BODY, 300, NOW),
        Err(VerifyError::Malformed)
    );
    // Uppercase hex does not match (SDKs compare hex strings).
    let h = format!("t={NOW},v1={}", sig.to_uppercase());
    assert_eq!(
        verify(&[SECRET], &h, BODY, 300, NOW),
        Err(VerifyError::NoMatchingSignature)
    );
    // Exactly at the tolerance passes, one second more fails.
    let h = header(SECRET, NOW - 300, BODY);
    assert_eq!(verify(&[SECRET], &h, BODY, 300, NOW), Ok(()));
    assert!(verify(&[SECRET], &h, BODY, 300, NOW + 1).is_err());
    // Tolerance 0 disables the window.
    assert_eq!(verify(&[SECRET], &h, BODY, 0, NOW + 1_000_000), Ok(()));
    // No secrets.
    assert_eq!(
        verify(&[], &header(SECRET, NOW, BODY), BODY, 300, NOW),
        Err(VerifyError::NoSecrets)
    );
    // A bad signature is reported as such even when also stale (signature first).
    let h = header("whsec_other", NOW - 10_000, BODY);
    assert_eq!(
        verify(&[SECRET], &h, BODY, 300, NOW),
        Err(VerifyError::NoMatchingSignature)
    );
}

fn secret_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{8,40}".prop_map(|s| format!("whsec_{s}"))
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(
        secret in secret_strategy(),
        t in 0i64..4_000_000_000,
        age in 0i64..=300,
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let h = header(&secret, t, &body);
        prop_assert_eq!(verify(&[&secret], &h, &body, 300, t + age), Ok(()));
    }

    #[test]
    fn any_change_fails_verification(
        secret in secret_strategy(),
        other in secret_strategy(),
        t in 1i64..4_000_000_000,
        dt in prop_oneof![-1000i64..0, 1i64..1000],
        body in proptest::collection::vec(any::<u8>(), 1..512),
        idx in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let h = header(&secret, t, &body);
        // Body changed.
        let mut changed = body.clone();
        let i = idx.index(changed.len());
        changed[i] ^= flip;
        prop_assert_eq!(
            verify(&[&secret], &h, &changed, 0, t),
            Err(VerifyError::NoMatchingSignature)
        );
        // Timestamp changed in the header.
        let sig = compute(&secret, t, &body);
        let moved = format!("t={},v1={sig}", t + dt);
        prop_assert_eq!(
            verify(&[&secret], &moved, &body, 0, t),
            Err(VerifyError::NoMatchingSignature)
        );
        // Secret changed.
        prop_assume!(other != secret);
        prop_assert_eq!(
            verify(&[&other], &h, &body, 0, t),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}
