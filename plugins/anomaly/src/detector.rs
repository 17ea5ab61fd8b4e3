//! One name for the four models: each scores a row before learning it
//! (prequential, so no row is judged by a model that has seen it) and turns
//! its raw score into a confidence and a verdict.

use serde::Serialize;

use crate::calibration::Calibrator;
use crate::half_space_trees::{HalfSpaceConfig, HalfSpaceTrees};
use crate::isolation_forest::{ForestConfig, StreamingForest};
use crate::one_class::{OneClassConfig, OnlineOneClass};
use crate::robust_z::{RobustZ, Z_THRESHOLD};

/// The models a session can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// [`StreamingForest`].
    IsolationForest,
    /// [`HalfSpaceTrees`].
    HalfSpaceTrees,
    /// [`OnlineOneClass`].
    OneClassSvm,
    /// [`RobustZ`].
    RobustZscore,
}

impl Algorithm {
    /// Every model.
    pub const ALL: [Self; 4] = [
        Self::IsolationForest,
        Self::HalfSpaceTrees,
        Self::OneClassSvm,
        Self::RobustZscore,
    ];

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::IsolationForest => "isolation_forest",
            Self::HalfSpaceTrees => "half_space_trees",
            Self::OneClassSvm => "one_class_svm",
            Self::RobustZscore => "robust_zscore",
        }
    }

    /// Accepts the names and their common short forms.
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "isolation_forest" | "iforest" | "isolationforest" => Self::IsolationForest,
            "half_space_trees" | "hst" | "halfspacetrees" => Self::HalfSpaceTrees,
            "one_class_svm" | "ocsvm" | "oneclasssvm" => Self::OneClassSvm,
            "robust_zscore" | "mad" | "zscore" | "robust_z" => Self::RobustZscore,
            _ => {
                return Err(format!(
                    "unknown algorithm '{name}'; use one of: {}",
                    Self::ALL.map(Self::name).join(", ")
                ));
            }
        })
    }
}

/// The settings the models are built from.
#[derive(Clone, Debug)]
pub struct ModelSettings {
    /// Rows the window-based models keep.
    pub window_size: usize,
    /// Rows before the first fit.
    pub warmup: usize,
    /// Expected anomalous share (sets the verdict threshold).
    pub contamination: f64,
    /// Trees for the tree ensembles (`None`: each model's default).
    pub trees: Option<usize>,
    /// Seed.
    pub seed: u64,
}

/// One row's outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// Raw score, higher is more unusual (0 until the model is fitted).
    pub score: f64,
    /// 0..1.
    pub confidence: f64,
    /// The verdict.
    pub anomalous: bool,
    /// False while warming up.
    pub fitted: bool,
}

impl Verdict {
    const WARMING_UP: Self = Self {
        score: 0.0,
        confidence: 0.0,
        anomalous: false,
        fitted: false,
    };
}

#[derive(Clone, Debug)]
enum Model {
    Forest(StreamingForest),
    HalfSpace(HalfSpaceTrees),
    OneClass(OnlineOneClass),
    Robust(RobustZ),
}

/// A model and its calibration.
#[derive(Clone, Debug)]
pub struct Detector {
    algorithm: Algorithm,
    model: Model,
    calibrator: Calibrator,
}

impl Detector {
    /// A fresh model.
    pub fn new(algorithm: Algorithm, settings: &ModelSettings) -> Self {
        let model = match algorithm {
            Algorithm::IsolationForest => {
                let defaults = ForestConfig::default();
                let sample_size = defaults.sample_size.min(settings.warmup.max(2));
                Model::Forest(StreamingForest::new(ForestConfig {
                    trees: settings.trees.unwrap_or(defaults.trees),
                    sample_size,
                    window: settings.window_size.max(sample_size),
                    refit_every: (settings.window_size / 4).max(32),
                    seed: settings.seed,
                }))
            }
            Algorithm::HalfSpaceTrees => {
                let defaults = HalfSpaceConfig::default();
                Model::HalfSpace(HalfSpaceTrees::new(HalfSpaceConfig {
                    trees: settings.trees.unwrap_or(defaults.trees),
                    window: settings.warmup.max(16),
                    seed: settings.seed,
                    ..defaults
                }))
            }
            Algorithm::OneClassSvm => Model::OneClass(OnlineOneClass::new(OneClassConfig {
                warmup: settings.warmup,
                window: settings.window_size,
                seed: settings.seed,
                ..OneClassConfig::default()
            })),
            Algorithm::RobustZscore => {
                Model::Robust(RobustZ::new(settings.window_size, settings.warmup))
            }
        };
        Self {
            algorithm,
            model,
            calibrator: Calibrator::new(settings.contamination),
        }
    }

