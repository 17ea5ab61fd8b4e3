//! `GET /api/v1/ws/metrics` (seed 000 §4.1): the figures of `/metrics` as
//! JSON, pushed every `interval_ms` (query parameter or a `config`
//! message; 100–60,000, default 1,000).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use std::sync::atomic::Ordering;

use super::{Message, Socket, Upgrade};
use crate::AppState;
use crate::metrics::snapshot as metrics_snapshot;
use crate::transport::Chore;

const DEFAULT_INTERVAL_MS: u64 = 1000;

fn interval(requested: Option<u64>) -> Duration {
    Duration::from_millis(requested.unwrap_or(DEFAULT_INTERVAL_MS).clamp(100, 60_000))
}

pub(super) async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    caller: crate::Principal,
    ws: Upgrade,
) -> Response {
    let every = interval(query.get("interval_ms").and_then(|v| v.parse().ok()));
    ws.max_message_size(4 << 10)
        .on_upgrade(move |socket| connection(socket, state, caller.tenant, every))
}

fn report(state: &AppState, every: Duration) -> Message {
    let body = json!({
        "type": "metrics",
        "timestamp": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "interval_ms": every.as_millis() as u64,
        "metrics": metrics_snapshot(state),
    });
    Message::Text(body.to_string())
}

async fn connection(mut socket: Socket, state: AppState, tenant: String, mut every: Duration) {
    let peer = super::Peer {
        tenant,
        compressed: socket.compressed(),
    };
    let mut registered = state.connections.register("/api/v1/ws/metrics", peer);
    let mut ticker = tokio::time::interval(every);
    let mut liveness = crate::transport::Liveness::start(&state.websocket).await;
    loop {
        let outgoing = tokio::select! {
            _ = ticker.tick() => report(&state, every),
            chore = registered.chore(&mut liveness) => match chore {
                Chore::Send(message) => message,
                Chore::Close(message) => {
                    let _ = socket.send(message).await;
                    break;
                }
            },
            incoming = socket.next() => {
                liveness.seen();
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => {
                        registered.counters.received.fetch_add(1, Ordering::Relaxed);
                        text
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let message: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let reply = match message["type"].as_str() {
                    Some("ping") => json!({"type": "pong"}),
                    Some("config") => {
                        every = interval(message["interval_ms"].as_u64());
                        ticker = tokio::time::interval(every);
                        ticker.tick().await;
                        json!({"type": "config", "interval_ms": every.as_millis() as u64})
                    }
                    _ => crate::transport::error_json(
                        "bad_request",
                        "send {\"type\":\"config\",\"interval_ms\":N} (100-60000) or {\"type\":\"ping\"}",
                        None,
                    ),
                };
                Message::Text(reply.to_string())
            }
        };
        let is_text = matches!(outgoing, Message::Text(_));
        if socket.send(outgoing).await.is_err() {
            break;
        }
        if is_text {
            registered.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}
