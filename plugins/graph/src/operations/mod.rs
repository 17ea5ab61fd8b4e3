//! The engine's operations: JSON params in, JSON results out, progress
//! reported to the host. Algorithms live in their own modules; this file
//! only translates.

use std::ops::ControlFlow;

use weft_sdk::{
    Body, Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Operation,
    Params, Route, Subscription, Value, json,
};

use crate::graph::{Graph, NodeIndex};
use crate::input::{NodeName, graph_schema_properties};

mod embedding;
mod query;
mod ranking;
mod similarity;
mod structure;
mod traversal;

/// The graph engine as a Weft [`Engine`].
pub struct GraphEngine;

pub(super) const ALGORITHMS: &str = "algorithms";
pub(super) const TRAVERSAL: &str = "traversal";

/// A params schema: the graph fields plus `extra` properties.
pub(super) fn schema(extra: Value, required: &[&str]) -> Value {
    let mut properties = graph_schema_properties();
    if let Value::Object(extra) = extra {
        properties.extend(extra);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "oneOf": [{"required": ["edges"]}, {"required": ["graph"]}],
        "additionalProperties": false
    })
}

pub(super) fn node_schema(description: &str) -> Value {
    json!({ "type": ["string", "integer"], "description": description })
}

/// The operations behind the stored-graph routes (`stored.rs`).
fn stored_graph_operations() -> Vec<Operation> {
    let name = json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,57}$",
        "description": "The graph's name: 1-58 characters of A-Z a-z 0-9 _ . - not starting with '.'"
    });
    let column = json!({"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}});
    let summary = json!({
        "type": "object",
        "required": ["name", "edges", "edge_columns"],
        "properties": {
            "name": {"type": "string"},
            "edges": {"type": "integer"},
            "edge_columns": {"type": "array", "items": column},
            "nodes": {"type": ["integer", "null"]},
            "node_columns": {"type": ["array", "null"], "items": column}
        }
    });
    let named = json!({"type": "object", "required": ["name"], "properties": {"name": name}, "additionalProperties": false});
    vec![
        Operation::new(
            "store_graph",
            "Stores a graph from an uploaded body (JSON edges and nodes, or CSV edges) as columnar datasets, atomically; jobs then take {\"graph\": name}.",
            json!({
                "type": "object",
                "required": ["name", "body_blob"],
                "properties": {
                    "name": name,
                    "body_blob": {"type": "string", "description": "The blob holding the uploaded body (the route stores it)"},
                    "body_type": {"type": "string", "description": "The body's media type: text/csv for CSV, anything else is JSON"}
                },
                "additionalProperties": false
            }),
        )
        .result(summary.clone()),
        Operation::new("graph_info", "A stored graph's summary: edges, nodes and their columns.", named.clone())
            .result(summary.clone()),
        Operation::new("list_graphs", "Every stored graph's summary.", json!({"type": "object", "additionalProperties": false}))
            .result(json!({"type": "object", "properties": {"graphs": {"type": "array", "items": summary}}})),
        Operation::new("drop_graph", "Deletes a stored graph, its edges and its nodes.", named),
    ]
}

/// The graph engine's surface: the stored-graph routes, seed 000's two
/// graph endpoints and the kinds its operations emit, each with the schema
/// in `schemas/`.
fn manifest() -> Manifest {
    let schema = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
    Manifest {
        routes: vec![
            Route::new(Method::Get, "/api/v1/graphs", "list_graphs", "Stored graphs and their sizes"),
            Route::new(
                Method::Post,
                "/api/v1/graphs/{name}",
                "store_graph",
                "Store a graph (up to 16 MiB): JSON {\"edges\": [[from, to, weight?] or {from, to, weight?, label?, …properties}], \"nodes\": [id or {id, …properties}]} or text/csv with columns source,target[,weight][,label][,properties…]; graph jobs then take {\"graph\": name}",
            )
            .body(Body::Bytes("*/*".into()))
            .status(201),
            Route::new(Method::Get, "/api/v1/graphs/{name}", "graph_info", "A stored graph's summary"),
            Route::new(Method::Delete, "/api/v1/graphs/{name}", "drop_graph", "Delete a stored graph")
                .status(204),
        ],
        endpoints: vec![
            Endpoint::new(
                "/api/v1/ws/graph/algorithms",
                ALGORITHMS,
                "Graph algorithm progress and results (seed 000 §2.3)",
            )
            .request("graph_algorithm_request", "pagerank"),
            Endpoint::new(
                "/api/v1/ws/graph/traversal",
                TRAVERSAL,
                "BFS and DFS traversal updates (seed 000 §2.3)",
            )
            .request("graph_algorithm_request", "bfs"),
        ],
        events: vec![
            EventKind::new(
                "algorithm_progress",
                "One iteration (PageRank, HITS, eigenvector) or level (Louvain) of a running algorithm.",
                schema(include_str!("../../schemas/algorithm_progress.json")),
            ),
            EventKind::new(
                "algorithm_complete",
                "An algorithm finished: iterations, convergence and its top vertices.",
                schema(include_str!("../../schemas/algorithm_complete.json")),
            ),
            EventKind::new(
                "traversal_update",
                "A BFS level (with its frontier) or a DFS step (with the vertex reached).",
                schema(include_str!("../../schemas/traversal_update.json")),
            ),
        ],
        subscriptions: vec![
            Subscription::new(
                "graphAlgorithmProgress",
                ALGORITHMS,
                &["algorithm_progress", "algorithm_complete"],
                "Progress of graph algorithms (PageRank, HITS, Louvain, …): of one job (jobId; ends with its algorithm_complete) or of all, optionally of one algorithm",
            )
            .filter("algorithm")
            .ends_with("algorithm_complete"),
            Subscription::new(
                "graphTraversal",
                TRAVERSAL,
                &["traversal_update"],
                "BFS and DFS traversal updates: of one job (jobId) or of all",
            ),
        ],
        ..Manifest::default()
    }
}

impl Engine for GraphEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            manifest: manifest(),
            name: "graph".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new(
                    "pagerank",
                    "PageRank scores by power iteration (networkx-compatible), optionally personalized.",
                    schema(
                        json!({
                            "damping": { "type": "number", "minimum": 0, "maximum": 1, "default": 0.85 },
                            "tolerance": { "type": "number", "exclusiveMinimum": 0, "default": 1e-6 },
                            "max_iterations": { "type": "integer", "minimum": 1, "maximum": 100000, "default": 100 },
                            "personalization": {
                                "type": "object",
                                "description": "Teleport weights by node id; unlisted nodes get 0.",
                                "additionalProperties": { "type": "number", "minimum": 0 }
                            }
                        }),
                        &[],
                    ),
                )
                .emits(&["algorithm_progress", "algorithm_complete"])
                .topic(ALGORITHMS),
                Operation::new("degree_centrality", "Degree / (n - 1), as networkx.", schema(json!({}), &[]))
                    .emits(&["algorithm_complete"])
                    .topic(ALGORITHMS),
                Operation::new(
                    "closeness_centrality",
                    "Closeness (Wasserman-Faust), by hops or (weighted) by edge weight; incoming distances for directed graphs.",
                    schema(json!({ "weighted": { "type": "boolean", "default": false, "description": "Measure paths by edge weight (non-negative), as networkx's distance=\"weight\"." } }), &[]),
                )
                .emits(&["algorithm_progress", "algorithm_complete"])
                .topic(ALGORITHMS),
                Operation::new(
                    "betweenness_centrality",
                    "Brandes betweenness, normalised as networkx; exact, or sampled from k sources.",
                    schema(
                        json!({
                            "k": { "type": "integer", "minimum": 1, "description": "Sample this many sources." },
                            "seed": { "type": "integer", "minimum": 0, "default": 42 },
                            "weighted": { "type": "boolean", "default": false, "description": "Shortest paths by edge weight (non-negative), as networkx's weight=\"weight\"." }
                        }),
                        &[],
                    ),
                )
                .emits(&["algorithm_complete", "algorithm_progress"])
                .topic(ALGORITHMS),
                Operation::new(
                    "bfs",
                    "Breadth-first search from a source node.",
                    traversal_schema(),
                )
                .emits(&["traversal_update"])
                .topic(TRAVERSAL),
                Operation::new(
                    "dfs",
                    "Depth-first preorder from a source node.",
                    traversal_schema(),
                )
                .emits(&["traversal_update"])
                .topic(TRAVERSAL),
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
                Operation::new(
                    "astar",
                    "A* shortest path guided by the Euclidean distance between node coordinates.",
                    schema(
                        json!({
                            "source": node_schema("Start node."),
                            "target": node_schema("End node."),
                            "coordinates": {
                                "type": "object",
                                "description": "Node id -> [x, y, ...]. Optimal when edge weights are at least the Euclidean distance of their endpoints.",
                                "additionalProperties": { "type": "array", "items": { "type": "number" }, "minItems": 1 }
                            },
                            "heuristic_weight": { "type": "number", "minimum": 0, "default": 1.0 }
                        }),
                        &["source", "target", "coordinates"],
                    ),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "all_pairs_shortest_paths",
                    "Dijkstra distances between every pair of nodes (graphs of at most 2,000 nodes).",
                    schema(json!({}), &[]),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "louvain",
                    "Louvain communities and their modularity (undirected, weighted).",
                    schema(json!({ "resolution": { "type": "number", "exclusiveMinimum": 0, "default": 1.0 } }), &[]),
                )
                .emits(&["algorithm_progress", "algorithm_complete"])
                .topic(ALGORITHMS),
                Operation::new(
                    "embeddings",
                    "node2vec embeddings: biased random walks + skip-gram with negative sampling (seeded).",
                    schema(
                        json!({
                            "dimensions": { "type": "integer", "minimum": 1, "maximum": 512, "default": 32 },
                            "walk_length": { "type": "integer", "minimum": 2, "maximum": 1000, "default": 40 },
                            "walks_per_node": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 10 },
                            "window": { "type": "integer", "minimum": 1, "maximum": 50, "default": 5 },
                            "p": { "type": "number", "exclusiveMinimum": 0, "default": 1.0 },
                            "q": { "type": "number", "exclusiveMinimum": 0, "default": 1.0 },
                            "negative": { "type": "integer", "minimum": 0, "maximum": 50, "default": 5 },
                            "epochs": { "type": "integer", "minimum": 1, "maximum": 100, "default": 1 },
                            "seed": { "type": "integer", "minimum": 0, "default": 42 }
                        }),
                        &[],
                    ),
                )
                .emits(&["algorithm_complete"])
                .topic(ALGORITHMS),
                Operation::new(
                    "query",
                    "PGQL-like pattern query: MATCH (a)-[:KNOWS]->(b) WHERE a.age > 30 RETURN b.name (grammar in the README).",
                    schema(
                        json!({
                            "query": { "type": "string", "minLength": 1 },
                            "node_properties": {
                                "type": "object",
                                "description": "Node id -> properties; the 'label' property is the node's label. With a stored graph, the columns of its nodes are read first and these override them per property.",
                                "additionalProperties": { "type": "object" }
                            }
                        }),
                        &["query"],
                    ),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "connected_components",
                    "Connected components (weakly connected for directed graphs), largest first.",
                    schema(json!({}), &[]),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "strongly_connected_components",
                    "Strongly connected components (Tarjan), largest first.",
                    schema(json!({}), &[]),
                )
                .topic(ALGORITHMS),
                Operation::new("triangles", "Triangles through each node (undirected).", schema(json!({}), &[]))
                    .topic(ALGORITHMS),
                Operation::new(
                    "clustering",
                    "Local clustering coefficient of each node and their average (undirected).",
                    schema(json!({}), &[]),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "similarity",
                    "Neighbourhood similarity of node pairs: jaccard, cosine, common_neighbors, adamic_adar.",
                    schema(
                        json!({
                            "metric": { "enum": ["jaccard", "cosine", "common_neighbors", "adamic_adar"] },
                            "pairs": { "type": "array", "items": { "type": "array", "minItems": 2, "maxItems": 2 } }
                        }),
                        &["metric", "pairs"],
                    ),
                )
                .topic(ALGORITHMS),
                Operation::new(
                    "recommend",
                    "Top-k nodes not yet linked to the source, by a similarity metric (default adamic_adar).",
                    schema(
                        json!({
                            "source": node_schema("Node to recommend for."),
                            "metric": { "enum": ["jaccard", "cosine", "common_neighbors", "adamic_adar"] },
                            "top_k": { "type": "integer", "minimum": 1, "maximum": 10000, "default": 10 }
                        }),
                        &["source"],
                    ),
                )
                .topic(ALGORITHMS),
            ]
            .into_iter()
            .chain(stored_graph_operations())
            .collect(),
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        match op {
            "pagerank" => ranking::pagerank(params, host),
            "degree_centrality" => ranking::degree(params, host),
            "closeness_centrality" => ranking::closeness(params, host),
            "betweenness_centrality" => ranking::betweenness(params, host),
            "bfs" => traversal::bfs(params, host),
            "dfs" => traversal::dfs(params, host),
            "shortest_path" => traversal::shortest_path(params, host),
            "astar" => traversal::astar(params, host),
            "all_pairs_shortest_paths" => traversal::all_pairs(params, host),
            "louvain" => structure::louvain(params, host),
            "embeddings" => embedding::embeddings(params, host),
            "query" => query::query(params, host),
            "connected_components" => structure::components(params, host),
            "strongly_connected_components" => structure::strongly_connected(params, host),
            "triangles" => structure::triangles(params, host),
            "clustering" => structure::clustering(params, host),
            "similarity" => similarity::similarity(params, host),
            "recommend" => similarity::recommend(params, host),
            "store_graph" => crate::stored::store(params, host),
            "graph_info" => crate::stored::info(params, host),
            "list_graphs" => crate::stored::list(host),
            "drop_graph" => crate::stored::drop(params, host),
            other => Err(EngineError::UnknownOperation(other.to_owned())),
        }
    }
}

