//! Planning: a loaded drill becomes concrete events and an ordered,
//! possibly concurrent delivery plan. Everything is rendered here, so the
//! deliver and check stages only send and read.

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{json, Value};
use serde_json_path::JsonPath;

use crate::config::Policy;
use crate::drill::diagnostic::Diagnostic;
use crate::drill::load::LoadedDrill;
use crate::drill::model::{
    Check, Created, Delivery, EventSpec, Expect, HttpCall, Matcher, PolicyRef, Probe, Redeliver,
    SourceSpec, Stage, StatusExpect, Together,
};
use crate::drill::render::{RenderError, Renderer};
use crate::drill::validate::split_method;
use crate::safety::Refusal;
use crate::stripe::body::BodyEncoding;
use crate::stripe::envelope::{envelope, EnvelopeParts};
use crate::stripe::signature::SignatureMode;
use crate::stripe::template::{self, ApiFamily, TemplateContext};

/// Inputs of planning that come from the run, not the drill.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub run_uid: String,
    /// Unix seconds at planning time.
    pub now: i64,
    pub api_version: String,
    pub timeout: Duration,
    pub settle: Duration,
    /// Target headers (templates) added to setup calls and checks.
    pub target_headers: IndexMap<String, String>,
    /// The target's access policy, for `{policy: ...}` matchers.
    pub policy: Option<Policy>,
}

/// A fully rendered drill.
#[derive(Debug, Clone)]
pub struct Plan {
    pub events: IndexMap<String, RenderedEvent>,
    pub setup: Vec<HttpRequest>,
    pub steps: Vec<PlannedStep>,
}

/// One rendered event (the whole JSON that is sent).
#[derive(Debug, Clone)]
pub struct RenderedEvent {
    pub name: String,
    pub id: String,
    pub event_type: String,
    pub api_version: String,
    pub created: i64,
    pub value: Value,
}

