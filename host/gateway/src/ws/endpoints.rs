//! The seed documents' WebSocket endpoints: each is the generic protocol
//! of `/api/v1/ws`, pre-subscribed (subscription id `default`) to its
//! topic family. Engine-specific request messages arrive with each engine.

/// One pre-subscribed endpoint.
pub(crate) struct Preset {
    pub(crate) path: &'static str,
    /// Plugin whose events the endpoint streams (None: host events).
    pub(crate) engine: Option<&'static str>,
    pub(crate) topics: &'static [&'static str],
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
    }
}

const fn host(path: &'static str, topics: &'static [&'static str]) -> Preset {
    Preset {
        path,
        engine: None,
        topics,
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
    host("/api/v1/ws/storage/buffer-pool", &["storage.buffer_pool"]),
    host("/api/v1/ws/storage/lsm", &["storage.lsm"]),
    host("/api/v1/ws/storage/io", &["storage.io"]),
    host("/api/v1/ws/storage/tiers", &["storage.tiers"]),
    host("/api/v1/ws/storage/pages", &["storage.pages"]),
    host("/api/v1/ws/storage/columnar", &["storage.columnar"]),
    host("/api/v1/ws/events", &[">"]),
];
