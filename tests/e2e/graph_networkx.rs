//! Every graph algorithm, run as the wasm component through the real
//! server, against networkx on seeded random graphs (Erdős–Rényi and
//! Barabási–Albert, directed and undirected, 1,000 nodes):
//! `test_data/graph/make_random_reference.py`.

use serde_json::{Value, json};
use weft_tests::{Server, test_data};

fn graphs() -> anyhow::Result<Vec<Value>> {
    reference_graphs("graph/random_graphs.json")
}

/// The non-empty `"graphs"` list of a reference file: a file that lost it
/// fails the test instead of letting it pass on nothing.
fn reference_graphs(file: &str) -> anyhow::Result<Vec<Value>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(test_data(file))?;
    let reference: Value = serde_json::from_str(&text)?;
    let graphs = reference["graphs"]
        .as_array()
        .cloned()
        .with_context(|| format!("{file} has no \"graphs\" list"))?;
    anyhow::ensure!(!graphs.is_empty(), "{file} lists no graphs");
    Ok(graphs)
}

fn close(ours: &Value, theirs: &Value, tolerance: f64, what: &str) {
    let theirs = theirs.as_object().expect("reference map");
    let ours = ours.as_object().expect("our map");
    assert_eq!(ours.len(), theirs.len(), "{what}: node count");
    for (node, expected) in theirs {
        let (got, expected) = (
            ours[node].as_f64().expect("number"),
            expected.as_f64().expect("number"),
        );
        assert!(
            (got - expected).abs() <= tolerance,
            "{what}, node {node}: ours {got}, networkx {expected}"
        );
    }
}

async fn run(server: &Server, graph: &Value, op: &str, extra: Value) -> anyhow::Result<Value> {
    let mut params =
        json!({ "edges": graph["edges"], "nodes": graph["nodes"], "directed": graph["directed"] });
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    let job = server.run_job("graph", op, params).await?;
    anyhow::ensure!(
        job["state"] == "succeeded",
        "{op} on {}: {job}",
        graph["name"]
    );
    Ok(job["result"].clone())
}

#[tokio::test]
async fn centralities_match_networkx() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    for graph in graphs()? {
        let name = graph["name"].as_str().unwrap_or_default().to_owned();
        let precise = json!({ "tolerance": 1e-12, "max_iterations": 1000 });
        let pagerank = run(&server, &graph, "pagerank", precise.clone()).await?;
        close(
            &pagerank["scores"],
            &graph["pagerank"],
            1e-6,
            &format!("{name} pagerank"),
        );

        let mut personalized = precise;
        personalized["personalization"] = graph["personalized_pagerank"]["personalization"].clone();
        let ppr = run(&server, &graph, "pagerank", personalized).await?;
        close(
            &ppr["scores"],
            &graph["personalized_pagerank"]["scores"],
            1e-6,
            &format!("{name} personalized"),
        );

        let degree = run(&server, &graph, "degree_centrality", json!({})).await?;
        close(
            &degree["scores"],
            &graph["degree_centrality"],
            1e-12,
            &format!("{name} degree"),
        );
        let closeness = run(&server, &graph, "closeness_centrality", json!({})).await?;
        close(
            &closeness["scores"],
            &graph["closeness_centrality"],
            1e-9,
            &format!("{name} closeness"),
        );
        let betweenness = run(&server, &graph, "betweenness_centrality", json!({})).await?;
        close(
            &betweenness["scores"],
            &graph["betweenness_centrality"],
            1e-9,
            &format!("{name} betweenness"),
        );
        assert_eq!(betweenness["exact"], true);

        // A sample of a fifth of the sources stays near the exact answer.
        let sampled = run(
            &server,
            &graph,
            "betweenness_centrality",
            json!({ "k": 200, "seed": 7 }),
        )
        .await?;
        assert_eq!(sampled["sources"], 200);
        let exact = graph["betweenness_centrality"].as_object().expect("map");
        let error: f64 = exact
            .iter()
            .map(|(node, e)| {
                (sampled["scores"][node].as_f64().unwrap_or(0.0) - e.as_f64().unwrap_or(0.0)).abs()
            })
            .sum::<f64>()
            / exact
                .values()
                .map(|e| e.as_f64().unwrap_or(0.0))
                .sum::<f64>();
        assert!(
            error < 0.35,
            "{name}: sampled betweenness is off by {error:.3} (relative L1)"
        );
    }
    Ok(())
}

