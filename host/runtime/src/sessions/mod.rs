//! Sessions of streaming plugins, next to jobs: a runtime-owned pool of
//! long-lived sandboxed instances, one per session, for any plugin that
//! exports `weft:engine/stream`.
//!
//! Each session is owned by a thread of its own (plugin calls block, so
//! they never run on an async executor). Callers hand it work through one
//! bounded queue; when the queue is full they are told at once
//! ([`SubmitError::Full`]) rather than queueing without bound. The worker
//! answers through each command's own callback, publishes the session's
//! stats on `<plugin>.sessions.<id>.stats`, snapshots the session into
//! host storage (so it survives a restart), and ends it after it has had
//! no clients for the idle timeout. What a message means is the plugin's
//! (its manifest's `session-protocol`); this module must not know any
//! protocol, transport or engine.

mod columns;
mod instance;
pub(crate) mod v1;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

pub use columns::Column;
pub use instance::{PushAnswer, StreamSession};

use crate::job::JobError;
use crate::plugin::LoadedPlugin;
use crate::runtime::Runtime;

/// Where the host serves every streaming plugin's sessions, whatever path
/// its manifest declares too: `<GENERIC_PATH>/<plugin>/{session_id}`.
pub const GENERIC_PATH: &str = "/api/v1/ws/sessions";

/// Limits of the session pool.
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    /// A session with no clients for this long is closed.
    pub idle_timeout: Duration,
    /// Work items queued per session before callers are refused.
    pub queue: usize,
    /// Sessions alive at once (each holds one sandboxed instance).
    pub max_sessions: usize,
    /// Sessions one tenant may hold at once.
    pub max_sessions_per_tenant: usize,
    /// Deadline of one plugin call inside a session.
    pub call_timeout: Duration,
    /// How often a session publishes its stats to `…stats` subscribers.
    pub stats_interval: Duration,
    /// How often a busy session is snapshotted into storage (besides at
    /// shutdown); zero: only at shutdown.
    pub snapshot_interval: Duration,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            queue: 256,
            max_sessions: 32,
            max_sessions_per_tenant: 32,
            call_timeout: Duration::from_secs(10),
            stats_interval: Duration::from_secs(5),
            snapshot_interval: Duration::from_secs(60),
        }
    }
}

/// What a caller asks of a session.
#[derive(Debug)]
pub enum SessionWork {
    /// A message the protocol declares as `push`.
    Push {
        /// Its type.
        message_type: String,
        /// Its other fields.
        params: Value,
        /// Its rows.
        rows: Vec<Column>,
    },
    /// A message the protocol declares as `request`.
    Request {
        /// Its type.
        message_type: String,
        /// Its fields.
        params: Value,
    },
    /// The session's stats (the guest's and the host's counters).
    Stats,
}

/// What a session answered.
#[derive(Debug)]
pub enum SessionAnswer {
    /// A push's answer, with how long it took and waited.
    Pushed {
        /// The plugin's answer.
        answer: PushAnswer,
        /// Time in the plugin.
        processing: Duration,
        /// Time in the queue.
        queued: Duration,
    },
    /// A request's answer.
    Answered(Value),
    /// `Stats`.
    Stats(Value),
}

/// Called once with the outcome of a command.
pub type Reply = Box<dyn FnOnce(Result<SessionAnswer, JobError>) + Send>;

/// One queued item.
pub struct SessionCommand {
    /// What to do.
    pub work: SessionWork,
    /// Where the answer goes.
    pub reply: Reply,
    queued_at: Instant,
}

impl SessionCommand {
    /// A command answered through `reply`.
    pub fn new(work: SessionWork, reply: Reply) -> Self {
        Self {
            work,
            reply,
            queued_at: Instant::now(),
        }
    }
}

/// Why work was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds its limit of this many items.
    Full(usize),
    /// The session has ended.
    Closed,
    /// The session's instance failed (trap, deadline, memory) and was
    /// freed; the message says what happened.
    Failed(String),
}

/// Counters of one session, shared by its worker and its clients.
#[derive(Default, Debug)]
pub struct SessionCounters {
    /// Rows pushed.
    pub rows: AtomicU64,
    /// Messages from clients.
    pub messages_received: AtomicU64,
    /// Answers sent.
    pub messages_sent: AtomicU64,
    /// Commands that failed.
    pub errors: AtomicU64,
    /// Commands refused for a full queue.
    pub rejected: AtomicU64,
}

