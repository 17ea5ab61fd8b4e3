//! The wasmtime engine, the plugin registry and hot loading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use serde_json::json;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use weft_bus::Bus;

use crate::bindings::{v1, v2};
use crate::cache::ComponentCache;
use crate::host::HostState;
use crate::manifest::{Endpoint, HostSurface, Method, Route, match_template};
use crate::plugin::{Bound, LoadedPlugin, PluginInfo};
use crate::{RuntimeError, SandboxConfig};

/// The plugin runtime. Clones share one engine and one registry.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: ComponentCache,
    plugins: Arc<RwLock<HashMap<String, Arc<LoadedPlugin>>>>,
    /// Every version uploaded under each name, and the order they were
    /// activated in (`crate::versions`).
    pub(crate) versions: RwLock<HashMap<String, crate::versions::Versions>>,
    /// What the host serves itself (set by the gateway before plugins load).
    host_surface: RwLock<HostSurface>,
    /// Routes and endpoints of plugins since unloaded, by the plugin that
    /// declared them, so a caller can be told which engine to load.
    former: RwLock<Former>,
    /// Bumped on every load and unload, so surfaces built from the
    /// registry (GraphQL schema) know when to rebuild.
    generation: std::sync::atomic::AtomicU64,
    bus: Bus,
    sandbox: SandboxConfig,
    storage: crate::storage_host::StorageSlot,
}

