//! Never hang: a hostile handler, one test per network fault. Each asserts a
//! clear per-delivery verdict within its bound (the configured 1 s client
//! timeout; the latency bound checked is a generous multiple of it, since
//! speed is for benchmarks) and that the run went on: a second drill in the
//! same run, which meets a well-behaved handler, still runs and passes.

mod builder;
mod hostile_server;

use std::path::Path;

use builder::{Ran, Test};
use hostile_server::{Mode, Server};
use serde_json::Value;

const SECRET: &str = "whsec_hostile_test_never_print_0123456789";
/// The client timeout the config sets, and the bound every delivery must keep.
const TIMEOUT_MS: f64 = 1000.0;
const BOUND_MS: f64 = 5.0 * TIMEOUT_MS;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

struct Outcome {
    ran: Ran,
    report: Value,
    server: Server,
}

impl Outcome {
    fn drill(&self, i: usize) -> &Value {
        &self.report["drills"][i]
    }
    /// Every delivery of drill `i`.
    fn deliveries(&self, i: usize) -> Vec<Value> {
        self.drill(i)["steps"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["deliveries"].as_array().unwrap().clone())
            .collect()
    }
    /// The hostile drill's deliveries, each within the bound; the second
    /// drill passed.
    fn hostile_deliveries(&self) -> Vec<Value> {
        let d = self.deliveries(0);
        assert!(!d.is_empty(), "{:#}", self.report);
        for x in &d {
            let ms = x["latency_ms"].as_f64().unwrap();
            assert!(ms < BOUND_MS, "delivery took {ms} ms: {x:#}");
        }
        assert_eq!(
            self.drill(1)["verdict"],
            "passed",
            "the run went on: {:#}\n{}",
            self.drill(1),
            self.ran.stdout
        );
        assert_eq!(self.deliveries(1)[0]["status"], 200);
        d
    }
}

/// Run a hostile drill then a plain one (`--jobs 1`, in that order) against
/// a server whose first `hostile` connections misbehave in `mode`.
fn drill_against(mode: Mode, hostile: usize, first_deliver: &str, code: i32) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(mode, hostile);
    let cfg = write(
        dir.path(),
        "luota.yaml",
        &format!(
            "default_target: h\ntargets:\n  h:\n    webhook: {}\n    secret_env: LUOTA_HOSTILE_SECRET\ndefaults:\n  timeout: 1s\n  settle: 50ms\n",
            server.url("/webhook")
        ),
    );
    let a = write(
        dir.path(),
        "a.yaml",
        &format!("drill: meets the hostile handler\nevents:\n  e: {{ type: invoice.paid }}\ndeliver:\n{first_deliver}"),
    );
    let b = write(
        dir.path(),
        "b.yaml",
        "drill: runs after it\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    );
    let json = dir.path().join("r.json");
    let ran = Test::new()
        .args(["run", &a, &b, "--jobs", "1", "--config", &cfg])
        .args(["--report-json", json.to_str().unwrap()])
        .env("LUOTA_HOSTILE_SECRET", SECRET)
        .status(code)
        .run();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(!ran.stdout.contains(SECRET) && !ran.stderr.contains(SECRET));
    // The figures ci/safety-report.sh collects (informational; asserted below).
    let plan = if first_deliver.contains("together") {
        "together"
    } else {
        "single"
    };
    let steps = report["drills"][0]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for d in steps
        .iter()
        .flat_map(|s| s["deliveries"].as_array().cloned().unwrap_or_default())
    {
        println!(
            "SAFETY-FIGURES hostile mode={mode:?} plan={plan} outcome={} status={} latency_ms={:.0} bound_ms={BOUND_MS:.0} truncated={} next_drill={}",
            d["outcome"].as_str().unwrap_or("?"),
            d["status"],
            d["latency_ms"].as_f64().unwrap_or(f64::NAN),
            d["response_truncated"],
            report["drills"][1]["verdict"].as_str().unwrap_or("?"),
        );
    }
    Outcome {
        ran,
        report,
        server,
    }
}

const ONE: &str = "  - send: e\n";
const TWO_TOGETHER: &str = "  - send: e\n    copies: 2\n    together: true\n";

