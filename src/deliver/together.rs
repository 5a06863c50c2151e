//! `together` groups: N requests released at one instant.
//!
//! A race needs a real barrier: in real handlers the window between "check"
//! and "insert" is tens of milliseconds, and requests spread wider than that
//! run one after another. So every request is fully built and signed, and its
//! own connection opened (TCP + HTTP/1 handshake via `hyper::client::conn`),
//! before one barrier releases them all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use super::{Sent, SignedRequest, RESPONSE_CAP, USER_AGENT};
use crate::record::DeliveryOutcome;

/// The result of a group: one [`Sent`] per request, in order, and the spread
/// between the first and the last request handed to its socket.
#[derive(Debug)]
pub struct GroupResult {
    pub sent: Vec<Sent>,
    pub spread: Duration,
}

/// Send every request at once to `url` (http only; https falls back to the
/// caller's ordinary client) and wait for all answers, each bounded by `timeout`.
pub async fn send_together(
    url: &str,
    requests: Vec<SignedRequest>,
    timeout: Duration,
) -> Result<GroupResult, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad webhook URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err("together groups need an http:// webhook in this version".into());
    }
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let host_for_connect = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();

    // Open every connection first.
    let mut senders = Vec::with_capacity(requests.len());
    let mut failures: Vec<Option<Sent>> = Vec::with_capacity(requests.len());
    for req in &requests {
        let opened = tokio::time::timeout(timeout, async {
            let stream = TcpStream::connect((host_for_connect.as_str(), port))
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            Ok::<_, String>(sender)
        })
        .await
        .unwrap_or_else(|_| Err("connecting timed out".into()));
        match opened {
            Ok(s) => {
                senders.push(Some(s));
                failures.push(None);
            }
            Err(e) => {
                senders.push(None);
                failures.push(Some(Sent {
                    outcome: DeliveryOutcome::ConnectFailed,
                    status: None,
                    latency: Duration::ZERO,
                    bytes: req.body.len(),
                    timestamp: req.timestamp,
                    written_at: None,
                    error: Some(format!("could not connect: {e}")),
                    response: None,
                }));
            }
        }
    }

    // Build every request before the release.
    let ready = senders.iter().filter(|s| s.is_some()).count();
    let barrier = Arc::new(Barrier::new(ready + 1));
    let mut tasks = Vec::new();
    for (i, (sender, req)) in senders.into_iter().zip(requests.iter()).enumerate() {
        let Some(mut sender) = sender else { continue };
        let mut builder = hyper::Request::post(&path)
            .header("host", &authority)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", USER_AGENT)
            .header("content-length", req.body.len());
        if let Some(h) = &req.header {
            builder = builder.header("stripe-signature", h);
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| e.to_string())?;
        let barrier = barrier.clone();
        let bytes = req.body.len();
        let timestamp = req.timestamp;
        tasks.push((
            i,
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                let fut = sender.send_request(request);
                let answer = tokio::time::timeout(timeout, async move {
                    let resp = fut.await.map_err(|e| super::root_cause(&e))?;
                    let status = resp.status().as_u16();
                    let body = Limited::new(resp.into_body(), RESPONSE_CAP)
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_else(|_| Bytes::from_static(b"<response larger than the cap>"));
                    Ok::<_, String>((status, body))
                })
                .await;
                (start, start.elapsed(), answer, bytes, timestamp)
            }),
        ));
    }
    let release = Instant::now();
    barrier.wait().await;

    let mut out: Vec<Option<Sent>> = failures;
    let mut starts = Vec::new();
    for (i, task) in tasks {
        let (start, latency, answer, bytes, timestamp) = task
            .await
            .map_err(|e| format!("a delivery task failed: {e}"))?;
        starts.push(start);
        let mut sent = Sent {
            outcome: DeliveryOutcome::Answered,
            status: None,
            latency,
            bytes,
            timestamp,
            written_at: Some(start.saturating_duration_since(release)),
            error: None,
            response: None,
        };
        match answer {
            Ok(Ok((status, body))) => {
                sent.status = Some(status);
                sent.response = Some(body);
            }
            Ok(Err(e)) => {
                sent.outcome = DeliveryOutcome::Broken;
                sent.error = Some(format!("the exchange broke: {e}"));
            }
            Err(_) => {
                sent.outcome = DeliveryOutcome::TimedOut;
                sent.error = Some(format!(
                    "no answer within {}",
                    crate::report::human_duration(timeout)
                ));
            }
        }
        out[i] = Some(sent);
    }
    let spread = match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) => b.saturating_duration_since(*a),
        _ => Duration::ZERO,
    };
    Ok(GroupResult {
        sent: out.into_iter().flatten().collect(),
        spread,
    })
}
