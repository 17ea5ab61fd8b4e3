//! The anomaly streaming protocol of seed 004 on the real `anomaly.wasm`:
//! detection quality against river and scikit-learn, every message type,
//! shared sessions, reconnects, drift alerts and backpressure.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::anomaly::{LabelledStream, detector_aucs, next_answer, open_session, read_stream};
use weft_tests::{Server, WsClient};

async fn open(server: &Server, session: &str, query: &str) -> anyhow::Result<(WsClient, Value)> {
    open_session(server, session, query).await
}

async fn answer(client: &mut WsClient) -> anyhow::Result<Value> {
    next_answer(client).await
}

fn benchmark_stream() -> anyhow::Result<LabelledStream> {
    read_stream(&weft_tests::test_data("anomaly/stream.csv"))
}

#[tokio::test]
async fn detectors_are_as_good_as_river_and_scikit_learn() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let stream = benchmark_stream()?;
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(weft_tests::test_data(
        "anomaly/reference.json",
    ))?)?;
    let start = reference["eval_start"].as_u64().context("eval_start")? as usize;
    let river = reference["roc_auc"]["river_half_space_trees"]
        .as_f64()
        .context("river")?;
    let sklearn = reference["roc_auc"]["sklearn_isolation_forest"]
        .as_f64()
        .context("sklearn")?;
    let ours: HashMap<&str, f64> = detector_aucs(&server, &stream, start)
        .await?
        .into_iter()
        .collect();
    eprintln!("Weft ROC-AUC: {ours:?}");
    let best_reference = river.max(sklearn);
    let best = ours.values().copied().fold(0.0, f64::max);
    eprintln!("river HST {river:.4}, scikit-learn IsolationForest {sklearn:.4}");
    assert!(
        best >= best_reference - 0.02,
        "best Weft detector {best:.4} is more than 0.02 below the best reference {best_reference:.4}"
    );
    // Our Half-Space Trees must hold their own against river's.
    assert!(
        ours["half_space_trees"] >= river - 0.02,
        "{ours:?} vs river {river}"
    );
    Ok(())
}

