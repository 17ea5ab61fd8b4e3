//! The engine as Weft sees it: the `score_dataset` job and the session
//! resource.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::{
    Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Operation, Params, Rows,
    StreamEngine,
};

use crate::detector::Algorithm;
use crate::metrics::roc_auc;
use crate::protocol;
use crate::session::{AnomalySession, SessionConfig};

/// The anomaly engine.
pub struct AnomalyEngine;

/// Rows scored between progress reports and cancellation checks.
const PROGRESS_EVERY: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreDataset {
    #[serde(default)]
    rows: Vec<Vec<f64>>,
    #[serde(default)]
    labels: Option<Vec<bool>>,
    /// A stored dataset to score instead of `rows`.
    #[serde(default)]
    dataset: Option<String>,
    /// Its feature columns.
    #[serde(default)]
    columns: Vec<String>,
    /// Its label column (non-zero / true = anomalous).
    #[serde(default)]
    label_column: Option<String>,
    #[serde(default)]
    include_scores: Option<bool>,
    #[serde(flatten)]
    config: SessionConfig,
}

fn session_schema() -> Value {
    json!({
        "algorithm": {"type": "string", "description": "isolation_forest (default), half_space_trees, one_class_svm or robust_zscore"},
        "window_size": {"type": "integer", "minimum": 16, "maximum": 65536},
        "warmup": {"type": "integer", "minimum": 8},
        "contamination": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
        "trees": {"type": "integer", "minimum": 1, "maximum": 1000},
        "drift_delta": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "drift_alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "seed": {"type": "integer", "minimum": 0},
    })
}

/// Loads `dataset`'s feature (and label) columns from host storage into
/// `rows` (and `labels`): typed columns, read chunk by chunk.
fn load_stored(request: &mut ScoreDataset, host: &dyn Host) -> Result<(), EngineError> {
    let Some(dataset) = request.dataset.clone() else {
        return Ok(());
    };
    if !request.rows.is_empty() || request.labels.is_some() {
        return Err(EngineError::InvalidParams(
            "give either rows (and labels) or dataset (and columns), not both".into(),
        ));
    }
    if request.columns.is_empty() {
        return Err(EngineError::InvalidParams(format!(
            "name the feature columns of '{dataset}' to score in `columns`"
        )));
    }
    let mut wanted = request.columns.clone();
    wanted.extend(request.label_column.clone());
    let mut columns = weft_sdk::read_numeric_columns(host, &dataset, &wanted)?;
    if request.label_column.is_some() {
        let labels = columns.pop().unwrap_or_default();
        request.labels = Some(labels.iter().map(|&x| x != 0.0 && !x.is_nan()).collect());
    }
    let height = columns.first().map_or(0, Vec::len);
    request.rows = (0..height)
        .map(|r| columns.iter().map(|c| c[r]).collect::<Vec<f64>>())
        .collect();
    if let Some((r, c)) = request
        .rows
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|x| x.is_nan()).map(|c| (r, c)))
    {
        return Err(EngineError::InvalidParams(format!(
            "row {r} of '{dataset}' has no value in column '{}'; fill or drop it first",
            request.columns[c]
        )));
    }
    Ok(())
}

