//! The host side of the `weft:host` imports, and the per-store state that
//! backs them: WASI with nothing granted, the memory limiter, and the job's
//! event scope.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_bus::{Bus, NewEvent, Source, validate_topic};

use crate::job::JobProgress;

#[allow(missing_docs, unreachable_pub)]
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        world: "weft:engine/plugin",
        path: "../../wit/engine",
    });
}

/// The session half of the `streaming-plugin` world. Only its export side
/// is used (the imports are linked once, through [`bindings`]); the engine
/// types are shared so that errors map the same way.
#[allow(missing_docs, unreachable_pub)]
pub(crate) mod stream_bindings {
    wasmtime::component::bindgen!({
        world: "weft:engine/stream-exports",
        path: "../../wit/engine",
        with: {
            "weft:engine/types": super::bindings::weft::engine::types,
        },
    });
}

use bindings::weft::host::{events, log};

/// Bytes of guest stdout/stderr kept per call (panic messages land here).
const OUTPUT_CAPTURE: usize = 64 << 10;
/// Largest event payload a plugin may publish.
const MAX_EVENT_BYTES: usize = 1 << 20;

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
        for topic in job_topic.iter().map(String::as_str).chain([family]) {
            let event = NewEvent {
                topic: topic.to_owned(),
                tenant: self.tenant.clone(),
                source: source.clone(),
                kind: kind.to_owned(),
                data: data.clone(),
            };
            if let Err(error) = self.bus.publish(event) {
                tracing::warn!(plugin = %self.plugin, %error, "event dropped");
            }
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
}

impl HostState {
    pub(crate) fn new(
        scope: EventScope,
        max_memory_bytes: usize,
        storage: crate::storage_host::StorageSlot,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPTURE);
        // No preopens, no environment, no arguments, no sockets: the
        // builder's defaults grant none of them.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .stdout(stderr.clone())
            .build();
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
        }
    }

    /// The guest's resource handles.
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
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

impl events::Host for HostState {
    fn emit(&mut self, topic: String, kind: String, data: String) {
        let scope = &self.scope;
        if data.len() > MAX_EVENT_BYTES {
            tracing::warn!(plugin = %scope.plugin, kind, bytes = data.len(), "event over 1 MiB dropped");
            return;
        }
        let topic = if topic.is_empty() {
            None
        } else {
            // Plugins publish only under their own name.
            let full = format!("{}.{}", scope.plugin, topic);
            if validate_topic(&full).is_err() {
                tracing::warn!(plugin = %scope.plugin, topic, "invalid topic; event dropped");
                return;
            }
            Some(full)
        };
        scope.publish(topic.as_deref(), &kind, parse_payload(&data));
    }

    fn progress(&mut self, done: u64, total: u64, message: String, detail: Option<String>) {
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

    fn cancelled(&mut self) -> bool {
        self.scope.cancel.load(Ordering::Relaxed)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
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

impl bindings::weft::engine::types::Host for HostState {}
