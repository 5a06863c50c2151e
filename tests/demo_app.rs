//! The demo app over real loopback HTTP: the correct app keeps every promise, and each fault shows
//! its bug to the delivery that exposes it (while unrelated behaviour stays correct).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use luota::demo::{DemoOptions, DemoServer, Fault};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

const SECRET: &str = "whsec_demo_primary_0123456789";
const SECOND: &str = "whsec_demo_secondary_abcdef";

// ---- a tiny HTTP/1.1 client: requests fully built before any barrier -----------------------------

fn request(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        out.push_str("Content-Type: application/json\r\n");
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

async fn exchange(mut stream: TcpStream, raw: &[u8]) -> (u16, Value) {
    stream.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn send_raw(addr: SocketAddr, raw: &[u8]) -> (u16, Value) {
    exchange(TcpStream::connect(addr).await.unwrap(), raw).await
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(secret: &str, t: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn header_at(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, &t.to_string(), body))
}

struct Demo {
    server: DemoServer,
}

impl Demo {
    async fn start(fault: Option<Fault>) -> Demo {
        let mut opts = DemoOptions::new(SECRET);
        opts.secondary_secret = Some(SECOND.into());
        opts.fault = fault;
        let server = DemoServer::start("127.0.0.1:0".parse().unwrap(), opts)
            .await
            .unwrap();
        Demo { server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        send_raw(self.addr(), &request("GET", path, &[], b"")).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(body).unwrap();
        send_raw(self.addr(), &request("POST", path, &[], &body)).await
    }

    async fn user(&self, id: &str) -> Value {
        let (status, v) = self.get(&format!("/internal/users/{id}")).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    async fn emails(&self, id: &str, kind: &str) -> i64 {
        let (status, v) = self.get(&format!("/internal/users/{id}/outbox")).await;
        assert_eq!(status, 200, "{v}");
        v["counts"][kind].as_i64().unwrap()
    }

    async fn new_user(&self, id: &str) {
        let (status, _) = self
            .post(
                "/test/users",
                &json!({"id": id, "email": format!("{id}@example.test")}),
            )
            .await;
        assert_eq!(status, 201);
    }

    /// The raw request Stripe would send: pretty body, valid signature with the primary secret.
    fn webhook_request(&self, event: &Value) -> Vec<u8> {
        let body = serde_json::to_vec_pretty(event).unwrap();
        signed_request(&body, header_at(SECRET, now(), &body))
    }

    async fn deliver(&self, event: &Value) -> u16 {
        send_raw(self.addr(), &self.webhook_request(event)).await.0
    }

    async fn deliver_body(&self, body: &[u8], header: Option<String>) -> u16 {
        let raw = match header {
            Some(h) => signed_request(body, h),
            None => request("POST", "/webhook", &[], body),
        };
        send_raw(self.addr(), &raw).await.0
    }

    /// `copies` identical requests on pre-opened connections, written after one barrier.
    async fn together(&self, raw: Vec<u8>, copies: usize) -> Vec<u16> {
        let barrier = Arc::new(Barrier::new(copies));
        let raw = Arc::new(raw);
        let mut tasks = Vec::new();
        for _ in 0..copies {
            let stream = TcpStream::connect(self.addr()).await.unwrap();
            let (barrier, raw) = (barrier.clone(), raw.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                exchange(stream, &raw).await.0
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}

fn signed_request(body: &[u8], header: String) -> Vec<u8> {
    request(
        "POST",
        "/webhook",
        &[("Stripe-Signature".to_string(), header)],
        body,
    )
}

// ---- realistic events ---------------------------------------------------------------------------

fn uid() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

fn envelope(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind
    })
}

fn checkout(evt: &str, user: Option<&str>, session: &str, customer: &str, sub: &str) -> Value {
    envelope(
        evt,
        "checkout.session.completed",
        now(),
        json!({
            "id": session,
            "object": "checkout.session",
            "client_reference_id": user,
            "customer": customer,
            "customer_details": {"email": null, "name": null},
            "metadata": {},
            "mode": "subscription",
            "payment_status": "paid",
            "status": "complete",
            "subscription": sub,
            "amount_total": 2000,
            "some_future_field": {"nested": [1, 2, 3]}
        }),
    )
}

/// A subscription event in the basil shape (period on the items), or legacy (top level).
fn subscription(
    evt: &str,
    kind: &str,
    created: i64,
    sub: &str,
    customer: &str,
    status: &str,
    basil: bool,
) -> Value {
    let period_end = now() + 30 * 86400;
    let mut item = json!({
        "id": format!("si_{sub}"),
        "object": "subscription_item",
        "price": {"id": "price_pro", "lookup_key": "pro", "recurring": {"interval": "month"}},
        "quantity": 1
    });
    let mut object = json!({
        "id": sub,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "metadata": {},
        "items": {"object": "list", "data": [], "has_more": false}
    });
    if basil {
        item["current_period_end"] = json!(period_end);
    } else {
        object["current_period_end"] = json!(period_end);
    }
    object["items"]["data"] = json!([item]);
    envelope(evt, kind, created, object)
}

fn invoice(evt: &str, kind: &str, inv: &str, customer: &str, sub: &str) -> Value {
    envelope(
        evt,
        kind,
        now(),
        json!({
            "id": inv,
            "object": "invoice",
            "customer": customer,
            "status": if kind == "invoice.payment_failed" { "open" } else { "paid" },
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub, "metadata": {}}
            },
            "metadata": {},
            "amount_paid": 2000
        }),
    )
}

/// The app put the user and the session in `payment_intent_data.metadata` when it created the
/// session, so the payment intent can be linked even when it arrives before the checkout event.
fn payment_intent(evt: &str, pi: &str, user: &str, customer: &str, session: &str) -> Value {
    envelope(
        evt,
        "payment_intent.succeeded",
        now(),
        json!({
            "id": pi,
            "object": "payment_intent",
            "amount": 2000,
            "amount_received": 2000,
            "customer": customer,
            "metadata": {"checkout_session": session, "user_id": user},
            "status": "succeeded"
        }),
    )
}

/// A user who has checked out: (user, customer, subscription).
async fn checked_out(d: &Demo) -> (String, String, String) {
    let u = uid();
    let (user, cus, sub) = (format!("user_{u}"), format!("cus_{u}"), format!("sub_{u}"));
    d.new_user(&user).await;
    let ev = checkout(
        &format!("evt_co_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        &cus,
        &sub,
    );
    assert_eq!(d.deliver(&ev).await, 200);
    (user, cus, sub)
}

// ---- the correct app ----------------------------------------------------------------------------

#[tokio::test]
async fn checkout_grants_access_and_a_replay_applies_nothing() {
    let d = Demo::start(None).await;
    let (status, _) = d.get("/healthz").await;
    assert_eq!(status, 200);
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    assert_eq!(
        d.post(
            "/test/users",
            &json!({"id": user, "email": "x@example.test"})
        )
        .await
        .0,
        200,
        "creating a user is idempotent"
    );
    let before = d.user(&user).await;
    assert_eq!(before["access"], "none");
    assert_eq!(before["plan"], Value::Null);

    let ev = checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_1",
        "sub_1",
    );
    assert_eq!(d.deliver(&ev).await, 200);
    let after = d.user(&user).await;
    assert_eq!(after["access"], "full");
    assert_eq!(after["plan"], "pro");
    assert_eq!(after["status"], "active");
    assert_eq!(after["customer"], "cus_1");
    assert_eq!(after["subscription"], "sub_1");
    assert_eq!(after["credits"], 100);
    assert_eq!(after["seats"], 1);
    assert_eq!(d.emails(&user, "welcome").await, 1);
    let (_, e) = d.get(&format!("/internal/events/evt_{u}")).await;
    assert_eq!(
        e,
        json!({"id": format!("evt_{u}"), "type": "checkout.session.completed", "processed": true})
    );

    // A replay, freshly signed: acknowledged, nothing applied.
    assert_eq!(d.deliver(&ev).await, 200);
    assert_eq!(d.user(&user).await, after);
    assert_eq!(d.emails(&user, "welcome").await, 1);

    let (_, outbox) = d.get(&format!("/internal/users/{user}/outbox")).await;
    assert_eq!(
        outbox["counts"],
        json!({"welcome": 1, "payment_failed": 0, "canceled": 0, "trial_ending": 0, "receipt": 0})
    );
    assert_eq!(
        outbox["emails"],
        json!([{"kind": "welcome", "event_id": format!("evt_{u}")}])
    );
    // SQL checks read the same file through database_url (the DESIGN example, `$1` included).
    let pool = sqlx::SqlitePool::connect(&d.server.database_url)
        .await
        .unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM outbox WHERE user_id = $1 AND kind = 'welcome'")
            .bind(&user)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
    pool.close().await;
    assert_eq!(d.get("/internal/users/nobody").await.0, 404);
    let (_, unseen) = d.get("/internal/events/evt_never").await;
    assert_eq!(unseen["processed"], false);
    d.server.shutdown().await;
}

#[tokio::test]
async fn twenty_concurrent_copies_apply_once() {
    let d = Demo::start(None).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let raw = d.webhook_request(&checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_c",
        "sub_c",
    ));
    let statuses = d.together(raw, 20).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(d.emails(&user, "welcome").await, 1);
    assert_eq!(d.user(&user).await["credits"], 100);
}

#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let d = Demo::start(None).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let before = d.user(&user).await;
    let t = now();
    let mut n = 0;
    let mut body_for = || {
        n += 1;
        serde_json::to_vec_pretty(&checkout(
            &format!("evt_{u}_{n}"),
            Some(&user),
            &format!("cs_{u}_{n}"),
            "cus_x",
            "sub_x",
        ))
        .unwrap()
    };
    type MakeHeader = Option<Box<dyn Fn(&[u8]) -> String>>;
    let cases: Vec<(&str, Vec<u8>, MakeHeader)> = vec![
        ("none", body_for(), None),
        ("empty", body_for(), Some(Box::new(|_| String::new()))),
        (
            "garbage",
            body_for(),
            Some(Box::new(|_| "not-a-signature".into())),
        ),
        (
            "wrong secret",
            body_for(),
            Some(Box::new(move |b| header_at("whsec_wrong", t, b))),
        ),
        (
            "stale",
            body_for(),
            Some(Box::new(move |b| header_at(SECRET, t - 600, b))),
        ),
        (
            "future",
            body_for(),
            Some(Box::new(move |b| header_at(SECRET, t + 600, b))),
        ),
        (
            "bad t",
            body_for(),
            Some(Box::new(move |b| {
                format!("t=soon,v1={}", sign(SECRET, "soon", b))
            })),
        ),
        (
            "no v1",
            body_for(),
            Some(Box::new(move |_| format!("t={t}"))),
        ),
    ];
    for (name, body, header) in cases {
        let status = d.deliver_body(&body, header.map(|h| h(&body))).await;
        assert_eq!(status, 400, "{name}");
    }
    // Tampered: signed, then changed.
    let body = body_for();
    let header = header_at(SECRET, t, &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("\"amount_total\": 2000", "\"amount_total\": 1");
    assert_eq!(
        d.deliver_body(tampered.as_bytes(), Some(header)).await,
        400,
        "tampered"
    );
    assert_eq!(d.user(&user).await, before);
    assert_eq!(d.emails(&user, "welcome").await, 0);
    let (_, e) = d.get(&format!("/internal/events/evt_{u}_1")).await;
    assert_eq!(e["processed"], false);

    // Within the windows, the secondary secret, and a rotation header with two v1 are accepted.
    let body = body_for();
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECRET, t - 200, &body)))
            .await,
        200
    );
    let body = body_for();
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECRET, t + 200, &body)))
            .await,
        200
    );
    let body = body_for();
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECOND, t, &body)))
            .await,
        200
    );
    let body = body_for();
    let rotated = format!(
        "t={t},v1={},v1={}",
        sign("whsec_old", &t.to_string(), &body),
        sign(SECRET, &t.to_string(), &body)
    );
    assert_eq!(d.deliver_body(&body, Some(rotated)).await, 200);
}

