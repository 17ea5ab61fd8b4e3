//! Stateful sessions (`weft:engine/stream`): an engine that keeps a model
//! between calls, one sandboxed instance per session.

use serde_json::Value;

use crate::{Engine, EngineError, Host, Params};

/// An engine that also opens sessions. [`crate::export_streaming_engine!`]
/// exports both its operations and its sessions.
pub trait StreamEngine: Engine {
    /// One session's state.
    type Session: Session;

    /// Opens a session from its JSON config (the host adds `session_id`).
    fn open(config: Params<'_>, host: &dyn Host) -> Result<Self::Session, EngineError>;
}

/// One live session.
pub trait Session: 'static {
    /// Scores `rows`, then learns from them.
    fn push(
        &mut self,
        rows: Rows<'_>,
        options: Params<'_>,
        host: &dyn Host,
    ) -> Result<Scored, EngineError>;

    /// A control request (`configure`, `drift`, ...); answers JSON.
    fn request(
        &mut self,
        kind: &str,
        params: Params<'_>,
        host: &dyn Host,
    ) -> Result<Value, EngineError>;

    /// State and counters.
    fn stats(&self) -> Value;
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

/// What [`Session::push`] answers: one entry per row in every list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scored {
    /// Raw scores, higher is more unusual.
    pub scores: Vec<f64>,
    /// Calibrated to 0..1.
    pub confidences: Vec<f64>,
    /// Verdicts.
    pub verdicts: Vec<bool>,
    /// False while the model was warming up for that row.
    pub fitted: Vec<bool>,
    /// Which model scored the rows.
    pub model: String,
    /// Anything else worth reporting, as a JSON object.
    pub notes: Value,
}
