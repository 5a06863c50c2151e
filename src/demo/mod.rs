//! The embedded staging app `demo` (see DESIGN.md, "The embedded default: demo").
//!
//! A small, correct billing app on SQLite (sqlx, WAL) that stands in for a customer's Stripe webhook
//! handler: checkout → subscription → entitlements, dunning, cancellation, an outbox of emails and an
//! event ledger. [`Fault`] switches on one real bug class at a time; nothing in the HTTP state API
//! says which one.
//!
//! HTTP contract (JSON everywhere):
//! - `POST /webhook`: a Stripe event, verified over the raw bytes (primary or secondary secret,
//!   any `v1`, `t` at most 300 s old and at most `future_window_secs` ahead). 400 on a bad signature
//!   or body, 409 when a purchase cannot be linked to a user yet (not recorded: a retry can succeed),
//!   200 `{"received": true}` otherwise (replays and unknown types included).
//! - `POST /test/users` `{"id","email"}` → 201 created, 200 when it exists.
//! - `GET /internal/users/{id}` → `{"id","email","customer","subscription","plan","status",
//!   "access","credits","seats","cancel_at"}`; 404 `{"error":"no such user"}`.
//! - `GET /internal/users/{id}/outbox` → `{"counts":{welcome,payment_failed,canceled,trial_ending,
//!   receipt}, "emails":[{"kind","event_id"}]}`.
//! - `GET /internal/events/{evt_id}` → `{"id","type","processed"}` (`processed: false`, `type: null`
//!   for an event never applied).
//! - `POST /app/checkout/return` `{"session_id","user"}`: the browser-return fulfilment.
//! - `GET /healthz` → 200.

mod app;
mod billing;
mod fault;
mod store;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use fault::{Fault, UnknownFault};

/// How the demo app runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The endpoint's signing secret (`whsec_...`); the HMAC key is the whole string.
    pub secret: String,
    /// A second accepted secret (rotation, Connect endpoints).
    pub secondary_secret: Option<String>,
    /// The one bug class switched on, if any.
    pub fault: Option<Fault>,
    /// The SQLite file; None: a fresh file in the temp dir, removed at shutdown.
    pub db_path: Option<PathBuf>,
    /// The app's own check: reject a `t` more than this many seconds ahead (default 300).
    pub future_window_secs: i64,
    /// Benchmarks only (not a fault): answer a verified webhook 200 at once and apply its
    /// effects this long afterwards, so the time from "state became true" to "the drill
    /// noticed" can be measured (BENCHMARKS.md, feedback latency). None: effects before the answer.
    pub effect_delay: Option<Duration>,
}

impl DemoOptions {
    /// Defaults for everything but the secret.
    pub fn new(secret: impl Into<String>) -> DemoOptions {
        DemoOptions {
            secret: secret.into(),
            secondary_secret: None,
            fault: None,
            db_path: None,
            future_window_secs: 300,
            effect_delay: None,
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo: database {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
    #[error("demo: the signing secret is empty")]
    EmptySecret,
}

/// A running demo app; stops on [`DemoServer::shutdown`] (or, less tidily, when dropped).
pub struct DemoServer {
    pub addr: SocketAddr,
    /// `sqlite://` URL of the app's database file, for SQL checks.
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    store: store::Store,
    /// The db file to remove at shutdown (only when the demo made it).
    temp_db: Option<PathBuf>,
}

fn temp_db_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "luota-demo-{}-{nanos}-{:08x}.db",
        std::process::id(),
        rand::random::<u32>()
    ))
}

fn remove_db_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

impl DemoServer {
    /// Opens (or creates) the database and starts serving on `addr` (port 0: an ephemeral port).
    pub async fn start(addr: SocketAddr, opts: DemoOptions) -> Result<DemoServer, DemoError> {
        if opts.secret.is_empty() {
            return Err(DemoError::EmptySecret);
        }
        let (path, temp_db) = match &opts.db_path {
            Some(p) => (p.clone(), None),
            None => {
                let p = temp_db_path();
                (p.clone(), Some(p))
            }
        };
        let store = store::Store::open(&path)
            .await
            .map_err(|source| DemoError::Database {
                path: path.clone(),
                source,
            })?;
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                store.close().await;
                if let Some(p) = &temp_db {
                    remove_db_files(p);
                }
                return Err(DemoError::Bind { addr, source });
            }
        };
        let addr = listener
            .local_addr()
            .map_err(|source| DemoError::Bind { addr, source })?;
        let app = Arc::new(app::App {
            store: store.clone(),
            secret: opts.secret,
            secondary_secret: opts.secondary_secret.filter(|s| !s.is_empty()),
            fault: opts.fault,
            future_window_secs: opts.future_window_secs,
            effect_delay: opts.effect_delay,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = app::router(app);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("luota demo: server error: {e}");
            }
        });
        Ok(DemoServer {
            addr,
            database_url: format!("sqlite://{}", path.display()),
            stop: Some(stop),
            task: Some(task),
            store,
            temp_db,
        })
    }

    /// `http://127.0.0.1:PORT` (or the bound address).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (bounded), closes the database, and removes
    /// a temp database file.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        self.store.close().await;
        if let Some(p) = self.temp_db.take() {
            remove_db_files(&p);
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        // Dropping the sender triggers the graceful shutdown; the file can go (Linux keeps it open).
        self.stop.take();
        if let Some(p) = self.temp_db.take() {
            remove_db_files(&p);
        }
    }
}
