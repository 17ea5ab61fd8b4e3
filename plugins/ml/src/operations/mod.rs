//! The engine's operations: JSON params in, JSON results out, events and
//! progress to the host. The algorithms live in the crate's other
//! modules; this one declares the surface (routes, endpoints, event kinds,
//! subscriptions) and translates.

use serde::Deserialize;
use weft_sdk::{
    Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Params, Route,
    Subscription, Value,
};

use crate::MlError;

mod automl;
mod catalog;
mod exchange;
mod federated;
mod forecast;
mod lifecycle;
mod quantize;
mod serve;
mod train;

/// The ML engine as a Weft [`Engine`].
pub struct MlEngine;

/// Family topic of training runs (`ml.training`).
pub(crate) const TRAINING: &str = "training";
/// Family topic of predictions (`ml.predictions`).
pub(crate) const PREDICTIONS: &str = "predictions";
/// Family topic of registry changes (`ml.lifecycle`).
pub(crate) const LIFECYCLE: &str = "lifecycle";

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A version number given in a path (text) or a body (number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VersionNumber(pub(crate) u32);

impl<'de> Deserialize<'de> for VersionNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u32),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(Self(n)),
            Either::Text(t) => t.parse().map(Self).map_err(|_| {
                serde::de::Error::custom(format!(
                    "version '{t}' should be a whole number such as 1"
                ))
            }),
        }
    }
}

fn manifest() -> Manifest {
    let route =
        |method, path: &str, op: &str, description: &str| Route::new(method, path, op, description);
    Manifest {
        routes: vec![
            route(Method::Post, "/api/v1/ml/train", "train", "Train a model on a stored dataset (a job: 202 and its id; watch /api/v1/ws/ml/training)")
                .as_job(),
            route(Method::Post, "/api/v1/ml/federated", "federated", "Federated averaging across a partitioned dataset's partitions, each client's round in its own sandboxed instance; registers the model (a job; watch /api/v1/ws/ml/training)")
                .as_job(),
            route(Method::Post, "/api/v1/ml/automl", "automl", "Search algorithms and hyperparameters under a time budget; registers the best (a job; watch /api/v1/ws/ml/automl)")
                .as_job(),
            route(Method::Post, "/api/v1/ml/forecast", "forecast", "Holt-Winters or ARIMA forecasts with prediction intervals"),
            route(Method::Post, "/api/v1/ml/predict", "predict", "Predictions from a model for rows or a dataset"),
            route(Method::Get, "/api/v1/ml/models", "list_models", "Every model, its versions and which is deployed"),
            route(Method::Get, "/api/v1/ml/models/{name}", "get_model", "A model's versions with their metadata and metrics"),
            route(Method::Delete, "/api/v1/ml/models/{name}", "delete_model", "Delete a model and every version").status(200),
            route(Method::Delete, "/api/v1/ml/models/{name}/versions/{version}", "delete_model", "Delete one version"),
            route(Method::Post, "/api/v1/ml/models/{name}/versions/{version}/deploy", "deploy", "Make this version the one predict uses"),
            route(Method::Post, "/api/v1/ml/models/{name}/versions/{version}/deprecate", "deprecate", "Mark a version deprecated (undeploying it)"),
            route(Method::Get, "/api/v1/ml/models/{name}/versions/{version}/export", "export_model", "The version as PMML 4.4 (?format=pmml, default) or ONNX (?format=onnx, base64): linear, logistic, tree and forest models"),
            route(Method::Post, "/api/v1/ml/models/{name}/import", "import_model", "Register a PMML document (the body, application/xml) as a new version")
                .body(weft_sdk::Body::Bytes("application/xml".into()))
                .status(201),
            route(Method::Post, "/api/v1/ml/models/{name}/quantize", "quantize", "A new version with int8 weights (linear, logistic, MLP), scored before and after on a dataset"),
            route(Method::Post, "/api/v1/ml/models/{name}/importance", "feature_importance", "Permutation importance on a dataset, and impurity importance for trees"),
            route(Method::Post, "/api/v1/ml/models/{name}/explain", "explain", "Per-feature contributions to rows' predictions (exact, linear models)"),
        ],
        endpoints: vec![
            Endpoint::new("/api/v1/ws/ml/training", TRAINING, "Training progress per epoch and training_complete (seed 000 §2.1)")
                .request("train_request", "train")
                .request("federated_request", "federated"),
            Endpoint::new("/api/v1/ws/ml/predictions", PREDICTIONS, "Batches of predictions and predictions_complete (seed 000 §2.1)")
                .request("predict_request", "predict"),
            Endpoint::new("/api/v1/ws/ml/automl", automl::AUTOML, "AutoML trials and the leaderboard (seed 000 §2.1)")
                .request("automl_request", "automl"),
            Endpoint::new("/api/v1/ws/ml/lifecycle", LIFECYCLE, "Model lifecycle: created, registered, deployed, deprecated, deleted (seed 000 §2.1)"),
        ],
        events: vec![
            EventKind::new("training_progress", "One epoch, boosting round or forest tree of a training run.", schema(include_str!("../../schemas/training_progress.json"))),
            EventKind::new("training_complete", "A training run ended: registered (with metrics), failed or cancelled.", schema(include_str!("../../schemas/training_complete.json"))),
            EventKind::new("federated_round", "One round of federated averaging: each client's rows and score of the global model it received, clients dropped, the combined loss and metrics.", schema(include_str!("../../schemas/federated_round.json"))),
            EventKind::new("prediction", "A batch of predictions, with confidences and probabilities for classifiers.", schema(include_str!("../../schemas/prediction.json"))),
            EventKind::new("predictions_complete", "A predict job has sent every batch.", schema(include_str!("../../schemas/predictions_complete.json"))),
            EventKind::new("automl_progress", "One AutoML trial: algorithm, hyperparameters, score, best so far, budget left.", schema(include_str!("../../schemas/automl_progress.json"))),
            EventKind::new("automl_complete", "An AutoML search ended: the leaderboard and the model registered.", schema(include_str!("../../schemas/automl_complete.json"))),
            EventKind::new("lifecycle_event", "A model version was created, registered, deployed, deprecated, deleted or failed.", schema(include_str!("../../schemas/lifecycle_event.json"))),
        ],
        subscriptions: vec![
            Subscription::new("mlTrainingProgress", TRAINING, &["training_progress", "training_complete"], "Training progress: of one run (jobId) or of all, optionally of one model_id or model_name")
                .filter("model_id")
                .filter("model_name")
                .ends_with("training_complete"),
            Subscription::new("mlPredictions", PREDICTIONS, &["prediction", "predictions_complete"], "Prediction batches: of one job (jobId) or of all, optionally of one model_id")
                .filter("model_id")
                .filter("model_name")
                .ends_with("predictions_complete"),
            Subscription::new("mlModelLifecycle", LIFECYCLE, &["lifecycle_event"], "Registry changes, optionally of one model_name or event_type")
                .filter("model_name")
                .filter("event_type"),
        ],
        ..Manifest::default()
    }
}

