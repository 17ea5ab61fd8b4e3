//! A plugin that reaches past the WASI the host grants: it reads files,
//! lists directories, connects to a TCP port and looks up a name (and
//! reads the wall clock, which the host grants frozen), so its component
//! imports `wasi:filesystem` and `wasi:sockets`. The host links those with
//! nothing granted: it loads, and every reach fails. It exists only for
//! that test.

use weft_sdk::{Engine, EngineError, EngineInfo, Host, Operation, Params, Value, json};

/// The escaping engine.
pub struct Escape;

impl Engine for Escape {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "escape".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![Operation::new(
                "look",
                "Tries to read /etc/passwd and ./Cargo.toml, list / and ., connect to 127.0.0.1:`port`, resolve localhost, and read the time of day; answers what happened to each.",
                json!({"type": "object"}),
            )],
            manifest: Default::default(),
        }
    }

    fn invoke(_op: &str, params: Params<'_>, _host: &dyn Host) -> Result<Value, EngineError> {
        let params = params.value()?;
        let port = params["port"].as_u64().unwrap_or(80) as u16;
        let read = |path: &str| match std::fs::read(path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("refused: {e}"),
        };
        let list = |path: &str| match std::fs::read_dir(path) {
            Ok(entries) => format!("listed {} entries", entries.count()),
            Err(e) => format!("refused: {e}"),
        };
        let connect = match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => "connected".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        let lookup = match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port)) {
            Ok(found) => format!("resolved {} addresses", found.count()),
            Err(e) => format!("refused: {e}"),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(json!({
            "passwd": read("/etc/passwd"), "relative": read("Cargo.toml"),
            "root": list("/"), "here": list("."), "connect": connect, "lookup": lookup, "now": now,
        }))
    }
}

weft_sdk::export_engine!(Escape);