#[tokio::test]
async fn every_message_type_is_answered() -> anyhow::Result<()> {
    let server = Server::start(&["--session-stats-secs", "1"])?;
    let (mut client, welcome) = open(
        &server,
        "types",
        "?algorithm=robust_zscore&warmup=32&client_id=alice",
    )
    .await?;
    assert_eq!(welcome["session_created"], true);
    assert_eq!(welcome["client_id"], "alice");
    assert_eq!(welcome["message_types"].as_array().map(Vec::len), Some(9));

    // Warm-up is explicit.
    client.send(&json!({"type": "sample", "data": [1.0, 2.0], "request_id": "s0", "timestamp": "2025-07-23T10:30:00Z"})).await?;
    let first = answer(&mut client).await?;
    assert_eq!(first["type"], "result");
    assert_eq!(first["request_id"], "s0");
    assert_eq!(first["status"], "warming_up");
    assert_eq!(first["model_fitted"], false);
    assert_eq!(first["is_anomaly"], false);

    for topic in ["anomalies", "alerts", "stats"] {
        client
            .send(&json!({"type": "subscribe", "config": {"topic": topic}, "request_id": topic}))
            .await?;
        let reply = answer(&mut client).await?;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        assert_eq!(reply["topic"], topic);
    }
    let rows: Vec<Value> = (0..200)
        .map(|i| json!([f64::from(i % 10) * 0.1, 2.0 + f64::from(i % 7) * 0.1]))
        .collect();
    client
        .send(&json!({"type": "batch", "batch_data": rows, "request_id": "b1"}))
        .await?;
    let batch = answer(&mut client).await?;
    assert_eq!(batch["type"], "batch_result");
    assert_eq!(batch["batch_size"], 200);
    assert_eq!(batch["algorithm"], "robust_zscore");
    assert!(batch["metadata"]["processing_time_ms"].is_number());

    client.send(&json!({"type": "sample", "data": [50.0, 2.0], "sample_id": "spike", "request_id": "s1"})).await?;
    let seen = client.recv_until(|m| m["type"] == "result").await?;
    let result = seen.last().context("result")?;
    assert_eq!(result["is_anomaly"], true, "{result}");
    assert_eq!(result["sample_id"], "spike");
    assert!(result["confidence_score"].as_f64().context("confidence")? > 0.99);
    assert!(result["metadata"]["processing_time_ms"].is_number());
    // The flagged row is broadcast on the anomalies topic (before or after the answer).
    if !seen.iter().any(|m| m["type"] == "anomaly") {
        let broadcast = client.recv_until(|m| m["type"] == "anomaly").await?;
        assert_eq!(broadcast.last().context("anomaly")?["sample_id"], "spike");
    }

    client
        .send(&json!({"type": "stats", "request_id": "st"}))
        .await?;
    let stats = answer(&mut client).await?;
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["stats"]["streaming"]["total_samples"], 202);
    assert_eq!(stats["stats"]["streaming"]["model_fitted"], true);
    assert_eq!(stats["stats"]["connections"]["active_connections"], 1);
    // …and broadcast every second to `stats` subscribers.
    let broadcast = client
        .recv_until(|m| m["type"] == "stats" && m["topic"] == "stats")
        .await?;
    assert!(broadcast.last().context("stats")?["stats"]["streaming"]["total_samples"].is_number());

    client
        .send(&json!({"type": "drift", "window_size": 500, "request_id": "d0"}))
        .await?;
    let refused = answer(&mut client).await?;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "invalid_request");
    client
        .send(&json!({"type": "drift", "config": {"window_size": 50}, "request_id": "d1"}))
        .await?;
    let drift = answer(&mut client).await?;
    assert_eq!(drift["type"], "drift", "{drift}");
    assert_eq!(
        drift["window_sizes"],
        json!({"reference": 50, "current": 50})
    );
    assert!(drift["p_value"].is_number() && drift["statistic"].is_number());

    client.send(&json!({"type": "config", "config": {"algorithm": "half_space_trees", "contamination": 0.05}, "request_id": "c1"})).await?;
    let config = answer(&mut client).await?;
    assert_eq!(config["type"], "config", "{config}");
    assert_eq!(config["config"]["algorithm"], "half_space_trees");
    client
        .send(&json!({"type": "config", "config": {"algorithm": "lof"}, "request_id": "c2"}))
        .await?;
    let bad = answer(&mut client).await?;
    assert_eq!(bad["code"], "invalid_request");
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or("")
            .contains("isolation_forest"),
        "{bad}"
    );

    client.send(&json!({"type": "alert", "data": {"title": "disk", "message": "almost full", "severity": "warning"}, "request_id": "a1"})).await?;
    // The ack and the broadcast travel separate paths: either may be first.
    let (mut ack, mut broadcast) = (None, None);
    while ack.is_none() || broadcast.is_none() {
        let message = client.recv().await?;
        if message["type"] == "ack" && message["request_id"] == "a1" {
            ack = Some(message);
        } else if message["type"] == "alert" && message["title"] == "disk" {
            broadcast = Some(message);
        }
    }
    assert_eq!(ack.context("ack")?["for"], "alert");
    assert_eq!(broadcast.context("alert")?["client_id"], "alice");

    client
        .send(&json!({"type": "ping", "request_id": "p"}))
        .await?;
    assert_eq!(answer(&mut client).await?["type"], "pong");
    client
        .send(&json!({"type": "unsubscribe", "config": {"topic": "stats"}}))
        .await?;
    assert_eq!(answer(&mut client).await?["type"], "unsubscribed");

    // Bad input: each gets a clear error and the session carries on.
    for (bad, code) in [
        (json!({"type": "teleport"}), "unknown_type"),
        (json!({"type": "sample", "data": "nope"}), "invalid_request"),
        (
            json!({"type": "sample", "data": [1.0, 2.0, 3.0]}),
            "invalid_request",
        ),
        (
            json!({"type": "batch", "batch_data": [[1.0, 2.0], [1.0]]}),
            "invalid_request",
        ),
        (
            json!({"type": "subscribe", "config": {"topic": "everything"}}),
            "invalid_request",
        ),
    ] {
        client.send(&bad).await?;
        let reply = answer(&mut client).await?;
        assert_eq!(reply["type"], "error", "{bad} -> {reply}");
        assert_eq!(reply["code"], code, "{bad} -> {reply}");
    }
    client.send_text("{not json").await?;
    assert_eq!(answer(&mut client).await?["code"], "bad_request");
    client.send(&json!({"type": "ping"})).await?;
    assert_eq!(answer(&mut client).await?["type"], "pong");
    Ok(())
}

