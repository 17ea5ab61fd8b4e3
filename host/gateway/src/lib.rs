//! The network gateway: REST, WebSocket and GraphQL over one axum router.
//!
//! - [`router`] builds the whole HTTP surface from an [`AppState`].
//! - `rest/` holds one module per resource, `ws` the WebSocket event
//!   protocol, `sessions` the streaming-session wire protocol, `graphql/`
//!   the schema; all of them stand on `transport` (socket, connection
//!   registry, liveness), `extract` and `metrics`, which depend on none of
//!   them.
//! - `plugin_surface` serves what plugins declare (routes, WebSocket
//!   endpoints, OpenAPI entries) from the runtime's registry, so an engine
//!   needs no code here.
//!
//! The gateway is thin: it parses, authorises and translates; the runtime
//! does the work. It must never block on a plugin (jobs run on the
//! runtime's workers) and never answer bad input with a 500.

mod api_doc;
mod auth;
mod error;
mod extract;
mod graphql;
mod metrics;
mod plugin_surface;
mod rest;
mod sessions;
mod transport;
mod ws;

use axum::Router;
use weft_bus::Bus;
use weft_runtime::{Jobs, Runtime};

pub use auth::{ApiKeys, ApiKeysError, Principal};
pub use error::ApiError;
pub use transport::Connections;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    /// Plugin registry.
    pub runtime: Runtime,
    /// Job manager.
    pub jobs: Jobs,
    /// Event bus.
    pub bus: Bus,
    /// Server version, reported by health and the WebSocket welcome.
    pub version: String,
    /// Tenant of every caller when the server runs without API keys.
    pub default_tenant: String,
    /// Accepted API keys; `None`: the server is open (one tenant, every
    /// caller an operator).
    pub api_keys: Option<std::sync::Arc<ApiKeys>>,
    /// Live WebSocket connections.
    pub connections: Connections,
    /// WebSocket heartbeat settings.
    pub websocket: WebSocketConfig,
    /// Live streaming sessions (of any streaming plugin).
    pub sessions: weft_runtime::Sessions,
    /// Host storage: collections and datasets.
    pub store: std::sync::Arc<weft_storage::Store>,
    /// Bounds on streamed dataset uploads.
    pub uploads: Uploads,
    /// Largest request body read whole (JSON requests, collection values);
    /// streamed uploads have their own bounds.
    pub max_request_bytes: usize,
}

/// Bounds on streamed dataset uploads: how many at once (each holds a
/// loader thread), and how long one may go without sending a byte.
#[derive(Clone, Debug)]
pub struct Uploads {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    max: usize,
    idle: std::time::Duration,
}

impl Uploads {
    /// How long an upload may send nothing.
    pub(crate) fn idle(&self) -> std::time::Duration {
        self.idle
    }

    /// At most `max` at once, each ended after `idle` without a byte.
    pub fn new(max: usize, idle: std::time::Duration) -> Self {
        Self {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(max)),
            max,
            idle,
        }
    }
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new(16, std::time::Duration::from_secs(30))
    }
}

/// WebSocket heartbeat and idle limits.
#[derive(Clone, Debug)]
pub struct WebSocketConfig {
    /// How often the server pings each client.
    pub ping_interval: std::time::Duration,
    /// A client silent (no frames, no pongs) this long is disconnected.
    pub idle_timeout: std::time::Duration,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            ping_interval: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(90),
        }
    }
}

fn host_api() -> api_doc::Api {
    graphql::document(sessions::routes(ws::routes(rest::routes(
        api_doc::Api::new(),
    ))))
}

/// The routes and WebSocket endpoints the host serves itself, which no
/// plugin may declare. Give it to the runtime before loading plugins.
pub fn host_surface() -> weft_runtime::manifest::HostSurface {
    let mut surface = host_api().surface();
    surface.subscriptions = graphql::subscription_names();
    surface
}

/// The full HTTP surface.
pub fn router(state: AppState) -> Router {
    let schema = graphql::schema(state.clone());
    let api = host_api();
    state.runtime.reserve_host_surface(host_surface());
    error::set_request_limit(state.max_request_bytes);
    let body_limit = axum::extract::DefaultBodyLimit::max(state.max_request_bytes);
    Router::new()
        .merge(api.finish(&state.version))
        .fallback(plugin_surface::serve)
        .with_state(state.clone())
        .merge(graphql::routes(schema, state.clone()))
        // Routes that set their own limit (plugin uploads) keep it.
        .layer(body_limit)
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::authenticate,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