/// One live session.
pub struct SessionHandle {
    /// Its id, unique per tenant.
    pub id: String,
    /// Owner: only its callers see the session, and its events carry it.
    pub tenant: String,
    /// The plugin it runs on.
    pub engine: String,
    /// That plugin's version.
    pub engine_version: String,
    /// When it opened.
    pub created_at: OffsetDateTime,
    /// Its config as opened.
    pub config: Value,
    /// Whether it was restored from a snapshot when it opened.
    pub restored: bool,
    /// Counters.
    pub counters: SessionCounters,
    commands: mpsc::SyncSender<SessionCommand>,
    queued: AtomicUsize,
    clients: AtomicUsize,
    last_active: Mutex<Instant>,
    closed: AtomicBool,
    /// Why the session ended, when its instance failed.
    failure: Mutex<Option<String>>,
    capacity: usize,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.id)
            .field("engine", &self.engine)
            .finish()
    }
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

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Items waiting in its queue.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues work.
    pub fn submit(&self, command: SessionCommand) -> Result<(), SubmitError> {
        self.touch();
        if self.closed.load(Ordering::Relaxed) {
            let failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            return Err(failure
                .clone()
                .map_or(SubmitError::Closed, SubmitError::Failed));
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.commands.try_send(command) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(SubmitError::Full(self.capacity))
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(SubmitError::Closed)
            }
        }
    }

    /// The session as the REST API lists it.
    pub fn summary(&self) -> SessionSummary {
        let c = &self.counters;
        SessionSummary {
            session_id: self.id.clone(),
            engine: self.engine.clone(),
            engine_version: self.engine_version.clone(),
            created_at: self.created_at,
            restored: self.restored,
            clients: self.clients(),
            idle_ms: self.idle_for().as_millis() as u64,
            queue_depth: self.queued(),
            total_samples: c.rows.load(Ordering::Relaxed),
            messages_received: c.messages_received.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            rejected_for_backpressure: c.rejected.load(Ordering::Relaxed),
            config: self.config.clone(),
        }
    }

    /// The host's side of `stats`: the guest's view beside the session's
    /// counters.
    pub fn stats_body(&self, streaming: Value) -> Value {
        let c = &self.counters;
        let received = c.messages_received.load(Ordering::Relaxed);
        let errors = c.errors.load(Ordering::Relaxed) + c.rejected.load(Ordering::Relaxed);
        json!({
            "streaming": streaming,
            "connections": {
                "active_connections": self.clients(),
                "messages_received": received,
                "messages_sent": c.messages_sent.load(Ordering::Relaxed),
                "errors": errors,
                "error_rate": if received == 0 { 0.0 } else { errors as f64 / received as f64 },
            },
            "session": {
                "session_id": self.id,
                "engine": self.engine,
                "engine_version": self.engine_version,
                "queue_depth": self.queued(),
                "rejected_for_backpressure": c.rejected.load(Ordering::Relaxed),
            },
        })
    }
}

/// A session as listed.
#[derive(Debug, Serialize)]
pub struct SessionSummary {
    session_id: String,
    engine: String,
    engine_version: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    restored: bool,
    clients: usize,
    idle_ms: u64,
    queue_depth: usize,
    /// Rows pushed.
    total_samples: u64,
    messages_received: u64,
    messages_sent: u64,
    errors: u64,
    rejected_for_backpressure: u64,
    config: Value,
}

/// Figures summed over the live sessions.
#[derive(Debug, Default)]
pub struct SessionTotals {
    /// Sessions.
    pub sessions: u64,
    /// Clients.
    pub clients: u64,
    /// Queued items.
    pub queued: u64,
    /// Rows pushed.
    pub rows: u64,
    /// Refusals for a full queue.
    pub rejected: u64,
}

/// Why joining a session failed: a snake_case code and what to do.
#[derive(Debug, Clone)]
pub struct JoinError {
    /// e.g. `too_many_sessions`.
    pub code: &'static str,
    /// What to do.
    pub message: String,
}

/// The live sessions. Clones share one pool.
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
    /// Sessions being opened, counted against the limit so that a burst of
    /// joins cannot open more than `max_sessions`.
    opening: AtomicUsize,
    config: SessionsConfig,
    runtime: Runtime,
    shutting_down: AtomicBool,
    workers: AtomicUsize,
}

