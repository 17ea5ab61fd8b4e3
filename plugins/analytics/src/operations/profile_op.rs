//! The `profile` operation: each column read on its own through the
//! catalog and profiled ([`crate::profile`]), a `profiling_update` per
//! column and `profiling_complete` at the end.

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use super::{HostCatalog, PROFILING};
use crate::AnalyticsError;
use crate::profile::{ProfileOptions, profile_column};
use crate::sql::{Catalog, Progress};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileParams {
    dataset: String,
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    bins: Option<usize>,
    #[serde(default)]
    quantiles: Option<Vec<f64>>,
    #[serde(default)]
    profile_id: Option<String>,
}

/// Cancellation checks between chunks; progress is per column.
struct Cancellable<'h>(&'h dyn Host);

impl Progress for Cancellable<'_> {
    fn scanned(&mut self, _: u64) -> bool {
        !self.0.cancelled()
    }
}

/// Profiles the columns of `params.dataset`.
pub(super) fn run(params: ProfileParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = std::time::Instant::now();
    let defaults = ProfileOptions::default();
    let options = ProfileOptions {
        top_k: params.top_k.unwrap_or(defaults.top_k).min(100),
        bins: params.bins.unwrap_or(defaults.bins).clamp(1, 1000),
        quantiles: params.quantiles.unwrap_or(defaults.quantiles),
    };
    if let Some(q) = options.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(AnalyticsError::Invalid(format!(
            "quantile {q} is outside [0, 1]; ask for 0.5 for the median"
        )));
    }
    let catalog = HostCatalog::new(host);
    let (all, rows) = catalog.columns(&params.dataset)?;
    let columns = match params.columns {
        None => all,
        Some(asked) => {
            if let Some(unknown) = asked.iter().find(|c| !all.contains(c)) {
                return Err(AnalyticsError::Invalid(format!(
                    "dataset '{}' has no column '{unknown}'; its columns are {}",
                    params.dataset,
                    all.join(", ")
                )));
            }
            asked
        }
    };
    let profile_id = params
        .profile_id
        .unwrap_or_else(|| super::generated_id("p", &params.dataset));
    let total = columns.len();
    let mut profiles = Vec::with_capacity(total);
    for (index, name) in columns.iter().enumerate() {
        let (mut read, _) = catalog.read(
            &params.dataset,
            std::slice::from_ref(name),
            &mut Cancellable(host),
        )?;
        let column = read
            .pop()
            .ok_or_else(|| AnalyticsError::Storage(format!("column '{name}' came back empty")))?;
        let profile = profile_column(name, &column, &options);
        drop(column);
        host.progress(
            index as u64 + 1,
            total as u64,
            &format!("profiled column '{name}' ({} of {total})", index + 1),
            None,
        );
        host.emit(
            PROFILING,
            "profiling_update",
            &json!({
                "profile_id": profile_id,
                "dataset": params.dataset,
                "column": name,
                "column_index": index,
                "total_columns": total,
                "progress_pct": (index + 1) as f64 * 100.0 / total as f64,
                "profile": profile,
                "timestamp": super::now(),
            }),
        );
        profiles.push(profile);
        if host.cancelled() {
            return Err(AnalyticsError::Cancelled);
        }
    }
    let elapsed = super::elapsed_ms(started);
    host.emit(
        PROFILING,
        "profiling_complete",
        &json!({
            "profile_id": profile_id,
            "dataset": params.dataset,
            "rows": rows,
            "columns": total,
            "elapsed_ms": elapsed,
            "timestamp": super::now(),
        }),
    );
    Ok(json!({
        "profile_id": profile_id,
        "dataset": params.dataset,
        "rows": rows,
        "columns": profiles,
        "elapsed_ms": elapsed,
    }))
}
