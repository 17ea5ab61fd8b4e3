//! Plugin versions side by side: every version uploaded under a name is
//! kept (validated, described, compiled), one of them is active — the one
//! routes, endpoints, sessions and unpinned jobs reach — and switching is
//! one swap under the registry's write lock. Jobs and sessions hold the
//! `Arc` of the version they started on, so they finish on it whatever is
//! activated meanwhile. Each change is an event on `plugins.lifecycle`.

use std::sync::Arc;

use serde_json::{Value, json};
use weft_bus::{NewEvent, Source};

use crate::plugin::{LoadedPlugin, PluginInfo};
use crate::{Runtime, RuntimeError};

/// The topic of lifecycle events.
pub const LIFECYCLE_TOPIC: &str = "plugins.lifecycle";
/// The tenant lifecycle events are published under: plugins belong to the
/// server, and operators (who manage them) see every tenant's events.
const SYSTEM_TENANT: &str = "system";
/// Versions kept per name; the oldest inactive ones go first.
const MAX_VERSIONS: usize = 16;

/// The versions of one plugin name.
#[derive(Default)]
pub(crate) struct Versions {
    /// In upload order; one entry per version string.
    all: Vec<Arc<LoadedPlugin>>,
    /// Versions in the order they were activated; the last is active.
    history: Vec<String>,
}

/// One version as `GET /api/v1/plugins/{name}/versions` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VersionInfo {
    /// The plugin as that version describes itself.
    #[serde(flatten)]
    pub info: PluginInfo,
    /// Whether it is the one serving.
    pub active: bool,
}

impl Runtime {
    /// Records `plugin` among its name's versions (replacing an earlier
    /// upload of the same version), active or not.
    pub(crate) fn keep_version(&self, name: &str, plugin: Arc<LoadedPlugin>, active: bool) {
        let version = plugin.info().version.clone();
        let mut all = self.write_versions();
        let entry = all.entry(name.to_owned()).or_default();
        // A re-activation, or the same version uploaded again: it keeps
        // its place, so the list stays in upload order.
        match entry.all.iter().position(|p| p.info().version == version) {
            Some(at) => entry.all[at] = plugin,
            None => entry.all.push(plugin),
        }
        if active {
            entry.history.retain(|v| *v != version);
            entry.history.push(version);
        }
        while entry.all.len() > MAX_VERSIONS {
            let current = entry.history.last().cloned();
            let Some(oldest) = entry
                .all
                .iter()
                .position(|p| Some(&p.info().version) != current.as_ref())
            else {
                break;
            };
            let gone = entry.all.remove(oldest).info().version.clone();
            entry.history.retain(|v| *v != gone);
        }
    }

    pub(crate) fn forget_versions(&self, name: &str) {
        self.write_versions().remove(name);
    }

    fn write_versions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, std::collections::HashMap<String, Versions>> {
        self.inner_versions()
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn read_versions(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, std::collections::HashMap<String, Versions>> {
        self.inner_versions()
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Every version kept under `name`, oldest upload first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionInfo>, RuntimeError> {
        let all = self.read_versions();
        let entry = all.get(name).ok_or_else(|| {
            RuntimeError::NotFound(format!(
                "no plugin '{name}' has been uploaded; GET /api/v1/plugins lists those there are"
            ))
        })?;
        let active = self.plugin(name).ok().map(|p| p.info().version.clone());
        Ok(entry
            .all
            .iter()
            .map(|p| VersionInfo {
                info: p.info().clone(),
                active: Some(&p.info().version) == active.as_ref(),
            })
            .collect())
    }

    /// Version `version` of `name`, active or not: what a job pinned to it
    /// runs on.
    pub fn plugin_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Arc<LoadedPlugin>, RuntimeError> {
        let all = self.read_versions();
        let entry = all
            .get(name)
            .ok_or_else(|| RuntimeError::NotFound(format!("no engine '{name}' is loaded")))?;
        entry
            .all
            .iter()
            .find(|p| p.info().version == version)
            .cloned()
            .ok_or_else(|| {
                let kept: Vec<&str> = entry
                    .all
                    .iter()
                    .map(|p| p.info().version.as_str())
                    .collect();
                RuntimeError::NotFound(format!(
                    "engine '{name}' has no version '{version}'; it has {}",
                    kept.join(", ")
                ))
            })
    }

    /// Makes version `version` of `name` the one serving; running jobs
    /// and sessions finish on theirs.
    pub fn activate(&self, name: &str, version: &str) -> Result<PluginInfo, RuntimeError> {
        let plugin = self.plugin_version(name, version)?;
        let before = self.plugin(name).ok().map(|p| p.info().version.clone());
        self.install(name, plugin.clone())?;
        self.bump();
        self.lifecycle(
            "activated",
            name,
            Some(version),
            json!({"previous": before}),
        );
        Ok(plugin.info().clone())
    }

    /// Activates the version that was active before the current one.
    pub fn rollback(&self, name: &str) -> Result<PluginInfo, RuntimeError> {
        let (current, previous) = {
            let all = self.read_versions();
            let entry = all.get(name).ok_or_else(|| {
                RuntimeError::NotFound(format!("no plugin '{name}' has been uploaded"))
            })?;
            let current = entry.history.last().cloned();
            let previous = entry
                .history
                .iter()
                .rev()
                .skip(1)
                .find(|v| entry.all.iter().any(|p| &p.info().version == *v))
                .cloned();
            (current, previous)
        };
        let previous = previous.ok_or_else(|| {
            RuntimeError::Conflict(format!(
                "plugin '{name}' has no earlier active version to roll back to; activate one with POST /api/v1/plugins/{name}/versions/{{version}}/activate"
            ))
        })?;
        let plugin = self.plugin_version(name, &previous)?;
        self.install(name, plugin.clone())?;
        // The rolled-back-from version leaves the history, so a second
        // rollback goes further back rather than forth.
        if let Some(current) = &current
            && let Some(entry) = self.write_versions().get_mut(name)
        {
            entry.history.retain(|v| v != current);
            if entry.history.last() != Some(&previous) {
                entry.history.push(previous.clone());
            }
        }
        self.bump();
        self.lifecycle(
            "rolled_back",
            name,
            Some(&previous),
            json!({"from": current}),
        );
        Ok(plugin.info().clone())
    }

    /// Publishes a lifecycle event (`uploaded`, `validated`, `activated`,
    /// `rolled_back`, `unloaded`, `validation_failed`).
    pub(crate) fn lifecycle(&self, kind: &str, name: &str, version: Option<&str>, detail: Value) {
        let mut data = json!({"plugin": name, "version": version, "event": kind});
        if let (Some(d), Some(extra)) = (data.as_object_mut(), detail.as_object()) {
            d.extend(extra.clone());
        }
        let event = NewEvent {
            topic: LIFECYCLE_TOPIC.to_owned(),
            tenant: SYSTEM_TENANT.to_owned(),
            source: Some(Source {
                plugin: name.to_owned(),
                version: version.unwrap_or_default().to_owned(),
                job: None,
            }),
            kind: kind.to_owned(),
            data,
        };
        if let Err(error) = self.bus().publish(event) {
            tracing::warn!(%error, "plugin lifecycle event dropped");
        }
    }
}
