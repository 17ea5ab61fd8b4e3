//! A key/value collection: one LSM tree, or — when created with a
//! partitioning — one tree per partition of the key space:
//! - `hash:N` — by a stable hash of the key;
//! - `range:k1,k2,…` — keys `< k1`, `[k1, k2)`, …, `≥ kn` (byte order);
//! - `list:v1,v2,…` — by the key's first `:`-separated segment (`eu:42` is
//!   in partition `eu`), the last partition holding every other key.
//!
//! Each partition flushes and compacts on its own. A batch is atomic within
//! a partition; a batch spanning partitions is applied partition by
//! partition. Scans merge the partitions in key order.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::StorageError;
use crate::lsm::{KeyValue, Lsm, LsmOptions, LsmStats, Shared, write_atomically};

/// One write of a batch: a key and its new value (`None`: delete).
type Write<'a> = (&'a [u8], Option<&'a [u8]>);

/// Partitions one collection may have, whatever the scheme.
pub const MAX_KEY_PARTITIONS: usize = 256;

/// How a collection's keys are split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum KeyPartitioning {
    /// By hash of the key.
    Hash {
        /// Number of partitions.
        partitions: usize,
    },
    /// By key ranges; `bounds` strictly increasing.
    Range {
        /// Exclusive upper bounds of all partitions but the last.
        bounds: Vec<String>,
    },
    /// By the key's first `:` segment.
    List {
        /// One partition per value; one more for the rest.
        values: Vec<String>,
    },
}

impl KeyPartitioning {
    /// Parses `hash:8`, `range:g,p` or `list:eu,us`.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let bad = |why: &str| {
            StorageError::Invalid(format!(
                "partitioning '{text}': {why}; write hash:<n>, range:<k1>,<k2>,… or list:<v1>,<v2>,…"
            ))
        };
        let (kind, args) = text.split_once(':').ok_or_else(|| bad("no scheme"))?;
        let list: Vec<String> = args.split(',').map(|v| v.trim().to_owned()).collect();
        if list.iter().any(String::is_empty) {
            return Err(bad("empty value"));
        }
        // Every partition is a tree with a WAL and files held open: one
        // request must not be able to take the process's descriptors.
        if kind != "hash" && list.len() >= MAX_KEY_PARTITIONS {
            return Err(bad(&format!(
                "at most {MAX_KEY_PARTITIONS} partitions ({} values or bounds)",
                MAX_KEY_PARTITIONS - 1
            )));
        }
        if kind == "list" {
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = list.iter().find(|v| !seen.insert(v.as_str())) {
                return Err(bad(&format!("'{twice}' is listed twice")));
            }
        }
        match kind {
            "hash" => {
                let partitions: usize = args.parse().map_err(|_| bad("not a number"))?;
                if !(2..=MAX_KEY_PARTITIONS).contains(&partitions) {
                    return Err(bad(&format!("use 2 to {MAX_KEY_PARTITIONS} partitions")));
                }
                Ok(Self::Hash { partitions })
            }
            "range" if list.windows(2).all(|w| w[0] < w[1]) => Ok(Self::Range { bounds: list }),
            "range" => Err(bad("bounds must increase")),
            "list" => Ok(Self::List { values: list }),
            _ => Err(bad("unknown scheme")),
        }
    }

    fn partitions(&self) -> usize {
        match self {
            Self::Hash { partitions } => *partitions,
            Self::Range { bounds } => bounds.len() + 1,
            Self::List { values } => values.len() + 1,
        }
    }

    fn of(&self, key: &[u8]) -> usize {
        match self {
            Self::Hash { partitions } => {
                let hash = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
                (hash % *partitions as u64) as usize
            }
            Self::Range { bounds } => bounds.partition_point(|b| b.as_bytes() <= key),
            Self::List { values } => {
                let head = key.split(|&b| b == b':').next().unwrap_or_default();
                values
                    .iter()
                    .position(|v| v.as_bytes() == head)
                    .unwrap_or(values.len())
            }
        }
    }
}

/// A collection's figures: its trees', and its partitioning.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionStats {
    /// Name.
    pub name: String,
    /// How keys are split (absent: one tree).
    pub partitioning: Option<KeyPartitioning>,
    /// One entry per tree (partition).
    pub trees: Vec<LsmStats>,
}

