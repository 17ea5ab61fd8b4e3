//! The `query` operation: PGQL-like pattern matching (grammar in
//! `crate::query`).

use std::collections::HashMap;

use serde::Deserialize;
use weft_sdk::{EngineError, Host, Params, Value, json};

use crate::input::{GraphInput, stored_node_properties};
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
    let query =
        Query::parse(&p.query).map_err(|e| EngineError::InvalidParams(format!("query: {e}")))?;
    let input: GraphInput = params.parse()?;
    // A stored graph's node properties, overridden per property by any
    // given inline.
    let mut properties = match &input.graph {
        Some(name) => stored_node_properties(host, name)?,
        None => HashMap::new(),
    };
    for (node, inline) in p.node_properties {
        properties.entry(node).or_default().extend(inline);
    }
    let input = input.resolve_with_properties(host)?;
    let mut edges = Vec::with_capacity(input.edges.len() * 2);
    for edge in input.edges {
        let mut values = edge.properties.map(|p| *p).unwrap_or_default();
        values.insert("weight".into(), json!(edge.weight));
        if let Some(label) = edge.label {
            values.insert("label".into(), Value::String(label));
        }
        let (from, to) = (edge.from.to_string(), edge.to.to_string());
        if !input.directed {
            edges.push((to.clone(), from.clone(), values.clone()));
        }
        edges.push((from, to, values));
    }
    let graph = PropertyGraph::new(edges, properties);
    let rows = graph.run(&query, MAX_ROWS);
    host.progress(1, 1, &format!("{} rows", rows.len()), None);
    Ok(json!({ "columns": query.columns, "rows": rows, "count": rows.len() }))
}
