//! The `olap` operation: one move on a cube ([`crate::olap`]), its view
//! compiled to SQL and run by the same executor as `sql`, answered and
//! emitted as `olap_result`.

use std::collections::BTreeMap;

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use super::{HostCatalog, OLAP};
use crate::AnalyticsError;
use crate::olap::{Action, Cube, Filter, View, pivot};
use crate::sql::{self, Progress};

/// Rows an `olap_result` event carries; the answer has them all.
const EVENT_ROWS: usize = 1_000;
/// Most cells an answer may carry.
const MAX_ROWS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OlapParams {
    cube: Cube,
    #[serde(default)]
    at: BTreeMap<String, String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    query_id: Option<String>,
}

struct Cancellable<'h>(&'h dyn Host);

impl Progress for Cancellable<'_> {
    fn scanned(&mut self, _: u64) -> bool {
        !self.0.cancelled()
    }
}

/// Applies `params.action` and answers the view.
pub(super) fn run(params: OlapParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = std::time::Instant::now();
    let view = View {
        at: params.at,
        filters: params.filters,
    };
    let planned = params.cube.plan(view, params.action.as_ref())?;
    let answer = sql::run(
        &planned.sql,
        &HostCatalog::new(host),
        &mut Cancellable(host),
    )?;
    let table = &answer.table;
    if table.rows > MAX_ROWS {
        return Err(AnalyticsError::Invalid(format!(
            "this view has {} cells, more than {MAX_ROWS}: roll up, slice or dice first",
            table.rows
        )));
    }
    let rows: Vec<Vec<Value>> = (0..table.rows)
        .map(|i| table.columns.iter().map(|c| c.get(i).to_json()).collect())
        .collect();
    let measures: Vec<String> = params
        .cube
        .measures
        .iter()
        .map(|m| m.name.clone())
        .collect();
    let pivoted = planned
        .pivot
        .as_ref()
        .map(|(down, across)| pivot(&answer.columns, &rows, down, across, &measures));
    let query_id = params
        .query_id
        .unwrap_or_else(|| super::generated_id("o", &planned.sql));
    let action = params
        .action
        .as_ref()
        .and_then(|a| serde_json::to_value(a).ok())
        .unwrap_or(Value::Null);
    let elapsed = super::elapsed_ms(started);
    let mut result = json!({
        "query_id": query_id,
        "dataset": params.cube.dataset,
        "action": action,
        "at": planned.view.at,
        "filters": planned.view.filters,
        "group_by": planned.group_columns,
        "measures": measures,
        "columns": answer.columns,
        "types": answer.types,
        "rows": rows,
        "row_count": table.rows,
        "rows_scanned": answer.scanned_rows,
        "sql": planned.sql,
        "processing_time_ms": elapsed,
    });
    if let Some(p) = pivoted {
        result["pivot"] = p;
    }
    let mut event = result.clone();
    if let Some(rows) = event["rows"]
        .as_array_mut()
        .filter(|r| r.len() > EVENT_ROWS)
    {
        rows.truncate(EVENT_ROWS);
        event["truncated"] = json!(true);
    }
    if event.get("pivot").is_some() && table.rows > EVENT_ROWS {
        // A large pivot is the answer's; the event says it exists.
        event["pivot"] = json!({"omitted": "larger than an event carries; see the job's result"});
    }
    event["timestamp"] = super::now();
    host.emit(OLAP, "olap_result", &event);
    Ok(result)
}