/// An open collection.
#[derive(Debug)]
pub struct Collection {
    name: String,
    partitioning: Option<KeyPartitioning>,
    trees: Vec<Arc<Lsm>>,
    /// Held by every write, so that [`Collection::write_if`]'s check and
    /// its write are one step to every other writer of the collection.
    writes: Mutex<()>,
}

fn partitioning_file(dir: &Path) -> PathBuf {
    dir.join("PARTITIONING")
}

impl Collection {
    /// Opens the collection in `dir` (creating it, partitioned by
    /// `partitioning` if given and new).
    pub(crate) fn open(
        name: &str,
        dir: &Path,
        create_with: Option<KeyPartitioning>,
        options: LsmOptions,
        shared: Shared,
    ) -> Result<Self, StorageError> {
        let file = partitioning_file(dir);
        let partitioning: Option<KeyPartitioning> = match std::fs::read(&file) {
            Ok(bytes) => {
                Some(
                    serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                        what: "partitioning",
                        path: file.clone(),
                        detail: e.to_string(),
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(spec) = &create_with {
                    if dir.join("MANIFEST").exists() {
                        return Err(StorageError::Exists {
                            what: "unpartitioned collection",
                            name: name.to_owned(),
                        });
                    }
                    std::fs::create_dir_all(dir).map_err(StorageError::io("create", dir))?;
                    write_atomically(&file, &serde_json::to_vec(spec)?)?;
                }
                create_with
            }
            Err(e) => return Err(StorageError::io("read", &file)(e)),
        };
        let trees = match &partitioning {
            None => vec![Arc::new(Lsm::open(name, dir, options, shared)?)],
            Some(spec) => (0..spec.partitions())
                .map(|p| {
                    Lsm::open(
                        &format!("{name}/p{p}"),
                        &dir.join(format!("p{p}")),
                        options.clone(),
                        shared.clone(),
                    )
                    .map(Arc::new)
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            name: name.to_owned(),
            partitioning,
            trees,
            writes: Mutex::new(()),
        })
    }

    fn tree(&self, key: &[u8]) -> &Lsm {
        let p = self.partitioning.as_ref().map_or(0, |spec| spec.of(key));
        &self.trees[p.min(self.trees.len() - 1)]
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How its keys are split, if they are.
    pub fn partitioning(&self) -> Option<&KeyPartitioning> {
        self.partitioning.as_ref()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let _writing = self.writing();
        self.tree(key).put(key, value)
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &[u8]) -> Result<(), StorageError> {
        let _writing = self.writing();
        self.tree(key).delete(key)
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `batch` only if every key of `expect` holds the value given
    /// (`None`: the key is absent); answers whether it did. No other write
    /// to the collection comes between the check and the batch, which is
    /// what read-modify-write callers (counters, unique keys) need.
    pub fn write_if(
        &self,
        expect: &[(&[u8], Option<&[u8]>)],
        batch: &[(&[u8], Option<&[u8]>)],
    ) -> Result<bool, StorageError> {
        let _writing = self.writing();
        for &(key, value) in expect {
            if self.tree(key).get(key)?.as_deref() != value {
                return Ok(false);
            }
        }
        self.write_unlocked(batch)?;
        Ok(true)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.tree(key).get(key)
    }

    /// Applies a batch: atomically within each partition.
    pub fn write(&self, batch: &[(&[u8], Option<&[u8]>)]) -> Result<(), StorageError> {
        let _writing = self.writing();
        self.write_unlocked(batch)
    }

    fn write_unlocked(&self, batch: &[(&[u8], Option<&[u8]>)]) -> Result<(), StorageError> {
        if self.trees.len() == 1 {
            return self.trees[0].write(batch);
        }
        let mut parts: Vec<Vec<Write<'_>>> = vec![Vec::new(); self.trees.len()];
        for &(key, value) in batch {
            let p = self.partitioning.as_ref().map_or(0, |spec| spec.of(key));
            parts[p].push((key, value));
        }
        for (tree, part) in self.trees.iter().zip(&parts) {
            if !part.is_empty() {
                tree.write(part)?;
            }
        }
        Ok(())
    }

    /// Up to `limit` entries with key ≥ `start` beginning with `prefix`,
    /// in key order across partitions.
    pub fn scan(
        &self,
        start: &[u8],
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StorageError> {
        if let Some(KeyPartitioning::Range { .. }) | None = &self.partitioning {
            // Partitions hold consecutive key ranges: read them in order.
            let mut out = Vec::new();
            for tree in &self.trees {
                out.extend(tree.scan(start, prefix, limit - out.len())?);
                if out.len() >= limit {
                    break;
                }
            }
            return Ok(out);
        }
        let mut out = Vec::new();
        for tree in &self.trees {
            out.extend(tree.scan(start, prefix, limit)?);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit);
        Ok(out)
    }

    /// Flushes every partition's memtable.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.trees.iter().try_for_each(|t| t.flush())
    }

    /// Compacts every partition.
    pub fn compact(&self) -> Result<(), StorageError> {
        self.trees.iter().try_for_each(|t| t.compact())
    }

    /// Verifies every page of every partition.
    pub fn verify(&self) -> Vec<(PathBuf, u32)> {
        self.trees.iter().flat_map(|t| t.verify()).collect()
    }

    /// Ids of every segment of every partition.
    pub(crate) fn segment_ids(&self) -> Vec<u64> {
        self.trees.iter().flat_map(|t| t.segment_ids()).collect()
    }

    /// The collection's figures.
    pub fn stats(&self) -> CollectionStats {
        CollectionStats {
            name: self.name.clone(),
            partitioning: self.partitioning.clone(),
            trees: self.trees.iter().map(|t| t.stats()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_route_to_partitions_and_scans_merge_in_order() {
        for spec in ["hash:4", "range:k1,k2", "list:k1,k2"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let shared = Shared::new(1 << 20, crate::events::Events::none());
            let options = LsmOptions {
                memtable_bytes: 8 << 10,
                sync: crate::wal::SyncPolicy::Never,
                ..LsmOptions::default()
            };
            let spec = KeyPartitioning::parse(spec).expect("parses");
            let collection = Collection::open(
                "c",
                dir.path(),
                Some(spec.clone()),
                options.clone(),
                shared.clone(),
            )
            .expect("open");
            for i in 0..300u32 {
                let key = format!("k{}:{i:03}", i % 3);
                collection
                    .put(key.as_bytes(), &i.to_le_bytes())
                    .expect("put");
            }
            collection.flush().expect("flush");
            let all = collection.scan(b"", b"", 1000).expect("scan");
            assert_eq!(all.len(), 300, "{spec:?}");
            assert!(
                all.windows(2).all(|w| w[0].0 < w[1].0),
                "{spec:?}: out of order"
            );
            let from = collection.scan(b"k1:", b"", 5).expect("scan");
            assert_eq!(from[0].0, b"k1:001", "{spec:?}");
            assert_eq!(collection.scan(b"", b"k2:", 1000).expect("scan").len(), 100);
            let stats = collection.stats();
            let used = stats
                .trees
                .iter()
                .filter(|t| t.levels[0].tables > 0)
                .count();
            assert!(used >= 3, "{spec:?}: {used} partitions hold data");
            drop(collection);
            // Reopened without a spec: the stored one applies.
            let again = Collection::open("c", dir.path(), None, options, shared).expect("reopen");
            assert_eq!(again.partitioning(), Some(&spec));
            assert_eq!(
                again.get(b"k2:299").expect("get"),
                Some(299u32.to_le_bytes().to_vec())
            );
        }
    }

    #[test]
    fn every_scheme_is_capped_before_anything_is_created() {
        let many = (0..12_000)
            .map(|i| format!("v{i}"))
            .collect::<Vec<_>>()
            .join(",");
        for scheme in [
            format!("list:{many}"),
            format!("range:{many}"),
            "hash:100000".to_owned(),
        ] {
            let refused = KeyPartitioning::parse(&scheme)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(refused.contains("256"), "{refused}");
        }
        let most = (0..255)
            .map(|i| format!("v{i:03}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(KeyPartitioning::parse(&format!("list:{most}")).is_ok());
        assert!(
            KeyPartitioning::parse("list:eu,us,eu").is_err(),
            "a value twice"
        );
    }
}
