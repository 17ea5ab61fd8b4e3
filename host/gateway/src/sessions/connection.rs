//! One client's connection to a session: parses frames, answers the
//! host's own messages (`ping`, `stats`, `subscribe`, `unsubscribe`),
//! hands declared messages to the session's queue and writes what comes
//! back. It must never call a plugin itself or queue without bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_bus::Delivery;
use weft_runtime::LoadedPlugin;
use weft_runtime::manifest::{SESSION_MESSAGES, SessionCall, SessionMessage, SessionProtocol};
use weft_runtime::sessions::{SessionCommand, SessionHandle, SessionWork, SubmitError};

use super::wire::{self, Answering, MAX_ROWS};
use crate::AppState;
use crate::transport::{Chore, CloseFrame, Message, Socket, close_code};

/// Largest client message (the seed's 10 MB).
pub(super) const MAX_MESSAGE: usize = 10 << 20;
/// Requests one client may have waiting for an answer.
const CLIENT_IN_FLIGHT: usize = 64;
/// Subscription messages buffered per client before its bus queue fills.
const EVENT_QUEUE: usize = 256;

/// Closes a socket with one error message first.
pub(super) async fn refuse(mut socket: Socket, code: &str, message: &str) {
    let _ = socket
        .send(Message::Text(wire::error(code, message, None)))
        .await;
    let frame = CloseFrame {
        code: close_code::POLICY,
        reason: code.to_owned(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// One client of a session.
struct Client {
    id: String,
    handle: Arc<SessionHandle>,
    protocol: SessionProtocol,
    replies: mpsc::Sender<String>,
    in_flight: Arc<AtomicUsize>,
    events: mpsc::Sender<String>,
    subscriptions: HashMap<String, JoinHandle<()>>,
}

/// What a session connection was opened with.
pub(super) struct Opening {
    pub(super) tenant: String,
    pub(super) session_id: String,
    pub(super) client_id: String,
    pub(super) config: Value,
    pub(super) path: String,
}

/// The parameters a client asked for that the existing session it joined
/// does not have: a rejoin never changes a session, so the client is told.
fn ignored_config(requested: &Value, session: &Value) -> Map<String, Value> {
    let Some(requested) = requested.as_object() else {
        return Map::new();
    };
    requested
        .iter()
        .filter(|(name, value)| session.get(name.as_str()) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Message types a client of `protocol` may send.
fn message_types(protocol: &SessionProtocol) -> Vec<String> {
    protocol
        .messages
        .iter()
        .map(|m| m.message_type.clone())
        .chain(SESSION_MESSAGES.iter().map(|s| (*s).to_owned()))
        .collect()
}

/// Topics within the session a client may subscribe to.
fn topics(protocol: &SessionProtocol) -> Vec<String> {
    protocol
        .topics
        .iter()
        .cloned()
        .chain(std::iter::once("stats".to_owned()))
        .collect()
}

pub(super) async fn run(
    socket: Socket,
    state: AppState,
    plugin: Arc<LoadedPlugin>,
    opening: Opening,
) {
    let Some(protocol) = plugin.info().manifest.session.clone() else {
        return refuse(
            socket,
            "not_streaming",
            &format!(
                "engine '{}' does not implement weft:engine/stream",
                plugin.info().name
            ),
        )
        .await;
    };
    let sessions = state.sessions.clone();
    let (tenant, session_id, config) = (
        opening.tenant.clone(),
        opening.session_id.clone(),
        opening.config,
    );
    let requested = config.clone();
    let joined =
        tokio::task::spawn_blocking(move || sessions.join(&tenant, &session_id, plugin, config))
            .await;
    let (handle, created) = match joined {
        Ok(Ok(joined)) => joined,
        Ok(Err(error)) => return refuse(socket, error.code, &error.message).await,
        Err(_) => return refuse(socket, "internal", "opening the session failed").await,
    };
    let mut registered = state.connections.register(
        &opening.path,
        crate::transport::Peer {
            tenant: opening.tenant.clone(),
            compressed: socket.compressed(),
        },
    );
    let (mut sink, mut stream) = socket.split();
    let (replies, mut replies_rx) = mpsc::channel::<String>(CLIENT_IN_FLIGHT + 8);
    let (events, mut events_rx) = mpsc::channel::<String>(EVENT_QUEUE);
    let config = state.sessions.config();
    let ignored = if created {
        Map::new()
    } else {
        ignored_config(&requested, &handle.config)
    };
    let mut welcome = json!({
        "type": "welcome",
        "session_id": handle.id,
        "client_id": opening.client_id,
        "engine": handle.engine,
        "engine_version": handle.engine_version,
        "server_version": state.version,
        "session_created": created,
        "restored": handle.restored,
        "clients": handle.clients(),
        "config": handle.config,
        "message_types": message_types(&protocol),
        "topics": topics(&protocol),
        "limits": {
            "max_message_bytes": MAX_MESSAGE,
            "max_batch_rows": MAX_ROWS,
            "client_in_flight": CLIENT_IN_FLIGHT,
            "session_queue": config.queue,
            "idle_timeout_secs": config.idle_timeout.as_secs(),
        },
    });
    if !ignored.is_empty() {
        let names: Vec<&str> = ignored.keys().map(String::as_str).collect();
        welcome["notice"] = Value::String(format!(
            "session '{}' already exists and keeps the parameters it was opened with (see config); ignored: {}. To change them, close it (DELETE /api/v1/streaming/sessions/{}) or use another session id",
            handle.id,
            names.join(", "),
            handle.id
        ));
        welcome["ignored_config"] = Value::Object(ignored);
    }
    let welcome = wire::reply(welcome, None);
    let mut client = Client {
        id: opening.client_id,
        handle: handle.clone(),
        protocol,
        replies,
        in_flight: Arc::new(AtomicUsize::new(0)),
        events,
        subscriptions: HashMap::new(),
    };
    let mut open = sink.send(Message::Text(welcome)).await.is_ok();
    let mut liveness = crate::transport::Liveness::start(&state.websocket).await;
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
                        wire::error("bad_request", "send JSON text frames, not binary", None),
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

fn request_id_of(message: &Map<String, Value>) -> Option<String> {
    match message.get("request_id") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Routes one client message; returns the immediate reply, if any (work
/// for the session is answered later through the client's reply channel).
fn handle_message(state: &AppState, client: &mut Client, text: &str) -> Option<String> {
    let types = || message_types(&client.protocol).join(", ");
    let message = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(message)) => message,
        Ok(_) | Err(_) => {
            return Some(wire::error(
                "bad_request",
                &format!(
                    "cannot read message; send a JSON object with a \"type\" of {}",
                    types()
                ),
                None,
            ));
        }
    };
    let request_id = request_id_of(&message);
    let rid = request_id.as_deref();
    let Some(kind) = message
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Some(wire::error(
            "bad_request",
            &format!("a message needs a \"type\": one of {}", types()),
            rid,
        ));
    };
    let declared = client.protocol.message(&kind).cloned();
    let work = match (kind.as_str(), declared) {
        ("ping", _) => return Some(wire::reply(json!({"type": "pong"}), rid)),
        ("subscribe" | "unsubscribe", _) => {
            let config = message.get("config");
            let topic = config
                .and_then(|c| c.get("topic"))
                .or_else(|| message.get("topic"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let resume_from = config
                .and_then(|c| c.get("resume_from"))
                .and_then(Value::as_str);
            return Some(subscription(state, client, &kind, topic, resume_from, rid));
        }
        ("stats", _) => (SessionWork::Stats, "stats".to_owned(), false, false),
        (_, Some(declared)) => match session_work(client, &declared, message) {
            Ok(work) => work,
            Err(why) => return Some(wire::error("invalid_request", &why, rid)),
        },
        (other, None) => {
            return Some(wire::error(
                "unknown_type",
                &format!("unknown message type '{other}'; use one of: {}", types()),
                rid,
            ));
        }
    };
    let (work, reply_type, single_row, as_columns) = work;
    if client.in_flight.load(Ordering::Relaxed) >= CLIENT_IN_FLIGHT {
        client
            .handle
            .counters
            .rejected
            .fetch_add(1, Ordering::Relaxed);
        return Some(wire::backpressure(CLIENT_IN_FLIGHT, rid));
    }
    let answering = Answering {
        reply_type,
        request_id: request_id.clone(),
        single_row,
        as_columns,
    };
    let replies = client.replies.clone();
    let command = SessionCommand::new(
        work,
        Box::new(move |outcome| {
            // The channel is sized for the in-flight limit, so this only
            // fails once the client has gone.
            let _ = replies.try_send(answering.render(outcome));
        }),
    );
    client.in_flight.fetch_add(1, Ordering::Relaxed);
    match client.handle.submit(command) {
        Ok(()) => None,
        Err(refused) => {
            client.in_flight.fetch_sub(1, Ordering::Relaxed);
            Some(match refused {
                SubmitError::Full(capacity) => wire::backpressure(capacity, rid),
                SubmitError::Closed => wire::error(
                    "session_closed",
                    "this session has ended; reconnect to open a new one",
                    rid,
                ),
                SubmitError::Failed(why) => wire::error("session_failed", &why, rid),
            })
        }
    }
}

type Work = (SessionWork, String, bool, bool);

/// A declared message as work for the session: its rows typed (a push),
/// its other fields as params, with the client's id and the request's.
fn session_work(
    client: &Client,
    declared: &SessionMessage,
    mut message: Map<String, Value>,
) -> Result<Work, String> {
    let message_type = declared.message_type.clone();
    let reply_type = if declared.reply_type.is_empty() {
        message_type.clone()
    } else {
        declared.reply_type.clone()
    };
    message.remove("type");
    let request_id = request_id_of(&message);
    message.insert("request_id".into(), request_id.into());
    message.insert("client_id".into(), client.id.clone().into());
    message.insert("session_id".into(), client.handle.id.clone().into());
    match declared.call {
        SessionCall::Request => Ok((
            SessionWork::Request {
                message_type,
                params: Value::Object(message),
            },
            reply_type,
            false,
            false,
        )),
        SessionCall::Push => {
            let field = &declared.rows_field;
            let shape = if declared.single_row {
                "one row: an array of values such as [1.2, 3.4], or an object"
            } else {
                "an array of rows, e.g. [[1.2, 3.4], [2.3, 4.5]]"
            };
            let rows = match (message.remove(field), declared.single_row) {
                (Some(row @ (Value::Array(_) | Value::Object(_))), true) => vec![row],
                (Some(Value::Array(rows)), false) => rows,
                _ => return Err(format!("a {message_type} needs \"{field}\": {shape}")),
            };
            if rows.len() > MAX_ROWS {
                return Err(format!(
                    "a {message_type} may hold at most {MAX_ROWS} rows; split it"
                ));
            }
            let columns = if declared.columns.is_empty() {
                wire::columns(&rows)
            } else {
                wire::declared_columns(&rows, &declared.columns)
            }
            .map_err(|why| format!("\"{field}\": {why}"))?;
            let as_columns = message.get("format").and_then(Value::as_str) == Some("columns");
            if let Some(format) = message.get("format").and_then(Value::as_str)
                && !matches!(format, "rows" | "columns")
            {
                return Err(format!("unknown format '{format}'; use rows or columns"));
            }
            Ok((
                SessionWork::Push {
                    message_type,
                    params: Value::Object(message),
                    rows: columns,
                },
                reply_type,
                declared.single_row,
                as_columns,
            ))
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
    let allowed = topics(&client.protocol);
    let Some(topic) = topic.filter(|t| allowed.contains(t)) else {
        return wire::error(
            "invalid_request",
            &format!(
                "{kind} needs \"config\": {{\"topic\": …}} with one of: {}",
                allowed.join(", ")
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
        return wire::reply(
            json!({"type": "unsubscribed", "topic": topic, "was_subscribed": existed}),
            request_id,
        );
    }
    if client
        .subscriptions
        .get(&topic)
        .is_some_and(|t| !t.is_finished())
    {
        return wire::reply(
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
            wire::reply(
                json!({"type": "subscribed", "topic": topic, "bus_topic": pattern}),
                request_id,
            )
        }
        Err(e) => wire::error("invalid_request", &e.to_string(), request_id),
    }
}

/// Forwards one topic's events to the client: the event's data fields at
/// the top level (the host's `stats` under `stats`).
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
                    "timestamp": wire::now(),
                });
                match (&mut body, event.data.as_ref()) {
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

/// What a client of a session path whose engine is gone is told.
pub(super) fn not_loaded(engine: &str) -> String {
    format!(
        "engine '{engine}' is not loaded, so this session cannot run; load it with POST /api/v1/plugins?name={engine}"
    )
}
