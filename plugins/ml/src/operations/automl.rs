//! `automl`: algorithm selection and hyperparameter search by successive
//! halving under a time budget. Every candidate (algorithm × a small grid
//! of hyperparameters) trains on a quarter of the training rows; the best
//! third goes on to half, the best third of those to all of them; each
//! trial is an `automl_progress`, the leaderboard an `automl_complete`,
//! and the best model is registered like a trained one. The budget is
//! checked before every trial (the first always runs), so it is overrun
//! by at most one trial and the full-data fit of the best one.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use super::train::{NewVersion, finish_version, reserve_version};
use crate::data::{Table, Target, TargetKind, read_table};
use crate::linfa_models::SVM_MAX_ROWS;
use crate::model::{Algorithm, Hyperparameters, Model, TaskKind};
use crate::{MlError, check_cancelled, registry};

/// Family topic of AutoML runs (`ml.automl`).
pub(crate) const AUTOML: &str = "automl";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutomlParams {
    dataset: String,
    target: String,
    time_budget_secs: f64,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    features: Option<Vec<String>>,
    #[serde(default)]
    task: Option<TaskKind>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    model: Option<String>,
}

/// Candidates per algorithm: scikit-learn's defaults and a few steps away.
fn grid(algorithm: Algorithm, task: TaskKind) -> Vec<Value> {
    match (algorithm, task) {
        (Algorithm::LogisticRegression, _) => {
            vec![json!({"c": 0.1}), json!({"c": 1.0}), json!({"c": 10.0})]
        }
        (Algorithm::DecisionTree, _) => vec![
            json!({"max_depth": 3}),
            json!({"max_depth": 6}),
            json!({"min_samples_leaf": 5}),
        ],
        (Algorithm::RandomForest, _) => vec![
            json!({"n_estimators": 50}),
            json!({"n_estimators": 50, "max_depth": 8}),
        ],
        (Algorithm::GradientBoosting, _) => vec![
            json!({"n_estimators": 100, "learning_rate": 0.1}),
            json!({"n_estimators": 100, "learning_rate": 0.05, "max_depth": 4}),
        ],
        (Algorithm::Svm, _) => vec![
            json!({"kernel": "rbf", "c": 1.0}),
            json!({"kernel": "rbf", "c": 10.0}),
            json!({"kernel": "linear"}),
        ],
        (Algorithm::Mlp, _) => {
            vec![json!({"hidden_layers": [64], "learning_rate": 0.01, "epochs": 100})]
        }
        (Algorithm::NaiveBayes | Algorithm::LinearRegression, _) => vec![json!({})],
        (Algorithm::Kmeans, _) => Vec::new(),
    }
}

/// Higher is better for every metric as scored here (losses negated).
fn score(model: &Model, table: &Table, metric: &str) -> Result<f64, MlError> {
    let m = model.evaluate(table)?;
    let value = m.get(metric).and_then(Value::as_f64).unwrap_or(f64::NAN);
    Ok(if matches!(metric, "log_loss" | "rmse") {
        -value
    } else {
        value
    })
}

struct Trial {
    algorithm: Algorithm,
    hyperparameters: Value,
    score: f64,
    rows: usize,
    rung: usize,
}

