//! CART decision trees, as scikit-learn grows them: best split of a node
//! over (a random subset of) the features, by Gini impurity for classes
//! and by squared error for values, thresholds half-way between
//! neighbouring values. The base of [`crate::forest`] and
//! [`crate::boosting`], which is why leaves can be rewritten. Must not
//! know about datasets, params or storage.

use ndarray::{Array2, ArrayView1};
use rand::Rng;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

/// What a tree predicts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task<'a> {
    /// Classes `0..n`, with each row's class.
    Classes(usize, &'a [usize]),
    /// A value, with each row's value.
    Values(&'a [f64]),
}

/// How a tree is grown (scikit-learn's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct TreeParams {
    /// Deepest level (root = 0); `None`: until leaves are pure.
    pub max_depth: Option<usize>,
    /// Fewest rows a node needs to be split.
    pub min_samples_split: usize,
    /// Fewest rows each side of a split keeps.
    pub min_samples_leaf: usize,
    /// Features tried per node (`None`: all).
    pub max_features: Option<usize>,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
        }
    }
}

/// One node; a leaf when `left == 0` (the root is never a child).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature tested.
    pub feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// Left child.
    pub left: u32,
    /// Right child.
    pub right: u32,
    /// Class probabilities, or `[value]`.
    pub value: Vec<f64>,
    /// Training rows that reached the node.
    pub samples: u32,
}

/// A grown tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; 0 is the root.
    pub nodes: Vec<Node>,
    /// Impurity decrease per feature, weighted by rows (not normalised).
    pub importance: Vec<f64>,
}

struct Pending {
    node: usize,
    rows: Vec<usize>,
    depth: usize,
}

struct Split {
    feature: usize,
    threshold: f64,
    /// Weighted impurity of the two sides.
    score: f64,
}

fn node_value(task: Task<'_>, rows: &[usize]) -> Vec<f64> {
    match task {
        Task::Classes(n, y) => {
            let mut counts = vec![0.0; n];
            for &r in rows {
                counts[y[r]] += 1.0;
            }
            let total = rows.len().max(1) as f64;
            counts.iter().map(|c| c / total).collect()
        }
        Task::Values(y) => {
            let sum: f64 = rows.iter().map(|&r| y[r]).sum();
            vec![sum / rows.len().max(1) as f64]
        }
    }
}

/// Rows × impurity of a node (Gini × n, or squared error).
fn weighted_impurity(task: Task<'_>, rows: &[usize]) -> f64 {
    match task {
        Task::Classes(n, y) => {
            let mut counts = vec![0.0; n];
            for &r in rows {
                counts[y[r]] += 1.0;
            }
            gini_weighted(&counts, rows.len() as f64)
        }
        Task::Values(y) => {
            let (s, q) = rows
                .iter()
                .fold((0.0, 0.0), |(s, q), &r| (s + y[r], q + y[r] * y[r]));
            q - s * s / rows.len().max(1) as f64
        }
    }
}

fn gini_weighted(counts: &[f64], n: f64) -> f64 {
    if n == 0.0 {
        return 0.0;
    }
    n - counts.iter().map(|c| c * c).sum::<f64>() / n
}

fn best_split_on(
    x: &Array2<f64>,
    task: Task<'_>,
    rows: &[usize],
    feature: usize,
    min_leaf: usize,
    order: &mut Vec<(f64, usize)>,
) -> Option<Split> {
    order.clear();
    order.extend(rows.iter().map(|&r| (x[[r, feature]], r)));
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = order.len();
    let mut best: Option<Split> = None;
    let mut consider = |i: usize, score: f64| {
        // Split between i-1 and i, if the values differ.
        let (lo, hi) = (order[i - 1].0, order[i].0);
        if lo < hi && best.as_ref().is_none_or(|b| score < b.score) {
            let mut threshold = lo + (hi - lo) / 2.0;
            if threshold >= hi {
                threshold = lo;
            }
            best = Some(Split {
                feature,
                threshold,
                score,
            });
        }
    };
    match task {
        Task::Classes(k, y) => {
            let mut left = vec![0.0; k];
            let mut right = vec![0.0; k];
            for &(_, r) in order.iter() {
                right[y[r]] += 1.0;
            }
            for i in 1..n {
                let c = y[order[i - 1].1];
                left[c] += 1.0;
                right[c] -= 1.0;
                if i < min_leaf || n - i < min_leaf {
                    continue;
                }
                let score = gini_weighted(&left, i as f64) + gini_weighted(&right, (n - i) as f64);
                consider(i, score);
            }
        }
        Task::Values(y) => {
            let (mut ts, mut tq) = (0.0, 0.0);
            for &(_, r) in order.iter() {
                ts += y[r];
                tq += y[r] * y[r];
            }
            let (mut ls, mut lq) = (0.0, 0.0);
            for i in 1..n {
                let v = y[order[i - 1].1];
                ls += v;
                lq += v * v;
                if i < min_leaf || n - i < min_leaf {
                    continue;
                }
                let (rs, rq) = (ts - ls, tq - lq);
                let score = (lq - ls * ls / i as f64) + (rq - rs * rs / (n - i) as f64);
                consider(i, score);
            }
        }
    }
    best
}

