//! The anomaly session's protocol (seed 004), as the manifest declares it
//! and the session answers it: `sample` and `batch` pushes, the `config`,
//! `drift` and `alert` requests, flagged rows as `anomaly` events (with
//! their severity) and drift or client alerts as `alert` events. The host
//! serves the wire protocol from this declaration; the models stay in
//! `session`, free of it.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_sdk::{
    ColumnChunk, ColumnValues, EngineError, EventKind, Host, Message, Params, PushReply, Rows,
    Session, SessionMessage, SessionProtocol, Subscription,
};

use crate::detector::Algorithm;
use crate::session::{AnomalySession, DriftRequest, FeatureDrift, Reconfigure, Verdicts};

/// Where clients open sessions.
pub const SESSION_PATH: &str = "/api/v1/streaming/enhanced/{session_id}";

/// A flagged row at or above this confidence is `critical`, else `warning`.
const CRITICAL_CONFIDENCE: f64 = 0.99;

/// Rows one `batch` may carry.
const MAX_BATCH_ROWS: usize = 100_000;

/// The session protocol of the manifest.
pub fn session_protocol(config_schema: Value) -> SessionProtocol {
    SessionProtocol {
        path: SESSION_PATH.into(),
        config_schema,
        messages: vec![
            SessionMessage::push(
                "sample",
                "data",
                "Scores one row (an array of numbers), then learns it",
            )
            .single_row()
            .reply("result"),
            SessionMessage::push(
                "batch",
                "batch_data",
                "Scores rows in order, then learns them; \"format\": \"columns\" answers arrays",
            )
            .reply("batch_result"),
            SessionMessage::request(
                "drift",
                "Two-window KS test on the recent rows (config.window_size, config.alpha)",
            ),
            SessionMessage::request(
                "config",
                "Changes algorithm, contamination, drift_delta or drift_alpha",
            ),
            SessionMessage::request("alert", "Raises an alert (data: title, message, severity) to the session's alerts subscribers").reply("ack"),
        ],
        topics: vec!["anomalies".into(), "alerts".into()],
    }
}

/// The event kinds sessions emit.
pub fn events() -> Vec<EventKind> {
    vec![
        EventKind::new(
            "anomaly",
            "A row a session flagged, on sessions.<id>.anomalies",
            serde_json::from_str(include_str!("../schemas/anomaly.json")).unwrap_or(Value::Null),
        ),
        EventKind::new(
            "alert",
            "A concept drift the session found, or an alert a client raised, on sessions.<id>.alerts",
            serde_json::from_str(include_str!("../schemas/alert.json")).unwrap_or(Value::Null),
        ),
    ]
}

/// The seed's typed GraphQL subscription.
pub fn subscriptions() -> Vec<Subscription> {
    vec![
        Subscription::new(
            "timeseriesAnomalyAlerts",
            "sessions.*.anomalies",
            &["anomaly"],
            "Rows flagged by anomaly sessions: of one session (metricName is the session id) or of all",
        )
        .filter("metric_name"),
    ]
}

/// A push's fields besides its rows. Unknown fields (the seed's clients
/// add `timestamp`) are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PushParams {
    algorithm: Option<String>,
    sample_id: Option<String>,
    sample_ids: Option<Vec<String>>,
    client_id: Option<String>,
    request_id: Option<String>,
}

/// A request's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RequestParams {
    config: Option<Value>,
    data: Option<Value>,
    window_size: Option<usize>,
    client_id: Option<String>,
}

fn text_column(values: Vec<Option<String>>) -> ColumnChunk {
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    ColumnChunk {
        valid: if valid.iter().all(|v| *v) {
            Vec::new()
        } else {
            valid
        },
        values: ColumnValues::Text(values.into_iter().map(Option::unwrap_or_default).collect()),
    }
}

fn column(values: ColumnValues) -> ColumnChunk {
    ColumnChunk {
        values,
        valid: Vec::new(),
    }
}

impl AnomalySession {
    fn session_id(&self) -> Option<String> {
        self.id().map(str::to_owned)
    }

    fn alert(&self, host: &dyn Host, data: Value) {
        if let Some(id) = self.session_id() {
            host.emit(&format!("sessions.{id}.alerts"), "alert", &data);
        }
    }

    fn drift_alert(&self, host: &dyn Host, title: &str, detail: Value) {
        self.alert(
            host,
            json!({"severity": "warning", "title": title, "source": "engine", "detail": detail}),
        );
    }

