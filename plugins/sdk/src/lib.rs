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

mod engine;
mod host;
mod storage;
mod stream;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use engine::{Engine, EngineError, EngineInfo, Operation, Params};
pub use host::{Host, Level, NullHost, Recorded, RecordingHost};
pub use serde_json::{self, Value, json};
pub use storage::{ColumnChunk, ColumnValues, DatasetShape, StorageFailure, read_numeric_columns};
pub use stream::{Rows, Scored, Session, StreamEngine};

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
                ) -> ::std::result::Result<::std::string::String, $crate::wasm::WitError> {
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
