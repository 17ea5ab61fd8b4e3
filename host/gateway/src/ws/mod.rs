//! The WebSocket protocol of `GET /api/v1/ws`: subscribe to topic patterns
//! (optionally resuming from a token), receive events, unsubscribe, ping.
//!
//! Each subscription is a task that forwards bus deliveries into the
//! connection's bounded outbound queue. A client that stops reading fills
//! that queue, then its bus queue, and is then detached with a `lagged`
//! message naming where to resume; nobody else slows down.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_bus::{Delivery, Event};

use crate::AppState;
use crate::api_doc::{Api, Op};

mod endpoints;
mod metrics;
mod query;
mod requests;

use crate::transport::{Control, Due, Liveness, Message, Peer, Socket, Upgrade, idle_close};

/// Control messages buffered per connection.
const CONTROL_QUEUE: usize = 16;

/// Outbound messages buffered per connection before forwarders wait.
const OUTBOUND_QUEUE: usize = 256;
/// Largest client message accepted.
const MAX_CLIENT_MESSAGE: usize = 64 << 10;
/// Subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 64;

pub(crate) fn routes(api: Api) -> Api {
    let mut api = api.route(
        Op::websocket(
            "/api/v1/ws",
            "websocket",
            "The event protocol: subscribe to topic patterns (with resume_from), receive events, unsubscribe, ping",
        ),
        get(upgrade),
    )
    .route(
        Op::websocket(
            "/api/v1/ws/query",
            "websocket",
            "Run operations and watch them: query (engine, op, params) → accepted, progress…, result; cancel; ping",
        ),
        get(query::upgrade),
    )
    .route(
        Op::websocket(
            "/api/v1/ws/metrics",
            "websocket",
            "The figures of /metrics as JSON, pushed every interval_ms (100-60000, default 1000; change with a config message)",
        )
        .query("interval_ms", "milliseconds between reports"),
        get(metrics::upgrade),
    );
    for preset in endpoints::host_presets() {
        let summary = format!(
            "The event protocol, pre-subscribed to {}",
            preset.topics.join(", ")
        );
        let path: &'static str = Box::leak(preset.path.clone().into_boxed_str());
        let mut op = Op::websocket(path, "websocket", summary);
        if let Some(ms) = preset.stats_interval_ms {
            op = op.query(
                "interval_ms",
                match ms {
                    100 => "spacing of *_stats events, 100-60000 ms (default 100)",
                    500 => "spacing of *_stats events, 100-60000 ms (default 500)",
                    1000 => "spacing of *_stats events, 100-60000 ms (default 1000)",
                    _ => "spacing of *_stats events, 100-60000 ms (default 5000)",
                },
            );
        }
        let preset = std::sync::Arc::new(preset);
        api =
            api.route(
                op,
                get(
                    move |ws: Upgrade,
                          State(state): State<AppState>,
                          caller: crate::Principal,
                          crate::extract::ApiQuery(query): crate::extract::ApiQuery<
                        PresetQuery,
                    >| async move {
                        serve_preset(ws, state, caller, preset, query.interval_ms)
                    },
                ),
            );
    }
    api
}

/// Upgrades to a pre-subscribed endpoint (the host's, or one a plugin
/// declared).
pub(crate) fn serve_preset(
    ws: Upgrade,
    state: AppState,
    caller: crate::Principal,
    preset: std::sync::Arc<endpoints::Preset>,
    interval_ms: Option<u64>,
) -> Response {
    if let Some(ms) = interval_ms
        && (preset.stats_interval_ms.is_none() || !(MIN_STATS_INTERVAL_MS..=60_000).contains(&ms))
    {
        return crate::ApiError::bad_request(format!(
            "interval_ms applies to the storage endpoints and must be {MIN_STATS_INTERVAL_MS} to 60000"
        ))
        .into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection(socket, state, caller, Some(preset), interval_ms))
}

/// A plugin's endpoint at `path`, if one declares (or declared) it.
pub(crate) fn plugin_preset(
    state: &AppState,
    path: &str,
) -> Option<std::sync::Arc<endpoints::Preset>> {
    state
        .runtime
        .find_endpoint(path)
        .map(|(engine, endpoint, _)| {
            std::sync::Arc::new(endpoints::Preset::of_endpoint(&engine, &endpoint))
        })
}

