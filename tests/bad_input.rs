//! Regressions from trying to break luota with bad input (and from a first
//! use by the README alone), one test per find:
//! each bad input is a located diagnostic (exit 2) or a clear refusal, the
//! other drills still run, and nothing blocks, loops or panics.

mod builder;

use std::path::Path;

use builder::Test;

/// Accepted by the demo either way (it answers 409 to an invoice it cannot link yet).
const GOOD: &str = "drill: good\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n    expect_status: [200, 409]\n";

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `within: 18446744073709551615s` validated, then panicked the run with
/// "overflow when adding duration to instant", reported as interrupted (130).
#[test]
fn a_huge_duration_is_a_located_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "huge.yaml",
        &format!("{GOOD}expect:\n  within: 18446744073709551615s\n  checks: []\n"),
    );
    write(dir.path(), "good.yaml", GOOD);
    let json = dir.path().join("r.json");
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["run", ".", "--snapshots", "ignore", "--report-json"])
        .arg(json.to_str().unwrap())
        .status(2)
        .stdout_has("1 passed, 0 failed, 0 errored, 1 invalid")
        .run();
    assert!(ran.stderr.contains("huge.yaml:8:"), "{}", ran.stderr);
    assert!(ran.stderr.contains("at most 24h"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    assert!(json.exists(), "the report is still written");
}

/// A folder symlinked into itself was walked until the OS gave up, running
/// the one real drill 41 times.
#[cfg(unix)]
#[test]
fn a_symlink_loop_in_a_drill_folder_runs_each_drill_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "loop/real.yaml", GOOD);
    std::fs::create_dir_all(dir.path().join("loop/sub")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("loop/sub/up")).unwrap();
    std::os::unix::fs::symlink("real.yaml", dir.path().join("loop/again.yaml")).unwrap();
    Test::new()
        .current_dir(dir.path())
        .args(["validate", "loop"])
        .status(0)
        .stdout_has("1 drill file: 1 valid, 0 invalid")
        .run();
}

/// A FIFO named like a drill made `validate` and `run` block forever, and a
/// symlink to /dev/zero read until memory ran out.
#[cfg(unix)]
#[test]
fn a_fifo_or_device_named_like_a_drill_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d/good.yaml", GOOD);
    let fifo = dir.path().join("d/pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("d/zero.yaml")).unwrap();
    // An event file that is a FIFO, too.
    write(
        dir.path(),
        "d/event-file.yaml",
        "drill: event from a fifo\nevents:\n  e: { file: pipe.yaml }\ndeliver:\n  - send: e\n",
    );
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["validate", "d"])
        .status(2)
        .stdout_has("4 drill files: 1 valid, 3 invalid")
        .run();
    assert!(ran.stderr.contains("not a regular file"), "{}", ran.stderr);
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["run", "d", "--snapshots", "ignore"])
        .status(2)
        .run();
    assert!(
        ran.stdout
            .contains("1 passed, 0 failed, 0 errored, 3 invalid"),
        "{}",
        ran.stdout
    );
    assert!(ran.stderr.contains("not a regular file") || ran.stdout.contains("not a regular file"));
}

/// A drill file larger than the cap is refused with its size, not read whole.
#[test]
fn an_oversized_drill_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::from(GOOD);
    big.push('#');
    big.push_str(&"x".repeat(5 * 1024 * 1024));
    big.push('\n');
    write(dir.path(), "big.yaml", &big);
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["validate", "big.yaml"])
        .status(2)
        .run();
    assert!(ran.stderr.contains("larger than 4 MiB"), "{}", ran.stderr);
}

/// Regression: a SQL check on a target without `database_env` polled for
/// `within` and then failed as an incident; it is a precondition (exit 3).
#[test]
fn a_sql_check_without_a_database_is_errored_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "luota.yaml",
        "default_target: local\ntargets:\n  local:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: LUOTA_BAD_INPUT_SECRET\n",
    );
    write(
        dir.path(),
        "sql.yaml",
        &format!("{GOOD}expect:\n  within: 20s\n  checks:\n    - name: a row\n      sql: SELECT 1\n      equals: 1\n"),
    );
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["run", "sql.yaml", "--snapshots", "ignore"])
        .env("LUOTA_BAD_INPUT_SECRET", "whsec_bad_input")
        .status(3)
        .run();
    assert!(ran.stdout.contains("set `database_env`"), "{}", ran.stdout);
    assert!(
        !ran.stdout.contains("could not connect"),
        "nothing was sent: {}",
        ran.stdout
    );
}

/// Regression: `validate --target nope` quietly used the demo's settings.
#[test]
fn validate_with_an_unknown_target_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yaml", GOOD);
    Test::new()
        .current_dir(dir.path())
        .args(["validate", "good.yaml", "--target", "nope"])
        .status(2)
        .stderr_has("unknown target `nope`; targets: `demo`")
        .run();
}

