//! `federated`: FedAvg across the partitions of a partitioned dataset, one
//! client per partition. The coordinator (this job's instance) never reads
//! rows: every client's work — summaries, each round's local training,
//! the final score — runs as `federated_client` in its own sandboxed
//! instance (`weft:host/tasks`), and only sums and weights come back.
//! The coordinator averages (`crate::federated`), streams each round, and
//! registers the model like `train` does.

use std::time::Instant;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_sdk::Host;

use super::TRAINING;
use super::train::{
    NewVersion, Run, default_name, finish_version, record_failure, record_success, reserve_version,
};
use crate::data::{Scaler, Target, TargetKind, read_table_chunks};
use crate::federated::{self, Local, Objective, Score, Summary};
use crate::linfa_models::Linear;
use crate::model::{Algorithm, Estimator, FORMAT, Model, TaskKind};
use crate::registry;
use crate::{MlError, check_cancelled};

/// The op each client's work runs as.
const CLIENT_OP: &str = "federated_client";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FederatedParams {
    algorithm: String,
    dataset: String,
    target: String,
    #[serde(default)]
    features: Option<Vec<String>>,
    #[serde(default)]
    rounds: Option<usize>,
    #[serde(default)]
    local_epochs: Option<usize>,
    #[serde(default)]
    learning_rate: Option<f64>,
    #[serde(default)]
    l2: Option<f64>,
    #[serde(default)]
    model: Option<String>,
}

/// Weights as they cross between instances: features × outputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Weights {
    coefficients: Vec<Vec<f64>>,
    intercepts: Vec<f64>,
}

impl From<&Linear> for Weights {
    fn from(w: &Linear) -> Self {
        Self {
            coefficients: w
                .coefficients
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect(),
            intercepts: w.intercepts.to_vec(),
        }
    }
}

