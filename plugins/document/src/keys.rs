//! Byte encodings of values whose byte order is MongoDB's value order, so
//! that host collections (LSM trees, ordered by key bytes) can hold
//! documents by `_id` and index entries in index order, and the layout of
//! one document collection inside one host collection.
//!
//! Every encoded value is prefix-free (no encoding is a prefix of
//! another), so values concatenate into compound keys and a descending
//! key part is the bitwise complement of the ascending one. Numbers are
//! encoded by their f64 value: integers past 2^53 share a key with their
//! neighbours, which only makes index scans read a few more candidates —
//! every candidate is checked against the filter.

use serde_json::Value;

const NAN_OR_NUMBER: u8 = 0x20;
const EMPTY_ARRAY: u8 = 0x08;

/// Appends the order-preserving encoding of `value`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0x10),
        Value::Number(n) => {
            out.push(NAN_OR_NUMBER);
            let x = n.as_f64().unwrap_or(0.0);
            let bits = if x.is_nan() {
                0
            } else {
                let bits = (x + 0.0).to_bits();
                if bits >> 63 == 1 {
                    !bits
                } else {
                    bits | (1 << 63)
                }
            };
            out.extend_from_slice(&bits.to_be_bytes());
        }
        Value::String(s) => {
            out.push(0x30);
            escape(s.as_bytes(), out);
        }
        Value::Object(map) => {
            out.push(0x40);
            for (k, v) in map {
                out.push(crate::value::rank(v));
                escape(k.as_bytes(), out);
                encode(v, out);
            }
            out.push(0);
        }
        Value::Array(items) => {
            out.push(0x50);
            for item in items {
                encode(item, out);
            }
            out.push(0);
        }
        Value::Bool(b) => {
            out.push(0x80);
            out.push(u8::from(*b));
        }
    }
}

/// The encoding of `value` alone.
pub fn encoded(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

/// The key part an index stores for an empty array (below every value,
/// as MongoDB indexes `[]`).
pub fn empty_array() -> Vec<u8> {
    vec![EMPTY_ARRAY]
}

/// Bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00: order kept,
/// prefix-free.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// The first and past-the-last encodings of a type bracket, for range
/// scans (`$gt: 5` reads numbers only).
pub fn bracket(value: &Value) -> (Vec<u8>, Vec<u8>) {
    let tag = encoded(value)[0];
    (vec![tag], vec![tag + 1])
}

/// Where each kind of entry lives in a collection's host collection.
pub mod layout {
    /// A document: `d` + encoded `_id`.
    pub fn document(id_key: &[u8]) -> Vec<u8> {
        [b"d", id_key].concat()
    }

    /// The prefix of every document.
    pub const DOCUMENTS: &[u8] = b"d";

    /// The prefix of index `name`'s entries.
    pub fn index(name: &str) -> Vec<u8> {
        let mut key = b"i".to_vec();
        key.extend_from_slice(name.as_bytes());
        key.push(0);
        key
    }

    /// A text posting: `t` + term + 0 + encoded `_id`.
    pub fn posting(term: &str, id_key: &[u8]) -> Vec<u8> {
        let mut key = postings(term);
        key.extend_from_slice(id_key);
        key
    }

    /// The prefix of a term's postings.
    pub fn postings(term: &str) -> Vec<u8> {
        let mut key = b"t".to_vec();
        key.extend_from_slice(term.as_bytes());
        key.push(0);
        key
    }

    /// A document's length in terms, for BM25.
    pub fn text_length(id_key: &[u8]) -> Vec<u8> {
        [b"l", id_key].concat()
    }

    /// A change record: `c` + sequence number, big-endian.
    pub fn change(seq: u64) -> Vec<u8> {
        [b"c".as_slice(), &seq.to_be_bytes()].concat()
    }

    /// The prefix of the change log.
    pub const CHANGES: &[u8] = b"c";

    /// The collection's description (indexes, validator).
    pub const META: &[u8] = b"m";

    /// The last sequence number, which every write moves: the key each
    /// conditional batch checks.
    pub const SEQ: &[u8] = b"s";

    /// Text index totals (documents, terms).
    pub const TEXT_STATS: &[u8] = b"x";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn byte_order_is_value_order() {
        let values = [
            json!(null),
            json!(f64::NEG_INFINITY.max(-1e308)),
            json!(-2.5),
            json!(-1),
            json!(0),
            json!(1),
            json!(1.5),
            json!(1e20),
            json!(""),
            json!("a"),
            json!("a\u{0}b"),
            json!("ab"),
            json!("b"),
            json!({}),
            json!({"a": 1}),
            json!({"a": 2}),
            json!([]),
            json!([1]),
            json!([1, 2]),
            json!(false),
            json!(true),
        ];
        for pair in values.windows(2) {
            assert!(
                encoded(&pair[0]) < encoded(&pair[1]),
                "{} should encode below {}",
                pair[0],
                pair[1]
            );
            assert_eq!(
                crate::value::compare(&pair[0], &pair[1]),
                std::cmp::Ordering::Less
            );
        }
        assert_eq!(encoded(&json!(1)), encoded(&json!(1.0)));
        assert_eq!(encoded(&json!(0.0)), encoded(&json!(-0.0)));
    }

    #[test]
    fn complements_reverse_the_order() {
        let (a, b) = (encoded(&json!("ab")), encoded(&json!("abc")));
        let flip = |v: &[u8]| v.iter().map(|b| !b).collect::<Vec<u8>>();
        assert!(a < b);
        assert!(flip(&a) > flip(&b));
    }
}
