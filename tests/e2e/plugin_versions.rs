//! Plugin versions side by side (issue #20): while a client watches a
//! running job of version 1, version 2 is uploaded beside it, a job pinned
//! to it runs on it, it is activated and then rolled back — no job fails,
//! no event is lost or repeated, each job's events name the version that
//! ran it, and `plugins.lifecycle` shows each step in order.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_plugin};

async fn which(server: &Server, version: Option<&str>) -> anyhow::Result<Value> {
    let mut body = json!({"engine": "versioned", "op": "which", "params": {}});
    if let Some(v) = version {
        body["version"] = json!(v);
    }
    let (status, job) = server.post("/api/v1/jobs?wait=true", &body).await?;
    anyhow::ensure!(status == 200, "{status} {job}");
    Ok(job["result"]["version"].clone())
}

#[tokio::test]
async fn versions_switch_under_a_running_job_without_losing_it() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws"), None).await?;
    assert_eq!(ws.recv().await?["type"], "welcome");
    ws.send(&json!({"type": "subscribe", "id": "s", "topics": ["plugins.lifecycle", "versioned.ticks"]}))
        .await?;
    assert_eq!(ws.recv().await?["type"], "subscribed");

    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "l",
        "subscription { events(topics: [\"plugins.lifecycle\"]) { topic kind data } }",
    )
    .await?;

    let (status, one) = server
        .load_plugin("versioned", &test_plugin("versioned"))
        .await?;
    assert_eq!(status, 201, "{one}");
    assert_eq!(one["version"], "1.0.0");
    // A slow job on version 1: 30 ticks, 40 ms apart.
    let (status, slow) = server
        .post(
            "/api/v1/jobs",
            &json!({"engine": "versioned", "op": "slow", "params": {"ticks": 30, "every_ms": 40}}),
        )
        .await?;
    assert_eq!(status, 202, "{slow}");
    let slow_id = slow["job_id"].as_str().context("job id")?.to_owned();

    // Version 2 beside it, not active: pinned jobs reach it, others do not.
    let wasm = std::fs::read(test_plugin("versioned2"))?;
    let (status, two) = server
        .post_raw(
            "/api/v1/plugins?name=versioned&activate=false",
            "application/wasm",
            wasm,
        )
        .await?;
    assert_eq!(status, 201, "{two}");
    assert_eq!(two["version"], "2.0.0");
    let (_, versions) = server.get("/api/v1/plugins/versioned/versions").await?;
    let listed: Vec<(Value, Value)> = versions
        .as_array()
        .context("versions")?
        .iter()
        .map(|v| (v["version"].clone(), v["active"].clone()))
        .collect();
    assert_eq!(
        listed,
        [
            (json!("1.0.0"), json!(true)),
            (json!("2.0.0"), json!(false))
        ]
    );
    assert_eq!(which(&server, None).await?, "1.0.0");
    assert_eq!(which(&server, Some("2.0.0")).await?, "2.0.0");

    // Activate 2, then roll back to 1: each one call, at once.
    let (status, active) = server
        .post(
            "/api/v1/plugins/versioned/versions/2.0.0/activate",
            &json!({}),
        )
        .await?;
    assert_eq!(status, 200, "{active}");
    assert_eq!(which(&server, None).await?, "2.0.0");
    let (status, back) = server
        .post("/api/v1/plugins/versioned/rollback", &json!({}))
        .await?;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["version"], "1.0.0");
    assert_eq!(which(&server, None).await?, "1.0.0");
    let (status, nothing) = server
        .post("/api/v1/plugins/versioned/rollback", &json!({}))
        .await?;
    assert_eq!(status, 409, "nothing earlier to go back to: {nothing}");
    let (status, unknown) = server
        .post(
            "/api/v1/plugins/versioned/versions/9.9.9/activate",
            &json!({}),
        )
        .await?;
    assert_eq!(status, 404, "{unknown}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1.0.0, 2.0.0"),
        "{unknown}"
    );

    // The slow job finished on the version it started on, every tick once.
    let mut done = Value::Null;
    for _ in 0..300 {
        let (_, job) = server.get(&format!("/api/v1/jobs/{slow_id}")).await?;
        if matches!(
            job["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            done = job;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["version"], "1.0.0");
    assert_eq!(done["engine_version"], "1.0.0");
    let mut ticks = Vec::new();
    let mut lifecycle = Vec::new();
    while ticks.len() < 30 || lifecycle.len() < 7 {
        let m = ws.recv().await?;
        match m["topic"].as_str() {
            Some("versioned.ticks") if m["kind"] == "tick" => {
                assert_eq!(m["data"]["version"], "1.0.0", "{m}");
                assert_eq!(m["source"]["version"], "1.0.0", "{m}");
                ticks.push(m["data"]["n"].as_u64().context("n")?);
            }
            Some("plugins.lifecycle") => {
                lifecycle.push((m["kind"].clone(), m["data"]["version"].clone()))
            }
            _ => {}
        }
    }
    assert_eq!(
        ticks,
        (0..30).collect::<Vec<u64>>(),
        "every tick once, in order"
    );
    let expected: Vec<(Value, Value)> = [
        ("uploaded", "1.0.0"),
        ("validated", "1.0.0"),
        ("activated", "1.0.0"),
        ("uploaded", "2.0.0"),
        ("validated", "2.0.0"),
        ("activated", "2.0.0"),
        ("rolled_back", "1.0.0"),
    ]
    .iter()
    .map(|(k, v)| (json!(k), json!(v)))
    .collect();
    assert_eq!(lifecycle, expected);

    let first = gql.recv().await?;
    let first = &first["payload"]["data"]["events"];
    assert_eq!(
        (first["topic"].as_str(), first["kind"].as_str()),
        (Some("plugins.lifecycle"), Some("uploaded")),
        "{first}"
    );

    // A component that does not validate is refused, and says so.
    let (status, refused) = server
        .post_raw(
            "/api/v1/plugins?name=versioned&activate=false",
            "application/wasm",
            b"\0asm junk".to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{refused}");
    let failed = ws.recv_until(|m| m["kind"] == "validation_failed").await?;
    let failed = failed.last().context("validation_failed")?;
    assert!(
        failed["data"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not a loadable"),
        "{failed}"
    );
    assert_eq!(
        which(&server, None).await?,
        "1.0.0",
        "the active version is untouched"
    );
    Ok(())
}

/// `--plugins-watch DIR` loads a plugin copied into DIR, and a newer build
/// copied over it, as uploads would: the earlier version is kept.
#[tokio::test]
async fn a_watched_directory_loads_new_and_changed_plugins() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let watched = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--plugins-watch", &watched])?;
    async fn active(server: &Server) -> anyhow::Result<Option<Value>> {
        let (status, plugin) = server.get("/api/v1/plugins/versioned").await?;
        Ok((status == 200).then(|| plugin["version"].clone()))
    }
    async fn until(mut check: impl AsyncFnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
        for _ in 0..100 {
            if check().await? {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("the watched plugin did not load within 10 s")
    }
    assert_eq!(active(&server).await?, None);
    std::fs::copy(test_plugin("versioned"), dir.path().join("versioned.wasm"))?;
    until(async || Ok(active(&server).await? == Some(json!("1.0.0")))).await?;
    // A newer build written over it: loaded, the first kept beside it.
    std::fs::copy(test_plugin("versioned2"), dir.path().join("versioned.wasm"))?;
    until(async || Ok(active(&server).await? == Some(json!("2.0.0")))).await?;
    let (_, versions) = server.get("/api/v1/plugins/versioned/versions").await?;
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    // A file that is not a component is refused; the active one stays.
    std::fs::write(dir.path().join("broken.wasm"), b"not wasm")?;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, _) = server.get("/api/v1/plugins/broken").await?;
    assert_eq!(status, 404);
    assert_eq!(active(&server).await?, Some(json!("2.0.0")));
    Ok(())
}
