//! Outcome snapshots: a deterministic text form of one drill's outcome.
//!
//! The snapshot holds what the drill *did* and what the app *answered*:
//! the verdict, each delivery line with its statuses (copies and `together`
//! groups as counts per status), every check with its observed values, and the
//! `stable`/`unchanged` values. It leaves out what changes from run to run:
//! times, latencies, poll counts, ports and hosts (URLs keep only their path),
//! the run's `run_uid` (replaced by `[uid]`) and event ids (replaced by
//! `evt_[name]`).
//!
//! Stored beside the drill as `__snapshots__/<stem>.<target>.snap` (the drill
//! loader skips `__snapshots__`). A pending change is `<stem>.<target>.snap.new`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::record::{DeliveryOutcome, DeliveryRecord, DrillRecord, Verdict};

/// The folder snapshots live in, beside the drills.
pub const DIR: &str = "__snapshots__";
/// The extension of an accepted snapshot.
pub const EXT: &str = "snap";
/// The extension of a pending one.
pub const PENDING_EXT: &str = "snap.new";

/// Where the snapshot of `drill_path` against `target` is stored.
pub fn path_for(drill_path: &Path, target: &str) -> PathBuf {
    let stem = drill_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("drill");
    let dir = drill_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(DIR).join(format!("{stem}.{target}.{EXT}"))
}

/// The drill as the snapshot shows it: its file name. The snapshot sits in
/// `__snapshots__` beside the drill, so the folder says nothing more, and
/// leaving it out keeps the outcome the same from any working directory
/// (`luota run drills/x.yaml`, an absolute path, or `../drills/x.yaml` from
/// a subfolder).
fn stable_path(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The pending path beside an accepted snapshot path.
pub fn pending_for(snap: &Path) -> PathBuf {
    let mut s = snap.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// Whether a drill's outcome is snapshotted: it ran to a verdict about the
/// app (passed or failed). Errored, invalid and interrupted drills say
/// nothing about the app's behaviour.
pub fn applies(d: &DrillRecord) -> bool {
    matches!(d.verdict, Verdict::Passed | Verdict::Failed)
}

/// Replace the run-unique parts of `s`.
fn redact(s: &str, d: &DrillRecord) -> String {
    let mut out = s.to_string();
    for e in &d.events {
        if !e.id.is_empty() {
            out = out.replace(&e.id, &format!("evt_[{}]", e.name));
        }
    }
    for uid in d.run_uid.split(',').filter(|u| !u.is_empty()) {
        out = out.replace(uid, "[uid]");
    }
    strip_origins(&out)
}

/// `GET http://127.0.0.1:4242/x` → `GET /x`: hosts and ports differ per run and target.
fn strip_origins(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = ["http://", "https://"]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((i, plen)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + plen..];
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == ')' || c == '"')
            .unwrap_or(after.len());
        rest = &after[end..];
    }
}

fn status_word(x: &DeliveryRecord) -> String {
    match (x.outcome, x.status) {
        (DeliveryOutcome::Answered, Some(s)) => s.to_string(),
        (DeliveryOutcome::TimedOut, _) => "timed out".into(),
        (DeliveryOutcome::ConnectFailed, _) => "could not connect".into(),
        _ => "broken".into(),
    }
}

fn value(v: &Option<serde_json::Value>) -> String {
    crate::runner::show(v)
}

/// The snapshot text of a drill's outcome against `target`.
pub fn render(d: &DrillRecord, target: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "drill: {}", d.name);
    let _ = writeln!(out, "path: {}", stable_path(&d.path));
    let _ = writeln!(out, "target: {target}");
    let _ = writeln!(
        out,
        "verdict: {}{}",
        d.verdict.word(),
        if d.control { " (control drill)" } else { "" }
    );
    let mut events: Vec<_> = d.events.iter().collect();
    events.sort_by(|a, b| a.name.cmp(&b.name));
    events.dedup_by(|a, b| a.name == b.name);
    if !events.is_empty() {
        let _ = writeln!(out, "events:");
        for e in events {
            let _ = writeln!(
                out,
                "  {}: {} (api {})",
                e.name, e.event_type, e.api_version
            );
        }
    }
    for step in &d.steps {
        let _ = writeln!(out, "step: {}", step.name);
        for c in &step.setup {
            let _ = writeln!(
                out,
                "  setup {} {} -> {}",
                c.method,
                c.url,
                c.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into())
            );
        }
        // Deliveries: one line per plan line (and attempt), counts per status.
        let mut lines: BTreeMap<(usize, u32), Vec<&DeliveryRecord>> = BTreeMap::new();
        for x in &step.deliveries {
            lines.entry((x.line, x.attempt)).or_default().push(x);
        }
        for ((line, attempt), group) in &lines {
            let mut by_member: BTreeMap<(String, String, String, bool), BTreeMap<String, usize>> =
                BTreeMap::new();
            for x in group {
                *by_member
                    .entry((
                        x.event.clone(),
                        x.signature.clone(),
                        x.expected_status.clone(),
                        x.ok,
                    ))
                    .or_default()
                    .entry(status_word(x))
                    .or_default() += 1;
            }
            let together = if group[0].together { " together" } else { "" };
            let retry = if *attempt > 0 {
                format!(" retry {attempt}")
            } else {
                String::new()
            };
            for ((event, sig, expect, ok), counts) in by_member {
                let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n}× {s}")).collect();
                let _ = writeln!(
                    out,
                    "  deliver line {}{together}{retry}: `{event}` signature {sig}, expects {expect}: {} {}",
                    line + 1,
                    counts.join(", "),
                    if ok { "ok" } else { "MISSED" }
                );
            }
        }
        for c in &step.checks {
            let stage = c
                .stage
                .map(|s| format!(" [{}]", super::incident::stage_name(s)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  check {} {}{stage}",
                if c.held { "held" } else { "FAILED" },
                c.name
            );
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    probe error: {e}");
            }
            for a in &c.assertions {
                let _ = writeln!(
                    out,
                    "    {}: expected {}, observed {}",
                    a.path,
                    a.expected_text(),
                    value(&a.observed)
                );
            }
        }
        for (kind, values) in [("stable", &step.stable), ("unchanged", &step.unchanged)] {
            for v in values {
                let _ = writeln!(
                    out,
                    "  {kind} {} {} ({}): {} -> {}{}",
                    if v.held { "held" } else { "MOVED" },
                    v.path,
                    v.probe,
                    value(&v.baseline),
                    value(&v.final_value),
                    v.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    for e in &d.errors {
        let _ = writeln!(out, "error: {e}");
    }
    redact(&out, d)
}

/// A unified diff from `old` to `new`, for the terminal.
pub fn diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        let _ = write!(out, "    {sign} {}", change);
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out
}

/// Every pending snapshot (`*.snap.new`) under `roots`, sorted.
pub fn pending(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    fn walk(p: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(p) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(&format!(".{PENDING_EXT}")))
                && path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == DIR)
            {
                found.push(path);
            }
        }
    }
    for r in roots {
        walk(r, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

/// The accepted path for a pending one.
pub fn accepted_for(pending: &Path) -> PathBuf {
    let s = pending.to_string_lossy();
    PathBuf::from(s.strip_suffix(".new").unwrap_or(&s).to_string())
}
