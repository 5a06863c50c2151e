//! Running drills: the operating spine of DESIGN.md.
//!
//! For each drill: plan → setup calls → for each step: baselines, deliveries,
//! outcome checks → verdict. Runtime and assertion failures live inside the
//! [`DrillRecord`]; only an invalid drill file is reported as a diagnostic.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::Value;

use crate::check::Prober;
use crate::config::Config;
use crate::deliver::together::{send_together_tls, GroupRequest};
use crate::deliver::{excerpt, unix_now, Sender, Sent};
use crate::drill::diagnostic::Diagnostic;
use crate::drill::load::LoadedDrill;
use crate::drill::model::{Orders, StatusExpect};
use crate::drill::render::{Renderer, TargetVars};
use crate::judge::{self, Polling};
use crate::plan::{
    self, HttpRequest, Plan, PlanContext, PlanError, PlannedDelivery, PlannedMember, PlannedStep,
};
use crate::record::*;
use crate::report::evidence::Sink;
use crate::safety;
use crate::stripe::body::encode;
use crate::stripe::body::BodyEncoding;
use crate::stripe::signature::SignatureMode;
use crate::stripe::template::DEFAULT_API_VERSION;
use crate::target::Target;

/// What every drill of a run shares.
pub struct RunContext {
    pub target: Target,
    pub config: Config,
    pub sender: Sender,
    pub prober: Prober,
    pub polling: Polling,
    /// Extra flags for the rerun command (`--demo-fault X`, `--config F`).
    pub rerun_flags: String,
    /// The deploy under test, read at run start.
    pub deploy: Option<DeployRecord>,
    /// Capture every request and read for `--evidence`.
    pub evidence: bool,
}

impl RunContext {
    /// What must never be shown for this target: the secrets, the values of
    /// its secret variables, and the values of any variable its header
    /// templates read (`Bearer {{ env.TOKEN }}`), wherever they occur.
    pub fn redactions(&self) -> crate::report::evidence::Redactions {
        let t = &self.target;
        let mut secrets = vec![t.secret.expose().to_string()];
        secrets.extend(t.secondary.as_ref().map(|s| s.expose().to_string()));
        let templated = t.headers.values().flat_map(|v| env_names_in(v));
        for var in t.secret_env_names.iter().cloned().chain(templated) {
            if let Ok(v) = std::env::var(&var) {
                secrets.push(v);
            }
        }
        if let Some(db) = &t.database {
            secrets.extend(safety::url_password(db.expose()));
        }
        crate::report::evidence::Redactions::new(t.headers.keys().cloned(), secrets)
    }

    pub fn new(target: Target, config: Config, rerun_flags: String) -> Result<RunContext, String> {
        let timeout = config.defaults.timeout;
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30));
        // The same extra CA for ordinary deliveries, setup calls and checks.
        let client = crate::deliver::tls::trust_extra_ca(builder, target.ca_pem.as_deref())
            .map_err(|e| format!("target `{}`: `ca_file`: {e}", target.name))?
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut sender = Sender::new(
            client.clone(),
            target.webhook.clone(),
            target.secret.clone(),
            target.secondary.clone(),
        );
        sender.sign = config.defaults.sign_options();
        let prober = Prober::new(client, timeout, target.database.clone());
        let polling = Polling {
            first: config.defaults.poll_interval,
            max: config.defaults.poll_max,
        };
        Ok(RunContext {
            target,
            config,
            sender,
            prober,
            polling,
            rerun_flags,
            deploy: None,
            evidence: false,
        })
    }
}

/// A drill file as the run sees it: loaded, or its diagnostics.
pub enum Input {
    Loaded(LoadedDrill),
    Invalid {
        path: PathBuf,
        problems: Vec<Diagnostic>,
    },
}

