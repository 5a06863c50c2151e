//! The incident: what did not happen, for whom, and what to do next.
//!
//! Derived once from a failed [`DrillRecord`] (and the run's deploy) by
//! [`derive`], stored in the record, and shown as-is by every renderer
//! (terminal, Markdown, JUnit, JSON), so all formats say the same thing.
//!
//! # The spine
//!
//! A run is a chain: **signal** (every delivery met its expected status) →
//! **billing** → **entitlement** → **access** → **notification** (the
//! `stage` of each check). Each link *held*, *broke*, or was *not checked*;
//! the incident names the first link that broke. Checks without a stage are
//! listed as failures but are not part of the chain.
//!
//! # Retry guidance: the decision table
//!
//! Is it safe to redeliver the event (from Stripe's dashboard, or
//! `stripe events resend`)? Decided from the record alone, first matching row wins:
//!
//! | # | what the record shows | guidance |
//! |---|---|---|
//! | 1 | a control drill failed (its checks held on a broken outcome) | **not applicable**: the checks are at fault, not the app |
//! | 2 | a `stable` or `unchanged` value moved | **not safe**: a delivery already applied its effect again; reconcile the customer's state first, then fix the handler |
//! | 3 | `stable` values were checked, all held, and every delivery expecting 2xx got one | **safe to redeliver**: the handler stayed idempotent for this event; the missing outcome will not be doubled by a retry |
//! | 4 | `stable` values were checked and held, but a delivery did not get its 2xx (timeout, 5xx, refused) | **safe to redeliver, then re-check**: values held, but the handler did not acknowledge, so Stripe retries on its own; watch the outcome |
//! | 5 | no `stable` values (or no baseline: no delivery was accepted) | **unknown**: luota did not check idempotency for this drill, so it cannot say whether a redelivery applies the effect twice; read the customer's state by hand first, and add `stable:` to the drill |

use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::drill::model::Stage;
use crate::record::{DeployRecord, DrillRecord, StepRecord, Verdict};
use crate::report::human_duration;
use crate::runner::show;

/// An incident: one per failed drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Incident {
    /// The first thing that did not happen, as one line.
    pub summary: String,
    pub events: Vec<IncidentEvent>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    /// The subscription status the app reported (a check on `$.status`), if read.
    pub subscription_state: Option<String>,
    /// Expected vs observed access, from the first `access`-stage check on `$.access`.
    pub access: Option<AccessOutcome>,
    /// The deploy under test.
    pub deploy_sha: Option<String>,
    pub failures: Vec<Failure>,
    pub spine: Vec<Link>,
    /// The first link of the spine that broke.
    pub broke_at: Option<String>,
    pub retry: Retry,
    pub owner: Option<String>,
    pub runbook: Option<String>,
    pub rerun: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessOutcome {
    pub expected: String,
    pub observed: String,
    pub held: bool,
    /// Where the expected access came from ("policy for status past_due").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

impl AccessOutcome {
    /// "expected grace (policy for status past_due), observed full".
    pub fn text(&self) -> String {
        match &self.because {
            Some(b) => format!(
                "expected {} ({b}), observed {}",
                self.expected, self.observed
            ),
            None => format!("expected {}, observed {}", self.expected, self.observed),
        }
    }
}

/// What kind of promise a failure broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    Check,
    Stable,
    Unchanged,
    Delivery,
}

/// One thing that did not happen, already phrased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    pub kind: FailureKind,
    /// The step, for multi-step drills.
    pub step: Option<String>,
    pub stage: Option<Stage>,
    /// "did not happen: exactly one welcome email"
    pub what: String,
    /// "$.counts.welcome: expected 1, observed 4 after 31 polls over 10.0s"
    pub detail: Vec<String>,
}

