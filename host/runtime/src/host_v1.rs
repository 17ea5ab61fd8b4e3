//! `weft:host@0.1.0` for plugins built against WIT 0.1: each call is the
//! 0.2 call of the same name, its answer converted to the 0.1 types. 0.1's
//! `emit` cannot report a refusal, so one is logged and the event dropped
//! (as 0.1 always did). Nothing here may behave differently from 0.2
//! except where 0.1's types cannot say what 0.2 says.

use wasmtime::component::Resource;

use crate::bindings::v1::plugin::weft::host::{events, log, storage as old};
use crate::bindings::v2::plugin::weft::host::{log as new_log, storage as new};
use crate::host::HostState;
use crate::storage_host::{CollectionHandle, DatasetHandle};

impl events::Host for HostState {
    fn emit(&mut self, topic: String, kind: String, data: String) {
        if let Err(refused) = self.emit_checked(&topic, &kind, &data) {
            tracing::warn!(plugin = %self.scope.plugin, kind, ?refused, "event dropped");
        }
    }

    fn progress(&mut self, done: u64, total: u64, message: String, detail: Option<String>) {
        self.report_progress(done, total, message, detail);
    }

    fn cancelled(&mut self) -> bool {
        self.is_cancelled()
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => new_log::Level::Trace,
            log::Level::Debug => new_log::Level::Debug,
            log::Level::Info => new_log::Level::Info,
            log::Level::Warn => new_log::Level::Warn,
            log::Level::Error => new_log::Level::Error,
        };
        self.write_log(level, &message);
    }
}

impl crate::bindings::v1::plugin::weft::engine::types::Host for HostState {}

fn error(error: new::StorageError) -> old::StorageError {
    match error {
        new::StorageError::NotFound(m) => old::StorageError::NotFound(m),
        new::StorageError::Invalid(m) | new::StorageError::Exists(m) => {
            old::StorageError::Invalid(m)
        }
        new::StorageError::Failed(m) => old::StorageError::Failed(m),
    }
}

fn chunk(chunk: new::ColumnChunk) -> old::ColumnChunk {
    let values = match chunk.values {
        new::ColumnValues::Float64(v) => old::ColumnValues::Float64(v),
        new::ColumnValues::Int64(v) => old::ColumnValues::Int64(v),
        new::ColumnValues::Boolean(v) => old::ColumnValues::Boolean(v),
        new::ColumnValues::Text(v) => old::ColumnValues::Text(v),
        new::ColumnValues::Timestamp(v) => old::ColumnValues::Timestamp(v),
        // 0.1 has no binary type: its plugins read such a column as hex.
        new::ColumnValues::Binary(v) => old::ColumnValues::Text(
            v.iter()
                .map(|b| weft_storage::columnar::to_hex(b))
                .collect(),
        ),
    };
    old::ColumnChunk {
        values,
        valid: chunk.valid,
    }
}

fn field(field: new::Field) -> old::Field {
    let kind = match field.kind {
        new::ColumnType::Float64 => old::ColumnType::Float64,
        new::ColumnType::Int64 => old::ColumnType::Int64,
        new::ColumnType::Boolean => old::ColumnType::Boolean,
        new::ColumnType::Text => old::ColumnType::Text,
        new::ColumnType::Timestamp => old::ColumnType::Timestamp,
        new::ColumnType::Binary => old::ColumnType::Text,
    };
    old::Field {
        name: field.name,
        kind,
    }
}

impl old::Host for HostState {
    fn write_blob(&mut self, name: String, data: Vec<u8>) -> Result<(), old::StorageError> {
        new::Host::write_blob(self, name, data).map_err(error)
    }

    fn read_blob(&mut self, name: String) -> Result<Vec<u8>, old::StorageError> {
        new::Host::read_blob(self, name).map_err(error)
    }
}

impl old::HostDataset for HostState {
    fn open(&mut self, name: String) -> Result<Resource<DatasetHandle>, old::StorageError> {
        new::HostDataset::open(self, name).map_err(error)
    }

    fn schema(&mut self, this: Resource<DatasetHandle>) -> Vec<old::Field> {
        new::HostDataset::schema(self, this)
            .into_iter()
            .map(field)
            .collect()
    }

    fn rows(&mut self, this: Resource<DatasetHandle>) -> u64 {
        new::HostDataset::rows(self, this)
    }

    fn chunks(&mut self, this: Resource<DatasetHandle>) -> u32 {
        new::HostDataset::chunks(self, this)
    }

    fn read(
        &mut self,
        this: Resource<DatasetHandle>,
        column: String,
        index: u32,
    ) -> Result<old::ColumnChunk, old::StorageError> {
        new::HostDataset::read(self, this, column, index)
            .map(chunk)
            .map_err(error)
    }

    fn drop(&mut self, this: Resource<DatasetHandle>) -> wasmtime::Result<()> {
        new::HostDataset::drop(self, this)
    }
}

impl old::HostCollection for HostState {
    fn open(
        &mut self,
        name: String,
        create: bool,
    ) -> Result<Resource<CollectionHandle>, old::StorageError> {
        new::HostCollection::open(self, name, create).map_err(error)
    }

    fn get(
        &mut self,
        this: Resource<CollectionHandle>,
        key: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, old::StorageError> {
        new::HostCollection::get(self, this, key).map_err(error)
    }

    fn put(
        &mut self,
        this: Resource<CollectionHandle>,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), old::StorageError> {
        new::HostCollection::put(self, this, key, value).map_err(error)
    }

    fn delete(
        &mut self,
        this: Resource<CollectionHandle>,
        key: Vec<u8>,
    ) -> Result<(), old::StorageError> {
        new::HostCollection::delete(self, this, key).map_err(error)
    }

    fn scan(
        &mut self,
        this: Resource<CollectionHandle>,
        start: Vec<u8>,
        prefix: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, old::StorageError> {
        new::HostCollection::scan(self, this, start, prefix, limit).map_err(error)
    }

    fn drop(&mut self, this: Resource<CollectionHandle>) -> wasmtime::Result<()> {
        new::HostCollection::drop(self, this)
    }
}
