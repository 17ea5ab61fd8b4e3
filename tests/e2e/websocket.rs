//! The WebSocket protocol of `/api/v1/ws`: live progress, patterns,
//! resume, bad messages.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Server, WsClient};

fn karate_pagerank(max_iterations: u32) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(weft_tests::test_data("graph/karate_pagerank.json"))?;
    let reference: Value = serde_json::from_str(&text)?;
    Ok(json!({
        "engine": "graph",
        "op": "pagerank",
        "params": { "edges": reference["edges"], "tolerance": 1e-15, "max_iterations": max_iterations }
    }))
}

async fn connect(server: &Server) -> anyhow::Result<WsClient> {
    let mut client = WsClient::connect(&server.ws_url("/api/v1/ws"), None)
        .await?
        .validating("ws");
    let welcome = client.recv().await?;
    assert_eq!(welcome["type"], "welcome");
    assert!(welcome["connection_id"].is_string() && welcome["server_version"].is_string());
    Ok(client)
}

fn is_final_state(message: &Value) -> bool {
    message["type"] == "event"
        && message["kind"] == "job_state"
        && ["succeeded", "failed", "cancelled"]
            .contains(&message["data"]["state"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn job_progress_streams_live_on_the_job_and_family_topics() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut client = connect(&server).await?;
    client
        .send(&json!({ "type": "subscribe", "id": "jobs", "topics": ["jobs.*"] }))
        .await?;
    assert_eq!(
        client.recv().await?,
        json!({ "type": "subscribed", "id": "jobs", "topics": ["jobs.*"] })
    );
    client
        .send(&json!({ "type": "subscribe", "id": "family", "topics": ["graph.>"] }))
        .await?;
    assert_eq!(client.recv().await?["type"], "subscribed");

    let (status, job) = server.post("/api/v1/jobs", &karate_pagerank(40)?).await?;
    assert_eq!(status, 202);
    let job_id = job["job_id"].as_str().expect("id").to_owned();

    let mut messages = client
        .recv_until(|m| m["sub"] == "jobs" && is_final_state(m))
        .await?;
    // The two subscriptions are forwarded independently: the family's
    // last events may still be on their way when the job's final state
    // arrives. Its last event is `algorithm_complete`.
    let family_done = |m: &Value| m["sub"] == "family" && m["kind"] == "algorithm_complete";
    if !messages.iter().any(family_done) {
        messages.extend(client.recv_until(family_done).await?);
    }
    let on_job: Vec<&Value> = messages.iter().filter(|m| m["sub"] == "jobs").collect();
    let on_family: Vec<&Value> = messages.iter().filter(|m| m["sub"] == "family").collect();

    for event in &on_job {
        assert_eq!(event["topic"], format!("jobs.{job_id}"));
        assert_eq!(event["source"]["plugin"], "graph");
        assert_eq!(event["source"]["job"], job_id.as_str());
        assert!(event["token"].is_string() && event["ts"].is_string());
    }
    let seqs: Vec<u64> = on_job.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous per-topic seq: {seqs:?}"
    );

    let progress: Vec<&Value> = on_job
        .iter()
        .copied()
        .filter(|e| e["kind"] == "progress")
        .collect();
    assert_eq!(progress.len(), 40, "one progress event per iteration");
    for (i, event) in progress.iter().enumerate() {
        assert_eq!(event["data"]["iteration"], i as u64 + 1);
        assert!(event["data"]["delta"].as_f64().is_some());
        assert_eq!(
            event["data"]["converged"], false,
            "tolerance 1e-15 is never met in 40"
        );
    }
    let states: Vec<&str> = on_job
        .iter()
        .filter(|e| e["kind"] == "job_state")
        .filter_map(|e| e["data"]["state"].as_str())
        .collect();
    assert_eq!(states, ["queued", "running", "succeeded"]);

    assert!(on_family.iter().all(|e| e["topic"] == "graph.algorithms"));
    // The graph engine's own kinds match their published schemas.
    for event in on_job.iter().filter(|e| {
        matches!(
            e["kind"].as_str(),
            Some("algorithm_progress" | "algorithm_complete")
        )
    }) {
        weft_tests::schemas::check_event("graph", event)?;
    }
    let algorithm_progress = on_job
        .iter()
        .filter(|e| e["kind"] == "algorithm_progress")
        .count();
    assert_eq!(
        algorithm_progress, 40,
        "issue #6's algorithm_progress, once per iteration"
    );
    assert_eq!(
        on_family.iter().filter(|e| e["kind"] == "progress").count(),
        40,
        "every progress event on the family topic too"
    );

    client.send(&json!({ "type": "ping" })).await?;
    let pong = client.recv_until(|m| m["type"] == "pong").await?;
    assert_eq!(pong.last().expect("pong")["type"], "pong");
    Ok(())
}

#[tokio::test]
async fn reconnecting_with_a_token_replays_every_later_event_exactly_once() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut first = connect(&server).await?;
    first
        .send(&json!({ "type": "subscribe", "id": "a", "topics": ["jobs.*"] }))
        .await?;
    first.recv().await?;
    let (_, job) = server.post("/api/v1/jobs", &karate_pagerank(60)?).await?;
    let job_id = job["job_id"].as_str().expect("id").to_owned();

    // Read a few events, remember the last token, and drop the connection.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let message = first.recv().await?;
        if message["type"] == "event" {
            seen.push(message);
        }
    }
    let token = seen[4]["token"].as_str().expect("token").to_owned();
    let last_seq = seen[4]["seq"].as_u64().expect("seq");
    first.close().await;

    // Let the job finish while we are away.
    for _ in 0..200 {
        let (_, job) = server.get(&format!("/api/v1/jobs/{job_id}")).await?;
        if job["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let mut second = connect(&server).await?;
    second
        .send(&json!({ "type": "subscribe", "id": "b", "topics": [format!("jobs.{job_id}")], "resume_from": token }))
        .await?;
    assert_eq!(second.recv().await?["type"], "subscribed");
    let replayed = second.recv_until(is_final_state).await?;
    let seqs: Vec<u64> = replayed.iter().filter_map(|m| m["seq"].as_u64()).collect();
    let expected: Vec<u64> = (last_seq + 1..=last_seq + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every later event, once, in order");
    // queued, running, 60 × (progress + algorithm_progress),
    // algorithm_complete, succeeded = 124 events on the job topic; we saw 5.
    assert_eq!(seqs.len(), 124 - 5);
    assert!(
        second
            .recv_within(Duration::from_millis(300))
            .await
            .is_err(),
        "nothing is delivered twice"
    );

    // The REST view of the same topic agrees.
    let (_, page) = server
        .get(&format!(
            "/api/v1/events?topics=jobs.{job_id}&after={token}&limit=1000"
        ))
        .await?;
    let rest_seqs: Vec<u64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(rest_seqs, expected);
    Ok(())
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_survives() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut client = connect(&server).await?;
    client.send_text("{not json").await?;
    let reply = client.recv().await?;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "bad_request");

    client
        .send(&json!({ "type": "subscribe", "id": "x", "topics": ["jobs.>.bad"] }))
        .await?;
    let reply = client.recv().await?;
    assert_eq!(reply["type"], "error");
    assert!(
        reply["message"]
            .as_str()
            .expect("message")
            .contains("jobs.>.bad")
    );

    client
        .send(&json!({ "type": "subscribe", "id": "x", "topics": ["jobs.*"], "resume_from": "garbage" }))
        .await?;
    assert_eq!(client.recv().await?["type"], "error");

    client
        .send(&json!({ "type": "unsubscribe", "id": "never" }))
        .await?;
    assert_eq!(client.recv().await?["code"], "not_found");

    client.send(&json!({ "type": "ping" })).await?;
    assert_eq!(client.recv().await?, json!({ "type": "pong" }));

    // Past the 64 KiB limit a message ends its connection with 1009
    // (message too big); nobody else notices.
    let mut other = connect(&server).await?;
    let huge = json!({ "type": "ping", "pad": "x".repeat(100 << 10) });
    client.send(&huge).await?;
    let closed = client.recv().await.expect_err("the connection must close");
    // The close frame says why; a client still sending when the server
    // closes may see the reset first.
    let closed = format!("{closed:#}");
    assert!(
        closed.contains("Size") || closed.contains("reset"),
        "{closed}"
    );
    other.send(&json!({ "type": "ping" })).await?;
    assert_eq!(other.recv().await?, json!({ "type": "pong" }));
    Ok(())
}

#[tokio::test]
async fn silent_clients_are_disconnected_and_responsive_ones_kept() -> anyhow::Result<()> {
    let server = Server::start(&["--ws-ping-secs", "1", "--ws-idle-secs", "2"])?;
    let mut live = connect(&server).await?;
    let mut silent = connect(&server).await?;

    // Reading lets the client library answer the server's pings.
    assert!(
        live.recv_within(Duration::from_secs(4)).await.is_err(),
        "no messages, but still open"
    );
    live.send(&json!({ "type": "ping" })).await?;
    assert_eq!(live.recv().await?, json!({ "type": "pong" }));

    // The silent client never read its pings, so it never answered them:
    // the server has dropped it and kept the live one.
    let (_, status) = server.get("/api/v1/ws/status").await?;
    assert_eq!(status["connections"], 1, "{status}");
    assert!(
        silent.recv().await.is_err(),
        "the idle connection is closed"
    );
    Ok(())
}

#[tokio::test]
async fn seed_endpoints_come_pre_subscribed_and_say_when_their_engine_is_missing()
-> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut graph = WsClient::connect(&server.ws_url("/api/v1/ws/graph/algorithms"), None)
        .await?
        .validating("ws");
    assert_eq!(graph.recv().await?["type"], "welcome");
    assert_eq!(
        graph.recv().await?,
        json!({ "type": "subscribed", "id": "default", "topics": ["graph.algorithms"] })
    );
    server
        .run_job(
            "graph",
            "connected_components",
            json!({ "edges": [[1, 2]] }),
        )
        .await?;
    let events = graph.recv_until(is_final_state).await?;
    assert!(
        events
            .iter()
            .all(|e| e["topic"] == "graph.algorithms" && e["sub"] == "default")
    );

    // An endpoint whose engine was unloaded stays served: it says so and
    // stays subscribed, so events flow once the engine is back.
    let (status, _) = server.delete("/api/v1/plugins/graph").await?;
    assert_eq!(status, 200);
    let mut ml = WsClient::connect(&server.ws_url("/api/v1/ws/graph/traversal"), None)
        .await?
        .validating("ws");
    assert_eq!(ml.recv().await?["type"], "welcome");
    assert_eq!(ml.recv().await?["topics"], json!(["graph.traversal"]));
    let error = ml.recv().await?;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "engine_not_loaded");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("POST /api/v1/plugins?name=graph")
    );
    // The endpoint still speaks the generic protocol.
    ml.send(&json!({ "type": "ping" })).await?;
    assert_eq!(ml.recv().await?, json!({ "type": "pong" }));

    let mut storage = WsClient::connect(&server.ws_url("/api/v1/ws/storage/buffer-pool"), None)
        .await?
        .validating("ws");
    assert_eq!(storage.recv().await?["type"], "welcome");
    assert_eq!(
        storage.recv().await?["topics"],
        json!(["storage.buffer_pool"])
    );
    let (_, connections) = server.get("/api/v1/ws/connections").await?;
    let endpoints: Vec<&str> = connections
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["endpoint"].as_str())
        .collect();
    assert!(
        endpoints.contains(&"/api/v1/ws/graph/traversal"),
        "{endpoints:?}"
    );
    Ok(())
}

