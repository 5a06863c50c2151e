//! One fluent builder for driving the `luota` binary in integration tests,
//! in the style of `just`'s tests:
//! `Test::new().args(["run", "drills"]).status(0).stdout_has("6 passed").run()`.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one luota run may take before the test calls it hung, kills it
/// and fails with what it printed (a hang is a bug these tests exist to
/// catch; it must fail the test, not stall CI).
pub const HUNG_AFTER: Duration = Duration::from_secs(600);

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
        if let Some(input) = self.stdin.clone() {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if started.elapsed() > HUNG_AFTER {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = |h: std::thread::JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        let ran = Ran {
            status: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: text(stdout),
            stderr: text(stderr),
        };
        assert!(
            status.is_some(),
            "luota {} hung: killed after {HUNG_AFTER:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            ran.stdout,
            ran.stderr
        );
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
