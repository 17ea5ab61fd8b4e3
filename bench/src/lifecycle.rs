//! Hot-loading figures: from uploading a component to its first finished
//! job, with a cold compile cache (compiled now) against a warm one (the
//! same bytes compiled before, by this or another server sharing the
//! cache), for the graph engine and the Python template's component
//! (CPython inside) when `make bench` could build it.

use std::path::Path;

use serde_json::json;
use weft_bus::{Bus, BusConfig};
use weft_runtime::{Invocation, Runtime, SandboxConfig};

use crate::stats::{Row, Sample};
use crate::time;

const RUNS: usize = 3;

/// Load `wasm` as `name` into a fresh runtime over `cache`, then run `op`.
fn upload_to_first_job(
    cache: &Path,
    name: &str,
    wasm: &[u8],
    op: &str,
    params: &serde_json::Value,
) -> anyhow::Result<std::time::Duration> {
    let runtime = Runtime::with_cache(
        cache,
        SandboxConfig::default(),
        Bus::new(BusConfig::default()),
    )?;
    let (elapsed, out) = time(|| -> anyhow::Result<()> {
        runtime.load(name, wasm)?;
        let plugin = runtime.plugin(name)?;
        plugin
            .invoke(op, params, Invocation::detached("bench"))
            .map_err(|e| anyhow::anyhow!("{op}: {}", e.message))?;
        Ok(())
    });
    out?;
    Ok(elapsed)
}

fn rows_for(
    label: &str,
    name: &str,
    wasm: &[u8],
    op: &str,
    params: serde_json::Value,
) -> anyhow::Result<Row> {
    let (mut cold, mut warm) = (Sample::default(), Sample::default());
    for _ in 0..RUNS {
        let cache = tempfile::tempdir()?;
        cold.push(upload_to_first_job(cache.path(), name, wasm, op, &params)?);
        warm.push(upload_to_first_job(cache.path(), name, wasm, op, &params)?);
    }
    Ok(Row::versus(
        &format!(
            "hot-load {label} ({} KiB): upload → first finished job, cold compile cache",
            wasm.len() >> 10
        ),
        cold,
        "the same, warm compile cache",
        warm,
    ))
}

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let root = weft_tests::repo_root();
    let graph = std::fs::read(root.join("target/plugins/graph.wasm"))?;
    let mut rows = vec![rows_for(
        "the graph engine",
        "graph",
        &graph,
        "pagerank",
        json!({"edges": [[1, 2], [2, 3], [3, 1]]}),
    )?];
    match python_component(&root) {
        Ok(wasm) => rows.push(rows_for(
            "the Python template (componentize-py)",
            "pybench",
            &wasm,
            "greet",
            json!({"name": "bench"}),
        )?),
        Err(e) => eprintln!("      (Python template row skipped: {e:#})"),
    }
    Ok(rows)
}

/// Builds the Python template with the real `weft` binary.
fn python_component(root: &Path) -> anyhow::Result<Vec<u8>> {
    let folder = tempfile::tempdir()?;
    let weft = root.join("target/release/weft");
    let run = |args: &[&str], dir: &Path| -> anyhow::Result<()> {
        let out = std::process::Command::new(&weft)
            .args(args)
            .current_dir(dir)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    run(
        &["plugin", "new", "pybench", "--lang", "python"],
        folder.path(),
    )?;
    let project = folder.path().join("pybench");
    run(&["plugin", "build"], &project)?;
    Ok(std::fs::read(project.join("pybench.wasm"))?)
}
