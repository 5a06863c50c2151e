#!/usr/bin/env python3
"""Verify Stripe-Signature headers with Stripe's official Python SDK.

stdin:  JSON array of cases
        [{"body_b64": "...", "header": "t=..,v1=.." | null,
          "secrets": ["whsec_..."], "tolerance": 300}]
stdout: JSON array, one verdict per case, same order:
        [{"accepted": true|false, "error": "<ExceptionClass>: <message>" | null}]

A case is accepted when `stripe.Webhook.construct_event` accepts it with any
of its secrets (tried in order, as a handler rotating secrets would). One
process verifies a whole batch, so a test matrix costs one interpreter start.
The payload is handed to the SDK as the exact raw bytes decoded as UTF-8,
which is what a handler does with `request.get_data()`.
"""
import base64
import json
import sys

import stripe


def verify(case):
    try:
        raw = base64.b64decode(case.get("body_b64") or "", validate=True)
        payload = raw.decode("utf-8")  # strict: Stripe only sends UTF-8
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"accepted": False, "error": f"{type(exc).__name__}: {exc}"}
    header = case.get("header")
    tolerance = case.get("tolerance", 300)
    secrets = case.get("secrets") or []
    error = "no secrets given"
    for secret in secrets:
        try:
            stripe.Webhook.construct_event(payload, header, secret, tolerance)
            return {"accepted": True, "error": None}
        except Exception as exc:  # noqa: BLE001 - every rejection is a verdict
            error = f"{type(exc).__name__}: {exc}"
    return {"accepted": False, "error": error}


def main():
    cases = json.load(sys.stdin)
    if not isinstance(cases, list):
        raise SystemExit("verify.py: expected a JSON array of cases on stdin")
    json.dump([verify(c) for c in cases], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