pub(crate) fn automl(params: AutomlParams, host: &dyn Host) -> Result<Value, MlError> {
    let started = Instant::now();
    if !(params.time_budget_secs > 0.0 && params.time_budget_secs <= 3600.0) {
        return Err(MlError::Invalid(format!(
            "time_budget_secs must be more than 0 and at most 3600, not {}",
            params.time_budget_secs
        )));
    }
    let table_kind = |task| {
        if task == TaskKind::Regression {
            TargetKind::Values
        } else {
            TargetKind::Classes
        }
    };
    // The task: given, or read from the target like train does.
    let task = match params.task {
        Some(t) => t,
        None => match host
            .read_chunk(&params.dataset, &params.target, 0)
            .map(|c| c.values)
        {
            Ok(weft_sdk::ColumnValues::F64(_)) => TaskKind::Regression,
            _ => TaskKind::Classification,
        },
    };
    if task == TaskKind::Clustering {
        return Err(MlError::Invalid(
            "automl searches classifiers and regressors; train kmeans directly".into(),
        ));
    }
    let metric = params.metric.clone().unwrap_or_else(|| {
        if task == TaskKind::Regression {
            "r2"
        } else {
            "accuracy"
        }
        .into()
    });
    let allowed: &[&str] = if task == TaskKind::Regression {
        &["r2", "rmse"]
    } else {
        &["accuracy", "f1", "log_loss"]
    };
    if !allowed.contains(&metric.as_str()) {
        return Err(MlError::Invalid(format!(
            "metric '{metric}' does not fit {task:?}: use one of {}",
            allowed.join(", ")
        )));
    }
    let algorithms: Vec<Algorithm> = match &params.algorithms {
        Some(names) => names
            .iter()
            .map(|n| super::train::parse_algorithm(n))
            .collect::<Result<_, _>>()?,
        None => Algorithm::ALL
            .iter()
            .filter_map(|n| super::train::parse_algorithm(n).ok())
            .collect(),
    };
    let name = params
        .model
        .clone()
        .unwrap_or_else(|| super::train::default_name("automl", &params.dataset));
    registry::check_name(&name)?;
    let table = read_table(
        host,
        &params.dataset,
        Some(&params.target),
        params.features.as_deref(),
        table_kind(task),
    )?;
    let seed = params.seed.unwrap_or(0);
    let (train, validation) = table.split(0.2, seed);
    let validation = validation.ok_or_else(|| {
        MlError::Invalid("automl needs at least 5 rows to hold some out for scoring".into())
    })?;

    let mut candidates: Vec<(Algorithm, Value)> = algorithms
        .iter()
        .filter(|a| a.tasks().contains(&task))
        .filter(|a| **a != Algorithm::Svm || train.rows() <= SVM_MAX_ROWS)
        .flat_map(|&a| grid(a, task).into_iter().map(move |hp| (a, hp)))
        .collect();
    if candidates.is_empty() {
        return Err(MlError::Invalid(format!(
            "none of the algorithms given does {task:?}"
        )));
    }
    let rungs = [0.25, 0.5, 1.0];
    let budget = params.time_budget_secs;
    let mut trials: Vec<Trial> = Vec::new();
    let mut best: Option<(f64, Algorithm, Value, Model)> = None;
    let mut out_of_time = false;
    for (rung, fraction) in rungs.iter().enumerate() {
        let take = ((train.rows() as f64 * fraction).round() as usize).clamp(1, train.rows());
        let subset = train.select(&(0..take).collect::<Vec<_>>());
        let mut scored = Vec::new();
        for (algorithm, hp_value) in &candidates {
            check_cancelled(host)?;
            // One trial always runs, so there is a model to answer.
            if !trials.is_empty() && started.elapsed().as_secs_f64() >= budget {
                out_of_time = true;
                break;
            }
            let hp: Hyperparameters = serde_json::from_value(hp_value.clone())
                .map_err(|e| MlError::Invalid(e.to_string()))?;
            let trained = Model::train(*algorithm, task, &subset, None, &hp, seed, &mut |_| {
                check_cancelled(host)
            });
            let s = match trained {
                Ok(model) => {
                    let s = score(&model, &validation, &metric)?;
                    // Only models trained on all rows are kept as the best.
                    if rung + 1 == rungs.len() && best.as_ref().is_none_or(|b| s > b.0) {
                        best = Some((s, *algorithm, hp_value.clone(), model));
                    }
                    s
                }
                Err(MlError::Cancelled) => return Err(MlError::Cancelled),
                // A candidate that cannot fit this data loses; the search goes on.
                Err(_) => f64::NEG_INFINITY,
            };
            let best_so_far = trials
                .iter()
                .map(|t| t.score)
                .chain([s])
                .fold(f64::NEG_INFINITY, f64::max);
            let elapsed = started.elapsed().as_secs_f64();
            host.emit(
                AUTOML,
                "automl_progress",
                &json!({
                    "trial": trials.len() + 1, "rung": rung + 1, "rows": take,
                    "algorithm": algorithm.name(), "hyperparameters": hp_value, "metric": metric,
                    "score": finite(s), "best_score": finite(best_so_far),
                    "elapsed_seconds": elapsed, "budget_left_seconds": (budget - elapsed).max(0.0),
                }),
            );
            trials.push(Trial {
                algorithm: *algorithm,
                hyperparameters: hp_value.clone(),
                score: s,
                rows: take,
                rung: rung + 1,
            });
            scored.push((s, *algorithm, hp_value.clone()));
            host.progress(trials.len() as u64, 0, "searching", None);
        }
        if out_of_time || rung + 1 == rungs.len() {
            break;
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let keep = scored.len().div_ceil(3).max(1);
        candidates = scored
            .into_iter()
            .take(keep)
            .map(|(_, a, hp)| (a, hp))
            .collect();
    }
    // Out of time before a full-data trial: the best candidate so far is
    // trained on all rows anyway, so a model always comes out.
    let (best_score, algorithm, hp_value, model) = match best {
        Some(b) => b,
        None => {
            let top = trials
                .iter()
                .filter(|t| t.score.is_finite())
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .ok_or_else(|| {
                    MlError::Invalid(
                        "no candidate could be trained on this data within the budget".into(),
                    )
                })?;
            let hp: Hyperparameters = serde_json::from_value(top.hyperparameters.clone())
                .map_err(|e| MlError::Invalid(e.to_string()))?;
            let model = Model::train(top.algorithm, task, &train, None, &hp, seed, &mut |_| {
                check_cancelled(host)
            })?;
            (
                score(&model, &validation, &metric)?,
                top.algorithm,
                top.hyperparameters.clone(),
                model,
            )
        }
    };
    let classes = match &table.target {
        Target::Classes { classes, .. } => classes.clone(),
        _ => Vec::new(),
    };
    let version = reserve_version(
        host,
        &name,
        NewVersion {
            algorithm,
            task,
            hyperparameters: hp_value.clone(),
            dataset: &params.dataset,
            target: Some(&params.target),
            features: &table.features,
            classes: &classes,
            rows: json!({"training": train.rows(), "validation": validation.rows()}),
        },
    )?;
    let metrics = Value::Object(model.evaluate(&validation)?);
    registry::save_model(host, &name, version, &model)?;
    finish_version(host, &name, version, &metrics)?;
    super::lifecycle_event(
        host,
        "registered",
        &name,
        version,
        "registered",
        Some(algorithm.name()),
    );
    let mut ranked: Vec<&Trial> = trials.iter().collect();
    ranked.sort_by(|a, b| {
        (b.rung, b.score)
            .partial_cmp(&(a.rung, a.score))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let leaderboard: Vec<Value> = ranked
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"rank": i + 1, "algorithm": t.algorithm.name(), "hyperparameters": t.hyperparameters,
                   "score": finite(t.score), "rows": t.rows, "rung": t.rung})
        })
        .collect();
    let model_id = format!("{name}:{version}");
    let elapsed = started.elapsed().as_secs_f64();
    let complete = json!({
        "model_id": model_id, "model_name": name, "version": version, "metric": metric,
        "best_algorithm": algorithm.name(), "best_hyperparameters": hp_value, "best_score": finite(best_score),
        "trials": trials.len(), "elapsed_seconds": elapsed, "out_of_time": out_of_time, "leaderboard": leaderboard,
    });
    host.emit(AUTOML, "automl_complete", &complete);
    Ok(
        json!({"model_id": model_id, "model": name, "version": version, "metrics": metrics, "automl": complete}),
    )
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
