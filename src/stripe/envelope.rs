//! The Stripe event envelope around a `data.object`.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Everything the envelope needs; `object` is the rendered `data.object`.
#[derive(Debug, Clone)]
pub struct EnvelopeParts {
    pub id: String,
    pub event_type: String,
    pub api_version: String,
    pub created: i64,
    pub object: Value,
    pub previous_attributes: Option<Value>,
    pub request_id: Option<String>,
}

/// Build the event: `id`, `object: "event"`, `api_version`, `created`,
/// `data.object`, `data.previous_attributes` (when given), `livemode: false`,
/// `pending_webhooks`, `request {id, idempotency_key}`, `type`.
///
/// Key order is Stripe's. `pending_webhooks` is 1 (one endpoint: the
/// target). `request` is `{id: null, idempotency_key: null}` for an event
/// Stripe raised on its own (no `request_id`), as for renewals; with a
/// `request_id` the idempotency key is a UUID-shaped value derived from it,
/// so it is stable for the same request.
pub fn envelope(parts: EnvelopeParts) -> Value {
    let mut data = Map::new();
    data.insert("object".into(), parts.object);
    if let Some(prev) = parts.previous_attributes {
        data.insert("previous_attributes".into(), prev);
    }
    let idempotency_key = match &parts.request_id {
        Some(id) => Value::String(uuid_like(id)),
        None => Value::Null,
    };
    let mut request = Map::new();
    request.insert(
        "id".into(),
        parts.request_id.map(Value::String).unwrap_or(Value::Null),
    );
    request.insert("idempotency_key".into(), idempotency_key);

    let mut ev = Map::new();
    ev.insert("id".into(), Value::String(parts.id));
    ev.insert("object".into(), Value::String("event".into()));
    ev.insert("api_version".into(), Value::String(parts.api_version));
    ev.insert("created".into(), Value::from(parts.created));
    ev.insert("data".into(), Value::Object(data));
    ev.insert("livemode".into(), Value::Bool(false));
    ev.insert("pending_webhooks".into(), Value::from(1));
    ev.insert("request".into(), Value::Object(request));
    ev.insert("type".into(), Value::String(parts.event_type));
    Value::Object(ev)
}

/// A v4-UUID-shaped string derived from `seed` (deterministic).
fn uuid_like(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts() -> EnvelopeParts {
        EnvelopeParts {
            id: "evt_1QxYz".into(),
            event_type: "customer.subscription.updated".into(),
            api_version: "2025-08-27.basil".into(),
            created: 1_756_300_000,
            object: json!({"id": "sub_1", "object": "subscription"}),
            previous_attributes: Some(json!({"status": "trialing"})),
            request_id: Some("req_abc".into()),
        }
    }

    #[test]
    fn key_order_and_fields_like_stripe() {
        let v = envelope(parts());
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "id",
                "object",
                "api_version",
                "created",
                "data",
                "livemode",
                "pending_webhooks",
                "request",
                "type"
            ]
        );
        assert_eq!(v["object"], "event");
        assert_eq!(v["id"], "evt_1QxYz");
        assert_eq!(v["created"], 1_756_300_000);
        assert_eq!(v["livemode"], false);
        assert_eq!(v["pending_webhooks"], 1);
        assert_eq!(v["type"], "customer.subscription.updated");
        let data_keys: Vec<&str> = v["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(data_keys, ["object", "previous_attributes"]);
        assert_eq!(v["data"]["previous_attributes"]["status"], "trialing");
        assert_eq!(v["request"]["id"], "req_abc");
        let key = v["request"]["idempotency_key"].as_str().unwrap();
        assert_eq!(key.len(), 36);
        assert_eq!(key.matches('-').count(), 4);
    }

    #[test]
    fn no_previous_attributes_and_no_request() {
        let mut p = parts();
        p.previous_attributes = None;
        p.request_id = None;
        let v = envelope(p);
        assert!(v["data"].get("previous_attributes").is_none());
        assert_eq!(v["request"], json!({"id": null, "idempotency_key": null}));
    }
}