#[tokio::test]
async fn byte_hostile_valid_bodies_are_accepted() {
    let d = Demo::start(None).await;
    for variant in ["escapes", "compact", "newline"] {
        let u = uid();
        let user = format!("user_{u}");
        d.new_user(&user).await;
        let mut ev = checkout(
            &format!("evt_{u}"),
            Some(&user),
            &format!("cs_{u}"),
            "cus_h",
            "sub_h",
        );
        ev["data"]["object"]["metadata"]["note"] = json!("café");
        let body = match variant {
            "escapes" => String::from_utf8(serde_json::to_vec_pretty(&ev).unwrap())
                .unwrap()
                .replace('é', "\\u00e9")
                .into_bytes(),
            "compact" => serde_json::to_vec(&ev).unwrap(),
            _ => {
                let mut b = serde_json::to_vec_pretty(&ev).unwrap();
                b.push(b'\n');
                b
            }
        };
        assert_eq!(
            d.deliver_body(&body, Some(header_at(SECRET, now(), &body)))
                .await,
            200,
            "{variant}"
        );
        assert_eq!(d.user(&user).await["access"], "full", "{variant}");
    }
}

#[tokio::test]
async fn older_snapshot_after_newer_is_ignored() {
    let d = Demo::start(None).await;
    let (user, cus, sub) = checked_out(&d).await;
    let t = now();
    let newer = subscription(
        &format!("evt_n_{sub}"),
        "customer.subscription.updated",
        t + 20,
        &sub,
        &cus,
        "past_due",
        true,
    );
    let older = subscription(
        &format!("evt_o_{sub}"),
        "customer.subscription.updated",
        t + 10,
        &sub,
        &cus,
        "active",
        true,
    );
    assert_eq!(d.deliver(&newer).await, 200);
    assert_eq!(d.deliver(&older).await, 200);
    let v = d.user(&user).await;
    assert_eq!(v["status"], "past_due");
    assert_eq!(v["access"], "grace");
    // deleted, then a stale updated: stays canceled.
    let deleted = subscription(
        &format!("evt_d_{sub}"),
        "customer.subscription.deleted",
        t + 30,
        &sub,
        &cus,
        "canceled",
        true,
    );
    let stale = subscription(
        &format!("evt_s_{sub}"),
        "customer.subscription.updated",
        t + 25,
        &sub,
        &cus,
        "active",
        true,
    );
    assert_eq!(d.deliver(&deleted).await, 200);
    assert_eq!(d.deliver(&stale).await, 200);
    let v = d.user(&user).await;
    assert_eq!(v["status"], "canceled");
    assert_eq!(v["access"], "none");
    assert_eq!(d.emails(&user, "canceled").await, 1);
}

