//! The analytics engine: SQL over the datasets the host stores, run in
//! the sandbox on the host's typed column chunks.
//!
//! [`value`] and [`table`] are the executor's data (typed columns with
//! NULLs, fields and name resolution); [`sql`] parses (sqlparser), plans
//! and runs queries over any [`sql::Catalog`]; [`operations`] is the
//! component's surface: params in, JSON out, a catalog over
//! `weft:host/storage`, progress events. The cores know nothing of WIT,
//! so they are unit-tested and checked against DuckDB natively
//! (`tests/reference.rs`, `test_data/analytics/`).

pub mod cache;
pub mod olap;
pub mod operations;
pub mod profile;
pub mod sql;
pub mod table;
pub mod timeseries;
pub mod value;
pub mod views;
pub mod workload;

pub use operations::AnalyticsEngine;

weft_sdk::export_engine!(AnalyticsEngine);

/// Why a query failed; each message says what to change.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// The SQL or the params make no sense.
    #[error("{0}")]
    Invalid(String),
    /// A dataset named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Host storage failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl From<weft_sdk::StorageFailure> for AnalyticsError {
    fn from(failure: weft_sdk::StorageFailure) -> Self {
        use weft_sdk::StorageFailure as F;
        match failure {
            F::NotFound(m) => Self::NotFound(m),
            F::Invalid(m) => Self::Invalid(m),
            F::Exists(m) | F::Failed(m) => Self::Storage(m),
        }
    }
}

impl From<AnalyticsError> for weft_sdk::EngineError {
    fn from(error: AnalyticsError) -> Self {
        use weft_sdk::EngineError as E;
        match error {
            AnalyticsError::Invalid(m) => E::InvalidParams(m),
            AnalyticsError::NotFound(m) => E::NotFound(m),
            AnalyticsError::Storage(m) => E::Failed(m),
            AnalyticsError::Cancelled => E::Cancelled,
        }
    }
}
