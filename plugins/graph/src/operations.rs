//! The engine's operations: JSON params in, JSON results out, progress
//! reported to the host. Algorithms live in their own modules; this file
//! only translates.

use std::ops::ControlFlow;

use serde::Deserialize;
use weft_sdk::{Engine, EngineError, EngineInfo, Host, Operation, Value, json, params};

use crate::components::connected_components;
use crate::graph::{Graph, NodeIndex};
use crate::input::{GraphInput, NodeName, graph_schema_properties};
use crate::pagerank::{PageRankConfig, pagerank};
use crate::shortest_path::dijkstra;
use crate::traversal::bfs;

/// The graph engine as a Weft [`Engine`].
pub struct GraphEngine;

const ALGORITHMS: &str = "algorithms";
const TRAVERSAL: &str = "traversal";

/// A params schema: the graph fields plus `extra` properties.
fn schema(extra: Value, required: &[&str]) -> Value {
    let mut properties = graph_schema_properties();
    if let Value::Object(extra) = extra {
        properties.extend(extra);
    }
    let mut required_fields = vec!["edges"];
    required_fields.extend_from_slice(required);
    json!({
        "type": "object",
        "properties": properties,
        "required": required_fields,
        "additionalProperties": false
    })
}

fn node_schema(description: &str) -> Value {
    json!({ "type": ["string", "integer"], "description": description })
}

impl Engine for GraphEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "graph".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new(
                    "pagerank",
                    "PageRank scores by power iteration (networkx-compatible).",
                    schema(
                        json!({
                            "damping": { "type": "number", "minimum": 0, "maximum": 1, "default": 0.85 },
                            "tolerance": { "type": "number", "exclusiveMinimum": 0, "default": 1e-6 },
                            "max_iterations": { "type": "integer", "minimum": 1, "maximum": 100000, "default": 100 }
                        }),
                        &[],
                    ),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "bfs",
                    "Breadth-first search from a source node.",
                    schema(
                        json!({
                            "source": node_schema("Node to start from."),
                            "max_depth": { "type": "integer", "minimum": 0 }
                        }),
                        &["source"],
                    ),
                )
                .topic(TRAVERSAL),
                Operation::new(
                    "connected_components",
                    "Connected components (weakly connected for directed graphs), largest first.",
                    schema(json!({}), &[]),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "shortest_path",
                    "Dijkstra shortest path from source to target, or distances to every node.",
                    schema(
                        json!({
                            "source": node_schema("Start node."),
                            "target": node_schema("End node; omit for distances to all nodes.")
                        }),
                        &["source"],
                    ),
                )
                .topic(ALGORITHMS),
            ],
        }
    }

    fn invoke(op: &str, params: Value, host: &dyn Host) -> Result<Value, EngineError> {
        match op {
            "pagerank" => run_pagerank(params, host),
            "bfs" => run_bfs(params, host),
            "connected_components" => run_components(params, host),
            "shortest_path" => run_shortest_path(params, host),
            other => Err(EngineError::UnknownOperation(other.to_owned())),
        }
    }
}

fn load(input: GraphInput) -> Result<Graph, EngineError> {
    Graph::from_input(input)
        .map_err(|_| EngineError::InvalidParams("the graph has more than 2^32 nodes".into()))
}

fn locate(graph: &Graph, name: &NodeName, role: &str) -> Result<NodeIndex, EngineError> {
    graph.find(name).ok_or_else(|| {
        EngineError::InvalidParams(format!("{role} node '{}' is not in the graph", name.0))
    })
}

