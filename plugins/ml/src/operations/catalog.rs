//! The operations the engine offers, each with the JSON Schema of its
//! params (the host validates jobs against it).

use weft_sdk::{Operation, Value, json};

use super::{LIFECYCLE, PREDICTIONS, TRAINING};
use crate::model::Algorithm;

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn model_name() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,47}$",
           "description": "The model's name: 1-48 characters of A-Z a-z 0-9 _ . - not starting with '.'"})
}

fn version() -> Value {
    json!({"type": ["integer", "string"], "description": "A version number (default: the deployed one, else the newest registered)"})
}

fn rows() -> Value {
    json!({"type": "array", "items": {"type": "array", "items": {"type": ["number", "boolean"]}},
           "description": "Rows of feature values, in the model's feature order"})
}

pub(super) fn operations() -> Vec<Operation> {
    let named = || {
        object(
            json!({"name": model_name(), "version": version()}),
            &["name"],
        )
    };
    vec![
        Operation::new(
            "train",
            "Train a model on a stored dataset; streams training_progress per epoch, round or tree, then training_complete, and registers a new version",
            object(
                json!({
                    "algorithm": {"type": "string", "enum": Algorithm::ALL},
                    "dataset": {"type": "string", "description": "A dataset uploaded with POST /api/v1/datasets/{name}"},
                    "target": {"type": "string", "description": "The column to predict (not for kmeans)"},
                    "features": {"type": "array", "items": {"type": "string"}, "description": "Feature columns (default: all but the target); numbers or booleans"},
                    "hyperparameters": {"type": "object", "description": "Per algorithm; see docs/ml.md (unknown names are refused)"},
                    "validation_split": {"type": "number", "minimum": 0, "maximum": 0.9, "default": 0.2, "description": "Fraction of rows held out for metrics, progress and early stopping"},
                    "seed": {"type": "integer", "minimum": 0, "description": "Seed for the split and the algorithm (default 0): the same seed trains the same model"},
                    "model": model_name()
                }),
                &["algorithm", "dataset"],
            ),
        )
        .topic(TRAINING)
        .emits(&["training_progress", "training_complete", "lifecycle_event"]),
        Operation::new(
            "federated",
            "Federated averaging (FedAvg) of a linear or logistic model across the partitions of a partitioned dataset: every client's summary, rounds and score run as federated_client in its own sandboxed instance and only sums and weights come back; streams federated_round and training_progress per round, then training_complete, and registers the model",
            object(
                json!({
                    "algorithm": {"type": "string", "enum": ["linear_regression", "logistic_regression"]},
                    "dataset": {"type": "string", "description": "A dataset uploaded with partition_by=<client column>: each non-empty partition is one client"},
                    "target": {"type": "string"},
                    "features": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Feature columns (default: all but the target)"},
                    "rounds": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
                    "local_epochs": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 5, "description": "Full-batch gradient steps each client takes per round"},
                    "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "description": "Default 0.5 (logistic) or 0.1 (linear), on globally standardized features"},
                    "l2": {"type": "number", "minimum": 0, "default": 0},
                    "model": model_name()
                }),
                &["algorithm", "dataset", "target"],
            ),
        )
        .topic(TRAINING)
        .emits(&["federated_round", "training_progress", "training_complete", "lifecycle_event"]),
        Operation::new(
            "federated_client",
            "One federated client's work on its partition (summary, a round of local training, or a score): what `federated` runs in a child instance per partition; not meant to be called directly",
            object(
                json!({
                    "stage": {"type": "string", "enum": ["summary", "train", "score"]},
                    "dataset": {"type": "string"},
                    "partition": {"type": "integer", "minimum": 0},
                    "target": {"type": "string"},
                    "features": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "objective": {"description": "\"linear\" or {\"logistic\": {\"classes\": n}}"},
                    "classes": {"type": "array"},
                    "scaler": {"type": "object"},
                    "weights": {"type": "object"},
                    "epochs": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "learning_rate": {"type": "number", "minimum": 0},
                    "l2": {"type": "number", "minimum": 0}
                }),
                &["stage", "dataset", "partition", "target", "features", "objective"],
            ),
        )
        .topic(TRAINING),
        Operation::new(
            "automl",
            "Algorithm selection and hyperparameter search by successive halving under a time budget; streams automl_progress per trial and automl_complete, and registers the best model",
            object(
                json!({
                    "dataset": {"type": "string"},
                    "target": {"type": "string"},
                    "time_budget_secs": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                    "metric": {"type": "string", "enum": ["accuracy", "f1", "log_loss", "r2", "rmse"], "description": "Default: accuracy (classes) or r2 (values)"},
                    "algorithms": {"type": "array", "items": {"type": "string", "enum": Algorithm::ALL}, "description": "Default: every one that fits the task"},
                    "features": {"type": "array", "items": {"type": "string"}},
                    "task": {"type": "string", "enum": ["classification", "regression"]},
                    "seed": {"type": "integer", "minimum": 0},
                    "model": model_name()
                }),
                &["dataset", "target", "time_budget_secs"],
            ),
        )
        .topic(super::automl::AUTOML)
        .emits(&["automl_progress", "automl_complete", "lifecycle_event"]),
        Operation::new(
            "predict",
            "Predictions from a model for rows or a dataset, streamed in batches of 1,000 as prediction events",
            object(
                json!({"model": {"type": "string", "description": "A model name, or a model id <name>:<version>"}, "version": version(), "rows": rows(), "dataset": {"type": "string"}}),
                &["model"],
            ),
        )
        .topic(PREDICTIONS)
        .emits(&["prediction", "predictions_complete"]),
        Operation::new(
            "feature_importance",
            "Permutation importance (drop in accuracy or R² when a feature is shuffled) on a dataset, and impurity importance for tree models",
            object(
                json!({"name": {"type": "string"}, "version": version(), "dataset": {"type": "string"},
                       "target": {"type": "string", "description": "Default: the column the model was trained to predict"},
                       "repeats": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5}, "seed": {"type": "integer", "minimum": 0}}),
                &["name", "dataset"],
            ),
        )
        .topic(PREDICTIONS),
        Operation::new(
            "explain",
            "Exact per-feature contributions of a linear or logistic model to each row's output",
            object(json!({"name": {"type": "string"}, "version": version(), "rows": rows()}), &["name", "rows"]),
        )
        .topic(PREDICTIONS),
        Operation::new(
            "forecast",
            "Holt-Winters exponential smoothing or ARIMA(p,d,q) forecasts of a series, with prediction intervals",
            object(
                json!({
                    "method": {"type": "string", "enum": ["holt_winters", "arima"]},
                    "horizon": {"type": "integer", "minimum": 1, "maximum": 10000},
                    "values": {"type": "array", "items": {"type": "number"}, "description": "The series, oldest first (or dataset + column)"},
                    "dataset": {"type": "string"},
                    "column": {"type": "string"},
                    "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.95},
                    "trend": {"type": "string", "enum": ["add", "none"], "description": "Holt-Winters: an additive trend"},
                    "seasonal": {"type": "string", "enum": ["add", "mul", "none"], "description": "Holt-Winters: the season"},
                    "seasonal_periods": {"type": "integer", "minimum": 2},
                    "order": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 3, "maxItems": 3, "description": "ARIMA: [p, d, q]"},
                    "smoothing": {"type": "object", "description": "Holt-Winters: fixed alpha, beta, gamma (default: fitted)"}
                }),
                &["method", "horizon"],
            ),
        ),
        Operation::new(
            "export_model",
            "A model version as PMML 4.4 or ONNX (base64) — linear_regression, logistic_regression, decision_tree, random_forest — standardization folded in",
            object(json!({"name": {"type": "string"}, "version": version(), "format": {"type": "string", "enum": ["pmml", "onnx"], "default": "pmml"}}), &["name"]),
        )
        .topic(LIFECYCLE),
        Operation::new(
            "import_model",
            "Register a PMML document (RegressionModel, TreeModel, or a MiningModel averaging TreeModels) as a new version",
            object(
                json!({"name": model_name(), "pmml": {"type": "string", "description": "The document (or upload it as the route's body)"},
                       "body_blob": {"type": "string"}, "body_type": {"type": "string"}}),
                &["name"],
            ),
        )
        .topic(LIFECYCLE)
        .emits(&["lifecycle_event"]),
        Operation::new(
            "quantize",
            "Register a version with int8 weights (linear_regression, logistic_regression, mlp), scored before and after on a dataset",
            object(json!({"name": {"type": "string"}, "version": version(), "dataset": {"type": "string"}, "target": {"type": "string"}}), &["name", "dataset"]),
        )
        .topic(LIFECYCLE)
        .emits(&["lifecycle_event"]),
        Operation::new("list_models", "Every model with its versions", object(json!({}), &[])).topic(LIFECYCLE),
        Operation::new("get_model", "A model's versions (or one version) with metadata and metrics", named()).topic(LIFECYCLE),
        Operation::new("deploy", "Make a version the one predict serves", named()).topic(LIFECYCLE).emits(&["lifecycle_event"]),
        Operation::new("deprecate", "Mark a version deprecated (and undeploy it)", named()).topic(LIFECYCLE).emits(&["lifecycle_event"]),
        Operation::new("delete_model", "Delete a version, or the whole model", named()).topic(LIFECYCLE).emits(&["lifecycle_event"]),
    ]
}
