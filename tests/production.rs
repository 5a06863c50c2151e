//! Never hurt production: one test per safety rail (see `src/safety.rs`),
//! each proving the refusal says why and how to proceed, exits 3, and that
//! nothing reached the loopback handler. Plus `run --dry-run`, which renders
//! and signs everything and sends nothing.

mod builder;
mod hostile_server;

use std::path::Path;

use builder::{repo, Ran, Test};
use hostile_server::{Mode, Server};

const SECRET: &str = "whsec_production_test_never_print_0123456789";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// A config with one target `t`; `extra` is appended to the target's keys.
fn config(dir: &Path, webhook: &str, extra: &str, tail: &str) -> String {
    write(
        dir,
        "luota.yaml",
        &format!("default_target: t\ntargets:\n  t:\n    webhook: {webhook}\n    secret_env: LUOTA_PROD_SECRET\n{extra}defaults:\n  timeout: 2s\n  settle: 50ms\n{tail}"),
    )
}

const SIMPLE: &str = "drill: simple\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n";

fn run(dir: &Path, cfg: &str, drill: &str, secret: &str, code: i32) -> Ran {
    let json = dir.join("r.json");
    let ran = Test::new()
        .args([
            "run",
            drill,
            "--config",
            cfg,
            "--report-json",
            json.to_str().unwrap(),
        ])
        .env("LUOTA_PROD_SECRET", secret)
        .status(code)
        .run();
    for text in [&ran.stdout, &ran.stderr] {
        assert!(!text.contains(secret), "secret printed:\n{text}");
    }
    ran
}

fn both(r: &Ran) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

#[test]
fn rule_webhook_host_not_allowed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "https://billing.example.com/webhook", "", "");
    let d = write(dir.path(), "d.yaml", SIMPLE);
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("host `billing.example.com`"), "{out}");
    assert!(out.contains("safety.allowed_hosts"), "says how: {out}");
}

#[test]
fn rule_setup_call_host_not_allowed_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(
        dir.path(),
        "d.yaml",
        &format!(
            "{SIMPLE}setup:\n  - http: POST https://api.example.com/users\n    json: {{ a: 1 }}\n"
        ),
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("host `api.example.com`"), "{out}");
    assert!(out.contains("safety.allowed_hosts"), "{out}");
    assert_eq!(server.connections(), 0, "nothing may be sent");
}

#[test]
fn rule_check_url_host_not_allowed_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(
        dir.path(),
        "d.yaml",
        &format!("{SIMPLE}expect:\n  within: 1s\n  checks:\n    - name: state\n      http: GET https://internal.example.com/users/1\n      json: {{ $.ok: true }}\n"),
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("host `internal.example.com`"), "{out}");
    assert_eq!(server.connections(), 0, "nothing may be sent");
}

#[test]
fn rule_production_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(
        dir.path(),
        &server.url("/webhook"),
        "    environment: production\n",
        "",
    );
    let d = write(dir.path(), "d.yaml", SIMPLE);
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("`environment: production`"), "{out}");
    assert!(out.contains("--target"), "says how to proceed: {out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_livemode_set_in_data_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(
        dir.path(),
        "d.yaml",
        "drill: live\nevents:\n  e:\n    type: invoice.paid\n    set: { livemode: true }\ndeliver:\n  - send: e\n",
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("`livemode: true`"), "{out}");
    assert!(out.contains("remove `livemode: true`"), "{out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_livemode_in_a_payload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(
        dir.path(),
        "d.yaml",
        "drill: live\nevents:\n  e:\n    payload:\n      object: event\n      type: invoice.paid\n      livemode: true\n      created: 1700000000\n      data: { object: { object: invoice, id: in_1 } }\ndeliver:\n  - send: e\n",
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("`livemode: true`"), "{out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_live_key_as_the_signing_secret_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(dir.path(), "d.yaml", SIMPLE);
    let live = "sk_live_51Habcdefghijklmnop_do_not_print";
    let out = both(&run(dir.path(), &cfg, &d, live, 3));
    assert!(out.contains("the value of `LUOTA_PROD_SECRET`"), "{out}");
    assert!(out.contains("live Stripe key"), "{out}");
    assert!(!out.contains("51Habcdefghijklmnop"), "never quoted: {out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_live_key_in_a_configured_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(
        dir.path(),
        &server.url("/webhook"),
        "    headers: { Authorization: \"Bearer rk_live_abcdefg_do_not_print\" }\n",
        "",
    );
    let d = write(dir.path(), "d.yaml", SIMPLE);
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("header `Authorization`"), "{out}");
    assert!(!out.contains("abcdefg_do_not_print"), "{out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_live_key_reaching_a_header_through_env_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(
        dir.path(),
        &server.url("/webhook"),
        "    headers: { Authorization: \"Bearer {{ env.LUOTA_PROD_TOKEN }}\" }\n",
        "",
    );
    let d = write(
        dir.path(),
        "d.yaml",
        &format!("{SIMPLE}setup:\n  - http: POST {{{{ target.app }}}}/users\n"),
    );
    let json = dir.path().join("r.json");
    let ran = Test::new()
        .args(["run", &d, "--config", &cfg])
        .args(["--report-json", json.to_str().unwrap()])
        .env("LUOTA_PROD_SECRET", SECRET)
        .env("LUOTA_PROD_TOKEN", "sk_live_token_do_not_print")
        .status(3)
        .run();
    let out = both(&ran);
    assert!(out.contains("the header `Authorization`"), "{out}");
    assert!(!out.contains("token_do_not_print"), "{out}");
    assert!(!std::fs::read_to_string(&json)
        .unwrap()
        .contains("token_do_not_print"));
    assert_eq!(server.connections(), 0);
}

