//! Reports: pure renderers of one [`crate::record::RunRecord`].
//!
//! Renderers never recompute verdicts; they only present the record.

pub mod evidence;
pub mod incident;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod snapshot;
pub mod terminal;

use std::time::Duration;

/// `1 drill`, `3 drills`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `850ms`, `1.4s`, `2m 5s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Write `bytes` to `path` atomically: a temp file beside it, then rename.
///
/// Why a report is never half-written, even under SIGKILL or a crash: the
/// bytes go to `.NAME.PID.tmp` in the *same directory* (so the rename never
/// crosses a file system), are flushed with `fsync`, and only then renamed
/// over `path`. `rename(2)` replaces the directory entry in one step: a
/// reader (CI parsing JUnit) sees the old file or the new one, never a mix.
/// A kill before the rename leaves the old report (or none) plus at most a
/// stray `.tmp` that no CI glob for `*.json`/`*.xml` matches; a kill after
/// it leaves the complete new report. The `fsync` makes the same hold after
/// a power loss. `$GITHUB_STEP_SUMMARY` is the one file appended to instead.
/// Tested in `tests/interrupt.rs`.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
