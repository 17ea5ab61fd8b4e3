//! The `sql` operation: one statement in, rows out as JSON, scan progress
//! as `query_progress` events.

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use super::{HostCatalog, QUERY};
use crate::AnalyticsError;
use crate::sql::{self, Progress};

/// Rows an answer carries unless `max_rows` says otherwise.
const DEFAULT_MAX_ROWS: usize = 10_000;
/// Most rows an answer may carry (larger results: LIMIT, or aggregate).
const MAX_ROWS: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SqlParams {
    query: String,
    #[serde(default)]
    query_id: Option<String>,
    #[serde(default)]
    max_rows: Option<usize>,
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
                    "timestamp": super::now(),
                }),
            );
        }
        !self.host.cancelled()
    }
}

/// Runs `params.query`.
pub(super) fn run(params: SqlParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = weft_sdk::now_ms();
    let max_rows = params.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows > MAX_ROWS {
        return Err(AnalyticsError::Invalid(format!(
            "max_rows is at most {MAX_ROWS}; aggregate or LIMIT larger results"
        )));
    }
    let query_id = params
        .query_id
        .unwrap_or_else(|| super::generated_id("q", &params.query));
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
        "elapsed_ms": super::elapsed_ms(started),
        "plan": answer.plan,
    }))
}
