//! What an engine can ask of the host while it runs.

use std::cell::RefCell;

use serde_json::Value;

/// Log levels, as in `weft:host/log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// The host side of a running job.
pub trait Host {
    /// Publishes an event on `<plugin>.<topic>` (empty: the op's family
    /// topic) and on the job's topic.
    fn emit(&self, topic: &str, kind: &str, data: &Value);
    /// Reports progress; `detail` fields are added to the `progress` event.
    fn progress(&self, done: u64, total: u64, message: &str, detail: Option<&Value>);
    /// True once the job was cancelled.
    fn cancelled(&self) -> bool;
    /// Writes a log line to the host's log.
    fn log(&self, level: Level, message: &str);
}

/// A host that ignores everything: for benchmarks of the native build.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHost;

impl Host for NullHost {
    fn emit(&self, _: &str, _: &str, _: &Value) {}
    fn progress(&self, _: u64, _: u64, _: &str, _: Option<&Value>) {}
    fn cancelled(&self) -> bool {
        false
    }
    fn log(&self, _: Level, _: &str) {}
}

/// One call a [`RecordingHost`] saw.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// An `emit`.
    Event {
        /// Relative topic.
        topic: String,
        /// Kind.
        kind: String,
        /// Payload.
        data: Value,
    },
    /// A `progress`.
    Progress {
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
        /// Message.
        message: String,
        /// Extra fields.
        detail: Option<Value>,
    },
}

/// A host that records what the engine reported, and can pretend the job
/// was cancelled after a number of `cancelled()` checks: for unit tests.
#[derive(Debug, Default)]
pub struct RecordingHost {
    calls: RefCell<Vec<Recorded>>,
    cancel_after_checks: Option<usize>,
    checks: RefCell<usize>,
}

impl RecordingHost {
    /// A host that never cancels.
    pub fn new() -> Self {
        Self::default()
    }

    /// A host whose `cancelled()` turns true after `checks` calls.
    pub fn cancelling_after(checks: usize) -> Self {
        Self {
            cancel_after_checks: Some(checks),
            ..Self::default()
        }
    }

    /// Everything recorded so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.borrow().clone()
    }
}

impl Host for RecordingHost {
    fn emit(&self, topic: &str, kind: &str, data: &Value) {
        self.calls.borrow_mut().push(Recorded::Event {
            topic: topic.to_owned(),
            kind: kind.to_owned(),
            data: data.clone(),
        });
    }

    fn progress(&self, done: u64, total: u64, message: &str, detail: Option<&Value>) {
        self.calls.borrow_mut().push(Recorded::Progress {
            done,
            total,
            message: message.to_owned(),
            detail: detail.cloned(),
        });
    }

    fn cancelled(&self) -> bool {
        let mut checks = self.checks.borrow_mut();
        *checks += 1;
        self.cancel_after_checks
            .is_some_and(|limit| *checks > limit)
    }

    fn log(&self, _: Level, _: &str) {}
}
