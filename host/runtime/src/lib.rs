//! The plugin runtime: the only crate that touches wasmtime.
//!
//! - [`Runtime`] owns the one `wasmtime::Engine`, the on-disk component
//!   cache and the loaded plugins; it hot-loads and unloads them.
//! - [`LoadedPlugin`] is one validated plugin version: its `InstancePre`,
//!   its self-description and a params validator per operation.
//! - [`Jobs`] queues, runs, cancels and records jobs, each in a fresh
//!   sandboxed `Store` with a memory cap and an epoch deadline.
//! - [`StreamSession`] is one long-lived instance of a streaming plugin
//!   holding the guest's session resource, with a deadline per call.
//!
//! Sandbox: every plugin call runs with a [`SandboxConfig`] memory cap and
//! deadline, no filesystem, no network and no environment. A trap, a
//! runaway loop or a memory bomb ends that one call with a [`JobError`].
//! This crate must not know about HTTP, sockets or GraphQL.

mod cache;
mod config;
mod error;
mod host;
mod job;
mod jobs;
mod plugin;
mod runtime;
mod session;
mod storage_host;

pub use config::SandboxConfig;
pub use error::RuntimeError;
pub use host::ProgressSink;
pub use job::{Job, JobError, JobProgress, JobState};
pub use jobs::{Jobs, JobsConfig, SubmitRequest};

pub use plugin::{
    CacheOutcome, Invocation, LoadedPlugin, OperationInfo, PluginInfo, PluginInstance,
};
pub use runtime::Runtime;
pub use session::{SessionScores, StreamSession};
