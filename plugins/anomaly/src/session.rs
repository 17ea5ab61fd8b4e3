//! One streaming session: its settings, its models, its recent rows and
//! its drift monitors. Plain Rust, free of any wire format; `protocol`
//! serves it as the `weft:engine/stream` session resource.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_sdk::{EngineError, Rows};

use crate::detector::{Algorithm, Detector, ModelSettings};
use crate::drift::{Adwin, AdwinDrift, ks_two_sample};

/// A session's settings, as given when it opens.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Added by the host; names the session's topics.
    pub session_id: Option<String>,
    /// Model used when a message names none.
    pub algorithm: String,
    /// Rows the window-based models and the drift test keep (16..=65536).
    pub window_size: usize,
    /// Rows before a model's first fit.
    pub warmup: usize,
    /// Expected anomalous share, 0..0.5: sets the verdict threshold.
    pub contamination: f64,
    /// Trees for the ensembles (default per model).
    pub trees: Option<usize>,
    /// ADWIN's confidence δ.
    pub drift_delta: f64,
    /// Significance level of the KS drift test.
    pub drift_alpha: f64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            session_id: None,
            algorithm: Algorithm::IsolationForest.name().to_owned(),
            window_size: 2048,
            warmup: 256,
            contamination: 0.02,
            trees: None,
            drift_delta: 0.002,
            drift_alpha: 0.05,
            seed: 42,
        }
    }
}

impl SessionConfig {
    /// Checks ranges; returns the default model.
    pub fn validate(&self) -> Result<Algorithm, EngineError> {
        let invalid = |why: String| Err(EngineError::InvalidParams(why));
        if !(16..=65_536).contains(&self.window_size) {
            return invalid(format!(
                "window_size must be 16..=65536, not {}",
                self.window_size
            ));
        }
        if !(8..=self.window_size).contains(&self.warmup) {
            return invalid(format!(
                "warmup must be 8..=window_size ({}), not {}",
                self.window_size, self.warmup
            ));
        }
        if !(self.contamination > 0.0 && self.contamination <= 0.5) {
            return invalid(format!(
                "contamination must be in (0, 0.5], not {}",
                self.contamination
            ));
        }
        if !(self.drift_delta > 0.0 && self.drift_delta < 1.0) {
            return invalid(format!(
                "drift_delta must be in (0, 1), not {}",
                self.drift_delta
            ));
        }
        if !(self.drift_alpha > 0.0 && self.drift_alpha < 1.0) {
            return invalid(format!(
                "drift_alpha must be in (0, 1), not {}",
                self.drift_alpha
            ));
        }
        if self.trees.is_some_and(|t| !(1..=1000).contains(&t)) {
            return invalid("trees must be 1..=1000".into());
        }
        Algorithm::parse(&self.algorithm).map_err(EngineError::InvalidParams)
    }

    fn settings(&self) -> ModelSettings {
        ModelSettings {
            window_size: self.window_size,
            warmup: self.warmup,
            contamination: self.contamination,
            trees: self.trees,
            seed: self.seed,
        }
    }
}

/// ADWIN for one feature: a window of up to 4 session windows, parts of at
/// least 1/20 of a session window (about 100 rows by default) so that
/// seasonal streams do not raise a drift every half period.
fn adwin_for(config: &SessionConfig) -> Adwin {
    Adwin::new(
        config.drift_delta,
        config.window_size.max(256) * 4,
        (config.window_size / 20).max(32),
    )
}

/// Features watched by ADWIN (the first few; a row can be wide).
const DRIFT_FEATURES: usize = 8;
/// Widest row accepted.
const MAX_WIDTH: usize = 1024;

/// Settings a running session may change.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Reconfigure {
    algorithm: Option<String>,
    contamination: Option<f64>,
    drift_delta: Option<f64>,
    drift_alpha: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DriftRequest {
    pub(crate) window_size: Option<usize>,
    pub(crate) alpha: Option<f64>,
}

/// What one push answered, one entry per row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdicts {
    /// Raw scores, higher is more unusual.
    pub scores: Vec<f64>,
    /// Calibrated to 0..1.
    pub confidences: Vec<f64>,
    /// Verdicts.
    pub verdicts: Vec<bool>,
    /// False while the model was warming up for that row.
    pub fitted: Vec<bool>,
    /// The model that scored.
    pub model: String,
    /// Rows the session keeps now.
    pub buffer_size: usize,
}

