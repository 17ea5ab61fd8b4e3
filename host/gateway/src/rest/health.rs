//! `GET /api/v1/health` and `GET /metrics`.

use std::fmt::Write;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use weft_runtime::JobState;

use crate::AppState;

pub(crate) async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": state.version,
        "plugins": state.runtime.plugins().len(),
    }))
}

/// A per-family counter: name, help text, and how to read it.
type FamilyMetric = (
    &'static str,
    &'static str,
    fn(&weft_bus::FamilyStats) -> u64,
);

/// Prometheus text exposition of the runtime's and the bus's counters.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let bus = state.bus.stats();
    let counts = state.jobs.counts();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    gauge(
        "weft_plugins_loaded",
        "Plugins loaded.",
        "gauge",
        state.runtime.plugins().len() as u64,
    );
    gauge(
        "weft_events_published_total",
        "Events published on the bus.",
        "counter",
        bus.published,
    );
    gauge(
        "weft_events_delivered_total",
        "Event deliveries to subscriber queues.",
        "counter",
        bus.delivered,
    );
    gauge(
        "weft_subscribers_lagged_total",
        "Subscribers detached because they fell behind.",
        "counter",
        bus.lagged,
    );
    gauge(
        "weft_subscribers",
        "Live bus subscriptions.",
        "gauge",
        bus.subscribers,
    );
    gauge(
        "weft_events_retained",
        "Events held for replay.",
        "gauge",
        bus.retained,
    );
    let ws = state.connections.status();
    gauge(
        "weft_ws_connections",
        "Open WebSocket connections.",
        "gauge",
        ws.connections as u64,
    );
    gauge(
        "weft_ws_subscriptions",
        "Subscriptions held by WebSocket connections.",
        "gauge",
        ws.subscriptions as u64,
    );
    gauge(
        "weft_ws_connections_total",
        "WebSocket connections accepted.",
        "counter",
        ws.connections_total,
    );
    gauge(
        "weft_ws_messages_sent_total",
        "WebSocket messages sent.",
        "counter",
        ws.messages_sent,
    );
    gauge(
        "weft_ws_messages_received_total",
        "WebSocket messages received.",
        "counter",
        ws.messages_received,
    );
    let streaming = state.sessions.totals();
    for (name, help, value) in [
        (
            "weft_streaming_sessions",
            "Live anomaly streaming sessions.",
            streaming.sessions,
        ),
        (
            "weft_streaming_clients",
            "Clients connected to streaming sessions.",
            streaming.clients,
        ),
        (
            "weft_streaming_queue_depth",
            "Requests queued in all sessions.",
            streaming.queued,
        ),
        (
            "weft_streaming_samples",
            "Rows scored by the live sessions.",
            streaming.samples,
        ),
        (
            "weft_streaming_anomalies",
            "Rows flagged by the live sessions.",
            streaming.anomalies,
        ),
        (
            "weft_streaming_backpressure_refusals",
            "Requests the live sessions refused because their queue was full.",
            streaming.rejected,
        ),
    ] {
        gauge(name, help, "gauge", value);
    }
    let families = state.bus.family_stats();
    let by_family: [FamilyMetric; 3] = [
        (
            "weft_family_events_published_total",
            "Events published, by topic family.",
            |f| f.published,
        ),
        (
            "weft_family_events_delivered_total",
            "Event deliveries, by topic family.",
            |f| f.delivered,
        ),
        (
            "weft_family_subscribers_lagged_total",
            "Lag notices, by topic family.",
            |f| f.lagged,
        ),
    ];
    for (name, help, pick) in by_family {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for f in &families {
            let _ = writeln!(out, "{name}{{family=\"{}\"}} {}", f.family, pick(f));
        }
    }
    let _ = writeln!(
        out,
        "# HELP weft_jobs Jobs known, by state.\n# TYPE weft_jobs gauge"
    );
    for s in [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ] {
        let _ = writeln!(
            out,
            "weft_jobs{{state=\"{}\"}} {}",
            s.as_str(),
            counts.get(&s).copied().unwrap_or(0)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
