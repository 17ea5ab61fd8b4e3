//! `/api/v1/openapi.json` documents the router: routes are registered and
//! documented in one call, and this test checks the other direction — every
//! documented operation reaches a handler, not the 404 fallback.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::Server;

#[tokio::test]
async fn every_documented_operation_is_served() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, document) = server.get("/api/v1/openapi.json").await?;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().context("paths")?;
    for expected in [
        "/api/v1/health",
        "/api/v1/plugins/{name}",
        "/api/v1/jobs",
        "/api/v1/events",
        "/api/v1/ws",
        "/api/v1/ws/graph/algorithms",
        "/api/v1/ws/storage/buffer-pool",
        "/api/v1/ws/subscriptions/{id}",
        "/api/v1/streaming/enhanced/{session_id}",
        "/graphql/ws",
        "/metrics",
        "/docs",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let mut checked = 0;
    for (path, operations) in paths {
        let url = server.url(&path.replace(['{', '}'], "").replace("name", "nope"));
        for (method, operation) in operations.as_object().context("operations")? {
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            let response = match method.as_str() {
                "get" => server.http.get(&url).send().await?,
                "post" => server.http.post(&url).json(&json!({})).send().await?,
                "delete" => server.http.delete(&url).send().await?,
                "put" => server.http.put(&url).body("{}").send().await?,
                "patch" => server.http.patch(&url).json(&json!({})).send().await?,
                other => anyhow::bail!("unexpected method {other}"),
            };
            let status = response.status().as_u16();
            let body = response.text().await?;
            let error: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let message = error["error"]["message"].as_str().unwrap_or("");
            assert!(
                !message.starts_with("no route for") && status != 405,
                "{method} {path} is documented but not served ({status} {body})"
            );
            if operation["responses"].get("101").is_some() {
                // A WebSocket endpoint asked over plain HTTP explains itself
                // (async-graphql's own /graphql/ws answers in plain text).
                assert_eq!(status, 400, "{method} {path}: {body}");
                if path != "/graphql/ws" {
                    assert_eq!(error["error"]["code"], "websocket_required", "{path}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} operations documented");

    let page = server
        .http
        .get(server.url("/docs"))
        .send()
        .await?
        .text()
        .await?;
    assert!(page.contains("/api/v1/openapi.json") && page.contains("<html"));
    Ok(())
}
