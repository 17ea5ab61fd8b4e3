//! Sessions of plugins built against WIT 0.1, whose stream is the
//! anomaly-shaped one of that version (rows of numbers in; scores,
//! confidences, verdicts out). They declare no protocol, so the host gives
//! them the one they were written for: `sample` and `batch` pushes, the
//! `config` and `drift` requests, served at
//! `/api/v1/ws/sessions/<plugin>/{session_id}`.

use serde_json::{Value, json};
use weft_storage::columnar::Values;

use super::columns::Column;
use super::instance::PushAnswer;
use crate::bindings::v1::stream::exports::weft::engine::stream::{Batch, Scored};
use crate::job::JobError;
use crate::manifest::{SessionCall, SessionMessage, SessionProtocol};

/// The protocol a 0.1 streaming plugin loaded as `plugin` is served with.
pub(crate) fn protocol(plugin: &str) -> SessionProtocol {
    let push =
        |message_type: &str, rows_field: &str, single_row, reply_type: &str| SessionMessage {
            message_type: message_type.into(),
            call: SessionCall::Push,
            rows_field: rows_field.into(),
            single_row,
            reply_type: reply_type.into(),
            columns: Vec::new(),
            description: String::new(),
        };
    let request = |message_type: &str| SessionMessage {
        message_type: message_type.into(),
        call: SessionCall::Request,
        rows_field: String::new(),
        single_row: false,
        reply_type: String::new(),
        columns: Vec::new(),
        description: String::new(),
    };
    SessionProtocol {
        path: format!("{}/{plugin}/{{session_id}}", super::GENERIC_PATH),
        config_schema: json!({"type": "object"}),
        messages: vec![
            push("sample", "data", true, "result"),
            push("batch", "batch_data", false, "batch_result"),
            request("config"),
            request("drift"),
        ],
        topics: vec!["anomalies".into(), "alerts".into()],
    }
}

/// 0.1 named the `config` message's request `configure`.
pub(crate) fn request_kind(message_type: &str) -> &str {
    match message_type {
        "config" => "configure",
        other => other,
    }
}

/// Rows as 0.1's row-major batch: every column must hold numbers.
pub(crate) fn batch(params: &Value, rows: Vec<Column>) -> Result<Batch, JobError> {
    let width = rows.len();
    let height = rows.first().map_or(0, |c| c.values.len());
    let mut values = vec![0.0; width * height];
    for (j, column) in rows.into_iter().enumerate() {
        let Values::F64(column) = column.values else {
            return Err(JobError::new(
                "invalid_params",
                "this engine (WIT 0.1) scores rows of numbers only",
            ));
        };
        for (i, x) in column.into_iter().enumerate() {
            values[i * width + j] = x;
        }
    }
    let options = match params.get("algorithm") {
        Some(algorithm) => json!({ "algorithm": algorithm }),
        None => json!({}),
    };
    Ok(Batch {
        values,
        width: u32::try_from(width).unwrap_or(u32::MAX),
        options: options.to_string(),
    })
}

/// 0.1's scores as columns; its notes go into the reply as they are.
pub(crate) fn answer(scored: Scored) -> PushAnswer {
    let floats = |v: Vec<f64>| v.into_iter().map(|x| json!(x)).collect();
    let bools = |v: Vec<bool>| v.into_iter().map(Value::Bool).collect();
    let mut reply = serde_json::Map::new();
    reply.insert("algorithm".into(), scored.model.into());
    reply.insert(
        "notes".into(),
        serde_json::from_str(&scored.notes).unwrap_or(Value::Null),
    );
    PushAnswer {
        columns: vec![
            ("is_anomaly".into(), bools(scored.verdicts)),
            ("confidence_score".into(), floats(scored.confidences)),
            ("anomaly_score".into(), floats(scored.scores)),
            ("model_fitted".into(), bools(scored.fitted)),
        ],
        reply,
    }
}
