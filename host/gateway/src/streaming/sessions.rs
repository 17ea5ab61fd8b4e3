//! The registry of streaming sessions and the worker that runs each one.
//!
//! A session is one sandboxed instance of a streaming engine, owned by a
//! thread of its own (plugin calls block, so they never run on the async
//! executor). Clients hand it work through one bounded queue; when the
//! queue is full the client is told to slow down at once rather than
//! queueing without bound. The worker answers into each client's own
//! channel, publishes flagged rows and periodic stats on the bus, and ends
//! the session after it has had no clients for the idle timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use weft_bus::{Bus, NewEvent, Source};
use weft_runtime::{JobError, LoadedPlugin, StreamSession};

use super::protocol;

/// Limits of the streaming sessions.
#[derive(Clone, Debug)]
pub struct StreamingConfig {
    /// A session with no clients for this long is closed.
    pub idle_timeout: Duration,
    /// Work items queued per session before clients get `backpressure`.
    pub queue: usize,
    /// Sessions alive at once (each holds one sandboxed instance).
    pub max_sessions: usize,
    /// Deadline of one plugin call inside a session.
    pub call_timeout: Duration,
    /// How often a session publishes its stats to `…stats` subscribers.
    pub stats_interval: Duration,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            queue: 256,
            max_sessions: 32,
            call_timeout: Duration::from_secs(10),
            stats_interval: Duration::from_secs(5),
        }
    }
}

/// What a client asks of its session.
pub(crate) enum Work {
    /// Score rows and answer in `shape`.
    Push {
        values: Vec<f64>,
        width: u32,
        algorithm: Option<String>,
        sample_ids: Vec<Option<String>>,
        shape: Shape,
    },
    /// `configure`, `drift`, ...
    Request { kind: String, params: Value },
    /// The session's figures.
    Stats,
}

/// How a push is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One `result` (a `sample` message).
    Single,
    /// `batch_result` with one object per row.
    Rows,
    /// `batch_result` with one array per field: much less JSON for
    /// large batches.
    Columns,
}

/// One queued item.
pub(crate) struct Command {
    pub(crate) work: Work,
    pub(crate) request_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) reply: mpsc::Sender<String>,
    pub(crate) queued_at: Instant,
}

/// Counters of one session, shared by its worker and its clients.
#[derive(Default)]
pub(crate) struct SessionCounters {
    pub(crate) samples: AtomicU64,
    pub(crate) anomalies: AtomicU64,
    pub(crate) messages_received: AtomicU64,
    pub(crate) messages_sent: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

/// One session as clients and the registry see it.
pub(crate) struct SessionHandle {
    pub(crate) id: String,
    /// Owner: only its callers see the session, and its events carry it.
    pub(crate) tenant: String,
    pub(crate) engine: String,
    pub(crate) engine_version: String,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) config: Value,
    commands: std_mpsc::SyncSender<Command>,
    pub(crate) queued: AtomicUsize,
    pub(crate) clients: AtomicUsize,
    last_active: Mutex<Instant>,
    pub(crate) counters: SessionCounters,
    closed: AtomicBool,
}

impl SessionHandle {
    fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Queues work; `Err` carries the reply to send instead when the
    /// queue is full or the session is gone.
    pub(crate) fn submit(&self, command: Command) -> Result<(), String> {
        self.touch();
        let request_id = command.request_id.clone();
        if self.closed.load(Ordering::Relaxed) {
            return Err(protocol::error(
                "session_closed",
                "this session was closed; reconnect to open a new one",
                request_id.as_deref(),
            ));
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(std_mpsc::TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(protocol::backpressure(
                    self.queue_capacity(),
                    request_id.as_deref(),
                ))
            }
            Err(std_mpsc::TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(protocol::error(
                    "session_closed",
                    "this session has ended; reconnect to open a new one",
                    request_id.as_deref(),
                ))
            }
        }
    }

    fn queue_capacity(&self) -> usize {
        // Stored in the config summary when the session opened.
        self.config["queue"].as_u64().unwrap_or(0) as usize
    }

    /// The session as the REST API lists it.
    pub(crate) fn summary(&self) -> SessionSummary {
        let c = &self.counters;
        SessionSummary {
            session_id: self.id.clone(),
            engine: self.engine.clone(),
            engine_version: self.engine_version.clone(),
            created_at: self.created_at,
            clients: self.clients.load(Ordering::Relaxed),
            idle_ms: self.idle_for().as_millis() as u64,
            queue_depth: self.queued.load(Ordering::Relaxed),
            total_samples: c.samples.load(Ordering::Relaxed),
            anomalies: c.anomalies.load(Ordering::Relaxed),
            messages_received: c.messages_received.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            rejected_for_backpressure: c.rejected.load(Ordering::Relaxed),
            config: self.config.clone(),
        }
    }
}

