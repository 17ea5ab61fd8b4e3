//! Host storage against the raw disk it sits on, measured in the same run:
//! - durable writes (fsync policy `always`) against a plain `write` +
//!   `fdatasync` per record, one writer and eight (group commit);
//! - bulk writes (policy `never`) against a buffered `write` loop;
//! - random point reads against a `pread` at a random offset (page cache);
//! - a full key scan and a dataset column scan against reading the same
//!   bytes sequentially from one plain file.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Instant;

use weft_storage::columnar::{ColumnType, Field, Values};
use weft_storage::lsm::LsmOptions;
use weft_storage::wal::SyncPolicy;
use weft_storage::{Store, StoreOptions};

use crate::stats::{Row, Sample};

const VALUE: [u8; 100] = [b'v'; 100];

fn store(dir: &std::path::Path, sync: SyncPolicy) -> anyhow::Result<Store> {
    let options = StoreOptions {
        pool_bytes: 256 << 20,
        lsm: LsmOptions {
            sync,
            ..LsmOptions::default()
        },
        ..StoreOptions::default()
    };
    Ok(Store::open(dir, options, None)?)
}

/// Per-record time of `n` writes of key+value with an fdatasync each.
fn raw_durable(dir: &std::path::Path, n: usize) -> anyhow::Result<Sample> {
    let file = std::fs::File::create(dir.join("raw.log"))?;
    let mut sample = Sample::default();
    let mut offset = 0u64;
    for i in 0..n {
        let record = format!("key-{i:08}{}", String::from_utf8_lossy(&VALUE));
        let started = Instant::now();
        file.write_all_at(record.as_bytes(), offset)?;
        file.sync_data()?;
        sample.push(started.elapsed());
        offset += record.len() as u64;
    }
    Ok(sample)
}

fn durable_writes() -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let n = 1_000;
    let baseline = raw_durable(dir.path(), n)?;
    let store = store(&dir.path().join("one"), SyncPolicy::Always)?;
    let tree = store.collection("bench", "durable", true)?;
    let mut one = Sample::default();
    for i in 0..n {
        let key = format!("key-{i:08}");
        let started = Instant::now();
        tree.put(key.as_bytes(), &VALUE)?;
        one.push(started.elapsed());
    }
    // Eight writers: group commit shares each fdatasync.
    let store = Arc::new(self::store(&dir.path().join("eight"), SyncPolicy::Always)?);
    let tree = store.collection("bench", "durable", true)?;
    let started = Instant::now();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let tree = tree.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in 0..n / 8 {
                    tree.put(format!("key-{w}-{i:08}").as_bytes(), &VALUE)?;
                }
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    let per_write = started.elapsed() / n as u32;
    Ok(vec![
        Row::versus(
            "storage: durable put, 1 writer (fsync always)",
            one,
            "write+fdatasync per record",
            baseline.clone(),
        ),
        Row::versus(
            "storage: durable put, 8 writers, time per write (group commit)",
            Sample::of(per_write),
            "write+fdatasync per record",
            baseline,
        ),
    ])
}

fn bulk_and_reads() -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let n = 200_000usize;
    // Baseline: a buffered sequential write of the same records.
    let raw_path = dir.path().join("raw.dat");
    let started = Instant::now();
    let mut raw = std::io::BufWriter::new(std::fs::File::create(&raw_path)?);
    for i in 0..n {
        write!(raw, "key-{i:08}")?;
        raw.write_all(&VALUE)?;
    }
    raw.flush()?;
    drop(raw);
    let raw_write = Sample::of(started.elapsed() / n as u32);

    let store = store(&dir.path().join("store"), SyncPolicy::Never)?;
    let tree = store.collection("bench", "bulk", true)?;
    let started = Instant::now();
    for i in 0..n {
        tree.put(format!("key-{i:08}").as_bytes(), &VALUE)?;
    }
    tree.flush()?;
    let weft_write = Sample::of(started.elapsed() / n as u32);

    // Random point reads (pool warmed by one pass) vs pread.
    let file = std::fs::File::open(&raw_path)?;
    let record = 12 + VALUE.len();
    let mut buf = vec![0u8; record];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for i in 0..n {
        tree.get(format!("key-{i:08}").as_bytes())?;
    }
    let (mut weft_get, mut raw_get) = (Sample::default(), Sample::default());
    for _ in 0..20_000 {
        let i = next();
        let key = format!("key-{i:08}");
        let started = Instant::now();
        let found = tree.get(key.as_bytes())?;
        weft_get.push(started.elapsed());
        anyhow::ensure!(found.is_some(), "{key} missing");
        let started = Instant::now();
        file.read_exact_at(&mut buf, (i * record) as u64)?;
        raw_get.push(started.elapsed());
    }

    // Full scan vs a sequential read of the raw file.
    let started = Instant::now();
    let all = tree.scan(b"", b"", usize::MAX)?;
    let weft_scan = started.elapsed();
    anyhow::ensure!(all.len() == n);
    let started = Instant::now();
    let bytes = std::fs::read(&raw_path)?;
    let checksum: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
    let raw_scan = started.elapsed();
    anyhow::ensure!(checksum > 0);
    Ok(vec![
        Row::versus(
            "storage: bulk put, 200k × 100 B (fsync never), per write",
            weft_write,
            "buffered write per record",
            raw_write,
        ),
        Row::versus(
            "storage: random get, 200k keys, warm pool",
            weft_get,
            "pread at a random offset",
            raw_get,
        ),
        Row::versus(
            "storage: full key scan, 200k entries",
            Sample::of(weft_scan),
            "read the raw file + byte sum",
            Sample::of(raw_scan),
        ),
    ])
}

fn column_scan() -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let rows = 4_000_000usize;
    let values: Vec<f64> = (0..rows).map(|i| (i as f64 * 0.001).sin()).collect();
    let raw_path = dir.path().join("column.f64");
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&raw_path, &bytes)?;
    let store = store(&dir.path().join("store"), SyncPolicy::Never)?;
    let schema = vec![Field {
        name: "x".into(),
        kind: ColumnType::F64,
    }];
    let dataset = store.create_dataset("bench", "column", schema)?;
    for chunk in values.chunks(weft_storage::columnar::CHUNK_ROWS) {
        dataset.append(vec![(Values::F64(chunk.to_vec()), Vec::new())])?;
    }
    let (mut weft, mut raw) = (Sample::default(), Sample::default());
    for _ in 0..5 {
        let started = Instant::now();
        let mut sum = 0.0;
        dataset.scan("x", |slice| {
            if let Values::F64(v) = &slice.values {
                sum += v.iter().sum::<f64>();
            }
            Ok(())
        })?;
        weft.push(started.elapsed());
        let started = Instant::now();
        let bytes = std::fs::read(&raw_path)?;
        let raw_sum: f64 = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .sum();
        raw.push(started.elapsed());
        anyhow::ensure!(
            (sum - raw_sum).abs() < 1e-6 * raw_sum.abs().max(1.0),
            "sums differ"
        );
    }
    Ok(vec![Row::versus(
        "storage: dataset column scan + sum, 4M f64",
        weft,
        "read a plain f64 file + sum",
        raw,
    )])
}

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let mut rows = durable_writes()?;
    rows.extend(bulk_and_reads()?);
    rows.extend(column_scan()?);
    Ok(rows)
}
