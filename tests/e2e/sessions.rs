//! Sessions live in the runtime, for any streaming plugin: a session
//! survives a graceful restart (snapshotted into storage, restored when a
//! client comes back), and one that was closed does not come back.

use serde_json::json;
use weft_tests::anomaly::{next_answer, open_session, open_session_at};
use weft_tests::{Server, test_plugin};

#[tokio::test]
async fn a_session_survives_a_graceful_restart_and_a_closed_one_does_not() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let path = "/api/v1/hostile/sessions/kept";
    let (mut client, welcome) = open_session_at(&server, path).await?;
    assert_eq!(welcome["restored"], false);
    client
        .send(&json!({"type": "rows", "rows": [[1], [2], [3]]}))
        .await?;
    assert_eq!(next_answer(&mut client).await?["type"], "rows");
    let (mut doomed, _) = open_session_at(&server, "/api/v1/hostile/sessions/closed").await?;
    doomed.send(&json!({"type": "rows", "rows": [[1]]})).await?;
    next_answer(&mut doomed).await?;
    let (status, _) = server.delete("/api/v1/streaming/sessions/closed").await?;
    assert_eq!(status, 200);
    drop((client, doomed));

    let server = server.restart_gracefully()?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let (mut client, welcome) = open_session_at(&server, path).await?;
    assert_eq!(welcome["session_created"], true);
    assert_eq!(welcome["restored"], true, "{welcome}");
    client.send(&json!({"type": "stats"})).await?;
    let stats = next_answer(&mut client).await?;
    assert_eq!(stats["stats"]["streaming"]["rows"], 3, "{stats}");
    let (_, welcome) = open_session_at(&server, "/api/v1/hostile/sessions/closed").await?;
    assert_eq!(welcome["restored"], false, "a closed session starts afresh");
    Ok(())
}

#[tokio::test]
async fn the_anomaly_session_resumes_its_counts_after_a_restart() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (mut client, _) = open_session(&server, "resumed", "?warmup=16&window_size=64").await?;
    let rows: Vec<_> = (0..200).map(|i| json!([f64::from(i % 10)])).collect();
    client
        .send(&json!({"type": "batch", "batch_data": rows}))
        .await?;
    assert_eq!(next_answer(&mut client).await?["batch_size"], 200);
    drop(client);
    let server = server.restart_gracefully()?;
    let (mut client, welcome) = open_session(&server, "resumed", "").await?;
    assert_eq!(welcome["restored"], true, "{welcome}");
    assert_eq!(
        welcome["config"]["window_size"], 64,
        "its config came back too"
    );
    client.send(&json!({"type": "stats"})).await?;
    let stats = next_answer(&mut client).await?;
    assert_eq!(stats["stats"]["streaming"]["total_samples"], 200, "{stats}");
    assert_eq!(stats["stats"]["streaming"]["buffer_size"], 64);
    Ok(())
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_share_of_sessions() -> anyhow::Result<()> {
    let server = Server::start(&["--max-sessions-per-tenant", "2"])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let (_a, _) = open_session_at(&server, "/api/v1/hostile/sessions/a").await?;
    let (_b, _) = open_session_at(&server, "/api/v1/hostile/sessions/b").await?;
    let url = server.ws_url("/api/v1/hostile/sessions/c");
    let mut third = weft_tests::WsClient::connect(&url, None).await?;
    let refused = third.recv().await?;
    assert_eq!(refused["code"], "too_many_sessions", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("--max-sessions-per-tenant")
    );
    // Joining one it holds is not a new session.
    let (_again, welcome) = open_session_at(&server, "/api/v1/hostile/sessions/a").await?;
    assert_eq!(welcome["session_created"], false);
    Ok(())
}
