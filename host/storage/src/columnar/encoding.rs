//! Column encodings. Each chunk of a column is encoded four ways where the
//! type allows — plain, dictionary, run-length, delta — and the smallest
//! wins, so a sorted timestamp column becomes deltas, a low-cardinality
//! string column a dictionary and a flag column runs.
//!
//! Layout of an encoded chunk: `encoding: u8, has_nulls: u8,
//! [validity bitmap], payload`. Null slots hold the type's zero value.

use serde::{Deserialize, Serialize};

use crate::StorageError;
use crate::page::{read_varint, write_varint};

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// Boolean.
    Bool,
    /// UTF-8 text.
    String,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// Opaque bytes (WKB geometries, embeddings, serialized values).
    Binary,
}

/// How a chunk is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Values one after another.
    Plain,
    /// Distinct values once, then an index per row.
    Dictionary,
    /// (run length, value) pairs.
    RunLength,
    /// First value, then zig-zag varint differences.
    Delta,
}

impl Encoding {
    fn tag(self) -> u8 {
        match self {
            Self::Plain => 0,
            Self::Dictionary => 1,
            Self::RunLength => 2,
            Self::Delta => 3,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        [Self::Plain, Self::Dictionary, Self::RunLength, Self::Delta]
            .into_iter()
            .find(|e| e.tag() == tag)
    }
}

/// The values of one column chunk.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// f64 values.
    F64(Vec<f64>),
    /// i64 values.
    I64(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Strings.
    String(Vec<String>),
    /// Timestamps (µs since the epoch).
    Timestamp(Vec<i64>),
    /// Byte strings.
    Binary(Vec<Vec<u8>>),
}

impl Values {
    /// An empty column of `kind`.
    pub fn empty(kind: ColumnType) -> Self {
        match kind {
            ColumnType::F64 => Self::F64(Vec::new()),
            ColumnType::I64 => Self::I64(Vec::new()),
            ColumnType::Bool => Self::Bool(Vec::new()),
            ColumnType::String => Self::String(Vec::new()),
            ColumnType::Timestamp => Self::Timestamp(Vec::new()),
            ColumnType::Binary => Self::Binary(Vec::new()),
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        match self {
            Self::F64(v) => v.len(),
            Self::I64(v) | Self::Timestamp(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::String(v) => v.len(),
            Self::Binary(v) => v.len(),
        }
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of rows `range` (which must lie within the column).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        match self {
            Self::F64(v) => Self::F64(v[range].to_vec()),
            Self::I64(v) => Self::I64(v[range].to_vec()),
            Self::Timestamp(v) => Self::Timestamp(v[range].to_vec()),
            Self::Bool(v) => Self::Bool(v[range].to_vec()),
            Self::String(v) => Self::String(v[range].to_vec()),
            Self::Binary(v) => Self::Binary(v[range].to_vec()),
        }
    }

    /// Appends `other`'s rows; false (and nothing appended) when the
    /// types differ.
    pub fn extend(&mut self, other: Values) -> bool {
        match (self, other) {
            (Self::F64(a), Self::F64(b)) => a.extend(b),
            (Self::I64(a), Self::I64(b)) | (Self::Timestamp(a), Self::Timestamp(b)) => a.extend(b),
            (Self::Bool(a), Self::Bool(b)) => a.extend(b),
            (Self::String(a), Self::String(b)) => a.extend(b),
            (Self::Binary(a), Self::Binary(b)) => a.extend(b),
            _ => return false,
        }
        true
    }

    /// The column type.
    pub fn kind(&self) -> ColumnType {
        match self {
            Self::F64(_) => ColumnType::F64,
            Self::I64(_) => ColumnType::I64,
            Self::Bool(_) => ColumnType::Bool,
            Self::String(_) => ColumnType::String,
            Self::Timestamp(_) => ColumnType::Timestamp,
            Self::Binary(_) => ColumnType::Binary,
        }
    }

    /// Numeric values as fixed 8-byte words (None for strings).
    fn words(&self) -> Option<Vec<u64>> {
        Some(match self {
            Self::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
            Self::I64(v) | Self::Timestamp(v) => v.iter().map(|&x| x as u64).collect(),
            Self::Bool(v) => v.iter().map(|&b| u64::from(b)).collect(),
            Self::String(_) | Self::Binary(_) => return None,
        })
    }

    fn from_words(kind: ColumnType, words: Vec<u64>) -> Self {
        match kind {
            ColumnType::F64 => Self::F64(words.into_iter().map(f64::from_bits).collect()),
            ColumnType::I64 => Self::I64(words.into_iter().map(|w| w as i64).collect()),
            ColumnType::Timestamp => Self::Timestamp(words.into_iter().map(|w| w as i64).collect()),
            ColumnType::Bool => Self::Bool(words.into_iter().map(|w| w != 0).collect()),
            ColumnType::String => Self::String(Vec::new()),
            ColumnType::Binary => Self::Binary(Vec::new()),
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn bad(detail: &str) -> StorageError {
    StorageError::Invalid(format!("damaged column chunk: {detail}"))
}

/// Width of one stored word: booleans take a byte in runs and
/// dictionaries, a bit in plain.
fn word_width(kind: ColumnType) -> usize {
    if kind == ColumnType::Bool { 1 } else { 8 }
}

fn put_word(out: &mut Vec<u8>, word: u64, width: usize) {
    out.extend_from_slice(&word.to_le_bytes()[..width]);
}

fn get_word(bytes: &[u8], at: &mut usize, width: usize) -> Result<u64, StorageError> {
    let slice = bytes
        .get(*at..*at + width)
        .ok_or_else(|| bad("truncated value"))?;
    *at += width;
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(slice);
    Ok(u64::from_le_bytes(buf))
}

fn encode_words(words: &[u64], kind: ColumnType, encoding: Encoding) -> Option<Vec<u8>> {
    let width = word_width(kind);
    let mut out = Vec::new();
    match encoding {
        Encoding::Plain if kind == ColumnType::Bool => {
            out.resize(words.len().div_ceil(8), 0);
            for (i, &w) in words.iter().enumerate() {
                if w != 0 {
                    out[i / 8] |= 1 << (i % 8);
                }
            }
        }
        Encoding::Plain => words.iter().for_each(|&w| put_word(&mut out, w, width)),
        Encoding::RunLength => {
            let mut i = 0;
            while i < words.len() {
                let run = words[i..].iter().take_while(|&&w| w == words[i]).count();
                write_varint(&mut out, run as u64);
                put_word(&mut out, words[i], width);
                i += run;
            }
        }
        Encoding::Delta => {
            if !matches!(kind, ColumnType::I64 | ColumnType::Timestamp) {
                return None;
            }
            let mut previous = 0i64;
            for &w in words {
                let value = w as i64;
                write_varint(&mut out, zigzag(value.wrapping_sub(previous)));
                previous = value;
            }
        }
        Encoding::Dictionary => {
            let mut index = std::collections::HashMap::new();
            let mut dictionary = Vec::new();
            let codes: Vec<u64> = words
                .iter()
                .map(|&w| {
                    *index.entry(w).or_insert_with(|| {
                        dictionary.push(w);
                        dictionary.len() as u64 - 1
                    })
                })
                .collect();
            if dictionary.len() > words.len() / 2 + 1 {
                return None; // no gain; skip the work of writing it out
            }
            write_varint(&mut out, dictionary.len() as u64);
            dictionary
                .iter()
                .for_each(|&w| put_word(&mut out, w, width));
            codes.iter().for_each(|&c| write_varint(&mut out, c));
        }
    }
    Some(out)
}

fn decode_words(
    bytes: &[u8],
    kind: ColumnType,
    encoding: Encoding,
    rows: usize,
) -> Result<Vec<u64>, StorageError> {
    let width = word_width(kind);
    let mut at = 0;
    let mut words = Vec::with_capacity(rows);
    match encoding {
        Encoding::Plain if kind == ColumnType::Bool => {
            if bytes.len() < rows.div_ceil(8) {
                return Err(bad("bitmap too short"));
            }
            words.extend((0..rows).map(|i| u64::from(bytes[i / 8] >> (i % 8) & 1)));
        }
        Encoding::Plain => {
            for _ in 0..rows {
                words.push(get_word(bytes, &mut at, width)?);
            }
        }
        Encoding::RunLength => {
            while words.len() < rows {
                let run = read_varint(bytes, &mut at)? as usize;
                let word = get_word(bytes, &mut at, width)?;
                if run == 0 || words.len() + run > rows {
                    return Err(bad("run overflows the chunk"));
                }
                words.extend(std::iter::repeat_n(word, run));
            }
        }
        Encoding::Delta => {
            let mut previous = 0i64;
            for _ in 0..rows {
                previous = previous.wrapping_add(unzigzag(read_varint(bytes, &mut at)?));
                words.push(previous as u64);
            }
        }
        Encoding::Dictionary => {
            let size = read_varint(bytes, &mut at)? as usize;
            if size > rows.max(1) {
                return Err(bad("dictionary larger than the chunk"));
            }
            let dictionary: Vec<u64> = (0..size)
                .map(|_| get_word(bytes, &mut at, width))
                .collect::<Result<_, _>>()?;
            for _ in 0..rows {
                let code = read_varint(bytes, &mut at)? as usize;
                words.push(
                    *dictionary
                        .get(code)
                        .ok_or_else(|| bad("code outside dictionary"))?,
                );
            }
        }
    }
    Ok(words)
}

fn put_bytes(out: &mut Vec<u8>, s: &[u8]) {
    write_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn get_bytes(bytes: &[u8], at: &mut usize) -> Result<Vec<u8>, StorageError> {
    let len = read_varint(bytes, at)? as usize;
    let slice = bytes
        .get(*at..at.saturating_add(len))
        .ok_or_else(|| bad("truncated string"))?;
    *at += len;
    Ok(slice.to_vec())
}

/// Strings and byte strings share their encodings: plain, runs and a
/// dictionary.
fn encode_bytes<T: AsRef<[u8]>>(values: &[T], encoding: Encoding) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Plain => values.iter().for_each(|s| put_bytes(&mut out, s.as_ref())),
        Encoding::RunLength => {
            let mut i = 0;
            while i < values.len() {
                let first = values[i].as_ref();
                let run = values[i..]
                    .iter()
                    .take_while(|s| s.as_ref() == first)
                    .count();
                write_varint(&mut out, run as u64);
                put_bytes(&mut out, first);
                i += run;
            }
        }
        Encoding::Dictionary => {
            let mut index: std::collections::HashMap<&[u8], u64> = std::collections::HashMap::new();
            let mut dictionary: Vec<&[u8]> = Vec::new();
            let codes: Vec<u64> = values
                .iter()
                .map(|s| {
                    *index.entry(s.as_ref()).or_insert_with(|| {
                        dictionary.push(s.as_ref());
                        dictionary.len() as u64 - 1
                    })
                })
                .collect();
            if dictionary.len() > values.len() / 2 + 1 {
                return None;
            }
            write_varint(&mut out, dictionary.len() as u64);
            dictionary.iter().for_each(|s| put_bytes(&mut out, s));
            codes.iter().for_each(|&c| write_varint(&mut out, c));
        }
        Encoding::Delta => return None,
    }
    Some(out)
}

fn decode_bytes(
    bytes: &[u8],
    encoding: Encoding,
    rows: usize,
) -> Result<Vec<Vec<u8>>, StorageError> {
    let mut at = 0;
    let mut out = Vec::with_capacity(rows);
    match encoding {
        Encoding::Plain => {
            for _ in 0..rows {
                out.push(get_bytes(bytes, &mut at)?);
            }
        }
        Encoding::RunLength => {
            while out.len() < rows {
                let run = read_varint(bytes, &mut at)? as usize;
                let s = get_bytes(bytes, &mut at)?;
                if run == 0 || out.len() + run > rows {
                    return Err(bad("run overflows the chunk"));
                }
                out.extend(std::iter::repeat_n(s, run));
            }
        }
        Encoding::Dictionary => {
            let size = read_varint(bytes, &mut at)? as usize;
            if size > rows.max(1) {
                return Err(bad("dictionary larger than the chunk"));
            }
            let dictionary: Vec<Vec<u8>> = (0..size)
                .map(|_| get_bytes(bytes, &mut at))
                .collect::<Result<_, _>>()?;
            for _ in 0..rows {
                let code = read_varint(bytes, &mut at)? as usize;
                out.push(
                    dictionary
                        .get(code)
                        .ok_or_else(|| bad("code outside dictionary"))?
                        .clone(),
                );
            }
        }
        Encoding::Delta => return Err(bad("strings cannot be delta-encoded")),
    }
    Ok(out)
}

fn decode_strings(
    bytes: &[u8],
    encoding: Encoding,
    rows: usize,
) -> Result<Vec<String>, StorageError> {
    decode_bytes(bytes, encoding, rows)?
        .into_iter()
        .map(|b| String::from_utf8(b).map_err(|_| bad("string is not UTF-8")))
        .collect()
}

/// Encodes a chunk with the smallest encoding; `valid[i]` is false for a
/// null row (an empty `valid` means no nulls).
pub fn encode(values: &Values, valid: &[bool]) -> (Encoding, Vec<u8>) {
    let candidates = [
        Encoding::Plain,
        Encoding::Dictionary,
        Encoding::RunLength,
        Encoding::Delta,
    ];
    let words = values.words();
    let best = candidates
        .into_iter()
        .filter_map(|encoding| {
            let payload = match (&words, values) {
                (Some(words), _) => encode_words(words, values.kind(), encoding),
                (None, Values::String(strings)) => encode_bytes(strings, encoding),
                (None, Values::Binary(blobs)) => encode_bytes(blobs, encoding),
                (None, _) => None,
            }?;
            Some((encoding, payload))
        })
        .min_by_key(|(_, payload)| payload.len());
    let (encoding, payload) = best.unwrap_or((Encoding::Plain, Vec::new()));
    let has_nulls = valid.iter().any(|v| !v);
    let mut out = vec![encoding.tag(), u8::from(has_nulls)];
    if has_nulls {
        let mut bitmap = vec![0u8; valid.len().div_ceil(8)];
        for (i, &v) in valid.iter().enumerate() {
            if v {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&bitmap);
    }
    out.extend_from_slice(&payload);
    (encoding, out)
}

/// Decodes a chunk of `rows` rows of `kind`: values and validity (empty
/// when the chunk has no nulls).
pub fn decode(
    bytes: &[u8],
    kind: ColumnType,
    rows: usize,
) -> Result<(Values, Vec<bool>), StorageError> {
    let (&tag, rest) = bytes.split_first().ok_or_else(|| bad("empty chunk"))?;
    let encoding = Encoding::from_tag(tag).ok_or_else(|| bad("unknown encoding"))?;
    let (&has_nulls, mut payload) = rest.split_first().ok_or_else(|| bad("no null flag"))?;
    let mut valid = Vec::new();
    if has_nulls == 1 {
        let bitmap = payload
            .get(..rows.div_ceil(8))
            .ok_or_else(|| bad("bitmap too short"))?;
        valid = (0..rows)
            .map(|i| bitmap[i / 8] >> (i % 8) & 1 == 1)
            .collect();
        payload = &payload[rows.div_ceil(8)..];
    }
    let values = if kind == ColumnType::String {
        Values::String(decode_strings(payload, encoding, rows)?)
    } else if kind == ColumnType::Binary {
        Values::Binary(decode_bytes(payload, encoding, rows)?)
    } else {
        Values::from_words(kind, decode_words(payload, kind, encoding, rows)?)
    };
    Ok((values, valid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(values: Values, valid: Vec<bool>) {
        let (_, bytes) = encode(&values, &valid);
        let (back, back_valid) = decode(&bytes, values.kind(), values.len()).expect("decodes");
        assert_eq!(back, values);
        let expected = if valid.iter().any(|v| !v) {
            valid
        } else {
            Vec::new()
        };
        assert_eq!(back_valid, expected);
    }

    #[test]
    fn the_smallest_encoding_is_chosen() {
        let sorted = Values::Timestamp(
            (0..10_000)
                .map(|i| 1_700_000_000_000_000 + i * 1_000_000)
                .collect(),
        );
        assert_eq!(encode(&sorted, &[]).0, Encoding::Delta);
        let flags = Values::Bool((0..10_000).map(|i| i < 9_000).collect());
        assert_eq!(encode(&flags, &[]).0, Encoding::RunLength);
        let cities = Values::String(
            (0..10_000)
                .map(|i| ["Oslo", "Lima", "Pune"][i % 3].to_string())
                .collect(),
        );
        assert_eq!(encode(&cities, &[]).0, Encoding::Dictionary);
        let noise = Values::F64((0..1_000).map(|i| (i as f64 * 0.37).sin()).collect());
        assert_eq!(encode(&noise, &[]).0, Encoding::Plain);
    }

    proptest! {
        #[test]
        fn f64_round_trips(v in prop::collection::vec(prop_oneof![any::<f64>(), Just(1.5), Just(0.0)], 0..300)) {
            let valid = v.iter().map(|x| !x.is_nan()).collect();
            // NaN != NaN: compare bit patterns through the words instead.
            let values = Values::F64(v.iter().map(|x| if x.is_nan() { 0.0 } else { *x }).collect());
            round_trip(values, valid);
        }

        #[test]
        fn i64_round_trips(v in prop::collection::vec(prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN)], 0..300)) {
            round_trip(Values::I64(v.clone()), Vec::new());
            round_trip(Values::Timestamp(v), Vec::new());
        }

        #[test]
        fn bool_round_trips(v in prop::collection::vec(any::<bool>(), 0..300), nulls in prop::collection::vec(any::<bool>(), 300)) {
            let valid = nulls[..v.len()].to_vec();
            round_trip(Values::Bool(v), valid);
        }

        #[test]
        fn string_round_trips(v in prop::collection::vec(prop_oneof!["[a-c]{0,2}", ".{0,12}"], 0..200)) {
            round_trip(Values::String(v), Vec::new());
        }

        #[test]
        fn binary_round_trips(v in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..200)) {
            round_trip(Values::Binary(v), Vec::new());
        }
    }
}
