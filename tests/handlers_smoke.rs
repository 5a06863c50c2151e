//! The reference handlers (tests/handlers/{python,node}) run for real: the
//! official Stripe SDK verifies, PostgreSQL stores, requests travel over
//! loopback sockets. Headers are built with openssl here, not by luota.

mod support;

use serde_json::{json, Value};
use support::handlers::{start, Lang, RunningHandler, SECRET, SECRET_2};
use support::{now, openssl_header};

struct Client {
    http: reqwest::Client,
}

impl Client {
    fn new() -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap(),
        }
    }

    /// POST a raw body with a Stripe-Signature header; (status, JSON body).
    async fn deliver(&self, h: &RunningHandler, body: &[u8], header: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(h.url("/webhook"))
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_vec());
        if let Some(header) = header {
            req = req.header("stripe-signature", header);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    async fn get(&self, h: &RunningHandler, path: &str) -> (u16, Value) {
        let resp = self.http.get(h.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn create_user(&self, h: &RunningHandler, id: &str) {
        let resp = self
            .http
            .post(h.url("/test/users"))
            .json(&json!({"id": id, "email": format!("{id}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}: POST /test/users",
            h.lang.name()
        );
    }
}

/// An event body as Stripe sends it (two-space pretty print).
fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": object},
    }))
    .unwrap()
}

fn checkout(session: &str, user: &str) -> Value {
    json!({
        "id": session,
        "object": "checkout.session",
        "client_reference_id": user,
        "customer": "cus_smoke_1",
        "subscription": "sub_smoke_1",
        "metadata": {},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
    })
}

async fn smoke(lang: Lang) {
    let Some(h) = start(lang) else { return };
    let c = Client::new();
    let name = lang.name();
    let (status, _) = c.get(&h, "/internal/users/u_1").await;
    assert_eq!(status, 404, "{name}: unknown user");

    // Checkout for a user the app does not know yet: 409 so Stripe retries,
    // and nothing recorded, so the retry applies once the user exists.
    let early = event(
        "evt_smoke_early",
        "checkout.session.completed",
        checkout("cs_early", "u_1"),
    );
    let early_sig = openssl_header(SECRET, now(), &early);
    let (status, _) = c.deliver(&h, &early, Some(&early_sig)).await;
    assert_eq!(
        status,
        409,
        "{name}: checkout before the user exists\n{}",
        h.log()
    );

    c.create_user(&h, "u_1").await;
    let (status, _) = c.deliver(&h, &early, Some(&early_sig)).await;
    assert_eq!(
        status,
        200,
        "{name}: retried checkout after user exists\n{}",
        h.log()
    );

    // Another valid checkout event for the same session, then an exact replay.
    let body = event(
        "evt_smoke_1",
        "checkout.session.completed",
        checkout("cs_early", "u_1"),
    );
    let sig = openssl_header(SECRET, now(), &body);
    for attempt in ["first", "replay"] {
        let (status, v) = c.deliver(&h, &body, Some(&sig)).await;
        assert_eq!(status, 200, "{name}: {attempt} delivery: {v}\n{}", h.log());
    }

    let (status, user) = c.get(&h, "/internal/users/u_1").await;
    assert_eq!(status, 200, "{name}: GET user");
    assert_eq!(user["access"], "full", "{name}: {user}");
    assert_eq!(user["status"], "active", "{name}: {user}");
    assert_eq!(user["plan"], "pro", "{name}: {user}");
    assert_eq!(user["customer"], "cus_smoke_1", "{name}: {user}");
    assert_eq!(
        user["credits"], 100,
        "{name}: credits once per session: {user}"
    );
    assert_eq!(user["seats"], 1, "{name}: {user}");

    let (_, outbox) = c.get(&h, "/internal/users/u_1/outbox").await;
    assert_eq!(
        outbox["counts"]["welcome"], 1,
        "{name}: exactly one welcome: {outbox}"
    );
    for kind in ["payment_failed", "canceled", "receipt", "trial_ending"] {
        assert_eq!(
            outbox["counts"][kind], 0,
            "{name}: zero-filled {kind}: {outbox}"
        );
    }
    assert_eq!(
        outbox["emails"].as_array().map(Vec::len),
        Some(1),
        "{name}: {outbox}"
    );
    assert_eq!(
        outbox["emails"][0]["event_id"], "evt_smoke_early",
        "{name}: {outbox}"
    );

    // Bad signatures: 400 with an error, nothing applied.
    let failed = event(
        "evt_smoke_bad",
        "invoice.payment_failed",
        json!({"id": "in_1", "object": "invoice", "customer": "cus_smoke_1"}),
    );
    let wrong = openssl_header("whsec_notTheHandlersSecret", now(), &failed);
    for (label, header) in [("wrong secret", Some(wrong.as_str())), ("no header", None)] {
        let (status, v) = c.deliver(&h, &failed, header).await;
        assert_eq!(status, 400, "{name}: {label}: {v}");
        assert!(
            v["error"].is_string(),
            "{name}: {label}: 400 body has an error: {v}"
        );
    }
    let (_, user) = c.get(&h, "/internal/users/u_1").await;
    assert_eq!(
        user["access"], "full",
        "{name}: bad signature applied nothing: {user}"
    );

    // The second secret is accepted too (secret rotation).
    let sig2 = openssl_header(SECRET_2, now(), &failed);
    let (status, v) = c.deliver(&h, &failed, Some(&sig2)).await;
    assert_eq!(
        status,
        200,
        "{name}: signed with STRIPE_WEBHOOK_SECRET_2: {v}\n{}",
        h.log()
    );
    let (_, user) = c.get(&h, "/internal/users/u_1").await;
    assert_eq!(
        user["access"], "grace",
        "{name}: payment_failed -> grace: {user}"
    );
    let (_, outbox) = c.get(&h, "/internal/users/u_1/outbox").await;
    assert_eq!(outbox["counts"]["payment_failed"], 1, "{name}: {outbox}");

    // Nulls and missing optional fields never 500.
    let sparse = event(
        "evt_smoke_sparse",
        "customer.subscription.updated",
        json!({"id": null, "customer": "cus_smoke_1", "status": null, "items": null, "metadata": null}),
    );
    let (status, v) = c
        .deliver(&h, &sparse, Some(&openssl_header(SECRET, now(), &sparse)))
        .await;
    assert_eq!(
        status,
        200,
        "{name}: sparse subscription event: {v}\n{}",
        h.log()
    );
}

#[tokio::test]
async fn python_handler_smoke() {
    smoke(Lang::Python).await;
}

#[tokio::test]
async fn node_handler_smoke() {
    smoke(Lang::Node).await;
}

/// Like [`event`] with an explicit `created`.
fn event_at(id: &str, kind: &str, created: i64, object: Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&event(id, kind, object)).unwrap();
    v["created"] = json!(created);
    serde_json::to_vec_pretty(&v).unwrap()
}

