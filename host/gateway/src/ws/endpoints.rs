//! Pre-subscribed endpoints: the generic protocol of `/api/v1/ws`,
//! subscribed (subscription id `default`) to a topic family on connect.
//! The host's own are the storage streams of seed 001 and the everything
//! stream; an engine's come from its manifest (`Preset::of_endpoint`) and
//! may take request messages that run its operations (`requests.rs`).

use weft_runtime::manifest::Endpoint;

/// One pre-subscribed endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Preset {
    pub(crate) path: String,
    /// Plugin whose events the endpoint streams (None: host events).
    pub(crate) engine: Option<String>,
    pub(crate) topics: Vec<String>,
    /// `(message type, default operation)` of each request it takes.
    pub(crate) requests: Vec<(String, String)>,
    /// Default spacing of `*_stats` events (seed 001's intervals); a
    /// connection may ask for another with `?interval_ms=`.
    pub(crate) stats_interval_ms: Option<u64>,
}

impl Preset {
    /// The endpoint a plugin declared, served for `engine`.
    pub(crate) fn of_endpoint(engine: &str, endpoint: &Endpoint) -> Self {
        Self {
            path: endpoint.path.clone(),
            engine: Some(engine.to_owned()),
            topics: endpoint.topics.clone(),
            requests: endpoint
                .requests
                .iter()
                .map(|r| (r.message_type.clone(), r.operation.clone()))
                .collect(),
            stats_interval_ms: None,
        }
    }

    /// The default operation of request messages of type `kind`.
    pub(crate) fn request(&self, kind: &str) -> Option<&str> {
        self.requests
            .iter()
            .find(|(t, _)| t == kind)
            .map(|(_, op)| op.as_str())
    }
}

fn storage(path: &str, topic: &str, interval_ms: u64) -> Preset {
    Preset {
        path: path.to_owned(),
        engine: None,
        topics: vec![topic.to_owned()],
        requests: Vec::new(),
        stats_interval_ms: Some(interval_ms),
    }
}

/// Seed 001's storage streams and the generic event stream.
pub(crate) fn host_presets() -> Vec<Preset> {
    vec![
        storage("/api/v1/ws/storage/buffer-pool", "storage.buffer_pool", 100),
        storage("/api/v1/ws/storage/lsm", "storage.lsm", 1000),
        storage("/api/v1/ws/storage/io", "storage.io", 100),
        storage("/api/v1/ws/storage/tiers", "storage.tiers", 5000),
        storage("/api/v1/ws/storage/pages", "storage.pages", 500),
        storage("/api/v1/ws/storage/columnar", "storage.columnar", 1000),
        Preset {
            path: "/api/v1/ws/events".into(),
            engine: None,
            topics: vec![">".into()],
            requests: Vec::new(),
            stats_interval_ms: None,
        },
    ]
}
