//! Corruption: bytes flipped in a segment file yield a `checksum_failure`
//! event and a clear error for the damaged page; everything else stays
//! readable.

use std::sync::Arc;

use anyhow::Context;
use weft_storage::columnar::{ColumnType, Field, Values};
use weft_storage::events::{EventSink, Recorder};
use weft_storage::page::PAGE_SIZE;
use weft_storage::{StorageError, Store, StoreOptions};

fn flip(path: &std::path::Path, offset: usize) -> anyhow::Result<()> {
    let mut bytes = std::fs::read(path)?;
    bytes[offset] ^= 0x5a;
    std::fs::write(path, bytes)?;
    Ok(())
}

fn files(dir: &std::path::Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    found.sort();
    found
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

#[test]
fn a_damaged_table_page_fails_alone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(dir.path(), StoreOptions::default(), None)?;
        let tree = store.collection("t", "kv", true)?;
        for i in 0..5000u32 {
            tree.put(
                format!("key-{i:05}").as_bytes(),
                format!("value-{i}").as_bytes(),
            )?;
        }
        tree.flush()?;
    }
    let table = files(dir.path(), "sst")
        .into_iter()
        .next()
        .context("a table file")?;
    // Damage data page 3 (the first pages hold keys in order).
    flip(&table, 3 * PAGE_SIZE + PAGE_SIZE / 2)?;

    let recorder = Arc::new(Recorder::default());
    let store = Store::open(
        dir.path(),
        StoreOptions::default(),
        Some(recorder.clone() as Arc<dyn EventSink>),
    )?;
    let tree = store.collection("t", "kv", false)?;
    let mut failed = Vec::new();
    for i in 0..5000u32 {
        match tree.get(format!("key-{i:05}").as_bytes()) {
            Ok(Some(v)) => anyhow::ensure!(
                v == format!("value-{i}").into_bytes(),
                "key {i}: wrong value"
            ),
            Ok(None) => anyhow::bail!("key {i} vanished"),
            Err(StorageError::Checksum { page, .. }) => {
                anyhow::ensure!(page == 3, "error names page {page}");
                failed.push(i);
            }
            Err(other) => anyhow::bail!("key {i}: unexpected error {other}"),
        }
    }
    anyhow::ensure!(
        !failed.is_empty() && failed.len() < 500,
        "{} keys failed (one page holds ~330)",
        failed.len()
    );
    let events = recorder.of_kind("checksum_failure");
    anyhow::ensure!(!events.is_empty(), "no checksum_failure event");
    anyhow::ensure!(events[0]["page"] == 3, "event: {}", events[0]);
    let damaged = store.verify("t")?;
    anyhow::ensure!(
        damaged.len() == 1 && damaged[0].1 == 3,
        "scan found {damaged:?}"
    );
    Ok(())
}

#[test]
fn a_damaged_column_chunk_fails_alone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let rows = 1000usize;
    {
        let store = Store::open(dir.path(), StoreOptions::default(), None)?;
        let schema = vec![Field {
            name: "x".into(),
            kind: ColumnType::F64,
        }];
        let dataset = store.create_dataset("t", "d", schema)?;
        for chunk in 0..3 {
            let values: Vec<f64> = (0..rows).map(|i| (chunk * rows + i) as f64 * 0.5).collect();
            dataset.append(vec![(Values::F64(values), Vec::new())])?;
        }
    }
    let segments = files(dir.path(), "seg");
    anyhow::ensure!(segments.len() == 3, "one segment per chunk: {segments:?}");
    flip(&segments[1], 100)?;
    let store = Store::open(dir.path(), StoreOptions::default(), None)?;
    let dataset = store.dataset("t", "d")?;
    anyhow::ensure!(matches!(
        dataset.read_chunk("x", 1),
        Err(StorageError::Checksum { .. })
    ));
    for chunk in [0usize, 2] {
        let slice = dataset.read_chunk("x", chunk)?;
        let Values::F64(v) = slice.values else {
            anyhow::bail!("wrong type")
        };
        anyhow::ensure!(v[10] == (chunk * rows + 10) as f64 * 0.5);
    }
    Ok(())
}
