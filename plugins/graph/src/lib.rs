//! The graph engine: PageRank, breadth-first search, connected components
//! and Dijkstra shortest paths over an edge list.
//!
//! The algorithms ([`pagerank`], [`traversal`], [`components`],
//! [`shortest_path`]) are plain Rust over the compressed adjacency in
//! [`graph`]; they take a progress callback and know nothing of WIT or JSON.
//! [`operations`] maps JSON params to them and is what the component
//! exports. Built natively, the same code is unit-tested and benchmarked.

pub mod centrality;
pub mod community;
pub mod components;
pub mod embedding;
pub mod graph;
pub mod input;
pub mod operations;
pub mod pagerank;
pub mod query;
pub mod shortest_path;
pub mod similarity;
pub mod stored;
pub mod structure;
pub mod traversal;

pub use graph::Graph;
pub use operations::GraphEngine;

weft_sdk::export_engine!(GraphEngine);
