//! The memtable: the newest writes of an LSM tree, in a sorted map,
//! until it is frozen and flushed to a table.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::table::Entry;

/// Per-entry overhead counted towards the flush threshold.
const ENTRY_OVERHEAD: usize = 48;

/// key → (sequence in the WAL, value or deletion).
type Map = BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)>;

#[derive(Debug, Default)]
pub(crate) struct Memtable {
    map: Mutex<Map>,
    bytes: AtomicUsize,
}

impl Memtable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a write logged at `sequence`; an older sequence never
    /// overwrites a newer one (writers may reach here out of log order).
    pub(crate) fn apply(&self, sequence: u64, key: &[u8], value: Option<&[u8]>) {
        let mut map = self.lock();
        let size = key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD;
        match map.get_mut(key) {
            Some((seq, _)) if *seq > sequence => {}
            Some(slot) => {
                *slot = (sequence, value.map(<[u8]>::to_vec));
                self.bytes.fetch_add(size - key.len(), Ordering::Relaxed);
            }
            None => {
                map.insert(key.to_vec(), (sequence, value.map(<[u8]>::to_vec)));
                self.bytes.fetch_add(size, Ordering::Relaxed);
            }
        }
    }

    /// `None` if absent, `Some(None)` if deleted, `Some(Some(v))` if set.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.lock().get(key).map(|(_, value)| value.clone())
    }

    /// Bytes held (keys, values and overhead), for the flush threshold.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Entries with key ≥ `start`, in order.
    pub(crate) fn entries_from(&self, start: &[u8]) -> Vec<Entry> {
        self.lock()
            .range(start.to_vec()..)
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect()
    }
}

/// Entries of a memtable from a start key on, read a chunk at a time under
/// the lock: a scan that wants 64 entries copies about that many, not the
/// whole tail (which made paging through a large memtable quadratic).
/// Later chunks may see writes made after the first: like the tables below
/// it, a scan is not a snapshot.
pub(crate) struct MemtableCursor {
    memtable: Arc<Memtable>,
    /// Where the next chunk starts: inclusive before the first chunk,
    /// exclusive (the last key returned) after.
    next: Bound<Vec<u8>>,
    chunk: std::vec::IntoIter<Entry>,
    exhausted: bool,
}

/// Entries copied per lock: enough to amortise the lock, few enough that a
/// short scan copies little.
const CURSOR_CHUNK: usize = 128;

impl MemtableCursor {
    pub(crate) fn new(memtable: Arc<Memtable>, start: &[u8]) -> Self {
        Self {
            memtable,
            next: Bound::Included(start.to_vec()),
            chunk: Vec::new().into_iter(),
            exhausted: false,
        }
    }

    fn refill(&mut self) {
        let chunk: Vec<Entry> = {
            let map = self.memtable.lock();
            map.range::<Vec<u8>, _>((self.next.as_ref(), Bound::Unbounded))
                .take(CURSOR_CHUNK)
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect()
        };
        if chunk.len() < CURSOR_CHUNK {
            self.exhausted = true;
        }
        if let Some((last, _)) = chunk.last() {
            self.next = Bound::Excluded(last.clone());
        }
        self.chunk = chunk.into_iter();
    }
}

impl Iterator for MemtableCursor {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.chunk.next() {
                return Some(entry);
            }
            if self.exhausted {
                return None;
            }
            self.refill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_past_several_chunks_in_order() {
        let memtable = Arc::new(Memtable::default());
        for i in 0..1000u32 {
            let value = if i % 7 == 0 { None } else { Some(&b"v"[..]) };
            memtable.apply(u64::from(i), format!("k{i:05}").as_bytes(), value);
        }
        let keys: Vec<Vec<u8>> = MemtableCursor::new(memtable.clone(), b"k00100")
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys.len(), 900);
        assert_eq!(keys[0], b"k00100");
        assert_eq!(keys[899], b"k00999");
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let deletions = MemtableCursor::new(memtable, b"")
            .filter(|(_, v)| v.is_none())
            .count();
        assert_eq!(deletions, 143);
    }

    #[test]
    fn cursor_sees_a_key_written_ahead_of_it() {
        let memtable = Arc::new(Memtable::default());
        for i in 0..300u32 {
            memtable.apply(1, format!("k{i:05}").as_bytes(), Some(b"v"));
        }
        let mut cursor = MemtableCursor::new(memtable.clone(), b"");
        assert_eq!(cursor.next().map(|(k, _)| k), Some(b"k00000".to_vec()));
        memtable.apply(2, b"k00299x", Some(b"late"));
        assert_eq!(cursor.count(), 300);
    }
}
