//! Time-series analysis of one value over time: a linear trend, the
//! period (given, or found by autocorrelation), an STL decomposition
//! ([`stl`]), anomalies on its residual, a forecast with intervals, and
//! tumbling or sliding window aggregates ([`windows`]).
//!
//! Plain functions over `(time, value)` pairs: the `timeseries`
//! operation reads the columns and reports each stage as an event. Points
//! are taken as equally spaced in time order (what STL assumes); a series
//! sampled irregularly is first bucketed by [`regularize`].

pub mod stl;
pub mod windows;

use crate::AnalyticsError;

/// A least-squares line over positions 0, 1, 2, …
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Change per step.
    pub slope: f64,
    /// Value at position 0.
    pub intercept: f64,
    /// Share of variance the line explains (NaN for a constant series).
    pub r2: f64,
}

/// Least squares of `y` on its positions.
pub fn linear_trend(y: &[f64]) -> Line {
    let n = y.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mean_x;
        let dy = v - mean_y;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Line {
        slope,
        intercept: mean_y - slope * mean_x,
        r2: if syy > 0.0 && sxx > 0.0 {
            sxy * sxy / (sxx * syy)
        } else {
            f64::NAN
        },
    }
}

/// Buckets `points` (time-sorted) into `interval`-wide buckets aligned to
/// 0, each the mean of its values; empty buckets between are filled by
/// linear interpolation so the result is regular. Returns bucket starts
/// and values.
pub fn regularize(points: &[(i64, f64)], interval: i64) -> (Vec<i64>, Vec<f64>) {
    let Some(first) = points.first() else {
        return (Vec::new(), Vec::new());
    };
    let start = first.0.div_euclid(interval);
    let last = points[points.len() - 1].0.div_euclid(interval);
    let buckets = (last - start + 1) as usize;
    let mut sums = vec![0.0; buckets];
    let mut counts = vec![0u32; buckets];
    for &(t, v) in points {
        let b = (t.div_euclid(interval) - start) as usize;
        sums[b] += v;
        counts[b] += 1;
    }
    let mut values: Vec<Option<f64>> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| (c > 0).then(|| s / f64::from(c)))
        .collect();
    let mut prev: Option<usize> = None;
    for i in 0..buckets {
        if values[i].is_some() {
            if let Some(p) = prev.filter(|p| i > p + 1) {
                let (a, b) = (values[p].unwrap_or(0.0), values[i].unwrap_or(0.0));
                for (k, slot) in values.iter_mut().enumerate().take(i).skip(p + 1) {
                    *slot = Some(a + (b - a) * (k - p) as f64 / (i - p) as f64);
                }
            }
            prev = Some(i);
        }
    }
    let times = (0..buckets as i64)
        .map(|b| (start + b) * interval)
        .collect();
    (
        times,
        values.into_iter().map(|v| v.unwrap_or(0.0)).collect(),
    )
}

/// Sample autocorrelation of `y` at `lag`.
fn autocorrelation(y: &[f64], mean: f64, variance: f64, lag: usize) -> f64 {
    let n = y.len();
    let mut s = 0.0;
    for i in 0..n - lag {
        s += (y[i] - mean) * (y[i + lag] - mean);
    }
    s / variance
}

/// Least autocorrelation a lag needs to count as a season.
const SEASON_ACF: f64 = 0.3;

/// The period of `y`: of the lags from 2 to n/3 whose autocorrelation
/// (after removing the linear trend) is a local peak above 0.3, the one
/// with the highest; `None` when the series has no such cycle.
pub fn detect_period(y: &[f64]) -> Option<usize> {
    let n = y.len();
    if n < 8 {
        return None;
    }
    let line = linear_trend(y);
    let detrended: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v - line.intercept - line.slope * i as f64)
        .collect();
    let mean = detrended.iter().sum::<f64>() / n as f64;
    let variance: f64 = detrended.iter().map(|v| (v - mean) * (v - mean)).sum();
    if variance <= 0.0 {
        return None;
    }
    let max_lag = n / 3;
    let acf: Vec<f64> = (0..=max_lag + 1)
        .map(|lag| autocorrelation(&detrended, mean, variance, lag))
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for lag in 2..=max_lag {
        let is_peak = acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1];
        if is_peak && acf[lag] > SEASON_ACF && best.is_none_or(|(_, a)| acf[lag] > a + 1e-9) {
            best = Some((lag, acf[lag]));
        }
    }
    best.map(|(lag, _)| lag)
}

/// A point whose residual is far from the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Its position in the series.
    pub index: usize,
    /// Robust z-score of its residual.
    pub score: f64,
    /// `medium`, `high` or `critical` (|z| above 1, 1.5 or 2 thresholds).
    pub severity: &'static str,
    /// Two-sided normal confidence that it is not noise.
    pub confidence: f64,
}

