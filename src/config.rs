//! `luota.yaml`: targets, defaults and safety settings.
//!
//! A target names where events go (`webhook`), where state is read (`app`),
//! and the *names* of environment variables holding secrets — never a secret
//! itself. The built-in target `demo` needs no configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::drill::diagnostic::Diagnostic;
use crate::drill::model::parse_duration;

/// The name of the built-in embedded target.
pub const DEMO_TARGET: &str = "demo";
/// The config file looked for in the working directory.
pub const CONFIG_FILE: &str = "luota.yaml";

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The drill folder `luota run` uses when given no paths.
    #[serde(default = "default_drills")]
    pub drills: PathBuf,
    /// The target used when `--target` is not given.
    #[serde(default = "default_target")]
    pub default_target: String,
    #[serde(default)]
    pub targets: IndexMap<String, TargetConfig>,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub safety: Safety,
    /// The app's access policy, for checks that compare with it (`{policy: access, ...}`).
    /// A target's own `policy` replaces this one.
    #[serde(default)]
    pub policy: Option<Policy>,
}

/// What the app promises: access per subscription status, and limits per plan.
///
/// Checks compare what the app shows with the policy's answer for the
/// subscription state a drill puts it in, so an incident can say "expected
/// access grace (policy for status past_due), observed full".
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Subscription status (`active`, `past_due`, ...) → the access the app should give.
    #[serde(default)]
    pub access: IndexMap<String, serde_json::Value>,
    /// Plan (the price's `lookup_key`, or its id) → limits (`{credits: 100, seats: 5}`).
    #[serde(default)]
    pub plans: IndexMap<String, IndexMap<String, serde_json::Value>>,
}

impl Policy {
    /// The embedded demo app's policy (mirrors `demo::billing::policy_access`).
    pub fn demo() -> Policy {
        let access = [
            ("active", "full"),
            ("trialing", "full"),
            ("past_due", "grace"),
            ("paused", "none"),
            ("unpaid", "none"),
            ("canceled", "none"),
            ("incomplete", "none"),
            ("incomplete_expired", "none"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
        .collect();
        let mut pro = IndexMap::new();
        pro.insert("credits".to_string(), serde_json::Value::from(100));
        let mut plans = IndexMap::new();
        plans.insert("pro".to_string(), pro);
        Policy { access, plans }
    }
}

fn default_drills() -> PathBuf {
    PathBuf::from("drills")
}

fn default_target() -> String {
    DEMO_TARGET.to_string()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            drills: default_drills(),
            default_target: default_target(),
            targets: IndexMap::new(),
            defaults: Defaults::default(),
            safety: Safety::default(),
            policy: None,
        }
    }
}

/// One target: a deployed handler and the app behind it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The webhook endpoint URL events are POSTed to.
    pub webhook: String,
    /// Base URL of the app for setup calls and checks (`target.app`).
    #[serde(default)]
    pub app: Option<String>,
    /// Name of the env var holding the signing secret (`whsec_...`).
    pub secret_env: String,
    /// Name of the env var holding a second valid secret (Connect endpoint, rotation).
    #[serde(default)]
    pub secondary_secret_env: Option<String>,
    /// This app's access policy (replaces the top-level `policy`).
    #[serde(default)]
    pub policy: Option<Policy>,
    /// Name of the env var holding the database URL for `sql` checks.
    #[serde(default)]
    pub database_env: Option<String>,
    /// Headers sent with setup calls and checks (values templated; may use `env.NAME`).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// `production` makes luota refuse to send.
    #[serde(default)]
    pub environment: Option<String>,
    /// How to read the deploy SHA under test, once at run start.
    #[serde(default)]
    pub deploy_sha: Option<DeploySha>,
    /// Allow plain `http://` to this target's non-loopback hosts (default: refused).
    #[serde(default)]
    pub allow_plain_http: bool,
    /// A PEM file of extra CA certificates to trust for this target's `https://`
    /// URLs (a staging CA), besides the public roots; relative to luota.yaml.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Where the deploy SHA comes from: `{env: NAME}` or `{url: URL, json: JSONPATH}`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum DeploySha {
    Env { env: String },
    Url { url: String, json: String },
}

/// Run defaults.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub api_version: Option<String>,
    /// Client timeout per delivery and app call.
    #[serde(default = "default_timeout", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub timeout: Duration,
    /// First poll interval; polling backs off to `poll_max`.
    #[serde(default = "default_poll", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub poll_interval: Duration,
    #[serde(default = "default_poll_max", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub poll_max: Duration,
    /// How long checks must keep holding after the last delivery.
    #[serde(default = "default_settle", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub settle: Duration,
    /// How old `t` is for the `stale` and `replayed` signature modes (default 10m;
    /// Stripe's SDKs reject anything older than their 300 s tolerance).
    #[serde(default = "default_shift", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub stale_age: Duration,
    /// How far ahead `t` is for the `future` signature mode (default 10m).
    #[serde(default = "default_shift", with = "duration_text")]
    #[schemars(with = "crate::cli::schema::DurationTextSchema")]
    pub future_by: Duration,
}

