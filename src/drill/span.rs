//! Source locations for drill files.
//!
//! serde_yaml (the loader named in DESIGN.md) reports where syntax and type
//! errors are, but keeps no spans once a value is deserialized, so semantic
//! checks (an unknown event name in `send:`) would have no line to point at.
//! Rather than replace the loader, we index the same text a second time with
//! yaml-rust2's marked event parser: every value gets a dotted path
//! (`deliver[2].send`, `events.checkout.set`) mapped to its line and column.
//! The typed model stays plain serde; a semantic error names the path it is
//! about and this index turns it into `file:line:col`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Where each path of a YAML document starts (the value), and where its key is.
#[derive(Debug, Default)]
pub struct SpanIndex {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    index: SpanIndex,
    stack: Vec<Frame>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn pos(mark: Marker) -> Pos {
    Pos {
        line: mark.line(),
        col: mark.col() + 1,
    }
}

impl Builder {
    /// The path a value starting now has, advancing the parent frame.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => key.take().map(|k| join(path, &k)),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
        }
    }

    /// True when the next scalar in the innermost mapping is a key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) if self.expecting_key() => {
                if let Some(Frame::Map { path, key }) = self.stack.last_mut() {
                    self.index.keys.insert(join(path, &text), pos(mark));
                    *key = Some(text);
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                if let Some(p) = self.value_path() {
                    self.index.values.insert(p, pos(mark));
                }
            }
            Event::MappingStart(..) => {
                let p = self.value_path().unwrap_or_default();
                self.index.values.entry(p.clone()).or_insert(pos(mark));
                self.stack.push(Frame::Map { path: p, key: None });
            }
            Event::SequenceStart(..) => {
                let p = self.value_path().unwrap_or_default();
                self.index.values.entry(p.clone()).or_insert(pos(mark));
                self.stack.push(Frame::Seq { path: p, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl SpanIndex {
    /// Index `source`. A document yaml-rust2 cannot parse gives an empty
    /// index (serde_yaml reports the syntax error with its own location).
    pub fn build(source: &str) -> SpanIndex {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(source);
        let _ = parser.load(&mut b, false);
        b.index
    }

    /// Where the value at `path` starts; falls back to the nearest parent.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.values.get(&p) {
                return Some(*pos);
            }
            p = parent(&p)?;
        }
    }

    /// Where the key of exactly `path` is, if the document has that key.
    pub fn exact_key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied()
    }

    /// The first key called `name` anywhere below `path` (serde_yaml's
    /// paths stop at the last struct it named, e.g. `events.e` for a key
    /// inside `events.e.created`).
    pub fn key_below(&self, path: &str, name: &str) -> Option<Pos> {
        let prefix = format!("{path}.");
        let suffix = format!(".{name}");
        self.keys
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && k.ends_with(&suffix))
            .map(|(_, p)| *p)
            .min_by_key(|p| (p.line, p.col))
    }

    /// Where the key of `path` is (for "unknown key" style errors); falls back to the value.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

fn parent(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(path[..cut].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "drill: x\nevents:\n  checkout:\n    type: checkout.session.completed\ndeliver:\n  - send: checkout\n  - send: nope\n    after: 1s\n";

    #[test]
    fn values_and_keys_have_one_based_positions() {
        let ix = SpanIndex::build(SRC);
        assert_eq!(ix.value("drill"), Some(Pos { line: 1, col: 8 }));
        assert_eq!(ix.value("deliver[1].send"), Some(Pos { line: 7, col: 11 }));
        assert_eq!(ix.key("deliver[1].after"), Some(Pos { line: 8, col: 5 }));
        assert_eq!(
            ix.value("events.checkout.type"),
            Some(Pos { line: 4, col: 11 })
        );
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_parent() {
        let ix = SpanIndex::build(SRC);
        assert_eq!(
            ix.value("deliver[1].send.deeper"),
            ix.value("deliver[1].send")
        );
    }

    #[test]
    fn broken_yaml_gives_an_empty_index_not_a_panic() {
        let ix = SpanIndex::build("a: [\n  b: {");
        let _ = ix.value("a");
    }
}
