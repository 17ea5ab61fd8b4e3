//! Traversal and path operations: BFS, DFS, Dijkstra.

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Value, json};

use super::{TRAVERSAL, keep_going, load, locate};
use crate::input::{GraphInput, NodeName};
use crate::shortest_path::dijkstra;
use crate::traversal::{Bfs, bfs as run_bfs, dfs as run_dfs};

#[derive(Deserialize)]
struct TraversalParams {
    #[serde(flatten)]
    graph: GraphInput,
    source: NodeName,
    max_depth: Option<u32>,
}

fn visit_result(graph: &crate::Graph, result: &Bfs) -> Value {
    let depths: serde_json::Map<String, Value> = result
        .order
        .iter()
        .zip(&result.depths)
        .map(|(&node, &depth)| (graph.name(node).to_owned(), json!(depth)))
        .collect();
    let order: Vec<&str> = result.order.iter().map(|&n| graph.name(n)).collect();
    json!({ "order": order, "depths": depths, "visited": order.len() })
}

pub(super) fn bfs(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: TraversalParams = weft_sdk::params(params)?;
    let graph = load(p.graph)?;
    let source = locate(&graph, &p.source, "source")?;
    let total = graph.node_count() as u64;
    let result = run_bfs(&graph, source, p.max_depth, |level| {
        let data = json!({
            "depth": level.depth,
            "visited": level.visited,
            "frontier": level.frontier
        });
        host.emit(TRAVERSAL, "traversal_update", &data);
        host.progress(
            level.visited as u64,
            total,
            &format!("depth {}: {} visited", level.depth, level.visited),
            None,
        );
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    Ok(visit_result(&graph, &result))
}

pub(super) fn dfs(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: TraversalParams = weft_sdk::params(params)?;
    let graph = load(p.graph)?;
    let source = locate(&graph, &p.source, "source")?;
    let total = graph.node_count();
    let every = (total / 100).max(1);
    let result = run_dfs(
        &graph,
        source,
        p.max_depth,
        every,
        |vertex, depth, visited| {
            let data = json!({ "vertex": graph.name(vertex), "depth": depth, "visited": visited });
            host.emit(TRAVERSAL, "traversal_update", &data);
            host.progress(
                visited as u64,
                total as u64,
                &format!("{visited} visited"),
                None,
            );
            keep_going(host)
        },
    )
    .ok_or(EngineError::Cancelled)?;
    Ok(visit_result(&graph, &result))
}

#[derive(Deserialize)]
struct ShortestPathParams {
    #[serde(flatten)]
    graph: GraphInput,
    source: NodeName,
    target: Option<NodeName>,
}

pub(super) fn shortest_path(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: ShortestPathParams = weft_sdk::params(params)?;
    if p.graph.edges.iter().any(|e| e.weight < 0.0) {
        return Err(EngineError::InvalidParams(
            "Dijkstra needs non-negative edge weights".into(),
        ));
    }
    let graph = load(p.graph)?;
    let source = locate(&graph, &p.source, "source")?;
    let target = p
        .target
        .as_ref()
        .map(|t| locate(&graph, t, "target"))
        .transpose()?;
    let total = graph.node_count() as u64;
    let paths = dijkstra(&graph, source, target, |settled| {
        host.progress(
            settled as u64,
            total,
            &format!("{settled} nodes settled"),
            None,
        );
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    if let Some(target) = target {
        let path = paths
            .path_to(target)
            .map(|nodes| nodes.iter().map(|&n| graph.name(n)).collect::<Vec<_>>());
        return Ok(json!({
            "source": graph.name(source),
            "target": graph.name(target),
            "reachable": path.is_some(),
            "distance": paths.distance[target as usize],
            "path": path
        }));
    }
    let distances: serde_json::Map<String, Value> = graph
        .nodes()
        .filter_map(|n| paths.distance[n as usize].map(|d| (graph.name(n).to_owned(), json!(d))))
        .collect();
    Ok(json!({ "source": graph.name(source), "distances": distances }))
}
