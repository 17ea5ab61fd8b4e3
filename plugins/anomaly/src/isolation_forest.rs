//! Isolation forest (Liu, Ting & Zhou, 2008) refitted over a sliding
//! window: the streaming variant keeps the last `window` rows and grows a
//! fresh forest from them every `refit_every` rows.

use std::collections::VecDeque;

/// Settings of the forest.
#[derive(Clone, Debug)]
pub struct ForestConfig {
    /// Trees in the forest.
    pub trees: usize,
    /// Rows each tree is grown from (ψ in the paper).
    pub sample_size: usize,
    /// Rows kept to grow the forest from.
    pub window: usize,
    /// Refit after this many new rows.
    pub refit_every: usize,
    /// Seed of the row and split sampling.
    pub seed: u64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        Self {
            trees: 100,
            sample_size: 256,
            window: 1024,
            refit_every: 256,
            seed: 42,
        }
    }
}

/// One node in 16 bytes. Nodes are stored in preorder, so a split's left
/// child is the next node and only the right child's index is kept.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// Split threshold, or for a leaf `c(size)` (precomputed, so scoring
    /// needs no logarithm).
    value: f64,
    /// Split feature; [`LEAF`] for a leaf.
    feature: u32,
    /// Index of the right child.
    right: u32,
}

const LEAF: u32 = u32::MAX;

/// One isolation tree, nodes in preorder (root first).
#[derive(Clone, Debug)]
struct Tree {
    nodes: Vec<Node>,
}

/// Average path length of an unsuccessful search in a binary search tree
/// of `n` items: the normaliser `c(n)` of the paper.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// The rows a tree grows from, copied next to each other (cache-friendly).
struct Sample<'a> {
    values: &'a [f64],
    width: usize,
}

impl Sample<'_> {
    fn get(&self, row: usize, feature: usize) -> f64 {
        self.values[row * self.width + feature]
    }
}

impl Tree {
    fn grow(
        sample: &Sample<'_>,
        rows: usize,
        height_limit: usize,
        rng: &mut fastrand::Rng,
    ) -> Self {
        let mut tree = Self {
            nodes: Vec::with_capacity(2 * rows),
        };
        let mut indices: Vec<usize> = (0..rows).collect();
        let mut features: Vec<usize> = (0..sample.width).collect();
        tree.build(sample, &mut indices, 0, height_limit, rng, &mut features);
        tree
    }

    /// As in the paper: a random feature (one that still varies in this
    /// node; constant ones are skipped), split uniformly between its
    /// minimum and maximum. O(rows in the node) for the usual first try.
    fn build(
        &mut self,
        sample: &Sample<'_>,
        indices: &mut [usize],
        depth: usize,
        height_limit: usize,
        rng: &mut fastrand::Rng,
        features: &mut [usize],
    ) {
        let id = self.nodes.len();
        self.nodes.push(Node {
            value: average_path_length(indices.len()),
            feature: LEAF,
            right: 0,
        });
        if depth >= height_limit || indices.len() <= 1 {
            return;
        }
        // Draw features without replacement until one varies.
        let mut chosen = None;
        for tried in 0..features.len() {
            let pick = tried + rng.usize(..features.len() - tried);
            features.swap(tried, pick);
            let feature = features[tried];
            let (low, high) =
                indices
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &i| {
                        let v = sample.get(i, feature);
                        (low.min(v), high.max(v))
                    });
            if high > low {
                chosen = Some((feature, low, high));
                break;
            }
        }
        let Some((feature, low, high)) = chosen else {
            return;
        };
        let value = low + rng.f64() * (high - low);
        let mut split = 0;
        for k in 0..indices.len() {
            if sample.get(indices[k], feature) < value {
                indices.swap(k, split);
                split += 1;
            }
        }
        let (left_rows, right_rows) = indices.split_at_mut(split);
        self.build(sample, left_rows, depth + 1, height_limit, rng, features);
        let right = self.nodes.len();
        self.build(sample, right_rows, depth + 1, height_limit, rng, features);
        self.nodes[id] = Node {
            value,
            feature: u32::try_from(feature).unwrap_or(LEAF - 1),
            right: u32::try_from(right).unwrap_or(0),
        };
    }

    fn path_length(&self, row: &[f64]) -> f64 {
        let mut index = 0;
        let mut depth = 0.0;
        loop {
            let node = self.nodes[index];
            if node.feature == LEAF {
                return depth + node.value;
            }
            let v = row.get(node.feature as usize).copied().unwrap_or(0.0);
            index = if v < node.value {
                index + 1
            } else {
                node.right as usize
            };
            depth += 1.0;
        }
    }
}

