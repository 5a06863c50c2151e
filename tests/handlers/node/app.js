// Reference Stripe webhook handler: Express + Stripe's official Node SDK + PostgreSQL.
//
// luota's drill suite runs against this and against tests/handlers/python/app.py;
// both keep the same HTTP contract and tables (see tests/handlers/README.md).
//
// Env: PORT (binds 127.0.0.1), STRIPE_WEBHOOK_SECRET, optional
// STRIPE_WEBHOOK_SECRET_2 (tried too, for secret rotation), DATABASE_URL.
'use strict';
const express = require('express');
const { Pool } = require('pg');
const Stripe = require('stripe');

const SECRETS = [process.env.STRIPE_WEBHOOK_SECRET, process.env.STRIPE_WEBHOOK_SECRET_2].filter(Boolean);
// No API calls are made; the key only satisfies the constructor.
const stripe = new Stripe(process.env.STRIPE_API_KEY || 'sk_test_luota_reference_handler');
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const EMAIL_KINDS = ['welcome', 'payment_failed', 'canceled', 'receipt', 'trial_ending'];
const USER_FIELDS = ['id', 'email', 'customer', 'subscription', 'plan', 'status', 'access', 'credits', 'seats'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id text PRIMARY KEY, email text, customer text, subscription text, plan text, status text,
  access text NOT NULL DEFAULT 'none', credits int NOT NULL DEFAULT 0,
  seats int NOT NULL DEFAULT 1, sub_created bigint);
