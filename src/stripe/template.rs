//! Built-in, realistic `data.object` templates per event type and API family.
//!
//! Every template carries every top-level field of the matching resource in
//! Stripe's OpenAPI example objects (`shared/reference/`, checked by
//! `tests/stripe_templates.rs`), but with realistic, mutually consistent
//! values derived from [`TemplateContext`]: one customer (`cus_`) on a Pro
//! plan (`price_`, `lookup_key: "pro"`, 2900 usd monthly) with one
//! subscription (`sub_`/`si_`), its invoice (`in_`/`il_`, lines sum to the
//! total), payment (`pi_`/`ch_`/`pm_`) and checkout session (`cs_test_`).
//! Periods are monthly (calendar month) starting at `cx.created`.
//! `client_reference_id` is null and `metadata` is `{}` by default (D11).
//!
//! Family differences, and only these, each from Stripe's API changelog:
//!
//! - **Basil** (2025-03-31 and later): `current_period_start/end` on each
//!   subscription item, not on the subscription (changelog 2025-03-31.basil,
//!   "Adds subscription item-level billing periods and removes
//!   subscription-level periods"); the invoice has no top-level
//!   `subscription` and links it under `parent.subscription_details.subscription`,
//!   and invoice lines have no top-level `subscription` either and link it
//!   under `parent.subscription_item_details.subscription` (changelog
//!   2025-03-31.basil, "Invoicing resources now specify how they were
//!   generated": the new `parent` field replaces the invoice's `subscription`
//!   and `subscription_details` and the line item's `subscription`).
//! - **Acacia, clover, dahlia**: no further difference in the fields these
//!   templates carry is modelled; none is invented. Acacia predates basil and
//!   renders in the legacy shape; clover and dahlia come after it and render
//!   in the basil shape (the `api_version` string is kept as given).
//! - **Legacy**: `current_period_start/end` on the subscription (not on the
//!   items); the invoice and its lines carry a top-level `subscription`
//!   (the `parent` links stay as well).
//!
//! `invoice.upcoming` has `id: null`: an upcoming invoice is a preview and
//! has no id yet.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

/// First API version of the Basil family.
pub const BASIL_FIRST_DATE: &str = "2025-03-31";

impl ApiFamily {
    /// The family an API version string belongs to: a leading `YYYY-MM-DD`
    /// on or after 2025-03-31 is Basil, before it Legacy; without a date the
    /// code name decides (`acacia` → Legacy; `basil`, `clover`, `dahlia` →
    /// Basil); anything unparseable → Basil (the current default).
    pub fn of(api_version: &str) -> ApiFamily {
        let v = api_version.trim();
        if let Some(date) = v.get(..10) {
            let b = date.as_bytes();
            let shape_ok = b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
            if shape_ok {
                return if date >= BASIL_FIRST_DATE {
                    ApiFamily::Basil
                } else {
                    ApiFamily::Legacy
                };
            }
        }
        let name = v.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "acacia" => ApiFamily::Legacy,
            _ => ApiFamily::Basil,
        }
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

impl TemplateContext {
    /// A Stripe-looking id: `prefix`, then the seed's alphanumerics, then
    /// characters derived from (seed, `kind`) up to `len` characters after
    /// the prefix (at least 4 derived characters, so two kinds sharing a
    /// prefix never collide). Deterministic.
    pub fn id(&self, prefix: &str, kind: &str, len: usize) -> String {
        let clean: String = self
            .seed
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let fill = len.saturating_sub(clean.len()).max(4);
        format!("{prefix}{clean}{}", base62(&self.seed, kind, fill))
    }
}

/// `n` base62 characters derived from `(seed, kind)`.
fn base62(seed: &str, kind: &str, n: usize) -> String {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    let mut round = 0u32;
    while out.len() < n {
        let h = Sha256::new()
            .chain_update(seed.as_bytes())
            .chain_update([0])
            .chain_update(kind.as_bytes())
            .chain_update(round.to_be_bytes())
            .finalize();
        for b in h {
            if out.len() == n {
                break;
            }
            out.push(ALPHA[(b % 62) as usize] as char);
        }
        round += 1;
    }
    out
}

const DAY: i64 = 86_400;

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `ts` moved by `months` calendar months, the day clamped to the month's
/// length (Jan 31 + 1 month = Feb 28/29), time of day kept — as Stripe bills.
pub fn add_months(ts: i64, months: i64) -> i64 {
    let days = ts.div_euclid(DAY);
    let secs = ts.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let next_first = if nm == 12 {
        days_from_civil(ny + 1, 1, 1)
    } else {
        days_from_civil(ny, nm + 1, 1)
    };
    let month_len = next_first - days_from_civil(ny, nm, 1);
    days_from_civil(ny, nm, d.min(month_len)) * DAY + secs
}

/// Every event type with a built-in template, sorted.
pub fn known_types() -> Vec<&'static str> {
    let mut v = KNOWN.to_vec();
    v.sort_unstable();
    v
}

