//! What a plugin declares in its manifest is served without a restart and
//! without code for it in the gateway: the hostile test plugin (built
//! outside `plugins/`) is hot-loaded, and its REST route, WebSocket
//! endpoint (with its request message), event schemas and session
//! protocol appear — in `/api/v1/plugins` and the OpenAPI document too —
//! then disappear when it is unloaded. A plugin that would take another's
//! route is refused with the reason.

use serde_json::{Value, json};
use weft_tests::{Server, WsClient};

async fn graphql(server: &Server, query: &str) -> anyhow::Result<Value> {
    let response = server
        .http
        .post(server.url("/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await?;
    Ok(response.json().await?)
}

async fn load_hostile(server: &Server, name: &str) -> anyhow::Result<(u16, Value)> {
    server
        .load_plugin(name, &weft_tests::test_plugin("hostile"))
        .await
}

#[tokio::test]
async fn a_hot_loaded_plugin_brings_its_routes_endpoints_and_schemas() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, before) = server.post("/api/v1/hostile/echo/abc", &json!({})).await?;
    assert_eq!(status, 404);
    assert_eq!(before["error"]["code"], "not_found", "{before}");
    let message = before["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("anomaly, document, graph"),
        "lists the loaded engines: {message}"
    );

    let (status, loaded) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.2.0");
    assert_eq!(
        loaded["manifest"]["endpoints"][0]["topics"],
        json!(["hostile.events"])
    );
    assert_eq!(loaded["manifest"]["session"]["messages"][0]["call"], "push");

    // REST: path, query and body become the op's params; the declared
    // status answers.
    let (status, echoed) = server
        .post("/api/v1/hostile/echo/abc?limit=3", &json!({"a": [1, 2]}))
        .await?;
    assert_eq!(status, 201, "{echoed}");
    assert_eq!(echoed, json!({"a": [1, 2], "name": "abc", "limit": "3"}));
    let (status, got) = server.get("/api/v1/hostile/echo/xyz").await?;
    assert_eq!((status, &got), (200, &json!({"name": "xyz"})));
    let (status, job) = server.post("/api/v1/hostile/spin", &json!({})).await?;
    assert_eq!(
        status, 202,
        "a route declared as a job answers at once: {job}"
    );
    let job_id = job["job_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = server.delete(&format!("/api/v1/jobs/{job_id}")).await?;
    assert_eq!(status, 202);
    let (status, bad) = server
        .post_raw(
            "/api/v1/hostile/echo/abc",
            "application/json",
            b"[1,".to_vec(),
        )
        .await?;
    assert_eq!(
        status, 400,
        "a body that is not JSON is the caller's mistake: {bad}"
    );
    assert_eq!(bad["error"]["code"], "bad_request");

    // WebSocket: pre-subscribed to its topic; its request runs the
    // declared default operation (emit) and the events arrive.
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/hostile/events"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["topics"], json!(["hostile.events"]));
    ws.send(&json!({"type": "emit_request", "request_id": "r1",
        "params": {"events": [{"topic": "events", "kind": "made", "data": {"n": 7}}]}}))
        .await?;
    let accepted = ws.recv().await?;
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    let mut saw_event = false;
    let mut saw_result = false;
    while !(saw_event && saw_result) {
        let message = ws.recv().await?;
        match message["type"].as_str() {
            Some("event") if message["kind"] == "made" => {
                assert_eq!(message["data"], json!({"n": 7}));
                saw_event = true;
            }
            Some("result") => {
                assert_eq!(message["request_id"], "r1");
                assert_eq!(message["state"], "succeeded", "{message}");
                saw_result = true;
            }
            _ => {}
        }
    }
    ws.send(&json!({"type": "graph_algorithm_request", "operation": "echo"}))
        .await?;
    let refused = ws.recv().await?;
    assert_eq!(
        refused["code"], "bad_request",
        "another endpoint's request: {refused}"
    );

    // OpenAPI: an entry per route and endpoint, typed from the op.
    let (_, document) = server.get("/api/v1/openapi.json").await?;
    let echo = &document["paths"]["/api/v1/hostile/echo/{name}"];
    assert!(echo["post"]["requestBody"].is_object(), "{echo}");
    assert!(echo["get"].is_object());
    assert!(document["paths"]["/api/v1/ws/hostile/events"]["get"]["responses"]["101"].is_object());

    // GraphQL: its declared subscription and `hostileEvents`, typed from
    // its event schemas, with no restart; introspection shows them.
    let introspection = graphql(
        &server,
        "{ __schema { subscriptionType { fields { name } } types { name fields { name type { name kind } } } } }",
    )
    .await?;
    let fields = introspection["data"]["__schema"]["subscriptionType"]["fields"].to_string();
    assert!(
        fields.contains("hostileMade")
            && fields.contains("hostileEvents")
            && fields.contains("jobProgress"),
        "{fields}"
    );
    let made_type = introspection["data"]["__schema"]["types"]
        .as_array()
        .and_then(|types| types.iter().find(|t| t["name"] == "HostileMade"))
        .cloned()
        .unwrap_or_default();
    let n = made_type["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "n"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        n["type"]["name"], "Int",
        "typed from the kind's schema: {made_type}"
    );
    let events = json!([
        {"topic": "made", "kind": "made", "data": {"n": 7}},
        {"topic": "made", "kind": "made", "data": {"n": 8}},
        {"topic": "made", "kind": "flood", "data": {"i": 1}},
    ]);
    let job = server
        .run_job("hostile", "emit", json!({ "events": events }))
        .await?;
    let mut gql = server.graphql_ws().await?;
    gql.send(&json!({"id": "m", "type": "subscribe", "payload": {
        "query": "subscription($id: String) { hostileMade(jobId: $id, n: 8) { kind n jobId seq resumeFrom } }",
        "variables": {"id": job["job_id"]}}}))
        .await?;
    let messages = gql
        .recv_until(|m| m["id"] == "m" && (m["type"] == "complete" || m["type"] == "error"))
        .await?;
    let items: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "next")
        .map(|m| &m["payload"]["data"]["hostileMade"])
        .collect();
    assert_eq!(
        items.len(),
        1,
        "filtered on n, ended by its final kind: {messages:?}"
    );
    assert_eq!(items[0]["n"], 8);
    assert_eq!(items[0]["kind"], "made");
    assert_eq!(items[0]["jobId"], job["job_id"]);
    gql.send(&json!({"id": "e", "type": "subscribe", "payload": {
        "query": "subscription($id: String) { hostileEvents(jobId: $id, kinds: [\"flood\"]) { kind i } }",
        "variables": {"id": job["job_id"]}}}))
        .await?;
    let next = gql.recv_until(|m| m["id"] == "e").await?;
    let item = &next
        .last()
        .map(|m| m["payload"]["data"]["hostileEvents"].clone())
        .unwrap_or_default();
    assert_eq!(item["kind"], "flood", "{next:?}");
    assert_eq!(item["i"], 1);

    // A session on its declared path: rows of any shape arrive typed.
    let mut session =
        WsClient::connect(&server.ws_url("/api/v1/hostile/sessions/typed"), None).await?;
    let welcome = session.recv().await?;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["engine"], "hostile");
    assert_eq!(welcome["topics"], json!(["echoes", "stats"]));
    session
        .send(&json!({"type": "rows", "request_id": 5,
            "rows": [{"a": 1, "b": "x", "c": true}, {"a": 2.5, "b": null, "c": false}]}))
        .await?;
    let answer = session.recv().await?;
    assert_eq!(answer["type"], "rows", "{answer}");
    assert_eq!(answer["request_id"], "5");
    assert_eq!(answer["kinds"], json!(["a:f64", "b:text", "c:bool"]));
    assert_eq!(
        answer["results"][1],
        json!({"index": 1, "a": 2.5, "b": null, "c": false})
    );
    assert!(answer["metadata"]["processing_time_ms"].is_number());
    session
        .send(&json!({"type": "rows", "format": "columns", "rows": [[1, "y"], [2, "z"]]}))
        .await?;
    let answer = session.recv().await?;
    assert_eq!(
        answer["columns"],
        json!({"0": [1.0, 2.0], "1": ["y", "z"]}),
        "{answer}"
    );
    session
        .send(&json!({"type": "rows", "rows": [[1], [[2]]]}))
        .await?;
    let refused = session.recv().await?;
    assert_eq!(refused["code"], "invalid_request", "{refused}");
    // Declared columns: each value converted to its column's type, or
    // refused before the plugin sees it.
    session
        .send(&json!({"type": "typed", "rows": [[7, "1970-01-01T00:00:02Z", "0101"], {"n": 8}]}))
        .await?;
    let typed = session.recv().await?;
    assert_eq!(
        typed["kinds"],
        json!(["n:i64", "at:timestamp", "wkb:binary"]),
        "{typed}"
    );
    assert_eq!(
        typed["results"][0],
        json!({"index": 0, "n": 7, "at": 2_000_000, "wkb": "0101"})
    );
    assert_eq!(typed["results"][1]["at"], Value::Null);
    session
        .send(&json!({"type": "typed", "rows": [[1.5, 0, "00"]]}))
        .await?;
    let refused = session.recv().await?;
    assert_eq!(refused["code"], "invalid_request", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("field 'n'"),
        "{refused}"
    );
    session
        .send(&json!({"type": "sample", "data": [1]}))
        .await?;
    let scored = session.recv().await?;
    assert_eq!(scored["type"], "result", "{scored}");
    assert_eq!(scored["score"], 0.0, "one row answers at the top level");
    let (_, document) = server.get("/api/v1/openapi.json").await?;
    assert!(
        document["paths"]["/api/v1/hostile/sessions/{session_id}"]["get"].is_object(),
        "the session path is documented"
    );

    // A second copy would take the same routes: refused, with the reason.
    let (status, refused) = load_hostile(&server, "hostile2").await?;
    assert_eq!(status, 422, "{refused}");
    let why = refused["error"]["message"].as_str().unwrap_or("");
    assert!(
        why.contains("served already") && why.contains("'hostile'"),
        "{why}"
    );

    // Unloaded: gone from REST, WebSocket and OpenAPI, and the 404 says
    // which engine to load.
    let (status, _) = server.delete("/api/v1/plugins/hostile").await?;
    assert_eq!(status, 200);
    let (status, gone) = server.get("/api/v1/hostile/echo/xyz").await?;
    assert_eq!(status, 404);
    assert_eq!(gone["error"]["code"], "engine_not_loaded", "{gone}");
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("POST /api/v1/plugins?name=hostile")
    );
    let (_, document) = server.get("/api/v1/openapi.json").await?;
    assert!(document["paths"]["/api/v1/hostile/echo/{name}"].is_null());
    gql.send(&json!({"id": "gone", "type": "subscribe", "payload": {
        "query": "subscription { hostileMade { n } }"}}))
        .await?;
    let gone = gql.recv_until(|m| m["id"] == "gone").await?;
    let gone = gone.last().map(ToString::to_string).unwrap_or_default();
    assert!(
        gone.contains("Unknown field") && gone.contains("hostileMade"),
        "the subscription went with the plugin: {gone}"
    );
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/hostile/events"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["topics"], json!(["hostile.events"]));
    let error = ws.recv().await?;
    assert_eq!(
        error["code"], "engine_not_loaded",
        "stays subscribed, says why: {error}"
    );
    Ok(())
}

