//! Robust z-scores: distance from the window's median in units of its
//! median absolute deviation (`1.4826·MAD` estimates σ for normal data).
//! The modified z-score of Iglewicz & Hoaglin flags `|z| > 3.5`.

use std::collections::VecDeque;

/// Refresh the medians after this many new rows: recomputing them on every
/// row would cost O(w) per row for almost no change.
const REFRESH_EVERY: usize = 32;

/// Per-feature median and MAD over a sliding window; a row's score is its
/// largest |z| over the features.
#[derive(Clone, Debug)]
pub struct RobustZ {
    window: usize,
    warmup: usize,
    rows: VecDeque<Vec<f64>>,
    median: Vec<f64>,
    spread: Vec<f64>,
    since_refresh: usize,
}

/// The conventional cut-off.
pub const Z_THRESHOLD: f64 = 3.5;

impl RobustZ {
    /// Median over the last `window` rows; fitted after `warmup` rows.
    pub fn new(window: usize, warmup: usize) -> Self {
        Self {
            window: window.max(8),
            warmup: warmup.clamp(8, window.max(8)),
            rows: VecDeque::new(),
            median: Vec::new(),
            spread: Vec::new(),
            since_refresh: 0,
        }
    }

    /// True once `warmup` rows are in.
    pub fn is_fitted(&self) -> bool {
        !self.median.is_empty()
    }

    /// Largest robust |z| over the features; `None` during warm-up.
    pub fn score(&self, row: &[f64]) -> Option<f64> {
        if !self.is_fitted() {
            return None;
        }
        Some(
            row.iter()
                .zip(self.median.iter().zip(&self.spread))
                .map(|(v, (m, s))| (v - m).abs() / s)
                .fold(0.0, f64::max),
        )
    }

    /// Adds `row` to the window.
    pub fn learn(&mut self, row: &[f64]) {
        if self.rows.len() == self.window {
            self.rows.pop_front();
        }
        self.rows.push_back(row.to_vec());
        self.since_refresh += 1;
        let first = self.median.is_empty() && self.rows.len() >= self.warmup;
        if first || (!self.median.is_empty() && self.since_refresh >= REFRESH_EVERY) {
            self.refresh();
        }
    }

    fn refresh(&mut self) {
        let width = self.rows.front().map_or(0, Vec::len);
        let mut column = Vec::with_capacity(self.rows.len());
        self.median.clear();
        self.spread.clear();
        for j in 0..width {
            column.clear();
            column.extend(self.rows.iter().map(|r| r.get(j).copied().unwrap_or(0.0)));
            let median = median_of(&mut column);
            for v in column.iter_mut() {
                *v = (*v - median).abs();
            }
            let mad = median_of(&mut column);
            self.median.push(median);
            // A constant feature would divide by zero; any change is then news.
            self.spread.push((1.4826 * mad).max(1e-9));
        }
        self.since_refresh = 0;
    }
}

/// Median, reordering `values` (selection, O(n)).
pub fn median_of(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (below, middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *middle;
    if n % 2 == 1 {
        upper
    } else {
        // The lower middle is the largest value below the upper one.
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_a_known_set() {
        let mut z = RobustZ::new(8, 8);
        for v in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 100.0] {
            z.learn(&[v]);
        }
        // median 4.5; deviations 3.5 2.5 1.5 .5 .5 1.5 2.5 95.5 → MAD 2.0
        let score = z.score(&[10.5]).expect("fitted");
        assert!((score - 6.0 / (1.4826 * 2.0)).abs() < 1e-12, "{score}");
    }
}
