//! GraphQL object types: typed views of the runtime's and bus's records.

use std::sync::Arc;

use async_graphql::{Context, Enum, Json, Object, SimpleObject};
use time::format_description::well_known::Rfc3339;
use weft_bus::Event;
use weft_runtime::{Job, JobState, Jobs, PluginInfo};

pub(super) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Job lifecycle states.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub(crate) enum GqlJobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<JobState> for GqlJobState {
    fn from(state: JobState) -> Self {
        match state {
            JobState::Queued => Self::Queued,
            JobState::Running => Self::Running,
            JobState::Succeeded => Self::Succeeded,
            JobState::Failed => Self::Failed,
            JobState::Cancelled => Self::Cancelled,
        }
    }
}

impl From<GqlJobState> for JobState {
    fn from(state: GqlJobState) -> Self {
        match state {
            GqlJobState::Queued => Self::Queued,
            GqlJobState::Running => Self::Running,
            GqlJobState::Succeeded => Self::Succeeded,
            GqlJobState::Failed => Self::Failed,
            GqlJobState::Cancelled => Self::Cancelled,
        }
    }
}

/// An operation a plugin offers.
#[derive(SimpleObject)]
pub(crate) struct GqlOperation {
    name: String,
    description: String,
    params_schema: Json<serde_json::Value>,
    emits: Vec<String>,
    topic: String,
}

/// A loaded plugin.
pub(crate) struct GqlPlugin(pub(crate) PluginInfo);

#[Object(name = "Plugin")]
impl GqlPlugin {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn version(&self) -> &str {
        &self.0.version
    }
    async fn world(&self) -> &str {
        &self.0.world
    }
    async fn digest(&self) -> &str {
        &self.0.digest
    }
    async fn operations(&self) -> Vec<GqlOperation> {
        self.0
            .operations
            .iter()
            .map(|op| GqlOperation {
                name: op.name.clone(),
                description: op.description.clone(),
                params_schema: Json(op.params_schema.clone()),
                emits: op.emits.clone(),
                topic: op.topic.clone(),
            })
            .collect()
    }
}

/// Why a job failed.
#[derive(SimpleObject)]
pub(crate) struct GqlJobError {
    code: String,
    message: String,
}

/// Last reported progress.
#[derive(SimpleObject)]
pub(crate) struct GqlProgress {
    done: u64,
    total: u64,
    message: String,
}

/// A job.
pub(crate) struct GqlJob(pub(crate) Job);

/// Bytes of job results one response may still carry: aliases of a large
/// result must not multiply it into the server's memory.
pub(crate) struct ResultBudget(std::sync::atomic::AtomicUsize);

/// Result bytes per GraphQL response.
const RESULT_BYTES_PER_RESPONSE: usize = 16 << 20;

impl Default for ResultBudget {
    fn default() -> Self {
        Self(std::sync::atomic::AtomicUsize::new(
            RESULT_BYTES_PER_RESPONSE,
        ))
    }
}

impl ResultBudget {
    fn charge(&self, result: &serde_json::Value) -> async_graphql::Result<()> {
        use async_graphql::ErrorExtensions;
        use std::sync::atomic::Ordering;
        let size = serde_json::to_vec(result).map(|v| v.len()).unwrap_or(0);
        let charged = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(size)
            });
        charged.map(|_| ()).map_err(|_| {
            async_graphql::Error::new(format!(
                "one response carries at most {} MiB of job results; ask for fewer (or fetch one with GET /api/v1/jobs/{{id}})",
                RESULT_BYTES_PER_RESPONSE >> 20
            ))
            .extend_with(|_, e| e.set("code", "response_too_large"))
        })
    }
}

