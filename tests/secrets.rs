//! Never leak a secret. With known secret values in the environment — the
//! signing secret, the second secret, a database URL's password and a token
//! that reaches a header through `env.NAME` — run every shipped drill
//! against `luota demo` (a child process holding those secrets) and against
//! the in-process demo, a hostile handler that echoes every request back,
//! and every subcommand; then scan every byte written — stdout, stderr,
//! every file created under the working directory and under a dedicated
//! TMPDIR, and what went over the wire to the echo handler — for the
//! secrets in raw, hex and base64 (all three alignments) form.

mod builder;
mod hostile_server;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use builder::repo;
use hostile_server::{Mode, Server};
use serde_json::Value;

const SIGNING: &str = "whsec_SCANsigningSecret0123456789abcdefXYZ";
const SECONDARY: &str = "whsec_SCANsecondarySecret0123456789abcdQ";
const DB_PASSWORD: &str = "pwSCANdatabasePassword0123456789";
const TOKEN: &str = "tokSCANinternalApiToken0123456789";

fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("signing secret", SIGNING),
        ("second secret", SECONDARY),
        ("database password", DB_PASSWORD),
        ("header token", TOKEN),
    ]
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Every form a secret could leak in: raw, hex (both cases), and base64
/// (standard and URL-safe) at each of the three byte alignments — the
/// stable middle of the encoding, which any base64 text containing the
/// secret contains.
fn needles() -> Vec<(String, String)> {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    for (name, s) in secrets() {
        out.push((format!("{name} (raw)"), s.to_string()));
        let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        out.push((format!("{name} (hex)"), hex.clone()));
        out.push((format!("{name} (HEX)"), hex.to_uppercase()));
        for (alpha, an) in [(STD, "base64"), (URL, "base64url")] {
            for off in 0..3 {
                let mut bytes = vec![0u8; off];
                bytes.extend_from_slice(s.as_bytes());
                let enc = base64(&bytes, alpha);
                let middle = &enc[4..enc.len() - 4];
                out.push((format!("{name} ({an}, offset {off})"), middle.to_string()));
            }
        }
    }
    out
}

/// A whsec_ secret of any value (the in-process demo makes its own).
fn generic_whsec(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find("whsec_") {
        let tail = &rest[i + 6..];
        let n = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if n >= 16 {
            return Some(rest[i..i + 6 + n].to_string());
        }
        rest = tail;
    }
    None
}

struct Scan {
    work: PathBuf,
    tmp: PathBuf,
    outputs: Vec<(String, Vec<u8>)>,
    commands: usize,
}

