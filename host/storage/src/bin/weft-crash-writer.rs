//! A writer for the crash test (`tests/crash.rs`): opens a collection
//! store at `<dir>`, writes keys `<run>-<n>` with values derived from the
//! key until killed, and prints `ack <n>` after each write returns — so
//! every printed number is a write the store acknowledged.
//!
//! Usage: `weft-crash-writer <dir> <run>`

use std::io::Write;

use anyhow::Context;
use weft_storage::lsm::LsmOptions;
use weft_storage::wal::SyncPolicy;
use weft_storage::{Store, StoreOptions};

#[path = "../../tests/common/crash_value.rs"]
mod crash_value;
use crash_value::value_for;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .context("usage: weft-crash-writer <dir> <run>")?;
    let run = args
        .next()
        .context("usage: weft-crash-writer <dir> <run>")?;
    let options = StoreOptions {
        pool_bytes: 1 << 20,
        lsm: LsmOptions {
            // Small, so flushes and compactions happen often and a kill
            // lands in the middle of them.
            memtable_bytes: 32 << 10,
            level0_tables: 3,
            level1_bytes: 128 << 10,
            table_bytes: 48 << 10,
            sync: SyncPolicy::Always,
        },
        ..StoreOptions::default()
    };
    let store = Store::open(dir.as_ref(), options, None).context("open store")?;
    let tree = store
        .collection("crash", "kv", true)
        .context("open collection")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for n in 0u64.. {
        let key = format!("{run}-{n}");
        tree.put(key.as_bytes(), &value_for(&key)).context("put")?;
        writeln!(out, "ack {n}").context("report")?;
        out.flush().context("report")?;
    }
    Ok(())
}
