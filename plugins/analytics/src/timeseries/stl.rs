//! STL, seasonal-trend decomposition by loess (Cleveland, Cleveland,
//! McRae & Terpenning 1990), ported from the netlib Fortran that
//! statsmodels' `STL` also ports, with statsmodels' defaults: so the
//! components agree with `statsmodels.tsa.seasonal.STL` to rounding.
//!
//! Every smoother here uses jumps of 1 (statsmodels' default): each point
//! gets its own local fit, O(n · window) per pass. Positions are 1-based
//! inside the loess routines, as in the Fortran, so the weights match.

/// STL's parameters; [`StlOptions::new`] gives statsmodels' defaults.
#[derive(Clone, Debug)]
pub struct StlOptions {
    /// Observations per cycle (≥ 2).
    pub period: usize,
    /// Seasonal smoother length (odd, ≥ 3; statsmodels: 7).
    pub seasonal: usize,
    /// Trend smoother length (odd).
    pub trend: usize,
    /// Low-pass filter length (odd, > period).
    pub low_pass: usize,
    /// Robustness iterations downweighting outliers.
    pub robust: bool,
}

impl StlOptions {
    /// statsmodels' defaults for `period`: seasonal 7, trend the smallest
    /// odd ≥ 1.5·period / (1 − 1.5/seasonal), low-pass the smallest odd
    /// > period.
    pub fn new(period: usize, seasonal: usize, robust: bool) -> Self {
        let mut trend = (1.5 * period as f64 / (1.0 - 1.5 / seasonal as f64)).ceil() as usize;
        trend += usize::from(trend.is_multiple_of(2));
        let mut low_pass = period + 1;
        low_pass += usize::from(low_pass.is_multiple_of(2));
        Self {
            period,
            seasonal,
            trend,
            low_pass,
            robust,
        }
    }
}

/// The three components, each as long as the series.
#[derive(Clone, Debug, PartialEq)]
pub struct Decomposition {
    /// Slowly varying level.
    pub trend: Vec<f64>,
    /// The repeating cycle.
    pub seasonal: Vec<f64>,
    /// What is left: y − trend − seasonal.
    pub residual: Vec<f64>,
    /// Robustness weights (all 1 unless robust).
    pub weights: Vec<f64>,
}

/// Decomposes `y`; the caller checks `y.len() ≥ 2·period` and the
/// lengths' oddness (as statsmodels does before calling its port).
pub fn decompose(y: &[f64], options: &StlOptions) -> Decomposition {
    let n = y.len();
    // statsmodels: inner 2 and outer 15 when robust, else 5 and 0.
    let (inner, outer) = if options.robust { (2, 15) } else { (5, 0) };
    let mut trend = vec![0.0; n];
    let mut season = vec![0.0; n];
    let mut weights = vec![1.0; n];
    let mut use_weights = false;
    for round in 0..=outer {
        inner_loop(
            y,
            options,
            inner,
            use_weights,
            &weights,
            &mut season,
            &mut trend,
        );
        if round == outer {
            break;
        }
        let fit: Vec<f64> = trend.iter().zip(&season).map(|(t, s)| t + s).collect();
        robustness_weights(y, &fit, &mut weights);
        use_weights = true;
    }
    if !options.robust {
        weights.iter_mut().for_each(|w| *w = 1.0);
    }
    let residual = (0..n).map(|i| y[i] - trend[i] - season[i]).collect();
    Decomposition {
        trend,
        seasonal: season,
        residual,
        weights,
    }
}

/// The Fortran's `stlstp`.
fn inner_loop(
    y: &[f64],
    o: &StlOptions,
    iterations: usize,
    use_weights: bool,
    rw: &[f64],
    season: &mut [f64],
    trend: &mut [f64],
) {
    let n = y.len();
    let np = o.period;
    for _ in 0..iterations {
        let detrended: Vec<f64> = (0..n).map(|i| y[i] - trend[i]).collect();
        // Cycle-subseries smoothing, extended one period at each end.
        let cycle = cycle_subseries(&detrended, np, o.seasonal, use_weights, rw);
        // Low-pass: three moving averages, then a loess.
        let filtered = moving_average(&moving_average(&moving_average(&cycle, np), np), 3);
        let low = loess(&filtered, o.low_pass, false, &[]);
        for i in 0..n {
            season[i] = cycle[np + i] - low[i];
        }
        let deseasoned: Vec<f64> = (0..n).map(|i| y[i] - season[i]).collect();
        let smoothed = loess(&deseasoned, o.trend, use_weights, rw);
        trend.copy_from_slice(&smoothed);
    }
}

/// The Fortran's `stlss`: each cycle-subseries (every `np`-th value)
/// smoothed by loess and extrapolated one step at each end; the result
/// is `n + 2·np` long.
fn cycle_subseries(y: &[f64], np: usize, ns: usize, use_weights: bool, rw: &[f64]) -> Vec<f64> {
    let n = y.len();
    let mut out = vec![0.0; n + 2 * np];
    let mut weight_buf = Vec::new();
    for j in 0..np {
        let sub: Vec<f64> = (j..n).step_by(np).map(|i| y[i]).collect();
        let sub_rw: Vec<f64> = if use_weights {
            (j..n).step_by(np).map(|i| rw[i]).collect()
        } else {
            Vec::new()
        };
        let k = sub.len();
        let mut smooth = vec![0.0; k + 2];
        let inner = loess(&sub, ns, use_weights, &sub_rw);
        smooth[1..=k].copy_from_slice(&inner);
        weight_buf.resize(k, 0.0);
        let right = ns.min(k);
        smooth[0] = estimate(
            &sub,
            ns,
            0.0,
            1,
            right,
            &mut weight_buf,
            use_weights,
            &sub_rw,
        )
        .unwrap_or(smooth[1]);
        let left = if k >= ns { k - ns + 1 } else { 1 };
        smooth[k + 1] = estimate(
            &sub,
            ns,
            (k + 1) as f64,
            left,
            k,
            &mut weight_buf,
            use_weights,
            &sub_rw,
        )
        .unwrap_or(smooth[k]);
        for (m, value) in smooth.iter().enumerate() {
            out[m * np + j] = *value;
        }
    }
    out
}

