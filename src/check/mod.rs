//! Reading the app's state — HTTP, SQL and command probes — and evaluating
//! assertions on what was read.
//!
//! A probe reads once; polling, settling and baselines are the judge's job.

pub mod command;
pub mod sql;

use std::time::Duration;

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::drill::model::{Comparison, Matcher};
use crate::plan::{HttpRequest, PlannedCheck, Selector, Source};
use crate::record::{AssertionRecord, CheckRecord};
use crate::target::Secret;
use sql::SqlReader;

/// What one read of a probe returned: a status (HTTP status, exit status,
/// 0 for SQL) and the document.
pub type Read = Result<(i64, Value), String>;

/// Reads state from the target: its app over HTTP, its database, commands.
pub struct Prober {
    client: reqwest::Client,
    timeout: Duration,
    database: Option<Secret>,
    sql: SqlReader,
}

impl Prober {
    pub fn new(client: reqwest::Client, timeout: Duration, database: Option<Secret>) -> Prober {
        Prober {
            client,
            timeout,
            database,
            sql: SqlReader::default(),
        }
    }

    /// Read one source.
    pub async fn read(&self, source: &Source) -> Read {
        let (at_ms, start) = (crate::report::evidence::now_ms(), std::time::Instant::now());
        let (method, body, read) = match source {
            Source::Http(req) => return self.call(req).await,
            Source::Sql { query, params } => {
                let read = self
                    .sql
                    .query(self.database.as_ref(), query, params)
                    .await
                    .map(|rows| (0, rows));
                ("SQL", serde_json::to_vec(params).unwrap_or_default(), read)
            }
            Source::Command { argv, timeout } => {
                ("COMMAND", Vec::new(), command::run(argv, *timeout).await)
            }
        };
        // SQL and command reads are observations too: keep them in the evidence.
        crate::report::evidence::record(|| crate::report::evidence::Entry {
            at_ms,
            kind: crate::report::evidence::EntryKind::Read,
            method: method.into(),
            url: source.label(),
            headers: Vec::new(),
            body,
            status: read.as_ref().ok().map(|(s, _)| *s as u16),
            response: read.as_ref().ok().map(|(_, v)| v.to_string().into_bytes()),
            error: read.as_ref().err().cloned(),
            elapsed: start.elapsed(),
        });
        read
    }

    /// One HTTP call; the body parsed as JSON (`null` when empty).
    pub async fn call(&self, req: &HttpRequest) -> Read {
        if !crate::report::evidence::capturing() {
            return self.call_inner(req).await;
        }
        let at_ms = crate::report::evidence::now_ms();
        let start = std::time::Instant::now();
        let read = self.call_inner(req).await;
        crate::report::evidence::record(|| {
            let mut headers = req.headers.clone();
            if req.json.is_some() {
                headers.push(("content-type".into(), "application/json".into()));
            }
            let (status, response, error) = match &read {
                Ok((s, v)) => (Some(*s as u16), Some(v.to_string().into_bytes()), None),
                Err(e) => (None, None, Some(e.clone())),
            };
            crate::report::evidence::Entry {
                at_ms,
                kind: crate::report::evidence::EntryKind::Read,
                method: req.method.clone(),
                url: req.url.clone(),
                headers,
                body: req
                    .json
                    .as_ref()
                    .map(|j| serde_json::to_vec(j).unwrap_or_default())
                    .unwrap_or_default(),
                status,
                response,
                error,
                elapsed: start.elapsed(),
            }
        });
        read
    }

    async fn call_inner(&self, req: &HttpRequest) -> Read {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| format!("bad method {}", req.method))?;
        let mut rb = self.client.request(method, &req.url).timeout(self.timeout);
        for (k, v) in &req.headers {
            rb = rb.header(k, v);
        }
        if let Some(j) = &req.json {
            rb = rb.json(j);
        }
        let resp = rb.send().await.map_err(|e| {
            let (_, msg) = crate::deliver::classify(&e, self.timeout);
            msg
        })?;
        let status = i64::from(resp.status().as_u16());
        let body = crate::deliver::read_capped(resp, self.timeout).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok((status, Value::Null));
        }
        match serde_json::from_slice(&body) {
            Ok(v) => Ok((status, v)),
            Err(_) => Ok((
                status,
                Value::String(String::from_utf8_lossy(&body).chars().take(200).collect()),
            )),
        }
    }
}

