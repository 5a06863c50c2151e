//! The business rules of the demo app: what each Stripe event does to the database, and how the
//! user's state is read back. Faults bend exactly one rule each; everything else stays correct.

use serde_json::{json, Value};
use sqlx::{Row, SqliteConnection};

use super::fault::Fault;

/// Credits granted per fulfilled checkout session and per paid invoice.
pub const CREDITS_PER_GRANT: i64 = 100;

/// The email kinds of the outbox, in the order the state API lists their counts.
pub const EMAIL_KINDS: &[&str] = &[
    "welcome",
    "payment_failed",
    "canceled",
    "trial_ending",
    "receipt",
];

/// Why an event could not be applied. The transaction is rolled back in every case.
#[derive(Debug)]
pub enum Reject {
    /// 409: a correct "not yet" (no user to link the purchase to); the event is not recorded so
    /// Stripe retries it.
    Retry(String),
    /// 400: the event is not a usable Stripe event.
    Bad(String),
    /// 500: the handler crashed (a fault).
    Crash,
    /// 500: the database failed.
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Reject {
    fn from(e: sqlx::Error) -> Self {
        Reject::Db(e)
    }
}

/// A verified, parsed Stripe event.
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Value,
}

/// What the app does with an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Checkout,
    Subscription { deleted: bool },
    TrialWillEnd,
    InvoicePaid,
    InvoiceFailed,
    PaymentIntent,
    Ignore,
}

pub fn action_for(kind: &str) -> Action {
    match kind {
        "checkout.session.completed" => Action::Checkout,
        "customer.subscription.trial_will_end" => Action::TrialWillEnd,
        "customer.subscription.deleted" => Action::Subscription { deleted: true },
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => Action::Subscription { deleted: false },
        "invoice.paid" | "invoice.payment_succeeded" => Action::InvoicePaid,
        "invoice.payment_failed" => Action::InvoiceFailed,
        "payment_intent.succeeded" => Action::PaymentIntent,
        _ => Action::Ignore,
    }
}

/// The knobs the rules read: the fault (if any) and the clock.
pub struct Ctx {
    pub fault: Option<Fault>,
    pub now: i64,
}

impl Ctx {
    fn is(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }

    /// The handler keeps no idempotency at all: credit grants carry a fresh key per delivery.
    fn unkeyed_grants(&self) -> bool {
        self.is(Fault::NoIdempotency) || self.is(Fault::SlowNoDedupe)
    }
}

// ---- JSON helpers: real payloads have nulls, absent fields and ids or expanded objects ----------

