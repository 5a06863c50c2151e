//! The fault matrix (issue 3): every fault of the embedded demo is caught by a drill of its own
//! failure-table row in `drills/`, and every drill there passes against the correct demo.
//!
//! One `#[test]` per fault, so cargo runs the matrix in parallel threads; a fault added to the demo
//! without a row here fails `every_listed_fault_has_a_row`.

mod builder;

use std::collections::BTreeSet;
use std::path::Path;

use builder::{repo, Test};

/// A fault, the failure-table row it belongs to, the drill that must catch it, and text the
/// incident must contain (what did not happen).
struct Row {
    fault: &'static str,
    dcode: &'static str,
    drill: &'static str,
    incident: &'static [&'static str],
}

const MATRIX: &[Row] = &[
    Row {
        fault: "no-idempotency",
        dcode: "D1",
        drill: "drills/replayed-invoice-credits-once.yaml",
        incident: &[
            "did not happen: the invoice granted 100 credits once",
            "not idempotent: $.credits moved from 200 to",
        ],
    },
    Row {
        fault: "non-atomic-dedupe",
        dcode: "D2",
        drill: "drills/concurrent-duplicates.yaml",
        incident: &["did not happen: exactly one welcome email"],
    },
    Row {
        fault: "event-id-dedupe-only",
        dcode: "D3",
        drill: "drills/checkout-fulfilled-once-across-paths.yaml",
        incident: &[
            "did not happen: exactly 100 credits for one checkout session",
            "$.credits: expected 100, observed 300",
        ],
    },
    Row {
        fault: "blind-status-writes",
        dcode: "D4",
        drill: "drills/update-after-delete-stays-canceled.yaml",
        incident: &["did not happen: subscription stays canceled"],
    },
    Row {
        fault: "strict-tie-break",
        dcode: "D5",
        drill: "drills/same-second-cancel-wins.yaml",
        incident: &[
            "did not happen: subscription ends canceled",
            "did not happen: access is revoked",
        ],
    },
    Row {
        fault: "slow-no-dedupe",
        dcode: "D6",
        drill: "drills/timeout-then-redelivery-applies-once.yaml",
        incident: &[
            "did not happen: exactly one welcome email",
            "did not happen: exactly 100 credits",
        ],
    },
    Row {
        fault: "skip-verify-without-header",
        dcode: "D7",
        drill: "drills/signature-missing-header-rejected.yaml",
        incident: &[
            "delivery of `no_header` (signature none): 1 of 1 answered 200, expected 4xx",
            "did not happen: the unsigned checkout was not applied",
            "state changed: $.access was \"none\", now \"full\"",
        ],
    },
    Row {
        fault: "no-timestamp-window",
        dcode: "D7",
        drill: "drills/signature-stale-replay-rejected.yaml",
        incident: &[
            "delivery of `stale` (signature stale): 1 of 1 answered 200, expected 4xx",
            "delivery of `captured` (signature replayed): 1 of 1 answered 200, expected 4xx",
            "did not happen: the stale checkout was not applied",
        ],
    },
    Row {
        fault: "reserialize-before-verify",
        dcode: "D8",
        drill: "drills/byte-hostile-bodies-accepted.yaml",
        incident: &[
            "delivery of `checkout` (signature valid, body hostile): 1 of 1 answered 400, expected 2xx",
            "delivery of `renewal` (signature valid, body compact): 1 of 1 answered 400, expected 2xx",
            "did not happen: customer has full access",
        ],
    },
    Row {
        fault: "single-secret",
        dcode: "D9",
        drill: "drills/secret-rotation-accepted.yaml",
        incident: &[
            "delivery of `checkout` (signature secondary): 1 of 1 answered 400, expected 2xx",
            "did not happen: the checkout signed with the second secret was applied",
        ],
    },
    Row {
        fault: "crash-on-basil",
        dcode: "D10",
        drill: "drills/payload-shapes-applied.yaml",
        incident: &[
            "delivery of `created_basil` (signature valid): 1 of 1 answered 500, expected 2xx",
            "did not happen: customer has an active Pro subscription",
        ],
    },
    Row {
        fault: "crash-on-null-linkage",
        dcode: "D11",
        drill: "drills/checkout-without-client-reference-links.yaml",
        incident: &[
            "delivery of `checkout_metadata` (signature valid): 1 of 1 answered 500, expected 2xx",
            "did not happen: the metadata-linked customer has Pro access",
        ],
    },
    Row {
        fault: "ignores-cancel-at",
        dcode: "D12",
        drill: "drills/scheduled-cancellation-keeps-access.yaml",
        incident: &["did not happen: customer keeps full access until cancel_at"],
    },
    Row {
        fault: "downgrade-on-other-sub",
        dcode: "D12",
        drill: "drills/two-subscriptions-one-canceled.yaml",
        incident: &["did not happen: customer keeps full access from the remaining subscription"],
    },
    Row {
        fault: "payment-failure-ignored",
        dcode: "D12",
        drill: "drills/trial-to-unpaid-lifecycle.yaml",
        incident: &[
            "did not happen: subscription is past due with grace access",
            "did not happen: one payment-failed email",
        ],
    },
];

