//! The demo app's SQLite database (sqlx, WAL mode).
//!
//! Writes go through one connection (SQLite has one writer anyway; a single writer connection avoids
//! SQLITE_BUSY upgrades between deferred transactions), reads through a small pool that sees every
//! committed write thanks to WAL. External SQL checks open the same file through `database_url`.
//!
//! Tables (stable names, for drills' SQL checks):
//! - `users(id, email, customer, subscription, plan, status, seats, credits, last_subscription)`
//! - `subscriptions(id, user_id, customer, status, plan, seats, cancel_at, current_period_end,
//!   event_created, updated_seq)`: one row per Stripe subscription; `event_created` is the `created`
//!   of the snapshot that wrote it ("keep the newest").
//! - `ledger(event_id PRIMARY KEY, type, processed)`: every event applied.
//! - `grants(key PRIMARY KEY, user_id, amount, source)`: credit grants, keyed by business key
//!   (`session:cs_...`, `invoice:in_...`).
//! - `outbox(seq, user_id, kind, event_id)`: emails the app promised to send.
//! - `payments(id PRIMARY KEY, user_id, amount, checkout_session)`: recorded payment intents.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        email TEXT,
        customer TEXT,
        subscription TEXT,
        plan TEXT,
        status TEXT,
        seats INTEGER,
        credits INTEGER NOT NULL DEFAULT 0,
        last_subscription TEXT
    )",
    "CREATE INDEX IF NOT EXISTS users_customer ON users(customer)",
    "CREATE INDEX IF NOT EXISTS users_email ON users(email)",
    "CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        customer TEXT,
        status TEXT NOT NULL,
        plan TEXT,
        seats INTEGER,
        cancel_at INTEGER,
        current_period_end INTEGER,
        event_created INTEGER NOT NULL,
        updated_seq INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS subscriptions_user ON subscriptions(user_id)",
    "CREATE TABLE IF NOT EXISTS ledger (
        event_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        processed INTEGER NOT NULL DEFAULT 1
    )",
    "CREATE TABLE IF NOT EXISTS grants (
        key TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        source TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        event_id TEXT
    )",
    "CREATE INDEX IF NOT EXISTS outbox_user ON outbox(user_id)",
    "CREATE TABLE IF NOT EXISTS payments (
        id TEXT PRIMARY KEY,
        user_id TEXT,
        amount INTEGER,
        checkout_session TEXT
    )",
];

/// The two pools over one database file.
#[derive(Clone)]
pub struct Store {
    pub writer: SqlitePool,
    pub reader: SqlitePool,
}

impl Store {
    pub async fn open(path: &Path) -> Result<Store, sqlx::Error> {
        let base = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone())
            .await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&writer).await?;
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true))
            .await?;
        Ok(Store { writer, reader })
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
