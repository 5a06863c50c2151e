//! Semantic rules serde cannot express. Each problem is a diagnostic at the
//! path it is about (see [`super::span`]).

use super::diagnostic::{nearest, Diagnostic};
use super::load::LoadedDrill;
use super::model::{Delivery, Expect, SourceSpec, Together};
use crate::stripe::template;

/// Every semantic problem in `d`; empty when the drill is valid.
pub fn validate(d: &LoadedDrill) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let drill = &d.drill;
    let mut err = |path: &str, msg: String, help: Option<String>| {
        let mut diag = d.at(path, msg);
        if let Some(h) = help {
            diag = diag.with_help(h);
        }
        out.push(diag);
    };

    if drill.control {
        let steps: Vec<Option<&super::model::Expect>> = if drill.steps.is_empty() {
            vec![drill.expect.as_ref()]
        } else {
            drill.steps.iter().map(|s| s.expect.as_ref()).collect()
        };
        if steps.iter().any(|e| e.is_none_or(|e| e.checks.is_empty())) {
            err(
                "control",
                "a control drill needs checks in every step: it passes only when they catch the broken outcome".into(),
                Some("add the checks that would hold if the outcome had happened".into()),
            );
        }
    }
    if drill.drill.trim().is_empty() {
        err(
            "drill",
            "the drill needs a name".into(),
            Some("phrase it as the promise, e.g. `Paid checkout grants Pro access`".into()),
        );
    }
    match (
        drill.deliver.is_empty() && drill.expect.is_none(),
        drill.steps.is_empty(),
    ) {
        (true, true) => err(
            "",
            "nothing to do: the drill has neither `deliver` nor `steps`".into(),
            Some("add a `deliver:` list and an `expect:` block".into()),
        ),
        (false, false) => err(
            "steps",
            "a drill has either `deliver`/`expect` or `steps`, not both".into(),
            Some("move the top-level `deliver` and `expect` into a step".into()),
        ),
        _ => {}
    }

    let known = template::known_types();
    for (name, ev) in &drill.events {
        let base = format!("events.{name}");
        let sources = [
            ev.event_type.is_some() && ev.payload.is_none() && ev.file.is_none(),
            ev.payload.is_some(),
            ev.file.is_some(),
        ];
        if ev.payload.is_some() && ev.file.is_some() {
            err(
                &format!("{base}.file"),
                format!("event `{name}` has both `payload` and `file`"),
                Some("keep one of them".into()),
            );
        }
        if !sources.iter().any(|s| *s) {
            err(
                &base,
                format!(
                    "event `{name}` needs a `type` (a built-in template), a `payload` or a `file`"
                ),
                None,
            );
        }
        if let (Some(t), None, None) = (&ev.event_type, &ev.payload, &ev.file) {
            if !known.contains(&t.as_str()) {
                let help = match nearest(t, known.iter().copied()) {
                    Some(n) => format!(
                        "did you mean `{n}`? (`luota event --list` shows every built-in type)"
                    ),
                    None => {
                        "use `payload:` or `file:` for a type without a built-in template".into()
                    }
                };
                err(
                    &format!("{base}.type"),
                    format!("no built-in template for event type `{t}`"),
                    Some(help),
                );
            }
        }
        if let Some(c) = &ev.created {
            if let super::model::Created::Relative(r) = c {
                let refs: Vec<&String> = [&r.same_as, &r.after, &r.before]
                    .into_iter()
                    .flatten()
                    .collect();
                if refs.len() != 1 {
                    err(
                        &format!("{base}.created"),
                        "`created` takes exactly one of `same-as`, `after`, `before`".into(),
                        None,
                    );
                }
                for other in refs {
                    if !drill.events.contains_key(other) || other == name {
                        err(&format!("{base}.created"), format!("`created` refers to `{other}`, which is not another event of this drill"), None);
                    }
                }
            }
        }
    }

    let names: Vec<&str> = drill.events.keys().map(String::as_str).collect();
    let check_plan = |prefix: &str,
                      deliver: &[Delivery],
                      expect: Option<&Expect>,
                      out: &mut dyn FnMut(&str, String, Option<String>)| {
        let unknown_event =
            |path: &str, name: &str, out: &mut dyn FnMut(&str, String, Option<String>)| {
                if !drill.events.contains_key(name) {
                    let help = match nearest(name, names.iter().copied()) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None if names.is_empty() => "declare it under `events:`".into(),
                        None => format!("events of this drill: {}", names.join(", ")),
                    };
                    out(path, format!("unknown event `{name}`"), Some(help));
                }
            };
        for (i, del) in deliver.iter().enumerate() {
            let p = format!("{prefix}deliver[{i}]");
            match (&del.send, &del.together) {
                (Some(name), Together::Members(_)) => {
                    let _ = name;
                    out(&format!("{p}.send"), "a line with a `together` list names its events inside the list, not in `send`".into(), Some("move it into the list as `- send: NAME`".into()));
                }
                (Some(name), _) => unknown_event(&format!("{p}.send"), name, out),
                (None, Together::Members(_)) => {}
                (None, _) => out(
                    &p,
                    "this delivery line has no `send`".into(),
                    Some("write `- send: EVENT_NAME`".into()),
                ),
            }
            if del.copies == 0 {
                out(
                    &format!("{p}.copies"),
                    "`copies` must be 1 or more".into(),
                    None,
                );
            }
            if del.copies > 1000 {
                out(
                    &format!("{p}.copies"),
                    "`copies` is capped at 1000".into(),
                    Some("a race needs tens of copies, not thousands".into()),
                );
            }
            match &del.together {
                Together::Flag(true) if del.copies < 2 => out(
                    &format!("{p}.together"),
                    "`together: true` needs `copies: 2` or more".into(),
                    None,
                ),
                Together::Members(members) => {
                    if members.len() < 2 {
                        out(
                            &format!("{p}.together"),
                            "a `together` list needs two or more members".into(),
                            None,
                        );
                    }
                    for (j, m) in members.iter().enumerate() {
                        let mp = format!("{p}.together[{j}]");
                        match (&m.send, &m.http) {
                            (Some(name), None) => unknown_event(&format!("{mp}.send"), name, out),
                            (None, Some(call)) => {
                                if let Err(msg) = split_method(call) {
                                    out(&format!("{mp}.http"), msg, None);
                                }
                            }
                            _ => out(
                                &mp,
                                "a `together` member has exactly one of `send` or `http`".into(),
                                None,
                            ),
                        }
                    }
                }
                _ => {}
            }
            if let Some(r) = &del.redeliver {
                if del.together.is_on() {
                    out(
                        &format!("{p}.redeliver"),
                        "`redeliver` applies to single deliveries, not `together` groups".into(),
                        None,
                    );
                }
                if r.attempts == 0 || r.attempts > 50 {
                    out(
                        &format!("{p}.redeliver.attempts"),
                        "`attempts` must be between 1 and 50".into(),
                        None,
                    );
                }
            }
        }
        if let Some(e) = expect {
            if !e.stable.is_empty() && deliver.first().is_some_and(|d| d.together.is_on()) {
                out(
                    &format!("{prefix}expect.stable"),
                    "`stable` has no baseline here: the plan starts with a `together` group, so no single accepted delivery settles first".into(),
                    Some("state the expected values with checks instead (e.g. `$.credits: 100`), or send one copy before the group".into()),
                );
            }
            for (j, c) in e.checks.iter().enumerate() {
                let cp = format!("{prefix}expect.checks[{j}]");
                source_rules(&cp, &format!("check `{}`", c.name), c.source(), out);
                if c.json.is_empty() && c.status.is_none() && c.equals.is_none() && c.rows.is_none()
                {
                    out(
                        &cp,
                        format!("check `{}` asserts nothing", c.name),
                        Some("add `json: {$.path: value}`, `equals:`, `rows:` or `status:`".into()),
                    );
                }
                if c.sql.is_none() && c.rows.is_some() {
                    out(
                        &format!("{cp}.rows"),
                        "`rows` applies to `sql` checks".into(),
                        None,
                    );
                }
                if c.http.is_some() && c.equals.is_some() {
                    out(&format!("{cp}.equals"), "`equals` applies to `sql` and `command` checks; for `http` use `json: {$.path: value}`".into(), None);
                }
                for path in c.json.keys() {
                    if let Err(e) = serde_json_path::JsonPath::parse(path) {
                        out(
                            &format!("{prefix}expect.checks[{j}].json.{path}"),
                            format!("`{path}` is not a JSONPath: {e}"),
                            Some("JSONPath per RFC 9535 starts with `$`, e.g. `$.plan`".into()),
                        );
                    }
                }
            }
            for (kind, probes) in [("stable", &e.stable), ("unchanged", &e.unchanged)] {
                for (j, p) in probes.iter().enumerate() {
                    source_rules(
                        &format!("{prefix}expect.{kind}[{j}]"),
                        &format!("`{kind}` probe"),
                        p.source(),
                        out,
                    );
                    for (k, path) in p.json.iter().enumerate() {
                        if let Err(e) = serde_json_path::JsonPath::parse(path) {
                            out(
                                &format!("{prefix}expect.{kind}[{j}].json[{k}]"),
                                format!("`{path}` is not a JSONPath: {e}"),
                                None,
                            );
                        }
                    }
                }
            }
        }
    };
    let mut push = |p: &str, m: String, h: Option<String>| err(p, m, h);
    check_plan("", &drill.deliver, drill.expect.as_ref(), &mut push);
    for (i, step) in drill.steps.iter().enumerate() {
        check_plan(
            &format!("steps[{i}]."),
            &step.deliver,
            step.expect.as_ref(),
            &mut push,
        );
    }
    let mut calls: Vec<(String, &str)> = Vec::new();
    for (i, c) in drill.setup.iter().enumerate() {
        calls.push((format!("setup[{i}].http"), &c.http));
    }
    for (i, step) in drill.steps.iter().enumerate() {
        for (j, c) in step.setup.iter().enumerate() {
            calls.push((format!("steps[{i}].setup[{j}].http"), &c.http));
        }
    }
    for (path, text) in calls {
        if let Err(msg) = split_method(text) {
            push(
                &path,
                msg,
                Some("write it as `METHOD URL`, e.g. `POST {{ target.app }}/test/users`".into()),
            );
        }
    }
    out
}

