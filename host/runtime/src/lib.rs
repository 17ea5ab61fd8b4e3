//! The plugin runtime: the only crate that touches wasmtime.
//!
//! - [`Runtime`] owns the one `wasmtime::Engine`, the on-disk component
//!   cache and the loaded plugins; it hot-loads and unloads them.
//! - [`LoadedPlugin`] is one validated plugin version: its `InstancePre`,
//!   its self-description and a params validator per operation.
//! - [`Jobs`] queues, runs, cancels and records jobs, each in a fresh
//!   sandboxed `Store` with a memory cap and an epoch deadline.
//! - [`Sessions`] is the pool of streaming sessions, next to jobs: one
//!   long-lived instance per session ([`StreamSession`]) on a thread of its
//!   own, with a bounded queue, a deadline per call, idle reaping and
//!   snapshots that survive a restart.
//! - [`Manifest`] is what a plugin serves besides jobs (routes, WebSocket
//!   endpoints, event kinds, session protocol); the registry checks it at
//!   load and answers which plugin serves a path ([`Runtime::find_route`]).
//!
//! WIT versions: the host binds `weft:*@0.2.0` and `@0.1.0` (`bindings`);
//! a component is bound to the newest it fits.
//!
//! Sandbox: every plugin call runs with a [`SandboxConfig`] memory cap and
//! deadline, and only the WASI interfaces `wasi` links: no filesystem, no
//! network, no environment, and a wall clock frozen at the instance's
//! start (stamps, not timing). A trap, a
//! runaway loop or a memory bomb ends that one call with a [`JobError`].
//! This crate must not know about HTTP, sockets or GraphQL.

mod bindings;
mod cache;
mod children;
mod config;
mod describe;
mod error;
mod functions;
mod host;
mod host_v1;
mod job;
mod jobs;
pub mod manifest;
mod output;
mod plugin;
mod runtime;
pub mod sessions;
mod storage_host;
mod versions;
mod wasi;
pub mod wit;

pub use config::SandboxConfig;
pub use error::RuntimeError;
pub use functions::FunctionInfo;
pub use host::ProgressSink;
pub use job::{Job, JobError, JobProgress, JobState};
pub use jobs::{Jobs, JobsConfig, ListFilter, SubmitRequest};

pub use manifest::Manifest;
pub use plugin::{
    CacheOutcome, Invocation, LoadedPlugin, OperationInfo, PluginInfo, PluginInstance,
};
pub use runtime::{RouteMatch, Runtime, SessionTarget};
pub use sessions::{Sessions, SessionsConfig, StreamSession};
pub use versions::{LIFECYCLE_TOPIC, VersionInfo};
