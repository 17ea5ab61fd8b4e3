//! The model registry in host storage: one record per model name in the
//! engine's `models` collection (its versions, their states and metadata,
//! which one is deployed), each version's fitted model in a blob. Every
//! change is a conditional write of the record, so concurrent trainings of
//! one name get distinct versions and no change is lost. Must not train
//! or predict.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_sdk::Host;

use crate::MlError;
use crate::model::Model;

/// The collection holding model records.
pub const COLLECTION: &str = "models";

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Being trained.
    Training,
    /// Trained and stored; can be deployed.
    Registered,
    /// The one `predict` uses when no version is named.
    Deployed,
    /// Kept, but not to be deployed again without saying so.
    Deprecated,
    /// Training failed (`error` says why).
    Failed,
}

/// One version of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// From 1.
    pub version: u32,
    /// `<name>:<version>`.
    pub model_id: String,
    /// State.
    pub state: State,
    /// Algorithm name.
    pub algorithm: String,
    /// Task (classification, regression, clustering).
    pub task: String,
    /// Hyperparameters as given.
    pub hyperparameters: Value,
    /// Validation (or training) metrics.
    pub metrics: Value,
    /// Dataset trained on.
    pub dataset: String,
    /// Target column.
    pub target: Option<String>,
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// Class labels.
    pub classes: Vec<Value>,
    /// Rows trained on and held out.
    pub rows: Value,
    /// When training started (RFC 3339).
    pub created_at: String,
    /// Why training failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A model and its versions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Name.
    pub name: String,
    /// Deployed version.
    pub deployed: Option<u32>,
    /// The next version number (numbers are never reused).
    pub next_version: u32,
    /// Versions, oldest first.
    pub versions: Vec<Version>,
}

