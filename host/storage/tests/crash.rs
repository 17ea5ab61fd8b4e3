//! Crash safety: a writer process is `kill -9`ed at a random moment, 50
//! times in a row on the same store; after each kill every write it
//! acknowledged is readable with the right value, and every page of every
//! table passes its checksum.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use weft_storage::{Store, StoreOptions};

mod common {
    pub(crate) mod crash_value;
}
use common::crash_value::value_for;

#[test]
fn acknowledged_writes_survive_kill_9() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rand::rng();
    let mut acknowledged: Vec<(u32, u64)> = Vec::new();
    for run in 0..50u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft-crash-writer"))
            .arg(dir.path())
            .arg(run.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .context("start writer")?;
        let stdout = child.stdout.take().context("writer stdout")?;
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ack ").and_then(|n| n.parse::<u64>().ok()))
                .last()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..300)));
        child.kill().context("kill -9")?; // SIGKILL on Unix
        child.wait()?;
        if let Some(last) = reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread"))?
        {
            acknowledged.push((run, last));
        }

        // Reopen as a fresh process would, and check everything so far.
        let store = Store::open(dir.path(), StoreOptions::default(), None)?;
        let tree = store.collection("crash", "kv", false)?;
        for &(r, last) in &acknowledged {
            for n in 0..=last {
                let key = format!("{r}-{n}");
                let got = tree.get(key.as_bytes())?;
                anyhow::ensure!(
                    got.as_deref() == Some(&value_for(&key)[..]),
                    "after kill {run}: acknowledged key {key} reads back {:?}",
                    got.map(|v| v.len())
                );
            }
        }
        let damaged = store.verify("crash")?;
        anyhow::ensure!(
            damaged.is_empty(),
            "after kill {run}: damaged pages {damaged:?}"
        );
    }
    let total: u64 = acknowledged.iter().map(|(_, last)| last + 1).sum();
    anyhow::ensure!(
        total > 500,
        "the writer barely ran ({total} writes); the test proves little"
    );
    let store = Store::open(dir.path(), StoreOptions::default(), None)?;
    let stats = store.collection("crash", "kv", false)?.stats();
    anyhow::ensure!(
        stats.trees[0]
            .levels
            .iter()
            .any(|l| l.level >= 1 && l.tables > 0),
        "no compaction ever ran: {stats:?}"
    );
    Ok(())
}
