//! The request messages seed 000 names for its engine endpoints, for the
//! engines that exist. On `/api/v1/ws/graph/algorithms` and
//! `/api/v1/ws/graph/traversal` a `graph_algorithm_request` runs a graph
//! operation as a job (or, with `job_id`, attaches to one): the socket
//! answers `accepted`, the job's events arrive through the endpoint's
//! pre-subscription, and a `result` closes it — the same `accepted` and
//! `result` messages as `/api/v1/ws/query`.
//!
//! Jobs run in the runtime; this module submits, waits and reports.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_runtime::SubmitRequest;

use super::endpoints::Preset;
use crate::{ApiError, AppState};

/// How long a request waits for its job before giving up on the result.
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A `graph_algorithm_request`: `algorithm` (a graph operation, e.g.
/// `pagerank` or `bfs`) with its `params`, or `job_id` of a job to attach to.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GraphAlgorithmRequest {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    job_id: Option<String>,
}

fn error(code: &str, message: &str, request_id: Option<&str>) -> String {
    json!({"type": "error", "code": code, "message": message, "request_id": request_id}).to_string()
}

/// Starts (or attaches to) the job; returns the direct reply and, when
/// there is a job, the task that will send its `result`.
pub(super) fn graph_algorithm(
    state: &AppState,
    caller: &crate::Principal,
    preset: Option<&Preset>,
    request: GraphAlgorithmRequest,
    out: &mpsc::Sender<String>,
) -> (String, Option<JoinHandle<()>>) {
    let request_id = request.request_id.as_deref();
    if preset.and_then(|p| p.engine) != Some("graph") {
        let message = "graph_algorithm_request is answered on /api/v1/ws/graph/algorithms and /api/v1/ws/graph/traversal";
        return (error("bad_request", message, request_id), None);
    }
    let job = match (request.algorithm, request.job_id) {
        (Some(op), None) => state.jobs.submit(SubmitRequest {
            engine: "graph".into(),
            op,
            params: request.params.unwrap_or_else(|| json!({})),
            tenant: caller.tenant.clone(),
        }),
        (None, Some(job_id)) if request.params.is_none() => caller.job(&state.jobs, &job_id),
        _ => {
            let message = "give \"algorithm\" (with \"params\") to run one, or \"job_id\" to attach to a running job";
            return (error("bad_request", message, request_id), None);
        }
    };
    let job = match job {
        Ok(job) => job,
        Err(e) => {
            let e = ApiError::from(e);
            return (error(e.code(), e.message(), request_id), None);
        }
    };
    if job.engine != "graph" {
        let message = format!(
            "job {} is a '{}' job, not a graph one",
            job.job_id, job.engine
        );
        return (error("bad_request", &message, request_id), None);
    }
    let accepted = json!({
        "type": "accepted",
        "request_id": request_id,
        "job_id": job.job_id,
        "topic": job.topic,
    });
    let (state, out, request_id) = (state.clone(), out.clone(), request.request_id);
    let result = tokio::spawn(async move {
        let message = match state.jobs.wait(&job.job_id, LONGEST_WAIT).await {
            Ok(finished) => super::query::result_message(&finished, request_id.as_deref()),
            Err(e) => {
                let e = ApiError::from(e);
                error(e.code(), e.message(), request_id.as_deref())
            }
        };
        let _ = out.send(message).await;
    });
    (accepted.to_string(), Some(result))
}
