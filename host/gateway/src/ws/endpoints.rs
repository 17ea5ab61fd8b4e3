//! The seed documents' WebSocket endpoints: each is the generic protocol
//! of `/api/v1/ws`, pre-subscribed (subscription id `default`) to its
//! topic family. Most engine endpoints also take the request message seed
//! 000 §5.2 names for them (`training_progress_request`, …), which runs an
//! operation of the endpoint's engine as a job (`requests.rs`).

/// One pre-subscribed endpoint.
pub(crate) struct Preset {
    pub(crate) path: &'static str,
    /// Plugin whose events the endpoint streams (None: host events).
    pub(crate) engine: Option<&'static str>,
    pub(crate) topics: &'static [&'static str],
    /// The seed's request message this endpoint answers, if any.
    pub(crate) request: Option<&'static str>,
    /// Default spacing of `*_stats` events (seed 001's intervals); a
    /// connection may ask for another with `?interval_ms=`.
    pub(crate) stats_interval_ms: Option<u64>,
}

const fn engine(
    path: &'static str,
    engine: &'static str,
    topics: &'static [&'static str],
    request: Option<&'static str>,
) -> Preset {
    Preset {
        path,
        engine: Some(engine),
        topics,
        request,
        stats_interval_ms: None,
    }
}

const fn host(path: &'static str, topics: &'static [&'static str]) -> Preset {
    Preset {
        path,
        engine: None,
        topics,
        request: None,
        stats_interval_ms: None,
    }
}

const fn storage(path: &'static str, topic: &'static [&'static str], interval_ms: u64) -> Preset {
    Preset {
        path,
        engine: None,
        topics: topic,
        request: None,
        stats_interval_ms: Some(interval_ms),
    }
}

/// Seed 000 (ML, analytics, graph, documents, spatial), seed 001
/// (storage) and the generic event stream.
pub(crate) const PRESETS: &[Preset] = &[
    engine(
        "/api/v1/ws/ml/training",
        "ml",
        &["ml.training"],
        Some("training_progress_request"),
    ),
    engine(
        "/api/v1/ws/ml/predictions",
        "ml",
        &["ml.predictions"],
        Some("prediction_stream_request"),
    ),
    engine(
        "/api/v1/ws/ml/automl",
        "ml",
        &["ml.automl"],
        Some("automl_progress_request"),
    ),
    engine("/api/v1/ws/ml/lifecycle", "ml", &["ml.lifecycle"], None),
    engine(
        "/api/v1/ws/analytics/olap",
        "analytics",
        &["analytics.olap"],
        Some("olap_query_request"),
    ),
    engine(
        "/api/v1/ws/analytics/timeseries",
        "analytics",
        &["analytics.timeseries"],
        Some("timeseries_analysis_request"),
    ),
    engine(
        "/api/v1/ws/analytics/profiling",
        "analytics",
        &["analytics.profiling"],
        Some("data_profiling_request"),
    ),
    engine(
        "/api/v1/ws/analytics/workload",
        "analytics",
        &["analytics.workload"],
        Some("workload_analysis_request"),
    ),
    engine(
        "/api/v1/ws/analytics/cache",
        "analytics",
        &["analytics.cache"],
        None,
    ),
    engine(
        "/api/v1/ws/graph/algorithms",
        "graph",
        &["graph.algorithms"],
        Some("graph_algorithm_request"),
    ),
    engine(
        "/api/v1/ws/graph/traversal",
        "graph",
        &["graph.traversal"],
        Some("graph_algorithm_request"),
    ),
    engine(
        "/api/v1/ws/documents/changes",
        "document",
        &["document.changes"],
        None,
    ),
    engine(
        "/api/v1/ws/documents/aggregation",
        "document",
        &["document.aggregation"],
        Some("aggregation_request"),
    ),
    engine(
        "/api/v1/ws/spatial/query",
        "spatial",
        &["spatial.query"],
        Some("spatial_query_request"),
    ),
    engine(
        "/api/v1/ws/spatial/routing",
        "spatial",
        &["spatial.routing"],
        Some("network_routing_request"),
    ),
    storage(
        "/api/v1/ws/storage/buffer-pool",
        &["storage.buffer_pool"],
        100,
    ),
    storage("/api/v1/ws/storage/lsm", &["storage.lsm"], 1000),
    storage("/api/v1/ws/storage/io", &["storage.io"], 100),
    storage("/api/v1/ws/storage/tiers", &["storage.tiers"], 5000),
    storage("/api/v1/ws/storage/pages", &["storage.pages"], 500),
    storage("/api/v1/ws/storage/columnar", &["storage.columnar"], 1000),
    host("/api/v1/ws/events", &[">"]),
];
