//! Rows of a session message as typed columns, and the WIT form of them.

use serde_json::Value;
use weft_storage::columnar::Values;

use crate::bindings::v2::plugin::weft::engine::types::NamedColumn;
use crate::bindings::v2::plugin::weft::host::storage::{ColumnChunk, ColumnValues};

/// One column of a message's rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Field name ("0", "1", … for rows sent as arrays).
    pub name: String,
    /// One value per row.
    pub values: Values,
    /// Per row: false where the value is null. Empty when none is.
    pub valid: Vec<bool>,
}

pub(crate) fn to_wit(column: Column) -> NamedColumn {
    let values = match column.values {
        Values::F64(v) => ColumnValues::Float64(v),
        Values::I64(v) => ColumnValues::Int64(v),
        Values::Bool(v) => ColumnValues::Boolean(v),
        Values::String(v) => ColumnValues::Text(v),
        Values::Timestamp(v) => ColumnValues::Timestamp(v),
        Values::Binary(v) => ColumnValues::Binary(v),
    };
    NamedColumn {
        name: column.name,
        chunk: ColumnChunk {
            values,
            valid: column.valid,
        },
    }
}

pub(crate) fn from_wit(column: NamedColumn) -> (String, Vec<Value>) {
    (column.name, crate::output::column_json(column.chunk))
}
