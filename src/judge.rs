//! Judging: when state is read, and what it means.
//!
//! Polling alone is not enough — a count of emails reads 1 the moment the
//! first copy lands, before the duplicate's effect. So checks pass only when
//! they all hold and *keep holding* for the settle window; `stable` and
//! `unchanged` compare values against baselines taken at the moments
//! DESIGN.md ("When state is read") names.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::check::{evaluate, extract, json_eq, Prober};
use crate::plan::{PlannedCheck, PlannedProbe, Source};
use crate::record::{CheckRecord, ValueRecord};

/// Polling intervals: start short, back off to a cap.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub max: Duration,
}

/// The result of waiting for a step's checks.
#[derive(Debug, Clone)]
pub struct Awaited {
    /// The last evaluation of every check.
    pub checks: Vec<CheckRecord>,
    /// All checks held and kept holding for the settle window.
    pub held: bool,
    /// When every check first held, measured from `since`.
    pub first_held: Option<Duration>,
    pub polls: u32,
}

/// Poll `checks` until they all hold and keep holding for `settle`, or until
/// `within` passes without them holding. Time counts from `since` (the last
/// delivery's response).
pub async fn await_checks(
    prober: &Prober,
    checks: &[PlannedCheck],
    since: Instant,
    within: Duration,
    settle: Duration,
    polling: Polling,
) -> Awaited {
    if checks.is_empty() {
        tokio::time::sleep_until((since + settle).into()).await;
        return Awaited {
            checks: Vec::new(),
            held: true,
            first_held: Some(Duration::ZERO),
            polls: 0,
        };
    }
    let deadline = since + within;
    let mut interval = polling.first;
    let mut hold_start: Option<Instant> = None;
    let mut first_held = None;
    let mut polls = 0;
    loop {
        let read_at = Instant::now();
        let mut records = Vec::with_capacity(checks.len());
        for c in checks {
            records.push(evaluate(c, &prober.read(&c.source).await));
        }
        polls += 1;
        let all = records.iter().all(|r| r.held);
        if all {
            let start = *hold_start.get_or_insert(read_at);
            first_held.get_or_insert(read_at.saturating_duration_since(since));
            if read_at.saturating_duration_since(start) >= settle {
                return Awaited {
                    checks: records,
                    held: true,
                    first_held,
                    polls,
                };
            }
        } else {
            hold_start = None;
            if read_at >= deadline {
                return Awaited {
                    checks: records,
                    held: false,
                    first_held,
                    polls,
                };
            }
        }
        // While holding, the settle window may run past `within`; otherwise stop at the deadline.
        let next = match hold_start {
            Some(start) => (start + settle).min(Instant::now() + interval),
            None => deadline.min(Instant::now() + interval),
        };
        tokio::time::sleep_until(next.into()).await;
        interval = (interval * 3 / 2).min(polling.max);
    }
}

/// Read every value of `probes`: one entry per (probe, path).
pub async fn read_values(
    prober: &Prober,
    probes: &[PlannedProbe],
) -> Vec<(String, String, Result<Option<Value>, String>)> {
    let mut out = Vec::new();
    for p in probes {
        let read = prober.read(&p.source).await;
        let ok_status = |s: i64| match p.source {
            Source::Http(_) => (200..300).contains(&s),
            Source::Command { .. } => s == 0,
            Source::Sql { .. } => true,
        };
        for (path, q) in &p.paths {
            let v = match &read {
                Ok((s, body)) if ok_status(*s) => Ok(extract(q, body)),
                Ok((s, _)) => Err(format!("the probe answered {s}")),
                Err(e) => Err(e.clone()),
            };
            out.push((p.source.label(), path.clone(), v));
        }
    }
    out
}

/// Wait until the probe values stop changing for `settle` (bounded by
/// `within`), and return them: the `stable` baseline when a step has no checks.
pub async fn await_steady(
    prober: &Prober,
    probes: &[PlannedProbe],
    settle: Duration,
    within: Duration,
    polling: Polling,
) -> Vec<(String, String, Result<Option<Value>, String>)> {
    let deadline = Instant::now() + within;
    let mut last = read_values(prober, probes).await;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(polling.max.min(settle)).await;
        let now_vals = read_values(prober, probes).await;
        let same = now_vals.len() == last.len()
            && now_vals
                .iter()
                .zip(&last)
                .all(|(a, b)| same_read(&a.2, &b.2));
        if !same {
            since = Instant::now();
            last = now_vals;
        } else if since.elapsed() >= settle || Instant::now() >= deadline {
            return last;
        }
        if Instant::now() >= deadline {
            return last;
        }
    }
}

fn same_read(a: &Result<Option<Value>, String>, b: &Result<Option<Value>, String>) -> bool {
    match (a, b) {
        (Ok(Some(x)), Ok(Some(y))) => json_eq(x, y),
        (Ok(None), Ok(None)) => true,
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

/// Compare final values with their baselines.
pub fn compare(
    baseline: &[(String, String, Result<Option<Value>, String>)],
    finals: &[(String, String, Result<Option<Value>, String>)],
) -> Vec<ValueRecord> {
    baseline
        .iter()
        .zip(finals)
        .map(|((probe, path, b), (_, _, f))| {
            let error = b.as_ref().err().or(f.as_ref().err()).cloned();
            ValueRecord {
                probe: probe.clone(),
                path: path.clone(),
                baseline: b.clone().ok().flatten(),
                final_value: f.clone().ok().flatten(),
                held: error.is_none() && same_read(b, f),
                error,
            }
        })
        .collect()
}
