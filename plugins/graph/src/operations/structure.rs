//! Structure operations: components, triangles, clustering.

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use super::{
    ALGORITHMS, by_node, graph_input, keep_going, load, load_non_negative, undirected_only,
};
use crate::community;
use crate::components::connected_components;
use crate::graph::{Graph, NodeIndex};
use crate::structure;

fn named(graph: &Graph, components: &[Vec<NodeIndex>]) -> Value {
    let named: Vec<Vec<&crate::input::NodeName>> = components
        .iter()
        .map(|c| c.iter().map(|&n| graph.name(n)).collect())
        .collect();
    json!({ "count": named.len(), "components": named })
}

/// Runs a component finder and reports its answer.
fn run_components(
    params: Params<'_>,
    host: &dyn Host,
    find: fn(&Graph) -> Vec<Vec<NodeIndex>>,
) -> Result<Value, EngineError> {
    let graph = load(graph_input(&params, host)?)?;
    let components = find(&graph);
    let total = graph.node_count() as u64;
    host.progress(
        total,
        total,
        &format!("{} components", components.len()),
        None,
    );
    Ok(named(&graph, &components))
}

pub(super) fn components(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    run_components(params, host, connected_components)
}

pub(super) fn strongly_connected(
    params: Params<'_>,
    host: &dyn Host,
) -> Result<Value, EngineError> {
    run_components(params, host, structure::strongly_connected_components)
}

pub(super) fn triangles(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let graph = load(graph_input(&params, host)?)?;
    undirected_only(&graph, "triangle counting")?;
    let counts = structure::triangles(&graph);
    let total: u64 = counts.iter().sum::<u64>() / 3;
    host.progress(1, 1, &format!("{total} triangles"), None);
    Ok(json!({ "triangles": by_node(&graph, &counts), "total": total }))
}

pub(super) fn clustering(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let graph = load(graph_input(&params, host)?)?;
    undirected_only(&graph, "the clustering coefficient")?;
    let counts = structure::triangles(&graph);
    let local = structure::clustering(&graph, &counts);
    let average = if local.is_empty() {
        0.0
    } else {
        local.iter().sum::<f64>() / local.len() as f64
    };
    host.progress(1, 1, &format!("average clustering {average:.4}"), None);
    Ok(json!({ "clustering": by_node(&graph, &local), "average": average }))
}

#[derive(Deserialize)]
struct LouvainParams {
    #[serde(default = "default_resolution")]
    resolution: f64,
}

fn default_resolution() -> f64 {
    1.0
}

pub(super) fn louvain(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: LouvainParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load_non_negative(input, "Louvain")?;
    undirected_only(&graph, "Louvain community detection")?;
    let nodes = graph.node_count();
    let (communities, modularity) = community::louvain(&graph, p.resolution, |level, q| {
        host.progress(level as u64, 0, &format!("level {level}: modularity {q:.4}"), None);
        host.emit(
            ALGORITHMS,
            "algorithm_progress",
            &json!({ "algorithm": "louvain", "iteration": level, "modularity": q, "vertices_processed": nodes }),
        );
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    host.emit(
        ALGORITHMS,
        "algorithm_complete",
        &json!({ "algorithm": "louvain", "communities": communities.len(), "modularity": modularity }),
    );
    let mut result = named(&graph, &communities);
    result["modularity"] = json!(modularity);
    Ok(result)
}