/// The params' graph: inline edges, or a stored graph read from host
/// storage.
pub(super) fn graph_input(
    params: &Params<'_>,
    host: &dyn Host,
) -> Result<crate::input::GraphInput, EngineError> {
    params.parse::<crate::input::GraphInput>()?.resolve(host)
}

pub(super) fn load(input: crate::input::GraphInput) -> Result<Graph, EngineError> {
    Graph::from_input(input)
        .map_err(|_| EngineError::InvalidParams("the graph has more than 2^32 nodes".into()))
}

pub(super) fn locate(graph: &Graph, name: &NodeName, role: &str) -> Result<NodeIndex, EngineError> {
    graph.find(name).ok_or_else(|| {
        EngineError::InvalidParams(format!("{role} node '{}' is not in the graph", name))
    })
}

/// Builds the graph for an algorithm that needs non-negative weights.
pub(super) fn load_non_negative(
    input: crate::input::GraphInput,
    algorithm: &str,
) -> Result<Graph, EngineError> {
    if input.edges.iter().any(|e| e.weight < 0.0) {
        return Err(EngineError::InvalidParams(format!(
            "{algorithm} needs non-negative edge weights"
        )));
    }
    load(input)
}

/// Params schema of a traversal from a source node.
fn traversal_schema() -> Value {
    schema(
        json!({
            "source": node_schema("Node to start from."),
            "max_depth": { "type": "integer", "minimum": 0 }
        }),
        &["source"],
    )
}