#[tokio::test]
async fn a_snapshot_from_the_checkout_second_wins_over_the_checkout() {
    let d = Demo::start(None).await;
    let (user, cus, sub) = checked_out(&d).await;
    let trial = subscription(
        &format!("evt_tr_{sub}"),
        "customer.subscription.updated",
        now(),
        &sub,
        &cus,
        "trialing",
        true,
    );
    assert_eq!(d.deliver(&trial).await, 200);
    let v = d.user(&user).await;
    assert_eq!(
        (v["status"].clone(), v["access"].clone()),
        (json!("trialing"), json!("full"))
    );
    // A snapshot from an earlier second is stale.
    let stale = subscription(
        &format!("evt_st_{sub}"),
        "customer.subscription.created",
        now() - 60,
        &sub,
        &cus,
        "incomplete",
        true,
    );
    assert_eq!(d.deliver(&stale).await, 200);
    assert_eq!(d.user(&user).await["status"], "trialing");
}

#[tokio::test]
async fn same_second_tie_is_order_independent() {
    let d = Demo::start(None).await;
    for canceled_first in [false, true] {
        let (user, cus, sub) = checked_out(&d).await;
        let t = now() + 50;
        let active = subscription(
            &format!("evt_a_{sub}"),
            "customer.subscription.updated",
            t,
            &sub,
            &cus,
            "active",
            true,
        );
        let canceled = subscription(
            &format!("evt_c_{sub}"),
            "customer.subscription.updated",
            t,
            &sub,
            &cus,
            "canceled",
            true,
        );
        let order = if canceled_first {
            [&canceled, &active]
        } else {
            [&active, &canceled]
        };
        for ev in order {
            assert_eq!(d.deliver(ev).await, 200);
        }
        let v = d.user(&user).await;
        assert_eq!(v["status"], "canceled", "canceled_first={canceled_first}");
        assert_eq!(v["access"], "none", "canceled_first={canceled_first}");
    }
}

