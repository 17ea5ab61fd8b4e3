//! Graph engine figures: each operation as the wasm component, as the same
//! crate built natively, and as networkx / python-igraph on the same edge
//! list, all in one run.

use std::time::Duration;

use serde_json::{Value, json};
use weft_graph::GraphEngine;
use weft_runtime::{Invocation, Runtime};
use weft_sdk::{Engine, NullHost, Params};

use crate::stats::{Row, Sample};
use crate::{power_law_edges, time};

struct Case {
    label: &'static str,
    op: &'static str,
    python_op: &'static str,
    nodes: u64,
    edges: usize,
    extra: Value,
    k: Option<usize>,
    directed: bool,
}

pub(crate) fn rows(runtime: &Runtime) -> anyhow::Result<Vec<Row>> {
    let cases = [
        Case {
            label: "PageRank, 1M-edge power-law graph, 20 iterations",
            op: "pagerank",
            python_op: "pagerank",
            nodes: 200_000,
            edges: 1_000_000,
            extra: json!({ "tolerance": 1e-300, "max_iterations": 20 }),
            k: None,
            directed: true,
        },
        Case {
            label: "connected components, 1M-edge power-law graph",
            op: "connected_components",
            python_op: "components",
            nodes: 200_000,
            edges: 1_000_000,
            extra: json!({}),
            k: None,
            directed: false,
        },
        Case {
            label: "betweenness, 50 sampled sources, 100k-edge power-law graph",
            op: "betweenness_centrality",
            python_op: "betweenness",
            nodes: 20_000,
            edges: 100_000,
            extra: json!({ "k": 50 }),
            k: Some(50),
            directed: false,
        },
    ];
    let plugin = runtime.plugin("graph")?;
    let scratch = tempfile::tempdir()?;
    // Stored graphs: the same edge lists kept in host storage, read by the
    // plugin as typed columns instead of parsed from JSON.
    let store = std::sync::Arc::new(weft_storage::Store::open(
        &scratch.path().join("storage"),
        weft_storage::StoreOptions::default(),
        None,
    )?);
    runtime.attach_storage(store.clone());
    let mut rows = Vec::new();
    for case in cases {
        eprintln!("      {} …", case.label);
        let edges = power_law_edges(case.nodes, case.edges, 7);
        let params = case.params(json!({
            "edges": edges.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
            "directed": case.directed,
        }));
        let text = params.to_string();
        let (wasm, native) = wasm_and_native(&plugin, case.op, &params, &NullHost)?;
        let label = format!("{} — wasm (JSON in, result out)", case.label);
        rows.push(Row::versus(
            &label,
            wasm.clone(),
            "same crate, native",
            native,
        ));
        let (stored_row, stored_wasm) = stored_graph(runtime, &store, &case, &edges)?;
        rows.push(stored_row);
        let core = algorithm_only(case.op, &text)?;
        let core_label = format!("{} — native, algorithm only (graph prebuilt)", case.label);

        let tsv = scratch.path().join(format!("{}.tsv", case.op));
        let lines: String = edges.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
        std::fs::write(&tsv, lines)?;
        match python_baselines(&tsv, case.python_op, case.k) {
            Ok(baselines) => {
                if let Some(seconds) = baselines["networkx"].as_f64() {
                    rows.push(Row::versus(
                        &format!("{} — wasm", case.label),
                        wasm.clone(),
                        "networkx (algorithm only, graph prebuilt)",
                        Sample::of(Duration::from_secs_f64(seconds)),
                    ));
                }
                if let Some(seconds) = baselines["networkx"].as_f64() {
                    rows.push(Row::versus(
                        &core_label,
                        core.clone(),
                        "networkx (algorithm only, graph prebuilt)",
                        Sample::of(Duration::from_secs_f64(seconds)),
                    ));
                }
                if let Some(seconds) = baselines["igraph"].as_f64() {
                    rows.push(Row::versus(
                        &core_label,
                        core.clone(),
                        "python-igraph (algorithm only, graph prebuilt)",
                        Sample::of(Duration::from_secs_f64(seconds)),
                    ));
                }
                // Whole runs: the stored graph read, built, ranked and
                // answered as JSON, against igraph building its graph from
                // an in-memory edge list and running the same algorithm.
                if let (Some(build), Some(seconds)) = (
                    baselines["build_igraph"].as_f64(),
                    baselines["igraph"].as_f64(),
                ) {
                    rows.push(Row::versus(
                        &format!("{} — wasm, stored graph, whole job", case.label),
                        stored_wasm.clone(),
                        "python-igraph: graph from edge list + algorithm",
                        Sample::of(Duration::from_secs_f64(build + seconds)),
                    ));
                }
            }
            Err(error) => eprintln!("      (python baselines skipped: {error:#})"),
        }
    }
    Ok(rows)
}

