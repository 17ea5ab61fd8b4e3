//! The ML engine as a wasm component through the real server: datasets
//! uploaded as CSV, training streamed over `/api/v1/ws/ml/training` and
//! `mlTrainingProgress` (every message schema-checked), held-out accuracy
//! against scikit-learn (`test_data/ml/make_reference.py`; every case also
//! runs natively in `plugins/ml/tests/reference.rs`), the lifecycle seen
//! in order on `/api/v1/ws/ml/lifecycle`, a registry that survives a
//! restart, and bad input answered with `invalid_params`.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_data};

async fn upload(server: &Server, name: &str) -> anyhow::Result<()> {
    let csv = std::fs::read(test_data(&format!("ml/{name}.csv")))?;
    let (status, body) = server
        .post_raw(&format!("/api/v1/datasets/{name}"), "text/csv", csv)
        .await?;
    anyhow::ensure!(status == 201, "upload {name}: {status} {body}");
    Ok(())
}

/// The feature rows of a test CSV (every column but the last).
fn test_rows(name: &str) -> anyhow::Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(test_data(&format!("ml/{name}.csv")))?;
    Ok(text
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[..cells.len() - 1]
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .collect())
}

#[tokio::test]
async fn training_streams_every_epoch_and_matches_scikit_learn() -> anyhow::Result<()> {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(test_data("ml/reference.json"))?)?;
    let server = Server::start(&[])?;
    upload(&server, "iris_train").await?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/ml/training"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["type"], "subscribed");
    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "t",
        "subscription { mlTrainingProgress(modelName: \"flowers\") { kind modelId epoch totalEpochs loss validationAccuracy } }",
    )
    .await?;

    let case = reference["cases"]
        .as_array()
        .context("cases")?
        .iter()
        .find(|c| c["dataset"] == "iris" && c["algorithm"] == "mlp")
        .context("the iris mlp case")?;
    let (status, job) = server
        .post(
            "/api/v1/ml/train",
            &json!({"algorithm": "mlp", "dataset": "iris_train", "target": "species", "model": "flowers",
                    "hyperparameters": case["hyperparameters"], "validation_split": 0.2, "seed": 1}),
        )
        .await?;
    assert_eq!(status, 202, "{job}");
    let job = server
        .wait_job(job["job_id"].as_str().context("job id")?)
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(result["model_id"], "flowers:1");
    assert_eq!(
        result["classes"],
        json!(["setosa", "versicolor", "virginica"])
    );

    let mut progress = Vec::new();
    loop {
        let message = ws.recv().await?;
        // Host kinds (job_state, progress) share the topic; the
        // client checked them against the ws schemas already.
        if message["type"] != "event"
            || !message["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("training_"))
        {
            continue;
        }
        weft_tests::schemas::check_event("ml", &message)?;
        if message["kind"] == "training_complete" {
            assert_eq!(message["data"]["status"], "registered");
            assert_eq!(message["data"]["metrics"], result["metrics"]);
            break;
        }
        progress.push(message["data"].clone());
    }
    let epochs: Vec<u64> = progress
        .iter()
        .filter_map(|p| p["epoch"].as_u64())
        .collect();
    assert!(
        epochs.len() >= 10 && epochs.iter().zip(1..).all(|(e, i)| *e == i),
        "{epochs:?}"
    );
    assert_eq!(epochs.len() as u64, result["epochs"].as_u64().unwrap_or(0));
    let first = progress[0]["loss"].as_f64().unwrap_or(0.0);
    let last = progress
        .last()
        .and_then(|p| p["loss"].as_f64())
        .unwrap_or(f64::MAX);
    assert!(last < first / 2.0, "loss {first} → {last}");
    let typed = gql
        .recv_until(|m| m["id"] == "t" && m["type"] == "next")
        .await?;
    let item = &typed.last().context("a next")?["payload"]["data"]["mlTrainingProgress"];
    assert_eq!(item["modelId"], "flowers:1", "{item}");
    assert!(item["epoch"].as_u64() >= Some(1));

    // Held out: the reference's test half, predicted over REST.
    let (status, predicted) = server
        .post(
            "/api/v1/ml/predict",
            &json!({"model": "flowers", "rows": test_rows("iris_test")?}),
        )
        .await?;
    assert_eq!(status, 200, "{predicted}");
    let labels = case["labels"].as_array().context("labels")?;
    let ours = labels
        .iter()
        .zip(predicted["predictions"].as_array().context("predictions")?)
        .filter(|(a, b)| a == b)
        .count() as f64
        / labels.len() as f64;
    let theirs = case["sklearn"].as_f64().context("sklearn")?;
    assert!(
        (ours - theirs).abs() <= 0.02f64.max(1.0 / labels.len() as f64 + 1e-9),
        "ours {ours}, scikit-learn {theirs}"
    );
    let confidence = predicted["confidence"].as_array().context("confidence")?;
    assert!(
        confidence
            .iter()
            .all(|c| c.as_f64().is_some_and(|c| c > 0.3 && c <= 1.0))
    );
    Ok(())
}

