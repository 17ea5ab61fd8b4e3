//! GraphQL over HTTP and both WebSocket subprotocols.

use serde_json::{Value, json};
use weft_tests::{Server, WsClient};

async fn graphql(server: &Server, query: &str, variables: Value) -> anyhow::Result<Value> {
    let (status, body) = server
        .post(
            "/graphql",
            &json!({ "query": query, "variables": variables }),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    Ok(body)
}

const SUBMIT: &str = "mutation($params: JSON) { submitJob(engine: \"graph\", op: \"pagerank\", params: $params) { jobId state topic } }";

fn small_graph() -> Value {
    json!({ "edges": [[1, 2], [2, 3], [3, 1], [3, 4]], "tolerance": 1e-14, "max_iterations": 50 })
}

#[tokio::test]
async fn queries_and_mutations_over_http() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let plugins = graphql(
        &server,
        "{ plugins { name version operations { name topic } } }",
        json!({}),
    )
    .await?;
    // Sorted by name.
    let names: Vec<&str> = plugins["data"]["plugins"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        vec!["analytics", "anomaly", "document", "graph", "ml", "spatial"]
    );
    assert_eq!(
        plugins["data"]["plugins"][3]["operations"][0]["topic"],
        "graph.algorithms"
    );

    let submitted = graphql(&server, SUBMIT, json!({ "params": small_graph() })).await?;
    let job_id = submitted["data"]["submitJob"]["jobId"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(submitted["data"]["submitJob"]["state"], "QUEUED");
    server.get(&format!("/api/v1/jobs/{job_id}")).await?;

    let finished = server
        .post(
            "/api/v1/jobs?wait=true",
            &json!({"engine": "graph", "op": "bfs", "params": {"edges": [[1, 2]], "source": 1}}),
        )
        .await?;
    assert_eq!(finished.0, 200);
    let job = graphql(
        &server,
        "query($id: String!) { job(id: $id) { state result progress { done total } } }",
        json!({ "id": finished.1["job_id"] }),
    )
    .await?;
    assert_eq!(job["data"]["job"]["state"], "SUCCEEDED");
    assert_eq!(job["data"]["job"]["result"]["depths"]["2"], 1);

    let missing = graphql(&server, "{ job(id: \"nope\") { state } }", json!({})).await?;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "not_found");
    let bad = graphql(
        &server,
        "mutation { submitJob(engine: \"graph\", op: \"pagerank\", params: {edges: 5}) { jobId } }",
        json!({}),
    )
    .await?;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "invalid_params");
    Ok(())
}

#[tokio::test]
async fn job_progress_over_graphql_transport_ws() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ws = server.graphql_ws().await?;

    let submitted = graphql(&server, SUBMIT, json!({ "params": small_graph() })).await?;
    let job_id = submitted["data"]["submitJob"]["jobId"].clone();
    ws.send(&json!({
        "id": "p1",
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: String!) { jobProgress(jobId: $id) { jobId kind state done total seq } }",
            "variables": { "id": job_id }
        }
    }))
    .await?;
    let messages = ws
        .recv_until(|m| m["type"] == "complete" || m["type"] == "error")
        .await?;
    assert_eq!(
        messages.last().expect("complete"),
        &json!({ "id": "p1", "type": "complete" })
    );
    let updates: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "next")
        .map(|m| &m["payload"]["data"]["jobProgress"])
        .collect();
    let last = updates.last().expect("at least one update");
    assert_eq!(last["kind"], "job_state");
    assert_eq!(last["state"], "SUCCEEDED");
    let progress = updates.iter().filter(|u| u["kind"] == "progress").count();
    assert_eq!(progress, 50, "one update per PageRank iteration");
    assert!(updates.iter().all(|u| u["jobId"] == job_id));
    Ok(())
}

