//! Concept-drift tests: ADWIN, run on every row, and a two-window
//! Kolmogorov–Smirnov test, run on request.

use std::collections::VecDeque;

use serde::Serialize;

/// ADWIN (Bifet & Gavaldà, 2007) over an explicit window: every
/// `check_every` rows, each cut of the window into an older and a newer
/// part is tested (at a granularity of `cut_step` rows); when the means
/// differ by more than the ADWIN bound `ε_cut`, the older part is dropped
/// and a drift is reported. The window is capped at `max_window` rows,
/// which bounds both memory and the cost of a check.
///
/// Both parts must hold at least `min_part` rows. With very short parts a
/// seasonal signal (a sine of period 100, say) looks like a new drift every
/// half period; parts of a period or more average the season out.
#[derive(Clone, Debug)]
pub struct Adwin {
    delta: f64,
    window: VecDeque<f64>,
    max_window: usize,
    since_check: usize,
    check_every: usize,
    cut_step: usize,
    min_part: usize,
    detections: u64,
}

/// What ADWIN saw when it cut its window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdwinDrift {
    /// |mean(old) − mean(new)|.
    pub statistic: f64,
    /// The bound it exceeded.
    pub threshold: f64,
    /// Rows in the dropped, older part.
    pub reference_size: usize,
    /// Rows kept, the newer part.
    pub current_size: usize,
    /// Means of the two parts.
    pub reference_mean: f64,
    /// Mean of the newer part.
    pub current_mean: f64,
}

impl Adwin {
    /// `delta` is the confidence parameter (river's default: 0.002);
    /// neither part of a cut may be shorter than `min_part` rows (at least 8).
    pub fn new(delta: f64, max_window: usize, min_part: usize) -> Self {
        let min_part = min_part.max(8);
        Self {
            delta: delta.clamp(1e-12, 0.5),
            window: VecDeque::new(),
            max_window: max_window.max(4 * min_part),
            since_check: 0,
            check_every: 32,
            cut_step: 8,
            min_part,
            detections: 0,
        }
    }

    /// Rows in the window.
    pub fn width(&self) -> usize {
        self.window.len()
    }

    /// Drifts found so far.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Mean of the window.
    pub fn mean(&self) -> f64 {
        if self.window.is_empty() {
            return 0.0;
        }
        self.window.iter().sum::<f64>() / self.window.len() as f64
    }

    /// Adds `value`; returns the drift if this row revealed one.
    pub fn update(&mut self, value: f64) -> Option<AdwinDrift> {
        if !value.is_finite() {
            return None;
        }
        if self.window.len() == self.max_window {
            self.window.pop_front();
        }
        self.window.push_back(value);
        self.since_check += 1;
        if self.since_check < self.check_every {
            return None;
        }
        self.since_check = 0;
        let drift = self.find_cut()?;
        for _ in 0..drift.reference_size {
            self.window.pop_front();
        }
        self.detections += 1;
        Some(drift)
    }

    fn find_cut(&self) -> Option<AdwinDrift> {
        let n = self.window.len();
        if n < 2 * self.min_part {
            return None;
        }
        let total: f64 = self.window.iter().sum();
        let mean = total / n as f64;
        let variance = self.window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let delta_prime = self.delta / (n as f64).ln();
        let log_term = (2.0 / delta_prime).ln();
        let mut prefix = 0.0;
        let mut best: Option<AdwinDrift> = None;
        for (i, v) in self.window.iter().enumerate() {
            prefix += v;
            let old = i + 1;
            if old < self.min_part || n - old < self.min_part || old % self.cut_step != 0 {
                continue;
            }
            let new = n - old;
            let old_mean = prefix / old as f64;
            let new_mean = (total - prefix) / new as f64;
            let m = 1.0 / (1.0 / old as f64 + 1.0 / new as f64);
            let threshold = (2.0 / m * variance * log_term).sqrt() + 2.0 / (3.0 * m) * log_term;
            let statistic = (old_mean - new_mean).abs();
            if statistic > threshold {
                // The latest cut that shows the change keeps the least stale data out.
                best = Some(AdwinDrift {
                    statistic,
                    threshold,
                    reference_size: old,
                    current_size: new,
                    reference_mean: old_mean,
                    current_mean: new_mean,
                });
            }
        }
        best
    }
}

/// A two-sample Kolmogorov–Smirnov test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KsTest {
    /// D = sup |F_ref − F_cur|.
    pub statistic: f64,
    /// Asymptotic p-value (Kolmogorov distribution of `√(nm/(n+m))·D`,
    /// scipy's `kstwobign.sf`).
    pub p_value: f64,
}

/// Two-sample KS statistic and asymptotic p-value.
pub fn ks_two_sample(reference: &[f64], current: &[f64]) -> KsTest {
    let mut a: Vec<f64> = reference
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mut b: Vec<f64> = current.iter().copied().filter(|v| v.is_finite()).collect();
    if a.is_empty() || b.is_empty() {
        return KsTest {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len(), b.len());
    let (mut i, mut j) = (0, 0);
    let mut statistic: f64 = 0.0;
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        statistic = statistic.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let effective = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    KsTest {
        statistic,
        p_value: kolmogorov_survival(effective * statistic),
    }
}

/// `P(K > x)` for the Kolmogorov distribution:
/// `2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}`.
pub fn kolmogorov_survival(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 0.2 {
        // The alternating series converges slowly here; the value is 1 to
        // double precision.
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = (-2.0 * k * k * x * x).exp();
        sum += if k as u32 % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adwin_finds_a_mean_shift_soon_after_it_happens() {
        let mut adwin = Adwin::new(0.002, 4096, 16);
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..1000 {
            assert!(
                adwin.update(rng.f64()).is_none(),
                "no drift in a stationary stream"
            );
        }
        let mut found = None;
        for i in 0..1000 {
            if let Some(drift) = adwin.update(rng.f64() + 0.5) {
                found = Some((i, drift));
                break;
            }
        }
        let (delay, drift) = found.expect("the shift is found");
        assert!(delay < 200, "found after {delay} rows");
        assert!(drift.current_mean > drift.reference_mean + 0.3);
    }

    #[test]
    fn adwin_with_long_parts_ignores_a_season() {
        let mut adwin = Adwin::new(0.002, 8192, 100);
        let mut rng = fastrand::Rng::with_seed(8);
        for t in 0..6000 {
            let value = (std::f64::consts::TAU * f64::from(t) / 100.0).sin() + 0.05 * rng.f64();
            assert!(adwin.update(value).is_none(), "false drift at {t}");
        }
    }

    #[test]
    fn ks_of_identical_and_disjoint_samples() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let same = ks_two_sample(&a, &a);
        assert_eq!(same.statistic, 0.0);
        assert!((same.p_value - 1.0).abs() < 1e-12);
        let b: Vec<f64> = (200..300).map(f64::from).collect();
        let apart = ks_two_sample(&a, &b);
        assert_eq!(apart.statistic, 1.0);
        assert!(apart.p_value < 1e-10);
    }

    #[test]
    fn kolmogorov_survival_known_values() {
        // scipy.stats.kstwobign.sf(1.0) and sf(1.36)
        assert!((kolmogorov_survival(1.0) - 0.269_999_671_677_350_3).abs() < 1e-9);
        assert!((kolmogorov_survival(1.36) - 0.049_4).abs() < 1e-3);
    }
}
