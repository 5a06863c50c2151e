//! SQL probes: one query against the target's database through sqlx's
//! `Any` driver (PostgreSQL, MySQL/MariaDB, SQLite), values bound as
//! parameters — never spliced into the SQL text. The result is the array of
//! rows as JSON objects, so the same JSONPath matchers apply.

use std::collections::HashMap;
use std::sync::Once;

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Column, Row, TypeInfo, ValueRef};
use tokio::sync::Mutex;

use crate::target::Secret;

/// Pools per database URL, opened on first use.
#[derive(Default)]
pub struct SqlReader {
    pools: Mutex<HashMap<String, AnyPool>>,
}

static DRIVERS: Once = Once::new();

impl SqlReader {
    async fn pool(&self, url: &Secret) -> Result<AnyPool, String> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let mut pools = self.pools.lock().await;
        if let Some(p) = pools.get(url.expose()) {
            return Ok(p.clone());
        }
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url.expose())
            .await
            // The driver's message may quote the URL (and its password): keep only the kind.
            .map_err(|e| format!("cannot connect to the database: {}", describe(&e)))?;
        pools.insert(url.expose().to_string(), pool.clone());
        Ok(pool)
    }

    /// Run `query` with `params`; every row as a JSON object.
    pub async fn query(
        &self,
        url: Option<&Secret>,
        query: &str,
        params: &[Value],
    ) -> Result<Value, String> {
        let url = url.ok_or("this target has no database: set `database_env` in luota.yaml")?;
        let pool = self.pool(url).await?;
        let mut q = sqlx::query(query);
        for p in params {
            q = match p {
                Value::Null => q.bind(None::<String>),
                Value::Bool(b) => q.bind(*b),
                Value::Number(n) if n.is_i64() => q.bind(n.as_i64().unwrap_or_default()),
                Value::Number(n) => q.bind(n.as_f64().unwrap_or_default()),
                Value::String(s) => q.bind(s.clone()),
                other => q.bind(other.to_string()),
            };
        }
        let rows = q
            .fetch_all(&pool)
            .await
            .map_err(|e| format!("the query failed: {}", describe(&e)))?;
        Ok(Value::Array(rows.iter().map(row_json).collect()))
    }
}

fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Configuration(_) => "the database URL is not valid".into(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        other => {
            let s = other.to_string();
            if s.contains("://") {
                "connection error".into()
            } else {
                s
            }
        }
    }
}

fn row_json(row: &AnyRow) -> Value {
    let mut m = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        m.insert(col.name().to_string(), cell(row, i));
    }
    Value::Object(m)
}

fn cell(row: &AnyRow, i: usize) -> Value {
    match row.try_get_raw(i) {
        Ok(raw) if raw.is_null() => return Value::Null,
        Ok(raw) => {
            let ty = raw.type_info().name().to_ascii_uppercase();
            if ty.contains("BOOL") {
                if let Ok(b) = row.try_get::<bool, _>(i) {
                    return Value::Bool(b);
                }
            }
        }
        Err(_) => return Value::Null,
    }
    if let Ok(v) = row.try_get::<i64, _>(i) {
        return Value::from(v);
    }
    if let Ok(v) = row.try_get::<f64, _>(i) {
        return Value::from(v);
    }
    if let Ok(v) = row.try_get::<String, _>(i) {
        return Value::String(v);
    }
    if let Ok(v) = row.try_get::<bool, _>(i) {
        return Value::Bool(v);
    }
    if let Ok(v) = row.try_get::<Vec<u8>, _>(i) {
        return Value::String(String::from_utf8_lossy(&v).into_owned());
    }
    Value::String("<unsupported column type>".into())
}
