//! The request messages an engine's endpoint takes, as its manifest
//! declares them (`graph_algorithm_request` on the graph endpoints, …).
//! Each runs an operation of the endpoint's engine as a job —
//! `{"operation", "params"}` (or `"algorithm"`; without either, the
//! declared default operation) — or, with `job_id`, attaches to one of that engine's
//! jobs: the socket answers `accepted`, the job's events arrive through
//! the endpoint's pre-subscription, and a `result` closes it — the same
//! `accepted` and `result` messages as `/api/v1/ws/query`. An endpoint
//! whose engine is not loaded answers `engine_not_loaded`.
//!
//! Jobs run in the runtime; this module submits, waits and reports.

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_runtime::SubmitRequest;

use super::endpoints::Preset;
use crate::{ApiError, AppState};

/// Every request message of an engine endpoint: `operation` (e.g.
/// `pagerank`; or `algorithm`) with its `params`, or `job_id` of a job to
/// attach to.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineRequest {
    /// The message type (the endpoint's manifest says which it takes).
    #[serde(rename = "type")]
    _kind: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default, alias = "algorithm")]
    operation: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    job_id: Option<String>,
}

use crate::transport::error_text as error;

/// Starts (or attaches to) the job of a `kind` request (its `type`);
/// returns the direct reply and, when there is a job, the task that will
/// send its `result`.
pub(super) fn engine_request(
    state: &AppState,
    caller: &crate::Principal,
    preset: Option<&Preset>,
    kind: &str,
    text: &str,
    out: &mpsc::Sender<String>,
) -> (String, Option<JoinHandle<()>>) {
    let Some((preset, engine, default_op)) =
        preset.and_then(|p| Some((p, p.engine.as_deref()?, p.request(kind)?)))
    else {
        let message = format!("{kind} is not a request this endpoint takes");
        return (error("bad_request", &message, None), None);
    };
    let request = match serde_json::from_str::<EngineRequest>(text) {
        Ok(request) => request,
        Err(e) => {
            let message = format!(
                "cannot read {kind} ({e}); send {{\"type\":\"{kind}\",\"request_id\":…,\"operation\":…,\"params\":{{…}}}} or {{…,\"job_id\":…}}"
            );
            return (error("bad_request", &message, None), None);
        }
    };
    let request_id = request.request_id.as_deref();
    if state.runtime.plugin(engine).is_err() {
        let message = format!(
            "engine '{engine}' is not loaded, so {} cannot run {kind}; load it with POST /api/v1/plugins?name={engine}",
            preset.path
        );
        return (error("engine_not_loaded", &message, request_id), None);
    }
    let operation = match (&request.operation, &request.job_id) {
        (None, None) => Some(default_op.to_owned()),
        (op, _) => op.clone(),
    };
    let job = match (operation, request.job_id.clone()) {
        (Some(op), None) => state.jobs.submit(SubmitRequest {
            engine: engine.into(),
            op,
            params: request.params.unwrap_or_else(|| json!({})),
            tenant: caller.tenant.clone(),
            version: None,
        }),
        (None, Some(job_id)) if request.params.is_none() => caller.job(&state.jobs, &job_id),
        _ => {
            let message = "give \"operation\" (with \"params\") to run one, or \"job_id\" to attach to a running job";
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
    if job.engine != engine {
        let message = format!(
            "job {} is a '{}' job, not a '{engine}' one",
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
    // Progress reaches the client through the endpoint's subscription;
    // the result comes through the one relay.
    let (state, out, request_id) = (state.clone(), out.clone(), request.request_id);
    let result = tokio::spawn(async move {
        super::query::send_result(&state, &job.job_id, request_id.as_deref(), &out).await;
    });
    (accepted.to_string(), Some(result))
}
