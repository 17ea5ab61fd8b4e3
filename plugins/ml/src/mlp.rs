//! A multi-layer perceptron trained by epochs, as scikit-learn's
//! `MLPClassifier`/`MLPRegressor` train theirs: ReLU hidden layers,
//! softmax (classes) or identity (values) output, Glorot-uniform start,
//! mini-batches with Adam, L2 penalty `alpha`. Adds learning-rate
//! schedules and early stopping on validation rows, keeping the best
//! weights. Must not know about datasets, params or storage.

use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::MlError;

/// One dense layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Weights, inputs × outputs.
    pub weights: Array2<f64>,
    /// Biases.
    pub bias: Array1<f64>,
}

/// A trained network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Layers, input to output.
    pub layers: Vec<Layer>,
    /// Softmax output over classes (true) or one identity output.
    pub classes: bool,
}

/// How the learning rate moves over epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// The same every epoch.
    Constant,
    /// Multiplied by `gamma` every `step_size` epochs.
    Step {
        /// Epochs per step.
        step_size: usize,
        /// Factor.
        gamma: f64,
    },
    /// Multiplied by `gamma` every epoch.
    Exponential {
        /// Factor.
        gamma: f64,
    },
}

impl Schedule {
    /// The rate of epoch `epoch` (from 1).
    pub fn rate(&self, initial: f64, epoch: usize) -> f64 {
        let done = epoch.saturating_sub(1) as i32;
        match self {
            Self::Constant => initial,
            Self::Step { step_size, gamma } => {
                initial * gamma.powi(done / (*step_size).max(1) as i32)
            }
            Self::Exponential { gamma } => initial * gamma.powi(done),
        }
    }
}

/// How a network is trained (scikit-learn's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct MlpParams {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Most epochs.
    pub epochs: usize,
    /// Rows per mini-batch.
    pub batch_size: usize,
    /// Starting learning rate.
    pub learning_rate: f64,
    /// Its schedule.
    pub schedule: Schedule,
    /// L2 penalty.
    pub alpha: f64,
    /// Stop after this many epochs without an improvement of `tol`
    /// (validation loss when there are validation rows, else training
    /// loss).
    pub patience: usize,
    /// Smallest improvement that counts.
    pub tol: f64,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden: vec![100],
            epochs: 200,
            batch_size: 200,
            learning_rate: 0.001,
            schedule: Schedule::Constant,
            alpha: 0.0001,
            patience: 10,
            tol: 1e-4,
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Loss on the validation rows.
    pub validation_loss: Option<f64>,
    /// Rate used this epoch.
    pub learning_rate: f64,
}

/// What the network learns from: one-hot classes or values.
pub enum Targets<'a> {
    /// Class index per row, with the number of classes.
    Classes(&'a [usize], usize),
    /// Value per row.
    Values(&'a [f64]),
}

impl Targets<'_> {
    fn matrix(&self, rows: &[usize]) -> Array2<f64> {
        match self {
            Self::Classes(y, k) => {
                let mut m = Array2::zeros((rows.len(), *k));
                for (i, &r) in rows.iter().enumerate() {
                    m[[i, y[r]]] = 1.0;
                }
                m
            }
            Self::Values(y) => Array2::from_shape_fn((rows.len(), 1), |(i, _)| y[rows[i]]),
        }
    }
    fn width(&self) -> usize {
        match self {
            Self::Classes(_, k) => *k,
            Self::Values(_) => 1,
        }
    }
}

fn softmax_rows(z: &mut Array2<f64>) {
    for mut row in z.rows_mut() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| (v - max).exp());
        let total = row.sum();
        row.mapv_inplace(|v| v / total);
    }
}

struct Adam {
    m: Vec<(Array2<f64>, Array1<f64>)>,
    v: Vec<(Array2<f64>, Array1<f64>)>,
    t: i32,
}

