//! The one error type of the storage crate.

use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The file could not be opened, read, written or synced.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("cannot encode record: {0}")]
    Encode(#[from] serde_json::Error),
    /// A page's checksum does not match its contents: the bytes on disk
    /// were damaged after they were written.
    #[error("checksum mismatch in page {page} of {path}: the page is damaged on disk")]
    Checksum {
        /// The segment file.
        path: PathBuf,
        /// Page number within the file.
        page: u32,
    },
    /// A structure on disk is not what it claims to be (bad magic, bad
    /// lengths) although its checksum held, or a manifest is unreadable.
    #[error("corrupt {what} in {path}: {detail}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The caller asked for something that does not exist.
    #[error("{what} '{name}' does not exist")]
    NotFound {
        /// Kind of thing (dataset, collection, column).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The caller's input is not acceptable (too large, wrong type, bad
    /// name); the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// Something with that name already exists.
    #[error("{what} '{name}' already exists")]
    Exists {
        /// Kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },
}

impl StorageError {
    /// Builds the `Io` variant lazily, for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> StorageError {
        let path = path.to_owned();
        move |source| StorageError::Io {
            action,
            path,
            source,
        }
    }
}