#[tokio::test]
async fn unlinked_checkout_is_refused_until_the_user_exists() {
    let d = Demo::start(None).await;
    let u = uid();
    let user = format!("user_{u}");
    let ev = checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_l",
        "sub_l",
    );
    assert_eq!(d.deliver(&ev).await, 409);
    let (_, e) = d.get(&format!("/internal/events/evt_{u}")).await;
    assert_eq!(e["processed"], false);
    d.new_user(&user).await;
    assert_eq!(d.deliver(&ev).await, 200);
    assert_eq!(d.user(&user).await["access"], "full");
    assert_eq!(d.emails(&user, "welcome").await, 1);

    // Fallbacks when client_reference_id is null: metadata.user_id, then the customer's email.
    let u2 = uid();
    let user2 = format!("user_{u2}");
    d.new_user(&user2).await;
    let mut ev = checkout(
        &format!("evt_{u2}"),
        None,
        &format!("cs_{u2}"),
        "cus_m",
        "sub_m",
    );
    ev["data"]["object"]["metadata"] = json!({"user_id": user2, "plan": "team", "seats": "5"});
    assert_eq!(d.deliver(&ev).await, 200);
    let v = d.user(&user2).await;
    assert_eq!(
        (v["plan"].clone(), v["seats"].clone(), v["access"].clone()),
        (json!("team"), json!(5), json!("full"))
    );
    let u3 = uid();
    let user3 = format!("user_{u3}");
    d.new_user(&user3).await;
    let mut ev = checkout(
        &format!("evt_{u3}"),
        None,
        &format!("cs_{u3}"),
        "cus_e",
        "sub_e",
    );
    ev["data"]["object"]["customer_details"]["email"] = json!(format!("{user3}@example.test"));
    assert_eq!(d.deliver(&ev).await, 200);
    assert_eq!(d.user(&user3).await["access"], "full");
}