#[tokio::test]
async fn sessions_are_shared_survive_reconnects_and_expire() -> anyhow::Result<()> {
    let server = Server::start(&["--session-idle-secs", "2"])?;
    let (mut alice, welcome) = open(&server, "shared", "?warmup=64").await?;
    assert_eq!(welcome["session_created"], true);
    let rows: Vec<Value> = (0..300)
        .map(|i| json!([f64::from(i).sin(), f64::from(i).cos()]))
        .collect();
    alice
        .send(&json!({"type": "batch", "batch_data": rows}))
        .await?;
    assert_eq!(answer(&mut alice).await?["batch_size"], 300);

    let (mut bob, joined) = open(&server, "shared", "").await?;
    assert_eq!(joined["session_created"], false);
    assert_eq!(joined["clients"], 2);
    bob.send(&json!({"type": "stats"})).await?;
    let stats = answer(&mut bob).await?;
    assert_eq!(stats["stats"]["streaming"]["total_samples"], 300);
    assert_eq!(stats["stats"]["streaming"]["config"]["warmup"], 64);
    assert!(joined.get("notice").is_none(), "{joined}");

    // A rejoin asking for other parameters keeps the session's, and says so.
    let (carol, told) = open(&server, "shared", "?warmup=64&algorithm=robust_zscore").await?;
    assert_eq!(told["session_created"], false);
    assert_eq!(
        told["ignored_config"],
        json!({"algorithm": "robust_zscore"}),
        "{told}"
    );
    assert_eq!(told["config"]["warmup"], 64, "{told}");
    let notice = told["notice"].as_str().unwrap_or_default();
    assert!(
        notice.contains("algorithm") && notice.contains("DELETE /api/v1/streaming/sessions/shared"),
        "{told}"
    );
    carol.close().await;

    // Alice drops and comes back: same session, same model.
    alice.close().await;
    bob.close().await;
    let (mut again, rejoined) = open(&server, "shared", "").await?;
    assert_eq!(rejoined["session_created"], false);
    again.send(&json!({"type": "stats"})).await?;
    assert_eq!(
        answer(&mut again).await?["stats"]["streaming"]["total_samples"],
        300
    );

    let (status, listed) = server.get("/api/v1/streaming/sessions").await?;
    assert_eq!(status, 200);
    assert_eq!(listed["sessions"][0]["session_id"], "shared");
    assert_eq!(listed["sessions"][0]["total_samples"], 300);
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    for line in [
        "weft_streaming_sessions 1",
        "weft_streaming_clients 1",
        "weft_streaming_samples 300",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no '{line}' in /metrics"
        );
    }
    again.close().await;

    // With no clients for the idle timeout, the session is closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = server.get("/api/v1/streaming/sessions/shared").await?;
        if status == 404 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "session never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, reopened) = open(&server, "shared", "").await?;
    assert_eq!(reopened["session_created"], true);

    // Operators can close a session.
    let (status, closed) = server.delete("/api/v1/streaming/sessions/shared").await?;
    assert_eq!(status, 200, "{closed}");
    let (status, _) = server.delete("/api/v1/streaming/sessions/shared").await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn a_distribution_shift_raises_a_drift_alert_soon_after_it_happens() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (mut watcher, _) = open(&server, "drifting", "?algorithm=robust_zscore").await?;
    watcher
        .send(&json!({"type": "subscribe", "config": {"topic": "alerts"}}))
        .await?;
    assert_eq!(answer(&mut watcher).await?["type"], "subscribed");
    let (mut feeder, _) = open(&server, "drifting", "").await?;
    // A seeded stream whose mean moves from 0 to 1 (σ = 0.5) at row 2,000.
    let mut state: u64 = 7;
    let mut noise = move || {
        // Sum of 12 uniforms − 6: a cheap standard normal.
        (0..12)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .sum::<f64>()
            - 6.0
    };
    const SHIFT: u64 = 2000;
    for batch in 0..6 {
        let rows: Vec<Value> = (0..500)
            .map(|i| {
                let t = batch * 500 + i;
                json!([if t >= SHIFT { 1.0 } else { 0.0 } + 0.5 * noise()])
            })
            .collect();
        feeder
            .send(&json!({"type": "batch", "batch_data": rows}))
            .await?;
        assert_eq!(answer(&mut feeder).await?["type"], "batch_result");
    }
    let alerts = watcher.recv_until(|m| m["type"] == "alert").await?;
    let alert = alerts.last().context("alert")?;
    let at = alert["detail"]["at_sample"].as_u64().context("at_sample")?;
    eprintln!("drift alert at row {at} (shift at {SHIFT})");
    assert!(
        (SHIFT..SHIFT + 200).contains(&at),
        "alert at row {at}: {alert}"
    );
    assert!(alert["detail"]["current_mean"].as_f64().context("mean")? > 0.5);

    feeder
        .send(&json!({"type": "drift", "config": {"window_size": 400}}))
        .await?;
    let report = answer(&mut feeder).await?;
    assert_eq!(report["drift_detected"], true, "{report}");
    assert!(report["p_value"].as_f64().context("p")? < 1e-6);
    Ok(())
}

