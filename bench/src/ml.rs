//! ML engine figures: training and batch prediction of logistic
//! regression, a random forest and k-means on 100k rows × 20 features —
//! the wasm component as jobs (dataset read from a real store, model
//! written to the registry), the same crate natively against an in-memory
//! host, and scikit-learn (`bench/python/ml_baselines.py`) on the same
//! rows, all in the same run. The shipped component is built with wasm
//! `simd128`; when `make bench` has built it without as well
//! (`target/plugins-scalar/ml.wasm`), that build is timed beside it.

use serde_json::{Value, json};
use std::io::Write;
use weft_ml::MlEngine;
use weft_runtime::Invocation;
use weft_sdk::{ColumnValues, Engine, Params, RecordingHost};

use crate::stats::{Row, Sample};
use crate::time;

const ROWS: usize = 100_000;
const FEATURES: usize = 20;
const RUNS: usize = 3;

/// Seeded rows whose class is a noisy linear function of the features,
/// with four informative features and sixteen of noise.
fn data() -> (Vec<Vec<f64>>, Vec<i64>) {
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let columns: Vec<Vec<f64>> = (0..FEATURES)
        .map(|_| (0..ROWS).map(|_| uniform() * 2.0 - 1.0).collect())
        .collect();
    let labels = (0..ROWS)
        .map(|i| {
            let z = 1.5 * columns[0][i] - 2.0 * columns[1][i]
                + columns[2][i] * columns[3][i]
                + 0.3 * (uniform() - 0.5);
            i64::from(z > 0.0)
        })
        .collect();
    (columns, labels)
}

