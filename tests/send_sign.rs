//! `luota send` and `luota sign` against real receivers: the embedded demo
//! app, the reference handlers built on Stripe's official SDKs (Python and
//! Node, on PostgreSQL), and the SDKs' own `construct_event`.

mod builder;
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use builder::Test;
use luota::demo::{DemoOptions, DemoServer};
use serde_json::{json, Value};
use support::handlers::{self, Lang};
use support::sdk::{verify_with, Case, Sdk};

const SECRET: &str = "whsec_sendTestPrimary_never_print_0123";
const SECRET_2: &str = "whsec_sendTestSecondary_never_print_45";

/// The embedded demo app on a loopback port, with a primary and a second secret.
struct Demo {
    rt: tokio::runtime::Runtime,
    server: Option<DemoServer>,
}

impl Demo {
    fn start() -> Demo {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut opts = DemoOptions::new(SECRET);
        opts.secondary_secret = Some(SECRET_2.into());
        let server = rt
            .block_on(DemoServer::start("127.0.0.1:0".parse().unwrap(), opts))
            .unwrap();
        Demo {
            rt,
            server: Some(server),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.as_ref().unwrap().base_url())
    }

    fn post_json(&self, path: &str, body: Value) -> u16 {
        let url = self.url(path);
        self.rt.block_on(async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }

    fn get_json(&self, path: &str) -> Value {
        let url = self.url(path);
        self.rt
            .block_on(async move { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// A `luota send` with both secrets in the environment.
fn send(to: &str) -> Test {
    Test::new()
        .args(["send", "--to", to, "--secret-env", "LUOTA_T_WHSEC"])
        .env("LUOTA_T_WHSEC", SECRET)
        .env("LUOTA_T_WHSEC_2", SECRET_2)
}

fn assert_no_secret(ran: &builder::Ran) {
    for s in [SECRET, SECRET_2, handlers::SECRET, handlers::SECRET_2] {
        assert!(
            !ran.stdout.contains(s) && !ran.stderr.contains(s),
            "a secret was printed:\n{}\n{}",
            ran.stdout,
            ran.stderr
        );
    }
}

#[test]
fn send_a_template_to_the_demo_changes_its_state() {
    let demo = Demo::start();
    assert_eq!(
        demo.post_json(
            "/test/users",
            json!({"id": "user_send1", "email": "a@example.test"})
        ),
        201
    );
    let ran = send(&demo.url("/webhook"))
        .args([
            "--type",
            "checkout.session.completed",
            "--set",
            "client_reference_id=user_send1",
        ])
        .status(0)
        .stdout_has("sending  checkout.session.completed evt_")
        .stdout_has("status   200 OK in ")
        .stdout_has("expected 2xx")
        .stdout_has("response {")
        .run();
    assert_no_secret(&ran);
    let user = demo.get_json("/internal/users/user_send1");
    assert_eq!(user["access"], "full", "{user}");
    assert_eq!(user["plan"], "pro", "{user}");
}

#[test]
fn every_signature_mode_against_the_demo() {
    let demo = Demo::start();
    assert_eq!(
        demo.post_json(
            "/test/users",
            json!({"id": "user_modes", "email": "m@example.test"})
        ),
        201
    );
    // Each mode gets what the demo (SDK rules plus its own future window) answers.
    for (mode, want) in [
        ("valid", "200"),
        ("none", "400"),
        ("empty", "400"),
        ("garbage", "400"),
        ("wrong-secret", "400"),
        ("stale", "400"),
        ("future", "400"),
        ("bad-timestamp", "400"),
        ("tampered", "400"),
        ("replayed", "400"),
        ("rotated", "200"),
        ("secondary", "200"),
    ] {
        let ran = send(&demo.url("/webhook"))
            .args([
                "--type",
                "checkout.session.completed",
                "--set",
                "client_reference_id=user_modes",
                "--signature",
                mode,
                "--secondary-secret-env",
                "LUOTA_T_WHSEC_2",
            ])
            .status(0)
            .stdout_has(format!("status   {want} "))
            .stdout_has(format!("(signature {mode},"))
            .run();
        assert_no_secret(&ran);
    }
    // A valid delivery that the demo refuses is not what was expected: exit 1.
    send(&demo.url("/webhook"))
        .args(["--type", "customer.created", "--expect-status", "418"])
        .status(1)
        .stdout_has("NOT the expected 418")
        .run();
}

#[test]
fn send_a_body_file_verbatim_or_reencoded_and_from_stdin() {
    let demo = Demo::start();
    demo.post_json(
        "/test/users",
        json!({"id": "user_body", "email": "b@example.test"}),
    );
    let ev = Test::new()
        .args([
            "event",
            "checkout.session.completed",
            "--set",
            "client_reference_id=user_body",
        ])
        .status(0)
        .run()
        .stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, &ev).unwrap();
    // Verbatim: exactly the file's bytes are signed and sent.
    send(&demo.url("/webhook"))
        .args(["--body", file.to_str().unwrap()])
        .status(0)
        .stdout_has(format!("{} bytes", ev.len()))
        .stdout_has("status   200")
        .run();
    // Hostile encoding of the same event: still valid, and a replay → duplicate.
    send(&demo.url("/webhook"))
        .args(["--body", file.to_str().unwrap(), "--encoding", "hostile"])
        .status(0)
        .stdout_has("status   200")
        .run();
    // From stdin.
    send(&demo.url("/webhook"))
        .args(["--body", "-", "--encoding", "compact"])
        .stdin(ev.clone())
        .status(0)
        .stdout_has("status   200")
        .run();
    let outbox = demo.get_json("/internal/users/user_body/outbox");
    assert_eq!(
        outbox["counts"]["welcome"], 1,
        "one event, one email: {outbox}"
    );

    // Not JSON with --encoding: invalid input.
    std::fs::write(&file, b"not json").unwrap();
    send(&demo.url("/webhook"))
        .args(["--body", file.to_str().unwrap(), "--encoding", "stripe"])
        .status(2)
        .run();
}

#[test]
fn safety_rails_and_bad_input() {
    // A host outside the allow-list is refused before anything is sent.
    let ran = send("https://api.example.com/stripe/webhook?token=abc")
        .args(["--type", "customer.created"])
        .status(3)
        .run();
    assert!(
        ran.stderr.contains("safety.allowed_hosts"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--allow-host"), "{}", ran.stderr);
    assert!(
        !ran.stderr.contains("abc"),
        "query redacted: {}",
        ran.stderr
    );
    // --allow-host lets it through the rail (the .invalid host then cannot resolve: exit 3).
    // The timeout is long so that a slow resolver's answer, not the timeout, ends it.
    send("http://hooks.luota.invalid/webhook")
        .args([
            "--type",
            "customer.created",
            "--allow-host",
            "hooks.luota.invalid",
            "--allow-plain-http",
        ])
        .args(["--timeout", "30s"])
        .status(3)
        .stderr_has("could not connect")
        .run();
    // So does luota.yaml's safety.allowed_hosts.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("luota.yaml"),
        "safety:\n  allowed_hosts: [\"*.luota.invalid\"]\n",
    )
    .unwrap();
    send("http://hooks.luota.invalid/webhook")
        .current_dir(dir.path())
        .args([
            "--type",
            "customer.created",
            "--timeout",
            "30s",
            "--allow-plain-http",
        ])
        .status(3)
        .stderr_has("could not connect")
        .run();
    // Regression: plain http to an allowed non-loopback host went out; run refuses it.
    send("http://hooks.luota.invalid/webhook")
        .current_dir(dir.path())
        .args(["--type", "customer.created"])
        .status(3)
        .stderr_has("plain http")
        .stderr_has("--allow-plain-http")
        .run();
    // Regression: `--set livemode=true` (data.object) was sent; a drill's set: is refused.
    send("http://127.0.0.1:9/webhook")
        .args([
            "--type",
            "checkout.session.completed",
            "--set",
            "livemode=true",
        ])
        .status(3)
        .stderr_has("livemode: true")
        .run();
    // Regression: a live key in the secret variable was used to sign and send.
    for key in ["sk_live_0123456789abcdef", "rk_live_0123456789abcdef"] {
        Test::new()
            .args([
                "send",
                "--to",
                "http://127.0.0.1:9/w",
                "--secret-env",
                "LUOTA_T_LIVE",
            ])
            .args(["--type", "customer.created"])
            .env("LUOTA_T_LIVE", key)
            .status(3)
            .stderr_has("live")
            .run();
    }
    // livemode: true is refused.
    let body = dir.path().join("live.json");
    std::fs::write(
        &body,
        br#"{"id":"evt_1","type":"customer.created","livemode":true}"#,
    )
    .unwrap();
    send("http://127.0.0.1:9/webhook")
        .args(["--body", body.to_str().unwrap()])
        .status(3)
        .stderr_has("livemode: true")
        .run();
    // Missing secret, unknown type, secondary without its variable, no event.
    Test::new()
        .args([
            "send",
            "--to",
            "http://127.0.0.1:9/w",
            "--secret-env",
            "LUOTA_T_UNSET_X",
        ])
        .args(["--type", "customer.created"])
        .status(3)
        .stderr_has("`LUOTA_T_UNSET_X` is not set")
        .run();
    send("http://127.0.0.1:9/w")
        .args(["--type", "checkout.session.complete"])
        .status(2)
        .stderr_has("did you mean `checkout.session.completed`")
        .run();
    send("http://127.0.0.1:9/w")
        .args(["--type", "customer.created", "--signature", "secondary"])
        .status(2)
        .stderr_has("--secondary-secret-env")
        .run();
    send("http://127.0.0.1:9/w").status(2).run();
    send("http://127.0.0.1:9/w")
        .args(["--type", "customer.created", "--signature", "bogus"])
        .status(2)
        .run();
}

#[test]
fn refused_connection_is_errored_and_a_hang_is_a_failed_outcome() {
    let port = handlers::free_port();
    send(&format!("http://127.0.0.1:{port}/webhook"))
        .args(["--type", "customer.created"])
        .status(3)
        .stderr_has("could not connect")
        .run();

    // Accepts, reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    send(&format!("http://{addr}/webhook"))
        .args(["--type", "customer.created", "--timeout", "300ms"])
        .status(1)
        .stdout_has("no answer within 300ms")
        .run();
}

#[test]
fn a_response_echoing_the_secret_is_redacted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Some(Ok(mut s)) = listener.incoming().next() {
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let body = format!("{{\"debug\":\"secret={SECRET}\"}}");
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let ran = send(&format!("http://{addr}/webhook"))
        .args(["--type", "customer.created"])
        .status(0)
        .stdout_has("[redacted]")
        .run();
    assert_no_secret(&ran);
}

/// `luota send` to the reference handlers, whose verification is the
/// official SDK's `construct_event`, backed by PostgreSQL.
#[test]
fn send_to_the_sdk_reference_handlers() {
    for lang in Lang::ALL {
        let Some(h) = handlers::start(lang) else {
            return;
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        let user = format!("user_send_{}", lang.name());
        let status = rt.block_on(async {
            reqwest::Client::new()
                .post(h.url("/test/users"))
                .json(&json!({"id": user, "email": "s@example.test"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(status, 201, "{}: create user\n{}", lang.name(), h.log());
        let sdk_send = |mode: &str, want: &str, code: i32| {
            let ran = Test::new()
                .args([
                    "send",
                    "--to",
                    &h.url("/webhook"),
                    "--secret-env",
                    "LUOTA_T_REF",
                ])
                .args([
                    "--secondary-secret-env",
                    "LUOTA_T_REF_2",
                    "--signature",
                    mode,
                ])
                .args(["--type", "checkout.session.completed"])
                .args(["--set", &format!("client_reference_id={user}")])
                .env("LUOTA_T_REF", handlers::SECRET)
                .env("LUOTA_T_REF_2", handlers::SECRET_2)
                .run();
            assert_eq!(
                ran.status,
                code,
                "{} {mode}:\n{}\n{}\n{}",
                lang.name(),
                ran.stdout,
                ran.stderr,
                h.log()
            );
            assert!(
                ran.stdout.contains(&format!("status   {want}")),
                "{} {mode}: {}",
                lang.name(),
                ran.stdout
            );
            assert_no_secret(&ran);
        };
        // The SDK rules: future is accepted (not sent here: it would only
        // add a checkout), everything else negative is a 400 — except that
        // stripe-node (23.x) accepts `t=NaN` with a v1 computed over
        // "NaN.<body>": `parseInt("NaN")` is NaN, not its -1 "missing"
        // marker, and `now - NaN > tolerance` is false. luota reports that
        // as an unexpected 2xx (exit 1): exactly what the mode is for.
        let node_accepts_nan = lang == Lang::Node;
        sdk_send(
            "bad-timestamp",
            if node_accepts_nan { "200" } else { "400" },
            if node_accepts_nan { 1 } else { 0 },
        );
        for (mode, want) in [
            ("valid", "200"),
            ("rotated", "200"),
            ("secondary", "200"),
            ("none", "400"),
            ("empty", "400"),
            ("garbage", "400"),
            ("wrong-secret", "400"),
            ("stale", "400"),
            ("tampered", "400"),
            ("replayed", "400"),
        ] {
            sdk_send(mode, want, 0);
        }
        let state = rt.block_on(async {
            reqwest::get(h.url(&format!("/internal/users/{user}")))
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        });
        assert_eq!(state["access"], "full", "{}: {state}", lang.name());
        // One checkout session per accepted send, 100 credits each.
        let accepted = if node_accepts_nan { 4 } else { 3 };
        assert_eq!(state["credits"], 100 * accepted, "{}: {state}", lang.name());
    }
}

/// The header `luota sign` prints is accepted by both official SDKs, with
/// `--timestamp` honoured (a stale one is rejected by their tolerance).
#[test]
fn sign_output_is_accepted_by_both_sdks() {
    let body = Test::new()
        .args(["event", "invoice.paid"])
        .status(0)
        .run()
        .stdout
        .into_bytes();
    let sign = |extra: &[&str]| -> String {
        let ran = Test::new()
            .args(["sign", "--secret-env", "LUOTA_T_WHSEC"])
            .args(extra)
            .env("LUOTA_T_WHSEC", SECRET)
            .stdin(body.clone())
            .status(0)
            .run();
        assert_no_secret(&ran);
        ran.stdout
            .trim()
            .strip_prefix("Stripe-Signature: ")
            .expect("prints the header line")
            .to_string()
    };
    let now = support::now();
    let fresh = sign(&[]);
    let fixed = sign(&["--timestamp", &(now - 30).to_string()]);
    assert!(fixed.starts_with(&format!("t={},v1=", now - 30)), "{fixed}");
    let old = sign(&["--timestamp", &(now - 3600).to_string()]);
    let cases = [
        (
            Case::new("now", body.clone(), Some(fresh.clone()), SECRET),
            true,
        ),
        (Case::new("t-30", body.clone(), Some(fixed), SECRET), true),
        (
            Case::new("t-3600", body.clone(), Some(old.clone()), SECRET),
            false,
        ),
        (
            Case::new("t-3600 no tolerance", body.clone(), Some(old), SECRET).tolerance(0),
            true,
        ),
        (
            Case::new("other secret", body.clone(), Some(fresh), SECRET_2),
            false,
        ),
    ];
    let input: Vec<Case> = cases.iter().map(|(c, _)| c.clone()).collect();
    for sdk in Sdk::ALL {
        if !sdk.available() {
            return;
        }
        let verdicts = verify_with(sdk, &input);
        for ((case, want), got) in cases.iter().zip(verdicts) {
            assert_eq!(
                got.accepted,
                *want,
                "{} {}: {:?}",
                sdk.name(),
                case.label,
                got.error
            );
        }
    }
}
