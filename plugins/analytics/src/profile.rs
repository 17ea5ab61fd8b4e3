//! Column profiles: what a column holds (type, and what text would parse
//! as), how much of it is missing, how many distinct values (exactly and
//! by HyperLogLog with its error bound), its range, moments, quantiles,
//! most common values, a histogram and three quality ratios.
//!
//! One column at a time, so a wide dataset is profiled in the memory of
//! its widest column. It reads nothing itself: the caller hands columns in
//! (the `profile` operation reads them through the catalog).

use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use crate::sql::aggregate::HyperLogLog;
use crate::value::{Column, Datum, compare, parse_timestamp};

/// What to compute beyond the counts.
#[derive(Clone, Debug)]
pub struct ProfileOptions {
    /// Most common values to list.
    pub top_k: usize,
    /// Equal-width histogram bins (numbers and timestamps).
    pub bins: usize,
    /// Quantiles to report, each in [0, 1].
    pub quantiles: Vec<f64>,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            top_k: 5,
            bins: 10,
            quantiles: vec![0.05, 0.25, 0.5, 0.75, 0.95],
        }
    }
}

/// Share of non-null text values that must parse as a type for the column
/// to be inferred as that type: a few typos should not hide that a column
/// is numeric, and the rest show up as lower validity.
const INFER_SHARE: f64 = 0.95;

/// Standard error of the HyperLogLog estimate (2^12 registers).
pub const HLL_RELATIVE_ERROR: f64 = 0.01625;

/// The profile of `column` named `name`, as JSON (the shape
/// `profiling_update` carries).
pub fn profile_column(name: &str, column: &Column, options: &ProfileOptions) -> Value {
    let rows = column.len();
    let values: Vec<Datum> = (0..rows)
        .map(|i| column.get(i))
        .filter(|d| !d.is_null())
        .collect();
    let non_null = values.len();
    let (inferred, validity) = infer(column, &values);

    let mut counts: FxHashMap<&Datum, u64> = FxHashMap::default();
    let mut sketch = HyperLogLog::new();
    for v in &values {
        *counts.entry(v).or_insert(0) += 1;
        sketch.insert(v);
    }
    let distinct = counts.len();
    let mut common: Vec<(&Datum, u64)> = counts.into_iter().collect();
    // Count descending, then value ascending: the same list every run.
    common.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| compare(a.0, b.0)));
    common.truncate(options.top_k);
    let most_common: Vec<Value> = common
        .iter()
        .map(|(v, c)| json!({"value": v.to_json(), "count": c}))
        .collect();

    let min = values.iter().min_by(|a, b| compare(a, b));
    let max = values.iter().max_by(|a, b| compare(a, b));
    let ratio = |part: usize, whole: usize| {
        if whole == 0 {
            Value::Null
        } else {
            json!(part as f64 / whole as f64)
        }
    };
    let mut out = json!({
        "column": name,
        "type": column.data_type().name(),
        "inferred_type": inferred,
        "rows": rows,
        "null_count": rows - non_null,
        "distinct_count": distinct,
        "approx_distinct": {
            "estimate": if non_null == 0 { 0 } else { sketch.estimate() },
            "relative_error": HLL_RELATIVE_ERROR,
            "method": "HyperLogLog, 4096 registers; the estimate is within 2 relative errors 95 % of the time"
        },
        "min": min.map_or(Value::Null, Datum::to_json),
        "max": max.map_or(Value::Null, Datum::to_json),
        "most_common": most_common,
        "quality": {
            "completeness": ratio(non_null, rows),
            "validity": validity.map_or(Value::Null, Value::from),
            "uniqueness": ratio(distinct, non_null),
        },
    });
    if let Some(numbers) = numeric(&values) {
        describe_numbers(&mut out, &numbers, options);
    }
    out
}

