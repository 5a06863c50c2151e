"""Reference Stripe webhook handler: Flask + Stripe's official Python SDK + PostgreSQL.

luota's drill suite runs against this and against tests/handlers/node/app.js;
both keep the same HTTP contract and tables (see tests/handlers/README.md).

Env: PORT (binds 127.0.0.1), STRIPE_WEBHOOK_SECRET, optional
STRIPE_WEBHOOK_SECRET_2 (tried too, for secret rotation), DATABASE_URL.
"""
import json
import logging
import os

import psycopg
import stripe
from flask import Flask, jsonify, request

SECRETS = [s for s in (os.environ.get("STRIPE_WEBHOOK_SECRET"), os.environ.get("STRIPE_WEBHOOK_SECRET_2")) if s]
DATABASE_URL = os.environ["DATABASE_URL"]
EMAIL_KINDS = ("welcome", "payment_failed", "canceled", "receipt", "trial_ending")
USER_FIELDS = ("id", "email", "customer", "subscription", "plan", "status", "access", "credits", "seats")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  id text PRIMARY KEY, email text, customer text, subscription text, plan text, status text,
  access text NOT NULL DEFAULT 'none', credits int NOT NULL DEFAULT 0,
  seats int NOT NULL DEFAULT 1, sub_created bigint);