#[tokio::test]
async fn queries_run_and_report_over_one_socket() -> anyhow::Result<()> {
    let server = Server::start(&["--job-timeout-secs", "20"])?;
    let (status, _) = server
        .load_plugin("hostile", &weft_tests::test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/query"), None)
        .await?
        .validating("query");
    assert_eq!(ws.recv().await?["type"], "welcome");

    // Two queries at once: a PageRank that finishes and a loop we cancel.
    ws.send(
        &json!({"type": "query", "request_id": "pr", "engine": "graph", "op": "pagerank",
        "params": {"edges": [[1, 2], [2, 3], [3, 1]], "max_iterations": 30}}),
    )
    .await?;
    ws.send(&json!({"type": "query", "request_id": "spin", "engine": "hostile", "op": "spin"}))
        .await?;
    let mut spin_job = None;
    let mut results = std::collections::HashMap::new();
    let mut progress = 0;
    while results.len() < 2 {
        let message = ws.recv().await?;
        let request = message["request_id"].as_str().unwrap_or("").to_owned();
        match message["type"].as_str() {
            Some("accepted") if request == "spin" => {
                spin_job = message["job_id"].as_str().map(str::to_owned);
                ws.send(&json!({"type": "cancel", "request_id": "c", "job_id": spin_job}))
                    .await?;
            }
            Some("progress") if request == "pr" => progress += 1,
            Some("result") => {
                results.insert(request, message);
            }
            _ => {}
        }
    }
    assert!(spin_job.is_some());
    assert!(progress >= 1, "no progress relayed");
    assert_eq!(results["pr"]["state"], "succeeded");
    assert!(results["pr"]["result"]["scores"]["1"].is_number());
    assert_eq!(results["spin"]["state"], "cancelled");
    assert_eq!(results["spin"]["error"]["code"], "cancelled");

    // Refusals are answers, and the socket carries on.
    ws.send(&json!({"type": "query", "request_id": "x", "engine": "nope", "op": "a"}))
        .await?;
    let refused = ws.recv().await?;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "not_found");
    assert_eq!(refused["request_id"], "x");
    ws.send(&json!({"type": "query", "engine": "graph", "op": "pagerank", "params": {"edges": 5}}))
        .await?;
    assert_eq!(ws.recv().await?["code"], "invalid_params");
    ws.send_text("{oops").await?;
    assert_eq!(ws.recv().await?["code"], "bad_request");
    ws.send(&json!({"type": "ping", "request_id": "p"})).await?;
    assert_eq!(ws.recv().await?["type"], "pong");
    Ok(())
}