#[tokio::test]
async fn events_over_legacy_graphql_ws_with_resume() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ws = WsClient::connect(&server.ws_url("/graphql/ws"), Some("graphql-ws")).await?;
    ws.send(&json!({ "type": "connection_init", "payload": {} }))
        .await?;
    ws.recv_until(|m| m["type"] == "connection_ack").await?;
    let query = "subscription($topics: [String!]!, $from: String) { events(topics: $topics, resumeFrom: $from) { topic seq token kind data source { plugin job } } }";
    // The protocol does not acknowledge a subscription, so a live one can
    // miss what is published while it starts: start from a token instead
    // (the last event of a first job), as the README tells clients to.
    server.run_job("graph", "pagerank", small_graph()).await?;
    let (_, page) = server
        .get("/api/v1/events?topics=jobs.*&limit=1000")
        .await?;
    let from = page["next"].clone();
    anyhow::ensure!(from.is_string(), "a token to start from: {page}");
    ws.send(&json!({ "id": "e1", "type": "start", "payload": { "query": query, "variables": { "topics": ["jobs.*"], "from": from } } }))
        .await?;

    let job = server.run_job("graph", "pagerank", small_graph()).await?;
    let is_done = |m: &Value| m["payload"]["data"]["events"]["data"]["state"] == "succeeded";
    let messages = ws.recv_until(|m| m["type"] == "data" && is_done(m)).await?;
    let events: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "data")
        .map(|m| &m["payload"]["data"]["events"])
        .collect();
    assert!(events.iter().all(|e| e["source"]["job"] == job["job_id"]));
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "progress").count(),
        50
    );
    ws.send(&json!({ "id": "e1", "type": "stop" })).await?;

    // Resume after the tenth event: exactly the rest, in order.
    let token = events[9]["token"].clone();
    ws.send(&json!({ "id": "e2", "type": "start", "payload": { "query": query,
        "variables": { "topics": [format!("jobs.{}", job["job_id"].as_str().expect("id"))], "from": token } } }))
        .await?;
    let resumed = ws
        .recv_until(|m| m["id"] == "e2" && m["type"] == "data" && is_done(m))
        .await?;
    let seqs: Vec<u64> = resumed
        .iter()
        .filter(|m| m["id"] == "e2" && m["type"] == "data")
        .filter_map(|m| m["payload"]["data"]["events"]["seq"].as_u64())
        .collect();
    let first = events[10]["seq"].as_u64().expect("seq");
    assert_eq!(seqs, (first..first + seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(seqs.len(), events.len() - 10);
    Ok(())
}

async fn transport_ws(server: &Server) -> anyhow::Result<WsClient> {
    server.graphql_ws().await
}

/// The seed's typed subscriptions for the engines that exist, declared in
/// their manifests and typed from their event schemas: graph algorithm
/// progress and traversals, and anomaly alerts.
#[tokio::test]
async fn typed_engine_subscriptions() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let job = server
        .run_job(
            "graph",
            "pagerank",
            json!({ "edges": [[1, 2], [2, 3], [3, 1], [3, 4]] }),
        )
        .await?;
    let job_id = job["job_id"].clone();
    let mut ws = transport_ws(&server).await?;
    ws.send(&json!({
        "id": "g1",
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: String) { graphAlgorithmProgress(jobId: $id, algorithm: \"pagerank\") { kind jobId algorithm iteration delta converged verticesProcessed topVertices { vertex score } seq resumeFrom } }",
            "variables": { "id": job_id }
        }
    }))
    .await?;
    let messages = ws
        .recv_until(|m| m["type"] == "complete" || m["type"] == "error")
        .await?;
    assert_eq!(
        messages.last().map(|m| &m["type"]),
        Some(&json!("complete")),
        "{messages:?}"
    );
    let items: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "next")
        .map(|m| &m["payload"]["data"]["graphAlgorithmProgress"])
        .collect();
    let iterations = job["result"]["iterations"].as_u64().expect("iterations");
    assert_eq!(
        items.len() as u64,
        iterations + 1,
        "one per iteration, then completion"
    );
    assert_eq!(items[0]["iteration"], 1);
    assert_eq!(items[0]["verticesProcessed"], 4);
    assert!(items[0]["delta"].as_f64().is_some_and(|d| d > 0.0));
    let last = items.last().expect("complete");
    assert_eq!(last["kind"], "algorithm_complete");
    assert_eq!(last["algorithm"], "pagerank");
    assert_eq!(last["topVertices"][0]["vertex"], "3", "{last}");
    assert!(
        last["topVertices"][0]["score"]
            .as_f64()
            .is_some_and(|s| s > 0.25)
    );
    assert!(
        items[..items.len() - 1]
            .iter()
            .all(|i| i["kind"] == "algorithm_progress")
    );
    assert!(items.iter().all(|i| i["jobId"] == job_id));

    let bfs = server
        .run_job(
            "graph",
            "bfs",
            json!({ "edges": [[1, 2], [2, 3], [3, 4]], "source": 1 }),
        )
        .await?;
    ws.send(&json!({
        "id": "t1",
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: String) { graphTraversal(jobId: $id) { jobId depth visited frontier } }",
            "variables": { "id": bfs["job_id"] }
        }
    }))
    .await?;
    let mut depths = Vec::new();
    while depths.len() < 3 {
        let message = ws.recv().await?;
        assert_eq!(message["type"], "next", "{message}");
        let update = &message["payload"]["data"]["graphTraversal"];
        depths.push((update["depth"].clone(), update["visited"].clone()));
    }
    assert_eq!(depths[0], (json!(1), json!(2)));
    assert_eq!(depths[2], (json!(3), json!(4)));

    // Anomaly alerts of one session, typed.
    ws.send(&json!({
        "id": "a1",
        "type": "subscribe",
        "payload": { "query": "subscription { timeseriesAnomalyAlerts(metricName: \"gql\") { metricName sampleId confidenceScore severity algorithm anomalyScore } }" }
    }))
    .await?;
    let (mut session, _) =
        weft_tests::anomaly::open_session(&server, "gql", "?algorithm=robust_zscore&warmup=32")
            .await?;
    let rows: Vec<Value> = (0..100).map(|i| json!([f64::from(i % 10) * 0.1])).collect();
    session
        .send(&json!({"type": "batch", "batch_data": rows}))
        .await?;
    weft_tests::anomaly::next_answer(&mut session).await?;
    session
        .send(&json!({"type": "sample", "data": [40.0], "sample_id": "spike"}))
        .await?;
    let alert = loop {
        let message = ws.recv().await?;
        if message["id"] == "a1" {
            break message;
        }
    };
    let alert = &alert["payload"]["data"]["timeseriesAnomalyAlerts"];
    assert_eq!(alert["metricName"], "gql");
    assert_eq!(alert["sampleId"], "spike");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["algorithm"], "robust_zscore");
    Ok(())
}