#[Object(name = "Job")]
impl GqlJob {
    async fn job_id(&self) -> &str {
        &self.0.job_id
    }
    async fn engine(&self) -> &str {
        &self.0.engine
    }
    async fn op(&self) -> &str {
        &self.0.op
    }
    async fn engine_version(&self) -> &str {
        &self.0.engine_version
    }
    async fn topic(&self) -> &str {
        &self.0.topic
    }
    async fn state(&self) -> GqlJobState {
        self.0.state.into()
    }
    async fn progress(&self) -> GqlProgress {
        GqlProgress {
            done: self.0.progress.done,
            total: self.0.progress.total,
            message: self.0.progress.message.clone(),
        }
    }
    /// The job's result. Results are big: each costs 50 in the query's
    /// complexity, and one response carries at most 16 MiB of them.
    #[graphql(complexity = 50)]
    async fn result(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Json<serde_json::Value>>> {
        let Some(result) = &self.0.result else {
            return Ok(None);
        };
        if let Some(budget) = ctx.data_opt::<ResultBudget>() {
            budget.charge(result)?;
        }
        Ok(Some(Json(result.clone())))
    }
    async fn error(&self) -> Option<GqlJobError> {
        self.0.error.as_ref().map(|e| GqlJobError {
            code: e.code.clone(),
            message: e.message.clone(),
        })
    }
    async fn created_at(&self) -> String {
        rfc3339(self.0.created_at)
    }
    async fn started_at(&self) -> Option<String> {
        self.0.started_at.map(rfc3339)
    }
    async fn finished_at(&self) -> Option<String> {
        self.0.finished_at.map(rfc3339)
    }
}

/// Who published an event.
#[derive(SimpleObject)]
pub(crate) struct GqlSource {
    plugin: String,
    version: String,
    job: Option<String>,
}

/// One event from the bus.
pub(crate) struct GqlEvent(pub(crate) Arc<Event>);

#[Object(name = "Event")]
impl GqlEvent {
    async fn topic(&self) -> &str {
        &self.0.topic
    }
    async fn seq(&self) -> u64 {
        self.0.seq
    }
    /// Resume token of this event.
    async fn token(&self) -> String {
        self.0.token.to_string()
    }
    async fn ts(&self) -> String {
        rfc3339(self.0.ts)
    }
    async fn tenant(&self) -> &str {
        &self.0.tenant
    }
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn source(&self) -> Option<GqlSource> {
        self.0.source.as_ref().map(|s| GqlSource {
            plugin: s.plugin.clone(),
            version: s.version.clone(),
            job: s.job.clone(),
        })
    }
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.as_ref().clone())
    }
}

/// One step in a job's life, as `jobProgress` reports it.
#[derive(SimpleObject)]
pub(crate) struct JobUpdate {
    job_id: String,
    /// `job_state`, `progress`, or a kind the engine emits.
    kind: String,
    /// The job's state as of this update.
    state: GqlJobState,
    done: u64,
    total: u64,
    message: String,
    /// The event's payload (engine-specific fields).
    data: Json<serde_json::Value>,
    /// Resume token, when the update came from an event.
    token: Option<String>,
    seq: Option<u64>,
}

impl JobUpdate {
    pub(crate) fn from_event(event: &Event, jobs: &Jobs) -> Self {
        let job_id = event
            .source
            .as_ref()
            .and_then(|s| s.job.clone())
            .unwrap_or_default();
        let state = match event.kind.as_str() {
            "job_state" => serde_json::from_value::<JobState>(event.data["state"].clone()).ok(),
            _ => None,
        }
        .or_else(|| jobs.get(&job_id).ok().map(|j| j.state))
        .unwrap_or(JobState::Running);
        let number = |key: &str| {
            event
                .data
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        Self {
            kind: event.kind.clone(),
            state: state.into(),
            done: number("done"),
            total: number("total"),
            message: event
                .data
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            data: Json(event.data.as_ref().clone()),
            token: Some(event.token.to_string()),
            seq: Some(event.seq),
            job_id,
        }
    }

    pub(crate) fn from_job(job: &Job) -> Self {
        Self {
            job_id: job.job_id.clone(),
            kind: "job_state".to_owned(),
            state: job.state.into(),
            done: job.progress.done,
            total: job.progress.total,
            message: job.progress.message.clone(),
            data: Json(serde_json::json!({ "state": job.state, "error": job.error })),
            token: None,
            seq: None,
        }
    }

    pub(crate) fn is_final(&self) -> bool {
        self.kind == "job_state" && JobState::from(self.state).is_final()
    }
}