#[tokio::test]
async fn the_lifecycle_streams_in_order_and_the_registry_survives_a_restart() -> anyhow::Result<()>
{
    let server = Server::start(&[])?;
    upload(&server, "diabetes_train").await?;
    let mut lifecycle = WsClient::connect(&server.ws_url("/api/v1/ws/ml/lifecycle"), None)
        .await?
        .validating("ws");
    assert_eq!(lifecycle.recv().await?["type"], "welcome");
    assert_eq!(lifecycle.recv().await?["type"], "subscribed");
    for _ in 0..2 {
        let job = server
            .run_job("ml", "train", json!({"algorithm": "gradient_boosting", "dataset": "diabetes_train", "target": "progression", "model": "sugar", "hyperparameters": {"n_estimators": 20}}))
            .await?;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["result"]["task"], "regression");
    }
    let (status, _) = server
        .post("/api/v1/ml/models/sugar/versions/1/deploy", &json!({}))
        .await?;
    assert_eq!(status, 200);
    let (status, _) = server
        .post("/api/v1/ml/models/sugar/versions/1/deprecate", &json!({}))
        .await?;
    assert_eq!(status, 200);
    let (status, deleted) = server.delete("/api/v1/ml/models/sugar/versions/2").await?;
    assert_eq!(
        (status, deleted["deleted_versions"].clone()),
        (200, json!([2])),
        "{deleted}"
    );
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let message = lifecycle.recv().await?;
        if message["kind"] == "lifecycle_event" {
            weft_tests::schemas::check_event("ml", &message)?;
            seen.push(format!(
                "{}:{}",
                message["data"]["event_type"].as_str().unwrap_or(""),
                message["data"]["version"]
            ));
        }
    }
    assert_eq!(
        seen,
        [
            "created:1",
            "registered:1",
            "created:2",
            "registered:2",
            "deployed:1",
            "deprecated:1",
            "deleted:2"
        ]
    );

    let server = server.restart()?;
    let (status, model) = server.get("/api/v1/ml/models/sugar").await?;
    assert_eq!(status, 200, "{model}");
    let versions: Vec<(u64, &str)> = model["versions"]
        .as_array()
        .context("versions")?
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap_or(0),
                v["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(versions, [(1, "deprecated")]);
    assert!(
        model["versions"][0]["metrics"]["r2"].as_f64().is_some(),
        "{model}"
    );
    let row = test_rows("diabetes_test")?
        .into_iter()
        .take(3)
        .collect::<Vec<_>>();
    let (status, predicted) = server
        .post(
            "/api/v1/ml/predict",
            &json!({"model": "sugar:1", "rows": row}),
        )
        .await?;
    assert_eq!(status, 200, "{predicted}");
    assert_eq!(predicted["predictions"].as_array().map(Vec::len), Some(3));
    let (_, listed) = server.get("/api/v1/ml/models").await?;
    assert_eq!(listed["models"][0]["name"], "sugar", "{listed}");
    Ok(())
}

#[tokio::test]
async fn bad_input_is_invalid_params_that_names_the_problem() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    upload(&server, "iris_train").await?;
    let job = server
        .run_job("ml", "train", json!({"algorithm": "naive_bayes", "dataset": "iris_train", "target": "species", "model": "nb"}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let cases = [
        (
            json!({"model": "nb", "rows": [[1.0, 2.0]]}),
            "the model takes 4 features",
        ),
        (
            json!({"model": "ghost", "rows": [[1.0]]}),
            "no model 'ghost'",
        ),
        (
            json!({"model": "nb", "rows": [[1.0, 2.0, 3.0, "x"]]}),
            "/rows/0/3",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = server.post("/api/v1/ml/predict", &body).await?;
        assert!(
            matches!(status, 400 | 404 | 422),
            "{body}: {status} {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(expected), "{body}: {answer}");
    }
    let job = server
        .run_job("ml", "train", json!({"algorithm": "linear_regression", "dataset": "iris_train", "target": "sepal_length_cm"}))
        .await?;
    assert_eq!(job["state"], "failed");
    assert_eq!(job["error"]["code"], "invalid_params", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("feature 'species' is text"),
        "{job}"
    );
    Ok(())
}

#[tokio::test]
async fn models_travel_as_pmml_through_the_declared_routes() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    upload(&server, "iris_train").await?;
    let job = server
        .run_job("ml", "train", json!({"algorithm": "decision_tree", "dataset": "iris_train", "target": "species", "model": "tree"}))
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let (status, exported) = server
        .get("/api/v1/ml/models/tree/versions/1/export")
        .await?;
    assert_eq!(status, 200, "{exported}");
    let pmml = exported["pmml"].as_str().context("pmml")?.to_owned();
    let (status, imported) = server
        .post_raw(
            "/api/v1/ml/models/copied/import",
            "application/xml",
            pmml.into_bytes(),
        )
        .await?;
    assert_eq!(
        (status, imported["model_id"].clone()),
        (201, json!("copied:1")),
        "{imported}"
    );
    let rows = test_rows("iris_test")?;
    let (_, original) = server
        .post(
            "/api/v1/ml/predict",
            &json!({"model": "tree", "rows": rows}),
        )
        .await?;
    let (_, copy) = server
        .post(
            "/api/v1/ml/predict",
            &json!({"model": "copied", "rows": rows}),
        )
        .await?;
    assert_eq!(original["predictions"], copy["predictions"]);
    let (status, onnx) = server
        .get("/api/v1/ml/models/tree/versions/1/export?format=onnx")
        .await?;
    assert_eq!(status, 200);
    assert!(onnx["bytes"].as_u64() > Some(100), "{onnx}");
    let (status, refused) = server
        .post_raw(
            "/api/v1/ml/models/bad/import",
            "application/xml",
            b"<PMML><NaiveBayesModel/></PMML>".to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("PMML"),
        "{refused}"
    );
    Ok(())
}