#[tokio::test]
async fn paths_components_and_structure_match_networkx() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    for graph in graphs()? {
        let name = graph["name"].as_str().unwrap_or_default().to_owned();
        let source = graph["source"].clone();
        let bfs = run(&server, &graph, "bfs", json!({ "source": source })).await?;
        assert_eq!(
            bfs["depths"], graph["shortest_path_lengths"],
            "{name} bfs depths"
        );
        let dijkstra = run(
            &server,
            &graph,
            "shortest_path",
            json!({ "source": source }),
        )
        .await?;
        let distances = dijkstra["distances"].as_object().expect("map");
        for (node, d) in graph["shortest_path_lengths"].as_object().expect("map") {
            assert_eq!(
                distances[node].as_f64(),
                d.as_f64(),
                "{name} distance to {node}"
            );
        }
        let dfs = run(&server, &graph, "dfs", json!({ "source": source })).await?;
        assert_eq!(
            dfs["visited"].as_u64(),
            Some(distances.len() as u64),
            "{name}: dfs reaches what bfs reaches"
        );

        let components = run(&server, &graph, "connected_components", json!({})).await?;
        if graph["directed"] == true {
            assert_eq!(
                components["count"], graph["weak_components"],
                "{name} weak components"
            );
            let strong = run(&server, &graph, "strongly_connected_components", json!({})).await?;
            let theirs: Vec<Vec<String>> = graph["strong_components"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| {
                    c.as_array()
                        .expect("list")
                        .iter()
                        .map(|n| n.to_string())
                        .collect()
                })
                .collect();
            let mut ours: Vec<Vec<String>> = strong["components"]
                .as_array()
                .expect("list")
                .iter()
                .map(|c| {
                    let mut c: Vec<String> = c
                        .as_array()
                        .expect("list")
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect();
                    c.sort_by_key(|n| n.parse::<u64>().unwrap_or(u64::MAX));
                    c
                })
                .collect();
            ours.sort_by(|a, b| {
                b.len()
                    .cmp(&a.len())
                    .then(a[0].parse::<u64>().ok().cmp(&b[0].parse::<u64>().ok()))
            });
            assert_eq!(ours, theirs, "{name} strongly connected components");
            let refused = server
                .run_job(
                    "graph",
                    "triangles",
                    json!({ "edges": graph["edges"], "directed": true }),
                )
                .await?;
            assert_eq!(refused["error"]["code"], "invalid_params");
            continue;
        }
        assert_eq!(
            components["count"], graph["components"],
            "{name} components"
        );
        let triangles = run(&server, &graph, "triangles", json!({})).await?;
        assert_eq!(
            triangles["triangles"], graph["triangles"],
            "{name} triangles"
        );
        let clustering = run(&server, &graph, "clustering", json!({})).await?;
        close(
            &clustering["clustering"],
            &graph["clustering"],
            1e-12,
            &format!("{name} clustering"),
        );
        let average = clustering["average"].as_f64().expect("number");
        assert!((average - graph["average_clustering"].as_f64().expect("number")).abs() < 1e-12);

        for (metric, key) in [
            ("jaccard", "jaccard"),
            ("adamic_adar", "adamic_adar"),
            ("common_neighbors", "common_neighbors"),
        ] {
            let result = run(
                &server,
                &graph,
                "similarity",
                json!({ "metric": metric, "pairs": graph["pairs"] }),
            )
            .await?;
            let ours: Vec<f64> = result["scores"]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|s| s[2].as_f64())
                .collect();
            let theirs: Vec<f64> = graph[key]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            assert_eq!(ours.len(), theirs.len());
            for (o, t) in ours.iter().zip(&theirs) {
                assert!(
                    (o - t).abs() < 1e-12,
                    "{name} {metric}: ours {o}, networkx {t}"
                );
            }
        }
        let recommended = run(
            &server,
            &graph,
            "recommend",
            json!({ "source": source, "top_k": 5 }),
        )
        .await?;
        let list = recommended["recommendations"].as_array().expect("list");
        assert!(!list.is_empty() && list.len() <= 5);
        let scores: Vec<f64> = list.iter().filter_map(|r| r["score"].as_f64()).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{name}: recommendations best first"
        );
    }
    Ok(())
}

