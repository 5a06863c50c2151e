//! `luota event`: print an event exactly as a drill would send it.

use crate::exit;
use crate::plan::set_path;
use crate::runner::new_uid;
use crate::stripe::body::{encode, BodyEncoding};
use crate::stripe::envelope::{envelope, EnvelopeParts};
use crate::stripe::template::{self, ApiFamily, TemplateContext, DEFAULT_API_VERSION};

#[derive(Debug, clap::Args)]
pub struct EventArgs {
    /// The event type, e.g. checkout.session.completed.
    #[arg(required_unless_present = "list")]
    pub event_type: Option<String>,
    /// Override inside data.object: PATH=VALUE (VALUE parsed as JSON when it is JSON, else a string).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// API version to render for (the shape differs before and after basil).
    #[arg(long, default_value = DEFAULT_API_VERSION)]
    pub api_version: String,
    /// The body encoding.
    #[arg(long, value_enum, default_value = "stripe")]
    pub body: BodyArg,
    /// List the event types with built-in templates.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BodyArg {
    Stripe,
    Compact,
    Hostile,
}

impl From<BodyArg> for BodyEncoding {
    fn from(b: BodyArg) -> Self {
        match b {
            BodyArg::Stripe => BodyEncoding::Stripe,
            BodyArg::Compact => BodyEncoding::Compact,
            BodyArg::Hostile => BodyEncoding::Hostile,
        }
    }
}

pub fn event(args: EventArgs) -> i32 {
    if args.list {
        for t in template::known_types() {
            println!("{t}");
        }
        return exit::PASSED;
    }
    let event_type = args.event_type.unwrap_or_default();
    let ev = match render(&event_type, &args.set, &args.api_version) {
        Ok(ev) => ev,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::INVALID_INPUT;
        }
    };
    let bytes = encode(&ev, args.body.into());
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&bytes);
    if !bytes.ends_with(b"\n") {
        let _ = out.write_all(b"\n");
    }
    exit::PASSED
}

/// Render the built-in template for `event_type` with `--set PATH=VALUE`
/// overrides into a whole event, as a drill would send it (shared with
/// `luota send --type`). The error is the message to print (exit 2).
pub(crate) fn render(
    event_type: &str,
    sets: &[String],
    api_version: &str,
) -> Result<serde_json::Value, String> {
    let uid = new_uid();
    let created = crate::deliver::unix_now();
    let cx = TemplateContext {
        seed: uid.clone(),
        created,
        family: ApiFamily::of(api_version),
    };
    let Some(mut object) = template::object_for(event_type, &cx) else {
        let known = template::known_types();
        let hint = crate::drill::diagnostic::nearest(event_type, known.iter().copied())
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        return Err(format!("error: no built-in template for `{event_type}`\n  = help: {hint}`luota event --list` shows every type"));
    };
    for s in sets {
        let Some((path, raw)) = s.split_once('=') else {
            return Err(format!("error: --set `{s}` must look like PATH=VALUE"));
        };
        let value = serde_json::from_str(raw)
            .unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
        set_path(&mut object, path, value).map_err(|e| format!("error: --set {e}"))?;
    }
    Ok(envelope(EnvelopeParts {
        id: format!("evt_1{uid}00"),
        event_type: event_type.to_string(),
        api_version: api_version.to_string(),
        created,
        previous_attributes: template::previous_attributes_for(event_type, &cx),
        object,
        request_id: Some(format!("req_{uid}00")),
    }))
}
