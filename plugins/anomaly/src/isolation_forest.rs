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

#[derive(Clone, Debug)]
enum Node {
    Split {
        feature: usize,
        value: f64,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

/// One isolation tree, nodes in a flat vector (root first).
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

impl Tree {
    fn grow(rows: &[&[f64]], height_limit: usize, rng: &mut fastrand::Rng) -> Self {
        let mut tree = Self { nodes: Vec::new() };
        let mut indices: Vec<usize> = (0..rows.len()).collect();
        tree.build(rows, &mut indices, 0, height_limit, rng);
        tree
    }

    fn build(
        &mut self,
        rows: &[&[f64]],
        indices: &mut [usize],
        depth: usize,
        height_limit: usize,
        rng: &mut fastrand::Rng,
    ) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node::Leaf {
            size: indices.len(),
        });
        if depth >= height_limit || indices.len() <= 1 {
            return id;
        }
        let width = rows[indices[0]].len();
        // Features that still vary in this node; a constant one cannot split.
        let candidates: Vec<(usize, f64, f64)> = (0..width)
            .filter_map(|feature| {
                let (low, high) = indices
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &i| {
                        (low.min(rows[i][feature]), high.max(rows[i][feature]))
                    });
                (high > low).then_some((feature, low, high))
            })
            .collect();
        if candidates.is_empty() {
            return id;
        }
        let (feature, low, high) = candidates[rng.usize(..candidates.len())];
        let value = low + rng.f64() * (high - low);
        let mut split = 0;
        for k in 0..indices.len() {
            if rows[indices[k]][feature] < value {
                indices.swap(k, split);
                split += 1;
            }
        }
        let (left_rows, right_rows) = indices.split_at_mut(split);
        let left = self.build(rows, left_rows, depth + 1, height_limit, rng);
        let right = self.build(rows, right_rows, depth + 1, height_limit, rng);
        self.nodes[id] = Node::Split {
            feature,
            value,
            left,
            right,
        };
        id
    }

    fn path_length(&self, row: &[f64]) -> f64 {
        let mut node = 0;
        let mut depth = 0.0;
        loop {
            match self.nodes[node] {
                Node::Split {
                    feature,
                    value,
                    left,
                    right,
                } => {
                    node = if row.get(feature).copied().unwrap_or(0.0) < value {
                        left
                    } else {
                        right
                    };
                    depth += 1.0;
                }
                Node::Leaf { size } => return depth + average_path_length(size),
            }
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
        let rows: Vec<&[f64]> = self.window.iter().map(Vec::as_slice).collect();
        if rows.len() < 2 {
            return;
        }
        let sample_size = self.config.sample_size.clamp(2, rows.len());
        let height_limit = (sample_size as f64).log2().ceil() as usize;
        let mut trees = Vec::with_capacity(self.config.trees);
        let mut picks: Vec<usize> = (0..rows.len()).collect();
        for _ in 0..self.config.trees.max(1) {
            // Partial Fisher–Yates: the first `sample_size` are a uniform
            // sample without replacement.
            for k in 0..sample_size {
                let j = k + self.rng.usize(..rows.len() - k);
                picks.swap(k, j);
            }
            let sample: Vec<&[f64]> = picks[..sample_size].iter().map(|&i| rows[i]).collect();
            trees.push(Tree::grow(&sample, height_limit, &mut self.rng));
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
