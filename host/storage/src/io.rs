//! Disk I/O with accounting: every read, write and sync the storage layer
//! makes goes through [`DiskIo`], which counts operations, bytes and time
//! and reports them as `storage.io` events.
//!
//! It uses positional I/O (`pread`/`pwrite`/`pwritev`) only, so several
//! threads may share one file handle. It must not cache: that is the
//! buffer pool's job.

use std::fs::File;
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use crate::StorageError;
use crate::events::{Events, Family};

/// Counters of all I/O since the store opened.
#[derive(Debug, Default)]
struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    vectored_writes: AtomicU64,
    mapped_reads: AtomicU64,
    syncs: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    read_nanos: AtomicU64,
    write_nanos: AtomicU64,
    sync_nanos: AtomicU64,
}

/// A snapshot of the I/O counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IoStats {
    /// `pread` calls.
    pub reads: u64,
    /// `pwrite` calls.
    pub writes: u64,
    /// `pwritev` calls (several pages in one system call).
    pub vectored_writes: u64,
    /// Pages read from a memory-mapped segment (no system call).
    pub mapped_reads: u64,
    /// `fsync`/`fdatasync` calls.
    pub syncs: u64,
    /// Bytes read, by either path.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Mean latency of a read (either path), microseconds.
    pub avg_read_us: f64,
    /// Mean latency of a write, microseconds.
    pub avg_write_us: f64,
    /// Mean latency of a sync, microseconds.
    pub avg_sync_us: f64,
}

/// The accounting I/O layer. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct DiskIo {
    counters: Counters,
    events: Events,
}

fn mean_us(nanos: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        nanos as f64 / count as f64 / 1000.0
    }
}

impl DiskIo {
    /// I/O reporting to `events`.
    pub fn new(events: Events) -> Self {
        Self {
            counters: Counters::default(),
            events,
        }
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub fn read_at(
        &self,
        file: &File,
        path: &Path,
        buf: &mut [u8],
        offset: u64,
    ) -> Result<(), StorageError> {
        let started = Instant::now();
        file.read_exact_at(buf, offset)
            .map_err(StorageError::io("read", path))?;
        let nanos = started.elapsed().as_nanos() as u64;
        let c = &self.counters;
        c.reads.fetch_add(1, Ordering::Relaxed);
        c.bytes_read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        c.read_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.events.sampled(Family::Io, "read_completed", || {
            json!({"file": file_name(path), "offset": offset, "bytes": buf.len(),
                   "latency_us": nanos as f64 / 1000.0, "via": "pread"})
        });
        Ok(())
    }

    /// Counts a page copied out of a memory map (the kernel did the disk
    /// I/O, if any, as a page fault inside `nanos`).
    pub fn mapped_read(&self, path: &Path, offset: u64, bytes: usize, nanos: u64) {
        let c = &self.counters;
        c.mapped_reads.fetch_add(1, Ordering::Relaxed);
        c.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
        c.read_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.events.sampled(Family::Io, "read_completed", || {
            json!({"file": file_name(path), "offset": offset, "bytes": bytes,
                   "latency_us": nanos as f64 / 1000.0, "via": "mmap"})
        });
    }

    /// Writes all of `data` at `offset`.
    pub fn write_at(
        &self,
        file: &File,
        path: &Path,
        data: &[u8],
        offset: u64,
    ) -> Result<(), StorageError> {
        let started = Instant::now();
        file.write_all_at(data, offset)
            .map_err(StorageError::io("write", path))?;
        let nanos = started.elapsed().as_nanos() as u64;
        let c = &self.counters;
        c.writes.fetch_add(1, Ordering::Relaxed);
        c.bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        c.write_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.events.sampled(Family::Io, "write_completed", || {
            json!({"file": file_name(path), "offset": offset, "bytes": data.len(),
                   "latency_us": nanos as f64 / 1000.0})
        });
        Ok(())
    }

    /// Writes `buffers` back to back starting at `offset` with `pwritev`,
    /// as few system calls as the kernel allows.
    pub fn write_vectored_at(
        &self,
        file: &File,
        path: &Path,
        buffers: &[&[u8]],
        offset: u64,
    ) -> Result<(), StorageError> {
        let started = Instant::now();
        let total: usize = buffers.iter().map(|b| b.len()).sum();
        let mut slices: Vec<IoSlice<'_>> = buffers.iter().map(|b| IoSlice::new(b)).collect();
        let mut remaining = &mut slices[..];
        let mut position = offset;
        while !remaining.is_empty() {
            let written = rustix::io::pwritev(file, remaining, position)
                .map_err(|e| StorageError::io("write", path)(e.into()))?;
            if written == 0 {
                return Err(StorageError::io("write", path)(
                    std::io::ErrorKind::WriteZero.into(),
                ));
            }
            position += written as u64;
            IoSlice::advance_slices(&mut remaining, written);
        }
        let nanos = started.elapsed().as_nanos() as u64;
        let c = &self.counters;
        c.vectored_writes.fetch_add(1, Ordering::Relaxed);
        c.bytes_written.fetch_add(total as u64, Ordering::Relaxed);
        c.write_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.events.sampled(Family::Io, "vectored_write", || {
            json!({"file": file_name(path), "offset": offset, "buffers": buffers.len(),
                   "bytes": total, "latency_us": nanos as f64 / 1000.0})
        });
        Ok(())
    }

    /// Makes everything written to `file` durable (`fdatasync`).
    pub fn sync(&self, file: &File, path: &Path) -> Result<(), StorageError> {
        let started = Instant::now();
        file.sync_data().map_err(StorageError::io("sync", path))?;
        let c = &self.counters;
        c.syncs.fetch_add(1, Ordering::Relaxed);
        c.sync_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> IoStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (reads, writes, vectored, syncs) = (
            load(&c.reads),
            load(&c.writes),
            load(&c.vectored_writes),
            load(&c.syncs),
        );
        IoStats {
            reads,
            writes,
            vectored_writes: vectored,
            mapped_reads: load(&c.mapped_reads),
            syncs,
            bytes_read: load(&c.bytes_read),
            bytes_written: load(&c.bytes_written),
            avg_read_us: mean_us(load(&c.read_nanos), reads + load(&c.mapped_reads)),
            avg_write_us: mean_us(load(&c.write_nanos), writes + vectored),
            avg_sync_us: mean_us(load(&c.sync_nanos), syncs),
        }
    }
}

/// The last path component, for events (full paths would reveal the
/// server's layout to every subscriber).
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
