//! A hostile plugin fails only its own jobs: traps, endless loops and
//! memory bombs are stopped within the deadline while other jobs complete.

use std::time::{Duration, Instant};

use serde_json::json;
use weft_tests::{Server, test_plugin};

#[tokio::test]
async fn trap_loop_and_memory_bomb_fail_alone() -> anyhow::Result<()> {
    let server = Server::start(&[
        "--job-timeout-secs",
        "3",
        "--max-memory-mib",
        "64",
        "--workers",
        "4",
    ])?;
    let (status, loaded) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201, "{loaded}");

    let started = Instant::now();
    let (trap, spin, hog, good) = tokio::join!(
        server.run_job("hostile", "trap", json!({})),
        server.run_job("hostile", "spin", json!({})),
        server.run_job("hostile", "hog", json!({})),
        server.run_job(
            "graph",
            "pagerank",
            json!({ "edges": [[1, 2], [2, 3], [3, 1]] })
        ),
    );
    let (trap, spin, hog, good) = (trap?, spin?, hog?, good?);

    assert_eq!(trap["state"], "failed");
    assert_eq!(trap["error"]["code"], "plugin_trapped");
    assert!(
        trap["error"]["message"]
            .as_str()
            .expect("message")
            .contains("panics on purpose"),
        "the guest's panic message is surfaced: {}",
        trap["error"]["message"]
    );

    assert_eq!(spin["state"], "failed");
    assert_eq!(spin["error"]["code"], "timeout");

    assert_eq!(hog["state"], "failed");
    assert_eq!(hog["error"]["code"], "memory_limit");
    assert!(
        hog["error"]["message"]
            .as_str()
            .expect("message")
            .contains("64 MiB")
    );

    assert_eq!(good["state"], "succeeded");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "all stopped near the 3 s deadline"
    );

    // The server and the hostile plugin itself are still usable.
    let (status, _) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200);
    let echo = server
        .run_job("hostile", "echo", json!({ "still": "alive" }))
        .await?;
    assert_eq!(echo["result"]["still"], "alive");
    Ok(())
}

#[tokio::test]
async fn cancelling_a_runaway_job_stops_it_promptly() -> anyhow::Result<()> {
    let server = Server::start(&["--job-timeout-secs", "60"])?;
    server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    let (status, job) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "hostile", "op": "spin", "params": {} }),
        )
        .await?;
    assert_eq!(status, 202);
    let id = job["job_id"].as_str().expect("id").to_owned();
    // Wait until it is really running.
    for _ in 0..100 {
        let (_, job) = server.get(&format!("/api/v1/jobs/{id}")).await?;
        if job["state"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled_at = Instant::now();
    let (status, _) = server.delete(&format!("/api/v1/jobs/{id}")).await?;
    assert_eq!(status, 202);
    let mut state = String::new();
    while cancelled_at.elapsed() < Duration::from_secs(5) {
        let (_, job) = server.get(&format!("/api/v1/jobs/{id}")).await?;
        state = job["state"].as_str().unwrap_or_default().to_owned();
        if state == "cancelled" {
            assert_eq!(job["error"]["code"], "cancelled");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "cancelled");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "stopped within a few epoch ticks"
    );
    Ok(())
}

/// A streaming session is one long-lived instance: when it traps, spins or
/// hogs memory, that session ends with a clear error; other sessions, and
/// the server, carry on.
#[tokio::test]
async fn a_hostile_session_fails_alone() -> anyhow::Result<()> {
    use weft_tests::anomaly::{next_answer, open_session_at};

    let server = Server::start(&["--job-timeout-secs", "2", "--max-memory-mib", "64"])?;
    let (status, loaded) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201, "{loaded}");
    assert_eq!(loaded["world"], "weft:engine/streaming-plugin@0.2.0");
    let open_session = |id: String| {
        let server = &server;
        async move { open_session_at(server, &format!("/api/v1/hostile/sessions/{id}")).await }
    };

    let (mut healthy, _) = open_session("healthy".into()).await?;
    for (how, code) in [
        ("trap", "plugin_trapped"),
        ("spin", "timeout"),
        ("hog", "memory_limit"),
    ] {
        let (mut doomed, _) = open_session(format!("doomed-{how}")).await?;
        let started = Instant::now();
        doomed
            .send(&json!({"type": "sample", "data": [1.0], "algorithm": how, "request_id": how}))
            .await?;
        let failure = next_answer(&mut doomed).await?;
        assert_eq!(failure["type"], "error", "{failure}");
        assert_eq!(failure["code"], code, "{failure}");
        assert_eq!(failure["request_id"], how);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{how} took {:?}",
            started.elapsed()
        );
        // The instance is gone: the session says so and how to recover.
        doomed.send(&json!({"type": "stats"})).await?;
        let after = next_answer(&mut doomed).await?;
        assert_eq!(after["code"], "session_failed", "{after}");
        assert!(
            after["message"]
                .as_str()
                .unwrap_or("")
                .contains("open a new session")
        );

        healthy
            .send(&json!({"type": "sample", "data": [1.0]}))
            .await?;
        let fine = next_answer(&mut healthy).await?;
        assert_eq!(fine["type"], "result", "after {how}: {fine}");
    }
    let (status, _) = server.get("/api/v1/health").await?;
    assert_eq!(status, 200);
    // The failed sessions were freed at once, not at the idle timeout.
    let (_, listed) = server.get("/api/v1/streaming/sessions").await?;
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["session_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["healthy"], "{listed}");
    Ok(())
}

