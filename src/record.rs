//! The run record: the single source of truth for every report.
//!
//! Renderers read it and never recompute verdicts. Its JSON form is the
//! `--report-json` output; bump [`SCHEMA_VERSION`] on any incompatible change.

use serde::{Deserialize, Serialize};

use crate::drill::model::Stage;

/// Version of the JSON report schema.
pub const SCHEMA_VERSION: u32 = 1;

/// One `luota run`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    pub schema_version: u32,
    pub luota_version: String,
    pub target: String,
    /// Unix seconds when the run started.
    pub started_at: i64,
    pub duration_ms: u64,
    pub drills: Vec<DrillRecord>,
    /// Whether the run was interrupted before every drill finished.
    pub interrupted: bool,
    /// The deploy under test, read once at run start (see `deploy_sha` in luota.yaml).
    #[serde(default)]
    pub deploy: Option<DeployRecord>,
    /// `--shard K/N`, when this run is one slice of a suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
}

/// Which deploy of the target the run exercised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeployRecord {
    /// The deploy SHA (or version) as read.
    pub sha: Option<String>,
    /// Where it was read: `env NAME`, `GET URL $.path`, `embedded demo`.
    pub source: String,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// The verdict of one drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every promise held.
    Passed,
    /// An incident: the handler answered but the promised outcome did not happen.
    Failed,
    /// The drill could not be carried out (unreachable, setup failed, refused...).
    Errored,
    /// The drill file is invalid; nothing was sent.
    Invalid,
    /// Stopped by an interrupt.
    Interrupted,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Passed => "PASS",
            Verdict::Failed => "FAIL",
            Verdict::Errored => "ERROR",
            Verdict::Invalid => "INVALID",
            Verdict::Interrupted => "INTERRUPTED",
        }
    }
}

/// One drill's execution.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillRecord {
    /// The drill file, as given.
    pub path: String,
    /// The drill's name (the file name when it could not be loaded).
    pub name: String,
    pub owner: Option<String>,
    pub runbook: Option<String>,
    pub tags: Vec<String>,
    /// Unique per run; every id of the run derives from it.
    pub run_uid: String,
    pub verdict: Verdict,
    /// A control drill: passes only when its checks catch the broken outcome.
    pub control: bool,
    /// Why the drill errored or is invalid (one line per problem).
    pub errors: Vec<String>,
    pub events: Vec<EventRecord>,
    pub steps: Vec<StepRecord>,
    pub duration_ms: u64,
    /// The command that reruns this drill against this target.
    pub rerun: String,
    /// For a failed drill: what did not happen and what to do next
    /// (derived from this record by [`crate::report::incident::derive`]).
    #[serde(default)]
    pub incident: Option<crate::report::incident::Incident>,
    /// Every request sent and every read of the app's state, with its time;
    /// captured only with `--evidence` and written there, never to JSON.
    #[serde(skip)]
    pub evidence: Vec<crate::report::evidence::Entry>,
}

/// An event the drill rendered.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventRecord {
    pub name: String,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub api_version: String,
    pub created: i64,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

/// One step (a single-step drill has one, named after the drill).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    pub name: String,
    pub setup: Vec<CallRecord>,
    pub deliveries: Vec<DeliveryRecord>,
    pub checks: Vec<CheckRecord>,
    pub stable: Vec<ValueRecord>,
    pub unchanged: Vec<ValueRecord>,
    /// Milliseconds from the last delivery's response until every check first held.
    pub first_held_ms: Option<u64>,
    /// How many times the state was read.
    pub polls: u32,
    /// `together` groups: how tightly they were released.
    pub groups: Vec<GroupRecord>,
    /// Milliseconds the outcome checks were polled (last delivery's response → verdict).
    #[serde(default)]
    pub polled_ms: Option<u64>,
}

/// A `together` group's release.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupRecord {
    pub line: usize,
    pub requests: usize,
    /// Microseconds from the first to the last request handed to its socket.
    pub spread_us: u64,
}

/// A setup call.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallRecord {
    pub method: String,
    pub url: String,
    pub status: Option<u16>,
    pub ok: bool,
    pub error: Option<String>,
    pub latency_ms: f64,
}

