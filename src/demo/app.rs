//! The demo's HTTP surface (axum): the webhook, the test/app calls, and the state API.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::billing::{self, action_for, Action, Ctx, Event, FulfilVia, Reject};
use super::fault::Fault;
use super::store::Store;
use super::verify::{Verifier, VerifyError, TOLERANCE_SECS};

/// The "work" between the ledger SELECT and INSERT in the `non-atomic-dedupe` fault.
pub const CHECK_THEN_INSERT_GAP: Duration = Duration::from_millis(20);
/// How long the `slow-no-dedupe` fault takes to answer after committing.
pub const SLOW_ANSWER: Duration = Duration::from_millis(1500);

pub struct App {
    pub store: Store,
    pub secret: String,
    pub secondary_secret: Option<String>,
    pub fault: Option<Fault>,
    pub future_window_secs: i64,
    /// Benchmarks only: apply effects this long after answering (see `DemoOptions::effect_delay`).
    pub effect_delay: Option<Duration>,
}

type Shared = Arc<App>;

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/webhook", post(webhook))
        .route("/test/users", post(create_user))
        .route("/internal/users/{id}", get(get_user))
        .route("/internal/users/{id}/outbox", get(get_outbox))
        .route("/internal/events/{id}", get(get_event))
        .route("/app/checkout/return", post(checkout_return))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(app)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn internal(e: sqlx::Error) -> Response {
    eprintln!("luota demo: database error: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn received() -> Response {
    (StatusCode::OK, Json(json!({"received": true}))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"ok": true}))).into_response()
}

impl App {
    fn ctx(&self) -> Ctx {
        Ctx {
            fault: self.fault,
            now: unix_now(),
        }
    }

    fn is(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }

    /// Checks the signature over the raw body (or, under the `reserialize-before-verify` fault,
    /// over a re-serialized copy of it).
    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let header = match headers.get("stripe-signature") {
            None if self.is(Fault::SkipVerifyWithoutHeader) => return Ok(()),
            None => return Err(VerifyError::MissingHeader),
            Some(h) => h.to_str().map_err(|_| VerifyError::Malformed)?,
        };
        let mut secrets = vec![self.secret.as_str()];
        if let Some(second) = &self.secondary_secret {
            if !self.is(Fault::SingleSecret) {
                secrets.push(second);
            }
        }
        let verifier = Verifier {
            secrets,
            tolerance_secs: TOLERANCE_SECS,
            future_window_secs: self.future_window_secs,
            check_time: !self.is(Fault::NoTimestampWindow),
        };
        let signed: Cow<[u8]> = if self.is(Fault::ReserializeBeforeVerify) {
            // The bug: `json.loads(body)` then `json.dumps(event, indent=2)` before verifying. It
            // reproduces Stripe's pretty print, so only byte-hostile bodies are refused.
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => Cow::Owned(serde_json::to_vec_pretty(&v).unwrap_or_default()),
                Err(_) => return Err(VerifyError::NoMatch),
            }
        } else {
            Cow::Borrowed(body)
        };
        verifier.verify(header, &signed, unix_now())
    }
}

enum Dedupe {
    /// Insert-or-ignore into the ledger in the same transaction as the effects.
    Atomic,
    /// SELECT, a gap, then effects and INSERT (non-atomic-dedupe).
    CheckThenInsert,
    /// None at all (no-idempotency, slow-no-dedupe).
    Off,
}

fn parse_event(body: &[u8]) -> Result<Event, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON".to_string())?;
    let id = billing::text(&v, "/id").ok_or("event has no id")?;
    let kind = billing::text(&v, "/type").ok_or("event has no type")?;
    let created = billing::int(&v, "/created").unwrap_or_else(unix_now);
    let object = v.pointer("/data/object").cloned().unwrap_or(Value::Null);
    if action_for(&kind) != Action::Ignore && !object.is_object() {
        return Err("event has no data.object".into());
    }
    Ok(Event {
        id,
        kind,
        created,
        object,
    })
}

