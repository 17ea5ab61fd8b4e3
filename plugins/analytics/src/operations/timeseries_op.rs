//! The `timeseries` operation: a time and a value column read through
//! the catalog, then the stages of [`crate::timeseries`] in order — trend,
//! period, decomposition, anomalies, forecast, windows — each reported as
//! a `timeseries_update`, flagged points as `anomaly_alert`, and
//! `timeseries_complete` at the end.

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use super::{HostCatalog, TIMESERIES};
use crate::AnalyticsError;
use crate::sql::{Catalog, Progress};
use crate::timeseries::stl::{self, StlOptions};
use crate::timeseries::windows::{self, Span, WindowRow};
use crate::timeseries::{self as ts, linear_trend};
use crate::value::{Column, Datum};

/// Alerts one analysis emits; the answer lists every anomaly.
const MAX_ALERTS: usize = 100;
/// Most forecast steps.
const MAX_HORIZON: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TimeseriesParams {
    dataset: String,
    time_column: String,
    value_column: String,
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    analysis_id: Option<String>,
    #[serde(default)]
    interval: Option<SpanParam>,
    #[serde(default)]
    period: Option<usize>,
    #[serde(default)]
    seasonal: Option<usize>,
    #[serde(default)]
    robust: bool,
    #[serde(default)]
    anomaly_threshold: Option<f64>,
    #[serde(default)]
    forecast: Option<ForecastParams>,
    #[serde(default)]
    windows: Vec<WindowParams>,
    #[serde(default = "yes")]
    components: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForecastParams {
    #[serde(default)]
    horizon: Option<usize>,
    #[serde(default)]
    level: Option<f64>,
}

#[derive(Clone, Deserialize)]
#[serde(untagged)]
enum SpanParam {
    Text(String),
    Number(f64),
    Points { points: usize },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    #[serde(rename = "type")]
    kind: String,
    size: SpanParam,
    #[serde(default)]
    step: Option<SpanParam>,
}

fn span(param: &SpanParam, timestamps: bool) -> Result<Span, AnalyticsError> {
    Ok(match param {
        SpanParam::Points { points } => Span::Points(*points),
        SpanParam::Text(text) => Span::Time(windows::parse_duration(text, timestamps)?),
        SpanParam::Number(n) => Span::Time(windows::parse_duration(&n.to_string(), false)?),
    })
}

struct Cancellable<'h>(&'h dyn Host);

impl Progress for Cancellable<'_> {
    fn scanned(&mut self, _: u64) -> bool {
        !self.0.cancelled()
    }
}

/// The series: (time, value) pairs without NULLs, in time order.
fn read_series(
    params: &TimeseriesParams,
    host: &dyn Host,
) -> Result<(Vec<(i64, f64)>, bool), AnalyticsError> {
    let catalog = HostCatalog::new(host);
    let (columns, _) = catalog.read(
        &params.dataset,
        &[params.time_column.clone(), params.value_column.clone()],
        &mut Cancellable(host),
    )?;
    let timestamps = match &columns[0] {
        Column::Timestamp(_) => true,
        Column::Int(_) | Column::Float(_) => false,
        other => {
            return Err(AnalyticsError::Invalid(format!(
                "time column '{}' is {}, not a timestamp or a number: upload it as timestamp",
                params.time_column,
                other.data_type().name()
            )));
        }
    };
    if !columns[1].data_type().is_numeric() {
        return Err(AnalyticsError::Invalid(format!(
            "value column '{}' is {}, not a number",
            params.value_column,
            columns[1].data_type().name()
        )));
    }
    let mut points: Vec<(i64, f64)> = (0..columns[0].len())
        .filter_map(|i| {
            let t = match columns[0].get(i) {
                Datum::Timestamp(t) | Datum::Int(t) => t,
                Datum::Float(f) => f.round() as i64,
                _ => return None,
            };
            columns[1].get(i).as_f64().map(|v| (t, v))
        })
        .collect();
    points.sort_by_key(|p| p.0);
    Ok((points, timestamps))
}