impl Failure {
    /// The failure as text: the headline, then its details indented.
    pub fn text(&self) -> String {
        let mut s = match &self.step {
            Some(step) => format!("[{step}] {}", self.what),
            None => self.what.clone(),
        };
        for d in &self.detail {
            let _ = write!(s, "\n    {d}");
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    Held,
    Broke,
    NotChecked,
}

/// One link of the spine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    /// `signal`, `billing`, `entitlement`, `access`, `notification`.
    pub stage: String,
    pub state: LinkState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAdvice {
    /// Rows 3 and 4 of the decision table.
    Safe,
    /// Row 2.
    NotSafe,
    /// Row 5.
    Unknown,
    /// Row 1.
    NotApplicable,
}

/// Retry guidance: the advice, the table row, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Retry {
    pub advice: RetryAdvice,
    /// The row of the decision table (module doc, README) that applied.
    pub rule: u8,
    pub reason: String,
}

impl Retry {
    pub fn headline(&self) -> &'static str {
        match self.advice {
            RetryAdvice::Safe => "safe to redeliver",
            RetryAdvice::NotSafe => "NOT safe to redeliver: reconcile first",
            RetryAdvice::Unknown => "unknown whether redelivery is safe",
            RetryAdvice::NotApplicable => "not applicable (control drill)",
        }
    }
}

const STAGES: [(Stage, &str); 4] = [
    (Stage::Billing, "billing"),
    (Stage::Entitlement, "entitlement"),
    (Stage::Access, "access"),
    (Stage::Notification, "notification"),
];

/// The stage's name as written in drills.
pub fn stage_name(s: Stage) -> &'static str {
    STAGES
        .iter()
        .find(|(x, _)| *x == s)
        .map(|(_, n)| *n)
        .unwrap_or("?")
}

fn step_label(d: &DrillRecord, step: &StepRecord) -> Option<String> {
    (d.steps.len() > 1 || step.name != d.name).then(|| step.name.clone())
}

/// "after 31 polls over 1.2s".
pub fn polled(step: &StepRecord) -> String {
    let polls = step.polls;
    let word = if polls == 1 { "poll" } else { "polls" };
    match step.polled_ms {
        Some(ms) => format!(
            "after {polls} {word} over {}",
            human_duration(Duration::from_millis(ms))
        ),
        None => format!("after {polls} {word}"),
    }
}

