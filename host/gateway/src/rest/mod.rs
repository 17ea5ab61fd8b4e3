//! REST resources under `/api/v1`, plus `/metrics`.

mod events;
mod health;
mod jobs;
mod plugins;
mod storage;
mod wit;
mod ws_admin;

use axum::http::StatusCode;
use axum::routing::get;

use crate::ApiError;
use crate::api_doc::{Api, Op};

pub(crate) use crate::extract::{ApiJson, ApiQuery};

pub(crate) fn routes(api: Api) -> Api {
    let api = api
        .route(
            Op::get("/api/v1/health", "health", "Status, version and the number of plugins loaded"),
            get(health::health),
        )
        .route(
            Op::get(
                "/metrics",
                "health",
                "Prometheus metrics: plugins, jobs, events per topic family, WebSocket and streaming figures",
            )
            .responds(200, "text/plain; version=0.0.4"),
            get(health::metrics),
        )
        .route(
            Op::get("/api/v1/events", "events", "Retained events, for clients that poll")
                .query("topics", "comma-separated topic patterns (required); `*` one segment, `>` the rest")
                .query("after", "resume token: only events after it")
                .query("limit", "at most this many (default 100, max 1000)"),
            get(events::list),
        );
    let api = wit::routes(ws_admin::routes(jobs::routes(plugins::routes(api))));
    storage::routes(api)
}

/// Runs blocking work (file I/O, fsync) on tokio's blocking pool, so no
/// runtime thread waits on the disk.
pub(crate) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(Into::into)
}
