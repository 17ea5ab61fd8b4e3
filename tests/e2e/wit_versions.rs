//! The host binds WIT 0.1 beside 0.2: a plugin built against 0.1 (the
//! hostile plugin as it was built before the SDK moved to 0.2, checked in
//! as `tests/fixtures/hostile-wit-0.1.wasm`) loads, runs jobs and opens
//! sessions beside the 0.2 engines.

use serde_json::json;
use weft_tests::Server;
use weft_tests::anomaly::{next_answer, open_session_at};

#[tokio::test]
async fn a_plugin_built_against_wit_0_1_loads_and_runs_beside_0_2_ones() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let fixture = weft_tests::repo_root().join("tests/fixtures/hostile-wit-0.1.wasm");
    let (status, loaded) = server.load_plugin("old", &fixture).await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.1.0");
    assert_eq!(
        loaded["manifest"]["routes"],
        json!([]),
        "0.1 declares no surface"
    );

    let job = server
        .run_job("old", "echo", json!({"x": [1, 2, 3]}))
        .await?;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["result"], json!({"x": [1, 2, 3]}));
    // A 0.1 trap still fails its own job only, with the 0.1 error mapping.
    let job = server.run_job("old", "trap", json!({})).await?;
    assert_eq!(job["state"], "failed");
    assert_eq!(job["error"]["code"], "plugin_trapped", "{job}");
    // And the 0.2 engines beside it are unaffected.
    let job = server
        .run_job("graph", "pagerank", json!({"edges": [[1, 2], [2, 1]]}))
        .await?;
    assert_eq!(job["state"], "succeeded");
    let (_, plugins) = server.get("/api/v1/plugins").await?;
    let graph = plugins
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "graph"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(graph["world"], "weft:engine/plugin@0.2.0");

    // Its 0.1 session export serves streaming sessions too, in the
    // protocol 0.1 was written for, at the host's generic session path.
    let (mut session, welcome) =
        open_session_at(&server, "/api/v1/ws/sessions/old/old-session").await?;
    assert_eq!(welcome["engine"], "old");
    session
        .send(&json!({"type": "sample", "data": [1.0, 2.0], "request_id": "s1"}))
        .await?;
    let answer = next_answer(&mut session).await?;
    assert_eq!(answer["type"], "result", "{answer}");
    assert_eq!(answer["request_id"], "s1");
    assert_eq!(answer["is_anomaly"], false, "{answer}");
    session
        .send(&json!({"type": "batch", "batch_data": [[1.0, 2.0], [3.0, 4.0]]}))
        .await?;
    let answer = next_answer(&mut session).await?;
    assert_eq!(answer["type"], "batch_result", "{answer}");
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
    Ok(())
}

/// `weft:host@0.2.1` added a function; a plugin built against 0.2.0
/// imports `…@0.2.0` names, which the host's 0.2.1 definitions satisfy.
#[tokio::test]
async fn a_plugin_built_against_host_0_2_0_loads_on_the_0_2_1_host() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let fixture = weft_tests::repo_root().join("tests/fixtures/hostile-wit-0.2.0.wasm");
    let (status, loaded) = server.load_plugin("older", &fixture).await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.2.0");
    let job = server
        .run_job("older", "echo", json!({"x": [1, 2, 3]}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"], json!({"x": [1, 2, 3]}));
    Ok(())
}
