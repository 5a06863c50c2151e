//! `luota sign`: the Stripe-Signature header for a body on stdin.
//!
//! Exit codes: 0 printed; 2 the body could not be read; 3 the secret
//! variable is not set (as `run` and `send`: a precondition, not bad input).

use std::io::Read;

use crate::exit;
use crate::stripe::signature;

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The environment variable holding the signing secret (whsec_...).
    #[arg(long, value_name = "NAME")]
    pub secret_env: String,
    /// Unix timestamp to sign with (default: now).
    #[arg(long, value_name = "T")]
    pub timestamp: Option<i64>,
}

pub fn sign(args: SignArgs) -> i32 {
    let Some(secret) = std::env::var(&args.secret_env)
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "error: the secret variable `{}` is not set; export it (the value starts with whsec_) and run again",
            args.secret_env
        );
        return exit::NOT_CARRIED_OUT;
    };
    let mut body = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut body) {
        eprintln!("error: cannot read the body from stdin: {e}");
        return exit::INVALID_INPUT;
    }
    let t = args.timestamp.unwrap_or_else(crate::deliver::unix_now);
    println!("Stripe-Signature: {}", signature::header(&secret, t, &body));
    exit::PASSED
}
