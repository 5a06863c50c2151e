//! Templating: one minijinja engine for every string in a drill.
//!
//! Templates read the drill's `vars`, `run.*` (`run.uid` is unique per run),
//! `target.*` (`app`, `webhook`, `name`), `event.NAME.*` (`id`, `type`,
//! `created`) and environment variables only through an explicit
//! `env.NAME` — never one of the target's secret variables. Templates cannot
//! read files or run programs. Undefined names are errors, not empty strings.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::value::{Object, Value as JValue};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// A template failed to render.
#[derive(Debug, Clone, thiserror::Error)]
#[error("template in `{path}` failed: {message}")]
pub struct RenderError {
    /// The drill path of the string (`vars.user`, `events.checkout.set.customer`).
    pub path: String,
    pub message: String,
}

/// Environment variables, readable one by one through `env.NAME`.
#[derive(Debug)]
struct EnvVars {
    forbidden: Vec<String>,
}

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        if self.forbidden.iter().any(|f| f == name) {
            return None;
        }
        std::env::var(name).ok().map(JValue::from)
    }
}

/// What templates may read.
pub struct Renderer {
    env: Environment<'static>,
    root: BTreeMap<String, JValue>,
    forbidden_env: Vec<String>,
}

/// The `target.*` values templates see.
#[derive(Debug, Clone)]
pub struct TargetVars {
    pub name: String,
    pub app: String,
    pub webhook: String,
}

impl Renderer {
    /// `forbidden_env`: the names of the target's secret variables.
    pub fn new(run_uid: &str, target: &TargetVars, forbidden_env: Vec<String>) -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut root = BTreeMap::new();
        root.insert(
            "run".into(),
            JValue::from_serialize(serde_json::json!({ "uid": run_uid })),
        );
        root.insert(
            "target".into(),
            JValue::from_serialize(serde_json::json!({ "name": target.name, "app": target.app, "webhook": target.webhook })),
        );
        root.insert(
            "env".into(),
            JValue::from_object(EnvVars {
                forbidden: forbidden_env.clone(),
            }),
        );
        root.insert(
            "event".into(),
            JValue::from_serialize(serde_json::json!({})),
        );
        Renderer {
            env,
            root,
            forbidden_env,
        }
    }

    /// Render the drill's vars in order; each may use the ones before it.
    pub fn add_vars(&mut self, vars: &IndexMap<String, Value>) -> Result<(), RenderError> {
        for (k, v) in vars {
            let rendered = self.value(&format!("vars.{k}"), v)?;
            self.root
                .insert(k.clone(), JValue::from_serialize(&rendered));
        }
        Ok(())
    }

    /// Make `event.NAME.*` available (ids, types and times of planned events).
    pub fn set_events(&mut self, events: &Value) {
        self.root
            .insert("event".into(), JValue::from_serialize(events));
    }

    /// Render one string.
    pub fn str(&self, path: &str, template: &str) -> Result<String, RenderError> {
        if !template.contains("{{") && !template.contains("{%") {
            return Ok(template.to_string());
        }
        self.env
            .render_str(template, &self.root)
            .map_err(|e| self.error(path, template, e))
    }

    /// Render every string inside a JSON value (keys included).
    pub fn value(&self, path: &str, v: &Value) -> Result<Value, RenderError> {
        Ok(match v {
            Value::String(s) => Value::String(self.str(path, s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.value(&format!("{path}[{i}]"), x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    let key = self.str(path, k)?;
                    out.insert(key, self.value(&format!("{path}.{k}"), x)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    fn error(&self, path: &str, template: &str, e: minijinja::Error) -> RenderError {
        let mut message = match e.detail() {
            Some(d) => format!("{} ({d})", e.kind()),
            None => e.kind().to_string(),
        };
        if e.kind() == minijinja::ErrorKind::UndefinedError {
            message = format!("{message} in `{template}`");
            if template.contains("env.") {
                let secret_ref = self
                    .forbidden_env
                    .iter()
                    .any(|f| template.contains(f.as_str()));
                message.push_str(if secret_ref {
                    "; the target's secret variables are never readable from templates"
                } else {
                    "; the environment variable is not set"
                });
            } else {
                message.push_str("; templates read vars, run.uid, target.app, target.webhook, event.NAME.id and env.NAME");
            }
        }
        RenderError {
            path: path.to_string(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Renderer {
        let t = TargetVars {
            name: "demo".into(),
            app: "http://127.0.0.1:9".into(),
            webhook: "http://127.0.0.1:9/webhook".into(),
        };
        Renderer::new("abc123", &t, vec!["LUOTA_TEST_SECRET_VAR".into()])
    }

    #[test]
    fn vars_render_in_order_and_see_run_and_target() {
        let mut r = r();
        let vars: IndexMap<String, Value> = serde_yaml::from_str(
            "user: \"user_{{ run.uid }}\"\nemail: \"{{ user }}@example.test\"\nn: 3",
        )
        .unwrap();
        r.add_vars(&vars).unwrap();
        assert_eq!(
            r.str("x", "{{ email }}").unwrap(),
            "user_abc123@example.test"
        );
        assert_eq!(
            r.str("x", "{{ target.app }}/a").unwrap(),
            "http://127.0.0.1:9/a"
        );
        assert_eq!(
            r.value("x", &serde_json::json!({"k": "{{ n }}", "m": 5}))
                .unwrap(),
            serde_json::json!({"k": "3", "m": 5})
        );
    }

    #[test]
    fn undefined_names_are_errors_that_name_the_path() {
        let e = r().str("vars.user", "{{ usr }}").unwrap_err();
        assert_eq!(e.path, "vars.user");
        assert!(e.message.contains("{{ usr }}"), "{}", e.message);
    }

    #[test]
    fn secret_env_vars_are_not_readable() {
        std::env::set_var("LUOTA_TEST_SECRET_VAR", "whsec_dont_print_me");
        let e = r().str("x", "{{ env.LUOTA_TEST_SECRET_VAR }}").unwrap_err();
        assert!(!e.to_string().contains("whsec_dont_print_me"));
        assert!(e.message.contains("never readable"), "{}", e.message);
    }
}
