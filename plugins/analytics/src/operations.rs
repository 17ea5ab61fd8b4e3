//! The engine's surface: the `sql` operation (params in, JSON rows out),
//! the manifest that mounts it at `/api/v1/analytics/sql` and declares
//! `query_progress` with its `analyticsQueryProgress` subscription, and
//! the [`Catalog`] over `weft:host/storage` that scans read through.

use serde::Deserialize;
use weft_sdk::{
    Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Operation, Params, Route,
    StorageFailure, Subscription, Value, json,
};

use crate::AnalyticsError;
use crate::sql::{self, Catalog, Progress};
use crate::value::Column;

/// The analytics engine as a Weft [`Engine`].
pub struct AnalyticsEngine;

/// Family topic of query progress (`analytics.query`).
const QUERY: &str = "query";
/// Rows an answer carries unless `max_rows` says otherwise.
const DEFAULT_MAX_ROWS: usize = 10_000;
/// Most rows an answer may carry (larger results: LIMIT, or aggregate).
const MAX_ROWS: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlParams {
    query: String,
    #[serde(default)]
    query_id: Option<String>,
    #[serde(default)]
    max_rows: Option<usize>,
}

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn operations() -> Vec<Operation> {
    vec![
        Operation::new(
            "sql",
            "Run a SELECT (or EXPLAIN SELECT) over datasets by name; streams query_progress as scans read",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1, "description": "One SELECT statement, DuckDB dialect: SELECT … FROM <dataset>"},
                    "query_id": {"type": "string", "maxLength": 128, "description": "Names the query in query_progress events (default: generated)"},
                    "max_rows": {"type": "integer", "minimum": 0, "maximum": MAX_ROWS, "description": "Rows to return (default 10000); row_count is always the full count"}
                },
                "required": ["query"],
                "additionalProperties": false
            }),
        )
        .emits(&["query_progress"])
        .topic(QUERY)
        .result(json!({
            "type": "object",
            "required": ["query_id", "columns", "types", "rows", "row_count", "truncated", "elapsed_ms"],
            "properties": {
                "query_id": {"type": "string"},
                "columns": {"type": "array", "items": {"type": "string"}},
                "types": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "array"}},
                "row_count": {"type": "integer"},
                "truncated": {"type": "boolean"},
                "rows_scanned": {"type": "integer"},
                "elapsed_ms": {"type": "number"},
                "plan": {"type": "string"}
            }
        })),
    ]
}

fn manifest() -> Manifest {
    Manifest {
        routes: vec![Route::new(
            Method::Post,
            "/api/v1/analytics/sql",
            "sql",
            "Run SQL over stored datasets: {\"query\": \"SELECT … FROM readings\"} → columns, rows, row_count, elapsed_ms",
        )],
        events: vec![EventKind::new(
            "query_progress",
            "Rows a query's scans have read, with the percent of all they will read.",
            schema(include_str!("../schemas/query_progress.json")),
        )],
        subscriptions: vec![
            Subscription::new(
                "analyticsQueryProgress",
                QUERY,
                &["query_progress"],
                "Progress of SQL queries, optionally of one query_id (seed 000 §3)",
            )
            .filter("query_id"),
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
        match op {
            "sql" => run_sql(params.parse()?, host).map_err(EngineError::from),
            other => Err(EngineError::UnknownOperation(other.into())),
        }
    }
}

/// Datasets of the job's tenant, read through host storage.
pub struct HostCatalog<'h> {
    host: &'h dyn Host,
}

impl<'h> HostCatalog<'h> {
    /// A catalog over `host`.
    pub fn new(host: &'h dyn Host) -> Self {
        Self { host }
    }
}

fn missing(dataset: &str, failure: StorageFailure) -> AnalyticsError {
    match failure {
        StorageFailure::NotFound(_) => AnalyticsError::NotFound(format!(
            "no dataset '{dataset}': upload it first with POST /api/v1/datasets/{dataset}"
        )),
        other => other.into(),
    }
}

