//! Running drills: the operating spine of DESIGN.md.
//!
//! For each drill: plan → setup calls → for each step: baselines, deliveries,
//! outcome checks → verdict. Runtime and assertion failures live inside the
//! [`DrillRecord`]; only an invalid drill file is reported as a diagnostic.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::check::Prober;
use crate::config::Config;
use crate::deliver::{excerpt, together::send_together, unix_now, Sender, Sent};
use crate::drill::diagnostic::Diagnostic;
use crate::drill::load::LoadedDrill;
use crate::drill::render::{Renderer, TargetVars};
use crate::judge::{self, Polling};
use crate::plan::{self, HttpRequest, Plan, PlanContext, PlanError, PlannedStep};
use crate::record::*;
use crate::safety;
use crate::stripe::body::encode;
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
}

impl RunContext {
    pub fn new(target: Target, config: Config, rerun_flags: String) -> Result<RunContext, String> {
        let timeout = config.defaults.timeout;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let sender = Sender::new(
            client.clone(),
            target.webhook.clone(),
            target.secret.clone(),
            target.secondary.clone(),
        );
        let prober = Prober::new(client, timeout);
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
    let sem = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut slots: Vec<Option<DrillRecord>> = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
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
                let cx = cx.clone();
                let sem = sem.clone();
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    (i, run_drill(&cx, &d).await)
                });
            }
        }
    }
    for (i, rec) in slots.iter().enumerate() {
        if let Some(rec) = rec {
            on_done(i, rec);
        }
    }
    tokio::pin!(interrupt);
    let mut interrupted = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                set.abort_all();
            }
            next = set.join_next() => match next {
                Some(Ok((i, rec))) => {
                    on_done(i, &rec);
                    slots[i] = Some(rec);
                }
                Some(Err(_)) => {}
                None => break,
            }
        }
    }
    let drills = slots
        .into_iter()
        .zip(names)
        .map(|(slot, (path, name))| {
            slot.unwrap_or_else(|| {
                let mut r = empty_record(&cx, &path, &name, String::new());
                r.verdict = Verdict::Interrupted;
                r.errors
                    .push("interrupted before the drill finished".into());
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
    }
}

fn rerun(cx: &RunContext, path: &str) -> String {
    format!(
        "luota run {} --target {}{}",
        shell_quote(path),
        cx.target.name,
        cx.rerun_flags
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
    DrillRecord {
        path: path.to_string(),
        name: name.to_string(),
        owner: None,
        runbook: None,
        tags: Vec::new(),
        run_uid: uid,
        verdict: Verdict::Passed,
        errors: Vec::new(),
        events: Vec::new(),
        steps: Vec::new(),
        duration_ms: 0,
        rerun: rerun(cx, path),
    }
}

fn invalid_record(cx: &RunContext, path: &std::path::Path, problems: &[Diagnostic]) -> DrillRecord {
    let p = path.display().to_string();
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("drill")
        .to_string();
    let mut r = empty_record(cx, &p, &name, String::new());
    r.verdict = Verdict::Invalid;
    r.errors = problems
        .iter()
        .map(|d| {
            format!(
                "{}: {}{}",
                d.location(),
                d.message,
                d.help
                    .as_ref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    r
}

/// Run one drill to its verdict.
pub async fn run_drill(cx: &RunContext, d: &LoadedDrill) -> DrillRecord {
    let started = Instant::now();
    let uid = new_uid();
    let path = d.path.display().to_string();
    let mut rec = empty_record(cx, &path, &d.drill.drill, uid.clone());
    rec.owner = d.drill.owner.clone();
    rec.runbook = d.drill.runbook.clone();
    rec.tags = d.drill.tags.clone();

    let vars = TargetVars {
        name: cx.target.name.clone(),
        app: cx.target.app.clone(),
        webhook: cx.target.webhook.clone(),
    };
    let mut renderer = Renderer::new(&uid, &vars, cx.target.secret_env_names.clone());
    let pcx = PlanContext {
        run_uid: uid,
        now: unix_now(),
        api_version: cx
            .config
            .defaults
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        timeout: cx.config.defaults.timeout,
        settle: cx.config.defaults.settle,
        target_headers: cx.target.headers.clone(),
    };
    let plan = match plan::plan(d, &pcx, &mut renderer) {
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

    if let Err(e) = refuse_unsafe(cx, &plan) {
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
        });
        rec.duration_ms = started.elapsed().as_millis() as u64;
        return rec;
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let mut srec = run_step(cx, &plan, step, &mut rec.errors).await;
        if i == 0 {
            let mut all = std::mem::take(&mut setup_records);
            all.append(&mut srec.0.setup);
            srec.0.setup = all;
        }
        let verdict = srec.1;
        rec.steps.push(srec.0);
        if verdict != Verdict::Passed {
            rec.verdict = verdict;
            break;
        }
    }
    rec.duration_ms = started.elapsed().as_millis() as u64;
    rec
}

/// Every URL the drill will touch must pass the safety rails.
fn refuse_unsafe(cx: &RunContext, plan: &Plan) -> Result<(), String> {
    let allowed = &cx.target.allowed_hosts;
    let mut urls: Vec<&str> = vec![cx.target.webhook.as_str()];
    urls.extend(plan.setup.iter().map(|r| r.url.as_str()));
    for s in &plan.steps {
        urls.extend(s.setup.iter().map(|r| r.url.as_str()));
        urls.extend(s.expect.checks.iter().map(|c| c.request.url.as_str()));
        urls.extend(
            s.expect
                .stable
                .iter()
                .chain(&s.expect.unchanged)
                .map(|p| p.request.url.as_str()),
        );
    }
    for u in urls {
        safety::check_url(u, allowed).map_err(|e| e.to_string())?;
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
            Ok((s, _)) => (Some(*s), c.expect_status.matches(*s), None),
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

fn delivery_record(
    step: &crate::plan::PlannedDelivery,
    ev: &crate::plan::RenderedEvent,
    copy: u32,
    sent: Sent,
) -> DeliveryRecord {
    let ok = match (sent.outcome, sent.status) {
        (DeliveryOutcome::Answered, Some(s)) => step.expect_status.matches(s),
        _ => false,
    };
    DeliveryRecord {
        line: step.line,
        copy,
        event: ev.name.clone(),
        event_id: ev.id.clone(),
        signature: kebab(&step.signature),
        body: kebab(&step.body),
        together: step.together,
        timestamp: sent.timestamp,
        bytes: sent.bytes,
        outcome: sent.outcome,
        status: sent.status,
        expected_status: step.expect_status.to_string(),
        ok,
        latency_ms: sent.latency.as_secs_f64() * 1000.0,
        written_at_us: sent.written_at.map(|d| d.as_micros() as u64),
        error: sent.error,
        response_excerpt: sent.response.as_deref().and_then(excerpt),
    }
}

fn kebab<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn run_step(
    cx: &RunContext,
    plan: &Plan,
    step: &PlannedStep,
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
        let ev = &plan.events[&d.event];
        let body = encode(&ev.value, d.body);
        let sent: Vec<Sent> = if d.together {
            let mut reqs = Vec::new();
            for _ in 0..d.copies {
                match cx.sender.prepare(&body, d.signature) {
                    Ok(r) => reqs.push(r),
                    Err(e) => {
                        errors.push(format!("cannot sign `{}`: {e}", d.event));
                        return (rec, Verdict::Errored);
                    }
                }
            }
            match send_together(&cx.sender.webhook, reqs, d.timeout).await {
                Ok(g) => g.sent,
                Err(e) => {
                    errors.push(format!(
                        "together group for `{}` could not be sent: {e}",
                        d.event
                    ));
                    return (rec, Verdict::Errored);
                }
            }
        } else {
            let mut v = Vec::new();
            for _ in 0..d.copies {
                match cx.sender.prepare(&body, d.signature) {
                    Ok(r) => v.push(cx.sender.send(&r, d.timeout).await),
                    Err(e) => {
                        errors.push(format!("cannot sign `{}`: {e}", d.event));
                        return (rec, Verdict::Errored);
                    }
                }
                if stable_base.is_none()
                    && !e.stable.is_empty()
                    && v.last()
                        .is_some_and(|s| s.status.is_some_and(|s| (200..300).contains(&s)))
                {
                    // The first accepted single delivery: let it settle, then take the baseline.
                    let since = Instant::now();
                    if e.checks.is_empty() {
                        stable_base = Some(
                            judge::await_steady(
                                &cx.prober,
                                &e.stable,
                                step.settle,
                                e.within,
                                cx.polling,
                            )
                            .await,
                        );
                    } else {
                        judge::await_checks(
                            &cx.prober,
                            &e.checks,
                            since,
                            e.within,
                            step.settle,
                            cx.polling,
                        )
                        .await;
                        stable_base = Some(judge::read_values(&cx.prober, &e.stable).await);
                    }
                }
            }
            v
        };
        last_response = Instant::now();
        for (copy, s) in sent.into_iter().enumerate() {
            rec.deliveries.push(delivery_record(d, ev, copy as u32, s));
        }
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
    let failed = rec.deliveries.iter().any(|d| !d.ok)
        || !awaited.held
        || rec.stable.iter().chain(&rec.unchanged).any(|v| !v.held);
    (
        rec,
        if failed {
            Verdict::Failed
        } else {
            Verdict::Passed
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
