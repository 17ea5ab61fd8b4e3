//! The document engine as a wasm component through the real server: the
//! mongomock reference sequence over its declared REST routes, the routes'
//! statuses and errors, change streams over WebSocket and GraphQL and
//! after a restart, concurrent `$inc`s from many clients, and a `kill -9`
//! during bulk inserts. Every reference step also runs natively in
//! `plugins/document/tests/reference.rs`.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_data};

const BASE: &str = "/api/v1/documents";

/// Structural equality, numbers by value, object fields in any order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

async fn send(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = server.http.request(method, server.url(path));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).context("JSON body")?
        },
    ))
}

/// Each reference step as the REST call a client would make.
async fn rest_step(server: &Server, op: &str, params: &Value) -> anyhow::Result<(u16, Value)> {
    let collection = params["collection"].as_str().context("collection")?;
    let mut body = params.clone();
    if let Value::Object(map) = &mut body {
        map.remove("collection");
    }
    let path = |suffix: &str| format!("{BASE}/{collection}{suffix}");
    match op {
        "insert" => {
            send(
                server,
                reqwest::Method::POST,
                &path(""),
                Some(&params["documents"]),
            )
            .await
        }
        other => {
            send(
                server,
                reqwest::Method::POST,
                &path(&format!("/{other}")),
                Some(&body),
            )
            .await
        }
    }
}

#[tokio::test]
async fn the_mongomock_sequence_runs_the_same_over_rest() -> anyhow::Result<()> {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "document/reference.json",
    ))?)?;
    let server = Server::start(&[])?;
    let (status, _) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/people/indexes"),
        Some(&json!({"keys": {"name": 1, "age": -1}})),
    )
    .await?;
    assert_eq!(status, 201);
    for (i, step) in reference["steps"]
        .as_array()
        .context("steps")?
        .iter()
        .enumerate()
    {
        let op = step["op"].as_str().context("op")?;
        let (status, got) = rest_step(&server, op, &step["params"]).await?;
        let expect = &step["expect"];
        let want_status = if op == "insert" { 201 } else { 200 };
        assert_eq!(status, want_status, "step {i} {op}: {got}");
        let ok = match op {
            "distinct" => {
                let set = |v: &Value| {
                    let mut s: Vec<String> = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    x.as_f64().map_or_else(|| x.to_string(), |f| f.to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    s.sort();
                    s
                };
                set(&got["values"]) == set(&expect["values"])
            }
            "insert" => same(&got["inserted_ids"], &expect["inserted_ids"]),
            _ => same(&got, expect),
        };
        assert!(
            ok,
            "step {i} ({op} {}):\n  weft:      {got}\n  mongomock: {expect}",
            step["params"]
        );
    }
    Ok(())
}

