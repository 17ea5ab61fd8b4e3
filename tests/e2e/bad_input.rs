//! Bad input gets a clear 4xx JSON error and the server stays up.

use serde_json::{Value, json};
use weft_tests::Server;

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.len() > 10, "message should explain: {message}");
}

#[tokio::test]
async fn every_kind_of_bad_request_gets_a_clear_error() -> anyhow::Result<()> {
    let server = Server::start(&[])?;

    let (s, b) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "nope", "op": "x", "params": {} }),
        )
        .await?;
    assert_error(s, &b, 404, "not_found");
    assert!(
        b["error"]["message"]
            .as_str()
            .expect("message")
            .contains("'nope'")
    );

    let (s, b) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "graph", "op": "teleport", "params": {} }),
        )
        .await?;
    assert_error(s, &b, 400, "unknown_operation");
    assert!(
        b["error"]["message"]
            .as_str()
            .expect("message")
            .contains("pagerank")
    );

    let (s, b) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "graph", "op": "pagerank", "params": { "edges": [[1, 2]], "damping": 7 } }),
        )
        .await?;
    assert_error(s, &b, 422, "invalid_params");
    assert!(
        b["error"]["message"]
            .as_str()
            .expect("message")
            .contains("/damping")
    );

    let (s, b) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "graph", "op": "bfs", "params": { "edges": "many" } }),
        )
        .await?;
    assert_error(s, &b, 422, "invalid_params");

    let (s, b) = server
        .post_raw(
            "/api/v1/jobs",
            "application/json",
            b"{\"engine\": \"graph\", ".to_vec(),
        )
        .await?;
    assert_error(s, &b, 400, "invalid_json");

    let (s, b) = server
        .post("/api/v1/jobs", &json!({ "op": "pagerank" }))
        .await?;
    assert_error(s, &b, 422, "invalid_request");
    assert!(
        b["error"]["message"]
            .as_str()
            .expect("message")
            .contains("engine")
    );

    let wasm = "application/wasm";
    let not_a_component = b"\0asm not really a component".to_vec();
    let (s, b) = server
        .post_raw("/api/v1/plugins?name=junk", wasm, not_a_component)
        .await?;
    assert_error(s, &b, 422, "invalid_plugin");

    // A valid core module that is not a component implementing our world.
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let (s, b) = server
        .post_raw("/api/v1/plugins?name=core", wasm, core_module)
        .await?;
    assert_error(s, &b, 422, "invalid_plugin");

    let (s, b) = server
        .post_raw("/api/v1/plugins?name=Bad.Name", wasm, b"\0asm".to_vec())
        .await?;
    assert_error(s, &b, 400, "invalid_name");

    let (s, b) = server
        .post_raw("/api/v1/plugins", wasm, b"x".to_vec())
        .await?;
    assert_error(s, &b, 400, "bad_request");

    let (s, b) = server
        .post_raw("/api/v1/plugins?name=text", "text/plain", b"x".to_vec())
        .await?;
    assert_error(s, &b, 415, "unsupported_media_type");

    let (s, b) = server.get("/api/v1/nowhere").await?;
    assert_error(s, &b, 404, "not_found");

    let (s, b) = server.get("/api/v1/jobs?limit=many").await?;
    assert_error(s, &b, 400, "bad_request");

    let (status, health) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    Ok(())
}

#[tokio::test]
async fn engine_level_param_errors_fail_the_job_clearly() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    // Waited for, a failed job answers its record with the failure's status.
    let (status, job) = server
        .post(
            "/api/v1/jobs?wait=true",
            &json!({"engine": "graph", "op": "bfs", "params": { "edges": [[1, 2]], "source": 42 }}),
        )
        .await?;
    assert_eq!(status, 422, "{job}");
    assert_eq!(job["state"], "failed");
    assert_eq!(job["error"]["code"], "invalid_params");
    assert!(
        job["error"]["message"]
            .as_str()
            .expect("message")
            .contains("'42'")
    );
    Ok(())
}

/// Bodies read whole are bounded by `--max-request-mib` (default 64): a
/// job with 200,000 inline edges fits, a larger body gets the JSON 413
/// saying the limit and the way around it, and collection values take
/// their documented 16 MiB.
#[tokio::test]
async fn request_bodies_have_one_documented_limit_and_a_json_413() -> anyhow::Result<()> {
    let server = Server::start(&["--max-request-mib", "8"])?;
    let edges: Vec<Value> = (0..200_000u64)
        .map(|i| json!([i, (i * 7 + 1) % 200_000]))
        .collect();
    let job = json!({"engine": "graph", "op": "connected_components", "params": {"edges": edges}});
    let size = job.to_string().len();
    assert!(
        size > 2 << 20,
        "the job is {size} bytes, over axum's old 2 MiB default"
    );
    let (status, done) = server.post("/api/v1/jobs?wait=true", &job).await?;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "succeeded", "{done}");

    let big: Vec<Value> = (0..700_000u64).map(|i| json!([i, i + 1])).collect();
    let job = json!({"engine": "graph", "op": "connected_components", "params": {"edges": big}});
    assert!(job.to_string().len() > 8 << 20);
    let (status, refused) = server.post("/api/v1/jobs?wait=true", &job).await?;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"]["code"], "payload_too_large");
    let message = refused["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("8 MiB")
            && message.contains("--max-request-mib")
            && message.contains("/api/v1/datasets"),
        "says the limit, the flag and the way around: {message}"
    );

    let client = reqwest::Client::new();
    let put = |bytes: usize| {
        client
            .put(server.url("/api/v1/collections/values/keys/k"))
            .body(vec![b'x'; bytes])
            .send()
    };
    let fits = put((2 << 20) + 1).await?;
    assert_eq!(
        fits.status().as_u16(),
        204,
        "2 MiB + 1 byte is a valid value"
    );
    let too_big = put((8 << 20) + 1).await?;
    assert_eq!(too_big.status().as_u16(), 413);
    let body: Value = too_big.json().await?;
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    Ok(())
}

#[tokio::test]
async fn collection_values_stop_at_16_mib_with_a_json_413() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let response = reqwest::Client::new()
        .put(server.url("/api/v1/collections/values/keys/k"))
        .body(vec![b'x'; (16 << 20) + 1])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await?;
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("16 MiB") && message.contains("dataset"),
        "{body}"
    );
    Ok(())
}
