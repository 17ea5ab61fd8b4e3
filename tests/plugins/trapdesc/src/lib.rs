//! A plugin whose `describe()` panics: the host calls it in a sandbox at
//! load and must refuse the component, passing on the panic's message,
//! and carry on. Built only for that test.

use weft_sdk::{Engine, EngineError, EngineInfo, Host, Params, Value};

/// The engine that cannot describe itself.
pub struct TrapDescribe;

impl Engine for TrapDescribe {
    fn describe() -> EngineInfo {
        panic!("describe panics on purpose")
    }

    fn invoke(_op: &str, _params: Params<'_>, _host: &dyn Host) -> Result<Value, EngineError> {
        Err(EngineError::Failed("never loaded".into()))
    }
}

weft_sdk::export_engine!(TrapDescribe);
