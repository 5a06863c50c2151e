//! `luota run` and `luota validate`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Config};
use crate::demo::Fault;
use crate::drill::load::{discover, load_file};
use crate::exit;
use crate::record::{RunRecord, Verdict};
use crate::report::{self, terminal};
use crate::runner::{self, run_all, Input, RunContext};
use crate::target::Target;

use super::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Drill files or folders (recursively). Default: the `drills` folder named in luota.yaml.
    pub paths: Vec<PathBuf>,
    /// The target to run against (default: `default_target` in luota.yaml, else `demo`).
    #[arg(long, short)]
    pub target: Option<String>,
    /// Run against the in-process demo with this bug switched on (see `luota demo --list-faults`);
    /// implies `--target demo`.
    #[arg(long, value_name = "ID")]
    pub demo_fault: Option<Fault>,
    /// Write the full run record as JSON to FILE (also when drills fail or error).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// How many drills run at once (each isolated by its own run.uid). Drills
    /// start in the order given, and `--jobs 1` runs them one after another in it.
    #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Render and sign every drill, and print what would be sent; send nothing
    /// (no webhook, no setup call, no check). Exit 0 when everything rendered.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub reports: super::reports::ReportArgs,
    #[command(flatten)]
    pub snapshots: super::snapshots::SnapshotArgs,
    /// Run only slice K of N of the drill files (deterministic by path), for parallel CI jobs.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<super::shard::Shard>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Drill files or folders (recursively). Default: the `drills` folder named in luota.yaml.
    pub paths: Vec<PathBuf>,
    /// Plan the drills for this target's config (default: `default_target`, else `demo`);
    /// nothing is resolved or sent, no secret is read.
    #[arg(long, short)]
    pub target: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Load the config or print its diagnostic.
fn load_config(arg: &ConfigArg) -> Result<Config, i32> {
    config::load(arg.config.as_deref())
        .map(|(c, _)| c)
        .map_err(|d| {
            eprint!("{d}");
            exit::INVALID_INPUT
        })
}

/// Discover and load drills, printing every diagnostic to stderr.
fn load_inputs(config: &Config, paths: &[PathBuf]) -> Result<Vec<Input>, i32> {
    let paths = if paths.is_empty() {
        vec![config.drills.clone()]
    } else {
        paths.to_vec()
    };
    let files = discover(&paths).map_err(|e| {
        eprintln!("error: {e}");
        exit::INVALID_INPUT
    })?;
    if files.is_empty() {
        eprintln!(
            "error: no drill files (*.yaml, *.yml) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(exit::INVALID_INPUT);
    }
    Ok(files
        .into_iter()
        .map(|f| match load_file(&f) {
            Ok(d) => Input::Loaded(d),
            Err(problems) => {
                for p in &problems {
                    eprint!("{p}");
                }
                Input::Invalid { path: f, problems }
            }
        })
        .collect())
}

/// The config and every drill input; an error is the exit code (diagnostics printed).
fn load_all(config: &ConfigArg, paths: &[PathBuf]) -> Result<(Config, Vec<Input>), i32> {
    let config = load_config(config)?;
    let inputs = load_inputs(&config, paths)?;
    Ok((config, inputs))
}

pub fn validate(args: ValidateArgs) -> i32 {
    let (config, inputs) = match load_all(&args.config, &args.paths) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| config.default_target.clone());
    if target != config::DEMO_TARGET && !config.targets.contains_key(&target) {
        eprintln!(
            "error: {}",
            crate::target::TargetError::unknown(&config, &target)
        );
        return exit::INVALID_INPUT;
    }
    // The target's own files (`ca_file`) are input too; run would stop on them.
    let mut config_bad = false;
    if let Some(t) = config.targets.get(&target) {
        if let Err(e) = crate::target::load_ca(&target, t) {
            eprintln!("error: {e}");
            config_bad = true;
        }
    }
    // What loading cannot see (templates, policy checks) shows when planning.
    let mut bad = 0;
    for input in &inputs {
        match input {
            Input::Invalid { .. } => bad += 1,
            Input::Loaded(d) => {
                if let Err(crate::plan::PlanError::Invalid(diag)) =
                    runner::plan_offline(&config, &target, d)
                {
                    eprint!("{diag}");
                    bad += 1;
                }
            }
        }
    }
    println!(
        "{}: {} valid, {} invalid",
        report::count(inputs.len(), "drill file"),
        inputs.len() - bad,
        bad
    );
    if config_bad {
        println!("the config is invalid (see the error above)");
    }
    if bad > 0 || config_bad {
        exit::INVALID_INPUT
    } else {
        exit::PASSED
    }
}