#[tokio::test]
async fn a_client_that_sends_too_fast_is_told_to_slow_down_and_loses_nothing() -> anyhow::Result<()>
{
    let server = Server::start(&["--session-queue", "4"])?;
    let (mut client, _) = open(&server, "flood", "?algorithm=isolation_forest").await?;
    const SENT: usize = 2000;
    for i in 0..SENT {
        client
            .send(&json!({"type": "sample", "data": [i as f64, 1.0], "request_id": i.to_string()}))
            .await?;
    }
    let mut answered = std::collections::HashSet::new();
    let mut pushed_back = 0;
    while answered.len() < SENT {
        let message = client.recv().await?;
        let id: usize = message["request_id"]
            .as_str()
            .context("request_id")?
            .parse()?;
        match message["type"].as_str() {
            Some("result") => {}
            Some("error") if message["code"] == "backpressure" => pushed_back += 1,
            other => anyhow::bail!("unexpected {other:?}: {message}"),
        }
        assert!(answered.insert(id), "request {id} answered twice");
    }
    eprintln!("{pushed_back} of {SENT} samples were refused with backpressure");
    assert!(pushed_back > 0, "a queue of 4 never filled");
    let (_, session) = server.get("/api/v1/streaming/sessions/flood").await?;
    assert_eq!(session["rejected_for_backpressure"], pushed_back);
    assert_eq!(
        session["total_samples"].as_u64(),
        Some((SENT - pushed_back) as u64)
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_engine_bad_ids_and_bad_configs_get_clear_errors() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let (status, error) = server.get("/api/v1/streaming/enhanced/bad%20id").await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "invalid_session_id");

    let url = server.ws_url("/api/v1/streaming/enhanced/cfg?window_size=3");
    let mut client = WsClient::connect(&url, None).await?.validating("streaming");
    let refused = client.recv().await?;
    assert_eq!(refused["code"], "invalid_config", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("window_size"),
        "{refused}"
    );
    assert!(
        client.recv().await.is_err(),
        "the socket is closed after the error"
    );

    let (status, _) = server.delete("/api/v1/plugins/anomaly").await?;
    assert_eq!(status, 200);
    let (_, health) = server.get("/api/v1/streaming/health").await?;
    assert_eq!(health["status"], "engine_not_loaded");
    let url = server.ws_url("/api/v1/streaming/enhanced/nobody");
    let mut client = WsClient::connect(&url, None).await?.validating("streaming");
    let refused = client.recv().await?;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "engine_not_loaded");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("POST /api/v1/plugins")
    );
    Ok(())
}

#[tokio::test]
async fn score_dataset_runs_as_a_job_with_progress() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let stream = benchmark_stream()?;
    let job = server
        .run_job(
            "anomaly",
            "score_dataset",
            json!({"rows": stream.rows, "labels": stream.labels, "include_scores": false}),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(result["rows"], 6000);
    assert_eq!(result["algorithm"], "isolation_forest");
    assert!(result["roc_auc"].as_f64().context("auc")? > 0.9, "{result}");
    assert_eq!(job["progress"]["done"], 6000);
    let (status, events) = server
        .get(&format!(
            "/api/v1/events?topics=jobs.{}",
            job["job_id"].as_str().context("job_id")?
        ))
        .await?;
    assert_eq!(status, 200);
    let progress = events["events"]
        .as_array()
        .context("events")?
        .iter()
        .filter(|e| e["kind"] == "progress")
        .count();
    assert_eq!(progress, 6, "one progress event per 1,000 rows");

    // The same stream uploaded once and named: the plugin reads it through
    // weft:host/storage as typed columns and must score it identically.
    let csv = std::fs::read(weft_tests::test_data("anomaly/stream.csv"))?;
    let (status, info) = server
        .post_raw("/api/v1/datasets/stream", "text/csv", csv)
        .await?;
    assert_eq!(status, 201, "{info}");
    let stored = server
        .run_job(
            "anomaly",
            "score_dataset",
            json!({"dataset": "stream", "columns": ["x0", "x1", "x2"], "label_column": "label"}),
        )
        .await?;
    assert_eq!(stored["state"], "succeeded", "{stored}");
    assert_eq!(stored["result"]["rows"], 6000);
    assert_eq!(
        stored["result"]["roc_auc"], result["roc_auc"],
        "stored vs inline rows"
    );
    assert_eq!(stored["result"]["anomalies"], result["anomalies"]);

    // Naming a dataset or column that is not there is the caller's error.
    let (status, job) = server
        .post(
            "/api/v1/jobs?wait=true",
            &json!({"engine": "anomaly", "op": "score_dataset", "params": {"dataset": "stream", "columns": ["x9"]}}),
        )
        .await?;
    assert_eq!(status, 404, "{job}");
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("x9")),
        "{job}"
    );
    Ok(())
}

