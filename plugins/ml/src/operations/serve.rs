//! Serving a stored model: `predict` (rows or a dataset, batches streamed
//! as `prediction` events), `feature_importance` (permutation, and
//! impurity for trees) and `explain` (exact per-feature contributions of
//! linear models).

use std::time::Instant;

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use super::{PREDICTIONS, VersionNumber};
use crate::data::{Table, Target, TargetKind, read_table};
use crate::model::{Algorithm, Model, Prediction, rows_matrix};
use crate::registry::{self, State};
use crate::{MlError, check_cancelled, metrics};

/// Rows per `prediction` event.
const BATCH: usize = 1_000;

/// A model named by `name` or `name:version`, at `version` if given, else
/// the one it serves.
pub(crate) fn resolve(
    host: &dyn Host,
    reference: &str,
    version: Option<VersionNumber>,
) -> Result<(String, u32, Model), MlError> {
    let (name, from_id) = registry::parse_ref(reference)?;
    let record = registry::load(host, &name)?;
    let version = match version.map(|v| v.0).or(from_id) {
        Some(v) => v,
        None => record.serving()?,
    };
    let entry = record.version(version)?;
    match entry.state {
        State::Training => {
            return Err(MlError::Invalid(format!(
                "model '{name}' version {version} is still training: wait for its training_complete"
            )));
        }
        State::Failed => {
            return Err(MlError::Invalid(format!(
                "model '{name}' version {version} failed to train ({}): train it again",
                entry.error.as_deref().unwrap_or("no reason kept")
            )));
        }
        _ => {}
    }
    Ok((
        name.clone(),
        version,
        registry::load_model(host, &name, version)?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictParams {
    model: String,
    #[serde(default)]
    version: Option<VersionNumber>,
    #[serde(default)]
    rows: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    dataset: Option<String>,
}

fn features_of(
    host: &dyn Host,
    model: &Model,
    rows: Option<&[Vec<Value>]>,
    dataset: Option<&str>,
) -> Result<Array2<f64>, MlError> {
    match (rows, dataset) {
        (Some(rows), None) => {
            if rows.is_empty() {
                return Err(MlError::Invalid(
                    "rows is empty: give at least one row of feature values".into(),
                ));
            }
            rows_matrix(rows, model.features.len())
        }
        (None, Some(dataset)) => {
            Ok(read_table(host, dataset, None, Some(&model.features), TargetKind::None)?.x)
        }
        _ => Err(MlError::Invalid(format!(
            "give rows ([[…], …], each {} values: {}) or a dataset with those columns, not both",
            model.features.len(),
            model.features.join(", ")
        ))),
    }
}

fn label(model: &Model, class: usize) -> Value {
    model
        .classes
        .get(class)
        .cloned()
        .unwrap_or(Value::from(class))
}

pub(crate) fn predict(params: PredictParams, host: &dyn Host) -> Result<Value, MlError> {
    let started = Instant::now();
    let (name, version, model) = resolve(host, &params.model, params.version)?;
    let x = features_of(
        host,
        &model,
        params.rows.as_deref(),
        params.dataset.as_deref(),
    )?;
    let model_id = format!("{name}:{version}");
    let mut predictions = Vec::with_capacity(x.nrows());
    let mut confidences = Vec::new();
    let mut probabilities = Vec::new();
    let mut batches = 0;
    for start in (0..x.nrows()).step_by(BATCH) {
        check_cancelled(host)?;
        let end = (start + BATCH).min(x.nrows());
        let part = x.slice(ndarray::s![start..end, ..]).to_owned();
        let mut event =
            json!({"model_id": model_id, "model_name": name, "version": version, "offset": start});
        let batch: Vec<Value> = match model.predict(&part)? {
            Prediction::Classes {
                labels,
                probabilities: p,
            } => {
                let confidence: Vec<f64> =
                    labels.iter().enumerate().map(|(i, &c)| p[[i, c]]).collect();
                let rows: Vec<Vec<f64>> = p.rows().into_iter().map(|r| r.to_vec()).collect();
                event["confidence"] = json!(confidence);
                event["probabilities"] = json!(rows);
                confidences.extend(confidence);
                probabilities.extend(rows);
                labels.iter().map(|&c| label(&model, c)).collect()
            }
            Prediction::Values(v) => v.into_iter().map(Value::from).collect(),
            Prediction::Clusters(c) => c.into_iter().map(Value::from).collect(),
        };
        event["predictions"] = json!(batch);
        host.emit(PREDICTIONS, "prediction", &event);
        predictions.extend(batch);
        batches += 1;
        host.progress(end as u64, x.nrows() as u64, "predicting", None);
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    host.emit(
        PREDICTIONS,
        "predictions_complete",
        &json!({"model_id": model_id, "model_name": name, "version": version, "rows": x.nrows(), "batches": batches, "elapsed_ms": elapsed_ms}),
    );
    let mut out = json!({"model_id": model_id, "model": name, "version": version, "predictions": predictions, "rows": x.nrows()});
    if !probabilities.is_empty() {
        out["probabilities"] = json!(probabilities);
        out["confidence"] = json!(confidences);
        out["classes"] = json!(model.classes);
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportanceParams {
    name: String,
    #[serde(default)]
    version: Option<VersionNumber>,
    dataset: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    repeats: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
}

fn score(model: &Model, table: &Table) -> Result<f64, MlError> {
    Ok(match (model.predict(&table.x)?, &table.target) {
        (Prediction::Classes { labels, .. }, Target::Classes { y, .. }) => {
            metrics::accuracy(y, &labels)
        }
        (Prediction::Values(v), Target::Values(y)) => metrics::r2(y, &v),
        _ => {
            return Err(MlError::Invalid(
                "permutation importance needs a classifier or regressor and its target".into(),
            ));
        }
    })
}

/// Re-indexes a table's classes to the model's (a dataset may lack some
/// classes or order them differently).
fn align_classes(model: &Model, table: Table) -> Result<Table, MlError> {
    let Target::Classes { classes, y } = &table.target else {
        return Ok(table);
    };
    let map: Vec<usize> = classes
        .iter()
        .map(|c| {
            model.classes.iter().position(|m| m == c).ok_or_else(|| {
                MlError::Invalid(format!(
                    "the dataset has class {c}, which the model never saw"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let y = y.iter().map(|&i| map[i]).collect();
    Ok(Table {
        target: Target::Classes {
            classes: model.classes.clone(),
            y,
        },
        ..table
    })
}

pub(crate) fn importance(params: ImportanceParams, host: &dyn Host) -> Result<Value, MlError> {
    let (name, version, model) = resolve(host, &params.name, params.version)?;
    let record = registry::load(host, &name)?;
    let target = params
        .target
        .or_else(|| record.version(version).ok().and_then(|v| v.target.clone()))
        .ok_or_else(|| {
            MlError::Invalid(
                "permutation importance needs the target column: name it in target".into(),
            )
        })?;
    let kind = match model.task {
        crate::model::TaskKind::Classification => TargetKind::Classes,
        crate::model::TaskKind::Regression => TargetKind::Values,
        crate::model::TaskKind::Clustering => {
            return Err(MlError::Invalid("k-means has no target to lose accuracy on: permutation importance is for classifiers and regressors".into()));
        }
    };
    let table = read_table(
        host,
        &params.dataset,
        Some(&target),
        Some(&model.features),
        kind,
    )?;
    let table = align_classes(&model, table)?;
    let baseline = score(&model, &table)?;
    let repeats = params.repeats.unwrap_or(5).clamp(1, 100);
    let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(params.seed.unwrap_or(0));
    let mut permutation = serde_json::Map::new();
    for (j, feature) in model.features.iter().enumerate() {
        check_cancelled(host)?;
        let mut drops = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let mut shuffled = table.clone();
            let mut column: Vec<f64> = shuffled.x.column(j).to_vec();
            column.shuffle(&mut rng);
            shuffled
                .x
                .column_mut(j)
                .assign(&ndarray::Array1::from(column));
            drops.push(baseline - score(&model, &shuffled)?);
        }
        let mean = drops.iter().sum::<f64>() / repeats as f64;
        let std = (drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / repeats as f64).sqrt();
        permutation.insert(feature.clone(), json!({"mean": mean, "std": std}));
        host.progress(
            (j + 1) as u64,
            model.features.len() as u64,
            "permuting",
            None,
        );
    }
    let impurity = model.impurity_importance().map(|v| {
        model
            .features
            .iter()
            .cloned()
            .zip(v.into_iter().map(Value::from))
            .collect::<serde_json::Map<_, _>>()
    });
    Ok(json!({
        "model_id": format!("{name}:{version}"),
        "metric": if kind == TargetKind::Classes { "accuracy" } else { "r2" },
        "baseline": baseline,
        "repeats": repeats,
        "permutation": permutation,
        "impurity": impurity,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainParams {
    name: String,
    #[serde(default)]
    version: Option<VersionNumber>,
    rows: Vec<Vec<Value>>,
}

pub(crate) fn explain(params: ExplainParams, host: &dyn Host) -> Result<Value, MlError> {
    let (name, version, model) = resolve(host, &params.name, params.version)?;
    let x = rows_matrix(&params.rows, model.features.len())?;
    let predicted = model.predict(&x)?;
    let mut out = Vec::with_capacity(x.nrows());
    for (i, row) in x.rows().into_iter().enumerate() {
        let class = match &predicted {
            Prediction::Classes { labels, .. } => Some(labels[i]),
            _ => None,
        };
        let values = row.to_vec();
        let Some((base, parts)) = model
            .linear_contributions(&values, class)
            .or_else(|| model.tree_contributions(&values, class))
        else {
            return Err(MlError::Invalid(format!(
                "explain covers linear and logistic regression (exact attribution) and trees, forests and boosting (TreeSHAP); this model is {}: use feature_importance for it",
                model.algorithm.name()
            )));
        };
        let contributions: serde_json::Map<String, Value> = model
            .features
            .iter()
            .cloned()
            .zip(parts.iter().map(|v| Value::from(*v)))
            .collect();
        out.push(json!({
            "prediction": class.map_or_else(|| Value::from(base + parts.iter().sum::<f64>()), |c| label(&model, c)),
            "base": base,
            "output": base + parts.iter().sum::<f64>(),
            "contributions": contributions,
        }));
    }
    Ok(json!({
        "model_id": format!("{name}:{version}"),
        "method": match model.algorithm {
            Algorithm::LinearRegression | Algorithm::LogisticRegression => "exact linear attribution: coefficient × feature (standardized when the model scales), intercept as base; they sum to the raw output (value or logit)",
            Algorithm::GradientBoosting => "TreeSHAP (path-dependent, Lundberg et al. 2018) of the raw score (log-odds for classes), summed over the boosted trees; base is the expected score",
            _ => "TreeSHAP (path-dependent, Lundberg et al. 2018) of the predicted class's probability (or the value), averaged over a forest's trees; base is the expected output",
        },
        "explanations": out,
    }))
}
