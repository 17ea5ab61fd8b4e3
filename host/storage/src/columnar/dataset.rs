//! A dataset: a named table of typed columns, stored chunk by chunk.
//!
//! Each appended chunk (up to [`CHUNK_ROWS`] rows) becomes one sealed
//! segment `cNNNNNN.seg` holding every column of the chunk, each column
//! encoded on its own and spread over consecutive raw pages. `meta.json`
//! (replaced atomically after the segment is sealed) lists the schema and
//! the chunks; a segment it does not list is a leftover of an interrupted
//! append and is removed on open.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::encoding::{self, ColumnType, Encoding, Values};
use super::partition::{PartitionSpec, take};
use crate::StorageError;
use crate::events::Family;
use crate::lsm::{Shared, write_atomically};
use crate::page::{raw_page_count, raw_pages};
use crate::segment::Segment;

/// Rows per chunk: large enough for encodings to pay off, small enough to
/// decode in a few milliseconds.
pub const CHUNK_ROWS: usize = 65_536;

/// One column of the schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
}

/// Where one column of one chunk lives and what it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnChunk {
    /// Chosen encoding.
    pub encoding: Encoding,
    /// First raw page in the chunk's segment.
    pub first_page: u32,
    /// Encoded bytes.
    pub bytes: usize,
    /// Null rows.
    pub nulls: usize,
    /// Smallest non-null value (numeric columns).
    pub min: Option<f64>,
    /// Largest non-null value (numeric columns).
    pub max: Option<f64>,
}

/// One chunk: a segment file holding every column of some rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Chunk {
    /// Segment file number.
    pub file: u64,
    /// Partition the chunk's rows belong to (0 when unpartitioned).
    #[serde(default)]
    pub partition: usize,
    /// Rows in the chunk.
    pub rows: usize,
    /// Per column, in schema order.
    pub columns: Vec<ColumnChunk>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Meta {
    schema: Vec<Field>,
    chunks: Vec<Chunk>,
    next_file: u64,
    #[serde(default)]
    partitioning: Option<PartitionSpec>,
    /// When the dataset was created (ns since the epoch), so one dropped
    /// and made again never shows an earlier version; 0 for datasets
    /// written before versions existed.
    #[serde(default)]
    incarnation: u64,
}

/// What a chunk's metadata says of one of its columns, without reading it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkStats {
    /// Rows in the chunk.
    pub rows: usize,
    /// Null rows.
    pub nulls: usize,
    /// Smallest non-null value (numeric and timestamp columns).
    pub min: Option<f64>,
    /// Largest non-null value.
    pub max: Option<f64>,
}

/// What a client sees of a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetInfo {
    /// Name.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// Schema.
    pub schema: Vec<Field>,
    /// Chunks.
    pub chunks: usize,
    /// Encoded bytes of all columns.
    pub bytes: u64,
    /// Per column: how many chunks use each encoding.
    pub encodings: Vec<serde_json::Value>,
    /// How rows are partitioned, if they are.
    pub partitioning: Option<PartitionSpec>,
    /// Per partition: its label, rows and chunks.
    pub partitions: Vec<serde_json::Value>,
}

/// One partition of a partitioned dataset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionSummary {
    /// From 0.
    pub index: usize,
    /// What it holds, e.g. `region=eu`.
    pub label: String,
    /// Rows in it.
    pub rows: u64,
    /// The chunks holding them, ascending.
    pub chunks: Vec<usize>,
}

fn partition_summaries(meta: &Meta) -> Vec<PartitionSummary> {
    let Some(spec) = meta.partitioning.as_ref() else {
        return Vec::new();
    };
    (0..spec.partitions())
        .map(|index| {
            let chunks: Vec<usize> = (0..meta.chunks.len())
                .filter(|&c| meta.chunks[c].partition == index)
                .collect();
            PartitionSummary {
                index,
                label: spec.label(index),
                rows: chunks.iter().map(|&c| meta.chunks[c].rows as u64).sum(),
                chunks,
            }
        })
        .collect()
}

/// One column's values for a range of rows.
#[derive(Clone, Debug)]
pub struct ColumnSlice {
    /// The values (null rows hold the type's zero).
    pub values: Values,
    /// Validity per row; empty when no row is null.
    pub valid: Vec<bool>,
}

