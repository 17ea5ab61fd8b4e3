//! The job record clients see.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Lifecycle of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// In a plugin instance.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped by a client.
    Cancelled,
}

impl JobState {
    /// Succeeded, failed or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The state's name as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Last progress a job reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Units done.
    pub done: u64,
    /// Units in all (0: unknown).
    pub total: u64,
    /// Human-readable status.
    pub message: String,
}

/// Why a job failed, with a machine-readable code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// `invalid_params`, `plugin_trapped`, `memory_limit`, `timeout`,
    /// `cancelled`, `plugin_error`, `invalid_output`, `server_restarted`,
    /// `unavailable`.
    pub code: String,
    /// What happened and what to do about it.
    pub message: String,
    /// JSON pointer of the param at fault, when the engine named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// True when the same job may succeed if submitted again later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

impl JobError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            pointer: None,
            retryable: false,
        }
    }
}

/// A job as stored and served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id (UUID v7, time-ordered).
    pub job_id: String,
    /// Engine (plugin name) that runs it.
    pub engine: String,
    /// Operation.
    pub op: String,
    /// Plugin version the job runs on.
    pub engine_version: String,
    /// Owning tenant.
    pub tenant: String,
    /// Topic its events go to.
    pub topic: String,
    /// Lifecycle state.
    pub state: JobState,
    /// Last progress.
    pub progress: JobProgress,
    /// Result, once succeeded.
    pub result: Option<serde_json::Value>,
    /// Error, once failed or cancelled.
    pub error: Option<JobError>,
    /// Submission time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Start of execution.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// End of execution.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl Job {
    /// The record without its result (which may be megabytes), for lists.
    pub fn without_result(&self) -> Self {
        Self {
            job_id: self.job_id.clone(),
            engine: self.engine.clone(),
            op: self.op.clone(),
            engine_version: self.engine_version.clone(),
            tenant: self.tenant.clone(),
            topic: self.topic.clone(),
            state: self.state,
            progress: self.progress.clone(),
            result: None,
            error: self.error.clone(),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }
}
