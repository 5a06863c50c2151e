//! Resolving a target: URLs, secrets read from the environment, and the
//! embedded `demo` app started in-process when the target is `demo`.

use std::fmt;

use indexmap::IndexMap;

use crate::config::{Config, Policy, DEMO_TARGET};
use crate::demo::{DemoOptions, DemoServer, Fault};
use crate::safety::{self, Refusal};

/// A secret value: never printed. `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a target could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown target `{name}`{hint}; targets: {known}")]
    Unknown {
        name: String,
        known: String,
        /// ` (did you mean `staging`?)` when a target is close.
        hint: String,
    },
    #[error("target `{target}`: the variable `{var}` is not set; export it and run again (secrets are read from the environment, never from files)")]
    MissingSecret { target: String, var: String },
    #[error("target `{target}`: {refusal}")]
    Refused { target: String, refusal: Refusal },
    #[error("could not start the demo app: {0}")]
    Demo(String),
    #[error("--demo-fault only applies to the `demo` target, not `{0}`: drop --target (it then picks `demo`) or pass --target demo")]
    FaultNotDemo(String),
    #[error("target `{target}`: cannot use `ca_file` {path}: {why}; name a PEM file of the CA that signed the staging host's certificate")]
    CaFile {
        target: String,
        path: String,
        why: String,
    },
}

/// Read and parse a target's `ca_file`: the PEM bytes (for reqwest) and the
/// TLS config of `together` groups (public roots + that CA).
pub fn load_ca(
    name: &str,
    t: &crate::config::TargetConfig,
) -> Result<(Option<Vec<u8>>, std::sync::Arc<rustls::ClientConfig>), TargetError> {
    let ca_error = |why: String| TargetError::CaFile {
        target: name.to_string(),
        path: t
            .ca_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        why,
    };
    let ca_pem = match &t.ca_file {
        // Bounded like every user file: a FIFO or /dev/zero named as
        // `ca_file` is an error, not a hang.
        Some(p) => Some(
            crate::drill::load::read_bounded_bytes(p, crate::drill::load::MAX_FILE_BYTES)
                .map_err(|e| ca_error(e.to_string()))?,
        ),
        None => None,
    };
    let tls = crate::deliver::tls::client_config(ca_pem.as_deref()).map_err(ca_error)?;
    Ok((ca_pem, tls))
}

