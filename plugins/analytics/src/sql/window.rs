//! Window functions: rows are split by `PARTITION BY`, ordered by
//! `ORDER BY`, and each gets a rank, a neighbour's value or an aggregate
//! over its frame. Running and whole-partition frames are computed in one
//! pass; bounded `ROWS` frames use prefix sums (sum, count, avg) or a
//! scan of the frame (min, max).

use std::cmp::Ordering;

use super::aggregate::{AggFunc, group_ids};
use super::expr::{BExpr, eval};
use super::plan::SortKey;
use crate::AnalyticsError;
use crate::table::Table;
use crate::value::{Column, Datum, compare};

/// What a window call computes.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    Aggregate(AggFunc),
}

/// One end of a frame.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

/// `ROWS` or `RANGE BETWEEN start AND end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// `ROWS` (positions) rather than `RANGE` (peers share a frame end).
    pub rows: bool,
    /// First row.
    pub start: FrameBound,
    /// Last row.
    pub end: FrameBound,
}

impl Frame {
    /// SQL's default: with ORDER BY, from the partition's start to the
    /// current row and its peers; without, the whole partition.
    pub fn default_for(ordered: bool) -> Self {
        Self {
            rows: false,
            start: FrameBound::UnboundedPreceding,
            end: if ordered {
                FrameBound::CurrentRow
            } else {
                FrameBound::UnboundedFollowing
            },
        }
    }
}

/// One window call.
#[derive(Clone, Debug)]
pub struct WindowCall {
    func: WindowFunc,
    args: Vec<BExpr>,
    partition: Vec<BExpr>,
    order: Vec<SortKey>,
    frame: Frame,
    text: String,
}

impl WindowCall {
    /// A call, with its arguments checked.
    pub fn new(
        func: WindowFunc,
        args: Vec<BExpr>,
        partition: Vec<BExpr>,
        order: Vec<SortKey>,
        frame: Frame,
        name: &str,
    ) -> Result<Self, AnalyticsError> {
        let wanted = match func {
            WindowFunc::RowNumber
            | WindowFunc::Rank
            | WindowFunc::DenseRank
            | WindowFunc::PercentRank
            | WindowFunc::Aggregate(AggFunc::CountStar) => 0..=0,
            WindowFunc::Lag | WindowFunc::Lead => 1..=3,
            _ => 1..=1,
        };
        if !wanted.contains(&args.len()) {
            return Err(AnalyticsError::Invalid(format!(
                "{name}() takes {} arguments, not {}",
                if wanted.start() == wanted.end() {
                    wanted.start().to_string()
                } else {
                    format!("{} to {}", wanted.start(), wanted.end())
                },
                args.len()
            )));
        }
        Ok(Self {
            func,
            args,
            partition,
            order,
            frame,
            text: name.to_owned(),
        })
    }

    /// A short form for `EXPLAIN`.
    pub fn describe(&self) -> String {
        format!(
            "{}(partition by {} keys, order by {} keys, {:?})",
            self.text,
            self.partition.len(),
            self.order.len(),
            self.frame
        )
    }

