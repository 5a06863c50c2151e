//! The deploy under test: its SHA, read once at run start.
//!
//! A target's `deploy_sha:` in `luota.yaml` is either `{env: NAME}` (CI
//! usually exports the deployed commit) or `{url: URL, json: JSONPATH}` (a
//! version endpoint of the app). The URL goes through the same safety rails as
//! every other request. A SHA that cannot be read does not stop the run: the
//! record says why it is unknown.

use std::time::Duration;

use serde_json_path::JsonPath;

use crate::config::{Config, DeploySha, DEMO_TARGET};
use crate::record::DeployRecord;
use crate::safety;

/// Read the deploy SHA of `target` (`None` when the target does not say how).
/// A `{url: ...}` is fetched trusting the target's `ca_file` (`ca_pem`) too.
pub async fn read(
    config: &Config,
    target: &str,
    secret_envs: &[String],
    ca_pem: Option<&[u8]>,
) -> Option<DeployRecord> {
    if target == DEMO_TARGET {
        return Some(DeployRecord {
            sha: Some(format!("luota-{}", env!("CARGO_PKG_VERSION"))),
            source: "embedded demo".into(),
            error: None,
        });
    }
    let how = config.targets.get(target)?.deploy_sha.as_ref()?;
    Some(match how {
        DeploySha::Env { env } => {
            let source = format!("env {env}");
            if secret_envs.iter().any(|s| s == env) {
                return Some(DeployRecord {
                    sha: None,
                    source,
                    error: Some("refused: that variable is the target's signing secret".into()),
                });
            }
            match std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
                Some(v) => DeployRecord {
                    sha: Some(v.trim().to_string()),
                    source,
                    error: None,
                },
                None => DeployRecord {
                    sha: None,
                    source,
                    error: Some(format!("`{env}` is not set")),
                },
            }
        }
        DeploySha::Url { url, json } => {
            let source = format!("GET {} {json}", safety::redact_url(url));
            match from_url(
                url,
                json,
                &config.safety.allowed_hosts,
                config.defaults.timeout,
                ca_pem,
            )
            .await
            {
                Ok(sha) => DeployRecord {
                    sha: Some(sha),
                    source,
                    error: None,
                },
                Err(e) => DeployRecord {
                    sha: None,
                    source,
                    error: Some(e),
                },
            }
        }
    })
}

async fn from_url(
    url: &str,
    json: &str,
    allowed: &[String],
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<String, String> {
    safety::check_url(url, allowed).map_err(|e| e.to_string())?;
    let path = JsonPath::parse(json).map_err(|e| format!("bad JSONPath `{json}`: {e}"))?;
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout);
    let client = crate::deliver::tls::trust_extra_ca(builder, ca_pem)
        .map_err(|e| format!("`ca_file`: {e}"))?
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url).send().await.map_err(|e| {
        let (_, msg) = crate::deliver::classify(&e, timeout);
        msg
    })?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("the version endpoint answered {status}"));
    }
    let body = crate::deliver::read_capped(resp, timeout).await?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| "the version endpoint did not answer JSON".to_string())?;
    match crate::check::extract(&path, &v) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(serde_json::Value::Null) | None => Err(format!("nothing at {json}")),
        Some(other) => Ok(other.to_string()),
    }
}
