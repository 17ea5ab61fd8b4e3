//! Aggregate functions over groups: each call reads one argument column
//! and the group id of every row and yields one value per group. The
//! grouping itself (keys → ids, grouping sets) is [`group_ids`]; both are
//! shared by `GROUP BY` and window aggregates.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::AnalyticsError;
use crate::value::{Column, DataType, Datum, compare};

/// An aggregate function.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    StddevSamp,
    StddevPop,
    VarSamp,
    VarPop,
    Median,
    BoolAnd,
    BoolOr,
    First,
    ApproxCountDistinct,
    /// `quantile_cont(x, q)`: exact, by linear interpolation.
    Quantile,
    /// `approx_quantile(x, q)`: from a KLL sketch.
    ApproxQuantile,
}

impl AggFunc {
    /// The aggregate of a SQL name.
    pub fn of(name: &str) -> Option<Self> {
        Some(match name {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "avg" | "mean" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "stddev" | "stddev_samp" => Self::StddevSamp,
            "stddev_pop" => Self::StddevPop,
            "variance" | "var_samp" => Self::VarSamp,
            "var_pop" => Self::VarPop,
            "median" => Self::Median,
            "bool_and" => Self::BoolAnd,
            "bool_or" => Self::BoolOr,
            "first" | "any_value" | "arbitrary" => Self::First,
            "approx_count_distinct" => Self::ApproxCountDistinct,
            "quantile_cont" | "quantile" => Self::Quantile,
            "approx_quantile" => Self::ApproxQuantile,
            _ => return None,
        })
    }
}

/// One aggregate call: the function, whether `DISTINCT`, its argument's
/// position among the inputs (`None` for `count(*)`).
#[derive(Clone, Debug)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// `count(DISTINCT x)` and the like.
    pub distinct: bool,
    /// The argument column.
    pub arg: Option<usize>,
    /// A constant second argument (the `q` of a quantile).
    pub param: Option<f64>,
}

/// Assigns each row a group id from its key values; returns the ids, the
/// number of groups and each group's first row (its representative).
pub fn group_ids(keys: &[&Column], rows: usize) -> (Vec<u32>, usize, Vec<usize>) {
    if keys.is_empty() {
        return (vec![0; rows], 1, vec![0]);
    }
    // One integer or text key is the common case: no per-row vectors.
    match keys {
        [Column::Int(values) | Column::Timestamp(values)] => return ids_of(values.iter()),
        [Column::Text(values)] => return ids_of(values.iter().map(Option::as_deref)),
        _ => {}
    }
    let mut map: HashMap<Vec<Datum>, u32> = HashMap::default();
    let mut firsts = Vec::new();
    let mut ids = Vec::with_capacity(rows);
    for i in 0..rows {
        let key: Vec<Datum> = keys.iter().map(|k| k.get(i)).collect();
        let next = firsts.len() as u32;
        let id = *map.entry(key).or_insert(next);
        if id == next {
            firsts.push(i);
        }
        ids.push(id);
    }
    (ids, firsts.len(), firsts)
}

/// Group ids of one key per row, first come first numbered.
fn ids_of<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> (Vec<u32>, usize, Vec<usize>) {
    let mut map: HashMap<K, u32> = HashMap::default();
    let mut firsts = Vec::new();
    let ids = keys
        .enumerate()
        .map(|(i, k)| {
            *map.entry(k).or_insert_with(|| {
                firsts.push(i);
                (firsts.len() - 1) as u32
            })
        })
        .collect();
    (ids, firsts.len(), firsts)
}

