//! Authoring: `luota schema`, `luota init`, `luota from-event`,
//! `luota validate` diagnostics and shell completions, through the binary.

mod builder;

use std::path::Path;

use builder::{repo, Test};
use serde_json::Value;

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn schema(kind: &str) -> Value {
    let out = Test::new().args(["schema", kind]).status(0).run().stdout;
    serde_json::from_str(&out).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the generated schema is a valid JSON Schema")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn committed_schemas_are_up_to_date() {
    for kind in ["drill", "config", "report"] {
        let out = Test::new().args(["schema", kind]).status(0).run().stdout;
        let path = repo().join(format!("schema/{kind}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == out,
            "{} is stale; regenerate it with `cargo run -- schema {kind} > schema/{kind}.schema.json`",
            path.display()
        );
    }
}

/// The JSON run record of real runs (passed, failed with an incident,
/// errored, invalid, control) validates against `luota schema report`.
#[test]
fn json_reports_validate_against_the_report_schema() {
    let v = validator(&schema("report"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "drill: broken\nwithn: 2s\n").unwrap();
    let runs: [(&[&str], i32); 2] = [
        (
            &[
                "drills/checkout-grants-access.yaml",
                "drills/control-incomplete-subscription-grants-nothing.yaml",
            ],
            0,
        ),
        (
            &[
                "drills/payment-failure-grace.yaml",
                "--demo-fault",
                "payment-failure-ignored",
            ],
            1,
        ),
    ];
    for (args, status) in runs {
        let json = dir.path().join("r.json");
        Test::new()
            .arg("run")
            .args(args)
            .args([
                "--snapshots",
                "ignore",
                "--report-json",
                json.to_str().unwrap(),
            ])
            .status(status)
            .run();
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let errs = errors(&v, &report);
        assert!(errs.is_empty(), "{args:?}: {errs:#?}");
    }
    // An invalid drill and an unreachable target (errored) in one record.
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(&cfg, "default_target: gone\ntargets:\n  gone:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: LUOTA_SCHEMA_TEST_SECRET\n").unwrap();
    let json = dir.path().join("e.json");
    Test::new()
        .args([
            "run",
            "drills/checkout-grants-access.yaml",
            bad.to_str().unwrap(),
        ])
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--snapshots",
            "ignore",
            "--report-json",
            json.to_str().unwrap(),
        ])
        .env("LUOTA_SCHEMA_TEST_SECRET", "whsec_schema_test")
        .status(2)
        .run();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let errs = errors(&v, &report);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(report["drills"].as_array().unwrap().len(), 2);
}

#[test]
fn every_shipped_drill_validates_against_the_schema_and_carries_the_modeline() {
    let v = validator(&schema("drill"));
    let files = yaml_files(&repo().join("drills"));
    assert!(files.len() >= 7);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/drill.schema.json\n"),
            "{} lacks the modeline",
            f.display()
        );
        let instance: Value = serde_yaml::from_str(&text).unwrap();
        let errs = errors(&v, &instance);
        assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
    }
}

/// Regression (found by a first-time user): the schema typed a check's and
/// a probe's `timeout` as `{secs, nanos}`, so editors underlined the
/// README's own `timeout: 5s` that the loader accepts.
#[test]
fn the_schema_accepts_what_the_loader_accepts_for_check_timeouts() {
    let v = validator(&schema("drill"));
    let text = "drill: timeouts\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\nexpect:\n  checks:\n    - name: by command\n      command: [\"true\"]\n      timeout: 5s\n      status: 0\n  stable:\n    - http: GET http://127.0.0.1/x\n      timeout: 2s\n      json: [$.a]\n";
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.yaml");
    std::fs::write(&f, text).unwrap();
    Test::new()
        .args(["validate", f.to_str().unwrap()])
        .status(0)
        .run();
    let instance: Value = serde_yaml::from_str(text).unwrap();
    let errs = errors(&v, &instance);
    assert!(errs.is_empty(), "{errs:#?}");
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let v = validator(&schema("drill"));
    let ok: Value = serde_yaml::from_str(
        "drill: x\nevents: {e: {type: invoice.paid}}\ndeliver: [{send: e, after: 500ms, expect_status: [200, 4xx, timeout], signature: stale, body: hostile}]\nexpect: {within: 2000, checks: [{name: n, http: GET x, json: {$.a: {gte: 1}, $.b: {plan: pro}}}]}\n",
    )
    .unwrap();
    assert!(errors(&v, &ok).is_empty(), "{:?}", errors(&v, &ok));
    for bad in [
        "drill: x\nexpct: {}\n",
        "drill: x\nexpect: {withn: 1s}\n",
        "drill: x\ndeliver: [{send: e, signature: stal}]\n",
        "drill: x\ndeliver: [{send: e, expect_status: 9xx}]\n",
        "drill: x\ndeliver: [{send: e, after: soon}]\n",
        "about: no name\n",
    ] {
        let instance: Value = serde_yaml::from_str(bad).unwrap();
        assert!(!errors(&v, &instance).is_empty(), "schema accepted {bad:?}");
    }
    let config = validator(&schema("config"));
    let good: Value = serde_yaml::from_str(
        "default_target: s\ntargets: {s: {webhook: 'https://s.test/w', secret_env: S}}\ndefaults: {timeout: 5s}\nsafety: {allowed_hosts: [s.test]}\n",
    )
    .unwrap();
    assert!(
        errors(&config, &good).is_empty(),
        "{:?}",
        errors(&config, &good)
    );
    let bad: Value =
        serde_yaml::from_str("targets: {s: {webhook: x, secret: whsec_x, secret_env: S}}\n")
            .unwrap();
    assert!(!errors(&config, &bad).is_empty());
}

