//! The drill language as serde types: exactly what a drill file may say.
//!
//! Every struct denies unknown keys, so a misspelling is an error with a
//! location. Semantic rules that serde cannot express (a `send:` naming an
//! event that does not exist) live in [`super::validate`].

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::stripe::body::BodyEncoding;
use crate::stripe::signature::SignatureMode;

/// One drill file.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// The drill's name, phrased as the promise ("Paid checkout grants Pro access").
    pub drill: String,
    #[serde(default)]
    pub about: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub runbook: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Template variables, rendered in order; later ones may use earlier ones.
    #[serde(default)]
    pub vars: IndexMap<String, Value>,
    /// Default API version for this drill's events.
    #[serde(default)]
    pub api_version: Option<String>,
    /// How long checks must keep holding after the last delivery (default 1 s).
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub settle: Option<Duration>,
    /// App calls made before any event.
    #[serde(default)]
    pub setup: Vec<HttpCall>,
    /// Named events.
    #[serde(default)]
    pub events: IndexMap<String, EventSpec>,
    /// The delivery plan of a single-step drill.
    #[serde(default)]
    pub deliver: Vec<Delivery>,
    /// The promise of a single-step drill.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// A multi-step drill: each step has its own deliveries and promise.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A control drill: the outcome must *not* happen. It passes only when the
    /// checks catch the broken outcome — proof that the checks have teeth.
    #[serde(default)]
    pub control: bool,
    /// `both`: run the drill twice, the second time with every step's
    /// delivery lines in reverse order (fresh `run.uid`); one verdict.
    #[serde(default)]
    pub orders: Orders,
}

/// Which delivery orders a drill is run in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Orders {
    /// The plan as written.
    #[default]
    AsWritten,
    /// As written, then reversed: same-second ties expose different bugs in each order.
    Both,
}

/// One step of a multi-step drill.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    #[serde(default)]
    pub setup: Vec<HttpCall>,
    #[serde(default)]
    pub deliver: Vec<Delivery>,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub settle: Option<Duration>,
}

/// An app call: `http: "POST {{ target.app }}/test/users"` plus a body.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    /// `METHOD URL`, templated.
    pub http: String,
    #[serde(default)]
    pub json: Option<Value>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Expected status; default any 2xx.
    #[serde(default)]
    pub expect_status: Option<StatusExpect>,
}

/// An event: a built-in template with overrides, or a full payload.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The event type; selects the built-in template unless `payload`/`file` is given.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Fixed event id; default `evt_` + run uid + a counter.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    /// `created` in unix seconds, or `same-as: NAME`, `after: NAME` / `before: NAME` with `by: 5s`.
    #[serde(default)]
    pub created: Option<Created>,
    /// Overrides inside `data.object` (dotted paths, `[n]` for arrays).
    #[serde(default)]
    pub set: IndexMap<String, Value>,
    /// Paths inside `data.object` to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// `data.previous_attributes` for `*.updated` events.
    #[serde(default)]
    pub previous_attributes: Option<Value>,
    /// A whole event (envelope included) instead of a template.
    #[serde(default)]
    pub payload: Option<Value>,
    /// A JSON file (relative to the drill) holding a whole event.
    #[serde(default)]
    pub file: Option<String>,
}

/// The `created` timestamp of an event.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Created {
    Unix(i64),
    Relative(RelativeCreated),
}

// By hand, not `untagged`: serde's "data did not match any variant of
// untagged enum Created" said neither which forms exist nor which key was wrong.
impl<'de> Deserialize<'de> for Created {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64().map(Created::Unix).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`created: {n}` is not whole unix seconds (like 1767225600)"
                ))
            }),
            Value::Object(m) => serde_json::from_value(Value::Object(m))
                .map(Created::Relative)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "`created: {other}` is not a time: write unix seconds (1767225600), or relative to \
                 another event: `{{ after: NAME, by: 60s }}`, `{{ before: NAME, by: 60s }}` or \
                 `{{ same-as: NAME }}`"
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelativeCreated {
    #[serde(default, rename = "same-as")]
    pub same_as: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub by: Option<Duration>,
}

