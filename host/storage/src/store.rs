//! The [`Store`]: every collection and dataset of every tenant, on one
//! buffer pool and one I/O account.
//!
//! Layout under the root directory:
//! `tenants/<tenant>/collections/<name>/` (an LSM tree) and
//! `tenants/<tenant>/datasets/<name>/` (a columnar dataset). Tenants never
//! see each other's names. A plugin's own data is a space of its tenant,
//! `tenants/<tenant>/plugins/<plugin>/…`, named by [`plugin_space`] and
//! passed wherever a tenant is. Names are 1–64 characters of `[A-Za-z0-9_.-]`
//! not starting with a dot, so they are safe as directory names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::json;

use crate::StorageError;
use crate::buffer_pool::PoolStats;
use crate::collection::{Collection, CollectionStats, KeyPartitioning};
use crate::columnar::{Dataset, DatasetInfo, Field};
use crate::events::{EventSink, Events, Family};
use crate::io::IoStats;
use crate::lsm::{LsmOptions, Shared};

/// Store-wide settings.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Buffer pool size in bytes.
    pub pool_bytes: usize,
    /// Settings of every collection's tree (including the sync policy).
    pub lsm: LsmOptions,
    /// Seconds a segment may go unread before the tier policy compresses
    /// it to the cold tier (0: never).
    pub cold_after_secs: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_bytes: 64 << 20,
            lsm: LsmOptions::default(),
            cold_after_secs: 600,
        }
    }
}

/// Where pages are: in buffer-pool frames (hot), in mapped segment files
/// (warm) or in compressed segment files (cold).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TierStats {
    /// Pages in buffer-pool frames.
    pub hot_pages: usize,
    /// Bytes in buffer-pool frames.
    pub hot_bytes: u64,
    /// Segments mapped for reading.
    pub warm_segments: usize,
    /// Their bytes on disk.
    pub warm_bytes: u64,
    /// Segments compressed to the cold tier.
    pub cold_segments: usize,
    /// Their (compressed) bytes on disk.
    pub cold_bytes: u64,
}

/// Figures of the whole store.
#[derive(Clone, Debug, Serialize)]
pub struct StoreStats {
    /// Buffer pool.
    pub buffer_pool: PoolStats,
    /// Disk I/O.
    pub io: IoStats,
    /// Tiers.
    pub tiers: TierStats,
    /// Open collections.
    pub collections: Vec<CollectionStats>,
    /// Datasets loaded since start.
    pub datasets: usize,
}

type Key = (String, String);

/// The storage of one server.
pub struct Store {
    root: PathBuf,
    options: StoreOptions,
    shared: Shared,
    collections: Mutex<HashMap<Key, Arc<Collection>>>,
    datasets: Mutex<HashMap<Key, Arc<Dataset>>>,
    /// The figures last published, so unchanged ones are not repeated.
    last_published: Mutex<HashMap<&'static str, serde_json::Value>>,
    /// Tier policy: seconds a segment may go unread before it goes cold
    /// (0: never).
    cold_after_secs: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// Separates a tenant from a plugin in a space name; no name holds it.
const SPACE_SEPARATOR: char = '~';

/// The storage space of plugin `plugin`'s own data for `tenant`: pass it
/// wherever a tenant is taken. Users' calls never name it, so what a plugin
/// stores there is its own.
pub fn plugin_space(tenant: &str, plugin: &str) -> String {
    format!("{tenant}{SPACE_SEPARATOR}{plugin}")
}

/// Checks a collection or dataset name.
pub fn check_name(name: &str) -> Result<(), StorageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "name '{name}' is not allowed: use 1-64 characters of A-Z a-z 0-9 _ . - not starting with '.'"
        )))
    }
}