/// Points whose residual's robust z-score — distance from the median in
/// units of 1.4826 median absolute deviations — exceeds `threshold`.
pub fn residual_anomalies(residual: &[f64], threshold: f64) -> Vec<Anomaly> {
    if residual.is_empty() {
        return Vec::new();
    }
    let median = median_of(residual.to_vec());
    let mad = median_of(residual.iter().map(|r| (r - median).abs()).collect());
    let scale = 1.4826 * mad;
    if scale <= 0.0 {
        return Vec::new();
    }
    residual
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            let score = (r - median) / scale;
            (score.abs() > threshold).then(|| Anomaly {
                index,
                score,
                severity: if score.abs() > 2.0 * threshold {
                    "critical"
                } else if score.abs() > 1.5 * threshold {
                    "high"
                } else {
                    "medium"
                },
                confidence: erf(score.abs() / std::f64::consts::SQRT_2),
            })
        })
        .collect()
}

fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// The standard normal quantile (Acklam's rational approximation,
/// relative error < 1.2e-9), for forecast intervals.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A forecast step: the value and its interval.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastPoint {
    /// Steps past the last point (1 = next).
    pub step: usize,
    /// Point forecast.
    pub value: f64,
    /// Lower bound of the interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// Forecasts `horizon` steps: the line fitted to the last `fit_window`
/// points of `trend`, extended, plus the seasonal value of the same phase
/// in the last cycle; the interval is the least-squares prediction
/// interval at `level` with the residuals' standard deviation.
pub fn forecast(
    trend: &[f64],
    seasonal: &[f64],
    residual: &[f64],
    period: Option<usize>,
    fit_window: usize,
    horizon: usize,
    level: f64,
) -> Result<Vec<ForecastPoint>, AnalyticsError> {
    let n = trend.len();
    if n < 3 {
        return Err(AnalyticsError::Invalid(
            "a forecast needs at least 3 points".into(),
        ));
    }
    if !(0.0..1.0).contains(&level) || level <= 0.0 {
        return Err(AnalyticsError::Invalid(format!(
            "forecast level is a probability between 0 and 1 (such as 0.95), not {level}"
        )));
    }
    let m = fit_window.clamp(2, n);
    let tail = &trend[n - m..];
    let line = linear_trend(tail);
    let rn = residual.len() as f64;
    let mean_r = residual.iter().sum::<f64>() / rn;
    let sigma = (residual.iter().map(|r| (r - mean_r).powi(2)).sum::<f64>() / (rn - 1.0)).sqrt();
    let z = normal_quantile(0.5 + level / 2.0);
    let mean_x = (m as f64 - 1.0) / 2.0;
    let sxx: f64 = (0..m).map(|i| (i as f64 - mean_x).powi(2)).sum();
    Ok((1..=horizon)
        .map(|step| {
            let x = (m - 1 + step) as f64;
            let level_value = line.intercept + line.slope * x;
            let season = match period {
                Some(p) if p > 0 && seasonal.len() >= p => seasonal[n - p + (step - 1) % p],
                _ => 0.0,
            };
            let value = level_value + season;
            let half = z * sigma * (1.0 + 1.0 / m as f64 + (x - mean_x).powi(2) / sxx).sqrt();
            ForecastPoint {
                step,
                value,
                lower: value - half,
                upper: value + half,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_its_own_trend() {
        let y: Vec<f64> = (0..10).map(|i| 2.0 + 0.5 * i as f64).collect();
        let line = linear_trend(&y);
        assert!((line.slope - 0.5).abs() < 1e-12 && (line.intercept - 2.0).abs() < 1e-12);
        assert!((line.r2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_period_of_a_noisy_cycle_is_found() {
        let mut state = 7u64;
        let y: Vec<f64> = (0..240)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let noise = (state >> 33) as f64 / (1u64 << 31) as f64 - 0.5;
                (i as f64 * std::f64::consts::TAU / 12.0).sin() * 3.0 + 0.05 * i as f64 + noise
            })
            .collect();
        assert_eq!(detect_period(&y), Some(12));
        let flat: Vec<f64> = (0..100).map(|i| i as f64).collect();
        assert_eq!(detect_period(&flat), None, "a straight line has no season");
    }

    #[test]
    fn gaps_are_filled_between_their_neighbours() {
        let (t, v) = regularize(&[(0, 1.0), (5, 3.0), (30, 7.0)], 10);
        assert_eq!(t, [0, 10, 20, 30]);
        assert_eq!(v, [2.0, 3.666_666_666_666_667, 5.333_333_333_333_334, 7.0]);
    }

    #[test]
    fn an_outlier_in_the_residual_is_flagged() {
        let mut r: Vec<f64> = (0..50)
            .map(|i| ((i * 37) % 11) as f64 / 10.0 - 0.5)
            .collect();
        r[20] = 9.0;
        let found = residual_anomalies(&r, 3.5);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].index, 20);
        assert_eq!(found[0].severity, "critical");
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((erf(1.0) - 0.842_700_79).abs() < 1e-6);
    }
}
