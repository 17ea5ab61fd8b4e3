//! The `query` operation: PGQL-like pattern matching (grammar in
//! `crate::query`).

use std::collections::HashMap;

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use super::graph_input;
use crate::query::{PropertyGraph, Query};

/// Rows a query may return when it sets no LIMIT.
const MAX_ROWS: usize = 10_000;

#[derive(Deserialize)]
struct QueryParams {
    query: String,
    #[serde(default)]
    node_properties: HashMap<String, serde_json::Map<String, Value>>,
}

pub(super) fn query(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let p: QueryParams = params.parse()?;
    let input = graph_input(&params, host)?;
    let query =
        Query::parse(&p.query).map_err(|e| EngineError::InvalidParams(format!("query: {e}")))?;
    let mut edges = Vec::with_capacity(input.edges.len() * 2);
    for edge in input.edges {
        if !input.directed {
            edges.push((edge.to.0.clone(), edge.from.0.clone(), edge.label.clone()));
        }
        edges.push((edge.from.0, edge.to.0, edge.label));
    }
    let graph = PropertyGraph::new(edges, p.node_properties);
    let rows = graph.run(&query, MAX_ROWS);
    host.progress(1, 1, &format!("{} rows", rows.len()), None);
    Ok(json!({ "columns": query.columns, "rows": rows, "count": rows.len() }))
}