fn default_shift() -> Duration {
    Duration::from_secs(600)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_poll() -> Duration {
    Duration::from_millis(20)
}
/// 100 ms, not 250 ms: with a 250 ms cap a late state flip was noticed a median of over 100 ms
/// late (BENCHMARKS.md, feedback latency); 100 ms brings that under 100 ms for a few more reads.
fn default_poll_max() -> Duration {
    Duration::from_millis(100)
}
fn default_settle() -> Duration {
    Duration::from_secs(1)
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            api_version: None,
            timeout: default_timeout(),
            poll_interval: default_poll(),
            poll_max: default_poll_max(),
            settle: default_settle(),
            stale_age: default_shift(),
            future_by: default_shift(),
        }
    }
}

impl Defaults {
    /// The time shifts of the `stale`, `replayed` and `future` signature modes.
    pub fn sign_options(&self) -> crate::stripe::signature::SignOptions {
        crate::stripe::signature::SignOptions {
            stale_age_secs: self.stale_age.as_secs() as i64,
            future_secs: self.future_by.as_secs() as i64,
        }
    }
}

/// Safety rails.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// Hosts outbound requests may reach besides loopback (`staging.example.test`, `*.staging.example.test`).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

mod duration_text {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Load the config: `explicit` if given (must exist), else `luota.yaml` in the
/// working directory if present, else the defaults.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), Diagnostic> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(CONFIG_FILE);
            if !p.exists() {
                return Ok((Config::default(), None));
            }
            p
        }
    };
    let source = crate::drill::load::read_bounded(&path, crate::drill::load::MAX_FILE_BYTES)
        .map_err(|e| {
            Diagnostic::new(&path, "", 1, 1, format!("cannot read config: {e}"))
                .with_help("create it with `luota init`, or pass --config PATH")
        })?;
    let mut config: Config = serde_yaml::from_str(&source)
        .map_err(|e| crate::drill::load::from_yaml_error(&path, &source, &e))?;
    // Paths in the file are relative to the file, wherever luota runs from
    // (`--config ../luota.yaml` still finds its `drills:` and `ca_file`s).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if config.drills.is_relative() {
            config.drills = dir.join(&config.drills);
        }
        for t in config.targets.values_mut() {
            if let Some(ca) = t.ca_file.as_mut().filter(|c| c.is_relative()) {
                *ca = dir.join(&*ca);
            }
        }
    }
    check_env_names(&path, &source, &config)?;
    if let Some((name, _)) = config
        .targets
        .iter()
        .find(|(n, _)| n.as_str() == DEMO_TARGET)
    {
        return Err(Diagnostic::new(
            &path,
            &source,
            1,
            1,
            format!("target `{name}` is built in and cannot be redefined"),
        )
        .with_help("give your target another name"));
    }
    Ok((config, Some(path)))
}

/// `secret_env`, `secondary_secret_env` and `database_env` name variables.
/// A value pasted there instead (`secret_env: whsec_…`) is refused without
/// showing it: not in the message, and not the source line either, since
/// every error message can end up in a report.
fn check_env_names(path: &Path, source: &str, config: &Config) -> Result<(), Diagnostic> {
    let spans = crate::drill::span::SpanIndex::build(source);
    for (name, t) in &config.targets {
        let fields = [
            ("secret_env", Some(&t.secret_env)),
            ("secondary_secret_env", t.secondary_secret_env.as_ref()),
            ("database_env", t.database_env.as_ref()),
        ];
        for (key, value) in fields {
            let Some(value) = value else { continue };
            let is_name = value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let looks_secret = ["whsec_", "sk_", "rk_", "pk_"]
                .iter()
                .any(|p| value.starts_with(p))
                || value.contains("://");
            if is_name && !looks_secret {
                continue;
            }
            let at = spans
                .value(&format!("targets.{name}.{key}"))
                .unwrap_or(crate::drill::span::Pos { line: 1, col: 1 });
            let what = if looks_secret {
                "looks like the secret itself (not shown)"
            } else {
                "is not an environment variable name (the value is not shown)"
            };
            return Err(Diagnostic::new(
                path,
                "",
                at.line,
                at.col,
                format!("target `{name}`: `{key}` {what}; it must name the variable that holds it"),
            )
            .with_help(format!(
                "export the value under a name, e.g. `export STAGING_WHSEC=…`, and write `{key}: STAGING_WHSEC`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_file() {
        let c: Config = serde_yaml::from_str("{}").unwrap();
        assert_eq!(c.default_target, "demo");
        assert_eq!(c.drills, PathBuf::from("drills"));
        assert_eq!(c.defaults.settle, Duration::from_secs(1));
    }

    #[test]
    fn a_target_names_env_vars_not_secrets() {
        let c: Config = serde_yaml::from_str(
            "targets:\n  staging:\n    webhook: https://staging.example.test/webhook\n    secret_env: STAGING_WHSEC\n",
        )
        .unwrap();
        assert_eq!(c.targets["staging"].secret_env, "STAGING_WHSEC");
        assert!(serde_yaml::from_str::<Config>(
            "targets:\n  s:\n    webhook: x\n    secret: whsec_x\n    secret_env: A\n"
        )
        .is_err());
    }
}