/// A short unique id for one drill run: 12 lowercase alphanumerics.
pub fn new_uid() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Run every input with at most `jobs` drills at once; results keep input order.
/// `interrupt` resolves when the run must stop.
pub async fn run_all(
    cx: Arc<RunContext>,
    inputs: Vec<Input>,
    jobs: usize,
    interrupt: impl std::future::Future<Output = ()>,
    mut on_done: impl FnMut(usize, &DrillRecord),
) -> RunRecord {
    let started = Instant::now();
    let started_at = unix_now();
    let jobs = jobs.max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut slots: Vec<Option<DrillRecord>> = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
    // Drills start in input order: at most `jobs` run at once, and the next
    // one in the queue starts only when one finishes. (Spawning them all to
    // wait on a semaphore let the runtime pick which asked first, so with
    // `--jobs 1` a later drill could run before an earlier one.)
    let mut queue = std::collections::VecDeque::new();
    for (i, input) in inputs.into_iter().enumerate() {
        match input {
            Input::Invalid { path, problems } => {
                let rec = invalid_record(&cx, &path, &problems);
                names.push((rec.path.clone(), rec.name.clone()));
                slots.push(Some(rec));
            }
            Input::Loaded(d) => {
                names.push((d.path.display().to_string(), d.drill.drill.clone()));
                slots.push(None);
                queue.push_back((i, d));
            }
        }
    }
    for (i, rec) in slots.iter().enumerate() {
        if let Some(rec) = rec {
            on_done(i, rec);
        }
    }
    // Which input a task runs, so a task that panicked (a bug) is reported
    // as that drill's error instead of vanishing as "interrupted".
    let mut task_slot = std::collections::HashMap::new();
    // Each drill's progress and evidence, kept here too: a drill cut short
    // by an interrupt still leaves its record so far and what it had sent.
    let progress: Vec<Progress> = slots.iter().map(|_| Progress::new(cx.evidence)).collect();
    start_next(&cx, &mut set, &mut queue, &mut task_slot, &progress, jobs);
    tokio::pin!(interrupt);
    let mut interrupted = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                queue.clear();
                set.abort_all();
            }
            next = set.join_next() => match next {
                Some(Ok((i, rec))) => {
                    on_done(i, &rec);
                    slots[i] = Some(rec);
                }
                Some(Err(e)) if e.is_panic() => {
                    if let Some(&i) = task_slot.get(&e.id()) {
                        let (path, name) = &names[i];
                        let mut r = empty_record(&cx, path, name, String::new());
                        r.verdict = Verdict::Errored;
                        r.errors.push(format!(
                            "luota failed on this drill (a bug in luota, please report it): {}",
                            panic_text(e.into_panic())
                        ));
                        scrub_record(&mut r, &cx.redactions());
                        on_done(i, &r);
                        slots[i] = Some(r);
                    }
                }
                Some(Err(_)) => {}
                None => break,
            }
        }
        start_next(&cx, &mut set, &mut queue, &mut task_slot, &progress, jobs);
    }
    let drills = slots
        .into_iter()
        .zip(names)
        .zip(&progress)
        .map(|((slot, (path, name)), progress)| {
            slot.unwrap_or_else(|| {
                let mut r = progress
                    .take()
                    .unwrap_or_else(|| empty_record(&cx, &path, &name, String::new()));
                r.verdict = Verdict::Interrupted;
                r.errors.push(if progress.has_started() {
                    "interrupted before the drill finished".into()
                } else {
                    "interrupted before the drill started".into()
                });
                r.evidence = progress
                    .evidence
                    .as_ref()
                    .map(Sink::take)
                    .unwrap_or_default();
                scrub_record(&mut r, &cx.redactions());
                r
            })
        })
        .collect();
    RunRecord {
        schema_version: SCHEMA_VERSION,
        luota_version: env!("CARGO_PKG_VERSION").to_string(),
        target: cx.target.name.clone(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        drills,
        interrupted,
        deploy: cx.deploy.clone(),
        shard: None,
    }
}

/// Start queued drills, in input order, until `jobs` are running.
fn start_next(
    cx: &Arc<RunContext>,
    set: &mut tokio::task::JoinSet<(usize, DrillRecord)>,
    queue: &mut std::collections::VecDeque<(usize, LoadedDrill)>,
    task_slot: &mut std::collections::HashMap<tokio::task::Id, usize>,
    progress: &[Progress],
    jobs: usize,
) {
    while set.len() < jobs {
        let Some((i, d)) = queue.pop_front() else {
            break;
        };
        let cx = cx.clone();
        let progress = progress[i].clone();
        let handle = set.spawn(async move {
            let sink = progress.evidence.clone();
            let mut rec =
                crate::report::evidence::capture(sink, run_drill(&cx, &d, &progress)).await;
            scrub_record(&mut rec, &cx.redactions());
            (i, rec)
        });
        task_slot.insert(handle.id(), i);
    }
}

