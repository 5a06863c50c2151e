//! Delivering signed events over HTTP, and app calls.
//!
//! Ordinary deliveries go through one reqwest client (connection reuse,
//! timeouts). A `together` group needs more than reqwest's pool can give: one
//! connection per request, opened *before* the release. [`together`] builds
//! and signs every request, opens every connection with hyper's connection
//! API, and only then releases them all on one barrier, recording when each
//! request was handed to its socket.

pub mod tls;
pub mod together;

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::record::DeliveryOutcome;
use crate::report::evidence;
use crate::stripe::signature::{self, Prepared, SignOptions, SignatureMode};
use crate::target::Secret;

/// Response bodies are kept up to this many bytes.
pub const RESPONSE_CAP: usize = 64 * 1024;
/// How much of a response body the record quotes.
pub const EXCERPT_CHARS: usize = 300;
/// The User-Agent Stripe sends.
pub const USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Sent {
    pub outcome: DeliveryOutcome,
    pub status: Option<u16>,
    pub latency: Duration,
    pub bytes: usize,
    pub timestamp: Option<i64>,
    pub written_at: Option<Duration>,
    pub error: Option<String>,
    pub response: Option<Bytes>,
    /// The response body hit [`RESPONSE_CAP`]; the rest was not read.
    pub truncated: bool,
}

/// A request ready to go: the bytes and the signature header.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub header: Option<String>,
    pub body: Bytes,
    pub timestamp: Option<i64>,
}

/// Signs and sends webhook deliveries to one endpoint.
pub struct Sender {
    client: reqwest::Client,
    pub webhook: String,
    secret: Secret,
    secondary: Option<Secret>,
    pub sign: SignOptions,
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Sender {
    pub fn new(
        client: reqwest::Client,
        webhook: String,
        secret: Secret,
        secondary: Option<Secret>,
    ) -> Sender {
        Sender {
            client,
            webhook,
            secret,
            secondary,
            sign: SignOptions::default(),
        }
    }

    /// Sign `body` afresh (a new timestamp every time, as Stripe's retries are).
    pub fn prepare(&self, body: &[u8], mode: SignatureMode) -> Result<SignedRequest, String> {
        let now = unix_now();
        let Prepared { header, body, .. } = signature::signed_header(
            mode,
            self.secret.expose(),
            self.secondary.as_ref().map(Secret::expose),
            now,
            body,
            &self.sign,
        )
        .map_err(|e| e.to_string())?;
        let timestamp = header.as_deref().and_then(parse_t);
        Ok(SignedRequest {
            header,
            body: Bytes::from(body),
            timestamp,
        })
    }

    /// Send one prepared delivery and wait for the answer (bounded by `timeout`).
    pub async fn send(&self, req: &SignedRequest, timeout: Duration) -> Sent {
        let mut rb = self
            .client
            .post(&self.webhook)
            .timeout(timeout)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", USER_AGENT)
            .body(req.body.clone());
        if let Some(h) = &req.header {
            rb = rb.header("stripe-signature", h);
        }
        let start = Instant::now();
        let at_ms = evidence::now_ms();
        let pending = evidence::begin(|| {
            let mut headers = vec![
                (
                    "content-type".to_string(),
                    "application/json; charset=utf-8".to_string(),
                ),
                ("user-agent".to_string(), USER_AGENT.to_string()),
            ];
            headers.extend(
                req.header
                    .clone()
                    .map(|h| ("stripe-signature".to_string(), h)),
            );
            evidence::Entry {
                at_ms,
                kind: evidence::EntryKind::Delivery,
                method: "POST".into(),
                url: self.webhook.clone(),
                headers,
                body: req.body.to_vec(),
                status: None,
                response: None,
                error: None,
                elapsed: Duration::ZERO,
            }
        });
        let result = rb.send().await;
        let mut sent = Sent {
            outcome: DeliveryOutcome::Answered,
            status: None,
            latency: Duration::ZERO,
            bytes: req.body.len(),
            timestamp: req.timestamp,
            written_at: None,
            error: None,
            response: None,
            truncated: false,
        };
        match result {
            Ok(resp) => {
                sent.status = Some(resp.status().as_u16());
                match read_body(resp, timeout.saturating_sub(start.elapsed())).await {
                    Ok((b, truncated)) => {
                        sent.response = Some(b);
                        sent.truncated = truncated;
                    }
                    // A body that does not finish in time is a timeout, as
                    // Stripe counts it: the status line alone is no answer.
                    Err(BodyError::TimedOut) => {
                        sent.outcome = DeliveryOutcome::TimedOut;
                        sent.error = Some(format!(
                            "no complete answer within {} (status {} came, the body did not finish)",
                            crate::report::human_duration(timeout),
                            sent.status.unwrap_or_default()
                        ));
                    }
                    Err(BodyError::Broken(e)) => {
                        sent.outcome = DeliveryOutcome::Broken;
                        sent.error = Some(e);
                    }
                }
            }
            Err(e) => {
                let (outcome, msg) = classify(&e, timeout);
                sent.outcome = outcome;
                sent.error = Some(msg);
            }
        }
        sent.latency = start.elapsed();
        answered(pending, &sent);
        sent
    }
}

/// Complete a delivery's evidence entry (begun when it went out) with its answer.
pub(crate) fn answered(pending: Option<evidence::Pending>, sent: &Sent) {
    if let Some(p) = pending {
        p.finish(|e| {
            e.status = sent.status;
            e.response = sent.response.as_ref().map(|b| b.to_vec());
            e.error = sent.error.clone();
            e.elapsed = sent.latency;
        });
    }
}

/// Why a response body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body did not finish within the budget (a slow or stalled body).
    TimedOut,
    /// The connection broke while reading.
    Broken(String),
}