fn engine_config(sandbox: &SandboxConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let slots = sandbox.max_instances.max(1);
    // A Rust component is one main core module plus a few small shims.
    pool.total_component_instances(slots)
        .total_core_instances(slots * 8)
        .total_memories(slots * 2)
        .total_tables(slots * 8)
        .max_core_instances_per_component(16)
        .max_memories_per_component(2)
        .max_tables_per_component(16)
        .max_memory_size(sandbox.max_memory_bytes);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // `WEFT_PROFILE=perfmap` names compiled plugin code in
    // /tmp/perf-<pid>.map, so that `perf` can attribute time inside plugins.
    if std::env::var("WEFT_PROFILE").as_deref() == Ok("perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

impl Runtime {
    /// Starts the runtime: builds the engine, opens the component cache
    /// under `data_dir/cache`, and starts the epoch ticker.
    pub fn new(data_dir: &Path, sandbox: SandboxConfig, bus: Bus) -> anyhow::Result<Self> {
        Self::with_cache(&data_dir.join("cache").join("components"), sandbox, bus)
    }

    /// As [`Runtime::new`], with compiled components cached in `cache_dir`
    /// (several servers may share one: artifacts are keyed by content and
    /// engine settings, and written atomically).
    pub fn with_cache(cache_dir: &Path, sandbox: SandboxConfig, bus: Bus) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&sandbox))
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("failed to configure the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        crate::wasi::link(&mut linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .context("failed to link WASI")?;
        v2::plugin::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("failed to link weft:host@0.2.4")?;
        v1::plugin::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("failed to link weft:host@0.1.0")?;
        let cache = ComponentCache::new(cache_dir, &engine)?;
        spawn_epoch_ticker(&engine, sandbox.epoch_tick);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                plugins: Arc::new(RwLock::new(HashMap::new())),
                versions: RwLock::new(HashMap::new()),
                host_surface: RwLock::default(),
                former: RwLock::default(),
                generation: std::sync::atomic::AtomicU64::new(0),
                bus,
                sandbox,
                storage: crate::storage_host::StorageSlot::default(),
            }),
        })
    }

    /// Gives plugins host storage (`weft:host/storage`), scoped to each
    /// job's tenant. Set once; without it storage calls fail cleanly.
    pub fn attach_storage(&self, store: Arc<weft_storage::Store>) {
        let _ = self.inner.storage.set(store);
    }

    /// The registry, weakly, for `weft:host/functions`.
    pub(crate) fn registry(&self) -> crate::functions::Registry {
        Arc::downgrade(&self.inner.plugins)
    }

    pub(crate) fn storage_slot(&self) -> crate::storage_host::StorageSlot {
        self.inner.storage.clone()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    pub(crate) fn sandbox(&self) -> &SandboxConfig {
        &self.inner.sandbox
    }

    /// Validates `wasm` against the WIT worlds and loads it as `name`,
    /// replacing any plugin of that name. Jobs already running keep the
    /// version they started with. Compiles (or reads the cache), so call it
    /// off the async executor.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<PluginInfo, RuntimeError> {
        self.load_with(name, wasm, true)
    }

    /// As [`Runtime::load`]; with `activate` false the version is
    /// validated and kept beside the active one, which goes on serving
    /// until [`Runtime::activate`] switches.
    pub fn load_with(
        &self,
        name: &str,
        wasm: &[u8],
        activate: bool,
    ) -> Result<PluginInfo, RuntimeError> {
        let outcome = self.load_version(name, wasm, activate);
        if let Err(error) = &outcome {
            self.lifecycle(
                "validation_failed",
                name,
                None,
                json!({"reason": error.to_string()}),
            );
        }
        outcome
    }

    fn load_version(
        &self,
        name: &str,
        wasm: &[u8],
        activate: bool,
    ) -> Result<PluginInfo, RuntimeError> {
        check_name(name)?;
        let inner = &self.inner;
        let digest = ComponentCache::digest(wasm);
        let (component, cache) = inner
            .cache
            .load(&inner.engine, wasm, &digest)
            .map_err(|e| {
                let why = format!("{e:#}")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                RuntimeError::InvalidPlugin(format!("not a loadable WebAssembly component: {why}"))
            })?;
        let loaded = self.validate_and_register(
            name,
            &component,
            digest.clone(),
            wasm.len(),
            cache,
            activate,
        );
        if loaded.is_err() && cache == crate::CacheOutcome::Compiled {
            inner.cache.forget(&digest);
        }
        let info = loaded?;
        self.bump();
        tracing::info!(plugin = name, version = %info.version, cache = ?info.cache, activate, "plugin loaded");
        let detail = json!({"digest": info.digest, "world": info.world});
        self.lifecycle("uploaded", name, Some(&info.version), detail.clone());
        self.lifecycle("validated", name, Some(&info.version), detail);
        if activate {
            self.lifecycle("activated", name, Some(&info.version), json!({}));
        }
        Ok(info)
    }

    /// Binds, describes and checks a compiled component, then registers it
    /// as `name` (refusing collisions under the registry's write lock).
    fn validate_and_register(
        &self,
        name: &str,
        component: &wasmtime::component::Component,
        digest: String,
        size: usize,
        cache: crate::CacheOutcome,
        activate: bool,
    ) -> Result<PluginInfo, RuntimeError> {
        let inner = &self.inner;
        let bound = bind(&inner.linker, component)?;
        let plugin = Arc::new(LoadedPlugin::new(self, name, bound, digest, size, cache)?);
        let info = plugin.info().clone();
        if !activate {
            self.keep_version(name, plugin, false);
            return Ok(info);
        }
        self.install(name, plugin)?;
        Ok(info)
    }

    /// Makes `plugin` the one serving `name`, refusing a surface that
    /// collides with the host's or another plugin's (under the registry's
    /// write lock, so two activations cannot both pass).
    pub(crate) fn install(
        &self,
        name: &str,
        plugin: Arc<LoadedPlugin>,
    ) -> Result<(), RuntimeError> {
        let info = plugin.info().clone();
        {
            let mut plugins = self.write_plugins();
            // Checked under the write lock, so two loads cannot both pass.
            let surface = self
                .inner
                .host_surface
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mine = crate::manifest::events_subscription(name);
            for (other, loaded) in plugins.iter().filter(|(n, _)| n.as_str() != name) {
                if let Some(f) = info
                    .functions
                    .iter()
                    .find(|f| loaded.info().functions.iter().any(|g| g.name == f.name))
                {
                    return Err(RuntimeError::InvalidPlugin(format!(
                        "function '{}' is already brought by plugin '{other}'; rename it, or unload '{other}' first",
                        f.name
                    )));
                }
                let manifest = &loaded.info().manifest;
                let mut theirs = manifest.subscription_names();
                theirs.push(crate::manifest::events_subscription(other));
                if let Some(why) = info.manifest.collision(
                    &manifest.route_keys(),
                    &manifest.endpoint_paths(),
                    &theirs,
                ) {
                    return Err(RuntimeError::InvalidPlugin(format!(
                        "{why} (by plugin '{other}')"
                    )));
                }
                if manifest.subscription_names().contains(&mine) {
                    return Err(RuntimeError::InvalidPlugin(format!(
                        "plugin '{other}' declares the GraphQL subscription '{mine}', which a plugin named '{name}' gets from the host; load it under another name"
                    )));
                }
            }
            let mut host_subscriptions = surface.subscriptions.clone();
            host_subscriptions.push(mine);
            if let Some(why) =
                info.manifest
                    .collision(&surface.routes, &surface.endpoints, &host_subscriptions)
            {
                return Err(RuntimeError::InvalidPlugin(format!("{why} (by the host)")));
            }
            plugins.insert(name.to_owned(), plugin.clone());
            self.remember(name, &info);
        }
        self.keep_version(name, plugin, true);
        Ok(())
    }

    /// Loads every `*.wasm` in `dir`, each under its file stem. Returns
    /// each file's outcome; one bad file does not stop the others.
    pub fn load_dir(
        &self,
        dir: &Path,
    ) -> anyhow::Result<Vec<(PathBuf, Result<PluginInfo, RuntimeError>)>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read plugin directory {}", dir.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        paths.sort();
        Ok(paths
            .into_iter()
            .map(|path| {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let outcome = std::fs::read(&path)
                    .map_err(|e| {
                        RuntimeError::Internal(anyhow::anyhow!(
                            "cannot read {}: {e}",
                            path.display()
                        ))
                    })
                    .and_then(|bytes| self.load(&name, &bytes));
                (path, outcome)
            })
            .collect())
    }

    /// Unloads `name`. Running jobs finish on it.
    pub fn unload(&self, name: &str) -> Result<PluginInfo, RuntimeError> {
        let info = self
            .write_plugins()
            .remove(name)
            .map(|p| p.info().clone())
            .ok_or_else(|| not_loaded(name))?;
        self.forget_versions(name);
        self.bump();
        self.lifecycle("unloaded", name, Some(&info.version), json!({}));
        Ok(info)
    }

    /// Declares what the host serves itself; plugins declaring any of it
    /// are refused. Call before loading plugins.
    pub fn reserve_host_surface(&self, surface: HostSurface) {
        *self
            .inner
            .host_surface
            .write()
            .unwrap_or_else(|p| p.into_inner()) = surface;
    }

    /// Changes with every load and unload.
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn inner_versions(&self) -> &RwLock<HashMap<String, crate::versions::Versions>> {
        &self.inner.versions
    }

    pub(crate) fn bump(&self) {
        self.inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn remember(&self, name: &str, info: &PluginInfo) {
        let mut former = self.inner.former.write().unwrap_or_else(|p| p.into_inner());
        for route in &info.manifest.routes {
            former
                .routes
                .retain(|(_, r)| !(r.method == route.method && r.path == route.path));
            former.routes.push((name.to_owned(), route.clone()));
        }
        for endpoint in &info.manifest.endpoints {
            former
                .endpoints
                .insert(endpoint.path.clone(), (name.to_owned(), endpoint.clone()));
        }
        if let Some(session) = &info.manifest.session {
            former.sessions.retain(|(_, path)| *path != session.path);
            former
                .sessions
                .push((name.to_owned(), session.path.clone()));
        }
    }

    /// The session a WebSocket `path` opens: the declared session path of
    /// a loaded plugin, or the host's `/api/v1/ws/sessions/<plugin>/<id>`;
    /// for a path whose plugin is gone, which plugin it was. `None` when
    /// no plugin ever declared it.
    pub fn find_session(&self, path: &str) -> Option<SessionTarget> {
        let session_id = |template: &str| {
            match_template(template, path).and_then(|params| params.into_iter().next())
        };
        let plugins = self.read_plugins();
        for plugin in plugins.values() {
            if let Some(session) = &plugin.info().manifest.session
                && let Some((_, id)) = session_id(&session.path)
            {
                return Some(SessionTarget::Loaded(plugin.clone(), id));
            }
        }
        let generic = format!(
            "{}/{{plugin}}/{{session_id}}",
            crate::sessions::GENERIC_PATH
        );
        if let Some(params) = match_template(&generic, path) {
            let (plugin, id) = (&params[0].1, &params[1].1);
            return Some(match plugins.get(plugin) {
                Some(loaded) if loaded.supports_sessions() => {
                    SessionTarget::Loaded(loaded.clone(), id.clone())
                }
                _ => SessionTarget::NotLoaded(plugin.clone()),
            });
        }
        let former = self.inner.former.read().unwrap_or_else(|p| p.into_inner());
        former
            .sessions
            .iter()
            .find(|(_, template)| session_id(template).is_some())
            // Loaded now under a manifest that no longer declares it: the
            // path is simply not served.
            .filter(|(name, _)| !plugins.contains_key(name))
            .map(|(name, _)| SessionTarget::NotLoaded(name.clone()))
    }

    /// The loaded plugin whose route matches `method path`, the route, and
    /// the path's parameters.
    pub fn find_route(&self, method: Method, path: &str) -> Option<RouteMatch> {
        let plugins = self.read_plugins();
        plugins.values().find_map(|plugin| {
            plugin.info().manifest.routes.iter().find_map(|route| {
                (route.method == method)
                    .then(|| match_template(&route.path, path))
                    .flatten()
                    .map(|params| RouteMatch {
                        plugin: plugin.clone(),
                        route: route.clone(),
                        params,
                    })
            })
        })
    }

    /// The plugin (by name) that declared a route matching `path` (any
    /// method) or endpoint `path`, loaded now or not, and whether it is
    /// loaded.
    pub fn declared_by(&self, path: &str) -> Option<(String, bool)> {
        let former = self.inner.former.read().unwrap_or_else(|p| p.into_inner());
        let name = former
            .endpoints
            .get(path)
            .map(|(name, _)| name.clone())
            .or_else(|| {
                former
                    .routes
                    .iter()
                    .find(|(_, r)| match_template(&r.path, path).is_some())
                    .map(|(name, _)| name.clone())
            })?;
        let loaded = self.read_plugins().contains_key(&name);
        Some((name, loaded))
    }

    /// The WebSocket endpoint at `path`: the plugin that declares it (or
    /// last declared it) and whether it is loaded now.
    pub fn find_endpoint(&self, path: &str) -> Option<(String, Endpoint, bool)> {
        if let Some(found) = self.read_plugins().values().find_map(|p| {
            p.info()
                .manifest
                .endpoints
                .iter()
                .find(|e| e.path == path)
                .map(|e| (p.info().name.clone(), e.clone(), true))
        }) {
            return Some(found);
        }
        let former = self.inner.former.read().unwrap_or_else(|p| p.into_inner());
        former
            .endpoints
            .get(path)
            .map(|(name, endpoint)| (name.clone(), endpoint.clone(), false))
    }

    /// The plugin loaded as `name`.
    pub fn plugin(&self, name: &str) -> Result<Arc<LoadedPlugin>, RuntimeError> {
        self.read_plugins()
            .get(name)
            .cloned()
            .ok_or_else(|| not_loaded(name))
    }

    /// Every loaded plugin, by name.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        let mut list: Vec<PluginInfo> = self
            .read_plugins()
            .values()
            .map(|p| p.info().clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    fn read_plugins(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<LoadedPlugin>>> {
        self.inner.plugins.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_plugins(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<LoadedPlugin>>> {
        self.inner
            .plugins
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// A request that matched a plugin's route.
pub struct RouteMatch {
    /// The plugin serving it.
    pub plugin: Arc<LoadedPlugin>,
    /// The route.
    pub route: Route,
    /// Path parameters by name.
    pub params: Vec<(String, String)>,
}

#[derive(Default)]
struct Former {
    routes: Vec<(String, Route)>,
    endpoints: HashMap<String, (String, Endpoint)>,
    /// `(plugin, session path template)`.
    sessions: Vec<(String, String)>,
}

/// What a session path names.
#[derive(Clone, Debug)]
pub enum SessionTarget {
    /// A loaded streaming plugin and the session id.
    Loaded(Arc<LoadedPlugin>, String),
    /// A plugin that declared the path once and is not loaded now.
    NotLoaded(String),
}

/// Binds a component to the newest WIT version's world it fits.
fn bind(
    linker: &Linker<HostState>,
    component: &wasmtime::component::Component,
) -> Result<Bound, RuntimeError> {
    check_weft_imports(linker.engine(), component)?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        RuntimeError::InvalidPlugin(format!(
            "its imports are not all ones the host provides (weft:host@0.2.x or @0.1.0; WASI cli, io, clocks and random, and filesystem and sockets with nothing granted): {e:#}"
        ))
    })?;
    // Exporting `weft:engine/stream` as well makes it a streaming plugin.
    let v2 = v2::plugin::PluginPre::new(pre.clone());
    if let Ok(plugin) = v2 {
        let stream = v2::stream::StreamExportsPre::new(pre).ok();
        return Ok(Bound::V2 {
            pre: plugin,
            stream,
        });
    }
    if let Ok(udf) = crate::bindings::udf::ScalarPluginPre::new(pre.clone()) {
        return Ok(Bound::Udf { pre: udf });
    }
    let v1 = v1::plugin::PluginPre::new(pre.clone());
    match (v1, v2) {
        (Ok(plugin), _) => {
            let stream = v1::stream::StreamExportsPre::new(pre).ok();
            Ok(Bound::V1 {
                pre: plugin,
                stream,
            })
        }
        (Err(_), Err(e)) => Err(RuntimeError::InvalidPlugin(format!(
            "it does not export weft:engine/engine@0.2.0 (or @0.1.0) as the weft:engine/plugin world requires, nor weft:udf/scalar@0.1.0 as a UDF plugin does: {e:#}"
        ))),
        (Err(e), Ok(_)) => Err(RuntimeError::InvalidPlugin(format!("{e:#}"))),
    }
}

/// The `weft:host` interfaces each bound version gives.
const HOST_INTERFACES: &[&str] = &["events", "log", "storage", "tasks", "functions"];

/// Refuses a `weft:` import this host cannot satisfy, saying which one and
/// what the host binds instead (wasmtime's own message only says a
/// function is missing).
fn check_weft_imports(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Result<(), RuntimeError> {
    let current = crate::wit::packages()
        .first()
        .map_or("0.2.0", |p| p.version);
    let patch = |v: &str| v.strip_prefix("0.2.").and_then(|p| p.parse::<u32>().ok());
    let rebuild = "rebuild it against the WIT this server serves (GET /api/v1/wit, or `weft wit`)";
    for (name, _) in component.component_type().imports(engine) {
        let Some(rest) = name.strip_prefix("weft:") else {
            continue;
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let refuse = |why: String| Err(RuntimeError::InvalidPlugin(why));
        match (patch(version), version) {
            (Some(p), _) if patch(current).is_some_and(|c| p > c) => {
                return refuse(format!(
                    "it imports weft:{interface}@{version}, newer than this host's weft:host@{current}: upgrade the server, or {rebuild}"
                ));
            }
            (Some(_), _) | (None, "0.1.0") => {}
            _ => {
                return refuse(format!(
                    "it imports weft:{interface}@{version}, a version this host does not bind: it binds weft:host@{current} (accepting 0.2.0 up to it) and 0.1.0; {rebuild}"
                ));
            }
        }
        if let Some(host) = interface.strip_prefix("host/")
            && !HOST_INTERFACES.contains(&host)
        {
            return refuse(format!(
                "it imports weft:{interface}@{version}, an interface weft:host does not have (it has {}); {rebuild}",
                HOST_INTERFACES.join(", ")
            ));
        }
    }
    Ok(())
}

fn not_loaded(name: &str) -> RuntimeError {
    RuntimeError::NotFound(format!(
        "engine '{name}' is not loaded; GET /api/v1/plugins lists the loaded ones"
    ))
}

/// Topic roots the host publishes under: a plugin of one of these names
/// could forge the host's events (its topics are `<name>.…`).
const HOST_TOPIC_ROOTS: &[&str] = &["jobs", "plugins", "storage", "system"];

fn check_name(name: &str) -> Result<(), RuntimeError> {
    if HOST_TOPIC_ROOTS.contains(&name) {
        return Err(RuntimeError::InvalidPlugin(format!(
            "'{name}' is one of the host's topic roots ({}); load the plugin under another name",
            HOST_TOPIC_ROOTS.join(", ")
        )));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidName(name.chars().take(80).collect()))
    }
}

/// Advances the engine's epoch every `tick` until the engine is dropped;
/// each store's deadline callback then checks cancellation and time.
fn spawn_epoch_ticker(engine: &Engine, tick: std::time::Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("weft-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the epoch ticker; deadlines will not be enforced");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_must_be_topic_segments() {
        assert!(check_name("graph").is_ok());
        assert!(check_name("my-engine_2").is_ok());
        for bad in ["", "Graph", "a.b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
