//! The query cache: answers kept in a collection of the engine's own,
//! keyed by the normalised query (and the rows asked for), each with the
//! versions of the datasets it read. An answer is served only while every
//! one of those datasets still has that version, so an upload, an append
//! or a drop invalidates it; the cache is bounded in bytes and evicts the
//! least recently used answers first.
//!
//! Layout of collection `query-cache`: `r/<key>` the answer, `i/<key>` its
//! size and last use (what eviction scans, small), `stats` the counters.
//! Concurrent jobs may race on an entry (the last writer wins: both wrote
//! a correct answer); counters are updated compare-and-set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_sdk::{Host, StorageFailure};

use crate::AnalyticsError;

/// The collection the cache lives in.
const COLLECTION: &str = "query-cache";
/// Bytes of answers kept, in all.
pub const CAPACITY_BYTES: u64 = 64 << 20;
/// Largest answer kept (bigger ones are not worth a slot).
pub const MAX_ENTRY_BYTES: u64 = 8 << 20;

/// One cached answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The normalised query.
    pub query: String,
    /// Dataset → the version the answer was computed at.
    pub datasets: BTreeMap<String, u64>,
    /// The answer.
    pub answer: Value,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Slot {
    bytes: u64,
    last_used_ms: i64,
}

/// The counters, as `cache_event` and `cache_stats` report them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Queries the cache could not answer (including invalidated ones).
    pub misses: u64,
    /// Misses because a dataset changed since the answer was kept.
    pub invalidations: u64,
    /// Answers evicted to make room.
    pub evictions: u64,
    /// Answers stored.
    pub updates: u64,
}

impl Stats {
    /// Hits over lookups, 0 before any.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A current answer.
    Hit(Entry),
    /// An answer computed before `dataset` changed.
    Stale {
        /// The dataset whose version moved.
        dataset: String,
    },
    /// Nothing kept.
    Miss,
}

/// The cache over `host`'s storage.
pub struct QueryCache<'h> {
    host: &'h dyn Host,
}

fn storage(e: StorageFailure) -> AnalyticsError {
    AnalyticsError::from(e)
}

