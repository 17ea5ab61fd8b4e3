//! Materialized-view statements in the `sql` operation (`CREATE [OR
//! REPLACE] MATERIALIZED VIEW`, `REFRESH MATERIALIZED VIEW`, `DROP
//! MATERIALIZED VIEW`) and the `views` operation that lists them with
//! whether each is current.

use serde::Deserialize;
use sqlparser::ast::{ObjectType, Statement};
use weft_sdk::{Host, Value, json};

use super::HostCatalog;
use crate::AnalyticsError;
use crate::sql::{Catalog, Progress};
use crate::views::{self, View};

fn name_of(name: &impl ToString) -> String {
    name.to_string().trim_matches('"').to_owned()
}

fn answer(query_id: &str, action: &str, view: Option<&View>, name: &str) -> Value {
    json!({
        "query_id": query_id,
        "columns": ["view", "action", "rows"],
        "types": ["VARCHAR", "VARCHAR", "BIGINT"],
        "rows": [[name, action, view.map_or(0, |v| v.rows)]],
        "row_count": 1,
        "truncated": false,
        "rows_scanned": 0,
        "elapsed_ms": 0.0,
        "cache": "off",
        "materialized_view": view,
    })
}

/// Runs `statement` if it is a materialized-view statement.
pub(super) fn ddl(
    statement: &Statement,
    host: &dyn Host,
    query_id: &str,
    progress: &mut dyn Progress,
) -> Option<Result<Value, AnalyticsError>> {
    let catalog = HostCatalog::new(host);
    match statement {
        Statement::CreateView(create) if create.materialized => {
            let name = name_of(&create.name);
            let query = create.query.to_string();
            Some(
                views::create(host, &catalog, &name, &query, create.or_replace, progress)
                    .map(|v| answer(query_id, "created", Some(&v), &name)),
            )
        }
        Statement::CreateView(_) => Some(Err(AnalyticsError::Invalid(
            "only materialized views are kept: CREATE MATERIALIZED VIEW name AS SELECT …".into(),
        ))),
        Statement::RefreshMaterializedView(refresh) => {
            let name = name_of(&refresh.name);
            Some((|| {
                let view = views::all(host)?
                    .into_iter()
                    .find(|v| v.name.eq_ignore_ascii_case(&name))
                    .ok_or_else(|| {
                        AnalyticsError::NotFound(format!("no materialized view '{name}'"))
                    })?;
                let v = views::create(host, &catalog, &view.name, &view.query, true, progress)?;
                Ok(answer(query_id, "refreshed", Some(&v), &name))
            })())
        }
        Statement::Drop {
            object_type: ObjectType::MaterializedView,
            names,
            if_exists,
            ..
        } => Some((|| {
            let mut dropped = Vec::new();
            for n in names {
                let name = name_of(n);
                if views::drop(host, &name, *if_exists)? {
                    dropped.push(name);
                }
            }
            Ok(answer(query_id, "dropped", None, &dropped.join(", ")))
        })()),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ViewsParams {}

/// Every view, its definition and whether its inputs are unchanged.
pub(super) fn list(_: ViewsParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let catalog = HostCatalog::new(host);
    let listed: Vec<Value> = views::all(host)?
        .iter()
        .map(|v| {
            let current = v.sources.iter().all(|(d, ver)| catalog.version(d) == Some(*ver));
            json!({"name": v.name, "query": v.query, "rows": v.rows, "sources": v.sources, "current": current})
        })
        .collect();
    Ok(json!({"views": listed}))
}
