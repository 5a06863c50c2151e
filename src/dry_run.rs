//! `luota run --dry-run`: render and sign everything, send nothing.
//!
//! Every drill is planned exactly as a real run plans it (templates, events,
//! setup calls, checks), passes the same safety rails, and every delivery is
//! signed with the target's secret — so a bad template, a refused host or a
//! missing secret shows up here. Nothing leaves the process: no webhook, no
//! setup call, no check. What would be sent is printed: method, URL (without
//! password or query), event id and type, signature mode and timestamp,
//! body encoding and size. Never a secret, a header value or a signature.

use std::fmt::Write as _;

use crate::exit;
use crate::plan::{PlanError, PlannedMember, Source};
use crate::runner::{new_uid, plan_drill, refuse_unsafe, Input, RunContext};
use crate::safety::redact_url;
use crate::stripe::body::{encode, BodyEncoding};
use crate::stripe::signature::SignatureMode;

fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Plan and sign every input; returns the text to print and the exit code
/// (0 when everything rendered and signed, 2 for invalid drills, 3 for a
/// refusal or a signing failure).
pub fn dry_run(cx: &RunContext, inputs: &[Input]) -> (String, i32) {
    let mut out = String::new();
    let mut codes = vec![exit::PASSED];
    let webhook = redact_url(&cx.target.webhook);
    let _ = writeln!(
        out,
        "dry run · target `{}` · {} · nothing is sent",
        cx.target.name,
        crate::report::count(inputs.len(), "drill file")
    );
    for input in inputs {
        let d = match input {
            Input::Invalid { path, problems } => {
                let _ = writeln!(out, "\nINVALID  {}", path.display());
                for p in problems {
                    let _ = writeln!(out, "      {}: {}", p.location(), p.message);
                }
                codes.push(exit::INVALID_INPUT);
                continue;
            }
            Input::Loaded(d) => d,
        };
        let _ = writeln!(out, "\nDRILL  {}  ({})", d.drill.drill, d.path.display());
        let plan = match plan_drill(cx, d, &new_uid()) {
            Ok(p) => p,
            Err(PlanError::Invalid(diag)) => {
                let _ = writeln!(out, "      invalid: {}: {}", diag.location(), diag.message);
                codes.push(exit::INVALID_INPUT);
                continue;
            }
            Err(PlanError::Refused(r)) => {
                let _ = writeln!(out, "      {r}");
                codes.push(exit::NOT_CARRIED_OUT);
                continue;
            }
        };
        if let Err(e) = refuse_unsafe(cx, &plan) {
            let _ = writeln!(out, "      {e}");
            codes.push(exit::NOT_CARRIED_OUT);
            continue;
        }
        for e in plan.events.values() {
            let _ = writeln!(
                out,
                "  event   {:<14} {}  {}  (api {})",
                e.name, e.id, e.event_type, e.api_version
            );
        }
        for c in &plan.setup {
            let _ = writeln!(out, "  setup   {}", c.label());
        }
        let mut sign = |event: &str, mode: SignatureMode, body: BodyEncoding| -> String {
            let ev = &plan.events[event];
            let bytes = encode(&ev.value, body);
            match cx.sender.prepare(&bytes, mode) {
                Ok(s) => format!(
                    "POST {webhook}  {} {}  signature {}{}  body {} ({} bytes)",
                    ev.id,
                    ev.event_type,
                    kebab(&mode),
                    s.timestamp.map(|t| format!(" (t={t})")).unwrap_or_default(),
                    kebab(&body),
                    s.body.len()
                ),
                Err(e) => {
                    codes.push(exit::NOT_CARRIED_OUT);
                    format!("cannot sign `{event}`: {e}")
                }
            }
        };
        let mut lines = Vec::new();
        for step in &plan.steps {
            lines.push(format!("  step    {}", step.name));
            for c in &step.setup {
                lines.push(format!("    setup {}", c.label()));
            }
            for d in &step.deliveries {
                let when = if d.after.is_zero() {
                    String::new()
                } else {
                    format!(" after {}", crate::report::human_duration(d.after))
                };
                if d.members.is_empty() {
                    let how = match (d.copies, d.together) {
                        (1, _) => String::new(),
                        (n, true) => format!(" ×{n} together"),
                        (n, false) => format!(" ×{n}"),
                    };
                    let text = sign(&d.event, d.signature, d.body);
                    lines.push(format!(
                        "    send  {text}  expect {}{how}{when}",
                        d.expect_status
                    ));
                } else {
                    lines.push(format!("    together{when}:"));
                    for m in &d.members {
                        lines.push(match m {
                            PlannedMember::Event {
                                event,
                                signature,
                                body,
                                expect_status,
                            } => format!(
                                "      send  {}  expect {expect_status}",
                                sign(event, *signature, *body)
                            ),
                            PlannedMember::Call(c) => format!("      call  {}", c.label()),
                        });
                    }
                }
            }
            let e = &step.expect;
            for c in &e.checks {
                lines.push(format!("    check {}  ({})", c.name, label(&c.source)));
            }
            for p in &e.stable {
                lines.push(format!("    stable {}", label(&p.source)));
            }
            for p in &e.unchanged {
                lines.push(format!("    unchanged {}", label(&p.source)));
            }
        }
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    let code = exit::combine(codes);
    let _ = writeln!(
        out,
        "\ndry run {}: nothing was sent",
        if code == exit::PASSED {
            "complete, every drill rendered and signed"
        } else {
            "found problems"
        }
    );
    (out, code)
}

/// A probe's label; command arguments are not shown (they may carry tokens).
fn label(s: &Source) -> String {
    match s {
        Source::Command { argv, .. } => {
            format!("command: {}", argv.first().cloned().unwrap_or_default())
        }
        other => other.label(),
    }
}
