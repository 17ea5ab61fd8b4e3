//! Random forests: bootstrapped CART trees over random feature subsets,
//! probabilities (or values) averaged, as scikit-learn's
//! `RandomForestClassifier`/`Regressor` do. Must not know about datasets,
//! params or storage.

use ndarray::{Array2, ArrayView1};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::tree::{Task, Tree, TreeParams};

/// A trained forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Trees.
    pub trees: Vec<Tree>,
}

/// How a forest is grown.
#[derive(Clone, Debug, PartialEq)]
pub struct ForestParams {
    /// Trees.
    pub trees: usize,
    /// Each tree's limits (`max_features` defaults to √features for
    /// classes, all features for values, as scikit-learn's do).
    pub tree: TreeParams,
    /// Draw each tree's rows with replacement (else use them all).
    pub bootstrap: bool,
}

impl Forest {
    /// Grows the forest; `on_tree(done)` after each tree (an error stops).
    pub fn fit(
        x: &Array2<f64>,
        task: Task<'_>,
        params: &ForestParams,
        rng: &mut impl Rng,
        on_tree: &mut dyn FnMut(usize, &Forest) -> Result<(), MlError>,
    ) -> Result<Self, MlError> {
        let n = x.nrows();
        let mut tree_params = params.tree.clone();
        if tree_params.max_features.is_none() && matches!(task, Task::Classes(..)) {
            tree_params.max_features = Some(((x.ncols() as f64).sqrt() as usize).max(1));
        }
        let mut forest = Forest {
            trees: Vec::with_capacity(params.trees),
        };
        for done in 1..=params.trees.max(1) {
            let rows: Vec<usize> = if params.bootstrap {
                (0..n).map(|_| rng.gen_range(0..n)).collect()
            } else {
                (0..n).collect()
            };
            forest
                .trees
                .push(Tree::fit(x, task, rows, &tree_params, rng));
            on_tree(done, &forest)?;
        }
        Ok(forest)
    }

    /// Mean of the trees' class probabilities (or values) for a row.
    pub fn predict_row(&self, row: ArrayView1<'_, f64>) -> Vec<f64> {
        let mut sum: Vec<f64> = Vec::new();
        for tree in &self.trees {
            let value = tree.predict_row(row);
            if sum.is_empty() {
                sum = value.to_vec();
            } else {
                for (s, v) in sum.iter_mut().zip(value) {
                    *s += v;
                }
            }
        }
        let n = self.trees.len().max(1) as f64;
        sum.iter().map(|s| s / n).collect()
    }

    /// Mean of the trees' normalised impurity importances.
    pub fn importance(&self, features: usize) -> Vec<f64> {
        let mut sum = vec![0.0; features];
        for tree in &self.trees {
            for (s, v) in sum
                .iter_mut()
                .zip(crate::tree::normalised(&tree.importance))
            {
                *s += v;
            }
        }
        crate::tree::normalised(&sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_forest_beats_chance_on_a_diagonal_boundary_and_reports_each_tree() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(3);
        let x = Array2::from_shape_fn((300, 3), |_| rng.gen_range(-1.0..1.0));
        let y: Vec<usize> = x
            .rows()
            .into_iter()
            .map(|r| usize::from(r[0] + r[1] > 0.0))
            .collect();
        let params = ForestParams {
            trees: 20,
            tree: TreeParams::default(),
            bootstrap: true,
        };
        let mut seen = 0;
        let forest = Forest::fit(
            &x,
            Task::Classes(2, &y),
            &params,
            &mut rng,
            &mut |done, _| {
                seen = done;
                Ok(())
            },
        )
        .expect("forest");
        assert_eq!((seen, forest.trees.len()), (20, 20));
        let right = x
            .rows()
            .into_iter()
            .zip(&y)
            .filter(|(row, y)| {
                let p = forest.predict_row(*row);
                usize::from(p[1] > p[0]) == **y
            })
            .count();
        assert!(right >= 290, "{right} of 300");
        let importance = forest.importance(3);
        assert!(
            importance[2] < importance[0] && importance[2] < importance[1],
            "{importance:?}"
        );
    }
}
