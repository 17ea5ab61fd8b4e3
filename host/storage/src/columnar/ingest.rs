//! Loading CSV and JSON lines into a dataset, chunk by chunk, with the
//! schema given or inferred from the first chunk.
//!
//! Inference, per column over the first chunk's non-empty cells: `bool`
//! if all are `true`/`false`, else `i64` if all parse as integers, else
//! `f64` if all parse as numbers, else `timestamp` if all are RFC 3339,
//! else `string`. Empty cells (and JSON `null`) are nulls. A later cell
//! that does not fit its column's type fails the load with its row and
//! column named, so the caller can give a schema instead.

use std::io::{BufRead, Read};
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dataset::{CHUNK_ROWS, Dataset, Field};
use super::encoding::{ColumnType, Values};
use crate::StorageError;

/// Creates the dataset once the schema is known.
pub type Create<'a> = Box<dyn FnMut(Vec<Field>) -> Result<Arc<Dataset>, StorageError> + 'a>;

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// One JSON array of objects.
    JsonArray,
}

fn parse_timestamp(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

fn infer(cells: impl Iterator<Item = Option<String>> + Clone) -> ColumnType {
    let present = || cells.clone().flatten();
    if present().next().is_none() {
        return ColumnType::String;
    }
    if present().all(|c| c.eq_ignore_ascii_case("true") || c.eq_ignore_ascii_case("false")) {
        ColumnType::Bool
    } else if present().all(|c| c.parse::<i64>().is_ok()) {
        ColumnType::I64
    } else if present().all(|c| c.parse::<f64>().is_ok()) {
        ColumnType::F64
    } else if present().all(|c| parse_timestamp(&c).is_some()) {
        ColumnType::Timestamp
    } else {
        ColumnType::String
    }
}

/// Buffers rows and appends them as chunks.
/// Columns a dataset may have: every row buffered before a flush is as
/// wide as the header, so width is what turns input into memory.
pub const MAX_COLUMNS: usize = 4096;
/// Cells (rows × columns) buffered before a flush.
const MAX_BUFFERED_CELLS: usize = 4 << 20;
/// Bytes of cell text buffered before a flush.
const MAX_BUFFERED_BYTES: usize = 64 << 20;

struct Loader<'a> {
    create: Create<'a>,
    schema: Option<Vec<Field>>,
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    /// Text held in `rows`.
    buffered_bytes: usize,
    dataset: Option<Arc<Dataset>>,
    loaded: u64,
    progress: &'a mut dyn FnMut(u64),
}

fn too_many_columns(what: &str) -> StorageError {
    StorageError::Invalid(format!(
        "{what} more than {MAX_COLUMNS} columns, the most a dataset may have; split the data, or store wide records as JSON text in one column"
    ))
}

