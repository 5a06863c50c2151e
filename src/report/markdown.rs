//! `--report-markdown FILE`: a compact summary table plus one block per
//! incident (and per errored or invalid drill), for `$GITHUB_STEP_SUMMARY`
//! and PR comments. When `GITHUB_STEP_SUMMARY` is set, `luota run` also
//! appends the same text to that file (appends, never replaces).

use std::fmt::Write;
use std::time::Duration;

use super::{human_duration, incident};
use crate::record::{RunRecord, Verdict};

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "✅",
        Verdict::Failed => "❌",
        Verdict::Errored => "⚠️",
        Verdict::Invalid => "🚫",
        Verdict::Interrupted => "⏹️",
    }
}

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Inline code, safe for text containing backticks.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// The Markdown report of a run.
pub fn render(run: &RunRecord) -> String {
    let mut out = String::new();
    let count = |v: Verdict| run.drills.iter().filter(|d| d.verdict == v).count();
    let _ = write!(
        out,
        "## luota: {} passed, {} failed, {} errored, {} invalid",
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::Errored),
        count(Verdict::Invalid)
    );
    if run.interrupted {
        let _ = write!(out, ", {} interrupted", count(Verdict::Interrupted));
    }
    let _ = writeln!(out, "\n");
    let mut about = format!("Target {}", code(&run.target));
    if let Some(d) = &run.deploy {
        let _ = write!(
            about,
            " · deploy {}",
            d.sha
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "unknown".into())
        );
    }
    if let Some(s) = &run.shard {
        let _ = write!(about, " · shard {s}");
    }
    let _ = write!(
        about,
        " · {} in {}",
        super::count(run.drills.len(), "drill"),
        human_duration(Duration::from_millis(run.duration_ms))
    );
    let _ = writeln!(out, "{about}\n");
    let _ = writeln!(out, "| verdict | drill | file | time |");
    let _ = writeln!(out, "|---|---|---|---|");
    for d in &run.drills {
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} |",
            icon(d.verdict),
            d.verdict.word(),
            cell(&d.name),
            code(&cell(&d.path)),
            human_duration(Duration::from_millis(d.duration_ms))
        );
    }
    for d in &run.drills {
        match d.verdict {
            Verdict::Failed => {
                let _ = writeln!(out, "\n### {} FAIL: {}\n", icon(d.verdict), d.name);
                let _ = writeln!(out, "{}\n", code(&d.path));
                let Some(i) = &d.incident else {
                    for e in &d.errors {
                        let _ = writeln!(out, "- {e}");
                    }
                    let _ = writeln!(out, "- **Rerun**: {}", code(&d.rerun));
                    continue;
                };
                let _ = writeln!(out, "**What did not happen**\n");
                for f in &i.failures {
                    let step = f
                        .step
                        .as_ref()
                        .map(|s| format!("[{s}] "))
                        .unwrap_or_default();
                    let stage = f
                        .stage
                        .map(|s| format!(" _({})_", incident::stage_name(s)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "- {step}{}{stage}", f.what);
                    for x in &f.detail {
                        let _ = writeln!(out, "  - {}", code(x));
                    }
                }
                let _ = writeln!(out);
                for e in &i.events {
                    let _ = writeln!(
                        out,
                        "- **Event**: {} ({})",
                        code(&e.id),
                        code(&e.event_type)
                    );
                }
                if let Some(c) = &i.customer {
                    let _ = writeln!(out, "- **Customer**: {}", code(c));
                }
                if let Some(s) = &i.subscription {
                    let state = i
                        .subscription_state
                        .as_ref()
                        .map(|st| format!(" (state {})", code(st)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "- **Subscription**: {}{state}", code(s));
                }
                if let Some(a) = &i.access {
                    let because = a
                        .because
                        .as_ref()
                        .map(|b| format!(" ({b})"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "- **Access**: expected {}{because}, observed {}",
                        code(&a.expected),
                        code(&a.observed)
                    );
                }
                let _ = writeln!(
                    out,
                    "- **Deploy**: {}",
                    i.deploy_sha
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "unknown".into())
                );
                let _ = writeln!(out, "- **Spine**: {}", incident::spine_line(i));
                let _ = writeln!(
                    out,
                    "- **Retry**: **{}** — {}",
                    i.retry.headline(),
                    i.retry.reason
                );
                if let Some(o) = &i.owner {
                    let _ = writeln!(out, "- **Owner**: {o}");
                }
                if let Some(r) = &i.runbook {
                    let _ = writeln!(out, "- **Runbook**: {r}");
                }
                let _ = writeln!(out, "- **Rerun**: {}", code(&i.rerun));
            }
            Verdict::Errored | Verdict::Invalid | Verdict::Interrupted => {
                let _ = writeln!(
                    out,
                    "\n### {} {}: {}\n",
                    icon(d.verdict),
                    d.verdict.word(),
                    d.name
                );
                let _ = writeln!(out, "{}\n", code(&d.path));
                for e in &d.errors {
                    let _ = writeln!(out, "- {}", cell(e));
                }
                if d.verdict == Verdict::Errored {
                    let _ = writeln!(out, "- **Rerun**: {}", code(&d.rerun));
                }
            }
            Verdict::Passed => {}
        }
    }
    idempotency(run, &mut out);
    out
}

/// The idempotency section: every `stable` value of every drill, first vs
/// final, so a reviewer sees what held as well as what moved.
fn idempotency(run: &RunRecord, out: &mut String) {
    let rows: Vec<_> = run
        .drills
        .iter()
        .flat_map(|d| {
            d.steps
                .iter()
                .flat_map(move |s| s.stable.iter().map(move |v| (d, s, v)))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Idempotency\n");
    let _ = writeln!(out, "| drill | value | first | final | |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let show = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| code(&v.to_string()))
            .unwrap_or_else(|| "–".into())
    };
    for (d, s, v) in rows {
        let step = if d.steps.len() > 1 {
            format!(" [{}]", s.name)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} |",
            cell(&d.name),
            cell(&step),
            code(&cell(&v.path)),
            show(&v.baseline),
            show(&v.final_value),
            if v.held { "✅ held" } else { "❌ moved" }
        );
    }
}

/// Append `text` to the file named by `$GITHUB_STEP_SUMMARY`, if set.
pub fn append_step_summary(text: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(true)
}