#[tokio::test]
async fn one_checkout_is_fulfilled_once_across_paths() {
    let d = Demo::start(None).await;
    let u = uid();
    let (user, session, cus) = (format!("user_{u}"), format!("cs_{u}"), format!("cus_{u}"));
    d.new_user(&user).await;
    let co = d.webhook_request(&checkout(
        &format!("evt_co_{u}"),
        Some(&user),
        &session,
        &cus,
        &format!("sub_{u}"),
    ));
    let pi = d.webhook_request(&payment_intent(
        &format!("evt_pi_{u}"),
        &format!("pi_{u}"),
        &user,
        &cus,
        &session,
    ));
    let ret = request(
        "POST",
        "/app/checkout/return",
        &[],
        &serde_json::to_vec(&json!({"session_id": session, "user": user})).unwrap(),
    );
    // Race them, a few copies each, released together.
    let barrier = Arc::new(Barrier::new(9));
    let mut tasks = Vec::new();
    for raw in [co, pi, ret] {
        for _ in 0..3 {
            let stream = TcpStream::connect(d.addr()).await.unwrap();
            let (b, raw) = (barrier.clone(), raw.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                exchange(stream, &raw).await.0
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(d.user(&user).await["credits"], 100);
}

#[tokio::test]
async fn lifecycle_dunning_cancel_at_and_several_subscriptions() {
    let d = Demo::start(None).await;
    let (user, cus, sub) = checked_out(&d).await;
    let u = uid();
    // Payment fails: grace and a dunning email; then recovered: full, receipt, credits per invoice.
    assert_eq!(
        d.deliver(&invoice(
            &format!("evt_f_{u}"),
            "invoice.payment_failed",
            &format!("in_1_{u}"),
            &cus,
            &sub
        ))
        .await,
        200
    );
    let v = d.user(&user).await;
    assert_eq!(
        (v["status"].clone(), v["access"].clone()),
        (json!("past_due"), json!("grace"))
    );
    assert_eq!(d.emails(&user, "payment_failed").await, 1);
    assert_eq!(
        d.deliver(&invoice(
            &format!("evt_p_{u}"),
            "invoice.paid",
            &format!("in_2_{u}"),
            &cus,
            &sub
        ))
        .await,
        200
    );
    assert_eq!(
        d.deliver(&invoice(
            &format!("evt_ps_{u}"),
            "invoice.payment_succeeded",
            &format!("in_2_{u}"),
            &cus,
            &sub
        ))
        .await,
        200
    );
    let v = d.user(&user).await;
    assert_eq!(
        (
            v["status"].clone(),
            v["access"].clone(),
            v["credits"].clone()
        ),
        (json!("active"), json!("full"), json!(200))
    );
    assert_eq!(
        d.emails(&user, "receipt").await,
        1,
        "one receipt per invoice"
    );

    // Trial ending: one email.
    let trial = subscription(
        &format!("evt_tw_{u}"),
        "customer.subscription.trial_will_end",
        now(),
        &sub,
        &cus,
        "trialing",
        true,
    );
    assert_eq!(d.deliver(&trial).await, 200);
    assert_eq!(d.emails(&user, "trial_ending").await, 1);

    // A scheduled cancellation keeps access until cancel_at; a passed one revokes it.
    let t = now() + 10;
    let mut later = subscription(
        &format!("evt_ca_{u}"),
        "customer.subscription.updated",
        t,
        &sub,
        &cus,
        "active",
        true,
    );
    later["data"]["object"]["cancel_at"] = json!(now() + 86400);
    assert_eq!(d.deliver(&later).await, 200);
    let v = d.user(&user).await;
    assert_eq!(v["access"], "full");
    assert!(v["cancel_at"].is_i64());
    let mut passed = subscription(
        &format!("evt_cp_{u}"),
        "customer.subscription.updated",
        t + 1,
        &sub,
        &cus,
        "active",
        true,
    );
    passed["data"]["object"]["cancel_at"] = json!(now() - 1);
    assert_eq!(d.deliver(&passed).await, 200);
    assert_eq!(d.user(&user).await["access"], "none");

    // Two subscriptions: canceling one keeps the other's access and plan.
    let (user, cus, sub1) = checked_out(&d).await;
    let sub2 = format!("{sub1}_team");
    let mut second = subscription(
        &format!("evt_s2_{u}"),
        "customer.subscription.created",
        now(),
        &sub2,
        &cus,
        "active",
        false,
    );
    second["data"]["object"]["items"]["data"][0]["price"]["lookup_key"] = json!("team");
    second["data"]["object"]["items"]["data"][0]["quantity"] = json!(4);
    assert_eq!(d.deliver(&second).await, 200);
    let cancel = subscription(
        &format!("evt_x1_{u}"),
        "customer.subscription.deleted",
        now() + 5,
        &sub1,
        &cus,
        "canceled",
        true,
    );
    assert_eq!(d.deliver(&cancel).await, 200);
    let v = d.user(&user).await;
    assert_eq!(
        (
            v["access"].clone(),
            v["plan"].clone(),
            v["seats"].clone(),
            v["subscription"].clone()
        ),
        (json!("full"), json!("team"), json!(4), json!(sub2))
    );
}

#[tokio::test]
async fn real_world_payloads_never_500() {
    let d = Demo::start(None).await;
    let (user, cus, sub) = checked_out(&d).await;
    let u = uid();
    // Legacy and basil subscription shapes, nulls everywhere, unknown fields, unknown types.
    let mut legacy = subscription(
        &format!("evt_l_{u}"),
        "customer.subscription.updated",
        now() + 1,
        &sub,
        &cus,
        "active",
        false,
    );
    legacy["data"]["object"]["discount"] = Value::Null;
    legacy["data"]["object"]["brand_new_field"] = json!({"x": [null]});
    assert_eq!(d.deliver(&legacy).await, 200);
    let mut sparse = subscription(
        &format!("evt_b_{u}"),
        "customer.subscription.updated",
        now() + 2,
        &sub,
        &cus,
        "active",
        true,
    );
    sparse["data"]["object"]["items"] = Value::Null;
    sparse["data"]["object"]["metadata"] = Value::Null;
    assert_eq!(d.deliver(&sparse).await, 200);
    let mut legacy_inv = invoice(
        &format!("evt_li_{u}"),
        "invoice.paid",
        &format!("in_{u}"),
        &cus,
        &sub,
    );
    legacy_inv["data"]["object"]["parent"] = Value::Null;
    legacy_inv["data"]["object"]["subscription"] = json!(sub);
    assert_eq!(d.deliver(&legacy_inv).await, 200);
    let unknown = envelope(
        &format!("evt_u_{u}"),
        "customer.tax_id.created",
        now(),
        json!({"id": "txi_1"}),
    );
    assert_eq!(d.deliver(&unknown).await, 200);
    let no_object = json!({"id": format!("evt_no_{u}"), "type": "invoice.paid", "created": now()});
    assert_eq!(d.deliver(&no_object).await, 400);
    assert_eq!(d.user(&user).await["access"], "full");
}

// ---- each fault shows its bug; unrelated behaviour stays correct --------------------------------

/// The same happy path for every fault: legacy payloads, one subscription, primary secret, pretty
/// bodies, sequential deliveries, no payment failure, no cancel_at.
#[tokio::test]
async fn every_fault_keeps_the_happy_path() {
    for fault in Fault::all() {
        let d = Demo::start(Some(*fault)).await;
        let (user, cus, sub) = checked_out(&d).await;
        let u = uid();
        let up = subscription(
            &format!("evt_up_{u}"),
            "customer.subscription.updated",
            now() + 5,
            &sub,
            &cus,
            "active",
            false,
        );
        assert_eq!(d.deliver(&up).await, 200, "{fault}");
        let paid = invoice(
            &format!("evt_ip_{u}"),
            "invoice.paid",
            &format!("in_{u}"),
            &cus,
            &sub,
        );
        assert_eq!(d.deliver(&paid).await, 200, "{fault}");
        let v = d.user(&user).await;
        assert_eq!(
            (v["access"].clone(), v["plan"].clone(), v["credits"].clone()),
            (json!("full"), json!("pro"), json!(200)),
            "{fault}"
        );
        assert_eq!(d.emails(&user, "welcome").await, 1, "{fault}");
        assert_eq!(d.emails(&user, "receipt").await, 1, "{fault}");
        d.server.shutdown().await;
    }
}

#[tokio::test]
async fn fault_no_idempotency_replay_applies_twice() {
    let d = Demo::start(Some(Fault::NoIdempotency)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let ev = checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_1",
        "sub_1",
    );
    assert_eq!(d.deliver(&ev).await, 200);
    assert_eq!(d.deliver(&ev).await, 200);
    assert_eq!(d.emails(&user, "welcome").await, 2);
    assert_eq!(d.user(&user).await["credits"], 200);
}

#[tokio::test]
async fn fault_non_atomic_dedupe_races_through() {
    let d = Demo::start(Some(Fault::NonAtomicDedupe)).await;
    let mut caught = 0;
    for _ in 0..3 {
        let u = uid();
        let user = format!("user_{u}");
        d.new_user(&user).await;
        let raw = d.webhook_request(&checkout(
            &format!("evt_{u}"),
            Some(&user),
            &format!("cs_{u}"),
            "cus_r",
            "sub_r",
        ));
        d.together(raw, 20).await;
        if d.emails(&user, "welcome").await > 1 {
            caught += 1;
        }
        // Credits carry their own business key: they mask the bug.
        assert_eq!(d.user(&user).await["credits"], 100);
        // A sequential replay is still deduped.
        let ev = checkout(
            &format!("evt_{u}"),
            Some(&user),
            &format!("cs_{u}"),
            "cus_r",
            "sub_r",
        );
        let n = d.emails(&user, "welcome").await;
        assert_eq!(d.deliver(&ev).await, 200);
        assert_eq!(d.emails(&user, "welcome").await, n);
    }
    assert!(caught >= 2, "caught in {caught} of 3 trials");
}

#[tokio::test]
async fn fault_event_id_dedupe_only_fulfils_per_path() {
    let d = Demo::start(Some(Fault::EventIdDedupeOnly)).await;
    let u = uid();
    let (user, session, cus) = (format!("user_{u}"), format!("cs_{u}"), format!("cus_{u}"));
    d.new_user(&user).await;
    assert_eq!(
        d.deliver(&checkout(
            &format!("evt_co_{u}"),
            Some(&user),
            &session,
            &cus,
            "sub_d3"
        ))
        .await,
        200
    );
    assert_eq!(
        d.deliver(&payment_intent(
            &format!("evt_pi_{u}"),
            &format!("pi_{u}"),
            &user,
            &cus,
            &session
        ))
        .await,
        200
    );
    assert_eq!(
        d.post(
            "/app/checkout/return",
            &json!({"session_id": session, "user": user})
        )
        .await
        .0,
        200
    );
    assert_eq!(d.user(&user).await["credits"], 300);
}

#[tokio::test]
async fn fault_blind_status_writes_keeps_the_stale_snapshot() {
    let d = Demo::start(Some(Fault::BlindStatusWrites)).await;
    let (user, cus, sub) = checked_out(&d).await;
    let t = now();
    let newer = subscription(
        &format!("evt_n_{sub}"),
        "customer.subscription.deleted",
        t + 20,
        &sub,
        &cus,
        "canceled",
        true,
    );
    let older = subscription(
        &format!("evt_o_{sub}"),
        "customer.subscription.updated",
        t + 10,
        &sub,
        &cus,
        "active",
        true,
    );
    assert_eq!(d.deliver(&newer).await, 200);
    assert_eq!(d.deliver(&older).await, 200);
    assert_eq!(d.user(&user).await["access"], "full");
}

#[tokio::test]
async fn fault_strict_tie_break_depends_on_order() {
    let d = Demo::start(Some(Fault::StrictTieBreak)).await;
    let mut access = Vec::new();
    for canceled_first in [false, true] {
        let (user, cus, sub) = checked_out(&d).await;
        let t = now() + 50;
        let active = subscription(
            &format!("evt_a_{sub}"),
            "customer.subscription.updated",
            t,
            &sub,
            &cus,
            "active",
            true,
        );
        let canceled = subscription(
            &format!("evt_c_{sub}"),
            "customer.subscription.updated",
            t,
            &sub,
            &cus,
            "canceled",
            true,
        );
        let order = if canceled_first {
            [&canceled, &active]
        } else {
            [&active, &canceled]
        };
        for ev in order {
            assert_eq!(d.deliver(ev).await, 200);
        }
        access.push(d.user(&user).await["access"].clone());
    }
    assert_eq!(access, vec![json!("full"), json!("none")]);
}

#[tokio::test]
async fn fault_slow_no_dedupe_timeout_then_redelivery_applies_twice() {
    let d = Demo::start(Some(Fault::SlowNoDedupe)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let raw = d.webhook_request(&checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_s",
        "sub_s",
    ));
    // The client gives up at 1 s (the handler answers after SLOW_ANSWER, 1.5 s), as
    // Stripe gives up at its timeout, and redelivers. 1 s leaves a loaded
    // machine time to commit before the client hangs up.
    let give_up = Duration::from_millis(1000);
    let first = tokio::time::timeout(give_up, send_raw(d.addr(), &raw)).await;
    assert!(
        first.is_err(),
        "the slow handler answered within the client timeout"
    );
    let second = tokio::time::timeout(give_up, send_raw(d.addr(), &raw)).await;
    assert!(second.is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while d.emails(&user, "welcome").await < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.emails(&user, "welcome").await, 2);
    assert_eq!(d.user(&user).await["credits"], 200);
}

#[tokio::test]
async fn fault_skip_verify_without_header_accepts_unsigned() {
    let d = Demo::start(Some(Fault::SkipVerifyWithoutHeader)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let body = serde_json::to_vec_pretty(&checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_7",
        "sub_7",
    ))
    .unwrap();
    assert_eq!(
        d.deliver_body(&body, Some("garbage".into())).await,
        400,
        "a bad header is still refused"
    );
    assert_eq!(d.deliver_body(&body, None).await, 200);
    assert_eq!(d.user(&user).await["access"], "full");
}

#[tokio::test]
async fn fault_no_timestamp_window_accepts_stale_and_future() {
    let d = Demo::start(Some(Fault::NoTimestampWindow)).await;
    for offset in [-600, -86400, 600] {
        let u = uid();
        let user = format!("user_{u}");
        d.new_user(&user).await;
        let body = serde_json::to_vec_pretty(&checkout(
            &format!("evt_{u}"),
            Some(&user),
            &format!("cs_{u}"),
            "cus_t",
            "sub_t",
        ))
        .unwrap();
        assert_eq!(
            d.deliver_body(&body, Some(header_at(SECRET, now() + offset, &body)))
                .await,
            200,
            "offset {offset}"
        );
        assert_eq!(
            d.deliver_body(&body, Some(header_at("whsec_wrong", now(), &body)))
                .await,
            400
        );
    }
}

#[tokio::test]
async fn fault_single_secret_refuses_the_second_secret() {
    let d = Demo::start(Some(Fault::SingleSecret)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let body = serde_json::to_vec_pretty(&checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_9",
        "sub_9",
    ))
    .unwrap();
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECOND, now(), &body)))
            .await,
        400
    );
    assert_eq!(d.user(&user).await["access"], "none");
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECRET, now(), &body)))
            .await,
        200
    );
}

