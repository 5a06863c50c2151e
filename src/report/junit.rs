//! `--report-junit FILE`: JUnit XML, one `<testcase>` per promise.
//!
//! One `<testsuite>` per drill (named after the drill, `classname` = the
//! drill file), and in it one `<testcase>` per:
//!
//! - outcome check (`[step] check name`);
//! - delivery-status expectation, one per plan line
//!   (`[step] delivery of `checkout` (signature valid) expects 2xx`);
//! - `stable` value (`[step] stable $.credits`) and `unchanged` value.
//!
//! A failed testcase carries the failure as its message and the whole
//! incident text as its body, so CI shows which promise broke and what to do.
//! An errored or invalid drill is one testcase with an `<error>`; an
//! interrupted one is skipped. In a control drill the checks are expected
//! *not* to hold: its check testcases fail only when the drill failed.
//!
//! Built with `quick-junit`; times come from the record, nothing is recomputed.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::incident;
use crate::record::{DrillRecord, RunRecord, StepRecord, Verdict};
use crate::runner::show;

fn failure(message: String, description: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(message);
    if !description.is_empty() {
        s.set_description(description.to_string());
    }
    s
}

fn case(d: &DrillRecord, name: String, status: TestCaseStatus) -> TestCase {
    let mut t = TestCase::new(name, status);
    t.set_classname(d.path.clone());
    t
}

fn prefix(d: &DrillRecord, step: &StepRecord) -> String {
    if d.steps.len() > 1 || step.name != d.name {
        format!("[{}] ", step.name)
    } else {
        String::new()
    }
}

/// The testcases of one drill.
pub fn cases(d: &DrillRecord) -> Vec<TestCase> {
    let incident_text = d.incident.as_ref().map(incident::text).unwrap_or_default();
    match d.verdict {
        Verdict::Errored | Verdict::Invalid => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            let what = if d.verdict == Verdict::Invalid {
                "the drill file is invalid"
            } else {
                "the drill could not be carried out"
            };
            s.set_message(format!(
                "{what}: {}",
                d.errors.first().cloned().unwrap_or_default()
            ));
            s.set_type(d.verdict.word());
            s.set_description(format!("{}\nrerun: {}", d.errors.join("\n"), d.rerun));
            return vec![case(d, "drill".into(), s)];
        }
        Verdict::Interrupted => {
            let mut s = TestCaseStatus::skipped();
            s.set_message("interrupted before the drill finished");
            return vec![case(d, "drill".into(), s)];
        }
        Verdict::Passed | Verdict::Failed => {}
    }
    let mut out = Vec::new();
    for step in &d.steps {
        let p = prefix(d, step);
        // Delivery expectations: one per plan line.
        let mut lines: Vec<usize> = step.deliveries.iter().map(|x| x.line).collect();
        lines.dedup();
        for line in lines {
            let group: Vec<_> = step.deliveries.iter().filter(|x| x.line == line).collect();
            let first = group[0];
            let name = format!(
                "{p}delivery of `{}` (signature {}, line {}) expects {}",
                first.event,
                first.signature,
                line + 1,
                first.expected_status
            );
            let bad: Vec<_> = group.iter().filter(|x| !x.ok).collect();
            let status = match bad.first() {
                None => TestCaseStatus::success(),
                Some(b) => failure(
                    format!(
                        "{} of {} answered {}, expected {}",
                        bad.len(),
                        group.len(),
                        b.status
                            .map(|s| s.to_string())
                            .or_else(|| b.error.clone())
                            .unwrap_or_default(),
                        b.expected_status
                    ),
                    &incident_text,
                ),
            };
            out.push(case(d, name, status));
        }
        for c in &step.checks {
            let name = format!("{p}{}", c.name);
            let broke = if d.control {
                d.verdict == Verdict::Failed && c.held
            } else {
                !c.held
            };
            let status = if !broke {
                TestCaseStatus::success()
            } else if d.control {
                failure(
                    format!("control drill: `{}` held on a broken outcome", c.name),
                    &incident_text,
                )
            } else {
                let mut msg = format!("did not happen: {}", c.name);
                if let Some(e) = &c.error {
                    msg.push_str(&format!(": {e}"));
                }
                for a in c.assertions.iter().filter(|a| !a.held) {
                    msg.push_str(&format!(
                        "; {}: expected {}, observed {} {}",
                        a.path,
                        a.expected_text(),
                        show(&a.observed),
                        incident::polled(step)
                    ));
                }
                failure(msg, &incident_text)
            };
            let mut t = case(d, name, status);
            t.set_assertions(c.assertions.len());
            out.push(t);
        }
        for (kind, values) in [("stable", &step.stable), ("unchanged", &step.unchanged)] {
            for v in values {
                let name = format!("{p}{kind} {} ({})", v.path, v.probe);
                let status = if v.held {
                    TestCaseStatus::success()
                } else {
                    failure(
                        match &v.error {
                            Some(e) => format!("{kind} {}: {e}", v.path),
                            None => format!(
                                "{kind} {} moved from {} to {}",
                                v.path,
                                show(&v.baseline),
                                show(&v.final_value)
                            ),
                        },
                        &incident_text,
                    )
                };
                out.push(case(d, name, status));
            }
        }
    }
    if out.is_empty() && d.verdict == Verdict::Failed {
        out.push(case(
            d,
            "drill".into(),
            failure(
                d.errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "the drill failed".into()),
                &incident_text,
            ),
        ));
    }
    out
}

/// The JUnit report of a run.
pub fn render(run: &RunRecord) -> String {
    let mut report = Report::new(format!("luota ({})", run.target));
    report.set_time(Duration::from_millis(run.duration_ms));
    for d in &run.drills {
        let mut suite = TestSuite::new(d.name.clone());
        suite.set_time(Duration::from_millis(d.duration_ms));
        suite.add_property(("path", d.path.as_str()));
        suite.add_property(("target", run.target.as_str()));
        suite.add_property(("verdict", d.verdict.word()));
        if let Some(sha) = run.deploy.as_ref().and_then(|x| x.sha.as_deref()) {
            suite.add_property(("deploy_sha", sha));
        }
        if !d.run_uid.is_empty() {
            suite.add_property(("run_uid", d.run_uid.as_str()));
        }
        suite.add_test_cases(cases(d));
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- luota: cannot write JUnit: {e} -->\n"))
}
