//! `luota init`: a commented `luota.yaml` and a starter `drills/` for a new app,
//! plus `.luota/*.schema.json`, which the files' `yaml-language-server`
//! modelines point at.
//!
//! Never overwrites an existing file without asking: on a terminal it asks
//! per file; without one (CI, scripts) it refuses unless `--force`. Nothing is
//! written until every question is answered, so a refusal leaves the folder as
//! it was. The result passes `luota validate` as written.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Your staging webhook endpoint (where Stripe would POST events).
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8000/stripe/webhook"
    )]
    pub webhook: String,
    /// Base URL of your app for setup calls and checks (default: the webhook's origin).
    #[arg(long, value_name = "URL")]
    pub app: Option<String>,
    /// Name of the environment variable holding the endpoint's signing secret (whsec_...).
    #[arg(long, value_name = "NAME", default_value = "STAGING_STRIPE_WHSEC")]
    pub secret_env: String,
    /// Name of the target in luota.yaml.
    #[arg(long, value_name = "NAME", default_value = "staging")]
    pub target: String,
    /// Folder to write into.
    #[arg(long, value_name = "D", default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite existing files without asking.
    #[arg(long)]
    pub force: bool,
}

/// The starter drill's file name under `drills/`.
pub const STARTER_DRILL: &str = "checkout-grants-access.yaml";

