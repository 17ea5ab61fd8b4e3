//! The memtable: the newest writes of an LSM tree, in a sorted map,
//! until it is frozen and flushed to a table.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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
