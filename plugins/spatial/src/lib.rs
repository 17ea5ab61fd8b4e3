//! The spatial engine: layers of features in host storage with an R-tree
//! stored beside them, DE-9IM predicates, planar and ellipsoidal measures,
//! geometry operations, coordinate transforms, network routing and zonal
//! statistics over small rasters.
//!
//! The cores are plain Rust over the georust crates (`geo`, `rstar`, `wkt`,
//! `wkb`, `proj4rs`) and know nothing of WIT or JSON params: [`geometry`]
//! (GeoJSON/WKT/WKB in and out, input checks), [`crs`], [`measure`],
//! [`predicate`], [`shapes`] (buffers, hulls, boolean operations, …),
//! [`index`], [`network`] and [`raster`]. [`layer`] is the one definition
//! of how a layer lives in host storage. [`operations`] maps JSON params to
//! the cores and is what the component exports. Built natively, the same
//! code is unit-tested against Shapely and pyproj reference values
//! (`test_data/spatial/`) and benchmarked.

pub mod crs;
pub mod geometry;
pub mod index;
pub mod layer;
pub mod measure;
pub mod network;
pub mod operations;
pub mod predicate;
pub mod raster;
pub mod shapes;

pub use operations::SpatialEngine;

weft_sdk::export_engine!(SpatialEngine);

/// Why a spatial call failed; each message says what to change.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpatialError {
    /// The input makes no sense (a bad geometry, an unknown CRS, …).
    #[error("{0}")]
    Invalid(String),
    /// A layer, raster or feature named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Something to be created exists already.
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

impl SpatialError {
    /// The same error, its message prefixed with where it happened
    /// (`feature 3: …`).
    pub fn within(self, place: &str) -> Self {
        match self {
            Self::Invalid(m) => Self::Invalid(format!("{place}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{place}: {m}")),
            Self::TooLarge(m) => Self::TooLarge(format!("{place}: {m}")),
            other => other,
        }
    }
}

impl From<weft_sdk::StorageFailure> for SpatialError {
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

impl From<SpatialError> for weft_sdk::EngineError {
    fn from(error: SpatialError) -> Self {
        use weft_sdk::EngineError as E;
        match error {
            SpatialError::Invalid(m) => E::InvalidParams(m),
            SpatialError::NotFound(m) => E::NotFound(m),
            SpatialError::Conflict(m) => E::Conflict(m),
            SpatialError::TooLarge(m) => E::TooLarge(m),
            SpatialError::Storage(m) => E::Failed(m),
            SpatialError::Cancelled => E::Cancelled,
        }
    }
}
