//! The host side of `weft:host/tasks@0.2.3`: a job hands work to fresh
//! sandboxed instances of its own plugin (federated training runs each
//! client's round in one) and gets their results back.
//!
//! A child is a new instance of the same loaded version, for the same
//! tenant and job: its own memory cap and event quota, the parent's
//! deadline, the parent's cancel flag. Children cannot start children, so
//! one job holds at most `1 + MAX_PARALLEL` pool slots at a time. What a
//! child computes is returned as JSON; nothing here knows what it means.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::bindings::v2::plugin::weft::host::tasks;
use crate::host::HostState;
use crate::job::JobError;
use crate::plugin::{Invocation, LoadedPlugin};

/// Children one call may ask for.
const MAX_CHILDREN: usize = 64;
/// Children of one call alive at once.
const MAX_PARALLEL: usize = 4;

impl tasks::Host for HostState {
    fn run_children(
        &mut self,
        operation: String,
        params: Vec<String>,
    ) -> Result<Vec<Result<String, tasks::ChildFailure>>, tasks::TaskError> {
        let refused = |why: String| Err(tasks::TaskError::Refused(why));
        let Some(plugin) = self.children.clone() else {
            return refused(
                "only a job's own instance may start children (not a child, nor a session)".into(),
            );
        };
        if params.len() > MAX_CHILDREN {
            return refused(format!(
                "at most {MAX_CHILDREN} children per call, not {}: group the work",
                params.len()
            ));
        }
        if plugin.operation(&operation).is_none() {
            return refused(format!(
                "the plugin declares no operation '{operation}' for children to run"
            ));
        }
        let invocation = Invocation {
            tenant: self.scope.tenant.clone(),
            job_id: self.scope.job.clone(),
            cancel: self.scope.cancel.clone(),
            on_progress: None,
        };
        let runs = run_all(&plugin, &invocation, &operation, &params, self.deadline);
        Ok(runs
            .into_iter()
            .map(|run| {
                run.map(|value| value.to_string())
                    .map_err(|e| tasks::ChildFailure {
                        code: e.code,
                        message: e.message,
                    })
            })
            .collect())
    }
}

/// Runs every child, a few at a time, answering in the order of `params`.
fn run_all(
    plugin: &Arc<LoadedPlugin>,
    invocation: &Invocation,
    operation: &str,
    params: &[String],
    deadline: Instant,
) -> Vec<Result<serde_json::Value, JobError>> {
    let next = AtomicUsize::new(0);
    let parallel = params.len().clamp(1, MAX_PARALLEL);
    let mut results: Vec<Option<Result<serde_json::Value, JobError>>> =
        (0..params.len()).map(|_| None).collect();
    let done = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(text) = params.get(i) else { break };
                    let outcome = run_one(plugin, invocation.clone(), operation, text, deadline);
                    done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(JobError::new("plugin_error", "the child did not run"))))
        .collect()
}

fn run_one(
    plugin: &LoadedPlugin,
    invocation: Invocation,
    operation: &str,
    text: &str,
    deadline: Instant,
) -> Result<serde_json::Value, JobError> {
    if invocation.cancel.load(Ordering::Relaxed) {
        return Err(JobError::new("cancelled", "the job was cancelled"));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(JobError::new(
            "timeout",
            "the job's deadline passed before the child started",
        ));
    }
    let params: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        JobError::new(
            "invalid_params",
            format!("a child's params are not JSON: {e}"),
        )
    })?;
    plugin
        .check_request(operation, &params)
        .map_err(|e| JobError::new("invalid_params", e.to_string()))?;
    plugin.run_child(invocation, operation, text, left)
}
