//! Templates cannot read files or run programs: minijinja is used without a
//! loader and without custom functions, so `include`, `import`, `extends`
//! and any unknown function are template errors that name the drill path of
//! the string and the drill file — and nothing of the file shows up.

mod builder;

use luota::drill::render::{Renderer, TargetVars};

fn renderer() -> Renderer {
    let t = TargetVars {
        name: "t".into(),
        app: "http://127.0.0.1:9".into(),
        webhook: "http://127.0.0.1:9/webhook".into(),
    };
    Renderer::new("uid000000001", &t, vec![])
}

#[test]
fn include_import_extends_and_unknown_functions_are_template_errors() {
    let r = renderer();
    for t in [
        "{{ include('/etc/passwd') }}",
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as p %}",
        "{% extends '/etc/passwd' %}",
        "{{ open('/etc/passwd') }}",
        "{{ read_file('/etc/hostname') }}",
        "{{ exec('id') }}",
        "{{ system('id') }}",
        "{{ env.PATH|shell }}",
        "{{ self.__init__ }}",
    ] {
        let e = r
            .str("vars.x", t)
            .expect_err(&format!("`{t}` must not render"));
        assert_eq!(e.path, "vars.x", "{t}");
        assert!(!e.message.contains("root:"), "{t}: {}", e.message);
    }
}

#[test]
fn a_file_reading_template_in_a_drill_names_the_variable_and_the_drill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("sneaky.yaml");
    std::fs::write(
        &d,
        "drill: sneaky\nvars:\n  user: \"user_{{ run.uid }}\"\n  leak: \"{{ include('/etc/passwd') }}\"\nevents:\n  e: { type: invoice.paid }\ndeliver:\n  - send: e\n",
    )
    .unwrap();
    let ran = builder::Test::new()
        .args(["run", "--dry-run", d.to_str().unwrap()])
        .status(2)
        .stdout_has("sneaky.yaml:4:")
        .stdout_has("vars.leak")
        .stdout_has("unknown function")
        .run();
    assert!(!ran.stdout.contains("root:"), "{}", ran.stdout);
}
