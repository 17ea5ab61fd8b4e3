//! Host-owned storage. Plugins never touch files; everything durable goes
//! through this crate.
//!
//! For now it holds one structure, [`RecordLog`]: an append-only file of
//! checksummed JSON records, used for job records so results survive a
//! restart. The page store, WAL, buffer pool, LSM tree and columnar
//! datasets arrive with the storage issue. This crate must not know about
//! plugins, jobs or the network.

mod record_log;

pub use record_log::{RecordLog, StorageError};
