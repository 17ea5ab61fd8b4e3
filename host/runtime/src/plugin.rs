//! One loaded plugin version, its self-description, and running it in a
//! fresh sandboxed store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::bindings::{udf, v1, v2};
use crate::error::RuntimeError;
use crate::host::{EventScope, HostState, ProgressSink};
use crate::job::JobError;
use crate::manifest::Manifest;
use crate::{Runtime, SandboxConfig};

/// Whether loading found the compiled component in the on-disk cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Loaded a previously compiled artifact.
    Hit,
    /// Compiled now (and stored for next time).
    Compiled,
}

/// One operation as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct OperationInfo {
    /// Name.
    pub name: String,
    /// One sentence.
    pub description: String,
    /// JSON Schema of the params.
    pub params_schema: serde_json::Value,
    /// JSON Schema of the result, when the plugin declares one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_schema: Option<serde_json::Value>,
    /// Event kinds emitted.
    pub emits: Vec<String>,
    /// Full family topic, e.g. `graph.algorithms`.
    pub topic: String,
}

/// A loaded plugin as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    /// Name it is loaded under (and submits jobs to).
    pub name: String,
    /// Version it reports.
    pub version: String,
    /// WIT world it implements, e.g. `weft:engine/plugin@0.2.0`.
    pub world: String,
    /// Operations.
    pub operations: Vec<OperationInfo>,
    /// Routes, endpoints, event kinds and session protocol it serves.
    pub manifest: Manifest,
    /// Scalar functions, for a UDF plugin (`weft:udf/scalar-plugin`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<crate::functions::FunctionInfo>,
    /// SHA-256 of the component.
    pub digest: String,
    /// Component size.
    pub size_bytes: usize,
    /// Compiled now or loaded from the cache.
    pub cache: CacheOutcome,
    /// When it was loaded.
    #[serde(with = "time::serde::rfc3339")]
    pub loaded_at: OffsetDateTime,
}

/// Who is calling a plugin and how to reach them.
#[derive(Clone)]
pub struct Invocation {
    /// Tenant the call runs for.
    pub tenant: String,
    /// Job id, when the call is a job.
    pub job_id: Option<String>,
    /// Set to stop the call: the guest sees `cancelled()`, and the host
    /// interrupts it at the next epoch tick regardless.
    pub cancel: Arc<AtomicBool>,
    /// Called with every progress report.
    pub on_progress: Option<ProgressSink>,
}

impl Invocation {
    /// A call outside any job (benchmarks, tools).
    pub fn detached(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            job_id: None,
            cancel: Arc::new(AtomicBool::new(false)),
            on_progress: None,
        }
    }
}

/// Raised from the epoch callback to stop a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    Cancelled,
    TimedOut,
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cancelled => "cancelled",
            Self::TimedOut => "deadline exceeded",
        })
    }
}

impl std::error::Error for Interrupt {}

/// A component bound to one WIT version's worlds. `stream` is set when it
/// also exports `weft:engine/stream` (the `streaming-plugin` world).
pub(crate) enum Bound {
    V1 {
        pre: v1::plugin::PluginPre<HostState>,
        stream: Option<v1::stream::StreamExportsPre<HostState>>,
    },
    V2 {
        pre: v2::plugin::PluginPre<HostState>,
        stream: Option<v2::stream::StreamExportsPre<HostState>>,
    },
    /// A UDF plugin: scalar functions, no jobs.
    Udf {
        pre: udf::ScalarPluginPre<HostState>,
    },
}

impl Bound {
    fn world(&self) -> &'static str {
        match self {
            Self::V1 { stream: None, .. } => "weft:engine/plugin@0.1.0",
            Self::V1 {
                stream: Some(_), ..
            } => "weft:engine/streaming-plugin@0.1.0",
            Self::V2 { stream: None, .. } => "weft:engine/plugin@0.2.0",
            Self::V2 {
                stream: Some(_), ..
            } => "weft:engine/streaming-plugin@0.2.0",
            Self::Udf { .. } => "weft:udf/scalar-plugin@0.1.0",
        }
    }
}