/// One line of the delivery plan.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The event name to send (not needed when `together` lists its members).
    #[serde(default)]
    pub send: Option<String>,
    /// Wait this long after the previous delivery's response.
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub after: Option<Duration>,
    /// How many copies of this delivery (same event id).
    #[serde(default = "one")]
    pub copies: u32,
    /// `true`: release all copies at one instant over pre-opened connections.
    /// A list: release these different events and app calls at one instant.
    #[serde(default)]
    pub together: Together,
    #[serde(default)]
    pub signature: SignatureMode,
    #[serde(default)]
    pub body: BodyEncoding,
    /// Expected status; default any 2xx (4xx for negative signature modes).
    #[serde(default)]
    pub expect_status: Option<StatusExpect>,
    /// Client timeout for this delivery (default from config, 10 s).
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub timeout: Option<Duration>,
    /// Redeliver like Stripe until the handler accepts.
    #[serde(default)]
    pub redeliver: Option<Redeliver>,
}

fn one() -> u32 {
    1
}

/// `together:` either a flag for copies, or a list of different members.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Together {
    Flag(bool),
    Members(Vec<Member>),
}

// By hand, not `untagged`: a misspelled key in one member used to read
// "data did not match any variant of untagged enum Together".
impl<'de> Deserialize<'de> for Together {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Together::Flag(b)),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    let e = |why: String| serde::de::Error::custom(format!("together[{i}]: {why}"));
                    if !m.is_object() {
                        return Err(e(format!(
                            "`{m}` is not a member: write a map, `{{ send: NAME }}` or an app \
                             call `{{ http: \"POST URL\" }}`"
                        )));
                    }
                    serde_json::from_value::<Member>(m).map_err(|x| e(x.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Together::Members),
            other => Err(serde::de::Error::custom(format!(
                "`together: {other}` is neither `true`/`false` (release the copies at once) nor a \
                 list of members (`- send: NAME`, or an app call `- http: \"POST URL\"`)"
            ))),
        }
    }
}

impl Default for Together {
    fn default() -> Self {
        Together::Flag(false)
    }
}

impl Together {
    pub fn is_on(&self) -> bool {
        matches!(self, Together::Flag(true) | Together::Members(_))
    }
}

/// A member of a mixed `together` group: an event or an app call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// An event to send (signed as usual).
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub signature: Option<SignatureMode>,
    #[serde(default)]
    pub body: Option<BodyEncoding>,
    /// Or an app call, `METHOD URL` (e.g. the browser-return path racing the webhook).
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub json: Option<Value>,
    #[serde(default)]
    pub expect_status: Option<StatusExpect>,
}

/// Stripe-like retry: resend, re-signed each time, until the status matches.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeliver {
    /// The status that ends the retries (default `2xx`).
    #[serde(default = "StatusExpect::success")]
    pub until: StatusExpect,
    /// Attempts after the first delivery (default 5).
    #[serde(default = "five")]
    pub attempts: u32,
    /// Wait before the first retry; doubles each time (a compressed Stripe backoff).
    #[serde(default = "half_second", deserialize_with = "duration")]
    #[schemars(with = "crate::cli::schema::DurationSchema")]
    pub every: Duration,
}

fn five() -> u32 {
    5
}

fn half_second() -> Duration {
    Duration::from_millis(500)
}

/// An expected HTTP status: `200`, `"2xx"`, or a list of those.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum StatusExpect {
    One(StatusPattern),
    Any(Vec<StatusPattern>),
}

// By hand, not `untagged`: serde's untagged error ("data did not match any
// variant of untagged enum StatusExpect") would hide what is wrong.
impl<'de> Deserialize<'de> for StatusExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let custom = serde::de::Error::custom;
        match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .map(serde_json::from_value::<StatusPattern>)
                .collect::<Result<Vec<_>, _>>()
                .map(StatusExpect::Any)
                .map_err(custom),
            one => serde_json::from_value(one)
                .map(StatusExpect::One)
                .map_err(custom),
        }
    }
}

/// An exact status code or a class like `4xx`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "String")]
pub enum StatusPattern {
    Exact(u16),
    Class(u16),
    /// No answer within the client timeout (as Stripe would count it).
    Timeout,
}