impl Mlp {
    /// The output for rows `x` (probabilities or values), and each
    /// layer's activations (input first) when `keep` is set.
    fn forward(&self, x: &Array2<f64>, keep: bool) -> (Array2<f64>, Vec<Array2<f64>>) {
        let mut kept = Vec::new();
        let mut a = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let mut z = a.dot(&layer.weights) + &layer.bias;
            if i + 1 < self.layers.len() {
                z.mapv_inplace(|v| v.max(0.0));
            } else if self.classes {
                softmax_rows(&mut z);
            }
            if keep {
                kept.push(std::mem::replace(&mut a, z));
            } else {
                a = z;
            }
        }
        (a, kept)
    }

    /// Class probabilities or `[value]` per row.
    pub fn predict(&self, x: &Array2<f64>) -> Array2<f64> {
        self.forward(x, false).0
    }

    fn loss(&self, out: &Array2<f64>, target: &Array2<f64>) -> f64 {
        let n = out.nrows().max(1) as f64;
        if self.classes {
            -out.iter()
                .zip(target)
                .map(|(p, t)| t * p.clamp(1e-10, 1.0).ln())
                .sum::<f64>()
                / n
        } else {
            out.iter()
                .zip(target)
                .map(|(p, t)| (p - t).powi(2))
                .sum::<f64>()
                / n
                / 2.0
        }
    }

    /// Trains a network on `x`; `on_epoch` after each epoch (an error
    /// stops the training).
    pub fn fit(
        x: &Array2<f64>,
        targets: Targets<'_>,
        params: &MlpParams,
        validation: Option<(&Array2<f64>, Targets<'_>)>,
        rng: &mut impl Rng,
        on_epoch: &mut dyn FnMut(&Epoch, &Mlp) -> Result<(), MlError>,
    ) -> Result<Self, MlError> {
        let mut widths = vec![x.ncols()];
        widths.extend(params.hidden.iter().copied().filter(|&w| w > 0));
        widths.push(targets.width());
        let layers = widths
            .windows(2)
            .map(|w| {
                let bound = (6.0 / (w[0] + w[1]) as f64).sqrt();
                Layer {
                    weights: Array2::from_shape_fn((w[0], w[1]), |_| rng.gen_range(-bound..bound)),
                    bias: Array1::from_shape_fn(w[1], |_| rng.gen_range(-bound..bound)),
                }
            })
            .collect();
        let mut net = Mlp {
            layers,
            classes: matches!(targets, Targets::Classes(..)),
        };
        let zeros = |net: &Mlp| -> Vec<(Array2<f64>, Array1<f64>)> {
            net.layers
                .iter()
                .map(|l| {
                    (
                        Array2::zeros(l.weights.raw_dim()),
                        Array1::zeros(l.bias.len()),
                    )
                })
                .collect()
        };
        let mut adam = Adam {
            m: zeros(&net),
            v: zeros(&net),
            t: 0,
        };
        let n = x.nrows();
        let batch = params.batch_size.clamp(1, n.max(1));
        let mut order: Vec<usize> = (0..n).collect();
        let all_targets = targets.matrix(&order);
        let valid =
            validation.map(|(vx, vt)| (vx, vt.matrix(&(0..vx.nrows()).collect::<Vec<_>>())));
        let mut best = (f64::INFINITY, net.clone());
        let mut stale = 0;
        for epoch in 1..=params.epochs.max(1) {
            let rate = params.schedule.rate(params.learning_rate, epoch);
            order.shuffle(rng);
            let mut total = 0.0;
            for rows in order.chunks(batch) {
                let bx = x.select(Axis(0), rows);
                let by = all_targets.select(Axis(0), rows);
                total += net.step(&bx, &by, params.alpha, rate, &mut adam) * rows.len() as f64;
            }
            let loss = total / n.max(1) as f64;
            let validation_loss = valid
                .as_ref()
                .map(|(vx, vy)| net.loss(&net.predict(vx), vy));
            on_epoch(
                &Epoch {
                    epoch,
                    loss,
                    validation_loss,
                    learning_rate: rate,
                },
                &net,
            )?;
            let watched = validation_loss.unwrap_or(loss);
            if watched < best.0 - params.tol {
                best = (watched, net.clone());
                stale = 0;
            } else {
                stale += 1;
                if stale >= params.patience {
                    break;
                }
            }
        }
        // On validation rows the best epoch's weights are kept, as
        // scikit-learn's early stopping keeps them.
        Ok(if valid.is_some() { best.1 } else { net })
    }

    /// One Adam step on a batch; answers the batch's loss before it.
    fn step(
        &mut self,
        x: &Array2<f64>,
        y: &Array2<f64>,
        alpha: f64,
        rate: f64,
        adam: &mut Adam,
    ) -> f64 {
        let (out, activations) = self.forward(x, true);
        let n = x.nrows().max(1) as f64;
        let penalty: f64 = self
            .layers
            .iter()
            .map(|l| l.weights.iter().map(|w| w * w).sum::<f64>())
            .sum();
        let loss = self.loss(&out, y) + alpha * 0.5 * penalty / n;
        // Softmax + cross-entropy and identity + squared error share
        // this output gradient.
        let mut delta = (&out - y) / n;
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        adam.t += 1;
        let (c1, c2) = (1.0 - b1.powi(adam.t), 1.0 - b2.powi(adam.t));
        for i in (0..self.layers.len()).rev() {
            let input = &activations[i];
            let grad_w = input.t().dot(&delta) + &(&self.layers[i].weights * (alpha / n));
            let grad_b = delta.sum_axis(Axis(0));
            if i > 0 {
                let mut back = delta.dot(&self.layers[i].weights.t());
                back.zip_mut_with(input, |d, a| {
                    if *a <= 0.0 {
                        *d = 0.0;
                    }
                });
                delta = back;
            }
            let (mw, mb) = &mut adam.m[i];
            let (vw, vb) = &mut adam.v[i];
            mw.zip_mut_with(&grad_w, |m, g| *m = b1 * *m + (1.0 - b1) * g);
            vw.zip_mut_with(&grad_w, |v, g| *v = b2 * *v + (1.0 - b2) * g * g);
            mb.zip_mut_with(&grad_b, |m, g| *m = b1 * *m + (1.0 - b1) * g);
            vb.zip_mut_with(&grad_b, |v, g| *v = b2 * *v + (1.0 - b2) * g * g);
            let layer = &mut self.layers[i];
            ndarray::Zip::from(&mut layer.weights)
                .and(&*mw)
                .and(&*vw)
                .for_each(|w, m, v| {
                    *w -= rate * (m / c1) / ((v / c2).sqrt() + eps);
                });
            ndarray::Zip::from(&mut layer.bias)
                .and(&*mb)
                .and(&*vb)
                .for_each(|b, m, v| {
                    *b -= rate * (m / c1) / ((v / c2).sqrt() + eps);
                });
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_network_learns_xor_and_reports_every_epoch() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(11);
        let x = Array2::from_shape_fn((400, 2), |_| rng.gen_range(-1.0..1.0));
        let y: Vec<usize> = x
            .rows()
            .into_iter()
            .map(|r| usize::from((r[0] > 0.0) != (r[1] > 0.0)))
            .collect();
        let params = MlpParams {
            hidden: vec![16],
            epochs: 300,
            batch_size: 32,
            learning_rate: 0.01,
            ..MlpParams::default()
        };
        let mut epochs = Vec::new();
        let net = Mlp::fit(
            &x,
            Targets::Classes(&y, 2),
            &params,
            None,
            &mut rng,
            &mut |e, _| {
                epochs.push(e.loss);
                Ok(())
            },
        )
        .expect("trained");
        assert!(epochs.len() > 20);
        assert!(
            epochs.last().copied().unwrap_or(1.0) < epochs[0] / 3.0,
            "{epochs:?}"
        );
        let p = net.predict(&x);
        let right = p
            .rows()
            .into_iter()
            .zip(&y)
            .filter(|(r, c)| usize::from(r[1] > r[0]) == **c)
            .count();
        assert!(right >= 370, "{right} of 400");
    }

    #[test]
    fn schedules_and_cancellation() {
        assert_eq!(
            Schedule::Step {
                step_size: 10,
                gamma: 0.5
            }
            .rate(1.0, 21),
            0.25
        );
        assert_eq!(Schedule::Exponential { gamma: 0.5 }.rate(1.0, 3), 0.25);
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(1);
        let x = Array2::from_shape_fn((50, 1), |(i, _)| i as f64 / 50.0);
        let y: Vec<f64> = (0..50).map(|i| i as f64 / 25.0).collect();
        let mut seen = 0;
        let stopped = Mlp::fit(
            &x,
            Targets::Values(&y),
            &MlpParams::default(),
            None,
            &mut rng,
            &mut |e, _| {
                seen = e.epoch;
                if e.epoch == 3 {
                    Err(MlError::Cancelled)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!((stopped.err(), seen), (Some(MlError::Cancelled), 3));
    }
}
