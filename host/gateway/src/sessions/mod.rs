//! Streaming sessions over WebSocket, for any plugin that declares a
//! session protocol: its declared path (e.g. the seed's
//! `/api/v1/streaming/enhanced/{session_id}`, found by the fallback in
//! `plugin_surface`) and the host's own
//! `/api/v1/ws/sessions/{plugin}/{session_id}`, plus the REST resources
//! that list and close sessions.
//!
//! The runtime owns the sessions (`weft_runtime::Sessions`); this module
//! is the wire protocol only and must not know any engine.

mod connection;
mod wire;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Map, Value, json};
use weft_runtime::SessionTarget;

use crate::api_doc::{Api, Op};
use crate::transport::Upgrade;
use crate::{ApiError, AppState, Principal};

pub(crate) fn routes(api: Api) -> Api {
    const TAG: &str = "sessions";
    api.route(
        Op::websocket(
            "/api/v1/ws/sessions/{plugin}/{session_id}",
            TAG,
            "A session of any streaming engine, in its declared protocol (also served at the path the engine declares)",
        )
        .query("client_id", "your id in the session (generated if absent)"),
        get(generic),
    )
    .route(Op::get("/api/v1/streaming/sessions", TAG, "Live sessions"), get(list))
    .route(Op::get("/api/v1/streaming/sessions/{session_id}", TAG, "One session"), get(show))
    .route(
        Op::delete("/api/v1/streaming/sessions/{session_id}", TAG, "Close a session"),
        delete(close),
    )
    .route(
        Op::get(
            "/api/v1/streaming/health",
            TAG,
            "Which streaming engines are loaded; session count",
        ),
        get(health),
    )
}

fn check_session_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_session_id",
            format!(
                "session ids are 1-64 letters, digits, '_' or '-'; got '{}'",
                id.chars().take(80).collect::<String>()
            ),
        ))
    }
}

async fn list(State(state): State<AppState>, caller: Principal) -> Response {
    let sessions = state.sessions.list(caller.event_tenant());
    axum::Json(json!({"count": sessions.len(), "sessions": sessions})).into_response()
}

async fn show(
    State(state): State<AppState>,
    caller: Principal,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    check_session_id(&session_id)?;
    let handle = state
        .sessions
        .get(&caller.tenant, &session_id)
        .ok_or_else(|| missing(&session_id))?;
    Ok(axum::Json(handle.summary()).into_response())
}

async fn close(
    State(state): State<AppState>,
    caller: Principal,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    check_session_id(&session_id)?;
    let summary = state
        .sessions
        .close(&caller.tenant, &session_id)
        .ok_or_else(|| missing(&session_id))?;
    Ok(axum::Json(json!({"closed": true, "session": summary})).into_response())
}

fn missing(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no streaming session '{id}'; GET /api/v1/streaming/sessions lists them"),
    )
}

async fn health(State(state): State<AppState>, caller: Principal) -> Response {
    let engines: Vec<Value> = state
        .runtime
        .plugins()
        .into_iter()
        .filter_map(|p| {
            let session = p.manifest.session.as_ref()?;
            Some(json!({"name": p.name, "version": p.version, "path": session.path}))
        })
        .collect();
    // The server-wide count is the operators'; a tenant sees its own.
    let sessions = if caller.operator {
        state.sessions.count()
    } else {
        state.sessions.list(Some(&caller.tenant)).len()
    };
    axum::Json(json!({
        "status": if engines.is_empty() { "engine_not_loaded" } else { "ok" },
        "engines": engines,
        "sessions": sessions,
        "max_sessions": state.sessions.config().max_sessions,
    }))
    .into_response()
}

/// `/api/v1/ws/sessions/{plugin}/{session_id}`.
async fn generic(
    State(state): State<AppState>,
    Path((plugin, session_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    caller: Principal,
    ws: Result<Upgrade, ApiError>,
) -> Result<Response, ApiError> {
    let path = format!("/api/v1/ws/sessions/{plugin}/{session_id}");
    let target = state
        .runtime
        .find_session(&path)
        .unwrap_or(SessionTarget::NotLoaded(plugin));
    open(state, caller, target, &path, query, ws)
}

/// Opens (or joins) the session `target` names for a WebSocket client;
/// query parameters other than `client_id` are a new session's config,
/// typed by the protocol's config schema.
pub(crate) fn open(
    state: AppState,
    caller: Principal,
    target: SessionTarget,
    path: &str,
    query: HashMap<String, String>,
    ws: Result<Upgrade, ApiError>,
) -> Result<Response, ApiError> {
    let session_id = path.rsplit('/').next().unwrap_or_default().to_owned();
    check_session_id(&session_id)?;
    let ws = ws?.max_message_size(connection::MAX_MESSAGE);
    let plugin = match target {
        SessionTarget::Loaded(plugin, _) => plugin,
        SessionTarget::NotLoaded(engine) => {
            let message = connection::not_loaded(&engine);
            return Ok(ws.on_upgrade(move |socket| async move {
                connection::refuse(socket, "engine_not_loaded", &message).await;
            }));
        }
    };
    let schema = plugin
        .info()
        .manifest
        .session
        .as_ref()
        .map(|s| s.config_schema.clone())
        .unwrap_or(Value::Null);
    let config: Map<String, Value> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "client_id")
        .map(|(k, v)| (k.clone(), config_value(&schema, k, v)))
        .collect();
    let opening = connection::Opening {
        tenant: caller.tenant,
        session_id,
        client_id: query
            .get("client_id")
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        config: Value::Object(config),
        path: path.to_owned(),
    };
    Ok(ws.on_upgrade(move |socket| connection::run(socket, state, plugin, opening)))
}

/// A query value as its config schema's property types it; a property the
/// schema does not describe is a number when it reads as one.
fn config_value(schema: &Value, name: &str, value: &str) -> Value {
    if !schema["properties"][name].is_null() {
        return crate::plugin_surface::typed_param(schema, name, value);
    }
    value
        .parse::<u64>()
        .map(Value::from)
        .or_else(|_| value.parse::<f64>().map(Value::from))
        .unwrap_or_else(|_| Value::from(value))
}