impl From<StatusPattern> for String {
    fn from(p: StatusPattern) -> String {
        p.to_string()
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Exact(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
            StatusPattern::Timeout => write!(f, "timeout"),
        }
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "`{raw}` is not a status: write a code from 100 to 599 (200), a class (\"2xx\", \"4xx\"), \"timeout\", or a list of those"
            ))
        };
        match &raw {
            Value::Number(n) => match n.as_u64() {
                Some(n) if (100..600).contains(&n) => Ok(StatusPattern::Exact(n as u16)),
                _ => Err(bad()),
            },
            Value::String(s) => {
                let s = s.trim().to_ascii_lowercase();
                if s == "timeout" {
                    return Ok(StatusPattern::Timeout);
                }
                if let Some(c) = s.strip_suffix("xx") {
                    match c.parse::<u16>() {
                        Ok(c) if (1..6).contains(&c) => Ok(StatusPattern::Class(c)),
                        _ => Err(bad()),
                    }
                } else {
                    match s.parse::<u16>() {
                        Ok(n) if (100..600).contains(&n) => Ok(StatusPattern::Exact(n)),
                        _ => Err(bad()),
                    }
                }
            }
            _ => Err(bad()),
        }
    }
}

impl StatusPattern {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusPattern::Exact(c) => *c == status,
            StatusPattern::Class(c) => status / 100 == *c,
            StatusPattern::Timeout => false,
        }
    }
}

impl StatusExpect {
    /// Whether a timed-out delivery meets this expectation.
    pub fn accepts_timeout(&self) -> bool {
        match self {
            StatusExpect::One(p) => *p == StatusPattern::Timeout,
            StatusExpect::Any(ps) => ps.contains(&StatusPattern::Timeout),
        }
    }

    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusExpect::One(p) => p.matches(status),
            StatusExpect::Any(ps) => ps.iter().any(|p| p.matches(status)),
        }
    }

    /// Any 2xx: the default for valid deliveries and app calls.
    pub fn success() -> StatusExpect {
        StatusExpect::One(StatusPattern::Class(2))
    }

    /// Any 4xx: the default for negative signature modes.
    pub fn client_error() -> StatusExpect {
        StatusExpect::One(StatusPattern::Class(4))
    }
}

impl std::fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusExpect::One(p) => write!(f, "{p}"),
            StatusExpect::Any(ps) => {
                let parts: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                write!(f, "{}", parts.join(" or "))
            }
        }
    }
}

/// The promise: checks polled until they hold, and idempotency probes.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How long after the last delivery the checks may take to hold.
    #[serde(default = "default_within", deserialize_with = "duration")]
    #[schemars(with = "crate::cli::schema::DurationSchema")]
    pub within: Duration,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Values that must not move after the first accepted delivery.
    #[serde(default)]
    pub stable: Vec<Probe>,
    /// Values that must read the same after the step as before its first delivery.
    #[serde(default)]
    pub unchanged: Vec<Probe>,
}

fn default_within() -> Duration {
    Duration::from_secs(10)
}

/// The stage of the billing spine a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Billing,
    Entitlement,
    Access,
    Notification,
}

/// One outcome check: read state from one source (an HTTP GET, an SQL
/// query, or a command) and assert on it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The outcome in words ("customer has Pro access"); a failure reads as its negation.
    pub name: String,
    #[serde(default)]
    pub stage: Option<Stage>,
    /// `GET URL` (templated).
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// A query against the target's database (`database_env`; the demo's SQLite).
    /// Placeholders: `$1, $2` for PostgreSQL and SQLite, `?` for MySQL/MariaDB.
    #[serde(default)]
    pub sql: Option<String>,
    /// Bound to the placeholders in order; never spliced into the SQL text.
    #[serde(default)]
    pub params: Vec<Value>,
    /// A program and its arguments (templated), e.g. `[bin/console, billing:status, "{{ user }}"]`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Bound on an `http` read or a `command` (default: the config's timeout).
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub timeout: Option<Duration>,
    /// Expected HTTP status of an `http` probe (default 200), or exit status of a `command` (default 0).
    #[serde(default)]
    pub status: Option<i64>,
    /// JSONPath (RFC 9535) → expected value or comparison. For `sql` the
    /// document is the array of rows (`$[0].count`); for `command`, stdout parsed as JSON.
    #[serde(default)]
    pub json: IndexMap<String, Matcher>,
    /// `sql`: the first column of the first row. `command`: the whole stdout, trimmed.
    #[serde(default)]
    pub equals: Option<Matcher>,
    /// `sql`: the number of rows.
    #[serde(default)]
    pub rows: Option<Matcher>,
}

