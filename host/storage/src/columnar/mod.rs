//! Columnar datasets for analytics and ML: typed columns, per-chunk
//! encodings, chunked reads, CSV / JSON-lines loading.

pub mod dataset;
pub mod encoding;
pub mod ingest;
pub mod partition;

pub use dataset::{CHUNK_ROWS, ColumnSlice, Dataset, DatasetInfo, Field};
pub use encoding::{ColumnType, Encoding, Values};
pub use ingest::{Format, load};
pub use partition::{PartitionSpec, Scheme};
