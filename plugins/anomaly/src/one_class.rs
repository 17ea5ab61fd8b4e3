//! An online one-class SVM: the ν-formulation of Schölkopf et al. (2001)
//! trained by stochastic gradient descent on random Fourier features
//! (Rahimi & Recht, 2007) that approximate an RBF kernel.
//!
//! Rows are standardised with running means and variances (Welford), then
//! mapped to `D` features `√(2/D)·cos(ωᵀz + b)` with `ω ~ N(0, 2γI)`,
//! `b ~ U(0, 2π)`. The kernel width follows Scott's rule for a window of
//! `n` rows in `d` dimensions, `h = n^(−1/(d+4))`, `γ = 1/(2h²)`: wide
//! kernels (scikit-learn's `gamma="scale"`) blur a curved normal region into
//! a blob whose inside then looks normal. Per row, SGD on
//! `½‖w‖² − ρ + (1/ν)·max(0, ρ − w·φ)`. The score is `ρ − w·φ(x)`: positive
//! outside the learned support. As ν → 1 the model tends to a Parzen-window
//! density estimate (Schölkopf et al., 2001); the default ν = 0.5 keeps it
//! a true one-class SVM while scoring nearly as smoothly.

/// Settings of the model.
#[derive(Clone, Debug)]
pub struct OneClassConfig {
    /// ν: upper bound on the share of training rows outside the support.
    pub nu: f64,
    /// Random Fourier features.
    pub components: usize,
    /// Rows the kernel width is sized for (the session window).
    pub window: usize,
    /// Rows before the model is considered fitted.
    pub warmup: usize,
    /// Initial learning rate (decays as 1/√t).
    pub learning_rate: f64,
    /// Seed of the random features.
    pub seed: u64,
}

impl Default for OneClassConfig {
    fn default() -> Self {
        Self {
            nu: 0.5,
            components: 512,
            window: 2048,
            warmup: 256,
            learning_rate: 0.01,
            seed: 42,
        }
    }
}

/// The online model.
#[derive(Clone, Debug)]
pub struct OnlineOneClass {
    config: OneClassConfig,
    omega: Vec<Vec<f64>>,
    phase: Vec<f64>,
    weights: Vec<f64>,
    rho: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    seen: u64,
    steps: u64,
}

impl OnlineOneClass {
    /// An untrained model; the random features are drawn on the first row.
    pub fn new(config: OneClassConfig) -> Self {
        Self {
            config,
            omega: Vec::new(),
            phase: Vec::new(),
            weights: Vec::new(),
            rho: 0.0,
            mean: Vec::new(),
            m2: Vec::new(),
            seen: 0,
            steps: 0,
        }
    }

    /// True after the warm-up.
    pub fn is_fitted(&self) -> bool {
        self.seen >= self.config.warmup as u64
    }

    fn draw_features(&mut self, width: usize) {
        let mut rng = fastrand::Rng::with_seed(self.config.seed);
        let dimensions = width.max(1) as f64;
        let bandwidth = (self.config.window.max(2) as f64).powf(-1.0 / (dimensions + 4.0));
        let gamma = 1.0 / (2.0 * bandwidth * bandwidth);
        let deviation = (2.0 * gamma).sqrt();
        let components = self.config.components.max(1);
        self.omega = (0..components)
            .map(|_| (0..width).map(|_| deviation * normal(&mut rng)).collect())
            .collect();
        self.phase = (0..components)
            .map(|_| rng.f64() * std::f64::consts::TAU)
            .collect();
        self.weights = vec![0.0; components];
        self.mean = vec![0.0; width];
        self.m2 = vec![0.0; width];
    }

    fn features(&self, row: &[f64]) -> Vec<f64> {
        let count = self.seen.max(2) as f64;
        let standardised: Vec<f64> = row
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let deviation = (self.m2[j] / (count - 1.0)).sqrt().max(1e-9);
                (v - self.mean[j]) / deviation
            })
            .collect();
        let scale = (2.0 / self.omega.len() as f64).sqrt();
        self.omega
            .iter()
            .zip(&self.phase)
            .map(|(w, b)| {
                let dot: f64 = w.iter().zip(&standardised).map(|(a, z)| a * z).sum();
                scale * (dot + b).cos()
            })
            .collect()
    }

    /// `ρ − w·φ(x)`, `None` during warm-up.
    pub fn score(&self, row: &[f64]) -> Option<f64> {
        if !self.is_fitted() || row.len() != self.mean.len() {
            return None;
        }
        let phi = self.features(row);
        let margin: f64 = self.weights.iter().zip(&phi).map(|(w, p)| w * p).sum();
        Some(self.rho - margin)
    }

    /// Scores `row` (as [`Self::score`]), then learns it, mapping it to
    /// features once for both: the cosines are most of the cost.
    pub fn score_and_learn(&mut self, row: &[f64]) -> Option<f64> {
        if self.omega.is_empty() || row.len() != self.mean.len() || self.seen < 16 {
            let score = self.score(row);
            self.learn(row);
            return score;
        }
        let phi = self.features(row);
        let margin: f64 = self.weights.iter().zip(&phi).map(|(w, p)| w * p).sum();
        let score = self.is_fitted().then_some(self.rho - margin);
        self.update_scaler(row);
        self.step(&phi, margin);
        score
    }

    fn update_scaler(&mut self, row: &[f64]) {
        self.seen += 1;
        let n = self.seen as f64;
        for (j, v) in row.iter().enumerate() {
            let delta = v - self.mean[j];
            self.mean[j] += delta / n;
            self.m2[j] += delta * (v - self.mean[j]);
        }
    }

    /// One SGD step on a row mapped to `phi`, whose margin is `margin`.
    fn step(&mut self, phi: &[f64], margin: f64) {
        self.steps += 1;
        let rate = self.config.learning_rate / (self.steps as f64).sqrt();
        let violated = margin < self.rho;
        let inverse_nu = 1.0 / self.config.nu.clamp(1e-3, 1.0);
        for (w, p) in self.weights.iter_mut().zip(phi) {
            let gradient = *w - if violated { inverse_nu * p } else { 0.0 };
            *w -= rate * gradient;
        }
        let rho_gradient = -1.0 + if violated { inverse_nu } else { 0.0 };
        self.rho -= rate * rho_gradient;
    }

    /// Updates the scaler, then takes one SGD step on `row`.
    pub fn learn(&mut self, row: &[f64]) {
        if self.omega.is_empty() {
            self.draw_features(row.len());
        }
        if row.len() != self.mean.len() {
            return;
        }
        self.update_scaler(row);
        // The scaler needs a few rows before features mean anything.
        if self.seen < 16 {
            return;
        }
        let phi = self.features(row);
        let margin: f64 = self.weights.iter().zip(&phi).map(|(w, p)| w * p).sum();
        self.step(&phi, margin);
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_far_from_the_data_score_higher() {
        let mut model = OnlineOneClass::new(OneClassConfig::default());
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..2000 {
            model.learn(&[normal(&mut rng), normal(&mut rng)]);
        }
        let centre = model.score(&[0.0, 0.0]).expect("fitted");
        let far = model.score(&[4.0, -4.0]).expect("fitted");
        assert!(far > centre + 0.01, "far {far} centre {centre}");
    }
}
