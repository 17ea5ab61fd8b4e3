//! `quantize`: a new version of a linear, logistic or MLP model with int8
//! weights, and what that cost: its score before and after on a dataset
//! the caller names, the share of predictions that changed, and the bytes
//! of weights saved.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use super::VersionNumber;
use super::serve::resolve;
use super::train::{NewVersion, finish_version, reserve_version};
use crate::data::{Target, TargetKind, read_table};
use crate::model::{Prediction, TaskKind};
use crate::{MlError, registry};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuantizeParams {
    name: String,
    #[serde(default)]
    version: Option<VersionNumber>,
    dataset: String,
    #[serde(default)]
    target: Option<String>,
}

fn agreement(a: &Prediction, b: &Prediction) -> f64 {
    match (a, b) {
        (Prediction::Classes { labels: x, .. }, Prediction::Classes { labels: y, .. }) => {
            x.iter().zip(y).filter(|(p, q)| p == q).count() as f64 / x.len().max(1) as f64
        }
        _ => f64::NAN,
    }
}

pub(crate) fn quantize(params: QuantizeParams, host: &dyn Host) -> Result<Value, MlError> {
    let (name, version, model) = resolve(host, &params.name, params.version)?;
    let record = registry::load(host, &name)?;
    let entry = record.version(version)?.clone();
    let (small, (before_bytes, after_bytes)) = model.quantized().ok_or_else(|| {
        MlError::Invalid(format!(
            "int8 quantization covers linear_regression, logistic_regression and mlp; this model is {}",
            model.algorithm.name()
        ))
    })?;
    let target = params
        .target
        .or(entry.target.clone())
        .ok_or_else(|| MlError::Invalid("name the target column to score on".into()))?;
    let kind = if model.task == TaskKind::Classification {
        TargetKind::Classes
    } else {
        TargetKind::Values
    };
    let table = read_table(
        host,
        &params.dataset,
        Some(&target),
        Some(&model.features),
        kind,
    )?;
    if let (Target::Classes { classes, .. }, TaskKind::Classification) = (&table.target, model.task)
        && classes != &model.classes
    {
        return Err(MlError::Invalid(
            "the dataset's classes differ from the model's: score on data with the same classes"
                .into(),
        ));
    }
    let before = Value::Object(model.evaluate(&table)?);
    let after = Value::Object(small.evaluate(&table)?);
    let same = agreement(&model.predict(&table.x)?, &small.predict(&table.x)?);
    let new_version = reserve_version(
        host,
        &name,
        NewVersion {
            algorithm: model.algorithm,
            task: model.task,
            hyperparameters: json!({"quantized_from": version, "weights": "int8"}),
            dataset: &entry.dataset,
            target: entry.target.as_deref(),
            features: &model.features,
            classes: &model.classes,
            rows: entry.rows.clone(),
        },
    )?;
    registry::save_model(host, &name, new_version, &small)?;
    finish_version(host, &name, new_version, &after)?;
    super::lifecycle_event(
        host,
        "registered",
        &name,
        new_version,
        "registered",
        Some(model.algorithm.name()),
    );
    Ok(json!({
        "model_id": format!("{name}:{new_version}"),
        "from": format!("{name}:{version}"),
        "weights_bytes": {"f64": before_bytes, "int8": after_bytes},
        "before": before,
        "after": after,
        "same_predictions": if same.is_finite() { Value::from(same) } else { Value::Null },
    }))
}
