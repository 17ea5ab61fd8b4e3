//! The algorithms taken from linfa, behind this crate's shape: linear
//! regression (`linfa-linear`, ordinary least squares), logistic
//! regression (`linfa-logistic`: one logit for two classes, softmax for
//! more, L2 penalty `alpha` = 1/C of scikit-learn), Gaussian naive Bayes
//! (`linfa-bayes`), SVMs with Platt-scaled probabilities (`linfa-svm`;
//! one-vs-rest beyond two classes) and k-means (`linfa-clustering`,
//! k-means++ start, best of several runs). Coefficients are copied out of
//! the linear models so that the stored model (and any export) is plain
//! numbers; the Bayes and SVM models are stored as linfa serializes them.
//! Must not know about datasets, params or storage.

use linfa::prelude::*;
use linfa::traits::Predict;
use linfa_svm::Svm;
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::MlError;

fn failed(what: &str, e: impl std::fmt::Display) -> MlError {
    MlError::Invalid(format!("{what} could not be fitted: {e}"))
}

/// `y = x·w + b`, or per class `z = x·W + b` then a logit/softmax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Features × outputs (one output for values and binary logits).
    pub coefficients: Array2<f64>,
    /// One per output.
    pub intercepts: Array1<f64>,
}

impl Linear {
    /// Raw outputs per row.
    pub fn raw(&self, x: &Array2<f64>) -> Array2<f64> {
        x.dot(&self.coefficients) + &self.intercepts
    }
}

/// Ordinary least squares.
pub fn linear_regression(x: &Array2<f64>, y: &[f64]) -> Result<Linear, MlError> {
    let data = Dataset::new(x.clone(), Array1::from(y.to_vec()));
    let fitted = linfa_linear::LinearRegression::new()
        .fit(&data)
        .map_err(|e| failed("linear_regression", e))?;
    Ok(Linear {
        coefficients: fitted.params().clone().insert_axis(ndarray::Axis(1)),
        intercepts: Array1::from(vec![fitted.intercept()]),
    })
}

/// Logistic regression on class indices `0..classes`.
pub fn logistic_regression(
    x: &Array2<f64>,
    y: &[usize],
    classes: usize,
    alpha: f64,
    max_iterations: u64,
) -> Result<Linear, MlError> {
    let targets = Array1::from(y.to_vec());
    if classes == 2 {
        let data = Dataset::new(x.clone(), targets);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&data)
            .map_err(|e| failed("logistic_regression", e))?;
        // linfa's logit is of its "positive" class; make it class 1's.
        let sign = if fitted.labels().pos.class == 1 {
            1.0
        } else {
            -1.0
        };
        Ok(Linear {
            coefficients: (fitted.params() * sign).insert_axis(ndarray::Axis(1)),
            intercepts: Array1::from(vec![fitted.intercept() * sign]),
        })
    } else {
        let data = Dataset::new(x.clone(), targets);
        let fitted = linfa_logistic::MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&data)
            .map_err(|e| failed("logistic_regression", e))?;
        // Columns in class-index order, whatever order linfa keeps.
        let mut coefficients = Array2::zeros((x.ncols(), classes));
        let mut intercepts = Array1::zeros(classes);
        for (column, &class) in fitted.classes().iter().enumerate() {
            coefficients
                .column_mut(class)
                .assign(&fitted.params().column(column));
            intercepts[class] = fitted.intercept()[column];
        }
        Ok(Linear {
            coefficients,
            intercepts,
        })
    }
}

/// Gaussian naive Bayes.
pub type NaiveBayes = linfa_bayes::GaussianNb<f64, usize>;

/// Fits Gaussian naive Bayes (variance smoothing 1e-9, scikit-learn's).
pub fn naive_bayes(x: &Array2<f64>, y: &[usize]) -> Result<NaiveBayes, MlError> {
    let data = Dataset::new(x.clone(), Array1::from(y.to_vec()));
    linfa_bayes::GaussianNb::params()
        .fit(&data)
        .map_err(|e| failed("naive_bayes", e))
}

/// Class probabilities per row, in class-index order.
pub fn naive_bayes_probabilities(
    model: &NaiveBayes,
    x: &Array2<f64>,
    classes: usize,
) -> Array2<f64> {
    use linfa_bayes::NaiveBayes as _;
    let (p, labels) = model.predict_proba(x.view());
    let mut out = Array2::zeros((x.nrows(), classes));
    for (column, &&class) in labels.iter().enumerate() {
        out.column_mut(class).assign(&p.column(column));
    }
    out
}

/// An SVM's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kernel {
    /// `x·y`.
    Linear,
    /// `exp(-gamma·|x−y|²)`.
    Rbf {
        /// Width.
        gamma: f64,
    },
}

/// One binary SVM per class (one for two classes: class 1 against 0).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SupportVectors {
    /// The machines.
    pub machines: Vec<Svm<f64, linfa::dataset::Pr>>,
}

/// Most rows an SVM trains on: its kernel matrix is rows² numbers.
pub const SVM_MAX_ROWS: usize = 10_000;