impl Sessions {
    /// An empty pool for `runtime`'s plugins.
    pub fn new(config: SessionsConfig, runtime: Runtime) -> Self {
        Self {
            inner: Arc::new(Inner {
                map: Mutex::new(HashMap::new()),
                opening: AtomicUsize::new(0),
                config,
                runtime,
                shutting_down: AtomicBool::new(false),
                workers: AtomicUsize::new(0),
            }),
        }
    }

    /// Its limits.
    pub fn config(&self) -> &SessionsConfig {
        &self.inner.config
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Key, Arc<SessionHandle>>> {
        self.inner.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sessions of `tenant` (`None`: every tenant's).
    pub fn list(&self, tenant: Option<&str>) -> Vec<SessionSummary> {
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
    pub fn totals(&self) -> SessionTotals {
        let map = self.map();
        let mut totals = SessionTotals {
            sessions: map.len() as u64,
            ..SessionTotals::default()
        };
        for handle in map.values() {
            totals.clients += handle.clients() as u64;
            totals.queued += handle.queued() as u64;
            totals.rows += handle.counters.rows.load(Ordering::Relaxed);
            totals.rejected += handle.counters.rejected.load(Ordering::Relaxed);
        }
        totals
    }

    /// Sessions alive.
    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// Session `id` of `tenant`.
    pub fn get(&self, tenant: &str, id: &str) -> Option<Arc<SessionHandle>> {
        self.map().get(&key(tenant, id)).cloned()
    }

    /// Ends a session now (its snapshot goes too); its clients' next
    /// requests are refused.
    pub fn close(&self, tenant: &str, id: &str) -> Option<SessionSummary> {
        let handle = self.map().remove(&key(tenant, id))?;
        handle.closed.store(true, Ordering::Relaxed);
        worker::forget_snapshot(&self.inner.runtime, &handle);
        Some(handle.summary())
    }

    /// Joins session `id` of `tenant`, opening it on `plugin` with
    /// `config` if it does not exist (restoring it from its snapshot when
    /// there is one). Returns the handle and whether it was opened now.
    /// Blocks while the plugin opens the session: call it off any async
    /// executor.
    pub fn join(
        &self,
        tenant: &str,
        id: &str,
        plugin: Arc<LoadedPlugin>,
        config: Value,
    ) -> Result<(Arc<SessionHandle>, bool), JoinError> {
        if let Some(handle) = self.attach(tenant, id, &plugin)? {
            return Ok((handle, false));
        }
        if self.inner.shutting_down.load(Ordering::Relaxed) {
            return Err(JoinError {
                code: "shutting_down",
                message: "the server is shutting down; reconnect in a moment".into(),
            });
        }
        let held = self.list(Some(tenant)).len();
        if held >= self.inner.config.max_sessions_per_tenant {
            return Err(JoinError {
                code: "too_many_sessions",
                message: format!(
                    "tenant '{tenant}' holds its limit of {} sessions; close one (DELETE /api/v1/streaming/sessions/{{id}}) or raise --max-sessions-per-tenant",
                    self.inner.config.max_sessions_per_tenant
                ),
            });
        }
        let opening = self.inner.opening.fetch_add(1, Ordering::AcqRel);
        let result = if self.count() + opening >= self.inner.config.max_sessions {
            Err(JoinError {
                code: "too_many_sessions",
                message: format!(
                    "the server holds its limit of {} sessions; close one (DELETE /api/v1/streaming/sessions/{{id}}) or raise --max-sessions",
                    self.inner.config.max_sessions
                ),
            })
        } else {
            self.open(tenant, id, plugin, config)
        };
        self.inner.opening.fetch_sub(1, Ordering::AcqRel);
        result
    }

    fn open(
        &self,
        tenant: &str,
        id: &str,
        plugin: Arc<LoadedPlugin>,
        config: Value,
    ) -> Result<(Arc<SessionHandle>, bool), JoinError> {
        let snapshot = worker::load_snapshot(&self.inner.runtime, tenant, &plugin.info().name, id);
        let call_timeout = self.inner.config.call_timeout;
        let (session, restored, config) = match snapshot {
            Some(stored) => match plugin.open_session(
                tenant,
                id,
                &stored.config,
                Some(&stored.bytes),
                call_timeout,
            ) {
                Ok(session) => (session, true, stored.config),
                Err(error) => {
                    // A snapshot the plugin cannot read (another version,
                    // damage) must not keep the session from opening.
                    tracing::warn!(session = id, error = %error.message, "snapshot not restored; opening afresh");
                    (
                        self.open_fresh(&plugin, tenant, id, &config)?,
                        false,
                        config,
                    )
                }
            },
            None => (
                self.open_fresh(&plugin, tenant, id, &config)?,
                false,
                config,
            ),
        };
        let capacity = self.inner.config.queue.max(1);
        let (commands, inbox) = mpsc::sync_channel(capacity);
        let handle = Arc::new(SessionHandle {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            engine: plugin.info().name.clone(),
            engine_version: session.version().to_owned(),
            created_at: OffsetDateTime::now_utc(),
            config: with_queue(config, capacity),
            restored,
            counters: SessionCounters::default(),
            commands,
            queued: AtomicUsize::new(0),
            clients: AtomicUsize::new(1),
            last_active: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            capacity,
        });
        {
            let mut map = self.map();
            // Another client opened it meanwhile: join theirs, drop ours.
            if let Some(existing) = map.get(&key(tenant, id)) {
                existing.clients.fetch_add(1, Ordering::Relaxed);
                return Ok((existing.clone(), false));
            }
            map.insert(key(tenant, id), handle.clone());
        }
        let pool = self.clone();
        let worker_handle = handle.clone();
        self.inner.workers.fetch_add(1, Ordering::AcqRel);
        let spawned = std::thread::Builder::new()
            .name(format!("weft-session-{id}"))
            .spawn(move || {
                worker::run(&pool, worker_handle, session, inbox);
                pool.inner.workers.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(error) = spawned {
            self.inner.workers.fetch_sub(1, Ordering::AcqRel);
            self.map().remove(&key(tenant, id));
            return Err(JoinError {
                code: "internal",
                message: format!("cannot start the session thread: {error}"),
            });
        }
        tracing::info!(session = id, engine = %handle.engine, restored, "streaming session opened");
        Ok((handle, true))
    }

    fn open_fresh(
        &self,
        plugin: &LoadedPlugin,
        tenant: &str,
        id: &str,
        config: &Value,
    ) -> Result<StreamSession, JoinError> {
        plugin
            .open_session(tenant, id, config, None, self.inner.config.call_timeout)
            .map_err(open_error)
    }

    fn attach(
        &self,
        tenant: &str,
        id: &str,
        plugin: &LoadedPlugin,
    ) -> Result<Option<Arc<SessionHandle>>, JoinError> {
        let map = self.map();
        let Some(handle) = map.get(&key(tenant, id)) else {
            return Ok(None);
        };
        if handle.engine != plugin.info().name {
            return Err(JoinError {
                code: "session_id_taken",
                message: format!(
                    "session '{id}' is a session of engine '{}'; choose another id",
                    handle.engine
                ),
            });
        }
        handle.clients.fetch_add(1, Ordering::Relaxed);
        handle.touch();
        Ok(Some(handle.clone()))
    }

    /// A client left.
    pub fn leave(&self, handle: &SessionHandle) {
        handle.touch();
        handle.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// Ends a session whose instance failed, at once: its pool slot and
    /// memory go now, not at the idle timeout; its clients are told why.
    fn fail(&self, handle: &Arc<SessionHandle>, why: String) {
        *handle.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        handle.closed.store(true, Ordering::Relaxed);
        let mut map = self.map();
        let handle_key = key(&handle.tenant, &handle.id);
        if map.get(&handle_key).is_some_and(|h| Arc::ptr_eq(h, handle)) {
            map.remove(&handle_key);
        }
    }

    /// Removes `handle` if it is idle and clientless; true if it is gone.
    fn reap(&self, handle: &Arc<SessionHandle>) -> bool {
        let mut map = self.map();
        let handle_key = key(&handle.tenant, &handle.id);
        let ours = map.get(&handle_key).is_some_and(|h| Arc::ptr_eq(h, handle));
        if !ours {
            return true; // closed through the API
        }
        if handle.clients() == 0 && handle.idle_for() >= self.inner.config.idle_timeout {
            map.remove(&handle_key);
            handle.closed.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Stops every session after snapshotting it, waiting at most
    /// `within` for them. Sessions opened afterwards are refused.
    pub fn shutdown(&self, within: Duration) {
        self.inner.shutting_down.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + within;
        while self.inner.workers.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.inner.workers.load(Ordering::Acquire);
        if left > 0 {
            tracing::warn!(sessions = left, "sessions still running at shutdown");
        }
    }
}

fn with_queue(mut config: Value, queue: usize) -> Value {
    if let Value::Object(fields) = &mut config {
        fields.insert("queue".into(), json!(queue));
    }
    config
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
