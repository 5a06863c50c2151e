//! The embedded staging app `demo` (TEMPORARY STUB).
use std::net::SocketAddr;
pub struct DemoOptions {
    pub secret: String,
    pub secondary_secret: Option<String>,
    pub fault: Option<Fault>,
    pub db_path: Option<std::path::PathBuf>,
    pub future_window_secs: i64,
}
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    NoIdempotency,
}
impl Fault {
    pub fn all() -> &'static [Fault] {
        &[Fault::NoIdempotency]
    }
    pub fn id(&self) -> &'static str {
        "no-idempotency"
    }
    pub fn dcode(&self) -> &'static str {
        "D1"
    }
    pub fn about(&self) -> &'static str {
        ""
    }
}
impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(_: &str) -> Result<Self, String> {
        Ok(Fault::NoIdempotency)
    }
}
#[derive(Debug, thiserror::Error)]
#[error("demo")]
pub struct DemoError;
pub struct DemoServer {
    pub addr: SocketAddr,
    pub database_url: String,
}
impl DemoServer {
    pub async fn start(addr: SocketAddr, opts: DemoOptions) -> Result<DemoServer, DemoError> {
        let _ = (addr, opts);
        todo!()
    }
    pub fn base_url(&self) -> String {
        todo!()
    }
    pub async fn shutdown(self) {}
}
