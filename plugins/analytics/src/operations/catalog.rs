//! The [`Catalog`] over `weft:host/storage`: a job's datasets by name,
//! read chunk by chunk so scans report progress and can be cancelled.

use weft_sdk::{Host, StorageFailure};

use crate::AnalyticsError;
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
        let shape = self
            .host
            .dataset_shape(dataset)
            .map_err(|e| missing(dataset, e))?;
        let mut out: Vec<Option<Column>> = vec![None; columns.len()];
        let mut rows = 0;
        for chunk in 0..shape.chunks {
            let mut chunk_rows = 0;
            for (slot, name) in out.iter_mut().zip(columns) {
                let read = Column::from_chunk(
                    self.host
                        .read_chunk(dataset, name, chunk)
                        .map_err(|e| missing(dataset, e))?,
                );
                chunk_rows = read.len();
                match slot {
                    Some(c) => c.append(read),
                    None => *slot = Some(read),
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
        let columns = out
            .into_iter()
            .map(|c| c.unwrap_or(Column::Null(0)))
            .collect();
        Ok((columns, rows))
    }
}