/// `call` over `arg` per group.
pub fn aggregate(
    call: &AggCall,
    arg: Option<&Column>,
    ids: &[u32],
    groups: usize,
) -> Result<Column, AnalyticsError> {
    let Some(arg) = arg else {
        let mut counts = vec![0i64; groups];
        for &g in ids {
            counts[g as usize] += 1;
        }
        return Ok(Column::Int(counts.into_iter().map(Some).collect()));
    };
    if call.distinct {
        return aggregate_distinct(call, arg, ids, groups);
    }
    let func = call.func;
    Ok(match func {
        AggFunc::CountStar | AggFunc::Count => {
            let mut counts = vec![0i64; groups];
            for (i, &g) in ids.iter().enumerate() {
                if !arg.is_null(i) {
                    counts[g as usize] += 1;
                }
            }
            Column::Int(counts.into_iter().map(Some).collect())
        }
        AggFunc::Sum => match arg {
            Column::Int(values) => {
                let mut sums: Vec<Option<i128>> = vec![None; groups];
                for (v, &g) in values.iter().zip(ids) {
                    if let Some(v) = v {
                        let s = sums[g as usize].get_or_insert(0);
                        *s += i128::from(*v);
                    }
                }
                if sums.iter().flatten().all(|s| i64::try_from(*s).is_ok()) {
                    Column::Int(sums.into_iter().map(|s| s.map(|s| s as i64)).collect())
                } else {
                    Column::Float(sums.into_iter().map(|s| s.map(|s| s as f64)).collect())
                }
            }
            _ => {
                let values = floats(arg, "sum")?;
                let mut sums: Vec<Option<f64>> = vec![None; groups];
                for (v, &g) in values.iter().zip(ids) {
                    if let Some(v) = v {
                        *sums[g as usize].get_or_insert(0.0) += v;
                    }
                }
                Column::Float(sums)
            }
        },
        AggFunc::Avg
        | AggFunc::StddevSamp
        | AggFunc::StddevPop
        | AggFunc::VarSamp
        | AggFunc::VarPop => {
            let values = floats(arg, "avg")?;
            // Welford per group: stable for large means.
            let mut state = vec![(0u64, 0.0f64, 0.0f64); groups];
            for (v, &g) in values.iter().zip(ids) {
                if let Some(x) = v {
                    let (n, mean, m2) = &mut state[g as usize];
                    *n += 1;
                    let delta = x - *mean;
                    *mean += delta / *n as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            Column::Float(
                state
                    .into_iter()
                    .map(|(n, mean, m2)| match func {
                        AggFunc::Avg => (n > 0).then_some(mean),
                        AggFunc::VarPop => (n > 0).then(|| m2 / n as f64),
                        AggFunc::StddevPop => (n > 0).then(|| (m2 / n as f64).sqrt()),
                        AggFunc::VarSamp => (n > 1).then(|| m2 / (n - 1) as f64),
                        _ => (n > 1).then(|| (m2 / (n - 1) as f64).sqrt()),
                    })
                    .collect(),
            )
        }
        AggFunc::Min | AggFunc::Max => extreme(arg, ids, groups, func == AggFunc::Max),
        AggFunc::ApproxCountDistinct => {
            let mut sketches: Vec<HyperLogLog> = (0..groups).map(|_| HyperLogLog::new()).collect();
            for (i, &g) in ids.iter().enumerate() {
                if !arg.is_null(i) {
                    sketches[g as usize].insert(&arg.get(i));
                }
            }
            Column::Int(sketches.iter().map(|s| Some(s.estimate())).collect())
        }
        AggFunc::Quantile | AggFunc::ApproxQuantile => {
            let q = call.param.unwrap_or(0.5);
            let values = floats(arg, "quantile")?;
            if func == AggFunc::Quantile {
                let mut lists: Vec<Vec<f64>> = vec![Vec::new(); groups];
                for (v, &g) in values.iter().zip(ids) {
                    if let Some(x) = v {
                        lists[g as usize].push(*x);
                    }
                }
                Column::Float(lists.into_iter().map(|l| quantile(l, q)).collect())
            } else {
                let mut sketches = vec![super::sketch::Kll::new(); groups];
                for (v, &g) in values.iter().zip(ids) {
                    if let Some(x) = v {
                        sketches[g as usize].insert(*x);
                    }
                }
                Column::Float(sketches.iter().map(|s| s.quantile(q)).collect())
            }
        }
        AggFunc::Median => {
            let values = floats(arg, "median")?;
            let mut lists: Vec<Vec<f64>> = vec![Vec::new(); groups];
            for (v, &g) in values.iter().zip(ids) {
                if let Some(x) = v {
                    lists[g as usize].push(*x);
                }
            }
            Column::Float(lists.into_iter().map(|l| quantile(l, 0.5)).collect())
        }
        AggFunc::BoolAnd | AggFunc::BoolOr => {
            let Column::Bool(values) = arg else {
                return Err(AnalyticsError::Invalid(
                    "bool_and and bool_or take booleans".into(),
                ));
            };
            let and = func == AggFunc::BoolAnd;
            let mut out: Vec<Option<bool>> = vec![None; groups];
            for (v, &g) in values.iter().zip(ids) {
                if let Some(v) = v {
                    let o = out[g as usize].get_or_insert(and);
                    *o = if and { *o && *v } else { *o || *v };
                }
            }
            Column::Bool(out)
        }
        AggFunc::First => {
            let mut first: Vec<Option<usize>> = vec![None; groups];
            for (i, &g) in ids.iter().enumerate() {
                if first[g as usize].is_none() && !arg.is_null(i) {
                    first[g as usize] = Some(i);
                }
            }
            arg.gather_optional(&first)
        }
    })
}

/// A HyperLogLog sketch of 2^12 registers: distinct counts in 4 KiB per
/// group with a standard error of 1.04/√4096 ≈ 1.6 % (Flajolet et al.,
/// with linear counting for small counts).
pub struct HyperLogLog {
    registers: Vec<u8>,
}

impl HyperLogLog {
    const BITS: u32 = 12;

    /// An empty sketch.
    pub fn new() -> Self {
        Self {
            registers: vec![0; 1 << Self::BITS],
        }
    }

    /// Counts `value`.
    pub fn insert(&mut self, value: &Datum) {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        value.hash(&mut hasher);
        // Fx is fast but not well mixed: finish with splitmix64.
        let mut h = hasher.finish().wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let index = (h >> (64 - Self::BITS)) as usize;
        let rank = ((h << Self::BITS) | (1 << (Self::BITS - 1))).leading_zeros() as u8 + 1;
        if rank > self.registers[index] {
            self.registers[index] = rank;
        }
    }

    /// The estimated number of distinct values counted.
    pub fn estimate(&self) -> i64 {
        let m = self.registers.len() as f64;
        let sum: f64 = self
            .registers
            .iter()
            .map(|&r| 2f64.powi(-i32::from(r)))
            .sum();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as i64
    }
}

impl Default for HyperLogLog {
    fn default() -> Self {
        Self::new()
    }
}

/// The `q` quantile of `values` by linear interpolation (DuckDB's
/// `median`/`quantile_cont`).
pub fn quantile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(values[lo] + (values[hi] - values[lo]) * (at - lo as f64))
}

fn floats(arg: &Column, what: &str) -> Result<Vec<Option<f64>>, AnalyticsError> {
    match arg {
        Column::Float(v) => Ok(v.clone()),
        Column::Int(v) => Ok(v.iter().map(|x| x.map(|x| x as f64)).collect()),
        Column::Null(n) => Ok(vec![None; *n]),
        other => Err(AnalyticsError::Invalid(format!(
            "{what}() takes numbers, not {}",
            other.data_type().name()
        ))),
    }
}

fn extreme(arg: &Column, ids: &[u32], groups: usize, max: bool) -> Column {
    match arg {
        Column::Float(values) => {
            let mut out: Vec<Option<f64>> = vec![None; groups];
            for (v, &g) in values.iter().zip(ids) {
                if let Some(v) = v {
                    let o = &mut out[g as usize];
                    if o.is_none_or(|o| if max { *v > o } else { *v < o }) {
                        *o = Some(*v);
                    }
                }
            }
            Column::Float(out)
        }
        Column::Int(values) | Column::Timestamp(values) => {
            let mut out: Vec<Option<i64>> = vec![None; groups];
            for (v, &g) in values.iter().zip(ids) {
                if let Some(v) = v {
                    let o = &mut out[g as usize];
                    if o.is_none_or(|o| if max { *v > o } else { *v < o }) {
                        *o = Some(*v);
                    }
                }
            }
            if matches!(arg, Column::Int(_)) {
                Column::Int(out)
            } else {
                Column::Timestamp(out)
            }
        }
        other => {
            let mut best: Vec<Option<usize>> = vec![None; groups];
            for (i, &g) in ids.iter().enumerate() {
                if other.is_null(i) {
                    continue;
                }
                let b = &mut best[g as usize];
                let better = b.is_none_or(|b| {
                    let o = compare(&other.get(i), &other.get(b));
                    if max { o.is_gt() } else { o.is_lt() }
                });
                if better {
                    *b = Some(i);
                }
            }
            other.gather_optional(&best)
        }
    }
}

fn aggregate_distinct(
    call: &AggCall,
    arg: &Column,
    ids: &[u32],
    groups: usize,
) -> Result<Column, AnalyticsError> {
    let mut seen: HashSet<(u32, Datum)> = HashSet::default();
    let mut keep = vec![false; ids.len()];
    for (i, &g) in ids.iter().enumerate() {
        if !arg.is_null(i) && seen.insert((g, arg.get(i))) {
            keep[i] = true;
        }
    }
    let kept = arg.filter(&keep);
    let kept_ids: Vec<u32> = ids
        .iter()
        .zip(&keep)
        .filter_map(|(g, k)| k.then_some(*g))
        .collect();
    let plain = AggCall {
        distinct: false,
        ..call.clone()
    };
    aggregate(&plain, Some(&kept), &kept_ids, groups)
}

/// The result type of `func` over an argument of `input` type.
pub fn result_type(func: AggFunc, input: DataType) -> DataType {
    match func {
        AggFunc::CountStar | AggFunc::Count | AggFunc::ApproxCountDistinct => DataType::Int,
        AggFunc::Sum if input == DataType::Int => DataType::Int,
        AggFunc::Min | AggFunc::Max | AggFunc::First => input,
        AggFunc::BoolAnd | AggFunc::BoolOr => DataType::Bool,
        _ => DataType::Float,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_counts_and_averages_per_group_skip_nulls() {
        let arg = Column::Int(vec![Some(1), None, Some(3), Some(4)]);
        let ids = [0, 0, 1, 1];
        let call = |func| AggCall {
            func,
            distinct: false,
            arg: Some(0),
            param: None,
        };
        let sum = aggregate(&call(AggFunc::Sum), Some(&arg), &ids, 2).expect("sum");
        assert_eq!(sum.get(0), Datum::Int(1));
        assert_eq!(sum.get(1), Datum::Int(7));
        let count = aggregate(&call(AggFunc::Count), Some(&arg), &ids, 2).expect("count");
        assert_eq!(count.get(0), Datum::Int(1));
        let avg = aggregate(&call(AggFunc::Avg), Some(&arg), &ids, 2).expect("avg");
        assert_eq!(avg.get(1), Datum::Float(3.5));
        let var = aggregate(&call(AggFunc::VarSamp), Some(&arg), &ids, 2).expect("var");
        assert!(var.is_null(0), "one value has no sample variance");
    }

    #[test]
    fn distinct_counts_each_value_once() {
        let arg = Column::Int(vec![Some(1), Some(1), Some(2), None]);
        let call = AggCall {
            func: AggFunc::Count,
            distinct: true,
            arg: Some(0),
            param: None,
        };
        let c = aggregate(&call, Some(&arg), &[0, 0, 0, 0], 1).expect("count");
        assert_eq!(c.get(0), Datum::Int(2));
    }

    #[test]
    fn hyperloglog_counts_within_its_stated_error() {
        for n in [10usize, 1_000, 100_000] {
            let mut sketch = HyperLogLog::new();
            for i in 0..n {
                sketch.insert(&Datum::Int(i as i64));
                sketch.insert(&Datum::Int(i as i64)); // repeats do not count
            }
            let error = (sketch.estimate() as f64 - n as f64).abs() / n as f64;
            // Three standard errors (1.6 % each).
            assert!(
                error < 0.05,
                "{n}: estimate {} ({error})",
                sketch.estimate()
            );
        }
        let mut text = HyperLogLog::new();
        for i in 0..5_000 {
            text.insert(&Datum::Text(std::rc::Rc::from(format!("k{i}"))));
        }
        assert!((text.estimate() - 5_000).abs() < 250, "{}", text.estimate());
    }

    #[test]
    fn medians_interpolate() {
        assert_eq!(quantile(vec![4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        assert_eq!(quantile(vec![], 0.5), None);
    }
}