/// The value at `query`: the single match, an array of several, or `None`.
pub fn extract(query: &JsonPath, v: &Value) -> Option<Value> {
    let nodes = query.query(v).all();
    match nodes.len() {
        0 => None,
        1 => Some(nodes[0].clone()),
        _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether `observed` satisfies `m`.
pub fn matches(m: &Matcher, observed: Option<&Value>) -> bool {
    let cmp =
        |f: fn(f64, f64) -> bool, want: f64| observed.and_then(num).is_some_and(|x| f(x, want));
    match m {
        Matcher::Equals(want) | Matcher::Compare(Comparison::Eq(want)) => {
            observed.is_some_and(|o| json_eq(o, want))
        }
        Matcher::Compare(Comparison::Ne(want)) => !observed.is_some_and(|o| json_eq(o, want)),
        Matcher::Compare(Comparison::Gt(w)) => cmp(|x, w| x > w, *w),
        Matcher::Compare(Comparison::Gte(w)) => cmp(|x, w| x >= w, *w),
        Matcher::Compare(Comparison::Lt(w)) => cmp(|x, w| x < w, *w),
        Matcher::Compare(Comparison::Lte(w)) => cmp(|x, w| x <= w, *w),
        Matcher::Compare(Comparison::Exists(want)) => {
            observed.is_some_and(|o| !o.is_null()) == *want
        }
        Matcher::Compare(Comparison::In(options)) => {
            observed.is_some_and(|o| options.iter().any(|w| json_eq(o, w)))
        }
        Matcher::Compare(Comparison::Contains(want)) => match observed {
            Some(Value::Array(items)) => items.iter().any(|i| json_eq(i, want)),
            Some(Value::String(s)) => want.as_str().is_some_and(|w| s.contains(w)),
            _ => false,
        },
        // Resolved into `Equals` when the drill is planned; never reached unresolved.
        Matcher::Policy(_) => false,
    }
}

/// How a matcher reads in a sentence ("pro", "≥ 1", "present").
pub fn describe(m: &Matcher) -> String {
    let show = |v: &Value| v.to_string();
    match m {
        Matcher::Equals(v) | Matcher::Compare(Comparison::Eq(v)) => show(v),
        Matcher::Compare(Comparison::Ne(v)) => format!("not {}", show(v)),
        Matcher::Compare(Comparison::Gt(w)) => format!("> {w}"),
        Matcher::Compare(Comparison::Gte(w)) => format!(">= {w}"),
        Matcher::Compare(Comparison::Lt(w)) => format!("< {w}"),
        Matcher::Compare(Comparison::Lte(w)) => format!("<= {w}"),
        Matcher::Compare(Comparison::Exists(true)) => "present".into(),
        Matcher::Compare(Comparison::Exists(false)) => "absent".into(),
        Matcher::Compare(Comparison::In(vs)) => format!(
            "one of {}",
            vs.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Matcher::Compare(Comparison::Contains(v)) => format!("containing {}", show(v)),
        Matcher::Policy(p) => format!("the policy's {}", p.policy),
    }
}

/// The value an assertion looks at in what was read.
pub fn select(selector: &Selector, doc: &Value) -> Option<Value> {
    match selector {
        Selector::Path(q) => extract(q, doc),
        Selector::First => match doc {
            Value::Array(rows) => rows.first().and_then(|r| match r {
                Value::Object(m) => m.values().next().cloned(),
                other => Some(other.clone()),
            }),
            other => Some(other.clone()),
        },
        Selector::RowCount => doc.as_array().map(|rows| Value::from(rows.len())),
    }
}

/// Evaluate one check against one read.
pub fn evaluate(check: &PlannedCheck, read: &Read) -> CheckRecord {
    let mut rec = CheckRecord {
        name: check.name.clone(),
        stage: check.stage,
        probe: check.source.label(),
        held: false,
        assertions: Vec::new(),
        error: None,
    };
    let what = if matches!(check.source, Source::Command { .. }) {
        "exited with"
    } else {
        "answered"
    };
    let body = match (read, check.status) {
        (Ok((status, body)), Some(want)) if *status == want => Some(body),
        (Ok((_, body)), None) => Some(body),
        (Ok((status, _)), Some(want)) => {
            rec.error = Some(format!("the probe {what} {status}, expected {want}"));
            None
        }
        (Err(e), _) => {
            rec.error = Some(e.clone());
            None
        }
    };
    let mut all = body.is_some();
    for a in &check.json {
        let observed = body.and_then(|b| select(&a.selector, b));
        let held = body.is_some() && matches(&a.matcher, observed.as_ref());
        all &= held;
        rec.assertions.push(AssertionRecord {
            path: a.path.clone(),
            expected: describe(&a.matcher),
            because: a.because.clone(),
            observed,
            held,
        });
    }
    rec.held = all;
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(yaml: &str) -> Matcher {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn matchers() {
        assert!(matches(&m("pro"), Some(&json!("pro"))));
        assert!(!matches(&m("pro"), Some(&json!("free"))));
        assert!(!matches(&m("pro"), None));
        assert!(matches(&m("1"), Some(&json!(1.0))));
        assert!(matches(&m("{gte: 2}"), Some(&json!(2))));
        assert!(!matches(&m("{gt: 2}"), Some(&json!(2))));
        assert!(!matches(&m("{gt: 2}"), Some(&json!("3"))));
        assert!(matches(&m("{exists: false}"), None));
        assert!(matches(&m("{exists: false}"), Some(&Value::Null)));
        assert!(matches(&m("{in: [full, grace]}"), Some(&json!("grace"))));
        assert!(matches(
            &m("{contains: welcome}"),
            Some(&json!(["welcome", "x"]))
        ));
        assert!(matches(&m("{ne: none}"), Some(&json!("full"))));
    }

    #[test]
    fn extract_single_many_none() {
        let v = json!({"a": 1, "l": [{"k": 1}, {"k": 2}]});
        assert_eq!(
            extract(&JsonPath::parse("$.a").unwrap(), &v),
            Some(json!(1))
        );
        assert_eq!(
            extract(&JsonPath::parse("$.l[*].k").unwrap(), &v),
            Some(json!([1, 2]))
        );
        assert_eq!(extract(&JsonPath::parse("$.zz").unwrap(), &v), None);
    }
}