/// A drift found while rows went in.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureDrift {
    /// Column.
    pub feature: usize,
    /// Row count of the session when it was found.
    pub at_sample: u64,
    /// ADWIN's figures.
    #[serde(flatten)]
    pub drift: AdwinDrift,
}

/// The session.
#[derive(Debug)]
pub struct AnomalySession {
    config: SessionConfig,
    default_algorithm: Algorithm,
    width: Option<usize>,
    detectors: Vec<Detector>,
    recent: VecDeque<Vec<f64>>,
    adwin: Vec<Adwin>,
    total_samples: u64,
    anomalies: u64,
    drifts: u64,
}

impl AnomalySession {
    /// Opens a session from its config.
    pub fn new(config: SessionConfig) -> Result<Self, EngineError> {
        let default_algorithm = config.validate()?;
        let detectors = vec![Detector::new(default_algorithm, &config.settings())];
        Ok(Self {
            default_algorithm,
            width: None,
            detectors,
            recent: VecDeque::with_capacity(config.window_size),
            adwin: Vec::new(),
            total_samples: 0,
            anomalies: 0,
            drifts: 0,
            config,
        })
    }

    /// The model for `algorithm`, started (and warmed on the recent rows)
    /// the first time it is asked for.
    fn detector_index(&mut self, algorithm: Algorithm) -> usize {
        if let Some(i) = self
            .detectors
            .iter()
            .position(|d| d.algorithm() == algorithm)
        {
            return i;
        }
        let mut detector = Detector::new(algorithm, &self.config.settings());
        for row in &self.recent {
            detector.process(row);
        }
        self.detectors.push(detector);
        self.detectors.len() - 1
    }

    fn check_width(&mut self, width: usize) -> Result<(), EngineError> {
        if width > MAX_WIDTH {
            return Err(EngineError::InvalidParams(format!(
                "rows have {width} values; at most {MAX_WIDTH} are accepted"
            )));
        }
        match self.width {
            None => {
                self.width = Some(width);
                self.adwin = (0..width.min(DRIFT_FEATURES))
                    .map(|_| adwin_for(&self.config))
                    .collect();
                Ok(())
            }
            Some(expected) if expected == width => Ok(()),
            Some(expected) => Err(EngineError::InvalidParams(format!(
                "rows have {width} values, but this session's rows have {expected}; open a new session for a different shape"
            ))),
        }
    }

    /// Scores each row with `algorithm` (the default when `None`), then
    /// every model learns it. Returns the scores and the drifts found.
    pub fn push_rows(
        &mut self,
        rows: Rows<'_>,
        algorithm: Option<Algorithm>,
    ) -> Result<(Verdicts, Vec<FeatureDrift>), EngineError> {
        if rows.is_empty() {
            return Err(EngineError::InvalidParams("the batch has no rows".into()));
        }
        if let Some(bad) = rows.iter().flatten().find(|v| !v.is_finite()) {
            return Err(EngineError::InvalidParams(format!(
                "values must be finite numbers, found {bad}"
            )));
        }
        self.check_width(rows.width())?;
        let algorithm = algorithm.unwrap_or(self.default_algorithm);
        let chosen = self.detector_index(algorithm);
        let mut scored = Verdicts {
            model: algorithm.name().to_owned(),
            ..Verdicts::default()
        };
        let mut drifts = Vec::new();
        for row in rows.iter() {
            for (i, detector) in self.detectors.iter_mut().enumerate() {
                let verdict = detector.process(row);
                if i == chosen {
                    scored.scores.push(verdict.score);
                    scored.confidences.push(verdict.confidence);
                    scored.verdicts.push(verdict.anomalous);
                    scored.fitted.push(verdict.fitted);
                    self.anomalies += u64::from(verdict.anomalous);
                }
            }
            self.total_samples += 1;
            for (feature, adwin) in self.adwin.iter_mut().enumerate() {
                if let Some(drift) = adwin.update(row[feature]) {
                    drifts.push(FeatureDrift {
                        feature,
                        at_sample: self.total_samples,
                        drift,
                    });
                }
            }
            if self.recent.len() == self.config.window_size {
                self.recent.pop_front();
            }
            self.recent.push_back(row.to_vec());
        }
        self.drifts += drifts.len() as u64;
        scored.buffer_size = self.recent.len();
        Ok((scored, drifts))
    }

