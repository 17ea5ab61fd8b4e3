//! Host-owned storage. Plugins never touch files; everything durable goes
//! through this crate.
//!
//! The layers, bottom up:
//! - [`io`]: positional file I/O with accounting (`storage.io` events);
//! - [`page`]: checksummed 8 KiB pages, slotted or raw;
//! - [`segment`]: files of pages, memory-mapped once sealed; every read is
//!   verified (`storage.pages` events); idle segments move to a compressed
//!   cold tier and back (`storage.tiers` events);
//! - [`buffer_pool`]: shared page frames, LRU-2, write-back
//!   (`storage.buffer_pool` events);
//! - [`wal`]: the write-ahead log with group commit;
//! - [`lsm`]: LSM trees for key/value collections (`storage.lsm` events);
//! - [`collection`]: a collection, one tree or one per key partition;
//! - [`columnar`]: typed, encoded column datasets (`storage.columnar`);
//! - [`store`]: the [`Store`] that owns them all, per tenant.
//!
//! [`RecordLog`] is the small checksummed log used for job records.
//!
//! This crate must not know about plugins, jobs or the network; it reports
//! what it does through an [`events::EventSink`] the server provides.

pub mod blobs;
pub mod buffer_pool;
pub mod collection;
pub mod columnar;
mod error;
pub mod events;
pub mod io;
pub mod lsm;
pub mod page;
mod record_log;
pub mod segment;
mod staged;
pub mod store;
pub mod wal;

pub use error::StorageError;
pub use record_log::RecordLog;
pub use staged::StagedDataset;
pub use store::{Store, StoreOptions};