struct Case {
    label: &'static str,
    algorithm: &'static str,
    hyperparameters: Value,
}

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    use weft_storage::columnar::{CHUNK_ROWS, ColumnType, Field, Values};
    let (columns, labels) = data();
    let names: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    let component = crate::setup::component("ml")?;
    let (store, plugin) = (&component.store, &component.plugin);
    let mut schema: Vec<Field> = names
        .iter()
        .map(|n| Field {
            name: n.clone(),
            kind: ColumnType::F64,
        })
        .collect();
    schema.push(Field {
        name: "label".into(),
        kind: ColumnType::I64,
    });
    let dataset = store.create_dataset("bench", "points", schema)?;
    for start in (0..ROWS).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(ROWS);
        let mut chunk: Vec<(Values, Vec<bool>)> = columns
            .iter()
            .map(|c| (Values::F64(c[start..end].to_vec()), Vec::new()))
            .collect();
        chunk.push((Values::I64(labels[start..end].to_vec()), Vec::new()));
        dataset.append(chunk)?;
    }
    let mut served: Vec<(&str, ColumnValues)> = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| (n.as_str(), ColumnValues::F64(c.clone())))
        .collect();
    served.push(("label", ColumnValues::I64(labels.clone())));
    let native = RecordingHost::new().with_dataset("points", served);

    let csv = component.dir.join("points.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    writeln!(out, "{},label", names.join(","))?;
    for i in 0..ROWS {
        let row: Vec<String> = columns.iter().map(|c| c[i].to_string()).collect();
        writeln!(out, "{},{}", row.join(","), labels[i])?;
    }
    out.flush()?;
    let sklearn = scikit_learn(&csv);
    let scalar_path = weft_tests::repo_root().join("target/plugins-scalar/ml.wasm");
    let scalar = if scalar_path.exists() {
        Some(crate::setup::sibling(&component, "ml", &scalar_path)?)
    } else {
        eprintln!(
            "      (no target/plugins-scalar/ml.wasm: `make bench` builds it; simd128 rows skipped)"
        );
        None
    };

    let cases = [
        Case {
            label: "logistic regression",
            algorithm: "logistic_regression",
            hyperparameters: json!({}),
        },
        Case {
            label: "random forest, 20 trees of depth ≤ 10",
            algorithm: "random_forest",
            hyperparameters: json!({"n_estimators": 20, "max_depth": 10}),
        },
        Case {
            label: "k-means, k = 8, one run",
            algorithm: "kmeans",
            hyperparameters: json!({"k": 8, "n_init": 1}),
        },
    ];
    let mut rows = Vec::new();
    for case in &cases {
        eprintln!("      {} …", case.label);
        let mut params = json!({"algorithm": case.algorithm, "dataset": "points", "hyperparameters": case.hyperparameters,
                                "validation_split": 0, "model": case.algorithm});
        if case.algorithm != "kmeans" {
            params["target"] = json!("label");
        }
        let predict = json!({"model": case.algorithm, "dataset": "points"});
        let (mut train_w, mut train_n, mut predict_w, mut predict_n) = (
            Sample::default(),
            Sample::default(),
            Sample::default(),
            Sample::default(),
        );
        let (mut train_scalar, mut predict_scalar) = (Sample::default(), Sample::default());
        for _ in 0..RUNS {
            for (op, p, wasm_sample, native_sample) in [
                ("train", &params, &mut train_w, &mut train_n),
                ("predict", &predict, &mut predict_w, &mut predict_n),
            ] {
                let (elapsed, out) = time(|| plugin.invoke(op, p, Invocation::detached("bench")));
                out.map_err(|e| anyhow::anyhow!("{op} {}: {}", case.algorithm, e.message))?;
                wasm_sample.push(elapsed);
                if let Some((_, scalar)) = &scalar {
                    let (elapsed, out) =
                        time(|| scalar.invoke(op, p, Invocation::detached("bench")));
                    out.map_err(|e| {
                        anyhow::anyhow!("scalar {op} {}: {}", case.algorithm, e.message)
                    })?;
                    if op == "train" {
                        &mut train_scalar
                    } else {
                        &mut predict_scalar
                    }
                    .push(elapsed);
                }
                let text = p.to_string();
                let (elapsed, out) = time(|| {
                    MlEngine::invoke(op, Params::new(&text), &native).map(|v| v.to_string().len())
                });
                std::hint::black_box(
                    out.map_err(|e| anyhow::anyhow!("{op} {}: {e}", case.algorithm))?,
                );
                native_sample.push(elapsed);
            }
        }
        let what = |step: &str| {
            format!(
                "ml: {}, {step} 100k × 20 — wasm (store in, registry out)",
                case.label
            )
        };
        rows.push(Row::versus(
            &what("train on"),
            train_w.clone(),
            "same crate, native, in-memory host",
            train_n,
        ));
        rows.push(Row::versus(
            &what("predict"),
            predict_w.clone(),
            "same crate, native, in-memory host",
            predict_n,
        ));
        if scalar.is_some() {
            let simd_what = |step: &str| {
                format!(
                    "ml: {}, {step} 100k × 20 — shipped wasm (simd128)",
                    case.label
                )
            };
            rows.push(Row::versus(
                &simd_what("train on"),
                train_w.clone(),
                "the same crate as wasm without simd128",
                train_scalar,
            ));
            rows.push(Row::versus(
                &simd_what("predict"),
                predict_w.clone(),
                "the same crate as wasm without simd128",
                predict_scalar,
            ));
        }
        match &sklearn {
            Ok(figures) => {
                let seconds = |key: &str| {
                    figures[case.algorithm][key]
                        .as_f64()
                        .map(|s| Sample::of(std::time::Duration::from_secs_f64(s)))
                };
                if let (Some(fit), Some(predict)) = (seconds("fit"), seconds("predict")) {
                    rows.push(Row::versus(
                        &what("train on"),
                        train_w,
                        "scikit-learn fit (same rows, one core)",
                        fit,
                    ));
                    rows.push(Row::versus(
                        &what("predict"),
                        predict_w,
                        "scikit-learn predict_proba / predict",
                        predict,
                    ));
                }
            }
            Err(e) => rows.push(Row::absolute(
                &what("train on"),
                train_w,
                &format!("scikit-learn unavailable: {e}"),
            )),
        }
    }
    Ok(rows)
}

fn scikit_learn(csv: &std::path::Path) -> anyhow::Result<Value> {
    crate::setup::python_json("ml_baselines.py", &[csv.as_os_str()])
}
