//! The event bus: named topics, a strictly increasing sequence number per
//! topic, a bounded retention ring per topic, resume tokens, and fan-out to
//! subscribers with bounded queues.
//!
//! - [`Bus`] publishes and subscribes; cheap to clone.
//! - [`Event`] is the one envelope every event travels in.
//! - [`TopicPattern`] matches topics (`jobs.*`, `storage.>`).
//! - [`ResumeToken`] names a position; resuming from it replays everything
//!   retained after it, exactly once and in order.
//!
//! The bus is in-process and in-memory. It never blocks a publisher on a
//! subscriber: a subscriber whose queue is full is detached and told where
//! to resume. It knows nothing of sockets or plugins.

mod bus;
mod event;
mod pattern;
mod token;

pub use bus::{Bus, BusConfig, BusStats, Delivery, FamilyStats, Subscription};
pub use event::{Event, NewEvent, Source};
pub use pattern::{PatternError, TopicPattern, validate_topic};
pub use token::ResumeToken;

/// Why the bus refused a request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    /// A topic name or pattern is malformed.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// A resume token could not be parsed or points past the end of the log.
    #[error("resume token '{0}' is not valid: {1}")]
    BadToken(String, &'static str),
    /// A subscription needs at least one topic pattern.
    #[error("a subscription needs at least one topic")]
    NoTopics,
    /// Every pattern is tested on every publish: their number is bounded.
    #[error(
        "a subscription takes at most {0} topic patterns; subscribe with wildcards (`*`, `>`) instead"
    )]
    TooManyTopics(usize),
}
