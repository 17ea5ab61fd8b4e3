//! ARIMA(p, d, q): the series differenced `d` times, an ARMA(p, q) around
//! a mean (estimated only when `d` = 0, as statsmodels' default trend
//! does) fitted by conditional sum of squares — Nelder–Mead from the
//! least-squares AR fit — and forecast recursively, then integrated back.
//! Intervals from the ψ-weights of the integrated model:
//! Var(h) = σ² Σ_{j<h} ψ_j². statsmodels fits exact Gaussian likelihood
//! instead; on a few hundred observations the two agree closely (the test
//! holds forecasts to 2 %).

use super::{Forecast, nelder_mead};

/// The order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    /// Autoregressive terms.
    pub p: usize,
    /// Differences.
    pub d: usize,
    /// Moving-average terms.
    pub q: usize,
}

/// A fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// Order.
    pub order: Order,
    /// Mean of the differenced series (0 when d > 0).
    pub mean: f64,
    /// AR coefficients φ₁…φp.
    pub ar: Vec<f64>,
    /// MA coefficients θ₁…θq.
    pub ma: Vec<f64>,
    /// Innovation variance.
    pub sigma2: f64,
    /// The series as given.
    series: Vec<f64>,
    /// The differenced series' residuals.
    residuals: Vec<f64>,
}

fn difference(y: &[f64], d: usize) -> Vec<f64> {
    let mut w = y.to_vec();
    for _ in 0..d {
        w = w.windows(2).map(|p| p[1] - p[0]).collect();
    }
    w
}

/// One-step residuals of an ARMA around `mean`, the first `p` taken as 0.
fn residuals(w: &[f64], mean: f64, ar: &[f64], ma: &[f64]) -> Vec<f64> {
    let p = ar.len();
    let mut e = vec![0.0; w.len()];
    for t in p..w.len() {
        let mut predicted = mean;
        for (i, phi) in ar.iter().enumerate() {
            predicted += phi * (w[t - 1 - i] - mean);
        }
        for (j, theta) in ma.iter().enumerate() {
            if t > j {
                predicted += theta * e[t - 1 - j];
            }
        }
        e[t] = w[t] - predicted;
    }
    e
}

/// Least-squares AR(p) coefficients of a centred series (the start).
fn least_squares_ar(w: &[f64], mean: f64, p: usize) -> Vec<f64> {
    if p == 0 || w.len() <= p + 1 {
        return vec![0.0; p];
    }
    let rows = w.len() - p;
    let x = ndarray::Array2::from_shape_fn((rows, p), |(r, i)| w[r + p - 1 - i] - mean);
    let y = ndarray::Array1::from_shape_fn(rows, |r| w[r + p] - mean);
    let xtx = x.t().dot(&x);
    let xty = x.t().dot(&y);
    solve(xtx, xty).unwrap_or_else(|| vec![0.0; p])
}

/// Gaussian elimination with partial pivoting (p is small).
fn solve(mut a: ndarray::Array2<f64>, mut b: ndarray::Array1<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))?;
        if a[[pivot, col]].abs() < 1e-12 {
            return None;
        }
        for k in 0..n {
            a.swap([col, k], [pivot, k]);
        }
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[[row, col]] / a[[col, col]];
            for k in col..n {
                a[[row, k]] -= f * a[[col, k]];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[[row, k]] * x[k]).sum();
        x[row] = (b[row] - s) / a[[row, row]];
    }
    Some(x)
}

/// Fits ARIMA(`order`) to `y`.
pub fn fit(y: &[f64], order: Order) -> Result<Fit, String> {
    let Order { p, d, q } = order;
    if p > 10 || q > 10 || d > 2 {
        return Err("ARIMA orders go up to p = 10, d = 2, q = 10".into());
    }
    let w = difference(y, d);
    let need = (p + q + 1).max(3) * 3;
    if w.len() < need {
        return Err(format!(
            "the series has {} values; ARIMA{:?} needs at least {}",
            y.len(),
            (p, d, q),
            need + d
        ));
    }
    let fit_mean = d == 0;
    let mean0 = if fit_mean {
        w.iter().sum::<f64>() / w.len() as f64
    } else {
        0.0
    };
    let ar0 = least_squares_ar(&w, mean0, p);
    let unpack = |v: &[f64]| -> (f64, Vec<f64>, Vec<f64>) {
        let (mean, rest) = if fit_mean { (v[0], &v[1..]) } else { (0.0, v) };
        (mean, rest[..p].to_vec(), rest[p..].to_vec())
    };
    let cost = |v: &[f64]| {
        let (mean, ar, ma) = unpack(v);
        // Keep the MA part invertible and the AR part bounded.
        if ma.iter().chain(&ar).any(|c| c.abs() >= 1.5) {
            return f64::MAX;
        }
        let sse: f64 = residuals(&w, mean, &ar, &ma).iter().map(|e| e * e).sum();
        if sse.is_finite() { sse } else { f64::MAX }
    };
    let mut start: Vec<f64> = Vec::new();
    if fit_mean {
        start.push(mean0);
    }
    start.extend(&ar0);
    start.extend(std::iter::repeat_n(0.0, q));
    let best = if start.is_empty() {
        start
    } else {
        let mut point = start;
        // Restarts polish what one simplex leaves.
        for _ in 0..3 {
            point = nelder_mead(&cost, &point, 0.1, 1e-14, 5000).0;
        }
        point
    };
    let (mean, ar, ma) = unpack(&best);
    let e = residuals(&w, mean, &ar, &ma);
    let used = (w.len() - p).max(1);
    let sigma2 = e[p..].iter().map(|v| v * v).sum::<f64>() / used as f64;
    Ok(Fit {
        order,
        mean,
        ar,
        ma,
        sigma2,
        series: y.to_vec(),
        residuals: e,
    })
}

