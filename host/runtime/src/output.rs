//! A 0.2 plugin's typed result as the job's JSON result: JSON as is, a
//! dataset as `{"dataset": name}`, typed columns as an object of arrays
//! (nulls where a row is not valid, timestamps as microseconds, binary
//! values as hex).

use serde_json::{Map, Value, json};

use crate::bindings::v2::plugin::weft::engine::types::Output;
use crate::bindings::v2::plugin::weft::host::storage::{ColumnChunk, ColumnValues};
use crate::job::JobError;

pub(crate) fn to_json(output: Output) -> Result<Value, JobError> {
    match output {
        Output::Json(text) => crate::plugin::json_output(&text),
        Output::Dataset(name) => Ok(json!({ "dataset": name })),
        Output::Columns(columns) => {
            let mut object = Map::new();
            let mut rows = None;
            for column in columns {
                let values = column_json(column.chunk);
                if *rows.get_or_insert(values.len()) != values.len() {
                    return Err(JobError::new(
                        "invalid_output",
                        format!(
                            "the plugin returned columns of different lengths ('{}' has {})",
                            column.name,
                            values.len()
                        ),
                    ));
                }
                if object
                    .insert(column.name.clone(), Value::Array(values))
                    .is_some()
                {
                    return Err(JobError::new(
                        "invalid_output",
                        format!("the plugin returned column '{}' twice", column.name),
                    ));
                }
            }
            Ok(Value::Object(object))
        }
    }
}

pub(crate) fn column_json(chunk: ColumnChunk) -> Vec<Value> {
    let mut values: Vec<Value> = match chunk.values {
        ColumnValues::Float64(v) => v
            .into_iter()
            .map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number))
            .collect(),
        ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => {
            v.into_iter().map(Value::from).collect()
        }
        ColumnValues::Boolean(v) => v.into_iter().map(Value::Bool).collect(),
        ColumnValues::Text(v) => v.into_iter().map(Value::String).collect(),
        ColumnValues::Binary(v) => v
            .iter()
            .map(|b| Value::String(weft_storage::columnar::to_hex(b)))
            .collect(),
    };
    for (value, valid) in values.iter_mut().zip(&chunk.valid) {
        if !valid {
            *value = Value::Null;
        }
    }
    values
}
