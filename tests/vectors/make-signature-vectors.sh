#!/bin/sh
# Regenerates tests/vectors/signatures.txt with OpenSSL, outside the crate,
# so the known-answer tests in tests/stripe_signature.rs check luota's
# HMAC against an independent implementation.
#
#   sh tests/vectors/make-signature-vectors.sh > tests/vectors/signatures.txt
#
# Format, one vector per block (blank line between blocks):
#   secret <whsec_...>
#   t <timestamp>
#   body-hex <hex of the body bytes; empty for an empty body>
#   v1 <lowercase hex HMAC-SHA256(secret, "<t>.<body>")>
# The key is the whole secret string, NOT base64-decoded (as Stripe does).
set -eu

vector() { # secret t body
  printf 'secret %s\n' "$1"
  printf 't %s\n' "$2"
  printf 'body-hex %s\n' "$(printf '%s' "$3" | od -An -v -tx1 | tr -d ' \n')"
  printf 'v1 %s\n\n' "$(printf '%s' "$2.$3" | openssl dgst -sha256 -hmac "$1" | sed 's/^.*= //')"
}

vector 'whsec_test_secret' 1700000000 '{"id":"evt_1","object":"event"}'
vector 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' 1735689600 '{"name":"Café Zoë ☕ 東京"}'
vector 'whsec_rotation_2nd_0123456789abcdef' 1609459200 '{
  "id": "evt_1PgcRotated000001",
  "object": "event",
  "data": {
    "object": {
      "amount": 2900
    }
  }
}'
vector 'whsec_empty_body_case' 1700000001 ''
vector 'whsec_with/slash+plus=' 0 'plain text, not JSON'