#[test]
fn mode_accept_and_never_answer_is_a_timeout() {
    let o = drill_against(Mode::Hang, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "timed-out", "{d:#}");
    assert_eq!(d["ok"], false);
    assert!(d["error"]
        .as_str()
        .unwrap()
        .contains("no answer within 1.0s"));
    assert_eq!(o.drill(0)["verdict"], "failed");
    assert!(
        o.ran.stdout.contains("no answer within 1.0s"),
        "{}",
        o.ran.stdout
    );
}

#[test]
fn mode_one_byte_a_second_is_a_timeout() {
    let o = drill_against(Mode::OneBytePerSecond, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "timed-out", "{d:#}");
    assert_eq!(o.drill(0)["verdict"], "failed");
}

#[test]
fn mode_slow_body_after_the_status_is_a_timeout_not_a_success() {
    let o = drill_against(Mode::SlowBody, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "timed-out", "{d:#}");
    assert_eq!(d["status"], 200);
    assert_eq!(d["ok"], false);
    assert!(
        d["error"].as_str().unwrap().contains("body did not finish"),
        "{d:#}"
    );
    assert_eq!(o.drill(0)["verdict"], "failed");
}

#[test]
fn mode_connection_reset_is_a_broken_exchange() {
    let o = drill_against(Mode::Reset, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "broken", "{d:#}");
    assert_eq!(d["ok"], false);
    assert!(
        d["error"].as_str().unwrap().contains("the exchange broke"),
        "{d:#}"
    );
    assert_eq!(o.drill(0)["verdict"], "failed");
}

#[test]
fn mode_non_http_garbage_is_a_broken_exchange() {
    let o = drill_against(Mode::Garbage, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "broken", "{d:#}");
    assert_eq!(d["ok"], false);
    assert_eq!(o.drill(0)["verdict"], "failed");
}

#[test]
fn mode_redirect_is_a_failed_delivery_and_is_not_followed() {
    let o = drill_against(Mode::Redirect, 1, ONE, 1);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "answered", "{d:#}");
    assert_eq!(d["status"], 302);
    assert_eq!(d["ok"], false, "Stripe counts 3xx as failure");
    assert_eq!(o.drill(0)["verdict"], "failed");
    assert!(
        !o.server.paths().iter().any(|p| p == "/redirected"),
        "the redirect was followed: {:?}",
        o.server.paths()
    );
    assert!(
        o.ran.stdout.contains("answered 302, expected 2xx"),
        "{}",
        o.ran.stdout
    );
}

#[test]
fn mode_endless_body_is_cut_at_the_cap_and_reported() {
    let o = drill_against(Mode::EndlessBody, 1, ONE, 0);
    let d = &o.hostile_deliveries()[0];
    assert_eq!(d["outcome"], "answered", "{d:#}");
    assert_eq!(d["status"], 200);
    assert_eq!(d["response_truncated"], true, "{d:#}");
    assert!(d["response_excerpt"].as_str().unwrap().ends_with('…'));
    assert_eq!(o.drill(0)["verdict"], "passed");
    assert_eq!(o.deliveries(1)[0]["response_truncated"], false);
}

#[test]
fn mode_endless_body_in_a_together_group_is_cut_at_the_cap() {
    let o = drill_against(Mode::EndlessBody, 2, TWO_TOGETHER, 0);
    let ds = o.hostile_deliveries();
    assert_eq!(ds.len(), 2);
    for d in &ds {
        assert_eq!(d["status"], 200, "{d:#}");
        assert_eq!(d["response_truncated"], true, "{d:#}");
    }
}

#[test]
fn mode_accept_and_never_answer_in_a_together_group_is_a_timeout() {
    let o = drill_against(Mode::Hang, 2, TWO_TOGETHER, 1);
    for d in o.hostile_deliveries() {
        assert_eq!(d["outcome"], "timed-out", "{d:#}");
    }
}

#[test]
fn mode_slow_body_in_a_together_group_is_a_timeout() {
    let o = drill_against(Mode::SlowBody, 2, TWO_TOGETHER, 1);
    for d in o.hostile_deliveries() {
        assert_eq!(d["outcome"], "timed-out", "{d:#}");
    }
}