/// Storage stats are published every 100 ms at most; asking for less is
/// asking for nothing more.
const MIN_STATS_INTERVAL_MS: u64 = 100;

/// Query of a pre-subscribed endpoint.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetQuery {
    /// Spacing of `*_stats` events (storage endpoints).
    interval_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        id: String,
        topics: Vec<String>,
        resume_from: Option<String>,
        /// Deliver at most one `*_stats` event of each kind per this many
        /// milliseconds (the storage endpoints' intervals).
        #[serde(default)]
        stats_interval_ms: Option<u64>,
    },
    Unsubscribe {
        id: String,
    },
    Ping,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    Welcome {
        connection_id: &'a str,
        server_version: &'a str,
    },
    Subscribed {
        id: &'a str,
        topics: &'a [String],
    },
    Unsubscribed {
        id: &'a str,
    },
    Lagged {
        sub: &'a str,
        resume_from: String,
    },
    Pong,
    Error {
        code: &'a str,
        message: String,
    },
}

impl ServerMessage<'_> {
    fn text(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

async fn upgrade(ws: Upgrade, State(state): State<AppState>, caller: crate::Principal) -> Response {
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection(socket, state, caller, None, None))
}

async fn connection(
    socket: Socket,
    state: AppState,
    caller: crate::Principal,
    preset: Option<std::sync::Arc<endpoints::Preset>>,
    stats_interval_ms: Option<u64>,
) {
    let connection_id = uuid::Uuid::now_v7().to_string();
    let (control_tx, mut control_rx) = mpsc::channel::<Control>(CONTROL_QUEUE);
    let counters = state.connections.open(
        &connection_id,
        preset.as_ref().map_or("/api/v1/ws", |p| p.path.as_str()),
        Peer {
            tenant: caller.tenant.clone(),
            compressed: socket.compressed(),
        },
        control_tx,
    );
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(OUTBOUND_QUEUE);
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    // Tasks waiting to send the `result` of a request's job.
    let mut requests: Vec<JoinHandle<()>> = Vec::new();
    let count_sent = || {
        counters
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    };

    let welcome = ServerMessage::Welcome {
        connection_id: &connection_id,
        server_version: &state.version,
    };
    if sink.send(Message::Text(welcome.text())).await.is_err() {
        state.connections.close(&connection_id);
        return;
    }
    count_sent();
    if let Some(preset) = &preset {
        let mut replies = Vec::new();
        if let Some(engine) = &preset.engine
            && state.runtime.plugin(engine).is_err()
        {
            // Stay subscribed: events flow as soon as the engine is loaded.
            replies.push(
                ServerMessage::Error {
                    code: "engine_not_loaded",
                    message: format!(
                        "engine '{engine}' is not loaded, so {} has nothing to stream yet; load it with POST /api/v1/plugins?name={engine}",
                        preset.path
                    ),
                }
                .text(),
            );
        }
        let message = ClientMessage::Subscribe {
            id: "default".to_owned(),
            topics: preset.topics.clone(),
            resume_from: None,
            stats_interval_ms: stats_interval_ms.or(preset.stats_interval_ms),
        };
        replies.insert(
            0,
            apply(
                &state,
                &caller,
                &connection_id,
                message,
                &mut subscriptions,
                &out_tx,
            ),
        );
        for reply in replies {
            if sink.send(Message::Text(reply)).await.is_err() {
                state.connections.close(&connection_id);
                return;
            }
            count_sent();
        }
    }
    let mut liveness = Liveness::start(&state.websocket).await;
    loop {
        tokio::select! {
            due = liveness.due() => match due {
                Due::Ping => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
                Due::Close => {
                    let _ = sink.send(idle_close()).await;
                    break;
                }
            },
            incoming = stream.next() => {
                liveness.seen();
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        let reply = error("bad_request", "send JSON text frames, not binary");
                        if sink.send(reply).await.is_err() { break }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue, // ping/pong frames are answered by the library
                };
                counters.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let kind = message_type(text.as_str());
                let takes_request = preset.as_ref().and_then(|p| p.request(&kind)).is_some();
                let reply = match serde_json::from_str::<ClientMessage>(text.as_str()) {
                    _ if takes_request => {
                        let (reply, task) = requests::engine_request(&state, &caller, preset.as_deref(), &kind, text.as_str(), &out_tx);
                        requests.retain(|task| !task.is_finished());
                        requests.extend(task);
                        reply
                    }
                    Ok(message) => apply(&state, &caller, &connection_id, message, &mut subscriptions, &out_tx),
                    Err(e) => ServerMessage::Error {
                        code: "bad_request",
                        message: format!(
                            "cannot read message ({e}); expected {{\"type\":\"subscribe\",\"id\":…,\"topics\":[…]}}, unsubscribe, ping{}",
                            preset.as_ref().filter(|p| !p.requests.is_empty()).map(|p| format!(", or one of this endpoint's requests ({})", p.requests.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", "))).unwrap_or_default()
                        ),
                    }
                    .text(),
                };
                if sink.send(Message::Text(reply)).await.is_err() {
                    break;
                }
                count_sent();
            }
            Some(outgoing) = out_rx.recv() => {
                if sink.send(Message::Text(outgoing)).await.is_err() {
                    break;
                }
                count_sent();
            }
            Some(control) = control_rx.recv() => {
                let text = match control {
                    Control::Close => {
                        let _ = sink.send(crate::transport::operator_close()).await;
                        break;
                    }
                    Control::Send(text) => text,
                    Control::Subscribe { id, topics, resume_from, reply } => {
                        let message = ClientMessage::Subscribe { id, topics, resume_from, stats_interval_ms: None };
                        let text = apply(&state, &caller, &connection_id, message, &mut subscriptions, &out_tx);
                        let _ = reply.send(serde_json::from_str(&text).unwrap_or_default());
                        text
                    }
                    Control::Unsubscribe { id, reply } => {
                        let existed = subscriptions.contains_key(&id);
                        let message = ClientMessage::Unsubscribe { id };
                        let text = apply(&state, &caller, &connection_id, message, &mut subscriptions, &out_tx);
                        let _ = reply.send(existed);
                        if !existed {
                            continue;
                        }
                        text
                    }
                };
                if sink.send(Message::Text(text)).await.is_err() {
                    break;
                }
                count_sent();
            }
        }
    }
    for (_, task) in subscriptions {
        task.abort();
    }
    // The jobs run on; only their reports to this socket stop.
    for task in requests {
        task.abort();
    }
    state.connections.close(&connection_id);
}

