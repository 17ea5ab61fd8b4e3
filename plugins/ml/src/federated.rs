//! Federated averaging (FedAvg, McMahan et al. 2017) for linear and
//! logistic models: each client takes the global weights, runs full-batch
//! gradient descent on its own rows for a few epochs, and the coordinator
//! averages what comes back, weighted by rows. Clients share summaries and
//! weights, never rows.
//!
//! Plain Rust over ndarray: no JSON, no host. Full-batch steps keep a run
//! deterministic, so a NumPy transcription of the same arithmetic
//! (`test_data/ml/make_federated_reference.py`) reproduces it exactly.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::data::Scaler;
use crate::linfa_models::Linear;

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Values, by squared error.
    Linear,
    /// `classes` classes by cross-entropy: a sigmoid for two, a softmax
    /// for more.
    Logistic {
        /// How many.
        classes: usize,
    },
}

impl Objective {
    /// Outputs of the linear part.
    pub fn outputs(self) -> usize {
        match self {
            Self::Logistic { classes } if classes > 2 => classes,
            _ => 1,
        }
    }
}

/// A client's rows: features (already scaled) and targets.
#[derive(Clone, Debug)]
pub struct Local<'a> {
    /// Rows × features.
    pub x: &'a Array2<f64>,
    /// Class indices (as floats) or values.
    pub y: &'a [f64],
}

/// What a client reports before training: enough for the coordinator to
/// scale features globally and to score R².
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Rows.
    pub rows: usize,
    /// Per feature: sum and sum of squares.
    pub sum: Vec<f64>,
    /// Per feature.
    pub sum_squares: Vec<f64>,
    /// Target sum and sum of squares (regression).
    pub target_sum: f64,
    /// Target sum of squares.
    pub target_sum_squares: f64,
}

impl Summary {
    /// Of raw (unscaled) rows.
    pub fn of(x: &Array2<f64>, y: &[f64]) -> Self {
        Self {
            rows: x.nrows(),
            sum: x.sum_axis(Axis(0)).to_vec(),
            sum_squares: x.mapv(|v| v * v).sum_axis(Axis(0)).to_vec(),
            target_sum: y.iter().sum(),
            target_sum_squares: y.iter().map(|v| v * v).sum(),
        }
    }

    /// The clients' summaries added up.
    pub fn total(parts: &[Summary]) -> Self {
        let width = parts.first().map_or(0, |p| p.sum.len());
        let mut total = Summary {
            sum: vec![0.0; width],
            sum_squares: vec![0.0; width],
            ..Summary::default()
        };
        for p in parts {
            total.rows += p.rows;
            for j in 0..width.min(p.sum.len()) {
                total.sum[j] += p.sum[j];
                total.sum_squares[j] += p.sum_squares[j];
            }
            total.target_sum += p.target_sum;
            total.target_sum_squares += p.target_sum_squares;
        }
        total
    }

    /// The population mean and standard deviation of every feature over
    /// all clients (as `StandardScaler` fitted to the union would be).
    pub fn scaler(&self) -> Scaler {
        let n = self.rows.max(1) as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let scale = self
            .sum_squares
            .iter()
            .zip(&mean)
            .map(|(sq, m)| {
                let var = sq / n - m * m;
                if var > 1e-24 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Scaler { mean, scale }
    }

    /// Total sum of squares of the target about its mean.
    pub fn target_sst(&self) -> f64 {
        let n = self.rows.max(1) as f64;
        self.target_sum_squares - self.target_sum * self.target_sum / n
    }
}

/// Zero weights for `features` inputs.
pub fn zeros(features: usize, objective: Objective) -> Linear {
    Linear {
        coefficients: Array2::zeros((features, objective.outputs())),
        intercepts: Array1::zeros(objective.outputs()),
    }
}

/// How a model does on a client's rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Rows scored.
    pub rows: usize,
    /// Mean loss: half squared error, or cross-entropy.
    pub loss: f64,
    /// Rows classified right (classification).
    pub correct: usize,
    /// Sum of squared errors (regression).
    pub sse: f64,
}

/// Per row: the outputs' deviation from the target (the gradient of the
/// loss with respect to the raw outputs), and the score.
fn residuals(local: &Local<'_>, w: &Linear, objective: Objective) -> (Array2<f64>, Score) {
    let mut raw = local.x.dot(&w.coefficients) + &w.intercepts;
    let n = local.x.nrows();
    let mut score = Score {
        rows: n,
        ..Score::default()
    };
    let mut loss = 0.0;
    match objective {
        Objective::Linear => {
            for (i, mut row) in raw.rows_mut().into_iter().enumerate() {
                let r = row[0] - local.y[i];
                score.sse += r * r;
                loss += 0.5 * r * r;
                row[0] = r;
            }
        }
        Objective::Logistic { classes } if classes <= 2 => {
            for (i, mut row) in raw.rows_mut().into_iter().enumerate() {
                let z = row[0];
                let p = 1.0 / (1.0 + (-z).exp());
                let y = local.y[i];
                // log(1 + e^z) - y z, written to stay finite for large |z|.
                loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z;
                if (p >= 0.5) == (y >= 0.5) {
                    score.correct += 1;
                }
                row[0] = p - y;
            }
        }
        Objective::Logistic { .. } => {
            for (i, mut row) in raw.rows_mut().into_iter().enumerate() {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = row.iter().map(|v| (v - max).exp()).sum();
                let class = local.y[i] as usize;
                loss += max + total.ln() - row[class];
                let best = row
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k);
                if best == class {
                    score.correct += 1;
                }
                row.mapv_inplace(|v| (v - max).exp() / total);
                row[class] -= 1.0;
            }
        }
    }
    score.loss = loss / n.max(1) as f64;
    (raw, score)
}

