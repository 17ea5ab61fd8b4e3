//! WebSocket management: `/api/v1/ws/status`, `/connections`, `/broadcast`,
//! `/subscriptions` (seed 000 §4.2).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use weft_bus::NewEvent;

use super::ApiJson;
use crate::api_doc::{Api, Op};
use crate::transport::Control;
use crate::{ApiError, AppState};

pub(super) fn routes(api: Api) -> Api {
    const TAG: &str = "websocket management";
    api.route(
        Op::get(
            "/api/v1/ws/status",
            TAG,
            "Connection, subscription and message counts",
        ),
        get(status),
    )
    .route(
        Op::get(
            "/api/v1/ws/connections",
            TAG,
            "Open WebSocket connections with their subscriptions",
        ),
        get(connections),
    )
    .route(
        Op::get("/api/v1/ws/connections/{id}", TAG, "One connection"),
        get(connection),
    )
    .route(
        Op::delete("/api/v1/ws/connections/{id}", TAG, "Close a connection"),
        delete(disconnect),
    )
    .route(
        Op::post(
            "/api/v1/ws/broadcast",
            TAG,
            "Publish on system.broadcast and push to every connected client",
        )
        .body("application/json", "{\"kind\", \"data\"}"),
        post(broadcast),
    )
    .route(
        Op::get(
            "/api/v1/ws/subscriptions",
            TAG,
            "Every subscription of every connection",
        ),
        get(subscriptions),
    )
    .route(
        Op::post(
            "/api/v1/ws/subscriptions",
            TAG,
            "Subscribe a connected client on its behalf",
        )
        .body(
            "application/json",
            "{\"connection_id\", \"id\", \"topics\", \"resume_from\"?}",
        ),
        post(subscribe),
    )
    .route(
        Op::delete(
            "/api/v1/ws/subscriptions/{id}",
            TAG,
            "Remove a subscription (id: <connection_id>:<id>)",
        ),
        delete(unsubscribe),
    )
}

fn no_connection(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no WebSocket connection '{id}'; GET /api/v1/ws/connections lists them"),
    )
}

async fn status(State(state): State<AppState>) -> Json<Value> {
    let ws = state.connections.status();
    let bus = state.bus.stats();
    Json(json!({
        "connections": ws.connections,
        "compressed_connections": ws.compressed_connections,
        "subscriptions": ws.subscriptions,
        "connections_total": ws.connections_total,
        "messages_sent": ws.messages_sent,
        "messages_received": ws.messages_received,
        "events_published": bus.published,
        "events_delivered": bus.delivered,
        "subscribers_lagged": bus.lagged,
        "events_retained": bus.retained,
        "topics": bus.topics,
    }))
}

async fn connections(State(state): State<AppState>) -> Json<Value> {
    Json(json!(state.connections.list()))
}

async fn connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .connections
        .get(&id)
        .map(|c| Json(json!(c)))
        .ok_or_else(|| no_connection(&id))
}

async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let control = state
        .connections
        .control(&id)
        .ok_or_else(|| no_connection(&id))?;
    // The connection may be closing on its own; either way it goes.
    let _ = control.send(Control::Close).await;
    Ok(Json(json!({ "connection_id": id, "closed": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastBody {
    #[serde(default = "default_kind")]
    kind: String,
    data: Value,
}

fn default_kind() -> String {
    "broadcast".to_owned()
}

/// Publishes on `system.broadcast` (so it is retained and resumable) and
/// sends it to every connected WebSocket client, subscribed or not.
async fn broadcast(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BroadcastBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let event = state.bus.publish(NewEvent {
        topic: "system.broadcast".to_owned(),
        tenant: state.default_tenant.clone(),
        source: None,
        kind: body.kind,
        data: body.data,
    })?;
    let mut message = json!(event.as_ref());
    message["type"] = json!("broadcast");
    let text = message.to_string();
    let mut delivered = 0;
    for control in state.connections.all_controls() {
        // A connection whose control queue is full misses the push but can
        // still read it from system.broadcast.
        if control.try_send(Control::Send(text.clone())).is_ok() {
            delivered += 1;
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "delivered_to": delivered, "event": event.as_ref() })),
    ))
}

async fn subscriptions(State(state): State<AppState>) -> Json<Value> {
    let all: Vec<_> = state
        .connections
        .list()
        .into_iter()
        .flat_map(|c| c.subscriptions)
        .collect();
    Json(json!(all))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    connection_id: String,
    id: String,
    topics: Vec<String>,
    resume_from: Option<String>,
}

/// Subscribes a connected client on its behalf; it receives `subscribed`
/// and then the events, as if it had asked itself.
async fn subscribe(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SubscribeBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let control = state
        .connections
        .control(&body.connection_id)
        .ok_or_else(|| no_connection(&body.connection_id))?;
    let (reply, answer) = oneshot::channel();
    control
        .send(Control::Subscribe {
            id: body.id,
            topics: body.topics,
            resume_from: body.resume_from,
            reply,
        })
        .await
        .map_err(|_| no_connection(&body.connection_id))?;
    let reply = answer
        .await
        .map_err(|_| no_connection(&body.connection_id))?;
    if reply["type"] == "error" {
        let message = reply["message"]
            .as_str()
            .unwrap_or("subscription refused")
            .to_owned();
        let code = if reply["code"] == "conflict" {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        };
        let name = if code == StatusCode::CONFLICT {
            "conflict"
        } else {
            "bad_request"
        };
        return Err(ApiError::new(code, name, message));
    }
    let subscription_id = format!(
        "{}:{}",
        body.connection_id,
        reply["id"].as_str().unwrap_or_default()
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({ "subscription_id": subscription_id, "subscribed": reply })),
    ))
}

/// `{id}` is the `subscription_id` of the listing: `<connection_id>:<id>`.
async fn unsubscribe(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no subscription '{id}'; GET /api/v1/ws/subscriptions lists them"),
        )
    };
    let (connection_id, sub) = id.split_once(':').ok_or_else(missing)?;
    let control = state
        .connections
        .control(connection_id)
        .ok_or_else(missing)?;
    let (reply, answer) = oneshot::channel();
    control
        .send(Control::Unsubscribe {
            id: sub.to_owned(),
            reply,
        })
        .await
        .map_err(|_| missing())?;
    if answer.await.unwrap_or(false) {
        Ok(Json(json!({ "subscription_id": id, "deleted": true })))
    } else {
        Err(missing())
    }
}
