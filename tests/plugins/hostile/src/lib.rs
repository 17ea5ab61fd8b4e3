//! A deliberately badly-behaved plugin, built only for the sandbox tests and
//! the runtime benchmark. Each operation misbehaves in one way a hostile or
//! buggy third-party plugin could: the host must fail that job alone.

use std::hint::black_box;

use weft_sdk::{Engine, EngineError, EngineInfo, Host, Operation, Params, Value, json};

/// The hostile engine.
pub struct Hostile;

impl Engine for Hostile {
    fn describe() -> EngineInfo {
        let any = json!({ "type": "object" });
        EngineInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new("echo", "Returns its params unchanged.", any.clone()),
                Operation::new("trap", "Panics, which traps the instance.", any.clone()),
                Operation::new(
                    "spin",
                    "Loops forever without checking cancellation.",
                    any.clone(),
                ),
                Operation::new("hog", "Allocates memory until it is refused.", any),
            ],
        }
    }

    fn invoke(op: &str, params: Params<'_>, _host: &dyn Host) -> Result<Value, EngineError> {
        match op {
            "echo" => params.value(),
            "trap" => panic!("hostile plugin panics on purpose"),
            "spin" => {
                let mut counter: u64 = 0;
                loop {
                    counter = black_box(counter.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Touch every page so the memory is really committed.
                    hoard.push(vec![1u8; 1 << 20]);
                    black_box(&hoard);
                }
            }
            other => Err(EngineError::UnknownOperation(other.to_owned())),
        }
    }
}

weft_sdk::export_engine!(Hostile);