impl Record {
    /// Version `v`.
    pub fn version(&self, v: u32) -> Result<&Version, MlError> {
        self.versions
            .iter()
            .find(|x| x.version == v)
            .ok_or_else(|| {
                MlError::NotFound(format!(
                    "model '{}' has no version {v}; it has: {}",
                    self.name,
                    self.versions
                        .iter()
                        .map(|x| x.version.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Version `v`, to change.
    pub fn version_mut(&mut self, v: u32) -> Result<&mut Version, MlError> {
        self.version(v)?;
        self.versions
            .iter_mut()
            .find(|x| x.version == v)
            .ok_or_else(|| MlError::NotFound(String::new()))
    }

    /// The version `predict` uses when none is named: the deployed one,
    /// else the newest registered.
    pub fn serving(&self) -> Result<u32, MlError> {
        if let Some(v) = self.deployed {
            return Ok(v);
        }
        self.versions
            .iter()
            .rev()
            .find(|v| v.state == State::Registered)
            .map(|v| v.version)
            .ok_or_else(|| {
                MlError::Invalid(format!(
                    "model '{}' has no deployed or registered version to serve: train one, or name a version",
                    self.name
                ))
            })
    }
}

/// Checks a model name: it becomes part of storage names.
pub fn check_name(name: &str) -> Result<(), MlError> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(MlError::Invalid(format!(
            "model name '{name}' is not allowed: use 1-48 characters of A-Z a-z 0-9 _ - . not starting with '.'"
        )))
    }
}

/// Splits `name` or `name:version` (a model id).
pub fn parse_ref(reference: &str) -> Result<(String, Option<u32>), MlError> {
    match reference.rsplit_once(':') {
        Some((name, v)) => {
            let v = v.parse().map_err(|_| {
                MlError::Invalid(format!(
                    "model id '{reference}' should be <name>:<version>, the version a number"
                ))
            })?;
            check_name(name)?;
            Ok((name.to_owned(), Some(v)))
        }
        None => {
            check_name(reference)?;
            Ok((reference.to_owned(), None))
        }
    }
}

/// The blob holding a version's model.
pub fn blob_name(name: &str, version: u32) -> String {
    format!("model.{name}.v{version}")
}

fn read_raw(host: &dyn Host, name: &str) -> Result<Option<Vec<u8>>, MlError> {
    match host.collection_get(COLLECTION, name.as_bytes()) {
        Ok(v) => Ok(v),
        Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn decode(bytes: &[u8]) -> Result<Record, MlError> {
    serde_json::from_slice(bytes)
        .map_err(|e| MlError::Storage(format!("model record unreadable: {e}")))
}

/// The record of `name`.
pub fn load(host: &dyn Host, name: &str) -> Result<Record, MlError> {
    check_name(name)?;
    match read_raw(host, name)? {
        Some(bytes) => decode(&bytes),
        None => Err(MlError::NotFound(format!(
            "no model '{name}': train one with the train operation (GET /api/v1/ml/models lists them)"
        ))),
    }
}

/// Applies `change` to the record of `name` (`None`: it does not exist;
/// answering `None` deletes it), retrying if another writer got there
/// first. Answers the record written.
pub fn update(
    host: &dyn Host,
    name: &str,
    mut change: impl FnMut(Option<Record>) -> Result<Option<Record>, MlError>,
) -> Result<Option<Record>, MlError> {
    check_name(name)?;
    for _ in 0..32 {
        let old = read_raw(host, name)?;
        let record = old.as_deref().map(decode).transpose()?;
        let new = change(record)?;
        let bytes = new
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| MlError::Storage(e.to_string()))?;
        let key = name.as_bytes().to_vec();
        if host.collection_write_batch_if(COLLECTION, &[(key.clone(), old)], &[(key, bytes)])? {
            return Ok(new);
        }
    }
    Err(MlError::Conflict(format!(
        "model '{name}' is being changed by many jobs at once: try again"
    )))
}

/// Every model record, by name.
pub fn list(host: &dyn Host) -> Result<Vec<Record>, MlError> {
    let mut out = Vec::new();
    let mut start = Vec::new();
    loop {
        let page = match host.collection_scan_page(COLLECTION, &start, &[], 256, 4 << 20) {
            Ok(p) => p,
            Err(weft_sdk::StorageFailure::NotFound(_)) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for (_, value) in &page.entries {
            out.push(decode(value)?);
        }
        match page.next {
            Some(next) => start = next,
            None => return Ok(out),
        }
    }
}

/// Stores a version's model.
pub fn save_model(host: &dyn Host, name: &str, version: u32, model: &Model) -> Result<(), MlError> {
    weft_sdk::write_whole_blob(host, &blob_name(name, version), &model.to_bytes()?)?;
    Ok(())
}

/// Reads a version's model.
pub fn load_model(host: &dyn Host, name: &str, version: u32) -> Result<Model, MlError> {
    let bytes = weft_sdk::read_whole_blob(host, &blob_name(name, version)).map_err(|e| match e {
        weft_sdk::StorageFailure::NotFound(_) => {
            MlError::NotFound(format!("model '{name}' version {version} has no stored model (it may have failed or be training)"))
        }
        other => other.into(),
    })?;
    Model::from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_names() {
        assert_eq!(parse_ref("iris").ok(), Some(("iris".into(), None)));
        assert_eq!(parse_ref("iris:3").ok(), Some(("iris".into(), Some(3))));
        assert!(parse_ref("iris:x").is_err());
        assert!(parse_ref("a/b").is_err());
        assert!(check_name(&"x".repeat(49)).is_err());
    }

    #[test]
    fn updates_are_conditional_and_listed() {
        let host = weft_sdk::RecordingHost::new();
        let made = update(&host, "m", |old| {
            assert!(old.is_none());
            Ok(Some(Record {
                name: "m".into(),
                next_version: 2,
                ..Record::default()
            }))
        })
        .expect("made");
        assert_eq!(made.map(|r| r.next_version), Some(2));
        assert_eq!(load(&host, "m").expect("load").next_version, 2);
        assert_eq!(list(&host).expect("list").len(), 1);
        update(&host, "m", |_| Ok(None)).expect("deleted");
        assert!(matches!(load(&host, "m"), Err(MlError::NotFound(_))));
    }
}
