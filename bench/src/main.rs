//! `make bench`: the runtime's own figures, each next to a baseline
//! measured in the same run, printed as a Markdown table (and written to
//! `target/bench/report.md`). Ratios travel between machines; absolute
//! times on a small, noisy box do not.

mod analytics;
mod anomaly;
mod document;
mod fan_out;
mod graph;
mod lifecycle;
mod ml;
mod setup;
mod spatial;
mod stats;
mod storage;
mod udf;

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use weft_bus::{Bus, BusConfig};
use weft_graph::GraphEngine;
use weft_runtime::{Invocation, Runtime, SandboxConfig};
use weft_sdk::{Engine, NullHost, Params};
use weft_tests::{Server, repo_root, test_plugin};

use stats::{Row, Sample};

fn main() -> anyhow::Result<()> {
    // `weft-bench anomaly` runs only the anomaly section (a quick look).
    if std::env::args().nth(1).as_deref() == Some("fan-out") {
        println!("{}", stats::render(&fan_out::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("storage") {
        println!("{}", stats::render(&storage::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("document") {
        println!("{}", stats::render(&document::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("analytics") {
        println!("{}", stats::render(&analytics::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("ml") {
        println!("{}", stats::render(&ml::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("spatial") {
        println!("{}", stats::render(&spatial::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("anomaly") {
        let rows = anomaly::rows_report()?;
        let quality = anomaly::quality_report()?;
        println!("{}\n{quality}", stats::render(&rows));
        return Ok(());
    }
    let mut rows = Vec::new();
    let data = tempfile::tempdir()?;
    let runtime = Runtime::new(
        data.path(),
        SandboxConfig::default(),
        Bus::new(BusConfig::default()),
    )?;
    let hostile = std::fs::read(test_plugin("hostile")).context("run `make test-plugins` first")?;
    let graph = std::fs::read(repo_root().join("target/plugins/graph.wasm"))
        .context("run `make plugins` first")?;
    runtime.load("hostile", &hostile)?;
    runtime.load("graph", &graph)?;
    if std::env::args().nth(1).as_deref() == Some("udf") {
        println!("{}", stats::render(&udf::rows()?));
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("lifecycle") {
        println!("{}", stats::render(&lifecycle::rows()?));
        return Ok(());
    }
    // `weft-bench graph` runs only the graph engine section.
    if std::env::args().nth(1).as_deref() == Some("graph") {
        println!("{}", stats::render(&graph::rows(&runtime)?));
        return Ok(());
    }

    eprintln!("[1/13] instantiation of a cached component …");
    rows.push(instantiation(&runtime)?);
    eprintln!("[2/13] host→guest call with a small payload …");
    rows.extend(guest_call(&runtime)?);
    eprintln!("[3/13] REST round trips against the real server …");
    rows.extend(rest_round_trip()?);
    eprintln!("[4/13] PageRank, 100k edges, wasm vs native …");
    rows.extend(pagerank(&runtime)?);
    eprintln!("[5/13] graph engine at scale: wasm, native, networkx, igraph …");
    rows.extend(graph::rows(&runtime)?);
    eprintln!("[6/13] fan-out to 1,000 and 10,000 WebSocket subscribers …");
    rows.extend(fan_out::rows()?);
    eprintln!("[7/13] anomaly sessions: WebSocket vs native, ROC-AUC vs river and scikit-learn …");
    rows.extend(anomaly::rows_report()?);
    eprintln!("[8/13] host storage vs the raw disk …");
    rows.extend(storage::rows()?);
    eprintln!("[9/13] spatial: R-tree, nearest points and a join vs Shapely; wasm vs native …");
    rows.extend(spatial::rows()?);
    eprintln!(
        "[10/13] document store: inserts, reads, ranges, a pipeline and text search vs SQLite …"
    );
    rows.extend(document::rows()?);
    eprintln!("[11/13] ML: training and batch prediction, wasm vs native vs scikit-learn …");
    rows.extend(ml::rows()?);
    eprintln!("[12/13] analytics: GROUP BY, window, join over 1M rows, wasm vs native vs DuckDB …");
    rows.extend(analytics::rows()?);
    eprintln!("[13/13] hot-loading: upload to first job, cold and warm compile cache …");
    rows.extend(lifecycle::rows()?);
    eprintln!("      UDFs: a hot-loaded function vs the same one built in …");
    rows.extend(udf::rows()?);
    let quality = anomaly::quality_report()
        .unwrap_or_else(|e| format!("anomaly quality comparison skipped: {e:#}\n"));

    let report = format!(
        "{}\n### Anomaly detection quality (benchmark stream, rows 1,000–5,999)\n\n{quality}",
        stats::render(&rows)
    );
    println!("{report}");
    let out = repo_root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.md"), &report)?;
    eprintln!("written to {}", out.join("report.md").display());
    Ok(())
}

pub(crate) fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed(), value)
}

/// A fresh `Store` + instance from the plugin's `InstancePre`, per job.
fn instantiation(runtime: &Runtime) -> anyhow::Result<Row> {
    let plugin = runtime.plugin("hostile")?;
    let mut sample = Sample::default();
    for i in 0..3000 {
        let (elapsed, instance) =
            time(|| plugin.instantiate(Invocation::detached("bench"), "echo"));
        instance.map_err(|e| anyhow::anyhow!(e.message))?;
        if i >= 100 {
            sample.push(elapsed);
        }
    }
    Ok(Row::absolute(
        "instantiate a cached component (pooling allocator, InstancePre)",
        sample,
        "goal ≤ 20 µs p50",
    ))
}

/// `invoke("echo", small JSON)` on a live instance vs the same engine code
/// called natively through the same JSON round trip.
fn guest_call(runtime: &Runtime) -> anyhow::Result<Vec<Row>> {
    let plugin = runtime.plugin("hostile")?;
    let mut instance = plugin
        .instantiate(Invocation::detached("bench"), "echo")
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let params = r#"{"graph":"small","n":42}"#;
    let mut wasm = Sample::default();
    for i in 0..20_000 {
        let (elapsed, out) = time(|| instance.invoke("echo", params));
        out.map_err(|e| anyhow::anyhow!(e.message))?;
        if i >= 500 {
            wasm.push(elapsed);
        }
    }
    let mut native = Sample::default();
    for i in 0..20_000 {
        let (elapsed, out) = time(|| {
            let value: Value = serde_json::from_str(params).unwrap_or_default();
            let result = weft_hostile_echo(value);
            result.to_string()
        });
        std::hint::black_box(out);
        if i >= 500 {
            native.push(elapsed);
        }
    }
    Ok(vec![Row::versus(
        "host→guest call, small JSON payload (echo)",
        wasm,
        "same JSON round trip, native",
        native,
    )])
}

/// The hostile plugin's `echo`, natively: params straight back.
fn weft_hostile_echo(params: Value) -> Value {
    std::hint::black_box(params)
}

fn rest_round_trip() -> anyhow::Result<Vec<Row>> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let server = Server::start(&[])?;
        server
            .load_plugin("hostile", &test_plugin("hostile"))
            .await?;
        let body = json!({ "engine": "hostile", "op": "echo", "params": { "n": 1 } });
        let mut job = Sample::default();
        let mut health = Sample::default();
        for i in 0..600 {
            let start = Instant::now();
            let (status, _) = server.post("/api/v1/jobs?wait=true", &body).await?;
            anyhow::ensure!(status == 200, "job failed");
            let job_time = start.elapsed();
            let start = Instant::now();
            let (status, _) = server.get("/api/v1/health").await?;
            anyhow::ensure!(status == 200, "health failed");
            if i >= 50 {
                job.push(job_time);
                health.push(start.elapsed());
            }
        }
        Ok(vec![Row::versus(
            "REST: trivial job, POST /api/v1/jobs?wait=true",
            job,
            "GET /api/v1/health",
            health,
        )])
    })
}

/// A deterministic power-law-ish graph: preferential attachment by
/// sampling endpoints of earlier edges.
pub(crate) fn power_law_edges(nodes: u64, edges: usize, seed: u64) -> Vec<(u64, u64)> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut list: Vec<(u64, u64)> = Vec::with_capacity(edges);
    while list.len() < edges {
        let from = next() % nodes;
        let to = if list.is_empty() || next() % 2 == 0 {
            next() % nodes
        } else {
            let (a, b) = list[(next() % list.len() as u64) as usize];
            if next() % 2 == 0 { a } else { b }
        };
        if from != to {
            list.push((from, to));
        }
    }
    list
}

fn pagerank(runtime: &Runtime) -> anyhow::Result<Vec<Row>> {
    let edges = power_law_edges(20_000, 100_000, 42);
    let params = json!({
        "edges": edges.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
        "directed": true,
        "tolerance": 1e-300,
        "max_iterations": 20
    });
    let text = params.to_string();
    let plugin = runtime.plugin("graph")?;
    let mut wasm = Sample::default();
    let mut native = Sample::default();
    for _ in 0..7 {
        let (elapsed, out) =
            time(|| plugin.invoke("pagerank", &params, Invocation::detached("bench")));
        let out = out.map_err(|e| anyhow::anyhow!(e.message))?;
        anyhow::ensure!(out["iterations"] == 20, "expected 20 iterations");
        wasm.push(elapsed);
        let (elapsed, out) = time(|| -> anyhow::Result<String> {
            let result = GraphEngine::invoke("pagerank", Params::new(&text), &NullHost)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(result.to_string())
        });
        std::hint::black_box(out?);
        native.push(elapsed);
    }
    Ok(vec![Row::versus(
        "PageRank, 100k edges, 20 iterations, as wasm (incl. instantiate + JSON)",
        wasm,
        "same crate built natively, same JSON in and out",
        native,
    )])
}