fn subscription(status: &str, lookup_key: &str, quantity: i64) -> Value {
    json!({
        "id": "sub_rules_1",
        "object": "subscription",
        "customer": "cus_rules_1",
        "status": status,
        "metadata": {"user_id": "u_r"},
        "items": {"object": "list", "data": [
            {"id": "si_1", "quantity": quantity, "price": {"id": "price_1", "lookup_key": lookup_key}}
        ]},
    })
}

async fn rules(lang: Lang) {
    let Some(h) = start(lang) else { return };
    let c = Client::new();
    let name = lang.name();
    c.create_user(&h, "u_r").await;

    // Concurrent duplicates of one event: the ledger insert and the effects
    // share a transaction, so exactly one applies.
    let mut o = checkout("cs_rules", "u_r");
    o["customer"] = json!("cus_rules_1");
    let body = event("evt_rules_dup", "checkout.session.completed", o);
    let sig = openssl_header(SECRET, now(), &body);
    let sends = (0..8).map(|_| c.deliver(&h, &body, Some(&sig)));
    for (status, v) in futures_join_all(sends).await {
        assert_eq!(
            status,
            200,
            "{name}: concurrent duplicate: {v}\n{}",
            h.log()
        );
    }
    let (_, outbox) = c.get(&h, "/internal/users/u_r/outbox").await;
    assert_eq!(
        outbox["counts"]["welcome"], 1,
        "{name}: concurrent replays: {outbox}"
    );
    let (_, user) = c.get(&h, "/internal/users/u_r").await;
    assert_eq!(user["credits"], 100, "{name}: {user}");

    // Subscription updates, delivered out of order: the older one is ignored.
    let t = now();
    let newer = event_at(
        "evt_sub_new",
        "customer.subscription.updated",
        t,
        subscription("past_due", "team", 5),
    );
    let older = event_at(
        "evt_sub_old",
        "customer.subscription.updated",
        t - 60,
        subscription("active", "pro", 2),
    );
    for b in [&newer, &older] {
        let (status, v) = c
            .deliver(&h, b, Some(&openssl_header(SECRET, now(), b)))
            .await;
        assert_eq!(status, 200, "{name}: subscription update: {v}\n{}", h.log());
    }
    let (_, user) = c.get(&h, "/internal/users/u_r").await;
    assert_eq!(
        user["status"], "past_due",
        "{name}: older event ignored: {user}"
    );
    assert_eq!(user["access"], "grace", "{name}: {user}");
    assert_eq!(user["plan"], "team", "{name}: {user}");
    assert_eq!(user["seats"], 5, "{name}: {user}");

    // invoice.paid by customer -> active/full + receipt.
    let paid = event(
        "evt_inv_paid",
        "invoice.paid",
        json!({"id": "in_r", "object": "invoice", "customer": "cus_rules_1", "metadata": null, "parent": null}),
    );
    let (status, v) = c
        .deliver(&h, &paid, Some(&openssl_header(SECRET, now(), &paid)))
        .await;
    assert_eq!(status, 200, "{name}: invoice.paid: {v}\n{}", h.log());
    let (_, user) = c.get(&h, "/internal/users/u_r").await;
    assert_eq!(
        (user["status"].as_str(), user["access"].as_str()),
        (Some("active"), Some("full")),
        "{name}: {user}"
    );

    // Deleted -> canceled/none + one canceled email.
    let deleted = event_at(
        "evt_sub_del",
        "customer.subscription.deleted",
        t + 5,
        subscription("active", "team", 5),
    );
    let (status, v) = c
        .deliver(&h, &deleted, Some(&openssl_header(SECRET, now(), &deleted)))
        .await;
    assert_eq!(status, 200, "{name}: deleted: {v}\n{}", h.log());
    let (_, user) = c.get(&h, "/internal/users/u_r").await;
    assert_eq!(
        (user["status"].as_str(), user["access"].as_str()),
        (Some("canceled"), Some("none")),
        "{name}: {user}"
    );
    let (_, outbox) = c.get(&h, "/internal/users/u_r/outbox").await;
    assert_eq!(outbox["counts"]["receipt"], 1, "{name}: {outbox}");
    assert_eq!(outbox["counts"]["canceled"], 1, "{name}: {outbox}");

    // A subscription event for a customer nobody has: 409, not recorded.
    let mut stray = subscription("active", "pro", 1);
    stray["customer"] = json!("cus_nobody");
    stray["metadata"] = json!({});
    let stray = event("evt_stray", "customer.subscription.created", stray);
    let (status, _) = c
        .deliver(&h, &stray, Some(&openssl_header(SECRET, now(), &stray)))
        .await;
    assert_eq!(status, 409, "{name}: unknown customer\n{}", h.log());
}

/// Drive all futures concurrently and collect their outputs in order (a
/// join_all without adding the `futures` crate to Cargo.toml).
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<_> = futs.map(Box::pin).collect();
    let mut pending: Vec<Option<_>> = futs.into_iter().map(Some).collect();
    let mut out: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn python_handler_rules() {
    rules(Lang::Python).await;
}

#[tokio::test]
async fn node_handler_rules() {
    rules(Lang::Node).await;
}