/// The message of a panic payload.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// The `NAME`s of `env.NAME` in a template.
fn env_names_in(template: &str) -> Vec<String> {
    template
        .match_indices("env.")
        .map(|(at, _)| {
            template[at + 4..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Replace every secret value in every string of a finished drill record:
/// an app that echoes a request header or the signing secret back in its
/// response must not put it into a report. (Evidence is redacted when written.)
pub fn scrub_record(rec: &mut DrillRecord, red: &crate::report::evidence::Redactions) {
    if red.values.is_empty() {
        return;
    }
    let evidence = std::mem::take(&mut rec.evidence);
    if let Ok(mut v) = serde_json::to_value(&*rec) {
        if scrub_value(&mut v, red) {
            if let Ok(clean) = serde_json::from_value::<DrillRecord>(v) {
                *rec = clean;
            }
        }
    }
    rec.evidence = evidence;
}

/// Scrub in place; whether anything changed.
fn scrub_value(v: &mut Value, red: &crate::report::evidence::Redactions) -> bool {
    match v {
        Value::String(s) => {
            let clean = red.scrub(s.clone());
            let changed = clean != *s;
            *s = clean;
            changed
        }
        Value::Array(a) => a.iter_mut().fold(false, |c, x| scrub_value(x, red) | c),
        Value::Object(o) => o.values_mut().fold(false, |c, x| scrub_value(x, red) | c),
        _ => false,
    }
}

/// The command that reruns one drill against the same target.
pub fn rerun_command(target: &str, flags: &str, path: &str) -> String {
    format!("luota run {} --target {target}{flags}", shell_quote(path))
}

fn rerun(cx: &RunContext, path: &str) -> String {
    rerun_command(&cx.target.name, &cx.rerun_flags, path)
}

/// The record of a run whose target could not be used at all: every drill
/// errored (invalid ones stay invalid) with the same reason, so reports are
/// still written.
/// The record of a run whose `luota.yaml` is invalid: nothing ran, and the
/// config file itself is the one invalid entry, so CI still gets reports
/// (a JUnit file with the error, not a missing file).
pub fn unusable_config(config: &Diagnostic) -> RunRecord {
    let path = config.file.display().to_string();
    let mut r = record_for(
        &path,
        &path,
        String::new(),
        format!("luota validate --config {}", shell_quote(&path)),
    );
    r.verdict = Verdict::Invalid;
    r.errors.push(diagnostic_line(config));
    RunRecord {
        schema_version: SCHEMA_VERSION,
        luota_version: env!("CARGO_PKG_VERSION").to_string(),
        target: String::new(),
        started_at: unix_now(),
        duration_ms: 0,
        drills: vec![r],
        interrupted: false,
        deploy: None,
        shard: None,
    }
}

pub fn unusable_target(target: &str, flags: &str, inputs: &[Input], reason: &str) -> RunRecord {
    let drills = inputs
        .iter()
        .map(|input| {
            let (path, name, problems) = match input {
                Input::Loaded(d) => (d.path.display().to_string(), d.drill.drill.clone(), None),
                Input::Invalid { path, problems } => {
                    (path.display().to_string(), stem(path), Some(problems))
                }
            };
            let mut r = record_for(
                &path,
                &name,
                String::new(),
                rerun_command(target, flags, &path),
            );
            match problems {
                Some(ps) => {
                    r.verdict = Verdict::Invalid;
                    r.errors = ps.iter().map(diagnostic_line).collect();
                }
                None => {
                    r.verdict = Verdict::Errored;
                    r.errors.push(reason.to_string());
                }
            }
            r
        })
        .collect();
    RunRecord {
        schema_version: SCHEMA_VERSION,
        luota_version: env!("CARGO_PKG_VERSION").to_string(),
        target: target.to_string(),
        started_at: unix_now(),
        duration_ms: 0,
        drills,
        interrupted: false,
        deploy: None,
        shard: None,
    }
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("drill")
        .to_string()
}

fn diagnostic_line(d: &Diagnostic) -> String {
    format!(
        "{}: {}{}",
        d.location(),
        d.message,
        d.help
            .as_ref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default()
    )
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn empty_record(cx: &RunContext, path: &str, name: &str, uid: String) -> DrillRecord {
    record_for(path, name, uid, rerun(cx, path))
}

fn record_for(path: &str, name: &str, uid: String, rerun: String) -> DrillRecord {
    DrillRecord {
        path: path.to_string(),
        name: name.to_string(),
        owner: None,
        runbook: None,
        tags: Vec::new(),
        run_uid: uid,
        verdict: Verdict::Passed,
        control: false,
        errors: Vec::new(),
        events: Vec::new(),
        steps: Vec::new(),
        duration_ms: 0,
        rerun,
        incident: None,
        evidence: Vec::new(),
    }
}

fn invalid_record(cx: &RunContext, path: &std::path::Path, problems: &[Diagnostic]) -> DrillRecord {
    let p = path.display().to_string();
    let mut r = empty_record(cx, &p, &stem(path), String::new());
    r.verdict = Verdict::Invalid;
    r.errors = problems.iter().map(diagnostic_line).collect();
    r
}

/// What a drill has done so far, kept outside its task, so that a drill cut
/// short by Ctrl-C still names its run_uid, its events (their ids may have
/// reached the app) and the steps it finished, and keeps its evidence.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    latest: Arc<std::sync::Mutex<Option<DrillRecord>>>,
    /// When the drill started (its duration so far, if it is cut short).
    started: Arc<std::sync::OnceLock<Instant>>,
    /// `orders: both`: the finished first pass, merged into what follows.
    first: Option<DrillRecord>,
    /// Where its evidence goes, with `--evidence`.
    pub evidence: Option<Sink>,
}

impl Progress {
    pub fn new(evidence: bool) -> Progress {
        Progress {
            evidence: evidence.then(Sink::default),
            ..Progress::default()
        }
    }

    /// Whether the drill began to run.
    pub fn has_started(&self) -> bool {
        self.started.get().is_some()
    }

    fn publish(&self, rec: &DrillRecord) {
        let view = match &self.first {
            Some(first) => both_orders(first.clone(), rec.clone()),
            None => rec.clone(),
        };
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(view);
    }

    /// The drill as far as it got, its duration up to now (`None` if it
    /// never planned).
    pub fn take(&self) -> Option<DrillRecord> {
        let mut rec = self
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        if let Some(t) = self.started.get() {
            rec.duration_ms = t.elapsed().as_millis() as u64;
        }
        Some(rec)
    }
}

/// Run one drill to its verdict (twice, in both orders, for `orders: both`),
/// publishing to `progress` as it goes.
pub async fn run_drill(cx: &RunContext, d: &LoadedDrill, progress: &Progress) -> DrillRecord {
    let started = Instant::now();
    progress.started.get_or_init(|| started);
    let mut rec = run_once(cx, d, false, progress).await;
    if d.drill.orders == Orders::Both && matches!(rec.verdict, Verdict::Passed | Verdict::Failed) {
        let second_progress = Progress {
            first: Some(rec.clone()),
            ..progress.clone()
        };
        let second = run_once(cx, d, true, &second_progress).await;
        rec = both_orders(rec, second);
    }
    rec.duration_ms = started.elapsed().as_millis() as u64;
    rec.incident = crate::report::incident::derive(&rec, cx.deploy.as_ref());
    rec
}

/// One record of an `orders: both` drill: the first pass's steps "as
/// written", the second's "reversed order", both uids, the worse verdict.
fn both_orders(mut rec: DrillRecord, second: DrillRecord) -> DrillRecord {
    for s in &mut rec.steps {
        s.name = format!("as written: {}", s.name);
    }
    for mut s in second.steps {
        s.name = format!("reversed order: {}", s.name);
        rec.steps.push(s);
    }
    rec.events.extend(second.events);
    rec.errors.extend(second.errors);
    rec.run_uid = format!("{},{}", rec.run_uid, second.run_uid);
    rec.verdict = worst(rec.verdict, second.verdict);
    rec
}

fn worst(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Passed => 0,
        Verdict::Failed => 1,
        Verdict::Errored => 2,
        Verdict::Invalid => 3,
        Verdict::Interrupted => 4,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Render one drill into its plan for run `uid` (templates, events, calls).
pub fn plan_drill(cx: &RunContext, d: &LoadedDrill, uid: &str) -> Result<Plan, PlanError> {
    let vars = TargetVars {
        name: cx.target.name.clone(),
        app: cx.target.app.clone(),
        webhook: cx.target.webhook.clone(),
    };
    plan_with(
        &cx.config,
        &vars,
        cx.target.secret_env_names.clone(),
        cx.target.headers.clone(),
        cx.target.policy.clone(),
        d,
        uid,
    )
}

/// Plan a drill for `luota validate`: against the named target's config,
/// without resolving it (no secret read, no demo started, nothing sent), so
/// what only planning finds — a template error, a policy check naming a
/// status the policy lacks — is reported before a run.
pub fn plan_offline(config: &Config, target: &str, d: &LoadedDrill) -> Result<Plan, PlanError> {
    let (vars, secrets, headers, policy) = match config.targets.get(target) {
        Some(t) => {
            let mut secrets = vec![t.secret_env.clone()];
            secrets.extend(t.secondary_secret_env.clone());
            secrets.extend(t.database_env.clone());
            let vars = TargetVars {
                name: target.to_string(),
                app: t
                    .app
                    .clone()
                    .unwrap_or_else(|| crate::target::origin_of(&t.webhook))
                    .trim_end_matches('/')
                    .to_string(),
                webhook: t.webhook.clone(),
            };
            let policy = t.policy.clone().or_else(|| config.policy.clone());
            (vars, secrets, t.headers.clone(), policy)
        }
        // The demo (or a target the run would reject by name): placeholder URLs.
        None => {
            let vars = TargetVars {
                name: target.to_string(),
                app: "http://127.0.0.1:0".into(),
                webhook: "http://127.0.0.1:0/webhook".into(),
            };
            let policy = config
                .policy
                .clone()
                .or_else(|| Some(crate::config::Policy::demo()));
            (vars, Vec::new(), IndexMap::new(), policy)
        }
    };
    plan_with(config, &vars, secrets, headers, policy, d, &new_uid())
}

fn plan_with(
    config: &Config,
    vars: &TargetVars,
    secret_env_names: Vec<String>,
    target_headers: IndexMap<String, String>,
    policy: Option<crate::config::Policy>,
    d: &LoadedDrill,
    uid: &str,
) -> Result<Plan, PlanError> {
    let mut renderer = Renderer::new(uid, vars, secret_env_names);
    let pcx = PlanContext {
        run_uid: uid.to_string(),
        now: unix_now(),
        api_version: config
            .defaults
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        timeout: config.defaults.timeout,
        settle: config.defaults.settle,
        target_headers,
        policy,
    };
    plan::plan(d, &pcx, &mut renderer)
}

async fn run_once(
    cx: &RunContext,
    d: &LoadedDrill,
    reversed: bool,
    progress: &Progress,
) -> DrillRecord {
    let started = Instant::now();
    let uid = new_uid();
    let path = d.path.display().to_string();
    let mut rec = empty_record(cx, &path, &d.drill.drill, uid.clone());
    rec.owner = d.drill.owner.clone();
    rec.runbook = d.drill.runbook.clone();
    rec.tags = d.drill.tags.clone();
    rec.control = d.drill.control;

    let plan = match plan_drill(cx, d, &uid) {
        Ok(p) if reversed => p.reversed(),
        Ok(p) => p,
        Err(PlanError::Invalid(diag)) => {
            rec.verdict = Verdict::Invalid;
            rec.errors.push(format!(
                "{}: {}{}",
                diag.location(),
                diag.message,
                diag.help.map(|h| format!(" ({h})")).unwrap_or_default()
            ));
            return rec;
        }
        Err(PlanError::Refused(r)) => {
            rec.verdict = Verdict::Errored;
            rec.errors.push(r.to_string());
            return rec;
        }
    };
    rec.events = plan
        .events
        .values()
        .map(|e| EventRecord {
            name: e.name.clone(),
            id: e.id.clone(),
            event_type: e.event_type.clone(),
            api_version: e.api_version.clone(),
            created: e.created,
            customer: e.customer(),
            subscription: e.subscription(),
        })
        .collect();

    progress.publish(&rec);
    if let Err(e) = refuse_unsafe(cx, &plan).and_then(|()| needs_met(cx, &plan)) {
        rec.verdict = Verdict::Errored;
        rec.errors.push(e);
        return rec;
    }

    let mut setup_records = Vec::new();
    if let Err(e) = run_calls(cx, &plan.setup, &mut setup_records).await {
        rec.verdict = Verdict::Errored;
        rec.errors.push(e);
        rec.steps.push(StepRecord {
            name: "setup".into(),
            setup: setup_records,
            deliveries: vec![],
            checks: vec![],
            stable: vec![],
            unchanged: vec![],
            first_held_ms: None,
            polls: 0,
            groups: vec![],
            polled_ms: None,
        });
        rec.duration_ms = started.elapsed().as_millis() as u64;
        return rec;
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let mut srec = run_step(cx, &plan, step, d.drill.control, &mut rec.errors).await;
        if i == 0 {
            let mut all = std::mem::take(&mut setup_records);
            all.append(&mut srec.0.setup);
            srec.0.setup = all;
        }
        let verdict = srec.1;
        rec.steps.push(srec.0);
        progress.publish(&rec);
        if verdict != Verdict::Passed {
            rec.verdict = verdict;
            break;
        }
    }
    rec.duration_ms = started.elapsed().as_millis() as u64;
    rec
}

/// Every request the drill will make must pass the safety rails (see
/// [`crate::safety`]): allowed host, no plain http unless the target allows
/// it, no live key in a rendered header.
pub fn refuse_unsafe(cx: &RunContext, plan: &Plan) -> Result<(), String> {
    let allowed = &cx.target.allowed_hosts;
    let plain_ok = cx.target.allow_plain_http;
    let mut calls: Vec<&HttpRequest> = plan.setup.iter().collect();
    for s in &plan.steps {
        calls.extend(&s.setup);
        for d in &s.deliveries {
            calls.extend(d.members.iter().filter_map(|m| match m {
                PlannedMember::Call(c) => Some(c),
                _ => None,
            }));
        }
        calls.extend(s.expect.sources().filter_map(|src| match src {
            plan::Source::Http(r) => Some(r),
            _ => None,
        }));
    }
    let check = |u: &str| {
        safety::check_url(u, allowed)?;
        safety::check_plain_http(u, plain_ok)
    };
    check(&cx.target.webhook).map_err(|e| e.to_string())?;
    for c in calls {
        check(&c.url).map_err(|e| e.to_string())?;
        for (k, v) in &c.headers {
            safety::check_not_live(&format!("the header `{k}` of {}", c.label()), v)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// What the plan needs from the target that it lacks: SQL checks without a
/// database. A precondition, so the drill errors before anything is sent
/// (regression: it polled for `within` and then failed as an incident).
fn needs_met(cx: &RunContext, plan: &Plan) -> Result<(), String> {
    // A `secondary` signature needs the target's second secret; without it
    // the drill would send its earlier deliveries and then stop half-way.
    if cx.target.secondary.is_none() {
        let modes = plan.steps.iter().flat_map(|s| &s.deliveries).flat_map(|d| {
            std::iter::once(d.signature).chain(d.members.iter().filter_map(|m| match m {
                PlannedMember::Event { signature, .. } => Some(*signature),
                PlannedMember::Call(_) => None,
            }))
        });
        if modes.into_iter().any(|m| m == SignatureMode::Secondary) {
            return Err(format!(
                "this drill signs with `signature: secondary`, but target `{}` has no second \
                 secret: set `secondary_secret_env` on the target in luota.yaml to the name of \
                 the variable holding it",
                cx.target.name
            ));
        }
    }
    if cx.target.database.is_some() {
        return Ok(());
    }
    let sql = plan.steps.iter().any(|s| {
        s.expect
            .sources()
            .any(|src| matches!(src, plan::Source::Sql { .. }))
    });
    if sql {
        return Err(format!(
            "this drill has SQL checks, but target `{}` has no database: set `database_env` on the \
             target in luota.yaml to the name of the variable holding its database URL",
            cx.target.name
        ));
    }
    Ok(())
}

async fn run_calls(
    cx: &RunContext,
    calls: &[HttpRequest],
    out: &mut Vec<CallRecord>,
) -> Result<(), String> {
    for c in calls {
        let start = Instant::now();
        let read = cx.prober.call(c).await;
        let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        let (status, ok, error) = match &read {
            Ok((s, _)) => {
                let s = *s as u16;
                (Some(s), c.expect_status.matches(s), None)
            }
            Err(e) => (None, false, Some(e.clone())),
        };
        out.push(CallRecord {
            method: c.method.clone(),
            url: safety::redact_url(&c.url),
            status,
            ok,
            error: error.clone(),
            latency_ms,
        });
        if !ok {
            return Err(match (status, error) {
                (Some(s), _) => format!(
                    "setup call {} answered {s}, expected {}",
                    c.label(),
                    c.expect_status
                ),
                (None, Some(e)) => format!("setup call {} failed: {e}", c.label()),
                _ => format!("setup call {} failed", c.label()),
            });
        }
    }
    Ok(())
}

/// Whether an answer meets an expectation (a timeout only when it says `timeout`).
fn meets(expect: &StatusExpect, sent: &Sent) -> bool {
    match (sent.outcome, sent.status) {
        (DeliveryOutcome::Answered, Some(s)) => expect.matches(s),
        (DeliveryOutcome::TimedOut, _) => expect.accepts_timeout(),
        _ => false,
    }
}

struct Line<'a> {
    line: usize,
    event: &'a crate::plan::RenderedEvent,
    signature: SignatureMode,
    body: BodyEncoding,
    together: bool,
    expect: &'a StatusExpect,
}

fn delivery_record(l: &Line, copy: u32, attempt: u32, ok: bool, sent: Sent) -> DeliveryRecord {
    DeliveryRecord {
        line: l.line,
        copy,
        attempt,
        event: l.event.name.clone(),
        event_id: l.event.id.clone(),
        signature: kebab(&l.signature),
        body: kebab(&l.body),
        together: l.together,
        timestamp: sent.timestamp,
        bytes: sent.bytes,
        outcome: sent.outcome,
        status: sent.status,
        expected_status: l.expect.to_string(),
        ok,
        latency_ms: sent.latency.as_secs_f64() * 1000.0,
        written_at_us: sent.written_at.map(|d| d.as_micros() as u64),
        error: sent.error,
        response_excerpt: sent.response.as_deref().and_then(excerpt),
        response_truncated: sent.truncated,
    }
}

fn call_record(line: usize, copy: u32, call: &HttpRequest, sent: Sent) -> DeliveryRecord {
    DeliveryRecord {
        line,
        copy,
        attempt: 0,
        event: call.label(),
        event_id: String::new(),
        signature: "none (app call)".into(),
        body: "json".into(),
        together: true,
        timestamp: None,
        bytes: sent.bytes,
        outcome: sent.outcome,
        ok: meets(&call.expect_status, &sent),
        status: sent.status,
        expected_status: call.expect_status.to_string(),
        latency_ms: sent.latency.as_secs_f64() * 1000.0,
        written_at_us: sent.written_at.map(|d| d.as_micros() as u64),
        error: sent.error,
        response_excerpt: sent.response.as_deref().and_then(excerpt),
        response_truncated: sent.truncated,
    }
}

fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Build and sign a webhook request for a group.
fn group_webhook(
    cx: &RunContext,
    event: &crate::plan::RenderedEvent,
    mode: SignatureMode,
    body: BodyEncoding,
) -> Result<GroupRequest, String> {
    let signed = cx
        .sender
        .prepare(&encode(&event.value, body), mode)
        .map_err(|e| format!("cannot sign `{}`: {e}", event.name))?;
    Ok(GroupRequest::webhook(&cx.sender.webhook, &signed))
}

fn app_call(call: &HttpRequest) -> GroupRequest {
    let body = call
        .json
        .as_ref()
        .map(|j| serde_json::to_vec(j).unwrap_or_default())
        .unwrap_or_default();
    let mut headers = call.headers.clone();
    if call.json.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    GroupRequest {
        method: call.method.clone(),
        url: call.url.clone(),
        headers,
        body: body.into(),
        timestamp: None,
    }
}

/// Deliver one plan line; returns its records. Errors mean the drill cannot go on.
type Values = Vec<(String, String, Result<Option<Value>, String>)>;

/// The `stable` baseline: taken once the first accepted single delivery settled.
async fn take_baseline(cx: &RunContext, step: &PlannedStep, control: bool) -> Values {
    let e = &step.expect;
    if e.checks.is_empty() || control {
        judge::await_steady(&cx.prober, &e.stable, step.settle, e.within, cx.polling).await
    } else {
        judge::await_checks(
            &cx.prober,
            &e.checks,
            Instant::now(),
            e.within,
            step.settle,
            cx.polling,
        )
        .await;
        judge::read_values(&cx.prober, &e.stable).await
    }
}

/// Deliver one plan line into `rec`. An error means the drill cannot go on.
async fn deliver_line(
    cx: &RunContext,
    plan: &Plan,
    step: &PlannedStep,
    control: bool,
    d: &PlannedDelivery,
    rec: &mut StepRecord,
    baseline: &mut Option<Values>,
) -> Result<(), String> {
    if !d.members.is_empty() {
        let mut reqs = Vec::new();
        for m in &d.members {
            reqs.push(match m {
                PlannedMember::Event {
                    event,
                    signature,
                    body,
                    ..
                } => group_webhook(cx, &plan.events[event], *signature, *body)?,
                PlannedMember::Call(call) => app_call(call),
            });
        }
        let g = send_together_tls(reqs, d.timeout, cx.target.tls.clone()).await;
        rec.groups.push(GroupRecord {
            line: d.line,
            requests: g.sent.len(),
            spread_us: g.spread.as_micros() as u64,
        });
        for (j, (m, sent)) in d.members.iter().zip(g.sent).enumerate() {
            rec.deliveries.push(match m {
                PlannedMember::Event {
                    event,
                    signature,
                    body,
                    expect_status,
                } => {
                    let l = Line {
                        line: d.line,
                        event: &plan.events[event],
                        signature: *signature,
                        body: *body,
                        together: true,
                        expect: expect_status,
                    };
                    let ok = meets(expect_status, &sent);
                    delivery_record(&l, j as u32, 0, ok, sent)
                }
                PlannedMember::Call(call) => call_record(d.line, j as u32, call, sent),
            });
        }
        return Ok(());
    }
    let ev = &plan.events[&d.event];
    let l = Line {
        line: d.line,
        event: ev,
        signature: d.signature,
        body: d.body,
        together: d.together,
        expect: &d.expect_status,
    };
    if d.together {
        let mut reqs = Vec::new();
        for _ in 0..d.copies {
            reqs.push(group_webhook(cx, ev, d.signature, d.body)?);
        }
        let g = send_together_tls(reqs, d.timeout, cx.target.tls.clone()).await;
        rec.groups.push(GroupRecord {
            line: d.line,
            requests: g.sent.len(),
            spread_us: g.spread.as_micros() as u64,
        });
        for (copy, sent) in g.sent.into_iter().enumerate() {
            let ok = meets(&d.expect_status, &sent);
            rec.deliveries
                .push(delivery_record(&l, copy as u32, 0, ok, sent));
        }
        return Ok(());
    }
    let body = encode(&ev.value, d.body);
    for copy in 0..d.copies {
        let mut attempt = 0;
        let mut wait = d.redeliver.as_ref().map(|r| r.every).unwrap_or_default();
        loop {
            let signed = cx
                .sender
                .prepare(&body, d.signature)
                .map_err(|e| format!("cannot sign `{}`: {e}", d.event))?;
            let sent = cx.sender.send(&signed, d.timeout).await;
            let accepted = sent.status.is_some_and(|s| (200..300).contains(&s));
            match &d.redeliver {
                // Stripe-like retry: the intermediate answers are the retry path, not failures.
                Some(r) if !meets(&r.until, &sent) && attempt < r.attempts => {
                    rec.deliveries
                        .push(delivery_record(&l, copy, attempt, true, sent));
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                    continue;
                }
                Some(r) => {
                    let ok = meets(&r.until, &sent);
                    rec.deliveries
                        .push(delivery_record(&l, copy, attempt, ok, sent));
                }
                None => {
                    let ok = meets(&d.expect_status, &sent);
                    rec.deliveries
                        .push(delivery_record(&l, copy, attempt, ok, sent));
                }
            }
            if accepted && baseline.is_none() && !step.expect.stable.is_empty() {
                *baseline = Some(take_baseline(cx, step, control).await);
            }
            break;
        }
    }
    Ok(())
}

async fn run_step(
    cx: &RunContext,
    plan: &Plan,
    step: &PlannedStep,
    control: bool,
    errors: &mut Vec<String>,
) -> (StepRecord, Verdict) {
    let mut rec = StepRecord {
        name: step.name.clone(),
        setup: Vec::new(),
        deliveries: Vec::new(),
        checks: Vec::new(),
        stable: Vec::new(),
        unchanged: Vec::new(),
        first_held_ms: None,
        polls: 0,
        groups: Vec::new(),
        polled_ms: None,
    };
    if let Err(e) = run_calls(cx, &step.setup, &mut rec.setup).await {
        errors.push(e);
        return (rec, Verdict::Errored);
    }
    let e = &step.expect;
    let unchanged_base = judge::read_values(&cx.prober, &e.unchanged).await;
    let mut stable_base = None;
    let mut last_response = Instant::now();

    for d in &step.deliveries {
        tokio::time::sleep(d.after).await;
        let result = deliver_line(cx, plan, step, control, d, &mut rec, &mut stable_base).await;
        if let Err(msg) = result {
            errors.push(msg);
            return (rec, Verdict::Errored);
        }
        last_response = Instant::now();
    }

    let unreachable: Vec<&DeliveryRecord> = rec
        .deliveries
        .iter()
        .filter(|d| d.outcome == DeliveryOutcome::ConnectFailed)
        .collect();
    if let Some(first) = unreachable.first() {
        errors.push(format!(
            "target unreachable: {} of {} deliveries could not connect to {} ({})",
            unreachable.len(),
            rec.deliveries.len(),
            safety::redact_url(&cx.target.webhook),
            first.error.clone().unwrap_or_default()
        ));
        return (rec, Verdict::Errored);
    }

    let poll_start = Instant::now();
    let awaited = judge::await_checks(
        &cx.prober,
        &e.checks,
        last_response,
        e.within,
        step.settle,
        cx.polling,
    )
    .await;
    rec.first_held_ms = awaited.first_held.map(|d| d.as_millis() as u64);
    rec.polls = awaited.polls;
    rec.polled_ms = Some(poll_start.elapsed().as_millis() as u64);
    rec.checks = awaited.checks;
    if !e.stable.is_empty() {
        let finals = judge::read_values(&cx.prober, &e.stable).await;
        let base = stable_base.unwrap_or_else(|| {
            finals
                .iter()
                .map(|(p, q, _)| {
                    (
                        p.clone(),
                        q.clone(),
                        Err("no delivery was accepted, so there is no baseline".to_string()),
                    )
                })
                .collect()
        });
        rec.stable = judge::compare(&base, &finals);
    }
    if !e.unchanged.is_empty() {
        let finals = judge::read_values(&cx.prober, &e.unchanged).await;
        rec.unchanged = judge::compare(&unchanged_base, &finals);
    }
    let deliveries_ok = rec.deliveries.iter().all(|d| d.ok);
    let values_ok = rec.stable.iter().chain(&rec.unchanged).all(|v| v.held);
    let outcome_ok = if control {
        if awaited.held {
            errors.push(format!("control drill: the checks of step `{}` held, so they would not notice this broken outcome", step.name));
        }
        !awaited.held
    } else {
        awaited.held
    };
    (
        rec,
        if deliveries_ok && values_ok && outcome_ok {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
    )
}

/// The probe value as text for messages.
pub fn show(v: &Option<Value>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "nothing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::evidence::Redactions;

    /// Regression: a response excerpt (or an observed value) echoing a
    /// request header's token went into the JSON report unredacted.
    #[test]
    fn scrub_record_redacts_echoed_secrets_everywhere() {
        let mut rec: DrillRecord = serde_json::from_value(serde_json::json!({
            "path": "d.yaml", "name": "d", "owner": null, "runbook": null, "tags": [],
            "run_uid": "u", "verdict": "failed", "control": false,
            "errors": ["app said: tok_SECRET"], "events": [], "duration_ms": 1,
            "rerun": "luota run d.yaml",
            "steps": [{
                "name": "s", "setup": [], "checks": [{
                    "name": "c", "stage": null, "probe": "GET /x", "held": false, "error": null,
                    "assertions": [{"path": "$.h", "expected": "1",
                                    "observed": {"auth": "Bearer tok_SECRET"}, "held": false}]
                }],
                "deliveries": [{
                    "line": 0, "copy": 0, "attempt": 0, "event": "e", "event_id": "evt_1",
                    "signature": "valid", "body": "stripe", "together": false, "timestamp": 1,
                    "bytes": 1, "outcome": "answered", "status": 200, "expected_status": "2xx",
                    "ok": true, "latency_ms": 1.0, "written_at_us": null, "error": null,
                    "response_excerpt": "echo: authorization: Bearer tok_SECRET; whsec_abc"
                }],
                "stable": [], "unchanged": [], "first_held_ms": null, "polls": 1,
                "groups": [], "polled_ms": 1
            }]
        }))
        .unwrap();
        let red = Redactions::new(
            Vec::<String>::new(),
            vec!["tok_SECRET".into(), "whsec_abc".into()],
        );
        scrub_record(&mut rec, &red);
        let text = serde_json::to_string(&rec).unwrap();
        assert!(!text.contains("tok_SECRET"), "{text}");
        assert!(!text.contains("whsec_abc"), "{text}");
        assert!(text.contains("Bearer [redacted]"), "{text}");
    }

    #[test]
    fn env_names_in_finds_every_variable_a_header_template_reads() {
        assert_eq!(
            env_names_in("Bearer {{ env.TOKEN_1 }} {{env.OTHER}}"),
            vec!["TOKEN_1".to_string(), "OTHER".to_string()]
        );
        assert!(env_names_in("no vars").is_empty());
    }
}