#[tokio::test]
async fn the_python_example_streams_a_csv_and_prints_anomalies() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let output = tokio::process::Command::new("python3")
        .arg(weft_tests::repo_root().join("examples/anomaly_stream.py"))
        .args(["--url", &format!("ws://{}", server.address)])
        .arg("--csv")
        .arg(weft_tests::test_data("anomaly/stream.csv"))
        .args(["--batch", "500"])
        .output()
        .await
        .context("cannot run python3 (pip install -r examples/requirements.txt)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "the example failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let flagged = stdout
        .lines()
        .filter(|l| l.starts_with("anomaly at row"))
        .count();
    assert!(flagged > 50, "{stdout}");
    assert!(
        stdout.contains(&format!("flagged {flagged} of 6000 rows")),
        "{stdout}"
    );
    let precision: f64 = stdout
        .split("precision ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .context("precision line")?
        .parse()?;
    assert!(precision > 0.5, "{stdout}");
    Ok(())
}

/// Runs the Python example with `args` and returns its exit success,
/// stdout and stderr.
async fn run_example(args: &[&str]) -> anyhow::Result<(bool, String, String)> {
    let output = tokio::process::Command::new("python3")
        .arg(weft_tests::repo_root().join("examples/anomaly_stream.py"))
        .args(args)
        .output()
        .await
        .context("cannot run python3 (pip install -r examples/requirements.txt)")?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn the_python_example_sends_numeric_columns_and_says_what_it_left_out() -> anyhow::Result<()>
{
    let server = Server::start(&[])?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("mixed.csv");
    let mut text = String::from("when,a,b,name,gaps,label\n");
    for i in 0..400 {
        let spike = i % 97 == 50;
        let a = if spike { 40.0 } else { f64::from(i % 7) * 0.1 };
        let gaps = if i % 3 == 0 {
            String::new()
        } else {
            i.to_string()
        };
        text.push_str(&format!(
            "2024-01-{:02}T00:00:00Z,{a},{},row{i},{gaps},{}\n",
            i % 28 + 1,
            f64::from(i % 5) * 0.2,
            u8::from(spike)
        ));
    }
    std::fs::write(&csv, text)?;
    let url = format!("ws://{}", server.address);
    let csv = csv.to_string_lossy().into_owned();
    let common = [
        "--url",
        url.as_str(),
        "--csv",
        csv.as_str(),
        "--session",
        "mixed",
    ];

    let (ok, stdout, stderr) =
        run_example(&[&common[..], &["--algorithm", "robust_zscore"]].concat()).await?;
    assert!(ok, "{stdout}{stderr}");
    for told in [
        "column 'when' not sent: not numeric",
        "column 'name' not sent: not numeric",
        "column 'gaps' not sent: 134 empty values",
    ] {
        assert!(stderr.contains(told), "no '{told}' in {stderr}");
    }
    assert!(stdout.contains("rows of ['a', 'b']"), "{stdout}");
    assert!(stdout.contains("(robust_zscore)"), "{stdout}");

    // The session exists now: another algorithm is not silently ignored.
    let (ok, stdout, stderr) =
        run_example(&[&common[..], &["--algorithm", "half_space_trees"]].concat()).await?;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stderr.contains("note: session 'mixed' already exists") && stderr.contains("algorithm"),
        "{stderr}"
    );
    assert!(stdout.contains("(robust_zscore)"), "{stdout}");

    // No server: one line that says what to do, no traceback.
    let (ok, _, stderr) = run_example(&["--url", "ws://127.0.0.1:9", "--csv", &csv]).await?;
    assert!(!ok);
    assert!(
        stderr.contains("cannot reach a weft server") && !stderr.contains("Traceback"),
        "{stderr}"
    );
    Ok(())
}