/// Cancelling a job still waiting for a worker answers at once (this used
/// to deadlock on the job's own lock).
#[tokio::test]
async fn cancelling_a_queued_job_answers_at_once() -> anyhow::Result<()> {
    let server = Server::start(&["--workers", "1", "--job-timeout-secs", "30"])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let spin = json!({ "engine": "hostile", "op": "spin", "params": {} });
    let (_, running) = server.post("/api/v1/jobs", &spin).await?;
    let (_, queued) = server.post("/api/v1/jobs", &spin).await?;
    let queued_id = queued["job_id"].as_str().expect("id");
    let started = Instant::now();
    let path = format!("/api/v1/jobs/{queued_id}");
    let cancel = server.delete(&path);
    let (status, cancelled) = tokio::time::timeout(Duration::from_secs(5), cancel).await??;
    assert_eq!(status, 202, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert!(started.elapsed() < Duration::from_secs(2));
    let running_id = running["job_id"].as_str().expect("id");
    let (status, _) = server.delete(&format!("/api/v1/jobs/{running_id}")).await?;
    assert_eq!(status, 202);
    Ok(())
}

/// The WASI a plugin gets grants no file and no network: a component that
/// imports `wasi:filesystem` and `wasi:sockets` (as CPython's do) loads,
/// and every file it reads, directory it lists, port it connects to (the
/// server's own) and name it looks up is refused.
#[tokio::test]
async fn a_plugin_reaching_for_files_or_the_network_finds_none() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, loaded) = server.load_plugin("escape", &test_plugin("escape")).await?;
    assert_eq!(status, 201, "{loaded}");
    let port: u64 = server
        .address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the server's port");
    let job = server
        .run_job("escape", "look", json!({"port": port}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    for reach in ["passwd", "relative", "root", "here", "connect", "lookup"] {
        let said = result[reach].as_str().unwrap_or_default();
        assert!(said.starts_with("refused"), "{reach}: {said} ({result})");
    }
    // The wall clock is granted, frozen at the instance's start.
    assert!(result["now"].as_u64() > Some(1_700_000_000), "{result}");
    Ok(())
}

/// A plugin that sleeps (a WASI clock wait, outside wasm where epochs
/// cannot reach) is stopped at its deadline all the same.
#[tokio::test]
async fn a_plugin_sleeping_past_its_deadline_is_stopped_at_it() -> anyhow::Result<()> {
    let server = Server::start(&["--job-timeout-secs", "2"])?;
    let (status, _) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201);
    let started = Instant::now();
    let job = server
        .run_job(
            "hostile",
            "flood",
            json!({"count": 3, "burst": 1, "pause_ms": 8000}),
        )
        .await?;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "timeout", "{job}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "slept {:?} past a 2 s deadline",
        started.elapsed()
    );
    Ok(())
}