#[tokio::test]
async fn rest_routes_answer_with_statuses_and_errors_that_say_what_to_do() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, inserted) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/books"),
        Some(&json!({"title": "Dune", "collection": "kept as a field"})),
    )
    .await?;
    assert_eq!(status, 201, "{inserted}");
    let id = inserted["inserted_ids"][0]
        .as_str()
        .context("generated _id")?
        .to_owned();
    assert_eq!(id.len(), 24, "an ObjectId-like id: {id}");
    let (status, doc) = send(
        &server,
        reqwest::Method::GET,
        &format!("{BASE}/books/{id}"),
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        json!({"_id": id, "title": "Dune", "collection": "kept as a field"}),
        "the body is the document, whole"
    );
    let (status, many) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/books"),
        Some(&json!([{"_id": 7, "title": "Emma", "n": 1}, {"_id": 8, "title": "Ulysses"}])),
    )
    .await?;
    assert_eq!((status, many["inserted_count"].clone()), (201, json!(2)));
    // Numeric ids are found from the path too.
    let (status, seven) = send(
        &server,
        reqwest::Method::PATCH,
        &format!("{BASE}/books/7"),
        Some(&json!({"$inc": {"n": 2}, "$set": {"read": true}})),
    )
    .await?;
    assert_eq!(status, 200, "{seven}");
    assert_eq!(
        seven,
        json!({"matched": 1, "modified": 1, "upserted_id": null})
    );
    let (_, doc) = send(
        &server,
        reqwest::Method::GET,
        &format!("{BASE}/books/7"),
        None,
    )
    .await?;
    assert_eq!(
        doc,
        json!({"_id": 7, "title": "Emma", "n": 3, "read": true})
    );
    let (status, _) = send(
        &server,
        reqwest::Method::PUT,
        &format!("{BASE}/books/8"),
        Some(&json!({"title": "Ulysses", "pages": 730})),
    )
    .await?;
    assert_eq!(status, 200);
    let (status, missing) = send(
        &server,
        reqwest::Method::GET,
        &format!("{BASE}/books/nope"),
        None,
    )
    .await?;
    assert_eq!(status, 404);
    assert!(
        missing["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("_id")),
        "{missing}"
    );
    let (status, upserted) = send(
        &server,
        reqwest::Method::PUT,
        &format!("{BASE}/books/new-one?upsert=true"),
        Some(&json!({"title": "Middlemarch"})),
    )
    .await?;
    assert_eq!(status, 200, "{upserted}");
    assert_eq!(upserted["upserted_id"], "new-one");

    // A unique index: 409 naming the key; the write is not made.
    let (status, index) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/books/indexes"),
        Some(&json!({"keys": {"title": 1}, "unique": true})),
    )
    .await?;
    assert_eq!(status, 201, "{index}");
    let (status, dup) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/books"),
        Some(&json!({"title": "Emma"})),
    )
    .await?;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["error"]["code"], "conflict");
    assert!(
        dup["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("title_1") && m.contains("Emma")),
        "{dup}"
    );
    // A validator: 422 with the failing path.
    let (status, _) = send(&server, reqwest::Method::POST, &format!("{BASE}/books/schema"), Some(&json!({"schema": {"type": "object", "properties": {"pages": {"type": "integer", "minimum": 1}}}}))).await?;
    assert_eq!(status, 200);
    let (status, bad) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/books"),
        Some(&json!({"title": "Zero", "pages": 0})),
    )
    .await?;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["error"]["pointer"], "/pages", "{bad}");
    // Bad input names the part at fault.
    for (path, body, says) in [
        ("/find", json!({"filter": {"pages": {"$gtt": 1}}}), "$gtt"),
        (
            "/aggregate",
            json!({"pipeline": [{"$match": {}}, {"$groop": {}}]}),
            "stage 1",
        ),
        ("/find", json!({"fliter": {}}), "fliter"),
    ] {
        let (status, error) = send(
            &server,
            reqwest::Method::POST,
            &format!("{BASE}/books{path}"),
            Some(&body),
        )
        .await?;
        assert!(
            status == 422 || status == 400,
            "{path} {body}: {status} {error}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{path}: {error}"
        );
    }
    let (status, error) = server
        .post_raw(
            &format!("{BASE}/books"),
            "application/json",
            b"{\"title\": ".to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not JSON")),
        "{error}"
    );
    let (status, info) = send(
        &server,
        reqwest::Method::GET,
        &format!("{BASE}/books"),
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(info["count"], 4, "{info}");
    assert_eq!(info["indexes"][1]["name"], "title_1");
    let (status, _) = send(
        &server,
        reqwest::Method::DELETE,
        &format!("{BASE}/books/indexes/title_1"),
        None,
    )
    .await?;
    assert_eq!(status, 204);
    let (status, deleted) = send(
        &server,
        reqwest::Method::DELETE,
        &format!("{BASE}/books/7"),
        None,
    )
    .await?;
    assert_eq!((status, deleted), (200, json!({"deleted": 1})));
    let (_, listed) = send(&server, reqwest::Method::GET, BASE, None).await?;
    assert_eq!(
        listed["collections"],
        json!([{"name": "books", "count": 3, "indexes": 0}])
    );
    Ok(())
}