impl RenderedEvent {
    fn object_str(&self, key: &str) -> Option<String> {
        match self.value.pointer(&format!("/data/object/{key}")) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// The customer the event is about, if its object names one.
    pub fn customer(&self) -> Option<String> {
        self.object_str("customer").or_else(|| {
            (self.value.pointer("/data/object/object") == Some(&json!("customer")))
                .then(|| self.object_str("id"))
                .flatten()
        })
    }

    /// The subscription the event is about, if its object names one.
    pub fn subscription(&self) -> Option<String> {
        if self.value.pointer("/data/object/object") == Some(&json!("subscription")) {
            return self.object_str("id");
        }
        self.object_str("subscription").or_else(|| {
            self.value
                .pointer("/data/object/parent/subscription_details/subscription")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }
}

/// An HTTP call to the app (setup or probe).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub json: Option<Value>,
    pub expect_status: StatusExpect,
}

impl HttpRequest {
    pub fn label(&self) -> String {
        format!("{} {}", self.method, crate::safety::redact_url(&self.url))
    }
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub name: String,
    pub settle: Duration,
    pub setup: Vec<HttpRequest>,
    pub deliveries: Vec<PlannedDelivery>,
    pub expect: PlannedExpect,
}

/// One line of the delivery plan.
#[derive(Debug, Clone)]
pub struct PlannedDelivery {
    pub line: usize,
    /// The event of a single or copies line (empty for a mixed group).
    pub event: String,
    pub after: Duration,
    pub copies: u32,
    pub together: bool,
    pub signature: SignatureMode,
    pub body: BodyEncoding,
    pub expect_status: StatusExpect,
    pub timeout: Duration,
    pub redeliver: Option<Redeliver>,
    /// The members of a mixed `together` group, released at one instant.
    pub members: Vec<PlannedMember>,
}

/// A member of a mixed `together` group.
#[derive(Debug, Clone)]
pub enum PlannedMember {
    Event {
        event: String,
        signature: SignatureMode,
        body: BodyEncoding,
        expect_status: StatusExpect,
    },
    Call(HttpRequest),
}

/// Negative signature modes expect a 4xx; everything else a 2xx.
fn default_status(mode: SignatureMode) -> StatusExpect {
    if mode.is_negative() {
        StatusExpect::client_error()
    } else {
        StatusExpect::success()
    }
}

/// The rendered promise of a step.
#[derive(Debug, Clone, Default)]
pub struct PlannedExpect {
    pub within: Duration,
    pub checks: Vec<PlannedCheck>,
    pub stable: Vec<PlannedProbe>,
    pub unchanged: Vec<PlannedProbe>,
}

impl PlannedExpect {
    /// Every place the promise reads state: each check's, then each
    /// `stable` and `unchanged` probe's.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        let probes = self.stable.iter().chain(&self.unchanged);
        self.checks
            .iter()
            .map(|c| &c.source)
            .chain(probes.map(|p| &p.source))
    }
}

/// Where a rendered check or probe reads state.
#[derive(Debug, Clone)]
pub enum Source {
    Http(HttpRequest),
    Sql {
        query: String,
        params: Vec<Value>,
    },
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
}

impl Source {
    /// `GET url`, `sql: SELECT ...`, `command: prog args`.
    pub fn label(&self) -> String {
        match self {
            Source::Http(r) => r.label(),
            Source::Sql { query, .. } => format!(
                "sql: {}",
                query.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            Source::Command { argv, .. } => format!("command: {}", argv.join(" ")),
        }
    }
}

/// A rendered check.
#[derive(Debug, Clone)]
pub struct PlannedCheck {
    pub name: String,
    pub stage: Option<Stage>,
    pub source: Source,
    /// Expected HTTP status or exit status; `None` for SQL.
    pub status: Option<i64>,
    pub json: Vec<PlannedAssertion>,
}

/// What an assertion looks at.
#[derive(Debug, Clone)]
pub enum Selector {
    /// A JSONPath into the read document.
    Path(JsonPath),
    /// The first column of the first row (SQL) or the trimmed stdout (command).
    First,
    /// The number of rows (SQL).
    RowCount,
}

/// One assertion of a check.
#[derive(Debug, Clone)]
pub struct PlannedAssertion {
    /// How the report names it: the JSONPath, `equals` or `rows`.
    pub path: String,
    pub selector: Selector,
    pub matcher: Matcher,
    /// Where the expected value came from, when not written in the drill
    /// ("policy for status past_due").
    pub because: Option<String>,
}

/// A rendered `stable`/`unchanged` probe.
#[derive(Debug, Clone)]
pub struct PlannedProbe {
    pub source: Source,
    pub paths: Vec<(String, JsonPath)>,
}

/// Why a drill could not be planned.
#[derive(Debug)]
pub enum PlanError {
    /// A problem in the drill file (exit 2).
    Invalid(Diagnostic),
    /// A safety rail refused (exit 3).
    Refused(Refusal),
}

struct Planner<'a> {
    d: &'a LoadedDrill,
    cx: &'a PlanContext,
    r: &'a mut Renderer,
    /// The rendered events, once planned (policy matchers read them).
    events: IndexMap<String, RenderedEvent>,
}

/// Render the drill into a plan.
pub fn plan(d: &LoadedDrill, cx: &PlanContext, r: &mut Renderer) -> Result<Plan, PlanError> {
    Planner {
        d,
        cx,
        r,
        events: IndexMap::new(),
    }
    .plan()
}

impl Planner<'_> {
    fn invalid(&self, e: RenderError) -> PlanError {
        PlanError::Invalid(self.d.at(&e.path, e.to_string()))
    }