impl Fit {
    /// The next `h` values with a `level` interval.
    pub fn forecast(&self, h: usize, level: f64) -> Forecast {
        let Order { p, d, q } = self.order;
        let mut w = difference(&self.series, d);
        let mut e = self.residuals.clone();
        for _ in 0..h {
            let t = w.len();
            let mut next = self.mean;
            for i in 0..p {
                next += self.ar[i] * (w[t - 1 - i] - self.mean);
            }
            for j in 0..q {
                if t > j {
                    next += self.ma[j] * e[t - 1 - j];
                }
            }
            w.push(next);
            e.push(0.0);
        }
        // Integrate the differenced forecasts back, level by level.
        let mut ahead: Vec<f64> = w[w.len() - h..].to_vec();
        for level_index in (0..d).rev() {
            let base = difference(&self.series, level_index);
            let mut last = base.last().copied().unwrap_or(0.0);
            for v in ahead.iter_mut() {
                last += *v;
                *v = last;
            }
        }
        // ψ-weights of φ(B)(1−B)^d ψ(B) = θ(B): the AR polynomial
        // 1 − Σφᵢ Bⁱ times (1 − B) d times, as φ*ᵢ = −(its coefficients).
        let mut polynomial: Vec<f64> = std::iter::once(1.0)
            .chain(self.ar.iter().map(|c| -c))
            .collect();
        for _ in 0..d {
            let mut next = vec![0.0; polynomial.len() + 1];
            for (i, c) in polynomial.iter().enumerate() {
                next[i] += c;
                next[i + 1] -= c;
            }
            polynomial = next;
        }
        let phi_star: Vec<f64> = polynomial[1..].iter().map(|c| -c).collect();
        let mut psi = vec![1.0];
        for j in 1..h {
            let mut v = if j <= q { self.ma[j - 1] } else { 0.0 };
            for (i, c) in phi_star.iter().enumerate() {
                if i < j {
                    v += c * psi[j - 1 - i];
                }
            }
            psi.push(v);
        }
        let mut variances = Vec::with_capacity(h);
        let mut sum = 0.0;
        for value in psi.iter().take(h) {
            sum += value * value;
            variances.push(self.sigma2 * sum);
        }
        Forecast::with_variances(ahead, &variances, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar2(n: usize) -> Vec<f64> {
        // A seeded AR(2) around 50: φ = (0.6, −0.3).
        let mut state = 7u64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f64 / 10_000.0 - 0.5
        };
        let mut y = vec![50.0, 50.0];
        for t in 2..n {
            let v = 50.0 + 0.6 * (y[t - 1] - 50.0) - 0.3 * (y[t - 2] - 50.0) + noise();
            y.push(v);
        }
        y
    }

    #[test]
    fn an_ar2_is_recovered_and_forecast_towards_its_mean() {
        let y = ar2(2000);
        let fit = fit(&y, Order { p: 2, d: 0, q: 0 }).expect("fit");
        assert!(
            (fit.ar[0] - 0.6).abs() < 0.05 && (fit.ar[1] + 0.3).abs() < 0.05,
            "{:?}",
            fit.ar
        );
        assert!((fit.mean - 50.0).abs() < 0.1);
        let f = fit.forecast(50, 0.95);
        assert!((f.mean[49] - fit.mean).abs() < 1e-3);
        assert!(f.upper[49] - f.lower[49] > f.upper[0] - f.lower[0]);
    }

    #[test]
    fn differencing_integrates_back_a_line() {
        let y: Vec<f64> = (0..60)
            .map(|i| 3.0 * i as f64 + if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let fit = fit(&y, Order { p: 0, d: 1, q: 1 }).expect("fit");
        let f = fit.forecast(5, 0.95);
        // The differences average 3, without a fitted mean the walk stays
        // at the last value plus the MA correction.
        assert!((f.mean[0] - y[59]).abs() < 3.5, "{:?}", f.mean);
        assert!(super::fit(&[1.0, 2.0], Order { p: 1, d: 0, q: 0 }).is_err());
    }
}
