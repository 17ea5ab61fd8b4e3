//! The messages of the anomaly streaming protocol (seed 004): what clients
//! send and the JSON the server answers with. Every server message has a
//! `type`; answers to a request carry its `request_id`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use weft_runtime::SessionScores;

use super::sessions::SessionHandle;

/// A client message. Fields not used by its `type` are ignored, so the
/// seed's clients (which add `timestamp`) work unchanged.
#[derive(Debug, Deserialize)]
pub(crate) struct ClientMessage {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    /// `sample`: one row. `alert`: the alert's fields.
    #[serde(default)]
    pub(crate) data: Option<Value>,
    /// `batch`: rows.
    #[serde(default)]
    pub(crate) batch_data: Option<Value>,
    #[serde(default)]
    pub(crate) algorithm: Option<String>,
    #[serde(default)]
    pub(crate) sample_id: Option<String>,
    #[serde(default)]
    pub(crate) sample_ids: Option<Vec<String>>,
    /// `subscribe`/`config`/`drift`/`alert` parameters.
    #[serde(default)]
    pub(crate) config: Option<Value>,
    /// `subscribe`: shorthand for `config.topic`.
    #[serde(default)]
    pub(crate) topic: Option<String>,
    /// `drift`: shorthand for `config.window_size`.
    #[serde(default)]
    pub(crate) window_size: Option<u64>,
    /// `batch`: `"rows"` (default, one object per row) or `"columns"`
    /// (one array per field).
    #[serde(default)]
    pub(crate) format: Option<String>,
}

/// Message types a client may send.
pub(crate) const CLIENT_TYPES: [&str; 9] = [
    "sample",
    "batch",
    "stats",
    "drift",
    "subscribe",
    "unsubscribe",
    "ping",
    "alert",
    "config",
];

/// Topics a client may subscribe to within its session.
pub(crate) const TOPICS: [&str; 3] = ["anomalies", "alerts", "stats"];

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn with_request(mut body: Value, request_id: Option<&str>) -> String {
    if let (Value::Object(fields), Some(id)) = (&mut body, request_id) {
        fields.insert("request_id".into(), id.into());
    }
    body.to_string()
}

/// `{"type":"error",...}`.
pub(crate) fn error(code: &str, message: &str, request_id: Option<&str>) -> String {
    with_request(
        json!({"type": "error", "success": false, "code": code, "message": message, "timestamp": now()}),
        request_id,
    )
}