/// The operation on a graph stored in host storage (`{"graph": name}`): as
/// wasm (columns through `weft:host/storage`) and natively (the same
/// dataset read from the same store by [`StoreHost`]), so both sides pay
/// for decoding the column chunks.
fn stored_graph(
    runtime: &Runtime,
    store: &weft_storage::Store,
    case: &Case,
    edges: &[(u64, u64)],
) -> anyhow::Result<(Row, Sample)> {
    use weft_storage::columnar::{CHUNK_ROWS, ColumnType, Field, Values};
    let name = case.op;
    let sources: Vec<i64> = edges.iter().map(|&(a, _)| a as i64).collect();
    let targets: Vec<i64> = edges.iter().map(|&(_, b)| b as i64).collect();
    let schema = ["source", "target"]
        .map(|n| Field {
            name: n.into(),
            kind: ColumnType::I64,
        })
        .to_vec();
    let dataset = store.create_dataset("bench", &format!("{name}.edges"), schema)?;
    for (s, t) in sources.chunks(CHUNK_ROWS).zip(targets.chunks(CHUNK_ROWS)) {
        dataset.append(vec![
            (Values::I64(s.to_vec()), Vec::new()),
            (Values::I64(t.to_vec()), Vec::new()),
        ])?;
    }
    let params = case.params(json!({ "graph": name, "directed": case.directed }));
    let host = StoreHost {
        store,
        tenant: "bench",
    };
    let plugin = runtime.plugin("graph")?;
    let (wasm, native) = wasm_and_native(&plugin, case.op, &params, &host)?;
    Ok((
        Row::versus(
            &format!("{} — wasm, stored graph (typed columns in)", case.label),
            wasm.clone(),
            "same crate, native, reading the same store",
            native,
        ),
        wasm,
    ))
}

impl Case {
    /// `graph` (edges or a stored graph's name) with this case's params.
    fn params(&self, mut graph: Value) -> Value {
        if let (Some(p), Some(extra)) = (graph.as_object_mut(), self.extra.as_object()) {
            p.extend(extra.clone());
        }
        graph
    }
}

/// Times `op` as the wasm component and natively (against `host`), five
/// interleaved runs each: this machine is noisy, and the p50 of five
/// settles where three did not.
fn wasm_and_native(
    plugin: &std::sync::Arc<weft_runtime::LoadedPlugin>,
    op: &str,
    params: &Value,
    host: &dyn weft_sdk::Host,
) -> anyhow::Result<(Sample, Sample)> {
    let text = params.to_string();
    let (mut wasm, mut native) = (Sample::default(), Sample::default());
    for _ in 0..5 {
        let (elapsed, out) = time(|| plugin.invoke(op, params, Invocation::detached("bench")));
        out.map_err(|e| anyhow::anyhow!("{op}: {}", e.message))?;
        wasm.push(elapsed);
        let (elapsed, out) =
            time(|| GraphEngine::invoke(op, Params::new(&text), host).map(|r| r.to_string()));
        std::hint::black_box(out.map_err(|e| anyhow::anyhow!("{e}"))?);
        native.push(elapsed);
    }
    Ok((wasm, native))
}

/// A native [`weft_sdk::Host`] whose storage calls read a real store, as
/// the runtime's `weft:host/storage` does for components.
struct StoreHost<'a> {
    store: &'a weft_storage::Store,
    tenant: &'a str,
}

impl StoreHost<'_> {
    fn dataset(
        &self,
        name: &str,
    ) -> Result<std::sync::Arc<weft_storage::columnar::Dataset>, weft_sdk::StorageFailure> {
        self.store
            .dataset(self.tenant, name)
            .map_err(|e| weft_sdk::StorageFailure::NotFound(e.to_string()))
    }
}

