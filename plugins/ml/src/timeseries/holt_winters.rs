//! Holt–Winters exponential smoothing in the error-correction form
//! statsmodels' `ExponentialSmoothing` uses (no damping): level, optional
//! additive trend, optional additive or multiplicative season of `m`
//! periods. Initial states by the classical heuristic (level: the first
//! season's mean; trend: the mean change from the first season to the
//! second, per period; season: the first season against that level), and
//! the smoothing parameters, unless given, minimise the in-sample squared
//! one-step error from a coarse grid then Nelder–Mead. Intervals are the
//! additive ETS model's analytic ones, σ²·(1 + Σ c_j²) with
//! c_j = α(1 + jβ) + γ·[j ≡ 0 mod m]; for a multiplicative season they are
//! the same approximation.

use super::{Forecast, nelder_mead};

/// How a component enters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Added.
    Additive,
    /// Multiplied.
    Multiplicative,
}

/// The model's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// Additive trend.
    pub trend: bool,
    /// Season and its period.
    pub seasonal: Option<(Kind, usize)>,
}

/// Smoothing parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smoothing {
    /// Level.
    pub alpha: f64,
    /// Trend.
    pub beta: f64,
    /// Season.
    pub gamma: f64,
}

/// A fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Shape.
    pub spec: Spec,
    /// Parameters.
    pub smoothing: Smoothing,
    /// Initial level, trend and season (as used; for comparison).
    pub initial: (f64, f64, Vec<f64>),
    /// Final level.
    pub level: f64,
    /// Final trend.
    pub trend: f64,
    /// The last `m` seasonal states, oldest first.
    pub season: Vec<f64>,
    /// Sum of squared one-step errors.
    pub sse: f64,
    /// Observations.
    pub n: usize,
}

/// Why a series cannot be fitted.
pub fn check(y: &[f64], spec: &Spec) -> Result<(), String> {
    let need = match spec.seasonal {
        Some((_, m)) => 2 * m.max(1),
        None => 3,
    };
    if y.len() < need {
        return Err(format!(
            "the series has {} values; this model needs at least {need} (two full seasons)",
            y.len()
        ));
    }
    if let Some((Kind::Multiplicative, _)) = spec.seasonal
        && y.iter().any(|v| *v <= 0.0)
    {
        return Err(
            "a multiplicative season needs every value above 0: use an additive one".into(),
        );
    }
    if let Some((_, m)) = spec.seasonal
        && m < 2
    {
        return Err("seasonal_periods must be at least 2".into());
    }
    Ok(())
}

/// The heuristic initial states.
pub fn initial_states(y: &[f64], spec: &Spec) -> (f64, f64, Vec<f64>) {
    match spec.seasonal {
        Some((kind, m)) => {
            let first = y[..m].iter().sum::<f64>() / m as f64;
            let second = y[m..2 * m].iter().sum::<f64>() / m as f64;
            let trend = if spec.trend {
                (second - first) / m as f64
            } else {
                0.0
            };
            let season = y[..m]
                .iter()
                .map(|v| {
                    if kind == Kind::Additive {
                        v - first
                    } else {
                        v / first
                    }
                })
                .collect();
            (first, trend, season)
        }
        None => (y[0], if spec.trend { y[1] - y[0] } else { 0.0 }, Vec::new()),
    }
}

/// Runs the recursions with the given parameters and initial states.
pub fn smooth(y: &[f64], spec: Spec, s: Smoothing, initial: (f64, f64, Vec<f64>)) -> Fit {
    let (mut level, mut trend, mut season) = initial.clone();
    let kind = spec.seasonal.map(|(k, _)| k);
    let m = spec.seasonal.map_or(0, |(_, m)| m);
    let mut sse = 0.0;
    for (t, &v) in y.iter().enumerate() {
        let base = level + trend;
        let seasonal = if m > 0 { season[t] } else { 0.0 };
        let predicted = match kind {
            Some(Kind::Additive) => base + seasonal,
            Some(Kind::Multiplicative) => base * seasonal,
            None => base,
        };
        sse += (v - predicted).powi(2);
        let previous = level;
        level = match kind {
            Some(Kind::Additive) => s.alpha * (v - seasonal) + (1.0 - s.alpha) * base,
            Some(Kind::Multiplicative) => s.alpha * (v / seasonal) + (1.0 - s.alpha) * base,
            None => s.alpha * v + (1.0 - s.alpha) * base,
        };
        if spec.trend {
            trend = s.beta * (level - previous) + (1.0 - s.beta) * trend;
        }
        match kind {
            Some(Kind::Additive) => season.push(s.gamma * (v - base) + (1.0 - s.gamma) * seasonal),
            Some(Kind::Multiplicative) => {
                season.push(s.gamma * (v / base) + (1.0 - s.gamma) * seasonal)
            }
            None => {}
        }
    }
    let tail = season.len().saturating_sub(m);
    Fit {
        spec,
        smoothing: s,
        initial,
        level,
        trend,
        season: season[tail..].to_vec(),
        sse,
        n: y.len(),
    }
}