/// Fits SVMs with penalty `c`.
pub fn svm(
    x: &Array2<f64>,
    y: &[usize],
    classes: usize,
    kernel: Kernel,
    c: f64,
) -> Result<SupportVectors, MlError> {
    if x.nrows() > SVM_MAX_ROWS {
        return Err(MlError::Invalid(format!(
            "svm trains on at most {SVM_MAX_ROWS} rows (its kernel matrix grows with rows²), this has {}: sample the dataset, or use logistic_regression or gradient_boosting",
            x.nrows()
        )));
    }
    let one_vs = |positive: usize| -> Result<Svm<f64, linfa::dataset::Pr>, MlError> {
        let targets: Array1<bool> = y.iter().map(|&v| v == positive).collect();
        let params = Svm::<f64, linfa::dataset::Pr>::params().pos_neg_weights(c, c);
        let params = match kernel {
            Kernel::Linear => params.linear_kernel(),
            // linfa's Gaussian kernel is exp(-|x−y|²/eps).
            Kernel::Rbf { gamma } => params.gaussian_kernel(1.0 / gamma),
        };
        params
            .fit(&Dataset::new(x.clone(), targets))
            .map_err(|e| failed("svm", e))
    };
    let machines = if classes == 2 {
        vec![one_vs(1)?]
    } else {
        (0..classes).map(one_vs).collect::<Result<_, _>>()?
    };
    Ok(SupportVectors { machines })
}

/// Class probabilities per row (one-vs-rest probabilities normalised).
pub fn svm_probabilities(model: &SupportVectors, x: &Array2<f64>, classes: usize) -> Array2<f64> {
    let mut out = Array2::zeros((x.nrows(), classes));
    if model.machines.len() == 1 {
        let p = model.machines[0].predict(x);
        for (i, pr) in p.iter().enumerate() {
            out[[i, 1]] = f64::from(**pr);
            out[[i, 0]] = 1.0 - f64::from(**pr);
        }
        return out;
    }
    for (class, machine) in model.machines.iter().enumerate() {
        for (i, pr) in machine.predict(x).iter().enumerate() {
            out[[i, class]] = f64::from(**pr);
        }
    }
    for mut row in out.rows_mut() {
        let total = row.sum();
        if total > 0.0 {
            row.mapv_inplace(|v| v / total);
        } else {
            row.fill(1.0 / classes as f64);
        }
    }
    out
}

/// Fits k-means: centroids, k × features.
pub fn kmeans(
    x: &Array2<f64>,
    k: usize,
    runs: usize,
    max_iterations: u64,
    seed: u64,
) -> Result<Array2<f64>, MlError> {
    use linfa_clustering::KMeans;
    if k == 0 || k > x.nrows() {
        return Err(MlError::Invalid(format!(
            "k must be between 1 and the number of rows ({}), not {k}",
            x.nrows()
        )));
    }
    let rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed);
    let model = KMeans::params_with_rng(k, rng)
        .n_runs(runs.max(1))
        .max_n_iterations(max_iterations)
        .tolerance(1e-4)
        .fit(&DatasetBase::from(x.clone()))
        .map_err(|e| failed("kmeans", e))?;
    Ok(model.centroids().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_an_exact_line() {
        let x = Array2::from_shape_fn((20, 2), |(i, j)| {
            (i * (j + 1)) as f64 + (j as f64) * (i % 3) as f64
        });
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 3.0 * r[0] - 2.0 * r[1] + 0.5)
            .collect();
        let m = linear_regression(&x, &y).expect("fit");
        assert!((m.coefficients[[0, 0]] - 3.0).abs() < 1e-8, "{m:?}");
        assert!((m.coefficients[[1, 0]] + 2.0).abs() < 1e-8);
        assert!((m.intercepts[0] - 0.5).abs() < 1e-8);
    }

    #[test]
    fn binary_logits_are_of_class_one_whatever_linfa_calls_positive() {
        let x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64 / 10.0 - 2.0);
        let y: Vec<usize> = (0..40).map(|i| usize::from(i >= 20)).collect();
        let m = logistic_regression(&x, &y, 2, 1.0, 100).expect("fit");
        let raw = m.raw(&ndarray::array![[1.5], [-1.5]]);
        assert!(raw[[0, 0]] > 0.0 && raw[[1, 0]] < 0.0, "{raw:?}");
    }

    #[test]
    fn kmeans_finds_separated_blobs() {
        let x = Array2::from_shape_fn((60, 2), |(i, j)| {
            (i / 20) as f64 * 10.0 + ((i * 7 + j * 3) % 5) as f64 * 0.1
        });
        let c = kmeans(&x, 3, 3, 100, 1).expect("fit");
        let mut firsts: Vec<f64> = c.column(0).iter().map(|v| v.round()).collect();
        firsts.sort_by(f64::total_cmp);
        assert_eq!(firsts, [0.0, 10.0, 20.0]);
        assert!(kmeans(&x, 0, 1, 10, 1).is_err());
    }
}
