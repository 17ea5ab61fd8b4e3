//! ONNX export checked in onnxruntime (`test_data/ml/check_onnx.py`, run
//! here with the models and rows this test writes): every exported model
//! predicts, in the reference runtime, the labels Weft predicts, and
//! probabilities or values within float32 rounding.

use std::process::Command;

use anyhow::Context;
use base64::Engine as _;
use serde_json::{Value, json};
use weft_ml::MlEngine;
use weft_sdk::{ColumnValues, Engine, Params, RecordingHost};

fn test_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/ml")
        .join(name)
}

fn csv(name: &str) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(test_data(&format!("{name}.csv")))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .context("header")?
        .split(',')
        .map(str::to_owned)
        .collect();
    Ok((
        header,
        lines
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect(),
    ))
}

fn host() -> anyhow::Result<RecordingHost> {
    let mut host = RecordingHost::new();
    for name in ["iris_train", "cancer_train", "diabetes_train"] {
        let (header, rows) = csv(name)?;
        let columns: Vec<(String, ColumnValues)> = header
            .iter()
            .enumerate()
            .map(|(j, h)| {
                let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
                let values = if cells.iter().all(|c| c.parse::<i64>().is_ok()) {
                    ColumnValues::I64(cells.iter().filter_map(|c| c.parse().ok()).collect())
                } else if cells.iter().all(|c| c.parse::<f64>().is_ok()) {
                    ColumnValues::F64(cells.iter().filter_map(|c| c.parse().ok()).collect())
                } else {
                    ColumnValues::Text(cells.iter().map(|c| (*c).to_owned()).collect())
                };
                (h.clone(), values)
            })
            .collect();
        host = host.with_dataset(
            name,
            columns
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect(),
        );
    }
    Ok(host)
}

fn run(host: &RecordingHost, op: &str, params: &Value) -> anyhow::Result<Value> {
    MlEngine::invoke(op, Params::new(&params.to_string()), host)
        .map_err(|e| anyhow::anyhow!("{op}: {e}"))
}

#[test]
fn exported_models_predict_the_same_in_onnxruntime() -> anyhow::Result<()> {
    let host = host()?;
    let dir = tempfile::tempdir()?;
    let cases = [
        ("iris", "species", "logistic_regression", json!({})),
        ("cancer", "malignant", "logistic_regression", json!({})),
        ("iris", "species", "decision_tree", json!({"max_depth": 4})),
        (
            "iris",
            "species",
            "random_forest",
            json!({"n_estimators": 10}),
        ),
        ("diabetes", "progression", "linear_regression", json!({})),
        (
            "diabetes",
            "progression",
            "random_forest",
            json!({"n_estimators": 10, "min_samples_leaf": 5}),
        ),
    ];
    for (dataset, target, algorithm, hp) in cases {
        let name = format!("{dataset}-{algorithm}");
        run(
            &host,
            "train",
            &json!({"algorithm": algorithm, "dataset": format!("{dataset}_train"), "target": target, "model": name, "hyperparameters": hp}),
        )?;
        let (_, rows) = csv(&format!("{dataset}_test"))?;
        let rows: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                r[..r.len() - 1]
                    .iter()
                    .filter_map(|c| c.parse().ok())
                    .collect()
            })
            .collect();
        // The rows as float32, as ONNX reads them, so both sides see one input.
        let rows: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|v| f64::from(*v as f32)).collect())
            .collect();
        let ours = run(&host, "predict", &json!({"model": name, "rows": rows}))?;
        let exported = run(
            &host,
            "export_model",
            &json!({"name": name, "format": "onnx"}),
        )?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(exported["onnx_base64"].as_str().context("onnx")?)?;
        let model = dir.path().join(format!("{name}.onnx"));
        std::fs::write(&model, bytes)?;
        let rows_file = dir.path().join(format!("{name}.json"));
        std::fs::write(&rows_file, serde_json::to_vec(&rows)?)?;
        let output = Command::new("python3")
            .arg(test_data("check_onnx.py"))
            .arg(&model)
            .arg(&rows_file)
            .output()
            .context("python3 with onnxruntime (make test installs it)")?;
        anyhow::ensure!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs: Value = serde_json::from_slice(&output.stdout)?;
        let outputs = &theirs["outputs"];
        if target == "progression" {
            let ours: Vec<f64> = ours["predictions"]
                .as_array()
                .context("ours")?
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            let theirs: Vec<f64> = outputs["variable"]
                .as_array()
                .context("variable")?
                .iter()
                .filter_map(|v| v[0].as_f64())
                .collect();
            assert_eq!(ours.len(), theirs.len());
            for (o, t) in ours.iter().zip(&theirs) {
                assert!(
                    (o - t).abs() <= 1e-4 * o.abs().max(1.0),
                    "{name}: {o} vs {t}"
                );
            }
        } else {
            assert_eq!(outputs["label"], ours["predictions"], "{name}");
            let ours_p = ours["probabilities"].as_array().context("probabilities")?;
            let theirs_p = outputs["probabilities"]
                .as_array()
                .context("their probabilities")?;
            for (o, t) in ours_p.iter().zip(theirs_p) {
                for (a, b) in o
                    .as_array()
                    .into_iter()
                    .flatten()
                    .zip(t.as_array().into_iter().flatten())
                {
                    let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(1.0));
                    assert!((a - b).abs() < 1e-4, "{name}: {o} vs {t}");
                }
            }
        }
    }
    Ok(())
}
