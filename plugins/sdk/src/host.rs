//! What an engine can ask of the host while it runs.

use std::cell::RefCell;

use serde_json::Value;

use crate::storage::{
    BlobWriter, ChunkStats, ColumnChunk, ColumnKind, ColumnValues, DatasetShape, DatasetSummary,
    DatasetWriter, Partition, ScanPage, StorageFailure,
};

/// How one child run (see [`Host::run_children`]) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildFailure {
    /// The job error code it would have been (`invalid_params`, `timeout`, …).
    pub code: String,
    /// What happened.
    pub message: String,
}

/// Log levels, as in `weft:host/log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// The host side of a running job.
pub trait Host {
    /// Publishes an event on `<plugin>.<topic>` (empty: the op's family
    /// topic) and on the job's topic.
    fn emit(&self, topic: &str, kind: &str, data: &Value);
    /// Like [`Host::emit`], saying why the host refused the event (a host
    /// kind such as `job_state`, a bad topic, the size limit or the
    /// instance's quota).
    fn try_emit(&self, topic: &str, kind: &str, data: &Value) -> Result<(), String> {
        self.emit(topic, kind, data);
        Ok(())
    }
    /// Reports progress; `detail` fields are added to the `progress` event.
    fn progress(&self, done: u64, total: u64, message: &str, detail: Option<&Value>);
    /// True once the job was cancelled.
    fn cancelled(&self) -> bool;
    /// Writes a log line to the host's log.
    fn log(&self, level: Level, message: &str);

