//! `https://` targets: ordinary deliveries and `together` groups over TLS,
//! against a real TLS server on loopback (Python's `ssl`, a certificate made
//! by `openssl` and signed by a throwaway CA that the target names in
//! `ca_file`). Pins that a `together` group is no longer refused for https
//! and that it trusts the same CA as ordinary deliveries.

mod builder;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use builder::Test;

const SECRET: &str = "whsec_tls_test_secret";

/// A throwaway CA and a leaf for 127.0.0.1 signed by it, made with openssl.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=luota test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}

const SERVER: &str = r#"
import http.server, ssl, sys, threading, json
log = open(sys.argv[2], "a")
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            log.write(json.dumps({"sig": self.headers.get("stripe-signature", ""), "body": body.decode()}) + "\n")
            log.flush()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def do_GET(self):
        body = b'{"sha": "deadbeef42"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1] + "/leaf.pem", sys.argv[1] + "/leaf.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Timer(60, srv.shutdown).start()   # bounded: gone within a minute
print("READY", srv.server_address[1], flush=True)
srv.serve_forever()
"#;

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server(dir: &Path) -> Option<Server> {
    let python = support::require("python", support::python())?;
    std::fs::write(dir.join("server.py"), SERVER).unwrap();
    let mut child = Command::new(python)
        .arg(dir.join("server.py"))
        .arg(dir)
        .arg(dir.join("requests.log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the TLS server did not start: {line:?}"));
    Some(Server { child, port })
}

fn setup(ca_file: bool) -> Option<(tempfile::TempDir, Server, String, String)> {
    setup_with(ca_file, "")
}

/// `setup`, with `more` appended to the target's lines of luota.yaml.
fn setup_with(ca_file: bool, more: &str) -> Option<(tempfile::TempDir, Server, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let server = tls_server(dir.path())?;
    let ca = if ca_file {
        format!("    ca_file: {}\n", dir.path().join("ca.pem").display())
    } else {
        String::new()
    };
    let cfg = dir.path().join("luota.yaml");
    std::fs::write(
        &cfg,
        format!(
            "default_target: staging\ntargets:\n  staging:\n    webhook: https://127.0.0.1:{port}/webhook\n    secret_env: LUOTA_TLS_SECRET\n{ca}{more}defaults:\n  timeout: 5s\n  settle: 50ms\n",
            port = server.port,
            more = more.replace("{port}", &server.port.to_string()),
        ),
    )
    .unwrap();
    let drill = dir.path().join("d.yaml");
    std::fs::write(
        &drill,
        "drill: over TLS\nevents:\n  e: { type: checkout.session.completed }\ndeliver:\n  - send: e\n  - send: e\n    copies: 8\n    together: true\n",
    )
    .unwrap();
    let (cfg, drill) = (
        cfg.to_str().unwrap().to_string(),
        drill.to_str().unwrap().to_string(),
    );
    Some((dir, server, cfg, drill))
}