impl Store {
    /// Opens the store under `root`, reporting to `sink` (None: silent).
    pub fn open(
        root: &Path,
        options: StoreOptions,
        sink: Option<Arc<dyn EventSink>>,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(root).map_err(StorageError::io("create", root))?;
        crate::staged::clean_staging(root);
        let events = sink.map_or_else(Events::none, Events::new);
        let shared = Shared::new(options.pool_bytes, events);
        let cold_after_secs = std::sync::atomic::AtomicU64::new(options.cold_after_secs);
        Ok(Self {
            root: root.to_owned(),
            options,
            shared,
            collections: Mutex::default(),
            datasets: Mutex::default(),
            last_published: Mutex::default(),
            cold_after_secs,
        })
    }

    /// Where a tenant's (or a plugin space's) data lives.
    pub(crate) fn space_dir(&self, space: &str) -> Result<PathBuf, StorageError> {
        let tenants = self.root.join("tenants");
        match space.split_once(SPACE_SEPARATOR) {
            None => {
                check_name(space)?;
                Ok(tenants.join(space))
            }
            Some((tenant, plugin)) => {
                check_name(tenant)?;
                check_name(plugin)?;
                Ok(tenants.join(tenant).join("plugins").join(plugin))
            }
        }
    }

    fn dir(&self, tenant: &str, kind: &str, name: &str) -> Result<PathBuf, StorageError> {
        check_name(name)?;
        Ok(self.space_dir(tenant)?.join(kind).join(name))
    }

    pub(crate) fn dataset_dir(&self, tenant: &str, name: &str) -> Result<PathBuf, StorageError> {
        self.dir(tenant, "datasets", name)
    }

