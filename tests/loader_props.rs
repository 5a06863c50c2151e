//! Bad input never panics: arbitrary YAML text and arbitrary mutations of
//! every shipped drill (byte flips, line deletions and duplications, key
//! renames, indentation shifts, value swaps) go through the loader
//! (`luota::drill::load_str`), and whatever loads goes through the template
//! renderer and the planner. Every rejection is a diagnostic with a location
//! (line and column ≥ 1). Case counts: `LUOTA_PROP_CASES` (default 256 per
//! property).

use std::path::{Path, PathBuf};

use luota::drill::render::{Renderer, TargetVars};
use luota::drill::{load_str, Diagnostic};
use luota::plan::{plan, PlanContext, PlanError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("LUOTA_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn shipped() -> Vec<(PathBuf, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["drills", "tests/drills/handlers"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    out.sort();
    out
}

fn located(d: &Diagnostic) {
    assert!(
        d.line >= 1 && d.col >= 1,
        "diagnostic without a location: {d:?}"
    );
    assert!(!d.message.is_empty(), "{d:?}");
}

/// Load, and if it loads, render and plan; never panic, every rejection located.
fn check(path: &Path, text: String) -> bool {
    match load_str(path, text) {
        Err(problems) => {
            assert!(!problems.is_empty(), "a rejection without a diagnostic");
            problems.iter().for_each(located);
            false
        }
        Ok(d) => {
            let vars = TargetVars {
                name: "props".into(),
                app: "http://127.0.0.1:9".into(),
                webhook: "http://127.0.0.1:9/webhook".into(),
            };
            let mut r = Renderer::new("propuid00001", &vars, vec!["PROP_SECRET".into()]);
            let cx = PlanContext {
                run_uid: "propuid00001".into(),
                now: 1_700_000_000,
                api_version: "2025-08-27.basil".into(),
                timeout: std::time::Duration::from_secs(1),
                settle: std::time::Duration::from_millis(10),
                target_headers: Default::default(),
                policy: Some(luota::config::Policy::demo()),
            };
            match plan(&d, &cx, &mut r) {
                Ok(_) | Err(PlanError::Refused(_)) => {}
                Err(PlanError::Invalid(diag)) => located(&diag),
            }
            true
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    RenameKey(usize, String),
    Indent(usize, usize, bool),
    SwapValue(usize, String),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>().prop_map(|i| i.index(1 << 20));
    prop_oneof![
        (idx.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        idx.clone().prop_map(Mutation::DeleteLine),
        idx.clone().prop_map(Mutation::DuplicateLine),
        (idx.clone(), "[a-z_$.\\[\\]0-9]{0,12}").prop_map(|(i, k)| Mutation::RenameKey(i, k)),
        (idx.clone(), 0usize..9, any::<bool>()).prop_map(|(i, n, add)| Mutation::Indent(i, n, add)),
        (
            idx.clone(),
            prop_oneof![
                Just("".to_string()),
                Just("~".to_string()),
                Just("[]".to_string()),
                Just("{}".to_string()),
                Just("-1".to_string()),
                Just("99999999999999999999".to_string()),
                Just("1e309".to_string()),
                Just("\"{{\"".to_string()),
                Just("\"{{ nope }}\"".to_string()),
                Just("\"{% for x in y %}\"".to_string()),
                Just("0s".to_string()),
                Just("*anchor".to_string()),
                Just("&a [*a]".to_string()),
                Just("!!binary aGk=".to_string()),
                "\\PC{0,20}",
            ]
        )
            .prop_map(|(i, v)| Mutation::SwapValue(i, v)),
        idx.prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match m {
        Mutation::FlipByte(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let at = i % bytes.len();
                bytes[at] = *b;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate(i) => {
            let cut = i % (text.len() + 1);
            return String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned();
        }
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::RenameKey(i, k) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            if let Some(c) = l.find(':') {
                let indent = l.len() - l.trim_start().len();
                let dash = if l.trim_start().starts_with("- ") {
                    "- "
                } else {
                    ""
                };
                *l = format!("{}{dash}{k}{}", &l[..indent], &l[c..]);
            }
        }
        Mutation::Indent(i, by, add) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            if *add {
                *l = format!("{}{l}", " ".repeat(*by));
            } else {
                let strip = l.len() - l.trim_start().len();
                *l = l[strip.min(*by)..].to_string();
            }
        }
        Mutation::SwapValue(i, v) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            if let Some(c) = l.find(": ") {
                *l = format!("{}: {v}", &l[..c]);
            }
        }
        _ => {}
    }
    lines.join("\n") + "\n"
}

static LOADED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The figure `ci/safety-report.sh` collects.
fn figures(property: &str) {
    println!("SAFETY-FIGURES prop name={property} cases={}", cases());
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn arbitrary_text_never_panics_the_loader() {
    let path = Path::new("props/arbitrary.yaml");
    runner()
        .run(&"\\PC{0,400}", |text| {
            let _ = check(path, text);
            Ok(())
        })
        .unwrap();
    figures("arbitrary_text_never_panics_the_loader");
}

/// YAML-shaped text: keys from the drill language, nested maps and lists,
/// template strings, anchors and odd scalars.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("drill"),
        Just("events"),
        Just("deliver"),
        Just("expect"),
        Just("steps"),
        Just("vars"),
        Just("setup"),
        Just("send"),
        Just("type"),
        Just("set"),
        Just("payload"),
        Just("checks"),
        Just("http"),
        Just("json"),
        Just("within"),
        Just("copies"),
        Just("together"),
        Just("signature"),
        Just("after"),
        Just("created"),
        Just("stable"),
        Just("unchanged"),
        Just("redeliver"),
        Just("sql"),
        Just("command"),
        Just("name"),
        Just("settle"),
        Just("orders"),
        Just("control"),
        Just("expect_status"),
        Just("body"),
        Just("members"),
        Just("e"),
        Just("x"),
    ];
    let scalar = prop_oneof![
        Just("invoice.paid".to_string()),
        Just("checkout.session.completed".to_string()),
        Just("\"{{ run.uid }}\"".to_string()),
        Just("\"{{ x }}\"".to_string()),
        Just("GET {{ target.app }}/x".to_string()),
        Just("1s".to_string()),
        Just("true".to_string()),
        Just("1000000000".to_string()),
        Just("-3".to_string()),
        Just("~".to_string()),
        Just("e".to_string()),
        Just("[e]".to_string()),
        Just("{ $.a: 1 }".to_string()),
        Just("&a x".to_string()),
        Just("*a".to_string()),
        "[a-z0-9 .$]{0,10}",
    ];
    let line = (0usize..4, key, any::<bool>(), prop::option::of(scalar)).prop_map(
        |(depth, k, dash, v)| {
            format!(
                "{}{}{k}:{}",
                "  ".repeat(depth),
                if dash { "- " } else { "" },
                v.map(|v| format!(" {v}")).unwrap_or_default()
            )
        },
    );
    prop::collection::vec(line, 0..30).prop_map(|ls| ls.join("\n"))
}

#[test]
fn yaml_shaped_text_never_panics_the_loader_or_planner() {
    let path = Path::new("props/yamlish.yaml");
    runner()
        .run(&yamlish(), |text| {
            let _ = check(path, text);
            Ok(())
        })
        .unwrap();
    figures("yaml_shaped_text_never_panics_the_loader_or_planner");
}

#[test]
fn mutated_shipped_drills_never_panic_the_loader_or_planner() {
    let drills = shipped();
    assert!(drills.len() >= 7);
    let strategy = (
        prop::sample::select((0..drills.len()).collect::<Vec<_>>()),
        prop::collection::vec(mutation(), 1..6),
    );
    runner()
        .run(&strategy, |(i, muts)| {
            let (path, text) = &drills[i];
            let mut t = text.clone();
            for m in &muts {
                t = apply(&t, m);
            }
            if check(path, t) {
                LOADED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    figures("mutated_shipped_drills_never_panic_the_loader_or_planner");
    println!(
        "SAFETY-FIGURES prop name=mutated_drills_that_still_loaded_and_were_planned cases={}",
        LOADED.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn every_shipped_drill_loads() {
    for (path, text) in shipped() {
        let d = load_str(&path, text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        drop(d);
    }
}

#[test]
fn arbitrary_templates_never_panic_the_renderer() {
    let vars = TargetVars {
        name: "props".into(),
        app: "http://127.0.0.1:9".into(),
        webhook: "http://127.0.0.1:9/webhook".into(),
    };
    let r = Renderer::new("propuid00001", &vars, vec!["PROP_SECRET".into()]);
    let piece = prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{%".to_string()),
        Just("%}".to_string()),
        Just("{#".to_string()),
        Just(" run.uid ".to_string()),
        Just(" env.HOME ".to_string()),
        Just(" env.PROP_SECRET ".to_string()),
        Just(" range(999999999) ".to_string()),
        Just(" include('/etc/passwd') ".to_string()),
        Just(" x|join ".to_string()),
        Just(" for x in ".to_string()),
        Just(" if ".to_string()),
        Just(" endfor ".to_string()),
        Just("|".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        "\\PC{0,6}",
    ];
    runner()
        .run(&prop::collection::vec(piece, 0..16), |pieces| {
            let t = pieces.concat();
            if let Err(e) = r.str("vars.t", &t) {
                assert_eq!(e.path, "vars.t");
            }
            Ok(())
        })
        .unwrap();
    figures("arbitrary_templates_never_panic_the_renderer");
}
