//! The terminal report: one line per drill, detail for what went wrong.

use std::fmt::Write;
use std::time::Duration;

use super::human_duration;
use crate::record::{DrillRecord, RunRecord, Verdict};
use crate::runner::show;

/// The one-line summary of a drill (also used as progress while running).
pub fn drill_line(d: &DrillRecord) -> String {
    let time = if d.verdict == Verdict::Invalid {
        String::new()
    } else {
        format!("  {}", human_duration(Duration::from_millis(d.duration_ms)))
    };
    let control = if d.control && d.verdict == Verdict::Passed {
        "  [control: the checks caught the broken outcome]"
    } else {
        ""
    };
    format!(
        "{:<5} {}  ({}){}{control}",
        d.verdict.word(),
        d.name,
        d.path,
        time
    )
}

/// The detail block of a drill that did not pass; empty when it passed.
pub fn drill_detail(d: &DrillRecord) -> String {
    let mut out = String::new();
    if d.verdict == Verdict::Passed {
        return out;
    }
    for e in &d.errors {
        let _ = writeln!(out, "      {e}");
    }
    for step in &d.steps {
        let multi = d.steps.len() > 1 || step.name != d.name;
        let prefix = if multi {
            format!("[{}] ", step.name)
        } else {
            String::new()
        };
        for c in step.checks.iter().filter(|c| !c.held) {
            let _ = writeln!(out, "      ✗ {prefix}did not happen: {}", c.name);
            if let Some(err) = &c.error {
                let _ = writeln!(out, "          {err} ({})", c.probe);
            }
            for a in c.assertions.iter().filter(|a| !a.held) {
                let _ = writeln!(
                    out,
                    "          {}: expected {}, observed {} {}",
                    a.path,
                    a.expected_text(),
                    show(&a.observed),
                    super::incident::polled(step)
                );
            }
        }
        for v in step.stable.iter().filter(|v| !v.held) {
            match &v.error {
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "      ✗ {prefix}not idempotent? {} {}: {e}",
                        v.probe, v.path
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "      ✗ {prefix}not idempotent: {} moved from {} to {} ({})",
                        v.path,
                        show(&v.baseline),
                        show(&v.final_value),
                        v.probe
                    );
                }
            }
        }
        for v in step.unchanged.iter().filter(|v| !v.held) {
            let _ = writeln!(
                out,
                "      ✗ {prefix}state changed: {} was {}, now {} ({})",
                v.path,
                show(&v.baseline),
                show(&v.final_value),
                v.probe
            );
        }
        // Deliveries that missed their expectation, grouped by plan line.
        for m in step.missed_deliveries() {
            let (first, what) = (m.first, &m.what);
            let body = if first.body == "stripe" {
                String::new()
            } else {
                format!(", body {}", first.body)
            };
            let _ = writeln!(
                out,
                "      ✗ {prefix}delivery of `{}` (signature {}{body}): {} of {} {what}, expected {}",
                first.event,
                first.signature,
                m.missed,
                m.of,
                first.expected_status
            );
            if first.signature == "future" {
                let _ = writeln!(
                    out,
                    "          note: Stripe's official SDKs accept future timestamps; this delivery tests the app's own window"
                );
            }
            if let Some(body) = &first.response_excerpt {
                let _ = writeln!(
                    out,
                    "          response: {}{}",
                    body.lines().next().unwrap_or_default(),
                    if first.response_truncated {
                        " (body cut at the response cap)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if d.verdict == Verdict::Failed {
        for e in &d.events {
            let mut line = format!("      event {} ({})", e.id, e.event_type);
            if let Some(c) = &e.customer {
                let _ = write!(line, " · customer {c}");
            }
            if let Some(s) = &e.subscription {
                let _ = write!(line, " · subscription {s}");
            }
            let _ = writeln!(out, "{line}");
        }
        if let Some(i) = &d.incident {
            if let Some(st) = &i.subscription_state {
                let _ = writeln!(out, "      subscription state: {st}");
            }
            if let Some(a) = &i.access {
                let _ = writeln!(out, "      access: {}", a.text());
            }
            let _ = writeln!(
                out,
                "      deploy: {}",
                i.deploy_sha.as_deref().unwrap_or("unknown")
            );
            let _ = writeln!(out, "      spine: {}", super::incident::spine_line(i));
            let _ = writeln!(
                out,
                "      retry: {} — {}",
                i.retry.headline(),
                i.retry.reason
            );
        }
        if let Some(o) = &d.owner {
            let _ = writeln!(out, "      owner: {o}");
        }
        if let Some(r) = &d.runbook {
            let _ = writeln!(out, "      runbook: {r}");
        }
    }
    if matches!(d.verdict, Verdict::Failed | Verdict::Errored) {
        let _ = writeln!(out, "      rerun: {}", d.rerun);
    }
    out
}

/// The closing summary line.
pub fn summary(run: &RunRecord) -> String {
    let count = |v: Verdict| run.drills.iter().filter(|d| d.verdict == v).count();
    let mut s = format!(
        "{} against `{}`: {} passed, {} failed, {} errored, {} invalid",
        super::count(run.drills.len(), "drill"),
        run.target,
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::Errored),
        count(Verdict::Invalid)
    );
    if run.interrupted {
        let _ = write!(s, ", {} interrupted", count(Verdict::Interrupted));
    }
    let _ = write!(
        s,
        " in {}",
        human_duration(Duration::from_millis(run.duration_ms))
    );
    s
}

/// The whole report, as printed at the end of a run.
pub fn render(run: &RunRecord) -> String {
    let mut out = String::new();
    for d in &run.drills {
        let _ = writeln!(out, "{}", drill_line(d));
        out.push_str(&drill_detail(d));
    }
    let _ = writeln!(out, "\n{}", summary(run));
    out
}
