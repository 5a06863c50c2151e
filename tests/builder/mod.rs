//! One fluent builder for driving the `luota` binary in integration tests,
//! in the style of `just`'s tests:
//! `Test::new().args(["run", "drills"]).status(0).stdout_has("6 passed").run()`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Test {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    stdin: Option<Vec<u8>>,
    status: Option<i32>,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
    stdout_lacks: Vec<String>,
}

/// What a finished run printed.
pub struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    pub fn new() -> Test {
        Test {
            args: Vec::new(),
            env: Vec::new(),
            dir: repo(),
            stdin: None,
            status: None,
            stdout_has: Vec::new(),
            stderr_has: Vec::new(),
            stdout_lacks: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Self {
        self.args.push(a.as_ref().to_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_path_buf();
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = Some(code);
        self
    }

    pub fn stdout_has(mut self, s: impl AsRef<str>) -> Self {
        self.stdout_has.push(s.as_ref().to_string());
        self
    }

    pub fn stdout_lacks(mut self, s: impl AsRef<str>) -> Self {
        self.stdout_lacks.push(s.as_ref().to_string());
        self
    }

    pub fn stderr_has(mut self, s: impl AsRef<str>) -> Self {
        self.stderr_has.push(s.as_ref().to_string());
        self
    }

    /// Run and check every expectation; panics with the whole output on a miss.
    pub fn run(self) -> Ran {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_luota"));
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        // The suite itself runs under CI=true (.ci/run), where luota treats a
        // missing outcome snapshot as a failure; a test's own temp drills have
        // none. A test that is about CI behaviour says `.env("CI", "true")`.
        cmd.env_remove("CI").env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("luota binary starts");
        if let Some(input) = &self.stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        let ran = Ran {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        let show = || {
            format!(
                "luota {}\n--- status {}\n--- stdout\n{}\n--- stderr\n{}",
                self.args.join(" "),
                ran.status,
                ran.stdout,
                ran.stderr
            )
        };
        if let Some(code) = self.status {
            assert_eq!(ran.status, code, "unexpected exit status\n{}", show());
        }
        for s in &self.stdout_has {
            assert!(
                ran.stdout.contains(s.as_str()),
                "stdout lacks {s:?}\n{}",
                show()
            );
        }
        for s in &self.stdout_lacks {
            assert!(
                !ran.stdout.contains(s.as_str()),
                "stdout has {s:?}\n{}",
                show()
            );
        }
        for s in &self.stderr_has {
            assert!(
                ran.stderr.contains(s.as_str()),
                "stderr lacks {s:?}\n{}",
                show()
            );
        }
        ran
    }
}