    fn plan(&mut self) -> Result<Plan, PlanError> {
        let drill = &self.d.drill;
        self.r.add_vars(&drill.vars).map_err(|e| self.invalid(e))?;
        let events = self.events()?;
        let refs: serde_json::Map<String, Value> = events
            .iter()
            .map(|(n, e)| {
                (
                    n.clone(),
                    json!({ "id": e.id, "type": e.event_type, "created": e.created }),
                )
            })
            .collect();
        self.r.set_events(&Value::Object(refs));
        self.events = events.clone();
        let setup = self.calls("setup", &drill.setup)?;
        let settle = drill.settle.unwrap_or(self.cx.settle);
        let mut steps = Vec::new();
        if drill.steps.is_empty() {
            steps.push(self.step(
                "",
                drill.drill.clone(),
                settle,
                &[],
                &drill.deliver,
                drill.expect.as_ref(),
            )?);
        } else {
            for (i, s) in drill.steps.iter().enumerate() {
                let settle = s.settle.unwrap_or(settle);
                steps.push(self.step(
                    &format!("steps[{i}]."),
                    s.name.clone(),
                    settle,
                    &s.setup,
                    &s.deliver,
                    s.expect.as_ref(),
                )?);
            }
        }
        Ok(Plan {
            events,
            setup,
            steps,
        })
    }

    fn events(&mut self) -> Result<IndexMap<String, RenderedEvent>, PlanError> {
        let drill = &self.d.drill;
        let n = drill.events.len() as i64;
        // Declaration order gives increasing `created`, all in the recent past.
        let base = self.cx.now - n - 1;
        let mut created: IndexMap<String, i64> = IndexMap::new();
        for (i, (name, spec)) in drill.events.iter().enumerate() {
            created.insert(name.clone(), base + i as i64);
            if let Some(Created::Unix(t)) = spec.created {
                created.insert(name.clone(), t);
            }
        }
        // Relative times may chain; resolve until nothing changes.
        for _ in 0..=drill.events.len() {
            for (name, spec) in &drill.events {
                if let Some(Created::Relative(rel)) = &spec.created {
                    let by = rel.by.map(|d| d.as_secs() as i64).unwrap_or(0);
                    let (other, delta) = match (&rel.same_as, &rel.after, &rel.before) {
                        (Some(o), _, _) => (o, 0),
                        (_, Some(o), _) => (o, by.max(1)),
                        (_, _, Some(o)) => (o, -by.max(1)),
                        _ => continue,
                    };
                    if let Some(t) = created.get(other).copied() {
                        created.insert(name.clone(), t + delta);
                    }
                }
            }
        }
        let mut out = IndexMap::new();
        for (i, (name, spec)) in drill.events.iter().enumerate() {
            let ev = self.event(i, name, spec, created[name])?;
            // `livemode` on the envelope (payload:) or on data.object (set:).
            if crate::safety::says_livemode(&ev.value) {
                return Err(PlanError::Refused(Refusal::Livemode {
                    event: name.clone(),
                }));
            }
            out.insert(name.clone(), ev);
        }
        Ok(out)
    }