impl Weights {
    fn to_linear(&self, features: usize, outputs: usize) -> Result<Linear, MlError> {
        let ok = self.coefficients.len() == features
            && self.coefficients.iter().all(|r| r.len() == outputs)
            && self.intercepts.len() == outputs;
        if !ok {
            return Err(MlError::Invalid(format!(
                "weights must be {features} × {outputs} with {outputs} intercepts"
            )));
        }
        Ok(Linear {
            coefficients: Array2::from_shape_fn((features, outputs), |(i, j)| {
                self.coefficients[i][j]
            }),
            intercepts: Array1::from(self.intercepts.clone()),
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Stage {
    Summary,
    Train,
    Score,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientParams {
    stage: Stage,
    dataset: String,
    partition: u32,
    target: String,
    features: Vec<String>,
    objective: Objective,
    #[serde(default)]
    classes: Vec<Value>,
    #[serde(default)]
    scaler: Option<Scaler>,
    #[serde(default)]
    weights: Option<Weights>,
    #[serde(default)]
    epochs: usize,
    #[serde(default)]
    learning_rate: f64,
    #[serde(default)]
    l2: f64,
}

/// One client's work, in its own instance.
pub(crate) fn client(params: ClientParams, host: &dyn Host) -> Result<Value, MlError> {
    let partitions = host.dataset_partitions(&params.dataset)?;
    let Some(part) = partitions.iter().find(|p| p.index == params.partition) else {
        return Err(MlError::NotFound(format!(
            "dataset '{}' has no partition {}",
            params.dataset, params.partition
        )));
    };
    let kind = match params.objective {
        Objective::Linear => TargetKind::Values,
        Objective::Logistic { .. } => TargetKind::Classes,
    };
    let table = read_table_chunks(
        host,
        &params.dataset,
        Some(&params.target),
        Some(&params.features),
        kind,
        Some(&part.chunks),
    )?;
    let (labels, y) = match &table.target {
        Target::Classes { classes, y } => {
            if params.classes.is_empty() {
                (classes.clone(), y.iter().map(|&c| c as f64).collect())
            } else {
                // This client's class indices in the federation's classes.
                let global: Result<Vec<f64>, MlError> = y
                    .iter()
                    .map(|&c| {
                        params
                            .classes
                            .iter()
                            .position(|g| g == &classes[c])
                            .map(|i| i as f64)
                            .ok_or_else(|| {
                                MlError::Invalid(format!(
                                    "class {} is not among the federation's",
                                    classes[c]
                                ))
                            })
                    })
                    .collect();
                (classes.clone(), global?)
            }
        }
        Target::Values(v) => (Vec::new(), v.clone()),
        Target::None => (Vec::new(), Vec::new()),
    };
    if let Stage::Summary = params.stage {
        return Ok(json!({
            "rows": table.rows(),
            "classes": labels,
            "summary": Summary::of(&table.x, &y),
        }));
    }
    let scaler = params
        .scaler
        .as_ref()
        .ok_or_else(|| MlError::Invalid("a training or scoring client needs the scaler".into()))?;
    let x = scaler.apply(&table.x);
    let local = Local { x: &x, y: &y };
    let weights = params
        .weights
        .as_ref()
        .ok_or_else(|| MlError::Invalid("a training or scoring client needs the weights".into()))?
        .to_linear(x.ncols(), params.objective.outputs())?;
    match params.stage {
        Stage::Train => {
            let (next, before) = federated::local_train(
                &local,
                &weights,
                params.objective,
                params.epochs,
                params.learning_rate,
                params.l2,
            );
            Ok(json!({"rows": table.rows(), "weights": Weights::from(&next), "before": before}))
        }
        _ => Ok(
            json!({"rows": table.rows(), "score": federated::score(&local, &weights, params.objective)}),
        ),
    }
}

/// A client as the coordinator knows it.
struct Client {
    partition: u32,
    label: String,
    rows: u64,
}

/// The federation's classes: every client's, numbers ascending, else text.
fn merge_classes(parts: &[Vec<Value>]) -> Vec<Value> {
    let mut all: Vec<Value> = parts.iter().flatten().cloned().collect();
    if all.iter().all(Value::is_number) {
        all.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
    } else {
        all.sort_by_key(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    }
    all.dedup();
    all
}

/// What one stage brought back: (client index, answer) of each client that
/// answered, and a description of each that failed.
type Answers = (Vec<(usize, Value)>, Vec<Value>);

/// Runs one stage on every client; a client that fails is left out of
/// the answer and named in `dropped`. All failing fails the job.
fn run_stage(
    host: &dyn Host,
    clients: &[Client],
    params: impl Fn(&Client) -> Value,
) -> Result<Answers, MlError> {
    let asks: Vec<Value> = clients.iter().map(&params).collect();
    let runs = host
        .run_children(CLIENT_OP, &asks)
        .map_err(|why| MlError::Invalid(format!("clients could not be started: {why}")))?;
    let mut answers = Vec::new();
    let mut dropped = Vec::new();
    let mut first_error = None;
    for (i, run) in runs.into_iter().enumerate() {
        match run {
            Ok(answer) => answers.push((i, answer)),
            Err(failure) => {
                first_error.get_or_insert_with(|| failure.message.clone());
                dropped.push(
                    json!({"partition": clients[i].partition, "label": clients[i].label,
                                    "code": failure.code, "message": failure.message}),
                );
            }
        }
    }
    if answers.is_empty() {
        return Err(MlError::Invalid(format!(
            "every client failed; the first said: {}",
            first_error.unwrap_or_default()
        )));
    }
    Ok((answers, dropped))
}

fn field<T: serde::de::DeserializeOwned>(answer: &Value, name: &str) -> Result<T, MlError> {
    serde_json::from_value(answer.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| MlError::Invalid(format!("a client's answer lacks a valid '{name}': {e}")))
}

/// Metrics of a combined score.
fn metrics(score: &Score, objective: Objective, sst: f64) -> serde_json::Map<String, Value> {
    let n = score.rows.max(1) as f64;
    let mut m = serde_json::Map::new();
    match objective {
        Objective::Linear => {
            m.insert(
                "r2".into(),
                json!(if sst > 0.0 {
                    1.0 - score.sse / sst
                } else {
                    0.0
                }),
            );
            m.insert("rmse".into(), json!((score.sse / n).sqrt()));
        }
        Objective::Logistic { .. } => {
            m.insert("accuracy".into(), json!(score.correct as f64 / n));
            m.insert("log_loss".into(), json!(score.loss));
        }
    }
    m
}

pub(crate) fn federated(params: FederatedParams, host: &dyn Host) -> Result<Value, MlError> {
    let started = Instant::now();
    let algorithm = super::train::parse_algorithm(&params.algorithm)?;
    let task = match algorithm {
        Algorithm::LinearRegression => TaskKind::Regression,
        Algorithm::LogisticRegression => TaskKind::Classification,
        other => {
            return Err(MlError::Invalid(format!(
                "federated training does linear_regression and logistic_regression, not {}",
                other.name()
            )));
        }
    };
    let rounds = params.rounds.unwrap_or(20);
    let epochs = params.local_epochs.unwrap_or(5);
    let learning_rate = params.learning_rate.unwrap_or(match task {
        TaskKind::Regression => 0.1,
        _ => 0.5,
    });
    let l2 = params.l2.unwrap_or(0.0);
    let name = params
        .model
        .clone()
        .unwrap_or_else(|| default_name("federated", &params.dataset));
    registry::check_name(&name)?;

    let shape = host.dataset_shape(&params.dataset).map_err(|e| match e {
        weft_sdk::StorageFailure::NotFound(_) => MlError::NotFound(format!(
            "no dataset '{0}': upload it first with POST /api/v1/datasets/{0}?partition_by=<client column>&partitioning=list:<a>,<b>,…",
            params.dataset
        )),
        other => other.into(),
    })?;
    let features: Vec<String> = match params.features.clone() {
        Some(list) => list,
        None => shape
            .columns
            .iter()
            .filter(|c| **c != params.target)
            .cloned()
            .collect(),
    };
    let clients: Vec<Client> = host
        .dataset_partitions(&params.dataset)?
        .into_iter()
        .filter(|p| p.rows > 0)
        .map(|p| Client {
            partition: p.index,
            label: p.label,
            rows: p.rows,
        })
        .collect();
    if clients.is_empty() {
        return Err(MlError::Invalid(format!(
            "dataset '{0}' is not partitioned, so it has no clients: upload it with ?partition_by=<client column>&partitioning=list:<a>,<b>,… (each partition is one client)",
            params.dataset
        )));
    }

    let ask = |c: &Client, stage: Stage, extra: Value| {
        let mut p = json!({"stage": stage, "dataset": params.dataset, "partition": c.partition,
                           "target": params.target, "features": features});
        if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
            p.extend(extra);
        }
        p
    };
    // Round 0: what each client holds, as sums only.
    let provisional = match task {
        TaskKind::Regression => Objective::Linear,
        _ => Objective::Logistic { classes: 2 },
    };
    let (answers, dropped) = run_stage(host, &clients, |c| {
        ask(c, Stage::Summary, json!({"objective": provisional}))
    })?;
    let mut summaries = Vec::new();
    let mut labels = Vec::new();
    for (_, answer) in &answers {
        summaries.push(field::<Summary>(answer, "summary")?);
        labels.push(field::<Vec<Value>>(answer, "classes")?);
    }
    let clients: Vec<Client> = clients
        .into_iter()
        .enumerate()
        .filter(|(i, _)| answers.iter().any(|(j, _)| j == i))
        .map(|(_, c)| c)
        .collect();
    let classes = merge_classes(&labels);
    let objective = match task {
        TaskKind::Regression => Objective::Linear,
        _ if classes.len() < 2 => {
            return Err(MlError::Invalid(format!(
                "target '{}' has one class across all clients: a classifier needs two or more",
                params.target
            )));
        }
        _ => Objective::Logistic {
            classes: classes.len(),
        },
    };
    let total = Summary::total(&summaries);
    let scaler = total.scaler();
    check_cancelled(host)?;

    let client_rows = json!(
        clients
            .iter()
            .map(|c| json!({"partition": c.partition, "label": c.label, "rows": c.rows}))
            .collect::<Vec<_>>()
    );
    let version = reserve_version(
        host,
        &name,
        NewVersion {
            algorithm,
            task,
            hyperparameters: json!({"federated": true, "rounds": rounds, "local_epochs": epochs,
                                    "learning_rate": learning_rate, "l2": l2}),
            dataset: &params.dataset,
            target: Some(&params.target),
            features: &features,
            classes: &classes,
            rows: json!({"training": total.rows, "validation": 0, "clients": client_rows}),
        },
    )?;
    let run = Run {
        name: &name,
        version,
        algorithm,
    };
    let model_id = format!("{name}:{version}");
    let common = json!({"objective": objective, "classes": classes, "scaler": scaler});
    let with = |extra: Value| {
        let mut merged = common.clone();
        if let (Some(m), Value::Object(extra)) = (merged.as_object_mut(), extra) {
            m.extend(extra);
        }
        merged
    };
    let mut weights = federated::zeros(features.len(), objective);
    let mut history = Vec::new();
    let outcome = (|| -> Result<Score, MlError> {
        for round in 1..=rounds {
            let round_started = Instant::now();
            let sent = Weights::from(&weights);
            let stage = with(
                json!({"weights": sent, "epochs": epochs, "learning_rate": learning_rate, "l2": l2}),
            );
            let (answers, dropped) =
                run_stage(host, &clients, |c| ask(c, Stage::Train, stage.clone()))?;
            let mut updates = Vec::new();
            let mut scores = Vec::new();
            let mut reports = Vec::new();
            for (i, answer) in &answers {
                let rows: usize = field(answer, "rows")?;
                let w: Weights = field(answer, "weights")?;
                let before: Score = field(answer, "before")?;
                updates.push((w.to_linear(features.len(), objective.outputs())?, rows));
                let m = metrics(&before, objective, f64::NAN);
                reports.push(json!({"partition": clients[*i].partition, "label": clients[*i].label,
                                    "rows": rows, "loss": before.loss, "accuracy": m.get("accuracy")}));
                scores.push(before);
            }
            weights = federated::average(&updates)
                .ok_or_else(|| MlError::Invalid("no client had rows to train on".into()))?;
            let global = federated::combine(&scores);
            let m = metrics(&global, objective, total.target_sst());
            let elapsed = started.elapsed().as_secs_f64();
            let eta = elapsed / round as f64 * (rounds - round) as f64;
            history.push(json!({"round": round, "loss": global.loss, "metrics": m}));
            host.emit(
                TRAINING,
                "federated_round",
                &json!({"model_id": model_id, "model_name": name, "round": round, "rounds": rounds,
                        "clients": reports, "dropped": dropped, "loss": global.loss, "metrics": m,
                        "round_ms": round_started.elapsed().as_secs_f64() * 1000.0}),
            );
            host.emit(
                TRAINING,
                "training_progress",
                &json!({"model_id": model_id, "model_name": name, "version": version,
                        "algorithm": algorithm.name(), "epoch": round, "total_epochs": rounds,
                        "loss": global.loss, "validation_loss": null,
                        "validation_accuracy": m.get("accuracy"), "validation_r2": m.get("r2"),
                        "learning_rate": learning_rate, "elapsed_ms": elapsed * 1000.0, "eta_seconds": eta}),
            );
            host.progress(round as u64, rounds as u64, "federated rounds", None);
            check_cancelled(host)?;
        }
        let last = with(json!({"weights": Weights::from(&weights)}));
        let (answers, _) = run_stage(host, &clients, |c| ask(c, Stage::Score, last.clone()))?;
        let scores: Result<Vec<Score>, MlError> =
            answers.iter().map(|(_, a)| field(a, "score")).collect();
        Ok(federated::combine(&scores?))
    })();
    let elapsed_ms = || started.elapsed().as_secs_f64() * 1000.0;
    let score = match outcome {
        Ok(score) => score,
        Err(error) => {
            record_failure(host, &run, history.len(), elapsed_ms(), &error);
            return Err(error);
        }
    };
    let metrics = Value::Object(metrics(&score, objective, total.target_sst()));
    let model = Model {
        format: FORMAT,
        algorithm,
        task,
        features: features.clone(),
        classes: classes.clone(),
        scaler: Some(scaler),
        estimator: match objective {
            Objective::Linear => Estimator::Linear(weights.clone()),
            Objective::Logistic { .. } => Estimator::Logistic(weights.clone()),
        },
    };
    if let Err(error) = registry::save_model(host, &name, version, &model)
        .and_then(|()| finish_version(host, &name, version, &metrics))
    {
        record_failure(host, &run, history.len(), elapsed_ms(), &error);
        return Err(error);
    }
    record_success(host, &run, rounds, &metrics, elapsed_ms());
    Ok(json!({
        "model_id": model_id,
        "model": name,
        "version": version,
        "algorithm": algorithm.name(),
        "task": format!("{task:?}").to_lowercase(),
        "features": features,
        "classes": classes,
        "clients": client_rows,
        "dropped": dropped,
        "rounds": rounds,
        "local_epochs": epochs,
        "learning_rate": learning_rate,
        "history": history,
        "metrics": metrics,
        "weights": Weights::from(&weights),
        "elapsed_ms": elapsed_ms(),
    }))
}