/// Moving average of length `len`: `x.len() − len + 1` values.
fn moving_average(x: &[f64], len: usize) -> Vec<f64> {
    let n = x.len();
    if len == 0 || n < len {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(n - len + 1);
    let mut sum: f64 = x[..len].iter().sum();
    out.push(sum / len as f64);
    for i in len..n {
        sum = sum - x[i - len] + x[i];
        out.push(sum / len as f64);
    }
    out
}

/// The Fortran's `stless` with jump 1 and degree 1: a local linear fit
/// at every point, over the `len` nearest.
fn loess(y: &[f64], len: usize, use_weights: bool, rw: &[f64]) -> Vec<f64> {
    let n = y.len();
    if n < 2 {
        return y.to_vec();
    }
    let mut out = vec![0.0; n];
    let mut w = vec![0.0; n];
    if len >= n {
        for i in 1..=n {
            out[i - 1] =
                estimate(y, len, i as f64, 1, n, &mut w, use_weights, rw).unwrap_or(y[i - 1]);
        }
        return out;
    }
    let half = len.div_ceil(2);
    let (mut left, mut right) = (1, len);
    for i in 1..=n {
        if i > half && right != n {
            left += 1;
            right += 1;
        }
        out[i - 1] =
            estimate(y, len, i as f64, left, right, &mut w, use_weights, rw).unwrap_or(y[i - 1]);
    }
    out
}

/// The Fortran's `stlest`: the tricube-weighted local linear fit at
/// position `xs` (1-based) over positions `left..=right`, or `None` when
/// every weight is zero.
#[allow(clippy::too_many_arguments)] // the Fortran's signature, kept to compare line by line
fn estimate(
    y: &[f64],
    len: usize,
    xs: f64,
    left: usize,
    right: usize,
    w: &mut [f64],
    use_weights: bool,
    rw: &[f64],
) -> Option<f64> {
    let n = y.len();
    let range = n as f64 - 1.0;
    let mut h = (xs - left as f64).max(right as f64 - xs);
    if len > n {
        h += ((len - n) / 2) as f64;
    }
    let (h9, h1) = (0.999 * h, 0.001 * h);
    let mut a = 0.0;
    for j in left..=right {
        let r = (j as f64 - xs).abs();
        let mut wj = 0.0;
        if r <= h9 {
            wj = if r <= h1 {
                1.0
            } else {
                (1.0 - (r / h).powi(3)).powi(3)
            };
            if use_weights {
                wj *= rw[j - 1];
            }
            a += wj;
        }
        w[j - 1] = wj;
    }
    if a <= 0.0 {
        return None;
    }
    for j in left..=right {
        w[j - 1] /= a;
    }
    if h > 0.0 {
        let a: f64 = (left..=right).map(|j| w[j - 1] * j as f64).sum();
        let b = xs - a;
        let c: f64 = (left..=right)
            .map(|j| w[j - 1] * (j as f64 - a) * (j as f64 - a))
            .sum();
        if c.sqrt() > 0.001 * range {
            let b = b / c;
            for j in left..=right {
                w[j - 1] *= b * (j as f64 - a) + 1.0;
            }
        }
    }
    Some((left..=right).map(|j| w[j - 1] * y[j - 1]).sum())
}

/// The Fortran's `stlrwt`: bisquare weights of the residuals scaled by
/// six median absolute residuals.
fn robustness_weights(y: &[f64], fit: &[f64], rw: &mut [f64]) {
    let n = y.len();
    let mut r: Vec<f64> = (0..n).map(|i| (y[i] - fit[i]).abs()).collect();
    let mut sorted = r.clone();
    sorted.sort_by(f64::total_cmp);
    let mid1 = n / 2; // the Fortran's n/2+1, 0-based
    let mid2 = n - mid1 - 1;
    let cmad = 3.0 * (sorted[mid1] + sorted[mid2]);
    let (c9, c1) = (0.999 * cmad, 0.001 * cmad);
    for (w, r) in rw.iter_mut().zip(r.iter_mut()) {
        *w = if *r <= c1 {
            1.0
        } else if *r <= c9 {
            let u = *r / cmad;
            (1.0 - u * u).powi(2)
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_statsmodels() {
        let o = StlOptions::new(12, 7, false);
        assert_eq!((o.trend, o.low_pass), (23, 13));
        let o = StlOptions::new(7, 7, false);
        assert_eq!((o.trend, o.low_pass), (15, 9));
    }

    #[test]
    fn a_pure_cycle_on_a_line_separates() {
        let y: Vec<f64> = (0..96)
            .map(|i| 0.5 * i as f64 + [3.0, -1.0, 0.0, -2.0][i % 4])
            .collect();
        let d = decompose(&y, &StlOptions::new(4, 7, false));
        for i in 8..88 {
            assert!((d.trend[i] - 0.5 * i as f64).abs() < 1e-6, "trend at {i}");
            assert!(d.residual[i].abs() < 1e-6, "residual at {i}");
        }
    }

    #[test]
    fn a_moving_average_is_shorter_by_its_length_less_one() {
        assert_eq!(moving_average(&[1.0, 2.0, 3.0, 4.0], 3), [2.0, 3.0]);
    }
}