CREATE TABLE IF NOT EXISTS outbox (id serial, user_id text, kind text, event_id text);
CREATE TABLE IF NOT EXISTS ledger (event_id text PRIMARY KEY, type text, received_at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS fulfilments (session_id text PRIMARY KEY, user_id text);
"""

app = Flask(__name__)
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class Retry(Exception):
    """The event cannot be applied yet (e.g. unknown user): answer 409, record nothing."""


def db():
    return psycopg.connect(DATABASE_URL)


def init_db():
    with db() as conn:
        # Serialize concurrent starts creating the same tables.
        conn.execute("SELECT pg_advisory_xact_lock(4242)")
        conn.execute(SCHEMA)


# ------------------------------------------------------------------ helpers
def obj(v):
    return v if isinstance(v, dict) else {}


def ref_id(v):
    """A Stripe reference: an id string, or an expanded object with an id."""
    if isinstance(v, str) and v:
        return v
    if isinstance(v, dict) and isinstance(v.get("id"), str):
        return v["id"]
    return None


def text(v):
    return v if isinstance(v, str) and v else None


def as_int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def access_for(status):
    if status in ("active", "trialing"):
        return "full"
    if status == "past_due":
        return "grace"
    return "none"


def user_exists(cur, uid):
    if not uid:
        return None
    cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (uid,))
    row = cur.fetchone()
    return row[0] if row else None


def user_by_customer(cur, customer):
    if not customer:
        return None
    cur.execute("SELECT id FROM users WHERE customer = %s ORDER BY id LIMIT 1 FOR UPDATE", (customer,))
    row = cur.fetchone()
    return row[0] if row else None


def email(cur, uid, kind, event_id):
    cur.execute("INSERT INTO outbox (user_id, kind, event_id) VALUES (%s, %s, %s)", (uid, kind, event_id))


# ------------------------------------------------------------------ effects
def on_checkout_completed(cur, event, o):
    meta = obj(o.get("metadata"))
    uid = user_exists(cur, text(o.get("client_reference_id"))) or user_exists(cur, text(meta.get("user_id")))
    if not uid:
        raise Retry("no user for this checkout session yet")
    cur.execute(
        """UPDATE users SET customer = COALESCE(%s, customer), subscription = COALESCE(%s, subscription),
           plan = %s, status = 'active', access = 'full' WHERE id = %s""",
        (ref_id(o.get("customer")), ref_id(o.get("subscription")), text(meta.get("plan")) or "pro", uid),
    )
    session = text(o.get("id"))
    first = True
    if session:
        cur.execute(
            "INSERT INTO fulfilments (session_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING", (session, uid)
        )
        first = cur.rowcount == 1
    if first:
        cur.execute("UPDATE users SET credits = credits + 100 WHERE id = %s", (uid,))
        email(cur, uid, "welcome", event["id"])


def on_subscription(cur, event, o):
    meta = obj(o.get("metadata"))
    customer = ref_id(o.get("customer"))
    uid = user_exists(cur, text(meta.get("user_id"))) or user_by_customer(cur, customer)
    if not uid:
        raise Retry("no user for this subscription yet")
    created = as_int(event.get("created"))
    cur.execute("SELECT sub_created FROM users WHERE id = %s", (uid,))
    stored = cur.fetchone()[0]
    if created is not None and stored is not None and created < stored:
        return  # older than what we already applied: out-of-order delivery
    kind = event.get("type")
    if kind == "customer.subscription.trial_will_end":
        email(cur, uid, "trial_ending", event["id"])
        return
    status = "canceled" if kind == "customer.subscription.deleted" else text(o.get("status"))
    items = obj(o.get("items")).get("data")
    item = obj(items[0]) if isinstance(items, list) and items else {}
    plan = text(obj(item.get("price")).get("lookup_key"))
    seats = as_int(item.get("quantity"))
    cur.execute(
        """UPDATE users SET subscription = COALESCE(%s, subscription), customer = COALESCE(%s, customer),
           status = COALESCE(%s, status), access = COALESCE(%s, access), plan = COALESCE(%s, plan),
           seats = COALESCE(%s, seats), sub_created = COALESCE(%s, sub_created) WHERE id = %s""",
        (text(o.get("id")), customer, status, access_for(status) if status else None, plan, seats, created, uid),
    )
    if kind == "customer.subscription.deleted":
        email(cur, uid, "canceled", event["id"])


def on_invoice(cur, event, o):
    meta = obj(o.get("metadata"))
    sub_meta = obj(obj(obj(o.get("parent")).get("subscription_details")).get("metadata"))
    legacy_meta = obj(obj(o.get("subscription_details")).get("metadata"))
    uid = (
        user_exists(cur, text(meta.get("user_id")))
        or user_exists(cur, text(sub_meta.get("user_id")))
        or user_exists(cur, text(legacy_meta.get("user_id")))
        or user_by_customer(cur, ref_id(o.get("customer")))
    )
    if not uid:
        raise Retry("no user for this invoice yet")
    if event.get("type") == "invoice.paid":
        cur.execute("UPDATE users SET status = 'active', access = 'full' WHERE id = %s", (uid,))
        email(cur, uid, "receipt", event["id"])
    else:
        cur.execute("UPDATE users SET status = 'past_due', access = 'grace' WHERE id = %s", (uid,))
        email(cur, uid, "payment_failed", event["id"])


HANDLERS = {
    "checkout.session.completed": on_checkout_completed,
    "customer.subscription.created": on_subscription,
    "customer.subscription.updated": on_subscription,
    "customer.subscription.deleted": on_subscription,
    "customer.subscription.trial_will_end": on_subscription,
    "invoice.paid": on_invoice,
    "invoice.payment_failed": on_invoice,
}


# ------------------------------------------------------------------ routes
@app.post("/webhook")
def webhook():
    payload = request.get_data()  # the exact raw bytes Stripe signed
    header = request.headers.get("Stripe-Signature")
    error = "no webhook secret configured"
    verified = False
    for secret in SECRETS:
        try:
            stripe.Webhook.construct_event(payload, header, secret)
            verified = True
            break
        except Exception as exc:  # noqa: BLE001 - bad header, bad signature, bad JSON
            error = f"{type(exc).__name__}: {exc}"
    if not verified:
        return jsonify(error=error), 400

    event = json.loads(payload)
    if not isinstance(event, dict) or not text(event.get("id")):
        return jsonify(error="event has no id"), 400
    kind = event.get("type")
    data_object = obj(obj(event.get("data")).get("object"))
    try:
        with db() as conn, conn.cursor() as cur:
            # Dedupe and effects commit together, or not at all.
            cur.execute(
                "INSERT INTO ledger (event_id, type) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (event["id"], text(kind)),
            )
            if cur.rowcount == 0:
                return jsonify(received=True, duplicate=True), 200
            handler = HANDLERS.get(kind)
            if handler:
                handler(cur, event, data_object)
    except Retry as exc:
        return jsonify(error=str(exc)), 409
    return jsonify(received=True), 200


@app.post("/test/users")
def create_user():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not text(body.get("id")):
        return jsonify(error='expected {"id", "email"}'), 400
    with db() as conn:
        conn.execute(
            "INSERT INTO users (id, email) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email",
            (body["id"], body.get("email")),
        )
    return jsonify(id=body["id"], email=body.get("email")), 201


@app.get("/internal/users/<uid>")
def get_user(uid):
    with db() as conn:
        row = conn.execute(f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE id = %s", (uid,)).fetchone()
    if not row:
        return jsonify(error="no such user"), 404
    return jsonify(dict(zip(USER_FIELDS, row)))


@app.get("/internal/users/<uid>/outbox")
def get_outbox(uid):
    with db() as conn:
        rows = conn.execute("SELECT kind, event_id FROM outbox WHERE user_id = %s ORDER BY id", (uid,)).fetchall()
    counts = {k: 0 for k in EMAIL_KINDS}
    for kind, _ in rows:
        counts[kind] = counts.get(kind, 0) + 1
    return jsonify(counts=counts, emails=[{"kind": k, "event_id": e} for k, e in rows])


@app.get("/healthz")
def healthz():
    with db() as conn:
        conn.execute("SELECT 1")
    return jsonify(ok=True)


if __name__ == "__main__":
    init_db()
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4242")), threaded=True)