/// A job's child instances (`weft:host/tasks`, what federated training
/// runs each client in) are sandboxed like jobs: a child that traps or
/// hogs memory fails alone and its parent hears why; children cannot
/// start children; a call asking for too many is refused; cancelling the
/// job stops its spinning children too.
#[tokio::test]
async fn child_instances_fail_alone_and_stop_with_their_job() -> anyhow::Result<()> {
    let server = Server::start(&["--job-timeout-secs", "60", "--max-memory-mib", "64"])?;
    let (status, loaded) = server
        .load_plugin("hostile", &test_plugin("hostile"))
        .await?;
    assert_eq!(status, 201, "{loaded}");
    let children = |op: &str, count: u64| json!({ "op": op, "count": count, "params": { "op": "echo", "count": 1, "params": {"n": 7} } });

    let echo = server
        .run_job("hostile", "children", children("echo", 3))
        .await?;
    assert_eq!(echo["state"], "succeeded", "{echo}");
    let results = echo["result"]["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert!(
        results.iter().all(|r| r["ok"]["op"] == "echo"),
        "{results:?}"
    );

    let trap = server
        .run_job("hostile", "children", children("trap", 2))
        .await?;
    assert_eq!(
        trap["state"], "succeeded",
        "the parent outlives its children: {trap}"
    );
    for r in trap["result"]["results"].as_array().expect("results") {
        assert_eq!(r["code"], "plugin_trapped", "{r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.contains("panics on purpose"))
        );
    }
    let hog = server
        .run_job("hostile", "children", children("hog", 1))
        .await?;
    assert_eq!(hog["result"]["results"][0]["code"], "memory_limit", "{hog}");

    // A child asking for children of its own is refused (and says so).
    let nested = server
        .run_job("hostile", "children", children("children", 1))
        .await?;
    let refusal = nested["result"]["results"][0]["ok"]["refused"]
        .as_str()
        .unwrap_or_default();
    assert!(refusal.contains("not a child"), "{nested}");
    let many = server
        .run_job("hostile", "children", children("echo", 65))
        .await?;
    let refusal = many["result"]["refused"].as_str().unwrap_or_default();
    assert!(refusal.contains("at most 64"), "{many}");
    let unknown = server
        .run_job("hostile", "children", children("nope", 1))
        .await?;
    assert!(
        unknown["result"]["refused"]
            .as_str()
            .is_some_and(|r| r.contains("'nope'")),
        "{unknown}"
    );

    // Cancelling the job interrupts its spinning children.
    let (status, job) = server
        .post(
            "/api/v1/jobs",
            &json!({ "engine": "hostile", "op": "children", "params": children("spin", 2) }),
        )
        .await?;
    assert_eq!(status, 202);
    let id = job["job_id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancelled_at = Instant::now();
    let (status, _) = server.delete(&format!("/api/v1/jobs/{id}")).await?;
    assert_eq!(status, 202);
    let mut state = String::new();
    while cancelled_at.elapsed() < Duration::from_secs(10) {
        let (_, job) = server.get(&format!("/api/v1/jobs/{id}")).await?;
        state = job["state"].as_str().unwrap_or_default().to_owned();
        if state == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "cancelled");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(3),
        "children stopped within a few ticks"
    );
    // Their pool slots came back: the plugin still runs jobs.
    let echo = server
        .run_job("hostile", "children", children("echo", 4))
        .await?;
    assert_eq!(echo["state"], "succeeded", "{echo}");
    Ok(())
}