    /// Which model this is.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// True once the model can judge rows: fitted, and (for the models
    /// judged by their score distribution) with enough scores seen to set
    /// a threshold.
    pub fn is_fitted(&self) -> bool {
        match &self.model {
            Model::Forest(m) => m.is_fitted() && self.calibrator.is_ready(),
            Model::HalfSpace(m) => m.is_fitted() && self.calibrator.is_ready(),
            Model::OneClass(m) => m.is_fitted() && self.calibrator.is_ready(),
            Model::Robust(m) => m.is_fitted(),
        }
    }

    /// Changes the verdict threshold.
    pub fn set_contamination(&mut self, contamination: f64) {
        self.calibrator.set_contamination(contamination);
    }

    fn raw_score_available(&self) -> bool {
        match &self.model {
            Model::Forest(m) => m.is_fitted(),
            Model::HalfSpace(m) => m.is_fitted(),
            Model::OneClass(m) => m.is_fitted(),
            Model::Robust(m) => m.is_fitted(),
        }
    }

    fn raw_score(&self, row: &[f64]) -> Option<f64> {
        match &self.model {
            Model::Forest(m) => m.score(row),
            Model::HalfSpace(m) => m.score(row),
            Model::OneClass(m) => m.score(row),
            Model::Robust(m) => m.score(row),
        }
    }

    /// Scores `row` without learning it. While the threshold is still
    /// being learned the row is scored (so calibration can proceed) but
    /// reported as warming up.
    pub fn score(&self, row: &[f64]) -> Verdict {
        self.judge(self.raw_score(row))
    }

    fn judge(&self, raw: Option<f64>) -> Verdict {
        let Some(score) = raw else {
            return Verdict::WARMING_UP;
        };
        if !self.is_fitted() {
            return Verdict {
                score,
                ..Verdict::WARMING_UP
            };
        }
        let (confidence, anomalous) = match self.model {
            // z has a scale of its own: report its two-sided normal
            // significance and use the conventional cut-off.
            Model::Robust(_) => (erf(score / std::f64::consts::SQRT_2), score > Z_THRESHOLD),
            _ => self.calibrator.judge(score),
        };
        Verdict {
            score,
            confidence,
            anomalous,
            fitted: true,
        }
    }

    /// Learns `row`; `scored` is what [`Self::score`] gave it.
    pub fn learn(&mut self, row: &[f64], scored: &Verdict) {
        if self.raw_score_available() {
            self.calibrator.observe(scored.score);
        }
        match &mut self.model {
            Model::Forest(m) => {
                if !scored.anomalous {
                    m.learn(row);
                }
            }
            Model::HalfSpace(m) => m.learn(row),
            Model::OneClass(m) => m.learn(row),
            Model::Robust(m) => m.learn(row),
        }
    }

    /// Scores, then learns.
    pub fn process(&mut self, row: &[f64]) -> Verdict {
        if let Model::OneClass(model) = &mut self.model {
            // One feature mapping for both halves: the cosines dominate.
            let raw = model.score_and_learn(row);
            let verdict = self.judge(raw);
            if raw.is_some() {
                self.calibrator.observe(verdict.score);
            }
            return verdict;
        }
        let verdict = self.score(row);
        self.learn(row, &verdict);
        verdict
    }
}

/// The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let sign = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ModelSettings {
        ModelSettings {
            window_size: 512,
            warmup: 128,
            contamination: 0.02,
            trees: None,
            seed: 1,
        }
    }

    #[test]
    fn every_model_warms_up_then_flags_a_far_point() {
        for algorithm in Algorithm::ALL {
            let mut detector = Detector::new(algorithm, &settings());
            let mut rng = fastrand::Rng::with_seed(9);
            let first = detector.process(&[rng.f64(), rng.f64()]);
            assert!(!first.fitted, "{algorithm:?} is fitted after one row");
            for _ in 0..1000 {
                detector.process(&[rng.f64(), rng.f64()]);
            }
            let far = detector.score(&[8.0, -7.0]);
            let near = detector.score(&[0.5, 0.5]);
            assert!(far.fitted && far.anomalous, "{algorithm:?}: {far:?}");
            assert!(!near.anomalous, "{algorithm:?}: {near:?}");
            assert!(far.confidence > near.confidence, "{algorithm:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::parse(algorithm.name()), Ok(algorithm));
        }
        assert_eq!(Algorithm::parse("hst"), Ok(Algorithm::HalfSpaceTrees));
        assert!(Algorithm::parse("lof").is_err());
    }

    #[test]
    fn erf_known_values() {
        assert!((erf(1.0) - 0.842_700_792_949_715).abs() < 2e-7);
        assert!((erf(-0.5) + 0.520_499_877_813_047).abs() < 2e-7);
    }
}