#[test]
fn rule_plain_http_to_a_non_loopback_host_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "d.yaml", SIMPLE);
    let allowed = "safety:\n  allowed_hosts: [staging.example.test]\n";
    let cfg = config(
        dir.path(),
        "http://staging.example.test/webhook",
        "",
        allowed,
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("plain http"), "{out}");
    assert!(out.contains("allow_plain_http: true"), "says how: {out}");
    // The flag lifts exactly this rule (dry run: nothing may go to that host).
    let cfg = config(
        dir.path(),
        "http://staging.example.test/webhook",
        "    allow_plain_http: true\n",
        allowed,
    );
    Test::new()
        .args(["run", &d, "--config", &cfg, "--dry-run"])
        .env("LUOTA_PROD_SECRET", SECRET)
        .status(0)
        .stdout_has("POST http://staging.example.test/webhook")
        .run();
}

#[test]
fn rule_plain_http_check_url_to_a_non_loopback_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let allowed = "safety:\n  allowed_hosts: [internal.example.test]\n";
    let cfg = config(dir.path(), &server.url("/webhook"), "", allowed);
    let d = write(
        dir.path(),
        "d.yaml",
        &format!("{SIMPLE}expect:\n  within: 1s\n  checks:\n    - name: state\n      http: GET http://internal.example.test/users/1\n      json: {{ $.ok: true }}\n"),
    );
    let out = both(&run(dir.path(), &cfg, &d, SECRET, 3));
    assert!(out.contains("plain http"), "{out}");
    assert_eq!(server.connections(), 0);
}

#[test]
fn dry_run_renders_and_signs_but_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(dir.path(), &server.url("/webhook"), "", "");
    let d = write(
        dir.path(),
        "d.yaml",
        "drill: dry\nvars:\n  user: \"user_{{ run.uid }}\"\nsetup:\n  - http: POST {{ target.app }}/users\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n  - send: e\n    signature: stale\nexpect:\n  within: 1s\n  checks:\n    - name: state\n      http: GET {{ target.app }}/users/{{ user }}\n      json: { $.ok: true }\n",
    );
    let ran = Test::new()
        .args(["run", &d, "--config", &cfg, "--dry-run"])
        .env("LUOTA_PROD_SECRET", SECRET)
        .status(0)
        .stdout_has(format!("POST {}", server.url("/webhook")))
        .stdout_has("invoice.paid")
        .stdout_has("signature valid (t=")
        .stdout_has("signature stale")
        .stdout_has(format!("setup   POST {}", server.url("/users")))
        .stdout_has("check state")
        .stdout_has("nothing was sent")
        .stdout_lacks(SECRET)
        .stdout_lacks("v1=")
        .run();
    assert!(ran.stdout.contains("evt_"), "{}", ran.stdout);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(server.connections(), 0, "a dry run sends nothing at all");
}

#[test]
fn dry_run_of_the_shipped_drills_against_demo_exits_0() {
    Test::new()
        .args(["run", "--dry-run"])
        .current_dir(repo())
        .status(0)
        .stdout_has("every drill rendered and signed")
        .run();
}

/// Regression: a `database_env` URL on a host outside the allowed hosts was
/// connected to (the SQL check then failed as an outcome).
#[test]
fn rule_database_host_not_allowed_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Mode::Ok, 0);
    let cfg = config(
        dir.path(),
        &server.url("/webhook"),
        "    database_env: LUOTA_PROD_DB\n",
        "",
    );
    let d = write(
        dir.path(),
        "d.yaml",
        &format!(
            "{SIMPLE}expect:\n  checks:\n    - name: a row\n      sql: SELECT 1\n      equals: 1\n"
        ),
    );
    let json = dir.path().join("r.json");
    let ran = Test::new()
        .args([
            "run",
            &d,
            "--config",
            &cfg,
            "--report-json",
            json.to_str().unwrap(),
        ])
        .env("LUOTA_PROD_SECRET", SECRET)
        .env(
            "LUOTA_PROD_DB",
            "postgres://u:dbpass1234@db.example.com:5432/app",
        )
        .status(3)
        .run();
    let out = both(&ran);
    assert!(out.contains("host `db.example.com`"), "{out}");
    assert!(out.contains("safety.allowed_hosts"), "{out}");
    assert!(!out.contains("dbpass1234"), "password printed: {out}");
    assert_eq!(server.connections(), 0, "nothing may be sent");
}