/// The bindings of one live instance.
enum Bindings {
    V1(v1::plugin::Plugin),
    V2(v2::plugin::Plugin),
    Udf(udf::ScalarPlugin),
}

/// A validated, instantiable plugin version.
pub struct LoadedPlugin {
    info: PluginInfo,
    bound: Bound,
    validators: HashMap<String, jsonschema::Validator>,
    engine: Engine,
    bus: weft_bus::Bus,
    sandbox: SandboxConfig,
    storage: crate::storage_host::StorageSlot,
    /// Where `weft:host/functions` finds UDF plugins.
    registry: crate::functions::Registry,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("info", &self.info)
            .finish()
    }
}

impl LoadedPlugin {
    /// Instantiates the component once, asks it to describe itself and
    /// checks the answer. `name` is what the plugin is loaded under.
    pub(crate) fn new(
        runtime: &Runtime,
        name: &str,
        bound: Bound,
        digest: String,
        size_bytes: usize,
        cache: crate::CacheOutcome,
    ) -> Result<Self, RuntimeError> {
        let mut plugin = Self {
            info: PluginInfo {
                name: name.to_owned(),
                version: String::new(),
                world: bound.world().to_owned(),
                operations: Vec::new(),
                manifest: Manifest::default(),
                functions: Vec::new(),
                digest,
                size_bytes,
                cache,
                loaded_at: OffsetDateTime::now_utc(),
            },
            bound,
            validators: HashMap::new(),
            engine: runtime.engine().clone(),
            bus: runtime.bus().clone(),
            sandbox: runtime.sandbox().clone(),
            storage: runtime.storage_slot(),
            registry: runtime.registry(),
        };
        let mut instance = plugin
            .instantiate_with_timeout(
                Invocation::detached("system"),
                plugin.sandbox.describe_timeout,
                format!("{name}.plugins"),
            )
            .map_err(|e| {
                RuntimeError::InvalidPlugin(format!("instantiation failed: {}", e.message))
            })?;
        if matches!(plugin.bound, Bound::Udf { .. }) {
            let (version, functions) = instance
                .describe_functions()
                .map_err(RuntimeError::InvalidPlugin)?;
            plugin.info.version = version;
            plugin.info.functions = functions;
            return Ok(plugin);
        }
        let described = instance
            .describe(name)
            .map_err(RuntimeError::InvalidPlugin)?;
        plugin.info.version = described.version;
        plugin.info.operations = described.operations;
        plugin.info.manifest = described.manifest;
        plugin.validators = described.validators;
        if let Bound::V1 {
            stream: Some(_), ..
        } = &plugin.bound
        {
            plugin.info.manifest.session = Some(crate::sessions::v1::protocol(name));
        }
        if plugin.supports_sessions() != plugin.info.manifest.session.is_some() {
            return Err(RuntimeError::InvalidPlugin(
                "a plugin that exports weft:engine/stream declares a session protocol in its manifest, and only such a plugin does".into(),
            ));
        }
        Ok(plugin)
    }

    /// Name, version, operations.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The operation called `op`.
    pub fn operation(&self, op: &str) -> Option<&OperationInfo> {
        self.info.operations.iter().find(|o| o.name == op)
    }