/// Regression: with a non-demo `default_target`, `run --demo-fault X` said
/// "--demo-fault only applies to the demo target" instead of using it.
#[test]
fn demo_fault_picks_the_demo_target_over_the_configured_default() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "luota.yaml",
        "default_target: local\ntargets:\n  local:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: LUOTA_BAD_INPUT_UNSET\n",
    );
    write(dir.path(), "good.yaml", GOOD);
    Test::new()
        .current_dir(dir.path())
        .args(["run", "good.yaml", "--demo-fault", "no-idempotency"])
        .status(0)
        .stdout_has("target `demo`")
        .run();
    Test::new()
        .current_dir(dir.path())
        .args([
            "run",
            "good.yaml",
            "--demo-fault",
            "no-idempotency",
            "--target",
            "local",
        ])
        .status(2)
        .stderr_has("pass --target demo")
        .run();
}

/// Regression: `luota demo` stopped with SIGTERM left its temporary SQLite
/// files behind (only Ctrl-C cleaned up).
#[cfg(unix)]
#[test]
fn demo_stopped_with_sigterm_removes_its_temporary_database() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_luota"))
        .args(["demo", "--port", &port.to_string()])
        .env("LUOTA_DEMO_SECRET", "whsec_bad_input_demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let db = loop {
        let line = lines.next().expect("the demo prints its database").unwrap();
        if let Some(url) = line.trim().strip_prefix("database: sqlite://") {
            break std::path::PathBuf::from(url);
        }
    };
    assert!(db.exists(), "{} while the demo runs", db.display());
    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "demo did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!db.exists(), "{} left behind", db.display());
}

/// Regression: an invalid luota.yaml (or an unknown --target) wrote none of
/// the requested reports, so CI found no JUnit file instead of an error.
#[test]
fn an_invalid_config_still_writes_the_requested_reports() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "luota.yaml",
        "default_target: demo\ndrillz: drills\n",
    );
    write(dir.path(), "good.yaml", GOOD);
    let ran = Test::new()
        .current_dir(dir.path())
        .args([
            "run",
            "good.yaml",
            "--report-json",
            "r.json",
            "--report-junit",
            "r.xml",
        ])
        .args(["--report-markdown", "r.md"])
        .status(2)
        .run();
    assert!(ran.stderr.contains("luota.yaml:2:1"), "{}", ran.stderr);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["drills"][0]["verdict"], "invalid");
    assert!(json["drills"][0]["errors"][0]
        .as_str()
        .unwrap()
        .contains("luota.yaml:2:1"));
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(xml.contains("luota.yaml"), "{xml}");
    assert!(std::fs::read_to_string(dir.path().join("r.md"))
        .unwrap()
        .contains("invalid"));

    // An unknown target: every drill is reported invalid, with why.
    write(dir.path(), "luota.yaml", "default_target: demo\n");
    Test::new()
        .current_dir(dir.path())
        .args([
            "run",
            "good.yaml",
            "--target",
            "nope",
            "--report-json",
            "t.json",
        ])
        .status(2)
        .stderr_has("unknown target `nope`")
        .run();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.json")).unwrap()).unwrap();
    assert_eq!(json["drills"][0]["verdict"], "invalid");
    assert!(json["drills"][0]["errors"][0]
        .as_str()
        .unwrap()
        .contains("unknown target"));
}

/// Regression (found by a first-time user): a secret pasted as the value of
/// `secret_env` (instead of the variable's name) was printed in "the
/// variable `whsec_…` is not set" and written into every report.
#[test]
fn a_secret_pasted_as_secret_env_is_refused_and_never_shown() {
    const PASTED: &str = "whsec_pasted_by_mistake_0123456789";
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(
        &cfg,
        format!("default_target: s\ntargets:\n  s:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: {PASTED}\n"),
    )
    .unwrap();
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let ran = Test::new()
        .args([
            "run",
            "drills/checkout-grants-access.yaml",
            "--config",
            cfg.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
            "--report-markdown",
            md.to_str().unwrap(),
        ])
        .status(2)
        .stderr_has("looks like the secret itself")
        .stderr_has("luota.yaml:5:")
        .run();
    let all = format!(
        "{}{}{}{}",
        ran.stdout,
        ran.stderr,
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&md).unwrap()
    );
    assert!(!all.contains("pasted_by_mistake"), "{all}");
    Test::new()
        .args([
            "validate",
            "--config",
            cfg.to_str().unwrap(),
            "drills/checkout-grants-access.yaml",
        ])
        .status(2)
        .stderr_has("secret_env")
        .run();
}
