//! `luota send`: one signed delivery to a webhook URL, outside any drill.
//!
//! The event is either rendered from a built-in template (`--type`, as
//! `luota event` prints it) or read from a file or stdin (`--body`). A body
//! read from a file is sent byte for byte unless `--encoding` is given, in
//! which case it is parsed and re-encoded. The URL must pass the same safety
//! rail as a drill (loopback, `--allow-host`, or `safety.allowed_hosts`), an
//! event saying `livemode: true` is refused, and the secret is never printed:
//! not in the output, not in an error, and not even when the handler echoes it
//! back in its response.
//!
//! Exit codes: 0 the handler answered as the signature mode calls for (2xx
//! for `valid`/`rotated`/`secondary`, 4xx for the negative modes, or exactly
//! `--expect-status`); 1 it answered otherwise or did not answer in time; 2
//! invalid input; 3 not carried out (missing secret, refused by a safety rail,
//! connection refused).

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use super::ConfigArg;
use crate::deliver::{Sender, RESPONSE_CAP};
use crate::drill::model::parse_duration;
use crate::exit;
use crate::record::DeliveryOutcome;
use crate::safety;
use crate::stripe::body::{encode, BodyEncoding};
use crate::stripe::signature::SignatureMode;
use crate::stripe::template::DEFAULT_API_VERSION;
use crate::target::Secret;

/// Every `--signature` mode, as written in drills.
pub const SIGNATURE_MODES: [&str; 12] = [
    "valid",
    "none",
    "empty",
    "garbage",
    "wrong-secret",
    "stale",
    "future",
    "bad-timestamp",
    "tampered",
    "replayed",
    "rotated",
    "secondary",
];

/// `luota send --help`'s exit codes (one delivery, not a run of drills).
pub const EXIT_HELP: &str = "\
Exit codes:
  0    the handler answered as the signature mode calls for (2xx; 4xx for
       negative modes; or exactly --expect-status)
  1    it answered otherwise, or not within --timeout
  2    invalid input (CLI usage, unknown type, unreadable body); nothing was sent
  3    not carried out: missing secret, refused by a safety rail, could not connect";

/// How much of the response body is printed.
pub const PRINT_CAP: usize = 4096;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("event").required(true).args(["event_type", "body"])))]
pub struct SendArgs {
    /// The webhook URL to POST to (loopback, or a host allowed by --allow-host / luota.yaml).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The environment variable holding the signing secret (whsec_...).
    #[arg(long, value_name = "NAME")]
    pub secret_env: String,
    /// Render a built-in template of this event type (see `luota event --list`).
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
    /// Override inside data.object: PATH=VALUE (with --type; VALUE parsed as JSON when it is JSON).
    #[arg(long = "set", value_name = "PATH=VALUE", requires = "event_type")]
    pub set: Vec<String>,
    /// API version to render the template for (with --type).
    #[arg(long, value_name = "V", requires = "event_type")]
    pub api_version: Option<String>,
    /// Send this file's bytes as the body (`-` reads stdin) instead of a template.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// The signature mode, as in a drill's `signature:`.
    #[arg(long, value_name = "MODE", default_value = "valid",
          value_parser = clap::builder::PossibleValuesParser::new(SIGNATURE_MODES))]
    pub signature: String,
    /// The environment variable holding a second secret (needed for `--signature secondary`).
    #[arg(long, value_name = "NAME")]
    pub secondary_secret_env: Option<String>,
    /// Body encoding: stripe (pretty, default for --type), compact or hostile.
    /// With --body the file is sent verbatim unless this is given.
    #[arg(long, value_enum)]
    pub encoding: Option<super::event::BodyArg>,
    /// Client timeout (e.g. 10s, 500ms; default: luota.yaml `defaults.timeout`, else 10s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Expect exactly this status instead of the mode's default (2xx, or 4xx for negative modes).
    #[arg(long, value_name = "CODE")]
    pub expect_status: Option<u16>,
    /// Allow this non-loopback host for this send (exact, or `*.suffix`); repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Allow plain http:// to a non-loopback host (a staging host without TLS).
    #[arg(long)]
    pub allow_plain_http: bool,
    /// Also trust this CA (PEM) for an https:// --to, as a target's `ca_file` does.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