#[tokio::test]
async fn a_path_no_engine_ever_declared_is_a_plain_404() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let response = server
        .http
        .get(server.url("/api/v1/ws/nobody/declared"))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    Ok(())
}

#[tokio::test]
async fn plugins_cannot_forge_host_events_or_spread_over_topics() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);

    let job = server.run_job("hostile", "forge", json!({})).await?;
    assert_eq!(job["state"], "succeeded");
    let refusal = job["result"]["refused"].as_str().unwrap_or("");
    assert!(refusal.contains("job_state"), "the plugin is told: {job}");
    let job_id = job["job_id"].as_str().unwrap_or_default();
    let (_, events) = server
        .get(&format!("/api/v1/events?topics=jobs.{job_id}&limit=1000"))
        .await?;
    // Only the host's own transitions: a forged `succeeded` would be a
    // fourth state, published while the job was still running.
    let states: Vec<&Value> = events["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["kind"] == "job_state")
                .map(|e| &e["data"]["state"])
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        states,
        [&json!("queued"), &json!("running"), &json!("succeeded")]
    );

    let job = server
        .run_job("hostile", "topics", json!({"count": 2000}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["taken"], 64, "{job}");
    assert!(
        job["result"]["refusal"]
            .as_str()
            .unwrap_or("")
            .contains("64 topics")
    );
    Ok(())
}

