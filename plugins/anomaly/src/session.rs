//! One streaming session: its settings, its models, its recent rows and
//! its drift monitors. Plain Rust; the engine exports it as the
//! `weft:engine/stream` session resource.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_sdk::{EngineError, Host, Params, Rows, Scored, Session};

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

/// Per-batch options.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PushOptions {
    algorithm: Option<String>,
}

/// Settings a running session may change.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Reconfigure {
    algorithm: Option<String>,
    contamination: Option<f64>,
    drift_delta: Option<f64>,
    drift_alpha: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DriftRequest {
    window_size: Option<usize>,
    alpha: Option<f64>,
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
    ) -> Result<(Scored, Vec<FeatureDrift>), EngineError> {
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
        let mut scored = Scored {
            model: algorithm.name().to_owned(),
            ..Scored::default()
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
        scored.notes = json!({
            "buffer_size": self.recent.len(),
            "total_samples": self.total_samples,
            "drifts": drifts,
        });
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

    fn reconfigure(&mut self, change: Reconfigure) -> Result<Value, EngineError> {
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

    fn topic(&self, family: &str) -> Option<String> {
        self.config
            .session_id
            .as_ref()
            .map(|id| format!("sessions.{id}.{family}"))
    }

    fn alert(&self, host: &dyn Host, title: &str, detail: Value) {
        if let Some(topic) = self.topic("alerts") {
            host.emit(
                &topic,
                "alert",
                &json!({"severity": "warning", "title": title, "source": "engine", "detail": detail}),
            );
        }
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

impl Session for AnomalySession {
    fn push(
        &mut self,
        rows: Rows<'_>,
        options: Params<'_>,
        host: &dyn Host,
    ) -> Result<Scored, EngineError> {
        let options: PushOptions = options.parse()?;
        let algorithm = options
            .algorithm
            .as_deref()
            .map(Algorithm::parse)
            .transpose()
            .map_err(EngineError::InvalidParams)?;
        let (scored, drifts) = self.push_rows(rows, algorithm)?;
        for drift in &drifts {
            self.alert(
                host,
                &format!("concept drift on feature {}", drift.feature),
                serde_json::to_value(drift).unwrap_or(Value::Null),
            );
        }
        Ok(scored)
    }

    fn request(
        &mut self,
        kind: &str,
        params: Params<'_>,
        host: &dyn Host,
    ) -> Result<Value, EngineError> {
        match kind {
            "configure" => self.reconfigure(params.parse()?),
            "drift" => {
                let request: DriftRequest = params.parse()?;
                let report = self.drift_report(request.window_size, request.alpha)?;
                if report["drift_detected"] == json!(true) {
                    self.alert(host, "concept drift (two-window KS test)", report.clone());
                }
                Ok(report)
            }
            other => Err(EngineError::InvalidParams(format!(
                "unknown session request '{other}'; use configure or drift"
            ))),
        }
    }

    fn stats(&self) -> Value {
        self.stats_value()
    }
}

#[cfg(test)]
mod tests {
    use weft_sdk::{Recorded, RecordingHost};

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
    fn a_mean_shift_raises_an_alert() {
        let host = RecordingHost::default();
        let config = SessionConfig {
            session_id: Some("s1".into()),
            ..SessionConfig::default()
        };
        let mut session = AnomalySession::new(config).expect("opens");
        let mut rng = fastrand::Rng::with_seed(2);
        let mut values: Vec<f64> = (0..1000).map(|_| rng.f64()).collect();
        values.extend((0..300).map(|_| rng.f64() + 1.0));
        let options = Params::new("{}");
        for chunk in values.chunks(100) {
            session
                .push(rows(chunk, 1), options, &host)
                .expect("scores");
        }
        let alerts: Vec<Value> = host
            .calls()
            .into_iter()
            .filter_map(|call| match call {
                Recorded::Event { topic, kind, data }
                    if kind == "alert" && topic == "sessions.s1.alerts" =>
                {
                    Some(data)
                }
                _ => None,
            })
            .collect();
        assert!(!alerts.is_empty(), "no alert");
        let at = alerts[0]["detail"]["at_sample"]
            .as_u64()
            .expect("at_sample");
        assert!((1000..1150).contains(&at), "found at {at}");
        let report = session.drift_report(Some(200), None).expect("report");
        assert_eq!(report["drift_detected"], json!(true));
    }
}