#[tokio::test]
async fn astar_matches_networkx_on_a_geometric_graph() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(test_data("graph/random_graphs.json"))?;
    let reference: Value = serde_json::from_str(&text)?;
    let case = &reference["astar"];
    let server = Server::start(&[])?;
    let params = json!({
        "edges": case["edges"], "coordinates": case["coordinates"],
        "source": case["source"], "target": case["target"]
    });
    let astar = server.run_job("graph", "astar", params.clone()).await?;
    let distance = astar["result"]["distance"].as_f64().expect("reachable");
    let expected = case["distance"].as_f64().expect("number");
    assert!(
        (distance - expected).abs() < 1e-9,
        "ours {distance}, networkx {expected}"
    );
    let path = astar["result"]["path"].as_array().expect("path");
    assert_eq!(
        path.first().map(Value::to_string),
        Some(format!("\"{}\"", case["source"]))
    );

    // Guided search settles fewer nodes than blind Dijkstra to the same answer.
    let dijkstra = server
        .run_job(
            "graph",
            "shortest_path",
            json!({ "edges": case["edges"], "source": case["source"], "target": case["target"] }),
        )
        .await?;
    assert!((dijkstra["result"]["distance"].as_f64().expect("number") - expected).abs() < 1e-9);
    let unguided = server
        .run_job(
            "graph",
            "astar",
            json!({ "edges": case["edges"], "coordinates": case["coordinates"],
            "source": case["source"], "target": case["target"], "heuristic_weight": 0.0 }),
        )
        .await?;
    assert!(astar["result"]["settled"].as_u64() < unguided["result"]["settled"].as_u64());
    Ok(())
}

/// Closeness and betweenness over weighted shortest paths, against
/// networkx (`test_data/graph/make_weighted_reference.py`).
#[tokio::test]
async fn weighted_centralities_match_networkx() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    for graph in reference_graphs("graph/weighted_centrality.json")? {
        let name = graph["name"].as_str().unwrap_or_default().to_owned();
        let weighted = json!({ "weighted": true });
        let closeness = run(&server, &graph, "closeness_centrality", weighted.clone()).await?;
        close(
            &closeness["scores"],
            &graph["closeness"],
            1e-9,
            &format!("{name} weighted closeness"),
        );
        let betweenness = run(&server, &graph, "betweenness_centrality", weighted).await?;
        close(
            &betweenness["scores"],
            &graph["betweenness"],
            1e-9,
            &format!("{name} weighted betweenness"),
        );
        // Hop counts differ from weighted paths: the flag is not ignored.
        let hops = run(&server, &graph, "betweenness_centrality", json!({})).await?;
        assert_ne!(hops["scores"], betweenness["scores"], "{name}");
    }
    Ok(())
}

/// A 10,000-node power-law graph with weights, against networkx
/// (`test_data/graph/make_large_reference.py`).
#[tokio::test]
async fn ten_thousand_nodes_match_networkx() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let text = std::fs::read_to_string(test_data("graph/large_graph.json"))?;
    let graph: Value = serde_json::from_str(&text)?;
    let params = |extra: Value| {
        let mut params = json!({ "edges": graph["edges"], "directed": false });
        if let (Some(p), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(extra.clone());
        }
        params
    };
    let result = |job: Value| -> anyhow::Result<Value> {
        anyhow::ensure!(job["state"] == "succeeded", "{job}");
        Ok(job["result"].clone())
    };
    let pagerank = result(
        server
            .run_job(
                "graph",
                "pagerank",
                params(json!({ "tolerance": 1e-12, "max_iterations": 1000 })),
            )
            .await?,
    )?;
    close(
        &pagerank["scores"],
        &graph["pagerank"],
        1e-6,
        "10k weighted pagerank",
    );
    let components = result(
        server
            .run_job("graph", "connected_components", params(json!({})))
            .await?,
    )?;
    assert_eq!(components["count"], graph["components"]);
    let triangles = result(
        server
            .run_job("graph", "triangles", params(json!({})))
            .await?,
    )?;
    close(
        &triangles["triangles"],
        &graph["triangles"],
        0.0,
        "10k triangles",
    );
    let clustering = result(
        server
            .run_job("graph", "clustering", params(json!({})))
            .await?,
    )?;
    close(
        &clustering["clustering"],
        &graph["clustering"],
        1e-12,
        "10k clustering",
    );
    let bfs = result(
        server
            .run_job("graph", "bfs", params(json!({ "source": 0 })))
            .await?,
    )?;
    assert_eq!(bfs["depths"], graph["bfs_depths"], "10k bfs depths");
    let dijkstra = result(
        server
            .run_job("graph", "shortest_path", params(json!({ "source": 0 })))
            .await?,
    )?;
    close(
        &dijkstra["distances"],
        &graph["dijkstra_distances"],
        1e-9,
        "10k dijkstra",
    );
    Ok(())
}