/// What happened to one delivered request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryOutcome {
    /// The handler answered with a status.
    Answered,
    /// The handler did not answer within the client timeout (Stripe counts it failed).
    TimedOut,
    /// Connecting failed (refused, DNS...): the drill could not be carried out.
    ConnectFailed,
    /// The connection broke or the answer was not HTTP.
    Broken,
}

/// One delivered request.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveryRecord {
    /// Index of the plan line in its step.
    pub line: usize,
    /// Copy number within the line (0-based); member index in a mixed group.
    pub copy: u32,
    /// 0 for the first delivery, then 1, 2... for `redeliver` retries.
    pub attempt: u32,
    pub event: String,
    pub event_id: String,
    pub signature: String,
    pub body: String,
    pub together: bool,
    /// The signature timestamp used.
    pub timestamp: Option<i64>,
    pub bytes: usize,
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub expected_status: String,
    /// Whether the answer met the expectation.
    pub ok: bool,
    pub latency_ms: f64,
    /// For `together` groups: microseconds from the group's release until this request was handed to the socket.
    pub written_at_us: Option<u64>,
    pub error: Option<String>,
    /// The first bytes of the response body (capped).
    pub response_excerpt: Option<String>,
    /// The response body was longer than the cap (`deliver::RESPONSE_CAP`
    /// bytes); only that much was read, the rest was dropped unread.
    #[serde(default)]
    pub response_truncated: bool,
}

/// One outcome check's result.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckRecord {
    pub name: String,
    pub stage: Option<Stage>,
    /// `GET url`.
    pub probe: String,
    pub held: bool,
    pub assertions: Vec<AssertionRecord>,
    /// The last read's problem, if the probe itself failed (status, non-JSON...).
    pub error: Option<String>,
}

/// One JSONPath assertion of a check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssertionRecord {
    pub path: String,
    pub expected: String,
    /// Where `expected` came from when the drill did not write it ("policy for status past_due").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    pub observed: Option<serde_json::Value>,
    pub held: bool,
}

impl AssertionRecord {
    /// The expected value as reports show it: `"grace" (policy for status past_due)`.
    pub fn expected_text(&self) -> String {
        match &self.because {
            Some(b) => format!("{} ({b})", self.expected),
            None => self.expected.clone(),
        }
    }
}

/// A `stable` or `unchanged` value: baseline vs final.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ValueRecord {
    pub probe: String,
    pub path: String,
    pub baseline: Option<serde_json::Value>,
    #[serde(rename = "final")]
    pub final_value: Option<serde_json::Value>,
    pub held: bool,
    pub error: Option<String>,
}

/// The deliveries of one plan line that missed their expected status.
#[derive(Debug)]
pub struct MissedDeliveries<'a> {
    /// The first delivery that missed (its event, signature, response).
    pub first: &'a DeliveryRecord,
    /// How many of the line's deliveries missed.
    pub missed: usize,
    /// How many deliveries the line made.
    pub of: usize,
    /// What the first one got: `answered 500`, or its error.
    pub what: String,
}

impl StepRecord {
    /// The step's missed deliveries, grouped by the plan line that sent them.
    pub fn missed_deliveries(&self) -> Vec<MissedDeliveries<'_>> {
        let mut lines: Vec<usize> = self
            .deliveries
            .iter()
            .filter(|x| !x.ok)
            .map(|x| x.line)
            .collect();
        lines.dedup();
        lines
            .into_iter()
            .filter_map(|line| {
                let group = || self.deliveries.iter().filter(move |x| x.line == line);
                let first = group().find(|x| !x.ok)?;
                let what = match first.outcome {
                    DeliveryOutcome::Answered => format!(
                        "answered {}",
                        first.status.map(|s| s.to_string()).unwrap_or_default()
                    ),
                    _ => first.error.clone().unwrap_or_else(|| "failed".into()),
                };
                Some(MissedDeliveries {
                    first,
                    missed: group().filter(|x| !x.ok).count(),
                    of: group().count(),
                    what,
                })
            })
            .collect()
    }
}

impl DrillRecord {
    /// Every delivery of every step.
    pub fn deliveries(&self) -> impl Iterator<Item = &DeliveryRecord> {
        self.steps.iter().flat_map(|s| s.deliveries.iter())
    }
}
