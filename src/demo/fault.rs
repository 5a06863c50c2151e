//! The bug classes the demo can switch on, one at a time.
//!
//! Each fault is a real bug seen in Stripe webhook handlers, mapped to the D code of the failure table
//! in DESIGN.md. Windows are realistic (tens of milliseconds) and nothing in the state API says which
//! fault is on: only a drill that really replays, races or reorders can catch them.

use std::fmt;
use std::str::FromStr;

/// One bug class of the demo app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// D1: no event-id dedupe; every delivery applies its effects, credits are not keyed.
    NoIdempotency,
    /// D2: SELECT the ledger, ~20 ms of "work", then INSERT: concurrent copies both pass the check.
    NonAtomicDedupe,
    /// D3: fulfilment keyed by event id instead of the checkout session.
    EventIdDedupeOnly,
    /// D4: subscription snapshots are written whatever their `created`.
    BlindStatusWrites,
    /// D5: "keep the newest" with a strict `>`: a same-second tie drops the second arrival.
    StrictTieBreak,
    /// D6: answers ~1.5 s after committing, and has no dedupe.
    SlowNoDedupe,
    /// D7: a request without a `Stripe-Signature` header is accepted unverified.
    SkipVerifyWithoutHeader,
    /// D7: verifies the HMAC but never checks `t`.
    NoTimestampWindow,
    /// D9: only the primary secret is accepted.
    SingleSecret,
    /// D8: parses and re-serializes the body before verifying.
    ReserializeBeforeVerify,
    /// D10: reads `current_period_end` from the subscription top level; 500 when absent (basil).
    CrashOnBasil,
    /// D11: unwraps `client_reference_id`; 500 when null, no fallback.
    CrashOnNullLinkage,
    /// D12: treats a scheduled cancellation (`cancel_at` set) as canceled now.
    IgnoresCancelAt,
    /// D12: the user's access follows the last event's subscription, not the best one.
    DowngradeOnOtherSub,
    /// D12: `invoice.payment_failed` is acknowledged and changes nothing.
    PaymentFailureIgnored,
}

const ALL: &[Fault] = &[
    Fault::NoIdempotency,
    Fault::NonAtomicDedupe,
    Fault::EventIdDedupeOnly,
    Fault::BlindStatusWrites,
    Fault::StrictTieBreak,
    Fault::SlowNoDedupe,
    Fault::SkipVerifyWithoutHeader,
    Fault::NoTimestampWindow,
    Fault::ReserializeBeforeVerify,
    Fault::SingleSecret,
    Fault::CrashOnBasil,
    Fault::CrashOnNullLinkage,
    Fault::IgnoresCancelAt,
    Fault::DowngradeOnOtherSub,
    Fault::PaymentFailureIgnored,
];

