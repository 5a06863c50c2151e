//! `--evidence DIR`: the retained proof of a run.
//!
//! For each drill run, one text file `DIR/<drill stem>.<run_uid>.txt` with,
//! in the order they happened and each with its time:
//!
//! - every request luota sent (webhook deliveries, setup and app calls): the
//!   request line, the headers luota wrote and the body bytes, then the
//!   response status and body (capped at [`crate::deliver::RESPONSE_CAP`]);
//! - every read of the app's state (checks, `stable`, `unchanged`): the
//!   probe, the status and the body it answered.
//!
//! Capture is a task-local [`Sink`]: [`capture`] wraps one drill's future,
//! and the delivery and probe code call [`record`], which does nothing
//! outside a capture. So nothing is kept unless `--evidence` is on. The run
//! keeps a handle on each drill's sink, so a drill cut short by Ctrl-C still
//! leaves the proof of what it had sent.
//!
//! Redaction: the `Stripe-Signature` header is kept (it is an HMAC, not a
//! secret, and is what an operator needs to prove what was sent); the values
//! of `Authorization`, `Cookie`, `Proxy-Authorization` and every header the
//! target configures under `headers:` (they carry credentials) are replaced by
//! `[redacted]`; URL query strings and passwords are dropped; finally every
//! occurrence of the target's secrets is replaced, as a last guard.

use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::DrillRecord;

/// One captured exchange.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unix time in milliseconds when the request went out.
    pub at_ms: u128,
    pub kind: EntryKind,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: Option<u16>,
    pub response: Option<Vec<u8>>,
    pub error: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A signed webhook delivery.
    Delivery,
    /// A call or read against the app's own API.
    Read,
}

tokio::task_local! {
    static SINK: Sink;
}

/// Where one drill's entries go; a clone shares them.
#[derive(Debug, Clone, Default)]
pub struct Sink(Arc<Mutex<Vec<Entry>>>);

impl Sink {
    /// Everything recorded so far (the sink is left empty).
    pub fn take(&self) -> Vec<Entry> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Record an entry when a capture is active; a no-op otherwise. `make` runs
/// only inside a capture, so nothing is copied when evidence is off.
pub fn record(make: impl FnOnce() -> Entry) {
    let _ = SINK.try_with(|s| {
        let e = make();
        s.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    });
}

/// What an entry says until its answer is in: an interrupted run leaves it so.
pub const IN_FLIGHT: &str = "no answer recorded: the run stopped while this request was in flight";

/// An entry recorded when its request goes out, completed by
/// [`Pending::finish`] when the answer is in. If the drill is cut short
/// first, the entry stays, saying the request was in flight: the proof that
/// it was sent is not lost with the answer.
pub struct Pending {
    sink: Sink,
    index: usize,
}

/// Record `make()`'s request now, as in flight; `None` outside a capture.
pub fn begin(make: impl FnOnce() -> Entry) -> Option<Pending> {
    SINK.try_with(|s| {
        let mut e = make();
        e.error = Some(IN_FLIGHT.into());
        let mut entries = s.0.lock().unwrap_or_else(|p| p.into_inner());
        entries.push(e);
        Pending {
            sink: s.clone(),
            index: entries.len() - 1,
        }
    })
    .ok()
}

impl Pending {
    /// Fill in the answer (status, response, error, elapsed).
    pub fn finish(self, answer: impl FnOnce(&mut Entry)) {
        let mut entries = self.sink.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(self.index) {
            e.error = None;
            answer(e);
        }
    }
}

/// Whether a capture is active for the current task.
pub fn capturing() -> bool {
    SINK.try_with(|_| ()).is_ok()
}

/// Run one drill; with a sink, capture everything it sent and read into its record.
pub async fn capture(
    sink: Option<Sink>,
    fut: impl std::future::Future<Output = DrillRecord>,
) -> DrillRecord {
    let Some(sink) = sink else {
        return fut.await;
    };
    let mut rec = SINK.scope(sink.clone(), fut).await;
    rec.evidence = sink.take();
    rec
}

/// The hex (both cases) and base64 (standard and URL-safe) forms of a secret
/// that a handler might echo back. Base64 depends on where the secret starts
/// within the encoded bytes, so each of the three alignments gives its own
/// stable middle, which any base64 text holding the secret contains. Short
/// values are left to the raw form (their encodings would match at random).
fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    const MIN: usize = 8;
    if secret.len() < MIN {
        return Vec::new();
    }
    let hex = hex::encode(secret);
    let mut out = vec![hex.to_uppercase(), hex];
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let enc = engine.encode(&bytes);
            // The first 4 and last 4 characters also encode bytes around it.
            if enc.len() >= 8 + MIN {
                out.push(enc[4..enc.len() - 4].to_string());
            }
        }
    }
    out
}

/// What must never appear in an evidence file.
#[derive(Debug, Clone, Default)]
pub struct Redactions {
    /// Header names whose values are replaced (lowercase).
    pub headers: Vec<String>,
    /// Secret values replaced wherever they occur.
    pub values: Vec<String>,
}

