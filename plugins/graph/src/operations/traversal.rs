//! Traversal and path operations: BFS, DFS, Dijkstra.

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use super::{TRAVERSAL, graph_input, keep_going, load, load_non_negative, locate};
use crate::input::NodeName;
use crate::shortest_path::{astar as run_astar, dijkstra};
use crate::traversal::{Bfs, bfs as run_bfs, dfs as run_dfs};

#[derive(Deserialize)]
struct TraversalParams {
    source: NodeName,
    max_depth: Option<u32>,
}

fn visit_result(graph: &crate::Graph, result: &Bfs) -> Value {
    let depths: serde_json::Map<String, Value> = result
        .order
        .iter()
        .zip(&result.depths)
        .map(|(&node, &depth)| (graph.name(node).to_string(), json!(depth)))
        .collect();
    let order: Vec<&crate::input::NodeName> = result.order.iter().map(|&n| graph.name(n)).collect();
    json!({ "order": order, "depths": depths, "visited": order.len() })
}

pub(super) fn bfs(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: TraversalParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load(input)?;
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

pub(super) fn dfs(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: TraversalParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load(input)?;
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
    source: NodeName,
    target: Option<NodeName>,
}

pub(super) fn shortest_path(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: ShortestPathParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load_non_negative(input, "Dijkstra")?;
    let source = locate(&graph, &p.source, "source")?;
    let target = p
        .target
        .as_ref()
        .map(|t| locate(&graph, t, "target"))
        .transpose()?;
    let total = graph.node_count() as u64;
    let paths = dijkstra(&graph, source, target, |settled| {
        report_settled(host, settled, total)
    })
    .ok_or(EngineError::Cancelled)?;
    if let Some(target) = target {
        return Ok(path_result(&graph, source, target, &paths));
    }
    let distances: serde_json::Map<String, Value> = graph
        .nodes()
        .filter_map(|n| paths.distance[n as usize].map(|d| (graph.name(n).to_string(), json!(d))))
        .collect();
    Ok(json!({ "source": graph.name(source), "distances": distances }))
}

#[derive(Deserialize)]
struct AStarParams {
    source: NodeName,
    target: NodeName,
    /// `[x, y]` (or more dimensions) per node; the heuristic is the
    /// Euclidean distance to the target's coordinates.
    coordinates: std::collections::HashMap<NodeName, Vec<f64>>,
    #[serde(default = "one")]
    heuristic_weight: f64,
}

fn one() -> f64 {
    1.0
}

pub(super) fn astar(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: AStarParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let graph = load_non_negative(input, "A*")?;
    let source = locate(&graph, &p.source, "source")?;
    let target = locate(&graph, &p.target, "target")?;
    let mut coordinates: Vec<Option<Vec<f64>>> = vec![None; graph.node_count()];
    for (node, point) in p.coordinates {
        if let Some(i) = graph.find(&node) {
            coordinates[i as usize] = Some(point);
        }
    }
    let Some(goal) = coordinates[target as usize].clone() else {
        return Err(EngineError::InvalidParams(format!(
            "the target '{}' has no coordinates",
            p.target
        )));
    };
    // Nodes without coordinates get 0: still admissible, just less guided.
    let heuristic = |v: crate::graph::NodeIndex| match &coordinates[v as usize] {
        Some(point) if point.len() == goal.len() => {
            p.heuristic_weight
                * point
                    .iter()
                    .zip(&goal)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
        }
        _ => 0.0,
    };
    let total = graph.node_count() as u64;
    let paths = run_astar(&graph, source, target, heuristic, |settled| {
        report_settled(host, settled, total)
    })
    .ok_or(EngineError::Cancelled)?;
    let mut result = path_result(&graph, source, target, &paths);
    result["settled"] = json!(paths.distance.iter().filter(|d| d.is_some()).count());
    Ok(result)
}

/// Progress of a shortest-path search; stops it when the job is cancelled.
fn report_settled(host: &dyn Host, settled: usize, total: u64) -> std::ops::ControlFlow<()> {
    host.progress(
        settled as u64,
        total,
        &format!("{settled} nodes settled"),
        None,
    );
    keep_going(host)
}

/// `{"source", "target", "reachable", "distance", "path"}` for one pair.
fn path_result(
    graph: &crate::Graph,
    source: crate::graph::NodeIndex,
    target: crate::graph::NodeIndex,
    paths: &crate::shortest_path::ShortestPaths,
) -> Value {
    let path = paths
        .path_to(target)
        .map(|nodes| nodes.iter().map(|&n| graph.name(n)).collect::<Vec<_>>());
    json!({
        "source": graph.name(source),
        "target": graph.name(target),
        "reachable": path.is_some(),
        "distance": paths.distance[target as usize],
        "path": path
    })
}

/// Largest graph `all_pairs_shortest_paths` accepts: the answer is n².
pub(super) const ALL_PAIRS_MAX_NODES: usize = 2000;

pub(super) fn all_pairs(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let input = graph_input(&params, host)?;
    let graph = load_non_negative(input, "Dijkstra")?;
    let n = graph.node_count();
    if n > ALL_PAIRS_MAX_NODES {
        return Err(EngineError::InvalidParams(format!(
            "all-pairs shortest paths is for graphs of at most {ALL_PAIRS_MAX_NODES} nodes (this one has {n}); use shortest_path per source"
        )));
    }
    let mut rows = serde_json::Map::new();
    for source in graph.nodes() {
        let paths = dijkstra(
            &graph,
            source,
            None,
            |_| std::ops::ControlFlow::Continue(()),
        )
        .ok_or(EngineError::Cancelled)?;
        let row: serde_json::Map<String, Value> = graph
            .nodes()
            .filter_map(|v| {
                paths.distance[v as usize].map(|d| (graph.name(v).to_string(), json!(d)))
            })
            .collect();
        rows.insert(graph.name(source).to_string(), Value::Object(row));
        let done = source as usize + 1;
        if done.is_multiple_of(64) || done == n {
            host.progress(
                done as u64,
                n as u64,
                &format!("{done} of {n} sources"),
                None,
            );
            if keep_going(host).is_break() {
                return Err(EngineError::Cancelled);
            }
        }
    }
    Ok(json!({ "distances": rows }))
}
