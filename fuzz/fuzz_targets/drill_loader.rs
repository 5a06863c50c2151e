//! Fuzz the drill loader, the template renderer and the planner: any bytes
//! must give a drill or diagnostics with a location, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use luota::drill::load_str;
use luota::drill::render::{Renderer, TargetVars};
use luota::plan::{plan, PlanContext, PlanError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/drill.yaml");
    match load_str(path, text.to_string()) {
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in problems {
                assert!(p.line >= 1 && p.col >= 1, "{p:?}");
            }
        }
        Ok(d) => {
            let vars = TargetVars {
                name: "fuzz".into(),
                app: "http://127.0.0.1:9".into(),
                webhook: "http://127.0.0.1:9/webhook".into(),
            };
            let mut r = Renderer::new("fuzzuid00001", &vars, vec!["FUZZ_SECRET".into()]);
            let cx = PlanContext {
                run_uid: "fuzzuid00001".into(),
                now: 1_700_000_000,
                api_version: "2025-08-27.basil".into(),
                timeout: std::time::Duration::from_secs(1),
                settle: std::time::Duration::from_millis(10),
                target_headers: Default::default(),
                policy: Some(luota::config::Policy::demo()),
            };
            if let Err(PlanError::Invalid(diag)) = plan(&d, &cx, &mut r) {
                assert!(diag.line >= 1, "{diag:?}");
            }
        }
    }
});
