//! What survives a restart: compiled components (no recompile) and job
//! records.

use serde_json::json;
use weft_tests::Server;

#[tokio::test]
async fn a_restart_reuses_compiled_components_and_keeps_jobs() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
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