fn error(code: &str, message: &str) -> Message {
    Message::Text(
        ServerMessage::Error {
            code,
            message: message.to_owned(),
        }
        .text(),
    )
}

/// The `type` of a message already known to parse.
fn message_type(text: &str) -> String {
    #[derive(Deserialize)]
    struct Tagged {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Tagged>(text)
        .map(|t| t.kind)
        .unwrap_or_default()
}

/// Applies one client (or operator) message; returns the direct reply.
fn apply(
    state: &AppState,
    caller: &crate::Principal,
    connection_id: &str,
    message: ClientMessage,
    subscriptions: &mut HashMap<String, JoinHandle<()>>,
    out_tx: &mpsc::Sender<String>,
) -> String {
    match message {
        ClientMessage::Ping => ServerMessage::Pong.text(),
        ClientMessage::Unsubscribe { id } => match subscriptions.remove(&id) {
            Some(task) => {
                task.abort();
                state.connections.unsubscribed(connection_id, &id);
                ServerMessage::Unsubscribed { id: &id }.text()
            }
            None => ServerMessage::Error {
                code: "not_found",
                message: format!("no subscription '{id}' on this connection"),
            }
            .text(),
        },
        ClientMessage::Subscribe {
            id,
            topics,
            resume_from,
            stats_interval_ms,
        } => {
            if let Some(ms) = stats_interval_ms
                && !(MIN_STATS_INTERVAL_MS..=60_000).contains(&ms)
            {
                return ServerMessage::Error {
                    code: "bad_request",
                    message: format!("stats_interval_ms must be {MIN_STATS_INTERVAL_MS} to 60000"),
                }
                .text();
            }
            let stats_interval = stats_interval_ms.map(std::time::Duration::from_millis);
            let finished: Vec<String> = subscriptions
                .iter()
                .filter(|(_, task)| task.is_finished())
                .map(|(id, _)| id.clone())
                .collect();
            for id in finished {
                subscriptions.remove(&id);
                state.connections.unsubscribed(connection_id, &id);
            }
            if subscriptions.contains_key(&id) {
                return ServerMessage::Error {
                    code: "conflict",
                    message: format!(
                        "subscription '{id}' already exists; unsubscribe it or pick another id"
                    ),
                }
                .text();
            }
            if subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return ServerMessage::Error {
                    code: "too_many_subscriptions",
                    message: format!("a connection may hold {MAX_SUBSCRIPTIONS} subscriptions"),
                }
                .text();
            }
            let subscription =
                state
                    .bus
                    .subscribe(&topics, caller.event_tenant(), resume_from.as_deref());
            match subscription {
                Ok(subscription) => {
                    let task = tokio::spawn(forward(
                        id.clone(),
                        subscription,
                        out_tx.clone(),
                        stats_interval,
                    ));
                    subscriptions.insert(id.clone(), task);
                    state.connections.subscribed(connection_id, &id, &topics);
                    ServerMessage::Subscribed {
                        id: &id,
                        topics: &topics,
                    }
                    .text()
                }
                Err(e) => ServerMessage::Error {
                    code: "bad_request",
                    message: e.to_string(),
                }
                .text(),
            }
        }
    }
}

