//! A hostile webhook handler on loopback, on plain std threads.
//!
//! The first `hostile` connections get the [`Mode`]'s misbehaviour; every
//! later one gets a plain `200 {"ok":true}` with `Connection: close`, so a
//! second drill in the same run shows that the run went on. Every request's
//! path is recorded, and whether anything arrived at all (for "sends
//! nothing" tests).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer 200 (a well-behaved handler).
    Ok,
    /// Accept, read the request, never answer.
    Hang,
    /// Write a valid answer one byte a second.
    OneBytePerSecond,
    /// Headers at once, then the body one byte a second (Content-Length 1 MB).
    SlowBody,
    /// Read one byte, then close with the rest unread: the kernel sends RST.
    Reset,
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// `302 Found` to another path on this server (Stripe counts 3xx as failure).
    Redirect,
    /// `200` with a body that never ends (no length, written until the peer goes).
    EndlessBody,
    /// `200` echoing the request head and body back as the response body.
    Echo,
    /// `200` echoing the request head and body back in hex, then in base64
    /// at each of three alignments (a handler that "encodes" what it leaks).
    EchoEncoded,
}

pub struct Server {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
    echoed: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Serve on 127.0.0.1 with the first `hostile` connections in `mode`.
    pub fn start(mode: Mode, hostile: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let echoed = Arc::new(Mutex::new(Vec::new()));
        let (c, p, e) = (connections.clone(), paths.clone(), echoed.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = c.fetch_add(1, Ordering::SeqCst);
                let mode = if n < hostile { mode } else { Mode::Ok };
                let (p, e) = (p.clone(), e.clone());
                std::thread::spawn(move || serve(stream, mode, port, &p, &e));
            }
        });
        Server {
            port,
            connections,
            paths,
            echoed,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Paths of the requests read so far.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    /// Everything the Echo mode sent back.
    pub fn echoed(&self) -> Vec<u8> {
        self.echoed.lock().unwrap().clone()
    }
}

/// Read one request: the head, then Content-Length bytes of body.
fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..].to_vec()))
}

fn serve(
    mut s: TcpStream,
    mode: Mode,
    port: u16,
    paths: &Mutex<Vec<String>>,
    echoed: &Mutex<Vec<u8>>,
) {
    if mode == Mode::Reset {
        let mut one = [0u8; 1];
        let _ = s.read(&mut one);
        std::thread::sleep(Duration::from_millis(50));
        drop(s); // unread data in the receive buffer: the close is an RST
        return;
    }
    let Some((head, body)) = read_request(&mut s) else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    paths.lock().unwrap().push(path);
    match mode {
        Mode::Ok | Mode::Reset => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
            );
        }
        Mode::Hang => std::thread::sleep(Duration::from_secs(600)),
        Mode::OneBytePerSecond => {
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Mode::SlowBody => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
            );
            while s.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Mode::Garbage => {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02 this is not http\r\n\r\n");
        }
        Mode::Redirect => {
            let _ = s.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/redirected\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        Mode::EndlessBody => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n",
            );
            let block = [b'x'; 8192];
            let mut sent = 0usize;
            // Until the client hangs up (bounded at 1 GiB so a broken client
            // cannot keep this thread forever).
            while sent < (1 << 30) && s.write_all(&block).is_ok() {
                sent += block.len();
            }
        }
        Mode::Echo | Mode::EchoEncoded => {
            let mut reply = head.into_bytes();
            reply.extend_from_slice(&body);
            if mode == Mode::EchoEncoded {
                use base64::Engine;
                let mut encoded = hex::encode(&reply).into_bytes();
                for pad in 0..3 {
                    let mut shifted = vec![b' '; pad];
                    shifted.extend_from_slice(&reply);
                    encoded.push(b'\n');
                    encoded.extend(
                        base64::engine::general_purpose::STANDARD
                            .encode(&shifted)
                            .into_bytes(),
                    );
                }
                reply = encoded;
            }
            echoed.lock().unwrap().extend_from_slice(&reply);
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    reply.len()
                )
                .as_bytes(),
            );
            let _ = s.write_all(&reply);
        }
    }
}
