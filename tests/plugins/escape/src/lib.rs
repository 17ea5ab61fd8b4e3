//! A plugin that reaches past the WASI the host grants: it reads a file
//! (and the wall clock, which the host grants frozen), so its component
//! imports `wasi:filesystem`. The host must refuse to load it and name the
//! import; it exists only for that test.

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
                "Reads /etc/passwd and the time of day.",
                json!({"type": "object"}),
            )],
            manifest: Default::default(),
        }
    }

    fn invoke(_op: &str, _params: Params<'_>, _host: &dyn Host) -> Result<Value, EngineError> {
        let file = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(json!({"bytes": file.len(), "now": now}))
    }
}

weft_sdk::export_engine!(Escape);
