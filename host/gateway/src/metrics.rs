//! Every figure the server exposes — plugins, jobs, the bus per topic
//! family, WebSocket connections, sessions — collected once for both
//! `/metrics` (Prometheus text) and `/api/v1/ws/metrics` (JSON).

use serde_json::{Value, json};
use weft_runtime::JobState;

use crate::AppState;

/// A per-family counter: name, help text, and how to read it.
type FamilyMetric = (
    &'static str,
    &'static str,
    fn(&weft_bus::FamilyStats) -> u64,
);

/// One metric and its values (one unlabelled value, or one per label).
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) values: Vec<(Option<(&'static str, String)>, u64)>,
}

/// Every figure `/metrics` exposes, for its text and for `/api/v1/ws/metrics`.
pub(crate) fn collect(state: &AppState) -> Vec<Metric> {
    let bus = state.bus.stats();
    let counts = state.jobs.counts();
    let mut metrics = Vec::new();
    let mut gauge = |name: &'static str, help: &'static str, kind: &'static str, value: u64| {
        metrics.push(Metric {
            name,
            help,
            kind,
            values: vec![(None, value)],
        });
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
        "weft_ws_compressed_connections",
        "Open WebSocket connections speaking permessage-deflate.",
        "gauge",
        ws.compressed_connections as u64,
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
            "Live streaming sessions.",
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
            "Rows pushed into the live sessions.",
            streaming.rows,
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
        metrics.push(Metric {
            name,
            help,
            kind: "counter",
            values: families
                .iter()
                .map(|f| (Some(("family", f.family.clone())), pick(f)))
                .collect(),
        });
    }
    metrics.push(Metric {
        name: "weft_jobs",
        help: "Jobs known, by state.",
        kind: "gauge",
        values: [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .map(|s| {
            (
                Some(("state", s.as_str().to_owned())),
                counts.get(&s).copied().unwrap_or(0) as u64,
            )
        })
        .collect(),
    });
    metrics
}

/// The figures as one JSON object: `name: value`, or `name: {label: value}`.
pub(crate) fn snapshot(state: &AppState) -> Value {
    let mut out = serde_json::Map::new();
    for metric in collect(state) {
        let value = if metric.values.len() == 1 && metric.values[0].0.is_none() {
            json!(metric.values[0].1)
        } else {
            Value::Object(
                metric
                    .values
                    .into_iter()
                    .map(|(label, v)| (label.map(|(_, l)| l).unwrap_or_default(), json!(v)))
                    .collect(),
            )
        };
        out.insert(metric.name.to_owned(), value);
    }
    Value::Object(out)
}