fn origin(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with("whsec_")
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The `luota.yaml` text.
pub fn config_text(target: &str, webhook: &str, app: &str, secret_env: &str) -> String {
    let host = reqwest::Url::parse(webhook)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let mut hosts: Vec<String> = Vec::new();
    for h in [
        host,
        reqwest::Url::parse(app)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default(),
    ] {
        if !h.is_empty() && !crate::safety::is_loopback(&h) && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let allowed = if hosts.is_empty() {
        "  allowed_hosts: []                   # loopback is always allowed; add staging hosts here"
            .to_string()
    } else {
        format!(
            "  allowed_hosts: [{}]   # loopback is always allowed; list staging hosts only",
            hosts.iter().map(|h| q(h)).collect::<Vec<_>>().join(", ")
        )
    };
    format!(
        r#"# yaml-language-server: $schema=.luota/config.schema.json
# luota.yaml — where drills send events and where they read your app's state.
# Check it with `luota validate`; see every key with `luota schema config`.

drills: drills                       # what `luota run` runs with no paths
default_target: {target}             # `luota run --target demo` runs against the built-in demo app

targets:
  {target}:
    # The webhook endpoint of your STAGING app (never production).
    webhook: {webhook}
    # Base URL for setup calls and checks; drills read it as {{{{ target.app }}}}.
    app: {app}
    # The NAME of the environment variable that holds the endpoint's signing
    # secret (whsec_...). The secret itself never goes in this file:
    #   export {secret_env}=whsec_...
    secret_env: {secret_env}
    # secondary_secret_env: STAGING_CONNECT_WHSEC   # a second valid secret (rotation, Connect)
    # headers:                                       # sent with setup calls and checks
    #   Authorization: "Bearer {{{{ env.STAGING_INTERNAL_TOKEN }}}}"
    # environment: production                        # luota refuses to send to such a target

defaults:
  timeout: 10s                       # per delivery and app call
  settle: 1s                         # how long checks must keep holding
  # stale_age: 10m                   # how old `t` is for `signature: stale` / `replayed`
  # api_version: 2025-08-27.basil    # event shapes differ before and after basil

safety:
{allowed}

# Your app's access policy: checks can compare with it, e.g.
#   json: {{ $.access: {{ policy: access, status: past_due }} }}
# policy:
#   access: {{ active: full, trialing: full, past_due: grace, unpaid: none, canceled: none }}
#   plans:
#     pro: {{ credits: 100, seats: 5 }}   # keyed by the price's lookup_key (or id)
"#,
        webhook = q(webhook),
        app = q(app),
    )
}

/// The starter drill.
pub const STARTER_DRILL_TEXT: &str = r#"# yaml-language-server: $schema=../.luota/drill.schema.json
# A starter drill: a completed checkout must grant access, exactly once, even
# when Stripe delivers the event twice. Adapt the three TODOs to your app, then
#   luota validate && luota run
drill: Paid checkout grants access
about: A completed checkout must unlock the paid plan within 10 s, once, even when replayed.
owner: billing-oncall                # TODO: who is paged when this fails
tags: [checkout]

vars:
  user: "user_{{ run.uid }}"         # run.uid is unique per run: no clashes between runs
  customer: "cus_{{ run.uid }}"

setup:
  # TODO: create the user the checkout belongs to, through your app's test API.
  - http: POST {{ target.app }}/test/users
    json: { id: "{{ user }}", email: "{{ user }}@example.test" }

events:
  checkout:
    type: checkout.session.completed # `luota event checkout.session.completed` shows the whole event
    set:                             # overrides inside data.object
      client_reference_id: "{{ user }}"
      customer: "{{ customer }}"

deliver:
  - send: checkout                   # signed like Stripe; expects 2xx
  - send: checkout                   # a replay: same event id, fresh signature
    after: 500ms

expect:
  within: 10s
  checks:
    # TODO: read your app's state for this user; JSONPath -> expected value.
    - name: customer has paid access
      stage: access
      http: GET {{ target.app }}/internal/users/{{ user }}
      json: { $.access: full }
  stable:                            # must not move after the first accepted delivery
    - http: GET {{ target.app }}/internal/users/{{ user }}
      json: [$.access]
"#;

/// Ask on the terminal whether to overwrite `path`.
fn ask_overwrite(path: &Path) -> bool {
    eprint!("{} exists; overwrite it? [y/N] ", path.display());
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

pub fn init(args: InitArgs) -> i32 {
    let Some(webhook_origin) = origin(&args.webhook) else {
        eprintln!("error: --webhook `{}` is not an http(s) URL", args.webhook);
        return exit::INVALID_INPUT;
    };
    if !matches!(
        reqwest::Url::parse(&args.webhook)
            .map(|u| u.scheme().to_string())
            .as_deref(),
        Ok("http" | "https")
    ) {
        eprintln!("error: --webhook `{}` is not an http(s) URL", args.webhook);
        return exit::INVALID_INPUT;
    }
    let app = match &args.app {
        Some(a) => match origin(a) {
            Some(_) => a.trim_end_matches('/').to_string(),
            None => {
                eprintln!("error: --app `{a}` is not an http(s) URL");
                return exit::INVALID_INPUT;
            }
        },
        None => webhook_origin,
    };
    if !valid_env_name(&args.secret_env) {
        eprintln!(
            "error: --secret-env `{}` is not an environment variable name (letters, digits, _)",
            args.secret_env
        );
        if args.secret_env.starts_with("whsec_") {
            eprintln!("  = help: pass the NAME of the variable that holds the secret, never the secret itself");
        }
        return exit::INVALID_INPUT;
    }
    if args.target == crate::config::DEMO_TARGET
        || args.target.is_empty()
        || !args
            .target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        eprintln!(
            "error: --target `{}` must be a plain name (letters, digits, - and _), not `demo`",
            args.target
        );
        return exit::INVALID_INPUT;
    }

    let files: Vec<(PathBuf, String)> = vec![
        (
            args.dir.join(crate::config::CONFIG_FILE),
            config_text(&args.target, &args.webhook, &app, &args.secret_env),
        ),
        (
            args.dir.join("drills").join(STARTER_DRILL),
            STARTER_DRILL_TEXT.to_string(),
        ),
        // What the modelines point at: editors complete and check offline,
        // against this luota's own language.
        (
            args.dir.join(".luota/config.schema.json"),
            super::schema::schema_json(super::schema::SchemaKind::Config),
        ),
        (
            args.dir.join(".luota/drill.schema.json"),
            super::schema::schema_json(super::schema::SchemaKind::Drill),
        ),
    ];
    // Decide about every existing file before writing anything.
    let tty = std::io::stdin().is_terminal();
    let mut write = Vec::new();
    for (path, text) in files {
        if path.exists() && !args.force {
            if !tty {
                eprintln!(
                    "error: {} exists; not overwriting it without a terminal to ask on (pass --force to overwrite)",
                    path.display()
                );
                return exit::INVALID_INPUT;
            }
            if !ask_overwrite(&path) {
                eprintln!("kept {}", path.display());
                continue;
            }
        }
        write.push((path, text));
    }
    for (path, text) in &write {
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                eprintln!("error: cannot create {}: {e}", parent.display());
                return exit::NOT_CARRIED_OUT;
            }
        }
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return exit::NOT_CARRIED_OUT;
        }
        println!("wrote {}", path.display());
    }
    println!(
        "\nnext:\n  1. adapt the TODOs in drills/{STARTER_DRILL} to your app's test and state endpoints\n  2. luota validate\n  3. export {}=whsec_...   (the staging endpoint's signing secret)\n  4. luota run",
        args.secret_env
    );
    exit::PASSED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_text_parses_and_lists_non_loopback_hosts() {
        let t = config_text(
            "staging",
            "https://staging.example.test/stripe/webhook",
            "https://staging.example.test",
            "STAGING_WHSEC",
        );
        let c: crate::config::Config = serde_yaml::from_str(&t).unwrap();
        assert_eq!(c.default_target, "staging");
        assert_eq!(c.safety.allowed_hosts, vec!["staging.example.test"]);
        assert_eq!(c.targets["staging"].secret_env, "STAGING_WHSEC");
        let t = config_text("s", "http://127.0.0.1:8000/w", "http://127.0.0.1:8000", "X");
        let c: crate::config::Config = serde_yaml::from_str(&t).unwrap();
        assert!(c.safety.allowed_hosts.is_empty());
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("STAGING_WHSEC"));
        assert!(!valid_env_name("whsec_abc-1"));
        assert!(!valid_env_name("1X"));
        assert!(!valid_env_name("whsec_abc123"));
    }
}