/// The incident for a failed drill; `None` for any other verdict.
pub fn derive(d: &DrillRecord, deploy: Option<&DeployRecord>) -> Option<Incident> {
    if d.verdict != Verdict::Failed {
        return None;
    }
    let mut failures = Vec::new();
    let mut access: Option<AccessOutcome> = None;
    let mut subscription_state = None;
    for step in &d.steps {
        let label = step_label(d, step);
        for c in &step.checks {
            for a in &c.assertions {
                let observed = show(&a.observed).trim_matches('"').to_string();
                // The first failing access assertion wins; else the first one read.
                let replace = match &access {
                    None => true,
                    Some(x) => x.held && !a.held,
                };
                if c.stage == Some(Stage::Access) && a.path.ends_with("access") && replace {
                    access = Some(AccessOutcome {
                        expected: a.expected.trim_matches('"').to_string(),
                        observed: observed.clone(),
                        held: a.held,
                        because: a.because.clone(),
                    });
                }
                if (a.path == "$.status" || a.path.ends_with("subscription_status"))
                    && a.observed.is_some()
                {
                    subscription_state = Some(observed);
                }
            }
            if c.held {
                continue;
            }
            let mut detail = Vec::new();
            if let Some(err) = &c.error {
                detail.push(format!("{err} ({}) {}", c.probe, polled(step)));
            }
            for a in c.assertions.iter().filter(|a| !a.held) {
                detail.push(format!(
                    "{}: expected {}, observed {} {}",
                    a.path,
                    a.expected_text(),
                    show(&a.observed),
                    polled(step)
                ));
            }
            if d.control {
                detail.push(
                    "control drill: this check held although the outcome was broken on purpose"
                        .into(),
                );
            }
            failures.push(Failure {
                kind: FailureKind::Check,
                step: label.clone(),
                stage: c.stage,
                what: format!("did not happen: {}", c.name),
                detail,
            });
        }
        for v in step.stable.iter().filter(|v| !v.held) {
            let detail = vec![match &v.error {
                Some(e) => format!("{}: {e}", v.probe),
                None => format!(
                    "moved from {} to {} ({})",
                    show(&v.baseline),
                    show(&v.final_value),
                    v.probe
                ),
            }];
            failures.push(Failure {
                kind: FailureKind::Stable,
                step: label.clone(),
                stage: None,
                what: format!("not idempotent: {}", v.path),
                detail,
            });
        }
        for v in step.unchanged.iter().filter(|v| !v.held) {
            failures.push(Failure {
                kind: FailureKind::Unchanged,
                step: label.clone(),
                stage: None,
                what: format!("state changed: {}", v.path),
                detail: vec![format!(
                    "was {}, now {} ({})",
                    show(&v.baseline),
                    show(&v.final_value),
                    v.probe
                )],
            });
        }
        for m in step.missed_deliveries() {
            let (first, what) = (m.first, &m.what);
            let mut detail = vec![format!(
                "{} of {} {what}, expected {}",
                m.missed, m.of, first.expected_status
            )];
            if let Some(body) = &first.response_excerpt {
                detail.push(format!(
                    "response: {}",
                    body.lines().next().unwrap_or_default()
                ));
            }
            failures.push(Failure {
                kind: FailureKind::Delivery,
                step: label.clone(),
                stage: None,
                what: format!(
                    "delivery of `{}` (signature {}) was not answered as expected",
                    first.event, first.signature
                ),
                detail,
            });
        }
    }

    // The spine.
    let mut spine = Vec::new();
    let signal_broke = d.deliveries().any(|x| !x.ok);
    spine.push(Link {
        stage: "signal".into(),
        state: if d.deliveries().next().is_none() {
            LinkState::NotChecked
        } else if signal_broke {
            LinkState::Broke
        } else {
            LinkState::Held
        },
    });
    for (stage, name) in STAGES {
        let checks: Vec<_> = d
            .steps
            .iter()
            .flat_map(|s| &s.checks)
            .filter(|c| c.stage == Some(stage))
            .collect();
        let state = if checks.is_empty() {
            LinkState::NotChecked
        } else if checks.iter().any(|c| !c.held) {
            LinkState::Broke
        } else {
            LinkState::Held
        };
        spine.push(Link {
            stage: name.into(),
            state,
        });
    }
    let broke_at = spine
        .iter()
        .find(|l| l.state == LinkState::Broke)
        .map(|l| l.stage.clone());

    let retry = retry_guidance(d);
    let summary = failures
        .first()
        .map(|f| f.what.clone())
        .unwrap_or_else(|| "the drill failed".into());
    Some(Incident {
        summary,
        events: d
            .events
            .iter()
            .map(|e| IncidentEvent {
                id: e.id.clone(),
                event_type: e.event_type.clone(),
            })
            .collect(),
        customer: d.events.iter().find_map(|e| e.customer.clone()),
        subscription: d.events.iter().find_map(|e| e.subscription.clone()),
        subscription_state,
        access,
        deploy_sha: deploy.and_then(|x| x.sha.clone()),
        failures,
        spine,
        broke_at,
        retry,
        owner: d.owner.clone(),
        runbook: d.runbook.clone(),
        rerun: d.rerun.clone(),
    })
}