/// `{"type":"event","sub":…, <envelope fields>}`, splicing the envelope's
/// JSON (serialized once per event, not once per subscriber).
fn event_message(sub: &str, event: &Event) -> String {
    let envelope = event.json();
    let fields = envelope.strip_prefix('{').unwrap_or(envelope);
    let sub = serde_json::to_string(sub).unwrap_or_else(|_| "\"\"".to_owned());
    if fields.starts_with('}') {
        return format!("{{\"type\":\"event\",\"sub\":{sub}}}");
    }
    format!("{{\"type\":\"event\",\"sub\":{sub},{fields}")
}

/// Moves one subscription's deliveries into the connection's queue.
///
/// With `stats_interval`, at most one `*_stats` event of each kind is sent
/// per interval. One skipped inside the interval is held and sent when the
/// interval ends — unless a later event was sent meanwhile, which would put
/// it out of order; then it is dropped and a newer one will follow (figures
/// are published when they change). So the client always ends up with the
/// latest figures, and seq order holds.
async fn forward(
    id: String,
    mut subscription: weft_bus::Subscription,
    out: mpsc::Sender<String>,
    stats_interval: Option<std::time::Duration>,
) {
    let mut last_stats: HashMap<String, tokio::time::Instant> = HashMap::new();
    let mut held: Option<std::sync::Arc<Event>> = None;
    loop {
        let due = held
            .as_ref()
            .and_then(|e| last_stats.get(&e.kind))
            .zip(stats_interval)
            .map(|(at, every)| *at + every);
        let delivery = tokio::select! {
            delivery = subscription.next() => match delivery {
                Some(delivery) => delivery,
                None => break,
            },
            () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                if let Some(event) = held.take() {
                    last_stats.insert(event.kind.clone(), tokio::time::Instant::now());
                    if out.send(event_message(&id, &event)).await.is_err() {
                        break;
                    }
                }
                continue;
            }
        };
        let (text, last) = match delivery {
            Delivery::Event(event) => {
                if let Some(every) = stats_interval
                    && event.kind.ends_with("_stats")
                {
                    let now = tokio::time::Instant::now();
                    if last_stats
                        .get(&event.kind)
                        .is_some_and(|at| now.duration_since(*at) < every)
                    {
                        held = Some(event);
                        continue;
                    }
                    last_stats.insert(event.kind.clone(), now);
                }
                // Anything sent after a held event would overtake it.
                held = None;
                (event_message(&id, &event), false)
            }
            Delivery::Lagged(token) => (
                ServerMessage::Lagged {
                    sub: &id,
                    resume_from: token.to_string(),
                }
                .text(),
                true,
            ),
        };
        if out.send(text).await.is_err() || last {
            break;
        }
    }
}