#[test]
fn init_writes_a_config_and_drill_that_validate_and_never_overwrites_silently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Test::new()
        .current_dir(d)
        .args([
            "init",
            "--webhook",
            "https://staging.shop.test/stripe/webhook",
            "--secret-env",
            "SHOP_STAGING_WHSEC",
        ])
        .status(0)
        .stdout_has("wrote ./luota.yaml")
        .stdout_has("export SHOP_STAGING_WHSEC=whsec_...")
        .run();
    let config = std::fs::read_to_string(d.join("luota.yaml")).unwrap();
    assert!(config.contains("webhook: \"https://staging.shop.test/stripe/webhook\""));
    assert!(config.contains("app: \"https://staging.shop.test\""));
    assert!(config.contains("allowed_hosts: [\"staging.shop.test\"]"));
    assert!(config.contains("secret_env: SHOP_STAGING_WHSEC"));
    assert!(d.join(".luota/drill.schema.json").exists());
    Test::new()
        .current_dir(d)
        .arg("validate")
        .status(0)
        .stdout_has("1 drill file: 1 valid, 0 invalid")
        .run();
    // The written files validate against the schemas their modelines name.
    let drill: Value = serde_yaml::from_str(
        &std::fs::read_to_string(d.join("drills/checkout-grants-access.yaml")).unwrap(),
    )
    .unwrap();
    assert!(errors(&validator(&schema("drill")), &drill).is_empty());
    let cfg: Value = serde_yaml::from_str(&config).unwrap();
    assert!(errors(&validator(&schema("config")), &cfg).is_empty());

    // A second init without a terminal refuses and changes nothing.
    std::fs::write(d.join("luota.yaml"), "# mine\n").unwrap();
    Test::new()
        .current_dir(d)
        .args(["init", "--webhook", "http://127.0.0.1:9/w"])
        .status(2)
        .stderr_has("exists; not overwriting it")
        .stderr_has("--force")
        .run();
    assert_eq!(
        std::fs::read_to_string(d.join("luota.yaml")).unwrap(),
        "# mine\n"
    );
    // --force overwrites.
    Test::new()
        .current_dir(d)
        .args(["init", "--webhook", "http://127.0.0.1:9/w", "--force"])
        .status(0)
        .run();
    assert!(std::fs::read_to_string(d.join("luota.yaml"))
        .unwrap()
        .contains("127.0.0.1:9"));
    // A secret passed where its variable's name belongs is refused, and not echoed.
    let ran = Test::new()
        .current_dir(d)
        .args([
            "init",
            "--secret-env",
            "whsec_abc123secret",
            "--dir",
            "other",
        ])
        .status(2)
        .run();
    assert!(
        ran.stderr.contains("NAME of the variable"),
        "{}",
        ran.stderr
    );
}

#[test]
fn init_starter_drill_passes_against_the_demo() {
    // The starter drill is a real drill: against the demo app (which has the
    // endpoints it names) it passes as written.
    let dir = tempfile::tempdir().unwrap();
    Test::new()
        .current_dir(dir.path())
        .arg("init")
        .status(0)
        .run();
    Test::new()
        .current_dir(dir.path())
        .args(["run", "drills", "--target", "demo"])
        .status(0)
        .stdout_has("1 passed")
        .run();
}

const REAL_EVENT: &str = r#"{
  "id": "evt_1PqRsTuVwXyZ0123",
  "object": "event",
  "api_version": "2024-06-20",
  "created": 1718000000,
  "livemode": false,
  "pending_webhooks": 1,
  "request": {"id": "req_AbCdEfGhIjKl", "idempotency_key": null},
  "type": "customer.updated",
  "data": {
    "object": {
      "id": "cus_NffrFeUfNV2Hib",
      "object": "customer",
      "address": {"city": "Helsinki", "country": "FI", "line1": "Mannerheimintie 12", "line2": null, "postal_code": "00100", "state": null},
      "email": "aino.virtanen@example.fi",
      "name": "Aino Virtanen",
      "phone": "+358401234567",
      "description": "Aino Virtanen (aino.virtanen@example.fi)",
      "invoice_settings": {"default_payment_method": "pm_1MqLiJLkdIwHu7ixUEgbFdYF"},
      "metadata": {"user_id": "user_42"},
      "shipping": {"name": "Aino Virtanen", "phone": "+358401234567",
                   "address": {"city": "Helsinki", "country": "FI", "line1": "Mannerheimintie 12", "postal_code": "00100"}}
    },
    "previous_attributes": {"email": "aino@old.example.fi"}
  }
}"#;