    /// Publishes each flagged row on `sessions.<id>.anomalies`.
    fn publish_anomalies(
        &self,
        host: &dyn Host,
        verdicts: &Verdicts,
        sample_ids: &[Option<String>],
        params: &PushParams,
    ) {
        let Some(id) = self.session_id() else {
            return;
        };
        let topic = format!("sessions.{id}.anomalies");
        for (index, flagged) in verdicts.verdicts.iter().enumerate() {
            if !flagged {
                continue;
            }
            let confidence = verdicts.confidences[index];
            host.emit(
                &topic,
                "anomaly",
                &json!({
                    "index": index,
                    "sample_id": sample_ids.get(index).cloned().flatten(),
                    "is_anomaly": true,
                    "confidence_score": confidence,
                    "anomaly_score": verdicts.scores[index],
                    "model_fitted": verdicts.fitted[index],
                    "algorithm": verdicts.model,
                    "severity": if confidence >= CRITICAL_CONFIDENCE { "critical" } else { "warning" },
                    "metric_name": id,
                    "request_id": params.request_id,
                    "client_id": params.client_id,
                }),
            );
        }
    }
}

impl Session for AnomalySession {
    fn push(&mut self, message: Message<'_>, host: &dyn Host) -> Result<PushReply, EngineError> {
        let params: PushParams = message.params.parse()?;
        let single = message.message_type == "sample";
        let count = message.rows.len();
        if count > MAX_BATCH_ROWS {
            return Err(EngineError::InvalidParams(format!(
                "a batch may hold at most {MAX_BATCH_ROWS} rows; split it"
            )));
        }
        let sample_ids: Vec<Option<String>> = match (&params.sample_ids, single) {
            (Some(ids), false) if ids.len() != count => {
                return Err(EngineError::InvalidParams(format!(
                    "{} sample_ids for {count} rows",
                    ids.len()
                )));
            }
            (Some(ids), false) => ids.iter().cloned().map(Some).collect(),
            (_, true) => {
                let generated =
                    || format!("{}-{}", self.id().unwrap_or_default(), self.total_samples());
                vec![Some(params.sample_id.clone().unwrap_or_else(generated))]
            }
            (None, false) => vec![None; count],
        };
        let algorithm = params
            .algorithm
            .as_deref()
            .map(Algorithm::parse)
            .transpose()
            .map_err(EngineError::InvalidParams)?;
        let (values, width) = message.rows.numeric_rows()?;
        let (verdicts, drifts) = self.push_rows(Rows::new(&values, width)?, algorithm)?;
        for drift in &drifts {
            self.drift_alert(
                host,
                &format!("concept drift on feature {}", drift.feature),
                serde_json::to_value(drift).unwrap_or(Value::Null),
            );
        }
        self.publish_anomalies(host, &verdicts, &sample_ids, &params);
        Ok(reply(verdicts, sample_ids, &drifts, single))
    }

    fn request(
        &mut self,
        message_type: &str,
        params: Params<'_>,
        host: &dyn Host,
    ) -> Result<Value, EngineError> {
        let params: RequestParams = params.parse()?;
        match message_type {
            "config" => {
                let change = match params.config {
                    Some(config @ Value::Object(_)) => {
                        serde_json::from_value::<Reconfigure>(config)
                            .map_err(|e| EngineError::InvalidParams(e.to_string()))?
                    }
                    _ => {
                        return Err(EngineError::InvalidParams(
                            "a config message needs \"config\": an object such as {\"algorithm\": \"half_space_trees\", \"contamination\": 0.01}".into(),
                        ));
                    }
                };
                Ok(json!({"config": self.reconfigure(change)?}))
            }
            "drift" => {
                let mut request: DriftRequest = match params.config {
                    Some(config @ Value::Object(_)) => serde_json::from_value(config)
                        .map_err(|e| EngineError::InvalidParams(e.to_string()))?,
                    None => DriftRequest::default(),
                    Some(_) => {
                        return Err(EngineError::InvalidParams(
                            "\"config\" must be an object".into(),
                        ));
                    }
                };
                request.window_size = request.window_size.or(params.window_size);
                let report = self.drift_report(request.window_size, request.alpha)?;
                if report["drift_detected"] == json!(true) {
                    self.drift_alert(host, "concept drift (two-window KS test)", report.clone());
                }
                Ok(report)
            }
            "alert" => {
                let Some(Value::Object(fields)) = params.data.or(params.config) else {
                    return Err(EngineError::InvalidParams(
                        "an alert needs \"data\": an object such as {\"title\": …, \"message\": …, \"severity\": \"warning\"}".into(),
                    ));
                };
                let mut data = Map::new();
                data.insert("source".into(), "client".into());
                data.insert("client_id".into(), params.client_id.into());
                for (k, v) in fields {
                    data.entry(k).or_insert(v);
                }
                self.alert(host, Value::Object(data));
                Ok(json!({"for": "alert"}))
            }
            other => Err(EngineError::InvalidParams(format!(
                "unknown session request '{other}'; use config, drift or alert"
            ))),
        }
    }

    fn stats(&self) -> Value {
        self.stats_value()
    }

    fn snapshot(&self) -> Result<Vec<u8>, EngineError> {
        Ok(AnomalySession::snapshot(self))
    }
}

