//! The session wire protocol, the same for every streaming plugin: JSON
//! text frames with a `type` (and an optional `request_id` echoed in the
//! answer). What a declared message's rows become on the way in (typed
//! columns) and what a plugin's answer becomes on the way out (row objects
//! or arrays) is decided here, from the manifest's declaration alone.

use std::time::Duration;

use serde_json::{Map, Value, json};
use weft_runtime::JobError;
use weft_runtime::sessions::{Column, PushAnswer, SessionAnswer};
use weft_storage::columnar::Values;

/// Rows one push may carry.
pub(super) const MAX_ROWS: usize = 100_000;

pub(super) fn now() -> String {
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
pub(super) fn error(code: &str, message: &str, request_id: Option<&str>) -> String {
    let mut error = crate::transport::error_json(code, message, request_id);
    error["success"] = false.into();
    error["timestamp"] = now().into();
    error.to_string()
}

/// The answer to work that found the queue full.
pub(super) fn backpressure(capacity: usize, request_id: Option<&str>) -> String {
    with_request(
        json!({
            "type": "error",
            "success": false,
            "code": "backpressure",
            "message": format!("the session is working slower than it receives: {capacity} requests are already queued. Wait for answers before sending more, or send rows in batches"),
            "retry_after_ms": 10,
            "timestamp": now(),
        }),
        request_id,
    )
}

/// Any direct reply (`pong`, `subscribed`, ...).
pub(super) fn reply(mut body: Value, request_id: Option<&str>) -> String {
    if let Value::Object(fields) = &mut body {
        fields.insert("timestamp".into(), now().into());
    }
    with_request(body, request_id)
}

/// A plugin's error as the client sees it.
pub(super) fn job_error(error: &JobError, request_id: Option<&str>) -> String {
    let code = if error.code == "invalid_params" {
        "invalid_request"
    } else {
        error.code.as_str()
    };
    self::error(code, &error.message, request_id)
}

/// How the answer to one command is written.
pub(super) struct Answering {
    /// The answer's `type`.
    pub(super) reply_type: String,
    pub(super) request_id: Option<String>,
    /// The message carried one row: its answer goes at the top level.
    pub(super) single_row: bool,
    /// The client asked for arrays (`"format": "columns"`).
    pub(super) as_columns: bool,
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

impl Answering {
    /// The text frame for `outcome`.
    pub(super) fn render(&self, outcome: Result<SessionAnswer, JobError>) -> String {
        let request_id = self.request_id.as_deref();
        let answer = match outcome {
            Ok(answer) => answer,
            Err(error) => return job_error(&error, request_id),
        };
        let mut body = Map::new();
        body.insert("type".into(), self.reply_type.clone().into());
        body.insert("success".into(), true.into());
        body.insert("timestamp".into(), now().into());
        match answer {
            SessionAnswer::Pushed {
                answer,
                processing,
                queued,
            } => self.pushed(&mut body, answer, processing, queued),
            SessionAnswer::Answered(Value::Object(fields)) => {
                for (k, v) in fields {
                    body.entry(k).or_insert(v);
                }
            }
            SessionAnswer::Answered(other) => {
                body.insert("answer".into(), other);
            }
            SessionAnswer::Stats(stats) => {
                body.insert("stats".into(), stats);
            }
        }
        with_request(Value::Object(body), request_id)
    }

    fn pushed(
        &self,
        body: &mut Map<String, Value>,
        answer: PushAnswer,
        processing: Duration,
        queued: Duration,
    ) {
        let PushAnswer { columns, reply } = answer;
        if self.single_row {
            for (name, values) in &columns {
                body.insert(name.clone(), values.first().cloned().unwrap_or(Value::Null));
            }
        } else if self.as_columns {
            let arrays: Map<String, Value> = columns
                .into_iter()
                .map(|(name, values)| (name, Value::Array(values)))
                .collect();
            body.insert("columns".into(), Value::Object(arrays));
        } else {
            let rows = columns.first().map_or(0, |(_, v)| v.len());
            let results: Vec<Value> = (0..rows)
                .map(|i| {
                    let mut row = Map::new();
                    row.insert("index".into(), i.into());
                    for (name, values) in &columns {
                        row.insert(name.clone(), values.get(i).cloned().unwrap_or(Value::Null));
                    }
                    Value::Object(row)
                })
                .collect();
            body.insert("results".into(), Value::Array(results));
        }
        for (k, v) in reply {
            body.entry(k).or_insert(v);
        }
        // The host's timings join whatever metadata the plugin gave.
        let metadata = body
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(metadata) = metadata {
            metadata.insert("processing_time_ms".into(), millis(processing).into());
            metadata.insert("queue_time_ms".into(), millis(queued).into());
        }
    }
}

/// What one JSON value is, for typing a column.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Number,
    Bool,
    Text,
}

fn kind_of(value: &Value) -> Result<Option<Kind>, String> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Number(_) => Kind::Number,
        Value::Bool(_) => Kind::Bool,
        Value::String(_) => Kind::Text,
        _ => {
            return Err(
                "values must be numbers, booleans, strings or null, not arrays or objects".into(),
            );
        }
    }))
}

