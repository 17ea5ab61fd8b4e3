//! The buffer pool: a fixed number of page frames shared by every segment,
//! with LRU-2 replacement and write-back of dirty pages.
//!
//! **Why LRU-K with K = 2.** A plain LRU is flushed by one big scan (a
//! dataset column read, a compaction) that touches each page once. LRU-2
//! ranks a page by the time of its *second-to-last* access, so pages seen
//! only once are evicted before any page in real reuse, and the index and
//! bloom pages of hot tables stay. Ties (pages seen once) fall back to
//! plain LRU. The victim is found in O(log n) through an ordered map.
//!
//! New pages (a table or column chunk being written) enter the pool dirty
//! and reach their segment on [`BufferPool::flush`] — consecutive pages in
//! one `pwritev` — or earlier, one by one, if they are evicted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::json;

use crate::StorageError;
use crate::events::{Events, Family};
use crate::page::{PAGE_SIZE, Page};
use crate::segment::Segment;

type PageId = (u64, u32);

struct Frame {
    page: Arc<Page>,
    segment: Arc<Segment>,
    dirty: bool,
    /// Logical times of the last and the second-to-last access (0: none).
    last: u64,
    previous: u64,
}

impl Frame {
    fn rank(&self) -> (u64, u64) {
        (self.previous, self.last)
    }
}

#[derive(Default)]
struct Inner {
    frames: HashMap<PageId, Frame>,
    /// Replacement order: smallest (second-to-last, last) access first.
    order: BTreeMap<((u64, u64), PageId), ()>,
    clock: u64,
}

impl Inner {
    fn touch(&mut self, id: PageId) -> Option<Arc<Page>> {
        self.clock += 1;
        let now = self.clock;
        let frame = self.frames.get_mut(&id)?;
        self.order.remove(&(frame.rank(), id));
        frame.previous = frame.last;
        frame.last = now;
        self.order.insert((frame.rank(), id), ());
        Some(frame.page.clone())
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    flushed_pages: AtomicU64,
}

/// Pool figures.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PoolStats {
    /// Frames in the pool.
    pub capacity_pages: usize,
    /// Frames holding a page.
    pub used_pages: usize,
    /// Frames holding a page not yet written to its segment.
    pub dirty_pages: usize,
    /// Page requests served from memory.
    pub hits: u64,
    /// Page requests that read the segment.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 before any request.
    pub hit_ratio: f64,
    /// Pages dropped to make room.
    pub evictions: u64,
    /// Dirty pages written back.
    pub flushed_pages: u64,
    /// Replacement policy.
    pub policy: &'static str,
}