/// A session as listed.
#[derive(Debug, Serialize)]
pub(crate) struct SessionSummary {
    session_id: String,
    engine: String,
    engine_version: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    clients: usize,
    idle_ms: u64,
    queue_depth: usize,
    total_samples: u64,
    anomalies: u64,
    messages_received: u64,
    messages_sent: u64,
    errors: u64,
    rejected_for_backpressure: u64,
    config: Value,
}

/// Figures summed over the live sessions.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) sessions: u64,
    pub(crate) clients: u64,
    pub(crate) queued: u64,
    pub(crate) samples: u64,
    pub(crate) anomalies: u64,
    pub(crate) rejected: u64,
}

/// Why joining a session failed.
pub(crate) struct JoinError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// The live sessions.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

/// Sessions are keyed by tenant and id: two tenants may use the same id
/// without meeting.
type Key = (String, String);

fn key(tenant: &str, id: &str) -> Key {
    (tenant.to_owned(), id.to_owned())
}

struct Inner {
    map: Mutex<HashMap<Key, Arc<SessionHandle>>>,
    config: StreamingConfig,
    bus: Bus,
}

impl Sessions {
    /// An empty registry publishing on `bus`.
    pub fn new(config: StreamingConfig, bus: Bus) -> Self {
        Self {
            inner: Arc::new(Inner {
                map: Mutex::new(HashMap::new()),
                config,
                bus,
            }),
        }
    }

