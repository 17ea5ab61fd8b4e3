//! The anomaly streaming API of seed 004: the WebSocket session endpoint
//! `GET /api/v1/streaming/enhanced/{session_id}` and the REST resources
//! that list and close sessions.
//!
//! The connection loop only parses and routes: scoring happens on the
//! session's own thread (see `sessions`), fan-out to subscribers through
//! the bus. It must never call a plugin itself or queue without bound.

mod protocol;
mod sessions;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_bus::Delivery;

pub use sessions::{Sessions, StreamingConfig};

use protocol::ClientMessage;
use sessions::{Command, SessionHandle, Shape, Work};

use crate::api_doc::{Api, Op};
use crate::ws::{Chore, CloseFrame, Message, Socket, Upgrade, close_code};
use crate::{ApiError, AppState, Principal};

/// The engine behind the endpoint.
const ENGINE: &str = "anomaly";
/// Largest client message (the seed's 10 MB).
const MAX_MESSAGE: usize = 10 << 20;
/// Rows one `batch` may carry.
const MAX_BATCH_ROWS: usize = 100_000;
/// Requests one client may have waiting for an answer.
const CLIENT_IN_FLIGHT: usize = 64;
/// Subscription messages buffered per client before its bus queue fills.
const EVENT_QUEUE: usize = 256;

