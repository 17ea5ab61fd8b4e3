//! Checks server messages against the JSON Schemas in
//! `test_data/websocket/schemas/<family>/<type>.json`, so every message a
//! test receives is also a test of the published message formats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use serde_json::Value;

type Cache = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;

fn validator(family: &str, kind: &str) -> anyhow::Result<Arc<jsonschema::Validator>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    let key = (family.to_owned(), kind.to_owned());
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(found.clone());
    }
    // An engine's event schemas live with the engine, which declares them.
    let engine_schemas = crate::repo_root()
        .join("plugins")
        .join(family)
        .join("schemas");
    let path = if engine_schemas.is_dir() {
        engine_schemas.join(format!("{kind}.json"))
    } else {
        crate::test_data(&format!("websocket/schemas/{family}/{kind}.json"))
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no schema for '{family}' message type '{kind}' ({})",
            path.display()
        )
    })?;
    let schema: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let compiled = Arc::new(
        jsonschema::validator_for(&schema)
            .map_err(|e| anyhow::anyhow!("{} is not a valid schema: {e}", path.display()))?,
    );
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, compiled.clone());
    Ok(compiled)
}

/// Fails unless `message` matches the schema of its `type` in `family`
/// (`ws` for `/api/v1/ws` and the seed endpoints, `streaming` for anomaly
/// sessions).
pub fn check(family: &str, message: &Value) -> anyhow::Result<()> {
    let kind = message["type"]
        .as_str()
        .with_context(|| format!("a {family} message without a type: {message}"))?;
    let validator = validator(family, kind)?;
    let problems: Vec<String> = validator
        .iter_errors(message)
        .take(5)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    anyhow::ensure!(
        problems.is_empty(),
        "{family} '{kind}' message does not match its schema: {}\n{message}",
        problems.join("; ")
    );
    Ok(())
}

/// Fails unless `message` is an `event` whose `data` matches the schema of
/// its storage event kind (`schemas/storage/<kind>.json`).
pub fn check_storage_event(message: &Value) -> anyhow::Result<()> {
    check_event("storage", message)
}

/// Fails unless `message` is an `event` whose `data` matches the schema of
/// its kind in `family` (`schemas/<family>/<kind>.json`).
pub fn check_event(family: &str, message: &Value) -> anyhow::Result<()> {
    check("ws", message)?;
    let kind = message["kind"]
        .as_str()
        .with_context(|| format!("an event without a kind: {message}"))?;
    check_data(family, kind, &message["data"]).with_context(|| format!("in event {message}"))
}

/// Fails unless `data` matches `schemas/<family>/<kind>.json`.
pub fn check_data(family: &str, kind: &str, data: &Value) -> anyhow::Result<()> {
    let validator = validator(family, kind)?;
    let problems: Vec<String> = validator
        .iter_errors(data)
        .take(5)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    anyhow::ensure!(
        problems.is_empty(),
        "{family} '{kind}' event data does not match its schema: {}",
        problems.join("; ")
    );
    Ok(())
}