const KNOWN: &[&str] = &[
    "charge.dispute.created",
    "charge.refunded",
    "checkout.session.async_payment_failed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.completed",
    "checkout.session.expired",
    "customer.created",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "customer.subscription.updated",
    "customer.updated",
    "entitlements.active_entitlement_summary.updated",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_action_required",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.upcoming",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.succeeded",
];

/// The resource (a key of the reference's `resources`) a type's
/// `data.object` is, or `None` for an unknown type.
pub fn resource_for(event_type: &str) -> Option<&'static str> {
    if !KNOWN.contains(&event_type) {
        return None;
    }
    Some(match event_type {
        "charge.dispute.created" => "dispute",
        "charge.refunded" => "charge",
        t if t.starts_with("checkout.session.") => "checkout.session",
        t if t.starts_with("customer.subscription.") => "subscription",
        t if t.starts_with("customer.") => "customer",
        t if t.starts_with("entitlements.") => "entitlements.active_entitlement_summary",
        t if t.starts_with("invoice.") => "invoice",
        t if t.starts_with("payment_intent.") => "payment_intent",
        _ => return None,
    })
}

/// The `data.object` for `event_type`, or `None` when no template exists.
pub fn object_for(event_type: &str, cx: &TemplateContext) -> Option<Value> {
    let s = Scenario::new(cx);
    Some(match event_type {
        "customer.subscription.created" => s.subscription(SubState::Active),
        "customer.subscription.updated" => s.subscription(SubState::Active),
        "customer.subscription.deleted" => s.subscription(SubState::Canceled),
        "customer.subscription.trial_will_end" => s.subscription(SubState::Trialing),
        "customer.subscription.paused" => s.subscription(SubState::Paused),
        "customer.subscription.resumed" => s.subscription(SubState::Active),
        "invoice.paid" | "invoice.payment_succeeded" => s.invoice(InvState::Paid),
        "invoice.payment_failed" => s.invoice(InvState::Failed),
        "invoice.payment_action_required" => s.invoice(InvState::ActionRequired),
        "invoice.created" => s.invoice(InvState::Draft),
        "invoice.finalized" => s.invoice(InvState::Finalized),
        "invoice.upcoming" => s.invoice(InvState::Upcoming),
        "checkout.session.completed" => s.checkout(CsState::Completed),
        "checkout.session.async_payment_succeeded" => s.checkout(CsState::AsyncSucceeded),
        "checkout.session.async_payment_failed" => s.checkout(CsState::AsyncFailed),
        "checkout.session.expired" => s.checkout(CsState::Expired),
        "payment_intent.succeeded" => s.payment_intent(PiState::Succeeded),
        "payment_intent.payment_failed" => s.payment_intent(PiState::Failed),
        "payment_intent.processing" => s.payment_intent(PiState::Processing),
        "charge.refunded" => s.charge(true),
        "charge.dispute.created" => s.dispute(),
        "customer.created" | "customer.updated" | "customer.deleted" => s.customer(),
        "entitlements.active_entitlement_summary.updated" => s.entitlement_summary(),
        _ => return None,
    })
}

