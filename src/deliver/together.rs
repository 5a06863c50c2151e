//! `together` groups: N requests released at one instant.
//!
//! A race needs a real barrier: in real handlers the window between "check"
//! and "insert" is tens of milliseconds, and requests spread wider than that
//! run one after another. So every request is fully built and signed, its own
//! connection opened (TCP + HTTP/1 handshake via `hyper::client::conn`) and
//! the request serialized by hyper into a cork in front of the socket, before
//! one task releases them all by writing each connection's bytes back to back.
//!
//! Over `https://` the TLS handshake is part of opening the connection (the
//! cork is closed only after it), so what waits in the cork is the encrypted
//! request, and the release writes ciphertext back to back the same way.
//!
//! Why a cork and not a barrier of tasks: releasing N tasks on a barrier costs
//! N wake-ups, and each request then reaches its socket through hyper's
//! connection task (another wake-up), spread over the runtime's workers. The
//! writes from one task come within about 1.2–2.7× of raw sockets written
//! back to back from one thread, where the barrier of tasks was 2–3× and
//! a naive sender 7–19× (BENCHMARKS.md, race window). hyper still does all
//! of HTTP/1 on both sides.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::{Sent, SignedRequest, RESPONSE_CAP, USER_AGENT};
use crate::record::DeliveryOutcome;

/// One request of a group, fully built before the release.
#[derive(Debug, Clone)]
pub struct GroupRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The signature timestamp, for webhook deliveries.
    pub timestamp: Option<i64>,
}

impl GroupRequest {
    /// A signed webhook delivery to `url`.
    pub fn webhook(url: &str, req: &SignedRequest) -> GroupRequest {
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ),
            ("user-agent".to_string(), USER_AGENT.to_string()),
        ];
        if let Some(h) = &req.header {
            headers.push(("stripe-signature".into(), h.clone()));
        }
        GroupRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers,
            body: req.body.clone(),
            timestamp: req.timestamp,
        }
    }
}

/// The result of a group: one [`Sent`] per request, in order, and the spread
/// between the first and the last request handed to its socket.
#[derive(Debug)]
pub struct GroupResult {
    pub sent: Vec<Sent>,
    pub spread: Duration,
}

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

/// What a corked connection holds before the release.
struct Cork {
    /// While corked, hyper's writes land in `buf` instead of the socket.
    corked: bool,
    buf: Vec<u8>,
}

/// The socket under hyper: reads go straight to the socket; writes are held
/// in the cork until [`send_together`] writes every connection's bytes back
/// to back from one task.
struct CorkedIo {
    stream: Arc<TcpStream>,
    cork: Arc<Mutex<Cork>>,
    /// Fired when hyper flushes a non-empty cork: the whole request is
    /// serialized. Held here, not in the shared cork, so that it drops with
    /// hyper's connection: a connection that dies before its request is
    /// serialized wakes the release at once instead of stalling it.
    ready: Option<oneshot::Sender<()>>,
}

impl AsyncRead for CorkedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for CorkedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        {
            let mut c = self.cork.lock().unwrap_or_else(|p| p.into_inner());
            if c.corked {
                c.buf.extend_from_slice(data);
                return Poll::Ready(Ok(data.len()));
            }
        }
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(data) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // Ready even while bytes sit in the cork: after a `Full` request hyper
        // writes nothing more until the release has sent them.
        let this = self.get_mut();
        let filled = {
            let c = this.cork.lock().unwrap_or_else(|p| p.into_inner());
            c.corked && !c.buf.is_empty()
        };
        if filled {
            if let Some(tx) = this.ready.take() {
                let _ = tx.send(());
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The socket closes when the last handle drops.
        Poll::Ready(Ok(()))
    }
}

/// An opened connection: hyper's sender over a corked socket, and the request.
struct Opened {
    sender: Conn,
    request: hyper::Request<Full<Bytes>>,
    stream: Arc<TcpStream>,
    cork: Arc<Mutex<Cork>>,
    ready: oneshot::Receiver<()>,
}

