//! `train`: read the dataset, reserve a version in the registry, fit with
//! every step streamed, evaluate, store the model and register it.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::{ColumnValues, Host};

use super::{TRAINING, lifecycle_event};
use crate::data::{TargetKind, read_table};
use crate::model::{Algorithm, Hyperparameters, Model, Progress, TaskKind};
use crate::registry::{self, Record, State, Version};
use crate::{MlError, check_cancelled};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrainParams {
    algorithm: String,
    dataset: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    features: Option<Vec<String>>,
    #[serde(default)]
    hyperparameters: Option<Value>,
    #[serde(default)]
    validation_split: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    model: Option<String>,
}

pub(crate) fn parse_algorithm(name: &str) -> Result<Algorithm, MlError> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|_| {
        MlError::Invalid(format!(
            "unknown algorithm '{name}': use one of {}",
            Algorithm::ALL.join(", ")
        ))
    })
}

fn parse_hyperparameters(value: Option<&Value>) -> Result<Hyperparameters, MlError> {
    match value {
        None | Some(Value::Null) => Ok(Hyperparameters::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            MlError::Invalid(format!(
                "hyperparameters: {e} (see docs/ml.md for each algorithm's)"
            ))
        }),
    }
}

/// The default task of an algorithm doing both: classes for text,
/// boolean or integer targets, values for floats.
fn default_task(
    host: &dyn Host,
    algorithm: Algorithm,
    dataset: &str,
    target: Option<&str>,
) -> Result<TaskKind, MlError> {
    let tasks = algorithm.tasks();
    if tasks.len() == 1 {
        return Ok(tasks[0]);
    }
    let Some(target) = target else {
        return Ok(tasks[0]);
    };
    let real = match host.read_chunk(dataset, target, 0) {
        Ok(chunk) => matches!(chunk.values, ColumnValues::F64(_)),
        // The table read that follows names the missing column or dataset.
        Err(_) => false,
    };
    Ok(if real {
        TaskKind::Regression
    } else {
        TaskKind::Classification
    })
}

/// A model's name when the caller gives none: `<prefix>-<dataset>`, cut to
/// the 48 characters a name may have.
pub(crate) fn default_name(prefix: &str, dataset: &str) -> String {
    format!("{prefix}-{dataset}").chars().take(48).collect()
}

pub(crate) fn train(params: TrainParams, host: &dyn Host) -> Result<Value, MlError> {
    let started = Instant::now();
    let algorithm = parse_algorithm(&params.algorithm)?;
    let hp = parse_hyperparameters(params.hyperparameters.as_ref())?;
    let task = match hp.task {
        Some(task) => task,
        None => default_task(host, algorithm, &params.dataset, params.target.as_deref())?,
    };
    if !algorithm.tasks().contains(&task) {
        return Err(MlError::Invalid(format!(
            "{} does not do {task:?} (it does {:?})",
            algorithm.name(),
            algorithm.tasks()
        )));
    }
    if task != TaskKind::Clustering && params.target.is_none() {
        return Err(MlError::Invalid(format!(
            "{} needs a target: name the column to predict",
            algorithm.name()
        )));
    }
    let split = params.validation_split.unwrap_or(0.2);
    if !(0.0..=0.9).contains(&split) {
        return Err(MlError::Invalid(format!(
            "validation_split must be between 0 and 0.9, not {split}"
        )));
    }
    let name = params
        .model
        .clone()
        .unwrap_or_else(|| default_name(algorithm.name(), &params.dataset));
    registry::check_name(&name)?;
    let kind = match task {
        TaskKind::Classification => TargetKind::Classes,
        TaskKind::Regression => TargetKind::Values,
        TaskKind::Clustering => TargetKind::None,
    };
    let table = read_table(
        host,
        &params.dataset,
        params.target.as_deref(),
        params.features.as_deref(),
        kind,
    )?;
    let seed = params.seed.unwrap_or(0);
    let (train_rows, validation) = table.split(split, seed);
    check_cancelled(host)?;

    // Reserve the version first, so progress can name it.
    let classes = match &table.target {
        crate::data::Target::Classes { classes, .. } => classes.clone(),
        _ => Vec::new(),
    };
    let rows = json!({"training": train_rows.rows(), "validation": validation.as_ref().map_or(0, |v| v.rows())});
    let version = reserve_version(
        host,
        &name,
        NewVersion {
            algorithm,
            task,
            hyperparameters: params.hyperparameters.clone().unwrap_or(json!({})),
            dataset: &params.dataset,
            target: params.target.as_deref(),
            features: &table.features,
            classes: &classes,
            rows: rows.clone(),
        },
    )?;
    let model_id = format!("{name}:{version}");

    let mut steps = 0usize;
    let fitted = Model::train(
        algorithm,
        task,
        &train_rows,
        validation.as_ref(),
        &hp,
        seed,
        &mut |p: &Progress| {
            steps = p.epoch;
            let elapsed = started.elapsed().as_secs_f64();
            let eta = elapsed / p.epoch as f64 * p.total_epochs.saturating_sub(p.epoch) as f64;
            let (accuracy, r2) = match task {
                TaskKind::Classification => (p.validation_score, None),
                _ => (None, p.validation_score),
            };
            host.emit(
            TRAINING,
            "training_progress",
            &json!({
                "model_id": model_id, "model_name": name, "version": version,
                "algorithm": algorithm.name(), "epoch": p.epoch, "total_epochs": p.total_epochs,
                "loss": finite(p.loss), "validation_loss": finite(p.validation_loss),
                "validation_accuracy": finite(accuracy), "validation_r2": finite(r2),
                "learning_rate": p.learning_rate, "elapsed_ms": elapsed * 1000.0, "eta_seconds": eta,
            }),
        );
            host.progress(p.epoch as u64, p.total_epochs as u64, "training", None);
            check_cancelled(host)
        },
    );
    let evaluated = fitted.and_then(|model| {
        let metrics = model.evaluate(validation.as_ref().unwrap_or(&train_rows))?;
        registry::save_model(host, &name, version, &model)?;
        Ok((model, metrics))
    });
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (model, metrics) = match evaluated {
        Ok(done) => done,
        Err(error) => {
            let run = Run {
                name: &name,
                version,
                algorithm,
            };
            record_failure(host, &run, steps, elapsed_ms, &error);
            return Err(error);
        }
    };
    let metrics = Value::Object(metrics);
    finish_version(host, &name, version, &metrics)?;
    let epochs = steps.max(1);
    let run = Run {
        name: &name,
        version,
        algorithm,
    };
    record_success(host, &run, epochs, &metrics, elapsed_ms);
    Ok(json!({
        "model_id": model_id,
        "model": name,
        "version": version,
        "algorithm": algorithm.name(),
        "task": format!("{task:?}").to_lowercase(),
        "features": model.features,
        "classes": model.classes,
        "metrics": metrics,
        "epochs": epochs,
        "rows": rows,
        "elapsed_ms": elapsed_ms,
    }))
}

