//! API keys → tenants (`--api-keys`): callers without a key are refused,
//! tenants see only their own jobs, events, collections and sessions, and
//! only operators manage the server. Over REST, the event WebSocket
//! (`?access_token=`), GraphQL over HTTP and GraphQL subscriptions (the key
//! in `connection_init`).

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient};

const ACME: &str = "acme-key-0123456789";
const GLOBEX: &str = "globex-key-0123456789";
const OPS: &str = "ops-key-0123456789abcdef";

fn start() -> anyhow::Result<(Server, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        format!("# tenant key [operator]\nacme {ACME}\nglobex {GLOBEX}\nops {OPS} operator\n"),
    )?;
    let path = keys.to_str().context("utf-8 path")?.to_owned();
    Ok((Server::start(&["--api-keys", &path])?, dir))
}

/// One request as `key` (None: no Authorization header) → (status, body).
async fn call(
    server: &Server,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = server.http.request(method, server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn pagerank() -> Value {
    json!({"engine": "graph", "op": "pagerank", "params": {"edges": [[1, 2], [2, 3], [3, 1]]}})
}

async fn run_job(server: &Server, key: &str) -> anyhow::Result<String> {
    let (status, job) = call(
        server,
        Method::POST,
        "/api/v1/jobs?wait=true",
        Some(key),
        Some(pagerank()),
    )
    .await?;
    ensure!(
        status == 200 && job["state"] == "succeeded",
        "{status} {job}"
    );
    Ok(job["job_id"].as_str().context("job id")?.to_owned())
}

async fn event_socket(server: &Server, key: &str) -> anyhow::Result<WsClient> {
    let url = server.ws_url(&format!("/api/v1/ws?access_token={key}"));
    let mut ws = WsClient::connect(&url, None).await?.validating("ws");
    ensure!(ws.recv().await?["type"] == "welcome");
    ws.send(&json!({"type": "subscribe", "id": "jobs", "topics": ["jobs.>"]}))
        .await?;
    ensure!(ws.recv().await?["type"] == "subscribed");
    Ok(ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_decide_the_tenant_and_tenants_do_not_see_each_other() -> anyhow::Result<()> {
    let (server, _keys) = start()?;

    // Who may call.
    let (status, _) = call(&server, Method::GET, "/api/v1/health", None, None).await?;
    ensure!(status == 200, "health is public");
    let (status, body) = call(&server, Method::GET, "/api/v1/jobs", None, None).await?;
    ensure!(
        status == 401 && body["error"]["code"] == "unauthorized",
        "{status} {body}"
    );
    let (status, body) = call(
        &server,
        Method::GET,
        "/api/v1/jobs",
        Some("not-a-key-0123456789"),
        None,
    )
    .await?;
    ensure!(
        status == 401 && body["error"]["code"] == "unauthorized",
        "{status} {body}"
    );
    let refused = WsClient::connect(&server.ws_url("/api/v1/ws"), None).await;
    ensure!(
        refused.is_err(),
        "a WebSocket without a key must be refused"
    );

    // Jobs and their events stay with their tenant.
    let mut acme_ws = event_socket(&server, ACME).await?;
    let mut globex_ws = event_socket(&server, GLOBEX).await?;
    let acme_job = run_job(&server, ACME).await?;
    let seen = acme_ws
        .recv_until(|m| m["kind"] == "job_state" && m["data"]["state"] == "succeeded")
        .await?;
    ensure!(
        seen.iter().all(|m| m["tenant"] == "acme"),
        "acme saw another tenant's event"
    );
    // Globex's first event must be of its own job: acme's came first and
    // would have arrived before it had they leaked.
    let globex_job = run_job(&server, GLOBEX).await?;
    let first = globex_ws.recv().await?;
    ensure!(
        first["source"]["job"] == globex_job.as_str() && first["tenant"] == "globex",
        "globex received {first}"
    );

    let job_path = format!("/api/v1/jobs/{acme_job}");
    let (status, body) = call(&server, Method::GET, &job_path, Some(GLOBEX), None).await?;
    ensure!(
        status == 404 && body["error"]["code"] == "not_found",
        "{status} {body}"
    );
    let (status, _) = call(&server, Method::DELETE, &job_path, Some(GLOBEX), None).await?;
    ensure!(status == 404, "globex cancelled acme's job: {status}");
    let (status, body) = call(&server, Method::GET, &job_path, Some(OPS), None).await?;
    ensure!(
        status == 200 && body["tenant"] == "acme",
        "operators see every job: {body}"
    );
    let (_, globex_jobs) = call(&server, Method::GET, "/api/v1/jobs", Some(GLOBEX), None).await?;
    let ids: Vec<&str> = globex_jobs
        .as_array()
        .context("job list")?
        .iter()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    ensure!(ids == [globex_job.as_str()], "globex lists {ids:?}");
    let (status, events) = call(
        &server,
        Method::GET,
        "/api/v1/events?topics=jobs.>",
        Some(GLOBEX),
        None,
    )
    .await?;
    ensure!(status == 200, "{events}");
    ensure!(
        events["events"]
            .as_array()
            .context("events")?
            .iter()
            .all(|e| e["tenant"] == "globex"),
        "polling leaked: {events}"
    );

    // Collections are per tenant, even under the same name.
    let (status, _) = server
        .http
        .put(server.url("/api/v1/collections/notes/keys/plan"))
        .bearer_auth(ACME)
        .body("acme's plan")
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))?;
    ensure!(
        status == 200 || status == 201 || status == 204,
        "put: {status}"
    );
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/collections/notes/keys/plan",
        Some(GLOBEX),
        None,
    )
    .await?;
    ensure!(status == 404, "globex read acme's key: {status}");
    let (_, listed) = call(
        &server,
        Method::GET,
        "/api/v1/collections",
        Some(GLOBEX),
        None,
    )
    .await?;
    ensure!(
        listed["collections"].as_array().is_some_and(Vec::is_empty),
        "{listed}"
    );
    let (_, listed) = call(
        &server,
        Method::GET,
        "/api/v1/collections",
        Some(ACME),
        None,
    )
    .await?;
    ensure!(listed.to_string().contains("notes"), "{listed}");

    // Operating the server is for operators.
    for (method, path) in [
        (Method::POST, "/api/v1/plugins?name=graph"),
        (Method::DELETE, "/api/v1/plugins/graph"),
        (Method::GET, "/metrics"),
        (Method::GET, "/api/v1/ws/connections"),
        (Method::GET, "/api/v1/storage/stats"),
    ] {
        let (status, body) = call(&server, method.clone(), path, Some(ACME), None).await?;
        ensure!(
            status == 403 && body["error"]["code"] == "forbidden",
            "{method} {path}: {status} {body}"
        );
    }
    let (status, connections) = call(
        &server,
        Method::GET,
        "/api/v1/ws/connections",
        Some(OPS),
        None,
    )
    .await?;
    ensure!(status == 200, "{connections}");
    let mut tenants: Vec<&str> = connections
        .as_array()
        .context("connections")?
        .iter()
        .filter_map(|c| c["tenant"].as_str())
        .collect();
    tenants.sort_unstable();
    ensure!(tenants == ["acme", "globex"], "{connections}");
    let (status, _) = call(&server, Method::GET, "/api/v1/plugins", Some(ACME), None).await?;
    ensure!(status == 200, "listing plugins is for everyone");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_takes_the_key_over_http_and_in_connection_init() -> anyhow::Result<()> {
    let (server, _keys) = start()?;
    let acme_job = run_job(&server, ACME).await?;
    let query = json!({"query": "query($id: String!) { job(id: $id) { jobId state } }", "variables": {"id": acme_job}});
    let (status, answer) = call(
        &server,
        Method::POST,
        "/graphql",
        Some(ACME),
        Some(query.clone()),
    )
    .await?;
    ensure!(
        status == 200 && answer["data"]["job"]["state"] == "SUCCEEDED",
        "{answer}"
    );
    let (_, answer) = call(
        &server,
        Method::POST,
        "/graphql",
        Some(GLOBEX),
        Some(query.clone()),
    )
    .await?;
    ensure!(
        answer["errors"][0]["extensions"]["code"] == "not_found",
        "globex read acme's job: {answer}"
    );
    let (status, _) = call(&server, Method::POST, "/graphql", None, Some(query)).await?;
    ensure!(status == 401, "GraphQL without a key: {status}");

    // No key in connection_init: the connection is closed (4403).
    let url = server.ws_url("/graphql/ws");
    let mut anonymous = WsClient::connect(&url, Some("graphql-transport-ws")).await?;
    anonymous
        .send(&json!({"type": "connection_init", "payload": {}}))
        .await?;
    let refused = anonymous.recv_within(Duration::from_secs(5)).await;
    let reason = format!("{refused:?}");
    ensure!(refused.is_err() && reason.contains("4403"), "{reason}");

    // The key in the payload: acme may watch its job, globex may not.
    let mut acme = WsClient::connect(&url, Some("graphql-transport-ws")).await?;
    acme.send(
        &json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {ACME}")}}),
    )
    .await?;
    ensure!(acme.recv().await?["type"] == "connection_ack");
    let watch = json!({
        "id": "1", "type": "subscribe",
        "payload": {"query": "subscription($id: String!) { jobProgress(jobId: $id) { state } }", "variables": {"id": acme_job}},
    });
    acme.send(&watch).await?;
    let updates = acme.recv_until(|m| m["type"] == "complete").await?;
    ensure!(
        updates
            .iter()
            .any(|m| m["payload"]["data"]["jobProgress"]["state"] == "SUCCEEDED"),
        "{updates:?}"
    );
    let mut globex = WsClient::connect(&url, Some("graphql-transport-ws")).await?;
    globex
        .send(&json!({"type": "connection_init", "payload": {"token": GLOBEX}}))
        .await?;
    ensure!(globex.recv().await?["type"] == "connection_ack");
    globex.send(&watch).await?;
    let answer = globex.recv().await?;
    ensure!(
        answer["type"] == "error" || answer["payload"]["errors"].is_array(),
        "globex watched acme's job: {answer}"
    );
    Ok(())
}

/// One policy for operator-only figures on every surface: a tenant reads
/// none of them over REST, WebSocket or GraphQL; an operator reads all.
#[tokio::test]
async fn operator_only_figures_stay_with_operators_on_every_surface() -> anyhow::Result<()> {
    let (server, _keys) = start()?;
    for path in ["/api/v1/storage/stats", "/metrics", "/api/v1/ws/status"] {
        let (status, _) = call(&server, Method::GET, path, Some(ACME), None).await?;
        ensure!(status == 403, "a tenant read {path}: {status}");
        let (status, _) = call(&server, Method::GET, path, Some(OPS), None).await?;
        ensure!(status == 200, "an operator could not read {path}: {status}");
    }
    let url = server.ws_url("/graphql/ws");
    for subscription in [
        "bufferPoolMetrics { usedPages }",
        "diskIoMetrics { reads }",
        "storageTierMetrics { hotPages }",
    ] {
        for (key, allowed) in [(ACME, false), (OPS, true)] {
            let mut client = WsClient::connect(&url, Some("graphql-transport-ws")).await?;
            client
                .send(&json!({"type": "connection_init", "payload": {"token": key}}))
                .await?;
            ensure!(client.recv().await?["type"] == "connection_ack");
            client
                .send(&json!({"id": "1", "type": "subscribe",
                    "payload": {"query": format!("subscription {{ {subscription} }}")}}))
                .await?;
            let answer = client.recv().await?;
            let refused = answer["type"] == "error"
                || answer["payload"]["errors"][0]["extensions"]["code"] == "forbidden";
            ensure!(refused != allowed, "{subscription} as {key}: {answer}");
        }
    }
    // A tenant's streaming health counts its own sessions only.
    let (status, health) = call(
        &server,
        Method::GET,
        "/api/v1/streaming/health",
        Some(ACME),
        None,
    )
    .await?;
    ensure!(status == 200 && health["sessions"] == 0, "{health}");
    Ok(())
}

/// A server with the three test tenants' keys and the hostile plugin
/// loaded (by the operator); the keys' directory lives as long as it.
async fn keyed_server_with_hostile(extra: &[&str]) -> anyhow::Result<(Server, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        format!("acme {ACME}\nglobex {GLOBEX}\nops {OPS} operator\n"),
    )?;
    let path = keys.to_str().context("utf-8 path")?.to_owned();
    let mut args = vec!["--api-keys", path.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args)?;
    let bytes = std::fs::read(weft_tests::test_plugin("hostile"))?;
    let loaded = server
        .http
        .post(server.url("/api/v1/plugins?name=hostile"))
        .bearer_auth(OPS)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await?;
    ensure!(loaded.status().as_u16() == 201, "{}", loaded.text().await?);
    Ok((server, dir))
}

/// One tenant cannot queue without bound: past its queued-job limit it is
/// told to wait (429), while another tenant's jobs still go in and run.
#[tokio::test]
async fn a_tenant_past_its_queue_limit_is_told_to_wait_and_others_are_not() -> anyhow::Result<()> {
    let (server, _keys) = keyed_server_with_hostile(&[
        "--workers",
        "1",
        "--max-queued-per-tenant",
        "3",
        "--job-timeout-secs",
        "30",
    ])
    .await?;
    let spin = json!({"engine": "hostile", "op": "spin", "params": {}});
    let mut ids = Vec::new();
    // One runs, three wait: the fifth submission is refused.
    for _ in 0..4 {
        let (status, job) = call(
            &server,
            Method::POST,
            "/api/v1/jobs",
            Some(ACME),
            Some(spin.clone()),
        )
        .await?;
        ensure!(status == 202, "{status} {job}");
        ids.push(job["job_id"].as_str().unwrap_or_default().to_owned());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, refused) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        Some(ACME),
        Some(spin.clone()),
    )
    .await?;
    ensure!(
        status == 429 && refused["error"]["code"] == "too_many_jobs",
        "{status} {refused}"
    );
    let (status, other) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        Some(GLOBEX),
        Some(pagerank()),
    )
    .await?;
    ensure!(
        status == 202,
        "another tenant is not refused: {status} {other}"
    );
    for id in ids {
        call(
            &server,
            Method::DELETE,
            &format!("/api/v1/jobs/{id}"),
            Some(ACME),
            None,
        )
        .await?;
    }
    Ok(())
}