/// Rows (each an array of values, or an object) as typed columns: a
/// column is float64, boolean or text by its non-null values. Arrays give
/// columns "0", "1", …; objects one per key of the first row.
pub(super) fn columns(rows: &[Value]) -> Result<Vec<Column>, String> {
    let Some(first) = rows.first() else {
        return Err("there must be at least one row".into());
    };
    let names: Vec<String> = match first {
        Value::Array(values) if !values.is_empty() => {
            (0..values.len()).map(|j| j.to_string()).collect()
        }
        Value::Object(fields) if !fields.is_empty() => fields.keys().cloned().collect(),
        _ => {
            return Err(
                "a row is a non-empty array of values (e.g. [1.2, 3.4]) or an object (e.g. {\"x\": 1.2})"
                    .into(),
            );
        }
    };
    let width = names.len();
    let mut cells: Vec<Vec<&Value>> = vec![Vec::with_capacity(rows.len()); width];
    for (i, row) in rows.iter().enumerate() {
        match row {
            Value::Array(values) if values.len() == width => {
                for (j, value) in values.iter().enumerate() {
                    cells[j].push(value);
                }
            }
            Value::Array(values) => {
                return Err(format!(
                    "row {i} has {} values; row 0 has {width}",
                    values.len()
                ));
            }
            Value::Object(fields) if matches!(first, Value::Object(_)) => {
                if let Some(extra) = fields.keys().find(|k| !names.contains(k)) {
                    return Err(format!("row {i} has field '{extra}', which row 0 has not"));
                }
                for (j, name) in names.iter().enumerate() {
                    cells[j].push(fields.get(name).unwrap_or(&Value::Null));
                }
            }
            _ => return Err(format!("row {i} is not shaped like row 0")),
        }
    }
    names
        .into_iter()
        .zip(cells)
        .map(|(name, values)| column(name, &values))
        .collect()
}

fn column(name: String, values: &[&Value]) -> Result<Column, String> {
    let mut kind = None;
    for (i, value) in values.iter().enumerate() {
        match (
            kind,
            kind_of(value).map_err(|e| format!("field {name}, row {i}: {e}"))?,
        ) {
            (_, None) => {}
            (None, Some(k)) => kind = Some(k),
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => {
                return Err(format!(
                    "field {name} mixes types (row {i}); a field holds numbers, booleans or strings, not several"
                ));
            }
        }
    }
    let valid: Vec<bool> = values.iter().map(|v| !v.is_null()).collect();
    let valid = if valid.iter().all(|v| *v) {
        Vec::new()
    } else {
        valid
    };
    let values = match kind.unwrap_or(Kind::Number) {
        Kind::Number => Values::F64(values.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect()),
        Kind::Bool => Values::Bool(
            values
                .iter()
                .map(|v| v.as_bool().unwrap_or(false))
                .collect(),
        ),
        Kind::Text => Values::String(
            values
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
        ),
    };
    Ok(Column {
        name,
        values,
        valid,
    })
}