/// Open a connection (TCP, TLS for `https://`, HTTP/1 handshake) for `req`,
/// corked, and build its request.
async fn open(
    req: &GroupRequest,
    timeout: Duration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Opened, (DeliveryOutcome, String)> {
    let parsed = reqwest::Url::parse(&req.url)
        .map_err(|e| (DeliveryOutcome::Broken, format!("bad URL: {e}")))?;
    let secure = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err((
                DeliveryOutcome::Broken,
                format!("together groups send over http:// or https://, not {other}://"),
            ))
        }
    };
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
    let (ready_tx, ready) = oneshot::channel();
    // Uncorked while TLS shakes hands; corked before hyper gets the request.
    let cork = Arc::new(Mutex::new(Cork {
        corked: !secure,
        buf: Vec::new(),
    }));
    let (sender, stream) = tokio::time::timeout(timeout, async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let stream = Arc::new(stream);
        let io = CorkedIo {
            stream: stream.clone(),
            cork: cork.clone(),
            ready: Some(ready_tx),
        };
        let sender = if secure {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
                format!("could not connect: `{host}` is not a TLS server name: {e}")
            })?;
            let tls = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, io)
                .await
                .map_err(|e| format!("could not connect: TLS handshake with {host} failed: {e}"))?;
            cork.lock().unwrap_or_else(|p| p.into_inner()).corked = true;
            let (sender, conn) = http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("could not connect: {e}"))?;
            tokio::spawn(conn);
            sender
        } else {
            let (sender, conn) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| format!("could not connect: {e}"))?;
            tokio::spawn(conn);
            sender
        };
        Ok::<_, String>((sender, stream))
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
    Ok(Opened {
        sender,
        request,
        stream,
        cork,
        ready,
    })
}

/// Uncork one connection: hand its whole request to the socket, by
/// `deadline`. Usually one non-blocking write; waits only if the socket
/// buffer is full (a handler that does not read). Returns the bytes written.
async fn release(
    stream: &TcpStream,
    cork: &Mutex<Cork>,
    deadline: tokio::time::Instant,
) -> Result<usize, (DeliveryOutcome, String)> {
    // Taken and uncorked under one lock; hyper writes nothing more for a
    // request that signalled ready, so nothing can overtake these bytes.
    let bytes = {
        let mut c = cork.lock().unwrap_or_else(|p| p.into_inner());
        c.corked = false;
        std::mem::take(&mut c.buf)
    };
    let mut at = 0;
    while at < bytes.len() {
        match stream.try_write(&bytes[at..]) {
            Ok(0) => {
                return Err((
                    DeliveryOutcome::Broken,
                    "the exchange broke: the socket took no bytes".into(),
                ))
            }
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                match tokio::time::timeout_at(deadline, stream.writable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Err((DeliveryOutcome::Broken, format!("the exchange broke: {e}")))
                    }
                    Err(_) => {
                        return Err((
                            DeliveryOutcome::TimedOut,
                            format!(
                                "the handler read only {at} of {} bytes before the deadline",
                                bytes.len()
                            ),
                        ))
                    }
                }
            }
            Err(e) => return Err((DeliveryOutcome::Broken, format!("the exchange broke: {e}"))),
        }
    }
    Ok(at)
}

/// Release every request at once and wait for all answers, each bounded by
/// `timeout` from the release.
///
/// Every connection is opened and every request handed to hyper first; hyper
/// serializes each into its connection's cork. The release then writes every
/// connection's bytes back to back from this one task — no barrier wake-ups,
/// no task scheduling between the first write and the last — and records when
/// each request was handed to its socket. Answers are read by hyper as usual.
/// A connection whose request was not serialized in time (it died, or hyper
/// stalled) is not released half-built: it is reported as broken.
pub async fn send_together(requests: Vec<GroupRequest>, timeout: Duration) -> GroupResult {
    send_together_tls(requests, timeout, super::tls::public_roots()).await
}

