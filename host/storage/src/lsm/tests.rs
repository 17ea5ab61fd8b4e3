//! The tree against a `BTreeMap` model, across flushes, compactions and
//! reopenings.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::events::Recorder;

fn shared(recorder: Option<Arc<Recorder>>) -> Shared {
    let events = recorder.map_or_else(Events::none, |r| Events::new(r));
    Shared::new(64 * crate::page::PAGE_SIZE, events)
}

fn small() -> LsmOptions {
    LsmOptions {
        memtable_bytes: 16 << 10,
        level0_tables: 3,
        level1_bytes: 64 << 10,
        table_bytes: 24 << 10,
        sync: SyncPolicy::Never,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(u16, usize),
    Delete(u16),
    Flush,
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0u16..400, prop_oneof![0usize..40, 2000usize..9000]).prop_map(|(k, n)| Op::Put(k, n)),
        6 => (0u16..400).prop_map(Op::Delete),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn key(k: u16) -> Vec<u8> {
    format!("key-{k:05}").into_bytes()
}

fn value(k: u16, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_add(k as u8)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn reads_back_what_was_written(ops in prop::collection::vec(op(), 1..400)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || Lsm::open("t", dir.path(), small(), shared(None)).expect("open");
        let mut tree = open();
        let mut model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(k, n) => {
                    tree.put(&key(k), &value(k, n)).expect("put");
                    model.insert(key(k), value(k, n));
                }
                Op::Delete(k) => {
                    tree.delete(&key(k)).expect("delete");
                    model.remove(&key(k));
                }
                Op::Flush => tree.flush().expect("flush"),
                Op::Compact => tree.compact().expect("compact"),
                Op::Reopen => {
                    drop(tree);
                    tree = open();
                }
            }
        }
        for k in 0..400u16 {
            prop_assert_eq!(tree.get(&key(k)).expect("get"), model.get(&key(k)).cloned());
        }
        let all = tree.scan(b"", b"", usize::MAX).expect("scan");
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
        prop_assert_eq!(all, expected);
        prop_assert!(tree.verify().is_empty());
    }
}

#[test]
fn flushes_and_compactions_report_events_and_keep_levels_sorted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Arc::new(Recorder::default());
    let tree = Lsm::open(
        "events",
        dir.path(),
        small(),
        shared(Some(recorder.clone())),
    )
    .expect("open");
    for i in 0..6000u32 {
        // Interleaved keys so every table overlaps every other.
        let k = format!("k{:06}", (i * 7919) % 6000);
        tree.put(k.as_bytes(), &[b'x'; 100]).expect("put");
    }
    let stats = tree.stats();
    assert!(stats.flushes >= 10, "{stats:?}");
    assert!(stats.compactions >= 1, "{stats:?}");
    assert!(!recorder.of_kind("memtable_flushed").is_empty());
    let started = recorder.of_kind("compaction_started");
    let completed = recorder.of_kind("compaction_completed");
    assert_eq!(started.len(), completed.len());
    assert!(completed.iter().all(|e| e["bytes_out"].as_u64() > Some(0)));
    let levels = tree.read_state().levels.clone();
    for level in &levels[1..] {
        for pair in level.windows(2) {
            assert!(
                pair[0].info.max_key < pair[1].info.min_key,
                "level tables overlap"
            );
        }
    }
    assert_eq!(tree.scan(b"", b"k", usize::MAX).expect("scan").len(), 6000);
    assert_eq!(
        tree.scan(b"", b"k0001", usize::MAX).expect("scan").len(),
        100
    );
}

#[test]
fn rejects_oversized_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = Lsm::open("t", dir.path(), small(), shared(None)).expect("open");
    assert!(matches!(
        tree.put(&[b'k'; MAX_KEY + 1], b"v"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(tree.put(b"", b"v"), Err(StorageError::Invalid(_))));
}

#[test]
fn a_table_with_nothing_below_moves_down_a_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorder = Arc::new(Recorder::default());
    let options = LsmOptions {
        level1_bytes: 32 << 10,
        ..small()
    };
    let tree = Lsm::open(
        "migrate",
        dir.path(),
        options,
        shared(Some(recorder.clone())),
    )
    .expect("open");
    // Ascending keys: every new table lies past the ones below it.
    for i in 0..8000u32 {
        tree.put(format!("k{i:06}").as_bytes(), &[b'y'; 60])
            .expect("put");
    }
    let migrations = recorder.of_kind("level_migration");
    assert!(!migrations.is_empty(), "{:?}", tree.stats());
    assert_eq!(
        migrations[0]["to_level"],
        migrations[0]["from_level"]
            .as_u64()
            .map(|l| l + 1)
            .unwrap_or(0)
    );
    assert_eq!(tree.scan(b"", b"", usize::MAX).expect("scan").len(), 8000);
}
