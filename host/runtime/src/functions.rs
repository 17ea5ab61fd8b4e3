//! UDF plugins and the host side of `weft:host/functions@0.2.4`: a plugin
//! (the analytics engine's SQL) calls a scalar function that another,
//! separately loaded plugin brings, one column chunk per argument.
//!
//! The UDF runs in its own sandboxed instance — its own memory cap, the
//! caller's deadline (taken anew at every call) and cancel flag — made at the caller's first call to
//! that plugin and kept for the caller's lifetime, so a job sees one
//! version of a function and pays instantiation once. Arguments are
//! checked against the declared signature before the UDF sees them, and
//! the answer's type and length before the caller does: a UDF that lies
//! fails the call, not the host. Nothing here knows what a function does.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use serde::Serialize;

use crate::bindings::v2::plugin::weft::host::functions;
use crate::bindings::v2::plugin::weft::host::storage::{ColumnChunk, ColumnType, ColumnValues};
use crate::host::HostState;
use crate::plugin::{Invocation, LoadedPlugin, PluginInstance};

/// The registry as UDF calls see it (weak: plugins must not keep it alive).
pub(crate) type Registry = Weak<RwLock<HashMap<String, Arc<LoadedPlugin>>>>;

/// Most arguments a function may declare.
const MAX_PARAMS: usize = 16;
/// Most rows one call may carry (a storage chunk).
const MAX_ROWS: usize = 65_536;

/// One function a UDF plugin declares, as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionInfo {
    /// The name SQL calls it by.
    pub name: String,
    /// One sentence.
    pub description: String,
    /// Argument types (`float64`, `int64`, `boolean`, `text`, `timestamp`,
    /// `binary`).
    pub params: Vec<&'static str>,
    /// Result type.
    pub returns: &'static str,
    #[serde(skip)]
    pub(crate) param_types: Vec<ColumnType>,
    #[serde(skip)]
    pub(crate) return_type: ColumnType,
}

pub(crate) fn type_name(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::Float64 => "float64",
        ColumnType::Int64 => "int64",
        ColumnType::Boolean => "boolean",
        ColumnType::Text => "text",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Binary => "binary",
    }
}

