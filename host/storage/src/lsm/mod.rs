//! An LSM tree: one per collection.
//!
//! Writes go to the write-ahead log, then to the memtable. A full memtable
//! is frozen (a new log starts beside it) and flushed to a level-0 table;
//! the manifest then records the table and retires the old log. Level 0
//! holds overlapping tables, newest first; from level 1 down each level is
//! sorted and non-overlapping, and ten times larger than the one above.
//! Compaction merges level 0 into level 1 once it holds
//! [`LsmOptions::level0_tables`] tables, and a table of an oversized level
//! into the next (or just moves it there when nothing overlaps — a level
//! migration). Deletions are dropped once they reach the deepest level.
//!
//! Crash safety comes from ordering: a table is sealed (fsynced) before the
//! manifest names it, the manifest is replaced atomically (write, fsync,
//! rename, fsync the directory), and a log is deleted only after the
//! manifest no longer needs it. Files the manifest does not name are
//! leftovers of an interrupted flush or compaction and are removed on open.

mod bloom;
mod memtable;
mod merge;
mod table;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use table::MAX_KEY;

use crate::StorageError;
use crate::buffer_pool::BufferPool;
use crate::events::{Events, Family};
use crate::io::DiskIo;
use crate::page::{read_varint, write_varint};
use crate::segment::Segment;
use crate::wal::{SyncPolicy, Wal};
use memtable::{Memtable, MemtableCursor};
use merge::Merge;
use table::{Entry, Table, TableBuilder};

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Largest value accepted (values this big live in overflow pages).
pub const MAX_VALUE: usize = 16 * 1024 * 1024;
const LEVELS: usize = 7;

/// Tuning of one tree.
#[derive(Clone, Debug)]
pub struct LsmOptions {
    /// Memtable size that triggers a flush.
    pub memtable_bytes: usize,
    /// Level-0 tables that trigger a compaction into level 1.
    pub level0_tables: usize,
    /// Size limit of level 1; each further level is ten times larger.
    pub level1_bytes: u64,
    /// Compaction output is cut into tables of about this size.
    pub table_bytes: u64,
    /// When the write-ahead log is synced.
    pub sync: SyncPolicy,
}

impl Default for LsmOptions {
    fn default() -> Self {
        Self {
            memtable_bytes: 4 << 20,
            level0_tables: 4,
            level1_bytes: 16 << 20,
            table_bytes: 4 << 20,
            sync: SyncPolicy::Always,
        }
    }
}

/// What the manifest file records.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    next_file: u64,
    /// Logs numbered below this are no longer needed.
    log_floor: u64,
    /// Table ids per level; level 0 newest first.
    levels: Vec<Vec<u64>>,
}

/// The tree's shared components (a [`crate::Store`] hands them out).
#[derive(Clone, Debug)]
pub struct Shared {
    /// The page cache.
    pub pool: Arc<BufferPool>,
    /// Accounted I/O.
    pub io: Arc<DiskIo>,
    /// Event sink.
    pub events: Events,
    /// Source of unique segment ids across the store.
    pub segment_ids: Arc<AtomicU64>,
    /// Every open segment, for the tier policy.
    pub segments: Arc<Mutex<Vec<std::sync::Weak<Segment>>>>,
}

impl Shared {
    /// Components for a store reporting to `events`, with a pool of
    /// `pool_bytes`.
    pub fn new(pool_bytes: usize, events: Events) -> Self {
        Self {
            pool: Arc::new(BufferPool::new(pool_bytes, events.clone())),
            io: Arc::new(DiskIo::new(events.clone())),
            events,
            segment_ids: Arc::new(AtomicU64::new(1)),
            segments: Arc::default(),
        }
    }

    /// Creates a segment file and registers it with the tier policy.
    pub fn create_segment(&self, path: &Path) -> Result<Arc<Segment>, StorageError> {
        Ok(self.register(Segment::create(
            self.next_segment_id(),
            path,
            self.io.clone(),
            self.events.clone(),
        )?))
    }

