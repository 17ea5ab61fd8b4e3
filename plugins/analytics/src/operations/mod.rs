//! The engine's surface: its operations (`sql`, `profile`, `olap`,
//! `timeseries`), the manifest that mounts them under
//! `/api/v1/analytics/…` and `/api/v1/ws/analytics/…` and declares their
//! events and subscriptions, and the [`HostCatalog`] over
//! `weft:host/storage` that every operation reads through. Each
//! operation's file turns params into a call on a plain-Rust core and its
//! answer into JSON and events; none computes anything itself.

mod catalog;
mod olap_op;
mod profile_op;
mod sql_op;
mod timeseries_op;

pub use catalog::HostCatalog;

use weft_sdk::{
    Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Operation,
    Params, Route, Subscription, Value, json,
};

/// The analytics engine as a Weft [`Engine`].
pub struct AnalyticsEngine;

/// Family topic of query progress (`analytics.query`).
const QUERY: &str = "query";
/// Family topic of profiles (`analytics.profiling`).
const PROFILING: &str = "profiling";
/// Family topic of OLAP answers (`analytics.olap`).
const OLAP: &str = "olap";
/// Family topic of time-series analyses (`analytics.timeseries`).
const TIMESERIES: &str = "timeseries";

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn operations() -> Vec<Operation> {
    vec![
        Operation::new(
            "sql",
            "Run a SELECT (or EXPLAIN SELECT) over datasets by name; streams query_progress as scans read",
            schema(include_str!("../../schemas/params/sql.json")),
        )
        .emits(&["query_progress"])
        .topic(QUERY)
        .result(schema(include_str!("../../schemas/results/sql.json"))),
        Operation::new(
            "profile",
            "Profile a dataset's columns: types, nulls, distinct counts, range, moments, quantiles, common values, histogram, quality",
            schema(include_str!("../../schemas/params/profile.json")),
        )
        .emits(&["profiling_update", "profiling_complete"])
        .topic(PROFILING)
        .result(schema(include_str!("../../schemas/results/profile.json"))),
        Operation::new(
            "olap",
            "Answer a view of a cube (dimensions with hierarchies, measures) after one move: drill_down, roll_up, slice, dice or pivot",
            schema(include_str!("../../schemas/params/olap.json")),
        )
        .emits(&["olap_result"])
        .topic(OLAP)
        .result(schema(include_str!("../../schemas/results/olap.json"))),
        Operation::new(
            "timeseries",
            "Analyse a value over time: trend, period, STL decomposition, residual anomalies, forecast with intervals, window aggregates",
            schema(include_str!("../../schemas/params/timeseries.json")),
        )
        .emits(&["timeseries_update", "timeseries_complete", "anomaly_alert"])
        .topic(TIMESERIES)
        .result(schema(include_str!("../../schemas/results/timeseries.json"))),
    ]
}

fn event(name: &str, description: &str, text: &str) -> EventKind {
    EventKind::new(name, description, schema(text))
}

fn manifest() -> Manifest {
    Manifest {
        routes: vec![
            Route::new(Method::Post, "/api/v1/analytics/sql", "sql",
                "Run SQL over stored datasets: {\"query\": \"SELECT … FROM readings\"} → columns, rows, row_count, elapsed_ms"),
            Route::new(Method::Post, "/api/v1/analytics/profile", "profile",
                "Profile a dataset: {\"dataset\": \"readings\"} → one profile per column"),
            Route::new(Method::Post, "/api/v1/analytics/olap", "olap",
                "One OLAP move on a cube: {\"cube\", \"at\", \"filters\", \"action\"} → rows, the new view, its SQL"),
            Route::new(Method::Post, "/api/v1/analytics/timeseries", "timeseries",
                "Analyse a series: {\"dataset\", \"time_column\", \"value_column\"} → trend, decomposition, anomalies, forecast, windows"),
        ],
        endpoints: vec![
            Endpoint::new("/api/v1/ws/analytics/olap", OLAP, "OLAP answers with processing time (seed 000 §2.2)")
                .request("olap_request", "olap"),
            Endpoint::new("/api/v1/ws/analytics/timeseries", TIMESERIES, "Time-series stages, anomalies and completion (seed 000 §2.2)")
                .request("timeseries_request", "timeseries"),
            Endpoint::new("/api/v1/ws/analytics/profiling", PROFILING, "A profile per column, then completion (seed 000 §2.2)")
                .request("profiling_request", "profile"),
        ],
        events: vec![
            event("query_progress", "Rows a query's scans have read, with the percent of all they will read.",
                include_str!("../../schemas/query_progress.json")),
            event("profiling_update", "One column's profile.", include_str!("../../schemas/profiling_update.json")),
            event("profiling_complete", "A profile finished: its columns, rows and time.",
                include_str!("../../schemas/profiling_complete.json")),
            event("olap_result", "The answer to one OLAP move, with its processing time.",
                include_str!("../../schemas/olap_result.json")),
            event("timeseries_update", "One stage of a time-series analysis: trend, period, decomposition, anomalies, forecast or a window.",
                include_str!("../../schemas/timeseries_update.json")),
            event("timeseries_complete", "A time-series analysis finished.",
                include_str!("../../schemas/timeseries_complete.json")),
            event("anomaly_alert", "A point whose residual after trend and season is far from the rest.",
                include_str!("../../schemas/anomaly_alert.json")),
        ],
        subscriptions: vec![
            Subscription::new("analyticsQueryProgress", QUERY, &["query_progress"],
                "Progress of SQL queries, optionally of one query_id (seed 000 §3)")
            .filter("query_id"),
            Subscription::new("analyticsTimeseriesAlerts", TIMESERIES, &["anomaly_alert"],
                "Points time-series analyses flag, optionally of one metric_name (seed 000 §3's timeseriesAnomalyAlerts for analyses)")
            .filter("metric_name"),
        ],
        ..Manifest::default()
    }
}

impl Engine for AnalyticsEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "analytics".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: operations(),
            manifest: manifest(),
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        let answer = match op {
            "sql" => sql_op::run(params.parse()?, host),
            "profile" => profile_op::run(params.parse()?, host),
            "olap" => olap_op::run(params.parse()?, host),
            "timeseries" => timeseries_op::run(params.parse()?, host),
            other => return Err(EngineError::UnknownOperation(other.into())),
        };
        answer.map_err(EngineError::from)
    }
}

/// An id for an answer the caller did not name: the time and a hash of
/// what was asked.
fn generated_id(prefix: &str, asked: &str) -> String {
    let hash = asked.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{prefix}{:x}{hash:x}", weft_sdk::now_ms())
}

/// Milliseconds since `started` (from [`weft_sdk::now_ms`]).
fn elapsed_ms(started: i64) -> i64 {
    weft_sdk::now_ms().saturating_sub(started)
}

/// The RFC 3339 time now, for event data.
fn now() -> Value {
    json!(weft_sdk::rfc3339(weft_sdk::now_ms()))
}
