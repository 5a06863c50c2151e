//! The benchmark's "luota before" side: `send_together` exactly as it stood in
//! `src/deliver/together.rs` at commit 44f1980, the last before the cork
//! (196966c). One task per request, all released on a tokio `Barrier`; each
//! request then reaches its socket through hyper's connection task.
//!
//! What differs from that file, and only this: the `GroupRequest` and
//! `GroupResult` type definitions are imported from the library instead of
//! defined here (they are unchanged), and `crate::`/`super::` paths are
//! written `luota::`. The function bodies — connection opening, the barrier
//! release, the capped frame-by-frame response reading and the (usually
//! no-op) evidence recording — are the 44f1980 text. Regenerate with
//! `git show 44f1980:src/deliver/together.rs` and the same edits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use luota::deliver::together::{GroupRequest, GroupResult};
use luota::deliver::{Sent, RESPONSE_CAP};
use luota::record::DeliveryOutcome;

fn failed(req: &GroupRequest, outcome: DeliveryOutcome, error: String) -> Sent {
    Sent {
        outcome,
        status: None,
        latency: Duration::ZERO,
        bytes: req.body.len(),
        timestamp: req.timestamp,
        written_at: None,
        error: Some(error),
        response: None,
        truncated: false,
    }
}

type Conn = http1::SendRequest<Full<Bytes>>;

/// Open a connection (TCP + HTTP/1 handshake) for `req`, and build its request.
async fn open(
    req: &GroupRequest,
    timeout: Duration,
) -> Result<(Conn, hyper::Request<Full<Bytes>>), (DeliveryOutcome, String)> {
    let parsed = reqwest::Url::parse(&req.url)
        .map_err(|e| (DeliveryOutcome::Broken, format!("bad URL: {e}")))?;
    if parsed.scheme() != "http" {
        return Err((
            DeliveryOutcome::Broken,
            "together groups need http:// URLs in this version".into(),
        ));
    }
    let host = parsed
        .host_str()
        .unwrap_or("127.0.0.1")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let authority = match parsed.port() {
        Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_string(),
    };
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let sender = tokio::time::timeout(timeout, async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        tokio::spawn(conn);
        Ok::<_, String>(sender)
    })
    .await
    .unwrap_or_else(|_| Err("could not connect: connecting timed out".into()))
    .map_err(|e| (DeliveryOutcome::ConnectFailed, e))?;
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(path)
        .header("host", authority)
        .header("content-length", req.body.len());
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| (DeliveryOutcome::Broken, e.to_string()))?;
    Ok((sender, request))
}

/// Release every request at once and wait for all answers, each bounded by `timeout`.
pub async fn send_together(requests: Vec<GroupRequest>, timeout: Duration) -> GroupResult {
    // Open every connection and build every request first.
    let mut out: Vec<Option<Sent>> = Vec::with_capacity(requests.len());
    let mut ready = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        match open(req, timeout).await {
            Ok(pair) => {
                out.push(None);
                ready.push((i, pair));
            }
            Err((outcome, e)) => out.push(Some(failed(req, outcome, e))),
        }
    }
    let barrier = Arc::new(Barrier::new(ready.len() + 1));
    let mut tasks = Vec::new();
    for (i, (mut sender, request)) in ready {
        let barrier = barrier.clone();
        tasks.push((
            i,
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                let fut = sender.send_request(request);
                let answer = tokio::time::timeout(timeout, async move {
                    let resp = fut.await.map_err(|e| luota::deliver::root_cause(&e))?;
                    let status = resp.status().as_u16();
                    // Read frames up to the cap, then stop: an endless body
                    // costs at most the cap and is reported as truncated.
                    let mut body = resp.into_body();
                    let mut buf = Vec::new();
                    let mut truncated = false;
                    while let Some(frame) = body.frame().await {
                        let frame = frame.map_err(|e| luota::deliver::root_cause(&e))?;
                        if let Ok(data) = frame.into_data() {
                            let room = RESPONSE_CAP.saturating_sub(buf.len());
                            buf.extend_from_slice(&data[..data.len().min(room)]);
                            if data.len() > room {
                                truncated = true;
                                break;
                            }
                        }
                    }
                    Ok::<_, String>((status, Bytes::from(buf), truncated))
                })
                .await;
                (start, start.elapsed(), answer)
            }),
        ));
    }
    let release = Instant::now();
    let release_ms = luota::report::evidence::now_ms();
    barrier.wait().await;

    let mut starts = Vec::new();
    for (i, task) in tasks {
        let req = &requests[i];
        let Ok((start, latency, answer)) = task.await else {
            out[i] = Some(failed(
                req,
                DeliveryOutcome::Broken,
                "the delivery task failed".into(),
            ));
            continue;
        };
        starts.push(start);
        let mut sent = Sent {
            outcome: DeliveryOutcome::Answered,
            status: None,
            latency,
            bytes: req.body.len(),
            timestamp: req.timestamp,
            written_at: Some(start.saturating_duration_since(release)),
            error: None,
            response: None,
            truncated: false,
        };
        match answer {
            Ok(Ok((status, body, truncated))) => {
                sent.status = Some(status);
                sent.response = Some(body);
                sent.truncated = truncated;
            }
            Ok(Err(e)) => {
                sent.outcome = DeliveryOutcome::Broken;
                sent.error = Some(format!("the exchange broke: {e}"));
            }
            Err(_) => {
                sent.outcome = DeliveryOutcome::TimedOut;
                sent.error = Some(format!(
                    "no answer within {}",
                    luota::report::human_duration(timeout)
                ));
            }
        }
        luota::report::evidence::record(|| luota::report::evidence::Entry {
            at_ms: release_ms + sent.written_at.unwrap_or_default().as_millis(),
            kind: if req.timestamp.is_some()
                || req.headers.iter().any(|(k, _)| k == "stripe-signature")
            {
                luota::report::evidence::EntryKind::Delivery
            } else {
                luota::report::evidence::EntryKind::Read
            },
            method: req.method.clone(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.to_vec(),
            status: sent.status,
            response: sent.response.as_ref().map(|b| b.to_vec()),
            error: sent.error.clone(),
            elapsed: sent.latency,
        });
        out[i] = Some(sent);
    }
    let spread = match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) => b.saturating_duration_since(*a),
        _ => Duration::ZERO,
    };
    GroupResult {
        sent: out.into_iter().flatten().collect(),
        spread,
    }
}
