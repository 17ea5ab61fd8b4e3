//! Ranking operations: PageRank and the centralities.

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use super::{ALGORITHMS, by_node, graph_input, keep_going, load, load_non_negative, report_top};
use crate::centrality;
use crate::input::NodeName;
use crate::pagerank::{PageRankConfig, pagerank as run_pagerank};

/// Progress is reported about this many times per run.
const REPORTS: usize = 100;

#[derive(Deserialize)]
struct PageRankParams {
    damping: Option<f64>,
    tolerance: Option<f64>,
    max_iterations: Option<u32>,
    personalization: Option<std::collections::HashMap<NodeName, f64>>,
}

pub(super) fn pagerank(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: PageRankParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let defaults = PageRankConfig::default();
    let config = PageRankConfig {
        damping: p.damping.unwrap_or(defaults.damping),
        tolerance: p.tolerance.unwrap_or(defaults.tolerance),
        max_iterations: p.max_iterations.unwrap_or(defaults.max_iterations),
    };
    let graph = load_non_negative(input, "PageRank")?;
    let personalization = match p.personalization {
        None => None,
        Some(weights) => {
            let mut vector = vec![0.0; graph.node_count()];
            for (node, weight) in weights {
                let index = super::locate(&graph, &node, "personalization")?;
                if !(weight >= 0.0 && weight.is_finite()) {
                    return Err(EngineError::InvalidParams(
                        "personalization weights must be non-negative".into(),
                    ));
                }
                vector[index as usize] = weight;
            }
            let total: f64 = vector.iter().sum();
            if total <= 0.0 {
                return Err(EngineError::InvalidParams(
                    "personalization weights must not all be zero".into(),
                ));
            }
            vector.iter_mut().for_each(|w| *w /= total);
            Some(vector)
        }
    };
    let total = u64::from(config.max_iterations);
    let nodes = graph.node_count();
    let result = run_pagerank(&graph, &config, personalization.as_deref(), |it| {
        let detail = json!({
            "algorithm": "pagerank",
            "iteration": it.iteration,
            "delta": it.delta,
            "converged": it.converged,
            "vertices_processed": nodes
        });
        host.progress(
            u64::from(it.iteration),
            total,
            &format!("iteration {}: delta {:.3e}", it.iteration, it.delta),
            Some(&detail),
        );
        host.emit(ALGORITHMS, "algorithm_progress", &detail);
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    report_top(&graph, host, "pagerank", &result.scores);
    Ok(json!({
        "scores": by_node(&graph, &result.scores),
        "iterations": result.iterations,
        "converged": result.converged
    }))
}

pub(super) fn degree(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let graph = load(graph_input(&params, host)?)?;
    let scores = centrality::degree(&graph);
    report_top(&graph, host, "degree_centrality", &scores);
    Ok(json!({ "scores": by_node(&graph, &scores) }))
}

/// `"weighted": true` measures paths by edge weight instead of hops.
#[derive(Deserialize)]
struct Weighting {
    #[serde(default)]
    weighted: bool,
}

/// Loads the graph; weighted runs need non-negative weights.
fn load_for(
    params: Params<'_>,
    host: &dyn Host,
    weighted: bool,
    what: &str,
) -> Result<crate::Graph, EngineError> {
    let input = graph_input(&params, host)?;
    if weighted {
        load_non_negative(input, what)
    } else {
        load(input)
    }
}

pub(super) fn closeness(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let Weighting { weighted } = params.parse()?;
    let graph = load_for(params, host, weighted, "weighted closeness")?;
    let n = graph.node_count();
    let on_node = |done: usize| {
        host.progress(done as u64, n as u64, &format!("{done} of {n} nodes"), None);
        let detail = json!({ "algorithm": "closeness_centrality", "vertices_processed": done });
        host.emit(ALGORITHMS, "algorithm_progress", &detail);
        keep_going(host)
    };
    let every = (n / REPORTS).max(1);
    let scores = if weighted {
        centrality::closeness_weighted(&graph, every, on_node)
    } else {
        centrality::closeness(&graph, every, on_node)
    }
    .ok_or(EngineError::Cancelled)?;
    report_top(&graph, host, "closeness_centrality", &scores);
    Ok(json!({ "scores": by_node(&graph, &scores) }))
}

#[derive(Deserialize)]
struct BetweennessParams {
    /// Sample this many source nodes (exact when absent).
    k: Option<usize>,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    weighted: bool,
}

fn default_seed() -> u64 {
    42
}

pub(super) fn betweenness(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: BetweennessParams = params.parse()?;
    let graph = load_for(params, host, p.weighted, "weighted betweenness")?;
    let n = graph.node_count();
    let sources = match p.k {
        Some(k) if k < n => centrality::sample_sources(n, k, p.seed),
        _ => graph.nodes().collect(),
    };
    let total = sources.len();
    let on_source = |done: usize| {
        host.progress(
            done as u64,
            total as u64,
            &format!("{done} of {total} sources"),
            None,
        );
        let detail = json!({ "algorithm": "betweenness_centrality", "sources_processed": done, "vertices_processed": n });
        host.emit(ALGORITHMS, "algorithm_progress", &detail);
        keep_going(host)
    };
    let every = (total / REPORTS).max(1);
    let scores = if p.weighted {
        centrality::betweenness_weighted(&graph, &sources, every, on_source)
    } else {
        centrality::betweenness(&graph, &sources, every, on_source)
    }
    .ok_or(EngineError::Cancelled)?;
    report_top(&graph, host, "betweenness_centrality", &scores);
    Ok(json!({ "scores": by_node(&graph, &scores), "sources": total, "exact": total == n }))
}