impl Redactions {
    pub fn new(target_headers: impl IntoIterator<Item = String>, secrets: Vec<String>) -> Self {
        let mut headers: Vec<String> = ["authorization", "cookie", "proxy-authorization"]
            .into_iter()
            .map(String::from)
            .collect();
        headers.extend(target_headers.into_iter().map(|h| h.to_ascii_lowercase()));
        let mut values: Vec<String> = Vec::new();
        for s in secrets.into_iter().filter(|s| !s.is_empty()) {
            values.extend(encoded_forms(&s));
            values.push(s);
        }
        values.sort();
        values.dedup();
        // Longest first, so a form that contains another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Redactions { headers, values }
    }

    /// `text` with every secret value replaced by `[redacted]` — and, since
    /// responses are cut at a cap, a secret's *beginning* at the very end of
    /// the text (before a trailing `…`), which would otherwise leak all but
    /// the last characters of a secret that straddled the cut.
    pub fn scrub(&self, text: String) -> String {
        let mut t = self
            .values
            .iter()
            .fold(text, |t, v| t.replace(v.as_str(), "[redacted]"));
        for v in &self.values {
            let body_len = t.trim_end_matches('…').len();
            let (body, tail) = t.split_at(body_len);
            let min = v.len().min(6);
            let cut = (min..v.len())
                .rev()
                .filter(|k| v.is_char_boundary(*k))
                .find(|k| body.ends_with(&v[..*k]));
            if let Some(k) = cut {
                t = format!("{}[redacted]{tail}", &body[..body.len() - k]);
            }
        }
        t
    }
}

fn body_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => format!("<{} bytes, not UTF-8: hex {}>", b.len(), hex::encode(b)),
    }
}

fn path_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.path().to_string(),
        Err(_) => url.to_string(),
    }
}

/// The evidence of one drill run as text.
pub fn render(d: &DrillRecord, red: &Redactions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# luota evidence");
    let _ = writeln!(out, "drill: {} ({})", d.name, d.path);
    let _ = writeln!(out, "run_uid: {}", d.run_uid);
    let _ = writeln!(out, "verdict: {}", d.verdict.word());
    for e in &d.events {
        let _ = writeln!(out, "event: {} {} ({})", e.name, e.id, e.event_type);
    }
    let _ = writeln!(
        out,
        "entries: {} (requests in the order sent; times are unix milliseconds)",
        d.evidence.len()
    );
    for (n, e) in d.evidence.iter().enumerate() {
        let kind = match e.kind {
            EntryKind::Delivery => "delivery",
            EntryKind::Read => "app call",
        };
        let _ = writeln!(
            out,
            "\n## {} {kind} at {} ({})",
            n + 1,
            e.at_ms,
            crate::safety::redact_url(&e.url)
        );
        let _ = writeln!(out, "> {} {} HTTP/1.1", e.method, path_of(&e.url));
        for (k, v) in &e.headers {
            let v = if red.headers.contains(&k.to_ascii_lowercase()) {
                "[redacted]"
            } else {
                v.as_str()
            };
            let _ = writeln!(out, "> {k}: {v}");
        }
        let _ = writeln!(out, ">");
        if !e.body.is_empty() {
            let _ = writeln!(out, "{}", body_text(&e.body));
        }
        let _ = writeln!(
            out,
            "< answered after {:.1}ms",
            e.elapsed.as_secs_f64() * 1000.0
        );
        match (e.status, &e.error) {
            (Some(s), _) => {
                let _ = writeln!(out, "< HTTP {s}");
            }
            (None, Some(err)) => {
                let _ = writeln!(out, "< no answer: {err}");
            }
            _ => {}
        }
        if let Some(b) = &e.response {
            if !b.is_empty() {
                let _ = writeln!(out, "{}", body_text(b));
            }
        }
    }
    red.scrub(out)
}

/// The file name for a drill run's evidence.
pub fn file_name(d: &DrillRecord) -> String {
    let stem = std::path::Path::new(&d.path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("drill");
    let uid = d.run_uid.split(',').next().unwrap_or_default();
    if uid.is_empty() {
        format!("{stem}.txt")
    } else {
        format!("{stem}.{uid}.txt")
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::Redactions;

    /// Regression: a response cut at its cap just inside a secret leaked all
    /// of it but the last character (`aaa…whsec_BREAKERSECRETabc123XY`).
    #[test]
    fn a_secret_cut_at_the_end_of_the_text_is_redacted_too() {
        let r = Redactions::new(
            Vec::<String>::new(),
            vec!["whsec_BREAKERSECRETabc123XYZ".into()],
        );
        assert_eq!(
            r.scrub("aaawhsec_BREAKERSECRETabc123XY".into()),
            "aaa[redacted]"
        );
        assert_eq!(r.scrub("aaawhsec_BREAKERSECR…".into()), "aaa[redacted]…");
        assert_eq!(
            r.scrub("x whsec_BREAKERSECRETabc123XYZ y".into()),
            "x [redacted] y"
        );
        // Text that merely ends in a few letters of it is left alone.
        assert_eq!(r.scrub("the end: whs".into()), "the end: whs");
    }
}