/// An open dataset.
pub struct Dataset {
    name: String,
    dir: PathBuf,
    shared: Shared,
    meta: RwLock<Meta>,
    segments: RwLock<std::collections::HashMap<u64, Arc<Segment>>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset").field("name", &self.name).finish()
    }
}

fn segment_path(dir: &Path, file: u64) -> PathBuf {
    dir.join(format!("c{file:06}.seg"))
}

fn min_max(values: &Values, valid: &[bool]) -> (Option<f64>, Option<f64>) {
    let numbers: Box<dyn Iterator<Item = f64>> = match values {
        Values::F64(v) => Box::new(v.iter().copied()),
        Values::I64(v) | Values::Timestamp(v) => Box::new(v.iter().map(|&x| x as f64)),
        Values::Bool(_) | Values::String(_) | Values::Binary(_) => return (None, None),
    };
    let mut range: Option<(f64, f64)> = None;
    for (i, x) in numbers.enumerate() {
        if valid.get(i) == Some(&false) || x.is_nan() {
            continue;
        }
        range = Some(range.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))));
    }
    (range.map(|r| r.0), range.map(|r| r.1))
}

impl Dataset {
    /// Creates an empty dataset with `schema` in `dir`.
    pub(crate) fn create(
        name: &str,
        dir: &Path,
        schema: Vec<Field>,
        partitioning: Option<PartitionSpec>,
        shared: Shared,
    ) -> Result<Self, StorageError> {
        if let Some(spec) = &partitioning
            && !schema.iter().any(|f| f.name == spec.column)
        {
            return Err(StorageError::Invalid(format!(
                "partition column '{}' is not in the schema",
                spec.column
            )));
        }
        if schema.is_empty() {
            return Err(StorageError::Invalid(
                "a dataset needs at least one column".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = schema.iter().find(|f| !seen.insert(f.name.as_str())) {
            return Err(StorageError::Invalid(format!(
                "column '{}' appears twice",
                dup.name
            )));
        }
        std::fs::create_dir_all(dir).map_err(StorageError::io("create", dir))?;
        let meta = Meta {
            schema,
            chunks: Vec::new(),
            next_file: 0,
            partitioning,
            incarnation: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        };
        write_atomically(&dir.join("meta.json"), &serde_json::to_vec(&meta)?)?;
        Ok(Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            shared,
            meta: RwLock::new(meta),
            segments: RwLock::default(),
        })
    }

    /// Opens an existing dataset.
    pub(crate) fn open(name: &str, dir: &Path, shared: Shared) -> Result<Self, StorageError> {
        let path = dir.join("meta.json");
        let bytes = std::fs::read(&path).map_err(StorageError::io("read", &path))?;
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
            what: "dataset metadata",
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let listed: std::collections::HashSet<u64> = meta.chunks.iter().map(|c| c.file).collect();
        let mut segments = std::collections::HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(StorageError::io("list", dir))? {
            let entry = entry.map_err(StorageError::io("list", dir))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(number) = file
                .strip_prefix('c')
                .and_then(|f| {
                    f.strip_suffix(".seg")
                        .or_else(|| f.strip_suffix(".seg.lz4"))
                })
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if segments.contains_key(&number) {
                continue; // its other tier's file, already opened
            }
            if listed.contains(&number) {
                let segment = shared.open_segment(&segment_path(dir, number))?;
                segments.insert(number, segment);
            } else {
                std::fs::remove_file(entry.path())
                    .map_err(StorageError::io("remove", &entry.path()))?;
            }
        }
        Ok(Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            shared,
            meta: RwLock::new(meta),
            segments: RwLock::new(segments),
        })
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema.
    pub fn schema(&self) -> Vec<Field> {
        self.meta
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .schema
            .clone()
    }

    /// Rows stored.
    pub fn rows(&self) -> u64 {
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
        meta.chunks.iter().map(|c| c.rows as u64).sum()
    }

    /// A value that changes whenever the contents do (an append, or the
    /// dataset dropped and made again) and is the same while they do not:
    /// what a cache of answers over the dataset is keyed by.
    pub fn version(&self) -> u64 {
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
        meta.incarnation.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ meta.next_file
    }

    /// `column`'s statistics in chunk `chunk`: rows, nulls, min and max,
    /// from metadata (zone maps: a reader can skip a chunk no row of
    /// which can match).
    pub fn chunk_stats(&self, column: &str, chunk: usize) -> Result<ChunkStats, StorageError> {
        let index = self.column_index(column)?;
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
        let found = meta
            .chunks
            .get(chunk)
            .ok_or_else(|| StorageError::NotFound {
                what: "chunk",
                name: format!("{}[{chunk}]", self.name),
            })?;
        let col = found
            .columns
            .get(index)
            .ok_or_else(|| StorageError::Corrupt {
                what: "dataset metadata",
                path: self.dir.join("meta.json"),
                detail: format!("chunk {chunk} lacks column {index}"),
            })?;
        Ok(ChunkStats {
            rows: found.rows,
            nulls: col.nulls,
            min: col.min,
            max: col.max,
        })
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        self.meta
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .chunks
            .len()
    }

    /// Appends rows: one `(values, validity)` per schema column, all of the
    /// same length (≤ [`CHUNK_ROWS`]). A partitioned dataset stores each
    /// partition's rows as a chunk of its own. Durable when it returns.
    pub fn append(&self, columns: Vec<(Values, Vec<bool>)>) -> Result<(), StorageError> {
        let (schema, partitioning) = {
            let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
            (meta.schema.clone(), meta.partitioning.clone())
        };
        let Some(spec) = partitioning else {
            return self.append_chunk(columns, 0);
        };
        let index = schema
            .iter()
            .position(|f| f.name == spec.column)
            .ok_or_else(|| {
                StorageError::Invalid(format!("no partition column '{}'", spec.column))
            })?;
        let (values, valid) = columns
            .get(index)
            .ok_or_else(|| StorageError::Invalid("missing the partition column".into()))?;
        let assigned = spec.assign(values, valid)?;
        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); spec.partitions()];
        for (row, &p) in assigned.iter().enumerate() {
            rows_of[p].push(row);
        }
        for (p, rows) in rows_of.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            let part = columns
                .iter()
                .map(|(values, valid)| {
                    let valid = if valid.is_empty() {
                        Vec::new()
                    } else {
                        rows.iter().map(|&r| valid[r]).collect()
                    };
                    (take(values, rows), valid)
                })
                .collect();
            self.append_chunk(part, p)?;
        }
        Ok(())
    }

    fn append_chunk(
        &self,
        columns: Vec<(Values, Vec<bool>)>,
        partition: usize,
    ) -> Result<(), StorageError> {
        let started = Instant::now();
        let schema = self.schema();
        let rows = columns.first().map_or(0, |(v, _)| v.len());
        if columns.len() != schema.len() {
            return Err(StorageError::Invalid(format!(
                "expected {} columns, got {}",
                schema.len(),
                columns.len()
            )));
        }
        for (field, (values, valid)) in schema.iter().zip(&columns) {
            if values.kind() != field.kind
                || values.len() != rows
                || !(valid.is_empty() || valid.len() == rows)
            {
                return Err(StorageError::Invalid(format!(
                    "column '{}' must hold {rows} values of type {:?}",
                    field.name, field.kind
                )));
            }
        }
        if rows == 0 {
            return Ok(());
        }
        if rows > CHUNK_ROWS {
            return Err(StorageError::Invalid(format!(
                "a chunk holds at most {CHUNK_ROWS} rows"
            )));
        }
        let file = {
            let mut meta = self.meta.write().unwrap_or_else(|e| e.into_inner());
            meta.next_file += 1;
            meta.next_file
        };
        let segment = self.shared.create_segment(&segment_path(&self.dir, file))?;
        self.shared.events.emit(Family::Pages, "allocated", || {
            json!({"segment": segment.id(), "file": format!("c{file:06}.seg"), "dataset": self.name})
        });
        let previous: Option<Vec<Encoding>> = {
            let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
            meta.chunks
                .last()
                .map(|c| c.columns.iter().map(|col| col.encoding).collect())
        };
        let mut next_page = 0u32;
        let mut chunk_columns = Vec::with_capacity(columns.len());
        for (i, (values, valid)) in columns.iter().enumerate() {
            let (encoding, bytes) = encoding::encode(values, valid);
            let pages = raw_pages(next_page, &bytes);
            let first_page = next_page;
            next_page += raw_page_count(bytes.len());
            for page in pages {
                self.shared.pool.put_new(&segment, page)?;
            }
            let (min, max) = min_max(values, valid);
            if let Some(before) = previous.as_ref().and_then(|p| p.get(i))
                && *before != encoding
            {
                self.shared
                    .events
                    .emit(Family::Columnar, "encoding_changed", || {
                        json!({"dataset": self.name, "column": schema[i].name,
                           "from": before, "to": encoding, "chunk": self.chunk_count()})
                    });
            }
            chunk_columns.push(ColumnChunk {
                encoding,
                first_page,
                bytes: bytes.len(),
                nulls: valid.iter().filter(|v| !**v).count(),
                min,
                max,
            });
            // Keep dirty pages from piling up in the pool.
            self.shared.pool.flush(&segment)?;
        }
        segment.seal()?;
        let encoded: usize = chunk_columns.iter().map(|c| c.bytes).sum();
        let total_rows = {
            let mut meta = self.meta.write().unwrap_or_else(|e| e.into_inner());
            meta.chunks.push(Chunk {
                file,
                partition,
                rows,
                columns: chunk_columns,
            });
            write_atomically(&self.dir.join("meta.json"), &serde_json::to_vec(&*meta)?)?;
            meta.chunks.iter().map(|c| c.rows as u64).sum::<u64>()
        };
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file, segment);
        self.shared
            .events
            .emit(Family::Columnar, "batch_inserted", || {
                json!({"dataset": self.name, "rows": rows, "total_rows": total_rows,
                   "columns": schema.len(), "bytes": encoded, "partition": partition,
                   "duration_ms": started.elapsed().as_secs_f64() * 1000.0})
            });
        Ok(())
    }

    fn column_index(&self, column: &str) -> Result<usize, StorageError> {
        self.schema()
            .iter()
            .position(|f| f.name == column)
            .ok_or_else(|| StorageError::NotFound {
                what: "column",
                name: format!("{}.{column}", self.name),
            })
    }

    /// Column `column` of chunk `chunk`.
    pub fn read_chunk(&self, column: &str, chunk: usize) -> Result<ColumnSlice, StorageError> {
        let index = self.column_index(column)?;
        let (meta_chunk, kind) = {
            let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
            let found = meta
                .chunks
                .get(chunk)
                .cloned()
                .ok_or_else(|| StorageError::NotFound {
                    what: "chunk",
                    name: format!("{}[{chunk}]", self.name),
                })?;
            (found, meta.schema[index].kind)
        };
        let segment = self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&meta_chunk.file)
            .cloned()
            .ok_or_else(|| StorageError::NotFound {
                what: "chunk file",
                name: format!("c{:06}.seg", meta_chunk.file),
            })?;
        let col = meta_chunk
            .columns
            .get(index)
            .ok_or_else(|| StorageError::Corrupt {
                what: "dataset metadata",
                path: self.dir.join("meta.json"),
                detail: format!("chunk {chunk} lacks column {index}"),
            })?;
        let mut bytes = Vec::with_capacity(col.bytes);
        for n in 0..raw_page_count(col.bytes) {
            bytes.extend_from_slice(
                self.shared
                    .pool
                    .get(&segment, col.first_page + n)?
                    .raw_payload(),
            );
        }
        bytes.truncate(col.bytes);
        let (values, valid) = encoding::decode(&bytes, kind, meta_chunk.rows)?;
        Ok(ColumnSlice { values, valid })
    }

    /// Rows `start..start + count` of `column`, across chunk boundaries
    /// (fewer where the dataset ends), with their validity (empty when no
    /// row in the range is null).
    pub fn read_range(
        &self,
        column: &str,
        start: u64,
        count: usize,
    ) -> Result<(Values, Vec<bool>), StorageError> {
        let index = self.column_index(column)?;
        let (kind, lengths) = {
            let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
            let lengths: Vec<u64> = meta.chunks.iter().map(|c| c.rows as u64).collect();
            (meta.schema[index].kind, lengths)
        };
        let end = start.saturating_add(count as u64);
        let mut values = Values::empty(kind);
        let mut valid = Vec::new();
        let mut any_null = false;
        let mut first_row = 0u64;
        for (chunk, rows) in lengths.into_iter().enumerate() {
            let (lo, hi) = (first_row.max(start), (first_row + rows).min(end));
            first_row += rows;
            if lo >= hi {
                if first_row >= end {
                    break;
                }
                continue;
            }
            let slice = self.read_chunk(column, chunk)?;
            let base = first_row - rows;
            let range = (lo - base) as usize..(hi - base) as usize;
            values.extend(slice.values.slice(range.clone()));
            if slice.valid.is_empty() {
                valid.extend(std::iter::repeat_n(true, range.len()));
            } else {
                any_null |= slice.valid[range.clone()].iter().any(|v| !v);
                valid.extend_from_slice(&slice.valid[range]);
            }
        }
        if !any_null {
            valid.clear();
        }
        Ok((values, valid))
    }

    /// The chunks of partition `partition` (all chunks when `None`).
    pub fn chunks_of(&self, partition: Option<usize>) -> Vec<usize> {
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
        (0..meta.chunks.len())
            .filter(|&i| partition.is_none_or(|p| meta.chunks[i].partition == p))
            .collect()
    }

    /// Each partition with its label, rows and chunks; empty when the
    /// dataset is not partitioned.
    pub fn partitions(&self) -> Vec<PartitionSummary> {
        partition_summaries(&self.meta.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Calls `each` with every chunk of `column` in order, then reports a
    /// `column_scanned` event.
    pub fn scan(
        &self,
        column: &str,
        each: impl FnMut(&ColumnSlice) -> Result<(), StorageError>,
    ) -> Result<u64, StorageError> {
        self.scan_partition(column, None, each)
    }

    /// Like [`Dataset::scan`], reading only partition `partition`'s chunks
    /// (the others are not touched: partition pruning).
    pub fn scan_partition(
        &self,
        column: &str,
        partition: Option<usize>,
        mut each: impl FnMut(&ColumnSlice) -> Result<(), StorageError>,
    ) -> Result<u64, StorageError> {
        let started = Instant::now();
        let mut rows = 0u64;
        let selected = self.chunks_of(partition);
        let chunks = selected.len();
        for chunk in selected {
            let slice = self.read_chunk(column, chunk)?;
            rows += slice.values.len() as u64;
            each(&slice)?;
        }
        self.shared
            .events
            .emit(Family::Columnar, "column_scanned", || {
                json!({"dataset": self.name, "column": column, "rows": rows, "chunks": chunks,
                   "partition": partition,
                   "duration_ms": started.elapsed().as_secs_f64() * 1000.0})
            });
        Ok(rows)
    }

    /// Verifies every page; returns `(file, page)` of each damaged one.
    pub fn verify(&self) -> Vec<(PathBuf, u32)> {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segments
            .values()
            .flat_map(|s| s.scan().into_iter().map(|p| (s.path().to_owned(), p)))
            .collect()
    }

    /// Forgets the dataset's pages (before its directory is removed).
    pub(crate) fn evict(&self) {
        for segment in self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            self.shared.pool.forget(segment.id());
        }
    }

    /// Where it lives.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Summary for clients.
    pub fn info(&self) -> DatasetInfo {
        let meta = self.meta.read().unwrap_or_else(|e| e.into_inner());
        let encodings = meta
            .schema
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let mut counts = serde_json::Map::new();
                for chunk in &meta.chunks {
                    let key = serde_json::to_value(chunk.columns[i].encoding)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let entry = counts.entry(key).or_insert(json!(0));
                    *entry = json!(entry.as_u64().unwrap_or(0) + 1);
                }
                json!({"column": field.name, "chunks_by_encoding": counts})
            })
            .collect();
        let partitions = partition_summaries(&meta)
            .into_iter()
            .map(|p| json!({"partition": p.index, "label": p.label, "rows": p.rows, "chunks": p.chunks.len()}))
            .collect();
        DatasetInfo {
            partitioning: meta.partitioning.clone(),
            partitions,
            name: self.name.clone(),
            rows: meta.chunks.iter().map(|c| c.rows as u64).sum(),
            schema: meta.schema.clone(),
            chunks: meta.chunks.len(),
            bytes: meta
                .chunks
                .iter()
                .flat_map(|c| c.columns.iter().map(|col| col.bytes as u64))
                .sum(),
            encodings,
        }
    }
}