/// Where a check or a `stable`/`unchanged` probe reads state: exactly one
/// of `http`, `sql`, `command` (the same keys on both).
///
/// `Check` and `Probe` repeat these fields instead of `#[serde(flatten)]`ing
/// one struct: flatten cannot be combined with `deny_unknown_fields` and
/// makes serde_yaml lose error locations — both of which the loader needs.
/// This borrowed view gives the rest of the code one type.
#[derive(Debug, Clone, Copy)]
pub struct SourceSpec<'a> {
    pub http: Option<&'a str>,
    pub headers: &'a IndexMap<String, String>,
    pub sql: Option<&'a str>,
    pub params: &'a [Value],
    pub command: Option<&'a [String]>,
    pub timeout: Option<Duration>,
}

impl SourceSpec<'_> {
    /// How many sources are named (exactly one is valid).
    pub fn count(&self) -> usize {
        [
            self.http.is_some(),
            self.sql.is_some(),
            self.command.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

macro_rules! source_of {
    ($t:ty) => {
        impl $t {
            /// The source this reads from.
            pub fn source(&self) -> SourceSpec<'_> {
                SourceSpec {
                    http: self.http.as_deref(),
                    headers: &self.headers,
                    sql: self.sql.as_deref(),
                    params: &self.params,
                    command: self.command.as_deref(),
                    timeout: self.timeout,
                }
            }
        }
    };
}
source_of!(Check);
source_of!(Probe);

/// A value probe for `stable` / `unchanged`: one source and the JSONPaths to compare.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub name: Option<String>,
    /// `GET URL` (templated).
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// A query against the target's database (`database_env`; the demo's SQLite).
    /// Placeholders: `$1, $2` for PostgreSQL and SQLite, `?` for MySQL/MariaDB.
    #[serde(default)]
    pub sql: Option<String>,
    /// Bound to the placeholders in order; never spliced into the SQL text.
    #[serde(default)]
    pub params: Vec<Value>,
    /// A program and its arguments (templated), e.g. `[bin/console, billing:status, "{{ user }}"]`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Bound on an `http` read or a `command` (default: the config's timeout).
    #[serde(default, deserialize_with = "opt_duration")]
    #[schemars(with = "Option<crate::cli::schema::DurationSchema>")]
    pub timeout: Option<Duration>,
    /// JSONPaths whose values are compared.
    pub json: Vec<String>,
}

/// What a JSONPath's value must be: a literal (equality), one comparison, or
/// the access policy's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Matcher {
    Equals(Value),
    Compare(Comparison),
    /// Resolved at planning time into `Equals` with the policy's value.
    Policy(PolicyRef),
}

/// `{policy: access, status: past_due}`: the value luota.yaml's `policy`
/// gives. `policy` names what to look up — `access` (by subscription status)
/// or `limits.NAME` (by plan) — and the key comes from `status`/`plan`, or
/// from the subscription in event `event` (its `status`; its first item's
/// price `lookup_key`, else the price id).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// `access`, or `limits.NAME` (e.g. `limits.credits`).
    pub policy: String,
    /// The subscription status to look up access for.
    #[serde(default)]
    pub status: Option<String>,
    /// The plan to look up limits for.
    #[serde(default)]
    pub plan: Option<String>,
    /// The event (by name) whose subscription gives the status or plan.
    #[serde(default)]
    pub event: Option<String>,
}

/// `{gt: 1}`, `{exists: false}`, `{in: [a, b]}`...
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Comparison {
    Eq(Value),
    Ne(Value),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
    In(Vec<Value>),
    Contains(Value),
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        // A one-key mapping whose key is an operator is a comparison; any
        // other value (including other mappings) is compared for equality.
        if let Value::Object(m) = &v {
            if m.contains_key("policy") {
                return serde_json::from_value(v)
                    .map(Matcher::Policy)
                    .map_err(|e| serde::de::Error::custom(format!("a policy matcher: {e}")));
            }
            if m.len() == 1 {
                let key = m.keys().next().map(String::as_str).unwrap_or_default();
                if OPERATORS.contains(&key) {
                    return serde_json::from_value(v)
                        .map(Matcher::Compare)
                        .map_err(serde::de::Error::custom);
                }
                // `{gtee: 1}` would silently compare for equality with an object.
                if let Some(near) = OPERATORS
                    .iter()
                    .find(|op| strsim::levenshtein(op, key) <= 1 && key.len() <= 9)
                {
                    return Err(serde::de::Error::custom(format!(
                        "unknown operator `{key}`, did you mean `{near}`? (to compare with an \
                         object that has a `{key}` key, write `{{eq: {{{key}: ...}}}}`)"
                    )));
                }
            }
        }
        Ok(Matcher::Equals(v))
    }
}