/// A forest over a sliding window.
#[derive(Clone, Debug)]
pub struct StreamingForest {
    config: ForestConfig,
    window: VecDeque<Vec<f64>>,
    trees: Vec<Tree>,
    fitted_on: usize,
    since_fit: usize,
    rng: fastrand::Rng,
}

impl StreamingForest {
    /// An empty forest; it fits once `sample_size` rows have been learned.
    pub fn new(config: ForestConfig) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        Self {
            window: VecDeque::with_capacity(config.window),
            config,
            trees: Vec::new(),
            fitted_on: 0,
            since_fit: 0,
            rng,
        }
    }

    /// True once a forest has been grown.
    pub fn is_fitted(&self) -> bool {
        !self.trees.is_empty()
    }

    /// Rows in the window.
    pub fn window_len(&self) -> usize {
        self.window.len()
    }

    /// Anomaly score `s(x) = 2^(-E[h(x)] / c(ψ))` in (0, 1]; about 0.5 or
    /// less for ordinary rows, near 1 for isolated ones. `None` before the
    /// first fit.
    pub fn score(&self, row: &[f64]) -> Option<f64> {
        if self.trees.is_empty() {
            return None;
        }
        let mean_path =
            self.trees.iter().map(|t| t.path_length(row)).sum::<f64>() / self.trees.len() as f64;
        let normaliser = average_path_length(self.fitted_on).max(f64::MIN_POSITIVE);
        Some(2f64.powf(-mean_path / normaliser))
    }

    /// Adds `row` to the window; refits when due. Returns true if it refit.
    pub fn learn(&mut self, row: &[f64]) -> bool {
        if self.window.len() == self.config.window.max(2) {
            self.window.pop_front();
        }
        self.window.push_back(row.to_vec());
        self.since_fit += 1;
        let first = self.trees.is_empty() && self.window.len() >= self.config.sample_size.max(2);
        let due = !self.trees.is_empty() && self.since_fit >= self.config.refit_every.max(1);
        if first || due {
            self.fit();
            return true;
        }
        false
    }

    /// Grows a fresh forest from the window.
    pub fn fit(&mut self) {
        let count = self.window.len();
        if count < 2 {
            return;
        }
        let width = self.window.front().map_or(0, Vec::len);
        let sample_size = self.config.sample_size.clamp(2, count);
        let height_limit = (sample_size as f64).log2().ceil() as usize;
        let mut trees = Vec::with_capacity(self.config.trees);
        let mut picks: Vec<usize> = (0..count).collect();
        let mut values = Vec::with_capacity(sample_size * width);
        for _ in 0..self.config.trees.max(1) {
            // Partial Fisher–Yates: the first `sample_size` are a uniform
            // sample without replacement.
            for k in 0..sample_size {
                let j = k + self.rng.usize(..count - k);
                picks.swap(k, j);
            }
            values.clear();
            for &i in &picks[..sample_size] {
                values.extend_from_slice(&self.window[i]);
            }
            let sample = Sample {
                values: &values,
                width,
            };
            trees.push(Tree::grow(
                &sample,
                sample_size,
                height_limit,
                &mut self.rng,
            ));
        }
        self.trees = trees;
        self.fitted_on = sample_size;
        self.since_fit = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normaliser_matches_the_paper() {
        // c(256) from the paper's formula, computed independently.
        let h255 = (255f64).ln() + 0.5772156649015329;
        let expected = 2.0 * h255 - 2.0 * 255.0 / 256.0;
        assert!((average_path_length(256) - expected).abs() < 1e-12);
        assert_eq!(average_path_length(1), 0.0);
    }

    #[test]
    fn isolates_an_outlier() {
        let mut forest = StreamingForest::new(ForestConfig::default());
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..600 {
            forest.learn(&[rng.f64(), rng.f64()]);
        }
        let inlier = forest.score(&[0.5, 0.5]).expect("fitted");
        let outlier = forest.score(&[5.0, -4.0]).expect("fitted");
        assert!(outlier > 0.6, "{outlier}");
        assert!(inlier < 0.5, "{inlier}");
    }

    #[test]
    fn unfitted_until_a_sample_is_in() {
        let mut forest = StreamingForest::new(ForestConfig {
            sample_size: 10,
            ..ForestConfig::default()
        });
        for i in 0..9 {
            forest.learn(&[f64::from(i)]);
            assert!(forest.score(&[0.0]).is_none());
        }
        assert!(forest.learn(&[9.0]));
        assert!(forest.score(&[0.0]).is_some());
    }
}