    /// Opens a sealed segment file and registers it.
    pub fn open_segment(&self, path: &Path) -> Result<Arc<Segment>, StorageError> {
        Ok(self.register(Segment::open(
            self.next_segment_id(),
            path,
            self.io.clone(),
            self.events.clone(),
        )?))
    }

    fn next_segment_id(&self) -> u64 {
        self.segment_ids.fetch_add(1, Ordering::Relaxed)
    }

    fn register(&self, segment: Arc<Segment>) -> Arc<Segment> {
        let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        segments.retain(|s| s.strong_count() > 0);
        segments.push(Arc::downgrade(&segment));
        segment
    }

    /// The segments still open.
    pub fn live_segments(&self) -> Vec<Arc<Segment>> {
        let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        segments
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect()
    }
}

struct State {
    memtable: Arc<Memtable>,
    wal: Arc<Wal>,
    /// Added to the log's record numbers to order writes in the memtable
    /// (records replayed from older logs come first).
    sequence_base: u64,
    log_number: u64,
    /// A memtable being flushed, still readable.
    frozen: Option<Arc<Memtable>>,
    levels: Arc<Vec<Vec<Arc<Table>>>>,
    manifest: Manifest,
}

/// Figures of one tree.
#[derive(Clone, Debug, Serialize)]
pub struct LsmStats {
    /// Tree (collection) name.
    pub name: String,
    /// Entries in the memtable.
    pub memtable_entries: usize,
    /// Bytes in the memtable.
    pub memtable_bytes: usize,
    /// Bytes in the current write-ahead log.
    pub wal_bytes: u64,
    /// Per level: tables, bytes, entries.
    pub levels: Vec<LevelStats>,
    /// Memtable flushes since open.
    pub flushes: u64,
    /// Compactions since open.
    pub compactions: u64,
    /// Bytes written by flushes and compactions divided by bytes flushed:
    /// how many times each byte was rewritten.
    pub write_amplification: f64,
}

/// One level's figures.
#[derive(Clone, Debug, Serialize)]
pub struct LevelStats {
    /// Level number.
    pub level: usize,
    /// Tables in it.
    pub tables: usize,
    /// Bytes on disk.
    pub bytes: u64,
    /// Entries (including deletion markers).
    pub entries: u64,
}

/// An open tree.
pub struct Lsm {
    name: String,
    dir: PathBuf,
    options: LsmOptions,
    shared: Shared,
    state: RwLock<State>,
    /// Serialises flushes and compactions.
    maintenance: Mutex<()>,
    /// Last table number handed out (saved in the manifest).
    next_file: AtomicU64,
    flushes: AtomicU64,
    compactions: AtomicU64,
    bytes_flushed: AtomicU64,
    bytes_compacted: AtomicU64,
}

impl std::fmt::Debug for Lsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lsm").field("name", &self.name).finish()
    }
}

fn log_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("wal-{number:08}.log"))
}

fn table_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("t{id:08}.sst"))
}

