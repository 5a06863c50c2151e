//! Diagnostics for user files: `file:line:col`, the source line, a caret,
//! and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem in a drill or config file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// What to do ("did you mean `within`?").
    pub help: Option<String>,
    /// The offending source line, for the caret display.
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn new(
        file: &Path,
        source: &str,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Self {
        let line = line.max(1);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col: col.max(1),
            message: message.into(),
            help: None,
            source_line: source.lines().nth(line - 1).map(str::to_string),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        writeln!(f, "{pad}--> {}", self.location())?;
        if let Some(src) = &self.source_line {
            let caret_pad: String = src
                .chars()
                .take(self.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} |")?;
            writeln!(f, "{num} | {src}")?;
            writeln!(f, "{pad} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_source_and_caret() {
        let src = "expect:\n  withn: 20s\n";
        let d = Diagnostic::new(Path::new("drills/a.yaml"), src, 2, 3, "unknown key `withn`")
            .with_help("did you mean `within`?");
        let text = d.to_string();
        assert!(text.contains("--> drills/a.yaml:2:3"), "{text}");
        assert!(text.contains("2 |   withn: 20s"), "{text}");
        assert!(text.contains("  |   ^"), "{text}");
        assert!(text.contains("did you mean `within`?"), "{text}");
    }

    #[test]
    fn nearest_finds_typos_only() {
        assert_eq!(nearest("withn", ["within", "checks"]), Some("within"));
        assert_eq!(nearest("zzz", ["within", "checks"]), None);
    }
}
