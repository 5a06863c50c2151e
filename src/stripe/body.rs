//! Body encodings: the exact bytes a delivery sends.
//!
//! # `hostile`
//!
//! Same meaning, different bytes: a handler that parses and re-serializes
//! the body before verifying the signature computes the HMAC over other
//! bytes and rejects a valid event. The layout is Stripe's (two-space
//! pretty print); the envelope keeps Stripe's key order (`id` first), and
//! the spelling of tokens changes:
//!
//! - the keys of every object inside `data.object` are written in reverse
//!   order — the same object, but an order that neither a sorting
//!   serializer nor a typed one (struct field order) reproduces;
//! - every non-ASCII character in a string is written as a `\uXXXX` escape
//!   (UTF-16 surrogate pairs outside the BMP), lowercase hex, e.g. `\u00e9`;
//! - the first ASCII letter of every string *value* is written as a
//!   `\u00XX` escape (`"\u0065vt_..."`), so even an all-ASCII event changes;
//! - every `/` in a string is written `\/`;
//! - numbers that already have a fraction or exponent (floats) get a
//!   trailing zero on the fraction: `1.5` → `1.50`, `1.0` → `1.00`,
//!   `2e-7` → `2.0e-7`;
//! - the body ends with a newline.
//!
//! Integers are deliberately **not** written as `1.0`: that would change the
//! value's type (serde_json, Go and Stripe's typed SDKs read `1.0` as a
//! float and reject it for an integer field such as `created`), so it would
//! no longer be the same event. The `1.0`-number effect therefore applies
//! only to numbers that are floats in the event (a drill can put one in via
//! `set:`). With that rule the bytes parse back to a `serde_json::Value`
//! equal to the input, with no exceptions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an event is serialised onto the wire (`body:` in a delivery).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEncoding {
    /// Two-space pretty print, as Stripe sends.
    #[default]
    Stripe,
    /// No whitespace.
    Compact,
    /// Valid JSON and validly signed, but parse-and-re-serialize changes the
    /// bytes (`\u00e9` escapes, `1.0` numbers, trailing newline...).
    Hostile,
}

/// Serialise `event` with `encoding`.
pub fn encode(event: &Value, encoding: BodyEncoding) -> Vec<u8> {
    match encoding {
        BodyEncoding::Stripe => {
            serde_json::to_vec_pretty(event).expect("a Value always serializes")
        }
        BodyEncoding::Compact => serde_json::to_vec(event).expect("a Value always serializes"),
        BodyEncoding::Hostile => {
            let mut event = event.clone();
            if let Some(obj) = event.pointer_mut("/data/object") {
                reverse_keys(obj);
            }
            let mut out = String::new();
            hostile_value(&event, 0, &mut out);
            out.push('\n');
            out.into_bytes()
        }
    }
}

/// Reverse the key order of every object in `v`, recursively.
fn reverse_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let taken = std::mem::take(map);
            let mut items: Vec<(String, Value)> = taken.into_iter().collect();
            items.reverse();
            for (k, mut item) in items {
                reverse_keys(&mut item);
                map.insert(k, item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(reverse_keys),
        _ => {}
    }
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn hostile_value(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) => out.push_str(&v.to_string()),
        Value::Number(n) => {
            let s = n.to_string();
            if n.is_f64() {
                out.push_str(&pad_float(&s));
            } else {
                out.push_str(&s);
            }
        }
        Value::String(s) => hostile_string(s, true, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(level + 1, out);
                hostile_value(item, level + 1, out);
            }
            out.push('\n');
            indent(level, out);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(level + 1, out);
                hostile_string(k, false, out);
                out.push_str(": ");
                hostile_value(item, level + 1, out);
            }
            out.push('\n');
            indent(level, out);
            out.push('}');
        }
    }
}

/// `1.5` → `1.50`, `1.0` → `1.00`, `2e-7` → `2.0e-7`, `1.5e300` → `1.50e300`.
fn pad_float(s: &str) -> String {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    if mantissa.contains('.') {
        format!("{mantissa}0{exp}")
    } else {
        format!("{mantissa}.0{exp}")
    }
}

