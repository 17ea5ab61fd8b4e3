//! The seed endpoints and typed GraphQL subscriptions of the engines Weft
//! does not ship yet (ml, analytics, document, spatial). A plugin stands
//! in for each — the hostile test plugin loaded under the engine's name,
//! whose `emit` operation emits given events — so these tests check the
//! gateway's half of the contract with a real component on real sockets:
//! the request messages reach the engine, every sample event of
//! `test_data/websocket/engine_events.json` (one per seed message kind,
//! data valid against `schemas/engines/`) arrives on its endpoint in order
//! and schema-valid, and the typed subscriptions map them field by field.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, schemas, test_plugin};

/// (endpoint, engine, topic family relative to the engine, request type)
const ENDPOINTS: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "/api/v1/ws/ml/training",
        "ml",
        "training",
        Some("training_progress_request"),
    ),
    (
        "/api/v1/ws/ml/predictions",
        "ml",
        "predictions",
        Some("prediction_stream_request"),
    ),
    (
        "/api/v1/ws/ml/automl",
        "ml",
        "automl",
        Some("automl_progress_request"),
    ),
    ("/api/v1/ws/ml/lifecycle", "ml", "lifecycle", None),
    (
        "/api/v1/ws/analytics/olap",
        "analytics",
        "olap",
        Some("olap_query_request"),
    ),
    (
        "/api/v1/ws/analytics/timeseries",
        "analytics",
        "timeseries",
        Some("timeseries_analysis_request"),
    ),
    (
        "/api/v1/ws/analytics/profiling",
        "analytics",
        "profiling",
        Some("data_profiling_request"),
    ),
    (
        "/api/v1/ws/analytics/workload",
        "analytics",
        "workload",
        Some("workload_analysis_request"),
    ),
    ("/api/v1/ws/analytics/cache", "analytics", "cache", None),
    ("/api/v1/ws/documents/changes", "document", "changes", None),
    (
        "/api/v1/ws/documents/aggregation",
        "document",
        "aggregation",
        Some("aggregation_request"),
    ),
    (
        "/api/v1/ws/spatial/query",
        "spatial",
        "query",
        Some("spatial_query_request"),
    ),
    (
        "/api/v1/ws/spatial/routing",
        "spatial",
        "routing",
        Some("network_routing_request"),
    ),
];

fn samples() -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(weft_tests::test_data("websocket/engine_events.json"))?;
    let samples: Value = serde_json::from_str(&text)?;
    Ok(samples["events"].as_array().context("events")?.clone())
}