CREATE TABLE IF NOT EXISTS outbox (id serial, user_id text, kind text, event_id text);
CREATE TABLE IF NOT EXISTS ledger (event_id text PRIMARY KEY, type text, received_at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS fulfilments (session_id text PRIMARY KEY, user_id text);
`;

class Retry extends Error {} // cannot apply yet (e.g. unknown user): 409, record nothing

// ------------------------------------------------------------------ helpers
const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const text = (v) => (typeof v === 'string' && v ? v : null);
const asInt = (v) => (Number.isInteger(v) ? v : null);
const refId = (v) => text(v) || text(obj(v).id); // id string or expanded object

function accessFor(status) {
  if (status === 'active' || status === 'trialing') return 'full';
  if (status === 'past_due') return 'grace';
  return 'none';
}

async function userExists(db, uid) {
  if (!uid) return null;
  const r = await db.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [uid]);
  return r.rows.length ? r.rows[0].id : null;
}

async function userByCustomer(db, customer) {
  if (!customer) return null;
  const r = await db.query('SELECT id FROM users WHERE customer = $1 ORDER BY id LIMIT 1 FOR UPDATE', [customer]);
  return r.rows.length ? r.rows[0].id : null;
}

const email = (db, uid, kind, eventId) =>
  db.query('INSERT INTO outbox (user_id, kind, event_id) VALUES ($1, $2, $3)', [uid, kind, eventId]);

// ------------------------------------------------------------------ effects
async function onCheckoutCompleted(db, event, o) {
  const meta = obj(o.metadata);
  const uid = (await userExists(db, text(o.client_reference_id))) || (await userExists(db, text(meta.user_id)));
  if (!uid) throw new Retry('no user for this checkout session yet');
  await db.query(
    `UPDATE users SET customer = COALESCE($1, customer), subscription = COALESCE($2, subscription),
       plan = $3, status = 'active', access = 'full' WHERE id = $4`,
    [refId(o.customer), refId(o.subscription), text(meta.plan) || 'pro', uid],
  );
  const session = text(o.id);
  let first = true;
  if (session) {
    const r = await db.query(
      'INSERT INTO fulfilments (session_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [session, uid]);
    first = r.rowCount === 1;
  }
  if (first) {
    await db.query('UPDATE users SET credits = credits + 100 WHERE id = $1', [uid]);
    await email(db, uid, 'welcome', event.id);
  }
}

async function onSubscription(db, event, o) {
  const meta = obj(o.metadata);
  const customer = refId(o.customer);
  const uid = (await userExists(db, text(meta.user_id))) || (await userByCustomer(db, customer));
  if (!uid) throw new Retry('no user for this subscription yet');
  const created = asInt(event.created);
  const r = await db.query('SELECT sub_created FROM users WHERE id = $1', [uid]);
  const stored = r.rows[0].sub_created === null ? null : Number(r.rows[0].sub_created);
  if (created !== null && stored !== null && created < stored) return; // out-of-order delivery
  if (event.type === 'customer.subscription.trial_will_end') {
    await email(db, uid, 'trial_ending', event.id);
    return;
  }
  const status = event.type === 'customer.subscription.deleted' ? 'canceled' : text(o.status);
  const items = obj(o.items).data;
  const item = Array.isArray(items) && items.length ? obj(items[0]) : {};
  await db.query(
    `UPDATE users SET subscription = COALESCE($1, subscription), customer = COALESCE($2, customer),
       status = COALESCE($3, status), access = COALESCE($4, access), plan = COALESCE($5, plan),
       seats = COALESCE($6, seats), sub_created = COALESCE($7, sub_created) WHERE id = $8`,
    [text(o.id), customer, status, status ? accessFor(status) : null, text(obj(item.price).lookup_key),
      asInt(item.quantity), created, uid],
  );
  if (event.type === 'customer.subscription.deleted') await email(db, uid, 'canceled', event.id);
}

async function onInvoice(db, event, o) {
  const uid = (await userExists(db, text(obj(o.metadata).user_id)))
    || (await userExists(db, text(obj(obj(obj(o.parent).subscription_details).metadata).user_id)))
    || (await userExists(db, text(obj(obj(o.subscription_details).metadata).user_id)))
    || (await userByCustomer(db, refId(o.customer)));
  if (!uid) throw new Retry('no user for this invoice yet');
  if (event.type === 'invoice.paid') {
    await db.query("UPDATE users SET status = 'active', access = 'full' WHERE id = $1", [uid]);
    await email(db, uid, 'receipt', event.id);
  } else {
    await db.query("UPDATE users SET status = 'past_due', access = 'grace' WHERE id = $1", [uid]);
    await email(db, uid, 'payment_failed', event.id);
  }
}

const HANDLERS = {
  'checkout.session.completed': onCheckoutCompleted,
  'customer.subscription.created': onSubscription,
  'customer.subscription.updated': onSubscription,
  'customer.subscription.deleted': onSubscription,
  'customer.subscription.trial_will_end': onSubscription,
  'invoice.paid': onInvoice,
  'invoice.payment_failed': onInvoice,
};

// ------------------------------------------------------------------ routes
const app = express();

app.post('/webhook', express.raw({ type: 'application/json' }), async (req, res) => {
  const payload = req.body; // Buffer of the exact raw bytes Stripe signed
  const header = req.get('Stripe-Signature');
  let error = SECRETS.length ? 'body is not raw application/json' : 'no webhook secret configured';
  let event = null;
  if (Buffer.isBuffer(payload)) {
    for (const secret of SECRETS) {
      try {
        event = stripe.webhooks.constructEvent(payload, header, secret);
        break;
      } catch (e) {
        error = `${e.constructor.name}: ${e.message}`;
      }
    }
  }
  if (!event) return res.status(400).json({ error });
  if (!text(obj(event).id)) return res.status(400).json({ error: 'event has no id' });

  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    // Dedupe and effects commit together, or not at all.
    const r = await db.query(
      'INSERT INTO ledger (event_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING', [event.id, text(event.type)]);
    if (r.rowCount === 0) {
      await db.query('COMMIT');
      return res.status(200).json({ received: true, duplicate: true });
    }
    const handler = HANDLERS[event.type];
    if (handler) await handler(db, event, obj(obj(event.data).object));
    await db.query('COMMIT');
    return res.status(200).json({ received: true });
  } catch (e) {
    await db.query('ROLLBACK').catch(() => {});
    if (e instanceof Retry) return res.status(409).json({ error: e.message });
    throw e;
  } finally {
    db.release();
  }
});

app.post('/test/users', express.json(), async (req, res) => {
  const body = obj(req.body);
  if (!text(body.id)) return res.status(400).json({ error: 'expected {"id", "email"}' });
  const mail = body.email === undefined ? null : body.email;
  await pool.query(
    'INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email',
    [body.id, mail]);
  res.status(201).json({ id: body.id, email: mail });
});

app.get('/internal/users/:id', async (req, res) => {
  const r = await pool.query(`SELECT ${USER_FIELDS.join(', ')} FROM users WHERE id = $1`, [req.params.id]);
  if (!r.rows.length) return res.status(404).json({ error: 'no such user' });
  res.json(r.rows[0]);
});

app.get('/internal/users/:id/outbox', async (req, res) => {
  const r = await pool.query('SELECT kind, event_id FROM outbox WHERE user_id = $1 ORDER BY id', [req.params.id]);
  const counts = Object.fromEntries(EMAIL_KINDS.map((k) => [k, 0]));
  for (const row of r.rows) counts[row.kind] = (counts[row.kind] || 0) + 1;
  res.json({ counts, emails: r.rows.map((row) => ({ kind: row.kind, event_id: row.event_id })) });
});

app.get('/healthz', async (_req, res) => {
  await pool.query('SELECT 1');
  res.json({ ok: true });
});

// Express 5 forwards rejected promises here; answer JSON, never hang.
app.use((err, _req, res, _next) => {
  console.error(err);
  if (res.headersSent) return;
  res.status(err.status || 500).json({ error: err.message || 'internal error' });
});

async function main() {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(4242)'); // concurrent starts, same DB
    await client.query(SCHEMA);
    await client.query('SELECT pg_advisory_unlock(4242)');
  } finally {
    client.release();
  }
  const port = Number(process.env.PORT || 4242);
  app.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