fn row(fault: &str) -> &'static Row {
    MATRIX
        .iter()
        .find(|r| r.fault == fault)
        .unwrap_or_else(|| panic!("no matrix row for fault `{fault}`"))
}

/// `luota run DRILL --demo-fault FAULT` exits 1 with an incident naming what did not happen, the
/// event, and the exact rerun command.
fn caught(fault: &str) {
    let r = row(fault);
    let mut t = Test::new()
        .args(["run", r.drill, "--demo-fault", fault])
        .status(1)
        .stdout_has("FAIL  ")
        .stdout_has("0 passed, 1 failed, 0 errored, 0 invalid")
        .stdout_has("event evt_")
        .stdout_has(format!(
            "rerun: luota run {} --target demo --demo-fault {fault}",
            r.drill
        ));
    for text in r.incident {
        t = t.stdout_has(*text);
    }
    t.run();
}

/// `luota demo --list-faults`: (fault id, D code) per line.
fn listed_faults() -> Vec<(String, String)> {
    let ran = Test::new().args(["demo", "--list-faults"]).status(0).run();
    ran.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next().unwrap().to_string();
            let dcode = words.next().unwrap_or_default().to_string();
            (id, dcode)
        })
        .collect()
}

#[test]
fn every_listed_fault_has_a_row() {
    let listed = listed_faults();
    assert!(
        listed.len() >= 15,
        "expected the demo's faults, got {listed:?}"
    );
    let in_table: BTreeSet<&str> = MATRIX.iter().map(|r| r.fault).collect();
    assert_eq!(in_table.len(), MATRIX.len(), "a fault has two rows");
    let missing: Vec<&str> = listed
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !in_table.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "faults without a drill in the fault matrix: {missing:?}; add a drill to drills/ that \
         catches each, a row to MATRIX and a #[test] below"
    );
    let stale: Vec<&str> = in_table
        .iter()
        .copied()
        .filter(|f| !listed.iter().any(|(id, _)| id == f))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for faults the demo no longer lists: {stale:?}"
    );
    for (id, dcode) in &listed {
        assert_eq!(
            row(id).dcode,
            dcode,
            "fault `{id}` exposes {dcode} but its row says {}",
            row(id).dcode
        );
    }
}

#[test]
fn every_row_names_a_drill_of_its_own_failure_code() {
    for r in MATRIX {
        let path = repo().join(r.drill);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let tags = text
            .lines()
            .find(|l| l.starts_with("tags:"))
            .unwrap_or_else(|| panic!("{} has no tags line", r.drill));
        let has_code = tags
            .trim_start_matches("tags:")
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .any(|t| t.trim() == r.dcode);
        assert!(has_code, "{} is not tagged {} ({tags})", r.drill, r.dcode);
    }
}

#[test]
fn every_drill_passes_against_the_correct_demo() {
    let n = count_drills(&repo().join("drills"));
    assert!(n >= MATRIX.len(), "only {n} drill files in drills/");
    Test::new()
        .args(["run", "--jobs", "4", "--snapshots", "ignore"])
        .status(0)
        .stdout_has(format!(
            "{n} drills against `demo`: {n} passed, 0 failed, 0 errored, 0 invalid"
        ))
        .stdout_lacks("FAIL")
        .run();
}

fn count_drills(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            n += count_drills(&p);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        ) {
            n += 1;
        }
    }
    n
}

#[test]
fn d1_no_idempotency() {
    caught("no-idempotency");
}

#[test]
fn d2_non_atomic_dedupe() {
    caught("non-atomic-dedupe");
}

#[test]
fn d3_event_id_dedupe_only() {
    caught("event-id-dedupe-only");
}

#[test]
fn d4_blind_status_writes() {
    caught("blind-status-writes");
}

#[test]
fn d5_strict_tie_break() {
    caught("strict-tie-break");
}

#[test]
fn d6_slow_no_dedupe() {
    caught("slow-no-dedupe");
}

#[test]
fn d7_skip_verify_without_header() {
    caught("skip-verify-without-header");
}

#[test]
fn d7_no_timestamp_window() {
    caught("no-timestamp-window");
}

#[test]
fn d8_reserialize_before_verify() {
    caught("reserialize-before-verify");
}

#[test]
fn d9_single_secret() {
    caught("single-secret");
}

#[test]
fn d10_crash_on_basil() {
    caught("crash-on-basil");
}

#[test]
fn d11_crash_on_null_linkage() {
    caught("crash-on-null-linkage");
}

#[test]
fn d12_ignores_cancel_at() {
    caught("ignores-cancel-at");
}

#[test]
fn d12_downgrade_on_other_sub() {
    caught("downgrade-on-other-sub");
}

#[test]
fn d12_payment_failure_ignored() {
    caught("payment-failure-ignored");
}
