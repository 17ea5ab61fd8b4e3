//! The anomaly engine: online detectors for streams of numeric rows.
//!
//! Four models ([`isolation_forest`], [`half_space_trees`], [`one_class`],
//! [`robust_z`]) behind one [`detector::Detector`] that scores a row before
//! learning it and calibrates the score ([`calibration`]); concept-drift
//! tests in [`drift`]; a [`session::AnomalySession`] that holds all of it
//! for one stream. Everything is plain Rust, seeded and unit-tested
//! natively; [`protocol`] declares the session's messages and events (the
//! host serves the wire protocol from that declaration) and [`engine`]
//! exports it all as the `streaming-plugin` world. Nothing here knows of
//! sockets.

pub mod calibration;
pub mod detector;
pub mod drift;
pub mod engine;
pub mod half_space_trees;
pub mod isolation_forest;
pub mod metrics;
pub mod one_class;
pub mod protocol;
pub mod robust_z;
pub mod session;

pub use engine::AnomalyEngine;

weft_sdk::export_streaming_engine!(AnomalyEngine);
