//! `forecast`: Holt–Winters or ARIMA over a series given inline or read
//! from a dataset column, with prediction intervals.

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::Host;

use crate::MlError;
use crate::data::{TargetKind, read_table};
use crate::timeseries::{arima, holt_winters};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForecastParams {
    method: String,
    horizon: usize,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    level: Option<f64>,
    #[serde(default)]
    trend: Option<String>,
    #[serde(default)]
    seasonal: Option<String>,
    #[serde(default)]
    seasonal_periods: Option<usize>,
    #[serde(default)]
    order: Option<[usize; 3]>,
    #[serde(default)]
    smoothing: Option<SmoothingParams>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmoothingParams {
    alpha: f64,
    #[serde(default)]
    beta: f64,
    #[serde(default)]
    gamma: f64,
}

fn series(params: &ForecastParams, host: &dyn Host) -> Result<Vec<f64>, MlError> {
    match (&params.values, &params.dataset, &params.column) {
        (Some(v), None, None) => Ok(v.clone()),
        (None, Some(dataset), Some(column)) => {
            let table = read_table(
                host,
                dataset,
                None,
                Some(std::slice::from_ref(column)),
                TargetKind::None,
            )?;
            Ok(table.x.column(0).to_vec())
        }
        _ => Err(MlError::Invalid(
            "give the series as values, or as dataset and column (in time order)".into(),
        )),
    }
}

fn kind(name: Option<&str>, what: &str) -> Result<Option<holt_winters::Kind>, MlError> {
    match name {
        None | Some("none") => Ok(None),
        Some("add" | "additive") => Ok(Some(holt_winters::Kind::Additive)),
        Some("mul" | "multiplicative") => Ok(Some(holt_winters::Kind::Multiplicative)),
        Some(other) => Err(MlError::Invalid(format!(
            "{what} '{other}' is not known: use \"add\", \"mul\" or leave it out"
        ))),
    }
}

pub(crate) fn forecast(params: ForecastParams, host: &dyn Host) -> Result<Value, MlError> {
    let y = series(&params, host)?;
    if !(1..=10_000).contains(&params.horizon) {
        return Err(MlError::Invalid(format!(
            "horizon must be 1 to 10000 steps, not {}",
            params.horizon
        )));
    }
    let level = params.level.unwrap_or(0.95);
    if !(level > 0.0 && level < 1.0) {
        return Err(MlError::Invalid(format!(
            "level must be between 0 and 1 (e.g. 0.95), not {level}"
        )));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(MlError::Invalid(format!(
            "the series has a non-finite value at {i}"
        )));
    }
    let (forecast, parameters) = match params.method.as_str() {
        "holt_winters" => {
            let trend = match kind(params.trend.as_deref(), "trend")? {
                None => false,
                Some(holt_winters::Kind::Additive) => true,
                Some(holt_winters::Kind::Multiplicative) => {
                    return Err(MlError::Invalid(
                        "a multiplicative trend is not supported: use trend \"add\"".into(),
                    ));
                }
            };
            let seasonal = match kind(params.seasonal.as_deref(), "seasonal")? {
                Some(k) => Some((
                    k,
                    params.seasonal_periods.ok_or_else(|| {
                        MlError::Invalid(
                            "a season needs seasonal_periods (e.g. 12 for monthly data)".into(),
                        )
                    })?,
                )),
                None => None,
            };
            let spec = holt_winters::Spec { trend, seasonal };
            let given = params.smoothing.as_ref().map(|s| holt_winters::Smoothing {
                alpha: s.alpha,
                beta: s.beta,
                gamma: s.gamma,
            });
            let fit = holt_winters::fit(&y, spec, given).map_err(MlError::Invalid)?;
            let s = fit.smoothing;
            let (l0, b0, s0) = &fit.initial;
            (
                fit.forecast(params.horizon, level),
                json!({"alpha": s.alpha, "beta": s.beta, "gamma": s.gamma, "sse": fit.sse,
                       "initial_level": l0, "initial_trend": b0, "initial_seasonal": s0}),
            )
        }
        "arima" => {
            let [p, d, q] = params.order.ok_or_else(|| {
                MlError::Invalid("arima needs order: [p, d, q], e.g. [1, 1, 1]".into())
            })?;
            let fit = arima::fit(&y, arima::Order { p, d, q }).map_err(MlError::Invalid)?;
            (
                fit.forecast(params.horizon, level),
                json!({"order": [p, d, q], "mean": fit.mean, "ar": fit.ar, "ma": fit.ma, "sigma2": fit.sigma2}),
            )
        }
        other => {
            return Err(MlError::Invalid(format!(
                "method '{other}' is not known: use \"holt_winters\" or \"arima\""
            )));
        }
    };
    Ok(json!({
        "method": params.method,
        "n": y.len(),
        "horizon": params.horizon,
        "level": level,
        "forecast": forecast.mean,
        "lower": forecast.lower,
        "upper": forecast.upper,
        "parameters": parameters,
    }))
}
