//! Run Stripe's official SDKs over a batch of signature cases.
//!
//! `tests/sdk/verify.py` (Python `stripe`) and `tests/sdk/verify.js` (Node
//! `stripe`) each read a JSON array of cases and print one verdict per case,
//! so a whole matrix costs one process start per SDK. The harness knows
//! nothing about where headers come from: openssl-built vectors today,
//! luota's own signer (`luota::stripe::signature`) in a matrix later.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Which official SDK verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    Python,
    Node,
}

impl Sdk {
    pub const ALL: [Sdk; 2] = [Sdk::Python, Sdk::Node];

    pub fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::Node => "node",
        }
    }

    /// The interpreter/dir this SDK needs, gated through [`super::require`]:
    /// `None` means "skip" (never under CI, where it panics instead).
    pub fn available(self) -> bool {
        match self {
            Sdk::Python => super::require("python", super::python()).is_some(),
            Sdk::Node => super::require("node", super::node_dir()).is_some(),
        }
    }
}

/// One verification: raw body bytes, the `Stripe-Signature` header (None = no
/// header), secrets tried in order, tolerance in seconds.
#[derive(Debug, Clone)]
pub struct Case {
    pub label: String,
    pub body: Vec<u8>,
    pub header: Option<String>,
    pub secrets: Vec<String>,
    pub tolerance: i64,
}

impl Case {
    pub fn new(
        label: impl Into<String>,
        body: impl Into<Vec<u8>>,
        header: Option<String>,
        secret: &str,
    ) -> Case {
        Case {
            label: label.into(),
            body: body.into(),
            header,
            secrets: vec![secret.to_string()],
            tolerance: 300,
        }
    }

    pub fn secrets(mut self, secrets: &[&str]) -> Case {
        self.secrets = secrets.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn tolerance(mut self, secs: i64) -> Case {
        self.tolerance = secs;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "body_b64": super::base64(&self.body),
            "header": self.header,
            "secrets": self.secrets,
            "tolerance": self.tolerance,
        })
    }
}

/// What the SDK said about one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub accepted: bool,
    /// SDK error class and message when rejected.
    pub error: Option<String>,
}

/// Verify every case with `sdk` in one process; verdicts in case order.
/// Panics (with the script's stderr) if the SDK process itself fails.
pub fn verify_with(sdk: Sdk, cases: &[Case]) -> Vec<Verdict> {
    let (program, script): (PathBuf, PathBuf) = match sdk {
        Sdk::Python => (
            super::python().expect("python SDK not available (LUOTA_TEST_PYTHON)"),
            super::repo_path("tests/sdk/verify.py"),
        ),
        Sdk::Node => (
            PathBuf::from("node"),
            super::repo_path("tests/sdk/verify.js"),
        ),
    };
    let mut cmd = Command::new(&program);
    cmd.arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if sdk == Sdk::Node {
        if let Some(dir) = super::node_dir() {
            cmd.env("LUOTA_TEST_NODE_DIR", dir);
        }
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {} {}: {e}",
            program.display(),
            script.display()
        )
    });
    let input =
        serde_json::to_vec(&Value::Array(cases.iter().map(Case::to_json).collect())).unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} SDK verifier failed ({}):\n{}",
        sdk.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} SDK verifier printed non-JSON ({e}):\n{}",
            sdk.name(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(
        verdicts.len(),
        cases.len(),
        "{} SDK verifier returned {} verdicts for {} cases",
        sdk.name(),
        verdicts.len(),
        cases.len()
    );
    verdicts
        .into_iter()
        .map(|v| Verdict {
            accepted: v["accepted"].as_bool().expect("verdict.accepted is a bool"),
            error: v["error"].as_str().map(str::to_string),
        })
        .collect()
}