/// Read a response body up to [`RESPONSE_CAP`] bytes within `budget`.
pub async fn read_capped(resp: reqwest::Response, budget: Duration) -> Result<Bytes, String> {
    match read_body(resp, budget).await {
        Ok((b, _)) => Ok(b),
        Err(BodyError::TimedOut) => {
            Err("the response body did not finish within the timeout".into())
        }
        Err(BodyError::Broken(e)) => Err(e),
    }
}

/// Read a response body up to [`RESPONSE_CAP`] bytes within `budget`; the
/// flag says whether the cap cut it (the rest is never read, so an endless
/// body costs at most the cap in memory and stops at once).
pub async fn read_body(
    mut resp: reqwest::Response,
    budget: Duration,
) -> Result<(Bytes, bool), BodyError> {
    let mut buf = Vec::new();
    let mut truncated = false;
    let read = async {
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            // The request's own timeout covers the body too.
            if e.is_timeout() {
                BodyError::TimedOut
            } else {
                BodyError::Broken(format!("reading the response failed: {}", root_cause(&e)))
            }
        })? {
            let room = RESPONSE_CAP.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        Ok::<(), BodyError>(())
    };
    match tokio::time::timeout(budget.max(Duration::from_millis(1)), read).await {
        Ok(Ok(())) => Ok((Bytes::from(buf), truncated)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// Map a reqwest error to an outcome and a message without URLs (they may carry tokens).
pub fn classify(e: &reqwest::Error, timeout: Duration) -> (DeliveryOutcome, String) {
    if e.is_timeout() {
        (
            DeliveryOutcome::TimedOut,
            format!(
                "no answer within {}",
                crate::report::human_duration(timeout)
            ),
        )
    } else if e.is_connect() {
        let cause = root_cause(e);
        let hint = if cause.contains("certificate") {
            " (the host's TLS certificate is not trusted: if a staging CA signed it, name that \
             CA's PEM file in the target's `ca_file`, or pass `--ca-file` to send)"
        } else {
            ""
        };
        (
            DeliveryOutcome::ConnectFailed,
            format!("could not connect: {cause}{hint}"),
        )
    } else {
        (
            DeliveryOutcome::Broken,
            format!("the exchange broke: {}", root_cause(e)),
        )
    }
}

/// The innermost error message (what actually went wrong).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let s = cur.to_string();
    if s.is_empty() {
        e.to_string()
    } else {
        s
    }
}

fn parse_t(header: &str) -> Option<i64> {
    header
        .split(',')
        .find_map(|p| p.trim().strip_prefix("t="))
        .and_then(|t| t.parse().ok())
}

/// An excerpt of a response body for the record.
pub fn excerpt(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        s.push('…');
    }
    Some(s)
}
