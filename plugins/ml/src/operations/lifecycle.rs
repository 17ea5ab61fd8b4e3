//! The registry's operations: list and read models, deploy, deprecate and
//! delete versions, each change a `lifecycle_event`.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use super::{VersionNumber, lifecycle_event};
use crate::MlError;
use crate::registry::{self, Record, State};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelParams {
    name: String,
    #[serde(default)]
    version: Option<VersionNumber>,
}

fn describe(record: &Record) -> Value {
    json!({
        "name": record.name,
        "deployed": record.deployed,
        "versions": record.versions,
    })
}

pub(crate) fn list(host: &dyn Host) -> Result<Value, MlError> {
    let records = registry::list(host)?;
    Ok(json!({"models": records.iter().map(describe).collect::<Vec<_>>()}))
}

pub(crate) fn get(params: ModelParams, host: &dyn Host) -> Result<Value, MlError> {
    let record = registry::load(host, &params.name)?;
    match params.version {
        Some(v) => Ok(json!(record.version(v.0)?)),
        None => Ok(describe(&record)),
    }
}

fn needs_version(params: &ModelParams, what: &str) -> Result<u32, MlError> {
    params
        .version
        .map(|v| v.0)
        .ok_or_else(|| MlError::Invalid(format!("{what} needs a version: name it in version")))
}

pub(crate) fn deploy(params: ModelParams, host: &dyn Host) -> Result<Value, MlError> {
    let version = needs_version(&params, "deploy")?;
    let mut undeployed = None;
    let record = registry::update(host, &params.name, |old| {
        let mut record =
            old.ok_or_else(|| MlError::NotFound(format!("no model '{}'", params.name)))?;
        let state = record.version(version)?.state;
        if matches!(state, State::Training | State::Failed) {
            return Err(MlError::Invalid(format!(
                "model '{}' version {version} is {state:?}: only a trained version can be deployed",
                params.name
            )));
        }
        undeployed = record.deployed.filter(|&v| v != version);
        if let Some(previous) = undeployed {
            record.version_mut(previous)?.state = State::Registered;
        }
        record.version_mut(version)?.state = State::Deployed;
        record.deployed = Some(version);
        Ok(Some(record))
    })?;
    if let Some(previous) = undeployed {
        lifecycle_event(
            host,
            "undeployed",
            &params.name,
            previous,
            "registered",
            None,
        );
    }
    lifecycle_event(host, "deployed", &params.name, version, "deployed", None);
    Ok(record.map(|r| describe(&r)).unwrap_or(Value::Null))
}

pub(crate) fn deprecate(params: ModelParams, host: &dyn Host) -> Result<Value, MlError> {
    let version = needs_version(&params, "deprecate")?;
    let record = registry::update(host, &params.name, |old| {
        let mut record =
            old.ok_or_else(|| MlError::NotFound(format!("no model '{}'", params.name)))?;
        record.version_mut(version)?.state = State::Deprecated;
        if record.deployed == Some(version) {
            record.deployed = None;
        }
        Ok(Some(record))
    })?;
    lifecycle_event(
        host,
        "deprecated",
        &params.name,
        version,
        "deprecated",
        None,
    );
    Ok(record.map(|r| describe(&r)).unwrap_or(Value::Null))
}

pub(crate) fn delete(params: ModelParams, host: &dyn Host) -> Result<Value, MlError> {
    let only = params.version.map(|v| v.0);
    let mut removed = Vec::new();
    registry::update(host, &params.name, |old| {
        let mut record =
            old.ok_or_else(|| MlError::NotFound(format!("no model '{}'", params.name)))?;
        if let Some(v) = only {
            record.version(v)?;
            removed = vec![v];
            record.versions.retain(|x| x.version != v);
            if record.deployed == Some(v) {
                record.deployed = None;
            }
            // The record stays (with next_version) so numbers are not reused.
            Ok(Some(record))
        } else {
            removed = record.versions.iter().map(|v| v.version).collect();
            Ok(None)
        }
    })?;
    for &v in &removed {
        match host.drop_blob(&registry::blob_name(&params.name, v)) {
            Ok(()) | Err(weft_sdk::StorageFailure::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        lifecycle_event(host, "deleted", &params.name, v, "deleted", None);
    }
    Ok(json!({"name": params.name, "deleted_versions": removed}))
}
