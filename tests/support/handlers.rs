//! Start a reference webhook handler (tests/handlers/{python,node}) as a child
//! process on a free loopback port against its own fresh PostgreSQL database.
//! The child is killed when the [`RunningHandler`] is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which reference handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Node,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Python, Lang::Node];

    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Node => "node",
        }
    }
}

/// Secrets every reference handler under test is started with.
pub const SECRET: &str = "whsec_luotaReferenceHandlerPrimary01";
pub const SECRET_2: &str = "whsec_luotaReferenceHandlerSecondary2";

/// A running handler; killed on drop.
pub struct RunningHandler {
    pub lang: Lang,
    pub base_url: String,
    pub database_url: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RunningHandler {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// What the child printed so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningHandler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ask the OS for a free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start `lang`'s handler, gated through [`super::require`] (None = skipped).
/// Panics with the child's output if it does not become healthy in time.
pub fn start(lang: Lang) -> Option<RunningHandler> {
    let pg = super::require("pg", super::pg_url())?;
    let (program, script) = match lang {
        Lang::Python => (
            super::require("python", super::python())?,
            super::repo_path("tests/handlers/python/app.py"),
        ),
        Lang::Node => {
            let dir = super::require("node", super::node_dir())?;
            (PathBuf::from("node"), dir.join("app.js"))
        }
    };
    let database_url = super::fresh_pg_database(&pg);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("handler.log");
    let out = std::fs::File::create(&log).unwrap();
    let port = free_port();
    let child = Command::new(&program)
        .arg(&script)
        .env("PORT", port.to_string())
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("STRIPE_WEBHOOK_SECRET_2", SECRET_2)
        .env("DATABASE_URL", &database_url)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} {}: {e}",
                program.display(),
                script.display()
            )
        });
    let mut h = RunningHandler {
        lang,
        base_url: format!("http://127.0.0.1:{port}"),
        database_url,
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = h.child.try_wait().unwrap() {
            panic!(
                "{} handler exited early ({status}):\n{}",
                lang.name(),
                h.log()
            );
        }
        if healthz_ok(port) {
            return Some(h);
        }
        if Instant::now() > deadline {
            panic!(
                "{} handler not healthy after 30s:\n{}",
                lang.name(),
                h.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Plain-socket GET /healthz, so waiting needs no async runtime.
fn healthz_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
}