impl Engine for MlEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "ml".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: catalog::operations(),
            manifest: manifest(),
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        let answer: Result<Value, MlError> = match op {
            "train" => train::train(params.parse()?, host),
            "federated" => federated::federated(params.parse()?, host),
            "federated_client" => federated::client(params.parse()?, host),
            "automl" => automl::automl(params.parse()?, host),
            "forecast" => forecast::forecast(params.parse()?, host),
            "predict" => serve::predict(params.parse()?, host),
            "feature_importance" => serve::importance(params.parse()?, host),
            "explain" => serve::explain(params.parse()?, host),
            "export_model" => exchange::export(params.parse()?, host),
            "import_model" => exchange::import(params.parse()?, host),
            "quantize" => quantize::quantize(params.parse()?, host),
            "list_models" => lifecycle::list(host),
            "get_model" => lifecycle::get(params.parse()?, host),
            "deploy" => lifecycle::deploy(params.parse()?, host),
            "deprecate" => lifecycle::deprecate(params.parse()?, host),
            "delete_model" => lifecycle::delete(params.parse()?, host),
            other => return Err(EngineError::UnknownOperation(other.into())),
        };
        answer.map_err(EngineError::from)
    }
}

/// Publishes a `lifecycle_event`.
pub(crate) fn lifecycle_event(
    host: &dyn Host,
    event_type: &str,
    name: &str,
    version: u32,
    state: &str,
    algorithm: Option<&str>,
) {
    let mut data = weft_sdk::json!({
        "event_type": event_type,
        "model_id": format!("{name}:{version}"),
        "model_name": name,
        "version": version,
        "state": state,
        "timestamp": weft_sdk::rfc3339(weft_sdk::now_ms()),
    });
    if let (Some(a), Value::Object(m)) = (algorithm, &mut data) {
        m.insert("algorithm".into(), a.into());
    }
    host.emit(LIFECYCLE, "lifecycle_event", &data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_and_every_schema_parse() {
        let info = MlEngine::describe();
        for kind in &info.manifest.events {
            assert!(kind.schema.is_object(), "{}", kind.name);
        }
        for op in &info.operations {
            assert!(op.params_schema.is_object(), "{}", op.name);
        }
        assert_eq!(info.manifest.subscriptions.len(), 3);
    }

    #[test]
    fn versions_read_from_paths_and_bodies() {
        let v: VersionNumber = serde_json::from_str("\"3\"").expect("text");
        assert_eq!(v, VersionNumber(3));
        let v: VersionNumber = serde_json::from_str("4").expect("number");
        assert_eq!(v, VersionNumber(4));
        assert!(serde_json::from_str::<VersionNumber>("\"x\"").is_err());
    }
}
