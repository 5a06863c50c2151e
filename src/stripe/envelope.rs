//! The Stripe event envelope around a `data.object`.

use serde_json::Value;

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
pub fn envelope(parts: EnvelopeParts) -> Value {
    let _ = parts;
    todo!("stripe helper")
}