fn read_secret(name: &str) -> Result<Secret, i32> {
    match std::env::var(name).ok().filter(|s| !s.is_empty()) {
        Some(s) => Ok(Secret::new(s)),
        None => {
            eprintln!("error: the secret variable `{name}` is not set; export it (the value starts with whsec_) and run again");
            Err(exit::NOT_CARRIED_OUT)
        }
    }
}

/// The body bytes and, when they are JSON, the event (for the summary and the livemode rail).
fn build_body(args: &SendArgs, api_version: &str) -> Result<(Vec<u8>, Option<Value>), i32> {
    if let Some(t) = &args.event_type {
        let ev = super::event::render(t, &args.set, api_version).map_err(|m| {
            eprintln!("{m}");
            exit::INVALID_INPUT
        })?;
        let enc: BodyEncoding = args
            .encoding
            .map(Into::into)
            .unwrap_or(BodyEncoding::Stripe);
        return Ok((encode(&ev, enc), Some(ev)));
    }
    let path = args.body.as_ref().expect("clap requires --type or --body");
    let mut raw = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut raw).map(|_| ())
    } else {
        std::fs::read(path).map(|b| raw = b)
    };
    if let Err(e) = read {
        eprintln!("error: cannot read the body from {}: {e}", path.display());
        return Err(exit::INVALID_INPUT);
    }
    let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
    match (args.encoding, parsed) {
        (Some(enc), Some(ev)) => Ok((encode(&ev, enc.into()), Some(ev))),
        (Some(_), None) => {
            eprintln!(
                "error: --encoding needs a JSON body, and {} is not JSON; drop --encoding to send the bytes as they are",
                path.display()
            );
            Err(exit::INVALID_INPUT)
        }
        (None, parsed) => Ok((raw, parsed)),
    }
}

fn parse_mode(s: &str) -> SignatureMode {
    serde_json::from_value(Value::String(s.to_string()))
        .expect("clap only lets through the modes in SIGNATURE_MODES")
}