#[tokio::test]
async fn change_streams_over_websocket_and_graphql_resume_after_a_restart() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/documents/changes"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["type"], "subscribed");
    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "c",
        "subscription { documentChanges(collection: \"orders\", operation: \"update\") { kind operationType collection clusterTime documentId } }",
    )
    .await?;

    send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/other"),
        Some(&json!({"_id": 1})),
    )
    .await?;
    send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/orders"),
        Some(&json!([{"_id": 1, "qty": 1}, {"_id": 2, "qty": 5}])),
    )
    .await?;
    send(
        &server,
        reqwest::Method::PATCH,
        &format!("{BASE}/orders/1"),
        Some(&json!({"$inc": {"qty": 1}, "$unset": {"none": ""}})),
    )
    .await?;
    send(
        &server,
        reqwest::Method::DELETE,
        &format!("{BASE}/orders/2"),
        None,
    )
    .await?;

    let mut changes = Vec::new();
    while changes.len() < 5 {
        let message = ws.recv().await?;
        if message["kind"] == "change_event" {
            weft_tests::schemas::check_event("document", &message)?;
            changes.push(message["data"].clone());
        }
    }
    let kinds: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["collection"].as_str().unwrap_or(""),
                c["operationType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("other", "insert"),
            ("orders", "insert"),
            ("orders", "insert"),
            ("orders", "update"),
            ("orders", "delete")
        ]
    );
    let update = &changes[3];
    assert_eq!(
        update["updateDescription"]["updatedFields"],
        json!({"qty": 2})
    );
    assert_eq!(update["fullDocument"], json!({"_id": 1, "qty": 2}));
    assert_eq!(update["documentKey"], json!({"_id": 1}));
    let next = gql
        .recv_until(|m| m["id"] == "c" && m["type"] == "next")
        .await?;
    let item = &next.last().context("a next")?["payload"]["data"]["documentChanges"];
    assert_eq!(
        item["operationType"], "update",
        "filtered to orders' updates: {item}"
    );
    assert_eq!(item["documentId"], 1);

    // A consumer that saw the first orders insert, across a restart: the
    // change log is on disk, so it resumes with every later change once.
    let token = changes[1]["_id"].clone();
    let server = server.restart()?;
    send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/orders"),
        Some(&json!({"_id": 3})),
    )
    .await?;
    let (status, resumed) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/orders/changes"),
        Some(&json!({"resumeAfter": token})),
    )
    .await?;
    assert_eq!(status, 200, "{resumed}");
    let seen: Vec<(Value, &str)> = resumed["changes"]
        .as_array()
        .context("changes")?
        .iter()
        .map(|c| {
            (
                c["documentKey"]["_id"].clone(),
                c["operationType"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!(2), "insert"),
            (json!(1), "update"),
            (json!(2), "delete"),
            (json!(3), "insert")
        ]
    );
    let (_, again) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/orders/changes"),
        Some(&json!({"resumeAfter": resumed["resumeToken"]})),
    )
    .await?;
    assert_eq!(again["changes"], json!([]), "nothing twice");
    Ok(())
}

#[tokio::test]
async fn concurrent_increments_from_many_clients_lose_none() -> anyhow::Result<()> {
    let server = Arc::new(Server::start(&[])?);
    send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/counters"),
        Some(&json!({"_id": "hits", "n": 0})),
    )
    .await?;
    let (clients, each) = (8, 15);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..each {
                let (status, answer) = send(
                    &server,
                    reqwest::Method::PATCH,
                    &format!("{BASE}/counters/hits"),
                    Some(&json!({"$inc": {"n": 1}})),
                )
                .await?;
                anyhow::ensure!(
                    status == 200 && answer["modified"] == 1,
                    "{status} {answer}"
                );
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let (_, doc) = send(
        &server,
        reqwest::Method::GET,
        &format!("{BASE}/counters/hits"),
        None,
    )
    .await?;
    assert_eq!(doc["n"], clients * each, "{doc}");
    let (_, log) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/counters/changes"),
        Some(&json!({"operationTypes": ["update"], "limit": 1000})),
    )
    .await?;
    let values: Vec<i64> = log["changes"]
        .as_array()
        .context("changes")?
        .iter()
        .filter_map(|c| c["updateDescription"]["updatedFields"]["n"].as_i64())
        .collect();
    assert_eq!(
        values,
        (1..=clients * each).collect::<Vec<i64>>(),
        "one change per increment, in commit order"
    );
    Ok(())
}

