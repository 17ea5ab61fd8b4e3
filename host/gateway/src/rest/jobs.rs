//! `/api/v1/jobs`: submit, inspect, list, cancel.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use weft_runtime::{Job, JobState, SubmitRequest};

use super::{ApiJson, ApiQuery};
use crate::api_doc::{Api, Op};
use crate::{ApiError, AppState, Principal};

pub(super) fn routes(api: Api) -> Api {
    api.route(
        Op::post(
            "/api/v1/jobs",
            "jobs",
            "Submit a job: run an operation of a loaded engine",
        )
        .query(
            "wait",
            "true: answer once the job has finished (200) instead of at once (202)",
        )
        .query("timeout_secs", "with wait: give up waiting after this long")
        .body(
            "application/json",
            "{\"engine\", \"op\", \"params\"}; params must match the operation's schema",
        )
        .responds(202, "queued; the job record with its job_id and topic")
        .responds(200, "with wait=true: the finished job"),
        post(submit),
    )
    .route(
        Op::get("/api/v1/jobs", "jobs", "Job records, newest first")
            .query("state", "queued, running, succeeded, failed or cancelled")
            .query("engine", "only this engine's jobs")
            .query("limit", "at most this many (100; at most 1000)")
            .query(
                "before",
                "only jobs older than this job id: the x-next-before header of the previous page",
            )
            .query(
                "include",
                "result: include each job's result (left out by default)",
            ),
        get(list),
    )
    .route(
        Op::get(
            "/api/v1/jobs/{id}",
            "jobs",
            "One job: state, progress, result or error",
        ),
        get(show),
    )
    .route(
        Op::delete(
            "/api/v1/jobs/{id}",
            "jobs",
            "Cancel a job (a running one stops within one epoch tick)",
        ),
        delete(cancel),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    engine: String,
    op: String,
    #[serde(default = "empty_object")]
    params: serde_json::Value,
    /// Run on this version of the engine rather than the active one.
    #[serde(default)]
    version: Option<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

#[derive(Deserialize)]
struct SubmitQuery {
    #[serde(default)]
    wait: bool,
    /// How long `wait=true` waits before answering 202 anyway.
    timeout_secs: Option<u64>,
}

const DEFAULT_WAIT: Duration = Duration::from_secs(300);

async fn submit(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<Response, ApiError> {
    let job = state.jobs.submit(SubmitRequest {
        engine: body.engine,
        op: body.op,
        params: body.params,
        tenant: caller.tenant.clone(),
        version: body.version,
    })?;
    let location = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.job_id)).ok();
    let (status, job) = if query.wait {
        let timeout = query.timeout_secs.map_or(DEFAULT_WAIT, Duration::from_secs);
        let job = state.jobs.wait(&job.job_id, timeout).await?;
        // The same job body either way; the status says how it ended.
        let status = match (&job.state, &job.error) {
            (JobState::Succeeded, _) => StatusCode::OK,
            (_, Some(error)) if job.state.is_final() => {
                crate::error::status_of_failure(&error.code)
            }
            _ if job.state.is_final() => StatusCode::OK,
            _ => StatusCode::ACCEPTED,
        };
        (status, job)
    } else {
        (StatusCode::ACCEPTED, job)
    };
    let mut response = (status, Json(job)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<JobState>,
    engine: Option<String>,
    limit: Option<usize>,
    before: Option<String>,
    include: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100).min(1000);
    let with_results = match query.include.as_deref() {
        None | Some("") => false,
        Some("result") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "include={other} is not known; include=result adds each job's result"
            )));
        }
    };
    let jobs = state.jobs.list(
        &weft_runtime::ListFilter {
            state: query.state,
            engine: query.engine.as_deref(),
            tenant: caller.event_tenant(),
            before: query.before.as_deref(),
            with_results,
        },
        limit,
    );
    // A full page may have a next one: its cursor is the last job's id.
    let next = (limit > 0 && jobs.len() == limit)
        .then(|| {
            jobs.last()
                .and_then(|j| HeaderValue::from_str(&j.job_id).ok())
        })
        .flatten();
    let mut response = Json::<Vec<Job>>(jobs).into_response();
    if let Some(next) = next {
        response.headers_mut().insert("x-next-before", next);
    }
    Ok(response)
}

async fn show(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(caller.job(&state.jobs, &id)?))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.job(&state.jobs, &id)?;
    Ok((StatusCode::ACCEPTED, Json(state.jobs.cancel(&id)?)))
}