    pub(crate) fn staging_dir(&self, tenant: &str) -> Result<PathBuf, StorageError> {
        Ok(self.space_dir(tenant)?.join("staging"))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Renames a staged dataset's directory into place (one `rename`, so
    /// it appears whole), replacing an existing dataset if `replace`.
    pub(crate) fn publish_staged(
        &self,
        tenant: &str,
        name: &str,
        staged: &Path,
        replace: bool,
    ) -> Result<Arc<Dataset>, StorageError> {
        let dir = self.dir(tenant, "datasets", name)?;
        let mut open = self.datasets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (tenant.to_owned(), name.to_owned());
        if dir.exists() {
            if !replace {
                return Err(StorageError::Exists {
                    what: "dataset",
                    name: name.to_owned(),
                });
            }
            // Out of the way first, so the new one appears in one rename;
            // the old files go once nothing points at them.
            if let Some(old) = open.remove(&key) {
                old.evict();
            }
            let trash = staged.with_extension("replaced");
            std::fs::rename(&dir, &trash).map_err(StorageError::io("rename", &dir))?;
            let _ = std::fs::remove_dir_all(&trash);
        }
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(StorageError::io("create", parent))?;
        }
        std::fs::rename(staged, &dir).map_err(StorageError::io("rename", staged))?;
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(StorageError::io("sync directory", parent))?;
        }
        let dataset = Arc::new(Dataset::open(name, &dir, self.shared.clone())?);
        open.insert(key, dataset.clone());
        Ok(dataset)
    }

    fn names(&self, tenant: &str, kind: &str) -> Vec<String> {
        let Ok(dir) = self.space_dir(tenant).map(|d| d.join(kind)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| check_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    /// The collection `name`, created (unpartitioned) if `create` and it
    /// does not exist.
    pub fn collection(
        &self,
        tenant: &str,
        name: &str,
        create: bool,
    ) -> Result<Arc<Collection>, StorageError> {
        self.open_collection(tenant, name, create, None)
    }

    /// Creates collection `name` with its keys split by `partitioning`.
    pub fn create_partitioned_collection(
        &self,
        tenant: &str,
        name: &str,
        partitioning: KeyPartitioning,
    ) -> Result<Arc<Collection>, StorageError> {
        if self.dir(tenant, "collections", name)?.exists() {
            return Err(StorageError::Exists {
                what: "collection",
                name: name.to_owned(),
            });
        }
        self.open_collection(tenant, name, true, Some(partitioning))
    }

    fn open_collection(
        &self,
        tenant: &str,
        name: &str,
        create: bool,
        partitioning: Option<KeyPartitioning>,
    ) -> Result<Arc<Collection>, StorageError> {
        let dir = self.dir(tenant, "collections", name)?;
        let mut open = self.collections.lock().unwrap_or_else(|e| e.into_inner());
        let key = (tenant.to_owned(), name.to_owned());
        if let Some(found) = open.get(&key) {
            return Ok(found.clone());
        }
        if !create && !dir.exists() {
            return Err(StorageError::NotFound {
                what: "collection",
                name: name.to_owned(),
            });
        }
        let collection = Arc::new(Collection::open(
            name,
            &dir,
            partitioning,
            self.options.lsm.clone(),
            self.shared.clone(),
        )?);
        open.insert(key, collection.clone());
        Ok(collection)
    }

    /// Names of the tenant's collections.
    pub fn collections(&self, tenant: &str) -> Vec<String> {
        self.names(tenant, "collections")
    }

    /// Deletes a collection and its files.
    pub fn drop_collection(&self, tenant: &str, name: &str) -> Result<(), StorageError> {
        let dir = self.dir(tenant, "collections", name)?;
        let tree = self
            .collections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(tenant.to_owned(), name.to_owned()));
        if tree.is_none() && !dir.exists() {
            return Err(StorageError::NotFound {
                what: "collection",
                name: name.to_owned(),
            });
        }
        // Its pages must not linger in the pool (nor keep its files alive).
        for id in tree.iter().flat_map(|t| t.segment_ids()) {
            self.shared.pool.forget(id);
        }
        std::fs::remove_dir_all(&dir).map_err(StorageError::io("remove", &dir))
    }

    /// Creates an empty dataset.
    pub fn create_dataset(
        &self,
        tenant: &str,
        name: &str,
        schema: Vec<Field>,
    ) -> Result<Arc<Dataset>, StorageError> {
        self.create_partitioned_dataset(tenant, name, schema, None)
    }

    /// Creates an empty dataset whose rows are partitioned by `partitioning`.
    pub fn create_partitioned_dataset(
        &self,
        tenant: &str,
        name: &str,
        schema: Vec<Field>,
        partitioning: Option<crate::columnar::PartitionSpec>,
    ) -> Result<Arc<Dataset>, StorageError> {
        let dir = self.dir(tenant, "datasets", name)?;
        let mut open = self.datasets.lock().unwrap_or_else(|e| e.into_inner());
        if dir.exists() {
            return Err(StorageError::Exists {
                what: "dataset",
                name: name.to_owned(),
            });
        }
        let dataset = Arc::new(Dataset::create(
            name,
            &dir,
            schema,
            partitioning,
            self.shared.clone(),
        )?);
        open.insert((tenant.to_owned(), name.to_owned()), dataset.clone());
        Ok(dataset)
    }

    /// An existing dataset.
    pub fn dataset(&self, tenant: &str, name: &str) -> Result<Arc<Dataset>, StorageError> {
        let dir = self.dir(tenant, "datasets", name)?;
        let mut open = self.datasets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (tenant.to_owned(), name.to_owned());
        if let Some(dataset) = open.get(&key) {
            return Ok(dataset.clone());
        }
        if !dir.join("meta.json").exists() {
            return Err(StorageError::NotFound {
                what: "dataset",
                name: name.to_owned(),
            });
        }
        let dataset = Arc::new(Dataset::open(name, &dir, self.shared.clone())?);
        open.insert(key, dataset.clone());
        Ok(dataset)
    }

    /// Summaries of the tenant's datasets.
    pub fn datasets(&self, tenant: &str) -> Vec<DatasetInfo> {
        self.names(tenant, "datasets")
            .into_iter()
            .filter_map(|name| self.dataset(tenant, &name).ok())
            .map(|d| d.info())
            .collect()
    }

    /// Deletes a dataset and its files.
    pub fn drop_dataset(&self, tenant: &str, name: &str) -> Result<(), StorageError> {
        let dataset = self.dataset(tenant, name)?;
        dataset.evict();
        self.datasets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(tenant.to_owned(), name.to_owned()));
        std::fs::remove_dir_all(dataset.dir()).map_err(StorageError::io("remove", dataset.dir()))
    }

    /// Verifies every page of every collection and dataset of `tenant`.
    pub fn verify(&self, tenant: &str) -> Result<Vec<(PathBuf, u32)>, StorageError> {
        let mut damaged = Vec::new();
        for name in self.collections(tenant) {
            damaged.extend(self.collection(tenant, &name, false)?.verify());
        }
        for name in self.names(tenant, "datasets") {
            damaged.extend(self.dataset(tenant, &name)?.verify());
        }
        Ok(damaged)
    }

    fn tier_stats(&self) -> TierStats {
        let pool = self.shared.pool.stats();
        let segments = self.shared.live_segments();
        let (cold, warm): (Vec<_>, Vec<_>) = segments.iter().partition(|s| s.is_cold());
        TierStats {
            hot_pages: pool.used_pages,
            hot_bytes: (pool.used_pages * crate::page::PAGE_SIZE) as u64,
            warm_segments: warm.len(),
            warm_bytes: warm.iter().map(|s| s.disk_bytes()).sum(),
            cold_segments: cold.len(),
            cold_bytes: cold.iter().map(|s| s.disk_bytes()).sum(),
        }
    }

    /// Seconds unread before a segment goes cold (0: never).
    pub fn cold_after_secs(&self) -> u64 {
        self.cold_after_secs
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes the tier policy.
    pub fn set_cold_after_secs(&self, seconds: u64) {
        self.cold_after_secs
            .store(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    /// Applies the configured tier policy (see [`Store::migrate_tiers`]).
    pub fn apply_tier_policy(&self) -> Result<usize, StorageError> {
        match self.cold_after_secs() {
            0 => Ok(0),
            seconds => self.migrate_tiers(std::time::Duration::from_secs(seconds)),
        }
    }

    /// The tier policy: every warm segment nobody has read for `idle` moves
    /// to the cold tier (compressed); a cold one returns on its next read.
    /// Returns how many moved.
    pub fn migrate_tiers(&self, idle: std::time::Duration) -> Result<usize, StorageError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut moved = 0;
        for segment in self.shared.live_segments() {
            if segment.is_cold() || now.saturating_sub(segment.last_read()) < idle.as_secs() {
                continue;
            }
            if !segment.path().exists() {
                // Its collection or dataset was deleted; a cache frame may
                // still hold it until evicted.
                continue;
            }
            // One segment failing to move must not keep the others warm.
            match segment.freeze() {
                Ok(true) => moved += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "segment not moved to the cold tier"),
            }
        }
        Ok(moved)
    }

    /// The store's figures now.
    pub fn stats(&self) -> StoreStats {
        let collections = self
            .collections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|t| t.stats())
            .collect();
        StoreStats {
            buffer_pool: self.shared.pool.stats(),
            io: self.shared.io.stats(),
            tiers: self.tier_stats(),
            collections,
            datasets: self
                .datasets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len(),
        }
    }

    /// Publishes `pool_stats` and `io_stats` (and `tier_stats` if `tiers`)
    /// events, each only if it changed since it was last published (the
    /// server calls this on a timer; an idle store stays quiet).
    pub fn emit_stats(&self, tiers: bool) {
        let mut figures = vec![
            (
                Family::BufferPool,
                "pool_stats",
                json!(self.shared.pool.stats()),
            ),
            (Family::Io, "io_stats", json!(self.shared.io.stats())),
        ];
        if tiers {
            figures.push((Family::Tiers, "tier_stats", json!(self.tier_stats())));
        }
        let mut last = self
            .last_published
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (family, kind, value) in figures {
            if last.get(kind) != Some(&value) {
                last.insert(kind, value.clone());
                self.shared.events.emit(family, kind, || value);
            }
        }
    }
}
