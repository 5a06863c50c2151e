//! Command probes: run a program (e.g. a framework console) with a bound,
//! and read its exit status and stdout (parsed as JSON when it is JSON).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;

/// Stdout is kept up to this many bytes.
pub const STDOUT_CAP: usize = 256 * 1024;

/// Run `argv`; `(exit status, stdout)` or why it could not run.
pub async fn run(argv: &[String], timeout: Duration) -> Result<(i64, Value), String> {
    let (prog, args) = argv.split_first().ok_or("the command is empty")?;
    let mut child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{prog}`: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let work = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stdout.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            let room = STDOUT_CAP.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..n.min(room)]);
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status.code().map(i64::from).unwrap_or(-1), buf))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok((code, out))) => {
            let text = String::from_utf8_lossy(&out);
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|_| Value::String(text.trim().to_string()));
            Ok((code, value))
        }
        Ok(Err(e)) => Err(format!("`{prog}` failed: {e}")),
        Err(_) => Err(format!(
            "`{prog}` did not finish within {}",
            crate::report::human_duration(timeout)
        )),
    }
}
