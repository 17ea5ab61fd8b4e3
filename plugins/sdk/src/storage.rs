//! Host storage as an engine sees it: datasets read a chunk at a time as
//! typed columns, key/value collections and blobs, all of the calling
//! job's tenant. Calls go through [`crate::Host`]; natively,
//! [`crate::RecordingHost`] serves datasets added with
//! [`crate::RecordingHost::with_dataset`].

/// A column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnValues {
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Text.
    Text(Vec<String>),
    /// Microseconds since the Unix epoch.
    Timestamp(Vec<i64>),
    /// Byte strings (WKB geometries, embeddings, serialized values).
    Binary(Vec<Vec<u8>>),
}

impl ColumnValues {
    /// Rows held.
    pub fn len(&self) -> usize {
        match self {
            Self::F64(v) => v.len(),
            Self::I64(v) | Self::Timestamp(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Text(v) => v.len(),
            Self::Binary(v) => v.len(),
        }
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `start..end` (which must lie within the column).
    pub fn slice(&self, start: usize, end: usize) -> Self {
        match self {
            Self::F64(v) => Self::F64(v[start..end].to_vec()),
            Self::I64(v) => Self::I64(v[start..end].to_vec()),
            Self::Timestamp(v) => Self::Timestamp(v[start..end].to_vec()),
            Self::Bool(v) => Self::Bool(v[start..end].to_vec()),
            Self::Text(v) => Self::Text(v[start..end].to_vec()),
            Self::Binary(v) => Self::Binary(v[start..end].to_vec()),
        }
    }

    /// The values as JSON, as the host shows them: timestamps as
    /// microseconds, byte strings as lowercase hex.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        use serde_json::Value;
        match self {
            Self::F64(v) => v.iter().map(|&x| Value::from(x)).collect(),
            Self::I64(v) | Self::Timestamp(v) => v.iter().map(|&x| Value::from(x)).collect(),
            Self::Bool(v) => v.iter().map(|&x| Value::from(x)).collect(),
            Self::Text(v) => v.iter().map(|x| Value::from(x.as_str())).collect(),
            Self::Binary(v) => v
                .iter()
                .map(|bytes| {
                    Value::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
                })
                .collect(),
        }
    }

    /// The values as f64 (booleans as 0/1); `None` for text and binary.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        Some(match self {
            Self::F64(v) => v.clone(),
            Self::I64(v) | Self::Timestamp(v) => v.iter().map(|&x| x as f64).collect(),
            Self::Bool(v) => v.iter().map(|&b| f64::from(u8::from(b))).collect(),
            Self::Text(_) | Self::Binary(_) => return None,
        })
    }
}

/// A column's type, as datasets store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// 64-bit floats.
    F64,
    /// 64-bit integers.
    I64,
    /// Booleans.
    Bool,
    /// Text.
    Text,
    /// Microseconds since the Unix epoch.
    Timestamp,
    /// Byte strings.
    Binary,
}

impl ColumnKind {
    /// Lower-case name, as the REST API shows types (`i64`, `string`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "f64",
            Self::I64 => "i64",
            Self::Bool => "bool",
            Self::Text => "string",
            Self::Timestamp => "timestamp",
            Self::Binary => "binary",
        }
    }
}

impl ColumnValues {
    /// The values' type.
    pub fn kind(&self) -> ColumnKind {
        match self {
            Self::F64(_) => ColumnKind::F64,
            Self::I64(_) => ColumnKind::I64,
            Self::Bool(_) => ColumnKind::Bool,
            Self::Text(_) => ColumnKind::Text,
            Self::Timestamp(_) => ColumnKind::Timestamp,
            Self::Binary(_) => ColumnKind::Binary,
        }
    }
}

/// One dataset of the tenant, as `list_datasets` tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    /// Name.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// `(name, type)` per column, in schema order.
    pub columns: Vec<(String, ColumnKind)>,
}

/// A dataset being written: invisible until [`DatasetWriter::commit`],
/// which publishes all of it at once. Dropped uncommitted, it leaves
/// nothing behind.
pub trait DatasetWriter {
    /// Appends rows: one chunk per schema column, in schema order, all of
    /// one length (at most 65,536).
    fn append(&mut self, columns: Vec<ColumnChunk>) -> Result<(), StorageFailure>;
    /// Publishes the dataset; answers its rows.
    fn commit(self: Box<Self>) -> Result<u64, StorageFailure>;
}