#[tokio::test]
async fn fault_reserialize_before_verify_refuses_hostile_bodies() {
    let d = Demo::start(Some(Fault::ReserializeBeforeVerify)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let mut ev = checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_8",
        "sub_8",
    );
    ev["data"]["object"]["metadata"]["note"] = json!("café");
    let pretty = serde_json::to_vec_pretty(&ev).unwrap();
    let escaped = String::from_utf8(pretty.clone())
        .unwrap()
        .replace('é', "\\u00e9")
        .into_bytes();
    let mut newline = pretty.clone();
    newline.push(b'\n');
    for (name, body) in [
        ("escapes", &escaped),
        ("compact", &serde_json::to_vec(&ev).unwrap()),
        ("newline", &newline),
    ] {
        assert_eq!(
            d.deliver_body(body, Some(header_at(SECRET, now(), body)))
                .await,
            400,
            "{name}"
        );
    }
    assert_eq!(d.user(&user).await["access"], "none");
    assert_eq!(
        d.deliver_body(&pretty, Some(header_at(SECRET, now(), &pretty)))
            .await,
        200,
        "Stripe's own pretty print passes"
    );
}

#[tokio::test]
async fn fault_crash_on_basil_500s() {
    let d = Demo::start(Some(Fault::CrashOnBasil)).await;
    let (user, cus, sub) = checked_out(&d).await;
    let basil = subscription(
        &format!("evt_b_{sub}"),
        "customer.subscription.updated",
        now() + 5,
        &sub,
        &cus,
        "past_due",
        true,
    );
    assert_eq!(d.deliver(&basil).await, 500);
    assert_eq!(d.user(&user).await["access"], "full");
    let (_, e) = d.get(&format!("/internal/events/evt_b_{sub}")).await;
    assert_eq!(e["processed"], false);
}

