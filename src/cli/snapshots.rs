//! Outcome snapshots from the command line: the `--snapshots` mode of
//! `luota run`, and `luota snapshots review|accept|reject`.
//!
//! After a run, each drill that reached a verdict is rendered as a snapshot
//! ([`crate::report::snapshot`]) and compared with the stored one:
//!
//! - unchanged: nothing to do (a stale pending file is removed);
//! - changed: the diff is printed, the new text is written as pending
//!   (`.snap.new`) and the run exits 4 (lowest precedence);
//! - missing: written as pending; exit 0 locally, 4 under `CI=true`.
//!
//! `--snapshots update` writes the snapshots instead; `--snapshots ignore`
//! skips them. With `--demo-fault` the default is `ignore`: a fault run is an
//! experiment, not the behaviour to keep.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::exit;
use crate::record::RunRecord;
use crate::report::{self, snapshot};

use super::ConfigArg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SnapshotMode {
    /// Compare with the stored snapshots; changes are pending and exit 4.
    Check,
    /// Write every snapshot as the new accepted one.
    Update,
    /// Neither compare nor write.
    Ignore,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SnapshotArgs {
    /// Outcome snapshots: check (default; ignore with --demo-fault), update, or ignore.
    #[arg(long, value_enum, value_name = "MODE")]
    pub snapshots: Option<SnapshotMode>,
}

/// True under `CI=true` (or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    report::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Compare (or update) the snapshots of a finished run; prints what changed
/// and returns the exit code it calls for.
pub fn after_run(mode: SnapshotMode, run: &RunRecord) -> i32 {
    if mode == SnapshotMode::Ignore {
        return exit::PASSED;
    }
    let mut changed = 0usize;
    let mut missing = 0usize;
    let mut written = 0usize;
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for d in run.drills.iter().filter(|d| snapshot::applies(d)) {
        let text = snapshot::render(d, &run.target);
        let path = snapshot::path_for(Path::new(&d.path), &run.target);
        let pending = snapshot::pending_for(&path);
        let stored = std::fs::read_to_string(&path).ok();
        let result = match (mode, &stored) {
            (SnapshotMode::Update, _) => {
                if stored.as_deref() != Some(text.as_str()) {
                    written += 1;
                }
                let _ = std::fs::remove_file(&pending);
                write_file(&path, &text)
            }
            (_, Some(old)) if *old == text => {
                let _ = std::fs::remove_file(&pending);
                Ok(())
            }
            (_, Some(old)) => {
                changed += 1;
                let _ = writeln!(
                    out,
                    "SNAPSHOT CHANGED  {}  ({})\n{}",
                    d.name,
                    path.display(),
                    snapshot::diff(old, &text)
                );
                write_file(&pending, &text)
            }
            (_, None) => {
                missing += 1;
                let _ = writeln!(
                    out,
                    "NEW SNAPSHOT  {}  (pending: {})",
                    d.name,
                    pending.display()
                );
                write_file(&pending, &text)
            }
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    if written > 0 {
        let _ = writeln!(out, "{} written", crate::report::count(written, "snapshot"));
    }
    if changed + missing > 0 {
        let _ = writeln!(
            out,
            "{} changed, {missing} new: review with `luota snapshots review` (or accept all: `luota snapshots accept`)",
            crate::report::count(changed, "snapshot")
        );
    }
    let mut codes = vec![];
    if changed > 0 || (missing > 0 && in_ci()) {
        if missing > 0 && in_ci() {
            let _ = writeln!(
                out,
                "CI=true: a missing snapshot is a failure; run the drills locally and commit the accepted snapshots"
            );
        }
        codes.push(exit::SNAPSHOTS_CHANGED);
    }
    if failed {
        codes.push(exit::NOT_CARRIED_OUT);
    }
    exit::combine(codes)
}

#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Step through pending snapshots, asking accept / reject / skip for each (reads stdin).
    Review(Where),
    /// Accept every pending snapshot.
    Accept(Where),
    /// Delete every pending snapshot.
    Reject(Where),
}

#[derive(Debug, clap::Args)]
pub struct Where {
    /// Drill files or folders to look in (default: the `drills` folder named in luota.yaml).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The pending snapshots `w` names: all under a folder, or only a drill
/// file's own (`__snapshots__/STEM.TARGET.snap.new` beside it).
fn pending_in(w: &Where) -> Result<Vec<PathBuf>, i32> {
    if w.paths.is_empty() {
        return crate::config::load(w.config.config.as_deref())
            .map(|(c, _)| snapshot::pending(&[c.drills]))
            .map_err(|d| {
                eprint!("{d}");
                exit::INVALID_INPUT
            });
    }
    let mut out = Vec::new();
    for p in &w.paths {
        if p.is_dir() {
            out.extend(snapshot::pending(std::slice::from_ref(p)));
        } else if p.is_file() {
            let dir = p
                .parent()
                .filter(|x| !x.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(snapshot::DIR);
            let stem = p
                .file_stem()
                .map(|s| format!("{}.", s.to_string_lossy()))
                .unwrap_or_default();
            out.extend(snapshot::pending(&[dir]).into_iter().filter(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&stem))
            }));
        } else {
            eprintln!("error: no such drill file or folder: {}", p.display());
            return Err(exit::INVALID_INPUT);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn accept(p: &Path) -> std::io::Result<()> {
    std::fs::rename(p, snapshot::accepted_for(p))
}

pub fn snapshots(args: SnapshotsArgs) -> i32 {
    let (w, action) = match &args.action {
        Action::Review(w) => (w, "review"),
        Action::Accept(w) => (w, "accept"),
        Action::Reject(w) => (w, "reject"),
    };
    let pending = match pending_in(w) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if pending.is_empty() {
        println!("no pending snapshots");
        return exit::PASSED;
    }
    let mut failed = false;
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    for (n, p) in pending.iter().enumerate() {
        let decision = match action {
            "accept" => 'a',
            "reject" => 'r',
            _ => {
                let new = std::fs::read_to_string(p).unwrap_or_default();
                let old = std::fs::read_to_string(snapshot::accepted_for(p)).ok();
                println!(
                    "\n[{}/{}] {}",
                    n + 1,
                    pending.len(),
                    snapshot::accepted_for(p).display()
                );
                match old {
                    Some(old) => print!("{}", snapshot::diff(&old, &new)),
                    None => {
                        println!("    (new snapshot)");
                        for l in new.lines() {
                            println!("    + {l}");
                        }
                    }
                }
                loop {
                    print!("accept (a), reject (r), skip (s)? ");
                    let _ = std::io::stdout().flush();
                    let mut line = String::new();
                    match input.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            println!();
                            break 's';
                        }
                        Ok(_) => {}
                    }
                    match line.trim().to_ascii_lowercase().as_str() {
                        "a" | "accept" | "y" | "yes" => break 'a',
                        "r" | "reject" | "n" | "no" => break 'r',
                        "s" | "skip" | "" => break 's',
                        other => println!("unknown answer `{other}`"),
                    }
                }
            }
        };
        let result = match decision {
            'a' => {
                accepted += 1;
                accept(p)
            }
            'r' => {
                rejected += 1;
                std::fs::remove_file(p)
            }
            _ => {
                skipped += 1;
                Ok(())
            }
        };
        if let Err(e) = result {
            eprintln!("error: {}: {e}", p.display());
            failed = true;
        }
    }
    println!("{accepted} accepted, {rejected} rejected, {skipped} skipped");
    if failed {
        exit::NOT_CARRIED_OUT
    } else {
        exit::PASSED
    }
}
