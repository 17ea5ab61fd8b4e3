//! The engine trait a plugin implements, and the types it describes itself
//! with.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Host;

/// One operation an engine offers.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Name used in `{"op": …}`.
    pub name: String,
    /// One sentence for humans.
    pub description: String,
    /// JSON Schema of the params; the host validates jobs against it.
    pub params_schema: Value,
    /// JSON Schema of the result, published in the OpenAPI document.
    pub result_schema: Option<Value>,
    /// Event kinds the operation emits.
    pub emits: Vec<String>,
    /// Family topic relative to the plugin name (`algorithms` →
    /// `graph.algorithms`).
    pub topic: String,
}

impl Operation {
    /// An operation with the given name, description and params schema.
    pub fn new(name: &str, description: &str, params_schema: Value) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            params_schema,
            result_schema: None,
            emits: vec!["progress".to_owned()],
            topic: "jobs".to_owned(),
        }
    }

    /// Sets the event kinds the operation emits (besides `progress`).
    pub fn emits(mut self, kinds: &[&str]) -> Self {
        self.emits.extend(kinds.iter().map(|k| (*k).to_owned()));
        self
    }

    /// Sets the JSON Schema of the result.
    pub fn result(mut self, schema: Value) -> Self {
        self.result_schema = Some(schema);
        self
    }

    /// Sets the family topic, relative to the plugin name.
    pub fn topic(mut self, topic: &str) -> Self {
        topic.clone_into(&mut self.topic);
        self
    }
}

/// What an engine says about itself.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    /// Engine name (the host may load it under another).
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// Operations offered.
    pub operations: Vec<Operation>,
    /// Routes, endpoints, event kinds and session protocol it serves.
    pub manifest: crate::Manifest,
}

/// Why an operation did not produce a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The engine has no operation of that name.
    UnknownOperation(String),
    /// The params make no sense for the operation.
    InvalidParams(String),
    /// The param at this JSON pointer (e.g. `/source`) makes no sense.
    InvalidParam {
        /// JSON pointer into the params.
        pointer: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Something the params name does not exist (a dataset, a model).
    NotFound(String),
    /// Something the params would create exists already.
    Conflict(String),
    /// The input is larger than the engine takes (a route answers 413);
    /// the message says the limit and the way forward.
    TooLarge(String),
    /// The job was cancelled and the engine stopped early.
    Cancelled,
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownOperation(op) => write!(f, "unknown operation '{op}'"),
            Self::InvalidParams(why) => write!(f, "invalid params: {why}"),
            Self::InvalidParam { pointer, message } => {
                write!(f, "invalid params: {pointer}: {message}")
            }
            Self::NotFound(what) => write!(f, "not found: {what}"),
            Self::TooLarge(why) => write!(f, "too large: {why}"),
            Self::Conflict(what) => write!(f, "conflict: {what}"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for EngineError {}

/// A data engine. Implemented in plain Rust; [`crate::export_engine!`]
/// turns it into a component.
pub trait Engine {
    /// Name, version and operations.
    fn describe() -> EngineInfo;

    /// Runs `op`. `params` has already passed the op's schema in the host.
    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError>;
}

/// An operation's params as the JSON text the host sent.
///
/// Engines deserialize straight from the text into typed structs, as many
/// times as they like (say, once for a bulk edge list and once for the
/// options beside it, skipping the list): no intermediate
/// `serde_json::Value` tree, which at a million edges would cost more than
/// the algorithm.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    text: &'a str,
}

impl<'a> Params<'a> {
    /// Wraps JSON text.
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// Deserializes into `T`, turning serde's message into an
    /// [`EngineError::InvalidParams`].
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, EngineError> {
        serde_json::from_str(self.text).map_err(|e| EngineError::InvalidParams(e.to_string()))
    }

    /// The params as a generic JSON value.
    pub fn value(&self) -> Result<Value, EngineError> {
        self.parse()
    }

    /// The raw text.
    pub fn text(&self) -> &'a str {
        self.text
    }
}