impl Loader<'_> {
    fn push(&mut self, row: Vec<Option<String>>) -> Result<(), StorageError> {
        self.buffered_bytes += row.iter().flatten().map(String::len).sum::<usize>();
        self.rows.push(row);
        // By rows, and by what the rows hold once widened to the header.
        if self.rows.len() >= CHUNK_ROWS
            || self.rows.len().saturating_mul(self.header.len().max(1)) >= MAX_BUFFERED_CELLS
            || self.buffered_bytes >= MAX_BUFFERED_BYTES
        {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let width = self.header.len();
        for row in &mut self.rows {
            row.resize(width, None);
        }
        if self.dataset.is_none() {
            let schema = match self.schema.take() {
                Some(given) => {
                    for field in &given {
                        if !self.header.contains(&field.name) {
                            return Err(StorageError::Invalid(format!(
                                "schema names column '{}', which the data does not have",
                                field.name
                            )));
                        }
                    }
                    given
                }
                None => (0..width)
                    .map(|c| Field {
                        name: self.header[c].clone(),
                        kind: infer(self.rows.iter().map(move |r| r[c].clone())),
                    })
                    .collect(),
            };
            self.dataset = Some((self.create)(schema)?);
        }
        let Some(dataset) = self.dataset.clone() else {
            return Ok(());
        };
        let mut columns = Vec::new();
        for field in dataset.schema() {
            let Some(c) = self.header.iter().position(|h| *h == field.name) else {
                return Err(StorageError::Invalid(format!(
                    "column '{}' is missing from the data",
                    field.name
                )));
            };
            columns.push(self.convert(c, &field)?);
        }
        dataset.append(columns)?;
        self.loaded += self.rows.len() as u64;
        self.rows.clear();
        self.buffered_bytes = 0;
        (self.progress)(self.loaded);
        Ok(())
    }

    fn convert(&self, c: usize, field: &Field) -> Result<(Values, Vec<bool>), StorageError> {
        let mut values = Values::empty(field.kind);
        let mut valid = Vec::with_capacity(self.rows.len());
        for (r, row) in self.rows.iter().enumerate() {
            let cell = row[c].as_deref();
            valid.push(cell.is_some());
            let wrong = || {
                StorageError::Invalid(format!(
                    "row {}, column '{}': {:?} is not a {:?}; give a schema that makes the column a string",
                    self.loaded + r as u64 + 1,
                    field.name,
                    cell.unwrap_or_default(),
                    field.kind
                ))
            };
            match (&mut values, cell) {
                (Values::F64(v), Some(s)) => v.push(s.parse().map_err(|_| wrong())?),
                (Values::I64(v), Some(s)) => v.push(s.parse().map_err(|_| wrong())?),
                (Values::Bool(v), Some(s)) => v.push(match s.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(wrong()),
                }),
                (Values::Timestamp(v), Some(s)) => v.push(parse_timestamp(s).ok_or_else(wrong)?),
                (Values::String(v), Some(s)) => v.push(s.to_owned()),
                (Values::Binary(v), Some(s)) => {
                    v.push(crate::columnar::from_hex(s).ok_or_else(wrong)?)
                }
                (Values::F64(v), None) => v.push(0.0),
                (Values::I64(v) | Values::Timestamp(v), None) => v.push(0),
                (Values::Bool(v), None) => v.push(false),
                (Values::String(v), None) => v.push(String::new()),
                (Values::Binary(v), None) => v.push(Vec::new()),
            }
        }
        if valid.iter().all(|v| *v) {
            valid.clear();
        }
        Ok((values, valid))
    }
}

/// Loads `input` in `format` into a dataset made by `create`; `progress`
/// is called with the rows loaded after every chunk. Returns the dataset
/// (None when the input had no rows).
pub fn load(
    input: impl Read,
    format: Format,
    schema: Option<Vec<Field>>,
    create: Create<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Arc<Dataset>>, StorageError> {
    let mut loader = Loader {
        create,
        schema,
        header: Vec::new(),
        rows: Vec::new(),
        buffered_bytes: 0,
        dataset: None,
        loaded: 0,
        progress,
    };
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            let bad = |e: csv::Error| StorageError::Invalid(format!("CSV: {e}"));
            loader.header = reader
                .headers()
                .map_err(bad)?
                .iter()
                .map(str::to_owned)
                .collect();
            if loader.header.len() > MAX_COLUMNS {
                return Err(too_many_columns("the CSV header names"));
            }
            for record in reader.records() {
                let record = record.map_err(bad)?;
                let row = record
                    .iter()
                    .map(|cell| (!cell.is_empty()).then(|| cell.to_owned()))
                    .collect();
                loader.push(row)?;
            }
        }
        Format::JsonLines => {
            let reader = std::io::BufReader::new(input);
            for (n, line) in reader.lines().enumerate() {
                let line =
                    line.map_err(|e| StorageError::Invalid(format!("line {}: {e}", n + 1)))?;
                if line.trim().is_empty() {
                    continue;
                }
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&line).map_err(|e| {
                        StorageError::Invalid(format!("line {}: not a JSON object: {e}", n + 1))
                    })?;
                loader.push_object(object, &format!("line {}", n + 1))?;
            }
        }
        Format::JsonArray => json_array(std::io::BufReader::new(input), &mut loader)?,
    }
    loader.flush()?;
    Ok(loader.dataset)
}

