//! The ML engine: supervised models (linear and logistic regression,
//! decision trees, random forests, gradient boosting, Gaussian naive
//! Bayes, SVMs, a multi-layer perceptron) and k-means, trained on host
//! datasets read as typed column chunks, kept in a versioned registry in
//! host storage, and served for predictions.
//!
//! The cores are plain Rust over ndarray and know nothing of WIT or JSON
//! params: [`data`] (columns to a feature matrix, labels, splits,
//! scaling), [`metrics`], [`tree`] (CART, the base of [`forest`] and
//! [`boosting`]), [`mlp`], and [`linfa_models`] (the algorithms linfa
//! provides, behind the same shape). [`model`] is one trained model and its
//! stored format; [`registry`] is how models live in host storage.
//! [`operations`] maps params to all of it and is what the component
//! exports. Built natively, the same code is unit-tested and checked
//! against scikit-learn reference values (`test_data/ml/`).

pub mod boosting;
pub mod data;
pub mod federated;
pub mod forest;
pub mod linfa_models;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod onnx;
pub mod operations;
pub mod pmml;
pub mod quantize;
pub mod registry;
pub mod shap;
pub mod timeseries;
pub mod tree;

pub use operations::MlEngine;

weft_sdk::export_engine!(MlEngine);

/// Why an ML call failed; each message says what to change.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MlError {
    /// The params or the data make no sense for the call.
    #[error("{0}")]
    Invalid(String),
    /// A dataset, column or model named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Something to be created exists already, or lost a race.
    #[error("{0}")]
    Conflict(String),
    /// Host storage failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl From<weft_sdk::StorageFailure> for MlError {
    fn from(failure: weft_sdk::StorageFailure) -> Self {
        use weft_sdk::StorageFailure as F;
        match failure {
            F::NotFound(m) => Self::NotFound(m),
            F::Invalid(m) => Self::Invalid(m),
            F::Exists(m) => Self::Conflict(m),
            F::Failed(m) => Self::Storage(m),
        }
    }
}

impl From<MlError> for weft_sdk::EngineError {
    fn from(error: MlError) -> Self {
        use weft_sdk::EngineError as E;
        match error {
            MlError::Invalid(m) => E::InvalidParams(m),
            MlError::NotFound(m) => E::NotFound(m),
            MlError::Conflict(m) => E::Conflict(m),
            MlError::Storage(m) => E::Failed(m),
            MlError::Cancelled => E::Cancelled,
        }
    }
}

/// Checks for cancellation between units of work.
pub(crate) fn check_cancelled(host: &dyn weft_sdk::Host) -> Result<(), MlError> {
    if host.cancelled() {
        Err(MlError::Cancelled)
    } else {
        Ok(())
    }
}