/// The answer to work that found the queue full.
pub(crate) fn backpressure(capacity: usize, request_id: Option<&str>) -> String {
    with_request(
        json!({
            "type": "error",
            "success": false,
            "code": "backpressure",
            "message": format!("the session is scoring slower than it receives: {capacity} requests are already queued. Wait for answers before sending more, or send rows in batches"),
            "retry_after_ms": 10,
            "timestamp": now(),
        }),
        request_id,
    )
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn buffer_size(scores: &SessionScores) -> Value {
    scores
        .notes
        .get("buffer_size")
        .cloned()
        .unwrap_or(Value::Null)
}

fn row(scores: &SessionScores, index: usize, sample_ids: &[Option<String>]) -> Value {
    let fitted = scores.fitted.get(index).copied().unwrap_or(false);
    json!({
        "index": index,
        "sample_id": sample_ids.get(index).cloned().flatten(),
        "is_anomaly": scores.verdicts.get(index).copied().unwrap_or(false),
        "confidence_score": scores.confidences.get(index).copied().unwrap_or(0.0),
        "anomaly_score": scores.scores.get(index).copied().unwrap_or(0.0),
        "model_fitted": fitted,
    })
}

/// `result` for one sample.
pub(crate) fn single_result(
    scores: &SessionScores,
    sample_ids: &[Option<String>],
    request_id: Option<&str>,
    processing: Duration,
    queued: Duration,
) -> String {
    let fitted = scores.fitted.first().copied().unwrap_or(false);
    let sample_id = sample_ids
        .first()
        .cloned()
        .flatten()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    with_request(
        json!({
            "type": "result",
            "success": true,
            "timestamp": now(),
            "sample_id": sample_id,
            "is_anomaly": scores.verdicts.first().copied().unwrap_or(false),
            "confidence_score": scores.confidences.first().copied().unwrap_or(0.0),
            "anomaly_score": scores.scores.first().copied().unwrap_or(0.0),
            "algorithm": scores.model,
            "model_fitted": fitted,
            "status": if fitted { "scored" } else { "warming_up" },
            "metadata": {
                "processing_time_ms": millis(processing),
                "queue_time_ms": millis(queued),
                "buffer_size": buffer_size(scores),
                "model_fitted": fitted,
                "drifts": scores.notes.get("drifts").cloned().unwrap_or(json!([])),
            },
        }),
        request_id,
    )
}

/// `batch_result` for a batch: `results` as one object per row, or with
/// `columns`, `columns` as one array per field.
pub(crate) fn batch_result(
    scores: &SessionScores,
    sample_ids: &[Option<String>],
    request_id: Option<&str>,
    processing: Duration,
    queued: Duration,
    columns: bool,
) -> String {
    let (key, results) = if columns {
        let columns = json!({
            "is_anomaly": scores.verdicts,
            "confidence_score": scores.confidences,
            "anomaly_score": scores.scores,
            "model_fitted": scores.fitted,
        });
        ("columns", columns)
    } else {
        let rows: Vec<Value> = (0..scores.scores.len())
            .map(|i| row(scores, i, sample_ids))
            .collect();
        ("results", Value::Array(rows))
    };
    let anomalies = scores.verdicts.iter().filter(|v| **v).count();
    let warming = scores.fitted.iter().filter(|f| !**f).count();
    with_request(
        json!({
            "type": "batch_result",
            "success": true,
            "timestamp": now(),
            "algorithm": scores.model,
            "batch_size": scores.scores.len(),
            "anomalies_found": anomalies,
            "warming_up": warming,
            key: results,
            "metadata": {
                "processing_time_ms": millis(processing),
                "queue_time_ms": millis(queued),
                "buffer_size": buffer_size(scores),
                "model_fitted": scores.fitted.last().copied().unwrap_or(false),
                "drifts": scores.notes.get("drifts").cloned().unwrap_or(json!([])),
            },
        }),
        request_id,
    )
}

/// The data of an `anomaly` event on `…anomalies`.
pub(crate) fn anomaly_event(
    scores: &SessionScores,
    index: usize,
    sample_ids: &[Option<String>],
    request_id: Option<&str>,
    client_id: &str,
) -> Value {
    let mut data = row(scores, index, sample_ids);
    if let Value::Object(fields) = &mut data {
        fields.insert("algorithm".into(), scores.model.clone().into());
        fields.insert("request_id".into(), request_id.into());
        fields.insert("client_id".into(), client_id.into());
    }
    data
}

/// The answer to `config` or `drift`.
pub(crate) fn answer(kind: &str, answer: Value, request_id: Option<&str>) -> String {
    let body = match kind {
        "configure" => {
            json!({"type": "config", "success": true, "timestamp": now(), "config": answer})
        }
        _ => {
            let mut body = json!({"type": kind, "success": true, "timestamp": now()});
            if let (Value::Object(fields), Value::Object(extra)) = (&mut body, answer) {
                fields.extend(extra);
            }
            body
        }
    };
    with_request(body, request_id)
}

/// The `stats` object: the engine's view and the session's counters.
pub(crate) fn stats_body(handle: &SessionHandle, streaming: Value) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &handle.counters;
    let received = c.messages_received.load(Relaxed);
    let errors = c.errors.load(Relaxed) + c.rejected.load(Relaxed);
    json!({
        "streaming": streaming,
        "connections": {
            "active_connections": handle.clients.load(Relaxed),
            "messages_received": received,
            "messages_sent": c.messages_sent.load(Relaxed),
            "errors": errors,
            "error_rate": if received == 0 { 0.0 } else { errors as f64 / received as f64 },
        },
        "session": {
            "session_id": handle.id,
            "engine": handle.engine,
            "engine_version": handle.engine_version,
            "queue_depth": handle.queued.load(Relaxed),
            "rejected_for_backpressure": c.rejected.load(Relaxed),
        },
    })
}

/// The answer to `stats`.
pub(crate) fn stats_reply(
    handle: &SessionHandle,
    streaming: Value,
    request_id: Option<&str>,
) -> String {
    with_request(
        json!({"type": "stats", "success": true, "timestamp": now(), "stats": stats_body(handle, streaming)}),
        request_id,
    )
}

/// Any other direct reply (`pong`, `subscribed`, ...).
pub(crate) fn reply(mut body: Value, request_id: Option<&str>) -> String {
    if let Value::Object(fields) = &mut body {
        fields.insert("timestamp".into(), now().into());
    }
    with_request(body, request_id)
}

/// Parses `sample.data`: one row of numbers.
pub(crate) fn parse_row(data: Option<&Value>) -> Result<Vec<f64>, String> {
    let Some(Value::Array(items)) = data else {
        return Err("a sample needs \"data\": an array of numbers, e.g. [1.2, 3.4]".into());
    };
    if items.is_empty() {
        return Err("\"data\" must hold at least one number".into());
    }
    items
        .iter()
        .map(|v| {
            v.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("\"data\" must hold only finite numbers, found {v}"))
        })
        .collect()
}

/// Parses `batch.batch_data` into row-major values and the row width.
pub(crate) fn parse_rows(data: Option<&Value>, max_rows: usize) -> Result<(Vec<f64>, u32), String> {
    let Some(Value::Array(rows)) = data else {
        return Err(
            "a batch needs \"batch_data\": an array of rows, e.g. [[1.2, 3.4], [2.3, 4.5]]".into(),
        );
    };
    if rows.is_empty() {
        return Err("\"batch_data\" must hold at least one row".into());
    }
    if rows.len() > max_rows {
        return Err(format!(
            "a batch may hold at most {max_rows} rows; split it"
        ));
    }
    let first = parse_row(rows.first())?;
    let width = first.len();
    let mut values = Vec::with_capacity(width * rows.len());
    values.extend(first);
    for (i, row) in rows.iter().enumerate().skip(1) {
        let parsed = parse_row(Some(row)).map_err(|e| format!("row {i}: {e}"))?;
        if parsed.len() != width {
            return Err(format!(
                "row {i} has {} values; row 0 has {width}",
                parsed.len()
            ));
        }
        values.extend(parsed);
    }
    Ok((values, u32::try_from(width).unwrap_or(u32::MAX)))
}
