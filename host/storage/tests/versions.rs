//! Dataset versions and chunk statistics: a version changes with every
//! append and when a dataset is replaced, survives a reopen unchanged, and
//! chunk statistics come from metadata (what caches and zone maps stand on).

use weft_storage::columnar::{ColumnType, Field, Values};
use weft_storage::{StagedDataset, Store, StoreOptions};

fn schema() -> Vec<Field> {
    vec![Field {
        name: "x".into(),
        kind: ColumnType::I64,
    }]
}

#[test]
fn a_version_changes_with_the_contents_and_only_then() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default(), None)?;
    let dataset = store.create_dataset("t", "d", schema())?;
    let empty = dataset.version();
    dataset.append(vec![(Values::I64((0..10).collect()), Vec::new())])?;
    let one = dataset.version();
    assert_ne!(empty, one, "an append is a new version");
    assert_eq!(one, dataset.version(), "reading changes nothing");
    dataset.append(vec![(Values::I64(vec![-5, 40]), vec![true, false])])?;
    let two = dataset.version();
    assert_ne!(one, two);

    let stats = dataset.chunk_stats("x", 1)?;
    assert_eq!(
        (stats.rows, stats.nulls, stats.min, stats.max),
        (2, 1, Some(-5.0), Some(-5.0))
    );
    assert!(dataset.chunk_stats("y", 0).is_err(), "no such column");
    assert!(dataset.chunk_stats("x", 9).is_err(), "no such chunk");

    drop(dataset);
    drop(store);
    let store = std::sync::Arc::new(Store::open(dir.path(), StoreOptions::default(), None)?);
    assert_eq!(
        store.dataset("t", "d")?.version(),
        two,
        "a reopen keeps the version"
    );

    // Replaced by an upload with the very same rows: still a new version.
    let staged = StagedDataset::create(store.clone(), "t", "d", schema(), true)?;
    staged.append(vec![(Values::I64((0..10).collect()), Vec::new())])?;
    staged.append(vec![(Values::I64(vec![-5, 40]), vec![true, false])])?;
    let replaced = staged.commit()?;
    assert_ne!(replaced.version(), two, "a replacement is a new version");
    assert_eq!(store.dataset("t", "d")?.version(), replaced.version());
    Ok(())
}
