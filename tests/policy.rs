//! The access policy (issue 5): `luota.yaml` declares what access each
//! subscription status gives and each plan's limits; a check compares what the
//! app shows with the policy's answer, and the incident says where the
//! expected value came from. Every test runs against the real embedded demo.

mod builder;

use std::path::Path;

use builder::Test;
use luota::record::RunRecord;

/// A drill that puts the customer in `past_due` and compares access with the
/// policy, three ways: by status, by the event's subscription, by plan limit.
const GRACE: &str = "drill: A failed renewal gives the policy's access
settle: 100ms
vars:
  user: \"user_{{ run.uid }}\"
  customer: \"cus_{{ run.uid }}\"
  subscription: \"sub_{{ run.uid }}\"
setup:
  - http: POST {{ target.app }}/test/users
    json: { id: \"{{ user }}\", email: \"{{ user }}@example.test\" }
events:
  checkout:
    type: checkout.session.completed
    set:
      client_reference_id: \"{{ user }}\"
      customer: \"{{ customer }}\"
      subscription: \"{{ subscription }}\"
  created:
    type: customer.subscription.created
    set:
      id: \"{{ subscription }}\"
      customer: \"{{ customer }}\"
      metadata: { user_id: \"{{ user }}\" }
  failed:
    type: invoice.payment_failed
    set:
      customer: \"{{ customer }}\"
      parent.subscription_details.subscription: \"{{ subscription }}\"
steps:
  - name: checkout
    deliver:
      - send: checkout
      - send: created
    expect:
      checks:
        - name: customer has the policy's access for the new subscription
          stage: access
          http: GET {{ target.app }}/internal/users/{{ user }}
          json:
            $.access: { policy: access, event: created }
            $.credits: { policy: limits.credits, event: created }
  - name: renewal fails
    deliver:
      - send: failed
    expect:
      within: 1s
      checks:
        - name: customer gets the policy's access for past_due
          stage: access
          http: GET {{ target.app }}/internal/users/{{ user }}
          json: { $.access: { policy: access, status: past_due } }
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(dir: &Path, drill: &str, extra: &[&str], status: i32) -> (RunRecord, builder::Ran) {
    let json = dir.join("r.json");
    let ran = Test::new()
        .current_dir(dir)
        .args(["run", drill, "--snapshots", "ignore", "--report-json"])
        .arg(json.to_str().unwrap())
        .args(extra)
        .status(status)
        .run();
    let rec = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (rec, ran)
}

#[test]
fn policy_matchers_pass_against_the_correct_demo() {
    let dir = tempfile::tempdir().unwrap();
    let drill = write(dir.path(), "grace.yaml", GRACE);
    let (rec, _) = run(dir.path(), &drill, &[], 0);
    let step = &rec.drills[0].steps[1];
    let a = &step.checks[0].assertions[0];
    assert_eq!(a.expected, "\"grace\"");
    assert_eq!(a.because.as_deref(), Some("policy for status past_due"));
    let first = &rec.drills[0].steps[0].checks[0].assertions;
    assert_eq!(
        first[0].because.as_deref(),
        Some("policy for status active")
    );
    assert_eq!(first[1].expected, "100");
    assert_eq!(first[1].because.as_deref(), Some("policy for plan pro"));
}

#[test]
fn incident_names_the_policy_behind_the_expected_access() {
    let dir = tempfile::tempdir().unwrap();
    let drill = write(dir.path(), "grace.yaml", GRACE);
    let (rec, ran) = run(
        dir.path(),
        &drill,
        &["--demo-fault", "payment-failure-ignored"],
        1,
    );
    let access = rec.drills[0]
        .incident
        .as_ref()
        .and_then(|i| i.access.clone())
        .expect("an incident with access");
    assert_eq!(access.expected, "grace");
    assert_eq!(access.observed, "full");
    assert_eq!(
        access.because.as_deref(),
        Some("policy for status past_due")
    );
    assert!(
        ran.stdout
            .contains("access: expected grace (policy for status past_due), observed full"),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_policy_in_luota_yaml_replaces_the_demos_own() {
    // An app whose policy cuts access at past_due: the correct demo gives
    // grace, so the same drill now fails, and says which policy it used.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "luota.yaml",
        "policy:\n  access: { active: full, past_due: none }\n  plans: { pro: { credits: 100 } }\n",
    );
    let drill = write(dir.path(), "grace.yaml", GRACE);
    let (rec, ran) = run(dir.path(), &drill, &[], 1);
    let access = rec.drills[0]
        .incident
        .as_ref()
        .unwrap()
        .access
        .clone()
        .unwrap();
    assert_eq!(
        (access.expected.as_str(), access.observed.as_str()),
        ("none", "grace")
    );
    assert!(ran.stdout.contains("(policy for status past_due)"));
}

/// Each wrong policy reference is an invalid drill (exit 2) with the file,
/// line and column of the check and what to do; the other drills still run.
#[test]
fn policy_mistakes_are_located_diagnostics_and_other_drills_still_run() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "{ policy: access, status: overdue }",
            "",
            "no access for status `overdue`; it names `active`",
        ),
        (
            "{ policy: access, event: failed }",
            "",
            "event `failed` (invoice.payment_failed) carries no subscription",
        ),
        (
            "{ policy: access, event: nope }",
            "",
            "no event named `nope`",
        ),
        (
            "{ policy: limits.seats, plan: pro }",
            "",
            "plan `pro` sets no limit `seats`; it sets `credits`",
        ),
        (
            "{ policy: price, plan: pro }",
            "",
            "use `access` or `limits.NAME`",
        ),
        (
            "{ policy: access, status: past_due, event: created }",
            "",
            "give exactly one of `status` or `event`",
        ),
    ];
    for (matcher, _, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let bad = GRACE.replace("{ policy: access, status: past_due }", matcher);
        let bad = write(dir.path(), "bad.yaml", &bad);
        let good = write(dir.path(), "good.yaml", GRACE);
        let (rec, ran) = run(dir.path(), dir.path().to_str().unwrap(), &[], 2);
        let _ = (bad, good);
        let all = format!("{}{}", ran.stdout, ran.stderr);
        assert!(all.contains(want), "{matcher}: wanted {want:?} in\n{all}");
        assert!(
            all.contains("bad.yaml:50:"),
            "{matcher}: no location in\n{all}"
        );
        assert_eq!(rec.drills.len(), 2, "{matcher}: the good drill ran too");
        assert!(rec
            .drills
            .iter()
            .any(|d| d.path.ends_with("good.yaml") && d.verdict == luota::record::Verdict::Passed));
    }
}

