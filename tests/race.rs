//! Race fidelity: a `together` group really is in flight at once, and a D2
//! drill catches a 20 ms check-then-insert window nearly every time.

mod builder;
mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use builder::{repo, Test};
use support::loopback::read_request;

/// A loopback handler that holds every request for `hold` and records the
/// most requests it had fully received and not yet answered.
fn holding_handler(hold: Duration) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let max_out = max.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let (in_flight, max) = (in_flight.clone(), max.clone());
            std::thread::spawn(move || {
                if read_request(&mut s).is_none() {
                    return;
                }
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(hold);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                );
            });
        }
    });
    (format!("http://{addr}"), max_out)
}

#[test]
fn a_together_group_of_32_is_in_flight_at_once() {
    // Held long enough that every handler thread has woken and counted its
    // request before the first lets go, even on a loaded machine.
    let (base, max) = holding_handler(Duration::from_secs(1));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(&cfg, format!("default_target: h\ntargets:\n  h:\n    webhook: {base}/webhook\n    secret_env: LUOTA_RACE_SECRET\ndefaults:\n  settle: 50ms\n")).unwrap();
    let d = dir.path().join("d.yaml");
    std::fs::write(&d, "drill: 32 together\nevents:\n  e: { type: checkout.session.completed }\ndeliver:\n  - send: e\n    copies: 32\n    together: true\n").unwrap();
    Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("LUOTA_RACE_SECRET", "whsec_race")
        .status(0)
        .run();
    let most = max.load(Ordering::SeqCst);
    assert!(
        most >= 28,
        "only {most} of 32 requests were in flight at the handler at once"
    );
}

#[test]
fn the_d2_drill_catches_a_20ms_window_in_19_of_20_runs() {
    // 20 copies of the shipped D2 drill with a short window (a failing run
    // waits out `within`), run one at a time against one demo with the fault.
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(repo().join("drills/concurrent-duplicates.yaml")).unwrap();
    let fast = src.replace("within: 10s", "within: 1500ms");
    assert_ne!(fast, src, "the D2 drill's window changed; update this test");
    for i in 0..20 {
        std::fs::write(
            dir.path().join(format!("d2-{i:02}.yaml")),
            format!("settle: 300ms\n{fast}"),
        )
        .unwrap();
    }
    let json = dir.path().join("r.json");
    Test::new()
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--jobs",
            "1",
            "--demo-fault",
            "non-atomic-dedupe",
            "--report-json",
            json.to_str().unwrap(),
        ])
        .status(1)
        .run();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let caught = report["drills"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["verdict"] == "failed")
        .count();
    assert!(
        caught >= 19,
        "the D2 drill caught the 20 ms window in only {caught} of 20 runs"
    );
}
