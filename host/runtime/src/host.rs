//! The host side of the `weft:host@0.2.4` event and log imports, and the
//! per-store state behind every import: WASI with nothing granted, the
//! memory limiter, and the job's event scope with its emit quota.
//! (`storage_host` serves storage; `host_v1` adapts 0.1 calls onto these.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_bus::{Bus, NewEvent, Source, validate_topic};

use crate::job::JobProgress;

use crate::bindings::v2::plugin::weft::host::{events, log};

/// Bytes of guest stdout/stderr kept per call (panic messages land here).
const OUTPUT_CAPTURE: usize = 64 << 10;
/// Largest event payload a plugin may publish.
const MAX_EVENT_BYTES: usize = 1 << 20;
/// Events one instance (a job, or a session) may publish.
const MAX_EVENTS_PER_INSTANCE: u64 = 1_000_000;
/// Payload bytes one instance may publish in all.
const MAX_EVENT_BYTES_PER_INSTANCE: u64 = 256 << 20;
/// Distinct family topics one instance may publish on.
const MAX_TOPICS_PER_INSTANCE: usize = 64;
/// Kinds only the host publishes: a plugin publishing `job_state` could end
/// a client's watch of its job early, or claim a state it does not have.
const RESERVED_KINDS: &[&str] = &["job_state", "progress", "lagged"];

/// Why an emit was refused, in terms both WIT versions can report.
#[derive(Debug)]
pub(crate) enum EmitRefused {
    Reserved(String),
    BadTopic(String),
    TooLarge(u64),
    Quota(String),
}

/// Called with every progress report of a job.
pub type ProgressSink = Arc<dyn Fn(&JobProgress) + Send + Sync>;

/// Where a call's events go and who it belongs to.
#[derive(Clone)]
pub(crate) struct EventScope {
    pub(crate) bus: Bus,
    pub(crate) tenant: String,
    pub(crate) plugin: String,
    pub(crate) version: String,
    pub(crate) job: Option<String>,
    /// Family topic of the running op, e.g. `graph.algorithms`.
    pub(crate) family_topic: String,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) on_progress: Option<ProgressSink>,
    /// A child of a job (`weft:host/tasks`): its progress is not published.
    pub(crate) child: bool,
}

/// What one instance has published so far, against its quota.
#[derive(Default)]
pub(crate) struct EmitCount {
    events: u64,
    bytes: u64,
    topics: std::collections::HashSet<String>,
    /// Set once a quota was hit, so the guest is told the same each time.
    exhausted: Option<String>,
}

impl EventScope {
    /// Publishes on the job topic and on `topic` (the family topic unless
    /// given). Publishing failures are logged, never surfaced to the guest.
    pub(crate) fn publish(&self, topic: Option<&str>, kind: &str, data: serde_json::Value) {
        let source = Some(Source {
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            job: self.job.clone(),
        });
        let family = topic.unwrap_or(&self.family_topic);
        let job_topic = self.job.as_ref().map(|id| format!("jobs.{id}"));
        let topics: Vec<&str> = job_topic
            .iter()
            .map(String::as_str)
            .chain([family])
            .collect();
        let event = NewEvent {
            topic: family.to_owned(),
            tenant: self.tenant.clone(),
            source,
            kind: kind.to_owned(),
            data,
        };
        if let Err(error) = self.bus.publish_copies(&topics, event) {
            tracing::warn!(plugin = %self.plugin, %error, "event dropped");
        }
    }
}

/// Refuses memory growth past the cap and remembers that it did, so a
/// memory bomb is reported as such rather than as a generic trap.
pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    pub(crate) refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Everything a plugin's `Store` holds.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) scope: EventScope,
    pub(crate) stderr: MemoryOutputPipe,
    /// When the current call must end; checked on every epoch tick. A job
    /// sets it once, a session before each call.
    pub(crate) deadline: std::time::Instant,
    /// Host storage, if the runtime has it.
    pub(crate) storage: crate::storage_host::StorageSlot,
    /// Events published so far, against the instance's quota.
    emitted: EmitCount,
    /// When the instance started: what its (frozen) wall clock reads.
    started: std::time::SystemTime,
    /// Set on a job's own instance: the plugin its children are made
    /// from. None in children and sessions, which cannot start any.
    pub(crate) children: Option<std::sync::Arc<crate::plugin::LoadedPlugin>>,
    /// UDF plugins this instance has called (`weft:host/functions`).
    pub(crate) udfs: crate::functions::UdfCalls,
}