/// A check or probe reads exactly one source, and its keys fit that source.
fn source_rules(
    path: &str,
    what: &str,
    src: SourceSpec,
    out: &mut dyn FnMut(&str, String, Option<String>),
) {
    match src.count() {
        0 => out(
            path,
            format!("{what} has nothing to read"),
            Some("add `http: GET <url>`, `sql: SELECT ...` or `command: [program, args]`".into()),
        ),
        1 => {}
        _ => out(
            path,
            format!("{what} names more than one of `http`, `sql`, `command`"),
            Some("split it into one check per source".into()),
        ),
    }
    if src.sql.is_none() && !src.params.is_empty() {
        out(
            &format!("{path}.params"),
            "`params` go with `sql`".into(),
            None,
        );
    }
    if src.http.is_none() && !src.headers.is_empty() {
        out(
            &format!("{path}.headers"),
            "`headers` go with `http`".into(),
            None,
        );
    }
    if let Some(h) = src.http {
        if let Err(msg) = split_method(h) {
            out(&format!("{path}.http"), msg, None);
        }
    }
    if src.command.is_some_and(|c| c.is_empty()) {
        out(
            &format!("{path}.command"),
            "`command` needs a program".into(),
            Some("write it as a list: `[program, arg1, arg2]`".into()),
        );
    }
}

/// The HTTP methods a setup call or probe may use.
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Split `METHOD URL`; a bare URL means GET.
pub fn split_method(text: &str) -> Result<(&str, &str), String> {
    let t = text.trim();
    match t.split_once(char::is_whitespace) {
        Some((m, rest)) if METHODS.contains(&m) => Ok((m, rest.trim())),
        Some((m, _)) if m.chars().all(|c| c.is_ascii_alphabetic()) => {
            Err(format!("unknown HTTP method `{m}`"))
        }
        _ if t.is_empty() => Err("empty HTTP call".into()),
        _ => Ok(("GET", t)),
    }
}