    fn event(
        &mut self,
        index: usize,
        name: &str,
        spec: &EventSpec,
        created: i64,
    ) -> Result<RenderedEvent, PlanError> {
        let path = format!("events.{name}");
        let api_version = spec
            .api_version
            .clone()
            .or_else(|| self.d.drill.api_version.clone())
            .unwrap_or_else(|| self.cx.api_version.clone());
        let id = match &spec.id {
            Some(id) => self
                .r
                .str(&format!("{path}.id"), id)
                .map_err(|e| self.invalid(e))?,
            None => format!("evt_1{}{:02}", self.cx.run_uid, index),
        };
        let mut value = if let Some(p) = &spec.payload {
            self.r
                .value(&format!("{path}.payload"), p)
                .map_err(|e| self.invalid(e))?
        } else if let Some(f) = &spec.file {
            let file = self.d.path.parent().unwrap_or(Path::new(".")).join(f);
            let text = crate::drill::load::read_bounded(&file, crate::drill::load::MAX_FILE_BYTES)
                .map_err(|e| {
                    PlanError::Invalid(self.d.at(
                        &format!("{path}.file"),
                        format!("cannot read event file {}: {e}", file.display()),
                    ))
                })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                PlanError::Invalid(self.d.at(
                    &format!("{path}.file"),
                    format!(
                        "{} is not JSON: {e} (line {}, column {})",
                        file.display(),
                        e.line(),
                        e.column()
                    ),
                ))
            })?;
            self.r
                .value(&format!("{path}.file"), &v)
                .map_err(|e| self.invalid(e))?
        } else {
            let event_type = spec.event_type.clone().unwrap_or_default();
            let tcx = TemplateContext {
                seed: self.cx.run_uid.clone(),
                created,
                family: ApiFamily::of(&api_version),
            };
            let object = template::object_for(&event_type, &tcx).ok_or_else(|| {
                PlanError::Invalid(self.d.at(
                    &format!("{path}.type"),
                    format!("no built-in template for `{event_type}`"),
                ))
            })?;
            let previous = match &spec.previous_attributes {
                Some(p) => Some(
                    self.r
                        .value(&format!("{path}.previous_attributes"), p)
                        .map_err(|e| self.invalid(e))?,
                ),
                None => template::previous_attributes_for(&event_type, &tcx),
            };
            envelope(EnvelopeParts {
                id: id.clone(),
                event_type,
                api_version: api_version.clone(),
                created,
                object,
                previous_attributes: previous,
                request_id: Some(format!("req_{}{:02}", self.cx.run_uid, index)),
            })
        };
        // A whole payload keeps its own envelope, but gets the run's id unless it fixes one.
        if spec.payload.is_some() || spec.file.is_some() {
            if spec.id.is_some() || value.get("id").is_none() {
                value["id"] = json!(id);
            }
            if let Some(t) = &spec.event_type {
                value["type"] = json!(t);
            }
        }
        for (p, v) in &spec.set {
            let v = self
                .r
                .value(&format!("{path}.set.{p}"), v)
                .map_err(|e| self.invalid(e))?;
            let target = value.pointer_mut("/data/object").ok_or_else(|| {
                PlanError::Invalid(self.d.at(
                    &format!("{path}.set"),
                    format!("event `{name}` has no `data.object` to set `{p}` in"),
                ))
            })?;
            set_path(target, p, v)
                .map_err(|m| PlanError::Invalid(self.d.at(&format!("{path}.set.{p}"), m)))?;
        }
        for (i, p) in spec.remove.iter().enumerate() {
            if let Some(target) = value.pointer_mut("/data/object") {
                remove_path(target, p).map_err(|m| {
                    PlanError::Invalid(self.d.at(&format!("{path}.remove[{i}]"), m))
                })?;
            }
        }
        if value.is_object() && value.get("created").and_then(Value::as_i64).is_none() {
            value["created"] = json!(created);
        }
        Ok(RenderedEvent {
            name: name.to_string(),
            id: value
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string(),
            event_type: value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            api_version: value
                .get("api_version")
                .and_then(Value::as_str)
                .unwrap_or(&api_version)
                .to_string(),
            created: value
                .get("created")
                .and_then(Value::as_i64)
                .unwrap_or(created),
            value,
        })
    }

    fn request(
        &self,
        path: &str,
        text: &str,
        headers: &IndexMap<String, String>,
        json: Option<&Value>,
        expect: StatusExpect,
    ) -> Result<HttpRequest, PlanError> {
        let rendered = self.r.str(path, text).map_err(|e| self.invalid(e))?;
        let (method, url) =
            split_method(&rendered).map_err(|m| PlanError::Invalid(self.d.at(path, m)))?;
        let mut hs = Vec::new();
        for (k, v) in self.cx.target_headers.iter().chain(headers.iter()) {
            hs.push((
                k.clone(),
                self.r
                    .str(&format!("{path}.headers.{k}"), v)
                    .map_err(|e| self.invalid(e))?,
            ));
        }
        let json = match json {
            Some(j) => Some(self.r.value(path, j).map_err(|e| self.invalid(e))?),
            None => None,
        };
        Ok(HttpRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: hs,
            json,
            expect_status: expect,
        })
    }

    fn calls(&self, prefix: &str, calls: &[HttpCall]) -> Result<Vec<HttpRequest>, PlanError> {
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let expect = c
                    .expect_status
                    .clone()
                    .unwrap_or_else(StatusExpect::success);
                self.request(
                    &format!("{prefix}[{i}].http"),
                    &c.http,
                    &c.headers,
                    c.json.as_ref(),
                    expect,
                )
            })
            .collect()
    }

    fn step(
        &self,
        prefix: &str,
        name: String,
        settle: Duration,
        setup: &[HttpCall],
        deliver: &[Delivery],
        expect: Option<&Expect>,
    ) -> Result<PlannedStep, PlanError> {
        let setup = self.calls(&format!("{prefix}setup"), setup)?;
        let mut deliveries = Vec::new();
        for (i, d) in deliver.iter().enumerate() {
            let mut members = Vec::new();
            if let Together::Members(ms) = &d.together {
                for (j, m) in ms.iter().enumerate() {
                    members.push(match (&m.send, &m.http) {
                        (Some(event), _) => {
                            let signature = m.signature.unwrap_or(d.signature);
                            PlannedMember::Event {
                                event: event.clone(),
                                signature,
                                body: m.body.unwrap_or(d.body),
                                expect_status: m
                                    .expect_status
                                    .clone()
                                    .unwrap_or_else(|| default_status(signature)),
                            }
                        }
                        (None, Some(call)) => {
                            let expect = m
                                .expect_status
                                .clone()
                                .unwrap_or_else(StatusExpect::success);
                            PlannedMember::Call(self.request(
                                &format!("{prefix}deliver[{i}].together[{j}].http"),
                                call,
                                &IndexMap::new(),
                                m.json.as_ref(),
                                expect,
                            )?)
                        }
                        (None, None) => continue,
                    });
                }
            }
            deliveries.push(PlannedDelivery {
                line: i,
                event: d.send.clone().unwrap_or_default(),
                after: d.after.unwrap_or_default(),
                copies: d.copies,
                together: d.together.is_on(),
                signature: d.signature,
                body: d.body,
                expect_status: d
                    .expect_status
                    .clone()
                    .unwrap_or_else(|| default_status(d.signature)),
                timeout: d.timeout.unwrap_or(self.cx.timeout),
                redeliver: d.redeliver.clone(),
                members,
            });
        }
        let expect = match expect {
            Some(e) => PlannedExpect {
                within: e.within,
                checks: e
                    .checks
                    .iter()
                    .enumerate()
                    .map(|(j, c)| self.check(&format!("{prefix}expect.checks[{j}]"), c))
                    .collect::<Result<_, _>>()?,
                stable: self.probes(&format!("{prefix}expect.stable"), &e.stable)?,
                unchanged: self.probes(&format!("{prefix}expect.unchanged"), &e.unchanged)?,
            },
            None => PlannedExpect {
                within: Duration::from_secs(10),
                ..Default::default()
            },
        };
        Ok(PlannedStep {
            name,
            settle,
            setup,
            deliveries,
            expect,
        })
    }

    fn source(&self, path: &str, src: SourceSpec) -> Result<Source, PlanError> {
        if let Some(http) = src.http {
            return Ok(Source::Http(self.request(
                &format!("{path}.http"),
                http,
                src.headers,
                None,
                StatusExpect::success(),
            )?));
        }
        if let Some(query) = src.sql {
            let params = src
                .params
                .iter()
                .map(|p| self.r.value(&format!("{path}.params"), p))
                .collect::<Result<_, _>>()
                .map_err(|e| self.invalid(e))?;
            return Ok(Source::Sql {
                query: query.to_string(),
                params,
            });
        }
        if let Some(argv) = src.command {
            let argv = argv
                .iter()
                .map(|a| self.r.str(&format!("{path}.command"), a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.invalid(e))?;
            return Ok(Source::Command {
                argv,
                timeout: src.timeout.unwrap_or(self.cx.timeout),
            });
        }
        Err(PlanError::Invalid(self.d.at(
            path,
            "nothing to read: give `http`, `sql` or `command`",
        )))
    }

    fn check(&self, path: &str, c: &Check) -> Result<PlannedCheck, PlanError> {
        let name = self
            .r
            .str(&format!("{path}.name"), &c.name)
            .map_err(|e| self.invalid(e))?;
        let source = self.source(path, c.source())?;
        let status = match &source {
            Source::Http(_) => Some(c.status.unwrap_or(200)),
            Source::Command { .. } => Some(c.status.unwrap_or(0)),
            Source::Sql { .. } => None,
        };
        let mut json = Vec::new();
        for (p, m) in &c.json {
            let query = JsonPath::parse(p).map_err(|e| {
                PlanError::Invalid(self.d.at(
                    &format!("{path}.json.{p}"),
                    format!("`{p}` is not a JSONPath: {e}"),
                ))
            })?;
            let (matcher, because) = self.matcher(&format!("{path}.json.{p}"), m)?;
            json.push(PlannedAssertion {
                path: p.clone(),
                selector: Selector::Path(query),
                matcher,
                because,
            });
        }
        if let Some(m) = &c.equals {
            let (matcher, because) = self.matcher(&format!("{path}.equals"), m)?;
            json.push(PlannedAssertion {
                path: "equals".into(),
                selector: Selector::First,
                matcher,
                because,
            });
        }
        if let Some(m) = &c.rows {
            let (matcher, because) = self.matcher(&format!("{path}.rows"), m)?;
            json.push(PlannedAssertion {
                path: "rows".into(),
                selector: Selector::RowCount,
                matcher,
                because,
            });
        }
        Ok(PlannedCheck {
            name,
            stage: c.stage,
            source,
            status,
            json,
        })
    }

    /// The matcher with its templates rendered and a policy reference
    /// resolved, and where a resolved value came from ("policy for status past_due").
    fn matcher(&self, path: &str, m: &Matcher) -> Result<(Matcher, Option<String>), PlanError> {
        use crate::drill::model::Comparison as C;
        let rv = |v: &Value| self.r.value(path, v).map_err(|e| self.invalid(e));
        if let Matcher::Policy(p) = m {
            let (value, because) = self.policy(path, p)?;
            return Ok((Matcher::Equals(value), Some(because)));
        }
        let m = match m {
            Matcher::Equals(v) => Matcher::Equals(rv(v)?),
            Matcher::Compare(C::Eq(v)) => Matcher::Compare(C::Eq(rv(v)?)),
            Matcher::Compare(C::Ne(v)) => Matcher::Compare(C::Ne(rv(v)?)),
            Matcher::Compare(C::Contains(v)) => Matcher::Compare(C::Contains(rv(v)?)),
            Matcher::Compare(C::In(vs)) => {
                Matcher::Compare(C::In(vs.iter().map(rv).collect::<Result<_, _>>()?))
            }
            other => other.clone(),
        };
        Ok((m, None))
    }

    /// The policy's answer for a `{policy: ...}` matcher.
    fn policy(&self, path: &str, p: &PolicyRef) -> Result<(Value, String), PlanError> {
        let err = |m: String| PlanError::Invalid(self.d.at(path, m));
        let keys = |ks: Vec<&String>| {
            ks.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(policy) = &self.cx.policy else {
            return Err(err(
                "this check compares with the access policy, but the target has \
                 none: declare `policy: {access: {STATUS: LEVEL}, plans: {PLAN: {LIMIT: VALUE}}}` \
                 in luota.yaml (top level, or on the target)"
                    .into(),
            ));
        };
        let key = |given: &Option<String>, field: &str| -> Result<String, PlanError> {
            match (given, &p.event) {
                (Some(v), None) => self
                    .r
                    .str(&format!("{path}.{field}"), v)
                    .map_err(|e| self.invalid(e)),
                (None, Some(name)) => self.from_event(path, name, field),
                _ => Err(err(format!(
                    "give exactly one of `{field}` or `event` (an event whose subscription \
                     gives the {field})"
                ))),
            }
        };
        if p.policy == "access" {
            if p.plan.is_some() {
                return Err(err(
                    "`plan` is for `policy: limits.NAME`; access is looked up by `status`".into(),
                ));
            }
            let status = key(&p.status, "status")?;
            let Some(v) = policy.access.get(&status) else {
                return Err(err(format!(
                    "the policy gives no access for status `{status}`; it names {}",
                    keys(policy.access.keys().collect())
                )));
            };
            return Ok((v.clone(), format!("policy for status {status}")));
        }
        let Some(limit) = p.policy.strip_prefix("limits.") else {
            return Err(err(format!(
                "`policy: {}` is not something the policy answers: use `access` or \
                 `limits.NAME` (e.g. `limits.credits`)",
                p.policy
            )));
        };
        if p.status.is_some() {
            return Err(err(
                "`status` is for `policy: access`; limits are looked up by `plan`".into(),
            ));
        }
        let plan = key(&p.plan, "plan")?;
        let Some(limits) = policy.plans.get(&plan) else {
            return Err(err(format!(
                "the policy has no plan `{plan}`; it names {}",
                keys(policy.plans.keys().collect())
            )));
        };
        let Some(v) = limits.get(limit) else {
            return Err(err(format!(
                "the policy's plan `{plan}` sets no limit `{limit}`; it sets {}",
                keys(limits.keys().collect())
            )));
        };
        Ok((v.clone(), format!("policy for plan {plan}")))
    }

    /// The subscription status or plan in event `name`.
    fn from_event(&self, path: &str, name: &str, field: &str) -> Result<String, PlanError> {
        let err = |m: String| PlanError::Invalid(self.d.at(&format!("{path}.event"), m));
        let Some(e) = self.events.get(name) else {
            return Err(err(format!(
                "no event named `{name}`; this drill's events are {}",
                self.events
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let obj = e.value.pointer("/data/object");
        if obj.and_then(|o| o.get("object")).and_then(Value::as_str) != Some("subscription") {
            return Err(err(format!(
                "event `{name}` ({}) carries no subscription to read the {field} from: \
                 give `{field}:` instead",
                e.event_type
            )));
        }
        let price = |k: &str| {
            obj.and_then(|o| o.pointer(&format!("/items/data/0/price/{k}")))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let found = match field {
            "status" => obj
                .and_then(|o| o.get("status"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => price("lookup_key").or_else(|| price("id")),
        };
        found.ok_or_else(|| {
            err(format!(
                "event `{name}`'s subscription has no {field}: set it, or give `{field}:`"
            ))
        })
    }

    fn probes(&self, path: &str, probes: &[Probe]) -> Result<Vec<PlannedProbe>, PlanError> {
        probes
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let source = self.source(&format!("{path}[{j}]"), p.source())?;
                let paths = p
                    .json
                    .iter()
                    .map(|s| {
                        JsonPath::parse(s).map(|q| (s.clone(), q)).map_err(|e| {
                            PlanError::Invalid(
                                self.d.at(&format!("{path}[{j}]"), format!("`{s}`: {e}")),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(PlannedProbe { source, paths })
            })
            .collect()
    }
}

/// One segment of a dotted path: a key or an array index.
#[derive(Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Parse `a.b[0].c` into segments.
fn segments(path: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!("`{path}` has an empty segment"));
        }
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let (num, after) = r
                .split_once(']')
                .ok_or_else(|| format!("`{path}`: unclosed `[`"))?;
            out.push(Seg::Index(num.parse().map_err(|_| {
                format!("`{path}`: `[{num}]` is not an array index")
            })?));
            rest = after;
        }
        if !rest.is_empty() {
            return Err(format!("`{path}`: unexpected `{rest}`"));
        }
    }
    Ok(out)
}

/// Set `path` inside `root`, creating objects on the way; an index may
/// append one element at the end of an array.
pub fn set_path(root: &mut Value, path: &str, new: Value) -> Result<(), String> {
    let segs = segments(path)?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        cur = match seg {
            Seg::Key(k) => {
                if cur.is_null() {
                    *cur = json!({});
                }
                let obj = cur
                    .as_object_mut()
                    .ok_or_else(|| format!("`{path}`: cannot set `{k}` inside a non-object"))?;
                if !obj.contains_key(k.as_str()) {
                    if let Some(near) = near_miss(k, obj.keys().map(String::as_str)) {
                        return Err(format!(
                            "`{path}`: `{k}` is not a key here, did you mean `{near}`? (to add a \
                             new key that close to an existing one, set its whole parent object)"
                        ));
                    }
                }
                if last {
                    obj.insert(k.clone(), new);
                    return Ok(());
                }
                obj.entry(k.clone()).or_insert(Value::Null)
            }
            Seg::Index(n) => {
                let arr = cur
                    .as_array_mut()
                    .ok_or_else(|| format!("`{path}`: `[{n}]` indexes a non-array"))?;
                if *n == arr.len() {
                    arr.push(Value::Null);
                }
                let len = arr.len();
                let slot = arr
                    .get_mut(*n)
                    .ok_or_else(|| format!("`{path}`: index {n} is past the end (length {len})"))?;
                if last {
                    *slot = new;
                    return Ok(());
                }
                slot
            }
        };
    }
    Err(format!("`{path}` is empty"))
}

/// A key that `k` is very likely a misspelling of (`client_reference_idd`
/// for `client_reference_id`): a new key is fine, a near twin is a typo.
fn near_miss<'a>(k: &str, keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    keys.into_iter()
        .map(|c| (strsim::jaro_winkler(k, c), c))
        .filter(|(score, _)| *score >= 0.93)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Remove `path` from `root`; a missing path is an error (a typo would otherwise hide).
pub fn remove_path(root: &mut Value, path: &str) -> Result<(), String> {
    let mut segs = segments(path)?;
    let last = segs.pop().ok_or_else(|| format!("`{path}` is empty"))?;
    let mut cur = root;
    for seg in &segs {
        cur = match seg {
            Seg::Key(k) => cur.get_mut(k.as_str()),
            Seg::Index(n) => cur.get_mut(*n),
        }
        .ok_or_else(|| format!("`{path}` does not exist in the event"))?;
    }
    let removed = match last {
        Seg::Key(k) => cur
            .as_object_mut()
            .and_then(|o| o.shift_remove(&k))
            .is_some(),
        Seg::Index(n) => match cur.as_array_mut() {
            Some(a) if n < a.len() => {
                a.remove(n);
                true
            }
            _ => false,
        },
    };
    if removed {
        Ok(())
    } else {
        Err(format!("`{path}` does not exist in the event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_handles_keys_indexes_and_creation() {
        let mut v = json!({"items": {"data": [{"price": {"id": "a"}}]}});
        set_path(&mut v, "items.data[0].price.id", json!("b")).unwrap();
        set_path(&mut v, "metadata.user_id", json!("u1")).unwrap();
        set_path(&mut v, "items.data[1]", json!({"x": 1})).unwrap();
        assert_eq!(v["items"]["data"][0]["price"]["id"], "b");
        assert_eq!(v["metadata"]["user_id"], "u1");
        assert_eq!(v["items"]["data"][1]["x"], 1);
        assert!(set_path(&mut v, "items.data[5]", json!(1)).is_err());
        // Regression (a first-time user): a misspelled key silently added a
        // new one beside the template's.
        let mut c = json!({"client_reference_id": null, "metadata": {}});
        let e = set_path(&mut c, "client_reference_idd", json!("u")).unwrap_err();
        assert!(e.contains("did you mean `client_reference_id`"), "{e}");
        set_path(&mut c, "metadata.anything", json!(1)).unwrap();
        set_path(&mut c, "customer_email", json!("a@b")).unwrap();
        assert!(set_path(&mut v, "items.data[x]", json!(1)).is_err());
    }

    #[test]
    fn remove_path_removes_or_says_it_is_missing() {
        let mut v = json!({"a": {"b": 1, "c": [1, 2]}});
        remove_path(&mut v, "a.b").unwrap();
        remove_path(&mut v, "a.c[0]").unwrap();
        assert_eq!(v, json!({"a": {"c": [2]}}));
        assert!(remove_path(&mut v, "a.zz").is_err());
    }
}

impl Plan {
    /// The same plan with every step's delivery lines in reverse order (each
    /// position keeps its `after` wait): the second run of `orders: both`.
    pub fn reversed(mut self) -> Plan {
        for step in &mut self.steps {
            let afters: Vec<Duration> = step.deliveries.iter().map(|d| d.after).collect();
            step.deliveries.reverse();
            for (i, d) in step.deliveries.iter_mut().enumerate() {
                d.after = afters[i];
                d.line = i;
            }
        }
        self
    }
}
