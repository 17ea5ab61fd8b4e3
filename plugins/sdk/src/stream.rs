//! Stateful sessions (`weft:engine/stream`): an engine that keeps a model
//! between calls, one sandboxed instance per session. Which messages a
//! session takes is declared in the manifest ([`crate::SessionProtocol`]);
//! the host parses them, hands `push` messages over as typed columns and
//! `request` messages as JSON, and serves the wire protocol.

use serde_json::Value;

use crate::{ColumnChunk, ColumnValues, Engine, EngineError, Host, Params};

/// An engine that also opens sessions. [`crate::export_streaming_engine!`]
/// exports both its operations and its sessions.
pub trait StreamEngine: Engine {
    /// One session's state.
    type Session: Session;

    /// Opens a session from its JSON config (the host adds `session_id`).
    fn open(config: Params<'_>, host: &dyn Host) -> Result<Self::Session, EngineError>;

    /// Reopens a session from what [`Session::snapshot`] returned (after a
    /// restart, perhaps by a later version). By default sessions are not
    /// restored, and the host opens them afresh.
    fn restore(
        config: Params<'_>,
        snapshot: &[u8],
        host: &dyn Host,
    ) -> Result<Self::Session, EngineError> {
        let _ = (config, snapshot, host);
        Err(EngineError::Failed(
            "this engine does not restore sessions".into(),
        ))
    }
}

/// One live session.
pub trait Session: 'static {
    /// A message declared as `push`: its rows as columns, its other fields
    /// as params.
    fn push(&mut self, message: Message<'_>, host: &dyn Host) -> Result<PushReply, EngineError>;

    /// A message declared as `request`; answers a JSON object whose fields
    /// go into the reply.
    fn request(
        &mut self,
        message_type: &str,
        params: Params<'_>,
        host: &dyn Host,
    ) -> Result<Value, EngineError>;

    /// State and counters.
    fn stats(&self) -> Value;

    /// The state, as bytes [`StreamEngine::restore`] accepts. By default
    /// there is none and the session does not survive a restart.
    fn snapshot(&self) -> Result<Vec<u8>, EngineError> {
        Err(EngineError::Failed(
            "this engine does not snapshot sessions".into(),
        ))
    }
}

/// A `push` message as the session gets it.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    /// Its declared type.
    pub message_type: &'a str,
    /// Its fields besides the rows (with `client_id` and `request_id`).
    pub params: Params<'a>,
    /// Its rows.
    pub rows: Table,
}

/// Rows as named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    columns: Vec<(String, ColumnChunk)>,
}

impl Table {
    /// Columns of equal length.
    pub fn new(columns: Vec<(String, ColumnChunk)>) -> Result<Self, EngineError> {
        if let Some((_, first)) = columns.first()
            && let Some((name, _)) = columns
                .iter()
                .find(|(_, c)| c.values.len() != first.values.len())
        {
            return Err(EngineError::InvalidParams(format!(
                "column '{name}' has a different number of rows from the others"
            )));
        }
        Ok(Self { columns })
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.values.len())
    }

    /// True when it holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[(String, ColumnChunk)] {
        &self.columns
    }

    /// Column `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnChunk> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// Every column as numbers, row-major: the values and the row width.
    /// Fails if a column is not numeric or holds a null.
    pub fn numeric_rows(&self) -> Result<(Vec<f64>, usize), EngineError> {
        let width = self.columns.len();
        let mut values = vec![0.0; width * self.len()];
        for (j, (name, chunk)) in self.columns.iter().enumerate() {
            let ColumnValues::F64(column) = &chunk.values else {
                return Err(EngineError::InvalidParams(format!(
                    "field '{name}' must hold numbers in every row"
                )));
            };
            if chunk.valid.iter().any(|v| !v) {
                return Err(EngineError::InvalidParams(format!(
                    "field '{name}' has a null; every value must be a number"
                )));
            }
            for (i, x) in column.iter().enumerate() {
                values[i * width + j] = *x;
            }
        }
        Ok((values, width))
    }
}

/// What a push answers: one value per input row in each column, and the
/// reply's other fields (a JSON object).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushReply {
    /// Per-row answers.
    pub columns: Vec<(String, ColumnChunk)>,
    /// Other fields of the reply.
    pub reply: Value,
}

/// A row-major batch of `f64` rows of equal width, as it crossed the
/// boundary (no copy).
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    values: &'a [f64],
    width: usize,
}

impl<'a> Rows<'a> {
    /// Checks that `values` holds whole rows of `width`.
    pub fn new(values: &'a [f64], width: usize) -> Result<Self, EngineError> {
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(EngineError::InvalidParams(format!(
                "{} values do not make rows of width {width}",
                values.len()
            )));
        }
        Ok(Self { values, width })
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.width
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows, in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'a, f64> {
        self.values.chunks_exact(self.width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[f64]) -> ColumnChunk {
        ColumnChunk {
            values: ColumnValues::F64(v.to_vec()),
            valid: Vec::new(),
        }
    }

    #[test]
    fn numeric_columns_become_row_major_rows() {
        let table = Table::new(vec![
            ("0".into(), floats(&[1.0, 2.0])),
            ("1".into(), floats(&[3.0, 4.0])),
        ])
        .expect("table");
        assert_eq!(
            table.numeric_rows().expect("rows"),
            (vec![1.0, 3.0, 2.0, 4.0], 2)
        );
        let text = ColumnChunk {
            values: ColumnValues::Text(vec!["a".into(), "b".into()]),
            valid: Vec::new(),
        };
        let mixed = Table::new(vec![
            ("0".into(), floats(&[1.0, 2.0])),
            ("name".into(), text),
        ])
        .expect("table");
        assert!(mixed.numeric_rows().is_err());
        assert!(
            Table::new(vec![
                ("a".into(), floats(&[1.0])),
                ("b".into(), floats(&[]))
            ])
            .is_err()
        );
    }
}
