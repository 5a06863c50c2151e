//! The CI recipes in ci/ are complete and valid: they parse as YAML, use the
//! report flags luota has, and validate against the public GitHub-workflow and
//! GitLab-CI JSON schemas (vendored offline by `check-jsonschema`, installed
//! into the test venv by ci/test.sh from ci/requirements-ci.txt).

mod support;

use std::path::PathBuf;
use std::process::Command;

fn recipe(name: &str) -> String {
    std::fs::read_to_string(support::repo_path(&format!("ci/{name}"))).unwrap()
}

/// `check-jsonschema` beside the test venv's python.
fn check_jsonschema() -> Option<PathBuf> {
    let py = support::python()?;
    let bin = py.parent()?.join("check-jsonschema");
    bin.exists().then_some(bin)
}

#[test]
fn recipes_are_yaml_and_use_every_report() {
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = recipe(name);
        let _: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for flag in [
            "--report-junit",
            "--report-markdown",
            "--evidence",
            "--shard",
            "--target staging",
        ] {
            assert!(text.contains(flag), "{name} uses {flag}");
        }
    }
}

#[test]
fn recipes_validate_against_the_public_schemas() {
    let Some(bin) = support::require("check-jsonschema", check_jsonschema()) else {
        return;
    };
    for (name, schema) in [
        ("github-actions.yml", "vendor.github-workflows"),
        ("gitlab-ci.yml", "vendor.gitlab-ci"),
    ] {
        let out = Command::new(&bin)
            .args(["--builtin-schema", schema])
            .arg(support::repo_path(&format!("ci/{name}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} against {schema}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
