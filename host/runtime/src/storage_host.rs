//! The host side of `weft:host/storage@0.2.0`: datasets, dataset writers,
//! collections and blobs of the calling job's tenant, handed to the guest
//! as resources.
//!
//! Every call is scoped: the tenant comes from the store's event scope,
//! never from the guest, and what a plugin writes goes to its own space of
//! that tenant (`weft_storage::store::plugin_space`): another plugin cannot
//! read or change it, and users see it only through the plugin's routes.
//! Datasets users uploaded are shared: a plugin opening a dataset it does
//! not have itself reads the tenant's, never writes or drops it. A host without storage (tools, benchmarks) answers
//! every call with `failed`. This module translates; the work is done in
//! `weft-storage`.

use std::sync::{Arc, OnceLock};

use wasmtime::component::Resource;
use weft_storage::columnar::{ColumnType, Values};
use weft_storage::{StagedDataset, StorageError, Store};

use crate::bindings::v2::plugin::weft::host::storage::{
    self as wit, ColumnChunk, ColumnValues, DatasetSummary, Field, StorageError as WitError,
};
use crate::host::HostState;

/// Where a runtime's plugins find host storage (attached once, at start).
pub(crate) type StorageSlot = Arc<OnceLock<Arc<Store>>>;

/// Blobs live in this collection of the tenant.
const BLOBS: &str = "_blobs";
/// Rows one read may return.
const MAX_READ_ROWS: u32 = 65_536;

/// A dataset handle held in the guest's resource table.
#[allow(unreachable_pub)] // named by the generated bindings
pub struct DatasetHandle(Arc<weft_storage::columnar::Dataset>);

/// A dataset writer held in the guest's resource table; `None` once
/// committed.
#[allow(unreachable_pub)] // named by the generated bindings
pub struct WriterHandle(Option<StagedDataset>);

/// A collection handle held in the guest's resource table.
#[allow(unreachable_pub)] // named by the generated bindings
pub struct CollectionHandle(Arc<weft_storage::collection::Collection>);

fn to_wit(error: StorageError) -> WitError {
    match error {
        StorageError::NotFound { .. } => WitError::NotFound(error.to_string()),
        StorageError::Exists { .. } => WitError::Exists(error.to_string()),
        StorageError::Invalid(_) => WitError::Invalid(error.to_string()),
        other => WitError::Failed(other.to_string()),
    }
}

fn kind(kind: ColumnType) -> wit::ColumnType {
    match kind {
        ColumnType::F64 => wit::ColumnType::Float64,
        ColumnType::I64 => wit::ColumnType::Int64,
        ColumnType::Bool => wit::ColumnType::Boolean,
        ColumnType::String => wit::ColumnType::Text,
        ColumnType::Timestamp => wit::ColumnType::Timestamp,
    }
}

fn column_type(kind: wit::ColumnType) -> ColumnType {
    match kind {
        wit::ColumnType::Float64 => ColumnType::F64,
        wit::ColumnType::Int64 => ColumnType::I64,
        wit::ColumnType::Boolean => ColumnType::Bool,
        wit::ColumnType::Text => ColumnType::String,
        wit::ColumnType::Timestamp => ColumnType::Timestamp,
    }
}

fn fields(schema: Vec<weft_storage::columnar::Field>) -> Vec<Field> {
    schema
        .into_iter()
        .map(|f| Field {
            name: f.name,
            kind: kind(f.kind),
        })
        .collect()
}

fn chunk(values: Values, valid: Vec<bool>) -> ColumnChunk {
    let values = match values {
        Values::F64(v) => ColumnValues::Float64(v),
        Values::I64(v) => ColumnValues::Int64(v),
        Values::Bool(v) => ColumnValues::Boolean(v),
        Values::String(v) => ColumnValues::Text(v),
        Values::Timestamp(v) => ColumnValues::Timestamp(v),
    };
    ColumnChunk { values, valid }
}

fn values(values: ColumnValues) -> Values {
    match values {
        ColumnValues::Float64(v) => Values::F64(v),
        ColumnValues::Int64(v) => Values::I64(v),
        ColumnValues::Boolean(v) => Values::Bool(v),
        ColumnValues::Text(v) => Values::String(v),
        ColumnValues::Timestamp(v) => Values::Timestamp(v),
    }
}

fn gone() -> WitError {
    WitError::Failed("the handle is no longer valid".into())
}

