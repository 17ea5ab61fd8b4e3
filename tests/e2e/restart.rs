//! What survives a restart: compiled components (no recompile) and job
//! records.

use serde_json::json;
use weft_tests::Server;

#[tokio::test]
async fn a_restart_reuses_compiled_components_and_keeps_jobs() -> anyhow::Result<()> {
    let server = Server::start_with_own_cache(&[])?;
    let (_, plugins) = server.get("/api/v1/plugins").await?;
    assert_eq!(plugins[0]["cache"], "compiled", "first start compiles");
    let job = server
        .run_job(
            "graph",
            "connected_components",
            json!({ "edges": [[1, 2]] }),
        )
        .await?;
    let id = job["job_id"].as_str().expect("id").to_owned();

    let server = server.restart()?;
    let (_, plugins) = server.get("/api/v1/plugins").await?;
    assert_eq!(
        plugins[0]["cache"], "hit",
        "second start loads the cached artifact"
    );
    let (status, kept) = server.get(&format!("/api/v1/jobs/{id}")).await?;
    assert_eq!(status, 200);
    assert_eq!(kept["state"], "succeeded");
    assert_eq!(kept["result"], job["result"]);
    Ok(())
}

/// SIGTERM gives unfinished jobs `--shutdown-grace-secs`, then cancels them
/// and records why, instead of holding the process until their deadline.
#[tokio::test]
async fn shutdown_cancels_jobs_still_running_after_the_grace_period() -> anyhow::Result<()> {
    let server = Server::start(&["--shutdown-grace-secs", "1", "--job-timeout-secs", "120"])?;
    let (status, _) = server
        .load_plugin("hostile", &weft_tests::test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let (status, job) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "hostile", "op": "spin", "params": {} }),
        )
        .await?;
    assert_eq!(status, 202, "{job}");
    let id = job["job_id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..100 {
        let (_, job) = server.get(&format!("/api/v1/jobs/{id}")).await?;
        if job["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stopping = std::time::Instant::now();
    let server = server.restart_gracefully()?;
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(15),
        "shutdown took {:?} with a 1 s grace",
        stopping.elapsed()
    );
    let (_, job) = server.get(&format!("/api/v1/jobs/{id}")).await?;
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("shutdown"),
        "says why: {job}"
    );
    assert!(job["started_at"].is_string(), "started_at kept: {job}");
    Ok(())
}