/// Each plugin's storage is its own: what the graph engine stores, another
/// plugin cannot read and users do not see as loose datasets; what a
/// plugin writes to a collection stays out of the tenant's collections;
/// datasets users upload are readable by every plugin of the tenant.
#[tokio::test]
async fn plugins_keep_their_own_storage_and_share_the_users() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);
    let (status, _) = server
        .post("/api/v1/graphs/roads", &json!({"edges": [[1, 2], [2, 3]]}))
        .await?;
    assert_eq!(status, 201);
    let job = server
        .run_job("hostile", "peek", json!({"dataset": "roads.edges"}))
        .await?;
    assert!(
        job["result"]["refused"]
            .as_str()
            .unwrap_or("")
            .contains("roads.edges"),
        "another plugin's dataset is not there for it: {job}"
    );
    let (_, datasets) = server.get("/api/v1/datasets").await?;
    assert!(
        !datasets.to_string().contains("roads.edges"),
        "a stored graph is not a loose dataset: {datasets}"
    );
    let (status, _) = server.get("/api/v1/datasets/roads.edges").await?;
    assert_eq!(status, 404);

    let (status, _) = server
        .post_raw(
            "/api/v1/datasets/readings",
            "text/csv",
            b"x\n1\n2\n3\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 201);
    let job = server
        .run_job("hostile", "peek", json!({"dataset": "readings"}))
        .await?;
    assert_eq!(
        job["result"]["rows"], 3,
        "users' datasets are shared: {job}"
    );

    let job = server
        .run_job(
            "hostile",
            "stash",
            json!({"collection": "notes", "key": "k", "value": 7}),
        )
        .await?;
    assert_eq!(job["result"]["read_back"], "7", "{job}");
    let (status, _) = server.get("/api/v1/collections/notes/keys/k").await?;
    assert_eq!(status, 404, "a plugin's collection is its own");
    Ok(())
}

