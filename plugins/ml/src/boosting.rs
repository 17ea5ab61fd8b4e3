//! Gradient boosting, as scikit-learn's `GradientBoostingClassifier` and
//! `…Regressor` do it: start from the prior (mean, log-odds, or log class
//! frequencies), then per round fit a regression tree to the negative
//! gradient and set each leaf by one Newton step (squared error: the mean
//! residual; log-loss: Σr / Σp(1−p); softmax: (K−1)/K · Σr / Σ|r|(1−|r|)),
//! shrunk by the learning rate. Must not know about datasets, params or
//! storage.

use ndarray::{Array2, ArrayView1};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::tree::{Task, Tree, TreeParams};

/// What the booster models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Squared error on values.
    Squared,
    /// Binary log-loss (one raw score: the log-odds of class 1).
    Binary,
    /// Softmax over this many classes (one raw score per class).
    Multinomial(usize),
}

/// A trained booster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// Loss.
    pub loss: Loss,
    /// Starting raw scores.
    pub init: Vec<f64>,
    /// Shrinkage.
    pub learning_rate: f64,
    /// Per round, one tree per raw score.
    pub rounds: Vec<Vec<Tree>>,
}

/// How a booster is trained.
#[derive(Clone, Debug, PartialEq)]
pub struct BoostParams {
    /// Rounds.
    pub rounds: usize,
    /// Shrinkage per round.
    pub learning_rate: f64,
    /// Fraction of rows per round (1: all; below 1: stochastic boosting).
    pub subsample: f64,
    /// Each tree's limits (scikit-learn's default depth is 3).
    pub tree: TreeParams,
    /// Stop when the validation loss has not improved by 1e-4 for this
    /// many rounds (needs validation rows).
    pub patience: Option<usize>,
}

/// One round's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// Round, from 1.
    pub round: usize,
    /// Training loss.
    pub loss: f64,
    /// Validation loss.
    pub validation_loss: Option<f64>,
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn softmax(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.iter().map(|e| e / total).collect()
}

