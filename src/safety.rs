//! Safety rails: a chaos tool must not hurt production.
//!
//! Every outbound request's host must be loopback or listed in
//! `safety.allowed_hosts`; a target marked `environment: production` and an
//! event carrying `livemode: true` are refused. A `whsec_` secret carries no
//! live/test marker, so the host rule is the guard.
//!
//! The rules, each with its own test in `tests/production.rs`:
//!
//! | rule | checked | where |
//! |---|---|---|
//! | host not in `safety.allowed_hosts` (loopback always allowed) | webhook, `app`, every setup call and HTTP check URL | [`check_url`] at target resolution and before each drill |
//! | `environment: production` | the target | target resolution |
//! | `livemode: true` | the event envelope and `data.object` (via `set:` or `payload:`) | planning |
//! | a live key (`sk_live_`, `rk_live_`) | the secret env values, configured header values (raw and rendered) | target resolution and before each drill |
//! | plain `http://` to a non-loopback host | webhook, `app`, setup and check URLs | unless the target says `allow_plain_http: true` |
//!
//! A refusal is exit 3 (not carried out), names the rule, and says how to proceed.

use std::net::IpAddr;

/// Why luota refused to send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: host `{host}` ({url}) is not in the allowed hosts; add it under `safety.allowed_hosts` in luota.yaml if it is a staging host")]
    HostNotAllowed { host: String, url: String },
    #[error("refused: `{url}` is not an http(s) URL")]
    BadUrl { url: String },
    #[error("refused: target `{target}` is marked `environment: production`; luota only runs against staging — pick a staging target with `--target NAME`")]
    Production { target: String },
    #[error("refused: event `{event}` says `livemode: true`; drills only send test-mode events — remove `livemode: true` from the event's `set:`/`payload:`")]
    Livemode { event: String },
    #[error("refused: {place} looks like a live Stripe key (`sk_live_`/`rk_live_`); luota only runs with test-mode credentials — configure the staging (test-mode) key instead")]
    LiveKey { place: String },
    #[error("refused: `{url}` is plain http to a non-loopback host; use https, or set `allow_plain_http: true` on the target if this staging host really has no TLS")]
    PlainHttp { url: String },
}

/// Prefixes of live-mode Stripe keys.
pub const LIVE_KEY_MARKERS: [&str; 2] = ["sk_live_", "rk_live_"];

/// True when `value` contains a live-mode Stripe key anywhere.
pub fn has_live_key(value: &str) -> bool {
    LIVE_KEY_MARKERS.iter().any(|m| value.contains(m))
}

/// Refuse `value` (named by `place`, never quoted) if it holds a live key.
pub fn check_not_live(place: &str, value: &str) -> Result<(), Refusal> {
    if has_live_key(value) {
        Err(Refusal::LiveKey {
            place: place.to_string(),
        })
    } else {
        Ok(())
    }
}

/// Refuse plain `http://` to a non-loopback host unless `allow_plain_http`.
pub fn check_plain_http(url: &str, allow_plain_http: bool) -> Result<(), Refusal> {
    if allow_plain_http {
        return Ok(());
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" && !is_loopback(u.host_str().unwrap_or_default()) => {
            Err(Refusal::PlainHttp {
                url: redact_url(url),
            })
        }
        _ => Ok(()),
    }
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

/// Check a database URL's host (`postgres://`, `mysql://`; a `sqlite:` file
/// has none) the same way: SQL checks are outbound requests too.
pub fn check_database_url(url: &str, allowed: &[String]) -> Result<(), Refusal> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        // Not a URL: sqlx will say so when it connects; nothing reached.
        return Ok(());
    };
    if parsed.scheme().starts_with("sqlite") {
        return Ok(());
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() || is_loopback(&host) || allowed.iter().any(|a| host_matches(&host, a)) {
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

/// Whether an event says it is live: `livemode` true (or the string
/// `"true"`, which a template renders) on the envelope or on `data.object`.
pub fn says_livemode(event: &serde_json::Value) -> bool {
    let live = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    };
    live(event.get("livemode")) || live(event.pointer("/data/object/livemode"))
}

/// The password of a URL (a database URL's), percent-decoded as well as raw.
pub fn url_password(url: &str) -> Vec<String> {
    let Some(raw) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
    else {
        return Vec::new();
    };
    let mut out = vec![raw.clone()];
    if let Ok(decoded) = percent_decode(&raw) {
        if decoded != raw {
            out.push(decoded);
        }
    }
    out
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).map_err(|_| ())?;
            out.push(u8::from_str_radix(h, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
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
    fn live_keys_are_found_anywhere_in_a_value() {
        assert!(has_live_key("Bearer sk_live_abc"));
        assert!(has_live_key("rk_live_x"));
        assert!(!has_live_key("Bearer sk_test_abc"));
        let e = check_not_live("header `Authorization`", "sk_live_zzz").unwrap_err();
        assert!(!e.to_string().contains("zzz"), "{e}");
    }

    #[test]
    fn plain_http_needs_loopback_or_the_flag() {
        assert!(check_plain_http("http://127.0.0.1:9/w", false).is_ok());
        assert!(check_plain_http("https://staging.example.test/w", false).is_ok());
        let e = check_plain_http("http://staging.example.test/w", false).unwrap_err();
        assert!(e.to_string().contains("allow_plain_http"), "{e}");
        assert!(check_plain_http("http://staging.example.test/w", true).is_ok());
    }

    #[test]
    fn database_hosts_follow_the_allowed_hosts() {
        let allowed = vec!["db.staging.test".to_string()];
        assert!(check_database_url("postgres://u:p@127.0.0.1:5432/db", &[]).is_ok());
        assert!(check_database_url("postgres://u:p@db.staging.test/db", &allowed).is_ok());
        assert!(check_database_url("sqlite:///tmp/x.db", &[]).is_ok());
        let e = check_database_url("mysql://u:secretpw@10.255.255.1/db", &allowed).unwrap_err();
        assert!(e.to_string().contains("10.255.255.1"));
        assert!(!e.to_string().contains("secretpw"), "{e}");
    }

    #[test]
    fn url_password_gives_the_raw_and_decoded_password() {
        assert_eq!(
            url_password("postgres://u:p%40ss@127.0.0.1/db"),
            vec!["p%40ss".to_string(), "p@ss".to_string()]
        );
        assert!(url_password("postgres://u@127.0.0.1/db").is_empty());
        assert!(url_password("not a url").is_empty());
    }

    #[test]
    fn redaction_drops_passwords_and_queries() {
        let r = redact_url("https://u:hunter2@h.test/x?token=abc");
        assert!(!r.contains("hunter2") && !r.contains("abc"), "{r}");
    }
}