/// Checks what a UDF plugin's `describe()` answered.
pub(crate) fn from_describe(
    info: crate::bindings::udf::exports::weft::udf::scalar::Info,
) -> Result<(String, Vec<FunctionInfo>), String> {
    if info.functions.is_empty() {
        return Err("a UDF plugin declares at least one function".into());
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in info.functions {
        let good_name = f.name.len() <= 64
            && f.name.starts_with(|c: char| c.is_ascii_lowercase())
            && f.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !good_name {
            return Err(format!(
                "function name '{}' is not a SQL name: lowercase ASCII letters, digits and _, starting with a letter, at most 64",
                f.name.chars().take(80).collect::<String>()
            ));
        }
        if !seen.insert(f.name.clone()) {
            return Err(format!("function '{}' is declared twice", f.name));
        }
        if f.params.is_empty() || f.params.len() > MAX_PARAMS {
            return Err(format!(
                "function '{}' declares {} params; a function takes 1 to {MAX_PARAMS}",
                f.name,
                f.params.len()
            ));
        }
        out.push(FunctionInfo {
            params: f.params.iter().map(|t| type_name(*t)).collect(),
            returns: type_name(f.returns),
            param_types: f.params,
            return_type: f.returns,
            name: f.name,
            description: f.description,
        });
    }
    Ok((info.version, out))
}

/// What a caller's store keeps of the UDF plugins it has called.
#[derive(Default)]
pub(crate) struct UdfCalls {
    pub(crate) registry: Registry,
    /// Instances by plugin name, each pinned to the version first called.
    instances: HashMap<String, (Arc<LoadedPlugin>, PluginInstance)>,
}

impl UdfCalls {
    pub(crate) fn new(registry: Registry) -> Self {
        Self {
            registry,
            instances: HashMap::new(),
        }
    }

    fn active(&self) -> Vec<Arc<LoadedPlugin>> {
        let Some(registry) = self.registry.upgrade() else {
            return Vec::new();
        };
        let plugins = registry.read().unwrap_or_else(|p| p.into_inner());
        let mut udfs: Vec<Arc<LoadedPlugin>> = plugins
            .values()
            .filter(|p| !p.info().functions.is_empty())
            .cloned()
            .collect();
        udfs.sort_by(|a, b| a.info().name.cmp(&b.info().name));
        udfs
    }
}

fn chunk_len(chunk: &ColumnChunk) -> usize {
    match &chunk.values {
        ColumnValues::Float64(v) => v.len(),
        ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => v.len(),
        ColumnValues::Boolean(v) => v.len(),
        ColumnValues::Text(v) => v.len(),
        ColumnValues::Binary(v) => v.len(),
    }
}

fn chunk_type(chunk: &ColumnChunk) -> ColumnType {
    match &chunk.values {
        ColumnValues::Float64(_) => ColumnType::Float64,
        ColumnValues::Int64(_) => ColumnType::Int64,
        ColumnValues::Boolean(_) => ColumnType::Boolean,
        ColumnValues::Text(_) => ColumnType::Text,
        ColumnValues::Timestamp(_) => ColumnType::Timestamp,
        ColumnValues::Binary(_) => ColumnType::Binary,
    }
}

/// Checks `args` against `f`: their number, types and one common length.
fn check_args(f: &FunctionInfo, args: &[ColumnChunk]) -> Result<usize, String> {
    if args.len() != f.param_types.len() {
        return Err(format!(
            "{}() takes {} arguments ({}), not {}",
            f.name,
            f.params.len(),
            f.params.join(", "),
            args.len()
        ));
    }
    let rows = chunk_len(&args[0]);
    if rows > MAX_ROWS {
        return Err(format!(
            "a call carries at most {MAX_ROWS} rows, not {rows}"
        ));
    }
    for (i, (arg, want)) in args.iter().zip(&f.param_types).enumerate() {
        let got = chunk_type(arg);
        if got != *want {
            return Err(format!(
                "argument {} of {}() is {}; it takes {}",
                i + 1,
                f.name,
                type_name(got),
                type_name(*want)
            ));
        }
        if chunk_len(arg) != rows || (!arg.valid.is_empty() && arg.valid.len() != rows) {
            return Err(format!(
                "the arguments of {}() are not all {rows} rows long",
                f.name
            ));
        }
    }
    Ok(rows)
}

impl functions::Host for HostState {
    fn list_functions(&mut self) -> Vec<functions::FunctionInfo> {
        self.udfs
            .active()
            .iter()
            .flat_map(|p| {
                let info = p.info();
                info.functions.iter().map(|f| functions::FunctionInfo {
                    name: f.name.clone(),
                    plugin: info.name.clone(),
                    version: info.version.clone(),
                    description: f.description.clone(),
                    params: f.param_types.clone(),
                    returns: f.return_type,
                })
            })
            .collect()
    }

    fn call_function(
        &mut self,
        name: String,
        args: Vec<ColumnChunk>,
    ) -> Result<ColumnChunk, functions::FunctionError> {
        use functions::FunctionError as E;
        // A plugin already called answers for its functions, even if a
        // newer version was activated since.
        let pinned = self
            .udfs
            .instances
            .values()
            .find(|(p, _)| p.info().functions.iter().any(|f| f.name == name))
            .map(|(p, _)| Arc::clone(p));
        let plugin = match pinned {
            Some(p) => p,
            None => self
                .udfs
                .active()
                .into_iter()
                .find(|p| p.info().functions.iter().any(|f| f.name == name))
                .ok_or_else(|| {
                    E::NotFound(format!(
                        "no loaded UDF plugin offers a function '{name}'; GET /api/v1/plugins lists the loaded plugins and their functions"
                    ))
                })?,
        };
        let Some(function) = plugin.info().functions.iter().find(|f| f.name == name) else {
            return Err(E::NotFound(format!("no function '{name}'")));
        };
        let rows = check_args(function, &args).map_err(E::Invalid)?;
        let plugin_name = plugin.info().name.clone();
        if !self.udfs.instances.contains_key(&plugin_name) {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let invocation = Invocation {
                tenant: self.scope.tenant.clone(),
                job_id: self.scope.job.clone(),
                cancel: self.scope.cancel.clone(),
                on_progress: None,
            };
            let instance = plugin.instantiate_udf(invocation, left).map_err(|e| {
                E::Failed(format!(
                    "UDF plugin '{plugin_name}' did not start: {}",
                    e.message
                ))
            })?;
            self.udfs
                .instances
                .insert(plugin_name.clone(), (Arc::clone(&plugin), instance));
        }
        let Some((_, instance)) = self.udfs.instances.get_mut(&plugin_name) else {
            return Err(E::Failed("the UDF instance is gone".into()));
        };
        let answer = instance.call_function(&name, &args, self.deadline);
        let answer = match answer {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(message)) => {
                return Err(E::Failed(format!("{name}() failed: {message}")));
            }
            Err(e) => {
                // A trapped instance cannot be called again.
                self.udfs.instances.remove(&plugin_name);
                return Err(E::Failed(format!(
                    "{name}() of plugin '{plugin_name}' failed: {}",
                    e.message
                )));
            }
        };
        let (got, len) = (chunk_type(&answer), chunk_len(&answer));
        if got != function.return_type {
            return Err(E::Failed(format!(
                "{name}() answered {} values; it declares {}",
                type_name(got),
                function.returns
            )));
        }
        if len != rows || (!answer.valid.is_empty() && answer.valid.len() != rows) {
            return Err(E::Failed(format!(
                "{name}() answered {len} values for {rows} rows"
            )));
        }
        Ok(answer)
    }
}