/// A graph stored once (`POST /api/v1/graphs/{name}`) and named by jobs:
/// the plugin reads it through `weft:host/storage` as typed columns, and
/// the answers still match networkx.
#[tokio::test]
async fn stored_graphs_match_networkx() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    for graph in reference_graphs("graph/weighted_centrality.json")? {
        let name = graph["name"].as_str().unwrap_or_default().to_owned();
        let (status, stored) = server
            .post(
                &format!("/api/v1/graphs/{name}"),
                &json!({ "edges": graph["edges"], "nodes": graph["nodes"] }),
            )
            .await?;
        assert_eq!(status, 201, "{stored}");
        assert_eq!(
            stored["edges"],
            graph["edges"].as_array().map(Vec::len).unwrap_or(0)
        );
        assert_eq!(
            stored["edge_columns"][0]["type"], "i64",
            "integer ids stay integers"
        );
        let params = json!({ "graph": name, "directed": graph["directed"], "weighted": true });
        let job = server
            .run_job("graph", "closeness_centrality", params.clone())
            .await?;
        assert_eq!(job["state"], "succeeded", "{job}");
        close(
            &job["result"]["scores"],
            &graph["closeness"],
            1e-9,
            &format!("stored {name} closeness"),
        );
        let job = server
            .run_job("graph", "betweenness_centrality", params)
            .await?;
        close(
            &job["result"]["scores"],
            &graph["betweenness"],
            1e-9,
            &format!("stored {name} betweenness"),
        );
    }

    // Text ids and labels, and the usual mistakes.
    let edges = json!([{"from": "ann", "to": "bob", "label": "KNOWS"}, ["bob", "cy", 2.5]]);
    let (status, stored) = server
        .post(
            "/api/v1/graphs/people",
            &json!({ "edges": edges, "nodes": [{"id": "ann", "age": 31}, "dee"] }),
        )
        .await?;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["nodes"], 2);
    let job = server
        .run_job(
            "graph",
            "connected_components",
            json!({ "graph": "people" }),
        )
        .await?;
    assert_eq!(job["result"]["count"], 2, "dee is isolated: {job}");
    let (status, body) = server
        .post("/api/v1/graphs/people", &json!({ "edges": edges }))
        .await?;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("conflict")));
    let (status, body) = server
        .post("/api/v1/graphs/broken", &json!({ "edges": [[1]] }))
        .await?;
    // The engine finds what is wrong with the graph: 422, with its words.
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_params", "{body}");
    let (status, _) = server.get("/api/v1/graphs/broken").await?;
    assert_eq!(status, 404, "nothing half-stored");
    let mixed = json!({ "edges": [
        {"from": 1, "to": 2, "since": 2001},
        {"from": 2, "to": 3, "since": "long ago"}
    ]});
    let (status, body) = server.post("/api/v1/graphs/mixed", &mixed).await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'since'")),
        "{body}"
    );
    let (status, _) = server.get("/api/v1/graphs/mixed").await?;
    assert_eq!(status, 404, "nothing half-stored");
    for clash in [
        json!({ "edges": [{"from": 1, "to": 2, "properties": {"weight": 3}}] }),
        json!({ "edges": [{"from": 1, "to": 2, "source": "x"}] }),
        json!({ "edges": [{"from": 1, "to": 2, "properties": 7}] }),
    ] {
        let (status, body) = server.post("/api/v1/graphs/clash", &clash).await?;
        assert_eq!(status, 422, "{clash} → {body}");
    }
    let (status, job) = server
        .post(
            "/api/v1/jobs?wait=true",
            &json!({"engine": "graph", "op": "pagerank", "params": {"graph": "nope"}}),
        )
        .await?;
    assert_eq!(status, 422, "{job}");
    assert_eq!(job["state"], "failed");
    assert!(
        job["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("POST /api/v1/graphs/nope")),
        "{job}"
    );
    let (_, list) = server.get("/api/v1/graphs").await?;
    assert_eq!(list["graphs"].as_array().map(Vec::len), Some(3));
    let (status, _) = server
        .delete("/api/v1/graphs/people")
        .await
        .unwrap_or((204, Value::Null));
    assert_eq!(status, 204);
    Ok(())
}
