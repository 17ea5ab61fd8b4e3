//! Sessions of streaming plugins: one long-lived sandboxed instance per
//! session, holding the guest's `weft:engine/stream` session resource.
//!
//! A session call runs on the caller's thread (the gateway gives each
//! session a thread of its own) under the same memory cap as a job and a
//! per-call deadline. A call that traps, times out or hits the memory cap
//! poisons the session: later calls get the same error, and the client is
//! told to open a new session. The instance and its pool slot are freed
//! when the [`StreamSession`] is dropped.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::bindings::{v1, v2};
use crate::host::HostState;
use crate::job::JobError;
use crate::plugin::{
    Bound, Invocation, LoadedPlugin, classify, guest_error_v1, guest_error_v2, json_output,
};

/// The session export of either WIT version (the two have the same shape).
enum StreamExports {
    V1(v1::stream::StreamExports),
    V2(v2::stream::StreamExports),
}

/// What one push answered, one entry per row.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionScores {
    /// Raw scores, higher is more unusual.
    pub scores: Vec<f64>,
    /// Calibrated to 0..1.
    pub confidences: Vec<f64>,
    /// Verdicts.
    pub verdicts: Vec<bool>,
    /// False while the model was warming up for that row.
    pub fitted: Vec<bool>,
    /// The model that scored.
    pub model: String,
    /// Anything else the engine reported.
    pub notes: serde_json::Value,
}

/// A live session of one plugin version.
pub struct StreamSession {
    store: Store<HostState>,
    bindings: StreamExports,
    handle: Option<ResourceAny>,
    call_timeout: Duration,
    memory_cap: usize,
    poisoned: Option<JobError>,
    plugin: String,
    version: String,
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession")
            .field("plugin", &self.plugin)
            .field("version", &self.version)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl LoadedPlugin {
    /// Instantiates the plugin for a session and opens the guest's session
    /// with `config` (a JSON object; `session_id` is added). Each later call
    /// must finish within `call_timeout`.
    pub fn open_session(
        &self,
        tenant: &str,
        session_id: &str,
        config: &serde_json::Value,
        call_timeout: Duration,
    ) -> Result<StreamSession, JobError> {
        let not_streaming = || {
            JobError::new(
                "not_streaming",
                format!(
                    "engine '{}' does not implement weft:engine/stream; it runs jobs only",
                    self.info().name
                ),
            )
        };
        let mut config = config.clone();
        match &mut config {
            serde_json::Value::Object(fields) => {
                fields.insert("session_id".into(), session_id.into());
            }
            _ => {
                return Err(JobError::new(
                    "invalid_params",
                    "a session config must be a JSON object",
                ));
            }
        }
        let invocation = Invocation {
            tenant: tenant.to_owned(),
            job_id: None,
            cancel: Arc::new(AtomicBool::new(false)),
            on_progress: None,
        };
        let family = format!("{}.sessions.{session_id}", self.info().name);
        let mut store = self.new_store(invocation, family);
        let memory_cap = self.sandbox().max_memory_bytes;
        store.data_mut().deadline = Instant::now() + call_timeout;
        let config = config.to_string();
        let fail =
            |store: &Store<HostState>, error| classify(store, error, call_timeout, memory_cap);
        let (bindings, opened) = match self.bound() {
            Bound::V1 {
                stream: Some(pre), ..
            } => {
                let b = pre.instantiate(&mut store).map_err(|e| fail(&store, e))?;
                let opened = b
                    .weft_engine_stream()
                    .session()
                    .call_open(&mut store, &config);
                let opened = opened.map(|r| r.map_err(guest_error_v1));
                (StreamExports::V1(b), opened)
            }
            Bound::V2 {
                stream: Some(pre), ..
            } => {
                let b = pre.instantiate(&mut store).map_err(|e| fail(&store, e))?;
                let opened = b
                    .weft_engine_stream()
                    .session()
                    .call_open(&mut store, &config);
                let opened = opened.map(|r| r.map_err(guest_error_v2));
                (StreamExports::V2(b), opened)
            }
            _ => return Err(not_streaming()),
        };
        let handle = match opened {
            Ok(Ok(handle)) => handle,
            Ok(Err(guest)) => return Err(guest),
            Err(error) => return Err(fail(&store, error)),
        };
        Ok(StreamSession {
            store,
            bindings,
            handle: Some(handle),
            call_timeout,
            memory_cap,
            poisoned: None,
            plugin: self.info().name.clone(),
            version: self.info().version.clone(),
        })
    }
}

impl StreamSession {
    /// The plugin version the session runs on.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The error that ended the session, if one did.
    pub fn poisoned(&self) -> Option<&JobError> {
        self.poisoned.as_ref()
    }