impl Tree {
    /// Grows a tree on `rows` of `x` (rows may repeat: a bootstrap).
    pub fn fit(
        x: &Array2<f64>,
        task: Task<'_>,
        rows: Vec<usize>,
        params: &TreeParams,
        rng: &mut impl Rng,
    ) -> Self {
        let features = x.ncols();
        let mut tree = Tree {
            nodes: Vec::new(),
            importance: vec![0.0; features],
        };
        tree.nodes.push(Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: node_value(task, &rows),
            samples: rows.len() as u32,
        });
        let mut stack = vec![Pending {
            node: 0,
            rows,
            depth: 0,
        }];
        let mut order = Vec::new();
        let try_features = params
            .max_features
            .unwrap_or(features)
            .clamp(1, features.max(1));
        while let Some(Pending { node, rows, depth }) = stack.pop() {
            let impurity = weighted_impurity(task, &rows);
            let splittable = rows.len() >= params.min_samples_split.max(2)
                && params.max_depth.is_none_or(|d| depth < d)
                && impurity > 1e-12 * rows.len() as f64;
            if !splittable {
                continue;
            }
            let candidates: Vec<usize> = if try_features < features {
                sample(rng, features, try_features).into_vec()
            } else {
                (0..features).collect()
            };
            let mut best: Option<Split> = None;
            for f in candidates {
                if let Some(s) = best_split_on(
                    x,
                    task,
                    &rows,
                    f,
                    params.min_samples_leaf.max(1),
                    &mut order,
                ) && best.as_ref().is_none_or(|b| s.score < b.score)
                {
                    best = Some(s);
                }
            }
            let Some(split) = best else { continue };
            if split.score >= impurity {
                continue;
            }
            let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = rows
                .iter()
                .partition(|&&r| x[[r, split.feature]] <= split.threshold);
            tree.importance[split.feature] += impurity - split.score;
            let left = tree.nodes.len();
            for side in [&left_rows, &right_rows] {
                tree.nodes.push(Node {
                    feature: 0,
                    threshold: 0.0,
                    left: 0,
                    right: 0,
                    value: node_value(task, side),
                    samples: side.len() as u32,
                });
            }
            let parent = &mut tree.nodes[node];
            parent.feature = split.feature as u32;
            parent.threshold = split.threshold;
            parent.left = left as u32;
            parent.right = left as u32 + 1;
            stack.push(Pending {
                node: left + 1,
                rows: right_rows,
                depth: depth + 1,
            });
            stack.push(Pending {
                node: left,
                rows: left_rows,
                depth: depth + 1,
            });
        }
        tree
    }

    /// The leaf a row ends in.
    pub fn leaf(&self, row: ArrayView1<'_, f64>) -> usize {
        let mut at = 0;
        loop {
            let node = &self.nodes[at];
            if node.left == 0 {
                return at;
            }
            at = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }

    /// The value (class probabilities or `[value]`) for a row.
    pub fn predict_row(&self, row: ArrayView1<'_, f64>) -> &[f64] {
        &self.nodes[self.leaf(row)].value
    }

    /// Leaves.
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.left == 0).count()
    }

    /// Deepest level.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((at, d)) = stack.pop() {
            deepest = deepest.max(d);
            let n = &self.nodes[at];
            if n.left != 0 {
                stack.push((n.left as usize, d + 1));
                stack.push((n.right as usize, d + 1));
            }
        }
        deepest
    }
}

/// Importances normalised to sum to 1 (all zero stays zero).
pub fn normalised(importance: &[f64]) -> Vec<f64> {
    let total: f64 = importance.iter().sum();
    if total > 0.0 {
        importance.iter().map(|v| v / total).collect()
    } else {
        importance.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_xoshiro::Xoshiro256Plus {
        rand_xoshiro::Xoshiro256Plus::seed_from_u64(1)
    }

    #[test]
    fn a_tree_separates_classes_by_the_feature_that_tells_them_apart() {
        // Feature 1 is noise; feature 0 decides.
        let x = ndarray::array![
            [1.0, 9.0],
            [2.0, 1.0],
            [3.0, 5.0],
            [10.0, 2.0],
            [11.0, 8.0],
            [12.0, 3.0]
        ];
        let y = [0, 0, 0, 1, 1, 1];
        let tree = Tree::fit(
            &x,
            Task::Classes(2, &y),
            (0..6).collect(),
            &TreeParams::default(),
            &mut rng(),
        );
        assert_eq!(tree.nodes[0].feature, 0);
        assert_eq!(tree.nodes[0].threshold, 6.5);
        assert_eq!(tree.leaves(), 2);
        assert_eq!(
            tree.predict_row(ndarray::array![7.0, 0.0].view()),
            [0.0, 1.0]
        );
        assert_eq!(normalised(&tree.importance), [1.0, 0.0]);
    }

    #[test]
    fn a_regression_tree_fits_steps_and_respects_its_limits() {
        let x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64);
        let y: Vec<f64> = (0..40)
            .map(|i| {
                if i < 10 {
                    1.0
                } else if i < 30 {
                    5.0
                } else {
                    -2.0
                }
            })
            .collect();
        let full = Tree::fit(
            &x,
            Task::Values(&y),
            (0..40).collect(),
            &TreeParams::default(),
            &mut rng(),
        );
        for (row, want) in x.rows().into_iter().zip(&y) {
            assert_eq!(full.predict_row(row)[0], *want);
        }
        assert_eq!(full.leaves(), 3);
        let stump = TreeParams {
            max_depth: Some(1),
            ..TreeParams::default()
        };
        let stump = Tree::fit(&x, Task::Values(&y), (0..40).collect(), &stump, &mut rng());
        assert_eq!((stump.depth(), stump.leaves()), (1, 2));
        let leafy = TreeParams {
            min_samples_leaf: 15,
            ..TreeParams::default()
        };
        let leafy = Tree::fit(&x, Task::Values(&y), (0..40).collect(), &leafy, &mut rng());
        assert!(leafy.nodes.iter().all(|n| n.samples >= 15), "{leafy:?}");
    }
}
