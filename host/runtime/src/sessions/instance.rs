//! One session's sandboxed instance: the guest's `weft:engine/stream`
//! session resource in a long-lived store.
//!
//! A call runs on the caller's thread (the pool gives each session a
//! thread of its own) under the same memory cap as a job and a per-call
//! deadline. A call that traps, times out or hits the memory cap poisons
//! the session: later calls get the same error, and the client is told to
//! open a new session. The instance and its pool slot are freed when the
//! [`StreamSession`] is dropped. Plugins built against WIT 0.1 have the
//! anomaly-shaped stream of that version; `v1` adapts it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::columns::{Column, from_wit, to_wit};
use super::v1;
use crate::bindings::{v1 as wit1, v2 as wit2};
use crate::host::HostState;
use crate::job::JobError;
use crate::plugin::{
    Bound, Invocation, LoadedPlugin, classify, guest_error_v1, guest_error_v2, json_output,
};

/// The session export of either WIT version.
enum StreamExports {
    V1(wit1::stream::StreamExports),
    V2(wit2::stream::StreamExports),
}

/// What a push answered.
#[derive(Clone, Debug, PartialEq)]
pub struct PushAnswer {
    /// One value per input row in each column, as JSON.
    pub columns: Vec<(String, Vec<Value>)>,
    /// The answer's other fields.
    pub reply: serde_json::Map<String, Value>,
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
    /// with `config` (a JSON object; `session_id` is added), or restores
    /// it from `snapshot`. Each later call must finish within
    /// `call_timeout`.
    pub fn open_session(
        &self,
        tenant: &str,
        session_id: &str,
        config: &Value,
        snapshot: Option<&[u8]>,
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
            Value::Object(fields) => {
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
                // 0.1 has no restore: a snapshot of a 0.1 session is never
                // taken, so there is none to pass.
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
                let session = b.weft_engine_stream().session();
                let opened = match snapshot {
                    Some(bytes) => session.call_restore(&mut store, &config, bytes),
                    None => session.call_open(&mut store, &config),
                };
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
        self.store.data_mut().reset_emit_budget();
        self.handle
            .ok_or_else(|| JobError::new("session_failed", "the session is closed"))
    }

    /// A host-side failure ends the session; a guest `Err` does not.
    fn fail(&mut self, error: wasmtime::Error) -> JobError {
        let error = classify(&self.store, error, self.call_timeout, self.memory_cap);
        self.poisoned = Some(error.clone());
        error
    }

    /// A `push` message: `params` are its fields (an object), `rows` its
    /// rows as columns.
    pub fn push(
        &mut self,
        message_type: &str,
        params: &Value,
        rows: Vec<Column>,
    ) -> Result<PushAnswer, JobError> {
        let handle = self.begin()?;
        let outcome = match &self.bindings {
            StreamExports::V1(b) => {
                let batch = v1::batch(params, rows)?;
                let call =
                    b.weft_engine_stream()
                        .session()
                        .call_push(&mut self.store, handle, &batch);
                call.map(|r| r.map(v1::answer).map_err(guest_error_v1))
            }
            StreamExports::V2(b) => {
                use wit2::stream::exports::weft::engine::stream::PushInput;
                let input = PushInput {
                    message_type: message_type.to_owned(),
                    params: params.to_string(),
                    rows: rows.into_iter().map(to_wit).collect(),
                };
                let call =
                    b.weft_engine_stream()
                        .session()
                        .call_push(&mut self.store, handle, &input);
                call.map(|r| {
                    r.map_err(guest_error_v2).and_then(|out| {
                        let reply = match json_output(&out.reply)? {
                            Value::Object(fields) => fields,
                            Value::Null => serde_json::Map::new(),
                            _ => {
                                return Err(JobError::new(
                                    "invalid_output",
                                    "a push's reply must be a JSON object",
                                ));
                            }
                        };
                        Ok(PushAnswer {
                            columns: out.columns.into_iter().map(from_wit).collect(),
                            reply,
                        })
                    })
                })
            }
        };
        match outcome {
            Ok(answer) => answer,
            Err(error) => Err(self.fail(error)),
        }
    }

    /// A `request` message; answers a JSON object.
    pub fn request(&mut self, message_type: &str, params: &Value) -> Result<Value, JobError> {
        let handle = self.begin()?;
        let params = params.to_string();
        let outcome = match &self.bindings {
            StreamExports::V1(b) => b
                .weft_engine_stream()
                .session()
                .call_request(
                    &mut self.store,
                    handle,
                    v1::request_kind(message_type),
                    &params,
                )
                .map(|r| r.map_err(guest_error_v1)),
            StreamExports::V2(b) => b
                .weft_engine_stream()
                .session()
                .call_request(&mut self.store, handle, message_type, &params)
                .map(|r| r.map_err(guest_error_v2)),
        };
        match outcome {
            Ok(Ok(text)) => json_output(&text),
            Ok(Err(guest)) => Err(guest),
            Err(error) => Err(self.fail(error)),
        }
    }

    /// The guest's view of the session.
    pub fn stats(&mut self) -> Result<Value, JobError> {
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
            Ok(text) => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            Err(error) => Err(self.fail(error)),
        }
    }

    /// The session's state as bytes `open_session` can restore; `None`
    /// for 0.1 plugins, which cannot.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, JobError> {
        let handle = self.begin()?;
        let outcome = match &self.bindings {
            StreamExports::V1(_) => return Ok(None),
            StreamExports::V2(b) => b
                .weft_engine_stream()
                .session()
                .call_snapshot(&mut self.store, handle),
        };
        match outcome {
            Ok(Ok(bytes)) => Ok(Some(bytes)),
            Ok(Err(guest)) => Err(guest_error_v2(guest)),
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