    fn begin(&mut self) -> Result<ResourceAny, JobError> {
        if let Some(error) = &self.poisoned {
            return Err(JobError::new(
                "session_failed",
                format!(
                    "this session's engine instance failed earlier ({}: {}); open a new session",
                    error.code, error.message
                ),
            ));
        }
        self.store.data_mut().deadline = Instant::now() + self.call_timeout;
        self.handle
            .ok_or_else(|| JobError::new("session_failed", "the session is closed"))
    }

    /// A host-side failure ends the session; a guest `Err` does not.
    fn fail(&mut self, error: wasmtime::Error) -> JobError {
        let error = classify(&self.store, error, self.call_timeout, self.memory_cap);
        self.poisoned = Some(error.clone());
        error
    }

    /// Scores `values` (row-major, `width` per row) and lets the model
    /// learn them. `options` is the engine's per-batch options object.
    pub fn push(
        &mut self,
        values: Vec<f64>,
        width: u32,
        options: &serde_json::Value,
    ) -> Result<SessionScores, JobError> {
        let handle = self.begin()?;
        let options = options.to_string();
        // The two versions' records have the same fields; a macro keeps
        // one copy of the mapping.
        macro_rules! push {
            ($bindings:expr, $module:ident, $guest_error:ident) => {{
                let batch = $module::stream::exports::weft::engine::stream::Batch {
                    values,
                    width,
                    options,
                };
                $bindings
                    .weft_engine_stream()
                    .session()
                    .call_push(&mut self.store, handle, &batch)
                    .map(|r| {
                        r.map(|scored| SessionScores {
                            scores: scored.scores,
                            confidences: scored.confidences,
                            verdicts: scored.verdicts,
                            fitted: scored.fitted,
                            model: scored.model,
                            notes: serde_json::from_str(&scored.notes)
                                .unwrap_or(serde_json::Value::Null),
                        })
                        .map_err($guest_error)
                    })
            }};
        }
        let outcome = match &self.bindings {
            StreamExports::V1(b) => push!(b, v1, guest_error_v1),
            StreamExports::V2(b) => push!(b, v2, guest_error_v2),
        };
        match outcome {
            Ok(answer) => answer,
            Err(error) => Err(self.fail(error)),
        }
    }

    /// A control request (`configure`, `drift`, ...).
    pub fn request(
        &mut self,
        kind: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, JobError> {
        let handle = self.begin()?;
        let params = params.to_string();
        let outcome = match &self.bindings {
            StreamExports::V1(b) => b
                .weft_engine_stream()
                .session()
                .call_request(&mut self.store, handle, kind, &params)
                .map(|r| r.map_err(guest_error_v1)),
            StreamExports::V2(b) => b
                .weft_engine_stream()
                .session()
                .call_request(&mut self.store, handle, kind, &params)
                .map(|r| r.map_err(guest_error_v2)),
        };
        match outcome {
            Ok(Ok(text)) => json_output(&text),
            Ok(Err(guest)) => Err(guest),
            Err(error) => Err(self.fail(error)),
        }
    }

    /// The guest's view of the session.
    pub fn stats(&mut self) -> Result<serde_json::Value, JobError> {
        let handle = self.begin()?;
        let outcome = match &self.bindings {
            StreamExports::V1(b) => b
                .weft_engine_stream()
                .session()
                .call_stats(&mut self.store, handle),
            StreamExports::V2(b) => b
                .weft_engine_stream()
                .session()
                .call_stats(&mut self.store, handle),
        };
        match outcome {
            Ok(text) => Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)),
            Err(error) => Err(self.fail(error)),
        }
    }
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take()
            && self.poisoned.is_none()
        {
            // Lets the guest run its destructor; a failure here only means
            // the instance is already unusable, and it is freed regardless.
            self.store.data_mut().deadline = Instant::now() + self.call_timeout;
            let _ = handle.resource_drop(&mut self.store);
        }
    }
}