/// The exit code a run record calls for.
pub fn exit_code(run: &RunRecord) -> i32 {
    exit::combine(run.drills.iter().map(|d| match d.verdict {
        Verdict::Passed => exit::PASSED,
        Verdict::Failed => exit::OUTCOME_FAILED,
        Verdict::Errored => exit::NOT_CARRIED_OUT,
        Verdict::Invalid => exit::INVALID_INPUT,
        Verdict::Interrupted => exit::INTERRUPTED,
    }))
}

/// Listen for Ctrl-C (SIGINT) and SIGTERM from this call on; the future
/// resolves on either. The handlers are installed here, not at the first
/// poll, so a signal that comes before the caller awaits is not lost (nor
/// does it kill the process with the default action, leaving a demo's
/// temporary database behind). Call it inside the runtime.
#[cfg(unix)]
pub fn interrupted() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        match (int, term) {
            (Ok(mut i), Ok(mut t)) => {
                tokio::select! {
                    _ = i.recv() => {}
                    _ = t.recv() => {}
                }
            }
            (Ok(mut one), Err(_)) | (Err(_), Ok(mut one)) => {
                one.recv().await;
            }
            // No handler could be installed: the default actions apply.
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}

/// Ctrl-C / SIGTERM heard from the moment of [`Stop::listen`], for any
/// number of waiters: the run's start (demo, deploy SHA) and its drills.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// Install the handlers now (inside the runtime).
    pub fn listen() -> Stop {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signal = interrupted();
        tokio::spawn(async move {
            signal.await;
            let _ = tx.send(true);
        });
        Stop(rx)
    }

    /// Resolves once a signal came (at once if one already did).
    pub async fn wait(mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Ctrl-C only, where there is no SIGTERM.
#[cfg(not(unix))]
pub fn interrupted() -> impl std::future::Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

pub async fn run(args: RunArgs) -> i32 {
    // From the start: a Ctrl-C while the demo starts or the deploy SHA is
    // read still ends with reports and exit 130.
    let stop = Stop::listen();
    // An invalid luota.yaml still gets the requested reports (its error as
    // the one invalid entry), so CI publishes an error, not a missing file.
    let config = match config::load(args.config.config.as_deref()) {
        Ok((c, _)) => c,
        Err(d) => {
            eprint!("{d}");
            let run = runner::unusable_config(&d);
            return write_reports(&args, &run, None, exit::INVALID_INPUT);
        }
    };
    let inputs = match load_inputs(&config, &args.paths) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let inputs = match args.shard {
        Some(s) => s.select(inputs, |i| match i {
            Input::Loaded(d) => d.path.display().to_string(),
            Input::Invalid { path, .. } => path.display().to_string(),
        }),
        None => inputs,
    };
    // --demo-fault runs against the in-process demo: without --target it
    // picks `demo` whatever luota.yaml's default target is.
    let target_name = args.target.clone().unwrap_or_else(|| {
        if args.demo_fault.is_some() {
            config::DEMO_TARGET.to_string()
        } else {
            config.default_target.clone()
        }
    });
    let mut rerun_flags = String::new();
    if let Some(f) = &args.demo_fault {
        rerun_flags.push_str(&format!(" --demo-fault {}", f.id()));
    }
    if let Some(c) = &args.config.config {
        rerun_flags.push_str(&format!(" --config {}", c.display()));
    }
    let resolved = tokio::select! {
        t = Target::resolve(&config, &target_name, args.demo_fault) => t,
        _ = stop.clone().wait() => {
            return stopped_before_start(&args, &target_name, &rerun_flags, &inputs);
        }
    };
    let target = match resolved {
        Ok(t) => t,
        Err(e) if e.is_invalid_input() => {
            // An unknown target or a bad ca_file: invalid input, reports still written.
            eprintln!("error: {e}");
            let mut run =
                runner::unusable_target(&target_name, &rerun_flags, &inputs, &e.to_string());
            for d in &mut run.drills {
                d.verdict = crate::record::Verdict::Invalid;
            }
            return write_reports(&args, &run, None, exit::INVALID_INPUT);
        }
        Err(e) => {
            // Nothing can be sent, but every requested report is still written.
            eprintln!("error: {e}");
            let run = runner::unusable_target(&target_name, &rerun_flags, &inputs, &e.to_string());
            print!("{}", terminal::render(&run));
            return write_reports(&args, &run, None, exit_code(&run));
        }
    };
    let deploy = tokio::select! {
        d = crate::deploy::read(
            &config,
            &target.name,
            &target.secret_env_names,
            target.ca_pem.as_deref(),
        ) => d,
        _ = stop.clone().wait() => {
            target.shutdown().await;
            return stopped_before_start(&args, &target_name, &rerun_flags, &inputs);
        }
    };
    if let Some(e) = deploy.as_ref().and_then(|d| d.error.as_ref()) {
        eprintln!("warning: deploy SHA unknown: {e}");
    }
    let cx = match RunContext::new(target, config, rerun_flags) {
        Ok(mut cx) => {
            cx.deploy = deploy;
            cx.evidence = args.reports.evidence.is_some();
            Arc::new(cx)
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::NOT_CARRIED_OUT;
        }
    };
    if args.dry_run {
        let (text, code) = crate::dry_run::dry_run(&cx, &inputs);
        print!("{text}");
        if let Ok(cx) = Arc::try_unwrap(cx) {
            cx.target.shutdown().await;
        }
        return code;
    }
    println!(
        "luota {} · target `{}` · {}",
        env!("CARGO_PKG_VERSION"),
        cx.target.name,
        report::count(inputs.len(), "drill file")
    );

    // Print each drill as soon as it and every drill before it are done, so
    // the output keeps input order while drills run in parallel.
    let mut pending: BTreeMap<usize, String> = BTreeMap::new();
    let mut next = 0usize;
    let run = run_all(
        cx.clone(),
        inputs,
        args.jobs as usize,
        stop.wait(),
        |i, d| {
            pending.insert(
                i,
                format!("{}\n{}", terminal::drill_line(d), terminal::drill_detail(d)),
            );
            let mut out = std::io::stdout().lock();
            while let Some(text) = pending.remove(&next) {
                let _ = out.write_all(text.as_bytes());
                next += 1;
            }
            let _ = out.flush();
        },
    )
    .await;
    {
        // What is left after an interrupt, in input order: the drills that
        // finished after an interrupted one, and the interrupted ones.
        let mut out = std::io::stdout().lock();
        for d in run.drills.iter().skip(next) {
            let _ = write!(
                out,
                "{}\n{}",
                terminal::drill_line(d),
                terminal::drill_detail(d)
            );
        }
        let _ = writeln!(out, "\n{}", terminal::summary(&run));
    }

    let mut run = run;
    run.shard = args.shard.map(|s| s.to_string());
    let mut code = exit_code(&run);
    let snapshot_mode = args
        .snapshots
        .snapshots
        .unwrap_or(if args.demo_fault.is_some() {
            super::snapshots::SnapshotMode::Ignore
        } else {
            super::snapshots::SnapshotMode::Check
        });
    if !run.interrupted {
        code = exit::combine([code, super::snapshots::after_run(snapshot_mode, &run)]);
    }
    let code = write_reports(&args, &run, Some(&cx), code);
    if let Ok(cx) = Arc::try_unwrap(cx) {
        cx.target.shutdown().await;
    }
    code
}

/// Interrupted before the first drill started: every drill is
/// `interrupted`, every requested report is written, exit 130.
fn stopped_before_start(args: &RunArgs, target: &str, flags: &str, inputs: &[Input]) -> i32 {
    let mut run = runner::unusable_target(
        target,
        flags,
        inputs,
        "interrupted before the drill started",
    );
    for d in &mut run.drills {
        if d.verdict == crate::record::Verdict::Errored {
            d.verdict = crate::record::Verdict::Interrupted;
        }
    }
    run.interrupted = true;
    print!("{}", terminal::render(&run));
    write_reports(args, &run, None, exit_code(&run))
}

/// Write every report the flags ask for (evidence needs the run's context);
/// a report that cannot be written makes the run "not carried out".
fn write_reports(args: &RunArgs, run: &RunRecord, cx: Option<&RunContext>, code: i32) -> i32 {
    let mut code = code;
    if let Some(path) = &args.report_json {
        if let Err(e) = report::write_atomic(path, report::json::render(run).as_bytes()) {
            eprintln!(
                "error: cannot write the JSON report to {}: {e}",
                path.display()
            );
            code = exit::combine([code, exit::NOT_CARRIED_OUT]);
        }
    }
    exit::combine([code, super::reports::write_reports(&args.reports, run, cx)])
}