/// Maps a host cancellation to the callback's `Break`.
fn keep_going(host: &dyn Host) -> ControlFlow<()> {
    if host.cancelled() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

#[derive(Deserialize)]
struct PageRankParams {
    #[serde(flatten)]
    graph: GraphInput,
    damping: Option<f64>,
    tolerance: Option<f64>,
    max_iterations: Option<u32>,
}

fn run_pagerank(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: PageRankParams = self::params(params)?;
    let defaults = PageRankConfig::default();
    let config = PageRankConfig {
        damping: p.damping.unwrap_or(defaults.damping),
        tolerance: p.tolerance.unwrap_or(defaults.tolerance),
        max_iterations: p.max_iterations.unwrap_or(defaults.max_iterations),
    };
    if p.graph.edges.iter().any(|e| e.weight < 0.0) {
        return Err(EngineError::InvalidParams(
            "PageRank needs non-negative edge weights".into(),
        ));
    }
    let graph = load(p.graph)?;
    let total = u64::from(config.max_iterations);
    let result = pagerank(&graph, &config, |it| {
        host.progress(
            u64::from(it.iteration),
            total,
            &format!("iteration {}: delta {:.3e}", it.iteration, it.delta),
            Some(&json!({
                "iteration": it.iteration,
                "delta": it.delta,
                "converged": it.converged
            })),
        );
        keep_going(host)
    })
    .ok_or(EngineError::Cancelled)?;
    let scores: serde_json::Map<String, Value> = graph
        .nodes()
        .map(|i| (graph.name(i).to_owned(), json!(result.scores[i as usize])))
        .collect();
    Ok(json!({
        "scores": scores,
        "iterations": result.iterations,
        "converged": result.converged
    }))
}

#[derive(Deserialize)]
struct BfsParams {
    #[serde(flatten)]
    graph: GraphInput,
    source: NodeName,
    max_depth: Option<u32>,
}

fn run_bfs(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: BfsParams = self::params(params)?;
    let graph = load(p.graph)?;
    let source = locate(&graph, &p.source, "source")?;
    let total = graph.node_count() as u64;
    let result = bfs(&graph, source, p.max_depth, |level| {
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
    let depths: serde_json::Map<String, Value> = result
        .order
        .iter()
        .zip(&result.depths)
        .map(|(&node, &depth)| (graph.name(node).to_owned(), json!(depth)))
        .collect();
    let order: Vec<&str> = result.order.iter().map(|&n| graph.name(n)).collect();
    Ok(json!({ "order": order, "depths": depths, "visited": order.len() }))
}

fn run_components(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let input: GraphInput = self::params(params)?;
    let graph = load(input)?;
    let components = connected_components(&graph);
    let total = graph.node_count() as u64;
    host.progress(
        total,
        total,
        &format!("{} components", components.len()),
        None,
    );
    let named: Vec<Vec<&str>> = components
        .iter()
        .map(|c| c.iter().map(|&n| graph.name(n)).collect())
        .collect();
    Ok(json!({ "count": named.len(), "components": named }))
}

#[derive(Deserialize)]
struct ShortestPathParams {
    #[serde(flatten)]
    graph: GraphInput,
    source: NodeName,
    target: Option<NodeName>,
}

fn run_shortest_path(params: Value, host: &dyn Host) -> Result<Value, EngineError> {
    let p: ShortestPathParams = self::params(params)?;
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

#[cfg(test)]
mod tests {
    use weft_sdk::{Recorded, RecordingHost};

    use super::*;

    fn triangle() -> Value {
        json!({ "edges": [[1, 2], [2, 3], [3, 1], [3, 4, 2.5]] })
    }

    #[test]
    fn pagerank_reports_every_iteration() {
        let host = RecordingHost::new();
        let result = GraphEngine::invoke("pagerank", triangle(), &host).expect("runs");
        let iterations = result["iterations"].as_u64().expect("a count");
        let progress: Vec<_> = host
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Recorded::Progress { detail, .. } => detail,
                _ => None,
            })
            .collect();
        assert_eq!(progress.len() as u64, iterations);
        assert_eq!(progress.last().expect("one")["converged"], true);
        assert_eq!(result["scores"].as_object().expect("map").len(), 4);
    }

    #[test]
    fn cancellation_stops_between_iterations() {
        let host = RecordingHost::cancelling_after(2);
        let outcome = GraphEngine::invoke("pagerank", triangle(), &host);
        assert_eq!(outcome, Err(EngineError::Cancelled));
    }

    #[test]
    fn shortest_path_names_the_path() {
        let params = json!({ "edges": [["a", "b", 1], ["b", "c", 1], ["a", "c", 5]], "source": "a", "target": "c" });
        let result =
            GraphEngine::invoke("shortest_path", params, &RecordingHost::new()).expect("runs");
        assert_eq!(result["distance"], 2.0);
        assert_eq!(result["path"], json!(["a", "b", "c"]));
    }

    #[test]
    fn unknown_nodes_and_ops_are_clear_errors() {
        let params = json!({ "edges": [[1, 2]], "source": 9 });
        match GraphEngine::invoke("bfs", params, &RecordingHost::new()) {
            Err(EngineError::InvalidParams(why)) => assert!(why.contains("'9'"), "{why}"),
            other => panic!("expected invalid params, got {other:?}"),
        }
        assert_eq!(
            GraphEngine::invoke("nope", json!({}), &RecordingHost::new()),
            Err(EngineError::UnknownOperation("nope".into()))
        );
    }

    #[test]
    fn bfs_streams_traversal_updates() {
        let params = json!({ "edges": [[1, 2], [2, 3]], "source": 1 });
        let host = RecordingHost::new();
        let result = GraphEngine::invoke("bfs", params, &host).expect("runs");
        assert_eq!(result["depths"]["3"], 2);
        let updates = host
            .calls()
            .iter()
            .filter(|c| matches!(c, Recorded::Event { kind, .. } if kind == "traversal_update"))
            .count();
        assert!(updates >= 2);
    }
}
