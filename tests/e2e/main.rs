//! End-to-end tests: the real `weft` binary, real `.wasm` plugins, real
//! sockets. One binary, one module per area (as wasmtime's `tests/all`).

mod anomaly;
mod bad_input;
mod cli;
mod graph_networkx;
mod graph_reference;
mod graphql;
mod jobs;
mod restart;
mod schemas;
mod sandbox;
mod websocket;
mod ws_admin;