/// [`send_together`], trusting `tls` for `https://` (the target's CA as well).
pub async fn send_together_tls(
    requests: Vec<GroupRequest>,
    timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
) -> GroupResult {
    // Open every connection and queue every request first.
    let mut out: Vec<Option<Sent>> = Vec::with_capacity(requests.len());
    let mut opened = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        match open(req, timeout, &tls).await {
            Ok(o) => {
                out.push(None);
                opened.push((i, o));
            }
            Err((outcome, e)) => out.push(Some(failed(req, outcome, e))),
        }
    }
    let mut queued = Vec::new();
    for (i, o) in opened {
        let Opened {
            mut sender,
            request,
            stream,
            cork,
            ready,
        } = o;
        // hyper takes the request now; its connection task serializes it into the cork.
        let fut = sender.send_request(request);
        let (go, released) = oneshot::channel::<tokio::time::Instant>();
        let task = tokio::spawn(async move {
            let _keep = sender;
            // The answer's bound runs from the release, not from now.
            let Ok(deadline) = released.await else {
                return (Instant::now(), Ok(Err("not released".to_string())));
            };
            let answer = tokio::time::timeout_at(deadline, async move {
                let resp = fut.await.map_err(|e| super::root_cause(&e))?;
                let status = resp.status().as_u16();
                // Read frames up to the cap, then stop: an endless body
                // costs at most the cap and is reported as truncated.
                let mut body = resp.into_body();
                let mut buf = Vec::new();
                let mut truncated = false;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(|e| super::root_cause(&e))?;
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
            (Instant::now(), answer)
        });
        queued.push((i, task, go, stream, cork, ready));
    }
    // Every request serialized, within the bound (a dead connection drops its
    // `ready` sender and answers at once).
    let serialize_by = tokio::time::Instant::now() + timeout;
    let mut armed = Vec::with_capacity(queued.len());
    for (i, task, go, stream, cork, ready) in queued {
        match tokio::time::timeout_at(serialize_by, ready).await {
            Ok(Ok(())) => armed.push((i, task, go, stream, cork)),
            other => {
                task.abort();
                let why = if other.is_err() {
                    "the request was not ready to send within the delivery timeout"
                } else {
                    "the connection closed before the release"
                };
                out[i] = Some(failed(&requests[i], DeliveryOutcome::Broken, why.into()));
            }
        }
    }

    let release_at = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let release_ms = crate::report::evidence::now_ms();
    let mut written = Vec::with_capacity(armed.len());
    for (_, _, _, stream, cork) in &armed {
        let r = release(stream, cork, deadline).await;
        written.push((Instant::now(), r));
    }

    // Start every answer's clock at once (the bound is the same instant for
    // all), then collect the answers in order.
    let mut running = Vec::with_capacity(armed.len());
    for ((i, task, go, stream, cork), (at, wrote)) in armed.into_iter().zip(written) {
        // hyper's connection holds the last handles now: its socket closes with it.
        drop((stream, cork));
        match wrote {
            Ok(n) if n > 0 => {
                let _ = go.send(deadline);
                // In the evidence from now on, in flight until its answer.
                let req = &requests[i];
                let pending = crate::report::evidence::begin(|| crate::report::evidence::Entry {
                    at_ms: release_ms + at.saturating_duration_since(release_at).as_millis(),
                    kind: if req.timestamp.is_some()
                        || req.headers.iter().any(|(k, _)| k == "stripe-signature")
                    {
                        crate::report::evidence::EntryKind::Delivery
                    } else {
                        crate::report::evidence::EntryKind::Read
                    },
                    method: req.method.clone(),
                    url: req.url.clone(),
                    headers: req.headers.clone(),
                    body: req.body.to_vec(),
                    status: None,
                    response: None,
                    error: None,
                    elapsed: Duration::ZERO,
                });
                running.push((i, task, at, pending));
            }
            Ok(_) => {
                task.abort();
                out[i] = Some(failed(
                    &requests[i],
                    DeliveryOutcome::Broken,
                    "the exchange broke: nothing to send".into(),
                ));
            }
            Err((outcome, e)) => {
                task.abort();
                out[i] = Some(failed(&requests[i], outcome, e));
            }
        }
    }

    let mut starts = Vec::new();
    for (i, task, at, pending) in running {
        let req = &requests[i];
        let Ok((done, answer)) = task.await else {
            let f = failed(
                req,
                DeliveryOutcome::Broken,
                "the delivery task failed".into(),
            );
            if let Some(p) = pending {
                p.finish(|e| e.error = f.error.clone());
            }
            out[i] = Some(f);
            continue;
        };
        starts.push(at);
        let mut sent = Sent {
            outcome: DeliveryOutcome::Answered,
            status: None,
            latency: done.saturating_duration_since(at),
            bytes: req.body.len(),
            timestamp: req.timestamp,
            written_at: Some(at.saturating_duration_since(release_at)),
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
                    crate::report::human_duration(timeout)
                ));
            }
        }
        super::answered(pending, &sent);
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