/// A push's answer: per-row columns, and the batch's figures.
fn reply(
    verdicts: Verdicts,
    sample_ids: Vec<Option<String>>,
    drifts: &[FeatureDrift],
    single: bool,
) -> PushReply {
    let fitted_last = verdicts.fitted.last().copied().unwrap_or(false);
    let anomalies = verdicts.verdicts.iter().filter(|v| **v).count();
    let warming = verdicts.fitted.iter().filter(|f| !**f).count();
    let metadata = json!({
        "buffer_size": verdicts.buffer_size,
        "model_fitted": fitted_last,
        "drifts": drifts,
    });
    let reply = if single {
        json!({
            "algorithm": verdicts.model,
            "status": if fitted_last { "scored" } else { "warming_up" },
            "metadata": metadata,
        })
    } else {
        json!({
            "algorithm": verdicts.model,
            "batch_size": verdicts.scores.len(),
            "anomalies_found": anomalies,
            "warming_up": warming,
            "metadata": metadata,
        })
    };
    PushReply {
        columns: vec![
            ("sample_id".into(), text_column(sample_ids)),
            (
                "is_anomaly".into(),
                column(ColumnValues::Bool(verdicts.verdicts)),
            ),
            (
                "confidence_score".into(),
                column(ColumnValues::F64(verdicts.confidences)),
            ),
            (
                "anomaly_score".into(),
                column(ColumnValues::F64(verdicts.scores)),
            ),
            (
                "model_fitted".into(),
                column(ColumnValues::Bool(verdicts.fitted)),
            ),
        ],
        reply,
    }
}

#[cfg(test)]
mod tests {
    use weft_sdk::{Recorded, RecordingHost, Table};

    use super::*;
    use crate::session::SessionConfig;

    fn message<'a>(values: &[f64], params: &'a str) -> Message<'a> {
        let column = ColumnChunk {
            values: ColumnValues::F64(values.to_vec()),
            valid: Vec::new(),
        };
        Message {
            message_type: "batch",
            params: Params::new(params),
            rows: Table::new(vec![("0".into(), column)]).expect("table"),
        }
    }

    fn events(host: &RecordingHost, wanted: &str) -> Vec<(String, Value)> {
        host.calls()
            .into_iter()
            .filter_map(|call| match call {
                Recorded::Event { topic, kind, data } if kind == wanted => Some((topic, data)),
                _ => None,
            })
            .collect()
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
        for chunk in values.chunks(100) {
            session.push(message(chunk, "{}"), &host).expect("scores");
        }
        let alerts = events(&host, "alert");
        assert!(!alerts.is_empty(), "no alert");
        assert_eq!(alerts[0].0, "sessions.s1.alerts");
        let at = alerts[0].1["detail"]["at_sample"]
            .as_u64()
            .expect("at_sample");
        assert!((1000..1150).contains(&at), "found at {at}");
    }

    #[test]
    fn flagged_rows_are_published_with_their_severity() {
        let host = RecordingHost::default();
        let config = SessionConfig {
            session_id: Some("m".into()),
            algorithm: "robust_zscore".into(),
            warmup: 16,
            ..SessionConfig::default()
        };
        let mut session = AnomalySession::new(config).expect("opens");
        let mut values: Vec<f64> = (0..200).map(|i| (i % 7) as f64 * 0.01).collect();
        values.push(50.0);
        let answer = session
            .push(
                message(&values, r#"{"request_id": "r1", "client_id": "c"}"#),
                &host,
            )
            .expect("scores");
        assert_eq!(answer.reply["batch_size"], 201);
        let flagged = events(&host, "anomaly");
        let last = flagged.last().expect("the spike is published");
        assert_eq!(last.0, "sessions.m.anomalies");
        assert_eq!(last.1["index"], 200);
        assert_eq!(last.1["severity"], "critical");
        assert_eq!(last.1["metric_name"], "m");
        assert_eq!(last.1["request_id"], "r1");
        let Some((_, chunk)) = answer.columns.iter().find(|(n, _)| n == "is_anomaly") else {
            panic!("no is_anomaly column");
        };
        assert_eq!(chunk.values.len(), 201);
    }

    #[test]
    fn requests_answer_or_say_what_is_wrong() {
        let host = RecordingHost::default();
        let mut session = AnomalySession::new(SessionConfig::default()).expect("opens");
        let changed = session
            .request(
                "config",
                Params::new(r#"{"config": {"contamination": 0.05}}"#),
                &host,
            )
            .expect("config");
        assert_eq!(changed["config"]["contamination"], 0.05);
        let refused = session.request(
            "config",
            Params::new(r#"{"config": {"algorithm": "lof"}}"#),
            &host,
        );
        assert!(
            matches!(refused, Err(EngineError::InvalidParams(m)) if m.contains("isolation_forest"))
        );
        assert!(
            session.request("drift", Params::new("{}"), &host).is_err(),
            "too few rows"
        );
        assert!(
            session
                .request("teleport", Params::new("{}"), &host)
                .is_err()
        );
    }
}