#[tokio::test]
async fn metrics_stream_at_the_requested_interval() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    server
        .run_job("graph", "bfs", json!({ "edges": [[1, 2]], "source": 1 }))
        .await?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/metrics?interval_ms=200"), None)
        .await?
        .validating("metrics");
    let started = std::time::Instant::now();
    let first = ws.recv().await?;
    let second = ws.recv().await?;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(second["interval_ms"], 200);
    let metrics = &first["metrics"];
    assert_eq!(
        metrics["weft_plugins_loaded"],
        weft_tests::shipped_plugins()
    );
    assert_eq!(metrics["weft_jobs"]["succeeded"], 1);
    assert!(
        metrics["weft_family_events_published_total"]["jobs"]
            .as_u64()
            .is_some_and(|n| n >= 3)
    );
    ws.send(&json!({"type": "config", "interval_ms": 50}))
        .await?;
    let config = ws.recv_until(|m| m["type"] == "config").await?;
    assert_eq!(
        config.last().map(|m| &m["interval_ms"]),
        Some(&json!(100)),
        "clamped to 100 ms"
    );
    ws.send(&json!({"type": "ping"})).await?;
    ws.recv_until(|m| m["type"] == "pong").await?;
    Ok(())
}

#[tokio::test]
async fn graph_endpoints_run_algorithms_on_request_and_attach_to_jobs() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut graph = WsClient::connect(&server.ws_url("/api/v1/ws/graph/algorithms"), None)
        .await?
        .validating("ws");
    assert_eq!(graph.recv().await?["type"], "welcome");
    assert_eq!(graph.recv().await?["type"], "subscribed");
    let triangle = json!({ "edges": [[1, 2], [2, 3], [3, 1]] });
    graph
        .send(&json!({
            "type": "graph_algorithm_request", "request_id": "r1",
            "algorithm": "pagerank", "params": triangle
        }))
        .await?;
    // The result and the job's last events travel separate paths (the
    // request's task and the pre-subscription), so read until both came.
    let mut messages = graph.recv_until(|m| m["type"] == "result").await?;
    if !messages.iter().any(|m| m["kind"] == "algorithm_complete") {
        messages.extend(
            graph
                .recv_until(|m| m["kind"] == "algorithm_complete")
                .await?,
        );
    }
    let accepted = &messages[0];
    assert_eq!(
        (&accepted["type"], &accepted["request_id"]),
        (&json!("accepted"), &json!("r1")),
        "{messages:?}"
    );
    let job_id = accepted["job_id"].as_str().expect("job id").to_owned();
    // The job's own events arrive through the endpoint's pre-subscription.
    let kinds: Vec<&str> = messages
        .iter()
        .filter(|m| m["type"] == "event" && m["source"]["job"] == json!(job_id))
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"algorithm_progress"), "{kinds:?}");
    assert!(kinds.contains(&"algorithm_complete"), "{kinds:?}");
    let result = messages
        .iter()
        .find(|m| m["type"] == "result")
        .expect("result");
    assert_eq!(result["request_id"], "r1");
    assert_eq!(result["state"], "succeeded");
    for score in result["result"]["scores"]
        .as_object()
        .expect("scores")
        .values()
    {
        let score = score.as_f64().expect("number");
        assert!((score - 1.0 / 3.0).abs() < 1e-9, "{result}");
    }

    // Attaching to a job that has finished answers at once with its result.
    graph
        .send(&json!({ "type": "graph_algorithm_request", "request_id": "r2", "job_id": job_id }))
        .await?;
    let attached = graph.recv_until(|m| m["type"] == "result").await?;
    let accepted = attached.iter().find(|m| m["type"] == "accepted");
    assert_eq!(accepted.map(|m| &m["request_id"]), Some(&json!("r2")));
    let attached = attached.last().expect("result");
    assert_eq!(
        (&attached["type"], &attached["job_id"]),
        (&json!("result"), &json!(job_id))
    );

    // Mistakes are answered, and the socket carries on.
    for (bad, code) in [
        (
            json!({ "type": "graph_algorithm_request", "algorithm": "no_such_op", "params": triangle }),
            None,
        ),
        (
            json!({ "type": "graph_algorithm_request", "algorithm": "pagerank", "job_id": job_id }),
            Some("bad_request"),
        ),
        (
            json!({ "type": "graph_algorithm_request", "job_id": "missing" }),
            Some("not_found"),
        ),
        (
            json!({ "type": "graph_algorithm_request", "request_id": "r3", "algorithm": "pagerank", "params": { "edges": "none" } }),
            None,
        ),
    ] {
        graph.send(&bad).await?;
        let reply = graph.recv_until(|m| m["type"] != "event").await?;
        let reply = reply.last().expect("reply");
        assert_eq!(reply["type"], "error", "{bad} → {reply}");
        if let Some(code) = code {
            assert_eq!(reply["code"], code, "{bad} → {reply}");
        }
    }

    // Traversals stream on their own endpoint.
    let mut traversal = WsClient::connect(&server.ws_url("/api/v1/ws/graph/traversal"), None)
        .await?
        .validating("ws");
    assert_eq!(traversal.recv().await?["type"], "welcome");
    assert_eq!(traversal.recv().await?["type"], "subscribed");
    traversal
        .send(&json!({
            "type": "graph_algorithm_request", "algorithm": "dfs",
            "params": { "edges": [[1, 2], [2, 3]], "source": 1 }
        }))
        .await?;
    let mut messages = traversal.recv_until(|m| m["type"] == "result").await?;
    let result = messages.last().expect("result").clone();
    let updates = |messages: &[Value]| {
        messages
            .iter()
            .filter(|m| m["kind"] == "traversal_update")
            .count()
    };
    while updates(&messages) < 3 {
        messages.push(traversal.recv().await?);
    }
    for update in messages.iter().filter(|m| m["kind"] == "traversal_update") {
        weft_tests::schemas::check_event("graph", update)?;
    }
    let visited: Vec<&Value> = messages
        .iter()
        .filter(|m| m["kind"] == "traversal_update")
        .map(|m| &m["data"]["vertex"])
        .collect();
    assert_eq!(visited, [&json!("1"), &json!("2"), &json!("3")]);
    assert_eq!(result["result"]["order"], json!(["1", "2", "3"]));

    // Other endpoints do not take graph requests.
    let mut storage = WsClient::connect(&server.ws_url("/api/v1/ws/storage/lsm"), None)
        .await?
        .validating("ws");
    storage.recv().await?;
    storage.recv().await?;
    storage
        .send(&json!({ "type": "graph_algorithm_request", "algorithm": "pagerank", "params": triangle }))
        .await?;
    let reply = storage.recv_until(|m| m["type"] != "event").await?;
    assert_eq!(reply.last().expect("reply")["code"], "bad_request");
    Ok(())
}
