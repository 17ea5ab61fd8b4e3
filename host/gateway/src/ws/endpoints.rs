//! The seed documents' WebSocket endpoints: each is the generic protocol
//! of `/api/v1/ws`, pre-subscribed (subscription id `default`) to its
//! topic family. Engine-specific request messages arrive with each engine
//! (`requests.rs`; the graph endpoints take `graph_algorithm_request`).

/// One pre-subscribed endpoint.
pub(crate) struct Preset {
    pub(crate) path: &'static str,
    /// Plugin whose events the endpoint streams (None: host events).
    pub(crate) engine: Option<&'static str>,
    pub(crate) topics: &'static [&'static str],
    /// Default spacing of `*_stats` events (seed 001's intervals); a
    /// connection may ask for another with `?interval_ms=`.
    pub(crate) stats_interval_ms: Option<u64>,
}

const fn engine(
    path: &'static str,
    engine: &'static str,
    topics: &'static [&'static str],
) -> Preset {
    Preset {
        path,
        engine: Some(engine),
        topics,
        stats_interval_ms: None,
    }
}

const fn host(path: &'static str, topics: &'static [&'static str]) -> Preset {
    Preset {
        path,
        engine: None,
        topics,
        stats_interval_ms: None,
    }
}

const fn storage(path: &'static str, topic: &'static [&'static str], interval_ms: u64) -> Preset {
    Preset {
        path,
        engine: None,
        topics: topic,
        stats_interval_ms: Some(interval_ms),
    }
}

/// Seed 000 (ML, analytics, graph, documents, spatial), seed 001
/// (storage) and the generic event stream.
pub(crate) const PRESETS: &[Preset] = &[
    engine("/api/v1/ws/ml/training", "ml", &["ml.training"]),
    engine("/api/v1/ws/ml/predictions", "ml", &["ml.predictions"]),
    engine("/api/v1/ws/ml/automl", "ml", &["ml.automl"]),
    engine("/api/v1/ws/ml/lifecycle", "ml", &["ml.lifecycle"]),
    engine(
        "/api/v1/ws/analytics/olap",
        "analytics",
        &["analytics.olap"],
    ),
    engine(
        "/api/v1/ws/analytics/timeseries",
        "analytics",
        &["analytics.timeseries"],
    ),
    engine(
        "/api/v1/ws/analytics/profiling",
        "analytics",
        &["analytics.profiling"],
    ),
    engine(
        "/api/v1/ws/analytics/workload",
        "analytics",
        &["analytics.workload"],
    ),
    engine(
        "/api/v1/ws/analytics/cache",
        "analytics",
        &["analytics.cache"],
    ),
    engine(
        "/api/v1/ws/graph/algorithms",
        "graph",
        &["graph.algorithms"],
    ),
    engine("/api/v1/ws/graph/traversal", "graph", &["graph.traversal"]),
    engine(
        "/api/v1/ws/documents/changes",
        "document",
        &["document.changes"],
    ),
    engine(
        "/api/v1/ws/documents/aggregation",
        "document",
        &["document.aggregation"],
    ),
    engine("/api/v1/ws/spatial/query", "spatial", &["spatial.query"]),
    engine(
        "/api/v1/ws/spatial/routing",
        "spatial",
        &["spatial.routing"],
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
