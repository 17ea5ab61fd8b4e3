//! Window aggregates over a time-sorted series: tumbling (each point in
//! one window) and sliding (windows of `size` every `step`), by time span
//! or by a number of points. Windows by time are aligned to multiples of
//! their step from the epoch, as DuckDB's `time_bucket` aligns them, and
//! only windows holding a point are reported.

use crate::AnalyticsError;

/// How windows are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// A time span, in the time column's unit (µs for timestamps).
    Time(i64),
    /// A number of points.
    Points(usize),
}

/// One window's aggregates.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRow {
    /// First time covered (a window by points: its first point's time).
    pub start: i64,
    /// End, exclusive (by points: the last point's time).
    pub end: i64,
    /// Points in it.
    pub count: usize,
    /// Their sum.
    pub sum: f64,
    /// Their mean.
    pub avg: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

fn row(start: i64, end: i64, values: &[f64]) -> WindowRow {
    let sum: f64 = values.iter().sum();
    WindowRow {
        start,
        end,
        count: values.len(),
        sum,
        avg: sum / values.len() as f64,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Tumbling windows of `size` over time-sorted `points`.
pub fn tumbling(points: &[(i64, f64)], size: Span) -> Result<Vec<WindowRow>, AnalyticsError> {
    sliding(points, size, size)
}

/// Windows of `size` starting every `step` (both by time or both by
/// points); by points only full windows are reported.
pub fn sliding(
    points: &[(i64, f64)],
    size: Span,
    step: Span,
) -> Result<Vec<WindowRow>, AnalyticsError> {
    let mut out = Vec::new();
    match (size, step) {
        (Span::Time(size), Span::Time(step)) => {
            if size <= 0 || step <= 0 {
                return Err(invalid("window size and step must be positive"));
            }
            let (Some(first), Some(last)) = (points.first(), points.last()) else {
                return Ok(out);
            };
            // The first window reaching the first point, the last starting
            // at or before the last point.
            let mut k = (first.0 - size).div_euclid(step) + 1;
            let k_last = last.0.div_euclid(step);
            let (mut lo, mut hi) = (0, 0);
            let mut values = Vec::new();
            while k <= k_last {
                let start = k * step;
                let end = start + size;
                while lo < points.len() && points[lo].0 < start {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < points.len() && points[hi].0 < end {
                    hi += 1;
                }
                if hi > lo {
                    values.clear();
                    values.extend(points[lo..hi].iter().map(|p| p.1));
                    out.push(row(start, end, &values));
                    k += 1;
                } else if lo < points.len() {
                    // Skip the empty stretch in one move.
                    k = (k + 1).max((points[lo].0 - size).div_euclid(step) + 1);
                } else {
                    break;
                }
            }
        }
        (Span::Points(size), Span::Points(step)) => {
            if size == 0 || step == 0 {
                return Err(invalid("window size and step must be at least 1 point"));
            }
            let tumbling = size == step;
            let mut i = 0;
            while i < points.len() && (tumbling || i + size <= points.len()) {
                let window = &points[i..(i + size).min(points.len())];
                let values: Vec<f64> = window.iter().map(|p| p.1).collect();
                out.push(row(window[0].0, window[window.len() - 1].0, &values));
                i += step;
            }
        }
        _ => {
            return Err(invalid(
                "a window's size and step are both time spans or both point counts",
            ));
        }
    }
    Ok(out)
}

fn invalid(message: &str) -> AnalyticsError {
    AnalyticsError::Invalid(message.to_owned())
}

/// A span as written: `"15m"`, `"1h"`, `"500ms"`, `"2d"`, `"1w"` (for
/// timestamp columns, in µs), a bare number (in the time column's own
/// unit), or `{"points": n}` handled by the caller.
pub fn parse_duration(text: &str, timestamps: bool) -> Result<i64, AnalyticsError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let amount: f64 = number.parse().map_err(|_| {
        AnalyticsError::Invalid(format!(
            "'{text}' is not a span: write a number and a unit such as \"30s\", \"15m\", \"1h\", \"1d\""
        ))
    })?;
    let scale: f64 = match (unit.trim(), timestamps) {
        ("", _) => 1.0,
        ("us", true) => 1.0,
        ("ms", true) => 1e3,
        ("s", true) => 1e6,
        ("m" | "min", true) => 60e6,
        ("h", true) => 3_600e6,
        ("d", true) => 86_400e6,
        ("w", true) => 604_800e6,
        (u, true) => {
            return Err(AnalyticsError::Invalid(format!(
                "unknown unit '{u}' in '{text}': use us, ms, s, m, h, d or w"
            )));
        }
        (_, false) => {
            return Err(AnalyticsError::Invalid(format!(
                "'{text}' has a unit but the time column is numeric: give a plain number in its unit"
            )));
        }
    };
    let value = amount * scale;
    if !(1.0..9.2e18).contains(&value) {
        return Err(AnalyticsError::Invalid(format!(
            "span '{text}' must be positive"
        )));
    }
    Ok(value.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts() -> Vec<(i64, f64)> {
        vec![(1, 1.0), (2, 2.0), (11, 3.0), (35, 4.0)]
    }

    #[test]
    fn tumbling_by_time_reports_only_windows_with_points() -> Result<(), AnalyticsError> {
        let w = tumbling(&pts(), Span::Time(10))?;
        let starts: Vec<i64> = w.iter().map(|r| r.start).collect();
        assert_eq!(starts, [0, 10, 30]);
        assert_eq!((w[0].count, w[0].avg), (2, 1.5));
        Ok(())
    }

    #[test]
    fn sliding_by_time_overlaps() -> Result<(), AnalyticsError> {
        let w = sliding(&pts(), Span::Time(10), Span::Time(5))?;
        let got: Vec<(i64, usize)> = w.iter().map(|r| (r.start, r.count)).collect();
        assert_eq!(got, [(-5, 2), (0, 2), (5, 1), (10, 1), (30, 1), (35, 1)]);
        Ok(())
    }

    #[test]
    fn sliding_by_points_keeps_full_windows() -> Result<(), AnalyticsError> {
        let w = sliding(&pts(), Span::Points(3), Span::Points(1))?;
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].sum, 9.0);
        assert_eq!(
            tumbling(&pts(), Span::Points(3))?.len(),
            2,
            "the last, partial, too"
        );
        Ok(())
    }

    #[test]
    fn spans_read_as_people_write_them() {
        assert_eq!(parse_duration("15m", true), Ok(900_000_000));
        assert_eq!(parse_duration("1.5h", true), Ok(5_400_000_000));
        assert_eq!(parse_duration("7", false), Ok(7));
        assert!(parse_duration("5 parsecs", true).is_err());
        assert!(parse_duration("1h", false).is_err());
        assert!(parse_duration("0s", true).is_err());
    }
}
