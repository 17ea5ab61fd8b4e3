//! Every reference case of `test_data/ml/make_reference.py`, natively: the
//! engine's operations (train, then predict the held-out half) on a
//! recording host that serves the same CSVs scikit-learn read, scored as
//! scikit-learn scored itself. A test accuracy within 0.02 of
//! scikit-learn's — or one test row, on sets too small for 0.02 to be a
//! whole row — and R² within 0.02; k-means inertia within 1 %.

use anyhow::Context;
use serde_json::{Value, json};
use weft_ml::MlEngine;
use weft_sdk::{ColumnValues, Engine, Params, RecordingHost};

fn test_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/ml")
        .join(name)
}

/// A CSV of the reference script as typed columns (text where a value is
/// not a number).
fn columns(name: &str) -> anyhow::Result<Vec<(String, ColumnValues)>> {
    let text = std::fs::read_to_string(test_data(&format!("{name}.csv")))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .context("header")?
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    Ok(header
        .iter()
        .enumerate()
        .map(|(j, h)| {
            let cells: Vec<&str> = rows.iter().map(|r| r[j]).collect();
            let values = if cells.iter().all(|c| c.parse::<i64>().is_ok()) {
                ColumnValues::I64(cells.iter().filter_map(|c| c.parse().ok()).collect())
            } else if cells.iter().all(|c| c.parse::<f64>().is_ok()) {
                ColumnValues::F64(cells.iter().filter_map(|c| c.parse().ok()).collect())
            } else {
                ColumnValues::Text(cells.iter().map(|c| (*c).to_owned()).collect())
            };
            (h.clone(), values)
        })
        .collect())
}

fn host_with(names: &[&str]) -> anyhow::Result<RecordingHost> {
    let mut host = RecordingHost::new();
    for name in names {
        let cols = columns(name)?;
        host = host.with_dataset(
            name,
            cols.iter().map(|(n, v)| (n.as_str(), v.clone())).collect(),
        );
    }
    Ok(host)
}

fn run(host: &RecordingHost, op: &str, params: &Value) -> anyhow::Result<Value> {
    MlEngine::invoke(op, Params::new(&params.to_string()), host)
        .map_err(|e| anyhow::anyhow!("{op}: {e}"))
}

fn reference() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(test_data(
        "reference.json",
    ))?)?)
}

/// Ours against scikit-learn's on the same test rows.
fn score(case: &Value, predicted: &Value) -> anyhow::Result<f64> {
    let predicted = predicted["predictions"].as_array().context("predictions")?;
    if case["metric"] == "accuracy" {
        let labels = case["labels"].as_array().context("labels")?;
        let right = labels.iter().zip(predicted).filter(|(a, b)| a == b).count();
        Ok(right as f64 / labels.len() as f64)
    } else {
        let truth: Vec<f64> = case["values"]
            .as_array()
            .context("values")?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let ours: Vec<f64> = predicted.iter().filter_map(Value::as_f64).collect();
        Ok(weft_ml::metrics::r2(&truth, &ours))
    }
}

fn test_rows(dataset: &str) -> anyhow::Result<Vec<Vec<f64>>> {
    let cols = columns(&format!("{dataset}_test"))?;
    let features: Vec<Vec<f64>> = cols[..cols.len() - 1]
        .iter()
        .map(|(_, v)| v.to_f64().unwrap_or_default())
        .collect();
    Ok((0..features[0].len())
        .map(|i| features.iter().map(|f| f[i]).collect())
        .collect())
}