impl TargetError {
    /// `name` is no target of `config`: the known ones, and the nearest.
    pub fn unknown(config: &Config, name: &str) -> TargetError {
        let names: Vec<&str> = std::iter::once(DEMO_TARGET)
            .chain(config.targets.keys().map(String::as_str))
            .collect();
        TargetError::Unknown {
            name: name.to_string(),
            hint: crate::drill::diagnostic::nearest(name, names.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default(),
            known: names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Unknown targets and misused flags are invalid input; the rest mean
    /// the run could not be carried out.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            TargetError::Unknown { .. } | TargetError::FaultNotDemo(_) | TargetError::CaFile { .. }
        )
    }
}

/// A resolved target, ready to send to.
pub struct Target {
    pub name: String,
    pub webhook: String,
    pub app: String,
    pub secret: Secret,
    pub secondary: Option<Secret>,
    /// The database URL for `sql` checks.
    pub database: Option<Secret>,
    /// Header templates for setup calls and checks.
    pub headers: IndexMap<String, String>,
    pub allowed_hosts: Vec<String>,
    /// The target allows plain `http://` to non-loopback hosts.
    pub allow_plain_http: bool,
    /// Names of env vars templates must never read.
    pub secret_env_names: Vec<String>,
    /// The app's access policy (the target's own, else the config's; the demo has its own).
    pub policy: Option<Policy>,
    /// Extra CA certificates (PEM) to trust for `https://` (`ca_file`).
    pub ca_pem: Option<Vec<u8>>,
    /// The TLS client config for `together` groups (public roots + `ca_pem`).
    pub tls: std::sync::Arc<rustls::ClientConfig>,
    /// The in-process demo app, when the target is `demo`.
    pub demo: Option<DemoServer>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("webhook", &self.webhook)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

/// A fresh random `whsec_` secret for the in-process demo.
pub fn random_secret() -> Secret {
    use rand::distributions::{Alphanumeric, DistString};
    Secret(format!(
        "whsec_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
    ))
}

impl Target {
    /// Resolve `name` from the config; `demo` starts the embedded app.
    pub async fn resolve(
        config: &Config,
        name: &str,
        fault: Option<Fault>,
    ) -> Result<Target, TargetError> {
        if name == DEMO_TARGET {
            // The demo is an app like any other: the config's policy, if it
            // declares one, else the demo's own.
            let mut t = Target::demo(fault).await?;
            t.policy = Some(config.policy.clone().unwrap_or_else(Policy::demo));
            return Ok(t);
        }
        if fault.is_some() {
            return Err(TargetError::FaultNotDemo(name.to_string()));
        }
        let t = config
            .targets
            .get(name)
            .ok_or_else(|| TargetError::unknown(config, name))?;
        // Input first (exit 2 outranks the refusals and missing secrets below).
        let (ca_pem, tls) = load_ca(name, t)?;
        let refuse = |refusal| TargetError::Refused {
            target: name.to_string(),
            refusal,
        };
        if t.environment
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("production") || e.eq_ignore_ascii_case("prod"))
        {
            return Err(refuse(Refusal::Production {
                target: name.to_string(),
            }));
        }
        let app = t.app.clone().unwrap_or_else(|| origin_of(&t.webhook));
        for url in [&t.webhook, &app] {
            safety::check_url(url, &config.safety.allowed_hosts).map_err(refuse)?;
            safety::check_plain_http(url, t.allow_plain_http).map_err(refuse)?;
        }
        // A live key pasted anywhere in the target's config (a header, a URL).
        for (k, v) in &t.headers {
            safety::check_not_live(&format!("the configured header `{k}`"), v).map_err(refuse)?;
        }
        for (field, v) in [("webhook", &t.webhook), ("app", &app)] {
            safety::check_not_live(&format!("the target's `{field}` URL"), v).map_err(refuse)?;
        }
        let read = |var: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret)
        };
        let secret = read(&t.secret_env).ok_or_else(|| TargetError::MissingSecret {
            target: name.to_string(),
            var: t.secret_env.clone(),
        })?;
        let secondary = match &t.secondary_secret_env {
            Some(var) => Some(read(var).ok_or_else(|| TargetError::MissingSecret {
                target: name.to_string(),
                var: var.clone(),
            })?),
            None => None,
        };
        let database = match &t.database_env {
            Some(var) => Some(read(var).ok_or_else(|| TargetError::MissingSecret {
                target: name.to_string(),
                var: var.clone(),
            })?),
            None => None,
        };
        // A live key in the secret variables: a whsec_ has no live marker, but
        // a pasted API key does.
        for (var, value) in std::iter::once((&t.secret_env, Some(&secret)))
            .chain(t.secondary_secret_env.iter().zip([secondary.as_ref()]))
            .chain(t.database_env.iter().zip([database.as_ref()]))
        {
            if let Some(v) = value {
                safety::check_not_live(&format!("the value of `{var}`"), v.expose())
                    .map_err(refuse)?;
            }
        }
        if let Some(db) = &database {
            safety::check_database_url(db.expose(), &config.safety.allowed_hosts)
                .map_err(refuse)?;
        }
        let mut secret_env_names = vec![t.secret_env.clone()];
        secret_env_names.extend(t.secondary_secret_env.clone());
        secret_env_names.extend(t.database_env.clone());
        Ok(Target {
            name: name.to_string(),
            webhook: t.webhook.clone(),
            app: app.trim_end_matches('/').to_string(),
            secret,
            secondary,
            database,
            headers: t.headers.clone(),
            allowed_hosts: config.safety.allowed_hosts.clone(),
            allow_plain_http: t.allow_plain_http,
            secret_env_names,
            policy: t.policy.clone().or_else(|| config.policy.clone()),
            ca_pem,
            tls,
            demo: None,
        })
    }

    /// Start the embedded demo on an ephemeral loopback port with fresh secrets.
    pub async fn demo(fault: Option<Fault>) -> Result<Target, TargetError> {
        let secret = random_secret();
        let secondary = random_secret();
        let opts = DemoOptions {
            secret: secret.expose().to_string(),
            secondary_secret: Some(secondary.expose().to_string()),
            fault,
            db_path: None,
            future_window_secs: 300,
            effect_delay: None,
        };
        let server = DemoServer::start(([127, 0, 0, 1], 0).into(), opts)
            .await
            .map_err(|e| TargetError::Demo(e.to_string()))?;
        let app = server.base_url();
        Ok(Target {
            name: DEMO_TARGET.to_string(),
            webhook: format!("{app}/webhook"),
            app,
            secret,
            secondary: Some(secondary),
            database: Some(Secret::new(server.database_url.clone())),
            headers: IndexMap::new(),
            allowed_hosts: Vec::new(),
            allow_plain_http: false,
            secret_env_names: Vec::new(),
            policy: Some(Policy::demo()),
            ca_pem: None,
            tls: crate::deliver::tls::public_roots(),
            demo: Some(server),
        })
    }

    /// Stop the in-process demo, if any.
    pub async fn shutdown(self) {
        if let Some(d) = self.demo {
            d.shutdown().await;
        }
    }
}

pub(crate) fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_string(),
    }
}
