//! Live WebSocket connections, for the management endpoints: who is
//! connected, what they subscribe to, and a control channel into each
//! connection's loop (close, broadcast, server-side subscribe).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Sent into a connection's loop by the management API.
pub(crate) enum Control {
    /// Close the socket.
    Close,
    /// Send this text frame as is.
    Send(String),
    /// Subscribe on the client's behalf; the reply is what the client got.
    Subscribe {
        id: String,
        topics: Vec<String>,
        resume_from: Option<String>,
        reply: oneshot::Sender<serde_json::Value>,
    },
    /// Drop a subscription; the reply says whether it existed.
    Unsubscribe {
        id: String,
        reply: oneshot::Sender<bool>,
    },
}

/// One subscription as listed.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SubscriptionInfo {
    /// `<connection_id>:<id>`, unique across the server.
    pub(crate) subscription_id: String,
    pub(crate) connection_id: String,
    /// The id the client chose.
    pub(crate) id: String,
    pub(crate) topics: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
}

/// Who is on the other end of a connection.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) tenant: String,
    /// permessage-deflate agreed.
    pub(crate) compressed: bool,
}

/// One connection as listed.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ConnectionInfo {
    pub(crate) connection_id: String,
    pub(crate) endpoint: String,
    pub(crate) tenant: String,
    /// permessage-deflate agreed.
    pub(crate) compressed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) connected_at: OffsetDateTime,
    pub(crate) messages_sent: u64,
    pub(crate) messages_received: u64,
    pub(crate) subscriptions: Vec<SubscriptionInfo>,
}

struct Entry {
    endpoint: String,
    peer: Peer,
    connected_at: OffsetDateTime,
    counters: Arc<Counters>,
    subscriptions: HashMap<String, SubscriptionInfo>,
    control: mpsc::Sender<Control>,
}

/// Per-connection message counters, shared with its loop.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

/// Server-wide totals.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub(crate) connections: usize,
    /// Of which speak permessage-deflate.
    pub(crate) compressed_connections: usize,
    pub(crate) subscriptions: usize,
    pub(crate) connections_total: u64,
    pub(crate) messages_sent: u64,
    pub(crate) messages_received: u64,
}

/// A connection of an endpoint without topic subscriptions (`/ws/query`,
/// `/ws/metrics`, streaming sessions), registered so that operators see it,
/// can close it and can broadcast to it. Leaves the registry when dropped.
pub(crate) struct Registered {
    connections: Connections,
    id: String,
    pub(crate) counters: Arc<Counters>,
    pub(crate) control: mpsc::Receiver<Control>,
    endpoint: String,
}

impl Registered {
    /// What to do with an operator's control message: such endpoints close
    /// and relay broadcasts, but have no topic subscriptions to manage.
    fn directive(&self, control: Control) -> Directive {
        match control {
            Control::Close => Directive::Close,
            Control::Send(text) => Directive::Send(text),
            Control::Subscribe { reply, .. } => {
                let _ = reply.send(super::error_json(
                    "not_supported",
                    &format!(
                        "{} has no topic subscriptions; subscribe on /api/v1/ws",
                        self.endpoint
                    ),
                    None,
                ));
                Directive::Nothing
            }
            Control::Unsubscribe { reply, .. } => {
                let _ = reply.send(false);
                Directive::Nothing
            }
        }
    }

    /// What the server itself must send next on this socket: a ping when
    /// one is due, an operator's broadcast, or a close (idle client, or an
    /// operator's order). Cancel-safe, so it can be one branch of a
    /// `select!` beside the socket's own traffic.
    pub(crate) async fn chore(&mut self, liveness: &mut super::Liveness) -> Chore {
        use super::Message;
        loop {
            tokio::select! {
                due = liveness.due() => return match due {
                    super::Due::Ping => Chore::Send(Message::Ping(Vec::new().into())),
                    super::Due::Close => Chore::Close(super::idle_close()),
                },
                Some(control) = self.control.recv() => match self.directive(control) {
                    Directive::Close => return Chore::Close(super::operator_close()),
                    Directive::Send(text) => return Chore::Send(Message::Text(text)),
                    Directive::Nothing => {}
                },
            }
        }
    }
}

/// See [`Registered::chore`].
pub(crate) enum Chore {
    /// Send this frame and carry on.
    Send(super::Message),
    /// Send this close frame and end the connection.
    Close(super::Message),
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.close(&self.id);
    }
}