#[tokio::test]
async fn fault_crash_on_null_linkage_500s() {
    let d = Demo::start(Some(Fault::CrashOnNullLinkage)).await;
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let mut ev = checkout(
        &format!("evt_{u}"),
        None,
        &format!("cs_{u}"),
        "cus_n",
        "sub_n",
    );
    ev["data"]["object"]["metadata"] = json!({"user_id": user});
    assert_eq!(d.deliver(&ev).await, 500);
    assert_eq!(d.user(&user).await["access"], "none");
}

#[tokio::test]
async fn fault_ignores_cancel_at_revokes_now() {
    let d = Demo::start(Some(Fault::IgnoresCancelAt)).await;
    let (user, cus, sub) = checked_out(&d).await;
    let mut later = subscription(
        &format!("evt_ca_{sub}"),
        "customer.subscription.updated",
        now() + 5,
        &sub,
        &cus,
        "active",
        true,
    );
    later["data"]["object"]["cancel_at"] = json!(now() + 86400);
    assert_eq!(d.deliver(&later).await, 200);
    let v = d.user(&user).await;
    assert_eq!(
        (v["status"].clone(), v["access"].clone()),
        (json!("active"), json!("none"))
    );
}

#[tokio::test]
async fn fault_downgrade_on_other_sub_follows_the_last_event() {
    let d = Demo::start(Some(Fault::DowngradeOnOtherSub)).await;
    let (user, cus, sub1) = checked_out(&d).await;
    let sub2 = format!("{sub1}_b");
    let second = subscription(
        &format!("evt_s2_{sub2}"),
        "customer.subscription.created",
        now(),
        &sub2,
        &cus,
        "active",
        true,
    );
    assert_eq!(d.deliver(&second).await, 200);
    let cancel = subscription(
        &format!("evt_x_{sub1}"),
        "customer.subscription.deleted",
        now() + 5,
        &sub1,
        &cus,
        "canceled",
        true,
    );
    assert_eq!(d.deliver(&cancel).await, 200);
    assert_eq!(d.user(&user).await["access"], "none");
}

