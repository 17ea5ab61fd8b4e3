//! The document engine: a MongoDB-style document store whose query logic
//! runs in the sandbox while the host holds the bytes.
//!
//! The cores are plain Rust over `serde_json` values and know nothing of
//! WIT: [`value`] (MongoDB's type order), [`path`], [`filter`], [`expr`],
//! [`update`], [`projection`], [`sort`], [`aggregate`], [`text`] and the
//! byte encodings of [`keys`]. [`index`] computes index entries and
//! plans; [`store`] is the one definition of how a collection lives in a
//! host collection and the only code that writes it (atomically, by
//! conditional batches); [`query`] runs reads over it. [`operations`] maps
//! JSON params to all of that and is what the component exports. Built
//! natively, the same code is unit-tested and checked against mongomock
//! (`test_data/document/`).

pub mod aggregate;
pub mod expr;
pub mod filter;
pub mod index;
pub mod keys;
pub mod operations;
pub mod path;
pub mod projection;
pub mod query;
pub mod sort;
pub mod store;
pub mod text;
pub mod update;
pub mod value;

pub use operations::DocumentEngine;

weft_sdk::export_engine!(DocumentEngine);

/// Why a document call failed; each message names the part at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// The input makes no sense (a bad operator, path, pipeline, …).
    #[error("{0}")]
    Invalid(String),
    /// A document violates the collection's validator; `pointer` is the
    /// failing path.
    #[error("{message}")]
    Schema {
        /// JSON pointer into the document.
        pointer: String,
        /// What the validator said.
        message: String,
    },
    /// A collection, document or index named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A unique index already holds the key, or a name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The input is larger than the engine takes.
    #[error("{0}")]
    TooLarge(String),
    /// Host storage failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl DocumentError {
    /// An [`DocumentError::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// The same error, its message prefixed with where it happened.
    pub fn within(self, place: &str) -> Self {
        match self {
            Self::Invalid(m) => Self::Invalid(format!("{place}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{place}: {m}")),
            Self::Conflict(m) => Self::Conflict(format!("{place}: {m}")),
            Self::TooLarge(m) => Self::TooLarge(format!("{place}: {m}")),
            Self::Schema { pointer, message } => Self::Schema {
                pointer,
                message: format!("{place}: {message}"),
            },
            other => other,
        }
    }
}
