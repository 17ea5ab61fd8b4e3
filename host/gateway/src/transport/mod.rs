//! The WebSocket transport every endpoint shares — the socket (with
//! permessage-deflate), the registry of live connections operators list and
//! close, and liveness (pings, idle timeout) — below the protocols that
//! use it (`ws`, `sessions`, `graphql`). It must not know any protocol's
//! messages.

mod registry;
mod socket;

pub use registry::Connections;
pub(crate) use registry::{Chore, Control, Peer};
pub(crate) use socket::{CloseFrame, Message, Socket, Upgrade, close_code};

/// The error message of every WebSocket protocol here, in one shape:
/// `{"type": "error", "code", "message", "request_id"?}` (a protocol may
/// add fields, such as the session protocol's `success` and `timestamp`).
pub(crate) fn error_json(code: &str, message: &str, request_id: Option<&str>) -> serde_json::Value {
    let mut error = serde_json::json!({"type": "error", "code": code, "message": message});
    if let Some(id) = request_id {
        error["request_id"] = id.into();
    }
    error
}

/// [`error_json`] as a text frame's payload.
pub(crate) fn error_text(code: &str, message: &str, request_id: Option<&str>) -> String {
    error_json(code, message, request_id).to_string()
}

/// Heartbeats and the idle timeout of one socket, the same on every
/// WebSocket endpoint: we ping every `ping_interval`; any frame from the
/// client (its pongs included) counts as life; silence past `idle_timeout`
/// closes the connection, so dead peers do not hold subscriptions.
pub(crate) struct Liveness {
    heartbeat: tokio::time::Interval,
    last_seen: tokio::time::Instant,
    idle_timeout: std::time::Duration,
}

/// What [`Liveness::due`] says to do.
pub(crate) enum Due {
    /// Send a ping.
    Ping,
    /// The client has been silent too long: send [`idle_close`] and stop.
    Close,
}

impl Liveness {
    pub(crate) async fn start(config: &crate::WebSocketConfig) -> Self {
        let mut heartbeat = tokio::time::interval(config.ping_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await; // the first tick is immediate
        Self {
            heartbeat,
            last_seen: tokio::time::Instant::now(),
            idle_timeout: config.idle_timeout,
        }
    }

    /// The client sent a frame.
    pub(crate) fn seen(&mut self) {
        self.last_seen = tokio::time::Instant::now();
    }

    /// Waits for the next ping or the idle deadline. Cancel-safe, so it
    /// can be one branch of a `select!`.
    pub(crate) async fn due(&mut self) -> Due {
        tokio::select! {
            _ = self.heartbeat.tick() => Due::Ping,
            () = tokio::time::sleep_until(self.last_seen + self.idle_timeout) => Due::Close,
        }
    }
}

/// The close frame for a client silent past the idle timeout; every
/// WebSocket endpoint closes the same way.
pub(crate) fn idle_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::AWAY,
        reason: "idle timeout: no frames (not even pongs) from the client".into(),
    }))
}

/// The close frame for a connection an operator closed.
pub(crate) fn operator_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::NORMAL,
        reason: "closed by an operator".into(),
    }))
}
