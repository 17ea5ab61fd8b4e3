//! The WIT binding, compiled only for wasm32: turns an [`Engine`] into the
//! `weft:engine/engine` export and [`Host`] calls into `weft:host` imports.

use serde_json::Value;

use crate::{
    BlobWriter, ChunkStats, ColumnChunk, ColumnKind, ColumnValues, DatasetShape, DatasetSummary,
    DatasetWriter, Engine, EngineError, Host, Level, Params, Partition, ScanPage, StorageFailure,
};

#[allow(missing_docs, unreachable_pub, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "weft:engine/plugin",
        path: "../../wit/engine",
        pub_export_macro: true,
        default_bindings_module: "weft_sdk::wasm::bindings",
        generate_all,
    });
}

pub mod streaming;
pub mod udf;

use bindings::weft::engine::types as wit;
use bindings::weft::host::{events, log, storage, tasks};

pub use bindings::exports::weft::engine::engine::Guest as EngineGuest;
pub use wit::{Error as WitError, Info as WitInfo, Output as WitOutput};

/// The host as the guest sees it: straight calls into the imports.
pub(crate) struct WasmHost;

impl Host for WasmHost {
    fn functions(&self) -> std::rc::Rc<dyn crate::Functions> {
        udf::host_functions()
    }

    fn emit(&self, topic: &str, kind: &str, data: &Value) {
        // Infallible by design: an event the host refuses is not a reason
        // to fail the job. `try_emit` says why.
        let _ = self.try_emit(topic, kind, data);
    }

    fn try_emit(&self, topic: &str, kind: &str, data: &Value) -> Result<(), String> {
        events::emit(topic, kind, &data.to_string()).map_err(|refused| match refused {
            events::EmitError::ReservedKind(kind) => format!("'{kind}' is a host event kind"),
            events::EmitError::BadTopic(why) => format!("bad topic: {why}"),
            events::EmitError::TooLarge(bytes) => {
                format!("{bytes} bytes is over the event size limit")
            }
            events::EmitError::QuotaExceeded(why) => why,
        })
    }

    fn progress(&self, done: u64, total: u64, message: &str, detail: Option<&Value>) {
        let detail = detail.map(Value::to_string);
        events::progress(done, total, message, detail.as_deref());
    }

    fn cancelled(&self) -> bool {
        events::cancelled()
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }

    fn dataset_shape(&self, name: &str) -> Result<DatasetShape, StorageFailure> {
        let dataset = storage::Dataset::open(name).map_err(failure)?;
        Ok(DatasetShape {
            rows: dataset.rows(),
            chunks: dataset.chunks(),
            columns: dataset.schema().into_iter().map(|f| f.name).collect(),
            version: dataset.version(),
        })
    }

    fn dataset_partitions(&self, name: &str) -> Result<Vec<Partition>, StorageFailure> {
        let dataset = storage::Dataset::open(name).map_err(failure)?;
        Ok(dataset
            .partitions()
            .into_iter()
            .map(|p| Partition {
                index: p.index,
                label: p.label,
                rows: p.rows,
                chunks: p.chunks,
            })
            .collect())
    }

    fn run_children(
        &self,
        operation: &str,
        params: &[Value],
    ) -> Result<Vec<Result<Value, crate::ChildFailure>>, String> {
        let texts: Vec<String> = params.iter().map(Value::to_string).collect();
        let runs = tasks::run_children(operation, &texts).map_err(|e| match e {
            tasks::TaskError::Refused(why) => why,
        })?;
        Ok(runs
            .into_iter()
            .map(|run| match run {
                Ok(text) => serde_json::from_str(&text).map_err(|e| crate::ChildFailure {
                    code: "invalid_output".into(),
                    message: format!("a child's result is not JSON: {e}"),
                }),
                Err(f) => Err(crate::ChildFailure {
                    code: f.code,
                    message: f.message,
                }),
            })
            .collect())
    }

