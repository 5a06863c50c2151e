//! Shared helpers for integration tests that use real parts: Stripe's
//! official SDKs (Python venv, Node), a real PostgreSQL server, real sockets.
//!
//! Include from a test file with `mod support;`. `bash ci/test.sh` installs and
//! starts everything and exports:
//!
//! - `LUOTA_TEST_PYTHON`   venv python with `stripe`, Flask, psycopg
//! - `LUOTA_TEST_NODE_DIR` tests/handlers/node (with node_modules)
//! - `LUOTA_TEST_PG_URL`   postgres:// superuser URL on 127.0.0.1
//!
//! A test asks for a part with [`require`]: when the part is missing it panics
//! under `CI=true` (a test never skips silently in CI) and otherwise prints
//! `skipped: ...` to stderr and returns `None`, so the test returns early:
//!
//! ```ignore
//! let Some(py) = support::require("python", support::python()) else { return };
//! ```
#![allow(dead_code)]

pub mod handlers;
pub mod loopback;
pub mod sdk;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when running under CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI").map(|v| v.to_ascii_lowercase()),
        Ok(ref v) if v == "true" || v == "1"
    )
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Python interpreter with the official `stripe` SDK: `LUOTA_TEST_PYTHON`, or
/// the repo's `.venv` left by an earlier `bash ci/test.sh`.
pub fn python() -> Option<PathBuf> {
    if let Some(p) = env_nonempty("LUOTA_TEST_PYTHON") {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let p = repo_root().join(".venv/bin/python");
    p.exists().then_some(p)
}

/// Directory of the Node reference handler with its `node_modules` installed:
/// `LUOTA_TEST_NODE_DIR`, or tests/handlers/node if `npm ci` ran there. Also
/// requires `node` on PATH.
pub fn node_dir() -> Option<PathBuf> {
    let dir = env_nonempty("LUOTA_TEST_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/handlers/node"));
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    (has_node && dir.join("node_modules/stripe/package.json").exists()).then_some(dir)
}

/// Superuser URL of a running PostgreSQL server (`LUOTA_TEST_PG_URL`).
pub fn pg_url() -> Option<String> {
    env_nonempty("LUOTA_TEST_PG_URL")
}

/// MariaDB URL (`LUOTA_TEST_MARIADB_URL`), exported by `LUOTA_CI_MARIADB=1 bash ci/test.sh`.
pub fn mariadb_url() -> Option<String> {
    env_nonempty("LUOTA_TEST_MARIADB_URL")
}

/// Gate a test on a part being present. Missing under CI: panic with a clear
/// message. Missing elsewhere: print `skipped: <reason>` and return `None`.
pub fn require<T>(name: &str, v: Option<T>) -> Option<T> {
    if v.is_some() {
        return v;
    }
    let reason = format!(
        "{name} is not available ({}); run the tests with `bash ci/test.sh`, which installs and starts it",
        hint(name)
    );
    if in_ci() {
        panic!("required test part missing under CI=true: {reason}");
    }
    eprintln!("skipped: {reason}");
    None
}

fn hint(name: &str) -> &'static str {
    match name {
        "python" => "LUOTA_TEST_PYTHON unset or missing, and no .venv/bin/python",
        "node" => "LUOTA_TEST_NODE_DIR unset, `node` missing, or no node_modules/stripe",
        "pg" | "postgres" | "postgresql" => "LUOTA_TEST_PG_URL unset",
        "mariadb" => {
            "LUOTA_TEST_MARIADB_URL unset; ci/test.sh starts MariaDB only with LUOTA_CI_MARIADB=1"
        }
        "openssl" => "`openssl` not on PATH",
        _ => "not found",
    }
}

/// Create a uniquely named, empty database on the server at `url` (using the
/// `psql` binary) and return a URL that points at it.
pub fn fresh_pg_database(url: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "luota_t_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        nanos
    );
    psql(url, &format!("CREATE DATABASE {name}"));
    with_database(url, &name)
}

/// Run one SQL command with `psql` against `url`; panic with psql's stderr on failure.
/// Returns trimmed unaligned tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    assert!(
        out.status.success(),
        "psql failed ({}): {sql}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Current unix time, seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Lowercase hex HMAC-SHA256(secret, "<t>.<body>") computed by the `openssl`
/// binary, so test vectors do not come from luota's own signer.
pub fn openssl_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{timestamp}.").as_bytes()).unwrap();
        stdin.write_all(body).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl dgst failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.x).
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().rsplit(' ').next().unwrap().to_string();
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "unexpected openssl output: {text:?}"
    );
    hex
}

/// `t=<t>,v1=<hex>` computed with openssl.
pub fn openssl_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        openssl_signature(secret, timestamp, body)
    )
}

/// Standard base64 with padding (no extra crate for tests).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Path relative to the repo root, as a string for Command args.
pub fn repo_path(rel: &str) -> PathBuf {
    repo_root().join(Path::new(rel))
}
