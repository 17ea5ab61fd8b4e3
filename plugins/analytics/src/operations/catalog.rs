//! The [`Catalog`] over `weft:host/storage`: a job's datasets by name,
//! read chunk by chunk so scans report progress and can be cancelled, and
//! skipping the chunks zone maps rule out.

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
    fn functions(&self) -> Option<std::rc::Rc<dyn weft_sdk::Functions>> {
        Some(self.host.functions())
    }

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
