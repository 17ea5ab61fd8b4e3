//! The engine's surface: its operations (`sql`, `profile`, `olap`,
//! `timeseries`, `workload`, `cache_stats`, `cache_clear`), the manifest that mounts them under
//! `/api/v1/analytics/…` and `/api/v1/ws/analytics/…` and declares their
//! events and subscriptions, and the [`HostCatalog`] over
//! `weft:host/storage` that every operation reads through. Each
//! operation's file turns params into a call on a plain-Rust core and its
//! answer into JSON and events; none computes anything itself.

mod cache_op;
mod catalog;
mod olap_op;
mod profile_op;
mod sql_op;
mod timeseries_op;
mod views_op;
mod workload_op;

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
/// Family topic of the query cache (`analytics.cache`).
const CACHE: &str = "cache";
/// Family topic of workload analyses (`analytics.workload`).
const WORKLOAD: &str = "workload";

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
        .emits(&["query_progress", "cache_event"])
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
        Operation::new(
            "workload",
            "Analyse the query log: frequent and slow shapes, and measured recommendations (cache, partition, index)",
            schema(include_str!("../../schemas/params/workload.json")),
        )
        .emits(&["workload_update", "workload_recommendation", "workload_complete"])
        .topic(WORKLOAD)
        .result(schema(include_str!("../../schemas/results/workload.json"))),
        Operation::new(
            "cache_stats",
            "The query cache's hits, misses, invalidations, evictions, hit rate and size",
            schema(include_str!("../../schemas/params/none.json")),
        )
        .emits(&["cache_event"])
        .topic(CACHE),
        Operation::new(
            "views",
            "Materialized views: each definition, its rows, its inputs' versions and whether it is current",
            schema(include_str!("../../schemas/params/none.json")),
        ),
        Operation::new(
            "cache_clear",
            "Drop every answer the query cache keeps (its counters stay)",
            schema(include_str!("../../schemas/params/none.json")),
        ),
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
            Route::new(Method::Post, "/api/v1/analytics/workload", "workload",
                "Analyse the queries run so far: patterns and measured recommendations"),
            Route::new(Method::Get, "/api/v1/analytics/views", "views",
                "Materialized views (CREATE MATERIALIZED VIEW … through /api/v1/analytics/sql)"),
            Route::new(Method::Get, "/api/v1/analytics/cache", "cache_stats",
                "The query cache: hits, misses, hit rate, entries, bytes"),
            Route::new(Method::Delete, "/api/v1/analytics/cache", "cache_clear",
                "Empty the query cache"),
        ],
        endpoints: vec![
            Endpoint::new("/api/v1/ws/analytics/olap", OLAP, "OLAP answers with processing time (seed 000 §2.2)")
                .request("olap_request", "olap"),
            Endpoint::new("/api/v1/ws/analytics/timeseries", TIMESERIES, "Time-series stages, anomalies and completion (seed 000 §2.2)")
                .request("timeseries_request", "timeseries"),
            Endpoint::new("/api/v1/ws/analytics/profiling", PROFILING, "A profile per column, then completion (seed 000 §2.2)")
                .request("profiling_request", "profile"),
            Endpoint::new("/api/v1/ws/analytics/workload", WORKLOAD, "Workload patterns and recommendations (seed 000 §2.2)")
                .request("workload_request", "workload"),
            Endpoint::new("/api/v1/ws/analytics/cache", CACHE, "Query cache hits, misses, invalidations, updates, evictions and hit rates (seed 000 §2.2)")
                .request("cache_request", "cache_stats"),
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
            event("cache_event", "The query cache answered (hit), could not (miss, invalidation), kept (update) or dropped (eviction) an answer, or reported its figures (stats).",
                include_str!("../../schemas/cache_event.json")),
            event("workload_update", "One pattern of the query log: a shape, how often and how fast it ran.",
                include_str!("../../schemas/workload_update.json")),
            event("workload_recommendation", "A measured recommendation: cache, partition or index, its target, reason and improvement.",
                include_str!("../../schemas/workload_recommendation.json")),
            event("workload_complete", "A workload analysis finished.", include_str!("../../schemas/workload_complete.json")),
        ],
        subscriptions: vec![
            Subscription::new("analyticsQueryProgress", QUERY, &["query_progress"],
                "Progress of SQL queries, optionally of one query_id (seed 000 §3)")
            .filter("query_id"),
            Subscription::new("analyticsTimeseriesAlerts", TIMESERIES, &["anomaly_alert"],
                "Points time-series analyses flag, optionally of one metric_name (seed 000 §3's timeseriesAnomalyAlerts for analyses)")
            .filter("metric_name"),
            Subscription::new("workloadRecommendations", WORKLOAD, &["workload_recommendation"],
                "Recommendations of workload analyses as they are measured (seed 000 §3)")
            .filter("recommendation_type"),
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
            "workload" => workload_op::run(params.parse()?, host),
            "cache_stats" => cache_op::stats(params.parse()?, host),
            "cache_clear" => cache_op::clear(params.parse()?, host),
            "views" => views_op::list(params.parse()?, host),
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

/// Milliseconds since `started`, to the microsecond. The monotonic clock
/// ticks in the sandbox; the wall clock (`now_ms`) is frozen per instance
/// and would always answer 0.
fn elapsed_ms(started: std::time::Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// The RFC 3339 time now, for event data.
fn now() -> Value {
    json!(weft_sdk::rfc3339(weft_sdk::now_ms()))
}
