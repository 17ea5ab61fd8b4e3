//! Segment files: a file of pages, written once through the buffer pool
//! and then memory-mapped for reading.
//!
//! Every page read from a segment is verified ([`Page::verify`]); a damaged
//! page becomes a `checksum_failure` event on `storage.pages` and a
//! [`StorageError::Checksum`] for the caller — never wrong data. Segments
//! are immutable once sealed, which is what makes mapping them safe.
//!
//! **Tiers.** A sealed segment is *warm*: mapped, its pages a page fault
//! away. One nobody has read for a while can be *frozen* to the cold tier
//! (an LZ4-compressed copy `<file>.lz4`; the mapping and the original go),
//! and is *thawed* back on its next read. Pages in buffer-pool frames are
//! the hot tier. Each move is a `page_migrated` event on `storage.tiers`.
//! Moves are crash-safe: the new file is written, synced and renamed into
//! place before the old one is removed, and on open a leftover pair keeps
//! the uncompressed file.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use memmap2::Mmap;
use serde_json::json;

use crate::StorageError;
use crate::events::{Events, Family};
use crate::io::{DiskIo, file_name};
use crate::page::{PAGE_SIZE, Page};

/// One segment file.
#[derive(Debug)]
pub struct Segment {
    id: u64,
    path: PathBuf,
    /// The uncompressed file; `None` while the segment is cold.
    file: RwLock<Option<File>>,
    map: RwLock<Option<Mmap>>,
    pages: AtomicU32,
    io: Arc<DiskIo>,
    events: Events,
    sealed: AtomicBool,
    cold: AtomicBool,
    /// Seconds since the epoch of the last page read.
    last_read: AtomicU64,
    /// Serialises freezing and thawing.
    moving: Mutex<()>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where a segment's cold copy lives.
pub fn cold_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lz4");
    PathBuf::from(name)
}

fn sync_dir(path: &Path) -> Result<(), StorageError> {
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StorageError::io("sync directory", dir))?;
    }
    Ok(())
}