/// What a flood of large events makes the host keep is bounded by the
/// retention budgets, not by the event count: 100 MiB published, a few MiB
/// retained, and the server's memory stays near where it was.
#[tokio::test]
async fn an_event_flood_is_retained_within_the_byte_budget() -> anyhow::Result<()> {
    let server = Server::start(&["--retain-mib", "8", "--retain-mib-per-tenant", "4"])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);
    let before = server.resident_bytes()?;
    let job = server
        .run_job(
            "hostile",
            "flood",
            json!({"count": 200, "bytes": 512 << 10}),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (_, events) = server
        .get("/api/v1/events?topics=hostile.flood&limit=1000")
        .await?;
    let kept = events["events"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        (1..=10).contains(&kept),
        "a 4 MiB budget keeps ~8 of 200 half-MiB events: {kept}"
    );
    let grown = server.resident_bytes()?.saturating_sub(before);
    assert!(grown < 96 << 20, "the server grew {} MiB", grown >> 20);
    Ok(())
}

/// A component that compiles but is refused (here: its routes collide)
/// leaves no compiled artifact behind in the cache.
#[tokio::test]
async fn a_refused_component_is_not_kept_compiled() -> anyhow::Result<()> {
    let server = Server::start_with_own_cache(&[])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);
    let cache = server.data_dir().join("cache/components");
    let artifacts = || std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    let before = artifacts();
    // The same plugin with a custom section appended: other bytes (so it is
    // compiled anew), the same routes (so it is refused).
    let mut bytes = std::fs::read(weft_tests::test_plugin("hostile"))?;
    let name = b"weft-test";
    let payload = b"a different digest";
    bytes.push(0); // custom section
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    let path = server.data_dir().join("variant.wasm");
    std::fs::write(&path, &bytes)?;
    let (status, refused) = server.load_plugin("variant", &path).await?;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        artifacts(),
        before,
        "no artifact kept for the refused component"
    );
    Ok(())
}

