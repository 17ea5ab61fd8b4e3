//! The engine both versions build (see the crate docs).

use weft_sdk::{
    Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Operation, Params, Value, json,
};

/// The engine.
pub struct Versioned;

impl Engine for Versioned {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "versioned".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new("which", "Answers the version that ran the job.", json!({"type": "object"})),
                Operation::new(
                    "slow",
                    "Emits `ticks` tick events, `every_ms` apart, each naming the version.",
                    json!({"type": "object", "properties": {"ticks": {"type": "integer"}, "every_ms": {"type": "integer"}}}),
                )
                .emits(&["tick"])
                .topic("ticks"),
            ],
            manifest: Manifest {
                events: vec![EventKind::new(
                    "tick",
                    "One tick of a slow job.",
                    json!({"type": "object", "required": ["n", "version"],
                           "properties": {"n": {"type": "integer"}, "version": {"type": "string"}}}),
                )],
                ..Manifest::default()
            },
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        let version = env!("CARGO_PKG_VERSION");
        match op {
            "which" => Ok(json!({"version": version})),
            "slow" => {
                let p = params.value()?;
                let ticks = p["ticks"].as_u64().unwrap_or(5);
                let every = std::time::Duration::from_millis(p["every_ms"].as_u64().unwrap_or(100));
                for n in 0..ticks {
                    if host.cancelled() {
                        return Err(EngineError::Cancelled);
                    }
                    host.emit("ticks", "tick", &json!({"n": n, "version": version}));
                    std::thread::sleep(every);
                }
                Ok(json!({"version": version, "ticks": ticks}))
            }
            other => Err(EngineError::UnknownOperation(other.into())),
        }
    }
}

weft_sdk::export_engine!(Versioned);