impl Segment {
    /// Creates an empty segment at `path` (replacing a leftover of a
    /// crashed build with the same name).
    pub fn create(
        id: u64,
        path: &Path,
        io: Arc<DiskIo>,
        events: Events,
    ) -> Result<Arc<Self>, StorageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)
            .map_err(StorageError::io("create", path))?;
        Ok(Arc::new(Self::new(
            id,
            path,
            Some(file),
            0,
            io,
            events,
            false,
        )))
    }

    fn new(
        id: u64,
        path: &Path,
        file: Option<File>,
        pages: u32,
        io: Arc<DiskIo>,
        events: Events,
        sealed: bool,
    ) -> Self {
        Self {
            id,
            path: path.to_owned(),
            cold: AtomicBool::new(file.is_none()),
            file: RwLock::new(file),
            map: RwLock::new(None),
            pages: AtomicU32::new(pages),
            io,
            events,
            sealed: AtomicBool::new(sealed),
            last_read: AtomicU64::new(now_secs()),
            moving: Mutex::new(()),
        }
    }

    /// Opens a sealed segment (warm, or cold if only its compressed copy
    /// exists) and maps it.
    pub fn open(
        id: u64,
        path: &Path,
        io: Arc<DiskIo>,
        events: Events,
    ) -> Result<Arc<Self>, StorageError> {
        let cold = cold_path(path);
        if !path.exists() && cold.exists() {
            // The uncompressed size leads the LZ4 frame.
            let mut head = [0u8; 4];
            File::open(&cold)
                .and_then(|f| std::io::Read::read_exact(&mut &f, &mut head))
                .map_err(StorageError::io("read", &cold))?;
            let pages = (u32::from_le_bytes(head) as usize / PAGE_SIZE) as u32;
            return Ok(Arc::new(Self::new(id, path, None, pages, io, events, true)));
        }
        if cold.exists() {
            // Interrupted move: the uncompressed file is complete (it is
            // renamed into place only once synced), so the copy goes.
            std::fs::remove_file(&cold).map_err(StorageError::io("remove", &cold))?;
        }
        let file = File::open(path).map_err(StorageError::io("open", path))?;
        let len = file
            .metadata()
            .map_err(StorageError::io("stat", path))?
            .len();
        let pages = (len / PAGE_SIZE as u64) as u32;
        let segment = Self::new(id, path, Some(file), pages, io, events, true);
        segment.map()?;
        Ok(Arc::new(segment))
    }

    fn map(&self) -> Result<(), StorageError> {
        if self.pages.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let file = self.file.read().unwrap_or_else(|e| e.into_inner());
        let Some(file) = file.as_ref() else {
            return Ok(());
        };
        // SAFETY: segment files live in the server's own data directory and
        // are never modified after they are sealed (compaction writes new
        // segments and unlinks old ones, which keeps existing mappings
        // valid). Truncating a segment behind the server's back would break
        // this; that is documented as an operator rule in the README.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(file) }.map_err(StorageError::io("map", &self.path))?;
        *self.map.write().unwrap_or_else(|e| e.into_inner()) = Some(map);
        Ok(())
    }

    /// The segment's id (unique within the store).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pages written so far.
    pub fn page_count(&self) -> u32 {
        self.pages.load(Ordering::Acquire)
    }

    /// Whether the segment is in the cold tier now.
    pub fn is_cold(&self) -> bool {
        self.cold.load(Ordering::Acquire)
    }

    /// Seconds since the epoch of the last page read.
    pub fn last_read(&self) -> u64 {
        self.last_read.load(Ordering::Relaxed)
    }

    /// Reads and verifies page `number`.
    pub fn read_page(&self, number: u32) -> Result<Page, StorageError> {
        self.last_read.store(now_secs(), Ordering::Relaxed);
        if self.is_cold() {
            self.thaw()?;
        }
        let start = number as usize * PAGE_SIZE;
        let started = std::time::Instant::now();
        let verified = {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            match map.as_ref().and_then(|m| m.get(start..start + PAGE_SIZE)) {
                Some(bytes) => {
                    let page = Page::verify(bytes, number);
                    let nanos = started.elapsed().as_nanos() as u64;
                    self.io
                        .mapped_read(&self.path, start as u64, PAGE_SIZE, nanos);
                    page
                }
                None => {
                    drop(map);
                    let mut buf = vec![0u8; PAGE_SIZE];
                    let file = self.file.read().unwrap_or_else(|e| e.into_inner());
                    let Some(file) = file.as_ref() else {
                        // Frozen between our check and the read: thaw again.
                        drop(file);
                        self.thaw()?;
                        return self.read_page(number);
                    };
                    self.io.read_at(file, &self.path, &mut buf, start as u64)?;
                    Page::verify(&buf, number)
                }
            }
        };
        verified.map_err(|checksum| {
            self.events.emit(Family::Pages, "checksum_failure", || {
                json!({"segment": self.id, "file": file_name(&self.path), "page": number,
                       "reason": if checksum { "checksum mismatch" } else { "page header does not match its place" }})
            });
            if checksum {
                StorageError::Checksum {
                    path: self.path.clone(),
                    page: number,
                }
            } else {
                StorageError::Corrupt {
                    what: "page",
                    path: self.path.clone(),
                    detail: format!("page {number} has a bad header"),
                }
            }
        })
    }

    /// Writes consecutive sealed pages starting at page `first` in one
    /// vectored write.
    pub fn write_pages(&self, first: u32, pages: &[&Page]) -> Result<(), StorageError> {
        let buffers: Vec<&[u8]> = pages.iter().map(|p| p.bytes()).collect();
        let file = self.file.read().unwrap_or_else(|e| e.into_inner());
        let file = file.as_ref().ok_or_else(|| {
            StorageError::Invalid(format!(
                "{} is sealed and cold; it cannot be written",
                self.path.display()
            ))
        })?;
        self.io
            .write_vectored_at(file, &self.path, &buffers, first as u64 * PAGE_SIZE as u64)?;
        self.pages
            .fetch_max(first + pages.len() as u32, Ordering::AcqRel);
        Ok(())
    }

    /// Makes the segment durable and maps it for reading. After this the
    /// segment never changes.
    pub fn seal(&self) -> Result<(), StorageError> {
        {
            let file = self.file.read().unwrap_or_else(|e| e.into_inner());
            if let Some(file) = file.as_ref() {
                self.io.sync(file, &self.path)?;
            }
        }
        self.sealed.store(true, Ordering::Release);
        self.map()
    }

    /// Moves a sealed, warm segment to the cold tier; returns whether it
    /// moved. Pages already in buffer-pool frames stay there.
    pub fn freeze(&self) -> Result<bool, StorageError> {
        let _moving = self.moving.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_cold() || !self.sealed.load(Ordering::Acquire) || self.page_count() == 0 {
            return Ok(false);
        }
        let bytes = std::fs::read(&self.path).map_err(StorageError::io("read", &self.path))?;
        let compressed = lz4_flex::compress_prepend_size(&bytes);
        let cold = cold_path(&self.path);
        let tmp = cold.with_extension("lz4.tmp");
        std::fs::write(&tmp, &compressed).map_err(StorageError::io("write", &tmp))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(StorageError::io("sync", &tmp))?;
        std::fs::rename(&tmp, &cold).map_err(StorageError::io("rename", &cold))?;
        sync_dir(&cold)?;
        // From here the compressed copy is complete; the original can go.
        self.cold.store(true, Ordering::Release);
        *self.map.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = None;
        std::fs::remove_file(&self.path).map_err(StorageError::io("remove", &self.path))?;
        sync_dir(&self.path)?;
        self.events.emit(Family::Tiers, "page_migrated", || {
            json!({"segment": self.id, "file": file_name(&self.path), "pages": self.page_count(),
                   "from": "warm", "to": "cold", "bytes_before": bytes.len(),
                   "bytes_after": compressed.len()})
        });
        Ok(true)
    }

    /// Brings a cold segment back to the warm tier (on its next read).
    fn thaw(&self) -> Result<(), StorageError> {
        let _moving = self.moving.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_cold() {
            return Ok(()); // another reader thawed it meanwhile
        }
        let cold = cold_path(&self.path);
        let compressed = std::fs::read(&cold).map_err(StorageError::io("read", &cold))?;
        let bytes = lz4_flex::decompress_size_prepended(&compressed).map_err(|e| {
            StorageError::Corrupt {
                what: "cold segment",
                path: cold.clone(),
                detail: e.to_string(),
            }
        })?;
        let tmp = self.path.with_extension("thaw.tmp");
        std::fs::write(&tmp, &bytes).map_err(StorageError::io("write", &tmp))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(StorageError::io("sync", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(StorageError::io("rename", &self.path))?;
        sync_dir(&self.path)?;
        std::fs::remove_file(&cold).map_err(StorageError::io("remove", &cold))?;
        let file = File::open(&self.path).map_err(StorageError::io("open", &self.path))?;
        *self.file.write().unwrap_or_else(|e| e.into_inner()) = Some(file);
        self.map()?;
        self.cold.store(false, Ordering::Release);
        self.events.emit(Family::Tiers, "page_migrated", || {
            json!({"segment": self.id, "file": file_name(&self.path), "pages": self.page_count(),
                   "from": "cold", "to": "warm", "bytes_before": compressed.len(),
                   "bytes_after": bytes.len()})
        });
        Ok(())
    }

    /// Bytes on disk now (compressed when cold).
    pub fn disk_bytes(&self) -> u64 {
        let path = if self.is_cold() {
            cold_path(&self.path)
        } else {
            self.path.clone()
        };
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    /// Verifies every page; returns the numbers of the damaged ones.
    pub fn scan(&self) -> Vec<u32> {
        (0..self.page_count())
            .filter(|&n| self.read_page(n).is_err())
            .collect()
    }
}