#[test]
fn every_algorithm_scores_what_scikit_learn_scores_on_the_held_out_rows() -> anyhow::Result<()> {
    let r = reference()?;
    let host = host_with(&["iris_train", "cancer_train", "wine_train", "diabetes_train"])?;
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in r["cases"].as_array().context("cases")? {
        let dataset = case["dataset"].as_str().context("dataset")?;
        let algorithm = case["algorithm"].as_str().context("algorithm")?;
        let name = format!("{dataset}-{algorithm}");
        let trained = run(
            &host,
            "train",
            &json!({"algorithm": algorithm, "dataset": format!("{dataset}_train"), "target": case["target"],
                    "hyperparameters": case["hyperparameters"], "validation_split": 0, "model": name}),
        )?;
        assert_eq!(trained["version"], 1, "{trained}");
        let predicted = run(
            &host,
            "predict",
            &json!({"model": name, "rows": test_rows(dataset)?}),
        )?;
        let ours = score(case, &predicted)?;
        let theirs = case["sklearn"].as_f64().context("sklearn")?;
        let rows = case["test_rows"].as_f64().context("rows")?;
        let tolerance = if case["metric"] == "accuracy" {
            0.02f64.max(1.0 / rows + 1e-9)
        } else {
            0.02
        };
        report.push(format!("{name}: ours {ours:.4}, scikit-learn {theirs:.4}"));
        if (ours - theirs).abs() > tolerance {
            failures.push(format!(
                "{name}: ours {ours:.4}, scikit-learn {theirs:.4}: more than {tolerance:.3} apart"
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n(all: {})",
        failures.join("\n"),
        report.join("; ")
    );
    Ok(())
}

#[test]
fn kmeans_inertia_is_within_one_percent_of_scikit_learn() -> anyhow::Result<()> {
    let r = reference()?;
    let host = host_with(&["blobs"])?;
    let trained = run(
        &host,
        "train",
        &json!({"algorithm": "kmeans", "dataset": "blobs", "hyperparameters": {"k": 4}, "validation_split": 0}),
    )?;
    let ours = trained["metrics"]["inertia"].as_f64().context("inertia")?;
    let theirs = r["kmeans"]["inertia"].as_f64().context("reference")?;
    assert!(
        (ours - theirs).abs() / theirs < 0.01,
        "ours {ours}, scikit-learn {theirs}"
    );
    Ok(())
}

#[test]
fn bad_input_names_the_problem() -> anyhow::Result<()> {
    let host = host_with(&["iris_train"])?;
    let attempt = |params: Value| {
        MlEngine::invoke("train", Params::new(&params.to_string()), &host)
            .err()
            .map(|e| e.to_string())
    };
    let cases = [
        (
            json!({"algorithm": "nope", "dataset": "iris_train", "target": "species"}),
            "unknown algorithm 'nope'",
        ),
        (
            json!({"algorithm": "svm", "dataset": "missing", "target": "species"}),
            "no dataset 'missing'",
        ),
        (
            json!({"algorithm": "svm", "dataset": "iris_train", "target": "colour"}),
            "no target column 'colour'",
        ),
        (
            json!({"algorithm": "linear_regression", "dataset": "iris_train", "target": "sepal_length_cm"}),
            "feature 'species' is text",
        ),
        (
            json!({"algorithm": "linear_regression", "dataset": "iris_train", "target": "species"}),
            "target 'species' is text",
        ),
        (
            json!({"algorithm": "mlp", "dataset": "iris_train", "target": "species", "hyperparameters": {"epoch": 3}}),
            "unknown field `epoch`",
        ),
        (
            json!({"algorithm": "svm", "dataset": "iris_train", "target": "species", "features": ["petal"]}),
            "no column 'petal'",
        ),
    ];
    for (params, expected) in cases {
        let error = attempt(params.clone()).with_context(|| format!("{params} should fail"))?;
        assert!(error.contains(expected), "{params}: {error}");
    }
    let err = MlEngine::invoke(
        "predict",
        Params::new(&json!({"model": "ghost", "rows": [[1]]}).to_string()),
        &host,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("no model 'ghost'"), "{err}");
    Ok(())
}

#[test]
fn the_registry_versions_deploys_deprecates_and_deletes() -> anyhow::Result<()> {
    let host = host_with(&["iris_train"])?;
    let train = json!({"algorithm": "naive_bayes", "dataset": "iris_train", "target": "species", "model": "flowers"});
    assert_eq!(run(&host, "train", &train)?["model_id"], "flowers:1");
    assert_eq!(run(&host, "train", &train)?["model_id"], "flowers:2");
    // Nothing deployed: the newest registered version serves.
    let row = json!([[5.1, 3.5, 1.4, 0.2]]);
    let p = run(&host, "predict", &json!({"model": "flowers", "rows": row}))?;
    assert_eq!(
        (p["version"].clone(), p["predictions"][0].clone()),
        (json!(2), json!("setosa")),
        "{p}"
    );
    run(&host, "deploy", &json!({"name": "flowers", "version": "1"}))?;
    assert_eq!(
        run(&host, "predict", &json!({"model": "flowers", "rows": row}))?["version"],
        1
    );
    let model = run(&host, "get_model", &json!({"name": "flowers"}))?;
    assert_eq!(model["deployed"], 1);
    assert_eq!(model["versions"][0]["state"], "deployed");
    run(
        &host,
        "deprecate",
        &json!({"name": "flowers", "version": 1}),
    )?;
    assert_eq!(
        run(&host, "predict", &json!({"model": "flowers", "rows": row}))?["version"],
        2
    );
    run(
        &host,
        "delete_model",
        &json!({"name": "flowers", "version": 2}),
    )?;
    let err = MlEngine::invoke(
        "predict",
        Params::new(&json!({"model": "flowers", "rows": row}).to_string()),
        &host,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("no deployed or registered version"), "{err}");
    // Numbers are never reused.
    assert_eq!(run(&host, "train", &train)?["model_id"], "flowers:3");
    let events: Vec<String> = host
        .calls()
        .iter()
        .filter_map(|c| match c {
            weft_sdk::Recorded::Event { kind, data, .. } if kind == "lifecycle_event" => {
                Some(format!(
                    "{}:{}",
                    data["event_type"].as_str().unwrap_or(""),
                    data["version"]
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            "created:1",
            "registered:1",
            "created:2",
            "registered:2",
            "deployed:1",
            "deprecated:1",
            "deleted:2",
            "created:3",
            "registered:3"
        ]
    );
    Ok(())
}

#[test]
fn automl_halves_its_candidates_and_registers_a_model_as_good_as_scikit_learns()
-> anyhow::Result<()> {
    let r = reference()?;
    let host = host_with(&["cancer_train"])?;
    let result = run(
        &host,
        "automl",
        &json!({"dataset": "cancer_train", "target": "malignant", "time_budget_secs": 120, "model": "auto",
                "algorithms": ["logistic_regression", "decision_tree", "naive_bayes", "gradient_boosting"]}),
    )?;
    let automl = &result["automl"];
    assert_eq!(automl["out_of_time"], false, "{automl}");
    let board = automl["leaderboard"].as_array().context("leaderboard")?;
    let rung = |n: u64| board.iter().filter(|t| t["rung"] == n).count();
    // 3 + 3 + 1 + 2 candidates, then the best third of them twice.
    assert_eq!((rung(1), rung(2), rung(3)), (9, 3, 1), "{automl}");
    let progress = host
        .calls()
        .iter()
        .filter(
            |c| matches!(c, weft_sdk::Recorded::Event { kind, .. } if kind == "automl_progress"),
        )
        .count();
    assert_eq!(progress, 13);
    // Its pick, on the reference's held-out rows, scores with scikit-learn's best.
    let predicted = run(
        &host,
        "predict",
        &json!({"model": "auto", "rows": test_rows("cancer")?}),
    )?;
    let best_reference = r["cases"]
        .as_array()
        .context("cases")?
        .iter()
        .filter(|c| c["dataset"] == "cancer")
        .filter_map(|c| c["sklearn"].as_f64())
        .fold(0.0, f64::max);
    let case = r["cases"]
        .as_array()
        .context("cases")?
        .iter()
        .find(|c| c["dataset"] == "cancer")
        .context("a case")?;
    let ours = score(case, &predicted)?;
    assert!(
        ours >= best_reference - 0.03,
        "automl's {} scored {ours}, scikit-learn's best {best_reference}",
        automl["best_algorithm"]
    );
    Ok(())
}

#[test]
fn automl_out_of_time_still_answers_a_model() -> anyhow::Result<()> {
    let host = host_with(&["iris_train"])?;
    let result = run(
        &host,
        "automl",
        &json!({"dataset": "iris_train", "target": "species", "time_budget_secs": 0.000001}),
    )?;
    assert_eq!(result["automl"]["out_of_time"], true);
    assert_eq!(result["model_id"], "automl-iris_train:1", "{result}");
    Ok(())
}

#[test]
fn pmml_from_scikit_learn_imports_and_predicts_what_scikit_learn_predicts() -> anyhow::Result<()> {
    let r = reference()?;
    let host = RecordingHost::new();
    for case in r["pmml"].as_array().context("pmml cases")? {
        let file = case["file"].as_str().context("file")?;
        let name = file.trim_end_matches(".pmml");
        let text = std::fs::read_to_string(test_data(file))?;
        let imported = run(&host, "import_model", &json!({"name": name, "pmml": text}))?;
        let predicted = run(
            &host,
            "predict",
            &json!({"model": name, "rows": test_rows(case["dataset"].as_str().context("dataset")?)?}),
        )?;
        let (ours, theirs) = (
            predicted["predictions"].as_array().context("ours")?,
            case["predictions"].as_array().context("theirs")?,
        );
        assert_eq!(ours.len(), theirs.len());
        for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
            match (o.as_f64(), t.as_f64()) {
                (Some(o), Some(t)) if case["dataset"] == "diabetes" => {
                    assert!(
                        (o - t).abs() <= 1e-9 * t.abs().max(1.0),
                        "{file} row {i}: {o} vs {t}"
                    );
                }
                _ => assert_eq!(o, t, "{file} row {i} ({imported})"),
            }
        }
        // And out again: the export reads back to the same predictions.
        let exported = run(&host, "export_model", &json!({"name": name}))?;
        run(
            &host,
            "import_model",
            &json!({"name": format!("{name}-again"), "pmml": exported["pmml"]}),
        )?;
        let again = run(
            &host,
            "predict",
            &json!({"model": format!("{name}-again"), "rows": test_rows(case["dataset"].as_str().unwrap_or(""))?}),
        )?;
        assert_eq!(
            again["predictions"], predicted["predictions"],
            "{file} round trip"
        );
    }
    Ok(())
}

#[test]
fn tree_explanations_add_up_to_what_the_model_predicts() -> anyhow::Result<()> {
    let host = host_with(&["iris_train", "cancer_train"])?;
    let rows: Vec<Vec<f64>> = test_rows("iris")?.into_iter().take(4).collect();
    run(
        &host,
        "train",
        &json!({"algorithm": "random_forest", "dataset": "iris_train", "target": "species", "model": "rf", "hyperparameters": {"n_estimators": 10}}),
    )?;
    let predicted = run(&host, "predict", &json!({"model": "rf", "rows": rows}))?;
    let explained = run(&host, "explain", &json!({"name": "rf", "rows": rows}))?;
    assert!(
        explained["method"]
            .as_str()
            .unwrap_or("")
            .starts_with("TreeSHAP")
    );
    for (i, e) in explained["explanations"]
        .as_array()
        .context("explanations")?
        .iter()
        .enumerate()
    {
        let confidence = predicted["confidence"][i].as_f64().context("confidence")?;
        assert!(
            (e["output"].as_f64().unwrap_or(0.0) - confidence).abs() < 1e-9,
            "{e} vs {confidence}"
        );
        assert_eq!(e["prediction"], predicted["predictions"][i]);
    }
    let rows: Vec<Vec<f64>> = test_rows("cancer")?.into_iter().take(4).collect();
    run(
        &host,
        "train",
        &json!({"algorithm": "gradient_boosting", "dataset": "cancer_train", "target": "malignant", "model": "gb", "hyperparameters": {"n_estimators": 20}}),
    )?;
    let predicted = run(&host, "predict", &json!({"model": "gb", "rows": rows}))?;
    let explained = run(&host, "explain", &json!({"name": "gb", "rows": rows}))?;
    for (i, e) in explained["explanations"]
        .as_array()
        .context("explanations")?
        .iter()
        .enumerate()
    {
        let logit = e["output"].as_f64().unwrap_or(0.0);
        let confidence = predicted["confidence"][i].as_f64().context("confidence")?;
        assert!(
            (1.0 / (1.0 + (-logit).exp()) - confidence).abs() < 1e-9,
            "{e} vs {confidence}"
        );
    }
    Ok(())
}

#[test]
fn int8_weights_cost_little_accuracy_and_take_a_fraction_of_the_space() -> anyhow::Result<()> {
    let host = host_with(&["iris_train", "iris_test"])?;
    for algorithm in ["logistic_regression", "mlp"] {
        let hp = if algorithm == "mlp" {
            json!({"hidden_layers": [32], "learning_rate": 0.01, "epochs": 200})
        } else {
            json!({})
        };
        run(
            &host,
            "train",
            &json!({"algorithm": algorithm, "dataset": "iris_train", "target": "species", "model": algorithm, "hyperparameters": hp}),
        )?;
        let q = run(
            &host,
            "quantize",
            &json!({"name": algorithm, "dataset": "iris_test"}),
        )?;
        let (before, after) = (
            q["before"]["accuracy"].as_f64().context("before")?,
            q["after"]["accuracy"].as_f64().context("after")?,
        );
        assert!((before - after).abs() <= 0.034, "{algorithm}: {q}");
        assert!(q["same_predictions"].as_f64() >= Some(0.95), "{q}");
        let (full, small) = (
            q["weights_bytes"]["f64"].as_u64().unwrap_or(0),
            q["weights_bytes"]["int8"].as_u64().unwrap_or(0),
        );
        // The scales (one f64 per output) weigh on a 4 × 3 model; on a
        // network the weights dominate.
        assert!(small < full, "{q}");
        if algorithm == "mlp" {
            assert!(small * 3 < full, "{q}");
        }
        assert_eq!(q["model_id"], format!("{algorithm}:2"));
        let p = run(
            &host,
            "predict",
            &json!({"model": format!("{algorithm}:2"), "rows": [[5.1, 3.5, 1.4, 0.2]]}),
        )?;
        assert_eq!(p["predictions"][0], "setosa");
    }
    let err = MlEngine::invoke(
        "quantize",
        Params::new(&json!({"name": "ghost", "dataset": "iris_test"}).to_string()),
        &host,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("no model 'ghost'"), "{err}");
    Ok(())
}
