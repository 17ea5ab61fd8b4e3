//! The graph engine, run as a wasm component through the real server,
//! against networkx on Zachary's karate club
//! (`test_data/graph/make_karate_reference.py`).

use serde_json::{Value, json};
use weft_tests::{Server, test_data};

fn reference() -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(test_data("graph/karate_pagerank.json"))?;
    Ok(serde_json::from_str(&text)?)
}

fn assert_scores_match(ours: &Value, theirs: &Value, tolerance: f64) {
    let theirs = theirs.as_object().expect("reference scores");
    let ours = ours.as_object().expect("our scores");
    assert_eq!(ours.len(), theirs.len());
    for (node, expected) in theirs {
        let expected = expected.as_f64().expect("number");
        let got = ours[node].as_f64().expect("number");
        assert!(
            (got - expected).abs() < tolerance,
            "node {node}: ours {got}, networkx {expected}"
        );
    }
}

#[tokio::test]
async fn pagerank_matches_networkx_on_the_karate_club() -> anyhow::Result<()> {
    let reference = reference()?;
    let server = Server::start(&[])?;
    for case in ["pagerank", "pagerank_default"] {
        let mut params = reference[case]["params"].clone();
        params["edges"] = reference["edges"].clone();
        let job = server.run_job("graph", "pagerank", params).await?;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["result"]["converged"], true);
        assert_scores_match(&job["result"]["scores"], &reference[case]["scores"], 1e-6);
    }
    Ok(())
}

#[tokio::test]
async fn traversal_paths_and_components_match_networkx() -> anyhow::Result<()> {
    let reference = reference()?;
    let server = Server::start(&[])?;
    let edges = reference["edges"].clone();

    let bfs = server
        .run_job("graph", "bfs", json!({ "edges": edges, "source": 0 }))
        .await?;
    assert_eq!(bfs["result"]["depths"], reference["bfs_depths_from_0"]);

    let dijkstra = server
        .run_job(
            "graph",
            "shortest_path",
            json!({ "edges": edges, "source": 0 }),
        )
        .await?;
    let ours = dijkstra["result"]["distances"]
        .as_object()
        .expect("distances");
    let theirs = reference["dijkstra_from_0"].as_object().expect("distances");
    assert_eq!(ours.len(), theirs.len());
    for (node, d) in theirs {
        assert_eq!(ours[node].as_f64(), d.as_f64(), "distance to {node}");
    }

    let components = server
        .run_job("graph", "connected_components", json!({ "edges": edges }))
        .await?;
    assert_eq!(components["result"]["count"], reference["components"]);

    let all_pairs = server
        .run_job(
            "graph",
            "all_pairs_shortest_paths",
            json!({ "edges": edges }),
        )
        .await?;
    let ours = all_pairs["result"]["distances"].as_object().expect("rows");
    let theirs = reference["all_pairs_dijkstra"].as_object().expect("rows");
    assert_eq!(ours.len(), 34);
    for (u, row) in theirs {
        for (v, d) in row.as_object().expect("row") {
            assert_eq!(ours[u][v].as_f64(), d.as_f64(), "distance {u} -> {v}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn embeddings_separate_the_two_karate_clubs() -> anyhow::Result<()> {
    let reference = reference()?;
    let server = Server::start(&[])?;
    let job = server
        .run_job(
            "graph",
            "embeddings",
            json!({ "edges": reference["edges"], "dimensions": 16, "seed": 3 }),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let vectors = job["result"]["embeddings"].as_object().expect("embeddings");
    assert_eq!(vectors.len(), 34);
    let club = reference["club"].as_object().expect("clubs");
    let vector = |n: &str| -> Vec<f64> {
        vectors[n]
            .as_array()
            .expect("vector")
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    let cosine = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt()
            * b.iter().map(|x| x * x).sum::<f64>().sqrt())
    };
    let (mut within, mut across) = (Vec::new(), Vec::new());
    let nodes: Vec<&String> = club.keys().collect();
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let s = cosine(&vector(a), &vector(b));
            if club[a.as_str()] == club[b.as_str()] {
                within.push(s)
            } else {
                across.push(s)
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&within) > mean(&across) + 0.1,
        "same-club pairs should be closer: within {:.3}, across {:.3}",
        mean(&within),
        mean(&across)
    );
    Ok(())
}

#[tokio::test]
async fn pattern_queries_match_an_independent_evaluation() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(test_data("graph/query_reference.json"))?;
    let reference: Value = serde_json::from_str(&text)?;
    let server = Server::start(&[])?;
    // The same graph stored once (nodes with their properties as columns):
    // queries on it must give the same rows as with everything inline.
    let nodes: Vec<Value> = reference["node_properties"]
        .as_object()
        .expect("node properties")
        .iter()
        .map(|(id, properties)| {
            let mut node = properties.clone();
            node["id"] = json!(id);
            node
        })
        .collect();
    let (status, stored) = server
        .post(
            "/api/v1/graphs/social",
            &json!({ "edges": reference["edges"], "nodes": nodes }),
        )
        .await?;
    assert_eq!(status, 201, "{stored}");
    let inline = json!({
        "edges": reference["edges"], "node_properties": reference["node_properties"]
    });
    let cases = reference["queries"].as_array().expect("queries");
    for (case, source) in cases
        .iter()
        .flat_map(|case| [(case, inline.clone()), (case, json!({ "graph": "social" }))])
    {
        let mut params = json!({ "directed": true, "query": case["query"] });
        if let (Some(params), Some(source)) = (params.as_object_mut(), source.as_object()) {
            params.extend(source.clone());
        }
        let job = server.run_job("graph", "query", params).await?;
        assert_eq!(job["state"], "succeeded", "{job}");
        let mut rows: Vec<String> = job["result"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(Value::to_string)
            .collect();
        rows.sort();
        let mut expected: Vec<String> = case["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(Value::to_string)
            .collect();
        expected.sort();
        assert!(
            !expected.is_empty(),
            "the reference query should match something"
        );
        assert_eq!(rows, expected, "{} on {}", case["query"], source["graph"]);
    }
    let bad = server
        .run_job(
            "graph",
            "query",
            json!({ "edges": [[1, 2]], "query": "MATCH (a) RETURN b" }),
        )
        .await?;
    assert_eq!(bad["state"], "failed");
    assert_eq!(bad["error"]["code"], "invalid_params");
    assert!(
        bad["error"]["message"]
            .as_str()
            .expect("message")
            .contains("'b' is not bound")
    );
    Ok(())
}
