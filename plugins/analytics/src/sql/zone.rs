//! Zone maps: from a filter directly over a scan, the ranges its
//! conjuncts put on numeric and timestamp columns (`value > 40`,
//! `ts BETWEEN …`, `id = 7`), which a catalog checks against each chunk's
//! min and max (`weft:host@0.2.2` `chunk-stats`) to skip chunks no row of
//! which can pass. The filter still runs on every chunk read, so a range
//! only decides what is read, never what is answered.

use std::fmt;

use super::expr::{BExpr, BinOp};
use crate::value::Datum;

/// What a filter requires of one column: `lo ≤ x ≤ hi` (each bound
/// inclusive or not).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// The scan column.
    pub column: String,
    /// Lower bound and whether it is inclusive.
    pub lo: Option<(f64, bool)>,
    /// Upper bound and whether it is inclusive.
    pub hi: Option<(f64, bool)>,
}

impl Range {
    /// Whether a chunk whose non-null values lie in `[min, max]` may hold
    /// a row in range (no statistics: it may).
    pub fn may_match(&self, min: Option<f64>, max: Option<f64>) -> bool {
        // No figures (a text column, or only NULLs): read it.
        let (Some(min), Some(max)) = (min, max) else {
            return true;
        };
        if let Some((lo, inclusive)) = self.lo
            && (max < lo || (!inclusive && max == lo))
        {
            return false;
        }
        if let Some((hi, inclusive)) = self.hi
            && (min > hi || (!inclusive && min == hi))
        {
            return false;
        }
        true
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (Some((lo, li)), Some((hi, hi_inc))) => write!(
                f,
                "{lo} {} {} {} {hi}",
                if li { "<=" } else { "<" },
                self.column,
                if hi_inc { "<=" } else { "<" }
            ),
            (Some((lo, li)), None) => {
                write!(f, "{} {} {lo}", self.column, if li { ">=" } else { ">" })
            }
            (None, Some((hi, hi_inc))) => write!(
                f,
                "{} {} {hi}",
                self.column,
                if hi_inc { "<=" } else { "<" }
            ),
            (None, None) => write!(f, "{}", self.column),
        }
    }
}

fn number(d: &Datum) -> Option<f64> {
    match d {
        Datum::Int(v) | Datum::Timestamp(v) => Some(*v as f64),
        Datum::Float(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// The ranges `predicate` (over a scan of `columns`) implies, one per
/// column, from its top-level `AND`s; an `OR` or anything else adds none.
pub fn ranges(predicate: &BExpr, columns: &[String]) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    collect(predicate, columns, &mut out);
    out
}

fn collect(e: &BExpr, columns: &[String], out: &mut Vec<Range>) {
    let BExpr::Binary(l, op, r) = e else {
        return;
    };
    if *op == BinOp::And {
        collect(l, columns, out);
        collect(r, columns, out);
        return;
    }
    // column op literal, or literal op column (flipped).
    let (index, op, value) = match (l.as_ref(), r.as_ref()) {
        (BExpr::Column(i, _), BExpr::Literal(d)) => (*i, *op, d),
        (BExpr::Literal(d), BExpr::Column(i, _)) => {
            let flipped = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::LtEq => BinOp::GtEq,
                BinOp::Gt => BinOp::Lt,
                BinOp::GtEq => BinOp::LtEq,
                other => *other,
            };
            (*i, flipped, d)
        }
        _ => return,
    };
    let (Some(column), Some(x)) = (columns.get(index), number(value)) else {
        return;
    };
    let (lo, hi) = match op {
        BinOp::Eq => (Some((x, true)), Some((x, true))),
        BinOp::Gt => (Some((x, false)), None),
        BinOp::GtEq => (Some((x, true)), None),
        BinOp::Lt => (None, Some((x, false))),
        BinOp::LtEq => (None, Some((x, true))),
        _ => return,
    };
    let range = match out.iter_mut().find(|r| &r.column == column) {
        Some(r) => r,
        None => {
            out.push(Range {
                column: column.clone(),
                lo: None,
                hi: None,
            });
            let last = out.len() - 1;
            &mut out[last]
        }
    };
    // Intersect: the tighter bound wins.
    if let Some(new) = lo {
        range.lo = Some(match range.lo {
            Some(old) if old.0 > new.0 || (old.0 == new.0 && !old.1) => old,
            _ => new,
        });
    }
    if let Some(new) = hi {
        range.hi = Some(match range.hi {
            Some(old) if old.0 < new.0 || (old.0 == new.0 && !old.1) => old,
            _ => new,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(i: usize) -> Box<BExpr> {
        Box::new(BExpr::Column(i, format!("c{i}")))
    }

    fn lit(v: i64) -> Box<BExpr> {
        Box::new(BExpr::Literal(Datum::Int(v)))
    }

    #[test]
    fn conjuncts_narrow_one_range_per_column() {
        let p = BExpr::Binary(
            Box::new(BExpr::Binary(col(1), BinOp::Gt, lit(10))),
            BinOp::And,
            Box::new(BExpr::Binary(
                Box::new(BExpr::Binary(lit(20), BinOp::GtEq, col(1))),
                BinOp::And,
                Box::new(BExpr::Binary(col(1), BinOp::GtEq, lit(5))),
            )),
        );
        let columns = vec!["a".to_owned(), "b".to_owned()];
        let r = ranges(&p, &columns);
        assert_eq!(
            r,
            [Range {
                column: "b".into(),
                lo: Some((10.0, false)),
                hi: Some((20.0, true))
            }]
        );
        assert!(!r[0].may_match(Some(0.0), Some(10.0)), "10 is excluded");
        assert!(r[0].may_match(Some(0.0), Some(10.5)));
        assert!(!r[0].may_match(Some(20.5), Some(30.0)));
        assert!(r[0].may_match(None, None), "no statistics: read it");
        let or = BExpr::Binary(
            Box::new(BExpr::Binary(col(0), BinOp::Gt, lit(1))),
            BinOp::Or,
            Box::new(BExpr::Binary(col(0), BinOp::Lt, lit(0))),
        );
        assert!(ranges(&or, &columns).is_empty(), "an OR bounds nothing");
    }
}