impl Loader<'_> {
    /// One JSON object as a row; `place` says where it came from (`line 3`,
    /// `item 3`) for errors.
    fn push_object(
        &mut self,
        object: serde_json::Map<String, serde_json::Value>,
        place: &str,
    ) -> Result<(), StorageError> {
        let mut row = vec![None; self.header.len()];
        for (key, value) in object {
            let position = match self.header.iter().position(|h| *h == key) {
                Some(p) => p,
                None if self.dataset.is_none() => {
                    if self.header.len() >= MAX_COLUMNS {
                        return Err(too_many_columns(&format!("{place}: the data has")));
                    }
                    self.header.push(key);
                    row.push(None);
                    self.header.len() - 1
                }
                None => {
                    return Err(StorageError::Invalid(format!(
                        "{place}: field '{key}' is not in the dataset's columns, which the first {} rows fixed; name every column in the first rows, or give ?schema=",
                        self.loaded
                    )));
                }
            };
            row[position] = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
        }
        self.push(row)
    }
}

/// A JSON array of objects, read element by element (never held whole).
fn json_array(input: impl Read, loader: &mut Loader<'_>) -> Result<(), StorageError> {
    use serde::de::{Deserializer as _, SeqAccess, Visitor};
    struct Rows<'l, 'a> {
        loader: &'l mut Loader<'a>,
        failed: &'l mut Option<StorageError>,
    }
    impl<'de> Visitor<'de> for Rows<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut n = 0;
            while let Some(object) =
                seq.next_element::<serde_json::Map<String, serde_json::Value>>()?
            {
                n += 1;
                if let Err(e) = self.loader.push_object(object, &format!("item {n}")) {
                    *self.failed = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
            }
            Ok(())
        }
    }
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_reader(input);
    let parsed = de.deserialize_seq(Rows {
        loader,
        failed: &mut failed,
    });
    if let Some(e) = failed {
        return Err(e);
    }
    parsed.and_then(|()| de.end()).map_err(|e| {
        StorageError::Invalid(format!("JSON: {e}; send an array of objects, one per row"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};

    fn load_into(
        store: &Arc<Store>,
        name: &str,
        input: &[u8],
        format: Format,
    ) -> Result<Option<Arc<Dataset>>, StorageError> {
        let (store, name) = (store.clone(), name.to_owned());
        load(
            input,
            format,
            None,
            Box::new(move |schema| store.create_dataset("t", &name, schema)),
            &mut |_| {},
        )
    }

    #[test]
    fn a_json_array_of_objects_loads_like_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("open"));
        let array = "[\n  {\"x\": 1, \"name\": \"a\"},\n  {\"x\": 2.5, \"name\": null}\n]\n";
        let dataset = load_into(&store, "arr", array.as_bytes(), Format::JsonArray)
            .expect("loaded")
            .expect("a dataset");
        assert_eq!(dataset.rows(), 2);
        let bad = load_into(&store, "bad", b"[{\"x\": 1}, 3]", Format::JsonArray)
            .expect_err("not objects");
        assert!(bad.to_string().contains("array of objects"), "{bad}");
        let trailing =
            load_into(&store, "trail", b"[{\"x\": 1}] [", Format::JsonArray).expect_err("trailing");
        assert!(trailing.to_string().contains("JSON"), "{trailing}");
    }

    #[test]
    fn a_new_key_per_line_stops_at_the_column_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("open"));
        let lines: String = (0..6000).map(|i| format!("{{\"k{i}\": 1}}\n")).collect();
        let started = std::time::Instant::now();
        let refused = load_into(&store, "wide", lines.as_bytes(), Format::JsonLines)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        // Refused (by the cap, or once the buffered cells fixed the
        // columns) in bounded time and memory, not after quadratic work.
        assert!(
            refused.contains("4096") || refused.contains("fixed"),
            "{refused}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let header: String = (0..5000).map(|i| format!("c{i},")).collect();
        let csv = format!("{}\n", header.trim_end_matches(','));
        let refused = load_into(&store, "wide_csv", csv.as_bytes(), Format::Csv)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("4096"), "{refused}");
    }

    #[test]
    fn wide_data_is_flushed_by_cells_not_only_by_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("open"));
        let header: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
        let mut csv = header.join(",");
        csv.push('\n');
        let row: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        let row = row.join(",");
        for _ in 0..25_000 {
            csv.push_str(&row);
            csv.push('\n');
        }
        let dataset = load_into(&store, "wide", csv.as_bytes(), Format::Csv)
            .expect("loads")
            .expect("rows");
        assert_eq!(dataset.rows(), 25_000);
        assert!(
            dataset.chunk_count() >= 2,
            "5M cells flush before 65,536 rows"
        );
    }
}