impl Fault {
    /// Every fault, in D-code order.
    pub fn all() -> &'static [Fault] {
        ALL
    }

    /// The kebab-case id used by `--fault` and `--demo-fault`.
    pub fn id(&self) -> &'static str {
        match self {
            Fault::NoIdempotency => "no-idempotency",
            Fault::NonAtomicDedupe => "non-atomic-dedupe",
            Fault::EventIdDedupeOnly => "event-id-dedupe-only",
            Fault::BlindStatusWrites => "blind-status-writes",
            Fault::StrictTieBreak => "strict-tie-break",
            Fault::SlowNoDedupe => "slow-no-dedupe",
            Fault::SkipVerifyWithoutHeader => "skip-verify-without-header",
            Fault::NoTimestampWindow => "no-timestamp-window",
            Fault::SingleSecret => "single-secret",
            Fault::ReserializeBeforeVerify => "reserialize-before-verify",
            Fault::CrashOnBasil => "crash-on-basil",
            Fault::CrashOnNullLinkage => "crash-on-null-linkage",
            Fault::IgnoresCancelAt => "ignores-cancel-at",
            Fault::DowngradeOnOtherSub => "downgrade-on-other-sub",
            Fault::PaymentFailureIgnored => "payment-failure-ignored",
        }
    }

    /// The failure-table code (DESIGN.md) of the delivery that exposes this fault.
    pub fn dcode(&self) -> &'static str {
        match self {
            Fault::NoIdempotency => "D1",
            Fault::NonAtomicDedupe => "D2",
            Fault::EventIdDedupeOnly => "D3",
            Fault::BlindStatusWrites => "D4",
            Fault::StrictTieBreak => "D5",
            Fault::SlowNoDedupe => "D6",
            Fault::SkipVerifyWithoutHeader | Fault::NoTimestampWindow => "D7",
            Fault::ReserializeBeforeVerify => "D8",
            Fault::SingleSecret => "D9",
            Fault::CrashOnBasil => "D10",
            Fault::CrashOnNullLinkage => "D11",
            Fault::IgnoresCancelAt | Fault::DowngradeOnOtherSub | Fault::PaymentFailureIgnored => {
                "D12"
            }
        }
    }

    /// One line: what the bug is and what a drill sees.
    pub fn about(&self) -> &'static str {
        match self {
            Fault::NoIdempotency => {
                "no event-id dedupe: every delivery of one event applies its effects again \
                 (welcome email, +100 credits per delivery)"
            }
            Fault::NonAtomicDedupe => {
                "check-then-insert dedupe with ~20 ms between the ledger SELECT and INSERT: \
                 concurrent copies of one event each send a welcome email"
            }
            Fault::EventIdDedupeOnly => {
                "fulfilment keyed by event id, not by checkout session: checkout.session.completed, \
                 payment_intent.succeeded and the browser return each grant credits"
            }
            Fault::BlindStatusWrites => {
                "subscription events overwrite status whatever their `created`: an older snapshot \
                 delivered last wins"
            }
            Fault::StrictTieBreak => {
                "keeps the newest with a strict `created >`: on a same-second tie the second arrival \
                 is dropped, so canceled after active leaves access full"
            }
            Fault::SlowNoDedupe => {
                "answers ~1.5 s after committing and has no dedupe: a client that times out and \
                 redelivers gets the effects twice"
            }
            Fault::SkipVerifyWithoutHeader => {
                "a request with no Stripe-Signature header is accepted without verification"
            }
            Fault::NoTimestampWindow => {
                "verifies the HMAC but never checks `t`: stale and replayed signatures are accepted"
            }
            Fault::SingleSecret => {
                "accepts only the primary signing secret: events signed with the second secret get 400"
            }
            Fault::ReserializeBeforeVerify => {
                "parses and re-serializes the body (two-space pretty) before verifying: validly \
                 signed byte-hostile bodies (\\u escapes, compact, trailing newline) get 400"
            }
            Fault::CrashOnBasil => {
                "reads current_period_end from the subscription top level and answers 500 when it is \
                 absent (basil API versions moved it onto the items)"
            }
            Fault::CrashOnNullLinkage => {
                "unwraps client_reference_id: a checkout without it answers 500, with no fallback to \
                 metadata.user_id or the customer's email"
            }
            Fault::IgnoresCancelAt => {
                "ignores the cancel_at date: a scheduled cancellation revokes access at once instead \
                 of when cancel_at passes"
            }
            Fault::DowngradeOnOtherSub => {
                "with several subscriptions on one customer, access and plan follow the subscription \
                 of the last event, so canceling one of two revokes access"
            }
            Fault::PaymentFailureIgnored => {
                "invoice.payment_failed is acknowledged with 200 and changes nothing (no grace \
                 period, no dunning email)"
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A `--fault` value that names no fault; its message lists the valid ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown demo fault `{given}`; valid faults: {}", valid_ids())]
pub struct UnknownFault {
    pub given: String,
}

fn valid_ids() -> String {
    ALL.iter().map(|f| f.id()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        ALL.iter()
            .copied()
            .find(|f| f.id().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownFault {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for f in Fault::all() {
            assert!(seen.insert(f.id()), "duplicate id {}", f.id());
            assert_eq!(f.id().parse::<Fault>().unwrap(), *f);
            assert!(f.dcode().starts_with('D'));
            assert!(!f.about().is_empty());
        }
    }

    #[test]
    fn unknown_fault_lists_valid_ids() {
        let err = "no-such".parse::<Fault>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no-such"));
        for f in Fault::all() {
            assert!(msg.contains(f.id()));
        }
    }
}
