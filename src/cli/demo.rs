//! `luota demo`: serve the embedded staging app.

use crate::demo::{DemoOptions, DemoServer, Fault};
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Loopback port to listen on.
    #[arg(long, default_value_t = 4242)]
    pub port: u16,
    /// Switch on one real bug class (see --list-faults).
    #[arg(long, value_name = "ID")]
    pub fault: Option<Fault>,
    /// Print each fault id with the failure code (D1–D12) it exposes, and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// The environment variable holding the signing secret (whsec_...).
    #[arg(long, value_name = "NAME", default_value = "LUOTA_DEMO_SECRET")]
    pub secret_env: String,
    /// The environment variable holding an optional second valid secret.
    #[arg(long, value_name = "NAME")]
    pub secondary_secret_env: Option<String>,
    /// Benchmarks only: answer webhooks at once and apply their effects this long after (e.g. 1500ms).
    #[arg(long, value_name = "DURATION", hide = true, value_parser = humantime::parse_duration)]
    pub effect_delay: Option<std::time::Duration>,
}

pub async fn demo(args: DemoArgs) -> i32 {
    if args.list_faults {
        for f in Fault::all() {
            println!("{:<28} {:<4} {}", f.id(), f.dcode(), f.about());
        }
        return exit::PASSED;
    }
    let Some(secret) = std::env::var(&args.secret_env)
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "error: the signing secret variable `{}` is not set\n  = help: export {}=whsec_<anything> (and give luota the same variable as the target's `secret_env`)",
            args.secret_env, args.secret_env
        );
        return exit::INVALID_INPUT;
    };
    let secondary = match &args.secondary_secret_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => {
                eprintln!("error: the second secret variable `{var}` is not set");
                return exit::INVALID_INPUT;
            }
        },
        None => None,
    };
    let opts = DemoOptions {
        secret,
        secondary_secret: secondary,
        fault: args.fault,
        db_path: None,
        future_window_secs: 300,
        effect_delay: args.effect_delay,
    };
    // Listening before anything is printed: a SIGTERM right after the
    // `database:` line must still remove the temporary database.
    let stop = super::run::interrupted();
    let server = match DemoServer::start(([127, 0, 0, 1], args.port).into(), opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the demo app: {e}");
            return exit::NOT_CARRIED_OUT;
        }
    };
    println!("demo app listening on {}", server.base_url());
    println!(
        "  webhook: {}/webhook  (secret from ${})",
        server.base_url(),
        args.secret_env
    );
    println!("  state:   {}/internal/users/<id>", server.base_url());
    println!("  database: {}", server.database_url);
    if let Some(f) = args.fault {
        println!("  fault: {} ({})", f.id(), f.dcode());
    }
    println!("press Ctrl-C to stop");
    // SIGTERM too (a CI job or `kill`): the shutdown removes the temporary database.
    stop.await;
    server.shutdown().await;
    exit::PASSED
}