/// The version a training run fills in.
pub(crate) struct Run<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: u32,
    pub(crate) algorithm: Algorithm,
}

/// Says a run's version is registered: a `training_complete` with its
/// metrics and a `registered` lifecycle event.
pub(crate) fn record_success(
    host: &dyn Host,
    run: &Run<'_>,
    epochs: usize,
    metrics: &Value,
    elapsed_ms: f64,
) {
    host.emit(
        TRAINING,
        "training_complete",
        &json!({
            "model_id": format!("{}:{}", run.name, run.version), "model_name": run.name,
            "version": run.version, "algorithm": run.algorithm.name(), "status": "registered",
            "epochs": epochs, "metrics": metrics, "elapsed_ms": elapsed_ms,
        }),
    );
    lifecycle_event(
        host,
        "registered",
        run.name,
        run.version,
        "registered",
        Some(run.algorithm.name()),
    );
}

/// Marks a run's version failed (or cancelled) and says so: a
/// `training_complete` with the error and a `failed` lifecycle event.
pub(crate) fn record_failure(
    host: &dyn Host,
    run: &Run<'_>,
    steps: usize,
    elapsed_ms: f64,
    error: &MlError,
) {
    let status = if *error == MlError::Cancelled {
        "cancelled"
    } else {
        "failed"
    };
    let message = error.to_string();
    // Best effort: the job fails with `error` whatever happens here.
    let _ = registry::update(host, run.name, |old| {
        let mut record = old.unwrap_or_default();
        if let Ok(v) = record.version_mut(run.version) {
            v.state = State::Failed;
            v.error = Some(message.clone());
        }
        Ok(Some(record))
    });
    host.emit(
        TRAINING,
        "training_complete",
        &json!({
            "model_id": format!("{}:{}", run.name, run.version), "model_name": run.name,
            "version": run.version, "algorithm": run.algorithm.name(), "status": status,
            "epochs": steps, "metrics": {}, "elapsed_ms": elapsed_ms, "error": message,
        }),
    );
    lifecycle_event(
        host,
        "failed",
        run.name,
        run.version,
        "failed",
        Some(run.algorithm.name()),
    );
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// What a new version records before it is trained.
pub(crate) struct NewVersion<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) task: TaskKind,
    pub(crate) hyperparameters: Value,
    pub(crate) dataset: &'a str,
    pub(crate) target: Option<&'a str>,
    pub(crate) features: &'a [String],
    pub(crate) classes: &'a [Value],
    pub(crate) rows: Value,
}

/// Adds a version in state `training` to model `name` (creating it) and
/// announces it; answers its number.
pub(crate) fn reserve_version(
    host: &dyn Host,
    name: &str,
    new: NewVersion<'_>,
) -> Result<u32, MlError> {
    let created_at = weft_sdk::rfc3339(weft_sdk::now_ms());
    let mut version = 0;
    registry::update(host, name, |old| {
        let mut record = old.unwrap_or_else(|| Record {
            name: name.to_owned(),
            next_version: 1,
            ..Record::default()
        });
        version = record.next_version.max(1);
        record.next_version = version + 1;
        record.versions.push(Version {
            version,
            model_id: format!("{name}:{version}"),
            state: State::Training,
            algorithm: new.algorithm.name().into(),
            task: format!("{:?}", new.task).to_lowercase(),
            hyperparameters: new.hyperparameters.clone(),
            metrics: json!({}),
            dataset: new.dataset.to_owned(),
            target: new.target.map(str::to_owned),
            features: new.features.to_vec(),
            classes: new.classes.to_vec(),
            rows: new.rows.clone(),
            created_at: created_at.clone(),
            error: None,
        });
        Ok(Some(record))
    })?;
    lifecycle_event(
        host,
        "created",
        name,
        version,
        "training",
        Some(new.algorithm.name()),
    );
    Ok(version)
}

/// Marks a trained version (its model already stored) registered.
pub(crate) fn finish_version(
    host: &dyn Host,
    name: &str,
    version: u32,
    metrics: &Value,
) -> Result<(), MlError> {
    registry::update(host, name, |old| {
        let mut record = old.ok_or_else(|| {
            MlError::Conflict(format!("model '{name}' was deleted while it trained"))
        })?;
        let v = record.version_mut(version)?;
        v.state = State::Registered;
        v.metrics = metrics.clone();
        Ok(Some(record))
    })?;
    Ok(())
}
