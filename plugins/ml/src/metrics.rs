//! Model quality measures, defined as scikit-learn defines them
//! (`accuracy_score`, `f1_score(average="macro")`, `log_loss`,
//! `r2_score`, root of `mean_squared_error`, k-means inertia).

use ndarray::Array2;

/// Fraction of labels predicted right.
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let right = truth.iter().zip(predicted).filter(|(a, b)| a == b).count();
    right as f64 / truth.len() as f64
}

/// Unweighted mean over classes of F1 (a class never predicted nor
/// present is left out, as scikit-learn leaves out labels absent from
/// both).
pub fn macro_f1(truth: &[usize], predicted: &[usize], classes: usize) -> f64 {
    let mut sum = 0.0;
    let mut counted = 0;
    for c in 0..classes {
        let tp = truth
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t == c && **p == c)
            .count() as f64;
        let fp = truth
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t != c && **p == c)
            .count() as f64;
        let fn_ = truth
            .iter()
            .zip(predicted)
            .filter(|(t, p)| **t == c && **p != c)
            .count() as f64;
        if tp + fp + fn_ == 0.0 {
            continue;
        }
        counted += 1;
        sum += 2.0 * tp / (2.0 * tp + fp + fn_);
    }
    if counted == 0 {
        0.0
    } else {
        sum / f64::from(counted)
    }
}

/// Mean negative log-likelihood of the true classes (probabilities
/// clipped to [1e-15, 1 − 1e-15]).
pub fn log_loss(truth: &[usize], probabilities: &Array2<f64>) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let eps = 1e-15;
    let total: f64 = truth
        .iter()
        .enumerate()
        .map(|(i, &c)| -probabilities[[i, c]].clamp(eps, 1.0 - eps).ln())
        .sum();
    total / truth.len() as f64
}

/// Coefficient of determination (1 when perfect; 0 for the mean; can be
/// negative). A constant truth gives 1 if predicted exactly, else 0.
pub fn r2(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_res: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Root mean squared error.
pub fn rmse(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().max(1) as f64;
    (truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Sum of squared distances of rows to their nearest centroid.
pub fn inertia(x: &Array2<f64>, centroids: &Array2<f64>) -> f64 {
    x.rows()
        .into_iter()
        .map(|row| {
            centroids
                .rows()
                .into_iter()
                .map(|c| {
                    row.iter()
                        .zip(c.iter())
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_measures_match_hand_values() {
        let truth = [0, 0, 1, 1, 2];
        let predicted = [0, 1, 1, 1, 0];
        assert_eq!(accuracy(&truth, &predicted), 0.6);
        // F1 per class: 0 → 0.5, 1 → 0.8, 2 → 0.
        assert!((macro_f1(&truth, &predicted, 3) - 1.3 / 3.0).abs() < 1e-12);
        let p = ndarray::array![[0.5, 0.5], [0.25, 0.75]];
        let expected = -(0.5f64.ln() + 0.75f64.ln()) / 2.0;
        assert!((log_loss(&[0, 1], &p) - expected).abs() < 1e-12);
    }

    #[test]
    fn regression_measures_match_hand_values() {
        let truth = [1.0, 2.0, 3.0];
        assert_eq!(r2(&truth, &truth), 1.0);
        assert_eq!(r2(&truth, &[2.0, 2.0, 2.0]), 0.0);
        assert!((rmse(&truth, &[1.0, 2.0, 5.0]) - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let x = ndarray::array![[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]];
        let c = ndarray::array![[0.5, 0.0], [10.0, 0.0]];
        assert_eq!(inertia(&x, &c), 0.5);
    }
}
