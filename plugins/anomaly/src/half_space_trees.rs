//! Half-Space Trees (Tan, Ting & Liu, 2011), scored as river's
//! `anomaly.HalfSpaceTrees` does.
//!
//! Each tree halves a randomly perturbed work space on a random feature at
//! every level. Mass is counted in two alternating windows: the reference
//! window (`r`) scores, the latest window (`l`) learns, and they swap every
//! `window` rows. Features are scaled to 0..1 with limits taken from the
//! first window (plus a margin), so the first window is warm-up.

/// Settings of the ensemble.
#[derive(Clone, Debug)]
pub struct HalfSpaceConfig {
    /// Trees (river's default: 10).
    pub trees: usize,
    /// Depth of each tree (river's default: 8).
    pub height: usize,
    /// Rows per mass window (river's default: 250).
    pub window: usize,
    /// Seed of the work spaces and split features.
    pub seed: u64,
}

impl Default for HalfSpaceConfig {
    fn default() -> Self {
        Self {
            trees: 10,
            height: 8,
            window: 250,
            seed: 42,
        }
    }
}

/// A full binary tree in heap order: children of `i` are `2i+1`, `2i+2`.
#[derive(Clone, Debug)]
struct Tree {
    feature: Vec<usize>,
    split: Vec<f64>,
    reference_mass: Vec<u32>,
    latest_mass: Vec<u32>,
}

/// The ensemble.
#[derive(Clone, Debug)]
pub struct HalfSpaceTrees {
    config: HalfSpaceConfig,
    trees: Vec<Tree>,
    limits: Vec<(f64, f64)>,
    warmup: Vec<Vec<f64>>,
    in_window: usize,
    windows_done: usize,
}

impl HalfSpaceTrees {
    /// An untrained ensemble.
    pub fn new(config: HalfSpaceConfig) -> Self {
        Self {
            config,
            trees: Vec::new(),
            limits: Vec::new(),
            warmup: Vec::new(),
            in_window: 0,
            windows_done: 0,
        }
    }

    /// True once a reference window has been counted.
    pub fn is_fitted(&self) -> bool {
        self.windows_done > 0
    }

    fn internal_nodes(&self) -> usize {
        (1usize << self.config.height) - 1
    }

    fn scale(&self, row: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.limits.iter().enumerate().map(|(j, &(low, high))| {
            let v = row.get(j).copied().unwrap_or(0.0);
            (v - low) / (high - low)
        }));
    }

    /// Builds the trees once the limits are known.
    fn build(&mut self) {
        let width = self.limits.len();
        let mut rng = fastrand::Rng::with_seed(self.config.seed);
        let internal = self.internal_nodes();
        let total = 2 * internal + 1;
        self.trees = (0..self.config.trees.max(1))
            .map(|_| {
                // The perturbed work space of Tan et al.: centred on a random
                // point, wide enough to hold all of 0..1.
                let mut low = Vec::with_capacity(width);
                let mut high = Vec::with_capacity(width);
                for _ in 0..width {
                    let s = rng.f64();
                    let r = 2.0 * s.max(1.0 - s);
                    low.push(s - r);
                    high.push(s + r);
                }
                let mut feature = vec![0; internal];
                let mut split = vec![0.0; internal];
                // Each internal node's range, kept per node (heap order).
                let mut ranges: Vec<(Vec<f64>, Vec<f64>)> = vec![(low, high)];
                ranges.reserve(total);
                for node in 0..internal {
                    let (node_low, node_high) = ranges[node].clone();
                    let f = rng.usize(..width);
                    let mid = (node_low[f] + node_high[f]) / 2.0;
                    feature[node] = f;
                    split[node] = mid;
                    let mut left_high = node_high.clone();
                    left_high[f] = mid;
                    let mut right_low = node_low.clone();
                    right_low[f] = mid;
                    ranges.push((node_low, left_high));
                    ranges.push((right_low, node_high));
                }
                Tree {
                    feature,
                    split,
                    reference_mass: vec![0; total],
                    latest_mass: vec![0; total],
                }
            })
            .collect();
    }

    /// river's score: `1 - Σ r_mass·2^depth / max`, higher is more
    /// anomalous, in 0..1. `None` before the first reference window.
    pub fn score(&self, row: &[f64]) -> Option<f64> {
        if !self.is_fitted() {
            return None;
        }
        let mut scaled = Vec::with_capacity(self.limits.len());
        self.scale(row, &mut scaled);
        let size_limit = 0.1 * self.config.window as f64;
        let internal = self.internal_nodes();
        let mut total = 0.0;
        for tree in &self.trees {
            let mut node = 0;
            let mut depth = 0;
            loop {
                let mass = f64::from(tree.reference_mass[node]);
                total += mass * f64::from(1u32 << depth.min(31));
                if mass < size_limit || node >= internal {
                    break;
                }
                node = if scaled[tree.feature[node]] < tree.split[node] {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
                depth += 1;
            }
        }
        let max_score = self.trees.len() as f64
            * self.config.window as f64
            * ((1u64 << (self.config.height + 1)) - 1) as f64;
        Some(1.0 - total / max_score)
    }

    /// Counts `row` in the latest window; swaps windows when it is full.
    pub fn learn(&mut self, row: &[f64]) {
        if self.trees.is_empty() {
            self.warmup.push(row.to_vec());
            if self.warmup.len() < self.config.window.max(2) {
                return;
            }
            self.limits = limits_of(&self.warmup);
            self.build();
            let warmup = std::mem::take(&mut self.warmup);
            for row in &warmup {
                self.count(row);
            }
            return;
        }
        self.count(row);
    }

    fn count(&mut self, row: &[f64]) {
        let mut scaled = Vec::with_capacity(self.limits.len());
        self.scale(row, &mut scaled);
        let internal = self.internal_nodes();
        for tree in &mut self.trees {
            let mut node = 0;
            loop {
                tree.latest_mass[node] += 1;
                if node >= internal {
                    break;
                }
                node = if scaled[tree.feature[node]] < tree.split[node] {
                    2 * node + 1
                } else {
                    2 * node + 2
                };
            }
        }
        self.in_window += 1;
        if self.in_window >= self.config.window.max(1) {
            for tree in &mut self.trees {
                std::mem::swap(&mut tree.reference_mass, &mut tree.latest_mass);
                tree.latest_mass.fill(0);
            }
            self.in_window = 0;
            self.windows_done += 1;
        }
    }
}

/// Per-feature range of `rows`, widened by 10% on each side so that the
/// stream may wander a little past what the first window saw.
fn limits_of(rows: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let width = rows.first().map_or(0, Vec::len);
    (0..width)
        .map(|j| {
            let (low, high) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| {
                    (l.min(r[j]), h.max(r[j]))
                });
            let span = (high - low).max(1e-9);
            (low - 0.1 * span, high + 0.1 * span)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_outliers_higher_after_the_first_window() {
        let mut trees = HalfSpaceTrees::new(HalfSpaceConfig::default());
        let mut rng = fastrand::Rng::with_seed(3);
        for i in 0..600 {
            assert_eq!(trees.is_fitted(), i >= 250, "row {i}");
            trees.learn(&[rng.f64(), rng.f64() * 0.2]);
        }
        let inlier = trees.score(&[0.5, 0.1]).expect("fitted");
        let outlier = trees.score(&[0.5, 0.9]).expect("fitted");
        assert!(outlier > inlier + 0.05, "{outlier} vs {inlier}");
        assert!((0.0..=1.0).contains(&inlier));
    }
}
