//! Never lose a report: Ctrl-C (SIGINT) and SIGTERM mid-run stop sending,
//! write the JSON report with the finished drills and the interrupted one
//! marked `interrupted`, and exit 130. Report files are replaced atomically:
//! a reader sees the old report or the complete new one, never a part, and
//! no temp file is left behind (the argument is in `report::write_atomic`).

#![cfg(unix)]

mod builder;
mod hostile_server;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use builder::{repo, Test};
use hostile_server::{Mode, Server};
use serde_json::Value;

const SECRET: &str = "whsec_interrupt_test_never_print_0123456789";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn config(dir: &Path, server: &Server) -> String {
    write(
        dir,
        "luota.yaml",
        &format!(
            "default_target: h\ntargets:\n  h:\n    webhook: {}\n    secret_env: LUOTA_INT_SECRET\ndefaults:\n  timeout: 2s\n  settle: 50ms\n",
            server.url("/webhook")
        ),
    )
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_luota"))
        .args(args)
        .env_remove("CI")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("LUOTA_INT_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_bounded(child: &mut Child, bound: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            panic!("luota did not exit within {bound:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run a fast drill then a slow one (its second delivery waits 60 s); once
/// the fast one has printed its verdict and the slow one has sent its first
/// delivery, send `signal`.
fn interrupted_run(signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server);
    let fast = write(
        dir.path(),
        "fast.yaml",
        "drill: finishes first\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    );
    let slow = write(
        dir.path(),
        "slow.yaml",
        "drill: still running\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n  - send: e\n    after: 60s\n",
    );
    let later = write(
        dir.path(),
        "later.yaml",
        "drill: never started\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    );
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let md = dir.path().join("r.md");
    let evidence = dir.path().join("evidence");
    let mut child = spawn(&[
        "run",
        &fast,
        &slow,
        &later,
        "--jobs",
        "1",
        "--config",
        &cfg,
        "--report-json",
        json.to_str().unwrap(),
        "--report-junit",
        junit.to_str().unwrap(),
        "--report-markdown",
        md.to_str().unwrap(),
        "--evidence",
        evidence.to_str().unwrap(),
    ]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "stdout ended early: {seen}"
        );
        seen.push_str(&line);
        if line.contains("PASS") && line.contains("finishes first") {
            break;
        }
    }
    let start = Instant::now();
    while server.paths().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "slow drill never sent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The slow drill's first delivery has arrived; give luota a moment to
    // read its answer (it then waits 60 s), so the evidence holds it.
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill(2) on our own child's pid, which it has not been reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    // Bounded: the slow drill's 60 s wait must not be waited out.
    let code = wait_bounded(&mut child, Duration::from_secs(20));
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    assert_eq!(code, 130, "exit code after {signal}\n{seen}{rest}");
    assert_eq!(server.connections(), 2, "nothing was sent after the signal");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["drills"][0]["verdict"], "passed", "{report:#}");
    assert_eq!(report["drills"][1]["verdict"], "interrupted", "{report:#}");
    // It still says who it was and what it had sent (regression: the
    // record was empty, so the ids that reached the app were in no report).
    let cut = &report["drills"][1];
    assert!(!cut["run_uid"].as_str().unwrap().is_empty(), "{cut:#}");
    let id = cut["events"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("evt_"), "{cut:#}");
    // The drill that never started says so, and the terminal lists both.
    assert_eq!(report["drills"][2]["verdict"], "interrupted", "{report:#}");
    assert_eq!(
        report["drills"][2]["errors"][0], "interrupted before the drill started",
        "{report:#}"
    );
    assert!(
        rest.contains("INTERRUPTED still running") && rest.contains("INTERRUPTED never started"),
        "{seen}{rest}"
    );
    assert!(!std::fs::read_to_string(&json).unwrap().contains(SECRET));
    // Every requested report, not only JSON, holds both drills.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("finishes first") && xml.contains("still running"),
        "{xml}"
    );
    assert!(xml.to_lowercase().contains("interrupted"), "{xml}");
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(
        summary.contains("finishes first") && summary.contains("still running"),
        "{summary}"
    );
    assert!(summary.to_lowercase().contains("interrupted"), "{summary}");
    // The interrupted drill's evidence holds the delivery it had sent
    // (it used to be dropped with the drill's task).
    let files: Vec<String> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 2, "one evidence file a drill: {files:#?}");
    let slow = files
        .iter()
        .find(|f| f.contains("still running"))
        .expect("the interrupted drill's evidence");
    assert!(
        slow.to_lowercase().contains("verdict: interrupted"),
        "{slow}"
    );
    assert!(slow.contains("entries: 1 "), "{slow}");
    assert!(
        slow.contains(&id),
        "the evidence shows the event sent: {slow}"
    );
    assert!(
        slow.contains("Stripe-Signature") || slow.contains("stripe-signature"),
        "{slow}"
    );
    assert!(files.iter().all(|f| !f.contains(SECRET)));
    no_temp_files(dir.path());
}

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
fn sigint_mid_run_writes_the_report_and_exits_130() {
    interrupted_run(libc::SIGINT);
}

#[test]
fn sigterm_mid_run_writes_the_report_and_exits_130() {
    interrupted_run(libc::SIGTERM);
}