#[test]
fn from_event_makes_a_valid_drill_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("event.json");
    std::fs::write(&input, REAL_EVENT).unwrap();
    for template in [false, true] {
        let mut t = Test::new().args(["from-event", input.to_str().unwrap()]);
        if template {
            t = t.arg("--template-ids");
        }
        let out = t.status(0).run().stdout;
        for personal in [
            "Aino",
            "Virtanen",
            "aino.virtanen@example.fi",
            "aino@old.example.fi",
            "+358401234567",
            "Mannerheimintie",
            "00100",
            "Helsinki",
        ] {
            assert!(!out.contains(personal), "{personal} left in:\n{out}");
        }
        assert!(out.contains("# TODO"), "{out}");
        let drill = dir.path().join(format!("from-event-{template}.yaml"));
        std::fs::write(&drill, &out).unwrap();
        Test::new()
            .args(["validate", drill.to_str().unwrap()])
            .status(0)
            .stdout_has("1 valid, 0 invalid")
            .run();
        let v: Value = serde_yaml::from_str(&out).unwrap();
        assert!(errors(&validator(&schema("drill")), &v).is_empty());
        let o = &v["events"]["event"]["payload"]["data"]["object"];
        assert_eq!(o["address"]["country"], "FI");
        assert_eq!(o["metadata"]["user_id"], "user_42");
        assert_eq!(
            o["id"],
            if template {
                "cus_{{ run.uid }}01"
            } else {
                "cus_NffrFeUfNV2Hib"
            }
        );
    }
    // It runs: against the demo the TODO check cannot hold, so the drill fails (exit 1), never passes.
    let drill = dir.path().join("from-event-true.yaml");
    let text = std::fs::read_to_string(&drill)
        .unwrap()
        .replace("within: 10s", "within: 1s");
    std::fs::write(&drill, text).unwrap();
    let ran = Test::new()
        .args(["run", drill.to_str().unwrap(), "--target", "demo"])
        .run();
    assert_ne!(ran.status, 0, "{}\n{}", ran.stdout, ran.stderr);

    // --out refuses to overwrite; bad input is exit 2.
    Test::new()
        .args([
            "from-event",
            input.to_str().unwrap(),
            "--out",
            drill.to_str().unwrap(),
        ])
        .status(2)
        .stderr_has("--force")
        .run();
    std::fs::write(&input, "{\"object\": \"list\", \"data\": []}").unwrap();
    Test::new()
        .args(["from-event", input.to_str().unwrap()])
        .status(2)
        .stderr_has("list of events")
        .run();
}

/// `luota validate` on broken drills: file:line:col, the source line with a
/// caret, and a suggestion, snapshotted (tests/diagnostics/*.yaml).
#[test]
fn diagnostics_snapshots() {
    let dir = repo().join("tests/diagnostics");
    let files = yaml_files(&dir);
    assert!(files.len() >= 8);
    for f in files {
        let rel = format!(
            "tests/diagnostics/{}",
            f.file_name().unwrap().to_string_lossy()
        );
        let ran = Test::new().args(["validate", &rel]).status(2).run();
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("diagnostics__{name}"), ran.stderr);
    }
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef luota"),
        ("fish", "complete -c luota"),
    ] {
        let out = Test::new()
            .args(["completions", shell])
            .status(0)
            .stdout_has(marker)
            .run()
            .stdout;
        for sub in ["from-event", "send", "schema", "init", "validate"] {
            assert!(out.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    Test::new().args(["completions", "tcsh"]).status(2).run();
}

/// Every built-in template, printed by `luota event` and fed back through
/// `luota from-event -` (both with and without --template-ids), gives a drill
/// that `luota validate` accepts.
#[test]
fn from_event_round_trips_every_built_in_type() {
    let types = Test::new().args(["event", "--list"]).status(0).run().stdout;
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for (i, t) in types.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let ev = Test::new().args(["event", t]).status(0).run().stdout;
        let mut cmd = Test::new().args(["from-event", "-"]).stdin(ev);
        if i % 2 == 0 {
            cmd = cmd.arg("--template-ids");
        }
        let drill = cmd.status(0).run().stdout;
        std::fs::write(dir.path().join(format!("{i:02}.yaml")), drill).unwrap();
        n += 1;
    }
    assert!(n >= 25, "{n} types");
    Test::new()
        .args(["validate", dir.path().to_str().unwrap()])
        .status(0)
        .stdout_has(format!("{n} drill files: {n} valid, 0 invalid"))
        .run();
}
