//! Columnar datasets for analytics and ML: typed columns, per-chunk
//! encodings, chunked reads, CSV / JSON-lines loading.

pub mod dataset;
pub mod encoding;
pub mod ingest;
pub mod partition;

pub use dataset::{
    CHUNK_ROWS, ChunkStats, ColumnSlice, Dataset, DatasetInfo, Field, PartitionSummary,
};
pub use encoding::{ColumnType, Encoding, Values};
pub use ingest::{Format, load};
pub use partition::{PartitionSpec, Scheme};

/// A binary value as text (CSV cells, JSON): lowercase hex, as PostGIS
/// writes WKB.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Hex text (optionally `\x`-prefixed, either case) as bytes; `None` when
/// it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("\\x").unwrap_or(text);
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(super::to_hex(&bytes), "0001abff");
        assert_eq!(super::from_hex("0001ABff").as_deref(), Some(&bytes[..]));
        assert_eq!(super::from_hex("\\x00").as_deref(), Some(&[0u8][..]));
        assert!(super::from_hex("abc").is_none());
        assert!(super::from_hex("zz").is_none());
    }
}