impl HostState {
    pub(crate) fn new(
        scope: EventScope,
        max_memory_bytes: usize,
        storage: crate::storage_host::StorageSlot,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPTURE);
        let seed = crate::wasi::seed_of(scope.job.as_deref().unwrap_or(&scope.family_topic));
        let wasi = crate::wasi::context(stderr.clone(), seed);
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: max_memory_bytes,
                refused: false,
            },
            scope,
            stderr,
            deadline: std::time::Instant::now(),
            storage,
            emitted: EmitCount::default(),
            started: std::time::SystemTime::now(),
            children: None,
            udfs: crate::functions::UdfCalls::default(),
        }
    }

    /// The instance's wall clock, frozen at its start.
    pub(crate) fn wall_clock(&mut self) -> crate::wasi::FrozenClock {
        crate::wasi::FrozenClock { at: self.started }
    }

    /// The guest's resource handles.
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The monotonic clock as the guest gets it: sleeps end at the call's
    /// deadline.
    pub(crate) fn clock(&mut self) -> crate::wasi::DeadlineClock<'_> {
        crate::wasi::DeadlineClock {
            table: &mut self.table,
            deadline: self.deadline,
        }
    }

    /// What the guest wrote to stdout/stderr, e.g. a panic message.
    pub(crate) fn captured_output(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn parse_payload(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

impl HostState {
    /// A session's instance lives long: its event budget is per call (the
    /// topic cap stays for its lifetime).
    pub(crate) fn reset_emit_budget(&mut self) {
        self.emitted.events = 0;
        self.emitted.bytes = 0;
        self.emitted.exhausted = None;
    }

    /// Checks and publishes one plugin event; both WIT versions call this.
    pub(crate) fn emit_checked(
        &mut self,
        topic: &str,
        kind: &str,
        data: &str,
    ) -> Result<(), EmitRefused> {
        if let Some(why) = &self.emitted.exhausted {
            return Err(EmitRefused::Quota(why.clone()));
        }
        if RESERVED_KINDS.contains(&kind) {
            return Err(EmitRefused::Reserved(kind.to_owned()));
        }
        if data.len() > MAX_EVENT_BYTES {
            return Err(EmitRefused::TooLarge(data.len() as u64));
        }
        let topic = if topic.is_empty() {
            None
        } else {
            // Plugins publish only under their own name.
            let full = format!("{}.{}", self.scope.plugin, topic);
            validate_topic(&full).map_err(|e| EmitRefused::BadTopic(format!("{topic}: {e}")))?;
            Some(full)
        };
        let count = &mut self.emitted;
        let family = topic.as_deref().unwrap_or(&self.scope.family_topic);
        if !count.topics.contains(family) && count.topics.len() >= MAX_TOPICS_PER_INSTANCE {
            let why =
                format!("an instance may publish on at most {MAX_TOPICS_PER_INSTANCE} topics");
            return Err(EmitRefused::Quota(why));
        }
        count.events += 1;
        count.bytes += data.len() as u64;
        if count.events > MAX_EVENTS_PER_INSTANCE || count.bytes > MAX_EVENT_BYTES_PER_INSTANCE {
            let why = format!(
                "an instance may publish at most {MAX_EVENTS_PER_INSTANCE} events and {} MiB of event data",
                MAX_EVENT_BYTES_PER_INSTANCE >> 20
            );
            count.exhausted = Some(why.clone());
            return Err(EmitRefused::Quota(why));
        }
        count.topics.insert(family.to_owned());
        self.scope
            .publish(topic.as_deref(), kind, parse_payload(data));
        Ok(())
    }

    /// Publishes a progress report; both WIT versions call this.
    pub(crate) fn report_progress(
        &mut self,
        done: u64,
        total: u64,
        message: String,
        detail: Option<String>,
    ) {
        if self.scope.child {
            return;
        }
        let progress = JobProgress {
            done,
            total,
            message,
        };
        if let Some(sink) = &self.scope.on_progress {
            sink(&progress);
        }
        let mut data = serde_json::json!({
            "done": progress.done,
            "total": progress.total,
            "message": progress.message,
        });
        if let (Some(serde_json::Value::Object(extra)), serde_json::Value::Object(fields)) =
            (detail.as_deref().map(parse_payload), &mut data)
        {
            for (key, value) in extra {
                fields.entry(key).or_insert(value);
            }
        }
        self.scope.publish(None, "progress", data);
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.scope.cancel.load(Ordering::Relaxed)
    }

    pub(crate) fn write_log(&self, level: log::Level, message: &str) {
        let plugin = &self.scope.plugin;
        let job = self.scope.job.as_deref().unwrap_or("-");
        match level {
            log::Level::Trace => tracing::trace!(plugin, job, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, job, "{message}"),
            log::Level::Info => tracing::info!(plugin, job, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, job, "{message}"),
            log::Level::Error => tracing::error!(plugin, job, "{message}"),
        }
    }
}

impl events::Host for HostState {
    fn emit(&mut self, topic: String, kind: String, data: String) -> Result<(), events::EmitError> {
        self.emit_checked(&topic, &kind, &data)
            .map_err(|refused| match refused {
                EmitRefused::Reserved(kind) => events::EmitError::ReservedKind(kind),
                EmitRefused::BadTopic(why) => events::EmitError::BadTopic(why),
                EmitRefused::TooLarge(bytes) => events::EmitError::TooLarge(bytes),
                EmitRefused::Quota(why) => events::EmitError::QuotaExceeded(why),
            })
    }

    fn progress(&mut self, done: u64, total: u64, message: String, detail: Option<String>) {
        self.report_progress(done, total, message, detail);
    }

    fn cancelled(&mut self) -> bool {
        self.is_cancelled()
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        self.write_log(level, &message);
    }
}

impl crate::bindings::v2::plugin::weft::engine::types::Host for HostState {}
