//! Built-in, realistic `data.object` templates per event type and API family.

use serde_json::Value;

/// The API version used when a drill or config names none.
pub const DEFAULT_API_VERSION: &str = "2025-08-27.basil";

/// Shape families that differ in where fields live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFamily {
    /// 2025-03-31.basil and later: `current_period_*` on subscription items,
    /// invoices link their subscription under `parent`.
    Basil,
    /// Before basil (e.g. 2024-06-20): `current_period_*` on the subscription.
    Legacy,
}

impl ApiFamily {
    /// The family an API version string belongs to.
    pub fn of(api_version: &str) -> ApiFamily {
        let _ = api_version;
        todo!("stripe helper")
    }
}

/// Inputs that make a template realistic and unique per run.
#[derive(Debug, Clone)]
pub struct TemplateContext {
    /// Unique per run: ids are derived from it so parallel runs never collide.
    pub seed: String,
    /// Unix seconds; timestamps inside the object agree with it.
    pub created: i64,
    pub family: ApiFamily,
}

/// Every event type with a built-in template, sorted.
pub fn known_types() -> Vec<&'static str> {
    todo!("stripe helper")
}

/// The `data.object` for `event_type`, or `None` when no template exists.
pub fn object_for(event_type: &str, cx: &TemplateContext) -> Option<Value> {
    let _ = (event_type, cx);
    todo!("stripe helper")
}

/// Default `data.previous_attributes` for `*.updated` events.
pub fn previous_attributes_for(event_type: &str, cx: &TemplateContext) -> Option<Value> {
    let _ = (event_type, cx);
    todo!("stripe helper")
}
