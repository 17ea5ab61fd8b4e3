//! The event envelope.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ResumeToken;

/// Who published an event: the plugin, its version, and the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Plugin name as loaded (e.g. `graph`), or `host` for the host itself.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// Job id, when the event belongs to a job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// What a publisher hands to [`crate::Bus::publish`]; the bus adds the
/// sequence number, token and timestamp.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Concrete topic name, e.g. `jobs.0192…` or `graph.algorithms`.
    pub topic: String,
    /// Tenant that owns the event; only that tenant's subscribers see it.
    pub tenant: String,
    /// Publisher.
    pub source: Option<Source>,
    /// Event kind, e.g. `progress`, `job_state`, `training_progress`.
    pub kind: String,
    /// Payload.
    pub data: serde_json::Value,
}

/// One event as the bus stamped it.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Topic it was published on.
    pub topic: String,
    /// Position within the topic; strictly increasing.
    pub seq: u64,
    /// Resume token naming this event's position.
    #[serde(serialize_with = "serialize_token")]
    pub token: ResumeToken,
    /// Publication time.
    #[serde(with = "time::serde::rfc3339")]
    pub ts: OffsetDateTime,
    /// Owning tenant.
    pub tenant: String,
    /// Publisher.
    pub source: Option<Source>,
    /// Event kind.
    pub kind: String,
    /// Payload, shared by the copies of one event published on several
    /// topics (a job's and its family's).
    pub data: std::sync::Arc<serde_json::Value>,
    /// The envelope as JSON, made once on first use: an event fanned out
    /// to 10,000 sockets is serialized once, not 10,000 times.
    #[serde(skip)]
    pub(crate) encoded: std::sync::OnceLock<String>,
    /// Bytes it holds while retained, charged to the retention budgets.
    #[serde(skip)]
    pub(crate) size: usize,
}

impl Event {
    /// The envelope as JSON text (an object), serialized once.
    pub fn json(&self) -> &str {
        self.encoded
            .get_or_init(|| serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned()))
    }
}

fn serialize_token<S: serde::Serializer>(token: &ResumeToken, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(token)
}
