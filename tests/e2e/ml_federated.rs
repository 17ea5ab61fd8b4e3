//! Federated training through the real server: a dataset uploaded with one
//! partition per client, `POST /api/v1/ml/federated` running every
//! client's work in its own child instance (`weft:host/tasks`), each round
//! streamed over `/api/v1/ws/ml/training` (schema-checked), and the
//! outcome against `test_data/ml/make_federated_reference.py`: a NumPy
//! transcription of the same FedAvg (weights, per-round loss and
//! predictions equal to rounding) and scikit-learn fitted centrally on the
//! pooled rows (within 0.02).

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_data};

async fn upload(server: &Server, csv: &str, name: &str, partitioned: bool) -> anyhow::Result<()> {
    let body = std::fs::read(test_data(&format!("ml/{csv}.csv")))?;
    let query = if partitioned {
        "?partition_by=region&partitioning=list:north,south,east"
    } else {
        ""
    };
    let (status, answer) = server
        .post_raw(&format!("/api/v1/datasets/{name}{query}"), "text/csv", body)
        .await?;
    anyhow::ensure!(status == 201, "upload {name}: {status} {answer}");
    Ok(())
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * (1.0 + b.abs())
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn case<'a>(reference: &'a Value, dataset: &str) -> anyhow::Result<&'a Value> {
    reference["cases"]
        .as_array()
        .context("cases")?
        .iter()
        .find(|c| c["dataset"] == dataset)
        .context("the case")
}

async fn train(server: &Server, case: &Value, dataset: &str, model: &str) -> anyhow::Result<Value> {
    let (status, job) = server
        .post(
            "/api/v1/ml/federated",
            &json!({"algorithm": case["algorithm"], "dataset": dataset, "target": "target",
                    "features": ["x1", "x2", "x3", "x4"], "rounds": case["rounds"],
                    "local_epochs": case["local_epochs"], "learning_rate": case["learning_rate"],
                    "model": model}),
        )
        .await?;
    anyhow::ensure!(status == 202, "{status} {job}");
    server
        .wait_job(job["job_id"].as_str().context("job id")?)
        .await
}

/// The model's weights and per-round losses against NumPy's, its metric
/// against NumPy's and scikit-learn's, its predictions of the test rows.
async fn check_against_reference(
    server: &Server,
    case: &Value,
    job: &Value,
    model: &str,
) -> anyhow::Result<()> {
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    let clients: Vec<(String, u64)> = result["clients"]
        .as_array()
        .context("clients")?
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap_or_default().to_owned(),
                c["rows"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(clients.len(), 3, "three non-empty partitions: {clients:?}");
    let rows: Vec<u64> = clients.iter().map(|c| c.1).collect();
    assert_eq!(rows, vec![300, 200, 100]);
    let ours: Vec<f64> = result["weights"]["coefficients"]
        .as_array()
        .context("coefficients")?
        .iter()
        .filter_map(|row| row[0].as_f64())
        .collect();
    let theirs = numbers(&case["coefficients"]);
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(
            close(*a, *b, 1e-9),
            "coefficients {ours:?} vs NumPy {theirs:?}"
        );
    }
    let intercept = result["weights"]["intercepts"][0]
        .as_f64()
        .context("intercept")?;
    assert!(close(
        intercept,
        case["intercept"].as_f64().unwrap_or(f64::NAN),
        1e-9
    ));
    let history: Vec<f64> = result["history"]
        .as_array()
        .context("history")?
        .iter()
        .filter_map(|h| h["loss"].as_f64())
        .collect();
    let expected = numbers(&case["history"]);
    assert_eq!(history.len(), expected.len());
    for (a, b) in history.iter().zip(&expected) {
        assert!(
            close(*a, *b, 1e-9),
            "round losses {history:?} vs {expected:?}"
        );
    }
    let metric = case["metric"].as_str().context("metric")?;
    let score = result["metrics"][metric].as_f64().context("metric value")?;
    assert!(
        close(score, case["federated"].as_f64().unwrap_or(f64::NAN), 1e-9),
        "{score} vs {}",
        case["federated"]
    );
    let central = case["central_sklearn"].as_f64().context("central")?;
    assert!(
        (score - central).abs() <= 0.02,
        "federated {score}, scikit-learn pooled {central}"
    );

    let (status, predicted) = server
        .post(
            "/api/v1/ml/predict",
            &json!({"model": model, "rows": case["test_rows"]}),
        )
        .await?;
    assert_eq!(status, 200, "{predicted}");
    let ours = numbers(&predicted["predictions"]);
    let theirs = numbers(&case["predictions"]);
    assert_eq!(ours.len(), 20);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(close(*a, *b, 1e-8), "predictions {ours:?} vs {theirs:?}");
    }
    Ok(())
}

#[tokio::test]
async fn federated_averaging_streams_rounds_and_matches_numpy_and_scikit_learn()
-> anyhow::Result<()> {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "ml/federated_reference.json",
    ))?)?;
    let server = Server::start(&["--workers", "2"])?;
    upload(&server, "fed_classes", "clinics", true).await?;
    upload(&server, "fed_values", "sensors", true).await?;
    upload(&server, "fed_values", "pooled", false).await?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/ml/training"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["type"], "subscribed");

    let classes = case(&reference, "fed_classes")?;
    let job = train(&server, classes, "clinics", "clinics-fed").await?;
    check_against_reference(&server, classes, &job, "clinics-fed").await?;
    let rounds = classes["rounds"].as_u64().context("rounds")?;
    let mut seen_rounds = Vec::new();
    let mut progress = 0;
    loop {
        let message = ws.recv().await?;
        if message["type"] != "event" {
            continue;
        }
        let kind = message["kind"].as_str().unwrap_or_default().to_owned();
        if kind == "federated_round" || kind.starts_with("training_") {
            weft_tests::schemas::check_event("ml", &message)?;
        }
        match kind.as_str() {
            "federated_round" => {
                let data = &message["data"];
                assert_eq!(data["clients"].as_array().map(Vec::len), Some(3), "{data}");
                assert_eq!(data["dropped"], json!([]));
                seen_rounds.push(data["round"].as_u64().unwrap_or(0));
            }
            "training_progress" => progress += 1,
            "training_complete" => {
                assert_eq!(message["data"]["status"], "registered");
                assert_eq!(message["data"]["metrics"], job["result"]["metrics"]);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(seen_rounds, (1..=rounds).collect::<Vec<_>>());
    assert_eq!(progress, rounds);
    // The registry knows it as any trained model.
    let (status, model) = server.get("/api/v1/ml/models/clinics-fed").await?;
    assert_eq!(status, 200, "{model}");
    assert_eq!(
        model["versions"][0]["algorithm"], "logistic_regression",
        "{model}"
    );

    let values = case(&reference, "fed_values")?;
    let job = train(&server, values, "sensors", "sensors-fed").await?;
    check_against_reference(&server, values, &job, "sensors-fed").await?;

    // Without partitions there are no clients: say how to upload them.
    let job = train(&server, values, "pooled", "nope").await?;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "invalid_params");
    let message = job["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("partition_by"), "{message}");
    // A forest cannot be averaged.
    let (status, refused) = server
        .post(
            "/api/v1/ml/federated",
            &json!({"algorithm": "random_forest", "dataset": "clinics", "target": "target"}),
        )
        .await?;
    assert!((400..500).contains(&status), "{status} {refused}");
    assert_eq!(refused["error"]["code"], "invalid_params", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("algorithm"), "{refused}");
    Ok(())
}
