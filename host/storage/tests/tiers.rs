//! The tier policy: idle segments move to the cold tier (compressed), come
//! back on their next read, and every move is an event; an interrupted move
//! leaves a store that opens with nothing lost.

use std::sync::Arc;
use std::time::Duration;

use weft_storage::columnar::{ColumnType, Field, Values};
use weft_storage::events::{EventSink, Recorder};
use weft_storage::{Store, StoreOptions};

fn files_with(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_with(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    out
}

#[test]
fn idle_segments_go_cold_and_come_back_on_read() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let recorder = Arc::new(Recorder::default());
    let sink = Some(recorder.clone() as Arc<dyn EventSink>);
    let store = Store::open(dir.path(), StoreOptions::default(), sink.clone())?;
    let tree = store.collection("t", "kv", true)?;
    for i in 0..2000u32 {
        tree.put(
            format!("key-{i:05}").as_bytes(),
            format!("value-{i}").repeat(5).as_bytes(),
        )?;
    }
    tree.flush()?;
    let dataset = store.create_dataset(
        "t",
        "d",
        vec![Field {
            name: "x".into(),
            kind: ColumnType::I64,
        }],
    )?;
    dataset.append(vec![(Values::I64((0..5000).collect()), Vec::new())])?;

    assert_eq!(
        store.migrate_tiers(Duration::from_secs(3600))?,
        0,
        "nothing is idle yet"
    );
    let moved = store.migrate_tiers(Duration::ZERO)?;
    assert_eq!(moved, 2, "one table, one dataset chunk");
    let tiers = store.stats().tiers;
    assert_eq!((tiers.cold_segments, tiers.warm_segments), (2, 0));
    assert!(tiers.cold_bytes > 0);
    assert_eq!(files_with(dir.path(), ".sst").len(), 0);
    assert_eq!(files_with(dir.path(), ".sst.lz4").len(), 1);
    let frozen = recorder.of_kind("page_migrated");
    assert_eq!(frozen.len(), 2);
    assert_eq!(
        (frozen[0]["from"].as_str(), frozen[0]["to"].as_str()),
        (Some("warm"), Some("cold"))
    );
    assert!(
        frozen[0]["bytes_after"].as_u64() < frozen[0]["bytes_before"].as_u64(),
        "compressed"
    );
    drop((tree, dataset, store));

    // A fresh process: the segments open cold and thaw on first read.
    let store = Store::open(dir.path(), StoreOptions::default(), sink)?;
    let tree = store.collection("t", "kv", false)?;
    assert_eq!(
        tree.get(b"key-01234")?,
        Some("value-1234".repeat(5).into_bytes())
    );
    let chunk = store.dataset("t", "d")?.read_chunk("x", 0)?;
    assert_eq!(chunk.values, Values::I64((0..5000).collect()));
    let thawed: Vec<_> = recorder
        .of_kind("page_migrated")
        .into_iter()
        .filter(|e| e["to"] == "warm")
        .collect();
    assert_eq!(thawed.len(), 2);
    assert_eq!(files_with(dir.path(), ".lz4").len(), 0);
    assert!(store.verify("t")?.is_empty());
    Ok(())
}

#[test]
fn an_interrupted_move_keeps_the_uncompressed_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(dir.path(), StoreOptions::default(), None)?;
        let tree = store.collection("t", "kv", true)?;
        tree.put(b"k", b"v")?;
        tree.flush()?;
    }
    // A crash after the compressed copy was renamed into place, before the
    // original was removed: both files exist, the copy may be stale.
    let table = files_with(dir.path(), ".sst")
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a table"))?;
    let mut copy = table.as_os_str().to_owned();
    copy.push(".lz4");
    std::fs::write(&copy, b"half-written")?;
    let store = Store::open(dir.path(), StoreOptions::default(), None)?;
    assert_eq!(
        store.collection("t", "kv", false)?.get(b"k")?,
        Some(b"v".to_vec())
    );
    assert!(
        !std::path::Path::new(&copy).exists(),
        "the leftover copy is removed"
    );
    Ok(())
}