    fn chunk_stats(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ChunkStats, StorageFailure> {
        let dataset = storage::Dataset::open(dataset).map_err(failure)?;
        let stats = dataset.chunk_stats(column, chunk).map_err(failure)?;
        Ok(ChunkStats {
            rows: stats.rows,
            nulls: stats.nulls,
            min: stats.min,
            max: stats.max,
        })
    }

    fn read_chunk(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ColumnChunk, StorageFailure> {
        let dataset = storage::Dataset::open(dataset).map_err(failure)?;
        dataset
            .read(column, chunk)
            .map(from_wit_chunk)
            .map_err(failure)
    }

    fn create_dataset<'a>(
        &'a self,
        name: &str,
        schema: &[(String, ColumnKind)],
        replace: bool,
    ) -> Result<Box<dyn DatasetWriter + 'a>, StorageFailure> {
        let fields: Vec<storage::Field> = schema
            .iter()
            .map(|(name, kind)| storage::Field {
                name: name.clone(),
                kind: wit_kind(*kind),
            })
            .collect();
        let writer = storage::DatasetWriter::create(name, &fields, replace).map_err(failure)?;
        Ok(Box::new(WasmWriter(writer)))
    }

    fn list_datasets(&self) -> Result<Vec<DatasetSummary>, StorageFailure> {
        Ok(storage::list_datasets()
            .into_iter()
            .map(|d| DatasetSummary {
                name: d.name,
                rows: d.rows,
                columns: d
                    .schema
                    .into_iter()
                    .map(|f| (f.name, sdk_kind(f.kind)))
                    .collect(),
            })
            .collect())
    }

    fn drop_dataset(&self, name: &str) -> Result<(), StorageFailure> {
        storage::drop_dataset(name).map_err(failure)
    }

    fn list_collections(&self) -> Result<Vec<String>, StorageFailure> {
        Ok(storage::list_collections())
    }

    fn drop_collection(&self, collection: &str) -> Result<(), StorageFailure> {
        storage::drop_collection(collection).map_err(failure)
    }

