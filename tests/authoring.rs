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
    for kind in ["drill", "config"] {
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