/// See [`Registered::directive`].
enum Directive {
    Close,
    Send(String),
    Nothing,
}

/// The registry. Cheap to clone.
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    opened: Arc<AtomicU64>,
    sent_closed: Arc<AtomicU64>,
    received_closed: Arc<AtomicU64>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection of an endpoint without subscriptions.
    pub(crate) fn register(&self, endpoint: &str, peer: Peer) -> Registered {
        let id = uuid::Uuid::now_v7().to_string();
        let (tx, rx) = mpsc::channel(16);
        let counters = self.open(&id, endpoint, peer, tx);
        Registered {
            connections: self.clone(),
            id,
            counters,
            control: rx,
            endpoint: endpoint.to_owned(),
        }
    }

    pub(crate) fn open(
        &self,
        id: &str,
        endpoint: &str,
        peer: Peer,
        control: mpsc::Sender<Control>,
    ) -> Arc<Counters> {
        let counters = Arc::new(Counters::default());
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id.to_owned(),
            Entry {
                endpoint: endpoint.to_owned(),
                peer,
                connected_at: OffsetDateTime::now_utc(),
                counters: counters.clone(),
                subscriptions: HashMap::new(),
                control,
            },
        );
        counters
    }

    pub(crate) fn close(&self, id: &str) {
        if let Some(entry) = self.lock().remove(id) {
            self.sent_closed.fetch_add(
                entry.counters.sent.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            self.received_closed.fetch_add(
                entry.counters.received.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
        }
    }

    pub(crate) fn subscribed(&self, connection: &str, id: &str, topics: &[String]) {
        if let Some(entry) = self.lock().get_mut(connection) {
            entry.subscriptions.insert(
                id.to_owned(),
                SubscriptionInfo {
                    subscription_id: format!("{connection}:{id}"),
                    connection_id: connection.to_owned(),
                    id: id.to_owned(),
                    topics: topics.to_vec(),
                    created_at: OffsetDateTime::now_utc(),
                },
            );
        }
    }

    pub(crate) fn unsubscribed(&self, connection: &str, id: &str) {
        if let Some(entry) = self.lock().get_mut(connection) {
            entry.subscriptions.remove(id);
        }
    }

    fn info(id: &str, entry: &Entry) -> ConnectionInfo {
        let mut subscriptions: Vec<SubscriptionInfo> =
            entry.subscriptions.values().cloned().collect();
        subscriptions.sort_by(|a, b| a.id.cmp(&b.id));
        ConnectionInfo {
            connection_id: id.to_owned(),
            endpoint: entry.endpoint.clone(),
            tenant: entry.peer.tenant.clone(),
            compressed: entry.peer.compressed,
            connected_at: entry.connected_at,
            messages_sent: entry.counters.sent.load(Ordering::Relaxed),
            messages_received: entry.counters.received.load(Ordering::Relaxed),
            subscriptions,
        }
    }

    pub(crate) fn list(&self) -> Vec<ConnectionInfo> {
        let mut list: Vec<ConnectionInfo> = self
            .lock()
            .iter()
            .map(|(id, e)| Self::info(id, e))
            .collect();
        list.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        list
    }

    pub(crate) fn get(&self, id: &str) -> Option<ConnectionInfo> {
        self.lock().get(id).map(|e| Self::info(id, e))
    }

    pub(crate) fn control(&self, id: &str) -> Option<mpsc::Sender<Control>> {
        self.lock().get(id).map(|e| e.control.clone())
    }

    pub(crate) fn all_controls(&self) -> Vec<mpsc::Sender<Control>> {
        self.lock().values().map(|e| e.control.clone()).collect()
    }

    pub(crate) fn status(&self) -> Status {
        let map = self.lock();
        let live_sent: u64 = map
            .values()
            .map(|e| e.counters.sent.load(Ordering::Relaxed))
            .sum();
        let live_received: u64 = map
            .values()
            .map(|e| e.counters.received.load(Ordering::Relaxed))
            .sum();
        Status {
            connections: map.len(),
            compressed_connections: map.values().filter(|e| e.peer.compressed).count(),
            subscriptions: map.values().map(|e| e.subscriptions.len()).sum(),
            connections_total: self.opened.load(Ordering::Relaxed),
            messages_sent: live_sent + self.sent_closed.load(Ordering::Relaxed),
            messages_received: live_received + self.received_closed.load(Ordering::Relaxed),
        }
    }
}
