//! The host side of `weft:host/storage`: datasets, collections and blobs
//! of the calling job's tenant, handed to the guest as resources.
//!
//! Every call is scoped: the tenant comes from the store's event scope,
//! never from the guest. A host without storage (tools, benchmarks) answers
//! every call with `failed`. This module translates; the work is done in
//! `weft-storage`.

use std::sync::{Arc, OnceLock};

use wasmtime::component::Resource;
use weft_storage::columnar::{ColumnType, Values};
use weft_storage::{StorageError, Store};

use crate::host::HostState;
use crate::host::bindings::weft::host::storage::{
    self as wit, Collection, ColumnChunk, ColumnValues, Dataset, Field, StorageError as WitError,
};

/// Where a runtime's plugins find host storage (attached once, at start).
pub(crate) type StorageSlot = Arc<OnceLock<Arc<Store>>>;

/// Blobs live in this collection of the tenant.
const BLOBS: &str = "_blobs";

/// A dataset handle held in the guest's resource table.
pub(crate) struct DatasetHandle(Arc<weft_storage::columnar::Dataset>);

/// A collection handle held in the guest's resource table.
pub(crate) struct CollectionHandle(Arc<weft_storage::collection::Collection>);

/// The table entry behind a guest's handle (the generated resource types
/// are markers; the table holds ours under the same index).
fn ours<T: 'static, M: 'static>(handle: &Resource<M>) -> Resource<T> {
    Resource::new_borrow(handle.rep())
}

fn theirs<T: 'static, M: 'static>(handle: Resource<T>) -> Resource<M> {
    Resource::new_own(handle.rep())
}

fn to_wit(error: StorageError) -> WitError {
    match error {
        StorageError::NotFound { .. } => WitError::NotFound(error.to_string()),
        StorageError::Invalid(_) | StorageError::Exists { .. } => {
            WitError::Invalid(error.to_string())
        }
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

fn gone() -> WitError {
    WitError::Failed("the handle is no longer valid".into())
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
}

impl wit::Host for HostState {
    fn write_blob(&mut self, name: String, data: Vec<u8>) -> Result<(), WitError> {
        let blobs = self
            .store()?
            .collection(&self.tenant(), BLOBS, true)
            .map_err(to_wit)?;
        blobs.put(name.as_bytes(), &data).map_err(to_wit)
    }

    fn read_blob(&mut self, name: String) -> Result<Vec<u8>, WitError> {
        let missing = || WitError::NotFound(format!("blob '{name}' does not exist"));
        let blobs = match self.store()?.collection(&self.tenant(), BLOBS, false) {
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
    fn open(&mut self, name: String) -> Result<Resource<Dataset>, WitError> {
        let dataset = self
            .store()?
            .dataset(&self.tenant(), &name)
            .map_err(to_wit)?;
        self.table()
            .push(DatasetHandle(dataset))
            .map(theirs)
            .map_err(|e| WitError::Failed(e.to_string()))
    }

    fn schema(&mut self, this: Resource<Dataset>) -> Vec<Field> {
        self.table()
            .get(&ours::<DatasetHandle, _>(&this))
            .map(|d| {
                d.0.schema()
                    .into_iter()
                    .map(|f| Field {
                        name: f.name,
                        kind: kind(f.kind),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn rows(&mut self, this: Resource<Dataset>) -> u64 {
        self.table()
            .get(&ours::<DatasetHandle, _>(&this))
            .map(|d| d.0.rows())
            .unwrap_or(0)
    }

    fn chunks(&mut self, this: Resource<Dataset>) -> u32 {
        self.table()
            .get(&ours::<DatasetHandle, _>(&this))
            .map(|d| d.0.chunk_count() as u32)
            .unwrap_or(0)
    }

    fn read(
        &mut self,
        this: Resource<Dataset>,
        column: String,
        chunk: u32,
    ) -> Result<ColumnChunk, WitError> {
        let dataset = self
            .table()
            .get(&ours::<DatasetHandle, _>(&this))
            .map_err(|_| gone())?
            .0
            .clone();
        let slice = dataset
            .read_chunk(&column, chunk as usize)
            .map_err(to_wit)?;
        let values = match slice.values {
            Values::F64(v) => ColumnValues::Float64(v),
            Values::I64(v) => ColumnValues::Int64(v),
            Values::Bool(v) => ColumnValues::Boolean(v),
            Values::String(v) => ColumnValues::Text(v),
            Values::Timestamp(v) => ColumnValues::Timestamp(v),
        };
        Ok(ColumnChunk {
            values,
            valid: slice.valid,
        })
    }

    fn drop(&mut self, this: Resource<Dataset>) -> wasmtime::Result<()> {
        self.table()
            .delete(Resource::<DatasetHandle>::new_own(this.rep()))?;
        Ok(())
    }
}

impl HostState {
    fn collection(
        &mut self,
        this: &Resource<Collection>,
    ) -> Result<Arc<weft_storage::collection::Collection>, WitError> {
        let handle = ours::<CollectionHandle, _>(this);
        Ok(self.table().get(&handle).map_err(|_| gone())?.0.clone())
    }
}

impl wit::HostCollection for HostState {
    fn open(&mut self, name: String, create: bool) -> Result<Resource<Collection>, WitError> {
        if name.starts_with('_') {
            return Err(WitError::Invalid(format!(
                "collection names starting with '_' are reserved: '{name}'"
            )));
        }
        let tree = self
            .store()?
            .collection(&self.tenant(), &name, create)
            .map_err(to_wit)?;
        self.table()
            .push(CollectionHandle(tree))
            .map(theirs)
            .map_err(|e| WitError::Failed(e.to_string()))
    }

    fn get(
        &mut self,
        this: Resource<Collection>,
        key: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, WitError> {
        let tree = self.collection(&this)?;
        tree.get(&key).map_err(to_wit)
    }

    fn put(
        &mut self,
        this: Resource<Collection>,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<(), WitError> {
        let tree = self.collection(&this)?;
        tree.put(&key, &value).map_err(to_wit)
    }

    fn delete(&mut self, this: Resource<Collection>, key: Vec<u8>) -> Result<(), WitError> {
        let tree = self.collection(&this)?;
        tree.delete(&key).map_err(to_wit)
    }

    fn scan(
        &mut self,
        this: Resource<Collection>,
        start: Vec<u8>,
        prefix: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, WitError> {
        let tree = self.collection(&this)?;
        tree.scan(&start, &prefix, limit.min(100_000) as usize)
            .map_err(to_wit)
    }

    fn drop(&mut self, this: Resource<Collection>) -> wasmtime::Result<()> {
        self.table()
            .delete(Resource::<CollectionHandle>::new_own(this.rep()))?;
        Ok(())
    }
}