/// The comparison operators a JSON matcher accepts.
pub const OPERATORS: [&str; 9] = [
    "eq", "ne", "gt", "gte", "lt", "lte", "exists", "in", "contains",
];

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    // By hand, not `untagged`: its error would not say what to write.
    match Value::deserialize(d)? {
        Value::Number(n) => match n.as_u64() {
            Some(ms) => bounded(Duration::from_millis(ms), &format!("{ms} (milliseconds)"))
                .map_err(serde::de::Error::custom),
            None => Err(serde::de::Error::custom(format!(
                "`{n}` is not a duration: a bare number is whole milliseconds; write it with a unit, like 2500ms or 2.5s"
            ))),
        },
        Value::String(s) => parse_duration(&s).map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "`{other}` is not a duration; write it like 500ms, 20s or 1.5s"
        ))),
    }
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// The longest wait a drill or config may ask for. Every wait is bounded,
/// and a larger one would overflow the clock arithmetic (a panic, found by
/// fuzzing by hand: `within: 18446744073709551615s`).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

fn bounded(d: Duration, written: &str) -> Result<Duration, String> {
    if d > MAX_DURATION {
        Err(format!(
            "`{written}` is longer than a day; every wait in luota is bounded: write at most 24h"
        ))
    } else {
        Ok(d)
    }
}

/// `500ms`, `20s`, `1.5s`, `2m`; a bare number is milliseconds. At most 24h.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Some(secs) = t.strip_suffix('s').filter(|x| !x.ends_with('m')) {
        if let Ok(f) = secs.trim().parse::<f64>() {
            if f.is_finite() && f >= 0.0 {
                if f > MAX_DURATION.as_secs_f64() {
                    return bounded(Duration::MAX, s);
                }
                return Ok(Duration::from_secs_f64(f));
            }
        }
    }
    let d = humantime::parse_duration(t)
        .map_err(|_| format!("`{s}` is not a duration; write it like 500ms, 20s or 1.5s"))?;
    bounded(d, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_decimals() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    /// Regression: a huge `within:` validated, then panicked the run with
    /// "overflow when adding duration to instant" (reported as interrupted).
    #[test]
    fn durations_longer_than_a_day_are_rejected_not_overflowed() {
        assert!(parse_duration("24h").is_ok());
        for huge in ["18446744073709551615s", "25h", "1e12s", "90000000ms"] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("at most 24h"), "{huge}: {e}");
        }
        let e =
            serde_yaml::from_str::<Delivery>("{send: e, after: 18446744073709551615}").unwrap_err();
        assert!(e.to_string().contains("at most 24h"), "{e}");
    }

    /// Regression: `expect_status: 999` and `within: 2.5` said "data did not
    /// match any variant of untagged enum ...", not what to write.
    #[test]
    fn bad_statuses_and_durations_say_what_to_write() {
        for bad in ["999", "\"6xx\"", "[200, 999]", "-1", "{a: 1}"] {
            let e = serde_yaml::from_str::<StatusExpect>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("is not a status: write a code from 100 to 599"),
                "{bad}: {e}"
            );
        }
        let e = serde_yaml::from_str::<Delivery>("{send: e, after: 2.5}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("write it with a unit, like 2500ms or 2.5s"),
            "{e}"
        );
        let e = serde_yaml::from_str::<Delivery>("{send: e, after: [1]}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a duration"), "{e}");
    }

    #[test]
    fn status_patterns() {
        let p: StatusExpect = serde_yaml::from_str("4xx").unwrap();
        assert!(p.matches(400) && p.matches(499) && !p.matches(500));
        let p: StatusExpect = serde_yaml::from_str("[200, 409]").unwrap();
        assert!(p.matches(409) && !p.matches(201));
        assert!(serde_yaml::from_str::<StatusExpect>("9xx").is_err());
    }

    #[test]
    fn matcher_is_comparison_only_for_operator_keys() {
        let m: Matcher = serde_yaml::from_str("{gte: 1}").unwrap();
        assert_eq!(m, Matcher::Compare(Comparison::Gte(1.0)));
        let m: Matcher = serde_yaml::from_str("{plan: pro}").unwrap();
        assert!(matches!(m, Matcher::Equals(_)));
    }
}