fn squash(x: f64) -> f64 {
    // Keeps every parameter strictly inside (0, 1).
    1e-4 + (1.0 - 2e-4) / (1.0 + (-x).exp())
}

fn unsquash(p: f64) -> f64 {
    let q = ((p - 1e-4) / (1.0 - 2e-4)).clamp(1e-9, 1.0 - 1e-9);
    (q / (1.0 - q)).ln()
}

/// Fits the model; `given` fixes the smoothing parameters.
pub fn fit(y: &[f64], spec: Spec, given: Option<Smoothing>) -> Result<Fit, String> {
    check(y, &spec)?;
    let initial = initial_states(y, &spec);
    if let Some(s) = given {
        return Ok(smooth(y, spec, s, initial));
    }
    let to_params = |p: &[f64]| Smoothing {
        alpha: squash(p[0]),
        beta: if spec.trend { squash(p[1]) } else { 0.0 },
        gamma: if spec.seasonal.is_some() {
            squash(p[2])
        } else {
            0.0
        },
    };
    let cost = |p: &[f64]| {
        let sse = smooth(y, spec, to_params(p), initial.clone()).sse;
        if sse.is_finite() { sse } else { f64::MAX }
    };
    // A coarse grid first, as statsmodels' brute start does: the surface
    // has local minima.
    let grid = [0.1, 0.3, 0.5, 0.7, 0.9];
    let mut start = vec![unsquash(0.5); 3];
    let mut best = f64::INFINITY;
    for &a in &grid {
        for &b in if spec.trend { &grid[..] } else { &grid[..1] } {
            for &g in if spec.seasonal.is_some() {
                &grid[..]
            } else {
                &grid[..1]
            } {
                let p = [unsquash(a), unsquash(b), unsquash(g)];
                let c = cost(&p);
                if c < best {
                    best = c;
                    start = p.to_vec();
                }
            }
        }
    }
    let (p, _) = nelder_mead(&cost, &start, 0.5, 1e-12, 4000);
    Ok(smooth(y, spec, to_params(&p), initial))
}

impl Fit {
    /// The next `h` values with a `level` interval.
    pub fn forecast(&self, h: usize, level: f64) -> Forecast {
        let m = self.spec.seasonal.map_or(0, |(_, m)| m);
        let mean: Vec<f64> = (1..=h)
            .map(|k| {
                let base = self.level + k as f64 * self.trend;
                match self.spec.seasonal {
                    Some((Kind::Additive, _)) => base + self.season[(k - 1) % m],
                    Some((Kind::Multiplicative, _)) => base * self.season[(k - 1) % m],
                    None => base,
                }
            })
            .collect();
        let sigma2 = self.sse / self.n.max(1) as f64;
        let Smoothing { alpha, beta, gamma } = self.smoothing;
        let mut variances = Vec::with_capacity(h);
        let mut sum = 0.0;
        for k in 1..=h {
            variances.push(sigma2 * (1.0 + sum));
            let j = k as f64;
            let c = alpha * (1.0 + if self.spec.trend { j * beta } else { 0.0 })
                + if m > 0 && k % m == 0 { gamma } else { 0.0 };
            sum += c * c;
        }
        Forecast::with_variances(mean, &variances, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_seasonal_series_is_forecast_exactly() {
        let pattern = [10.0, 20.0, 30.0, 20.0];
        let y: Vec<f64> = (0..24).map(|i| 100.0 + pattern[i % 4]).collect();
        let spec = Spec {
            trend: false,
            seasonal: Some((Kind::Additive, 4)),
        };
        let fit = fit(&y, spec, None).expect("fit");
        let f = fit.forecast(8, 0.95);
        for (k, v) in f.mean.iter().enumerate() {
            assert!((v - (100.0 + pattern[k % 4])).abs() < 1e-6, "{k}: {v}");
        }
        assert!(f.upper.iter().zip(&f.lower).all(|(u, l)| u >= l));
    }

    #[test]
    fn a_trend_continues_and_intervals_widen() {
        let y: Vec<f64> = (0..40)
            .map(|i| 5.0 + 2.0 * i as f64 + if i % 3 == 0 { 0.5 } else { -0.25 })
            .collect();
        let fit = fit(
            &y,
            Spec {
                trend: true,
                seasonal: None,
            },
            None,
        )
        .expect("fit");
        let f = fit.forecast(10, 0.9);
        assert!((f.mean[9] - (5.0 + 2.0 * 49.0)).abs() < 2.0, "{:?}", f.mean);
        let widths: Vec<f64> = f.upper.iter().zip(&f.lower).map(|(u, l)| u - l).collect();
        assert!(widths.windows(2).all(|w| w[1] >= w[0]), "{widths:?}");
        assert!(
            check(
                &[1.0, -1.0, 2.0, 3.0],
                &Spec {
                    trend: false,
                    seasonal: Some((Kind::Multiplicative, 2))
                }
            )
            .is_err()
        );
    }
}
