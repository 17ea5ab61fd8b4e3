//! The guest-side SDK for Weft plugins.
//!
//! A plugin implements [`Engine`] in plain Rust and calls
//! [`export_engine!`]; the SDK does the WIT plumbing (JSON in and out, error
//! mapping, host imports) when the crate is built for `wasm32-wasip2`. Built
//! natively, the same engine runs against [`NullHost`] or [`RecordingHost`],
//! which is how engines are unit-tested and benchmarked.
//!
//! This crate must stay small and dependency-light: it is compiled into
//! every plugin.
//!
//! A whole engine, with a REST route, a WebSocket endpoint and an event
//! kind of its own (the README's example; compiled and run as a doctest):
//!
//! ```
//! use weft_sdk::{
//!     Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Operation,
//!     Params, RecordingHost, Route, Subscription, Value, json,
//! };
//!
//! pub struct Echo;
//!
//! impl Engine for Echo {
//!     fn describe() -> EngineInfo {
//!         EngineInfo {
//!             name: "echo".into(),
//!             version: "0.1.0".into(),
//!             operations: vec![
//!                 Operation::new("echo", "Returns its params.", json!({"type": "object"}))
//!                     .emits(&["echoed"])
//!                     .topic("echoes"),
//!             ],
//!             manifest: Manifest {
//!                 // POST /api/v1/echo/{name}: path, query and body become params.
//!                 routes: vec![Route::new(Method::Post, "/api/v1/echo/{name}", "echo", "Echo it")],
//!                 // The event protocol pre-subscribed to echo.echoes, taking echo_request.
//!                 endpoints: vec![Endpoint::new("/api/v1/ws/echo", "echoes", "Echoes live")
//!                     .request("echo_request", "echo")],
//!                 events: vec![EventKind::new("echoed", "One echo.", json!({"type": "object",
//!                     "properties": {"name": {"type": "string"}}}))],
//!                 // GraphQL `subscription { echoes(name: "x") { name seq } }`, typed
//!                 // from the kind's schema (every engine also gets `<name>Events`).
//!                 subscriptions: vec![Subscription::new("echoes", "echoes", &["echoed"], "Echoes")
//!                     .filter("name")],
//!                 ..Manifest::default()
//!             },
//!         }
//!     }
//!
//!     fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
//!         match op {
//!             "echo" => {
//!                 let params = params.value()?;
//!                 host.emit("echoes", "echoed", &params);
//!                 host.progress(1, 1, "done", None);
//!                 Ok(params)
//!             }
//!             other => Err(EngineError::UnknownOperation(other.into())),
//!         }
//!     }
//! }
//!
//! weft_sdk::export_engine!(Echo);
//!
//! // Natively, the same engine runs against a recording host:
//! let host = RecordingHost::new();
//! let answer = Echo::invoke("echo", Params::new(r#"{"x":1}"#), &host).unwrap();
//! assert_eq!(answer, json!({"x": 1}));
//! assert_eq!(host.calls().len(), 2);
//! ```

mod clock;
mod engine;
mod functions;
mod host;
mod manifest;
mod storage;
mod stream;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use clock::{now_ms, rfc3339};
pub use engine::{Engine, EngineError, EngineInfo, Operation, Params};
pub use functions::{Functions, NativeFunctions, ScalarFunction, ScalarPlugin, Signature, map_f64};
pub use host::{ChildFailure, Host, Level, NullHost, Recorded, RecordingHost};
pub use manifest::{
    Body, Endpoint, EventKind, Manifest, Method, Route, SessionCall, SessionMessage,
    SessionProtocol, Subscription,
};
pub use serde_json::{self, Value, json};
pub use storage::{
    BlobWriter, CHUNK_ROWS, ChunkStats, ColumnChunk, ColumnKind, ColumnValues, DatasetShape,
    DatasetSummary, DatasetWriter, Partition, ScanPage, StorageFailure, append_chunked,
    json_column, read_numeric_columns, read_whole_blob, write_whole_blob,
};
pub use stream::{Message, PushReply, Rows, Session, StreamEngine, Table};

/// Exports `$engine` (a type implementing [`Engine`]) as the plugin's
/// `weft:engine/engine` interface. Does nothing when built natively.
#[macro_export]
macro_rules! export_engine {
    ($engine:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeftEngineExport;

            impl $crate::wasm::EngineGuest for WeftEngineExport {
                fn describe() -> $crate::wasm::WitInfo {
                    $crate::wasm::describe::<$engine>()
                }

                fn invoke(
                    op: ::std::string::String,
                    params: ::std::string::String,
                ) -> ::std::result::Result<$crate::wasm::WitOutput, $crate::wasm::WitError>
                {
                    $crate::wasm::invoke::<$engine>(&op, &params)
                }
            }

    $crate::wasm::bindings::export!(WeftEngineExport with_types_in $crate::wasm::bindings);
        };
    };
}

/// Exports `$engine` (a type implementing [`StreamEngine`]) as both
/// `weft:engine/engine` and `weft:engine/stream`, the `streaming-plugin`
/// world. Does nothing when built natively.
#[macro_export]
macro_rules! export_streaming_engine {
    ($engine:ty) => {
        $crate::export_engine!($engine);

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeftStreamExport;

            impl $crate::wasm::streaming::StreamGuest for WeftStreamExport {
                type Session = $crate::wasm::streaming::SessionCell<$engine>;
            }

            $crate::wasm::streaming::bindings::export!(WeftStreamExport with_types_in $crate::wasm::streaming::bindings);
        };
    };
}

/// Exports `$plugin` (a type implementing [`ScalarPlugin`]) as the
/// `weft:udf/scalar` interface, the `weft:udf/scalar-plugin` world. Does
/// nothing when built natively.
#[macro_export]
macro_rules! export_scalar_functions {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeftScalarExport;

            impl $crate::wasm::udf::ScalarGuest for WeftScalarExport {
                fn describe() -> $crate::wasm::udf::WitUdfInfo {
                    $crate::wasm::udf::describe::<$plugin>()
                }

                fn call(
                    name: ::std::string::String,
                    args: ::std::vec::Vec<$crate::wasm::udf::WitChunk>,
                ) -> ::std::result::Result<$crate::wasm::udf::WitChunk, ::std::string::String> {
                    $crate::wasm::udf::call::<$plugin>(&name, args)
                }
            }

            $crate::wasm::udf::bindings::export!(WeftScalarExport with_types_in $crate::wasm::udf::bindings);
        };
    };
}
