//! `GET /api/v1/events`: retained events for polling clients, with the same
//! resume tokens as WebSocket and GraphQL.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiQuery;
use crate::{ApiError, AppState, Principal};

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    /// Comma-separated topic patterns.
    topics: String,
    /// Resume token: only events after it.
    after: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let patterns: Vec<String> = query
        .topics
        .split(',')
        .map(|t| t.trim().to_owned())
        .collect();
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = state.bus.replay(
        &patterns,
        caller.event_tenant(),
        query.after.as_deref(),
        limit,
    )?;
    let next = events.last().map(|e| e.token.to_string()).or(query.after);
    Ok(Json(json!({ "events": events, "next": next })))
}
