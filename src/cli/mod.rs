//! The command line: argument parsing and dispatch. Each command lives in
//! its own file; they share the exit codes of [`crate::exit`].

mod completions;
mod demo;
mod event;
mod from_event;
mod init;
mod reports;
mod run;
pub(crate) mod schema;
mod send;
mod shard;
mod sign;
mod snapshots;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit;

/// Failure drills for Stripe webhook handlers.
///
/// Luota sends correctly signed Stripe events to a staging handler — replays,
/// concurrent duplicates, bad signatures — then checks the app's real state
/// and reports whether the customer got what they paid for, exactly once.
#[derive(Debug, Parser)]
#[command(name = "luota", version, after_help = exit::HELP, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run drills against a target and report the verdicts.
    #[command(after_help = exit::HELP)]
    Run(run::RunArgs),
    /// Check drill files and the config without sending anything.
    #[command(after_help = exit::VALIDATE_HELP)]
    Validate(run::ValidateArgs),
    /// Serve the embedded demo staging app (the `demo` target) on loopback.
    Demo(demo::DemoArgs),
    /// Print an event exactly as a drill would send it.
    Event(event::EventArgs),
    /// Print the Stripe-Signature header for a body read on stdin.
    #[command(after_help = exit::SIGN_HELP)]
    Sign(sign::SignArgs),
    /// Send one signed event (a built-in template or a body file) to a webhook URL.
    #[command(after_help = send::EXIT_HELP)]
    Send(send::SendArgs),
    /// Write a commented luota.yaml and a starter drill for a new app.
    Init(init::InitArgs),
    /// Turn a real Stripe event (JSON) into a drill, with personal data replaced.
    FromEvent(from_event::FromEventArgs),
    /// Print the JSON Schema of drill files or luota.yaml (for editors).
    Schema(schema::SchemaArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(completions::CompletionsArgs),
    /// Review, accept or reject pending outcome snapshots (`*.snap.new`).
    Snapshots(snapshots::SnapshotsArgs),
}

/// Options shared by commands that read `luota.yaml`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The config file (default: ./luota.yaml if present; the built-in `demo` target needs none).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Parse arguments and run; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::PASSED
                }
                _ => exit::INVALID_INPUT,
            };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::NOT_CARRIED_OUT;
        }
    };
    let code = rt.block_on(async {
        match cli.command {
            Command::Run(a) => run::run(a).await,
            Command::Validate(a) => run::validate(a),
            Command::Demo(a) => demo::demo(a).await,
            Command::Event(a) => event::event(a),
            Command::Sign(a) => sign::sign(a),
            Command::Send(a) => send::send(a).await,
            Command::Init(a) => init::init(a),
            Command::FromEvent(a) => from_event::from_event(a),
            Command::Schema(a) => schema::schema(a),
            Command::Completions(a) => completions::completions(a),
            Command::Snapshots(a) => snapshots::snapshots(a),
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}