#[test]
fn a_together_group_goes_out_over_https_trusting_the_targets_ca() {
    let Some((dir, _server, cfg, drill)) = setup(true) else {
        return;
    };
    let json = dir.path().join("r.json");
    Test::new()
        .args(["run", &drill, "--config", &cfg, "--snapshots", "ignore"])
        .args(["--report-json", json.to_str().unwrap()])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(0)
        .run();
    let log = std::fs::read_to_string(dir.path().join("requests.log")).unwrap();
    let seen: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        seen.len(),
        9,
        "one single delivery and 8 together, all over TLS"
    );
    for r in &seen {
        let sig = r["sig"].as_str().unwrap();
        let t: i64 = sig
            .split(',')
            .find_map(|p| p.strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap();
        let body = r["body"].as_str().unwrap().as_bytes();
        assert_eq!(
            sig,
            support::openssl_header(SECRET, t, body),
            "validly signed"
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let groups = report["drills"][0]["steps"][0]["groups"]
        .as_array()
        .unwrap();
    assert_eq!(groups[0]["requests"], 8);
}

#[test]
fn without_the_ca_a_tls_target_is_a_clear_connection_error_not_a_hang() {
    let Some((_dir, _server, cfg, drill)) = setup(false) else {
        return;
    };
    let ran = Test::new()
        .args(["run", &drill, "--config", &cfg, "--snapshots", "ignore"])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(3)
        .run();
    let all = format!("{}{}", ran.stdout, ran.stderr).to_lowercase();
    assert!(
        all.contains("certificate") || all.contains("tls handshake"),
        "says why: {all}"
    );
    assert!(all.contains("ca_file"), "says what to do: {all}");
    println!("{all}");
}

/// A config whose target names `ca` (a path) as its `ca_file`, and a drill.
fn bad_ca_config(dir: &Path, ca: &Path) -> (String, String) {
    let cfg = dir.join("luota.yaml");
    std::fs::write(
        &cfg,
        format!(
            "default_target: tls\ntargets:\n  tls:\n    webhook: https://127.0.0.1:9/webhook\n    secret_env: LUOTA_TLS_SECRET\n    ca_file: {}\n",
            ca.display()
        ),
    )
    .unwrap();
    let drill = dir.join("d.yaml");
    std::fs::write(
        &drill,
        "drill: d\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    )
    .unwrap();
    (
        cfg.to_str().unwrap().to_string(),
        drill.to_str().unwrap().to_string(),
    )
}

/// Regression (found by a breaker): a DER certificate read as "stream did
/// not contain valid UTF-8", a cut PEM listed its missing marker as bytes,
/// `validate` passed a config whose `ca_file` run rejects, and a missing
/// secret (exit 3) hid the bad file (exit 2 comes first).
#[test]
fn bad_ca_files_say_what_is_wrong_in_run_validate_and_send() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let der = dir.path().join("ca.der");
    let out = Command::new("openssl")
        .args(["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let pem = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let cut = dir.path().join("cut.pem");
    std::fs::write(&cut, &pem[..pem.len() / 2]).unwrap();
    for (ca, says) in [
        (&der, "openssl x509 -inform DER"),
        (&cut, "-----END CERTIFICATE-----` is missing"),
    ] {
        let (cfg, drill) = bad_ca_config(dir.path(), ca);
        let ran = Test::new()
            .args(["run", &drill, "--config", &cfg])
            .env("LUOTA_TLS_SECRET", SECRET)
            .status(2)
            .stderr_has(says)
            .run();
        assert!(!ran.stderr.contains("[4"), "no byte lists: {}", ran.stderr);
        // Without the secret: still the file, exit 2.
        Test::new()
            .args(["run", &drill, "--config", &cfg])
            .status(2)
            .stderr_has(says)
            .run();
        Test::new()
            .args(["validate", &drill, "--config", &cfg])
            .status(2)
            .stderr_has("ca_file")
            .run();
        Test::new()
            .args([
                "send",
                "--to",
                "https://127.0.0.1:9/webhook",
                "--secret-env",
                "LUOTA_TLS_SECRET",
            ])
            .args(["--type", "invoice.paid", "--ca-file", ca.to_str().unwrap()])
            .env("LUOTA_TLS_SECRET", SECRET)
            .status(2)
            .stderr_has(says)
            .run();
    }
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let (cfg, drill) = bad_ca_config(dir.path(), &dir.path().join("ca.pem"));
    Test::new()
        .args(["run", &drill, "--config", &cfg])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(2)
        .stderr_has("cannot use `ca_file`")
        .run();
}

/// Regression: the deploy-SHA URL used a client of its own that did not
/// trust the target's `ca_file`, so a staging version endpoint behind the
/// staging CA read as "deploy SHA unknown".
#[test]
fn the_deploy_sha_url_trusts_the_targets_ca_too() {
    let Some((dir, _server, cfg, drill)) = setup_with(
        true,
        "    deploy_sha: { url: \"https://127.0.0.1:{port}/version\", json: $.sha }\n",
    ) else {
        return;
    };
    let json = dir.path().join("r.json");
    let ran = Test::new()
        .args(["run", &drill, "--config", &cfg, "--snapshots", "ignore"])
        .args(["--report-json", json.to_str().unwrap()])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(0)
        .run();
    assert!(!ran.stderr.contains("deploy SHA unknown"), "{}", ran.stderr);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["deploy"]["sha"], "deadbeef42", "{report:#}");
}

#[test]
fn send_with_ca_file_reaches_an_https_handler_behind_that_ca() {
    let Some((dir, _server, cfg, _drill)) = setup(false) else {
        return;
    };
    let text = std::fs::read_to_string(&cfg).unwrap();
    let url = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("webhook: "))
        .unwrap()
        .to_string();
    let ca = dir.path().join("ca.pem");
    let send = |with_ca: bool, status: i32| {
        let mut t = Test::new()
            .args(["send", "--to", &url, "--secret-env", "LUOTA_TLS_SECRET"])
            .args(["--type", "invoice.paid"])
            .env("LUOTA_TLS_SECRET", SECRET);
        if with_ca {
            t = t.args(["--ca-file", ca.to_str().unwrap()]);
        }
        t.status(status).run()
    };
    // Without the CA the handshake fails: not carried out, and says why.
    let ran = send(false, 3);
    let all = format!("{}{}", ran.stdout, ran.stderr).to_lowercase();
    assert!(all.contains("certificate"), "{all}");
    send(true, 0);
    let log = std::fs::read_to_string(dir.path().join("requests.log")).unwrap();
    assert_eq!(
        log.lines().count(),
        1,
        "exactly the send with the CA arrived"
    );
}

#[cfg(unix)]
#[test]
fn a_ca_file_that_is_a_fifo_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let (cfg, drill) = bad_ca_config(dir.path(), &fifo);
    let ran = Test::new()
        .args(["run", &drill, "--config", &cfg])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(2)
        .run();
    assert!(ran.stderr.contains("ca_file"), "{}", ran.stderr);
    Test::new()
        .args([
            "send",
            "--to",
            "https://127.0.0.1:9/webhook",
            "--secret-env",
            "LUOTA_TLS_SECRET",
        ])
        .args([
            "--type",
            "invoice.paid",
            "--ca-file",
            fifo.to_str().unwrap(),
        ])
        .env("LUOTA_TLS_SECRET", SECRET)
        .status(2)
        .stderr_has("--ca-file")
        .run();
}

/// Regression (found by a breaker): `drills:` and `ca_file` in luota.yaml
/// were resolved against the working directory, so `--config ../luota.yaml`
/// from a subfolder found neither. They are relative to the config file.
#[test]
fn config_paths_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    std::fs::create_dir_all(dir.path().join("mydrills")).unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("mydrills/d.yaml"),
        "drill: d\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("luota.yaml"),
        "drills: mydrills\ndefault_target: tls\ntargets:\n  tls:\n    webhook: https://127.0.0.1:9/webhook\n    secret_env: LUOTA_TLS_SECRET\n    ca_file: ca.pem\n",
    )
    .unwrap();
    Test::new()
        .current_dir(dir.path().join("sub"))
        .args(["validate", "--config", "../luota.yaml"])
        .status(0)
        .stdout_has("1 drill file: 1 valid")
        .run();
}