/// A stable 64-bit FNV-1a of `text`, as hex: an entry's key.
pub fn key_of(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

impl<'h> QueryCache<'h> {
    /// The cache of the job's tenant.
    pub fn new(host: &'h dyn Host) -> Self {
        Self { host }
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, AnalyticsError> {
        match self.host.collection_get(COLLECTION, key.as_bytes()) {
            Ok(Some(bytes)) => Ok(serde_json::from_slice(&bytes).ok()),
            Ok(None) | Err(StorageFailure::NotFound(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// The entry at `key` if each dataset it read still has its version
    /// (`version_of` answers a dataset's current one).
    pub fn lookup(
        &self,
        key: &str,
        version_of: &dyn Fn(&str) -> Option<u64>,
    ) -> Result<Lookup, AnalyticsError> {
        let Some(entry) = self.get_json::<Entry>(&format!("r/{key}"))? else {
            return Ok(Lookup::Miss);
        };
        for (dataset, version) in &entry.datasets {
            if version_of(dataset) != Some(*version) {
                return Ok(Lookup::Stale {
                    dataset: dataset.clone(),
                });
            }
        }
        Ok(Lookup::Hit(entry))
    }

    /// Marks `key` used now (LRU order).
    pub fn touch(&self, key: &str, bytes: u64) -> Result<(), AnalyticsError> {
        let slot = Slot {
            bytes,
            last_used_ms: weft_sdk::now_ms(),
        };
        self.put_json(&format!("i/{key}"), &slot)
    }

    fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AnalyticsError> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
        self.host
            .collection_put(COLLECTION, key.as_bytes(), &bytes)
            .map_err(storage)
    }

    /// Stores `entry` at `key`, evicting least recently used answers until
    /// it fits; answers the keys evicted, or `None` when the entry is too
    /// big to keep.
    pub fn store(&self, key: &str, entry: &Entry) -> Result<Option<Vec<String>>, AnalyticsError> {
        let bytes =
            serde_json::to_vec(entry).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
        let size = bytes.len() as u64;
        if size > MAX_ENTRY_BYTES {
            return Ok(None);
        }
        let mut slots = self.slots()?;
        slots.retain(|(k, _)| k != key);
        let mut used: u64 = slots.iter().map(|(_, s)| s.bytes).sum();
        slots.sort_by_key(|(k, s)| (s.last_used_ms, k.clone()));
        let mut evicted = Vec::new();
        let mut batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (old, slot) in &slots {
            if used + size <= CAPACITY_BYTES {
                break;
            }
            used -= slot.bytes;
            batch.push((format!("r/{old}").into_bytes(), None));
            batch.push((format!("i/{old}").into_bytes(), None));
            evicted.push(old.clone());
        }
        let slot = Slot {
            bytes: size,
            last_used_ms: weft_sdk::now_ms(),
        };
        let slot = serde_json::to_vec(&slot).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
        batch.push((format!("r/{key}").into_bytes(), Some(bytes)));
        batch.push((format!("i/{key}").into_bytes(), Some(slot)));
        self.host
            .collection_write_batch(COLLECTION, &batch)
            .map_err(storage)?;
        Ok(Some(evicted))
    }

    /// Every entry's key and slot.
    fn slots(&self) -> Result<Vec<(String, Slot)>, AnalyticsError> {
        let mut out = Vec::new();
        let mut start = b"i/".to_vec();
        loop {
            let page =
                match self
                    .host
                    .collection_scan_page(COLLECTION, &start, b"i/", 1_000, 1 << 20)
                {
                    Ok(page) => page,
                    Err(StorageFailure::NotFound(_)) => return Ok(out),
                    Err(e) => return Err(storage(e)),
                };
            for (k, v) in page.entries {
                let key = String::from_utf8_lossy(&k[2..]).into_owned();
                out.push((key, serde_json::from_slice(&v).unwrap_or_default()));
            }
            match page.next {
                Some(next) => start = next,
                None => return Ok(out),
            }
        }
    }

    /// Entries kept and their bytes.
    pub fn size(&self) -> Result<(usize, u64), AnalyticsError> {
        let slots = self.slots()?;
        Ok((slots.len(), slots.iter().map(|(_, s)| s.bytes).sum()))
    }

    /// The counters.
    pub fn stats(&self) -> Result<Stats, AnalyticsError> {
        Ok(self.get_json("stats")?.unwrap_or_default())
    }

    /// Applies `change` to the counters, compare-and-set so concurrent
    /// jobs lose no count.
    pub fn count(&self, change: impl Fn(&mut Stats)) -> Result<Stats, AnalyticsError> {
        for _ in 0..16 {
            let before = match self.host.collection_get(COLLECTION, b"stats") {
                Ok(v) => v,
                Err(StorageFailure::NotFound(_)) => None,
                Err(e) => return Err(storage(e)),
            };
            let mut stats: Stats = before
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            change(&mut stats);
            let after =
                serde_json::to_vec(&stats).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
            let expect = [(b"stats".to_vec(), before)];
            let batch = [(b"stats".to_vec(), Some(after))];
            match self
                .host
                .collection_write_batch_if(COLLECTION, &expect, &batch)
            {
                Ok(true) => return Ok(stats),
                Ok(false) => continue,
                // A host without conditional batches: a plain write.
                Err(StorageFailure::NotFound(_)) | Err(StorageFailure::Failed(_)) => {
                    self.host
                        .collection_write_batch(COLLECTION, &batch)
                        .map_err(storage)?;
                    return Ok(stats);
                }
                Err(e) => return Err(storage(e)),
            }
        }
        Err(AnalyticsError::Storage(
            "the cache counters kept changing under this job; try again".into(),
        ))
    }

    /// Drops every entry (counters stay); answers how many there were.
    pub fn clear(&self) -> Result<usize, AnalyticsError> {
        let slots = self.slots()?;
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = slots
            .iter()
            .flat_map(|(k, _)| [format!("r/{k}").into_bytes(), format!("i/{k}").into_bytes()])
            .map(|k| (k, None))
            .collect();
        for part in batch.chunks(5_000) {
            self.host
                .collection_write_batch(COLLECTION, part)
                .map_err(storage)?;
        }
        Ok(slots.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weft_sdk::RecordingHost;

    fn entry(dataset: &str, version: u64, answer: Value) -> Entry {
        Entry {
            query: "SELECT 1".into(),
            datasets: BTreeMap::from([(dataset.to_owned(), version)]),
            answer,
        }
    }

    #[test]
    fn an_answer_is_served_while_its_datasets_keep_their_versions() -> Result<(), AnalyticsError> {
        let host = RecordingHost::new();
        let cache = QueryCache::new(&host);
        assert!(matches!(cache.lookup("k", &|_| Some(1))?, Lookup::Miss));
        cache.store("k", &entry("d", 1, json!({"rows": [[1]]})))?;
        assert!(
            matches!(cache.lookup("k", &|_| Some(1))?, Lookup::Hit(e) if e.answer["rows"] == json!([[1]]))
        );
        assert!(
            matches!(cache.lookup("k", &|_| Some(2))?, Lookup::Stale { dataset } if dataset == "d")
        );
        assert!(
            matches!(cache.lookup("k", &|_| None)?, Lookup::Stale { .. }),
            "dropped"
        );
        assert_eq!(cache.size()?.0, 1);
        assert_eq!(cache.clear()?, 1);
        assert!(matches!(cache.lookup("k", &|_| Some(1))?, Lookup::Miss));
        Ok(())
    }

    #[test]
    fn counters_add_up() -> Result<(), AnalyticsError> {
        let host = RecordingHost::new();
        let cache = QueryCache::new(&host);
        cache.count(|s| s.misses += 1)?;
        let stats = cache.count(|s| s.hits += 3)?;
        assert_eq!((stats.hits, stats.misses), (3, 1));
        assert_eq!(stats.hit_rate(), 0.75);
        Ok(())
    }

    #[test]
    fn the_least_recently_used_answers_go_first() -> Result<(), AnalyticsError> {
        let host = RecordingHost::new();
        let cache = QueryCache::new(&host);
        let big = "x".repeat((MAX_ENTRY_BYTES - 1_000) as usize);
        let per = CAPACITY_BYTES / (MAX_ENTRY_BYTES - 1_000) + 1;
        let mut evicted = Vec::new();
        for i in 0..per + 1 {
            if let Some(gone) = cache.store(&format!("k{i:02}"), &entry("d", 1, json!(big)))? {
                evicted.extend(gone);
            }
        }
        assert_eq!(
            evicted.first().map(String::as_str),
            Some("k00"),
            "{evicted:?}"
        );
        let (_, bytes) = cache.size()?;
        assert!(bytes <= CAPACITY_BYTES);
        let too_big = "x".repeat(MAX_ENTRY_BYTES as usize + 1);
        assert!(
            cache
                .store("huge", &entry("d", 1, json!(too_big)))?
                .is_none()
        );
        Ok(())
    }
}