async fn open(server: &Server, path: &str) -> anyhow::Result<WsClient> {
    let mut socket = WsClient::connect(&server.ws_url(path), None)
        .await?
        .validating("ws");
    ensure!(socket.recv().await?["type"] == "welcome");
    ensure!(socket.recv().await?["type"] == "subscribed");
    Ok(socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_messages_need_their_engine_and_their_endpoint() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut training = open(&server, "/api/v1/ws/ml/training").await?;
    ensure!(training.recv().await?["code"] == "engine_not_loaded");
    let request = json!({"type": "training_progress_request", "request_id": "t1", "operation": "echo", "params": {}});
    training.send(&request).await?;
    let refused = training.recv().await?;
    ensure!(
        refused["code"] == "engine_not_loaded" && refused["request_id"] == "t1",
        "{refused}"
    );
    // A request on an endpoint that does not take it names the one that does.
    training
        .send(&json!({"type": "network_routing_request", "operation": "echo"}))
        .await?;
    let wrong = training.recv().await?;
    ensure!(
        wrong["code"] == "bad_request"
            && wrong["message"]
                .as_str()
                .is_some_and(|m| m.contains("/api/v1/ws/spatial/routing")),
        "{wrong}"
    );

    // Once a plugin is loaded as each engine, every request type runs an
    // operation of it and answers accepted, then result.
    let wasm = test_plugin("hostile");
    for engine in ["ml", "analytics", "document", "spatial"] {
        let (status, body) = server.load_plugin(engine, &wasm).await?;
        ensure!(status == 201, "{body}");
    }
    for (path, engine, _, request) in ENDPOINTS {
        let Some(request) = request else { continue };
        let mut socket = open(&server, path).await?;
        let message = json!({"type": request, "request_id": path, "operation": "echo", "params": {"asked": request}});
        socket.send(&message).await?;
        let accepted = socket.recv().await?;
        ensure!(
            accepted["type"] == "accepted" && accepted["request_id"] == *path,
            "{accepted}"
        );
        let result = socket.recv_until(|m| m["type"] == "result").await?;
        let result = result.last().context("result")?;
        ensure!(
            result["state"] == "succeeded" && result["result"]["asked"] == *request,
            "{path}: {result}"
        );
        let (_, job) = server
            .get(&format!(
                "/api/v1/jobs/{}",
                accepted["job_id"].as_str().context("job")?
            ))
            .await?;
        ensure!(job["engine"] == *engine, "{path} ran {job}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_message_kind_reaches_its_endpoint_and_typed_subscription() -> anyhow::Result<()>
{
    let server = Server::start(&[])?;
    let wasm = test_plugin("hostile");
    for engine in ["ml", "analytics", "document", "spatial"] {
        let (status, body) = server.load_plugin(engine, &wasm).await?;
        ensure!(status == 201, "{body}");
    }
    let samples = samples()?;

    // The typed subscriptions resume from a position before the engines
    // emit (graphql-transport-ws does not acknowledge a subscribe, so
    // resuming is how a client knows it misses nothing).
    server.run_job("ml", "echo", json!({})).await?;
    let (_, retained) = server
        .get("/api/v1/events?topics=jobs.>&limit=1000")
        .await?;
    let before = retained["next"]
        .as_str()
        .context("a resume token")?
        .to_owned();
    let mut graphql =
        WsClient::connect(&server.ws_url("/graphql/ws"), Some("graphql-transport-ws")).await?;
    graphql.send(&json!({"type": "connection_init"})).await?;
    ensure!(graphql.recv().await?["type"] == "connection_ack");
    let subscriptions = [
        (
            "training",
            "subscription($from: String) { mlTrainingProgress(modelId: \"churn-v3\", resumeFrom: $from) { modelId epoch totalEpochs loss accuracy validationLoss complete } }",
        ),
        (
            "predictions",
            "subscription($from: String) { mlPredictions(modelId: \"churn-v3\", resumeFrom: $from) { predictionId label value confidence classProbabilities { class probability } } }",
        ),
        (
            "lifecycle",
            "subscription($from: String) { mlModelLifecycle(resumeFrom: $from) { eventType modelId modelName version } }",
        ),
        (
            "query",
            "subscription($from: String) { analyticsQueryProgress(queryId: \"q-wl\", resumeFrom: $from) { queryId kind progressPct rowsProcessed complete } }",
        ),
        (
            "advice",
            "subscription($from: String) { workloadRecommendations(resumeFrom: $from) { queryId recommendationType target reason improvementPct } }",
        ),
        (
            "changes",
            "subscription($from: String) { documentChanges(collection: \"users\", operationTypes: [\"update\"], resumeFrom: $from) { operationType collection documentId updatedFields removedFields } }",
        ),
        (
            "spatial",
            "subscription($from: String) { spatialQueryProgress(queryId: \"q-near\", resumeFrom: $from) { queryId resultsFound resultIds processingComplete } }",
        ),
    ];
    for (id, query) in subscriptions {
        let payload = json!({"query": query, "variables": {"from": before}});
        graphql
            .send(&json!({"id": id, "type": "subscribe", "payload": payload}))
            .await?;
    }
    let mut sockets = Vec::new();
    for (path, engine, topic, _) in ENDPOINTS {
        sockets.push((open(&server, path).await?, *engine, *topic));
    }
    // Every socket of a not-yet-loaded engine would have said so; these
    // are loaded, so the next message on each is an event.
    for engine in ["ml", "analytics", "document", "spatial"] {
        let events: Vec<Value> = samples
            .iter()
            .filter(|e| e["engine"] == engine)
            .map(|e| json!({"topic": e["topic"], "kind": e["kind"], "data": e["data"]}))
            .collect();
        let job = server
            .run_job(engine, "emit", json!({"events": events}))
            .await?;
        ensure!(job["result"]["emitted"] == events.len(), "{job}");
    }
    for (socket, engine, topic) in &mut sockets {
        let expected: Vec<&Value> = samples
            .iter()
            .filter(|e| e["engine"] == *engine && e["topic"] == *topic)
            .collect();
        for sample in expected {
            let event = socket.recv().await?;
            schemas::check_event("engines", &event)?;
            ensure!(
                event["topic"] == format!("{engine}.{topic}")
                    && event["kind"] == sample["kind"]
                    && event["data"] == sample["data"],
                "{engine}.{topic}: expected {sample}, got {event}"
            );
        }
    }

    // The typed streams, item by item (in publication order per stream).
    let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let wanted = [
        ("training", 4),
        ("predictions", 2),
        ("lifecycle", 2),
        ("query", 3),
        ("advice", 2),
        ("changes", 1),
        ("spatial", 2),
    ];
    while wanted
        .iter()
        .any(|(id, n)| items.get(*id).map_or(0, Vec::len) < *n)
    {
        let message = graphql
            .recv()
            .await
            .with_context(|| format!("typed items so far: {items:?}"))?;
        if message["type"] == "next" {
            let id = message["id"].as_str().context("id")?.to_owned();
            let data = message["payload"]["data"].as_object().context("data")?;
            items
                .entry(id)
                .or_default()
                .push(data.values().next().cloned().context("item")?);
        }
        ensure!(message["type"] != "error", "{message}");
    }
    let training = &items["training"];
    ensure!(
        training[0]
            == json!({"modelId": "churn-v3", "epoch": 1, "totalEpochs": 3, "loss": 0.69, "accuracy": 0.52, "validationLoss": 0.72, "complete": false}),
        "{}",
        training[0]
    );
    ensure!(
        training[3]["complete"] == true && training[3]["epoch"] == 3 && training[3]["loss"] == 0.22,
        "{}",
        training[3]
    );
    ensure!(
        items["predictions"][0]
            == json!({"predictionId": "p-1", "label": "churn", "value": null, "confidence": 0.87,
            "classProbabilities": [{"class": "churn", "probability": 0.87}, {"class": "stay", "probability": 0.13}]}),
        "{}",
        items["predictions"][0]
    );
    ensure!(
        items["lifecycle"][1]
            == json!({"eventType": "deployed", "modelId": "churn-v3", "modelName": "churn", "version": "3"})
    );
    let query: Vec<(String, f64, bool)> = items["query"]
        .iter()
        .map(|q| {
            (
                q["kind"].as_str().unwrap_or_default().to_owned(),
                q["progressPct"].as_f64().unwrap_or(-1.0),
                q["complete"] == true,
            )
        })
        .collect();
    ensure!(
        query
            == [
                ("workload_update".into(), 50.0, false),
                ("workload_update".into(), 100.0, false),
                ("workload_complete".into(), 100.0, true)
            ],
        "{query:?}"
    );
    ensure!(
        items["advice"][0]
            == json!({"queryId": "q-wl", "recommendationType": "index", "target": "orders(customer_id)", "reason": "41% of scans filter on customer_id", "improvementPct": 37.5})
    );
    // Only the update of `users` passes the filters.
    ensure!(
        items["changes"]
            == [
                json!({"operationType": "update", "collection": "users", "documentId": "u-1", "updatedFields": ["plan"], "removedFields": ["trial_ends"]})
            ],
        "{:?}",
        items["changes"]
    );
    ensure!(
        items["spatial"][1]
            == json!({"queryId": "q-near", "resultsFound": 2, "resultIds": ["cafe-2"], "processingComplete": true})
    );
    Ok(())
}