#[test]
fn a_report_is_replaced_whole_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let old = b"{\"old\": \"report from an earlier run\"}".to_vec();
    std::fs::write(&json, &old).unwrap();
    let drill = repo().join("drills/checkout-grants-access.yaml");
    let mut child = spawn(&[
        "run",
        drill.to_str().unwrap(),
        "--report-json",
        json.to_str().unwrap(),
    ]);
    // Read the report as fast as we can while luota runs and replaces it:
    // every read is the old file or a complete new one.
    let (mut reads_old, mut reads_new) = (0u32, 0u32);
    loop {
        let done = child.try_wait().unwrap().is_some();
        let bytes = std::fs::read(&json).unwrap();
        if bytes == old {
            reads_old += 1;
        } else {
            let v: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("a partial report was visible: {e}"));
            assert_eq!(v["schema_version"], 1);
            reads_new += 1;
        }
        if done {
            break;
        }
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(
        reads_old > 0 && reads_new > 0,
        "{reads_old} old, {reads_new} new"
    );
    no_temp_files(dir.path());
}

#[test]
fn sigkill_mid_run_leaves_the_old_report_or_a_whole_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let old = b"{\"old\": true}".to_vec();
    let drill = repo().join("drills/checkout-grants-access.yaml");
    // Kill at spread-out moments of a run (start-up, delivery, checks, the
    // report write at the end); whatever is on disk afterwards is whole.
    for delay_ms in [50u64, 300, 800, 1500, 2500] {
        std::fs::write(&json, &old).unwrap();
        let mut child = spawn(&[
            "run",
            drill.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let bytes = std::fs::read(&json).unwrap();
        if bytes != old {
            let v: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("half a report after SIGKILL at {delay_ms} ms: {e}"));
            assert_eq!(v["schema_version"], 1);
        }
    }
}

#[test]
fn interrupted_verdict_is_listed_by_the_plain_command_too() {
    // The exit-code table documents 130 for interrupts.
    Test::new()
        .args(["run", "--help"])
        .status(0)
        .stdout_has("130")
        .run();
}

/// Regression (found by a breaker): a signal while the deploy SHA was read
/// from a version URL that did not answer was heard only after that read's
/// timeout (20 s here). Now the run stops at once, writes the reports with
/// every drill `interrupted`, and exits 130.
#[test]
fn a_signal_while_the_deploy_sha_is_read_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let webhook = Server::start(Mode::Ok, 0);
    let version = Server::start(Mode::Hang, usize::MAX);
    let cfg = write(
        dir.path(),
        "luota.yaml",
        &format!(
            "default_target: h\ntargets:\n  h:\n    webhook: {}\n    secret_env: LUOTA_INT_SECRET\n    deploy_sha: {{ url: \"{}\", json: $.sha }}\ndefaults:\n  timeout: 20s\n",
            webhook.url("/webhook"),
            version.url("/version")
        ),
    );
    let drill = write(
        dir.path(),
        "d.yaml",
        "drill: never starts\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    );
    let json = dir.path().join("r.json");
    let mut child = spawn(&[
        "run",
        &drill,
        "--config",
        &cfg,
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let start = Instant::now();
    while version.paths().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "no version read");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    // Well inside the 20 s read timeout (not a speed claim: only that the
    // signal is not held until the read gives up).
    let code = wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(code, 130);
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["drills"][0]["verdict"], "interrupted", "{report:#}");
    assert!(webhook.paths().is_empty(), "nothing was delivered");
}

/// Regression (found by a breaker): a drill interrupted while its delivery
/// waited for an answer left no evidence at all, though the request had
/// reached the handler. Now the evidence holds it, marked in flight — for a
/// single send and for a `together` group.
#[test]
fn a_delivery_in_flight_at_the_signal_is_in_the_evidence() {
    for (deliver, requests) in [
        ("  - send: e\n", 1),
        ("  - send: e\n    copies: 2\n    together: true\n", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(Mode::Hang, usize::MAX);
        let cfg = write(
            dir.path(),
            "luota.yaml",
            &format!(
                "default_target: h\ntargets:\n  h:\n    webhook: {}\n    secret_env: LUOTA_INT_SECRET\ndefaults:\n  timeout: 30s\n",
                server.url("/webhook")
            ),
        );
        let drill = write(
            dir.path(),
            "d.yaml",
            &format!("drill: waits for its answer\nevents:\n  e: {{ type: invoice.paid }}\ndeliver:\n{deliver}"),
        );
        let evidence = dir.path().join("evidence");
        let mut child = spawn(&[
            "run",
            &drill,
            "--config",
            &cfg,
            "--evidence",
            evidence.to_str().unwrap(),
        ]);
        let start = Instant::now();
        while server.paths().len() < requests {
            assert!(start.elapsed() < Duration::from_secs(30), "nothing arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped.
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
            0
        );
        assert_eq!(wait_bounded(&mut child, Duration::from_secs(20)), 130);
        let files: Vec<String> = std::fs::read_dir(&evidence)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(files.len(), 1, "{files:#?}");
        let text = &files[0];
        assert!(text.contains(&format!("entries: {requests} ")), "{text}");
        assert_eq!(
            text.matches("the run stopped while this request was in flight")
                .count(),
            requests,
            "{text}"
        );
        assert!(!text.contains(SECRET));
    }
}