async fn webhook(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = app.check_signature(&headers, &body) {
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let ev = match parse_event(&body) {
        Ok(ev) => ev,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let dedupe = match app.fault {
        Some(Fault::NoIdempotency) | Some(Fault::SlowNoDedupe) => Dedupe::Off,
        Some(Fault::NonAtomicDedupe) => Dedupe::CheckThenInsert,
        _ => Dedupe::Atomic,
    };
    if let Some(delay) = app.effect_delay {
        // Benchmarks only: acknowledge now, apply later (a queue worker behind the webhook).
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(Reject::Db(e)) = process(&app, &ev, dedupe).await {
                eprintln!("luota demo: database error (delayed effects): {e}");
            }
        });
        return received();
    }
    match process(&app, &ev, dedupe).await {
        Ok(()) => {}
        Err(Reject::Retry(msg)) => return error(StatusCode::CONFLICT, msg),
        Err(Reject::Bad(msg)) => return error(StatusCode::BAD_REQUEST, msg),
        Err(Reject::Crash) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        Err(Reject::Db(e)) => return internal(e),
    }
    if app.is(Fault::SlowNoDedupe) {
        // Committed already; the answer comes late (a slow email provider call, say).
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    received()
}

async fn process(app: &App, ev: &Event, dedupe: Dedupe) -> Result<(), Reject> {
    if let Dedupe::CheckThenInsert = dedupe {
        let seen = sqlx::query("SELECT 1 FROM ledger WHERE event_id = ?")
            .bind(&ev.id)
            .fetch_optional(&app.store.reader)
            .await?
            .is_some();
        if seen {
            return Ok(());
        }
        tokio::time::sleep(CHECK_THEN_INSERT_GAP).await;
    }
    let mut tx = app.store.writer.begin().await?;
    if let Dedupe::Atomic = dedupe {
        let fresh = sqlx::query("INSERT OR IGNORE INTO ledger (event_id, type) VALUES (?, ?)")
            .bind(&ev.id)
            .bind(&ev.kind)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !fresh {
            // A replay or a concurrent copy: acknowledged, nothing applied.
            tx.rollback().await?;
            return Ok(());
        }
    }
    let ctx = app.ctx();
    if let Err(e) = billing::apply(&mut tx, &ctx, ev).await {
        tx.rollback().await?;
        return Err(e);
    }
    if !matches!(dedupe, Dedupe::Atomic) {
        sqlx::query("INSERT OR IGNORE INTO ledger (event_id, type) VALUES (?, ?)")
            .bind(&ev.id)
            .bind(&ev.kind)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn json_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

fn not_an_object() -> Response {
    error(StatusCode::BAD_REQUEST, "body must be a JSON object")
}

async fn create_user(State(app): State<Shared>, body: Bytes) -> Response {
    let Some(v) = json_body(&body) else {
        return not_an_object();
    };
    let Some(id) = billing::text(&v, "/id") else {
        return error(StatusCode::BAD_REQUEST, "`id` is required");
    };
    let email = billing::text(&v, "/email");
    let inserted = match sqlx::query("INSERT OR IGNORE INTO users (id, email) VALUES (?, ?)")
        .bind(&id)
        .bind(&email)
        .execute(&app.store.writer)
        .await
    {
        Ok(r) => r.rows_affected() == 1,
        Err(e) => return internal(e),
    };
    let status = if inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(json!({"id": id, "email": email}))).into_response()
}

async fn get_user(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    let mut c = match app.store.reader.acquire().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    match billing::read_user(&mut c, &app.ctx(), &id).await {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(e) => internal(e),
    }
}

async fn get_outbox(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    let mut c = match app.store.reader.acquire().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    match billing::read_outbox(&mut c, &id).await {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(e) => internal(e),
    }
}

async fn get_event(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    let mut c = match app.store.reader.acquire().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    match billing::read_event(&mut c, &id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => internal(e),
    }
}

/// The browser lands back from Checkout: the app fulfils the session too (once, with the webhook).
async fn checkout_return(State(app): State<Shared>, body: Bytes) -> Response {
    let Some(v) = json_body(&body) else {
        return not_an_object();
    };
    let (Some(session), Some(user)) =
        (billing::text(&v, "/session_id"), billing::text(&v, "/user"))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "`session_id` and `user` are required",
        );
    };
    let result: Result<bool, sqlx::Error> = async {
        let mut tx = app.store.writer.begin().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?")
            .bind(&user)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            billing::fulfil_session(
                &mut tx,
                &app.ctx(),
                &session,
                &user,
                FulfilVia::BrowserReturn,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(exists)
    }
    .await;
    match result {
        Ok(true) => Json(json!({"ok": true})).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such user"),
        Err(e) => internal(e),
    }
}
