//! `luota schema [drill|config|report]`: JSON Schema for drill files and
//! `luota.yaml`, generated (schemars) from the same serde types the loader
//! deserializes, so the schema cannot drift from what `luota validate`
//! accepts; and for the JSON run record, from the types the report writes.
//!
//! Types whose serde form is hand-written (durations, status patterns, JSON
//! matchers) get hand-written schemas here that accept exactly the forms
//! their `Deserialize` accepts. The committed copies in `schema/` are what
//! the shipped drills' `yaml-language-server` modelines point at; a test
//! keeps them equal to this command's output.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::drill::model::{Matcher, StatusPattern};
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which file's schema to print.
    #[arg(value_enum, default_value = "drill")]
    pub kind: SchemaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// A drill file (drills/*.yaml).
    Drill,
    /// The config file (luota.yaml).
    Config,
    /// The run record `--report-json` writes (its `schema_version` is the version of this schema).
    Report,
}

/// The schema for `kind`, as pretty JSON with a trailing newline.
pub fn schema_json(kind: SchemaKind) -> String {
    let mut schema = match kind {
        SchemaKind::Drill => schemars::schema_for!(crate::drill::model::Drill),
        SchemaKind::Config => schemars::schema_for!(crate::config::Config),
        SchemaKind::Report => schemars::schema_for!(crate::record::RunRecord),
    };
    let title = match kind {
        SchemaKind::Drill => "Luota drill file",
        SchemaKind::Config => "Luota config (luota.yaml)",
        SchemaKind::Report => "Luota run record (--report-json), schema_version 1",
    };
    // No `$id`: luota has no published schema URL; the files are used by path.
    schema.insert("title".into(), title.into());
    let mut value = schema.to_value();
    duration_defaults_as_text(&mut value);
    let mut text = serde_json::to_string_pretty(&value).expect("a schema serializes");
    text.push('\n');
    text
}

/// schemars computes a field's `default` by serializing the Rust default,
/// and a `Duration` serializes as `{secs, nanos}`; write it as drills do.
fn duration_defaults_as_text(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(d) = map.get_mut("default") {
                if let Some(text) = duration_text(d) {
                    *d = Value::String(text);
                }
            }
            map.values_mut().for_each(duration_defaults_as_text);
        }
        Value::Array(items) => items.iter_mut().for_each(duration_defaults_as_text),
        _ => {}
    }
}

fn duration_text(v: &serde_json::Value) -> Option<String> {
    let m = v.as_object()?;
    if m.len() != 2 {
        return None;
    }
    let secs = m.get("secs")?.as_u64()?;
    let nanos = m.get("nanos")?.as_u64()?;
    let ms = secs * 1000 + nanos / 1_000_000;
    Some(if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

pub fn schema(args: SchemaArgs) -> i32 {
    print!("{}", schema_json(args.kind));
    exit::PASSED
}

/// A duration as drills write it: `500ms`, `20s`, `1.5s`, `2m`, or a bare number of milliseconds.
pub struct DurationSchema;

impl JsonSchema for DurationSchema {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `500ms`, `20s`, `1.5s`, `2m`; a bare number is milliseconds.",
            "anyOf": [
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]*(\\s*[0-9]+\\s*[a-zµ]+)*\\s*$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

/// A duration written as text only (luota.yaml `defaults`).
pub struct DurationTextSchema;

impl JsonSchema for DurationTextSchema {
    fn schema_name() -> Cow<'static, str> {
        "DurationText".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `500ms`, `10s`, `1.5s`, `2m`.",
            "type": "string",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]*(\\s*[0-9]+\\s*[a-zµ]+)*\\s*$"
        })
    }
}

impl JsonSchema for StatusPattern {
    fn schema_name() -> Cow<'static, str> {
        "StatusPattern".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An HTTP status (`200`), a class (`\"4xx\"`), or `\"timeout\"` (no answer within the client timeout).",
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": "^\\s*([1-5][xX][xX]|[1-5][0-9][0-9]|[tT][iI][mM][eE][oO][uU][tT])\\s*$"}
            ]
        })
    }
}

impl JsonSchema for Matcher {
    fn schema_name() -> Cow<'static, str> {
        "Matcher".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let comparison = generator.subschema_for::<crate::drill::model::Comparison>();
        let policy = generator.subschema_for::<crate::drill::model::PolicyRef>();
        json_schema!({
            "description": "The expected value (compared for equality), one comparison: `{gte: 1}`, `{ne: x}`, `{in: [a, b]}`, `{exists: true}`, `{contains: x}`, or the access policy's answer: `{policy: access, status: past_due}`, `{policy: limits.credits, plan: pro}`, `{policy: access, event: NAME}`.",
            "anyOf": [comparison, policy, true]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_are_objects_that_deny_unknown_keys() {
        for kind in [SchemaKind::Drill, SchemaKind::Config] {
            let v: serde_json::Value = serde_json::from_str(&schema_json(kind)).unwrap();
            assert_eq!(v["type"], "object");
            assert_eq!(v["additionalProperties"], false, "{kind:?}");
        }
    }
}