/// Seed 001's storage subscriptions: metrics sampled every interval, and
/// the LSM events of one tree.
#[tokio::test]
async fn storage_subscriptions() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ws = transport_ws(&server).await?;
    ws.send(&json!({
        "id": "pool",
        "type": "subscribe",
        "payload": { "query": "subscription { bufferPoolMetrics(intervalSeconds: 1) { capacityPages usedPages hits hitRatio policy timestamp } }" }
    }))
    .await?;
    ws.send(&json!({
        "id": "lsm",
        "type": "subscribe",
        "payload": { "query": "subscription { lsmTreeEvents(treeName: \"orders\") { tree kind level targetLevel entries seq resumeFrom } }" }
    }))
    .await?;
    let first = ws.recv().await?;
    assert_eq!(first["id"], "pool", "{first}");
    assert_eq!(
        first["payload"]["data"]["bufferPoolMetrics"]["policy"],
        "LRU-2"
    );
    let capacity = &first["payload"]["data"]["bufferPoolMetrics"]["capacityPages"];
    assert_eq!(capacity, 8192, "64 MiB of 8 KiB pages");

    // Another tree's flush is filtered out; this one's arrives typed.
    for tree in ["other", "orders"] {
        let status = server
            .http
            .put(server.url(&format!("/api/v1/collections/{tree}/keys/k1")))
            .body("v")
            .send()
            .await?
            .status();
        assert_eq!(status.as_u16(), 204);
        let (status, _) = server
            .post(&format!("/api/v1/collections/{tree}/flush"), &json!({}))
            .await?;
        assert_eq!(status, 200);
    }
    let mut pool_items = 1;
    let flushed = loop {
        let message = ws.recv().await?;
        assert_eq!(message["type"], "next", "{message}");
        if message["id"] == "pool" {
            pool_items += 1;
            continue;
        }
        break message["payload"]["data"]["lsmTreeEvents"].clone();
    };
    assert_eq!(flushed["tree"], "orders");
    assert_eq!(flushed["kind"], "memtable_flushed");
    assert_eq!(flushed["entries"], 1);
    // Metrics keep coming every second while nothing changes.
    while pool_items < 3 {
        let message = ws.recv().await?;
        if message["id"] == "pool" {
            pool_items += 1;
            assert!(
                message["payload"]["data"]["bufferPoolMetrics"]["usedPages"].as_u64() > Some(0)
            );
        }
    }
    ws.send(&json!({
        "id": "bad",
        "type": "subscribe",
        "payload": { "query": "subscription { diskIoMetrics(intervalSeconds: 0) { reads } }" }
    }))
    .await?;
    let error = ws.recv_until(|m| m["id"] == "bad").await?;
    let last = error.last().cloned().unwrap_or_default();
    let message = last["payload"]["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("intervalSeconds must be 1 to 3600"),
        "{last}"
    );
    Ok(())
}