/// Default `data.previous_attributes` for `*.updated` events.
///
/// - `customer.subscription.updated`: an upgrade out of a trial — the
///   previous item was on the Basic price (`lookup_key: "basic"`, 900 usd)
///   and the status was `trialing`;
/// - `customer.updated`: the previous email.
///
/// Other types (including `entitlements.active_entitlement_summary.updated`,
/// for which Stripe sends none) give `None`.
pub fn previous_attributes_for(event_type: &str, cx: &TemplateContext) -> Option<Value> {
    let s = Scenario::new(cx);
    match event_type {
        "customer.subscription.updated" => Some(json!({
            "items": s.items_list(true),
            "status": "trialing",
        })),
        "customer.updated" => Some(json!({ "email": s.old_email })),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum SubState {
    Active,
    Canceled,
    Trialing,
    Paused,
}

#[derive(Clone, Copy, PartialEq)]
enum InvState {
    Draft,
    Finalized,
    Paid,
    Failed,
    ActionRequired,
    Upcoming,
}

#[derive(Clone, Copy, PartialEq)]
enum CsState {
    Completed,
    AsyncSucceeded,
    AsyncFailed,
    Expired,
}

#[derive(Clone, Copy, PartialEq)]
enum PiState {
    Succeeded,
    Failed,
    Processing,
}

/// The Pro plan's price in cents, and the previous (Basic) plan's.
pub const PRO_UNIT_AMOUNT: i64 = 2900;
const BASIC_UNIT_AMOUNT: i64 = 900;

/// One customer's consistent world, derived from the context.
struct Scenario {
    family: ApiFamily,
    t: i64,
    period_end: i64,
    cus: String,
    sub: String,
    si: String,
    si_prev: String,
    price: String,
    price_prev: String,
    prod: String,
    prod_prev: String,
    inv: String,
    il: String,
    pi: String,
    ch: String,
    pm: String,
    cs: String,
    txn: String,
    re: String,
    dp: String,
    feat: String,
    ent: String,
    pmc: String,
    invoice_prefix: String,
    email: String,
    old_email: String,
    secret_tail: String,
}

impl Scenario {
    fn new(cx: &TemplateContext) -> Scenario {
        let local: String = cx
            .seed
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        let local = if local.is_empty() {
            base62(&cx.seed, "email", 8).to_ascii_lowercase()
        } else {
            local
        };
        Scenario {
            family: cx.family,
            t: cx.created,
            period_end: add_months(cx.created, 1),
            cus: cx.id("cus_", "customer", 14),
            sub: cx.id("sub_", "subscription", 24),
            si: cx.id("si_", "item", 14),
            si_prev: cx.id("si_", "item-previous", 14),
            price: cx.id("price_", "price-pro", 24),
            price_prev: cx.id("price_", "price-basic", 24),
            prod: cx.id("prod_", "product-pro", 14),
            prod_prev: cx.id("prod_", "product-basic", 14),
            inv: cx.id("in_", "invoice", 24),
            il: cx.id("il_", "line", 24),
            pi: cx.id("pi_", "payment-intent", 24),
            ch: cx.id("ch_", "charge", 24),
            pm: cx.id("pm_", "payment-method", 24),
            cs: cx.id("cs_test_a1", "checkout-session", 58),
            txn: cx.id("txn_", "balance-transaction", 24),
            re: cx.id("re_", "refund", 24),
            dp: cx.id("dp_", "dispute", 24),
            feat: cx.id("feat_", "feature-pro", 24),
            ent: cx.id("ent_", "entitlement-pro", 24),
            pmc: cx.id("pmc_", "payment-method-configuration", 24),
            invoice_prefix: base62(&cx.seed, "invoice-prefix", 8).to_ascii_uppercase(),
            email: format!("jenny.rosen+{local}@example.com"),
            old_email: format!("jenny.r+{local}@example.org"),
            secret_tail: base62(&cx.seed, "client-secret", 25),
        }
    }

    fn price(&self, previous: bool) -> Value {
        let (id, prod, amount, key, nick, name) = if previous {
            (
                &self.price_prev,
                &self.prod_prev,
                BASIC_UNIT_AMOUNT,
                "basic",
                "Basic monthly",
                "Basic",
            )
        } else {
            (
                &self.price,
                &self.prod,
                PRO_UNIT_AMOUNT,
                "pro",
                "Pro monthly",
                "Pro",
            )
        };
        json!({
            "id": id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": self.t - 90 * DAY,
            "currency": "usd",
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": key,
            "metadata": { "plan": key, "product_name": name },
            "nickname": nick,
            "product": prod,
            "recurring": {
                "interval": "month",
                "interval_count": 1,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": amount,
            "unit_amount_decimal": amount.to_string()
        })
    }

    /// The legacy `plan` mirror of a price (same id, as Stripe does).
    fn plan(&self, previous: bool) -> Value {
        let (id, prod, amount, key, nick) = if previous {
            (
                &self.price_prev,
                &self.prod_prev,
                BASIC_UNIT_AMOUNT,
                "basic",
                "Basic monthly",
            )
        } else {
            (
                &self.price,
                &self.prod,
                PRO_UNIT_AMOUNT,
                "pro",
                "Pro monthly",
            )
        };
        json!({
            "id": id,
            "object": "plan",
            "active": true,
            "amount": amount,
            "amount_decimal": amount.to_string(),
            "billing_scheme": "per_unit",
            "created": self.t - 90 * DAY,
            "currency": "usd",
            "interval": "month",
            "interval_count": 1,
            "livemode": false,
            "metadata": { "plan": key },
            "meter": null,
            "nickname": nick,
            "product": prod,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })
    }

    fn period(&self, state: SubState) -> (i64, i64) {
        match state {
            // A 14-day trial whose end is 3 days away.
            SubState::Trialing => (self.t - 11 * DAY, self.t + 3 * DAY),
            _ => (self.t, self.period_end),
        }
    }

    fn item(&self, previous: bool, state: SubState) -> Value {
        let (start, end) = self.period(state);
        let mut item = json!({
            "id": if previous { &self.si_prev } else { &self.si },
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": self.period(state).0,
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "plan": self.plan(previous),
            "price": self.price(previous),
            "quantity": 1,
            "subscription": self.sub,
            "tax_rates": []
        });
        if self.family == ApiFamily::Legacy {
            let m = item.as_object_mut().expect("object");
            m.shift_remove("current_period_end");
            m.shift_remove("current_period_start");
        }
        item
    }

    fn items_list(&self, previous: bool) -> Value {
        let state = if previous {
            SubState::Trialing
        } else {
            SubState::Active
        };
        json!({
            "object": "list",
            "data": [self.item(previous, state)],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={}", self.sub)
        })
    }

    fn subscription(&self, state: SubState) -> Value {
        let (start, end) = self.period(state);
        let status = match state {
            SubState::Active => "active",
            SubState::Canceled => "canceled",
            SubState::Trialing => "trialing",
            SubState::Paused => "paused",
        };
        let ended = if state == SubState::Canceled {
            json!(self.t)
        } else {
            Value::Null
        };
        let (trial_start, trial_end) = if state == SubState::Trialing {
            (json!(start), json!(end))
        } else {
            (Value::Null, Value::Null)
        };
        let items = json!({
            "object": "list",
            "data": [self.item(false, state)],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={}", self.sub)
        });
        let mut sub = json!({
            "id": self.sub,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
            "billing_cycle_anchor": end,
            "billing_cycle_anchor_config": null,
            "billing_mode": { "flexible": null, "type": "classic" },
            "billing_schedules": [],
            "billing_thresholds": null,
            "cancel_at": null,
            "cancel_at_period_end": false,
            "canceled_at": ended,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": if state == SubState::Canceled { json!("cancellation_requested") } else { Value::Null }
            },
            "collection_method": "charge_automatically",
            "created": start,
            "currency": "usd",
            "current_period_end": end,
            "current_period_start": start,
        });
        extend(
            &mut sub,
            json!({
                "customer": self.cus,
                "customer_account": null,
                "days_until_due": null,
                "default_payment_method": self.pm,
                "default_source": null,
                "default_tax_rates": [],
                "description": null,
                "discounts": [],
                "ended_at": ended,
                "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
                "items": items,
                "latest_invoice": self.inv,
                "livemode": false,
                "managed_payments": null,
                "metadata": {},
                "next_pending_invoice_item_invoice": null,
                "on_behalf_of": null,
                "pause_collection": null,
                "payment_settings": {
                    "payment_method_options": null,
                    "payment_method_types": null,
                    "save_default_payment_method": "off"
                },
                "pending_invoice_item_interval": null,
                "pending_setup_intent": null,
                "pending_update": null,
                "schedule": null,
                "start_date": start,
                "status": status,
                "test_clock": null,
                "transfer_data": null,
                "trial_end": trial_end,
                "trial_settings": { "end_behavior": { "missing_payment_method": "create_invoice" } },
                "trial_start": trial_start
            }),
        );
        let m = sub.as_object_mut().expect("object");
        if state == SubState::Trialing {
            // Billing starts when the trial ends.
            m.insert("billing_cycle_anchor".into(), json!(end));
        } else {
            m.insert("billing_cycle_anchor".into(), json!(start));
        }
        if self.family == ApiFamily::Basil {
            m.shift_remove("current_period_end");
            m.shift_remove("current_period_start");
        }
        sub
    }

    fn line(&self, period: (i64, i64)) -> Value {
        let mut line = json!({
            "id": self.il,
            "object": "line_item",
            "amount": PRO_UNIT_AMOUNT,
            "currency": "usd",
            "description": "1 × Pro (at $29.00 / month)",
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": self.inv,
            "livemode": false,
            "metadata": {},
            "parent": {
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": { "credited_items": null },
                    "subscription": self.sub,
                    "subscription_item": self.si
                },
                "type": "subscription_item_details"
            },
            "period": { "end": period.1, "start": period.0 },
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": { "price": self.price, "product": self.prod },
                "type": "price_details",
                "unit_amount_decimal": PRO_UNIT_AMOUNT.to_string()
            },
            "quantity": 1,
            "quantity_decimal": "1",
            "subscription": self.sub,
            "subtotal": PRO_UNIT_AMOUNT,
            "taxes": []
        });
        if self.family == ApiFamily::Basil {
            line.as_object_mut()
                .expect("object")
                .shift_remove("subscription");
        }
        line
    }

    fn invoice(&self, state: InvState) -> Value {
        let total = PRO_UNIT_AMOUNT;
        let paid = state == InvState::Paid;
        let draft = matches!(state, InvState::Draft | InvState::Upcoming);
        let attempted = matches!(
            state,
            InvState::Paid | InvState::Failed | InvState::ActionRequired
        );
        let billing_reason = match state {
            InvState::Paid | InvState::ActionRequired => "subscription_create",
            InvState::Upcoming => "upcoming",
            _ => "subscription_cycle",
        };
        let (period_start, period_end) = if billing_reason == "subscription_create" {
            (self.t, self.t)
        } else {
            (add_months(self.t, -1), self.t)
        };
        let number = if draft {
            Value::Null
        } else {
            json!(format!("{}-0001", self.invoice_prefix))
        };
        let hosted = format!(
            "https://invoice.stripe.com/i/acct_1LuotaDemoAcct01/test_{}",
            self.secret_tail
        );
        let (hosted, pdf) = if draft {
            (Value::Null, Value::Null)
        } else {
            (json!(hosted), json!(format!("{hosted}/pdf?s=ap")))
        };
        let status = match state {
            InvState::Draft | InvState::Upcoming => "draft",
            InvState::Paid => "paid",
            _ => "open",
        };
        let next_attempt = match state {
            InvState::Failed => json!(self.t + 3 * DAY),
            InvState::Draft | InvState::Finalized | InvState::Upcoming => json!(self.t + 3600),
            _ => Value::Null,
        };
        let mut inv = json!({
            "id": if state == InvState::Upcoming { Value::Null } else { json!(self.inv) },
            "object": "invoice",
            "account_country": "US",
            "account_name": "Luota Demo",
            "account_tax_ids": null,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": if paid { total } else { 0 },
            "amount_remaining": if paid { 0 } else { total },
            "amount_shipping": 0,
            "application": null,
            "attempt_count": if attempted { 1 } else { 0 },
            "attempted": attempted,
            "auto_advance": !paid,
            "automatic_tax": {
                "disabled_reason": null,
                "enabled": false,
                "liability": null,
                "provider": null,
                "status": null
            },
            "automatically_finalizes_at": if draft { json!(self.t + 3600) } else { Value::Null },
            "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "created": self.t,
            "currency": "usd",
            "custom_fields": null,
        });
        extend(
            &mut inv,
            json!({
                "customer": self.cus,
                "customer_account": null,
                "customer_address": null,
                "customer_email": self.email,
                "customer_name": "Jenny Rosen",
                "customer_phone": null,
                "customer_shipping": null,
                "customer_tax_exempt": "none",
                "customer_tax_ids": [],
                "default_payment_method": null,
                "default_source": null,
                "default_tax_rates": [],
                "description": null,
                "discounts": [],
                "due_date": null,
                "effective_at": if draft { Value::Null } else { json!(self.t) },
                "ending_balance": if draft { Value::Null } else { json!(0) },
                "footer": null,
                "from_invoice": null,
                "hosted_invoice_url": hosted,
                "invoice_pdf": pdf,
                "issuer": { "type": "self" },
                "last_finalization_error": null,
                "latest_revision": null,
                "lines": {
                    "object": "list",
                    "data": [self.line((self.t, self.period_end))],
                    "has_more": false,
                    "total_count": 1,
                    "url": format!("/v1/invoices/{}/lines", self.inv)
                },
                "livemode": false,
                "metadata": {},
                "next_payment_attempt": next_attempt,
            }),
        );
        extend(
            &mut inv,
            json!({
                "number": number,
                "on_behalf_of": null,
                "parent": {
                    "quote_details": null,
                    "subscription_details": { "metadata": {}, "subscription": self.sub },
                    "type": "subscription_details"
                },
                "payment_settings": {
                    "default_mandate": null,
                    "payment_method_options": null,
                    "payment_method_types": null
                },
                "period_end": period_end,
                "period_start": period_start,
                "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0,
                "receipt_number": null,
                "rendering": { "amount_tax_display": null, "pdf": { "page_size": "auto" }, "template": null, "template_version": null },
                "shipping_cost": null,
                "shipping_details": null,
                "starting_balance": 0,
                "statement_descriptor": null,
                "status": status,
                "status_transitions": {
                    "finalized_at": if draft { Value::Null } else { json!(self.t) },
                    "marked_uncollectible_at": null,
                    "paid_at": if paid { json!(self.t) } else { Value::Null },
                    "voided_at": null
                },
                "subscription": self.sub,
                "subtotal": total,
                "subtotal_excluding_tax": total,
                "test_clock": null,
                "total": total,
                "total_discount_amounts": [],
                "total_excluding_tax": total,
                "total_pretax_credit_amounts": [],
                "total_taxes": [],
                "webhooks_delivered_at": if draft { Value::Null } else { json!(self.t) }
            }),
        );
        if self.family == ApiFamily::Basil {
            inv.as_object_mut()
                .expect("object")
                .shift_remove("subscription");
        }
        inv
    }

    fn address(&self) -> Value {
        json!({
            "city": null,
            "country": "US",
            "line1": null,
            "line2": null,
            "postal_code": "94107",
            "state": null
        })
    }

    fn checkout(&self, state: CsState) -> Value {
        let async_pm = matches!(state, CsState::AsyncSucceeded | CsState::AsyncFailed);
        let expired = state == CsState::Expired;
        let created = if expired { self.t - DAY } else { self.t - 120 };
        let (status, payment_status) = match state {
            CsState::Completed | CsState::AsyncSucceeded => ("complete", "paid"),
            CsState::AsyncFailed => ("complete", "unpaid"),
            CsState::Expired => ("expired", "unpaid"),
        };
        let linked = |v: &String| if expired { Value::Null } else { json!(v) };
        let mut cs = json!({
            "id": self.cs,
            "object": "checkout.session",
            "adaptive_pricing": { "enabled": false },
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": PRO_UNIT_AMOUNT,
            "amount_total": PRO_UNIT_AMOUNT,
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "billing_address_collection": null,
            "cancel_url": "https://app.example.test/billing/cancel",
            "client_reference_id": null,
            "client_secret": null,
            "collected_information": if expired { Value::Null } else { json!({ "business_name": null, "individual_name": null, "shipping_details": null }) },
            "consent": null,
            "consent_collection": null,
            "created": created,
            "currency": "usd",
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null
            },
        });
        extend(
            &mut cs,
            json!({
                "customer": linked(&self.cus),
                "customer_account": null,
                "customer_creation": "always",
                "customer_details": if expired { Value::Null } else { json!({
                    "address": self.address(),
                    "business_name": null,
                    "email": self.email,
                    "individual_name": null,
                    "name": "Jenny Rosen",
                    "phone": null,
                    "tax_exempt": "none",
                    "tax_ids": []
                }) },
                "customer_email": null,
                "discounts": [],
                "expires_at": created + DAY,
                "integration_identifier": null,
                "invoice": linked(&self.inv),
                "invoice_creation": null,
                "livemode": false,
                "locale": null,
                "managed_payments": null,
                "metadata": {},
                "mode": "subscription",
                "origin_context": null,
                "payment_intent": null,
                "payment_link": null,
            }),
        );
        extend(
            &mut cs,
            json!({
                "payment_method_collection": "always",
                "payment_method_configuration_details": { "id": self.pmc, "parent": null },
                "payment_method_options": if async_pm {
                    json!({ "us_bank_account": { "financial_connections": { "permissions": ["payment_method"], "prefetch": [] }, "verification_method": "automatic" } })
                } else {
                    json!({ "card": { "request_three_d_secure": "automatic" } })
                },
                "payment_method_types": if async_pm { json!(["us_bank_account"]) } else { json!(["card"]) },
                "payment_status": payment_status,
                "permissions": null,
                "phone_number_collection": { "enabled": false },
                "recovered_from": null,
                "saved_payment_method_options": { "allow_redisplay_filters": ["always"], "payment_method_remove": "disabled", "payment_method_save": null },
                "setup_intent": null,
                "shipping_address_collection": null,
                "shipping_cost": null,
                "shipping_options": [],
                "status": status,
                "submit_type": null,
                "subscription": linked(&self.sub),
                "success_url": "https://app.example.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
                "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
                "ui_mode": "hosted",
                "url": null,
                "wallet_options": null
            }),
        );
        cs
    }

    fn payment_intent(&self, state: PiState) -> Value {
        let (status, received, latest_charge) = match state {
            PiState::Succeeded => ("succeeded", PRO_UNIT_AMOUNT, json!(self.ch)),
            PiState::Failed => ("requires_payment_method", 0, json!(self.ch)),
            PiState::Processing => ("processing", 0, Value::Null),
        };
        let error = if state == PiState::Failed {
            json!({
                "advice_code": "try_again_later",
                "charge": self.ch,
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card has insufficient funds.",
                "network_decline_code": "51",
                "payment_method": self.payment_method(),
                "type": "card_error"
            })
        } else {
            Value::Null
        };
        let mut pi = json!({
            "id": self.pi,
            "object": "payment_intent",
            "amount": PRO_UNIT_AMOUNT,
            "amount_capturable": 0,
            "amount_details": { "tip": {} },
            "amount_received": received,
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": null,
            "canceled_at": null,
            "cancellation_reason": null,
            "capture_method": "automatic",
            "client_secret": format!("{}_secret_{}", self.pi, self.secret_tail),
            "confirmation_method": "automatic",
            "created": self.t,
            "currency": "usd",
            "customer": self.cus,
            "customer_account": null,
            "description": "Subscription creation",
            "excluded_payment_method_types": null,
        });
        extend(
            &mut pi,
            json!({
                "last_payment_error": error,
                "latest_charge": latest_charge,
                "livemode": false,
                "managed_payments": null,
                "metadata": {},
                "next_action": null,
                "on_behalf_of": null,
                "payment_method": if state == PiState::Failed { Value::Null } else { json!(self.pm) },
                "payment_method_configuration_details": null,
                "payment_method_options": {
                    "card": { "installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic" }
                },
                "payment_method_types": ["card"],
                "processing": if state == PiState::Processing { json!({ "card": { "customer_notification": null }, "type": "card" }) } else { Value::Null },
                "receipt_email": null,
                "review": null,
                "setup_future_usage": "off_session",
                "shipping": null,
                "source": null,
                "statement_descriptor": null,
                "statement_descriptor_suffix": null,
                "status": status,
            }),
        );
        extend(
            &mut pi,
            json!({
                "transfer_data": null,
                "transfer_group": null
            }),
        );
        pi
    }

    fn billing_details(&self) -> Value {
        json!({
            "address": self.address(),
            "email": self.email,
            "name": "Jenny Rosen",
            "phone": null,
            "tax_id": null
        })
    }

    fn payment_method(&self) -> Value {
        json!({
            "id": self.pm,
            "object": "payment_method",
            "allow_redisplay": "always",
            "billing_details": self.billing_details(),
            "card": { "brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2034, "funding": "credit", "last4": "4242" },
            "created": self.t - 120,
            "customer": self.cus,
            "livemode": false,
            "metadata": {},
            "type": "card"
        })
    }

    fn card_details(&self) -> Value {
        json!({
            "card": {
                "amount_authorized": PRO_UNIT_AMOUNT,
                "authorization_code": "123456",
                "brand": "visa",
                "checks": { "address_line1_check": null, "address_postal_code_check": "pass", "cvc_check": "pass" },
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "extended_authorization": { "status": "disabled" },
                "fingerprint": base62(&self.pm, "fingerprint", 16),
                "funding": "credit",
                "incremental_authorization": { "status": "unavailable" },
                "installments": null,
                "last4": "4242",
                "mandate": null,
                "multicapture": { "status": "unavailable" },
                "network": "visa",
                "network_token": { "used": false },
                "network_transaction_id": "104102978678771",
                "overcapture": { "maximum_amount_capturable": PRO_UNIT_AMOUNT, "status": "unavailable" },
                "regulated_status": "unregulated",
                "three_d_secure": null,
                "wallet": null
            },
            "type": "card"
        })
    }

    fn charge(&self, refunded: bool) -> Value {
        let refund = json!({
            "id": self.re,
            "object": "refund",
            "amount": PRO_UNIT_AMOUNT,
            "balance_transaction": self.id_like("txn_", "refund-txn"),
            "charge": self.ch,
            "created": self.t,
            "currency": "usd",
            "destination_details": {
                "card": { "reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund" },
                "type": "card"
            },
            "metadata": {},
            "payment_intent": self.pi,
            "reason": "requested_by_customer",
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null
        });
        let refunds = if refunded { vec![refund] } else { vec![] };
        let mut ch = json!({
            "id": self.ch,
            "object": "charge",
            "amount": PRO_UNIT_AMOUNT,
            "amount_captured": PRO_UNIT_AMOUNT,
            "amount_refunded": if refunded { PRO_UNIT_AMOUNT } else { 0 },
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": self.txn,
            "billing_details": self.billing_details(),
            "calculated_statement_descriptor": "LUOTA DEMO",
            "captured": true,
            "created": self.t - 2 * DAY,
            "currency": "usd",
            "customer": self.cus,
            "description": "Subscription creation",
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": null,
            "failure_message": null,
        });
        extend(
            &mut ch,
            json!({
                "fraud_details": {},
                "livemode": false,
                "metadata": {},
                "on_behalf_of": null,
                "outcome": {
                    "advice_code": null,
                    "network_advice_code": null,
                    "network_decline_code": null,
                    "network_status": "approved_by_network",
                    "reason": null,
                    "risk_level": "normal",
                    "risk_score": 32,
                    "seller_message": "Payment complete.",
                    "type": "authorized"
                },
                "paid": true,
                "payment_intent": self.pi,
                "payment_method": self.pm,
                "payment_method_details": self.card_details(),
                "receipt_email": null,
                "receipt_number": null,
                "receipt_url": format!("https://pay.stripe.com/receipts/invoices/{}?s=ap", self.secret_tail),
                "refunded": refunded,
                "refunds": {
                    "object": "list",
                    "data": refunds,
                    "has_more": false,
                    "total_count": if refunded { 1 } else { 0 },
                    "url": format!("/v1/charges/{}/refunds", self.ch)
                },
                "review": null,
                "shipping": null,
                "source": null,
                "source_transfer": null,
                "statement_descriptor": null,
                "statement_descriptor_suffix": null,
            }),
        );
        extend(
            &mut ch,
            json!({
                "status": "succeeded",
                "transfer_data": null,
                "transfer_group": null
            }),
        );
        ch
    }

    fn id_like(&self, prefix: &str, kind: &str) -> String {
        format!("{prefix}{}", base62(&self.sub, kind, 24))
    }

    fn dispute(&self) -> Value {
        let dp = json!({
            "id": self.dp,
            "object": "dispute",
            "amount": PRO_UNIT_AMOUNT,
            "balance_transactions": [],
            "charge": self.ch,
            "created": self.t,
            "currency": "usd",
            "enhanced_eligibility_types": [],
            "evidence": {
                "access_activity_log": null,
                "billing_address": null,
                "cancellation_policy": null,
                "cancellation_policy_disclosure": null,
                "cancellation_rebuttal": null,
                "customer_communication": null,
                "customer_email_address": null,
                "customer_name": null,
                "customer_purchase_ip": null,
                "customer_signature": null,
                "duplicate_charge_documentation": null,
                "duplicate_charge_explanation": null,
                "duplicate_charge_id": null,
                "enhanced_evidence": {},
                "product_description": null,
                "receipt": null,
                "refund_policy": null,
                "refund_policy_disclosure": null,
                "refund_refusal_explanation": null,
                "service_date": null,
                "service_documentation": null,
                "shipping_address": null,
                "shipping_carrier": null,
                "shipping_date": null,
                "shipping_documentation": null,
                "shipping_tracking_number": null,
                "uncategorized_file": null,
                "uncategorized_text": null
            },
            "evidence_details": {
                "due_by": self.t + 7 * DAY,
                "enhanced_eligibility": {},
                "has_evidence": false,
                "past_due": false,
                "submission_count": 0
            },
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": self.pi,
            "payment_method_details": {
                "card": { "brand": "visa", "case_type": "chargeback", "network": "visa", "network_reason_code": "10.4" },
                "type": "card"
            },
            "reason": "fraudulent",
            "status": "needs_response"
        });
        dp
    }

    fn customer(&self) -> Value {
        json!({
            "id": self.cus,
            "object": "customer",
            "address": self.address(),
            "balance": 0,
            "created": self.t,
            "currency": "usd",
            "default_source": null,
            "delinquent": false,
            "description": null,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": self.pm,
                "footer": null,
                "rendering_options": null
            },
            "livemode": false,
            "metadata": {},
            "name": "Jenny Rosen",
            "next_invoice_sequence": 2,
            "phone": null,
            "preferred_locales": ["en"],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        })
    }

    fn entitlement_summary(&self) -> Value {
        json!({
            "object": "entitlements.active_entitlement_summary",
            "customer": self.cus,
            "entitlements": {
                "object": "list",
                "data": [{
                    "id": self.ent,
                    "object": "entitlements.active_entitlement",
                    "feature": {
                        "id": self.feat,
                        "object": "entitlements.feature",
                        "active": true,
                        "livemode": false,
                        "lookup_key": "pro",
                        "metadata": {},
                        "name": "Pro"
                    },
                    "livemode": false,
                    "lookup_key": "pro"
                }],
                "has_more": false,
                "url": format!("/v1/customers/{}/entitlements", self.cus)
            },
            "livemode": false
        })
    }
}

