//! Segment files: a file of pages, written once through the buffer pool
//! and then memory-mapped for reading.
//!
//! Every page read from a segment is verified ([`Page::verify`]); a damaged
//! page becomes a `checksum_failure` event on `storage.pages` and a
//! [`StorageError::Checksum`] for the caller — never wrong data. Segments
//! are immutable once sealed, which is what makes mapping them safe.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

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
    file: File,
    map: RwLock<Option<Mmap>>,
    pages: AtomicU32,
    io: Arc<DiskIo>,
    events: Events,
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
        Ok(Arc::new(Self {
            id,
            path: path.to_owned(),
            file,
            map: RwLock::new(None),
            pages: AtomicU32::new(0),
            io,
            events,
        }))
    }

    /// Opens a sealed segment and maps it.
    pub fn open(
        id: u64,
        path: &Path,
        io: Arc<DiskIo>,
        events: Events,
    ) -> Result<Arc<Self>, StorageError> {
        let file = File::open(path).map_err(StorageError::io("open", path))?;
        let len = file
            .metadata()
            .map_err(StorageError::io("stat", path))?
            .len();
        let segment = Self {
            id,
            path: path.to_owned(),
            file,
            map: RwLock::new(None),
            pages: AtomicU32::new((len / PAGE_SIZE as u64) as u32),
            io,
            events,
        };
        segment.map()?;
        Ok(Arc::new(segment))
    }

    fn map(&self) -> Result<(), StorageError> {
        if self.pages.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        // SAFETY: segment files live in the server's own data directory and
        // are never modified after they are sealed (compaction writes new
        // segments and unlinks old ones, which keeps existing mappings
        // valid). Truncating a segment behind the server's back would break
        // this; that is documented as an operator rule in the README.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&self.file) }.map_err(StorageError::io("map", &self.path))?;
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

    /// Reads and verifies page `number`.
    pub fn read_page(&self, number: u32) -> Result<Page, StorageError> {
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
                    self.io
                        .read_at(&self.file, &self.path, &mut buf, start as u64)?;
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
        self.io.write_vectored_at(
            &self.file,
            &self.path,
            &buffers,
            first as u64 * PAGE_SIZE as u64,
        )?;
        self.pages
            .fetch_max(first + pages.len() as u32, Ordering::AcqRel);
        Ok(())
    }

    /// Makes the segment durable and maps it for reading. After this the
    /// segment never changes.
    pub fn seal(&self) -> Result<(), StorageError> {
        self.io.sync(&self.file, &self.path)?;
        self.map()
    }

    /// Verifies every page; returns the numbers of the damaged ones.
    pub fn scan(&self) -> Vec<u32> {
        (0..self.page_count())
            .filter(|&n| self.read_page(n).is_err())
            .collect()
    }
}