/// Encodes a batch of writes as one log record.
fn encode_batch(batch: &[(&[u8], Option<&[u8]>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in batch {
        out.push(u8::from(value.is_some()));
        write_varint(&mut out, key.len() as u64);
        out.extend_from_slice(key);
        if let Some(value) = value {
            write_varint(&mut out, value.len() as u64);
            out.extend_from_slice(value);
        }
    }
    out
}

fn decode_batch(record: &[u8]) -> Result<Vec<Entry>, StorageError> {
    let mut out = Vec::new();
    let mut at = 0;
    let take = |at: &mut usize| -> Result<Vec<u8>, StorageError> {
        let len = read_varint(record, at)? as usize;
        let bytes = record
            .get(*at..*at + len)
            .ok_or_else(|| StorageError::Invalid("truncated log record".into()))?;
        *at += len;
        Ok(bytes.to_vec())
    };
    while at < record.len() {
        let is_put = record[at] == 1;
        at += 1;
        let key = take(&mut at)?;
        let value = if is_put { Some(take(&mut at)?) } else { None };
        out.push((key, value));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename,
/// fsync of the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(StorageError::io("write", &tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(StorageError::io("sync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(StorageError::io("replace", path))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StorageError::io("sync directory", dir))?;
    }
    Ok(())
}

impl Lsm {
    /// Opens (creating if needed) the tree in `dir`, replaying its logs.
    pub fn open(
        name: &str,
        dir: &Path,
        options: LsmOptions,
        shared: Shared,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(StorageError::io("create", dir))?;
        let manifest_path = dir.join("MANIFEST");
        let mut manifest: Manifest = match std::fs::read(&manifest_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                what: "manifest",
                path: manifest_path.clone(),
                detail: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(StorageError::io("read", &manifest_path)(e)),
        };
        manifest.levels.resize(LEVELS, Vec::new());

        let mut levels: Vec<Vec<Arc<Table>>> = vec![Vec::new(); LEVELS];
        let mut named = std::collections::HashSet::new();
        for (level, ids) in manifest.levels.iter().enumerate() {
            for &id in ids {
                named.insert(id);
                let segment = shared.open_segment(&table_path(dir, id))?;
                levels[level].push(Arc::new(Table::open(&shared.pool, id, segment)?));
            }
        }
        // Leftovers of interrupted work, and logs already flushed.
        let mut logs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(StorageError::io("list", dir))? {
            let entry = entry.map_err(StorageError::io("list", dir))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = file
                .strip_prefix('t')
                .and_then(|f| {
                    f.strip_suffix(".sst")
                        .or_else(|| f.strip_suffix(".sst.lz4"))
                })
                .and_then(|n| n.parse::<u64>().ok())
            {
                if !named.contains(&id) {
                    std::fs::remove_file(entry.path())
                        .map_err(StorageError::io("remove", &entry.path()))?;
                }
            } else if let Some(number) = file
                .strip_prefix("wal-")
                .and_then(|f| f.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                if number < manifest.log_floor {
                    std::fs::remove_file(entry.path())
                        .map_err(StorageError::io("remove", &entry.path()))?;
                } else {
                    logs.push(number);
                }
            }
        }
        logs.sort_unstable();
        let log_number = logs.last().copied().unwrap_or(manifest.log_floor);
        let memtable = Arc::new(Memtable::default());
        let mut sequence_base = 0;
        let mut current = None;
        for &number in &logs {
            let (wal, records) =
                Wal::open(&log_path(dir, number), options.sync, shared.io.clone())?;
            let count = records.len() as u64;
            for (i, record) in records.iter().enumerate() {
                for (key, value) in decode_batch(record)? {
                    memtable.apply(sequence_base + i as u64 + 1, &key, value.as_deref());
                }
            }
            if number == log_number {
                current = Some(wal);
            } else {
                sequence_base += count;
            }
        }
        let wal = match current {
            Some(wal) => wal,
            None => Wal::open(&log_path(dir, log_number), options.sync, shared.io.clone())?.0,
        };
        let manifest_next_file = manifest.next_file;
        Ok(Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            options,
            shared,
            state: RwLock::new(State {
                memtable,
                wal: Arc::new(wal),
                sequence_base,
                log_number,
                frozen: None,
                levels: Arc::new(levels),
                manifest,
            }),
            maintenance: Mutex::new(()),
            next_file: AtomicU64::new(manifest_next_file),
            flushes: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            bytes_flushed: AtomicU64::new(0),
            bytes_compacted: AtomicU64::new(0),
        })
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.write(&[(key, Some(value))])
    }

    /// Deletes `key` (a no-op if absent).
    pub fn delete(&self, key: &[u8]) -> Result<(), StorageError> {
        self.write(&[(key, None)])
    }

    /// Applies a batch atomically: after a crash either all of it is
    /// there or none. Returns once it is logged per the sync policy.
    pub fn write(&self, batch: &[(&[u8], Option<&[u8]>)]) -> Result<(), StorageError> {
        for (key, value) in batch {
            if key.is_empty() || key.len() > MAX_KEY {
                return Err(StorageError::Invalid(format!(
                    "keys must be 1 to {MAX_KEY} bytes, got {}",
                    key.len()
                )));
            }
            if value.is_some_and(|v| v.len() > MAX_VALUE) {
                return Err(StorageError::Invalid(format!(
                    "values are limited to {MAX_VALUE} bytes; store larger objects as blobs"
                )));
            }
        }
        let full = {
            // Held shared while logging and applying, so a flush (which
            // takes it exclusively) never retires a log whose records have
            // not reached the memtable it freezes.
            let state = self.read_state();
            let sequence = state.sequence_base + state.wal.append(&encode_batch(batch))?;
            for (key, value) in batch {
                state.memtable.apply(sequence, key, *value);
            }
            state.memtable.bytes() >= self.options.memtable_bytes
        };
        if full {
            self.flush_memtable(false)?;
        }
        Ok(())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let (memtable, frozen, levels) = {
            let state = self.read_state();
            (
                state.memtable.clone(),
                state.frozen.clone(),
                state.levels.clone(),
            )
        };
        if let Some(found) = memtable.get(key) {
            return Ok(found);
        }
        if let Some(found) = frozen.and_then(|f| f.get(key)) {
            return Ok(found);
        }
        for table in &levels[0] {
            if let Some(found) = table.get(&self.shared.pool, key)? {
                return Ok(found);
            }
        }
        for level in &levels[1..] {
            let at = level.partition_point(|t| t.info.max_key.as_slice() < key);
            if let Some(table) = level.get(at)
                && let Some(found) = table.get(&self.shared.pool, key)?
            {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Up to `limit` entries with key ≥ `start` that begin with `prefix`,
    /// in key order.
    pub fn scan(
        &self,
        start: &[u8],
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        let start = start.max(prefix);
        let (memtable, frozen, levels) = {
            let state = self.read_state();
            (
                state.memtable.clone(),
                state.frozen.clone(),
                state.levels.clone(),
            )
        };
        let mut sources: Vec<Box<dyn Iterator<Item = Result<Entry, StorageError>> + Send>> =
            vec![Box::new(MemtableCursor::new(memtable, start).map(Ok))];
        if let Some(frozen) = frozen {
            sources.push(Box::new(MemtableCursor::new(frozen, start).map(Ok)));
        }
        for level in levels.iter() {
            for table in level {
                let before_prefix_end = table.info.min_key.as_slice() <= start
                    || table.info.min_key.starts_with(prefix);
                if table.info.max_key.as_slice() >= start && before_prefix_end {
                    sources.push(Box::new(table.iter_from(self.shared.pool.clone(), start)));
                }
            }
        }
        let mut out = Vec::new();
        for entry in Merge::new(sources) {
            let (key, value) = entry?;
            if !key.starts_with(prefix) {
                break;
            }
            if let Some(value) = value {
                out.push((key, value));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Flushes the memtable to a level-0 table (if it holds anything),
    /// then compacts as needed.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.flush_memtable(true)
    }

    /// `force`: flush whatever the memtable holds; otherwise only if it is
    /// still full (another writer may have flushed it meanwhile).
    fn flush_memtable(&self, force: bool) -> Result<(), StorageError> {
        let _maintenance = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let (frozen, log_number, old_wal) = {
            let mut state = self.write_state();
            let full = state.memtable.bytes() >= self.options.memtable_bytes;
            if state.memtable.len() == 0 || !(force || full) {
                return Ok(());
            }
            let next = state.log_number + 1;
            let (wal, _) = Wal::open(
                &log_path(&self.dir, next),
                self.options.sync,
                self.shared.io.clone(),
            )?;
            let frozen = std::mem::replace(&mut state.memtable, Arc::new(Memtable::default()));
            let old_wal = std::mem::replace(&mut state.wal, Arc::new(wal));
            state.sequence_base = 0;
            let number = state.log_number;
            state.log_number = next;
            state.frozen = Some(frozen.clone());
            (frozen, number, old_wal)
        };
        let started = Instant::now();
        let entries = frozen.entries_from(&[]);
        let table = self.build_tables(entries.into_iter().map(Ok), false, u64::MAX)?;
        let mut manifest = self.read_state().manifest.clone();
        let ids: Vec<u64> = table.iter().map(|(id, _)| *id).collect();
        for id in ids.iter().rev() {
            manifest.levels[0].insert(0, *id);
        }
        manifest.log_floor = log_number + 1;
        self.save_manifest(&manifest)?;
        let (bytes, count) = {
            let mut state = self.write_state();
            let mut levels = (*state.levels).clone();
            for (_, table) in table.iter().rev() {
                levels[0].insert(0, table.clone());
            }
            state.levels = Arc::new(levels);
            state.frozen = None;
            state.manifest = manifest;
            (
                table.iter().map(|(_, t)| t.bytes()).sum::<u64>(),
                table.iter().map(|(_, t)| t.info.entries).sum::<u64>(),
            )
        };
        drop(old_wal);
        let path = log_path(&self.dir, log_number);
        std::fs::remove_file(&path).map_err(StorageError::io("remove", &path))?;
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.bytes_flushed.fetch_add(bytes, Ordering::Relaxed);
        self.shared
            .events
            .emit(Family::Lsm, "memtable_flushed", || {
                json!({"tree": self.name, "entries": count, "bytes": bytes,
                   "tables": ids, "duration_ms": started.elapsed().as_secs_f64() * 1000.0})
            });
        self.compact_as_needed()
    }

    /// Writes sorted entries into new tables of about `table_bytes` each.
    fn build_tables(
        &self,
        entries: impl Iterator<Item = Result<Entry, StorageError>>,
        drop_deletions: bool,
        table_bytes: u64,
    ) -> Result<Vec<(u64, Arc<Table>)>, StorageError> {
        let mut out = Vec::new();
        let mut builder: Option<(u64, TableBuilder<'_>)> = None;
        for entry in entries {
            let (key, value) = entry?;
            if drop_deletions && value.is_none() {
                continue;
            }
            if builder.is_none() {
                let id = self.next_file_id();
                let segment = self.shared.create_segment(&table_path(&self.dir, id))?;
                self.shared.events.emit(Family::Pages, "allocated", || {
                    json!({"segment": segment.id(), "file": format!("t{id:08}.sst"), "tree": self.name})
                });
                builder = Some((id, TableBuilder::new(&self.shared.pool, segment)));
            }
            if let Some((_, b)) = builder.as_mut() {
                b.add(&key, value.as_deref())?;
                if b.bytes() >= table_bytes
                    && let Some((id, b)) = builder.take()
                {
                    out.push((id, self.finish_table(id, b)?));
                }
            }
        }
        if let Some((id, b)) = builder.take()
            && b.entries() > 0
        {
            out.push((id, self.finish_table(id, b)?));
        }
        Ok(out)
    }

    fn finish_table(
        &self,
        file: u64,
        builder: TableBuilder<'_>,
    ) -> Result<Arc<Table>, StorageError> {
        let segment = builder.finish()?;
        Ok(Arc::new(Table::open(&self.shared.pool, file, segment)?))
    }

    fn next_file_id(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn save_manifest(&self, manifest: &Manifest) -> Result<(), StorageError> {
        let mut manifest = manifest.clone();
        manifest.next_file = self.next_file.load(Ordering::Relaxed);
        write_atomically(&self.dir.join("MANIFEST"), &serde_json::to_vec(&manifest)?)
    }

    fn level_limit(&self, level: usize) -> u64 {
        self.options.level1_bytes * 10u64.pow(level.saturating_sub(1) as u32)
    }

    /// Runs compactions until every level is within its limits.
    fn compact_as_needed(&self) -> Result<(), StorageError> {
        loop {
            let levels = self.read_state().levels.clone();
            if levels[0].len() >= self.options.level0_tables {
                self.compact_level(0, levels[0].clone())?;
                continue;
            }
            let oversized = (1..LEVELS - 1)
                .find(|&l| levels[l].iter().map(|t| t.bytes()).sum::<u64>() > self.level_limit(l));
            match oversized {
                // The table with the smallest keys goes down; over time
                // every key range takes its turn as newer tables arrive.
                Some(l) => self.compact_level(l, vec![levels[l][0].clone()])?,
                None => return Ok(()),
            }
        }
    }

    /// Compacts everything in level 0, or (`level` ≥ 1) one table down.
    pub fn compact(&self) -> Result<(), StorageError> {
        let _maintenance = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        let levels = self.read_state().levels.clone();
        if !levels[0].is_empty() {
            self.compact_level(0, levels[0].clone())?;
        }
        self.compact_as_needed()
    }

    fn compact_level(&self, level: usize, inputs: Vec<Arc<Table>>) -> Result<(), StorageError> {
        let started = Instant::now();
        let levels = self.read_state().levels.clone();
        let min = inputs
            .iter()
            .map(|t| t.info.min_key.clone())
            .min()
            .unwrap_or_default();
        let max = inputs
            .iter()
            .map(|t| t.info.max_key.clone())
            .max()
            .unwrap_or_default();
        let below: Vec<Arc<Table>> = levels[level + 1]
            .iter()
            .filter(|t| t.overlaps(&min, &max))
            .cloned()
            .collect();
        let mut manifest = self.read_state().manifest.clone();
        let input_files: Vec<u64> = inputs.iter().map(|t| t.file).collect();
        let below_files: Vec<u64> = below.iter().map(|t| t.file).collect();

        if level > 0 && below.is_empty() && inputs.len() == 1 {
            // Nothing to merge with: move the table down as it is.
            manifest.levels[level].retain(|id| !input_files.contains(id));
            let at = levels[level + 1].partition_point(|t| t.info.max_key < min);
            manifest.levels[level + 1].insert(at, input_files[0]);
            self.save_manifest(&manifest)?;
            let mut state = self.write_state();
            let mut new_levels = (*state.levels).clone();
            new_levels[level].retain(|t| !Arc::ptr_eq(t, &inputs[0]));
            new_levels[level + 1].insert(at, inputs[0].clone());
            state.levels = Arc::new(new_levels);
            state.manifest = manifest;
            drop(state);
            self.shared.events.emit(Family::Lsm, "level_migration", || {
                json!({"tree": self.name, "table": input_files[0], "from_level": level,
                       "to_level": level + 1, "bytes": inputs[0].bytes()})
            });
            return Ok(());
        }

        let bytes_in: u64 = inputs.iter().chain(&below).map(|t| t.bytes()).sum();
        self.shared
            .events
            .emit(Family::Lsm, "compaction_started", || {
                json!({"tree": self.name, "level": level, "target_level": level + 1,
                   "input_tables": input_files.len() + below_files.len(), "bytes": bytes_in})
            });
        let bottom = levels[level + 2..].iter().all(Vec::is_empty);
        let mut sources: Vec<Box<dyn Iterator<Item = Result<Entry, StorageError>> + Send>> =
            Vec::new();
        // Level 0 is newest first already; the level below is older.
        for table in inputs.iter().chain(&below) {
            sources.push(Box::new(table.iter_from(self.shared.pool.clone(), &[])));
        }
        let entries_in: u64 = inputs.iter().chain(&below).map(|t| t.info.entries).sum();
        let outputs = self.build_tables(Merge::new(sources), bottom, self.options.table_bytes)?;
        let bytes_out: u64 = outputs.iter().map(|(_, t)| t.bytes()).sum();
        let entries_out: u64 = outputs.iter().map(|(_, t)| t.info.entries).sum();

        manifest.levels[level].retain(|id| !input_files.contains(id));
        let mut next_level: Vec<Arc<Table>> = levels[level + 1]
            .iter()
            .filter(|t| !below_files.contains(&t.file))
            .cloned()
            .chain(outputs.iter().map(|(_, t)| t.clone()))
            .collect();
        next_level.sort_by(|a, b| a.info.min_key.cmp(&b.info.min_key));
        manifest.levels[level + 1] = next_level.iter().map(|t| t.file).collect();
        self.save_manifest(&manifest)?;
        {
            let mut state = self.write_state();
            let mut new_levels = (*state.levels).clone();
            new_levels[level].retain(|t| !inputs.iter().any(|x| Arc::ptr_eq(x, t)));
            new_levels[level + 1] = next_level;
            state.levels = Arc::new(new_levels);
            state.manifest = manifest;
        }
        for table in inputs.iter().chain(&below) {
            self.shared.pool.forget(table.segment.id());
            let path = table_path(&self.dir, table.file);
            for file in [path.clone(), crate::segment::cold_path(&path)] {
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(StorageError::io("remove", &file)(e));
                    }
                    _ => {}
                }
            }
        }
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.bytes_compacted.fetch_add(bytes_out, Ordering::Relaxed);
        self.shared
            .events
            .emit(Family::Lsm, "compaction_completed", || {
                json!({"tree": self.name, "level": level, "target_level": level + 1,
                   "input_tables": input_files.len() + below_files.len(),
                   "output_tables": outputs.len(), "bytes_in": bytes_in, "bytes_out": bytes_out,
                   "entries_in": entries_in, "entries_out": entries_out,
                   "dropped_deletions": bottom,
                   "duration_ms": started.elapsed().as_secs_f64() * 1000.0})
            });
        self.shared.events.emit(Family::Pages, "compacted", || {
            json!({"tree": self.name, "pages_in": bytes_in / crate::page::PAGE_SIZE as u64,
                   "pages_out": bytes_out / crate::page::PAGE_SIZE as u64,
                   "bytes_reclaimed": bytes_in.saturating_sub(bytes_out)})
        });
        Ok(())
    }

    /// Verifies every page of every table; returns `(file, page)` of each
    /// damaged page.
    pub fn verify(&self) -> Vec<(PathBuf, u32)> {
        let levels = self.read_state().levels.clone();
        levels
            .iter()
            .flatten()
            .flat_map(|t| {
                t.segment
                    .scan()
                    .into_iter()
                    .map(|page| (t.segment.path().to_owned(), page))
            })
            .collect()
    }

    /// Ids of the segments (tables) the tree holds now.
    pub(crate) fn segment_ids(&self) -> Vec<u64> {
        let levels = self.read_state().levels.clone();
        levels.iter().flatten().map(|t| t.segment.id()).collect()
    }

    /// The tree's figures now.
    pub fn stats(&self) -> LsmStats {
        let state = self.read_state();
        let flushed = self.bytes_flushed.load(Ordering::Relaxed);
        let compacted = self.bytes_compacted.load(Ordering::Relaxed);
        LsmStats {
            name: self.name.clone(),
            memtable_entries: state.memtable.len(),
            memtable_bytes: state.memtable.bytes(),
            wal_bytes: state.wal.len(),
            levels: state
                .levels
                .iter()
                .enumerate()
                .filter(|(l, tables)| *l == 0 || !tables.is_empty())
                .map(|(level, tables)| LevelStats {
                    level,
                    tables: tables.len(),
                    bytes: tables.iter().map(|t| t.bytes()).sum(),
                    entries: tables.iter().map(|t| t.info.entries).sum(),
                })
                .collect(),
            flushes: self.flushes.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            write_amplification: if flushed == 0 {
                0.0
            } else {
                (flushed + compacted) as f64 / flushed as f64
            },
        }
    }
}