    /// Checks `op` exists and `params` satisfies its schema.
    pub fn check_request(&self, op: &str, params: &serde_json::Value) -> Result<(), RuntimeError> {
        let Some(validator) = self.validators.get(op) else {
            return Err(RuntimeError::UnknownOperation {
                engine: self.info.name.clone(),
                op: op.to_owned(),
                available: if self.info.functions.is_empty() {
                    self.info
                        .operations
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    "none (a UDF plugin runs no jobs: call its functions by name from the analytics engine's SQL)".into()
                },
            });
        };
        let problems: Vec<String> = validator
            .iter_errors(params)
            .take(10)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::InvalidParams {
                op: op.to_owned(),
                details: problems.join("; "),
            })
        }
    }

    /// A fresh sandboxed instance for one job.
    pub fn instantiate(
        &self,
        invocation: Invocation,
        op: &str,
    ) -> Result<PluginInstance, JobError> {
        let family = self
            .operation(op)
            .map(|o| o.topic.clone())
            .unwrap_or_else(|| format!("{}.jobs", self.info.name));
        self.instantiate_with_timeout(invocation, self.sandbox.job_timeout, family)
    }

    /// True when the plugin implements `streaming-plugin` and so can open
    /// sessions.
    pub fn supports_sessions(&self) -> bool {
        matches!(
            self.bound,
            Bound::V1 {
                stream: Some(_),
                ..
            } | Bound::V2 {
                stream: Some(_),
                ..
            }
        )
    }

    pub(crate) fn bound(&self) -> &Bound {
        &self.bound
    }

    pub(crate) fn sandbox(&self) -> &SandboxConfig {
        &self.sandbox
    }

    /// A store with the sandbox's memory cap whose calls are interrupted
    /// when `invocation.cancel` is set or the state's `deadline` passes.
    pub(crate) fn new_store(
        &self,
        invocation: Invocation,
        family_topic: String,
    ) -> Store<HostState> {
        let scope = EventScope {
            bus: self.bus.clone(),
            tenant: invocation.tenant,
            plugin: self.info.name.clone(),
            version: self.info.version.clone(),
            job: invocation.job_id,
            family_topic,
            cancel: invocation.cancel.clone(),
            on_progress: invocation.on_progress,
            child: false,
        };
        let mut store = Store::new(
            &self.engine,
            HostState::new(scope, self.sandbox.max_memory_bytes, self.storage.clone()),
        );
        store.limiter(|state| &mut state.limiter);
        store.data_mut().udfs = crate::functions::UdfCalls::new(self.registry.clone());
        let cancel = invocation.cancel;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            if cancel.load(Ordering::Relaxed) {
                return Err(wasmtime::Error::new(Interrupt::Cancelled));
            }
            if Instant::now() >= store.data().deadline {
                return Err(wasmtime::Error::new(Interrupt::TimedOut));
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store
    }

    fn instantiate_with_timeout(
        &self,
        invocation: Invocation,
        timeout: Duration,
        family_topic: String,
    ) -> Result<PluginInstance, JobError> {
        let mut store = self.new_store(invocation, family_topic);
        store.data_mut().deadline = Instant::now() + timeout;
        let mut instance = PluginInstance {
            store,
            bindings: None,
            timeout,
            memory_cap: self.sandbox.max_memory_bytes,
        };
        let bound = match &self.bound {
            Bound::V1 { pre, .. } => pre.instantiate(&mut instance.store).map(Bindings::V1),
            Bound::V2 { pre, .. } => pre.instantiate(&mut instance.store).map(Bindings::V2),
            Bound::Udf { pre } => pre.instantiate(&mut instance.store).map(Bindings::Udf),
        };
        match bound {
            Ok(bindings) => {
                instance.bindings = Some(bindings);
                Ok(instance)
            }
            Err(e) => Err(instance.classify(e)),
        }
    }

    /// Runs `op` with `params` in a fresh instance and returns its result.
    /// The instance may hand work to children (`weft:host/tasks`).
    pub fn invoke(
        self: &Arc<Self>,
        op: &str,
        params: &serde_json::Value,
        invocation: Invocation,
    ) -> Result<serde_json::Value, JobError> {
        let mut instance = self.instantiate(invocation, op)?;
        instance.store.data_mut().children = Some(Arc::clone(self));
        instance.invoke(op, &params.to_string())
    }

    /// An instance of a UDF plugin for a caller's `weft:host/functions`
    /// calls: bounded by the caller's deadline (`timeout` from now) and
    /// cancel flag; it cannot call UDFs itself.
    pub(crate) fn instantiate_udf(
        &self,
        invocation: Invocation,
        timeout: Duration,
    ) -> Result<PluginInstance, JobError> {
        let mut instance =
            self.instantiate_with_timeout(invocation, timeout, format!("{}.jobs", self.info.name))?;
        instance.store.data_mut().scope.child = true;
        instance.store.data_mut().udfs = crate::functions::UdfCalls::default();
        Ok(instance)
    }

    /// One child run of `op` for `weft:host/tasks`: a fresh instance that
    /// cannot start children itself, whose progress reports are its
    /// parent's business and so not published.
    pub(crate) fn run_child(
        &self,
        invocation: Invocation,
        op: &str,
        params_json: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, JobError> {
        let family = self
            .operation(op)
            .map(|o| o.topic.clone())
            .unwrap_or_else(|| format!("{}.jobs", self.info.name));
        let mut instance = self.instantiate_with_timeout(invocation, timeout, family)?;
        instance.store.data_mut().scope.child = true;
        instance.invoke(op, params_json)
    }
}

/// A live instance in its own store. Dropping it frees the pool slot.
pub struct PluginInstance {
    store: Store<HostState>,
    bindings: Option<Bindings>,
    timeout: Duration,
    memory_cap: usize,
}

impl PluginInstance {
    fn describe(&mut self, name: &str) -> Result<crate::describe::Described, String> {
        let failed = |e: JobError| format!("describe() failed: {}", e.message);
        match &self.bindings {
            None | Some(Bindings::Udf(_)) => Err("the instance failed to start".into()),
            Some(Bindings::V1(b)) => {
                let info = b
                    .weft_engine_engine()
                    .call_describe(&mut self.store)
                    .map_err(|e| failed(self.classify(e)))?;
                crate::describe::from_v1(name, info)
            }
            Some(Bindings::V2(b)) => {
                let info = b
                    .weft_engine_engine()
                    .call_describe(&mut self.store)
                    .map_err(|e| failed(self.classify(e)))?;
                crate::describe::from_v2(name, info)
            }
        }
    }

    fn describe_functions(
        &mut self,
    ) -> Result<(String, Vec<crate::functions::FunctionInfo>), String> {
        let Some(Bindings::Udf(b)) = &self.bindings else {
            return Err("the instance failed to start".into());
        };
        let info = b
            .weft_udf_scalar()
            .call_describe(&mut self.store)
            .map_err(|e| format!("describe() failed: {}", self.classify(e).message))?;
        crate::functions::from_describe(info)
    }

    /// Calls a UDF plugin's `call(name, args)`: the outer error is the
    /// instance failing (a trap, the deadline), the inner one the
    /// function's own.
    /// `deadline` is the caller's for this call (a session's moves on with
    /// every message).
    pub(crate) fn call_function(
        &mut self,
        name: &str,
        args: &[v2::plugin::weft::host::storage::ColumnChunk],
        deadline: Instant,
    ) -> Result<Result<v2::plugin::weft::host::storage::ColumnChunk, String>, JobError> {
        let Some(Bindings::Udf(b)) = &self.bindings else {
            return Err(JobError::new("unavailable", "not a UDF plugin's instance"));
        };
        self.store.data_mut().deadline = deadline;
        self.timeout = deadline.saturating_duration_since(Instant::now());
        match b.weft_udf_scalar().call_call(&mut self.store, name, args) {
            Ok(answer) => Ok(answer),
            Err(error) => Err(self.classify(error)),
        }
    }

    /// Calls `invoke(op, params)` on the guest.
    pub fn invoke(&mut self, op: &str, params_json: &str) -> Result<serde_json::Value, JobError> {
        match &self.bindings {
            None => Err(JobError::new("unavailable", "the instance failed to start")),
            Some(Bindings::Udf(_)) => Err(JobError::new(
                "unknown_operation",
                format!(
                    "'{op}': this is a UDF plugin, which runs no jobs; call its functions by name from the analytics engine's SQL"
                ),
            )),
            Some(Bindings::V1(b)) => {
                match b
                    .weft_engine_engine()
                    .call_invoke(&mut self.store, op, params_json)
                {
                    Ok(Ok(text)) => json_output(&text),
                    Ok(Err(guest)) => Err(guest_error_v1(guest)),
                    Err(error) => Err(self.classify(error)),
                }
            }
            Some(Bindings::V2(b)) => {
                match b
                    .weft_engine_engine()
                    .call_invoke(&mut self.store, op, params_json)
                {
                    Ok(Ok(output)) => crate::output::to_json(output),
                    Ok(Err(guest)) => Err(guest_error_v2(guest)),
                    Err(error) => Err(self.classify(error)),
                }
            }
        }
    }

    fn classify(&self, error: wasmtime::Error) -> JobError {
        classify(&self.store, error, self.timeout, self.memory_cap)
    }
}

pub(crate) fn json_output(text: &str) -> Result<serde_json::Value, JobError> {
    serde_json::from_str(text).map_err(|e| {
        JobError::new(
            "invalid_output",
            format!("the plugin returned a result that is not JSON: {e}"),
        )
    })
}

/// The job error for an error a 0.1 guest returned.
pub(crate) fn guest_error_v1(guest: v1::plugin::weft::engine::types::Error) -> JobError {
    use v1::plugin::weft::engine::types::Error as E;
    match guest {
        E::UnknownOperation(op) => JobError::new(
            "unknown_operation",
            format!("the plugin has no operation '{op}'"),
        ),
        E::InvalidParams(why) => JobError::new("invalid_params", why),
        E::Cancelled => JobError::new("cancelled", "the job was cancelled"),
        E::Failed(why) => JobError::new("plugin_error", why),
    }
}

/// The job error for an error a 0.2 guest returned.
pub(crate) fn guest_error_v2(guest: v2::plugin::weft::engine::types::Error) -> JobError {
    use v2::plugin::weft::engine::types::Error as E;
    match guest {
        E::UnknownOperation(op) => JobError::new(
            "unknown_operation",
            format!("the plugin has no operation '{op}'"),
        ),
        E::InvalidParams(param) => {
            let message = if param.pointer.is_empty() {
                param.message
            } else {
                format!("{}: {}", param.pointer, param.message)
            };
            let mut error = JobError::new("invalid_params", message);
            error.pointer = Some(param.pointer).filter(|p| !p.is_empty());
            error
        }
        E::NotFound(what) => JobError::new("not_found", what),
        E::Cancelled => JobError::new("cancelled", "the job was cancelled"),
        E::Failed(failure) => {
            let code = if is_snake_code(&failure.code) {
                failure.code
            } else {
                "plugin_error".to_owned()
            };
            let mut error = JobError::new(&code, failure.message);
            error.retryable = failure.retryable;
            error
        }
    }
}

/// A plugin's failure code must not pass for one of the host's.
fn is_snake_code(code: &str) -> bool {
    const HOST_CODES: &[&str] = &[
        "timeout",
        "memory_limit",
        "plugin_trapped",
        "cancelled",
        "server_restarted",
        "unavailable",
        "invalid_output",
    ];
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !HOST_CODES.contains(&code)
}

/// Turns a wasmtime error into a job error that says what happened.
pub(crate) fn classify(
    store: &Store<HostState>,
    error: wasmtime::Error,
    timeout: Duration,
    memory_cap: usize,
) -> JobError {
    {
        match error.downcast_ref::<Interrupt>() {
            Some(Interrupt::Cancelled) => {
                return JobError::new("cancelled", "the job was cancelled");
            }
            Some(Interrupt::TimedOut) => {
                return JobError::new(
                    "timeout",
                    format!(
                        "the call ran past its deadline of {timeout:?} and was stopped; raise --job-timeout-secs if it needs longer"
                    ),
                );
            }
            None => {}
        }
        if store.data().limiter.refused {
            return JobError::new(
                "memory_limit",
                format!(
                    "the plugin tried to use more than {} MiB of memory and was stopped; raise --max-memory-mib if the job needs more",
                    memory_cap >> 20
                ),
            );
        }
        let output = store.data().captured_output();
        let mut message = match error.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => format!("the plugin trapped: {trap}"),
            None => format!("the plugin failed: {error:#}"),
        };
        if !output.is_empty() {
            message.push_str("; plugin output: ");
            message.push_str(&output.chars().take(2000).collect::<String>());
        }
        let code = if error.downcast_ref::<wasmtime::Trap>().is_some() {
            "plugin_trapped"
        } else {
            "plugin_error"
        };
        JobError::new(code, message)
    }
}