#[tokio::test]
async fn a_kill_during_bulk_inserts_keeps_every_acknowledged_document_and_its_index_entries()
-> anyhow::Result<()> {
    let server = Arc::new(Server::start(&[])?);
    send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/bulk/indexes"),
        Some(&json!({"keys": {"k": 1}})),
    )
    .await?;
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut tasks = Vec::new();
    for writer in 0..3i64 {
        let (server, acknowledged) = (server.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            for batch in 0..1000i64 {
                let base = (writer * 1000 + batch) * 100;
                let docs: Vec<Value> = (base..base + 100)
                    .map(|i| json!({"_id": i, "k": i % 97, "pad": "x".repeat(200)}))
                    .collect();
                match send(
                    &server,
                    reqwest::Method::POST,
                    &format!("{BASE}/bulk"),
                    Some(&Value::Array(docs)),
                )
                .await
                {
                    Ok((201, _)) => acknowledged
                        .lock()
                        .map_err(|_| anyhow::anyhow!("lock"))?
                        .extend(base..base + 100),
                    _ => break,
                }
            }
            anyhow::Ok(())
        }));
    }
    // Let some batches land, then kill -9 mid-stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while acknowledged
        .lock()
        .map_err(|_| anyhow::anyhow!("lock"))?
        .len()
        < 3000
    {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no 3000 documents acknowledged in 120 s"
        );
        anyhow::ensure!(
            tasks.iter().any(|t| !t.is_finished()),
            "every writer stopped before 3000 documents"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -9 failed");
    for task in tasks {
        let _ = task.await;
    }
    let server = Arc::try_unwrap(server)
        .map_err(|_| anyhow::anyhow!("the writers still hold the server"))?
        .restart()?;
    let acknowledged = acknowledged
        .lock()
        .map_err(|_| anyhow::anyhow!("lock"))?
        .clone();
    let (_, count) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/bulk/count"),
        Some(&json!({})),
    )
    .await?;
    let stored = count["count"].as_u64().context("count")?;
    assert!(
        stored >= acknowledged.len() as u64,
        "{stored} stored, {} acknowledged",
        acknowledged.len()
    );
    assert_eq!(stored % 100, 0, "batches are whole: {stored}");
    for id in acknowledged.iter().step_by(37) {
        let (status, doc) = send(
            &server,
            reqwest::Method::GET,
            &format!("{BASE}/bulk/{id}"),
            None,
        )
        .await?;
        assert_eq!(status, 200, "acknowledged {id} lost: {doc}");
    }
    // Through the index: every document with k = 5, and no entry without
    // its document (the index answers as many as a scan, which an $or
    // makes the planner do, does).
    let (_, by_index) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/bulk/explain"),
        Some(&json!({"filter": {"k": 5}})),
    )
    .await?;
    assert_eq!(
        by_index["queryPlanner"]["winningPlan"]["inputStage"]["indexName"], "k_1",
        "{by_index}"
    );
    let (_, scanned) = send(
        &server,
        reqwest::Method::POST,
        &format!("{BASE}/bulk/count"),
        Some(&json!({"filter": {"$or": [{"k": 5}]}})),
    )
    .await?;
    assert_eq!(
        by_index["executionStats"]["nReturned"], by_index["executionStats"]["totalKeysExamined"],
        "{by_index}"
    );
    assert_eq!(by_index["executionStats"]["nReturned"], scanned["count"]);
    let expected = acknowledged.iter().filter(|i| *i % 97 == 5).count() as u64;
    assert!(scanned["count"].as_u64() >= Some(expected));
    Ok(())
}
