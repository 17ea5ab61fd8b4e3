//! `GET /api/v1/health` and `GET /metrics` (the figures are `crate::metrics`').

use std::fmt::Write;

use crate::AppState;
use crate::metrics::collect;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub(crate) async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": state.version,
        "plugins": state.runtime.plugins().len(),
    }))
}

/// Prometheus text exposition of the runtime's and the bus's counters.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    for metric in collect(&state) {
        let (name, help, kind) = (metric.name, metric.help, metric.kind);
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (label, value) in &metric.values {
            match label {
                Some((key, v)) => {
                    let _ = writeln!(out, "{name}{{{key}=\"{v}\"}} {value}");
                }
                None => {
                    let _ = writeln!(out, "{name} {value}");
                }
            }
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