/// The values as numbers, for numeric and timestamp columns (timestamps
/// as microseconds: their histogram and quantiles are over time).
fn numeric(values: &[Datum]) -> Option<Vec<f64>> {
    let first = values.first()?;
    match first {
        Datum::Int(_) | Datum::Float(_) => values.iter().map(Datum::as_f64).collect(),
        Datum::Timestamp(_) => values
            .iter()
            .map(|d| match d {
                Datum::Timestamp(t) => Some(*t as f64),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn describe_numbers(out: &mut Value, numbers: &[f64], options: &ProfileOptions) {
    let is_time = out["type"] == "TIMESTAMP";
    let mut sorted = numbers.to_vec();
    sorted.sort_by(f64::total_cmp);
    let as_value = |x: f64| {
        if is_time {
            Datum::Timestamp(x.round() as i64).to_json()
        } else {
            json!(x)
        }
    };
    let quantiles: Vec<Value> = options
        .quantiles
        .iter()
        .map(|&q| json!({"q": q, "value": as_value(quantile_sorted(&sorted, q))}))
        .collect();
    out["quantiles"] = Value::Array(quantiles);
    out["histogram"] = histogram(&sorted, options.bins, is_time);
    if is_time {
        return;
    }
    let n = numbers.len() as f64;
    let mean = numbers.iter().sum::<f64>() / n;
    out["mean"] = json!(mean);
    out["stddev"] = if numbers.len() > 1 {
        let ss: f64 = numbers.iter().map(|x| (x - mean) * (x - mean)).sum();
        json!((ss / (n - 1.0)).sqrt())
    } else {
        Value::Null
    };
}

/// DuckDB's `quantile_cont` over sorted, non-empty values.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// `bins` equal-width bins over [min, max], the last one closed; a
/// constant column is one bin holding every value.
fn histogram(sorted: &[f64], bins: usize, is_time: bool) -> Value {
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let bins = if max > min { bins.max(1) } else { 1 };
    let mut counts = vec![0u64; bins];
    for &x in sorted {
        let bin = if max > min {
            (((x - min) / (max - min)) * bins as f64).floor() as usize
        } else {
            0
        };
        counts[bin.min(bins - 1)] += 1;
    }
    let width = (max - min) / bins as f64;
    let edge = |i: usize| {
        let x = if i == bins {
            max
        } else {
            min + width * i as f64
        };
        if is_time {
            Datum::Timestamp(x.round() as i64).to_json()
        } else {
            json!(x)
        }
    };
    Value::Array(
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"lower": edge(i), "upper": edge(i + 1), "count": c}))
            .collect(),
    )
}

/// What the column's values are, and the share of non-null values valid
/// as that type (`None` when there are none). Typed columns are what they
/// are; text is tried as boolean, integer, float and timestamp, most
/// specific first.
fn infer(column: &Column, values: &[Datum]) -> (&'static str, Option<f64>) {
    let typed = match column {
        Column::Int(_) => Some("integer"),
        Column::Float(_) => Some("float"),
        Column::Bool(_) => Some("boolean"),
        Column::Timestamp(_) => Some("timestamp"),
        Column::Null(_) => Some("null"),
        Column::Text(_) => None,
    };
    if values.is_empty() {
        return (typed.unwrap_or("text"), None);
    }
    if let Some(kind) = typed {
        return (kind, Some(1.0));
    }
    let texts: Vec<&str> = values
        .iter()
        .filter_map(|d| match d {
            Datum::Text(t) => Some(t.trim()),
            _ => None,
        })
        .collect();
    type Parses = fn(&str) -> bool;
    let tests: [(&str, Parses); 4] = [
        ("boolean", |t| {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "true" | "false" | "t" | "f" | "yes" | "no"
            )
        }),
        ("integer", |t| t.parse::<i64>().is_ok()),
        ("float", |t| t.parse::<f64>().is_ok_and(f64::is_finite)),
        ("timestamp", |t| parse_timestamp(t).is_some()),
    ];
    let n = texts.len() as f64;
    for (kind, parses) in tests {
        let share = texts.iter().filter(|t| parses(t)).count() as f64 / n;
        if share >= INFER_SHARE {
            return (kind, Some(share));
        }
    }
    ("text", Some(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn text(values: &[Option<&str>]) -> Column {
        Column::Text(values.iter().map(|v| v.map(Rc::from)).collect())
    }

    #[test]
    fn mostly_numeric_text_is_inferred_numeric_with_lower_validity() {
        let mut cells: Vec<Option<&str>> = vec![Some("12"); 19];
        cells.push(Some("twelve"));
        cells.push(None);
        let p = profile_column("n", &text(&cells), &ProfileOptions::default());
        assert_eq!(p["inferred_type"], "integer");
        assert_eq!(p["quality"]["validity"], 0.95);
        assert_eq!(p["null_count"], 1);
        assert_eq!(p["distinct_count"], 2);
        assert_eq!(p["most_common"][0], json!({"value": "12", "count": 19}));
    }

    #[test]
    fn numbers_get_moments_quantiles_and_a_closed_last_bin() {
        let col = Column::Int(vec![Some(1), Some(2), Some(3), Some(4), None]);
        let options = ProfileOptions {
            bins: 3,
            quantiles: vec![0.5],
            ..ProfileOptions::default()
        };
        let p = profile_column("x", &col, &options);
        assert_eq!(p["mean"], 2.5);
        assert_eq!(p["quantiles"][0]["value"], 2.5);
        let counts: Vec<u64> = (0..3)
            .filter_map(|i| p["histogram"][i]["count"].as_u64())
            .collect();
        assert_eq!(counts, [1, 1, 2], "4 falls in the last, closed bin");
        assert_eq!(p["quality"]["completeness"], 0.8);
        assert_eq!(p["quality"]["uniqueness"], 1.0);
    }

    #[test]
    fn an_empty_column_has_no_ratios_to_divide() {
        let p = profile_column(
            "e",
            &Column::Float(vec![None, None]),
            &ProfileOptions::default(),
        );
        assert_eq!(p["null_count"], 2);
        assert!(p["quality"]["uniqueness"].is_null());
        assert!(p.get("mean").is_none());
    }
}