/// Aliases cannot multiply a large result into the server's memory, and
/// one request cannot fetch a thousand results or queue a thousand jobs:
/// results cost by size (16 MiB per response) and in complexity.
#[tokio::test]
async fn large_results_and_mass_aliases_are_bounded() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = server
        .load_plugin("hostile", &weft_tests::test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let pad = "x".repeat(1_500_000);
    let job = server
        .run_job("hostile", "echo", json!({ "pad": pad }))
        .await?;
    let id = job["job_id"].as_str().unwrap_or_default().to_owned();
    let aliases: String = (0..12)
        .map(|i| format!("a{i}: job(id: \"{id}\") {{ result }} "))
        .collect();
    let response = server
        .http
        .post(server.url("/graphql"))
        .json(&json!({ "query": format!("{{ {aliases} }}") }))
        .send()
        .await?;
    let text = response.text().await?;
    assert!(
        text.len() < 17 << 20,
        "the response is bounded: {} bytes",
        text.len()
    );
    let body: Value = serde_json::from_str(&text)?;
    let refused = body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["extensions"]["code"] == "response_too_large")
                .count()
        })
        .unwrap_or(0);
    assert!(
        refused >= 1,
        "some aliases are refused: {}",
        &text[..text.len().min(300)]
    );

    let body = graphql(&server, "{ jobs(limit: 1000) { result } }", json!({})).await?;
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("complex"),
        "a thousand results is too complex: {body}"
    );

    let mutations: String = (0..200)
        .map(|i| format!("m{i}: submitJob(engine: \"graph\", op: \"pagerank\", params: {{edges: [[1, 2]]}}) {{ jobId }} "))
        .collect();
    let body = graphql(&server, &format!("mutation {{ {mutations} }}"), json!({})).await?;
    assert!(
        body["errors"].is_array(),
        "200 submissions in one request: {}",
        body.to_string().chars().take(200).collect::<String>()
    );
    let (_, jobs) = server.get("/api/v1/jobs").await?;
    let queued = jobs.as_array().map(Vec::len).unwrap_or(0);
    assert!(
        queued < 10,
        "nothing was queued by the refused request: {queued}"
    );
    Ok(())
}

/// What a careless client sends to `/graphql` gets the JSON envelope in
/// plain words: malformed JSON, a batch, a body over the limit (not echoed).
#[tokio::test]
async fn bad_graphql_requests_get_clear_json_errors() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, body) = server
        .post_raw(
            "/graphql",
            "application/json",
            b"{\"query\": \"{ plugins { name } }\",".to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("line 1") && !message.contains("Error("),
        "{message}"
    );
    let (status, body) = server
        .post_raw(
            "/graphql",
            "application/json",
            b"[{\"query\": \"{ plugins { name } }\"}]".to_vec(),
        )
        .await?;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    let huge = format!("{{\"query\": \"{}\"}}", "x".repeat(2 << 20));
    let response = server
        .http
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    let text = response.text().await?;
    assert!(
        text.len() < 1000,
        "the body is not echoed back: {} bytes",
        text.len()
    );
    let body: Value = serde_json::from_str(&text)?;
    assert_eq!(body["error"]["code"], "payload_too_large");
    // And a good one still works.
    let body = graphql(&server, "{ plugins { name } }", json!({})).await?;
    assert!(body["data"]["plugins"].is_array(), "{body}");
    Ok(())
}
