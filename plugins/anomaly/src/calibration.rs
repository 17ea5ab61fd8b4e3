//! Turns a model's raw scores into a 0..1 confidence and a verdict, from
//! the distribution of the scores it has recently given to the stream.
//!
//! Confidence is the empirical CDF of the score among the last `capacity`
//! scores; the verdict is "above the (1 - contamination) quantile", which
//! is how scikit-learn sets `IsolationForest.offset_` from `contamination`.

use std::collections::VecDeque;

/// Scores kept for calibration.
const DEFAULT_CAPACITY: usize = 1024;
/// The sorted copy is refreshed after this many new scores.
const RESORT_EVERY: usize = 64;
/// Scores needed before a threshold means anything.
pub const MIN_HISTORY: usize = 64;

/// A rolling score distribution.
#[derive(Clone, Debug)]
pub struct Calibrator {
    recent: VecDeque<f64>,
    sorted: Vec<f64>,
    since_sort: usize,
    capacity: usize,
    contamination: f64,
}

impl Calibrator {
    /// `contamination` is the share of the stream expected to be anomalous.
    pub fn new(contamination: f64) -> Self {
        Self {
            recent: VecDeque::with_capacity(DEFAULT_CAPACITY),
            sorted: Vec::new(),
            since_sort: 0,
            capacity: DEFAULT_CAPACITY,
            contamination: contamination.clamp(1e-4, 0.5),
        }
    }

    /// Changes the expected anomalous share.
    pub fn set_contamination(&mut self, contamination: f64) {
        self.contamination = contamination.clamp(1e-4, 0.5);
    }

    /// Adds a score the model gave to the stream.
    pub fn observe(&mut self, score: f64) {
        if !score.is_finite() {
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(score);
        self.since_sort += 1;
        if self.since_sort >= RESORT_EVERY || self.sorted.len() < RESORT_EVERY {
            self.resort();
        }
    }

    fn resort(&mut self) {
        self.sorted.clear();
        self.sorted.extend(self.recent.iter().copied());
        self.sorted.sort_by(f64::total_cmp);
        self.since_sort = 0;
    }

    /// True once enough scores are in to judge by.
    pub fn is_ready(&self) -> bool {
        self.sorted.len() >= MIN_HISTORY
    }

    /// Share of recent scores at or below `score` (0.5 with no history).
    pub fn confidence(&self, score: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.5;
        }
        let below = self.sorted.partition_point(|s| *s <= score);
        below as f64 / self.sorted.len() as f64
    }

    /// The score above which a sample is called anomalous.
    pub fn threshold(&self) -> f64 {
        if self.sorted.is_empty() {
            return f64::INFINITY;
        }
        let rank = ((1.0 - self.contamination) * self.sorted.len() as f64).floor() as usize;
        self.sorted[rank.min(self.sorted.len() - 1)]
    }

    /// Confidence and verdict for `score`.
    pub fn judge(&self, score: f64) -> (f64, bool) {
        (self.confidence(score), score > self.threshold())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_the_top_share_of_scores() {
        let mut calibrator = Calibrator::new(0.05);
        for i in 0..1000 {
            calibrator.observe(f64::from(i));
        }
        calibrator.resort();
        let threshold = calibrator.threshold();
        assert!((threshold - 950.0).abs() <= 1.0, "{threshold}");
        assert!(calibrator.judge(990.0).1);
        assert!(!calibrator.judge(500.0).1);
        assert!((calibrator.confidence(500.0) - 0.500).abs() < 0.01);
    }
}