    /// Two-window KS test per feature over the recent rows: the oldest
    /// `window` rows against the newest `window`.
    pub fn drift_report(
        &self,
        window: Option<usize>,
        alpha: Option<f64>,
    ) -> Result<Value, EngineError> {
        let available = self.recent.len();
        let window = window.unwrap_or_else(|| (available / 2).min(200));
        if window < 8 || 2 * window > available {
            return Err(EngineError::InvalidParams(format!(
                "the drift test compares two windows of window_size rows; it needs 2 × {window} rows and the session holds {available} (window_size must be at least 8)"
            )));
        }
        let alpha = alpha.unwrap_or(self.config.drift_alpha);
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(EngineError::InvalidParams(format!(
                "alpha must be in (0, 1), not {alpha}"
            )));
        }
        let width = self.width.unwrap_or(0);
        let reference: Vec<&Vec<f64>> = self.recent.iter().take(window).collect();
        let current: Vec<&Vec<f64>> = self.recent.iter().skip(available - window).collect();
        let features: Vec<Value> = (0..width.min(DRIFT_FEATURES * 8))
            .map(|j| {
                let a: Vec<f64> = reference.iter().map(|r| r[j]).collect();
                let b: Vec<f64> = current.iter().map(|r| r[j]).collect();
                let test = ks_two_sample(&a, &b);
                json!({
                    "feature": j,
                    "statistic": test.statistic,
                    "p_value": test.p_value,
                    "drift": test.p_value < alpha,
                })
            })
            .collect();
        let detected = features.iter().any(|f| f["drift"] == json!(true));
        let strongest = features
            .iter()
            .min_by(|a, b| {
                let pa = a["p_value"].as_f64().unwrap_or(1.0);
                let pb = b["p_value"].as_f64().unwrap_or(1.0);
                pa.total_cmp(&pb)
            })
            .cloned()
            .unwrap_or(Value::Null);
        let adwin: Vec<Value> = self
            .adwin
            .iter()
            .enumerate()
            .map(|(feature, a)| {
                json!({"feature": feature, "width": a.width(), "mean": a.mean(), "detections": a.detections(), "delta": self.config.drift_delta})
            })
            .collect();
        Ok(json!({
            "drift_detected": detected,
            "method": "ks_two_window",
            "alpha": alpha,
            "window_sizes": {"reference": window, "current": window},
            "statistic": strongest.get("statistic").cloned().unwrap_or(Value::Null),
            "p_value": strongest.get("p_value").cloned().unwrap_or(Value::Null),
            "features": features,
            "adwin": adwin,
        }))
    }

    pub(crate) fn reconfigure(&mut self, change: Reconfigure) -> Result<Value, EngineError> {
        let mut next = self.config.clone();
        if let Some(algorithm) = change.algorithm {
            next.algorithm = algorithm;
        }
        if let Some(c) = change.contamination {
            next.contamination = c;
        }
        if let Some(d) = change.drift_delta {
            next.drift_delta = d;
        }
        if let Some(a) = change.drift_alpha {
            next.drift_alpha = a;
        }
        let algorithm = next.validate()?;
        for detector in &mut self.detectors {
            detector.set_contamination(next.contamination);
        }
        if next.drift_delta != self.config.drift_delta {
            self.adwin = (0..self.adwin.len()).map(|_| adwin_for(&next)).collect();
        }
        self.default_algorithm = algorithm;
        self.detector_index(algorithm);
        self.config = next;
        Ok(serde_json::to_value(&self.config).unwrap_or(Value::Null))
    }

    /// The id the host gave the session.
    pub fn id(&self) -> Option<&str> {
        self.config.session_id.as_deref()
    }

    /// Rows seen so far.
    pub fn total_samples(&self) -> u64 {
        self.total_samples
    }

    /// The session's figures.
    pub fn stats_value(&self) -> Value {
        let default = self
            .detectors
            .iter()
            .find(|d| d.algorithm() == self.default_algorithm);
        json!({
            "total_samples": self.total_samples,
            "anomalies": self.anomalies,
            "anomaly_rate": if self.total_samples == 0 { 0.0 } else { self.anomalies as f64 / self.total_samples as f64 },
            "buffer_size": self.recent.len(),
            "width": self.width,
            "algorithm": self.default_algorithm.name(),
            "model_fitted": default.is_some_and(Detector::is_fitted),
            "models": self.detectors.iter().map(|d| json!({"algorithm": d.algorithm().name(), "fitted": d.is_fitted()})).collect::<Vec<_>>(),
            "drifts_detected": self.drifts,
            "config": self.config,
        })
    }
}

