//! The SDK agreement matrix: for every signature mode and body encoding luota
//! offers, Stripe's own SDKs (Python `stripe`, Node `stripe`) verify what
//! luota's signer produced, and their verdict must equal luota's documented
//! expectation (README, "Signatures").

mod support;

use luota::stripe::body::{encode, BodyEncoding};
use luota::stripe::signature::{signed_header, SignOptions, SignatureMode};
use serde_json::json;
use support::sdk::{verify_with, Case, Sdk};

const PRIMARY: &str = "whsec_agreementPrimarySecret0001";
const SECONDARY: &str = "whsec_agreementSecondarySecret002";

/// What every official SDK does with each mode (secrets: primary and secondary, tolerance 300 s).
fn expected(sdk: Sdk, mode: SignatureMode) -> bool {
    use SignatureMode::*;
    match mode {
        Valid | Rotated | Secondary => true,
        // Every official SDK accepts a timestamp in the future: a `future`
        // drill tests the app's own window, not the SDK.
        Future => true,
        // stripe-node parses `t=NaN` to NaN, and every comparison with NaN is
        // false, so its time window lets the header through; stripe-python
        // rejects it. A handler on stripe-node needs its own timestamp check.
        BadTimestamp => sdk == Sdk::Node,
        None | Empty | Garbage | WrongSecret | Stale | Tampered | Replayed => false,
    }
}

const MODES: [SignatureMode; 12] = [
    SignatureMode::Valid,
    SignatureMode::None,
    SignatureMode::Empty,
    SignatureMode::Garbage,
    SignatureMode::WrongSecret,
    SignatureMode::Stale,
    SignatureMode::Future,
    SignatureMode::BadTimestamp,
    SignatureMode::Tampered,
    SignatureMode::Replayed,
    SignatureMode::Rotated,
    SignatureMode::Secondary,
];

fn event() -> serde_json::Value {
    json!({
        "id": "evt_1agreement00",
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": 1_796_000_000,
        "data": {"object": {"id": "cs_test_a1", "object": "checkout.session", "customer_details": {"name": "Zoë Ødegård", "email": "zoe@example.test"}, "amount_total": 2900, "ratio": 1.5}},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": "checkout.session.completed"
    })
}

fn cases(sdk: Sdk) -> (Vec<Case>, Vec<bool>) {
    let now = support::now();
    let mut cases = Vec::new();
    let mut want = Vec::new();
    for enc in [
        BodyEncoding::Stripe,
        BodyEncoding::Compact,
        BodyEncoding::Hostile,
    ] {
        let body = encode(&event(), enc);
        for mode in MODES {
            let p = signed_header(
                mode,
                PRIMARY,
                Some(SECONDARY),
                now,
                &body,
                &SignOptions::default(),
            )
            .expect("every mode signs");
            cases.push(
                Case::new(format!("{mode:?}/{enc:?}"), p.body, p.header, PRIMARY)
                    .secrets(&[PRIMARY, SECONDARY]),
            );
            want.push(expected(sdk, mode));
        }
    }
    (cases, want)
}

fn agree(sdk: Sdk) {
    if !sdk.available() {
        return;
    }
    let (cases, want) = cases(sdk);
    let verdicts = verify_with(sdk, &cases);
    let mut disagreements = Vec::new();
    for ((case, verdict), want) in cases.iter().zip(&verdicts).zip(&want) {
        if verdict.accepted != *want {
            disagreements.push(format!(
                "{}: {} said accepted={} ({:?}), luota documents {}",
                case.label,
                sdk.name(),
                verdict.accepted,
                verdict.error,
                want
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "SDK disagrees with luota:\n{}",
        disagreements.join("\n")
    );
}

#[test]
fn python_sdk_agrees_with_every_mode_and_encoding() {
    agree(Sdk::Python);
}

#[test]
fn node_sdk_agrees_with_every_mode_and_encoding() {
    agree(Sdk::Node);
}

#[test]
fn secondary_is_rejected_by_a_single_secret_endpoint() {
    for sdk in Sdk::ALL {
        if !sdk.available() {
            return;
        }
        let body = encode(&event(), BodyEncoding::Stripe);
        let p = signed_header(
            SignatureMode::Secondary,
            PRIMARY,
            Some(SECONDARY),
            support::now(),
            &body,
            &SignOptions::default(),
        )
        .unwrap();
        let v = verify_with(
            sdk,
            &[Case::new(
                "secondary/primary-only",
                p.body,
                p.header,
                PRIMARY,
            )],
        );
        assert!(
            !v[0].accepted,
            "{}: a single-secret endpoint must reject the second secret",
            sdk.name()
        );
    }
}
