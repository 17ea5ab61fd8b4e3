//! `weft plugin test [DIR | FILE.wasm]`: the component loaded into the real
//! runtime in this process — compiled, bound to the WIT worlds, its
//! `describe()` called in the sandbox and its manifest validated, exactly
//! as a server would — then each case of the project's `samples.json`
//! (`[{"op", "params", "expect"?}]`) run as a job would be, against a
//! scratch store. `expect` must be contained in the result.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;
use weft_runtime::{Invocation, Runtime, SandboxConfig};

/// Arguments of `weft plugin test`.
#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// A project folder (its `<name>.wasm` and `samples.json`) or a component.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The cases to run (default: the project's samples.json, if any).
    #[arg(long)]
    samples: Option<PathBuf>,
    /// A compile cache to use (and fill), e.g. the one a server shares:
    /// a large component (a Python one) then compiles once.
    #[arg(long, env = "WEFT_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True when every field of `expect` is in `actual` with the same value.
fn contains(actual: &Value, expect: &Value) -> bool {
    match (actual, expect) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|got| contains(got, v))),
        _ => actual == expect,
    }
}

fn locate(path: &Path) -> anyhow::Result<(String, PathBuf, Option<PathBuf>)> {
    if path.extension().is_some_and(|e| e == "wasm") {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .context("the component's file has no name")?;
        return Ok((name, path.to_owned(), None));
    }
    let (name, _) = super::project(path)?;
    let wasm = path.join(format!("{name}.wasm"));
    anyhow::ensure!(
        wasm.exists(),
        "{} is not built: run `weft plugin build` first",
        wasm.display()
    );
    Ok((name, wasm, Some(path.join("samples.json"))))
}

pub(crate) fn run(args: &TestArgs) -> anyhow::Result<()> {
    let (name, wasm, samples) = locate(&args.path)?;
    let samples = args.samples.clone().or(samples);
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "weft-plugin-test-{}-{}",
        std::process::id(),
        weft_storage::columnar::to_hex(&rand_bytes())
    )));
    let bus = weft_bus::Bus::new(weft_bus::BusConfig::default());
    let runtime = match &args.cache_dir {
        Some(cache) => Runtime::with_cache(cache, SandboxConfig::default(), bus)?,
        None => Runtime::new(&scratch.0.join("runtime"), SandboxConfig::default(), bus)?,
    };
    let store = Arc::new(weft_storage::Store::open(
        &scratch.0.join("storage"),
        weft_storage::StoreOptions::default(),
        None,
    )?);
    runtime.attach_storage(store);
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let started = Instant::now();
    let info = runtime
        .load(&name, &bytes)
        .map_err(|e| anyhow::anyhow!("{} is refused: {e}", wasm.display()))?;
    println!(
        "loaded {name} {} ({}) in {:.0} ms: {} operations, {} routes, {} endpoints, {} event kinds",
        info.version,
        info.world,
        started.elapsed().as_secs_f64() * 1000.0,
        info.operations.len(),
        info.manifest.routes.len(),
        info.manifest.endpoints.len(),
        info.manifest.events.len()
    );
    for route in &info.manifest.routes {
        println!("  {:?} {} → {}", route.method, route.path, route.operation);
    }
    let Some(samples) = samples.filter(|p| p.exists()) else {
        println!("no samples.json: the description checked out; add cases to run operations");
        return Ok(());
    };
    let text = std::fs::read_to_string(&samples)
        .with_context(|| format!("cannot read {}", samples.display()))?;
    let cases: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON array of cases", samples.display()))?;
    let plugin = runtime.plugin(&name)?;
    let mut failed = 0;
    for case in &cases {
        let op = case["op"].as_str().context("a case without \"op\"")?;
        let params = case
            .get("params")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let started = Instant::now();
        let outcome = plugin
            .check_request(op, &params)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                plugin
                    .invoke(op, &params, Invocation::detached("test"))
                    .map_err(|e| format!("{}: {}", e.code, e.message))
            });
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match (outcome, case.get("expect")) {
            (Ok(result), Some(expect)) if !contains(&result, expect) => {
                failed += 1;
                println!("FAIL {op} ({ms:.0} ms): got {result}, expected {expect}");
            }
            (Ok(result), _) => println!("ok   {op} ({ms:.0} ms): {result}"),
            (Err(error), _) => {
                failed += 1;
                println!("FAIL {op} ({ms:.0} ms): {error}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} of {} cases failed", cases.len());
    println!("{} cases passed", cases.len());
    Ok(())
}

/// A few bytes to keep concurrent runs' scratch folders apart.
fn rand_bytes() -> [u8; 4] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expectations_are_contained_in_results() {
        let result = json!({"greeting": "hi", "times": 3, "extra": {"a": 1, "b": 2}});
        assert!(contains(&result, &json!({"times": 3, "extra": {"a": 1}})));
        assert!(!contains(&result, &json!({"times": 4})));
        assert!(!contains(&result, &json!({"missing": null})));
    }
}
