//! `GET /api/v1/ws/query` (seed 000 §4.1): run operations over one socket
//! and watch them. A `query` submits a job; the socket then carries its
//! `progress` and finally its `result`. Several queries may run at once,
//! each answer naming its `request_id` and `job_id`; `cancel` stops one.
//!
//! Job execution stays in the runtime: this module submits and relays.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use weft_bus::Delivery;
use weft_runtime::{Job, SubmitRequest};

use std::sync::atomic::Ordering;

use super::{Message, Socket, Upgrade};
use crate::transport::Chore;
use crate::{ApiError, AppState, Principal};

/// Answers buffered per connection; a relay waits when it is full.
const QUEUE: usize = 256;
/// Largest client message (params can carry an edge list).
const MAX_MESSAGE: usize = 16 << 20;
/// How long a relay waits for a job whose progress it lost to finish.
const FALLBACK_WAIT: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Query {
        #[serde(default)]
        request_id: Option<String>,
        engine: String,
        op: String,
        #[serde(default)]
        params: Option<Value>,
    },
    Cancel {
        #[serde(default)]
        request_id: Option<String>,
        job_id: String,
    },
    Ping {
        #[serde(default)]
        request_id: Option<String>,
    },
}

pub(super) async fn upgrade(
    ws: Upgrade,
    State(state): State<AppState>,
    caller: Principal,
) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| connection(socket, state, caller))
}

/// The transport's error, with `request_id` always present (`null` when
/// the request had none), as the query protocol promises.
fn error(code: &str, message: &str, request_id: Option<&str>) -> String {
    let mut error = crate::transport::error_json(code, message, request_id);
    error["request_id"] = request_id.into();
    error.to_string()
}

async fn connection(socket: Socket, state: AppState, caller: Principal) {
    let peer = super::Peer {
        tenant: caller.tenant.clone(),
        compressed: socket.compressed(),
    };
    let mut registered = state.connections.register("/api/v1/ws/query", peer);
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(QUEUE);
    let welcome = json!({
        "type": "welcome",
        "server_version": state.version,
        "message_types": ["query", "cancel", "ping"],
    });
    if sink.send(Message::Text(welcome.to_string())).await.is_err() {
        return;
    }
    let mut liveness = crate::transport::Liveness::start(&state.websocket).await;
    let mut relays = Vec::new();
    loop {
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
                        registered.counters.received.fetch_add(1, Ordering::Relaxed);
                        let reply = handle(&state, &caller, text.as_str(), &out_tx, &mut relays);
                        Message::Text(reply)
                    }
                    Some(Ok(Message::Binary(_))) => {
                        Message::Text(error("bad_request", "send JSON text frames, not binary", None))
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                }
            }
            Some(text) = out_rx.recv() => Message::Text(text),
        };
        let is_text = matches!(outgoing, Message::Text(_));
        if sink.send(outgoing).await.is_err() {
            break;
        }
        if is_text {
            registered.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    // The jobs run on; only their relays to this socket stop.
    for relay in relays {
        relay.abort();
    }
}

fn handle(
    state: &AppState,
    caller: &Principal,
    text: &str,
    out: &mpsc::Sender<String>,
    relays: &mut Vec<tokio::task::JoinHandle<()>>,
) -> String {
    let message = match serde_json::from_str::<ClientMessage>(text) {
        Ok(message) => message,
        Err(e) => {
            return error(
                "bad_request",
                &format!(
                    "cannot read message ({e}); send {{\"type\":\"query\",\"engine\":…,\"op\":…,\"params\":{{…}}}}, cancel or ping"
                ),
                None,
            );
        }
    };
    match message {
        ClientMessage::Ping { request_id } => {
            json!({"type": "pong", "request_id": request_id}).to_string()
        }
        ClientMessage::Cancel { request_id, job_id } => match caller
            .job(&state.jobs, &job_id)
            .and_then(|_| state.jobs.cancel(&job_id))
        {
            Ok(job) => {
                json!({"type": "cancelling", "request_id": request_id, "job_id": job.job_id})
                    .to_string()
            }
            Err(e) => {
                let e = ApiError::from(e);
                error(e.code(), e.message(), request_id.as_deref())
            }
        },
        ClientMessage::Query {
            request_id,
            engine,
            op,
            params,
        } => {
            let submitted = state.jobs.submit(SubmitRequest {
                engine,
                op,
                params: params.unwrap_or_else(|| json!({})),
                tenant: caller.tenant.clone(),
                version: None,
            });
            match submitted {
                Ok(job) => {
                    relays.retain(|r| !r.is_finished());
                    let accepted = json!({
                        "type": "accepted",
                        "request_id": request_id,
                        "job_id": job.job_id,
                        "topic": job.topic,
                    });
                    relays.push(tokio::spawn(relay(
                        state.clone(),
                        job,
                        request_id,
                        out.clone(),
                    )));
                    accepted.to_string()
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    error(e.code(), e.message(), request_id.as_deref())
                }
            }
        }
    }
}

pub(super) fn result_message(job: &Job, request_id: Option<&str>) -> String {
    json!({
        "type": "result",
        "request_id": request_id,
        "job_id": job.job_id,
        "state": job.state.as_str(),
        "result": job.result,
        "error": job.error,
    })
    .to_string()
}

/// Relays one job's progress, then its result.
async fn relay(state: AppState, job: Job, request_id: Option<String>, out: mpsc::Sender<String>) {
    let origin = state.bus.origin().to_string();
    let subscription = state.bus.subscribe(
        std::slice::from_ref(&job.topic),
        None, // the caller submitted this job: it is theirs
        Some(&origin),
    );
    if let Ok(mut subscription) = subscription {
        while let Some(delivery) = subscription.next().await {
            let Delivery::Event(event) = delivery else {
                break; // lagged: skip the rest of the progress, report the result
            };
            let text = match event.kind.as_str() {
                "progress" => json!({
                    "type": "progress",
                    "request_id": request_id,
                    "job_id": job.job_id,
                    "done": event.data["done"],
                    "total": event.data["total"],
                    "message": event.data["message"],
                })
                .to_string(),
                "job_state" => {
                    let finished = matches!(
                        event.data["state"].as_str(),
                        Some("succeeded" | "failed" | "cancelled")
                    );
                    if !finished {
                        continue;
                    }
                    break;
                }
                _ => continue,
            };
            if out.send(text).await.is_err() {
                return;
            }
        }
    }
    send_result(&state, &job.job_id, request_id.as_deref(), &out).await;
}

/// Waits for job `job_id` and sends its `result` (or the error that kept
/// it from one): the one place a job's outcome becomes a message.
pub(super) async fn send_result(
    state: &AppState,
    job_id: &str,
    request_id: Option<&str>,
    out: &mpsc::Sender<String>,
) {
    let message = match state.jobs.wait(job_id, FALLBACK_WAIT).await {
        Ok(finished) => result_message(&finished, request_id),
        Err(e) => {
            let e = ApiError::from(e);
            error(e.code(), e.message(), request_id)
        }
    };
    let _ = out.send(message).await;
}