fn score_dataset(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let mut request: ScoreDataset = params.parse()?;
    load_stored(&mut request, host)?;
    let width = request.rows.first().map_or(0, Vec::len);
    if width == 0 {
        return Err(EngineError::InvalidParams(
            "rows must hold at least one non-empty row".into(),
        ));
    }
    if let Some(i) = request.rows.iter().position(|r| r.len() != width) {
        return Err(EngineError::InvalidParams(format!(
            "row {i} has {} values; row 0 has {width}",
            request.rows[i].len()
        )));
    }
    if let Some(labels) = &request.labels
        && labels.len() != request.rows.len()
    {
        return Err(EngineError::InvalidParams(format!(
            "{} labels for {} rows",
            labels.len(),
            request.rows.len()
        )));
    }
    let algorithm =
        Algorithm::parse(&request.config.algorithm).map_err(EngineError::InvalidParams)?;
    let mut session = AnomalySession::new(request.config)?;
    let total = request.rows.len();
    let mut scores = Vec::with_capacity(total);
    let mut confidences = Vec::with_capacity(total);
    let mut verdicts = Vec::with_capacity(total);
    let mut fitted = Vec::with_capacity(total);
    let mut drifts = Vec::new();
    let mut flat = Vec::with_capacity(PROGRESS_EVERY * width);
    for (chunk_index, chunk) in request.rows.chunks(PROGRESS_EVERY).enumerate() {
        if host.cancelled() {
            return Err(EngineError::Cancelled);
        }
        flat.clear();
        chunk.iter().for_each(|row| flat.extend_from_slice(row));
        let rows = Rows::new(&flat, width)?;
        let (scored, found) = session.push_rows(rows, Some(algorithm))?;
        scores.extend(scored.scores);
        confidences.extend(scored.confidences);
        verdicts.extend(scored.verdicts);
        fitted.extend(scored.fitted);
        drifts.extend(found);
        let done = (chunk_index * PROGRESS_EVERY + chunk.len()) as u64;
        host.progress(
            done,
            total as u64,
            &format!("scored {done} of {total} rows"),
            Some(&json!({"anomalies": verdicts.iter().filter(|v| **v).count()})),
        );
    }
    let first_fitted = fitted.iter().position(|f| *f);
    let auc = request.labels.as_ref().and_then(|labels| {
        let start = first_fitted?;
        roc_auc(&scores[start..], &labels[start..])
    });
    let anomalies = verdicts.iter().filter(|v| **v).count();
    let mut result = json!({
        "algorithm": algorithm.name(),
        "rows": total,
        "anomalies": anomalies,
        "first_fitted_row": first_fitted,
        "roc_auc": auc,
        "drifts": drifts,
        "anomalous_rows": verdicts.iter().enumerate().filter(|(_, v)| **v).map(|(i, _)| i).collect::<Vec<_>>(),
    });
    if request.include_scores.unwrap_or(true) {
        result["scores"] = json!(scores);
        result["confidences"] = json!(confidences);
    }
    host.emit(
        "",
        "detection_complete",
        &json!({"algorithm": algorithm.name(), "rows": total, "anomalies": anomalies, "roc_auc": auc}),
    );
    Ok(result)
}

impl Engine for AnomalyEngine {
    fn describe() -> EngineInfo {
        let mut properties = session_schema();
        if let Value::Object(fields) = &mut properties {
            fields.insert(
                "rows".into(),
                json!({"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": {"type": "number"}}}),
            );
            fields.insert(
                "labels".into(),
                json!({"type": "array", "items": {"type": "boolean"}}),
            );
            fields.insert("include_scores".into(), json!({"type": "boolean"}));
            fields.insert(
                "dataset".into(),
                json!({"type": "string", "description": "a stored dataset to score instead of rows (POST /api/v1/datasets/{name})"}),
            );
            fields.insert(
                "columns".into(),
                json!({"type": "array", "minItems": 1, "items": {"type": "string"}, "description": "the dataset's feature columns"}),
            );
            fields.insert(
                "label_column".into(),
                json!({"type": "string", "description": "the dataset's label column (true / non-zero = anomalous)"}),
            );
        }
        let detection_complete = EventKind::new(
            "detection_complete",
            "A score_dataset job finished",
            json!({"type": "object", "required": ["algorithm", "rows", "anomalies"], "properties": {
                "algorithm": {"type": "string"},
                "rows": {"type": "integer", "minimum": 0},
                "anomalies": {"type": "integer", "minimum": 0},
                "roc_auc": {"type": ["number", "null"]},
            }}),
        );
        let mut events = protocol::events();
        events.push(detection_complete);
        EngineInfo {
            manifest: Manifest {
                events,
                session: Some(protocol::session_protocol(json!({
                    "type": "object",
                    "properties": session_schema(),
                }))),
                subscriptions: protocol::subscriptions(),
                ..Manifest::default()
            },
            name: "anomaly".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: vec![
                Operation::new(
                    "score_dataset",
                    "Scores rows in order as a stream (each row judged before the model learns it); with labels, reports ROC-AUC.",
                    json!({
                        "type": "object",
                        "oneOf": [{"required": ["rows"]}, {"required": ["dataset", "columns"]}],
                        "additionalProperties": false,
                        "properties": properties,
                    }),
                )
                .emits(&["progress", "detection_complete"])
                .topic("detection"),
            ],
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        match op {
            "score_dataset" => score_dataset(params, host),
            other => Err(EngineError::UnknownOperation(other.to_owned())),
        }
    }
}

