//! Datasets written out of sight and published whole: a [`StagedDataset`]
//! lives under `tenants/<tenant>/staging/<n>/` until [`StagedDataset::commit`]
//! renames its directory into `datasets/`, so readers see all of it or
//! none of it, across a crash too (leftover staging directories are removed
//! when the store opens). It must not be listed, read or opened by name
//! before it is committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StorageError;
use crate::columnar::{Dataset, Field, Values};
use crate::store::Store;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A dataset being written; dropped without `commit`, it leaves nothing.
pub struct StagedDataset {
    store: Arc<Store>,
    tenant: String,
    name: String,
    replace: bool,
    dir: PathBuf,
    dataset: Option<Arc<Dataset>>,
}

impl std::fmt::Debug for StagedDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedDataset")
            .field("tenant", &self.tenant)
            .field("name", &self.name)
            .finish()
    }
}

/// Removes what a crash left staged. Called when the store opens.
pub(crate) fn clean_staging(root: &Path) {
    let tenants = root.join("tenants");
    for tenant in std::fs::read_dir(&tenants).into_iter().flatten().flatten() {
        let plugins = std::fs::read_dir(tenant.path().join("plugins"));
        let spaces = plugins.into_iter().flatten().flatten().map(|p| p.path());
        for space in std::iter::once(tenant.path()).chain(spaces) {
            let staging = space.join("staging");
            if staging.exists()
                && let Err(error) = std::fs::remove_dir_all(&staging)
            {
                tracing::warn!(path = %staging.display(), %error, "cannot remove staged leftovers");
            }
        }
    }
}

impl StagedDataset {
    /// Starts dataset `name` of `tenant`. Without `replace`, a dataset of
    /// that name must not exist now (nor at commit).
    pub fn create(
        store: Arc<Store>,
        tenant: &str,
        name: &str,
        schema: Vec<Field>,
        replace: bool,
    ) -> Result<Self, StorageError> {
        Self::create_partitioned(store, tenant, name, schema, None, replace)
    }

    /// As [`StagedDataset::create`], its rows partitioned by `partitioning`.
    pub fn create_partitioned(
        store: Arc<Store>,
        tenant: &str,
        name: &str,
        schema: Vec<Field>,
        partitioning: Option<crate::columnar::PartitionSpec>,
        replace: bool,
    ) -> Result<Self, StorageError> {
        let target = store.dataset_dir(tenant, name)?;
        if !replace && target.exists() {
            return Err(StorageError::Exists {
                what: "dataset",
                name: name.to_owned(),
            });
        }
        let dir = store.staging_dir(tenant)?.join(format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(StorageError::io("create", parent))?;
        }
        let dataset = Dataset::create(name, &dir, schema, partitioning, store.shared().clone())?;
        Ok(Self {
            store,
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            replace,
            dir,
            dataset: Some(Arc::new(dataset)),
        })
    }

    /// The dataset being written, for loaders that append to it directly.
    /// Nothing reads it by name until it is committed.
    pub fn dataset(&self) -> Option<Arc<Dataset>> {
        self.dataset.clone()
    }

    /// The schema it was started with.
    pub fn schema(&self) -> Vec<Field> {
        self.dataset
            .as_ref()
            .map(|d| d.schema())
            .unwrap_or_default()
    }

    /// Appends rows (see [`Dataset::append`]): durable, not visible.
    pub fn append(&self, columns: Vec<(Values, Vec<bool>)>) -> Result<(), StorageError> {
        match &self.dataset {
            Some(dataset) => dataset.append(columns),
            None => Err(StorageError::Invalid(
                "the dataset was committed already".into(),
            )),
        }
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.dataset.as_ref().map_or(0, |d| d.rows())
    }

    /// Publishes the dataset under its name, replacing an older one if the
    /// writer was started with `replace`. Answers the dataset.
    pub fn commit(mut self) -> Result<Arc<Dataset>, StorageError> {
        let Some(dataset) = self.dataset.take() else {
            return Err(StorageError::Invalid(
                "the dataset was committed already".into(),
            ));
        };
        // Its pages are cached under the staging path; the published
        // dataset reopens them under the final one.
        dataset.evict();
        drop(dataset);
        let result = self
            .store
            .publish_staged(&self.tenant, &self.name, &self.dir, self.replace);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        result
    }
}

impl Drop for StagedDataset {
    fn drop(&mut self) {
        if let Some(dataset) = self.dataset.take() {
            dataset.evict();
            drop(dataset);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;
    use crate::columnar::ColumnType;

    fn schema() -> Vec<Field> {
        vec![Field {
            name: "x".into(),
            kind: ColumnType::I64,
        }]
    }

    #[test]
    fn a_staged_dataset_is_invisible_until_committed_and_whole_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("open"));
        let staged =
            StagedDataset::create(store.clone(), "t", "d", schema(), false).expect("stage");
        staged
            .append(vec![(Values::I64(vec![1, 2, 3]), Vec::new())])
            .expect("append");
        assert!(store.dataset("t", "d").is_err(), "visible before commit");
        assert!(store.datasets("t").is_empty());
        staged
            .append(vec![(Values::I64(vec![4, 5]), Vec::new())])
            .expect("append");
        let dataset = staged.commit().expect("commit");
        assert_eq!(dataset.rows(), 5);
        assert_eq!(dataset.chunk_count(), 2);
        let (values, valid) = dataset.read_range("x", 1, 3).expect("range");
        assert_eq!(
            values,
            Values::I64(vec![2, 3, 4]),
            "across the chunk boundary"
        );
        assert!(valid.is_empty());
        let (tail, _) = dataset.read_range("x", 4, 10).expect("range");
        assert_eq!(tail, Values::I64(vec![5]), "fewer where the dataset ends");
        assert_eq!(store.dataset("t", "d").expect("published").rows(), 5);
    }

    #[test]
    fn dropped_or_crashed_writers_leave_nothing_and_names_stay_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("open"));
        let staged =
            StagedDataset::create(store.clone(), "t", "d", schema(), false).expect("stage");
        staged
            .append(vec![(Values::I64(vec![1]), Vec::new())])
            .expect("append");
        drop(staged);
        assert!(store.dataset("t", "d").is_err());
        let staging = dir.path().join("tenants/t/staging");
        assert_eq!(
            std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0),
            0
        );

        // A crash: the staged files stay on disk until the store reopens.
        let staged =
            StagedDataset::create(store.clone(), "t", "d", schema(), false).expect("stage");
        staged
            .append(vec![(Values::I64(vec![1]), Vec::new())])
            .expect("append");
        std::mem::forget(staged);
        drop(store);
        let store =
            Arc::new(Store::open(dir.path(), StoreOptions::default(), None).expect("reopen"));
        assert!(!staging.exists(), "leftovers removed at open");
        assert!(store.dataset("t", "d").is_err());

        let first = StagedDataset::create(store.clone(), "t", "d", schema(), false).expect("stage");
        first.commit().expect("commit");
        let again = StagedDataset::create(store.clone(), "t", "d", schema(), false);
        assert!(matches!(again, Err(StorageError::Exists { .. })));
        let replacing =
            StagedDataset::create(store.clone(), "t", "d", schema(), true).expect("stage");
        replacing
            .append(vec![(Values::I64(vec![7, 8]), Vec::new())])
            .expect("append");
        replacing.commit().expect("replace");
        assert_eq!(store.dataset("t", "d").expect("replaced").rows(), 2);
    }
}