fn hostile_string(s: &str, escape_first_letter: bool, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    let mut letter_pending = escape_first_letter;
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_ascii_alphabetic() && letter_pending => {
                letter_pending = false;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "id": "evt_1QabcDEF",
            "object": "event",
            "created": 1756300000,
            "data": {
                "object": {
                    "name": "Zoë Café ☕ 東京 𝄞",
                    "url": "https://example.test/a/b",
                    "quote": "say \"hi\"\\ \n\t\u{1}",
                    "amount": 2900,
                    "negative": -5,
                    "fee_percent": 1.5,
                    "ratio": 1.0,
                    "tiny": 2e-7,
                    "huge": 1.5e300,
                    "empty_obj": {},
                    "empty_arr": [],
                    "list": [1, "two", null, true, {"k": "v"}],
                    "": ""
                }
            },
            "livemode": false
        })
    }

    #[test]
    fn stripe_is_two_space_pretty() {
        let v = sample();
        let b = encode(&v, BodyEncoding::Stripe);
        assert_eq!(b, serde_json::to_vec_pretty(&v).unwrap());
        let s = String::from_utf8(b).unwrap();
        assert!(s.starts_with("{\n  \"id\": \"evt_1QabcDEF\",\n  \"object\""));
        assert!(!s.ends_with('\n'));
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn compact_has_no_whitespace() {
        let v = json!({"a": [1, {"b": "c d"}], "e": null});
        let b = encode(&v, BodyEncoding::Compact);
        assert_eq!(b, br#"{"a":[1,{"b":"c d"}],"e":null}"#);
        assert_eq!(serde_json::from_slice::<Value>(&b).unwrap(), v);
    }

    #[test]
    fn hostile_parses_back_equal_but_reserializing_changes_the_bytes() {
        for v in [
            sample(),
            json!({"id": "evt_1", "type": "invoice.paid"}),
            json!({}),
            json!([]),
            json!("x"),
        ] {
            let b = encode(&v, BodyEncoding::Hostile);
            let back: Value = serde_json::from_slice(&b).expect("hostile is valid JSON");
            assert_eq!(back, v);
            assert_ne!(serde_json::to_vec(&back).unwrap(), b);
            assert_ne!(serde_json::to_vec_pretty(&back).unwrap(), b);
            assert_ne!(encode(&back, BodyEncoding::Stripe), b);
        }
    }

    #[test]
    fn hostile_spells_tokens_as_documented() {
        let b = encode(&sample(), BodyEncoding::Hostile);
        let s = String::from_utf8(b).unwrap();
        assert!(s.is_ascii(), "every non-ASCII char escaped");
        assert!(s.ends_with("}\n"));
        // é, ë, ☕, and a surrogate pair for U+1D11E.
        assert!(s.contains("\\u00e9"));
        assert!(s.contains("\\u00eb"));
        assert!(s.contains("\\u2615"));
        assert!(s.contains("\\ud834\\udd1e"));
        assert!(s.contains("\"\\u0068ttps:\\/\\/example.test\\/a\\/b\""));
        assert!(s.contains("\"id\": \"\\u0065vt_1QabcDEF\""));
        assert!(s.contains("\"fee_percent\": 1.50"));
        assert!(s.contains("\"ratio\": 1.00"));
        assert!(s.contains("\"tiny\": 2.0e-7"));
        assert!(s.contains("\"amount\": 2900,"), "integers untouched");
        assert!(s.contains("\"created\": 1756300000,"));
        assert!(s.contains("\"empty_obj\": {}"));
        assert!(s.contains("\\u0001"));
        // data.object's keys in reverse order; the envelope's untouched.
        let at = |k: &str| s.find(&format!("\"{k}\":")).unwrap();
        assert!(at("fee_percent") > at("huge"), "data.object reversed");
        assert!(
            at("id") < at("object") && at("object") < at("created"),
            "envelope kept"
        );
        // Layout is Stripe's: same lines once the tokens are normalised.
        let lines = s.lines().count();
        assert_eq!(
            lines,
            String::from_utf8(encode(&sample(), BodyEncoding::Stripe))
                .unwrap()
                .lines()
                .count()
        );
    }

    #[test]
    fn encoding_names_are_kebab_case() {
        for (e, name) in [
            (BodyEncoding::Stripe, "\"stripe\""),
            (BodyEncoding::Compact, "\"compact\""),
            (BodyEncoding::Hostile, "\"hostile\""),
        ] {
            assert_eq!(serde_json::to_string(&e).unwrap(), name);
        }
        assert_eq!(BodyEncoding::default(), BodyEncoding::Stripe);
    }
}