fn table_full(error: wasmtime::component::ResourceTableError) -> WitError {
    WitError::Failed(error.to_string())
}

/// Collections whose names start with `_` are the host's (blobs).
fn check_user_collection(name: &str) -> Result<(), WitError> {
    if name.starts_with('_') {
        return Err(WitError::Invalid(format!(
            "collection names starting with '_' are reserved: '{name}'"
        )));
    }
    Ok(())
}

impl HostState {
    fn store(&self) -> Result<Arc<Store>, WitError> {
        self.storage
            .get()
            .cloned()
            .ok_or_else(|| WitError::Failed("this host runs without storage".into()))
    }

    fn tenant(&self) -> String {
        self.scope.tenant.clone()
    }

    /// The plugin's own space of the tenant.
    fn space(&self) -> String {
        weft_storage::store::plugin_space(&self.scope.tenant, &self.scope.plugin)
    }

    fn dataset(
        &mut self,
        this: &Resource<DatasetHandle>,
    ) -> Result<Arc<weft_storage::columnar::Dataset>, WitError> {
        Ok(self.table().get(this).map_err(|_| gone())?.0.clone())
    }

    fn collection(
        &mut self,
        this: &Resource<CollectionHandle>,
    ) -> Result<Arc<weft_storage::collection::Collection>, WitError> {
        Ok(self.table().get(this).map_err(|_| gone())?.0.clone())
    }
}

impl wit::Host for HostState {
    fn list_datasets(&mut self) -> Vec<DatasetSummary> {
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        let space = self.space();
        store
            .datasets(&space)
            .into_iter()
            .filter_map(|info| store.dataset(&space, &info.name).ok())
            .map(|d| DatasetSummary {
                name: d.name().to_owned(),
                rows: d.rows(),
                schema: fields(d.schema()),
            })
            .collect()
    }

    fn drop_dataset(&mut self, name: String) -> Result<(), WitError> {
        self.store()?
            .drop_dataset(&self.space(), &name)
            .map_err(to_wit)
    }

    fn list_collections(&mut self) -> Vec<String> {
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        store
            .collections(&self.space())
            .into_iter()
            .filter(|name| !name.starts_with('_'))
            .collect()
    }

    fn drop_collection(&mut self, name: String) -> Result<(), WitError> {
        check_user_collection(&name)?;
        self.store()?
            .drop_collection(&self.space(), &name)
            .map_err(to_wit)
    }

    fn write_blob(&mut self, name: String, data: Vec<u8>) -> Result<(), WitError> {
        let blobs = self
            .store()?
            .collection(&self.space(), BLOBS, true)
            .map_err(to_wit)?;
        blobs.put(name.as_bytes(), &data).map_err(to_wit)
    }

    fn read_blob(&mut self, name: String) -> Result<Vec<u8>, WitError> {
        let missing = || WitError::NotFound(format!("blob '{name}' does not exist"));
        let blobs = match self.store()?.collection(&self.space(), BLOBS, false) {
            Ok(blobs) => blobs,
            Err(StorageError::NotFound { .. }) => return Err(missing()),
            Err(other) => return Err(to_wit(other)),
        };
        blobs
            .get(name.as_bytes())
            .map_err(to_wit)?
            .ok_or_else(missing)
    }
}

impl wit::HostDataset for HostState {
    fn open(&mut self, name: String) -> Result<Resource<DatasetHandle>, WitError> {
        let store = self.store()?;
        // Its own first; then what the tenant's users uploaded.
        let dataset = match store.dataset(&self.space(), &name) {
            Err(StorageError::NotFound { .. }) => store.dataset(&self.tenant(), &name),
            found => found,
        }
        .map_err(to_wit)?;
        self.table()
            .push(DatasetHandle(dataset))
            .map_err(table_full)
    }

    fn schema(&mut self, this: Resource<DatasetHandle>) -> Vec<Field> {
        self.dataset(&this)
            .map(|d| fields(d.schema()))
            .unwrap_or_default()
    }

    fn rows(&mut self, this: Resource<DatasetHandle>) -> u64 {
        self.dataset(&this).map(|d| d.rows()).unwrap_or(0)
    }

    fn chunks(&mut self, this: Resource<DatasetHandle>) -> u32 {
        self.dataset(&this)
            .map(|d| d.chunk_count() as u32)
            .unwrap_or(0)
    }

