//! Plugins and jobs over REST.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::{Server, test_plugin};

#[tokio::test]
async fn health_reports_version_and_plugin_count() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, health) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["plugins"],
        weft_tests::shipped_plugins(),
        "every engine in target/plugins"
    );
    assert!(health["version"].is_string());
    Ok(())
}

#[tokio::test]
async fn plugins_list_their_operations_with_schemas() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, plugins) = server.get("/api/v1/plugins").await?;
    assert_eq!(status, 200);
    // Sorted by name; anomaly also keeps sessions.
    assert_eq!(plugins[0]["name"], "analytics");
    assert_eq!(plugins[1]["name"], "anomaly");
    assert_eq!(plugins[1]["world"], "weft:engine/streaming-plugin@0.2.0");
    let graph = plugins
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "graph"))
        .expect("graph is listed");
    assert_eq!(graph["world"], "weft:engine/plugin@0.2.0");
    let ops: Vec<&str> = graph["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for expected in [
        "pagerank",
        "bfs",
        "dfs",
        "connected_components",
        "shortest_path",
        "louvain",
    ] {
        assert!(ops.contains(&expected), "{expected} missing from {ops:?}");
    }
    let pagerank = &graph["operations"][0];
    assert_eq!(pagerank["params_schema"]["type"], "object");
    assert_eq!(pagerank["topic"], "graph.algorithms");
    assert!(
        pagerank["emits"]
            .as_array()
            .expect("emits")
            .contains(&json!("progress"))
    );
    Ok(())
}

#[tokio::test]
async fn a_submitted_job_runs_and_its_result_is_kept() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let body = json!({ "engine": "graph", "op": "connected_components",
                       "params": { "edges": [[1, 2], [3, 4], [4, 5]] } });
    let (status, queued) = server.post("/api/v1/jobs", &body).await?;
    assert_eq!(status, 202);
    let id = queued["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(queued["topic"], format!("jobs.{id}"));

    let mut job = queued;
    for _ in 0..100 {
        let (status, current) = server.get(&format!("/api/v1/jobs/{id}")).await?;
        assert_eq!(status, 200);
        job = current;
        if job["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["result"]["count"], 2);
    assert_eq!(job["result"]["components"][0], json!(["3", "4", "5"]));
    assert!(job["finished_at"].is_string() && job["created_at"].is_string());

    let (_, listed) = server.get("/api/v1/jobs?state=succeeded").await?;
    assert!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .any(|j| j["job_id"] == id.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn cancelling_a_finished_job_is_a_conflict_and_unknown_jobs_are_404() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let job = server
        .run_job("graph", "bfs", json!({ "edges": [[1, 2]], "source": 1 }))
        .await?;
    let id = job["job_id"].as_str().expect("id");
    let (status, error) = server.delete(&format!("/api/v1/jobs/{id}")).await?;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "conflict");
    let (status, error) = server.get("/api/v1/jobs/no-such-job").await?;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "not_found");
    Ok(())
}

#[tokio::test]
async fn hot_loading_replaces_and_unloading_removes_a_plugin() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, loaded) = server.load_plugin("probe", &test_plugin("hostile")).await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["name"], "probe");
    let echoed = server
        .run_job("probe", "echo", json!({ "hello": "world" }))
        .await?;
    assert_eq!(echoed["result"], json!({ "hello": "world" }));

    // Loading again under the same name swaps it in place.
    let (status, _) = server.load_plugin("probe", &test_plugin("hostile")).await?;
    assert_eq!(status, 201);
    let (_, health) = server.get("/api/v1/health").await?;
    assert_eq!(health["plugins"], weft_tests::shipped_plugins() + 1);

    let (status, _) = server.delete("/api/v1/plugins/probe").await?;
    assert_eq!(status, 200);
    let body = json!({ "engine": "probe", "op": "echo", "params": {} });
    let (status, error) = server.post("/api/v1/jobs", &body).await?;
    assert_eq!(status, 404);
    assert!(
        error["error"]["message"]
            .as_str()
            .expect("message")
            .contains("not loaded")
    );
    Ok(())
}

#[tokio::test]
async fn metrics_count_jobs_events_and_connections() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut client = weft_tests::WsClient::connect(&server.ws_url("/api/v1/ws"), None)
        .await?
        .validating("ws");
    client.recv().await?;
    server
        .run_job(
            "graph",
            "connected_components",
            json!({ "edges": [[1, 2]] }),
        )
        .await?;
    let text = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = |line_start: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(value("weft_jobs{state=\"succeeded\"}"), Some(1.0), "{text}");
    assert_eq!(value("weft_ws_connections "), Some(1.0));
    // queued, running, succeeded and one progress report on jobs.<id>.
    assert_eq!(
        value("weft_family_events_published_total{family=\"jobs\"}"),
        Some(4.0),
        "{text}"
    );
    assert!(value("weft_family_events_published_total{family=\"graph\"}") >= Some(4.0));
    assert!(text.contains("# TYPE weft_events_published_total counter"));
    Ok(())
}

/// Lists leave results out unless asked (`?include=result`) and page with
/// a cursor (`x-next-before`, then `?before=`).
#[tokio::test]
async fn job_lists_leave_results_out_and_page_with_a_cursor() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut ids = Vec::new();
    for source in 1..=3 {
        let job = server
            .run_job(
                "graph",
                "bfs",
                json!({ "edges": [[1, 2], [2, 3]], "source": source }),
            )
            .await?;
        ids.push(job["job_id"].as_str().unwrap_or_default().to_owned());
    }
    let (_, listed) = server.get("/api/v1/jobs").await?;
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|j| j["result"].is_null()), "{listed:?}");
    let (_, with) = server.get("/api/v1/jobs?include=result").await?;
    assert!(with[0]["result"]["depths"].is_object(), "{with}");

    let first = reqwest::get(server.url("/api/v1/jobs?limit=2")).await?;
    let cursor = first
        .headers()
        .get("x-next-before")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let page: Value = first.json().await?;
    let page_ids: Vec<&str> = page
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    // Newest first.
    assert_eq!(page_ids, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(cursor, ids[1]);
    let (_, rest) = server
        .get(&format!("/api/v1/jobs?limit=2&before={cursor}"))
        .await?;
    let rest_ids: Vec<&str> = rest
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    assert_eq!(rest_ids, [ids[0].as_str()]);
    let (status, bad) = server.get("/api/v1/jobs?include=everything").await?;
    assert_eq!(status, 400, "{bad}");
    Ok(())
}