/// Targets the booster reads: class indices or values.
#[derive(Clone, Copy, Debug)]
pub enum Truth<'a> {
    /// Classes.
    Classes(&'a [usize]),
    /// Values.
    Values(&'a [f64]),
}

impl Booster {
    fn loss_of(&self, scores: &Array2<f64>, truth: Truth<'_>) -> f64 {
        let n = scores.nrows().max(1) as f64;
        match (self.loss, truth) {
            (Loss::Squared, Truth::Values(y)) => {
                scores
                    .column(0)
                    .iter()
                    .zip(y)
                    .map(|(s, t)| (s - t).powi(2))
                    .sum::<f64>()
                    / n
            }
            (Loss::Binary, Truth::Classes(y)) => {
                let eps = 1e-15;
                scores
                    .column(0)
                    .iter()
                    .zip(y)
                    .map(|(s, &c)| {
                        let p = sigmoid(*s).clamp(eps, 1.0 - eps);
                        if c == 1 { -p.ln() } else { -(1.0 - p).ln() }
                    })
                    .sum::<f64>()
                    / n
            }
            (Loss::Multinomial(_), Truth::Classes(y)) => {
                scores
                    .rows()
                    .into_iter()
                    .zip(y)
                    .map(|(row, &c)| {
                        -softmax(row.as_slice().unwrap_or(&[]))
                            .get(c)
                            .copied()
                            .unwrap_or(1e-15)
                            .max(1e-15)
                            .ln()
                    })
                    .sum::<f64>()
                    / n
            }
            _ => f64::NAN,
        }
    }

    /// Trains on `x` with `truth`, reporting each round (an error stops).
    pub fn fit(
        x: &Array2<f64>,
        truth: Truth<'_>,
        loss: Loss,
        params: &BoostParams,
        validation: Option<(&Array2<f64>, Truth<'_>)>,
        rng: &mut impl Rng,
        on_round: &mut dyn FnMut(&Round, &Booster) -> Result<(), MlError>,
    ) -> Result<Self, MlError> {
        let n = x.nrows();
        let k = match loss {
            Loss::Multinomial(k) => k,
            _ => 1,
        };
        let init: Vec<f64> = match (loss, truth) {
            (Loss::Squared, Truth::Values(y)) => vec![y.iter().sum::<f64>() / n.max(1) as f64],
            (Loss::Binary, Truth::Classes(y)) => {
                let p = (y.iter().filter(|&&c| c == 1).count() as f64 / n.max(1) as f64)
                    .clamp(1e-12, 1.0 - 1e-12);
                vec![(p / (1.0 - p)).ln()]
            }
            (Loss::Multinomial(k), Truth::Classes(y)) => (0..k)
                .map(|c| {
                    (y.iter().filter(|&&v| v == c).count() as f64 / n.max(1) as f64)
                        .max(1e-12)
                        .ln()
                })
                .collect(),
            _ => {
                return Err(MlError::Invalid(
                    "the booster's loss does not fit its target".into(),
                ));
            }
        };
        let mut booster = Booster {
            loss,
            init: init.clone(),
            learning_rate: params.learning_rate,
            rounds: Vec::new(),
        };
        let mut scores = Array2::from_shape_fn((n, k), |(_, c)| init[c]);
        let mut valid_scores =
            validation.map(|(vx, _)| Array2::from_shape_fn((vx.nrows(), k), |(_, c)| init[c]));
        let mut best = (f64::INFINITY, 0usize);
        let mut all_rows: Vec<usize> = (0..n).collect();
        for round in 1..=params.rounds.max(1) {
            let rows: Vec<usize> = if params.subsample < 1.0 {
                all_rows.shuffle(rng);
                let take = ((n as f64 * params.subsample).round() as usize).clamp(1, n);
                all_rows[..take].to_vec()
            } else {
                all_rows.clone()
            };
            let mut trees = Vec::with_capacity(k);
            for c in 0..k {
                // Negative gradient and the Newton denominator's terms.
                let (residual, hessian): (Vec<f64>, Vec<f64>) = (0..n)
                    .map(|i| match (loss, truth) {
                        (Loss::Squared, Truth::Values(y)) => (y[i] - scores[[i, 0]], 1.0),
                        (Loss::Binary, Truth::Classes(y)) => {
                            let p = sigmoid(scores[[i, 0]]);
                            (f64::from(u8::from(y[i] == 1)) - p, p * (1.0 - p))
                        }
                        (_, Truth::Classes(y)) => {
                            let p = softmax(scores.row(i).as_slice().unwrap_or(&[]))[c];
                            let r = f64::from(u8::from(y[i] == c)) - p;
                            (r, r.abs() * (1.0 - r.abs()))
                        }
                        _ => (0.0, 1.0),
                    })
                    .unzip();
                let mut tree =
                    Tree::fit(x, Task::Values(&residual), rows.clone(), &params.tree, rng);
                if loss != Loss::Squared {
                    let mut sums = vec![(0.0, 0.0); tree.nodes.len()];
                    for &i in &rows {
                        let leaf = tree.leaf(x.row(i));
                        sums[leaf].0 += residual[i];
                        sums[leaf].1 += hessian[i];
                    }
                    let factor = if k > 1 {
                        (k as f64 - 1.0) / k as f64
                    } else {
                        1.0
                    };
                    for (node, (r, h)) in tree.nodes.iter_mut().zip(sums) {
                        if node.left == 0 {
                            node.value = vec![if h.abs() < 1e-150 {
                                0.0
                            } else {
                                factor * r / h
                            }];
                        }
                    }
                }
                for i in 0..n {
                    scores[[i, c]] += params.learning_rate * tree.predict_row(x.row(i))[0];
                }
                if let (Some(vs), Some((vx, _))) = (valid_scores.as_mut(), validation) {
                    for i in 0..vx.nrows() {
                        vs[[i, c]] += params.learning_rate * tree.predict_row(vx.row(i))[0];
                    }
                }
                trees.push(tree);
            }
            booster.rounds.push(trees);
            let validation_loss = match (&valid_scores, validation) {
                (Some(vs), Some((_, vt))) => Some(booster.loss_of(vs, vt)),
                _ => None,
            };
            let loss = booster.loss_of(&scores, truth);
            on_round(
                &Round {
                    round,
                    loss,
                    validation_loss,
                },
                &booster,
            )?;
            if let (Some(patience), Some(v)) = (params.patience, validation_loss) {
                if v < best.0 - 1e-4 {
                    best = (v, round);
                } else if round - best.1 >= patience {
                    booster.rounds.truncate(best.1.max(1));
                    break;
                }
            }
        }
        Ok(booster)
    }

    /// Raw scores of a row.
    pub fn raw(&self, row: ArrayView1<'_, f64>) -> Vec<f64> {
        let mut scores = self.init.clone();
        for trees in &self.rounds {
            for (s, tree) in scores.iter_mut().zip(trees) {
                *s += self.learning_rate * tree.predict_row(row)[0];
            }
        }
        scores
    }

    /// Class probabilities (or `[value]`) of a row.
    pub fn predict_row(&self, row: ArrayView1<'_, f64>) -> Vec<f64> {
        let raw = self.raw(row);
        match self.loss {
            Loss::Squared => raw,
            Loss::Binary => {
                let p = sigmoid(raw[0]);
                vec![1.0 - p, p]
            }
            Loss::Multinomial(_) => softmax(&raw),
        }
    }

    /// Normalised impurity importance, summed over every tree.
    pub fn importance(&self, features: usize) -> Vec<f64> {
        let mut sum = vec![0.0; features];
        for tree in self.rounds.iter().flatten() {
            for (s, v) in sum.iter_mut().zip(&tree.importance) {
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

    fn params(rounds: usize) -> BoostParams {
        BoostParams {
            rounds,
            learning_rate: 0.1,
            subsample: 1.0,
            tree: TreeParams {
                max_depth: Some(3),
                ..TreeParams::default()
            },
            patience: None,
        }
    }

    #[test]
    fn boosting_drives_the_training_loss_down_every_round() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(5);
        let x = Array2::from_shape_fn((200, 2), |_| rng.gen_range(-2.0..2.0));
        let y: Vec<f64> = x.rows().into_iter().map(|r| r[0] * r[0] + r[1]).collect();
        let mut losses = Vec::new();
        let booster = Booster::fit(
            &x,
            Truth::Values(&y),
            Loss::Squared,
            &params(50),
            None,
            &mut rng,
            &mut |r, _| {
                losses.push(r.loss);
                Ok(())
            },
        )
        .expect("booster");
        assert_eq!(booster.rounds.len(), 50);
        assert!(
            losses.windows(2).all(|w| w[1] <= w[0] + 1e-12),
            "{losses:?}"
        );
        assert!(
            losses[49] < 0.1 * losses[0],
            "{} vs {}",
            losses[49],
            losses[0]
        );
    }

    #[test]
    fn classifiers_give_probabilities_that_sum_to_one_and_fit_the_classes() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(6);
        let x = Array2::from_shape_fn((300, 2), |_| rng.gen_range(-1.0..1.0));
        let y: Vec<usize> = x
            .rows()
            .into_iter()
            .map(|r| {
                if r[0] < -0.3 {
                    0
                } else if r[1] < 0.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let booster = Booster::fit(
            &x,
            Truth::Classes(&y),
            Loss::Multinomial(3),
            &params(30),
            None,
            &mut rng,
            &mut |_, _| Ok(()),
        )
        .expect("booster");
        let mut right = 0;
        for (row, &c) in x.rows().into_iter().zip(&y) {
            let p = booster.predict_row(row);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
            right += usize::from(best == c);
        }
        assert!(right >= 290, "{right}");
        let binary: Vec<usize> = y.iter().map(|&c| usize::from(c == 2)).collect();
        let booster = Booster::fit(
            &x,
            Truth::Classes(&binary),
            Loss::Binary,
            &params(30),
            None,
            &mut rng,
            &mut |_, _| Ok(()),
        )
        .expect("binary");
        let p = booster.predict_row(ndarray::array![0.5, 0.5].view());
        assert!(p[1] > 0.9, "{p:?}");
    }

    #[test]
    fn early_stopping_keeps_the_best_round() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(7);
        // Pure noise: validation loss stops improving almost at once.
        let x = Array2::from_shape_fn((200, 2), |_| rng.gen_range(-1.0..1.0));
        let y: Vec<f64> = (0..200).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let vx = Array2::from_shape_fn((100, 2), |_| rng.gen_range(-1.0..1.0));
        let vy: Vec<f64> = (0..100).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let p = BoostParams {
            patience: Some(5),
            ..params(500)
        };
        let booster = Booster::fit(
            &x,
            Truth::Values(&y),
            Loss::Squared,
            &p,
            Some((&vx, Truth::Values(&vy))),
            &mut rng,
            &mut |_, _| Ok(()),
        )
        .expect("booster");
        assert!(booster.rounds.len() < 100, "{}", booster.rounds.len());
    }
}
