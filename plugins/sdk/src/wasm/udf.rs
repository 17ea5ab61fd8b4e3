//! The `weft:udf/scalar-plugin` world: a [`ScalarPlugin`]'s functions as
//! the `weft:udf/scalar` export, and the caller's side of
//! `weft:host/functions`. Bound apart from the engine export so that a UDF
//! plugin exports only `scalar`; it shares the storage types with the
//! `plugin` binding.

use std::rc::Rc;

use crate::wasm::bindings::weft::host::{functions, storage};
use crate::wasm::{from_wit_chunk, sdk_kind, to_wit_chunk, wit_kind};
use crate::{ColumnChunk, Functions, ScalarFunction, ScalarPlugin, Signature};

#[allow(missing_docs, unreachable_pub, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "weft:udf/scalar-plugin",
        path: "../../wit/udf",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::wasm::udf::bindings",
        with: {
            "weft:host/log@0.2.4": crate::wasm::bindings::weft::host::log,
            "weft:host/storage@0.2.4": crate::wasm::bindings::weft::host::storage,
        },
        generate_all,
    });
}

use bindings::exports::weft::udf::scalar as wit;

pub use storage::ColumnChunk as WitChunk;
pub use wit::{Guest as ScalarGuest, Info as WitUdfInfo};

/// `describe()` of a UDF plugin.
pub fn describe<P: ScalarPlugin>() -> WitUdfInfo {
    WitUdfInfo {
        version: P::version(),
        functions: P::functions()
            .into_iter()
            .map(|s| wit::Signature {
                name: s.name,
                description: s.description,
                params: s.params.into_iter().map(wit_kind).collect(),
                returns: wit_kind(s.returns),
            })
            .collect(),
    }
}

/// `call()` of a UDF plugin.
pub fn call<P: ScalarPlugin>(name: &str, args: Vec<WitChunk>) -> Result<WitChunk, String> {
    let args = args.into_iter().map(from_wit_chunk).collect();
    P::call(name, args).map(to_wit_chunk)
}

/// The host's functions, as [`crate::Host::functions`] answers them in wasm.
pub(crate) struct HostFunctions;

impl Functions for HostFunctions {
    fn list(&self) -> Vec<ScalarFunction> {
        functions::list_functions()
            .into_iter()
            .map(|f| ScalarFunction {
                signature: Signature {
                    name: f.name,
                    description: f.description,
                    params: f.params.into_iter().map(sdk_kind).collect(),
                    returns: sdk_kind(f.returns),
                },
                plugin: f.plugin,
                version: f.version,
            })
            .collect()
    }

    fn call(&self, name: &str, args: &[ColumnChunk]) -> Result<ColumnChunk, String> {
        let args: Vec<WitChunk> = args.iter().cloned().map(to_wit_chunk).collect();
        functions::call_function(name, &args)
            .map(from_wit_chunk)
            .map_err(|e| match e {
                functions::FunctionError::NotFound(m)
                | functions::FunctionError::Invalid(m)
                | functions::FunctionError::Failed(m) => m,
            })
    }
}

pub(crate) fn host_functions() -> Rc<dyn Functions> {
    Rc::new(HostFunctions)
}