/// `{node name: value}` for a per-node vector.
pub(super) fn by_node<T: serde::Serialize>(
    graph: &Graph,
    values: &[T],
) -> serde_json::Map<String, Value> {
    graph
        .nodes()
        .map(|i| (graph.name(i).to_string(), json!(values[i as usize])))
        .collect()
}

/// Publishes `algorithm_complete` with the ten highest-scoring vertices.
pub(super) fn report_top(graph: &Graph, host: &dyn Host, algorithm: &str, scores: &[f64]) {
    let mut order: Vec<NodeIndex> = graph.nodes().collect();
    let by_score = |&a: &NodeIndex, &b: &NodeIndex| {
        scores[b as usize]
            .total_cmp(&scores[a as usize])
            .then(a.cmp(&b))
    };
    // Select the ten first, then sort only them: O(n), not O(n log n).
    if order.len() > 10 {
        order.select_nth_unstable_by(10, by_score);
        order.truncate(10);
    }
    order.sort_by(by_score);
    let top: Vec<Value> = order
        .iter()
        .take(10)
        .map(|&v| json!({ "vertex": graph.name(v), "score": scores[v as usize] }))
        .collect();
    host.emit(
        ALGORITHMS,
        "algorithm_complete",
        &json!({ "algorithm": algorithm, "top_vertices": top }),
    );
}