/// What a snapshot keeps: the settings, the recent rows and the counters.
/// The models are rebuilt from the rows on restore (each model's state is
/// a function of its window), which keeps snapshots small and readable by
/// later versions whose models changed.
#[derive(Debug, Deserialize, Serialize)]
struct Snapshot {
    config: SessionConfig,
    recent: Vec<Vec<f64>>,
    total_samples: u64,
    anomalies: u64,
    drifts: u64,
    models: Vec<String>,
}

impl AnomalySession {
    /// The session as bytes [`AnomalySession::restore`] reads.
    pub fn snapshot(&self) -> Vec<u8> {
        let snapshot = Snapshot {
            config: self.config.clone(),
            recent: self.recent.iter().cloned().collect(),
            total_samples: self.total_samples,
            anomalies: self.anomalies,
            drifts: self.drifts,
            models: self
                .detectors
                .iter()
                .map(|d| d.algorithm().name().to_owned())
                .collect(),
        };
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    /// Reopens a session from [`AnomalySession::snapshot`]: the models
    /// relearn the recent rows; the counters carry on.
    pub fn restore(bytes: &[u8], session_id: Option<String>) -> Result<Self, EngineError> {
        let snapshot: Snapshot = serde_json::from_slice(bytes)
            .map_err(|e| EngineError::Failed(format!("unreadable session snapshot: {e}")))?;
        let mut config = snapshot.config;
        config.session_id = session_id.or(config.session_id);
        let mut session = Self::new(config)?;
        for name in &snapshot.models {
            if let Ok(algorithm) = Algorithm::parse(name) {
                session.detector_index(algorithm);
            }
        }
        if let Some(first) = snapshot.recent.first() {
            session.check_width(first.len())?;
        }
        for row in snapshot.recent {
            for detector in &mut session.detectors {
                detector.process(&row);
            }
            session.recent.push_back(row);
        }
        session.total_samples = snapshot.total_samples;
        session.anomalies = snapshot.anomalies;
        session.drifts = snapshot.drifts;
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[f64], width: usize) -> Rows<'_> {
        Rows::new(values, width).expect("whole rows")
    }

    #[test]
    fn rejects_a_change_of_width_and_bad_values() {
        let mut session = AnomalySession::new(SessionConfig::default()).expect("opens");
        session
            .push_rows(rows(&[1.0, 2.0], 2), None)
            .expect("first batch");
        assert!(session.push_rows(rows(&[1.0, 2.0, 3.0], 3), None).is_err());
        assert!(session.push_rows(rows(&[f64::NAN, 2.0], 2), None).is_err());
    }

    #[test]
    fn a_restored_session_keeps_its_counters_and_scores_alike() {
        let mut session = AnomalySession::new(SessionConfig {
            algorithm: "robust_zscore".into(),
            warmup: 16,
            window_size: 64,
            ..SessionConfig::default()
        })
        .expect("opens");
        let mut rng = fastrand::Rng::with_seed(3);
        let values: Vec<f64> = (0..200).map(|_| rng.f64()).collect();
        session.push_rows(rows(&values, 2), None).expect("scores");
        let mut restored =
            AnomalySession::restore(&session.snapshot(), Some("s".into())).expect("restores");
        assert_eq!(restored.stats_value()["total_samples"], 100);
        assert_eq!(restored.stats_value()["buffer_size"], 64);
        let probe = [0.5, 0.5, 9.0, 9.0];
        let (a, _) = session.push_rows(rows(&probe, 2), None).expect("scores");
        let (b, _) = restored.push_rows(rows(&probe, 2), None).expect("scores");
        assert_eq!(a.verdicts, b.verdicts);
        assert!(
            b.verdicts[1],
            "the outlier is still flagged after a restore"
        );
        assert!(AnomalySession::restore(b"nonsense", None).is_err());
    }
}
