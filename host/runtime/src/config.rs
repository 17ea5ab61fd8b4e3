//! Sandbox limits.

use std::time::Duration;

/// Limits every plugin call runs under.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Linear memory one instance may grow to.
    pub max_memory_bytes: usize,
    /// Wall-clock deadline of one job, enforced by epoch interruption.
    pub job_timeout: Duration,
    /// Epoch tick: the granularity of deadlines and cancellation.
    pub epoch_tick: Duration,
    /// Instances that may be alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Deadline for `describe()` when a plugin is loaded.
    pub describe_timeout: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            max_memory_bytes: 512 << 20,
            job_timeout: Duration::from_secs(300),
            epoch_tick: Duration::from_millis(10),
            max_instances: 64,
            describe_timeout: Duration::from_secs(5),
        }
    }
}