impl StreamEngine for AnomalyEngine {
    type Session = AnomalySession;

    fn open(config: Params<'_>, _host: &dyn Host) -> Result<AnomalySession, EngineError> {
        AnomalySession::new(config.parse()?)
    }

    fn restore(
        config: Params<'_>,
        snapshot: &[u8],
        _host: &dyn Host,
    ) -> Result<AnomalySession, EngineError> {
        let config: SessionConfig = config.parse()?;
        AnomalySession::restore(snapshot, config.session_id)
    }
}

#[cfg(test)]
mod tests {
    use weft_sdk::RecordingHost;

    use super::*;

    #[test]
    fn scores_a_dataset_with_progress_and_auc() {
        let mut rng = fastrand::Rng::with_seed(4);
        let mut rows: Vec<Vec<f64>> = (0..3000).map(|_| vec![rng.f64(), rng.f64()]).collect();
        let mut labels = vec![false; rows.len()];
        for i in (1000..3000).step_by(100) {
            rows[i] = vec![3.0 + rng.f64(), -2.0];
            labels[i] = true;
        }
        let params = json!({"rows": rows, "labels": labels, "include_scores": false}).to_string();
        let host = RecordingHost::new();
        let result =
            AnomalyEngine::invoke("score_dataset", Params::new(&params), &host).expect("scores");
        assert!(result["roc_auc"].as_f64().expect("auc") > 0.99, "{result}");
        // 256 rows to grow the first forest, 64 more to calibrate its threshold.
        assert_eq!(result["first_fitted_row"], json!(320));
        let progress = host
            .calls()
            .iter()
            .filter(|c| matches!(c, weft_sdk::Recorded::Progress { .. }))
            .count();
        assert_eq!(progress, 3);
    }

    #[test]
    fn a_stored_dataset_is_read_column_by_column() {
        let host = RecordingHost::new().with_dataset(
            "readings",
            vec![
                (
                    "x",
                    weft_sdk::ColumnValues::F64((0..2000).map(|i| (i % 7) as f64).collect()),
                ),
                (
                    "y",
                    weft_sdk::ColumnValues::I64((0..2000).map(|i| i % 5).collect()),
                ),
                (
                    "bad",
                    weft_sdk::ColumnValues::Bool((0..2000).map(|i| i % 500 == 499).collect()),
                ),
            ],
        );
        let params = json!({"dataset": "readings", "columns": ["x", "y"], "label_column": "bad"})
            .to_string();
        let result =
            AnomalyEngine::invoke("score_dataset", Params::new(&params), &host).expect("scores");
        assert_eq!(result["rows"], 2000);
        assert!(result["roc_auc"].is_number(), "{result}");
        let params = json!({"dataset": "nope", "columns": ["x"]}).to_string();
        let error = AnomalyEngine::invoke("score_dataset", Params::new(&params), &host)
            .expect_err("missing");
        assert!(matches!(error, EngineError::NotFound(m) if m.contains("nope")));
    }

    #[test]
    fn ragged_rows_are_refused() {
        let params = json!({"rows": [[1.0, 2.0], [1.0]]}).to_string();
        let error =
            AnomalyEngine::invoke("score_dataset", Params::new(&params), &RecordingHost::new())
                .expect_err("ragged");
        assert!(matches!(error, EngineError::InvalidParams(_)));
    }
}