/// Fair shares: a tenant whose jobs fill the queue runs on at most
/// --max-running-per-tenant workers, so another tenant's job starts at once
/// instead of waiting for the flood.
#[tokio::test]
async fn a_flooding_tenant_leaves_a_worker_for_the_others() -> anyhow::Result<()> {
    // Two workers; with keys, one tenant may use one of them.
    let (server, _keys) =
        keyed_server_with_hostile(&["--workers", "2", "--job-timeout-secs", "20"]).await?;
    let spin = json!({"engine": "hostile", "op": "spin", "params": {}});
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, job) = call(
            &server,
            Method::POST,
            "/api/v1/jobs",
            Some(ACME),
            Some(spin.clone()),
        )
        .await?;
        ensure!(status == 202, "{status} {job}");
        ids.push(job["job_id"].as_str().unwrap_or_default().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, running) = call(
        &server,
        Method::GET,
        "/api/v1/jobs?state=running",
        Some(ACME),
        None,
    )
    .await?;
    let running = running.as_array().map_or(0, Vec::len);
    ensure!(
        running == 1,
        "the flooding tenant runs on one worker, not {running}"
    );
    let started = std::time::Instant::now();
    let (status, job) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        Some(GLOBEX),
        Some(pagerank()),
    )
    .await?;
    ensure!(status == 202, "{status} {job}");
    let id = job["job_id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, job) = call(
            &server,
            Method::GET,
            &format!("/api/v1/jobs/{id}"),
            Some(GLOBEX),
            None,
        )
        .await?;
        if job["state"] == "succeeded" {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "another tenant's job waited behind the flood: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in ids {
        call(
            &server,
            Method::DELETE,
            &format!("/api/v1/jobs/{id}"),
            Some(ACME),
            None,
        )
        .await?;
    }
    Ok(())
}
