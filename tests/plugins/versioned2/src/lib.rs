//! `versioned` at version 2.0.0: the same `engine.rs`, built again.

#[path = "../../versioned/src/engine.rs"]
pub mod engine;
