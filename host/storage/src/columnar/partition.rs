//! Partitioning of a dataset's rows by one column, so that a read of one
//! partition touches only its chunks (partition pruning):
//! - `hash:N` — N partitions by a stable hash of the value;
//! - `range:b1,b2,…` — numeric ranges `< b1`, `[b1, b2)`, …, `≥ bn`;
//! - `list:v1,v2,…` — one partition per listed value, plus one for the rest.
//!
//! Nulls go to partition 0. Each appended batch is split by partition and
//! every part stored as chunks of its own.

use serde::{Deserialize, Serialize};

use super::encoding::Values;
use crate::StorageError;

/// How rows are assigned to partitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum Scheme {
    /// By hash of the value.
    Hash {
        /// Number of partitions.
        partitions: usize,
    },
    /// By numeric ranges; `bounds` strictly increasing.
    Range {
        /// Upper bounds (exclusive) of all but the last partition.
        bounds: Vec<f64>,
    },
    /// By value; the last partition holds every other value.
    List {
        /// One partition per value.
        values: Vec<String>,
    },
}

/// A dataset's partitioning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionSpec {
    /// The column rows are partitioned by.
    pub column: String,
    /// How.
    #[serde(flatten)]
    pub scheme: Scheme,
}

fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Partitions one dataset may have, whatever the scheme.
pub const MAX_PARTITIONS: usize = 1024;

impl PartitionSpec {
    /// Parses `column` and a scheme written `hash:8`, `range:10,20` or
    /// `list:a,b`.
    pub fn parse(column: &str, scheme: &str) -> Result<Self, StorageError> {
        let bad = |why: &str| {
            StorageError::Invalid(format!(
                "partitioning '{scheme}': {why}; write hash:<n>, range:<b1>,<b2>,… or list:<v1>,<v2>,…"
            ))
        };
        let (kind, args) = scheme.split_once(':').ok_or_else(|| bad("no scheme"))?;
        let scheme = match kind {
            "hash" => {
                let partitions: usize = args.parse().map_err(|_| bad("not a number"))?;
                if !(2..=MAX_PARTITIONS).contains(&partitions) {
                    return Err(bad(&format!("use 2 to {MAX_PARTITIONS} partitions")));
                }
                Scheme::Hash { partitions }
            }
            "range" => {
                let bounds: Vec<f64> = args
                    .split(',')
                    .map(|b| b.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("bounds must be numbers"))?;
                if bounds.windows(2).any(|w| w[0] >= w[1]) || bounds.iter().any(|b| !b.is_finite())
                {
                    return Err(bad("bounds must be finite and increasing"));
                }
                if bounds.len() >= MAX_PARTITIONS {
                    return Err(bad(&format!("at most {MAX_PARTITIONS} partitions")));
                }
                Scheme::Range { bounds }
            }
            "list" => {
                let values: Vec<String> = args.split(',').map(|v| v.trim().to_owned()).collect();
                if values.iter().any(String::is_empty) {
                    return Err(bad("empty value"));
                }
                if values.len() >= MAX_PARTITIONS {
                    return Err(bad(&format!("at most {MAX_PARTITIONS} partitions")));
                }
                Scheme::List { values }
            }
            _ => return Err(bad("unknown scheme")),
        };
        Ok(Self {
            column: column.to_owned(),
            scheme,
        })
    }

    /// Number of partitions.
    pub fn partitions(&self) -> usize {
        match &self.scheme {
            Scheme::Hash { partitions } => *partitions,
            Scheme::Range { bounds } => bounds.len() + 1,
            Scheme::List { values } => values.len() + 1,
        }
    }

    /// A readable name of partition `p`.
    pub fn label(&self, p: usize) -> String {
        match &self.scheme {
            Scheme::Hash { partitions } => format!("hash {p} of {partitions}"),
            Scheme::Range { bounds } => {
                match (p.checked_sub(1).map(|i| bounds[i]), bounds.get(p)) {
                    (None, Some(hi)) => format!("< {hi}"),
                    (Some(lo), Some(hi)) => format!("[{lo}, {hi})"),
                    (Some(lo), None) => format!(">= {lo}"),
                    (None, None) => "all".into(),
                }
            }
            Scheme::List { values } => values.get(p).cloned().unwrap_or_else(|| "(other)".into()),
        }
    }