pub async fn send(args: SendArgs) -> i32 {
    let config = match crate::config::load(args.config.config.as_deref()) {
        Ok((c, _)) => c,
        Err(d) => {
            eprint!("{d}");
            return exit::INVALID_INPUT;
        }
    };
    let timeout = match args.timeout.as_deref().map(parse_duration).transpose() {
        Ok(t) => t.unwrap_or(config.defaults.timeout),
        Err(e) => {
            eprintln!("error: --timeout: {e}");
            return exit::INVALID_INPUT;
        }
    };
    if timeout.is_zero() {
        eprintln!("error: --timeout must be more than 0");
        return exit::INVALID_INPUT;
    }
    let mode = parse_mode(&args.signature);
    if mode == SignatureMode::Secondary && args.secondary_secret_env.is_none() {
        eprintln!("error: --signature secondary signs with a second secret: name its variable with --secondary-secret-env NAME");
        return exit::INVALID_INPUT;
    }
    let api_version = args
        .api_version
        .clone()
        .or_else(|| config.defaults.api_version.clone())
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
    let (body, event) = match build_body(&args, &api_version) {
        Ok(b) => b,
        Err(code) => return code,
    };

    // Safety rails before anything leaves the machine.
    let mut allowed = config.safety.allowed_hosts.clone();
    allowed.extend(args.allow_host.iter().cloned());
    if let Err(refusal) = safety::check_url(&args.to, &allowed) {
        eprintln!("error: {refusal}");
        if matches!(refusal, safety::Refusal::HostNotAllowed { .. }) {
            eprintln!("  = help: or pass --allow-host HOST for this one send");
        }
        return exit::NOT_CARRIED_OUT;
    }
    let event_id = event
        .as_ref()
        .and_then(|e| e.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    // The same rails as a drill: livemode on the envelope or data.object
    // (`--set livemode=true` lands on data.object).
    if event.as_ref().is_some_and(safety::says_livemode) {
        eprintln!(
            "error: {}",
            safety::Refusal::Livemode {
                event: event_id.clone()
            }
        );
        return exit::NOT_CARRIED_OUT;
    }

    if let Err(refusal) = safety::check_plain_http(&args.to, args.allow_plain_http) {
        eprintln!("error: {refusal}");
        eprintln!("  = help: for this one send, pass --allow-plain-http");
        return exit::NOT_CARRIED_OUT;
    }
    let secret = match read_secret(&args.secret_env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let secondary = match &args.secondary_secret_env {
        Some(name) => match read_secret(name) {
            Ok(s) => Some(s),
            Err(code) => return code,
        },
        None => None,
    };
    for (var, value) in std::iter::once((&args.secret_env, &secret))
        .chain(args.secondary_secret_env.iter().zip(secondary.iter()))
    {
        if let Err(refusal) =
            safety::check_not_live(&format!("the value of `{var}`"), value.expose())
        {
            eprintln!("error: {refusal}");
            return exit::NOT_CARRIED_OUT;
        }
    }
    let ca_pem = match &args.ca_file {
        Some(p) => {
            match crate::drill::load::read_bounded_bytes(p, crate::drill::load::MAX_FILE_BYTES)
                .map_err(|e| e.to_string())
                .and_then(|pem| {
                    crate::deliver::tls::client_config(Some(&pem))?;
                    Ok(pem)
                }) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    eprintln!(
                        "error: --ca-file {}: {e}; give a PEM file of CA certificates",
                        p.display()
                    );
                    return exit::INVALID_INPUT;
                }
            }
        }
        None => None,
    };
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let client = match crate::deliver::tls::trust_extra_ca(builder, ca_pem.as_deref())
        .and_then(|b| b.build().map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build the HTTP client: {e}");
            return exit::NOT_CARRIED_OUT;
        }
    };
    let sender = Sender::new(client, args.to.clone(), secret.clone(), secondary.clone());
    let req = match sender.prepare(&body, mode) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID_INPUT;
        }
    };
    let event_type = event
        .as_ref()
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    println!(
        "sending  {event_type} {event_id} to {} (signature {}, {} bytes)",
        safety::redact_url(&args.to),
        args.signature,
        req.body.len()
    );
    let sent = sender.send(&req, timeout).await;
    let redactions = crate::report::evidence::Redactions::new(
        Vec::<String>::new(),
        std::iter::once(&secret)
            .chain(secondary.as_ref())
            .map(|s| s.expose().to_string())
            .collect(),
    );
    let redact = |text: &str| redactions.scrub(text.to_string());
    let latency = crate::report::human_duration(sent.latency);
    let code = match (sent.outcome, sent.status) {
        (DeliveryOutcome::Answered, Some(status)) => {
            let expected = match args.expect_status {
                Some(want) => status == want,
                None if mode.is_negative() => (400..500).contains(&status),
                None => (200..300).contains(&status),
            };
            let want = match args.expect_status {
                Some(w) => w.to_string(),
                None if mode.is_negative() => "4xx".into(),
                None => "2xx".into(),
            };
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            println!(
                "status   {status} {reason} in {latency} ({} {want})",
                if expected {
                    "expected"
                } else {
                    "NOT the expected"
                }
            );
            if expected {
                exit::PASSED
            } else {
                exit::OUTCOME_FAILED
            }
        }
        (DeliveryOutcome::TimedOut, _) => {
            println!(
                "status   none: {}",
                sent.error.as_deref().unwrap_or("timed out")
            );
            exit::OUTCOME_FAILED
        }
        (DeliveryOutcome::ConnectFailed, _) => {
            eprintln!(
                "error: {}",
                redact(sent.error.as_deref().unwrap_or("could not connect"))
            );
            return exit::NOT_CARRIED_OUT;
        }
        _ => {
            println!(
                "status   none: {}",
                redact(sent.error.as_deref().unwrap_or("the exchange broke"))
            );
            exit::OUTCOME_FAILED
        }
    };
    if let Some(resp) = &sent.response {
        // Redacted whole before the cut, and again after it (a secret's start at the cut).
        let text = redact(&String::from_utf8_lossy(resp));
        let mut shown = redact(&text.chars().take(PRINT_CAP).collect::<String>());
        let cut = text.chars().count() > PRINT_CAP || resp.len() >= RESPONSE_CAP;
        if cut {
            shown.push_str("\n… (response cut)");
        }
        if shown.is_empty() {
            println!("response (empty)");
        } else {
            println!("response {shown}");
        }
    } else if let Some(e) = &sent.error {
        if sent.status.is_some() {
            println!("response unreadable: {}", redact(e));
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_signature_mode_parses() {
        for m in SIGNATURE_MODES {
            let mode = parse_mode(m);
            assert_eq!(serde_json::to_value(mode).unwrap(), Value::String(m.into()));
        }
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }
}