/// Append `more`'s fields to `base` (both objects), keeping order. Big
/// objects are built in parts to stay under `json!`'s recursion limit.
fn extend(base: &mut Value, more: Value) {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_months_clamps_to_month_end() {
        // 2024-01-31 00:00:00 UTC → 2024-02-29 (leap year), then 2024-03-31.
        let jan31 = days_from_civil(2024, 1, 31) * DAY;
        assert_eq!(jan31, 1_706_659_200);
        assert_eq!(add_months(jan31, 1), days_from_civil(2024, 2, 29) * DAY);
        assert_eq!(add_months(jan31, 2), 1_711_843_200); // 2024-03-31
        assert_eq!(add_months(jan31 + 3661, 12), 1_738_281_600 + 3661); // 2025-01-31 01:01:01
        assert_eq!(add_months(jan31, -1), 1_703_980_800); // 2023-12-31
        for d in [-1000i64, 0, 19_000, 20_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn ids_have_prefix_seed_and_length() {
        let cx = TemplateContext {
            seed: "run-42".into(),
            created: 0,
            family: ApiFamily::Basil,
        };
        let id = cx.id("cus_", "customer", 14);
        assert!(id.starts_with("cus_run42"));
        assert_eq!(id.len(), 4 + 14);
        assert_ne!(id, cx.id("cus_", "other", 14));
        let long = TemplateContext {
            seed: "x".repeat(40),
            ..cx
        };
        assert_eq!(long.id("si_", "a", 14).len(), 3 + 40 + 4);
        assert_ne!(long.id("si_", "a", 14), long.id("si_", "b", 14));
    }
}
