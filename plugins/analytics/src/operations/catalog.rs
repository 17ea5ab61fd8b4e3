//! The [`Catalog`] over `weft:host/storage`: a job's datasets by name,
//! read chunk by chunk so scans report progress and can be cancelled;
//! and [`Versioned`], which notes the version of every dataset a query
//! opens (what its cached answer is valid for).

use weft_sdk::{Host, StorageFailure};

use crate::AnalyticsError;
use crate::sql::zone::Range;
use crate::sql::{Catalog, Progress};
use crate::value::Column;

/// Datasets of the job's tenant, read through host storage.
pub struct HostCatalog<'h> {
    host: &'h dyn Host,
}

impl<'h> HostCatalog<'h> {
    /// A catalog over `host`.
    pub fn new(host: &'h dyn Host) -> Self {
        Self { host }
    }
}

fn missing(dataset: &str, failure: StorageFailure) -> AnalyticsError {
    match failure {
        StorageFailure::NotFound(_) => AnalyticsError::NotFound(format!(
            "no dataset '{dataset}': upload it first with POST /api/v1/datasets/{dataset}"
        )),
        other => other.into(),
    }
}

impl HostCatalog<'_> {
    /// The rows of `chunk` when its statistics show no row can be in
    /// every one of `ranges` (a host without statistics rules out nothing).
    fn ruled_out(&self, dataset: &str, chunk: u32, ranges: &[Range]) -> Option<u64> {
        for range in ranges {
            let Ok(stats) = self.host.chunk_stats(dataset, &range.column, chunk) else {
                return None;
            };
            if !range.may_match(stats.min, stats.max) {
                return Some(u64::from(stats.rows));
            }
        }
        None
    }
}

impl Catalog for HostCatalog<'_> {
    fn columns(&self, dataset: &str) -> Result<(Vec<String>, u64), AnalyticsError> {
        let shape = self
            .host
            .dataset_shape(dataset)
            .map_err(|e| missing(dataset, e))?;
        Ok((shape.columns, shape.rows))
    }

    fn read(
        &self,
        dataset: &str,
        columns: &[String],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize), AnalyticsError> {
        let (data, rows, _) = self.read_pruned(dataset, columns, &[], progress)?;
        Ok((data, rows))
    }

    fn read_pruned(
        &self,
        dataset: &str,
        columns: &[String],
        ranges: &[Range],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize, u64), AnalyticsError> {
        let shape = self
            .host
            .dataset_shape(dataset)
            .map_err(|e| missing(dataset, e))?;
        let mut out: Vec<Option<Column>> = vec![None; columns.len()];
        let mut rows = 0;
        let mut skipped = 0u64;
        let read = |name: &str, chunk: u32| -> Result<Column, AnalyticsError> {
            Ok(Column::from_chunk(
                self.host
                    .read_chunk(dataset, name, chunk)
                    .map_err(|e| missing(dataset, e))?,
            ))
        };
        for chunk in 0..shape.chunks {
            if let Some(rows) = self.ruled_out(dataset, chunk, ranges) {
                skipped += rows;
                if !progress.scanned(rows) {
                    return Err(AnalyticsError::Cancelled);
                }
                continue;
            }
            let mut chunk_rows = 0;
            for (slot, name) in out.iter_mut().zip(columns) {
                let column = read(name, chunk)?;
                chunk_rows = column.len();
                match slot {
                    Some(c) => c.append(column),
                    None => *slot = Some(column),
                }
            }
            if columns.is_empty() {
                // count(*) reads no column; rows come from the shape.
                chunk_rows = (shape.rows as usize - rows).min(shape.rows as usize);
            }
            rows += chunk_rows;
            if !progress.scanned(chunk_rows as u64) {
                return Err(AnalyticsError::Cancelled);
            }
            if columns.is_empty() {
                break;
            }
        }
        let mut data = Vec::with_capacity(columns.len());
        for (slot, name) in out.into_iter().zip(columns) {
            data.push(match slot {
                Some(c) => c,
                // Every chunk skipped: an empty column of the right type.
                None if shape.chunks > 0 => {
                    let first = read(name, 0)?;
                    first.filter(&vec![false; first.len()])
                }
                None => Column::Null(0),
            });
        }
        Ok((data, rows, skipped))
    }

    fn version(&self, dataset: &str) -> Option<u64> {
        self.host.dataset_shape(dataset).ok().map(|s| s.version)
    }
}

/// A catalog that records the version of each dataset as it is first
/// opened: read before the data, so a dataset replaced mid-query is
/// recorded at its older version and the answer is never served for the
/// newer one.
pub(super) struct Versioned<'c> {
    inner: &'c dyn Catalog,
    seen: std::cell::RefCell<std::collections::BTreeMap<String, u64>>,
}

impl<'c> Versioned<'c> {
    /// Wraps `inner`.
    pub(super) fn new(inner: &'c dyn Catalog) -> Self {
        Self {
            inner,
            seen: Default::default(),
        }
    }

    /// Each dataset opened and its version; `None` if one had no version
    /// (the answer cannot be cached).
    pub(super) fn versions(&self) -> Option<std::collections::BTreeMap<String, u64>> {
        let seen = self.seen.borrow();
        (!seen.values().any(|v| *v == u64::MAX)).then(|| seen.clone())
    }

    fn note(&self, dataset: &str) {
        let key = dataset.to_owned();
        if !self.seen.borrow().contains_key(&key) {
            let version = self.inner.version(dataset).unwrap_or(u64::MAX);
            self.seen.borrow_mut().insert(key, version);
        }
    }
}

impl Catalog for Versioned<'_> {
    fn columns(&self, dataset: &str) -> Result<(Vec<String>, u64), AnalyticsError> {
        self.note(dataset);
        self.inner.columns(dataset)
    }

    fn read(
        &self,
        dataset: &str,
        columns: &[String],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize), AnalyticsError> {
        self.note(dataset);
        self.inner.read(dataset, columns, progress)
    }

    fn read_pruned(
        &self,
        dataset: &str,
        columns: &[String],
        ranges: &[Range],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize, u64), AnalyticsError> {
        self.note(dataset);
        self.inner.read_pruned(dataset, columns, ranges, progress)
    }

    fn version(&self, dataset: &str) -> Option<u64> {
        self.inner.version(dataset)
    }
}