#[tokio::test]
async fn fault_payment_failure_ignored_changes_nothing() {
    let d = Demo::start(Some(Fault::PaymentFailureIgnored)).await;
    let (user, cus, sub) = checked_out(&d).await;
    let failed = invoice(
        &format!("evt_f_{sub}"),
        "invoice.payment_failed",
        &format!("in_{sub}"),
        &cus,
        &sub,
    );
    assert_eq!(d.deliver(&failed).await, 200);
    let v = d.user(&user).await;
    assert_eq!(
        (v["status"].clone(), v["access"].clone()),
        (json!("active"), json!("full"))
    );
    assert_eq!(d.emails(&user, "payment_failed").await, 0);
}

#[tokio::test]
async fn options_db_path_future_window_and_start_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let mut opts = DemoOptions::new(SECRET);
    opts.db_path = Some(path.clone());
    opts.future_window_secs = 0;
    let server = DemoServer::start("127.0.0.1:0".parse().unwrap(), opts.clone())
        .await
        .unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.database_url, format!("sqlite://{}", path.display()));
    let d = Demo { server };
    let u = uid();
    let user = format!("user_{u}");
    d.new_user(&user).await;
    let body = serde_json::to_vec_pretty(&checkout(
        &format!("evt_{u}"),
        Some(&user),
        &format!("cs_{u}"),
        "cus_w",
        "sub_w",
    ))
    .unwrap();
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECRET, now() + 30, &body)))
            .await,
        400,
        "a zero future window"
    );
    assert_eq!(
        d.deliver_body(&body, Some(header_at(SECRET, now(), &body)))
            .await,
        200
    );

    // The port is taken while it runs.
    let taken = DemoServer::start(d.addr(), opts.clone()).await;
    assert!(taken.is_err());
    d.server.shutdown().await;

    // A given db_path is kept and reopened with its state.
    assert!(path.exists());
    let server = DemoServer::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let d = Demo { server };
    assert_eq!(d.user(&user).await["access"], "full");
    d.server.shutdown().await;

    assert!(
        DemoServer::start("127.0.0.1:0".parse().unwrap(), DemoOptions::new(""))
            .await
            .is_err()
    );
}
