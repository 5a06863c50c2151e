//! Loading drill files: discovery, YAML parsing with locations, validation.

use std::path::{Path, PathBuf};

use super::diagnostic::{nearest, Diagnostic};
use super::model::Drill;
use super::span::SpanIndex;
use super::validate;

/// A drill file that parsed and validated, with what diagnostics need.
#[derive(Debug)]
pub struct LoadedDrill {
    pub path: PathBuf,
    pub source: String,
    pub drill: Drill,
    pub spans: SpanIndex,
}

impl LoadedDrill {
    /// A diagnostic at the value of `path` (a dotted drill path).
    pub fn at(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        at(&self.path, &self.source, &self.spans, path, message)
    }
}

pub(crate) fn at(
    file: &Path,
    source: &str,
    spans: &SpanIndex,
    path: &str,
    message: impl Into<String>,
) -> Diagnostic {
    let pos = spans
        .value(path)
        .unwrap_or(super::span::Pos { line: 1, col: 1 });
    Diagnostic::new(file, source, pos.line, pos.col, message)
}

/// Read and load one drill file.
pub fn load_file(path: &Path) -> Result<LoadedDrill, Vec<Diagnostic>> {
    match read_bounded(path, MAX_FILE_BYTES) {
        Ok(source) => load_str(path, source),
        Err(e) => Err(vec![Diagnostic::new(
            path,
            "",
            1,
            1,
            format!("cannot read drill file: {e}"),
        )
        .with_help("check the path and that the file is readable UTF-8 text")]),
    }
}

/// Load a drill from text; `path` is used for locations and relative files.
pub fn load_str(path: &Path, source: String) -> Result<LoadedDrill, Vec<Diagnostic>> {
    let drill: Drill = match serde_yaml::from_str(&source) {
        Ok(d) => d,
        Err(e) => return Err(vec![from_yaml_error(path, &source, &e)]),
    };
    let spans = SpanIndex::build(&source);
    let loaded = LoadedDrill {
        path: path.to_path_buf(),
        source,
        drill,
        spans,
    };
    let problems = validate::validate(&loaded);
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

/// Turn a serde_yaml error into a diagnostic, suggesting the nearest key for
/// an unknown one.
pub fn from_yaml_error(path: &Path, source: &str, e: &serde_yaml::Error) -> Diagnostic {
    let message = strip_location(&e.to_string());
    let reported = e.location().map(|l| (l.line(), l.column()));
    let deeper = precise(&SpanIndex::build(source), &message).map(|p| (p.line, p.col));
    // The named key, when serde_yaml's place is before it (an enclosing map).
    let (line, col) = match (reported, deeper) {
        (Some(r), Some(d)) if d > r => d,
        (Some(r), _) => r,
        (None, d) => d.unwrap_or((1, 1)),
    };
    let mut d = Diagnostic::new(
        path,
        source,
        line,
        col,
        message.replace("unknown field", "unknown key"),
    );
    if let Some(help) = unknown_key_help(&message) {
        d = d.with_help(help);
    }
    d
}

/// serde_yaml places an error raised inside a value (a bad `created:`, a
/// misspelled key in a `together` member) at the start of the enclosing map.
/// When the message names a deeper path — `deliver[0]: together[1]: unknown
/// field `sned``, or `events.e: `created: ...`` — point at that key instead.
fn precise(spans: &SpanIndex, message: &str) -> Option<super::span::Pos> {
    let is_path = |s: &str| {
        !s.is_empty()
            && !s.starts_with('[')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.[]".contains(c))
    };
    let mut path = String::new();
    let mut rest = message;
    while let Some((seg, r)) = rest.split_once(": ") {
        if !is_path(seg) {
            break;
        }
        path = if path.is_empty() {
            seg.to_string()
        } else {
            format!("{path}.{seg}")
        };
        rest = r;
    }
    if path.is_empty() {
        return None;
    }
    let named = rest
        .strip_prefix("unknown field `")
        .or_else(|| rest.strip_prefix('`'))
        .and_then(|r| r.split(['`', ':']).next())
        .filter(|k| is_path(k));
    named
        .and_then(|k| {
            spans
                .exact_key(&format!("{path}.{k}"))
                .or_else(|| spans.key_below(&path, k))
        })
        .or_else(|| spans.exact_key(&path))
}

/// serde_yaml puts " at line L column C" into its messages; the diagnostic
/// says where on its own line, so drop it wherever it appears.
fn strip_location(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n = digits(rest);
        let after = &rest[n..];
        let Some(col) = after.strip_prefix(" column ") else {
            break;
        };
        let m = digits(col);
        if n == 0 || m == 0 {
            break;
        }
        let end = i + " at line ".len() + n + " column ".len() + m;
        out.replace_range(i..end, "");
    }
    out
}

/// For "unknown field `withn`, expected one of `within`, ..." suggest the nearest key.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match nearest(word, candidates.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !candidates.is_empty() => {
            Some(format!("valid keys here: {}", candidates.join(", ")))
        }
        None => None,
    }
}

/// Expand files and folders into drill files (`.yaml`/`.yml`, recursively,
/// sorted, skipping `__snapshots__`).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    // Canonical paths seen: a folder symlinked into itself is walked once,
    // and a file reached twice (a symlink, or named twice) runs once.
    let mut dirs = std::collections::HashSet::new();
    let mut files = std::collections::HashSet::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, &mut dirs, &mut files)
                .map_err(|e| format!("cannot read folder {}: {e}", p.display()))?;
        } else if p.exists() {
            // A named file is taken as given (FIFOs and devices are refused when read).
            if files.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())) {
                out.push(p.clone());
            }
        } else {
            return Err(format!("no such drill file or folder: {}", p.display()));
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    dirs: &mut std::collections::HashSet<PathBuf>,
    files: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<()> {
    if !dirs.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Hidden files, snapshots, and the config itself (`luota validate .`).
        if name.starts_with('.')
            || name == "__snapshots__"
            || name == crate::config::CONFIG_FILE
            || name == "luota.yml"
        {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, dirs, files)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            if files.insert(std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone())) {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// Drill files, event files and luota.yaml are read up to this size.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Read a user file as UTF-8 text: only a regular file (a FIFO would block
/// forever, `/dev/zero` would never end), at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded_bytes(path, max)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// [`read_bounded`] for a file that need not be text (a `ca_file`).
pub fn read_bounded_bytes(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or socket is never read)",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB", max / (1024 * 1024)),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelled_key_points_at_it_and_suggests() {
        let src = "drill: x\nevents: {}\ndeliver: []\nexpect:\n  withn: 20s\n";
        let err = load_str(Path::new("d.yaml"), src.into()).unwrap_err();
        assert_eq!((err[0].line, err[0].col), (5, 3), "{err:?}");
        assert!(
            err[0].message.contains("unknown key `withn`"),
            "{}",
            err[0].message
        );
        assert_eq!(err[0].help.as_deref(), Some("did you mean `within`?"));
    }

    #[test]
    fn yaml_messages_do_not_repeat_the_location() {
        assert_eq!(
            strip_location(
                "did not find expected ',' at line 25 column 16, while parsing a flow mapping"
            ),
            "did not find expected ',', while parsing a flow mapping"
        );
        assert_eq!(
            strip_location("unknown field `x` at line 3 column 1"),
            "unknown field `x`"
        );
        assert_eq!(strip_location("no location here"), "no location here");
    }

    #[test]
    fn syntax_error_has_a_location() {
        let err = load_str(Path::new("d.yaml"), "drill: [x\n".into()).unwrap_err();
        assert!(err[0].line >= 1);
    }
}
