//! Storage events: what the storage code reports while it works.
//!
//! Storage does not know about the event bus (it sits beside it, not above
//! it); it hands events to an [`EventSink`] the server provides. Each event
//! is emitted by the code path it describes — the buffer pool reports its
//! own hits, the WAL its own writes.
//!
//! Some events happen at memory speed (a buffer-pool hit, a page read).
//! Those go through [`Events::sampled`], which lets at most
//! [`SAMPLED_PER_SECOND`] of each kind through per second and tells the
//! next one how many it stands for (`suppressed`), so a scan of a million
//! pages cannot flood the bus. Counters in the stats are always exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

/// The six event families of the storage layer; each is one bus topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Buffer pool: hit, miss, evicted, flushed, pool_stats.
    BufferPool,
    /// LSM trees: memtable_flushed, compaction_started/completed, level_migration.
    Lsm,
    /// Disk I/O: read_completed, write_completed, vectored_read/write, io_stats.
    Io,
    /// Storage tiers: page_migrated, tier_stats.
    Tiers,
    /// Pages: allocated, compacted, checksum_failure.
    Pages,
    /// Columnar datasets: batch_inserted, column_scanned, encoding_changed.
    Columnar,
}

impl Family {
    /// Every family, in the order of the seed.
    pub const ALL: [Family; 6] = [
        Family::BufferPool,
        Family::Lsm,
        Family::Io,
        Family::Tiers,
        Family::Pages,
        Family::Columnar,
    ];

    /// The bus topic the family's events are published on.
    pub fn topic(self) -> &'static str {
        match self {
            Family::BufferPool => "storage.buffer_pool",
            Family::Lsm => "storage.lsm",
            Family::Io => "storage.io",
            Family::Tiers => "storage.tiers",
            Family::Pages => "storage.pages",
            Family::Columnar => "storage.columnar",
        }
    }
}

/// Where storage events go (the server connects this to the bus).
pub trait EventSink: Send + Sync {
    /// Publishes one event. Must not block for long: it is called on the
    /// storage hot path.
    fn emit(&self, family: Family, kind: &'static str, data: Value);
}

/// At most this many events of one sampled kind per second.
pub const SAMPLED_PER_SECOND: u32 = 50;

/// The storage layer's handle on its sink, with sampling for hot kinds.
#[derive(Clone)]
pub struct Events {
    sink: Option<Arc<dyn EventSink>>,
    windows: Arc<Mutex<HashMap<(Family, &'static str), Window>>>,
}

struct Window {
    started: Instant,
    sent: u32,
    suppressed: u64,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("connected", &self.sink.is_some())
            .finish()
    }
}

impl Events {
    /// Events go to `sink`.
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self {
            sink: Some(sink),
            windows: Arc::default(),
        }
    }

    /// Events are dropped (tools and tests that do not watch).
    pub fn none() -> Self {
        Self {
            sink: None,
            windows: Arc::default(),
        }
    }

    /// Emits an event; `data` is built only if someone listens.
    pub fn emit(&self, family: Family, kind: &'static str, data: impl FnOnce() -> Value) {
        if let Some(sink) = &self.sink {
            sink.emit(family, kind, data());
        }
    }

    /// Emits an event of a kind that may happen millions of times a
    /// second: at most [`SAMPLED_PER_SECOND`] per second pass, each
    /// carrying `suppressed`, the number left out since the previous one.
    pub fn sampled(&self, family: Family, kind: &'static str, data: impl FnOnce() -> Value) {
        let Some(sink) = &self.sink else { return };
        let suppressed = {
            let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            let window = windows.entry((family, kind)).or_insert_with(|| Window {
                started: Instant::now(),
                sent: 0,
                suppressed: 0,
            });
            if window.started.elapsed().as_secs_f64() >= 1.0 {
                window.started = Instant::now();
                window.sent = 0;
            }
            if window.sent >= SAMPLED_PER_SECOND {
                window.suppressed += 1;
                return;
            }
            window.sent += 1;
            std::mem::take(&mut window.suppressed)
        };
        let mut data = data();
        if let Value::Object(map) = &mut data {
            map.insert("suppressed".into(), suppressed.into());
        }
        sink.emit(family, kind, data);
    }
}

/// A sink that keeps every event in memory, for tests.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<(Family, &'static str, Value)>>,
}

impl Recorder {
    /// Every event recorded so far of `kind`.
    pub fn of_kind(&self, kind: &str) -> Vec<Value> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .filter(|(_, k, _)| *k == kind)
            .map(|(_, _, data)| data.clone())
            .collect()
    }

    /// Every event recorded so far, in order.
    pub fn all(&self) -> Vec<(Family, &'static str, Value)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl EventSink for Recorder {
    fn emit(&self, family: Family, kind: &'static str, data: Value) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((family, kind, data));
    }
}
