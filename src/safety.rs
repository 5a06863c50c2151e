//! Safety rails: a chaos tool must not hurt production.
//!
//! Every outbound request's host must be loopback or listed in
//! `safety.allowed_hosts`; a target marked `environment: production` and an
//! event carrying `livemode: true` are refused. A `whsec_` secret carries no
//! live/test marker, so the host rule is the guard.

use std::net::IpAddr;

/// Why luota refused to send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: host `{host}` ({url}) is not in the allowed hosts; add it under `safety.allowed_hosts` in luota.yaml if it is a staging host")]
    HostNotAllowed { host: String, url: String },
    #[error("refused: `{url}` is not an http(s) URL")]
    BadUrl { url: String },
    #[error("refused: target `{target}` is marked `environment: production`; luota only runs against staging")]
    Production { target: String },
    #[error("refused: event `{event}` says `livemode: true`; drills only send test-mode events")]
    Livemode { event: String },
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Check that `url` may be reached under `allowed` (exact host names or `*.suffix`).
pub fn check_url(url: &str, allowed: &[String]) -> Result<(), Refusal> {
    let parsed = reqwest::Url::parse(url).map_err(|_| Refusal::BadUrl {
        url: url.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refusal::BadUrl {
            url: url.to_string(),
        });
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if is_loopback(&host) || allowed.iter().any(|a| host_matches(&host, a)) {
        Ok(())
    } else {
        Err(Refusal::HostNotAllowed {
            host,
            url: redact_url(url),
        })
    }
}

fn host_matches(host: &str, pattern: &str) -> bool {
    let p = pattern.trim().to_ascii_lowercase();
    match p.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == p,
    }
}

/// A URL without its password or query string (which may carry tokens).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("redacted"));
            }
            if u.query().is_some() {
                u.set_query(Some("redacted"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_allowed() {
        assert!(check_url("http://127.0.0.1:8080/webhook", &[]).is_ok());
        assert!(check_url("http://localhost/x", &[]).is_ok());
        assert!(check_url("http://[::1]:9/x", &[]).is_ok());
    }

    #[test]
    fn other_hosts_need_to_be_listed() {
        let err = check_url("https://api.example.com/webhook", &[]).unwrap_err();
        assert!(err.to_string().contains("safety.allowed_hosts"));
        assert!(check_url(
            "https://staging.example.test/w",
            &["staging.example.test".into()]
        )
        .is_ok());
        assert!(check_url(
            "https://a.staging.example.test/w",
            &["*.staging.example.test".into()]
        )
        .is_ok());
        assert!(check_url(
            "https://evilstaging.example.test/w",
            &["*.staging.example.test".into()]
        )
        .is_err());
        assert!(check_url("file:///etc/passwd", &[]).is_err());
    }

    #[test]
    fn redaction_drops_passwords_and_queries() {
        let r = redact_url("https://u:hunter2@h.test/x?token=abc");
        assert!(!r.contains("hunter2") && !r.contains("abc"), "{r}");
    }
}