impl weft_sdk::Host for StoreHost<'_> {
    fn emit(&self, _: &str, _: &str, _: &Value) {}
    fn progress(&self, _: u64, _: u64, _: &str, _: Option<&Value>) {}
    fn cancelled(&self) -> bool {
        false
    }
    fn log(&self, _: weft_sdk::Level, _: &str) {}

    fn dataset_shape(
        &self,
        name: &str,
    ) -> Result<weft_sdk::DatasetShape, weft_sdk::StorageFailure> {
        let dataset = self.dataset(name)?;
        Ok(weft_sdk::DatasetShape {
            rows: dataset.rows(),
            chunks: dataset.chunk_count() as u32,
            columns: dataset.schema().into_iter().map(|f| f.name).collect(),
            version: dataset.version(),
        })
    }

    fn chunk_stats(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<weft_sdk::ChunkStats, weft_sdk::StorageFailure> {
        let stats = self
            .dataset(dataset)?
            .chunk_stats(column, chunk as usize)
            .map_err(|e| weft_sdk::StorageFailure::Failed(e.to_string()))?;
        Ok(weft_sdk::ChunkStats {
            rows: stats.rows as u32,
            nulls: stats.nulls as u32,
            min: stats.min,
            max: stats.max,
        })
    }

    fn read_chunk(
        &self,
        dataset: &str,
        column: &str,
        chunk: u32,
    ) -> Result<weft_sdk::ColumnChunk, weft_sdk::StorageFailure> {
        use weft_storage::columnar::Values;
        let slice = self
            .dataset(dataset)?
            .read_chunk(column, chunk as usize)
            .map_err(|e| weft_sdk::StorageFailure::Failed(e.to_string()))?;
        let values = match slice.values {
            Values::F64(v) => weft_sdk::ColumnValues::F64(v),
            Values::I64(v) => weft_sdk::ColumnValues::I64(v),
            Values::Bool(v) => weft_sdk::ColumnValues::Bool(v),
            Values::String(v) => weft_sdk::ColumnValues::Text(v),
            Values::Timestamp(v) => weft_sdk::ColumnValues::Timestamp(v),
            Values::Binary(v) => weft_sdk::ColumnValues::Binary(v),
        };
        Ok(weft_sdk::ColumnChunk {
            values,
            valid: slice.valid,
        })
    }
}

/// The algorithm alone on a graph built beforehand: the figure to set
/// next to the Python libraries, whose graph construction is not timed.
fn algorithm_only(op: &str, text: &str) -> anyhow::Result<Sample> {
    use std::ops::ControlFlow;
    use weft_graph::input::GraphInput;
    use weft_graph::{Graph, centrality, components, pagerank};

    let input: GraphInput = serde_json::from_str(text)?;
    let graph = Graph::from_input(input).map_err(|_| anyhow::anyhow!("graph too large"))?;
    let mut sample = Sample::default();
    for _ in 0..3 {
        let (elapsed, ()) = time(|| match op {
            "pagerank" => {
                let config = pagerank::PageRankConfig {
                    tolerance: 1e-300,
                    max_iterations: 20,
                    ..Default::default()
                };
                std::hint::black_box(pagerank::pagerank(&graph, &config, None, |_| {
                    ControlFlow::Continue(())
                }));
            }
            "connected_components" => {
                std::hint::black_box(components::connected_components(&graph));
            }
            _ => {
                let sources = centrality::sample_sources(graph.node_count(), 50, 42);
                std::hint::black_box(centrality::betweenness(
                    &graph,
                    &sources,
                    usize::MAX,
                    |_| ControlFlow::Continue(()),
                ));
            }
        });
        sample.push(elapsed);
    }
    Ok(sample)
}

fn python_baselines(tsv: &std::path::Path, op: &str, k: Option<usize>) -> anyhow::Result<Value> {
    let k = k.map(|k| k.to_string());
    let mut args = vec![tsv.as_os_str(), std::ffi::OsStr::new(op)];
    if let Some(k) = &k {
        args.push(std::ffi::OsStr::new(k));
    }
    crate::setup::python_json("graph_baselines.py", &args)
}