    pub(crate) fn config(&self) -> &StreamingConfig {
        &self.inner.config
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Key, Arc<SessionHandle>>> {
        self.inner.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sessions of `tenant` (`None`: every tenant's).
    pub(crate) fn list(&self, tenant: Option<&str>) -> Vec<SessionSummary> {
        let mut list: Vec<SessionSummary> = self
            .map()
            .values()
            .filter(|s| tenant.is_none_or(|t| s.tenant == t))
            .map(|s| s.summary())
            .collect();
        list.sort_by(|a, b| a.session_id.cmp(&b.session_id));
        list
    }

    /// Sums over the live sessions, for `/metrics`.
    pub(crate) fn totals(&self) -> Totals {
        let map = self.map();
        let mut totals = Totals {
            sessions: map.len() as u64,
            ..Totals::default()
        };
        for handle in map.values() {
            let c = &handle.counters;
            totals.clients += handle.clients.load(Ordering::Relaxed) as u64;
            totals.queued += handle.queued.load(Ordering::Relaxed) as u64;
            totals.samples += c.samples.load(Ordering::Relaxed);
            totals.anomalies += c.anomalies.load(Ordering::Relaxed);
            totals.rejected += c.rejected.load(Ordering::Relaxed);
        }
        totals
    }

    /// Sessions alive.
    pub(crate) fn count(&self) -> usize {
        self.map().len()
    }

    pub(crate) fn get(&self, tenant: &str, id: &str) -> Option<Arc<SessionHandle>> {
        self.map().get(&key(tenant, id)).cloned()
    }

    /// Ends a session now; its clients' next requests are refused.
    pub(crate) fn close(&self, tenant: &str, id: &str) -> Option<SessionSummary> {
        let handle = self.map().remove(&key(tenant, id))?;
        handle.closed.store(true, Ordering::Relaxed);
        Some(handle.summary())
    }

    /// Joins session `id`, opening it (with `config`) if it does not exist.
    /// Returns the handle and whether it was created.
    pub(crate) async fn join(
        &self,
        tenant: &str,
        id: &str,
        plugin: Arc<LoadedPlugin>,
        config: Value,
    ) -> Result<(Arc<SessionHandle>, bool), JoinError> {
        if let Some(handle) = self.attach(tenant, id) {
            return Ok((handle, false));
        }
        if self.count() >= self.inner.config.max_sessions {
            return Err(JoinError {
                code: "too_many_sessions",
                message: format!(
                    "the server holds its limit of {} sessions; close one (DELETE /api/v1/streaming/sessions/{{id}}) or raise --max-sessions",
                    self.inner.config.max_sessions
                ),
            });
        }
        let (opened_tx, opened_rx) = oneshot::channel();
        let (commands, inbox) = std_mpsc::sync_channel(self.inner.config.queue.max(1));
        let session_id = id.to_owned();
        let engine = plugin.info().name.clone();
        let sessions = self.clone();
        let worker_config = config.clone();
        let call_timeout = self.inner.config.call_timeout;
        let owner = tenant.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("weft-session-{id}"))
            .spawn(move || {
                let opened = plugin.open_session(&owner, &session_id, &worker_config, call_timeout);
                match opened {
                    Ok(session) => {
                        let version = session.version().to_owned();
                        let (ready_tx, ready_rx) =
                            std_mpsc::channel::<Option<Arc<SessionHandle>>>();
                        if opened_tx.send(Ok((version, ready_tx))).is_err() {
                            return;
                        }
                        // The handle is registered by `join`; wait for it.
                        if let Ok(Some(handle)) = ready_rx.recv() {
                            run_worker(
                                sessions,
                                handle,
                                session,
                                inbox,
                                plugin.info().name.clone(),
                            );
                        }
                    }
                    Err(error) => {
                        let _ = opened_tx.send(Err(error));
                    }
                }
            });
        if let Err(error) = spawned {
            return Err(JoinError {
                code: "internal",
                message: format!("cannot start the session thread: {error}"),
            });
        }
        let (version, ready) = match opened_rx.await {
            Ok(Ok(opened)) => opened,
            Ok(Err(error)) => return Err(open_error(error)),
            Err(_) => {
                return Err(JoinError {
                    code: "internal",
                    message: "the session thread ended while opening".into(),
                });
            }
        };
        let mut summary_config = config;
        if let Value::Object(fields) = &mut summary_config {
            fields.insert("queue".into(), json!(self.inner.config.queue));
        }
        let handle = Arc::new(SessionHandle {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            engine,
            engine_version: version,
            created_at: OffsetDateTime::now_utc(),
            config: summary_config,
            commands,
            queued: AtomicUsize::new(0),
            clients: AtomicUsize::new(1),
            last_active: Mutex::new(Instant::now()),
            counters: SessionCounters::default(),
            closed: AtomicBool::new(false),
        });
        let winner = {
            let mut map = self.map();
            match map.get(&key(tenant, id)) {
                // Another client opened it meanwhile: join theirs, drop ours.
                Some(existing) => {
                    existing.clients.fetch_add(1, Ordering::Relaxed);
                    Some(existing.clone())
                }
                None => {
                    map.insert(key(tenant, id), handle.clone());
                    None
                }
            }
        };
        match winner {
            Some(existing) => {
                let _ = ready.send(None);
                Ok((existing, false))
            }
            None => {
                let _ = ready.send(Some(handle.clone()));
                tracing::info!(session = id, "streaming session opened");
                Ok((handle, true))
            }
        }
    }

    fn attach(&self, tenant: &str, id: &str) -> Option<Arc<SessionHandle>> {
        let map = self.map();
        let handle = map.get(&key(tenant, id))?;
        handle.clients.fetch_add(1, Ordering::Relaxed);
        handle.touch();
        Some(handle.clone())
    }

    /// A client left.
    pub(crate) fn leave(&self, handle: &SessionHandle) {
        handle.touch();
        handle.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// Removes `handle` if it is idle and clientless; true if it did.
    fn reap(&self, handle: &Arc<SessionHandle>) -> bool {
        let mut map = self.map();
        let handle_key = key(&handle.tenant, &handle.id);
        let ours = map.get(&handle_key).is_some_and(|h| Arc::ptr_eq(h, handle));
        if !ours {
            return true; // closed through the API
        }
        if handle.clients.load(Ordering::Relaxed) == 0
            && handle.idle_for() >= self.inner.config.idle_timeout
        {
            map.remove(&handle_key);
            handle.closed.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn publish(
        &self,
        engine: &str,
        session: &SessionHandle,
        family: &str,
        kind: &str,
        data: Value,
    ) {
        let event = NewEvent {
            topic: format!("{engine}.sessions.{}.{family}", session.id),
            tenant: session.tenant.clone(),
            source: Some(Source {
                plugin: engine.to_owned(),
                version: String::new(),
                job: None,
            }),
            kind: kind.to_owned(),
            data,
        };
        if let Err(error) = self.inner.bus.publish(event) {
            tracing::warn!(%error, session = %session.id, "session event dropped");
        }
    }

    /// Publishes a client-raised alert on the session's alerts topic.
    pub(crate) fn publish_alert(&self, handle: &SessionHandle, client_id: &str, alert: Value) {
        let mut data = json!({"source": "client", "client_id": client_id});
        if let (Value::Object(fields), Value::Object(extra)) = (&mut data, alert) {
            for (k, v) in extra {
                fields.entry(k).or_insert(v);
            }
        }
        self.publish(&handle.engine, handle, "alerts", "alert", data);
    }
}

fn open_error(error: JobError) -> JoinError {
    JoinError {
        code: if error.code == "invalid_params" {
            "invalid_config"
        } else {
            "session_open_failed"
        },
        message: format!("the session could not be opened: {}", error.message),
    }
}

/// The session's thread: takes work in order until the session is closed
/// or idle without clients.
fn run_worker(
    sessions: Sessions,
    handle: Arc<SessionHandle>,
    mut session: StreamSession,
    inbox: std_mpsc::Receiver<Command>,
    engine: String,
) {
    let tick = sessions
        .inner
        .config
        .stats_interval
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut last_stats = Instant::now();
    let mut samples_at_last_stats = 0;
    loop {
        match inbox.recv_timeout(tick) {
            Ok(command) => {
                handle.queued.fetch_sub(1, Ordering::Relaxed);
                let reply = command.reply.clone();
                let text = execute(&sessions, &handle, &mut session, command, &engine);
                handle
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                // The client's channel is sized for its in-flight limit, so
                // this only fails once the client has gone.
                let _ = reply.try_send(text);
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if handle.closed.load(Ordering::Relaxed) || sessions.reap(&handle) {
            break;
        }
        let samples = handle.counters.samples.load(Ordering::Relaxed);
        if last_stats.elapsed() >= sessions.inner.config.stats_interval
            && samples != samples_at_last_stats
        {
            last_stats = Instant::now();
            samples_at_last_stats = samples;
            if let Ok(stats) = session.stats() {
                let data = protocol::stats_body(&handle, stats);
                sessions.publish(&engine, &handle, "stats", "stats", data);
            }
        }
    }
    tracing::info!(session = %handle.id, "streaming session closed");
}

fn execute(
    sessions: &Sessions,
    handle: &SessionHandle,
    session: &mut StreamSession,
    command: Command,
    engine: &str,
) -> String {
    let request_id = command.request_id.as_deref();
    let started = Instant::now();
    let outcome = match command.work {
        Work::Push {
            values,
            width,
            algorithm,
            sample_ids,
            shape,
        } => {
            let options = match &algorithm {
                Some(name) => json!({"algorithm": name}),
                None => json!({}),
            };
            session.push(values, width, &options).map(|scores| {
                let rows = scores.scores.len() as u64;
                let flagged = scores.verdicts.iter().filter(|v| **v).count() as u64;
                handle.counters.samples.fetch_add(rows, Ordering::Relaxed);
                handle
                    .counters
                    .anomalies
                    .fetch_add(flagged, Ordering::Relaxed);
                let elapsed = started.elapsed();
                let waited = started.duration_since(command.queued_at);
                for (index, flagged) in scores.verdicts.iter().enumerate() {
                    if *flagged {
                        sessions.publish(
                            engine,
                            handle,
                            "anomalies",
                            "anomaly",
                            protocol::anomaly_event(
                                &scores,
                                index,
                                &sample_ids,
                                request_id,
                                &command.client_id,
                            ),
                        );
                    }
                }
                match shape {
                    Shape::Single => {
                        protocol::single_result(&scores, &sample_ids, request_id, elapsed, waited)
                    }
                    Shape::Rows | Shape::Columns => protocol::batch_result(
                        &scores,
                        &sample_ids,
                        request_id,
                        elapsed,
                        waited,
                        shape == Shape::Columns,
                    ),
                }
            })
        }
        Work::Request { kind, params } => session
            .request(&kind, &params)
            .map(|answer| protocol::answer(&kind, answer, request_id)),
        Work::Stats => session
            .stats()
            .map(|stats| protocol::stats_reply(handle, stats, request_id)),
    };
    outcome.unwrap_or_else(|error| {
        handle.counters.errors.fetch_add(1, Ordering::Relaxed);
        let code = if error.code == "invalid_params" {
            "invalid_request"
        } else {
            error.code.as_str()
        };
        protocol::error(code, &error.message, request_id)
    })
}