/// Refuses directed graphs for measures networkx defines on undirected ones.
pub(super) fn undirected_only(graph: &Graph, what: &str) -> Result<(), EngineError> {
    if graph.is_directed() {
        return Err(EngineError::InvalidParams(format!(
            "{what} is defined here for undirected graphs; send \"directed\": false"
        )));
    }
    Ok(())
}

/// Maps a host cancellation to the callback's `Break`.
pub(super) fn keep_going(host: &dyn Host) -> ControlFlow<()> {
    if host.cancelled() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
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
        let result = GraphEngine::invoke("pagerank", Params::new(&triangle().to_string()), &host)
            .expect("runs");
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
        let outcome = GraphEngine::invoke("pagerank", Params::new(&triangle().to_string()), &host);
        assert_eq!(outcome, Err(EngineError::Cancelled));
    }

    #[test]
    fn shortest_path_names_the_path() {
        let params = json!({ "edges": [["a", "b", 1], ["b", "c", 1], ["a", "c", 5]], "source": "a", "target": "c" });
        let result = GraphEngine::invoke(
            "shortest_path",
            Params::new(&params.to_string()),
            &RecordingHost::new(),
        )
        .expect("runs");
        assert_eq!(result["distance"], 2.0);
        assert_eq!(result["path"], json!(["a", "b", "c"]));
    }

    #[test]
    fn unknown_nodes_and_ops_are_clear_errors() {
        let params = json!({ "edges": [[1, 2]], "source": 9 });
        match GraphEngine::invoke(
            "bfs",
            Params::new(&params.to_string()),
            &RecordingHost::new(),
        ) {
            Err(EngineError::InvalidParams(why)) => assert!(why.contains("'9'"), "{why}"),
            other => panic!("expected invalid params, got {other:?}"),
        }
        assert_eq!(
            GraphEngine::invoke("nope", Params::new("{}"), &RecordingHost::new()),
            Err(EngineError::UnknownOperation("nope".into()))
        );
    }

    #[test]
    fn bfs_streams_traversal_updates() {
        let params = json!({ "edges": [[1, 2], [2, 3]], "source": 1 });
        let host = RecordingHost::new();
        let result =
            GraphEngine::invoke("bfs", Params::new(&params.to_string()), &host).expect("runs");
        assert_eq!(result["depths"]["3"], 2);
        let updates = host
            .calls()
            .iter()
            .filter(|c| matches!(c, Recorded::Event { kind, .. } if kind == "traversal_update"))
            .count();
        assert!(updates >= 2);
    }

    #[test]
    fn every_emitted_kind_is_declared_with_a_schema() {
        let info = GraphEngine::describe();
        let declared: Vec<&str> = info
            .manifest
            .events
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        for kind in &info.manifest.events {
            assert!(
                kind.schema.is_object(),
                "{}'s schema is not a JSON object",
                kind.name
            );
        }
        for op in &info.operations {
            for kind in op.emits.iter().filter(|k| *k != "progress") {
                assert!(
                    declared.contains(&kind.as_str()),
                    "{} emits undeclared {kind}",
                    op.name
                );
            }
        }
    }
}