/// Rows converted to the columns a message declares: arrays by position,
/// objects by name (a missing value is null); each value to its column's
/// type. A row that does not fit is refused, saying where.
pub(super) fn declared_columns(
    rows: &[Value],
    declared: &[weft_storage::columnar::Field],
) -> Result<Vec<Column>, String> {
    use weft_storage::columnar::ColumnType;
    if rows.is_empty() {
        return Err("there must be at least one row".into());
    }
    let names: Vec<&str> = declared.iter().map(|f| f.name.as_str()).collect();
    let mut columns: Vec<(Values, Vec<bool>)> = declared
        .iter()
        .map(|f| (Values::empty(f.kind), Vec::with_capacity(rows.len())))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<&Value> = match row {
            Value::Array(values) if values.len() == declared.len() => values.iter().collect(),
            Value::Array(values) => {
                return Err(format!(
                    "row {i} has {} values; rows here have {} ({})",
                    values.len(),
                    declared.len(),
                    names.join(", ")
                ));
            }
            Value::Object(fields) => {
                if let Some(extra) = fields.keys().find(|k| !names.contains(&k.as_str())) {
                    return Err(format!(
                        "row {i} has field '{extra}'; rows here have {}",
                        names.join(", ")
                    ));
                }
                names
                    .iter()
                    .map(|n| fields.get(*n).unwrap_or(&Value::Null))
                    .collect()
            }
            _ => return Err(format!("row {i} is not an array or an object")),
        };
        for ((field, (values, valid)), cell) in declared.iter().zip(&mut columns).zip(cells) {
            let wrong = || {
                format!(
                    "row {i}, field '{}': {cell} is not a {}",
                    field.name,
                    match field.kind {
                        ColumnType::F64 => "number",
                        ColumnType::I64 => "integer",
                        ColumnType::Bool => "boolean",
                        ColumnType::String => "string",
                        ColumnType::Timestamp => "timestamp (RFC 3339 text or microseconds)",
                        ColumnType::Binary => "hex string",
                    }
                )
            };
            valid.push(!cell.is_null());
            match (values, cell) {
                (Values::F64(v), Value::Null) => v.push(0.0),
                (Values::I64(v) | Values::Timestamp(v), Value::Null) => v.push(0),
                (Values::Bool(v), Value::Null) => v.push(false),
                (Values::String(v), Value::Null) => v.push(String::new()),
                (Values::Binary(v), Value::Null) => v.push(Vec::new()),
                (Values::F64(v), cell) => v.push(cell.as_f64().ok_or_else(wrong)?),
                (Values::I64(v), cell) => v.push(cell.as_i64().ok_or_else(wrong)?),
                (Values::Bool(v), cell) => v.push(cell.as_bool().ok_or_else(wrong)?),
                (Values::String(v), Value::String(s)) => v.push(s.clone()),
                (Values::Timestamp(v), Value::String(s)) => {
                    let t = time::OffsetDateTime::parse(
                        s,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| wrong())?;
                    v.push(i64::try_from(t.unix_timestamp_nanos() / 1000).map_err(|_| wrong())?);
                }
                (Values::Timestamp(v), cell) => v.push(cell.as_i64().ok_or_else(wrong)?),
                (Values::Binary(v), Value::String(s)) => {
                    v.push(weft_storage::columnar::from_hex(s).ok_or_else(wrong)?);
                }
                _ => return Err(wrong()),
            }
        }
    }
    Ok(declared
        .iter()
        .zip(columns)
        .map(|(field, (values, valid))| Column {
            name: field.name.clone(),
            values,
            valid: if valid.iter().all(|v| *v) {
                Vec::new()
            } else {
                valid
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_typed_columns() {
        let columns = columns(&[json!([1.5, true, "a"]), json!([2, false, null])]).expect("ok");
        assert_eq!(columns.len(), 3);
        assert_eq!(columns[0].name, "0");
        assert_eq!(columns[0].values, Values::F64(vec![1.5, 2.0]));
        assert_eq!(columns[1].values, Values::Bool(vec![true, false]));
        assert_eq!(
            columns[2].values,
            Values::String(vec!["a".into(), String::new()])
        );
        assert_eq!(columns[2].valid, vec![true, false]);
        let named = super::columns(&[json!({"x": 1, "y": 2}), json!({"x": 3})]).expect("ok");
        assert_eq!(named[1].name, "y");
        assert_eq!(named[1].valid, vec![true, false]);
    }

    #[test]
    fn declared_columns_convert_each_value_or_say_where_it_does_not_fit() {
        use weft_storage::columnar::{ColumnType, Field};
        let declared = [
            Field {
                name: "n".into(),
                kind: ColumnType::I64,
            },
            Field {
                name: "at".into(),
                kind: ColumnType::Timestamp,
            },
            Field {
                name: "wkb".into(),
                kind: ColumnType::Binary,
            },
        ];
        let columns = declared_columns(
            &[json!([1, "1970-01-01T00:00:01Z", "00ff"]), json!({"n": 2})],
            &declared,
        )
        .expect("fits");
        assert_eq!(columns[0].values, Values::I64(vec![1, 2]));
        assert_eq!(columns[1].values, Values::Timestamp(vec![1_000_000, 0]));
        assert_eq!(columns[1].valid, vec![true, false]);
        assert_eq!(
            columns[2].values,
            Values::Binary(vec![vec![0, 255], Vec::new()])
        );
        let refused =
            declared_columns(&[json!([1.5, 0, "00"])], &declared).expect_err("not an integer");
        assert!(refused.contains("row 0, field 'n'"), "{refused}");
        assert!(
            declared_columns(&[json!([1, 0])], &declared).is_err(),
            "too few values"
        );
        assert!(
            declared_columns(&[json!({"x": 1})], &declared).is_err(),
            "unknown field"
        );
    }

    #[test]
    fn ragged_mixed_and_nested_rows_are_refused_with_where() {
        let ragged = columns(&[json!([1, 2]), json!([1])]).expect_err("ragged");
        assert!(ragged.contains("row 1"), "{ragged}");
        let mixed = columns(&[json!([1]), json!(["a"])]).expect_err("mixed");
        assert!(mixed.contains("mixes"), "{mixed}");
        assert!(columns(&[json!([[1]])]).is_err());
        assert!(columns(&[json!("x")]).is_err());
        assert!(columns(&[]).is_err());
        let extra = columns(&[json!({"x": 1}), json!({"z": 1})]).expect_err("extra");
        assert!(extra.contains("'z'"), "{extra}");
    }
}