    fn collection_get(
        &self,
        collection: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageFailure> {
        storage::Collection::open(collection, false)
            .and_then(|c| c.get(key))
            .map_err(failure)
    }

    fn collection_put(
        &self,
        collection: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageFailure> {
        storage::Collection::open(collection, true)
            .and_then(|c| c.put(key, value))
            .map_err(failure)
    }

    fn collection_delete(&self, collection: &str, key: &[u8]) -> Result<(), StorageFailure> {
        storage::Collection::open(collection, false)
            .and_then(|c| c.delete(key))
            .map_err(failure)
    }

    fn collection_write_batch(
        &self,
        collection: &str,
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StorageFailure> {
        let writes: Vec<storage::Write> = batch
            .iter()
            .map(|(key, value)| storage::Write {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        storage::Collection::open(collection, true)
            .and_then(|c| c.write_batch(&writes))
            .map_err(failure)
    }

    fn collection_write_batch_if(
        &self,
        collection: &str,
        expect: &[(Vec<u8>, Option<Vec<u8>>)],
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<bool, StorageFailure> {
        let writes = |list: &[(Vec<u8>, Option<Vec<u8>>)]| -> Vec<storage::Write> {
            list.iter()
                .map(|(key, value)| storage::Write {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect()
        };
        storage::Collection::open(collection, true)
            .and_then(|c| c.write_batch_if(&writes(expect), &writes(batch)))
            .map_err(failure)
    }

    fn collection_scan_page(
        &self,
        collection: &str,
        start: &[u8],
        prefix: &[u8],
        limit: u32,
        max_bytes: u32,
    ) -> Result<ScanPage, StorageFailure> {
        let page = storage::Collection::open(collection, false)
            .and_then(|c| c.scan_page(start, prefix, limit, max_bytes))
            .map_err(failure)?;
        Ok(ScanPage {
            entries: page.entries,
            next: page.next,
        })
    }

    fn write_blob(&self, name: &str, data: &[u8]) -> Result<(), StorageFailure> {
        storage::write_blob(name, data).map_err(failure)
    }

    fn read_blob(&self, name: &str) -> Result<Vec<u8>, StorageFailure> {
        storage::read_blob(name).map_err(failure)
    }

    fn create_blob<'a>(&'a self, name: &str) -> Result<Box<dyn BlobWriter + 'a>, StorageFailure> {
        let writer = storage::BlobWriter::create(name).map_err(failure)?;
        Ok(Box::new(WasmBlob(writer)))
    }

    fn read_blob_range(
        &self,
        name: &str,
        offset: u64,
        length: u32,
    ) -> Result<(u64, Vec<u8>), StorageFailure> {
        let reader = storage::BlobReader::open(name).map_err(failure)?;
        let bytes = reader.read(offset, length).map_err(failure)?;
        Ok((reader.size(), bytes))
    }

    fn drop_blob(&self, name: &str) -> Result<(), StorageFailure> {
        storage::drop_blob(name).map_err(failure)
    }
}

/// A blob writer of the host, behind the SDK's trait.
struct WasmBlob(storage::BlobWriter);

impl BlobWriter for WasmBlob {
    fn write(&mut self, data: &[u8]) -> Result<(), StorageFailure> {
        self.0.write(data).map_err(failure)
    }

    fn commit(self: Box<Self>) -> Result<u64, StorageFailure> {
        self.0.commit().map_err(failure)
    }
}

/// A dataset writer of the host, behind the SDK's trait.
struct WasmWriter(storage::DatasetWriter);

impl DatasetWriter for WasmWriter {
    fn append(&mut self, columns: Vec<ColumnChunk>) -> Result<(), StorageFailure> {
        let columns: Vec<storage::ColumnChunk> = columns.into_iter().map(to_wit_chunk).collect();
        self.0.append(&columns).map_err(failure)
    }

    fn commit(self: Box<Self>) -> Result<u64, StorageFailure> {
        self.0.commit().map_err(failure)
    }
}

pub(crate) fn from_wit_chunk(chunk: storage::ColumnChunk) -> ColumnChunk {
    let values = match chunk.values {
        storage::ColumnValues::Float64(v) => ColumnValues::F64(v),
        storage::ColumnValues::Int64(v) => ColumnValues::I64(v),
        storage::ColumnValues::Boolean(v) => ColumnValues::Bool(v),
        storage::ColumnValues::Text(v) => ColumnValues::Text(v),
        storage::ColumnValues::Timestamp(v) => ColumnValues::Timestamp(v),
        storage::ColumnValues::Binary(v) => ColumnValues::Binary(v),
    };
    ColumnChunk {
        values,
        valid: chunk.valid,
    }
}

pub(crate) fn to_wit_chunk(chunk: ColumnChunk) -> storage::ColumnChunk {
    let values = match chunk.values {
        ColumnValues::F64(v) => storage::ColumnValues::Float64(v),
        ColumnValues::I64(v) => storage::ColumnValues::Int64(v),
        ColumnValues::Bool(v) => storage::ColumnValues::Boolean(v),
        ColumnValues::Text(v) => storage::ColumnValues::Text(v),
        ColumnValues::Timestamp(v) => storage::ColumnValues::Timestamp(v),
        ColumnValues::Binary(v) => storage::ColumnValues::Binary(v),
    };
    storage::ColumnChunk {
        values,
        valid: chunk.valid,
    }
}

pub(crate) fn wit_kind(kind: ColumnKind) -> storage::ColumnType {
    match kind {
        ColumnKind::F64 => storage::ColumnType::Float64,
        ColumnKind::I64 => storage::ColumnType::Int64,
        ColumnKind::Bool => storage::ColumnType::Boolean,
        ColumnKind::Text => storage::ColumnType::Text,
        ColumnKind::Timestamp => storage::ColumnType::Timestamp,
        ColumnKind::Binary => storage::ColumnType::Binary,
    }
}

pub(crate) fn sdk_kind(kind: storage::ColumnType) -> ColumnKind {
    match kind {
        storage::ColumnType::Float64 => ColumnKind::F64,
        storage::ColumnType::Int64 => ColumnKind::I64,
        storage::ColumnType::Boolean => ColumnKind::Bool,
        storage::ColumnType::Text => ColumnKind::Text,
        storage::ColumnType::Timestamp => ColumnKind::Timestamp,
        storage::ColumnType::Binary => ColumnKind::Binary,
    }
}

fn failure(error: storage::StorageError) -> StorageFailure {
    match error {
        storage::StorageError::NotFound(m) => StorageFailure::NotFound(m),
        storage::StorageError::Invalid(m) => StorageFailure::Invalid(m),
        storage::StorageError::Exists(m) => StorageFailure::Exists(m),
        storage::StorageError::Failed(m) => StorageFailure::Failed(m),
    }
}

/// `describe` for engine `E`, in WIT types.
pub fn describe<E: Engine>() -> WitInfo {
    let info = E::describe();
    WitInfo {
        name: info.name,
        version: info.version,
        operations: info
            .operations
            .into_iter()
            .map(|op| wit::Operation {
                name: op.name,
                description: op.description,
                params_schema: op.params_schema.to_string(),
                result_schema: op.result_schema.map(|s| s.to_string()).unwrap_or_default(),
                emits: op.emits,
                topic: op.topic,
            })
            .collect(),
        manifest: manifest(info.manifest),
    }
}

fn manifest(m: crate::Manifest) -> wit::Manifest {
    use crate::{Body, Method, SessionCall};
    wit::Manifest {
        routes: m
            .routes
            .into_iter()
            .map(|r| wit::Route {
                method: match r.method {
                    Method::Get => wit::HttpMethod::Get,
                    Method::Post => wit::HttpMethod::Post,
                    Method::Put => wit::HttpMethod::Put,
                    Method::Patch => wit::HttpMethod::Patch,
                    Method::Delete => wit::HttpMethod::Delete,
                },
                path: r.path,
                operation: r.operation,
                body: match r.body {
                    Body::None => wit::BodyKind::None,
                    Body::Json => wit::BodyKind::Json,
                    Body::Bytes(media_type) => wit::BodyKind::Bytes(media_type),
                },
                wait: r.wait,
                access: if r.operator_only {
                    wit::Access::Operator
                } else {
                    wit::Access::Tenant
                },
                success_status: r.success_status,
                description: r.description,
            })
            .collect(),
        endpoints: m
            .endpoints
            .into_iter()
            .map(|e| wit::Endpoint {
                path: e.path,
                topics: e.topics,
                requests: e
                    .requests
                    .into_iter()
                    .map(|(message_type, operation)| wit::RequestMessage {
                        message_type,
                        operation,
                    })
                    .collect(),
                description: e.description,
            })
            .collect(),
        events: m
            .events
            .into_iter()
            .map(|k| wit::EventKind {
                name: k.name,
                schema: k.schema.to_string(),
                description: k.description,
            })
            .collect(),
        session: m.session.map(|s| wit::SessionProtocol {
            path: s.path,
            config_schema: s.config_schema.to_string(),
            messages: s
                .messages
                .into_iter()
                .map(|m| wit::SessionMessage {
                    message_type: m.message_type,
                    call: match m.call {
                        SessionCall::Push => wit::SessionCall::Push,
                        SessionCall::Request => wit::SessionCall::Request,
                    },
                    rows_field: m.rows_field,
                    single_row: m.single_row,
                    reply_type: m.reply_type,
                    columns: m
                        .columns
                        .into_iter()
                        .map(|(name, kind)| storage::Field {
                            name,
                            kind: wit_kind(kind),
                        })
                        .collect(),
                    description: m.description,
                })
                .collect(),
            topics: s.topics,
        }),
        subscriptions: m
            .subscriptions
            .into_iter()
            .map(|s| wit::Subscription {
                name: s.name,
                description: s.description,
                topic: s.topic,
                kinds: s.kinds,
                filters: s.filters,
                final_kind: s.final_kind.unwrap_or_default(),
            })
            .collect(),
    }
}

/// `invoke` for engine `E`: JSON text in, JSON text out.
pub fn invoke<E: Engine>(op: &str, params: &str) -> Result<wit::Output, WitError> {
    E::invoke(op, Params::new(params), &WasmHost)
        .map(|result| wit::Output::Json(result.to_string()))
        .map_err(to_wit_error)
}

pub(crate) fn to_wit_error(error: EngineError) -> WitError {
    match error {
        EngineError::UnknownOperation(op) => WitError::UnknownOperation(op),
        EngineError::InvalidParams(message) => WitError::InvalidParams(wit::ParamError {
            pointer: String::new(),
            message,
        }),
        EngineError::InvalidParam { pointer, message } => {
            WitError::InvalidParams(wit::ParamError { pointer, message })
        }
        EngineError::NotFound(what) => WitError::NotFound(what),
        EngineError::Conflict(message) => WitError::Failed(wit::Failure {
            code: "conflict".into(),
            message,
            retryable: false,
        }),
        EngineError::TooLarge(message) => WitError::Failed(wit::Failure {
            code: "payload_too_large".into(),
            message,
            retryable: false,
        }),
        EngineError::Cancelled => WitError::Cancelled,
        EngineError::Failed(message) => WitError::Failed(wit::Failure {
            code: "plugin_error".into(),
            message,
            retryable: false,
        }),
    }
}