/// A blob being written in parts: invisible until [`BlobWriter::commit`];
/// dropped uncommitted, it leaves nothing.
pub trait BlobWriter {
    /// Appends `data` (up to 16 MiB per call).
    fn write(&mut self, data: &[u8]) -> Result<(), StorageFailure>;
    /// Publishes the blob; answers its size.
    fn commit(self: Box<Self>) -> Result<u64, StorageFailure>;
}

/// One page of a collection scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanPage {
    /// Entries in key order.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Where the next page starts; `None` when the scan is done.
    pub next: Option<Vec<u8>>,
}

/// One chunk of one column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnChunk {
    /// Values (nulls hold the type's zero).
    pub values: ColumnValues,
    /// False where a row is null; empty when none is.
    pub valid: Vec<bool>,
}

impl ColumnChunk {
    /// A float64 chunk with no nulls.
    ///
    /// ```
    /// let chunk = weft_sdk::ColumnChunk::f64(vec![1.5]);
    /// assert_eq!(chunk.values.len(), 1);
    /// ```
    pub fn f64(values: Vec<f64>) -> Self {
        Self {
            values: ColumnValues::F64(values),
            valid: Vec::new(),
        }
    }

    /// A text chunk with no nulls.
    ///
    /// ```
    /// let chunk = weft_sdk::ColumnChunk::text(vec!["a".into()]);
    /// assert!(chunk.valid.is_empty());
    /// ```
    pub fn text(values: Vec<String>) -> Self {
        Self {
            values: ColumnValues::Text(values),
            valid: Vec::new(),
        }
    }
}

/// What a dataset holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetShape {
    /// Rows.
    pub rows: u64,
    /// Chunks (read them `0..chunks`).
    pub chunks: u32,
    /// Column names, in schema order.
    pub columns: Vec<String>,
    /// Changes whenever the contents do (an append, a replacement) and
    /// only then: what a cache of answers over the dataset keys on.
    pub version: u64,
}

/// One partition of a partitioned dataset (uploaded with `partition_by`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// From 0.
    pub index: u32,
    /// What it holds, e.g. `region=eu`.
    pub label: String,
    /// Rows in it.
    pub rows: u64,
    /// The chunks holding its rows (read them with `read_chunk`).
    pub chunks: Vec<u32>,
}

/// What a chunk's metadata says of one column (zone maps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkStats {
    /// Rows in the chunk.
    pub rows: u32,
    /// Null rows.
    pub nulls: u32,
    /// Smallest non-null value, for numeric and timestamp columns.
    pub min: Option<f64>,
    /// Largest non-null value.
    pub max: Option<f64>,
}

/// Why a storage call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageFailure {
    /// No such dataset, column, collection or blob.
    NotFound(String),
    /// The request was refused as asked.
    Invalid(String),
    /// The host failed, or has no storage.
    Failed(String),
    /// A dataset or collection of that name exists already.
    Exists(String),
}

impl StorageFailure {
    pub(crate) fn unsupported() -> Self {
        Self::Failed("this host has no storage".into())
    }
}

impl std::fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(m) | Self::Invalid(m) | Self::Failed(m) | Self::Exists(m) => {
                f.write_str(m)
            }
        }
    }
}

impl From<StorageFailure> for crate::EngineError {
    /// Missing or refused data is the caller's to fix; a host failure is
    /// not.
    fn from(failure: StorageFailure) -> Self {
        match failure {
            StorageFailure::NotFound(m) => Self::NotFound(m),
            StorageFailure::Invalid(m) => Self::InvalidParams(m),
            StorageFailure::Exists(m) => Self::Conflict(m),
            StorageFailure::Failed(m) => Self::Failed(m),
        }
    }
}