    /// The partition of every row of `values` (the partition column).
    pub fn assign(&self, values: &Values, valid: &[bool]) -> Result<Vec<usize>, StorageError> {
        let null = |i: usize| valid.get(i) == Some(&false);
        let numeric = |what: &str| {
            StorageError::Invalid(format!(
                "{what} partitioning needs a numeric column; '{}' is not",
                self.column
            ))
        };
        let keyed: Vec<Option<Vec<u8>>> = match values {
            Values::F64(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| (!null(i)).then(|| x.to_bits().to_le_bytes().to_vec()))
                .collect(),
            Values::I64(v) | Values::Timestamp(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| (!null(i)).then(|| x.to_le_bytes().to_vec()))
                .collect(),
            Values::Bool(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| (!null(i)).then(|| vec![u8::from(*x)]))
                .collect(),
            Values::String(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| (!null(i)).then(|| x.as_bytes().to_vec()))
                .collect(),
            Values::Binary(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| (!null(i)).then(|| x.clone()))
                .collect(),
        };
        match &self.scheme {
            Scheme::Hash { partitions } => Ok(keyed
                .iter()
                .map(|k| {
                    k.as_ref()
                        .map_or(0, |k| (hash(k) % *partitions as u64) as usize)
                })
                .collect()),
            Scheme::Range { bounds } => {
                let numbers: Vec<f64> = match values {
                    Values::F64(v) => v.clone(),
                    Values::I64(v) | Values::Timestamp(v) => v.iter().map(|&x| x as f64).collect(),
                    _ => return Err(numeric("range")),
                };
                Ok(numbers
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        if null(i) {
                            0
                        } else {
                            bounds.partition_point(|b| b <= x)
                        }
                    })
                    .collect())
            }
            Scheme::List { values: listed } => {
                let text: Vec<Option<String>> = match values {
                    Values::String(v) => v
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (!null(i)).then(|| s.clone()))
                        .collect(),
                    Values::I64(v) | Values::Timestamp(v) => v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (!null(i)).then(|| x.to_string()))
                        .collect(),
                    Values::F64(v) => v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (!null(i)).then(|| x.to_string()))
                        .collect(),
                    Values::Bool(v) => v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (!null(i)).then(|| x.to_string()))
                        .collect(),
                    Values::Binary(v) => v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (!null(i)).then(|| crate::columnar::to_hex(x)))
                        .collect(),
                };
                Ok(text
                    .iter()
                    .map(|t| match t {
                        None => 0,
                        Some(t) => listed.iter().position(|v| v == t).unwrap_or(listed.len()),
                    })
                    .collect())
            }
        }
    }
}

/// The rows of `values` whose index is in `rows`, in order.
pub(crate) fn take(values: &Values, rows: &[usize]) -> Values {
    match values {
        Values::F64(v) => Values::F64(rows.iter().map(|&r| v[r]).collect()),
        Values::I64(v) => Values::I64(rows.iter().map(|&r| v[r]).collect()),
        Values::Timestamp(v) => Values::Timestamp(rows.iter().map(|&r| v[r]).collect()),
        Values::Bool(v) => Values::Bool(rows.iter().map(|&r| v[r]).collect()),
        Values::String(v) => Values::String(rows.iter().map(|&r| v[r].clone()).collect()),
        Values::Binary(v) => Values::Binary(rows.iter().map(|&r| v[r].clone()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_assigns_rows() {
        let range = PartitionSpec::parse("x", "range:10,20").expect("parses");
        let rows = range
            .assign(&Values::F64(vec![5.0, 10.0, 19.9, 25.0]), &[])
            .expect("numeric");
        assert_eq!(rows, [0, 1, 1, 2]);
        assert_eq!(range.label(1), "[10, 20)");
        let list = PartitionSpec::parse("s", "list:a,b").expect("parses");
        let rows = list
            .assign(
                &Values::String(vec!["b".into(), "z".into(), "a".into()]),
                &[true, true, true],
            )
            .expect("any type");
        assert_eq!(rows, [1, 2, 0]);
        let hash = PartitionSpec::parse("k", "hash:4").expect("parses");
        let rows = hash
            .assign(&Values::I64((0..1000).collect()), &[])
            .expect("any type");
        let mut counts = [0; 4];
        rows.iter().for_each(|&p| counts[p] += 1);
        assert!(counts.iter().all(|&c| c > 150), "spread: {counts:?}");
        assert_eq!(
            rows,
            hash.assign(&Values::I64((0..1000).collect()), &[])
                .expect("stable")
        );
        assert!(
            range
                .assign(&Values::String(vec!["a".into()]), &[])
                .is_err()
        );
        for bad in ["hash:1", "range:2,1", "list:", "zip:3", "hash"] {
            assert!(PartitionSpec::parse("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_and_range_are_capped_like_hash() {
        let many = (0..5_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        for scheme in [
            format!("list:{many}"),
            format!("range:{many}"),
            "hash:5000".to_owned(),
        ] {
            let refused = PartitionSpec::parse("k", &scheme)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(refused.contains("1024"), "{refused}");
        }
    }
}