pub(crate) fn routes(api: Api) -> Api {
    const TAG: &str = "anomaly streaming";
    api.route(
        Op::websocket(
            "/api/v1/streaming/enhanced/{session_id}",
            TAG,
            "An anomaly detection session: sample, batch, stats, drift, subscribe, alert, config, ping",
        )
        .query("client_id", "your id in the session (generated if absent)")
        .query("algorithm", "isolation_forest, half_space_trees, one_class_svm or robust_zscore (new sessions)")
        .query("window_size", "rows the models and drift test keep (new sessions)")
        .query("contamination", "expected anomalous share (new sessions)"),
        get(upgrade),
    )
    .route(Op::get("/api/v1/streaming/sessions", TAG, "Live sessions"), get(list))
    .route(Op::get("/api/v1/streaming/sessions/{session_id}", TAG, "One session"), get(show))
    .route(
        Op::delete("/api/v1/streaming/sessions/{session_id}", TAG, "Close a session"),
        delete(close),
    )
    .route(
        Op::get("/api/v1/streaming/health", TAG, "Whether the anomaly engine is loaded; session count"),
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
    let engine = state.runtime.plugin(ENGINE).ok();
    let ready = engine.as_ref().is_some_and(|p| p.supports_sessions());
    // The server-wide count is the operators'; a tenant sees its own.
    let sessions = if caller.operator {
        state.sessions.count()
    } else {
        state.sessions.list(Some(&caller.tenant)).len()
    };
    axum::Json(json!({
        "status": if ready { "ok" } else { "engine_not_loaded" },
        "engine": ENGINE,
        "engine_version": engine.map(|p| p.info().version.clone()),
        "sessions": sessions,
        "max_sessions": state.sessions.config().max_sessions,
    }))
    .into_response()
}

/// Query parameters other than `client_id` configure a new session;
/// numbers are passed as numbers.
fn session_config(params: &HashMap<String, String>) -> Value {
    let fields = params
        .iter()
        .filter(|(k, _)| k.as_str() != "client_id")
        .map(|(k, v)| {
            let value = v
                .parse::<u64>()
                .map(Value::from)
                .or_else(|_| v.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::from(v.as_str()));
            (k.clone(), value)
        })
        .collect();
    Value::Object(fields)
}

async fn upgrade(
    Path(session_id): Path<String>,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    caller: Principal,
    ws: Result<Upgrade, ApiError>,
) -> Result<Response, ApiError> {
    check_session_id(&session_id)?;
    let ws = ws?;
    let client_id = params
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let config = session_config(&params);
    Ok(ws.max_message_size(MAX_MESSAGE).on_upgrade(move |socket| {
        connection(socket, state, caller.tenant, session_id, client_id, config)
    }))
}

async fn refuse(mut socket: Socket, code: &str, message: &str) {
    let _ = socket
        .send(Message::Text(protocol::error(code, message, None)))
        .await;
    let frame = CloseFrame {
        code: close_code::POLICY,
        reason: code.to_owned(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// One client's connection to a session.
struct Client {
    id: String,
    handle: Arc<SessionHandle>,
    replies: mpsc::Sender<String>,
    in_flight: Arc<AtomicUsize>,
    events: mpsc::Sender<String>,
    subscriptions: HashMap<String, JoinHandle<()>>,
}

async fn connection(
    socket: Socket,
    state: AppState,
    tenant: String,
    session_id: String,
    client_id: String,
    config: Value,
) {
    let plugin = match state.runtime.plugin(ENGINE) {
        Ok(plugin) if plugin.supports_sessions() => plugin,
        Ok(_) => {
            return refuse(
                socket,
                "not_streaming",
                &format!("the loaded '{ENGINE}' engine does not implement weft:engine/stream"),
            )
            .await;
        }
        Err(_) => {
            return refuse(
                socket,
                "engine_not_loaded",
                &format!(
                    "engine '{ENGINE}' is not loaded, so there is nothing to score with; load it with POST /api/v1/plugins?name={ENGINE}"
                ),
            )
            .await;
        }
    };
    let (handle, created) = match state
        .sessions
        .join(&tenant, &session_id, plugin, config)
        .await
    {
        Ok(joined) => joined,
        Err(error) => return refuse(socket, error.code, &error.message).await,
    };
    let mut registered = state.connections.register(
        &format!("/api/v1/streaming/enhanced/{session_id}"),
        crate::ws::Peer {
            tenant: tenant.clone(),
            compressed: socket.compressed(),
        },
    );
    let (mut sink, mut stream) = socket.split();
    let (replies, mut replies_rx) = mpsc::channel::<String>(CLIENT_IN_FLIGHT + 8);
    let (events, mut events_rx) = mpsc::channel::<String>(EVENT_QUEUE);
    let mut client = Client {
        id: client_id,
        handle: handle.clone(),
        replies,
        in_flight: Arc::new(AtomicUsize::new(0)),
        events,
        subscriptions: HashMap::new(),
    };
    let welcome = protocol::reply(
        json!({
            "type": "welcome",
            "session_id": handle.id,
            "client_id": client.id,
            "engine": handle.engine,
            "engine_version": handle.engine_version,
            "server_version": state.version,
            "session_created": created,
            "clients": handle.clients.load(Ordering::Relaxed),
            "config": handle.config,
            "message_types": protocol::CLIENT_TYPES,
            "topics": protocol::TOPICS,
            "limits": {
                "max_message_bytes": MAX_MESSAGE,
                "max_batch_rows": MAX_BATCH_ROWS,
                "client_in_flight": CLIENT_IN_FLIGHT,
                "session_queue": state.sessions.config().queue,
                "idle_timeout_secs": state.sessions.config().idle_timeout.as_secs(),
            },
        }),
        None,
    );
    let mut open = sink.send(Message::Text(welcome)).await.is_ok();
    let mut liveness = crate::ws::Liveness::start(&state.websocket).await;
    while open {
        let outgoing = tokio::select! {
            chore = registered.chore(&mut liveness) => match chore {
                Chore::Send(message) => message,
                Chore::Close(message) => {
                    let _ = sink.send(message).await;
                    break;
                }
            },
            incoming = stream.next() => {
                liveness.seen();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        handle.counters.messages_received.fetch_add(1, Ordering::Relaxed);
                        registered.counters.received.fetch_add(1, Ordering::Relaxed);
                        match handle_message(&state, &mut client, text.as_str()) {
                            Some(reply) => Message::Text(reply),
                            None => continue,
                        }
                    }
                    Some(Ok(Message::Binary(_))) => Message::Text(
                        protocol::error("bad_request", "send JSON text frames, not binary", None),
                    ),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                }
            }
            Some(reply) = replies_rx.recv() => {
                client.in_flight.fetch_sub(1, Ordering::Relaxed);
                Message::Text(reply)
            }
            Some(event) = events_rx.recv() => Message::Text(event),
        };
        let is_text = matches!(outgoing, Message::Text(_));
        open = sink.send(outgoing).await.is_ok();
        if open && is_text {
            registered.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    for (_, task) in client.subscriptions.drain() {
        task.abort();
    }
    state.sessions.leave(&handle);
}

/// Routes one client message; returns the immediate reply, if any (work
/// for the engine is answered later through the client's reply channel).
fn handle_message(state: &AppState, client: &mut Client, text: &str) -> Option<String> {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(e) => {
            return Some(protocol::error(
                "bad_request",
                &format!(
                    "cannot read message ({e}); send a JSON object with a \"type\" of {}",
                    protocol::CLIENT_TYPES.join(", ")
                ),
                None,
            ));
        }
    };
    let request_id = message.request_id.clone();
    let rid = request_id.as_deref();
    let invalid = |why: String| Some(protocol::error("invalid_request", &why, rid));
    let work = match message.kind.as_str() {
        "ping" => return Some(protocol::reply(json!({"type": "pong"}), rid)),
        "sample" => match protocol::parse_row(message.data.as_ref()) {
            Ok(values) => Work::Push {
                width: u32::try_from(values.len()).unwrap_or(u32::MAX),
                values,
                algorithm: message.algorithm,
                sample_ids: vec![message.sample_id],
                shape: Shape::Single,
            },
            Err(why) => return invalid(why),
        },
        "batch" => match protocol::parse_rows(message.batch_data.as_ref(), MAX_BATCH_ROWS) {
            Ok((values, width)) => {
                let rows = values.len() / (width.max(1) as usize);
                let sample_ids = match message.sample_ids {
                    Some(ids) if ids.len() != rows => {
                        return invalid(format!("{} sample_ids for {rows} rows", ids.len()));
                    }
                    Some(ids) => ids.into_iter().map(Some).collect(),
                    None => Vec::new(),
                };
                let shape = match message.format.as_deref() {
                    None | Some("rows") => Shape::Rows,
                    Some("columns") => Shape::Columns,
                    Some(other) => {
                        return invalid(format!("unknown format '{other}'; use rows or columns"));
                    }
                };
                Work::Push {
                    values,
                    width,
                    algorithm: message.algorithm,
                    sample_ids,
                    shape,
                }
            }
            Err(why) => return invalid(why),
        },
        "stats" => Work::Stats,
        "drift" => {
            let mut params = match message.config {
                Some(Value::Object(fields)) => Value::Object(fields),
                None => json!({}),
                Some(_) => return invalid("\"config\" must be an object".into()),
            };
            if let Some(window) = message.window_size {
                params["window_size"] = window.into();
            }
            Work::Request {
                kind: "drift".into(),
                params,
            }
        }
        "config" => match message.config {
            Some(config @ Value::Object(_)) => Work::Request {
                kind: "configure".into(),
                params: config,
            },
            _ => {
                return invalid(
                    "a config message needs \"config\": an object such as {\"algorithm\": \"half_space_trees\", \"contamination\": 0.01}".into(),
                );
            }
        },
        "subscribe" | "unsubscribe" => {
            let topic = message
                .config
                .as_ref()
                .and_then(|c| c.get("topic"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(message.topic);
            let resume_from = message
                .config
                .as_ref()
                .and_then(|c| c.get("resume_from"))
                .and_then(Value::as_str);
            return Some(subscription(
                state,
                client,
                &message.kind,
                topic,
                resume_from,
                rid,
            ));
        }
        "alert" => {
            let alert = match message.data.or(message.config) {
                Some(Value::Object(fields)) => Value::Object(fields),
                _ => {
                    return invalid(
                        "an alert needs \"data\": an object such as {\"title\": …, \"message\": …, \"severity\": \"warning\"}".into(),
                    );
                }
            };
            state
                .sessions
                .publish_alert(&client.handle, &client.id, alert);
            return Some(protocol::reply(
                json!({"type": "ack", "for": "alert", "success": true}),
                rid,
            ));
        }
        other => {
            return Some(protocol::error(
                "unknown_type",
                &format!(
                    "unknown message type '{other}'; use one of: {}",
                    protocol::CLIENT_TYPES.join(", ")
                ),
                rid,
            ));
        }
    };
    if client.in_flight.load(Ordering::Relaxed) >= CLIENT_IN_FLIGHT {
        client
            .handle
            .counters
            .rejected
            .fetch_add(1, Ordering::Relaxed);
        return Some(protocol::backpressure(CLIENT_IN_FLIGHT, rid));
    }
    let command = Command {
        work,
        request_id,
        client_id: client.id.clone(),
        reply: client.replies.clone(),
        queued_at: Instant::now(),
    };
    client.in_flight.fetch_add(1, Ordering::Relaxed);
    match client.handle.submit(command) {
        Ok(()) => None,
        Err(reply) => {
            client.in_flight.fetch_sub(1, Ordering::Relaxed);
            Some(reply)
        }
    }
}

fn subscription(
    state: &AppState,
    client: &mut Client,
    kind: &str,
    topic: Option<String>,
    resume_from: Option<&str>,
    request_id: Option<&str>,
) -> String {
    let Some(topic) = topic.filter(|t| protocol::TOPICS.contains(&t.as_str())) else {
        return protocol::error(
            "invalid_request",
            &format!(
                "{kind} needs \"config\": {{\"topic\": …}} with one of: {}",
                protocol::TOPICS.join(", ")
            ),
            request_id,
        );
    };
    if kind == "unsubscribe" {
        let existed = client
            .subscriptions
            .remove(&topic)
            .map(|task| task.abort())
            .is_some();
        return protocol::reply(
            json!({"type": "unsubscribed", "topic": topic, "was_subscribed": existed}),
            request_id,
        );
    }
    if client
        .subscriptions
        .get(&topic)
        .is_some_and(|t| !t.is_finished())
    {
        return protocol::reply(
            json!({"type": "subscribed", "topic": topic, "already": true}),
            request_id,
        );
    }
    let pattern = format!(
        "{}.sessions.{}.{topic}",
        client.handle.engine, client.handle.id
    );
    match state.bus.subscribe(
        std::slice::from_ref(&pattern),
        Some(&client.handle.tenant),
        resume_from,
    ) {
        Ok(subscription) => {
            let task = tokio::spawn(forward(topic.clone(), subscription, client.events.clone()));
            client.subscriptions.insert(topic.clone(), task);
            protocol::reply(
                json!({"type": "subscribed", "topic": topic, "bus_topic": pattern}),
                request_id,
            )
        }
        Err(e) => protocol::error("invalid_request", &e.to_string(), request_id),
    }
}

/// Forwards one topic's events to the client as protocol messages.
async fn forward(
    topic: String,
    mut subscription: weft_bus::Subscription,
    out: mpsc::Sender<String>,
) {
    while let Some(delivery) = subscription.next().await {
        let (text, last) = match delivery {
            Delivery::Event(event) => {
                let mut body = json!({
                    "type": event.kind,
                    "topic": topic,
                    "seq": event.seq,
                    "resume_from": event.token.to_string(),
                    "timestamp": protocol::now(),
                });
                match (&mut body, &event.data) {
                    (Value::Object(fields), Value::Object(data)) if event.kind != "stats" => {
                        for (k, v) in data {
                            fields.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    (Value::Object(fields), data) => {
                        let key = if event.kind == "stats" { "stats" } else { "data" };
                        fields.insert(key.into(), data.clone());
                    }
                    _ => {}
                }
                (body.to_string(), false)
            }
            Delivery::Lagged(token) => (
                json!({"type": "lagged", "topic": topic, "resume_from": token.to_string(),
                       "message": "you fell behind and this subscription was dropped; subscribe again with config.resume_from to get the rest"})
                    .to_string(),
                true,
            ),
        };
        if out.send(text).await.is_err() || last {
            break;
        }
    }
}
