//! `redeliver: {until: 2xx, attempts, every}` against a loopback handler that
//! answers 409 twice before it accepts, as a correct handler does while the
//! purchase cannot be linked yet. Pins that the retry loop really runs: each
//! attempt goes out re-signed, the wait doubles, and the record keeps every
//! attempt with its status.

mod builder;
mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use builder::Test;
use support::loopback::read_request;

const SECRET: &str = "whsec_redeliver_test";

/// What the handler saw of one request: when it arrived and its signature header.
struct Seen {
    at: Instant,
    signature: String,
    body: Vec<u8>,
}

/// Answers 409 to the first `refuse` requests, then 200.
fn refusing_handler(refuse: usize) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let Some(req) = read_request(&mut s) else {
                continue;
            };
            let end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8_lossy(&req[..end]).to_string();
            let signature = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("stripe-signature:")
                        .then(|| l["stripe-signature:".len()..].trim().to_string())
                })
                .unwrap_or_default();
            let n = {
                let mut v = log.lock().unwrap();
                v.push(Seen {
                    at: Instant::now(),
                    signature,
                    body: req[end + 4..].to_vec(),
                });
                v.len()
            };
            let answer: &[u8] = if n <= refuse {
                b"HTTP/1.1 409 Conflict\r\ncontent-length: 16\r\nconnection: close\r\n\r\n{\"retry\":\"later\"}"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
            };
            let _ = s.write_all(answer);
        }
    });
    (format!("http://{addr}"), seen)
}

/// Write `luota.yaml` (target `h` at `base`, `extra` appended to its
/// defaults) and the drill `d.yaml`; their paths.
fn files(
    dir: &std::path::Path,
    base: &str,
    extra: &str,
    drill: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let cfg = dir.join("luota.yaml");
    std::fs::write(
        &cfg,
        format!("default_target: h\ntargets:\n  h:\n    webhook: {base}/webhook\n    secret_env: LUOTA_REDELIVER_SECRET\ndefaults:\n  settle: 50ms\n{extra}"),
    )
    .unwrap();
    let d = dir.join("d.yaml");
    std::fs::write(&d, drill).unwrap();
    (cfg, d)
}

fn header_t(h: &str) -> i64 {
    h.split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no t in {h:?}"))
}

#[test]
fn redeliver_retries_a_409_re_signed_with_a_doubling_wait() {
    let (base, seen) = refusing_handler(2);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, d) = files(dir.path(), &base, "", "drill: retried until accepted\nevents:\n  e: { type: checkout.session.completed }\ndeliver:\n  - send: e\n    redeliver: { until: 2xx, attempts: 4, every: 600ms }\n");
    let json = dir.path().join("r.json");
    Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .args([
            "--snapshots",
            "ignore",
            "--report-json",
            json.to_str().unwrap(),
        ])
        .env("LUOTA_REDELIVER_SECRET", SECRET)
        .status(0)
        .run();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "two refusals and one acceptance");
    // Same event each time, each attempt validly signed for its own timestamp.
    for s in seen.iter() {
        assert_eq!(s.body, seen[0].body, "a redelivery resends the same event");
        let t = header_t(&s.signature);
        let want = support::openssl_header(SECRET, t, &s.body);
        assert_eq!(s.signature, want, "attempt signed for its own t");
    }
    let ts: Vec<i64> = seen.iter().map(|s| header_t(&s.signature)).collect();
    assert!(ts[2] > ts[0], "re-signed with a fresh timestamp: {ts:?}");
    // The wait starts at `every` and doubles (lower bounds only: a sleep is never early).
    let gap1 = seen[1].at - seen[0].at;
    let gap2 = seen[2].at - seen[1].at;
    assert!(gap1 >= Duration::from_millis(600), "first wait {gap1:?}");
    assert!(gap2 >= Duration::from_millis(1200), "second wait {gap2:?}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let deliveries = report["drills"][0]["steps"][0]["deliveries"]
        .as_array()
        .unwrap();
    let got: Vec<(u64, u64)> = deliveries
        .iter()
        .map(|x| {
            (
                x["attempt"].as_u64().unwrap(),
                x["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(0, 409), (1, 409), (2, 200)]);
    assert_eq!(report["drills"][0]["verdict"], "passed");
}

#[test]
fn redeliver_that_never_gets_a_2xx_fails_the_drill() {
    let (base, seen) = refusing_handler(usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, d) = files(dir.path(), &base, "", "drill: never accepted\nevents:\n  e: { type: checkout.session.completed }\ndeliver:\n  - send: e\n    redeliver: { until: 2xx, attempts: 2, every: 50ms }\n");
    Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .args(["--snapshots", "ignore"])
        .env("LUOTA_REDELIVER_SECRET", SECRET)
        .status(1)
        .run();
    // The first delivery and `attempts` retries, then it gives up.
    assert_eq!(seen.lock().unwrap().len(), 3);
}

/// `defaults.stale_age` and `defaults.future_by` move the time-shifted
/// signature modes (DESIGN: "stale (t 10 min old, configurable)").
#[test]
fn stale_age_and_future_by_are_configurable() {
    let (base, seen) = refusing_handler(0);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, d) = files(dir.path(), &base, "  stale_age: 20m\n  future_by: 7m\n", "drill: shifted\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n    signature: stale\n    expect_status: 200\n  - send: e\n    signature: future\n    expect_status: 200\n");
    Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .args(["--snapshots", "ignore"])
        .env("LUOTA_REDELIVER_SECRET", SECRET)
        .status(0)
        .run();
    let now = support::now();
    let seen = seen.lock().unwrap();
    let stale = now - header_t(&seen[0].signature);
    let future = header_t(&seen[1].signature) - now;
    assert!((1190..=1210).contains(&stale), "stale t is {stale} s old");
    assert!(
        (400..=421).contains(&future),
        "future t is {future} s ahead"
    );
}