    /// Rows, chunks and columns of dataset `name`.
    fn dataset_shape(&self, name: &str) -> Result<DatasetShape, StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// Starts writing dataset `name` with `schema` (see [`DatasetWriter`]).
    /// With `replace`, an existing dataset of that name is replaced at
    /// commit; without, creating one that exists fails with `Exists`.
    fn create_dataset<'a>(
        &'a self,
        name: &str,
        schema: &[(String, ColumnKind)],
        replace: bool,
    ) -> Result<Box<dyn DatasetWriter + 'a>, StorageFailure> {
        let _ = (name, schema, replace);
        Err(StorageFailure::unsupported())
    }

    /// The tenant's datasets.
    fn list_datasets(&self) -> Result<Vec<DatasetSummary>, StorageFailure> {
        Err(StorageFailure::unsupported())
    }

    /// Deletes dataset `name`.
    fn drop_dataset(&self, name: &str) -> Result<(), StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// Chunk `chunk` of `column` of dataset `dataset`.
    fn read_chunk(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ColumnChunk, StorageFailure> {
        let _ = (dataset, column, chunk);
        Err(StorageFailure::unsupported())
    }

    /// `column`'s rows, nulls, min and max in chunk `chunk` of `dataset`,
    /// from metadata: a scan may skip a chunk no row of which can match.
    fn chunk_stats(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ChunkStats, StorageFailure> {
        let _ = (dataset, column, chunk);
        Err(StorageFailure::unsupported())
    }

    /// The value of `key` in collection `collection` (`None`: not set;
    /// `NotFound` when nothing was ever written to the collection).
    fn collection_get(
        &self,
        collection: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageFailure> {
        let _ = (collection, key);
        Err(StorageFailure::unsupported())
    }

    /// Sets `key` in collection `collection` (created if needed).
    fn collection_put(
        &self,
        collection: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageFailure> {
        let _ = (collection, key, value);
        Err(StorageFailure::unsupported())
    }

    /// Deletes `key` from collection `collection`.
    fn collection_delete(&self, collection: &str, key: &[u8]) -> Result<(), StorageFailure> {
        let _ = (collection, key);
        Err(StorageFailure::unsupported())
    }

    /// The plugin's collections in this tenant, by name.
    fn list_collections(&self) -> Result<Vec<String>, StorageFailure> {
        Err(StorageFailure::unsupported())
    }

    /// Deletes collection `collection` and everything in it.
    fn drop_collection(&self, collection: &str) -> Result<(), StorageFailure> {
        let _ = collection;
        Err(StorageFailure::unsupported())
    }

    /// Applies every write (`None` deletes) or none, durably and at once:
    /// at most 10,000 writes and 64 MiB.
    fn collection_write_batch(
        &self,
        collection: &str,
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StorageFailure> {
        let _ = (collection, batch);
        Err(StorageFailure::unsupported())
    }

    /// Applies `batch` as [`Host::collection_write_batch`] does, but only
    /// if every key of `expect` holds the value given (`None`: absent);
    /// answers whether it did. Nothing else writes the collection between
    /// the check and the batch (`weft:host@0.2.1`).
    fn collection_write_batch_if(
        &self,
        collection: &str,
        expect: &[(Vec<u8>, Option<Vec<u8>>)],
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<bool, StorageFailure> {
        let _ = (collection, expect, batch);
        Err(StorageFailure::unsupported())
    }

    /// A page of entries with key ≥ `start` beginning with `prefix`: at
    /// most `limit` of them and about `max_bytes`.
    fn collection_scan_page(
        &self,
        collection: &str,
        start: &[u8],
        prefix: &[u8],
        limit: u32,
        max_bytes: u32,
    ) -> Result<ScanPage, StorageFailure> {
        let _ = (collection, start, prefix, limit, max_bytes);
        Err(StorageFailure::unsupported())
    }

    /// Stores blob `name` (up to 16 MiB; larger ones with [`Host::create_blob`]).
    fn write_blob(&self, name: &str, data: &[u8]) -> Result<(), StorageFailure> {
        let _ = (name, data);
        Err(StorageFailure::unsupported())
    }

    /// Reads blob `name` whole (up to 16 MiB; larger ones with
    /// [`Host::read_blob_range`]).
    fn read_blob(&self, name: &str) -> Result<Vec<u8>, StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// Starts writing blob `name` in parts, kept as a file (any size).
    fn create_blob<'a>(&'a self, name: &str) -> Result<Box<dyn BlobWriter + 'a>, StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// Blob `name`'s size and up to `length` bytes of it from `offset`.
    fn read_blob_range(
        &self,
        name: &str,
        offset: u64,
        length: u32,
    ) -> Result<(u64, Vec<u8>), StorageFailure> {
        let _ = (name, offset, length);
        Err(StorageFailure::unsupported())
    }

    /// Deletes blob `name`.
    fn drop_blob(&self, name: &str) -> Result<(), StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// The partitions of dataset `name`; empty when it has none.
    fn dataset_partitions(&self, name: &str) -> Result<Vec<Partition>, StorageFailure> {
        let _ = name;
        Err(StorageFailure::unsupported())
    }

    /// Runs `operation` once per entry of `params`, each in a fresh
    /// sandboxed instance of this plugin (`weft:host/tasks`), and answers
    /// each run's result or failure in order. `Err` when none could start
    /// (unknown operation, too many, or called from a child or session).
    fn run_children(
        &self,
        operation: &str,
        params: &[Value],
    ) -> Result<Vec<Result<Value, ChildFailure>>, String> {
        let _ = (operation, params);
        Err("this host cannot start child instances".into())
    }

    /// The scalar functions loaded UDF plugins offer (`weft:host/functions`).
    /// Natively: none, or what a [`RecordingHost::with_functions`] was given.
    fn functions(&self) -> std::rc::Rc<dyn crate::Functions> {
        std::rc::Rc::new(crate::NativeFunctions::default())
    }
}

/// A host that ignores everything: for benchmarks of the native build.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHost;

impl Host for NullHost {
    fn emit(&self, _: &str, _: &str, _: &Value) {}
    fn progress(&self, _: u64, _: u64, _: &str, _: Option<&Value>) {}
    fn cancelled(&self) -> bool {
        false
    }
    fn log(&self, _: Level, _: &str) {}
}

/// One call a [`RecordingHost`] saw.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// An `emit`.
    Event {
        /// Relative topic.
        topic: String,
        /// Kind.
        kind: String,
        /// Payload.
        data: Value,
    },
    /// A `progress`.
    Progress {
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
        /// Message.
        message: String,
        /// Extra fields.
        detail: Option<Value>,
    },
}

/// A host that records what the engine reported, and can pretend the job
/// was cancelled after a number of `cancelled()` checks: for unit tests.
#[derive(Debug, Default)]
pub struct RecordingHost {
    calls: RefCell<Vec<Recorded>>,
    /// Datasets served to the engine: name → columns (one chunk each).
    datasets: RefCell<std::collections::HashMap<String, Vec<(String, ColumnChunk)>>>,
    cancel_after_checks: Option<usize>,
    checks: RefCell<usize>,
    /// Collections: name → key → value.
    collections: RefCell<Collections>,
    /// Blobs: name → bytes.
    blobs: RefCell<std::collections::HashMap<String, Vec<u8>>>,
    /// Dataset versions: each write takes the next number.
    versions: RefCell<std::collections::HashMap<String, u64>>,
    /// Scalar functions served to the engine.
    functions: crate::NativeFunctions,
}

type Collections = std::collections::HashMap<String, std::collections::BTreeMap<Vec<u8>, Vec<u8>>>;

impl RecordingHost {
    /// A host that never cancels.
    pub fn new() -> Self {
        Self::default()
    }

    /// A host whose `cancelled()` turns true after `checks` calls.
    pub fn cancelling_after(checks: usize) -> Self {
        Self {
            cancel_after_checks: Some(checks),
            ..Self::default()
        }
    }

    /// Serves `functions` as the loaded UDFs.
    pub fn with_functions(self, functions: crate::NativeFunctions) -> Self {
        Self { functions, ..self }
    }

    /// Serves dataset `name` with `columns` (each one chunk).
    pub fn with_dataset(self, name: &str, columns: Vec<(&str, ColumnValues)>) -> Self {
        let columns = columns
            .into_iter()
            .map(|(n, values)| {
                (
                    n.to_owned(),
                    ColumnChunk {
                        values,
                        valid: Vec::new(),
                    },
                )
            })
            .collect();
        self.datasets.borrow_mut().insert(name.to_owned(), columns);
        self.bump_version(name);
        self
    }

    fn bump_version(&self, name: &str) {
        let mut versions = self.versions.borrow_mut();
        let next = versions.values().max().map_or(1, |v| v + 1);
        versions.insert(name.to_owned(), next);
    }

    /// Dataset `name` as written by the engine (or given): its columns.
    pub fn dataset(&self, name: &str) -> Option<Vec<(String, ColumnChunk)>> {
        self.datasets.borrow().get(name).cloned()
    }

    /// Everything recorded so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.borrow().clone()
    }
}

impl Host for RecordingHost {
    fn functions(&self) -> std::rc::Rc<dyn crate::Functions> {
        std::rc::Rc::new(self.functions.clone())
    }

    fn collection_get(
        &self,
        collection: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageFailure> {
        // As the host: a collection nothing was ever written to is missing.
        match self.collections.borrow().get(collection) {
            Some(tree) => Ok(tree.get(key).cloned()),
            None => Err(StorageFailure::NotFound(format!(
                "collection '{collection}' does not exist"
            ))),
        }
    }

    fn collection_put(
        &self,
        collection: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageFailure> {
        self.collection_write_batch(collection, &[(key.to_vec(), Some(value.to_vec()))])
    }

    fn collection_delete(&self, collection: &str, key: &[u8]) -> Result<(), StorageFailure> {
        self.collection_write_batch(collection, &[(key.to_vec(), None)])
    }

    fn collection_write_batch(
        &self,
        collection: &str,
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), StorageFailure> {
        // The host's limits, so that native tests meet them too.
        let bytes: usize = batch
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        if batch.len() > 10_000 || bytes > 64 << 20 {
            return Err(StorageFailure::Invalid(format!(
                "a batch holds at most 10000 writes and 64 MiB; this one has {} writes, {bytes} bytes: split it",
                batch.len()
            )));
        }
        let mut collections = self.collections.borrow_mut();
        let tree = collections.entry(collection.to_owned()).or_default();
        for (key, value) in batch {
            match value {
                Some(value) => tree.insert(key.clone(), value.clone()),
                None => tree.remove(key),
            };
        }
        Ok(())
    }

    fn list_collections(&self) -> Result<Vec<String>, StorageFailure> {
        let mut names: Vec<String> = self.collections.borrow().keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn drop_collection(&self, collection: &str) -> Result<(), StorageFailure> {
        self.collections
            .borrow_mut()
            .remove(collection)
            .map(|_| ())
            .ok_or_else(|| {
                StorageFailure::NotFound(format!("collection '{collection}' does not exist"))
            })
    }

    fn collection_write_batch_if(
        &self,
        collection: &str,
        expect: &[(Vec<u8>, Option<Vec<u8>>)],
        batch: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<bool, StorageFailure> {
        {
            let collections = self.collections.borrow();
            let tree = collections.get(collection);
            for (key, value) in expect {
                if tree.and_then(|t| t.get(key)) != value.as_ref() {
                    return Ok(false);
                }
            }
        }
        self.collection_write_batch(collection, batch)?;
        Ok(true)
    }

    fn collection_scan_page(
        &self,
        collection: &str,
        start: &[u8],
        prefix: &[u8],
        limit: u32,
        max_bytes: u32,
    ) -> Result<ScanPage, StorageFailure> {
        let collections = self.collections.borrow();
        let Some(tree) = collections.get(collection) else {
            return Err(StorageFailure::NotFound(format!(
                "collection '{collection}' does not exist"
            )));
        };
        let mut page = ScanPage::default();
        let mut bytes = 0usize;
        for (key, value) in tree.range(start.to_vec()..) {
            if !key.starts_with(prefix) {
                if key.as_slice() > prefix {
                    break;
                }
                continue;
            }
            bytes += key.len() + value.len();
            page.entries.push((key.clone(), value.clone()));
            if page.entries.len() >= limit.max(1) as usize || bytes >= max_bytes as usize {
                let mut next = key.clone();
                next.push(0);
                page.next = Some(next);
                break;
            }
        }
        Ok(page)
    }

    fn write_blob(&self, name: &str, data: &[u8]) -> Result<(), StorageFailure> {
        self.blobs
            .borrow_mut()
            .insert(name.to_owned(), data.to_vec());
        Ok(())
    }

    fn read_blob(&self, name: &str) -> Result<Vec<u8>, StorageFailure> {
        self.blobs
            .borrow()
            .get(name)
            .cloned()
            .ok_or_else(|| StorageFailure::NotFound(format!("blob '{name}' does not exist")))
    }

    fn create_blob<'a>(&'a self, name: &str) -> Result<Box<dyn BlobWriter + 'a>, StorageFailure> {
        Ok(Box::new(RecordingBlob {
            host: self,
            name: name.to_owned(),
            data: Vec::new(),
        }))
    }

    fn read_blob_range(
        &self,
        name: &str,
        offset: u64,
        length: u32,
    ) -> Result<(u64, Vec<u8>), StorageFailure> {
        let blobs = self.blobs.borrow();
        let blob = blobs
            .get(name)
            .ok_or_else(|| StorageFailure::NotFound(format!("blob '{name}' does not exist")))?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(blob.len());
        let end = start.saturating_add(length as usize).min(blob.len());
        Ok((blob.len() as u64, blob[start..end].to_vec()))
    }

    fn drop_blob(&self, name: &str) -> Result<(), StorageFailure> {
        self.blobs
            .borrow_mut()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| StorageFailure::NotFound(format!("blob '{name}' does not exist")))
    }

    fn emit(&self, topic: &str, kind: &str, data: &Value) {
        self.calls.borrow_mut().push(Recorded::Event {
            topic: topic.to_owned(),
            kind: kind.to_owned(),
            data: data.clone(),
        });
    }

    fn progress(&self, done: u64, total: u64, message: &str, detail: Option<&Value>) {
        self.calls.borrow_mut().push(Recorded::Progress {
            done,
            total,
            message: message.to_owned(),
            detail: detail.cloned(),
        });
    }

    fn cancelled(&self) -> bool {
        let mut checks = self.checks.borrow_mut();
        *checks += 1;
        self.cancel_after_checks
            .is_some_and(|limit| *checks > limit)
    }

    fn log(&self, _: Level, _: &str) {}

    fn create_dataset<'a>(
        &'a self,
        name: &str,
        schema: &[(String, ColumnKind)],
        replace: bool,
    ) -> Result<Box<dyn DatasetWriter + 'a>, StorageFailure> {
        if !replace && self.datasets.borrow().contains_key(name) {
            return Err(StorageFailure::Exists(format!("dataset '{name}' exists")));
        }
        let columns = schema
            .iter()
            .map(|(column, kind)| {
                let values = match kind {
                    ColumnKind::F64 => ColumnValues::F64(Vec::new()),
                    ColumnKind::I64 => ColumnValues::I64(Vec::new()),
                    ColumnKind::Bool => ColumnValues::Bool(Vec::new()),
                    ColumnKind::Text => ColumnValues::Text(Vec::new()),
                    ColumnKind::Timestamp => ColumnValues::Timestamp(Vec::new()),
                    ColumnKind::Binary => ColumnValues::Binary(Vec::new()),
                };
                (
                    column.clone(),
                    ColumnChunk {
                        values,
                        valid: Vec::new(),
                    },
                )
            })
            .collect();
        Ok(Box::new(RecordingWriter {
            host: self,
            name: name.to_owned(),
            replace,
            columns,
        }))
    }

    fn list_datasets(&self) -> Result<Vec<DatasetSummary>, StorageFailure> {
        let mut list: Vec<DatasetSummary> = self
            .datasets
            .borrow()
            .iter()
            .map(|(name, columns)| DatasetSummary {
                name: name.clone(),
                rows: columns.first().map_or(0, |(_, c)| c.values.len() as u64),
                columns: columns
                    .iter()
                    .map(|(n, c)| (n.clone(), c.values.kind()))
                    .collect(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    fn drop_dataset(&self, name: &str) -> Result<(), StorageFailure> {
        self.datasets
            .borrow_mut()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| StorageFailure::NotFound(format!("dataset '{name}' does not exist")))
    }

    fn dataset_shape(&self, name: &str) -> Result<DatasetShape, StorageFailure> {
        let datasets = self.datasets.borrow();
        let columns = datasets
            .get(name)
            .ok_or_else(|| StorageFailure::NotFound(format!("dataset '{name}' does not exist")))?;
        Ok(DatasetShape {
            rows: columns.first().map_or(0, |(_, c)| c.values.len() as u64),
            chunks: u32::from(!columns.is_empty()),
            columns: columns.iter().map(|(n, _)| n.clone()).collect(),
            version: self.versions.borrow().get(name).copied().unwrap_or(0),
        })
    }

    fn chunk_stats(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ChunkStats, StorageFailure> {
        let found = self.read_chunk(dataset, column, chunk)?;
        let valid = |i: usize| found.valid.get(i).copied().unwrap_or(true);
        let numbers: Vec<f64> = match &found.values {
            ColumnValues::F64(v) => v
                .iter()
                .enumerate()
                .filter(|(i, x)| valid(*i) && !x.is_nan())
                .map(|(_, x)| *x)
                .collect(),
            ColumnValues::I64(v) | ColumnValues::Timestamp(v) => v
                .iter()
                .enumerate()
                .filter(|(i, _)| valid(*i))
                .map(|(_, x)| *x as f64)
                .collect(),
            _ => Vec::new(),
        };
        let rows = found.values.len();
        Ok(ChunkStats {
            rows: rows as u32,
            nulls: (0..rows).filter(|&i| !valid(i)).count() as u32,
            min: numbers.iter().copied().reduce(f64::min),
            max: numbers.iter().copied().reduce(f64::max),
        })
    }

    fn read_chunk(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<ColumnChunk, StorageFailure> {
        let missing =
            || StorageFailure::NotFound(format!("column '{column}' of '{dataset}' does not exist"));
        let datasets = self.datasets.borrow();
        let columns = datasets.get(dataset).ok_or_else(missing)?;
        let found = columns
            .iter()
            .find(|(n, _)| n == column)
            .ok_or_else(missing)?;
        if chunk != 0 {
            return Err(StorageFailure::NotFound(format!(
                "chunk {chunk} of '{dataset}' does not exist"
            )));
        }
        Ok(found.1.clone())
    }
}

/// A [`RecordingHost`]'s dataset being written: its rows gather in one
/// chunk per column and appear at commit.
struct RecordingWriter<'a> {
    host: &'a RecordingHost,
    name: String,
    replace: bool,
    columns: Vec<(String, ColumnChunk)>,
}

impl DatasetWriter for RecordingWriter<'_> {
    fn append(&mut self, columns: Vec<ColumnChunk>) -> Result<(), StorageFailure> {
        if columns.len() != self.columns.len() {
            return Err(StorageFailure::Invalid(format!(
                "{} columns appended to a schema of {}",
                columns.len(),
                self.columns.len()
            )));
        }
        let rows = self.columns.first().map_or(0, |(_, c)| c.values.len());
        for ((name, into), chunk) in self.columns.iter_mut().zip(columns) {
            let added = chunk.values.len();
            let same = match (&mut into.values, chunk.values) {
                (ColumnValues::F64(a), ColumnValues::F64(b)) => {
                    a.extend(b);
                    true
                }
                (ColumnValues::I64(a), ColumnValues::I64(b))
                | (ColumnValues::Timestamp(a), ColumnValues::Timestamp(b)) => {
                    a.extend(b);
                    true
                }
                (ColumnValues::Bool(a), ColumnValues::Bool(b)) => {
                    a.extend(b);
                    true
                }
                (ColumnValues::Text(a), ColumnValues::Text(b)) => {
                    a.extend(b);
                    true
                }
                (ColumnValues::Binary(a), ColumnValues::Binary(b)) => {
                    a.extend(b);
                    true
                }
                _ => false,
            };
            if !same {
                return Err(StorageFailure::Invalid(format!(
                    "column '{name}' has the wrong type"
                )));
            }
            if !chunk.valid.is_empty() || !into.valid.is_empty() {
                into.valid.resize(rows, true);
                if chunk.valid.is_empty() {
                    into.valid.resize(rows + added, true);
                } else {
                    into.valid.extend(chunk.valid);
                }
            }
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64, StorageFailure> {
        let mut datasets = self.host.datasets.borrow_mut();
        if !self.replace && datasets.contains_key(&self.name) {
            return Err(StorageFailure::Exists(format!(
                "dataset '{}' exists",
                self.name
            )));
        }
        let rows = self
            .columns
            .first()
            .map_or(0, |(_, c)| c.values.len() as u64);
        self.host.bump_version(&self.name);
        datasets.insert(self.name, self.columns);
        Ok(rows)
    }
}

/// A blob being written into a [`RecordingHost`].
struct RecordingBlob<'a> {
    host: &'a RecordingHost,
    name: String,
    data: Vec<u8>,
}

impl BlobWriter for RecordingBlob<'_> {
    fn write(&mut self, data: &[u8]) -> Result<(), StorageFailure> {
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64, StorageFailure> {
        let size = self.data.len() as u64;
        self.host.blobs.borrow_mut().insert(self.name, self.data);
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_host_keeps_collections_and_blobs() {
        let host = RecordingHost::new();
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..10u8)
            .map(|i| (vec![b'k', i], Some(vec![i; 10])))
            .collect();
        host.collection_write_batch("c", &batch).expect("batch");
        host.collection_delete("c", &[b'k', 3]).expect("delete");
        let page = host
            .collection_scan_page("c", b"", b"k", 4, 1 << 20)
            .expect("page");
        assert_eq!(page.entries.len(), 4);
        assert_eq!(
            page.entries[3].0,
            vec![b'k', 4],
            "the deleted key is skipped"
        );
        let rest = host
            .collection_scan_page("c", &page.next.expect("next"), b"k", 100, 25)
            .expect("page");
        assert_eq!(rest.entries.len(), 3, "stops near max_bytes");
        let mut blob = host.create_blob("model").expect("writer");
        blob.write(b"abc").expect("write");
        blob.write(b"def").expect("write");
        assert!(host.read_blob("model").is_err(), "invisible before commit");
        assert_eq!(blob.commit().expect("commit"), 6);
        assert_eq!(
            host.read_blob_range("model", 2, 3).expect("range"),
            (6, b"cde".to_vec())
        );
        host.drop_blob("model").expect("drop");
        assert!(host.read_blob("model").is_err());
    }
}
