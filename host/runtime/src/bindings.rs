//! The WIT worlds the host binds: `v2` (weft 0.2, what the SDK builds
//! today) and `v1` (weft 0.1, so plugins built against it keep loading).
//! Both are linked into one `Linker`; a component is bound to the newest
//! world it fits. Resource handles of both versions are the same Rust
//! types (`storage_host`), so the 0.1 imports are thin adapters over the
//! 0.2 ones (`host_v1`).
//!
//! Only this module names the generated code's paths; the rest of the
//! crate goes through the aliases below.

#[allow(missing_docs, unreachable_pub)]
pub(crate) mod v2 {
    pub(crate) mod plugin {
        wasmtime::component::bindgen!({
            world: "weft:engine/plugin",
            path: "../../wit/engine",
            with: {
                "weft:host/storage.dataset": crate::storage_host::DatasetHandle,
                "weft:host/storage.dataset-writer": crate::storage_host::WriterHandle,
                "weft:host/storage.collection": crate::storage_host::CollectionHandle,
                "weft:host/storage.blob-writer": crate::storage_host::BlobWriterHandle,
                "weft:host/storage.blob-reader": crate::storage_host::BlobReaderHandle,
            },
        });
    }

    /// Only the export side is used; the imports are linked through
    /// [`plugin`], whose types are shared so errors map the same way.
    pub(crate) mod stream {
        wasmtime::component::bindgen!({
            world: "weft:engine/stream-exports",
            path: "../../wit/engine",
            with: {
                "weft:engine/types": super::plugin::weft::engine::types,
                "weft:host/storage": super::plugin::weft::host::storage,
                "weft:host/events": super::plugin::weft::host::events,
                "weft:host/log": super::plugin::weft::host::log,
            },
        });
    }
}

/// UDF plugins (`weft:udf/scalar-plugin`): only the export side; the
/// column types are those of [`v2::plugin`], so chunks pass through
/// unconverted.
#[allow(missing_docs, unreachable_pub)]
pub(crate) mod udf {
    wasmtime::component::bindgen!({
        world: "weft:udf/scalar-plugin",
        path: "../../wit/udf",
        with: {
            "weft:host/storage": super::v2::plugin::weft::host::storage,
            "weft:host/log": super::v2::plugin::weft::host::log,
        },
    });
}

#[allow(missing_docs, unreachable_pub)]
pub(crate) mod v1 {
    pub(crate) mod plugin {
        wasmtime::component::bindgen!({
            world: "weft:engine/plugin",
            path: "../../wit/0.1/engine",
            with: {
                "weft:host/storage.dataset": crate::storage_host::DatasetHandle,
                "weft:host/storage.collection": crate::storage_host::CollectionHandle,
            },
        });
    }

    pub(crate) mod stream {
        wasmtime::component::bindgen!({
            world: "weft:engine/stream-exports",
            path: "../../wit/0.1/engine",
            with: {
                "weft:engine/types": super::plugin::weft::engine::types,
                "weft:host/events": super::plugin::weft::host::events,
                "weft:host/log": super::plugin::weft::host::log,
            },
        });
    }
}