    fn read(
        &mut self,
        this: Resource<DatasetHandle>,
        column: String,
        index: u32,
    ) -> Result<ColumnChunk, WitError> {
        let slice = self
            .dataset(&this)?
            .read_chunk(&column, index as usize)
            .map_err(to_wit)?;
        Ok(chunk(slice.values, slice.valid))
    }

    fn read_columns(
        &mut self,
        this: Resource<DatasetHandle>,
        columns: Vec<String>,
        index: u32,
    ) -> Result<Vec<ColumnChunk>, WitError> {
        let dataset = self.dataset(&this)?;
        columns
            .iter()
            .map(|column| {
                let slice = dataset.read_chunk(column, index as usize).map_err(to_wit)?;
                Ok(chunk(slice.values, slice.valid))
            })
            .collect()
    }

    fn read_range(
        &mut self,
        this: Resource<DatasetHandle>,
        column: String,
        start: u64,
        count: u32,
    ) -> Result<ColumnChunk, WitError> {
        if count > MAX_READ_ROWS {
            return Err(WitError::Invalid(format!(
                "read-range reads at most {MAX_READ_ROWS} rows at a time, not {count}"
            )));
        }
        let (values, valid) = self
            .dataset(&this)?
            .read_range(&column, start, count as usize)
            .map_err(to_wit)?;
        Ok(chunk(values, valid))
    }

    fn drop(&mut self, this: Resource<DatasetHandle>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}

impl wit::HostDatasetWriter for HostState {
    fn create(
        &mut self,
        name: String,
        schema: Vec<Field>,
        replace: bool,
    ) -> Result<Resource<WriterHandle>, WitError> {
        let schema = schema
            .into_iter()
            .map(|f| weft_storage::columnar::Field {
                name: f.name,
                kind: column_type(f.kind),
            })
            .collect();
        let staged = StagedDataset::create(self.store()?, &self.space(), &name, schema, replace)
            .map_err(to_wit)?;
        self.table()
            .push(WriterHandle(Some(staged)))
            .map_err(table_full)
    }

    fn append(
        &mut self,
        this: Resource<WriterHandle>,
        columns: Vec<ColumnChunk>,
    ) -> Result<(), WitError> {
        let writer = self.table().get(&this).map_err(|_| gone())?;
        let staged = writer
            .0
            .as_ref()
            .ok_or_else(|| WitError::Invalid("the writer was committed already".into()))?;
        let columns = columns
            .into_iter()
            .map(|c| (values(c.values), c.valid))
            .collect();
        staged.append(columns).map_err(to_wit)
    }

    fn commit(&mut self, this: Resource<WriterHandle>) -> Result<u64, WitError> {
        let writer = self.table().get_mut(&this).map_err(|_| gone())?;
        let staged = writer
            .0
            .take()
            .ok_or_else(|| WitError::Invalid("the writer was committed already".into()))?;
        staged.commit().map(|d| d.rows()).map_err(to_wit)
    }

    fn drop(&mut self, this: Resource<WriterHandle>) -> wasmtime::Result<()> {
        // Dropping an uncommitted StagedDataset removes its files.
        self.table().delete(this)?;
        Ok(())
    }
}

impl wit::HostCollection for HostState {
    fn open(&mut self, name: String, create: bool) -> Result<Resource<CollectionHandle>, WitError> {
        check_user_collection(&name)?;
        let tree = self
            .store()?
            .collection(&self.space(), &name, create)
            .map_err(to_wit)?;
        self.table()
            .push(CollectionHandle(tree))
            .map_err(table_full)
    }

    fn get(
        &mut self,
        this: Resource<CollectionHandle>,
        key: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, WitError> {
        self.collection(&this)?.get(&key).map_err(to_wit)
    }

    fn put(
        &mut self,
        this: Resource<CollectionHandle>,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), WitError> {
        self.collection(&this)?.put(&key, &value).map_err(to_wit)
    }

    fn delete(&mut self, this: Resource<CollectionHandle>, key: Vec<u8>) -> Result<(), WitError> {
        self.collection(&this)?.delete(&key).map_err(to_wit)
    }

    fn scan(
        &mut self,
        this: Resource<CollectionHandle>,
        start: Vec<u8>,
        prefix: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, WitError> {
        self.collection(&this)?
            .scan(&start, &prefix, limit.min(100_000) as usize)
            .map_err(to_wit)
    }

    fn drop(&mut self, this: Resource<CollectionHandle>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}
