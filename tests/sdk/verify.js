#!/usr/bin/env node
// Verify Stripe-Signature headers with Stripe's official Node SDK.
//
// stdin:  JSON array of cases
//         [{"body_b64": "...", "header": "t=..,v1=.." | null,
//           "secrets": ["whsec_..."], "tolerance": 300}]
// stdout: JSON array, one verdict per case, same order:
//         [{"accepted": true|false, "error": "<ErrorClass>: <message>" | null}]
//
// A case is accepted when `stripe.webhooks.constructEvent` accepts it with any
// of its secrets (tried in order). The body is passed as a Buffer of the exact
// raw bytes, as a handler using express.raw() does. One process per batch.
//
// The `stripe` package is resolved from LUOTA_TEST_NODE_DIR (default
// tests/handlers/node), where ci/test.sh runs `npm ci`.
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const nodeDir = process.env.LUOTA_TEST_NODE_DIR || path.join(__dirname, '..', 'handlers', 'node');
const Stripe = createRequire(path.join(nodeDir, 'package.json'))('stripe');
// No API calls are made; the key only satisfies the constructor.
const stripe = new Stripe('sk_test_luota_signature_harness');

function verify(c) {
  const body = Buffer.from(c.body_b64 || '', 'base64');
  const header = c.header === null || c.header === undefined ? undefined : c.header;
  const tolerance = c.tolerance === undefined ? 300 : c.tolerance;
  let error = 'no secrets given';
  for (const secret of c.secrets || []) {
    try {
      stripe.webhooks.constructEvent(body, header, secret, tolerance);
      return { accepted: true, error: null };
    } catch (e) {
      error = `${(e && e.constructor && e.constructor.name) || 'Error'}: ${e && e.message}`;
    }
  }
  return { accepted: false, error };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  if (!Array.isArray(cases)) {
    process.stderr.write('verify.js: expected a JSON array of cases on stdin\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(cases.map(verify)) + '\n');
});
