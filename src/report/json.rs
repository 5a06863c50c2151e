//! `--report-json`: the full run record, versioned by `schema_version`.

use crate::record::RunRecord;

/// The record as pretty JSON.
pub fn render(run: &RunRecord) -> String {
    let mut s =
        serde_json::to_string_pretty(run).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