impl Scan {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_luota"));
        c.args(args)
            .current_dir(&self.work)
            // Not a CI run: the scanned drills' snapshots are pending, not failures.
            .env_remove("CI")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("TMPDIR", &self.tmp)
            .env("LUOTA_SCAN_WHSEC", SIGNING)
            .env("LUOTA_SCAN_WHSEC2", SECONDARY)
            .env(
                "LUOTA_SCAN_DB",
                format!("postgres://luota:{DB_PASSWORD}@127.0.0.1:9/luota"),
            )
            .env("LUOTA_SCAN_TOKEN", TOKEN)
            .env("RUST_BACKTRACE", "1");
        c
    }

    /// Run luota to the end and keep what it printed.
    fn run(&mut self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String) {
        let mut c = self.cmd(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let label = format!("luota {}", args.join(" "));
        self.outputs
            .push((format!("{label} [stdout]"), out.stdout.clone()));
        self.outputs
            .push((format!("{label} [stderr]"), out.stderr.clone()));
        self.commands += 1;
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn no_secret_in_any_output_of_any_command() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    let tmp = root.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    copy_dir(&repo().join("drills"), &work.join("drills"));
    let mut scan = Scan {
        work: work.clone(),
        tmp,
        outputs: Vec::new(),
        commands: 0,
    };

    // `luota demo` as a child process, holding the known secrets.
    let port = free_port();
    let demo_out = root.path().join("demo.out");
    let demo_err = root.path().join("demo.err");
    let demo = scan
        .cmd(&[
            "demo",
            "--port",
            &port.to_string(),
            "--secret-env",
            "LUOTA_SCAN_WHSEC",
            "--secondary-secret-env",
            "LUOTA_SCAN_WHSEC2",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&demo_out).unwrap())
        .stderr(std::fs::File::create(&demo_err).unwrap())
        .spawn()
        .unwrap();
    let demo = KillOnDrop(demo);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "luota demo did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A handler that echoes each request (head and body) back.
    let echo = Server::start(Mode::Echo, usize::MAX);
    // ... and an app that echoes every setup call and check back, with the
    // target's Authorization header (its bytes on the wire are the app's due).
    let echo_app = Server::start(Mode::Echo, usize::MAX);
    // ... and one that echoes it hex- and base64-encoded (regression: only
    // the raw forms were redacted).
    let encoded_app = Server::start(Mode::EchoEncoded, usize::MAX);
    std::fs::write(
        work.join("luota.yaml"),
        format!(
            "default_target: staging
targets:
  staging:
    webhook: http://127.0.0.1:{port}/webhook
    secret_env: LUOTA_SCAN_WHSEC
    secondary_secret_env: LUOTA_SCAN_WHSEC2
    database_env: LUOTA_SCAN_DB
    headers: {{ Authorization: \"Bearer {{{{ env.LUOTA_SCAN_TOKEN }}}}\" }}
  echo:
    webhook: {echo}
    app: http://127.0.0.1:{port}
    secret_env: LUOTA_SCAN_WHSEC
    secondary_secret_env: LUOTA_SCAN_WHSEC2
    database_env: LUOTA_SCAN_DB
    headers: {{ Authorization: \"Bearer {{{{ env.LUOTA_SCAN_TOKEN }}}}\" }}
  echo-app:
    webhook: {echo}
    app: {echo_app}
    secret_env: LUOTA_SCAN_WHSEC
    database_env: LUOTA_SCAN_DB
    headers: {{ Authorization: \"Bearer {{{{ env.LUOTA_SCAN_TOKEN }}}}\" }}
  encoded-app:
    webhook: {echo}
    app: {encoded_app}
    secret_env: LUOTA_SCAN_WHSEC
    database_env: LUOTA_SCAN_DB
    headers: {{ Authorization: \"Bearer {{{{ env.LUOTA_SCAN_TOKEN }}}}\" }}
policy:
  access: {{ active: full, trialing: full, past_due: grace, paused: none, unpaid: none, canceled: none, incomplete: none, incomplete_expired: none }}
  plans:
    pro: {{ credits: 100 }}
defaults:
  timeout: 3s
  settle: 300ms
",
            echo = echo.url("/webhook"),
            echo_app = echo_app.url("").trim_end_matches('/'),
            encoded_app = encoded_app.url("").trim_end_matches('/'),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(work.join("extra")).unwrap();
    // Every signature mode, against the echo handler.
    let modes = [
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
    let mut deliver = String::new();
    for m in modes {
        deliver.push_str(&format!(
            "  - send: e\n    signature: {m}\n    expect_status: [200, 4xx]\n"
        ));
    }
    std::fs::write(
        work.join("extra/every-signature.yaml"),
        format!("drill: every signature mode\nevents:\n  e: {{ type: checkout.session.completed }}\ndeliver:\n{deliver}"),
    )
    .unwrap();
    // A drill whose setup call and check are echoed back by the app.
    std::fs::write(
        work.join("extra/echo-app.yaml"),
        "drill: the app echoes its headers\nsetup:\n  - http: POST {{ target.app }}/test/users\n    json: { id: u1 }\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\nexpect:\n  within: 300ms\n  checks:\n    - name: echoed\n      http: GET {{ target.app }}/internal/users/u1\n      json: { $.never: 1 }\n",
    )
    .unwrap();
    // A drill that tries to read the secret through a template.
    std::fs::write(
        work.join("extra/reads-secret.yaml"),
        "drill: reads the secret\nvars:\n  s: \"{{ env.LUOTA_SCAN_WHSEC }}\"\nevents:\n  e: { type: invoice.paid, set: { description: \"{{ s }}\" } }\ndeliver:\n  - send: e\n",
    )
    .unwrap();

    // 1. The whole shipped suite against `luota demo` holding known secrets.
    let (code, out) = scan.run(
        &[
            "run",
            "--report-json",
            "out/staging.json",
            "--report-junit",
            "out/staging.xml",
            "--report-markdown",
            "out/staging.md",
            "--evidence",
            "out/evidence-staging",
            "--jobs",
            "4",
        ],
        None,
    );
    assert_eq!(code, 0, "shipped drills pass against luota demo:\n{out}");
    // 2. ... and against the in-process demo (its own random secret), a fault on.
    let (code, out) = scan.run(
        &["run", "--target", "demo", "--report-json", "out/demo.json"],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = scan.run(
        &[
            "run",
            "drills/replay-stays-idempotent.yaml",
            "--target",
            "demo",
            "--demo-fault",
            "no-idempotency",
            "--report-json",
            "out/fault.json",
        ],
        None,
    );
    assert_eq!(code, 1, "{out}");
    // 2b. An app that echoes the Authorization header back, into every report format.
    let (code, out) = scan.run(
        &[
            "run",
            "extra/echo-app.yaml",
            "--target",
            "echo-app",
            "--report-json",
            "out/echo-app.json",
            "--report-junit",
            "out/echo-app.xml",
            "--report-markdown",
            "out/echo-app.md",
            "--evidence",
            "out/evidence-echo-app",
        ],
        None,
    );
    assert!(code == 1 || code == 3, "{out}");
    // The app's echo (with its Authorization header) is kept as evidence, redacted.
    let mut evidence = Vec::new();
    files_under(&work.join("out/evidence-echo-app"), &mut evidence);
    let kept: String = evidence
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        kept.to_ascii_lowercase().contains("authorization: bearer")
            || kept
                .to_ascii_lowercase()
                .contains("authorization: [redacted]"),
        "the echoed request is in the evidence: {kept}"
    );
    // 2c. The same, echoed in hex and base64.
    let (code, out) = scan.run(
        &[
            "run",
            "extra/echo-app.yaml",
            "--target",
            "encoded-app",
            "--report-json",
            "out/encoded-app.json",
            "--evidence",
            "out/evidence-encoded-app",
        ],
        None,
    );
    assert!(code == 1 || code == 3, "{out}");
    let mut evidence = Vec::new();
    files_under(&work.join("out/evidence-encoded-app"), &mut evidence);
    let kept: String = evidence
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        kept.contains("[redacted]"),
        "the encoded echo is in the evidence, redacted: {kept}"
    );
    // 3. Every signature mode against the echo handler.
    let (code, out) = scan.run(
        &[
            "run",
            "extra/every-signature.yaml",
            "--target",
            "echo",
            "--report-json",
            "out/echo.json",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let echo_report: Value =
        serde_json::from_slice(&std::fs::read(work.join("out/echo.json")).unwrap()).unwrap();
    let excerpt = echo_report["drills"][0]["steps"][0]["deliveries"][0]["response_excerpt"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        excerpt.contains("stripe-signature: t="),
        "the echo came back: {excerpt}"
    );
    assert_eq!(
        echo_report["drills"][0]["steps"][0]["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        modes.len()
    );
    // 4. A template reaching for the secret; dry run; validate.
    let (code, out) = scan.run(
        &[
            "run",
            "extra/reads-secret.yaml",
            "--report-json",
            "out/secret.json",
        ],
        None,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("never readable"), "{out}");
    let (code, out) = scan.run(
        &["run", "--dry-run", "drills", "extra/every-signature.yaml"],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (code, _) = scan.run(&["validate"], None);
    assert_eq!(code, 0);
    scan.run(&["validate", "extra"], None);
    // 5. The other subcommands.
    let (code, out) = scan.run(
        &["sign", "--secret-env", "LUOTA_SCAN_WHSEC"],
        Some(b"{\"id\":\"evt_1\"}"),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("Stripe-Signature: t=") && out.contains(",v1="),
        "{out}"
    );
    scan.run(&["sign", "--secret-env", "LUOTA_SCAN_NOT_SET"], Some(b"{}"));
    scan.run(&["event", "checkout.session.completed"], None);
    scan.run(&["event", "invoice.paid", "--set", "customer=cus_1"], None);
    scan.run(&["event", "--list"], None);
    scan.run(&["demo", "--list-faults"], None);
    scan.run(
        &[
            "send",
            "--to",
            &echo.url("/webhook"),
            "--secret-env",
            "LUOTA_SCAN_WHSEC",
            "--type",
            "invoice.paid",
        ],
        None,
    );
    scan.run(
        &[
            "send",
            "--to",
            &echo.url("/webhook"),
            "--secret-env",
            "LUOTA_SCAN_WHSEC",
            "--body",
            "-",
            "--signature",
            "rotated",
        ],
        Some(b"{\"id\":\"evt_1\",\"object\":\"event\"}"),
    );
    scan.run(&["init", "--dir", "initdir", "--force"], None);
    scan.run(
        &[
            "validate",
            "initdir/drills",
            "--config",
            "initdir/luota.yaml",
        ],
        None,
    );
    scan.run(&["schema", "drill"], None);
    scan.run(&["schema", "config"], None);
    scan.run(&["completions", "bash"], None);
    scan.run(&["snapshots", "accept", "extra"], None);
    for help in [
        &["--help"][..],
        &["run", "--help"],
        &["validate", "--help"],
        &["demo", "--help"],
        &["event", "--help"],
        &["sign", "--help"],
        &["--version"],
        &["run", "--no-such-flag"],
    ] {
        scan.run(help, None);
    }
    // A broken config and an unknown target: error paths print too.
    let (code, _) = scan.run(&["run", "--target", "nope"], None);
    assert_eq!(code, 2);

    drop(demo);
    scan.outputs.push((
        "luota demo [stdout]".into(),
        std::fs::read(&demo_out).unwrap(),
    ));
    scan.outputs.push((
        "luota demo [stderr]".into(),
        std::fs::read(&demo_err).unwrap(),
    ));
    // What went over the wire to the echo handler: the secret is never sent.
    scan.outputs
        .push(("bytes sent to the echo handler".into(), echo.echoed()));

    let mut files = Vec::new();
    files_under(&work, &mut files);
    files_under(&scan.tmp, &mut files);
    let files_scanned = files.len();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        scan.outputs.push((f.display().to_string(), bytes));
    }

    let needles = needles();
    let mut hits = Vec::new();
    let mut bytes_scanned = 0usize;
    for (label, bytes) in &scan.outputs {
        bytes_scanned += bytes.len();
        let text = String::from_utf8_lossy(bytes);
        for (what, n) in &needles {
            if text.contains(n.as_str()) {
                hits.push(format!("{what} in {label}"));
            }
        }
        // The in-process demo's secret is random: no whsec_ value at all.
        if !label.contains("bytes sent") {
            if let Some(w) = generic_whsec(&text) {
                hits.push(format!("a whsec_ secret ({}…) in {label}", &w[..10]));
            }
        }
    }
    assert!(hits.is_empty(), "secrets leaked:\n{}", hits.join("\n"));
    println!(
        "SAFETY-FIGURES secrets commands={} outputs={} files={} bytes={} secrets={} needles={} hits=0",
        scan.commands + 1,
        scan.outputs.len(),
        files_scanned,
        bytes_scanned,
        secrets().len(),
        needles.len()
    );
}

/// The scan has teeth: each encoding of a secret, embedded at any offset in
/// other text, is found by some needle.
#[test]
fn the_needles_find_every_encoding_at_every_offset() {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let needles = needles();
    for prefix in ["", "a", "ab", "abc"] {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend_from_slice(SIGNING.as_bytes());
        bytes.extend_from_slice(b"tail");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for text in [base64(&bytes, STD), hex.clone(), hex.to_uppercase()] {
            assert!(
                needles.iter().any(|(_, n)| text.contains(n.as_str())),
                "missed {text}"
            );
        }
    }
    assert!(generic_whsec("key whsec_abcdefghijklmnop123 end").is_some());
    assert!(generic_whsec("export X=whsec_<anything>").is_none());
}