    /// The call's value for every row of `table`.
    pub fn eval(&self, table: &Table) -> Result<Column, AnalyticsError> {
        let n = table.rows;
        let keys: Vec<Column> = self
            .partition
            .iter()
            .map(|k| eval(k, table).map(std::borrow::Cow::into_owned))
            .collect::<Result<_, _>>()?;
        let (ids, _, _) = group_ids(&keys.iter().collect::<Vec<_>>(), n);
        let order: Vec<Column> = self
            .order
            .iter()
            .map(|k| eval(&k.expr, table).map(std::borrow::Cow::into_owned))
            .collect::<Result<_, _>>()?;
        let args: Vec<Column> = self
            .args
            .iter()
            .map(|a| eval(a, table).map(std::borrow::Cow::into_owned))
            .collect::<Result<_, _>>()?;
        // Rows by partition, then by the window's order (stable, so ties
        // keep their input order as DuckDB's do for a sorted input).
        let mut rows: Vec<usize> = (0..n).collect();
        match (order.as_slice(), self.order.as_slice()) {
            // One integer order key: compare raw values, NULLs placed once.
            ([Column::Int(v) | Column::Timestamp(v)], [key]) => {
                let rank = |x: Option<i64>| match x {
                    None if key.nulls_first => (0u8, 0i64),
                    None => (2, 0),
                    Some(x) if key.descending => (1, !x),
                    Some(x) => (1, x),
                };
                // Sorting packed keys (the row last, so ties keep input
                // order) beats a comparator that chases two arrays.
                let mut packed: Vec<(u32, (u8, i64), u32)> =
                    (0..n).map(|r| (ids[r], rank(v[r]), r as u32)).collect();
                packed.sort_unstable();
                rows = packed.into_iter().map(|(_, _, r)| r as usize).collect();
            }
            _ => rows.sort_by(|&a, &b| {
                ids[a]
                    .cmp(&ids[b])
                    .then_with(|| order_rows(&order, &self.order, a, b))
            }),
        }
        let mut out = vec![Datum::Null; n];
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && ids[rows[end]] == ids[rows[start]] {
                end += 1;
            }
            self.partition_values(&rows[start..end], &order, &args, &mut out)?;
            start = end;
        }
        Ok(Column::from_datums(&out))
    }

    fn partition_values(
        &self,
        rows: &[usize],
        order: &[Column],
        args: &[Column],
        out: &mut [Datum],
    ) -> Result<(), AnalyticsError> {
        let n = rows.len();
        let peers = |i: usize, j: usize| {
            order
                .iter()
                .all(|c| compare(&c.get(rows[i]), &c.get(rows[j])) == Ordering::Equal)
        };
        // The last position of each row's peer group.
        // Only ranks and RANGE frames care who the peers are; for the rest
        // every row is its own group and no keys are compared.
        let needs_peers = matches!(
            self.func,
            WindowFunc::Rank | WindowFunc::DenseRank | WindowFunc::PercentRank
        ) || (!self.frame.rows && !order.is_empty());
        let mut peer_end: Vec<usize> = (0..n).collect();
        let mut i = if needs_peers { n } else { 0 };
        while i > 0 {
            i -= 1;
            peer_end[i] = if i + 1 < n && peers(i, i + 1) {
                peer_end[i + 1]
            } else {
                i
            };
        }
        match self.func {
            WindowFunc::RowNumber => {
                for (p, &r) in rows.iter().enumerate() {
                    out[r] = Datum::Int(p as i64 + 1);
                }
            }
            WindowFunc::Rank | WindowFunc::DenseRank | WindowFunc::PercentRank => {
                let (mut rank, mut dense) = (1i64, 1i64);
                for p in 0..n {
                    if p > 0 && !peers(p - 1, p) {
                        rank = p as i64 + 1;
                        dense += 1;
                    }
                    out[rows[p]] = match self.func {
                        WindowFunc::Rank => Datum::Int(rank),
                        WindowFunc::DenseRank => Datum::Int(dense),
                        _ => Datum::Float(if n > 1 {
                            (rank - 1) as f64 / (n - 1) as f64
                        } else {
                            0.0
                        }),
                    };
                }
            }
            WindowFunc::Ntile => {
                let buckets = args[0].get(rows[0]).as_f64().unwrap_or(1.0).max(1.0) as usize;
                let (size, extra) = (n / buckets, n % buckets);
                let mut p = 0;
                for b in 0..buckets.min(n) {
                    let len = size + usize::from(b < extra);
                    for _ in 0..len {
                        out[rows[p]] = Datum::Int(b as i64 + 1);
                        p += 1;
                    }
                }
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = args
                    .get(1)
                    .map(|c| c.get(rows[0]).as_f64().unwrap_or(1.0) as i64)
                    .unwrap_or(1);
                let offset = if self.func == WindowFunc::Lag {
                    -offset
                } else {
                    offset
                };
                for p in 0..n {
                    let q = p as i64 + offset;
                    out[rows[p]] = if q >= 0 && (q as usize) < n {
                        args[0].get(rows[q as usize])
                    } else {
                        args.get(2).map_or(Datum::Null, |d| d.get(rows[p]))
                    };
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue => {
                for p in 0..n {
                    let (lo, hi) = self.bounds(p, n, &peer_end);
                    out[rows[p]] = if lo > hi {
                        Datum::Null
                    } else if self.func == WindowFunc::FirstValue {
                        args[0].get(rows[lo])
                    } else {
                        args[0].get(rows[hi])
                    };
                }
            }
            WindowFunc::Aggregate(func) => {
                self.frame_aggregate(func, rows, args.first(), &peer_end, out)?
            }
        }
        Ok(())
    }

    /// Positions `lo..=hi` of row `p`'s frame (empty when `lo > hi`).
    fn bounds(&self, p: usize, n: usize, peer_end: &[usize]) -> (usize, usize) {
        let lo = match self.frame.start {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(k) => p.saturating_sub(k as usize),
            FrameBound::CurrentRow if self.frame.rows => p,
            // RANGE CURRENT ROW starts at the first peer.
            FrameBound::CurrentRow => {
                let mut q = p;
                while q > 0 && peer_end[q - 1] == peer_end[p] {
                    q -= 1;
                }
                q
            }
            FrameBound::Following(k) => p + k as usize,
            FrameBound::UnboundedFollowing => n,
        };
        let hi = match self.frame.end {
            FrameBound::UnboundedFollowing => n - 1,
            FrameBound::Following(k) => (p + k as usize).min(n - 1),
            FrameBound::CurrentRow if self.frame.rows => p,
            FrameBound::CurrentRow => peer_end[p],
            FrameBound::Preceding(k) => match p.checked_sub(k as usize) {
                Some(h) => h,
                None => return (1, 0),
            },
            FrameBound::UnboundedPreceding => return (1, 0),
        };
        (lo, hi)
    }

    fn frame_aggregate(
        &self,
        func: AggFunc,
        rows: &[usize],
        arg: Option<&Column>,
        peer_end: &[usize],
        out: &mut [Datum],
    ) -> Result<(), AnalyticsError> {
        let n = rows.len();
        let values: Vec<Datum> = match arg {
            Some(c) => rows.iter().map(|&r| c.get(r)).collect(),
            None => vec![Datum::Int(1); n],
        };
        let integers = values
            .iter()
            .all(|v| matches!(v, Datum::Int(_) | Datum::Null));
        // Prefix counts and sums make any frame O(1).
        let mut counts = vec![0i64; n + 1];
        let mut sums = vec![0f64; n + 1];
        let mut int_sums = vec![0i128; n + 1];
        for (p, v) in values.iter().enumerate() {
            counts[p + 1] = counts[p] + i64::from(!v.is_null());
            if matches!(func, AggFunc::Sum | AggFunc::Avg) {
                let x = v.as_f64();
                if !v.is_null() && x.is_none() {
                    return Err(AnalyticsError::Invalid(format!(
                        "{func:?} over a window takes numbers, not {}",
                        v.render()
                    )));
                }
                sums[p + 1] = sums[p] + x.unwrap_or(0.0);
                int_sums[p + 1] = int_sums[p]
                    + match v {
                        Datum::Int(i) => i128::from(*i),
                        _ => 0,
                    };
            }
        }
        // Min and max over frames that start at the partition's first row
        // (or end at its last) are running extremes, not rescans.
        let better = |v: &Datum, b: &Datum| {
            let o = compare(v, b);
            if func == AggFunc::Max {
                o.is_gt()
            } else {
                o.is_lt()
            }
        };
        let extremes = |forward: bool| -> Vec<Datum> {
            let mut acc = vec![Datum::Null; n];
            let mut best = Datum::Null;
            let order: Box<dyn Iterator<Item = usize>> = if forward {
                Box::new(0..n)
            } else {
                Box::new((0..n).rev())
            };
            for p in order {
                let v = &values[p];
                if !v.is_null() && (best.is_null() || better(v, &best)) {
                    best = v.clone();
                }
                acc[p] = best.clone();
            }
            acc
        };
        let is_extreme = matches!(func, AggFunc::Min | AggFunc::Max);
        let prefix = (is_extreme && self.frame.start == FrameBound::UnboundedPreceding)
            .then(|| extremes(true));
        let suffix =
            (is_extreme && prefix.is_none() && self.frame.end == FrameBound::UnboundedFollowing)
                .then(|| extremes(false));
        for p in 0..n {
            let (lo, hi) = self.bounds(p, n, peer_end);
            if lo <= hi && lo < n {
                if let Some(acc) = &prefix {
                    out[rows[p]] = acc[hi].clone();
                    continue;
                }
                if let Some(acc) = &suffix {
                    out[rows[p]] = acc[lo].clone();
                    continue;
                }
            }
            let value = if lo > hi || lo >= n {
                match func {
                    AggFunc::Count | AggFunc::CountStar => Datum::Int(0),
                    _ => Datum::Null,
                }
            } else {
                let count = counts[hi + 1] - counts[lo];
                match func {
                    AggFunc::CountStar => Datum::Int((hi + 1 - lo) as i64),
                    AggFunc::Count => Datum::Int(count),
                    _ if count == 0 => Datum::Null,
                    AggFunc::Sum if integers => {
                        let s = int_sums[hi + 1] - int_sums[lo];
                        i64::try_from(s).map_or(Datum::Float(s as f64), Datum::Int)
                    }
                    AggFunc::Sum => Datum::Float(sums[hi + 1] - sums[lo]),
                    AggFunc::Avg => Datum::Float((sums[hi + 1] - sums[lo]) / count as f64),
                    _ => {
                        let mut best: Option<&Datum> = None;
                        for v in values[lo..=hi].iter().filter(|v| !v.is_null()) {
                            if best.is_none_or(|b| better(v, b)) {
                                best = Some(v);
                            }
                        }
                        best.cloned().unwrap_or(Datum::Null)
                    }
                }
            };
            out[rows[p]] = value;
        }
        Ok(())
    }
}

/// Compares rows `a` and `b` by sort keys (NULLs last unless asked).
pub fn order_rows(columns: &[Column], keys: &[SortKey], a: usize, b: usize) -> Ordering {
    for (c, k) in columns.iter().zip(keys) {
        let (x, y) = (c.get(a), c.get(b));
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = compare(&x, &y);
                if k.descending { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}