impl Catalog for HostCatalog<'_> {
    fn columns(&self, dataset: &str) -> Result<(Vec<String>, u64), AnalyticsError> {
        let shape = self
            .host
            .dataset_shape(dataset)
            .map_err(|e| missing(dataset, e))?;
        Ok((shape.columns, shape.rows))
    }

    fn read(
        &self,
        dataset: &str,
        columns: &[String],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize), AnalyticsError> {
        let shape = self
            .host
            .dataset_shape(dataset)
            .map_err(|e| missing(dataset, e))?;
        let mut out: Vec<Option<Column>> = vec![None; columns.len()];
        let mut rows = 0;
        for chunk in 0..shape.chunks {
            let mut chunk_rows = 0;
            for (slot, name) in out.iter_mut().zip(columns) {
                let read = Column::from_chunk(
                    self.host
                        .read_chunk(dataset, name, chunk)
                        .map_err(|e| missing(dataset, e))?,
                );
                chunk_rows = read.len();
                match slot {
                    Some(c) => c.append(read),
                    None => *slot = Some(read),
                }
            }
            if columns.is_empty() {
                // count(*) reads no column; rows come from the shape.
                chunk_rows = (shape.rows as usize - rows).min(shape.rows as usize);
            }
            rows += chunk_rows;
            if !progress.scanned(chunk_rows as u64) {
                return Err(AnalyticsError::Cancelled);
            }
            if columns.is_empty() {
                break;
            }
        }
        let columns = out
            .into_iter()
            .map(|c| c.unwrap_or(Column::Null(0)))
            .collect();
        Ok((columns, rows))
    }
}

/// Reports scans as job progress and `query_progress` events, at most
/// one event per 5 % so a long scan does not flood the bus.
struct JobProgress<'h> {
    host: &'h dyn Host,
    query_id: String,
    total: u64,
    done: u64,
    last_step: u64,
}

impl Progress for JobProgress<'_> {
    fn planned(&mut self, total_rows: u64) {
        self.total = total_rows;
    }

    fn scanned(&mut self, rows: u64) -> bool {
        self.done += rows;
        let total = self.total.max(1);
        let step = (self.done.min(total) * 20) / total;
        if step > self.last_step {
            self.last_step = step;
            let pct = self.done.min(total) as f64 * 100.0 / total as f64;
            self.host.progress(
                self.done.min(total),
                total,
                &format!("{} of {} rows scanned", self.done, self.total),
                None,
            );
            self.host.emit(
                QUERY,
                "query_progress",
                &json!({
                    "query_id": self.query_id,
                    "rows_processed": self.done,
                    "total_rows": self.total,
                    "progress_pct": pct,
                    "timestamp": weft_sdk::rfc3339(weft_sdk::now_ms()),
                }),
            );
        }
        !self.host.cancelled()
    }
}

fn run_sql(params: SqlParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = weft_sdk::now_ms();
    let max_rows = params.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows > MAX_ROWS {
        return Err(AnalyticsError::Invalid(format!(
            "max_rows is at most {MAX_ROWS}; aggregate or LIMIT larger results"
        )));
    }
    let query_id = params
        .query_id
        .unwrap_or_else(|| format!("q{started:x}{:x}", fingerprint(&params.query)));
    let catalog = HostCatalog::new(host);
    let mut progress = JobProgress {
        host,
        query_id: query_id.clone(),
        total: 0,
        done: 0,
        last_step: 0,
    };
    let answer = sql::run(&params.query, &catalog, &mut progress)?;
    let table = &answer.table;
    let shown = table.rows.min(max_rows);
    let rows: Vec<Value> = (0..shown)
        .map(|i| Value::Array(table.columns.iter().map(|c| c.get(i).to_json()).collect()))
        .collect();
    Ok(json!({
        "query_id": query_id,
        "columns": answer.columns,
        "types": answer.types,
        "rows": rows,
        "row_count": table.rows,
        "truncated": shown < table.rows,
        "rows_scanned": answer.scanned_rows,
        "elapsed_ms": weft_sdk::now_ms().saturating_sub(started),
        "plan": answer.plan,
    }))
}

/// FNV-1a of the text: a stable part of generated query ids.
fn fingerprint(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