/// The shared pool of page frames.
pub struct BufferPool {
    inner: Mutex<Inner>,
    capacity: usize,
    counters: Counters,
    events: Events,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl BufferPool {
    /// A pool of `capacity_bytes / PAGE_SIZE` frames (at least 16).
    pub fn new(capacity_bytes: usize, events: Events) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: (capacity_bytes / PAGE_SIZE).max(16),
            counters: Counters::default(),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Page `number` of `segment`, from memory or read (and verified) from
    /// the segment.
    pub fn get(&self, segment: &Arc<Segment>, number: u32) -> Result<Arc<Page>, StorageError> {
        let id = (segment.id(), number);
        if let Some(page) = self.lock().touch(id) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            self.events.sampled(
                Family::BufferPool,
                "hit",
                || json!({"segment": id.0, "page": id.1}),
            );
            return Ok(page);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        // Read outside the lock: other pages stay available meanwhile.
        let page = Arc::new(segment.read_page(number)?);
        self.events.sampled(
            Family::BufferPool,
            "miss",
            || json!({"segment": id.0, "page": id.1}),
        );
        self.insert(segment, page.clone(), false)?;
        Ok(page)
    }

    /// Puts a new page into the pool, dirty: it reaches the segment on
    /// [`BufferPool::flush`] or when evicted.
    pub fn put_new(&self, segment: &Arc<Segment>, mut page: Page) -> Result<(), StorageError> {
        page.seal();
        self.insert(segment, Arc::new(page), true)
    }

    fn insert(
        &self,
        segment: &Arc<Segment>,
        page: Arc<Page>,
        dirty: bool,
    ) -> Result<(), StorageError> {
        let id = (segment.id(), page.number());
        let mut inner = self.lock();
        if inner.frames.contains_key(&id) {
            // Another reader raced us to it; keep theirs.
            inner.touch(id);
            return Ok(());
        }
        while inner.frames.len() >= self.capacity {
            self.evict_one(&mut inner)?;
        }
        inner.clock += 1;
        let frame = Frame {
            page,
            segment: segment.clone(),
            dirty,
            last: inner.clock,
            previous: 0,
        };
        inner.order.insert((frame.rank(), id), ());
        inner.frames.insert(id, frame);
        Ok(())
    }

    fn evict_one(&self, inner: &mut Inner) -> Result<(), StorageError> {
        let Some((&(rank, id), ())) = inner.order.iter().next() else {
            return Ok(());
        };
        inner.order.remove(&(rank, id));
        let Some(frame) = inner.frames.remove(&id) else {
            return Ok(());
        };
        if frame.dirty {
            // Write-back on eviction: the page must not be lost.
            frame.segment.write_pages(id.1, &[&frame.page])?;
            self.counters.flushed_pages.fetch_add(1, Ordering::Relaxed);
            self.events.emit(
                Family::BufferPool,
                "flushed",
                || json!({"segment": id.0, "pages": 1, "bytes": PAGE_SIZE, "reason": "eviction"}),
            );
        }
        self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        self.events.sampled(Family::BufferPool, "evicted", || {
            json!({"segment": id.0, "page": id.1, "was_dirty": frame.dirty,
                   "accesses": if frame.previous == 0 { 1 } else { 2 }})
        });
        Ok(())
    }

    /// Writes every dirty page of `segment`, runs of consecutive pages in
    /// one vectored write each; returns the number of pages written.
    pub fn flush(&self, segment: &Arc<Segment>) -> Result<usize, StorageError> {
        let mut dirty: Vec<(u32, Arc<Page>)> = {
            let inner = self.lock();
            inner
                .frames
                .iter()
                .filter(|((seg, _), f)| *seg == segment.id() && f.dirty)
                .map(|((_, n), f)| (*n, f.page.clone()))
                .collect()
        };
        dirty.sort_by_key(|(n, _)| *n);
        let mut start = 0;
        while start < dirty.len() {
            let mut end = start + 1;
            while end < dirty.len() && dirty[end].0 == dirty[end - 1].0 + 1 {
                end += 1;
            }
            let run: Vec<&Page> = dirty[start..end].iter().map(|(_, p)| p.as_ref()).collect();
            segment.write_pages(dirty[start].0, &run)?;
            start = end;
        }
        let mut inner = self.lock();
        for (n, _) in &dirty {
            if let Some(frame) = inner.frames.get_mut(&(segment.id(), *n)) {
                frame.dirty = false;
            }
        }
        drop(inner);
        if !dirty.is_empty() {
            self.counters
                .flushed_pages
                .fetch_add(dirty.len() as u64, Ordering::Relaxed);
            self.events.emit(Family::BufferPool, "flushed", || {
                json!({"segment": segment.id(), "pages": dirty.len(),
                       "bytes": dirty.len() * PAGE_SIZE, "reason": "checkpoint"})
            });
        }
        Ok(dirty.len())
    }

    /// Drops every frame of a segment that is being deleted.
    pub fn forget(&self, segment: u64) {
        let mut inner = self.lock();
        let ids: Vec<((u64, u64), PageId)> = inner
            .frames
            .iter()
            .filter(|((seg, _), _)| *seg == segment)
            .map(|(id, f)| (f.rank(), *id))
            .collect();
        for (rank, id) in ids {
            inner.order.remove(&(rank, id));
            inner.frames.remove(&id);
        }
    }

    /// Whether page `number` of `segment` is in memory (the hot tier).
    pub fn contains(&self, segment: u64, number: u32) -> bool {
        self.lock().frames.contains_key(&(segment, number))
    }

    /// Pages of `segment` in memory.
    pub fn resident_pages(&self, segment: u64) -> usize {
        self.lock()
            .frames
            .keys()
            .filter(|(seg, _)| *seg == segment)
            .count()
    }

    /// The pool's figures now.
    pub fn stats(&self) -> PoolStats {
        let (used, dirty) = {
            let inner = self.lock();
            let dirty = inner.frames.values().filter(|f| f.dirty).count();
            (inner.frames.len(), dirty)
        };
        let hits = self.counters.hits.load(Ordering::Relaxed);
        let misses = self.counters.misses.load(Ordering::Relaxed);
        PoolStats {
            capacity_pages: self.capacity,
            used_pages: used,
            dirty_pages: dirty,
            hits,
            misses,
            hit_ratio: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            evictions: self.counters.evictions.load(Ordering::Relaxed),
            flushed_pages: self.counters.flushed_pages.load(Ordering::Relaxed),
            policy: "LRU-2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageKind;

    fn segment_with_pages(dir: &std::path::Path, pages: u32) -> Arc<Segment> {
        let io = Arc::new(crate::io::DiskIo::new(Events::none()));
        let segment =
            Segment::create(1, &dir.join("s.seg"), io, Events::none()).expect("create segment");
        let pool = BufferPool::new(0, Events::none());
        for n in 0..pages {
            let mut page = Page::new(PageKind::Slotted, n);
            page.insert(&n.to_le_bytes()).expect("fits");
            pool.put_new(&segment, page).expect("put");
        }
        pool.flush(&segment).expect("flush");
        segment.seal().expect("seal");
        segment
    }

    #[test]
    fn pages_seen_twice_outlive_a_scan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let segment = segment_with_pages(dir.path(), 100);
        let pool = BufferPool::new(16 * PAGE_SIZE, Events::none());
        // Pages 0..4 are in real reuse.
        for _ in 0..2 {
            for n in 0..4 {
                pool.get(&segment, n).expect("read");
            }
        }
        // A scan touches every other page once.
        for n in 4..100 {
            pool.get(&segment, n).expect("read");
        }
        for n in 0..4 {
            assert!(pool.contains(1, n), "hot page {n} was evicted by a scan");
        }
        let stats = pool.stats();
        assert_eq!(stats.used_pages, 16);
        assert_eq!(stats.hits, 4);
        assert_eq!(stats.misses, 100);
        assert_eq!(stats.evictions, 84);
    }

    #[test]
    fn dirty_pages_are_written_back_when_evicted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let io = Arc::new(crate::io::DiskIo::new(Events::none()));
        let segment = Segment::create(2, &dir.path().join("d.seg"), io, Events::none())
            .expect("create segment");
        let pool = BufferPool::new(16 * PAGE_SIZE, Events::none());
        for n in 0..40u32 {
            let mut page = Page::new(PageKind::Slotted, n);
            page.insert(&n.to_le_bytes()).expect("fits");
            pool.put_new(&segment, page).expect("put");
        }
        assert_eq!(pool.flush(&segment).expect("flush"), 16);
        segment.seal().expect("seal");
        for n in 0..40u32 {
            let page = segment.read_page(n).expect("every page reached the file");
            assert_eq!(page.record(0), Some(&n.to_le_bytes()[..]));
        }
    }
}