#[test]
fn a_target_without_a_policy_says_how_to_declare_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "luota.yaml",
        "default_target: local\ntargets:\n  local:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: LUOTA_POLICY_TEST_SECRET\n",
    );
    let drill = write(dir.path(), "grace.yaml", GRACE);
    let ran = Test::new()
        .current_dir(dir.path())
        .env("LUOTA_POLICY_TEST_SECRET", "whsec_policy_test_0123456789")
        .args(["run", &drill, "--dry-run"])
        .status(2)
        .run();
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert!(all.contains("grace.yaml:39:"), "{all}");
    assert!(all.contains("declare `policy:"), "{all}");
}

/// Regression: `luota validate` only loaded drills, so a policy check naming
/// a status the policy lacks passed validate and then made `run` exit 2.
#[test]
fn validate_plans_drills_and_reports_policy_mistakes_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GRACE.replace(
        "{ policy: access, status: past_due }",
        "{ policy: access, status: overdue }",
    );
    write(dir.path(), "bad.yaml", &bad);
    write(dir.path(), "good.yaml", GRACE);
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["validate", dir.path().to_str().unwrap()])
        .status(2)
        .stdout_has("2 drill files: 1 valid, 1 invalid")
        .run();
    assert!(ran.stderr.contains("bad.yaml:50:"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("no access for status `overdue`"),
        "{}",
        ran.stderr
    );
    // Against a target of luota.yaml that has no policy: validate says so, without its secret.
    write(
        dir.path(),
        "luota.yaml",
        "default_target: local\ntargets:\n  local:\n    webhook: http://127.0.0.1:9/webhook\n    secret_env: LUOTA_POLICY_TEST_UNSET\n",
    );
    let good = dir.path().join("good.yaml");
    let ran = Test::new()
        .current_dir(dir.path())
        .args(["validate", good.to_str().unwrap()])
        .status(2)
        .run();
    assert!(ran.stderr.contains("declare `policy:"), "{}", ran.stderr);
    Test::new()
        .current_dir(dir.path())
        .args(["validate", good.to_str().unwrap(), "--target", "demo"])
        .status(0)
        .stdout_has("1 drill file: 1 valid, 0 invalid")
        .run();
}
