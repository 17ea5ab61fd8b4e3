//! The host side of `weft:host/storage@0.2.3`: datasets, dataset writers,
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
    self as wit, ColumnChunk, ColumnValues, DatasetSummary, Field, ScanPage,
    StorageError as WitError, Write,
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

/// A blob being written, held in the guest's resource table; `None` once
/// committed.
#[allow(unreachable_pub)] // named by the generated bindings
pub struct BlobWriterHandle(Option<weft_storage::blobs::StagedBlob>);

/// A blob being read: a file, or a small blob's value held whole.
#[allow(unreachable_pub)] // named by the generated bindings
pub enum BlobReaderHandle {
    /// Written through a blob-writer.
    File(weft_storage::blobs::BlobFile),
    /// Written with `write-blob`.
    Value(Vec<u8>),
}

/// Writes one `write-batch` may hold.
const MAX_BATCH_WRITES: usize = 10_000;
/// Bytes one `write-batch` may hold.
const MAX_BATCH_BYTES: usize = 64 << 20;
/// Bytes one blob read or write may move.
const MAX_BLOB_PART: usize = 16 << 20;

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
        ColumnType::Binary => wit::ColumnType::Binary,
    }
}

pub(crate) fn column_type(kind: wit::ColumnType) -> ColumnType {
    match kind {
        wit::ColumnType::Float64 => ColumnType::F64,
        wit::ColumnType::Int64 => ColumnType::I64,
        wit::ColumnType::Boolean => ColumnType::Bool,
        wit::ColumnType::Text => ColumnType::String,
        wit::ColumnType::Timestamp => ColumnType::Timestamp,
        wit::ColumnType::Binary => ColumnType::Binary,
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
        Values::Binary(v) => ColumnValues::Binary(v),
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
        ColumnValues::Binary(v) => Values::Binary(v),
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

    /// A blob written through a blob-writer, whole, if it is small enough
    /// for `read-blob`.
    fn read_file_blob(&self, name: &str) -> Result<Option<Vec<u8>>, WitError> {
        if weft_storage::store::check_name(name).is_err() {
            return Ok(None);
        }
        let file = match self.store()?.open_blob(&self.space(), name) {
            Ok(file) => file,
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(to_wit(other)),
        };
        if file.size() > MAX_BLOB_PART as u64 {
            return Err(WitError::Invalid(format!(
                "blob '{name}' is {} bytes, over read-blob's 16 MiB; read it in parts with blob-reader",
                file.size()
            )));
        }
        file.read(0, MAX_BLOB_PART).map(Some).map_err(to_wit)
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
        // A small blob first, then one written as a file.
        match self.store()?.collection(&self.space(), BLOBS, false) {
            Ok(blobs) => {
                if let Some(value) = blobs.get(name.as_bytes()).map_err(to_wit)? {
                    return Ok(value);
                }
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(other) => return Err(to_wit(other)),
        }
        self.read_file_blob(&name)?.ok_or_else(missing)
    }

    fn drop_blob(&mut self, name: String) -> Result<(), WitError> {
        let store = self.store()?;
        let space = self.space();
        let mut found = false;
        if let Ok(blobs) = store.collection(&space, BLOBS, false)
            && blobs.get(name.as_bytes()).map_err(to_wit)?.is_some()
        {
            blobs.delete(name.as_bytes()).map_err(to_wit)?;
            found = true;
        }
        if weft_storage::store::check_name(&name).is_ok() {
            found |= store.drop_blob(&space, &name).map_err(to_wit)?;
        }
        if found {
            Ok(())
        } else {
            Err(WitError::NotFound(format!("blob '{name}' does not exist")))
        }
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

    fn version(&mut self, this: Resource<DatasetHandle>) -> u64 {
        self.dataset(&this).map(|d| d.version()).unwrap_or(0)
    }

    fn chunk_stats(
        &mut self,
        this: Resource<DatasetHandle>,
        column: String,
        index: u32,
    ) -> Result<wit::ChunkStats, WitError> {
        let stats = self
            .dataset(&this)?
            .chunk_stats(&column, index as usize)
            .map_err(to_wit)?;
        Ok(wit::ChunkStats {
            rows: stats.rows as u32,
            nulls: stats.nulls as u32,
            min: stats.min,
            max: stats.max,
        })
    }

    fn partitions(&mut self, this: Resource<DatasetHandle>) -> Vec<wit::Partition> {
        let Ok(dataset) = self.dataset(&this) else {
            return Vec::new();
        };
        dataset
            .partitions()
            .into_iter()
            .map(|p| wit::Partition {
                index: p.index as u32,
                label: p.label,
                rows: p.rows,
                chunks: p.chunks.into_iter().map(|c| c as u32).collect(),
            })
            .collect()
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

fn pairs(list: &[Write]) -> Vec<(&[u8], Option<&[u8]>)> {
    list.iter()
        .map(|w| (w.key.as_slice(), w.value.as_deref()))
        .collect()
}

/// Keys a conditional batch may check.
const MAX_BATCH_EXPECTATIONS: usize = 1_000;

fn check_batch(batch: &[Write]) -> Result<(), WitError> {
    let bytes: usize = batch
        .iter()
        .map(|w| w.key.len() + w.value.as_ref().map_or(0, Vec::len))
        .sum();
    if batch.len() > MAX_BATCH_WRITES || bytes > MAX_BATCH_BYTES {
        return Err(WitError::Invalid(format!(
            "a batch holds at most {MAX_BATCH_WRITES} writes and {} MiB; this one has {} writes, {bytes} bytes: split it",
            MAX_BATCH_BYTES >> 20,
            batch.len()
        )));
    }
    Ok(())
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

    fn write_batch(
        &mut self,
        this: Resource<CollectionHandle>,
        batch: Vec<Write>,
    ) -> Result<(), WitError> {
        check_batch(&batch)?;
        let writes = pairs(&batch);
        self.collection(&this)?.write(&writes).map_err(to_wit)
    }

    fn write_batch_if(
        &mut self,
        this: Resource<CollectionHandle>,
        expect: Vec<Write>,
        batch: Vec<Write>,
    ) -> Result<bool, WitError> {
        if expect.len() > MAX_BATCH_EXPECTATIONS {
            return Err(WitError::Invalid(format!(
                "a conditional batch checks at most {MAX_BATCH_EXPECTATIONS} keys; this one checks {}",
                expect.len()
            )));
        }
        check_batch(&batch)?;
        let (expect, writes) = (pairs(&expect), pairs(&batch));
        self.collection(&this)?
            .write_if(&expect, &writes)
            .map_err(to_wit)
    }

    fn scan_page(
        &mut self,
        this: Resource<CollectionHandle>,
        start: Vec<u8>,
        prefix: Vec<u8>,
        limit: u32,
        max_bytes: u32,
    ) -> Result<ScanPage, WitError> {
        // Read in small steps so that a page of large values stops near
        // `max_bytes` instead of loading `limit` of them first.
        const STEP: usize = 64;
        let collection = self.collection(&this)?;
        let limit = (limit.min(100_000) as usize).max(1);
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut cursor = start;
        loop {
            let want = STEP.min(limit - entries.len());
            let step = collection.scan(&cursor, &prefix, want).map_err(to_wit)?;
            let exhausted = step.len() < want;
            for (key, value) in step {
                bytes += key.len() + value.len();
                cursor = key.clone();
                cursor.push(0);
                entries.push((key, value));
                if entries.len() >= limit || bytes >= max_bytes as usize {
                    return Ok(ScanPage {
                        entries,
                        next: Some(cursor),
                    });
                }
            }
            if exhausted {
                return Ok(ScanPage {
                    entries,
                    next: None,
                });
            }
        }
    }

    fn drop(&mut self, this: Resource<CollectionHandle>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}

impl wit::HostBlobWriter for HostState {
    fn create(&mut self, name: String) -> Result<Resource<BlobWriterHandle>, WitError> {
        let staged = self
            .store()?
            .create_blob(&self.space(), &name)
            .map_err(to_wit)?;
        self.table()
            .push(BlobWriterHandle(Some(staged)))
            .map_err(table_full)
    }

    fn write(&mut self, this: Resource<BlobWriterHandle>, data: Vec<u8>) -> Result<(), WitError> {
        if data.len() > MAX_BLOB_PART {
            return Err(WitError::Invalid(format!(
                "one write takes at most 16 MiB, not {} bytes",
                data.len()
            )));
        }
        let writer = self.table().get_mut(&this).map_err(|_| gone())?;
        writer
            .0
            .as_mut()
            .ok_or_else(|| WitError::Invalid("the blob was committed already".into()))?
            .write(&data)
            .map_err(to_wit)
    }

    fn commit(&mut self, this: Resource<BlobWriterHandle>) -> Result<u64, WitError> {
        let writer = self.table().get_mut(&this).map_err(|_| gone())?;
        let staged = writer
            .0
            .take()
            .ok_or_else(|| WitError::Invalid("the blob was committed already".into()))?;
        let name = staged.name().map(str::to_owned);
        let size = staged.commit().map_err(to_wit)?;
        // A small blob of the same name written before would shadow it.
        if let Some(name) = name
            && let Ok(blobs) = self.store()?.collection(&self.space(), BLOBS, false)
        {
            blobs.delete(name.as_bytes()).map_err(to_wit)?;
        }
        Ok(size)
    }

    fn drop(&mut self, this: Resource<BlobWriterHandle>) -> wasmtime::Result<()> {
        // Dropping an uncommitted StagedBlob removes its file.
        self.table().delete(this)?;
        Ok(())
    }
}

impl wit::HostBlobReader for HostState {
    fn open(&mut self, name: String) -> Result<Resource<BlobReaderHandle>, WitError> {
        let store = self.store()?;
        let space = self.space();
        let small = match store.collection(&space, BLOBS, false) {
            Ok(blobs) => blobs.get(name.as_bytes()).map_err(to_wit)?,
            Err(StorageError::NotFound { .. }) => None,
            Err(other) => return Err(to_wit(other)),
        };
        let handle = match small {
            Some(value) => BlobReaderHandle::Value(value),
            None => match store.open_blob(&space, &name) {
                Ok(file) => BlobReaderHandle::File(file),
                Err(StorageError::NotFound { .. }) => {
                    return Err(WitError::NotFound(format!("blob '{name}' does not exist")));
                }
                Err(other) => return Err(to_wit(other)),
            },
        };
        self.table().push(handle).map_err(table_full)
    }

    fn size(&mut self, this: Resource<BlobReaderHandle>) -> u64 {
        match self.table().get(&this) {
            Ok(BlobReaderHandle::File(file)) => file.size(),
            Ok(BlobReaderHandle::Value(value)) => value.len() as u64,
            Err(_) => 0,
        }
    }

    fn read(
        &mut self,
        this: Resource<BlobReaderHandle>,
        offset: u64,
        length: u32,
    ) -> Result<Vec<u8>, WitError> {
        let length = length as usize;
        if length > MAX_BLOB_PART {
            return Err(WitError::Invalid(format!(
                "one read takes at most 16 MiB, not {length} bytes"
            )));
        }
        match self.table().get(&this).map_err(|_| gone())? {
            BlobReaderHandle::File(file) => file.read(offset, length).map_err(to_wit),
            BlobReaderHandle::Value(value) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(value.len());
                let end = start.saturating_add(length).min(value.len());
                Ok(value[start..end].to_vec())
            }
        }
    }

    fn drop(&mut self, this: Resource<BlobReaderHandle>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}
