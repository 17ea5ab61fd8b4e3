//! REST resources under `/api/v1`, plus `/metrics`.

mod events;
mod health;
mod jobs;
mod plugins;
mod ws_admin;

use axum::Router;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::http::{StatusCode, Uri};
use axum::routing::get;

use crate::{ApiError, AppState};

/// `Json<T>` whose rejection is an [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub(crate) T);

/// `Query<T>` whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub(crate) T);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .merge(plugins::routes())
        .merge(jobs::routes())
        .merge(ws_admin::routes())
        .route("/api/v1/events", get(events::list))
}

/// JSON 404 for every unknown path.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {}; the API lives under /api/v1 (see README)",
            uri.path()
        ),
    )
}
