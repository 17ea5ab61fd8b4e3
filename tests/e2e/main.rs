//! End-to-end tests: the real `weft` binary, real `.wasm` plugins, real
//! sockets. One binary, one module per area (as wasmtime's `tests/all`).

mod analytics;
mod analytics_udf;
mod anomaly;
mod bad_input;
mod cli;
mod compression;
mod document;
mod fan_out;
mod graph_networkx;
mod graph_reference;
mod graphql;
mod hostile_clients;
mod jobs;
mod ml;
mod ml_federated;
mod openapi;
mod plugin_kit;
mod plugin_surface;
mod plugin_versions;
mod restart;
mod sandbox;
mod schemas;
mod sessions;
mod spatial;
mod storage;
mod stored_graphs;
mod tenancy;
mod websocket;
mod wit_versions;
mod ws_admin;
