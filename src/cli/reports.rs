//! Writing the report files `luota run` was asked for: JUnit, Markdown (and
//! `$GITHUB_STEP_SUMMARY`), evidence. Kept apart from `run.rs` so each format
//! is one call there.

use std::path::{Path, PathBuf};

use crate::exit;
use crate::record::RunRecord;
use crate::report::{self, evidence, junit, markdown};
use crate::runner::RunContext;

/// The report flags of `luota run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReportArgs {
    /// Write JUnit XML to FILE: one testcase per check, delivery expectation and stable/unchanged value.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a Markdown summary (table + incidents) to FILE. Also appended to $GITHUB_STEP_SUMMARY when set.
    #[arg(long, value_name = "FILE")]
    pub report_markdown: Option<PathBuf>,
    /// Keep the exact requests, responses and state reads of every drill run in DIR (secrets redacted).
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
}

fn write(path: &Path, what: &str, text: &str) -> i32 {
    match report::write_atomic(path, text.as_bytes()) {
        Ok(()) => exit::PASSED,
        Err(e) => {
            eprintln!("error: cannot write the {what} to {}: {e}", path.display());
            exit::NOT_CARRIED_OUT
        }
    }
}

/// Write every requested report; returns the exit code for write failures.
pub fn write_reports(args: &ReportArgs, run: &RunRecord, cx: Option<&RunContext>) -> i32 {
    let mut codes = Vec::new();
    if let Some(p) = &args.report_junit {
        codes.push(write(p, "JUnit report", &junit::render(run)));
    }
    let md = markdown::render(run);
    if let Some(p) = &args.report_markdown {
        codes.push(write(p, "Markdown report", &md));
    }
    match markdown::append_step_summary(&md) {
        Ok(_) => {}
        Err(e) => {
            eprintln!("error: cannot append to $GITHUB_STEP_SUMMARY: {e}");
            codes.push(exit::NOT_CARRIED_OUT);
        }
    }
    if let (Some(dir), Some(cx)) = (&args.evidence, cx) {
        let red = cx.redactions();
        for d in &run.drills {
            if d.evidence.is_empty() && d.run_uid.is_empty() {
                continue;
            }
            codes.push(write(
                &dir.join(evidence::file_name(d)),
                "evidence",
                &evidence::render(d, &red),
            ));
        }
    }
    exit::combine(codes)
}