/// The model's score on a client's rows.
pub fn score(local: &Local<'_>, w: &Linear, objective: Objective) -> Score {
    residuals(local, w, objective).1
}

/// `epochs` full-batch gradient steps of size `learning_rate` from `start`
/// with an L2 penalty `l2` on the coefficients (not the intercepts).
/// Answers the new weights and the score of `start` (the global model as
/// the client received it).
pub fn local_train(
    local: &Local<'_>,
    start: &Linear,
    objective: Objective,
    epochs: usize,
    learning_rate: f64,
    l2: f64,
) -> (Linear, Score) {
    let mut w = start.clone();
    let n = local.x.nrows().max(1) as f64;
    let mut before = None;
    for _ in 0..epochs {
        let (r, score) = residuals(local, &w, objective);
        before.get_or_insert(score);
        let grad_w = local.x.t().dot(&r) / n + &w.coefficients * l2;
        let grad_b = r.sum_axis(Axis(0)) / n;
        w.coefficients = &w.coefficients - &(grad_w * learning_rate);
        w.intercepts = &w.intercepts - &(grad_b * learning_rate);
    }
    let before = before.unwrap_or_else(|| score(local, start, objective));
    (w, before)
}

/// The average of the clients' weights, each weighted by its rows.
pub fn average(updates: &[(Linear, usize)]) -> Option<Linear> {
    let (first, _) = updates.first()?;
    let total: usize = updates.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut coefficients = Array2::zeros(first.coefficients.raw_dim());
    let mut intercepts = Array1::zeros(first.intercepts.raw_dim());
    for (w, n) in updates {
        let share = *n as f64 / total as f64;
        coefficients = coefficients + &w.coefficients * share;
        intercepts = intercepts + &w.intercepts * share;
    }
    Some(Linear {
        coefficients,
        intercepts,
    })
}

/// Scores added up over clients: mean loss weighted by rows.
pub fn combine(scores: &[Score]) -> Score {
    let rows: usize = scores.iter().map(|s| s.rows).sum();
    Score {
        rows,
        loss: scores.iter().map(|s| s.loss * s.rows as f64).sum::<f64>() / rows.max(1) as f64,
        correct: scores.iter().map(|s| s.correct).sum(),
        sse: scores.iter().map(|s| s.sse).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn blobs() -> (Array2<f64>, Vec<f64>) {
        // Two separable clouds around (-2, -2) and (2, 2).
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let jitter = (i as f64 * 0.37).sin();
            let (c, label) = if i % 2 == 0 { (-2.0, 0.0) } else { (2.0, 1.0) };
            rows.push([c + jitter, c - jitter * 0.5]);
            y.push(label);
        }
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        (x, y)
    }

    #[test]
    fn the_summaries_of_parts_scale_as_the_whole_does() {
        let (x, y) = blobs();
        let top = x.slice(ndarray::s![..15, ..]).to_owned();
        let rest = x.slice(ndarray::s![15.., ..]).to_owned();
        let total = Summary::total(&[Summary::of(&top, &y[..15]), Summary::of(&rest, &y[15..])]);
        let whole = Scaler::fit(&x);
        let parts = total.scaler();
        for j in 0..2 {
            assert!((whole.mean[j] - parts.mean[j]).abs() < 1e-12);
            assert!((whole.scale[j] - parts.scale[j]).abs() < 1e-12);
        }
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let sst: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        assert!((total.target_sst() - sst).abs() < 1e-9);
    }

    #[test]
    fn one_client_is_plain_gradient_descent_and_learns_the_clouds() {
        let (x, y) = blobs();
        let local = Local { x: &x, y: &y };
        let objective = Objective::Logistic { classes: 2 };
        let (w, before) = local_train(&local, &zeros(2, objective), objective, 200, 0.5, 0.0);
        assert!(
            (before.loss - std::f64::consts::LN_2).abs() < 1e-12,
            "{before:?}"
        );
        let after = score(&local, &w, objective);
        assert_eq!(after.correct, 40);
        assert!(after.loss < 0.05, "{after:?}");
    }

    #[test]
    fn averaging_weighs_clients_by_rows() {
        let a = Linear {
            coefficients: array![[1.0], [0.0]],
            intercepts: array![0.0],
        };
        let b = Linear {
            coefficients: array![[4.0], [3.0]],
            intercepts: array![3.0],
        };
        let mean = average(&[(a, 2), (b, 1)]).expect("two clients");
        assert_eq!(mean.coefficients, array![[2.0], [1.0]]);
        assert_eq!(mean.intercepts, array![1.0]);
        assert!(average(&[]).is_none());
    }

    #[test]
    fn linear_descent_reaches_least_squares_and_softmax_separates_three() {
        let x = Array2::from_shape_fn((30, 1), |(i, _)| i as f64 / 10.0 - 1.5);
        let y: Vec<f64> = x.column(0).iter().map(|v| 3.0 * v + 1.0).collect();
        let local = Local { x: &x, y: &y };
        let (w, _) = local_train(
            &local,
            &zeros(1, Objective::Linear),
            Objective::Linear,
            2000,
            0.5,
            0.0,
        );
        assert!((w.coefficients[[0, 0]] - 3.0).abs() < 1e-6, "{w:?}");
        assert!((w.intercepts[0] - 1.0).abs() < 1e-6);
        let classes: Vec<f64> = (0..30).map(|i| (i / 10) as f64).collect();
        let local = Local { x: &x, y: &classes };
        let three = Objective::Logistic { classes: 3 };
        let (w, _) = local_train(&local, &zeros(1, three), three, 3000, 1.0, 0.0);
        assert!(score(&local, &w, three).correct >= 28);
    }
}
