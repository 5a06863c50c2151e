//! `sql:` checks against real servers: PostgreSQL and MariaDB (started by
//! `bash ci/test.sh`) and SQLite, through one driver. The webhook is a
//! loopback sink that answers 200; the state lives only in the database.

mod builder;
mod support;

use std::io::Write;
use std::net::TcpListener;

use builder::Test;
use support::loopback::read_request;

/// A loopback HTTP server that answers every request with 200 `{}`.
fn sink() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                if read_request(&mut s).is_some() {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
                }
            });
        }
    });
    format!("http://{addr}")
}

fn seed(url: &str, statements: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect to test database: {e}"));
        for s in statements {
            sqlx::query(s)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        pool.close().await;
    });
}

/// Run a drill with sql checks (`ph` = the driver's placeholder) against `db`.
fn drill(db: &str, ph: &str, credits: i64) -> builder::Ran {
    let dir = tempfile::tempdir().unwrap();
    let base = sink();
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(&cfg, format!("default_target: db\ntargets:\n  db:\n    webhook: {base}/webhook\n    secret_env: LUOTA_SQL_SECRET\n    database_env: LUOTA_SQL_DB\ndefaults:\n  settle: 100ms\n")).unwrap();
    let d = dir.path().join("d.yaml");
    std::fs::write(
        &d,
        format!(
            r#"drill: the account row is on Pro
events:
  e: {{ type: invoice.paid }}
deliver:
  - send: e
expect:
  within: 1s
  checks:
    - name: the account is on Pro with {credits} credits
      sql: SELECT plan, credits FROM accounts WHERE id = {ph}
      params: [acct_1]
      rows: 1
      json:
        $[0].plan: pro
        $[0].credits: {credits}
    - name: a spliced value would match every row; a bound one matches none
      sql: SELECT count(*) FROM accounts WHERE id = {ph}
      params: ["x' OR '1'='1"]
      equals: 0
  stable:
    - sql: SELECT credits FROM accounts WHERE id = {ph}
      params: [acct_1]
      json: ["$[0].credits"]
"#
        ),
    )
    .unwrap();
    Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("LUOTA_SQL_SECRET", "whsec_sqlChecksSecret")
        .env("LUOTA_SQL_DB", db)
        .run()
}

fn passes_and_fails(db: &str, ph: &str) {
    seed(
        db,
        &[
            "DROP TABLE IF EXISTS accounts",
            "CREATE TABLE accounts (id VARCHAR(40) PRIMARY KEY, plan VARCHAR(20), credits INTEGER)",
            "INSERT INTO accounts VALUES ('acct_1', 'pro', 100), ('acct_2', 'free', 0)",
        ],
    );
    let ok = drill(db, ph, 100);
    assert_eq!(ok.status, 0, "{}\n{}", ok.stdout, ok.stderr);
    let bad = drill(db, ph, 250);
    assert_eq!(bad.status, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stdout
            .contains("$[0].credits: expected 250, observed 100"),
        "{}",
        bad.stdout
    );
    for out in [&ok.stdout, &ok.stderr, &bad.stdout, &bad.stderr] {
        assert!(!out.contains(db), "the database URL must never be printed");
    }
}

#[test]
fn sql_checks_read_postgresql() {
    let Some(pg) = support::require("pg", support::pg_url()) else {
        return;
    };
    let db = support::fresh_pg_database(&pg);
    passes_and_fails(&db, "$1");
}

#[test]
fn sql_checks_read_mariadb() {
    let Some(url) = support::require("mariadb", support::mariadb_url()) else {
        return;
    };
    passes_and_fails(&url, "?");
}

#[test]
fn sql_checks_read_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    std::fs::File::create(&path).unwrap();
    passes_and_fails(&format!("sqlite://{}", path.display()), "$1");
}

#[test]
fn a_wrong_database_url_is_a_clear_check_error_without_the_password() {
    let ran = drill("postgres://luota:hunter2secret@127.0.0.1:1/nope", "$1", 100);
    assert_eq!(ran.status, 1, "{}", ran.stdout);
    assert!(
        ran.stdout.contains("cannot connect to the database"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("hunter2secret") && !ran.stderr.contains("hunter2secret"));
}

#[test]
fn command_checks_read_exit_status_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let base = sink();
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(&cfg, format!("default_target: s\ntargets:\n  s:\n    webhook: {base}/webhook\n    secret_env: LUOTA_SQL_SECRET\ndefaults:\n  settle: 100ms\n  timeout: 2s\n")).unwrap();
    let d = dir.path().join("d.yaml");
    std::fs::write(
        &d,
        r#"drill: the console reports Pro
events:
  e: { type: invoice.paid }
deliver:
  - send: e
expect:
  within: 1s
  checks:
    - name: the console says the plan is pro
      command: [sh, -c, "echo '{\"plan\": \"pro\", \"id\": \"{{ event.e.id }}\"}'"]
      json: { $.plan: pro, $.id: "{{ event.e.id }}" }
    - name: a plain-text command output
      command: [echo, ok]
      equals: ok
    - name: a failing command is reported with its status
      command: [sh, -c, "exit 3"]
      status: 3
      equals: ""
"#,
    )
    .unwrap();
    let ok = Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("LUOTA_SQL_SECRET", "whsec_x")
        .run();
    assert_eq!(ok.status, 0, "{}\n{}", ok.stdout, ok.stderr);
    std::fs::write(&d, "drill: hangs\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\nexpect:\n  within: 1s\n  checks:\n    - name: a hung console is bounded\n      command: [sleep, '30']\n      timeout: 300ms\n      equals: x\n").unwrap();
    let hung = Test::new()
        .args([
            "run",
            d.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .env("LUOTA_SQL_SECRET", "whsec_x")
        .run();
    assert_eq!(hung.status, 1, "{}", hung.stdout);
    assert!(
        hung.stdout.contains("did not finish within 300ms"),
        "{}",
        hung.stdout
    );
}