/// The decision table of the module doc, applied to a record.
pub fn retry_guidance(d: &DrillRecord) -> Retry {
    let values = || {
        d.steps
            .iter()
            .flat_map(|s| s.stable.iter().chain(&s.unchanged))
    };
    let stable: Vec<_> = d.steps.iter().flat_map(|s| &s.stable).collect();
    if d.control {
        return Retry {
            advice: RetryAdvice::NotApplicable,
            rule: 1,
            reason: "a control drill failed: its checks held on an outcome broken on purpose, so the checks need fixing, not the app".into(),
        };
    }
    if let Some(v) = values().find(|v| !v.held && v.error.is_none()) {
        return Retry {
            advice: RetryAdvice::NotSafe,
            rule: 2,
            reason: format!(
                "{} moved from {} to {}: a delivery already applied its effect again; reconcile the customer's state before any redelivery",
                v.path,
                show(&v.baseline),
                show(&v.final_value)
            ),
        };
    }
    let checked = !stable.is_empty() && stable.iter().all(|v| v.held && v.error.is_none());
    if !checked {
        return Retry {
            advice: RetryAdvice::Unknown,
            rule: 5,
            reason: if stable.is_empty() {
                "this drill checks no `stable` values, so luota cannot tell whether a redelivery applies the effect twice; read the customer's state by hand first, and add `stable:` to the drill".into()
            } else {
                "no delivery was accepted, so the `stable` values have no baseline; read the customer's state by hand before redelivering".into()
            },
        };
    }
    let unacknowledged = d
        .deliveries()
        .filter(|x| !x.ok && x.expected_status.contains("2xx"))
        .count();
    if unacknowledged == 0 {
        Retry {
            advice: RetryAdvice::Safe,
            rule: 3,
            reason: "every stable value held across the deliveries and the handler answered 2xx: a redelivery will not double the effect".into(),
        }
    } else {
        Retry {
            advice: RetryAdvice::Safe,
            rule: 4,
            reason: format!(
                "every stable value held, but {unacknowledged} deliveries were not acknowledged with 2xx, so Stripe will retry on its own; redeliver, then re-check the outcome"
            ),
        }
    }
}

/// The spine as one line: `signal ✓ → billing ✓ → access ✗ → notification ·`.
pub fn spine_line(i: &Incident) -> String {
    let links: Vec<String> = i
        .spine
        .iter()
        .map(|l| {
            let mark = match l.state {
                LinkState::Held => "✓",
                LinkState::Broke => "✗",
                LinkState::NotChecked => "·",
            };
            format!("{} {mark}", l.stage)
        })
        .collect();
    let mut s = links.join(" → ");
    if let Some(b) = &i.broke_at {
        let _ = write!(s, "  (broke at {b})");
    }
    s
}

/// The incident as plain text, one fact per line (terminal, JUnit failures).
pub fn text(i: &Incident) -> String {
    let mut out = String::new();
    for f in &i.failures {
        let _ = writeln!(out, "✗ {}", f.text());
    }
    for e in &i.events {
        let _ = writeln!(out, "event {} ({})", e.id, e.event_type);
    }
    let mut who = Vec::new();
    if let Some(c) = &i.customer {
        who.push(format!("customer {c}"));
    }
    if let Some(s) = &i.subscription {
        who.push(match &i.subscription_state {
            Some(st) => format!("subscription {s} ({st})"),
            None => format!("subscription {s}"),
        });
    }
    if !who.is_empty() {
        let _ = writeln!(out, "{}", who.join(" · "));
    }
    if let Some(a) = &i.access {
        let _ = writeln!(out, "access: {}", a.text());
    }
    let _ = writeln!(
        out,
        "deploy: {}",
        i.deploy_sha.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(out, "spine: {}", spine_line(i));
    let _ = writeln!(out, "retry: {} — {}", i.retry.headline(), i.retry.reason);
    if let Some(o) = &i.owner {
        let _ = writeln!(out, "owner: {o}");
    }
    if let Some(r) = &i.runbook {
        let _ = writeln!(out, "runbook: {r}");
    }
    let _ = writeln!(out, "rerun: {}", i.rerun);
    out
}
