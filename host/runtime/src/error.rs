//! The runtime's error type; the gateway maps each variant to a status.

/// Why the runtime refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No such engine, job or plugin.
    #[error("{0}")]
    NotFound(String),
    /// The engine has no such operation.
    #[error("engine '{engine}' has no operation '{op}'; it offers: {available}")]
    UnknownOperation {
        /// Engine name.
        engine: String,
        /// Requested op.
        op: String,
        /// Comma-separated list of the engine's ops.
        available: String,
    },
    /// Params failed the operation's JSON Schema.
    #[error("params do not match the schema of '{op}': {details}")]
    InvalidParams {
        /// Operation.
        op: String,
        /// Every violation, `; `-separated, with its JSON pointer.
        details: String,
    },
    /// The uploaded bytes are not a component implementing a Weft world.
    #[error("not a valid Weft plugin: {0}")]
    InvalidPlugin(String),
    /// A plugin name that cannot be used (it becomes a topic segment).
    #[error("invalid plugin name '{0}': use 1-64 lowercase letters, digits, '-' or '_'")]
    InvalidName(String),
    /// The request conflicts with the current state (e.g. cancelling a
    /// finished job).
    #[error("{0}")]
    Conflict(String),
    /// The caller has as much waiting as it may; it should retry later.
    #[error("{0}")]
    TooMany(String),
    /// Something on the host side failed (disk, compiler, …).
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}