/// A non-empty string at `pointer`, or the `id` of an expanded object there.
pub fn text(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(o) => match o.get("id") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// An integer at `pointer`; Stripe metadata values are strings, so "5" counts too.
pub fn int(v: &Value, pointer: &str) -> Option<i64> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ---- small SQL helpers --------------------------------------------------------------------------

async fn user_exists(c: &mut SqliteConnection, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

async fn user_by(
    c: &mut SqliteConnection,
    column: &str,
    value: &str,
) -> Result<Option<String>, sqlx::Error> {
    // `column` is one of our own constants, never input.
    let sql = format!("SELECT id FROM users WHERE {column} = ? ORDER BY rowid LIMIT 1");
    let row = sqlx::query(&sql)
        .bind(value)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

async fn user_of_subscription(
    c: &mut SqliteConnection,
    sub: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT user_id FROM subscriptions WHERE id = ?")
        .bind(sub)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

/// The first of: a `metadata.user_id`-style id naming an existing user, the user linked to the
/// customer, the user owning the subscription.
async fn find_user(
    c: &mut SqliteConnection,
    user_ids: &[Option<String>],
    customer: Option<&str>,
    subscription: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    for id in user_ids.iter().flatten() {
        if user_exists(c, id).await? {
            return Ok(Some(id.clone()));
        }
    }
    if let Some(cus) = customer {
        if let Some(u) = user_by(c, "customer", cus).await? {
            return Ok(Some(u));
        }
    }
    if let Some(sub) = subscription {
        if let Some(u) = user_of_subscription(c, sub).await? {
            return Ok(Some(u));
        }
    }
    Ok(None)
}

async fn email(
    c: &mut SqliteConnection,
    user: &str,
    kind: &str,
    event_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO outbox (user_id, kind, event_id) VALUES (?, ?, ?)")
        .bind(user)
        .bind(kind)
        .bind(event_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Grants credits once per `key`; true when this call granted them.
async fn grant(
    c: &mut SqliteConnection,
    key: &str,
    user: &str,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO grants (key, user_id, amount, source) VALUES (?, ?, ?, ?)",
    )
    .bind(key)
    .bind(user)
    .bind(CREDITS_PER_GRANT)
    .bind(source)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query("UPDATE users SET credits = credits + ? WHERE id = ?")
            .bind(CREDITS_PER_GRANT)
            .bind(user)
            .execute(&mut *c)
            .await?;
    }
    Ok(inserted)
}

fn fresh_key(prefix: &str) -> String {
    format!("{prefix}:{:016x}", rand::random::<u64>())
}

/// Where a checkout-session fulfilment comes from.
pub enum FulfilVia<'a> {
    Event(&'a str),
    BrowserReturn,
}

/// Fulfils a checkout session: +100 credits, once per session id across the webhook paths and the
/// browser return (the correct app). Faults key it otherwise.
pub async fn fulfil_session(
    c: &mut SqliteConnection,
    ctx: &Ctx,
    session: &str,
    user: &str,
    via: FulfilVia<'_>,
) -> Result<bool, sqlx::Error> {
    let key = match (&via, ctx.fault) {
        (FulfilVia::Event(evt), Some(Fault::EventIdDedupeOnly)) => format!("event:{evt}"),
        (FulfilVia::BrowserReturn, Some(Fault::EventIdDedupeOnly)) => fresh_key("return"),
        (FulfilVia::Event(_), _) if ctx.unkeyed_grants() => fresh_key("delivery"),
        _ => format!("session:{session}"),
    };
    grant(c, &key, user, "checkout").await
}

// ---- subscription state -------------------------------------------------------------------------

/// How final a status is, for same-second ties: the more final one wins whatever the arrival order.
pub fn status_rank(status: &str) -> i32 {
    match status {
        "canceled" | "incomplete_expired" => 7,
        "unpaid" => 6,
        "past_due" => 5,
        "paused" => 4,
        "active" => 3,
        "trialing" => 2,
        "incomplete" => 1,
        _ => 0,
    }
}

/// The access policy: Stripe subscription status → access.
pub fn policy_access(status: Option<&str>) -> &'static str {
    match status {
        Some("active") | Some("trialing") => "full",
        Some("past_due") => "grace",
        _ => "none",
    }
}

fn access_rank(access: &str) -> i32 {
    match access {
        "full" => 2,
        "grace" => 1,
        _ => 0,
    }
}

fn sub_access(ctx: &Ctx, status: &str, cancel_at: Option<i64>) -> &'static str {
    let access = policy_access(Some(status));
    match cancel_at {
        // A scheduled cancellation: access as the status says until cancel_at passes.
        Some(at) if access != "none" => {
            if ctx.is(Fault::IgnoresCancelAt) || ctx.now >= at {
                "none"
            } else {
                access
            }
        }
        _ => access,
    }
}

struct SubRow {
    status: String,
    plan: Option<String>,
    seats: Option<i64>,
    event_created: i64,
}

async fn load_sub(c: &mut SqliteConnection, id: &str) -> Result<Option<SubRow>, sqlx::Error> {
    let row =
        sqlx::query("SELECT status, plan, seats, event_created FROM subscriptions WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?;
    Ok(row.map(|r| SubRow {
        status: r.get(0),
        plan: r.get(1),
        seats: r.get(2),
        event_created: r.get(3),
    }))
}

async fn next_seq(c: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("SELECT COALESCE(MAX(updated_seq), 0) + 1 FROM subscriptions")
        .fetch_one(&mut *c)
        .await?;
    Ok(row.get(0))
}

async fn touch_last_sub(
    c: &mut SqliteConnection,
    user: &str,
    sub: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_subscription = ? WHERE id = ?")
        .bind(sub)
        .bind(user)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Sets a subscription's status from a non-snapshot event (checkout, invoices) without touching the
/// snapshot order; a canceled subscription stays canceled. Creates the row when it is unknown, one
/// second "older" than the event, so a subscription snapshot of the same second (a drill's events
/// often share one) wins over it whatever its status, while a snapshot from an earlier second is
/// still recognised as stale.
#[allow(clippy::too_many_arguments)]
async fn set_sub_status(
    c: &mut SqliteConnection,
    sub: &str,
    user: &str,
    customer: Option<&str>,
    status: &str,
    plan: Option<&str>,
    seats: Option<i64>,
    created: i64,
    only_from: &[&str],
) -> Result<(), sqlx::Error> {
    let seq = next_seq(c).await?;
    match load_sub(c, sub).await? {
        None => {
            sqlx::query(
                "INSERT INTO subscriptions (id, user_id, customer, status, plan, seats, event_created, updated_seq)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(sub)
            .bind(user)
            .bind(customer)
            .bind(status)
            .bind(plan)
            .bind(seats.unwrap_or(1))
            .bind(created - 1)
            .bind(seq)
            .execute(&mut *c)
            .await?;
        }
        Some(row) => {
            if only_from.contains(&row.status.as_str()) {
                sqlx::query("UPDATE subscriptions SET status = ?, updated_seq = ? WHERE id = ?")
                    .bind(status)
                    .bind(seq)
                    .bind(sub)
                    .execute(&mut *c)
                    .await?;
            }
        }
    }
    touch_last_sub(c, user, sub).await
}

// ---- event handlers -----------------------------------------------------------------------------

/// Applies one event inside the caller's transaction.
pub async fn apply(c: &mut SqliteConnection, ctx: &Ctx, ev: &Event) -> Result<(), Reject> {
    match action_for(&ev.kind) {
        Action::Checkout => checkout_completed(c, ctx, ev).await,
        Action::Subscription { deleted } => subscription_changed(c, ctx, ev, deleted).await,
        Action::TrialWillEnd => trial_will_end(c, ev).await,
        Action::InvoicePaid => invoice_paid(c, ctx, ev).await,
        Action::InvoiceFailed => invoice_failed(c, ctx, ev).await,
        Action::PaymentIntent => payment_intent(c, ctx, ev).await,
        Action::Ignore => Ok(()),
    }
}

async fn checkout_completed(c: &mut SqliteConnection, ctx: &Ctx, ev: &Event) -> Result<(), Reject> {
    let o = &ev.object;
    let session = text(o, "/id").ok_or_else(|| Reject::Bad("checkout session has no id".into()))?;
    let user = if ctx.is(Fault::CrashOnNullLinkage) {
        // The bug: `session.client_reference_id.unwrap()`, and no other way to find the user.
        match text(o, "/client_reference_id") {
            None => return Err(Reject::Crash),
            Some(id) => user_exists(c, &id).await?.then_some(id),
        }
    } else {
        let mut found = find_user(
            c,
            &[
                text(o, "/client_reference_id"),
                text(o, "/metadata/user_id"),
            ],
            None,
            None,
        )
        .await?;
        if found.is_none() {
            if let Some(mail) =
                text(o, "/customer_details/email").or_else(|| text(o, "/customer_email"))
            {
                found = user_by(c, "email", &mail).await?;
            }
        }
        found
    };
    let Some(user) = user else {
        return Err(Reject::Retry(
            "no user to link this checkout to yet; retry later".into(),
        ));
    };
    let customer = text(o, "/customer");
    let subscription = text(o, "/subscription");
    let plan = text(o, "/metadata/plan").unwrap_or_else(|| "pro".into());
    let seats = int(o, "/metadata/seats").filter(|n| *n > 0).unwrap_or(1);

    sqlx::query(
        "UPDATE users SET customer = COALESCE(?, customer), subscription = COALESCE(?, subscription),
         plan = ?, status = 'active', seats = ? WHERE id = ?",
    )
    .bind(&customer)
    .bind(&subscription)
    .bind(&plan)
    .bind(seats)
    .bind(&user)
    .execute(&mut *c)
    .await?;
    if let Some(sub) = &subscription {
        // Paid checkout: the subscription is active; an earlier "incomplete" snapshot is superseded.
        set_sub_status(
            c,
            sub,
            &user,
            customer.as_deref(),
            "active",
            Some(&plan),
            Some(seats),
            ev.created,
            &["incomplete"],
        )
        .await?;
    }
    fulfil_session(c, ctx, &session, &user, FulfilVia::Event(&ev.id)).await?;
    email(c, &user, "welcome", Some(&ev.id)).await?;
    Ok(())
}

async fn subscription_changed(
    c: &mut SqliteConnection,
    ctx: &Ctx,
    ev: &Event,
    deleted: bool,
) -> Result<(), Reject> {
    let o = &ev.object;
    let sub = text(o, "/id").ok_or_else(|| Reject::Bad("subscription has no id".into()))?;
    let customer = text(o, "/customer");
    let top_period_end = int(o, "/current_period_end");
    if ctx.is(Fault::CrashOnBasil) && top_period_end.is_none() {
        // The bug: `sub.current_period_end.unwrap()`; basil moved it onto the items.
        return Err(Reject::Crash);
    }
    let Some(user) = find_user(
        c,
        &[text(o, "/metadata/user_id")],
        customer.as_deref(),
        Some(&sub),
    )
    .await?
    else {
        return Err(Reject::Retry(
            "no user linked to this subscription yet; retry later".into(),
        ));
    };
    let existing = load_sub(c, &sub).await?;
    let status = if deleted {
        "canceled".to_string()
    } else {
        text(o, "/status")
            .or_else(|| existing.as_ref().map(|r| r.status.clone()))
            .unwrap_or_else(|| "incomplete".into())
    };

    let apply = match &existing {
        None => true,
        Some(_) if ctx.is(Fault::BlindStatusWrites) => true,
        Some(row) if ctx.is(Fault::StrictTieBreak) => ev.created > row.event_created,
        Some(row) => {
            ev.created > row.event_created
                || (ev.created == row.event_created
                    && status_rank(&status) >= status_rank(&row.status))
        }
    };
    touch_last_sub(c, &user, &sub).await?;
    if !apply {
        return Ok(());
    }

    let plan = text(o, "/items/data/0/price/lookup_key")
        .or_else(|| text(o, "/items/data/0/plan/nickname").map(|s| s.to_lowercase()))
        .or_else(|| text(o, "/metadata/plan"))
        .or_else(|| existing.as_ref().and_then(|r| r.plan.clone()))
        .unwrap_or_else(|| "pro".into());
    let seats = int(o, "/items/data/0/quantity")
        .or_else(|| existing.as_ref().and_then(|r| r.seats))
        .unwrap_or(1);
    let period_end = top_period_end.or_else(|| int(o, "/items/data/0/current_period_end"));
    let cancel_at = int(o, "/cancel_at").or_else(|| {
        // cancel_at_period_end without cancel_at (older payloads): the period end is the date.
        (o.pointer("/cancel_at_period_end") == Some(&Value::Bool(true)))
            .then_some(period_end)
            .flatten()
    });
    let seq = next_seq(c).await?;
    sqlx::query(
        "INSERT INTO subscriptions (id, user_id, customer, status, plan, seats, cancel_at,
             current_period_end, event_created, updated_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET customer = COALESCE(excluded.customer, customer),
             status = excluded.status, plan = excluded.plan, seats = excluded.seats,
             cancel_at = excluded.cancel_at, current_period_end = excluded.current_period_end,
             event_created = excluded.event_created, updated_seq = excluded.updated_seq",
    )
    .bind(&sub)
    .bind(&user)
    .bind(&customer)
    .bind(&status)
    .bind(&plan)
    .bind(seats)
    .bind(cancel_at)
    .bind(period_end)
    .bind(ev.created)
    .bind(seq)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE users SET customer = COALESCE(customer, ?), subscription = COALESCE(subscription, ?)
         WHERE id = ?",
    )
    .bind(&customer)
    .bind(&sub)
    .bind(&user)
    .execute(&mut *c)
    .await?;
    if deleted {
        email(c, &user, "canceled", Some(&ev.id)).await?;
    }
    Ok(())
}

async fn trial_will_end(c: &mut SqliteConnection, ev: &Event) -> Result<(), Reject> {
    let o = &ev.object;
    let sub = text(o, "/id");
    let Some(user) = find_user(
        c,
        &[text(o, "/metadata/user_id")],
        text(o, "/customer").as_deref(),
        sub.as_deref(),
    )
    .await?
    else {
        return Err(Reject::Retry(
            "no user linked to this subscription yet; retry later".into(),
        ));
    };
    email(c, &user, "trial_ending", Some(&ev.id)).await?;
    Ok(())
}

/// The invoice's subscription: basil's `parent.subscription_details.subscription`, or the legacy
/// top-level `subscription`.
fn invoice_subscription(o: &Value) -> Option<String> {
    text(o, "/parent/subscription_details/subscription").or_else(|| text(o, "/subscription"))
}

async fn invoice_user(c: &mut SqliteConnection, o: &Value) -> Result<String, Reject> {
    let sub = invoice_subscription(o);
    find_user(
        c,
        &[
            text(o, "/metadata/user_id"),
            text(o, "/parent/subscription_details/metadata/user_id"),
            text(o, "/subscription_details/metadata/user_id"),
        ],
        text(o, "/customer").as_deref(),
        sub.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        Reject::Retry("no user linked to this invoice's customer yet; retry later".into())
    })
}

async fn user_plan_seats(
    c: &mut SqliteConnection,
    user: &str,
) -> Result<(Option<String>, Option<i64>), sqlx::Error> {
    let row = sqlx::query("SELECT plan, seats FROM users WHERE id = ?")
        .bind(user)
        .fetch_one(&mut *c)
        .await?;
    Ok((row.get(0), row.get(1)))
}

async fn invoice_paid(c: &mut SqliteConnection, ctx: &Ctx, ev: &Event) -> Result<(), Reject> {
    let o = &ev.object;
    let invoice = text(o, "/id").ok_or_else(|| Reject::Bad("invoice has no id".into()))?;
    let user = invoice_user(c, o).await?;
    if let Some(sub) = invoice_subscription(o) {
        let (plan, seats) = user_plan_seats(c, &user).await?;
        let plan = plan.unwrap_or_else(|| "pro".into());
        set_sub_status(
            c,
            &sub,
            &user,
            text(o, "/customer").as_deref(),
            "active",
            Some(&plan),
            seats,
            ev.created,
            &["incomplete", "past_due", "unpaid", "active", "trialing"],
        )
        .await?;
    }
    // invoice.paid and invoice.payment_succeeded both arrive for one payment: one grant and one
    // receipt per invoice.
    let key = if ctx.unkeyed_grants() {
        fresh_key("delivery")
    } else {
        format!("invoice:{invoice}")
    };
    if grant(c, &key, &user, "invoice").await? {
        email(c, &user, "receipt", Some(&ev.id)).await?;
    }
    Ok(())
}

async fn invoice_failed(c: &mut SqliteConnection, ctx: &Ctx, ev: &Event) -> Result<(), Reject> {
    if ctx.is(Fault::PaymentFailureIgnored) {
        return Ok(());
    }
    let o = &ev.object;
    let user = invoice_user(c, o).await?;
    if let Some(sub) = invoice_subscription(o) {
        let (plan, seats) = user_plan_seats(c, &user).await?;
        set_sub_status(
            c,
            &sub,
            &user,
            text(o, "/customer").as_deref(),
            "past_due",
            plan.as_deref(),
            seats,
            ev.created,
            &["incomplete", "active", "trialing"],
        )
        .await?;
    }
    email(c, &user, "payment_failed", Some(&ev.id)).await?;
    Ok(())
}

async fn payment_intent(c: &mut SqliteConnection, ctx: &Ctx, ev: &Event) -> Result<(), Reject> {
    let o = &ev.object;
    let pi = text(o, "/id").ok_or_else(|| Reject::Bad("payment intent has no id".into()))?;
    let session = text(o, "/metadata/checkout_session");
    let user = find_user(
        c,
        &[text(o, "/metadata/user_id")],
        text(o, "/customer").as_deref(),
        None,
    )
    .await?;
    if session.is_some() && user.is_none() {
        return Err(Reject::Retry(
            "no user to link this payment to yet; retry later".into(),
        ));
    }
    sqlx::query(
        "INSERT OR IGNORE INTO payments (id, user_id, amount, checkout_session) VALUES (?, ?, ?, ?)",
    )
    .bind(&pi)
    .bind(&user)
    .bind(int(o, "/amount_received").or_else(|| int(o, "/amount")))
    .bind(&session)
    .execute(&mut *c)
    .await?;
    if let (Some(session), Some(user)) = (session, user) {
        fulfil_session(c, ctx, &session, &user, FulfilVia::Event(&ev.id)).await?;
    }
    Ok(())
}

// ---- reads (the state API) ----------------------------------------------------------------------

/// `GET /internal/users/{id}`; None when there is no such user.
pub async fn read_user(
    c: &mut SqliteConnection,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<Value>, sqlx::Error> {
    let Some(u) = sqlx::query(
        "SELECT id, email, customer, subscription, plan, status, seats, credits, last_subscription
         FROM users WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?
    else {
        return Ok(None);
    };
    let mut out = json!({
        "id": u.get::<String, _>(0),
        "email": u.get::<Option<String>, _>(1),
        "customer": u.get::<Option<String>, _>(2),
        "subscription": u.get::<Option<String>, _>(3),
        "plan": u.get::<Option<String>, _>(4),
        "status": u.get::<Option<String>, _>(5),
        "access": policy_access(u.get::<Option<String>, _>(5).as_deref()),
        "credits": u.get::<i64, _>(7),
        "seats": u.get::<Option<i64>, _>(6),
        "cancel_at": Value::Null,
    });
    let last: Option<String> = u.get(8);

    let subs = sqlx::query(
        "SELECT id, status, plan, seats, cancel_at, updated_seq FROM subscriptions
         WHERE user_id = ? ORDER BY updated_seq DESC",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    let chosen = if ctx.is(Fault::DowngradeOnOtherSub) {
        // The bug: the user's state is whatever the last event's subscription says.
        subs.iter()
            .find(|r| Some(r.get::<String, _>(0)) == last)
            .or_else(|| subs.first())
    } else {
        // Best access wins; among equals, the most recently updated (rows come newest first).
        subs.iter()
            .fold(None, |best: Option<&sqlx::sqlite::SqliteRow>, r| {
                let acc = |r: &sqlx::sqlite::SqliteRow| {
                    access_rank(sub_access(ctx, &r.get::<String, _>(1), r.get(4)))
                };
                match best {
                    Some(b) if acc(b) >= acc(r) => Some(b),
                    _ => Some(r),
                }
            })
    };
    if let Some(r) = chosen {
        let status: String = r.get(1);
        let cancel_at: Option<i64> = r.get(4);
        out["subscription"] = json!(r.get::<String, _>(0));
        out["access"] = json!(sub_access(ctx, &status, cancel_at));
        out["status"] = json!(status);
        out["plan"] = json!(r.get::<Option<String>, _>(2));
        out["seats"] = json!(r.get::<Option<i64>, _>(3));
        out["cancel_at"] = json!(cancel_at);
    }
    Ok(Some(out))
}

/// `GET /internal/users/{id}/outbox`; None when there is no such user.
pub async fn read_outbox(c: &mut SqliteConnection, id: &str) -> Result<Option<Value>, sqlx::Error> {
    if !user_exists(c, id).await? {
        return Ok(None);
    }
    let rows = sqlx::query("SELECT kind, event_id FROM outbox WHERE user_id = ? ORDER BY seq")
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
    let mut counts = serde_json::Map::new();
    for k in EMAIL_KINDS {
        counts.insert((*k).to_string(), json!(0));
    }
    let mut emails = Vec::new();
    for r in &rows {
        let kind: String = r.get(0);
        let n = counts.get(&kind).and_then(Value::as_i64).unwrap_or(0);
        counts.insert(kind.clone(), json!(n + 1));
        emails.push(json!({"kind": kind, "event_id": r.get::<Option<String>, _>(1)}));
    }
    Ok(Some(json!({"counts": counts, "emails": emails})))
}

/// `GET /internal/events/{id}`: an event never seen (or answered 409) reads `processed: false`.
pub async fn read_event(c: &mut SqliteConnection, id: &str) -> Result<Value, sqlx::Error> {
    let row = sqlx::query("SELECT type, processed FROM ledger WHERE event_id = ?")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    Ok(match row {
        Some(r) => {
            json!({"id": id, "type": r.get::<String, _>(0), "processed": r.get::<i64, _>(1) != 0})
        }
        None => json!({"id": id, "type": null, "processed": false}),
    })
}