/// A bytes body reaches the op as a blob in the plugin's own storage, and
/// the blob is gone once the job is done.
#[tokio::test]
async fn an_uploaded_body_is_a_blob_until_its_job_ends() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);
    let (status, answer) = server
        .post_raw("/api/v1/hostile/upload", "text/plain", vec![b'z'; 100_000])
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["bytes"], 100_000);
    assert_eq!(answer["type"], "text/plain");
    let blob = answer["blob"].as_str().unwrap_or_default().to_owned();
    let mut exists = true;
    for _ in 0..50 {
        let job = server
            .run_job("hostile", "blob", json!({"name": blob}))
            .await?;
        exists = job["result"]["exists"] == true;
        if !exists {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !exists,
        "the upload's blob {blob} was removed after its job"
    );
    // A body far past one storage call streams into a file blob.
    let mut big = vec![b'a'; 40 << 20];
    big.extend_from_slice(b"tail");
    let (status, answer) = server
        .post_raw("/api/v1/hostile/upload", "text/plain", big)
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["bytes"], (40 << 20) + 4);
    assert_eq!(answer["tail"], "tail");
    Ok(())
}

/// WIT 0.2 storage at the sizes engines use: one atomic batch (a batch
/// past the limit is refused whole), scans in byte-bounded pages, and a
/// 20 MiB blob written in parts to a file and read back by position.
#[tokio::test]
async fn batches_pages_and_large_blobs_work_through_the_sandbox() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = load_hostile(&server, "hostile").await?;
    assert_eq!(status, 201);
    let job = server
        .run_job(
            "hostile",
            "bulk",
            json!({"entries": 5000, "page_bytes": 16384, "blob_mib": 20}),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(
        result["scanned"], 5000,
        "no entry of the refused batch: {result}"
    );
    assert!(
        result["refused"]
            .as_str()
            .unwrap_or("")
            .contains("10000 writes"),
        "{result}"
    );
    // 5,000 entries of 109 bytes in pages of about 16 KiB.
    let pages = result["pages"].as_u64().unwrap_or(0);
    assert!((33..=40).contains(&pages), "{pages} pages");
    assert!(result["largest_page_bytes"].as_u64().unwrap_or(u64::MAX) < 16_384 + 200);
    assert_eq!(result["blob_size"], 20 << 20);
    assert_eq!(result["tail_ok"], true);
    let file = server
        .data_dir()
        .join("storage/tenants/default/plugins/hostile/blobs/big");
    assert_eq!(
        std::fs::metadata(&file)?.len(),
        20 << 20,
        "a file, not an LSM value"
    );
    Ok(())
}