/// Reads whole columns of a dataset, chunk by chunk, as f64 (integers,
/// timestamps and booleans converted; nulls become NaN). Fails on a text
/// column.
pub fn read_numeric_columns(
    host: &dyn crate::Host,
    dataset: &str,
    columns: &[String],
) -> Result<Vec<Vec<f64>>, StorageFailure> {
    let shape = host.dataset_shape(dataset)?;
    let mut out: Vec<Vec<f64>> = columns
        .iter()
        .map(|_| Vec::with_capacity(shape.rows as usize))
        .collect();
    for chunk in 0..shape.chunks {
        for (column, values) in columns.iter().zip(out.iter_mut()) {
            let read = host.read_chunk(dataset, column, chunk)?;
            let numbers = read.values.to_f64().ok_or_else(|| {
                StorageFailure::Invalid(format!(
                    "column '{column}' of '{dataset}' is text, not numbers"
                ))
            })?;
            values.extend(numbers.into_iter().enumerate().map(|(i, x)| {
                if read.valid.get(i) == Some(&false) {
                    f64::NAN
                } else {
                    x
                }
            }));
        }
    }
    Ok(out)
}

/// Rows per appended chunk: the host's chunk size.
pub const CHUNK_ROWS: usize = 65_536;

/// Appends whole columns (all `rows` long) to a dataset writer in chunks
/// of [`CHUNK_ROWS`].
pub fn append_chunked(
    writer: &mut dyn DatasetWriter,
    columns: Vec<ColumnChunk>,
    rows: usize,
) -> Result<(), StorageFailure> {
    for start in (0..rows).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(rows);
        let chunk = columns
            .iter()
            .map(|c| ColumnChunk {
                values: c.values.slice(start, end),
                valid: if c.valid.is_empty() {
                    Vec::new()
                } else {
                    c.valid[start..end].to_vec()
                },
            })
            .collect();
        writer.append(chunk)?;
    }
    Ok(())
}

/// JSON values (`None`: null or missing) as one typed column: booleans,
/// integers, numbers or text, the same type throughout. The error says
/// what is wrong with the values, to follow the column's name.
pub fn json_column(
    values: &[Option<&serde_json::Value>],
) -> Result<(ColumnKind, ColumnChunk), String> {
    use serde_json::Value;
    let present = || values.iter().flatten();
    let (kind, column) = if present().all(|v| v.is_boolean()) {
        let v = values
            .iter()
            .map(|v| v.and_then(Value::as_bool).unwrap_or_default());
        (ColumnKind::Bool, ColumnValues::Bool(v.collect()))
    } else if present().all(|v| v.is_i64()) {
        let v = values
            .iter()
            .map(|v| v.and_then(Value::as_i64).unwrap_or_default());
        (ColumnKind::I64, ColumnValues::I64(v.collect()))
    } else if present().all(|v| v.is_number()) {
        let v = values
            .iter()
            .map(|v| v.and_then(Value::as_f64).unwrap_or_default());
        (ColumnKind::F64, ColumnValues::F64(v.collect()))
    } else if present().all(|v| v.is_string()) {
        let v = values
            .iter()
            .map(|v| v.and_then(Value::as_str).unwrap_or_default().to_owned());
        (ColumnKind::Text, ColumnValues::Text(v.collect()))
    } else {
        return Err("mixes types or holds lists/objects; give every one the same kind of value (number, text or boolean) or null".into());
    };
    let valid = if values.iter().all(Option::is_some) {
        Vec::new()
    } else {
        values.iter().map(Option::is_some).collect()
    };
    Ok((
        kind,
        ColumnChunk {
            values: column,
            valid,
        },
    ))
}

/// Reads blob `name` whole, whatever its size, in ranges of 8 MiB.
pub fn read_whole_blob(host: &dyn crate::Host, name: &str) -> Result<Vec<u8>, StorageFailure> {
    const PART: u32 = 8 << 20;
    let (size, first) = host.read_blob_range(name, 0, PART)?;
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend(first);
    while (bytes.len() as u64) < size {
        let (_, part) = host.read_blob_range(name, bytes.len() as u64, PART)?;
        if part.is_empty() {
            return Err(StorageFailure::Failed(format!(
                "blob '{name}' ended at {} of {size} bytes",
                bytes.len()
            )));
        }
        bytes.extend(part);
    }
    Ok(bytes)
}

/// Writes blob `name` whole, whatever its size, in parts of 8 MiB;
/// visible only once all of it is written.
pub fn write_whole_blob(
    host: &dyn crate::Host,
    name: &str,
    data: &[u8],
) -> Result<u64, StorageFailure> {
    let mut writer = host.create_blob(name)?;
    for part in data.chunks(8 << 20) {
        writer.write(part)?;
    }
    writer.commit()
}