/// Analyses the series `params` names.
pub(super) fn run(params: TimeseriesParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = std::time::Instant::now();
    let (points, timestamps) = read_series(&params, host)?;
    let analysis_id = params.analysis_id.clone().unwrap_or_else(|| {
        super::generated_id("t", &format!("{}/{}", params.dataset, params.value_column))
    });
    let metric = params
        .metric_name
        .clone()
        .unwrap_or_else(|| format!("{}.{}", params.dataset, params.value_column));
    let time_json = |t: i64| {
        if timestamps {
            Datum::Timestamp(t).to_json()
        } else {
            json!(t)
        }
    };
    let update = |stage: &str, mut data: Value| {
        data["analysis_id"] = json!(analysis_id);
        data["metric_name"] = json!(metric);
        data["stage"] = json!(stage);
        data["timestamp"] = super::now();
        host.emit(TIMESERIES, "timeseries_update", &data);
    };

    let (times, values, step) = match &params.interval {
        None => {
            let (t, v): (Vec<i64>, Vec<f64>) = points.iter().copied().unzip();
            let step = match (t.first(), t.last()) {
                (Some(a), Some(b)) if t.len() > 1 => {
                    ((b - a) as f64 / (t.len() - 1) as f64).round() as i64
                }
                _ => 1,
            };
            (t, v, step.max(1))
        }
        Some(interval) => match span(interval, timestamps)? {
            Span::Time(width) => {
                let (t, v) = ts::regularize(&points, width);
                (t, v, width)
            }
            Span::Points(_) => {
                return Err(AnalyticsError::Invalid(
                    "interval is a time span such as \"1h\", not a number of points".into(),
                ));
            }
        },
    };
    let n = values.len();
    if n < 3 {
        return Err(AnalyticsError::Invalid(format!(
            "'{}' has {n} non-null points over '{}'; an analysis needs at least 3",
            params.value_column, params.time_column
        )));
    }

    let line = linear_trend(&values);
    let trend_json = json!({
        "slope_per_step": line.slope,
        "intercept": line.intercept,
        "r2": if line.r2.is_finite() { json!(line.r2) } else { Value::Null },
        "direction": if line.slope > 0.0 { "increasing" } else if line.slope < 0.0 { "decreasing" } else { "flat" },
        "step": step,
        "step_unit": if timestamps { "microseconds" } else { "time column units" },
    });
    update("trend", json!({"trend": trend_json, "points": n}));

    let (period, detected) = match params.period {
        Some(p) if p < 2 => {
            return Err(AnalyticsError::Invalid(format!(
                "period is at least 2 observations per cycle, not {p}"
            )));
        }
        Some(p) => (Some(p), false),
        None => (ts::detect_period(&values), true),
    };
    update(
        "seasonality",
        json!({"period": period, "period_detected": detected}),
    );

    let seasonal = params.seasonal.unwrap_or(7);
    if seasonal < 3 || seasonal.is_multiple_of(2) {
        return Err(AnalyticsError::Invalid(format!(
            "seasonal is an odd smoother length of at least 3 (statsmodels' default 7), not {seasonal}"
        )));
    }
    let (decomposition, method) = match period {
        Some(p) if n >= 2 * p => (
            stl::decompose(&values, &StlOptions::new(p, seasonal, params.robust)),
            "stl",
        ),
        Some(p) => {
            return Err(AnalyticsError::Invalid(format!(
                "STL with period {p} needs at least two cycles ({} points); the series has {n}",
                2 * p
            )));
        }
        None => {
            let trend: Vec<f64> = (0..n)
                .map(|i| line.intercept + line.slope * i as f64)
                .collect();
            let residual = (0..n).map(|i| values[i] - trend[i]).collect();
            (
                stl::Decomposition {
                    trend,
                    seasonal: vec![0.0; n],
                    residual,
                    weights: vec![1.0; n],
                },
                "linear",
            )
        }
    };
    let strength = |part: &[f64]| {
        let with: Vec<f64> = (0..n)
            .map(|i| part[i] + decomposition.residual[i])
            .collect();
        let v = variance(&with);
        if v > 0.0 {
            (1.0 - variance(&decomposition.residual) / v).max(0.0)
        } else {
            0.0
        }
    };
    let seasonal_strength = strength(&decomposition.seasonal);
    let trend_strength = strength(&decomposition.trend);
    update(
        "decomposition",
        json!({"method": method, "period": period, "seasonal_strength": seasonal_strength, "trend_strength": trend_strength}),
    );

    let threshold = params.anomaly_threshold.unwrap_or(3.5);
    if !(threshold.is_finite() && threshold > 0.0) {
        return Err(AnalyticsError::Invalid(
            "anomaly_threshold is a positive robust z-score (default 3.5)".into(),
        ));
    }
    let found = ts::residual_anomalies(&decomposition.residual, threshold);
    let anomalies: Vec<Value> = found
        .iter()
        .map(|a| {
            let i = a.index;
            json!({
                "index": i,
                "time": time_json(times[i]),
                "value": values[i],
                "expected_value": decomposition.trend[i] + decomposition.seasonal[i],
                "residual": decomposition.residual[i],
                "score": a.score,
                "severity": a.severity,
                "confidence": a.confidence,
            })
        })
        .collect();
    for a in anomalies.iter().take(MAX_ALERTS) {
        let mut alert = a.clone();
        alert["analysis_id"] = json!(analysis_id);
        alert["metric_name"] = json!(metric);
        alert["timestamp"] = super::now();
        host.emit(TIMESERIES, "anomaly_alert", &alert);
    }
    update(
        "anomalies",
        json!({"count": anomalies.len(), "threshold": threshold}),
    );

    let forecast = match &params.forecast {
        None => Vec::new(),
        Some(f) => {
            let horizon = f.horizon.unwrap_or(period.unwrap_or(10));
            if horizon > MAX_HORIZON {
                return Err(AnalyticsError::Invalid(format!(
                    "forecast horizon is at most {MAX_HORIZON} steps"
                )));
            }
            let level = f.level.unwrap_or(0.95);
            let window = period.map_or(n, |p| 2 * p);
            let last = times[n - 1];
            let points = ts::forecast(
                &decomposition.trend,
                &decomposition.seasonal,
                &decomposition.residual,
                period,
                window,
                horizon,
                level,
            )?;
            let out: Vec<Value> = points
                .iter()
                .map(|p| {
                    json!({
                        "step": p.step,
                        "time": time_json(last + step * p.step as i64),
                        "value": p.value, "lower": p.lower, "upper": p.upper,
                    })
                })
                .collect();
            update(
                "forecast",
                json!({"horizon": horizon, "level": level, "fit_window": window.min(n)}),
            );
            out
        }
    };

    let mut window_results = Vec::new();
    for (index, w) in params.windows.iter().enumerate() {
        let size = span(&w.size, timestamps)?;
        let rows = match w.kind.as_str() {
            "tumbling" => windows::tumbling(&points, size)?,
            "sliding" => {
                let step = w.step.as_ref().ok_or_else(|| {
                    AnalyticsError::Invalid("a sliding window needs a \"step\"".into())
                })?;
                windows::sliding(&points, size, span(step, timestamps)?)?
            }
            other => {
                return Err(AnalyticsError::Invalid(format!(
                    "window type '{other}' is not known: use tumbling or sliding"
                )));
            }
        };
        update(
            "window",
            json!({"window_index": index, "type": w.kind, "windows": rows.len()}),
        );
        window_results.push(json!({
            "type": w.kind,
            "rows": rows.iter().map(|r| window_json(r, &time_json)).collect::<Vec<_>>(),
        }));
    }

    let elapsed = super::elapsed_ms(started);
    host.emit(
        TIMESERIES,
        "timeseries_complete",
        &json!({
            "analysis_id": analysis_id, "metric_name": metric, "points": n,
            "period": period, "anomalies": anomalies.len(), "forecast_steps": forecast.len(),
            "elapsed_ms": elapsed, "timestamp": super::now(),
        }),
    );
    let components = params.components.then(|| {
        json!({
            "times": times.iter().map(|&t| time_json(t)).collect::<Vec<_>>(),
            "values": values,
            "trend": decomposition.trend,
            "seasonal": decomposition.seasonal,
            "residual": decomposition.residual,
        })
    });
    Ok(json!({
        "analysis_id": analysis_id,
        "metric_name": metric,
        "points": n,
        "trend": trend_json,
        "period": period,
        "period_detected": detected,
        "decomposition": {
            "method": method,
            "seasonal_strength": seasonal_strength,
            "trend_strength": trend_strength,
            "components": components,
        },
        "anomalies": anomalies,
        "forecast": forecast,
        "windows": window_results,
        "elapsed_ms": elapsed,
    }))
}

fn variance(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
}

fn window_json(r: &WindowRow, time: &dyn Fn(i64) -> Value) -> Value {
    json!({
        "start": time(r.start), "end": time(r.end), "count": r.count,
        "sum": r.sum, "avg": r.avg, "min": r.min, "max": r.max,
    })
}
