//! Reports end to end: every renderer on passed, failed, errored, invalid and
//! control runs (insta snapshots), the JUnit file parsed back, the incident's
//! fields in every format, no secret in any output, `$GITHUB_STEP_SUMMARY`
//! appended, the outcome-snapshot workflow, and `--shard`.

mod builder;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use builder::{repo, Test};
use luota::record::RunRecord;
use luota::report::{json, junit, markdown, terminal};

/// Never allowed in any output.
const SECRET: &str = "whsec_reports_never_print_this_0123456789";
const TOKEN: &str = "internal-token-never-print-this-42";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// A control drill: the purchase is never linked, so access must not appear.
const CONTROL: &str = "drill: Checks notice a checkout that is never linked to a user
control: true
settle: 200ms
owner: billing-oncall
vars:
  user: \"user_{{ run.uid }}\"
setup:
  - http: POST {{ target.app }}/test/users
    json: { id: \"{{ user }}\", email: \"{{ user }}@example.test\" }
events:
  checkout:
    type: checkout.session.completed
    set:
      customer: \"cus_{{ run.uid }}\"
    remove: [client_reference_id]
deliver:
  - send: checkout
    expect_status: [2xx, 4xx, 5xx]
expect:
  within: 1s
  checks:
    - name: customer has Pro access
      stage: access
      http: GET {{ target.app }}/internal/users/{{ user }}
      json: { $.access: full }
";

fn run_json(args: &[&str], env: &[(&str, &str)], status: i32) -> RunRecord {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut t = Test::new()
        .args(args)
        .args([
            "--snapshots",
            "ignore",
            "--report-json",
            json.to_str().unwrap(),
        ])
        .status(status);
    for (k, v) in env {
        t = t.env(k, v);
    }
    t.run();
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

/// Zero every time and replace every run-unique id, so renders are stable.
fn normalize(mut run: RunRecord) -> RunRecord {
    run.started_at = 0;
    run.duration_ms = 0;
    for d in &mut run.drills {
        d.duration_ms = 0;
        for e in &mut d.events {
            e.created = 0;
        }
        for s in &mut d.steps {
            s.polls = 0;
            s.first_held_ms = s.first_held_ms.map(|_| 0);
            s.polled_ms = s.polled_ms.map(|_| 0);
            for c in &mut s.setup {
                c.latency_ms = 0.0;
            }
            for x in &mut s.deliveries {
                x.latency_ms = 0.0;
                x.timestamp = x.timestamp.map(|_| 0);
                x.written_at_us = x.written_at_us.map(|_| 0);
            }
            for g in &mut s.groups {
                g.spread_us = 0;
            }
        }
        d.incident = luota::report::incident::derive(d, run.deploy.as_ref());
    }
    run
}

fn settings(run: &RunRecord) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for d in &run.drills {
        for uid in d.run_uid.split(',').filter(|u| !u.is_empty()) {
            s.add_filter(&regex_escape(uid), "[uid]");
        }
    }
    // Template ids carry the uid and a random tail (sub_<uid>NQF1ROyx...).
    s.add_filter(r"\[uid\][A-Za-z0-9]+", "[uid]");
    s.add_filter(r#""bytes": \d+"#, r#""bytes": [n]"#);
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(r#"/tmp/[^\s"'`)<|]+/"#, "[tmp]/");
    s.add_filter(r"luota-\d+\.\d+\.\d+", "luota-[version]");
    s.add_filter(
        r#""luota_version": "[^"]+""#,
        r#""luota_version": "[version]""#,
    );
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn snapshot_all(name: &str, run: RunRecord) {
    let run = normalize(run);
    settings(&run).bind(|| {
        insta::assert_snapshot!(format!("{name}_terminal"), terminal::render(&run));
        insta::assert_snapshot!(format!("{name}_markdown"), markdown::render(&run));
        insta::assert_snapshot!(format!("{name}_junit"), junit::render(&run));
        insta::assert_snapshot!(format!("{name}_json"), json::render(&run));
    });
}

#[test]
fn renderers_on_passed_control_and_invalid_drills() {
    let dir = tempfile::tempdir().unwrap();
    let control = write(dir.path(), "control.yaml", CONTROL);
    let invalid = write(
        dir.path(),
        "invalid.yaml",
        "drill: typo\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\nexpect:\n  withn: 5s\n",
    );
    let run = run_json(
        &[
            "run",
            "drills/checkout-grants-access.yaml",
            &control,
            &invalid,
            "--jobs",
            "1",
        ],
        &[],
        2,
    );
    assert_eq!(run.drills[1].verdict, luota::record::Verdict::Passed);
    assert!(run.drills[1].control);
    snapshot_all("passed_control_invalid", run);
}

#[test]
fn renderers_on_a_failed_drill_show_every_incident_field() {
    let run = run_json(
        &[
            "run",
            "drills/payment-failure-grace.yaml",
            "--demo-fault",
            "payment-failure-ignored",
        ],
        &[],
        1,
    );
    let run = normalize(run);
    let i = run.drills[0].incident.clone().expect("an incident");
    let md = markdown::render(&run);
    let xml = junit::render(&run);
    let term = terminal::render(&run);
    let js = json::render(&run);
    // Every field of the incident, in every format.
    for text in [&md, &xml, &term, &js] {
        assert!(text.contains(&i.events[0].id), "event id");
        assert!(text.contains("invoice.payment_failed"), "event type");
        assert!(text.contains(i.customer.as_deref().unwrap()), "customer");
        assert!(
            text.contains(i.subscription.as_deref().unwrap()),
            "subscription"
        );
        assert!(text.contains("luota-"), "deploy sha");
        assert!(text.contains("did not happen: subscription is past due"));
        assert!(text.contains("billing-oncall"), "owner");
        assert!(text.to_lowercase().contains("rerun"), "rerun");
        assert!(
            text.contains("--demo-fault payment-failure-ignored"),
            "rerun command"
        );
    }
    for text in [&md, &xml, &term] {
        assert!(
            text.contains("expected grace (policy for status past_due), observed full")
                || text.contains("expected `grace` (policy for status past_due), observed `full`"),
            "access:\n{text}"
        );
        assert!(text.contains("broke at billing"), "spine:\n{text}");
        assert!(
            text.contains("unknown whether redelivery is safe"),
            "retry:\n{text}"
        );
        assert!(text.contains("polls over"), "polls:\n{text}");
    }
    assert_eq!(i.subscription_state.as_deref(), Some("active"));
    assert_eq!(i.retry.rule, 5);
    snapshot_all("failed", run);
}

#[test]
fn renderers_on_a_not_idempotent_drill_say_not_safe_to_redeliver() {
    let run = run_json(
        &[
            "run",
            "drills/replay-stays-idempotent.yaml",
            "--demo-fault",
            "no-idempotency",
        ],
        &[],
        1,
    );
    let i = run.drills[0].incident.clone().unwrap();
    assert_eq!(i.retry.rule, 2, "{i:#?}");
    assert!(i.failures.iter().any(|f| f.what.contains("not idempotent")));
}

/// A configured target; the 5 s client timeout leaves a loaded machine room
/// (no test here is about the timeout itself).
fn config(dir: &Path, webhook: &str, extra: &str) -> String {
    write(
        dir,
        "luota.yaml",
        &format!("default_target: local\ntargets:\n  local:\n    webhook: {webhook}\n    secret_env: LUOTA_TEST_SECRET\n{extra}defaults:\n  timeout: 5s\n  settle: 100ms\n"),
    )
}

#[test]
fn renderers_on_an_errored_drill() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(
        dir.path(),
        &format!("http://127.0.0.1:{port}/webhook"),
        "    deploy_sha: { env: LUOTA_TEST_DEPLOY }\n",
    );
    let drill = write(
        dir.path(),
        "reach.yaml",
        "drill: reach\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    );
    let run = run_json(
        &["run", &drill, "--config", &cfg],
        &[
            ("LUOTA_TEST_SECRET", SECRET),
            ("LUOTA_TEST_DEPLOY", "abc1234"),
        ],
        3,
    );
    assert_eq!(run.deploy.as_ref().unwrap().sha.as_deref(), Some("abc1234"));
    let xml = junit::render(&run);
    assert!(xml.contains("<error"), "{xml}");
    snapshot_all("errored", run);
}

/// Parse the JUnit file back and count one testcase per promise.
#[test]
fn junit_parses_and_holds_one_testcase_per_check() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("junit.xml");
    let json_path = dir.path().join("r.json");
    Test::new()
        .args([
            "run",
            "drills/payment-failure-grace.yaml",
            "drills/replay-stays-idempotent.yaml",
            "--demo-fault",
            "no-idempotency",
            "--report-junit",
            xml_path.to_str().unwrap(),
            "--report-json",
            json_path.to_str().unwrap(),
        ])
        .status(1)
        .run();
    let run: RunRecord = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(report.test_suites.len(), run.drills.len());
    for (suite, d) in report.test_suites.iter().zip(&run.drills) {
        assert_eq!(suite.name.as_str(), d.name);
        let mut expected = 0;
        for s in &d.steps {
            let mut lines: Vec<usize> = s.deliveries.iter().map(|x| x.line).collect();
            lines.dedup();
            expected += s.checks.len() + lines.len() + s.stable.len() + s.unchanged.len();
        }
        assert_eq!(suite.test_cases.len(), expected, "{}", d.name);
        let check_names: Vec<&str> = d
            .steps
            .iter()
            .flat_map(|s| &s.checks)
            .map(|c| c.name.as_str())
            .collect();
        for name in check_names {
            assert!(
                suite
                    .test_cases
                    .iter()
                    .any(|t| t.name.as_str().ends_with(name)),
                "a testcase for check `{name}`"
            );
        }
    }
    assert!(report.failures >= 2, "{xml}");
    assert!(xml.contains("retry: NOT safe to redeliver"));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Demo(Child);
impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_demo(port: u16, fault: &str) -> Demo {
    let child = Command::new(env!("CARGO_BIN_EXE_luota"))
        .args(["demo", "--port", &port.to_string(), "--fault", fault])
        .env("LUOTA_DEMO_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "demo did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Demo(child)
}

fn files_under(p: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A configured target whose secret and internal token come from env vars:
/// neither may appear in any report, snapshot or evidence file, or the output.
#[test]
fn no_secret_in_any_report_or_evidence_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _demo = serve_demo(port, "no-idempotency");
    let cfg = config(
        dir.path(),
        &format!("http://127.0.0.1:{port}/webhook"),
        "    headers: { Authorization: \"Bearer {{ env.LUOTA_TEST_TOKEN }}\", X-Internal: \"{{ env.LUOTA_TEST_TOKEN }}\" }\n    deploy_sha: { env: LUOTA_TEST_DEPLOY }\n",
    );
    let drill = dir.path().join("drills/replay.yaml");
    std::fs::create_dir_all(drill.parent().unwrap()).unwrap();
    std::fs::copy(repo().join("drills/replay-stays-idempotent.yaml"), &drill).unwrap();
    let out = dir.path().join("out");
    let o = |n: &str| out.join(n).to_str().unwrap().to_string();
    let summary = o("step-summary.md");
    let ran = Test::new()
        .current_dir(dir.path())
        .args([
            "run",
            drill.to_str().unwrap(),
            "--config",
            &cfg,
            "--report-json",
            &o("r.json"),
            "--report-junit",
            &o("r.xml"),
            "--report-markdown",
            &o("r.md"),
            "--evidence",
            &o("evidence"),
            "--snapshots",
            "update",
        ])
        .env("LUOTA_TEST_SECRET", SECRET)
        .env("LUOTA_TEST_TOKEN", TOKEN)
        .env("LUOTA_TEST_DEPLOY", "deadbeef")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .status(1)
        .run();
    let mut files = Vec::new();
    files_under(&out, &mut files);
    files_under(&dir.path().join("drills/__snapshots__"), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    let mut evidence = String::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains(SECRET),
            "the signing secret leaked into {f:?}"
        );
        assert!(
            !text.contains(TOKEN),
            "the internal token leaked into {f:?}"
        );
        if f.to_string_lossy().contains("evidence") {
            evidence.push_str(&text);
        }
    }
    for text in [&ran.stdout, &ran.stderr] {
        assert!(!text.contains(SECRET) && !text.contains(TOKEN));
    }
    // The evidence holds the real exchange: signed deliveries, answers, reads.
    assert!(evidence.contains("stripe-signature: t="), "{evidence}");
    assert!(evidence.contains("> POST /webhook HTTP/1.1"));
    assert!(evidence.contains("< HTTP 200"));
    assert!(evidence.contains("> GET /internal/users/user_"));
    assert!(
        evidence
            .to_lowercase()
            .contains("authorization: [redacted]"),
        "{evidence}"
    );
    assert!(
        evidence.contains("X-Internal: [redacted]") || evidence.contains("x-internal: [redacted]")
    );
    // The deploy SHA from the target's env var reaches the reports.
    assert!(std::fs::read_to_string(out.join("r.md"))
        .unwrap()
        .contains("deadbeef"));
    assert!(std::fs::read_to_string(&summary)
        .unwrap()
        .contains("## luota"));
}

#[test]
fn github_step_summary_is_appended_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write(dir.path(), "summary.md", "# earlier step\n");
    Test::new()
        .args(["run", "drills/checkout-grants-access.yaml"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .status(0)
        .run();
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("# earlier step\n"), "{text}");
    assert!(text.contains("## luota: 1 passed, 0 failed"), "{text}");
}

/// A changed outcome is a diff and exit 4; accept makes it pass; a missing
/// snapshot is pending (exit 0 locally, 4 under CI); review reads stdin.
#[test]
fn snapshot_workflow_detects_a_change_and_accept_makes_it_pass() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir_all(&drills).unwrap();
    let drill = drills.join("replay.yaml");
    let original =
        std::fs::read_to_string(repo().join("drills/replay-stays-idempotent.yaml")).unwrap();
    std::fs::write(&drill, &original).unwrap();
    let d = drill.to_str().unwrap();
    let snap = drills.join("__snapshots__/replay.demo.snap");
    let pending = drills.join("__snapshots__/replay.demo.snap.new");

    // Missing: pending, exit 0 locally, 4 under CI=true.
    Test::new()
        .args(["run", d])
        .env("CI", "true")
        .status(4)
        .stdout_has("NEW SNAPSHOT")
        .run();
    assert!(pending.exists() && !snap.exists());
    Test::new()
        .args(["run", d])
        .env("CI", "false")
        .status(0)
        .stdout_has("NEW SNAPSHOT")
        .run();
    // Review with piped input: accept it.
    Test::new()
        .args(["snapshots", "review", drills.to_str().unwrap()])
        .stdin("a\n")
        .status(0)
        .stdout_has("(new snapshot)")
        .stdout_has("1 accepted, 0 rejected, 0 skipped")
        .run();
    assert!(snap.exists() && !pending.exists());
    Test::new()
        .args(["run", d])
        .env("CI", "true")
        .status(0)
        .run();

    // Change the drill: one more replay copy. The outcome changes, the run exits 4.
    std::fs::write(&drill, original.replace("copies: 2", "copies: 3")).unwrap();
    Test::new()
        .args(["run", d])
        .env("CI", "true")
        .status(4)
        .stdout_has("SNAPSHOT CHANGED")
        .stdout_has("-   deliver line 3: `checkout` signature valid, expects 2xx: 2× 200 ok")
        .stdout_has("+   deliver line 3: `checkout` signature valid, expects 2xx: 3× 200 ok")
        .run();
    assert!(pending.exists());
    // Review can skip (EOF) and reject.
    Test::new()
        .args(["snapshots", "review", drills.to_str().unwrap()])
        .stdin("")
        .status(0)
        .stdout_has("0 accepted, 0 rejected, 1 skipped")
        .run();
    assert!(pending.exists());
    // Accept all, and the run passes.
    Test::new()
        .args(["snapshots", "accept", drills.to_str().unwrap()])
        .status(0)
        .stdout_has("1 accepted")
        .run();
    assert!(!pending.exists());
    assert!(std::fs::read_to_string(&snap).unwrap().contains("3× 200"));
    Test::new()
        .args(["run", d])
        .env("CI", "true")
        .status(0)
        .run();

    // A failure outranks a changed snapshot (exit 1, not 4).
    Test::new()
        .args([
            "run",
            d,
            "--demo-fault",
            "no-idempotency",
            "--snapshots",
            "check",
        ])
        .status(1)
        .stdout_has("SNAPSHOT CHANGED")
        .run();
    Test::new()
        .args(["snapshots", "reject", drills.to_str().unwrap()])
        .status(0)
        .stdout_has("1 rejected")
        .run();
    assert!(!pending.exists());
}

#[test]
fn shards_split_the_drills_without_overlap() {
    let mut seen = Vec::new();
    for k in ["1/2", "2/2"] {
        let run = run_json(&["run", "--shard", k], &[], 0);
        assert_eq!(run.shard.as_deref(), Some(k));
        seen.extend(run.drills.into_iter().map(|d| d.path));
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "no drill in two shards");
    let shipped = std::fs::read_dir(repo().join("drills"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert_eq!(n, shipped, "every drill in one shard");
}

/// A loopback app whose every answer is its version document.
fn version_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = s;
                let mut buf = [0u8; 65536];
                let mut got = Vec::new();
                // Read the head and whatever body came with it, then answer.
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
                let body = br#"{"version":{"sha":"9f8e7d6c"}}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(body);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// `deploy_sha: {url, json}` is read at run start and shown in the incident;
/// a version URL on a host that is not allowed is refused, never fetched.
#[test]
fn deploy_sha_is_read_from_a_version_url_and_its_host_must_be_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let app = version_server();
    let cfg = config(
        dir.path(),
        &format!("{app}/webhook"),
        &format!("    deploy_sha: {{ url: \"{app}/version\", json: \"$.version.sha\" }}\n"),
    );
    let drill = write(
        dir.path(),
        "d.yaml",
        "drill: a check that fails\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\nexpect:\n  within: 200ms\n  checks:\n    - name: the plan is enterprise\n      http: GET {{ target.app }}/state\n      json: { $.plan: enterprise }\n",
    );
    let run = run_json(
        &["run", &drill, "--config", &cfg],
        &[("LUOTA_TEST_SECRET", SECRET)],
        1,
    );
    let deploy = run.deploy.as_ref().unwrap();
    assert_eq!(deploy.sha.as_deref(), Some("9f8e7d6c"), "{deploy:?}");
    let incident = run.drills[0].incident.as_ref().unwrap();
    assert_eq!(incident.deploy_sha.as_deref(), Some("9f8e7d6c"));
    assert!(terminal::drill_detail(&run.drills[0]).contains("9f8e7d6c"));

    let cfg = config(
        dir.path(),
        &format!("{app}/webhook"),
        "    deploy_sha: { url: \"https://version.example.invalid/v\", json: \"$.sha\" }\n",
    );
    let run = run_json(
        &["run", &drill, "--config", &cfg],
        &[("LUOTA_TEST_SECRET", SECRET)],
        1,
    );
    let deploy = run.deploy.as_ref().unwrap();
    assert_eq!(deploy.sha, None);
    let why = deploy.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("allowed_hosts"),
        "refused with how to allow it: {why}"
    );
}

/// Regression: `snapshots review|accept FILE` acted on every pending
/// snapshot in the folder, and a path that does not exist was "no pending
/// snapshots", exit 0. Review with piped input also rejects (r).
#[test]
fn snapshot_commands_act_only_on_the_named_drill_and_review_can_reject() {
    let dir = tempfile::tempdir().unwrap();
    let drills = dir.path().join("drills");
    std::fs::create_dir_all(&drills).unwrap();
    let body = "events:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n    expect_status: [200, 409]\n";
    for name in ["one", "two", "three"] {
        std::fs::write(
            drills.join(format!("{name}.yaml")),
            format!("drill: {name}\n{body}"),
        )
        .unwrap();
    }
    Test::new()
        .args(["run", drills.to_str().unwrap()])
        .status(0)
        .run();
    let snaps = drills.join("__snapshots__");
    let pending = |n: &str| snaps.join(format!("{n}.demo.snap.new")).exists();
    let accepted = |n: &str| snaps.join(format!("{n}.demo.snap")).exists();
    assert!(pending("one") && pending("two") && pending("three"));
    Test::new()
        .args([
            "snapshots",
            "accept",
            drills.join("one.yaml").to_str().unwrap(),
        ])
        .status(0)
        .run();
    assert!(
        accepted("one") && pending("two") && !accepted("two"),
        "only one.yaml's"
    );
    Test::new()
        .args([
            "snapshots",
            "review",
            drills.join("two.yaml").to_str().unwrap(),
        ])
        .stdin("r\n")
        .status(0)
        .stdout_has("0 accepted, 1 rejected, 0 skipped")
        .run();
    assert!(!pending("two") && !accepted("two") && pending("three"));
    Test::new()
        .args([
            "snapshots",
            "accept",
            dir.path().join("nope").to_str().unwrap(),
        ])
        .status(2)
        .stderr_has("no such drill file or folder")
        .run();
}

/// The Markdown report's idempotency section lists every `stable` value,
/// first vs final: the held ones as well as the one that moved.
#[test]
fn markdown_shows_first_and_final_of_every_stable_value() {
    let run = run_json(
        &[
            "run",
            "drills/replay-stays-idempotent.yaml",
            "--demo-fault",
            "no-idempotency",
        ],
        &[],
        1,
    );
    let md = markdown::render(&run);
    assert!(md.contains("### Idempotency"), "{md}");
    assert!(
        md.contains("| `$.credits` | `100` | `400` | ❌ moved |"),
        "{md}"
    );
    let held = run_json(&["run", "drills/replay-stays-idempotent.yaml"], &[], 0);
    let md = markdown::render(&held);
    assert!(
        md.contains("| `$.credits` | `100` | `100` | ✅ held |"),
        "{md}"
    );
}
