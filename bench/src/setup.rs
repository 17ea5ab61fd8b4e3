//! What several bench sections set up the same way: a runtime with one
//! shipped plugin and a real store behind it, and a Python baseline script
//! whose JSON answer is read back.

use std::process::Command;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use weft_runtime::{LoadedPlugin, Runtime, SandboxConfig};

/// A shipped plugin loaded into a fresh runtime with a fresh store, in a
/// scratch directory kept alive by the first field.
pub(crate) struct Component {
    /// Holds the runtime's and the store's files.
    pub(crate) _scratch: tempfile::TempDir,
    /// The store the plugin's storage calls reach.
    pub(crate) store: Arc<weft_storage::Store>,
    /// The runtime the plugin runs in.
    pub(crate) _runtime: Runtime,
    /// The plugin.
    pub(crate) plugin: Arc<LoadedPlugin>,
    /// The scratch directory, for the section's own files.
    pub(crate) dir: std::path::PathBuf,
}

/// `target/plugins/<name>.wasm` in a runtime over a real store.
pub(crate) fn component(name: &str) -> anyhow::Result<Component> {
    let scratch = tempfile::tempdir()?;
    let runtime = Runtime::new(
        &scratch.path().join("runtime"),
        SandboxConfig::default(),
        weft_bus::Bus::new(weft_bus::BusConfig::default()),
    )?;
    let wasm = std::fs::read(weft_tests::repo_root().join(format!("target/plugins/{name}.wasm")))
        .context("run `make plugins` first")?;
    runtime.load(name, &wasm)?;
    let store = Arc::new(weft_storage::Store::open(
        &scratch.path().join("storage"),
        weft_storage::StoreOptions::default(),
        None,
    )?);
    runtime.attach_storage(store.clone());
    let plugin = runtime.plugin(name)?;
    let dir = scratch.path().to_owned();
    Ok(Component {
        _scratch: scratch,
        store,
        _runtime: runtime,
        plugin,
        dir,
    })
}

/// Another build of `component`'s plugin (`wasm`), in a runtime of its own
/// over the same store: the same datasets, the same plugin space.
pub(crate) fn sibling(
    component: &Component,
    name: &str,
    wasm: &std::path::Path,
) -> anyhow::Result<(Runtime, Arc<LoadedPlugin>)> {
    let runtime = Runtime::new(
        &component.dir.join(format!("runtime-{name}-sibling")),
        SandboxConfig::default(),
        weft_bus::Bus::new(weft_bus::BusConfig::default()),
    )?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    runtime.load(name, &bytes)?;
    runtime.attach_storage(component.store.clone());
    let plugin = runtime.plugin(name)?;
    Ok((runtime, plugin))
}

/// Runs `bench/python/<script>` with `args` and parses what it prints.
pub(crate) fn python_json(script: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Value> {
    let path = weft_tests::repo_root().join("bench/python").join(script);
    let output = Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .context("cannot run python3")?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}
