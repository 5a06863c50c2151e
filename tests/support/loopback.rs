//! Tiny loopback HTTP helpers for tests that play a handler themselves.

use std::io::Read;
use std::net::TcpStream;

/// Read one HTTP/1.1 request (headers, then the body by Content-Length).
/// `None` when the peer closed before a whole request arrived.
pub fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    let end = loop {
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while got.len() < end + 4 + len {
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        got.extend_from_slice(&buf[..n]);
    }
    Some(got)
}
