//! The shared drill suite (tests/drills/handlers/) against the reference
//! handlers built on Stripe's official SDKs, with state read over HTTP and in
//! PostgreSQL. The same drills must pass against both.

mod builder;
mod support;

use builder::Test;
use support::handlers::{self, Lang, SECRET, SECRET_2};

fn suite_passes(lang: Lang) {
    let Some(h) = handlers::start(lang) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(
        &cfg,
        format!(
            "default_target: reference\ntargets:\n  reference:\n    webhook: {}/webhook\n    app: {}\n    secret_env: LUOTA_REF_SECRET\n    secondary_secret_env: LUOTA_REF_SECRET_2\n    database_env: LUOTA_REF_DB\ndefaults:\n  settle: 500ms\n",
            h.base_url, h.base_url
        ),
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let ran = Test::new()
        .args([
            "run",
            "tests/drills/handlers",
            "--config",
            cfg.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ])
        .env("LUOTA_REF_SECRET", SECRET)
        .env("LUOTA_REF_SECRET_2", SECRET_2)
        .env("LUOTA_REF_DB", &h.database_url)
        .run();
    assert_eq!(
        ran.status,
        0,
        "{} handler:\n{}\n{}\nhandler log:\n{}",
        lang.name(),
        ran.stdout,
        ran.stderr,
        h.log()
    );
    let report = std::fs::read_to_string(&json).unwrap();
    for secret in [SECRET, SECRET_2, h.database_url.as_str()] {
        assert!(
            !report.contains(secret)
                && !ran.stdout.contains(secret)
                && !ran.stderr.contains(secret)
        );
    }
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["drills"].as_array().unwrap().len(), 4);
}

#[test]
fn python_reference_handler_passes_the_shared_suite() {
    suite_passes(Lang::Python);
}

#[test]
fn node_reference_handler_passes_the_shared_suite() {
    suite_passes(Lang::Node);
}
