//! Stored graphs: the one definition of how a graph lives in host storage,
//! and the operations behind `POST|GET|DELETE /api/v1/graphs/{name}` and
//! `GET /api/v1/graphs` (declared in this engine's manifest).
//!
//! A graph `g` is two datasets written atomically through dataset writers:
//! `g.edges` (`source`, `target` — integers when every id is one, text
//! otherwise —, `weight`, `label` when any edge has one, then one column per
//! edge property) and, when nodes were given, `g.nodes` (`id` and one column
//! per node property). `input.rs` reads the same columns back. A concurrent
//! upload of the same name cannot delete this one's data: the second commit
//! finds the first and fails with a conflict, leaving nothing of its own.

use std::collections::BTreeMap;

use serde::Deserialize;
use weft_sdk::{
    ColumnChunk, ColumnKind, ColumnValues, EngineError, Host, Params, StorageFailure, Value, json,
};

use crate::input::{Edge, NodeName, Properties};

/// The dataset holding graph `name`'s edges.
pub fn edges_dataset(name: &str) -> String {
    format!("{name}.edges")
}

/// The dataset holding graph `name`'s nodes (if it was stored with any).
pub fn nodes_dataset(name: &str) -> String {
    format!("{name}.nodes")
}

/// A node as uploaded: an id, or `{"id", …properties}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NodeSpec {
    Id(NodeName),
    Object(Properties),
}

/// A JSON graph upload. Edges are parsed straight into [`Edge`]s, with no
/// JSON tree per edge.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    edges: Vec<Edge>,
    #[serde(default)]
    nodes: Vec<NodeSpec>,
    /// Accepted for symmetry with jobs; direction is chosen per job.
    #[serde(default)]
    #[allow(dead_code)]
    directed: Option<bool>,
}

#[derive(Deserialize)]
struct NameParams {
    name: String,
}

/// Largest graph upload, parsed in memory.
const MAX_UPLOAD: u64 = 16 << 20;

#[derive(Deserialize)]
struct StoreParams {
    name: String,
    body_blob: String,
    #[serde(default)]
    body_type: String,
}

/// `store_graph`: parses the uploaded body (JSON, or CSV of edges) and
/// writes the graph's datasets; answers its summary.
pub(crate) fn store(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let params: StoreParams = params.parse()?;
    // A graph is parsed whole, so its upload is bounded here; the host
    // streams any body into the blob.
    let (size, _) = host.read_blob_range(&params.body_blob, 0, 0)?;
    if size > MAX_UPLOAD {
        return Err(EngineError::TooLarge(format!(
            "a stored graph's upload is at most {} MiB, this one is {size} bytes; split it into several graphs, or send it in CSV (text/csv), which is smaller",
            MAX_UPLOAD >> 20
        )));
    }
    let body = host.read_blob(&params.body_blob)?;
    let (edges, nodes) = if params.body_type.contains("csv") {
        (csv_edges(&body)?, Vec::new())
    } else {
        let upload: Upload = serde_json::from_slice(&body).map_err(|e| {
            EngineError::InvalidParams(format!(
                "the body is not a graph ({e}); send JSON {{\"edges\": [[from, to, weight?] or {{\"from\", \"to\", \"weight\"?, \"label\"?, …properties}}], \"nodes\": [id or {{\"id\", …properties}}]}}, or text/csv with columns source,target[,weight][,label][,properties…]"
            ))
        })?;
        (upload.edges, upload.nodes)
    };
    if edges.is_empty() {
        return Err(EngineError::InvalidParams(
            "a stored graph needs at least one edge".into(),
        ));
    }
    host.progress(0, edges.len() as u64, "writing edges", None);
    let edge_writer = write_edges(host, &params.name, &edges)?;
    let node_writer = if nodes.is_empty() {
        None
    } else {
        Some(write_nodes(host, &params.name, nodes)?)
    };
    edge_writer
        .commit()
        .map_err(|e| conflict(&params.name, e))?;
    if let Some(writer) = node_writer
        && let Err(e) = writer.commit()
    {
        let _ = host.drop_dataset(&edges_dataset(&params.name));
        return Err(conflict(&params.name, e));
    }
    host.progress(edges.len() as u64, edges.len() as u64, "stored", None);
    summary(host, &params.name)
}

fn conflict(name: &str, failure: StorageFailure) -> EngineError {
    match failure {
        StorageFailure::Exists(_) => EngineError::Conflict(format!(
            "graph '{name}' already exists; DELETE /api/v1/graphs/{name} first or pick another name"
        )),
        other => other.into(),
    }
}

/// Node ids are stored as integers when every one is.
fn id_column(ids: &[&NodeName]) -> (ColumnKind, ColumnValues) {
    if ids.iter().all(|id| matches!(id, NodeName::Integer(_))) {
        let values = ids
            .iter()
            .map(|id| match id {
                NodeName::Integer(n) => *n,
                NodeName::Text(_) => 0,
            })
            .collect();
        (ColumnKind::I64, ColumnValues::I64(values))
    } else {
        let values = ids.iter().map(|id| id.to_string()).collect();
        (ColumnKind::Text, ColumnValues::Text(values))
    }
}

/// One property as a typed column (see [`weft_sdk::json_column`]).
fn property_column(
    owner: &str,
    name: &str,
    values: &[Option<&Value>],
) -> Result<(ColumnKind, ColumnChunk), EngineError> {
    weft_sdk::json_column(values).map_err(|why| EngineError::InvalidParam {
        pointer: format!("/{owner}"),
        message: format!("{owner} property '{name}' {why}"),
    })
}

fn append_all(
    writer: &mut dyn weft_sdk::DatasetWriter,
    columns: Vec<ColumnChunk>,
    rows: usize,
) -> Result<(), EngineError> {
    Ok(weft_sdk::append_chunked(writer, columns, rows)?)
}

fn write_edges<'h>(
    host: &'h dyn Host,
    name: &str,
    edges: &[Edge],
) -> Result<Box<dyn weft_sdk::DatasetWriter + 'h>, EngineError> {
    let ends: Vec<&NodeName> = edges.iter().flat_map(|e| [&e.from, &e.to]).collect();
    let (id_kind, ids) = id_column(&ends);
    let (sources, targets) = match ids {
        ColumnValues::I64(v) => {
            let (s, t): (Vec<i64>, Vec<i64>) = v.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
            (ColumnValues::I64(s), ColumnValues::I64(t))
        }
        ColumnValues::Text(v) => {
            let (s, t): (Vec<String>, Vec<String>) = v
                .chunks_exact(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .unzip();
            (ColumnValues::Text(s), ColumnValues::Text(t))
        }
        other => (other.clone(), other),
    };
    let plain = |values| ColumnChunk {
        values,
        valid: Vec::new(),
    };
    let mut schema = vec![
        ("source".to_owned(), id_kind),
        ("target".to_owned(), id_kind),
        ("weight".to_owned(), ColumnKind::F64),
    ];
    let mut columns = vec![
        plain(sources),
        plain(targets),
        plain(ColumnValues::F64(edges.iter().map(|e| e.weight).collect())),
    ];
    if edges.iter().any(|e| e.label.is_some()) {
        schema.push(("label".to_owned(), ColumnKind::Text));
        let labels = edges
            .iter()
            .map(|e| e.label.clone().unwrap_or_default())
            .collect();
        let valid = edges.iter().map(|e| e.label.is_some()).collect();
        columns.push(ColumnChunk {
            values: ColumnValues::Text(labels),
            valid,
        });
    }
    let mut names: BTreeMap<&str, ()> = BTreeMap::new();
    for edge in edges {
        for key in edge.properties.iter().flat_map(|p| p.keys()) {
            names.insert(key.as_str(), ());
        }
    }
    for property in names.keys() {
        let values: Vec<Option<&Value>> = edges
            .iter()
            .map(|e| {
                e.properties
                    .as_ref()
                    .and_then(|p| p.get(*property))
                    .filter(|v| !v.is_null())
            })
            .collect();
        let (kind, column) = property_column("edges", property, &values)?;
        schema.push(((*property).to_owned(), kind));
        columns.push(column);
    }
    let mut writer = host
        .create_dataset(&edges_dataset(name), &schema, false)
        .map_err(|e| conflict(name, e))?;
    append_all(writer.as_mut(), columns, edges.len())?;
    Ok(writer)
}

fn write_nodes<'h>(
    host: &'h dyn Host,
    name: &str,
    nodes: Vec<NodeSpec>,
) -> Result<Box<dyn weft_sdk::DatasetWriter + 'h>, EngineError> {
    let mut ids = Vec::with_capacity(nodes.len());
    let mut properties: Vec<Properties> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.into_iter().enumerate() {
        match node {
            NodeSpec::Id(id) => {
                ids.push(id);
                properties.push(Properties::new());
            }
            NodeSpec::Object(mut fields) => {
                let id = fields
                    .remove("id")
                    .and_then(|id| serde_json::from_value::<NodeName>(id).ok())
                    .ok_or_else(|| EngineError::InvalidParam {
                        pointer: format!("/nodes/{i}"),
                        message: "write an id (integer or string) or {\"id\": …, properties…}"
                            .into(),
                    })?;
                ids.push(id);
                properties.push(fields);
            }
        }
    }
    let refs: Vec<&NodeName> = ids.iter().collect();
    let (id_kind, id_values) = id_column(&refs);
    let mut schema = vec![("id".to_owned(), id_kind)];
    let mut columns = vec![ColumnChunk {
        values: id_values,
        valid: Vec::new(),
    }];
    let mut names: BTreeMap<&str, ()> = BTreeMap::new();
    for fields in &properties {
        for key in fields.keys() {
            names.insert(key.as_str(), ());
        }
    }
    for property in names.keys() {
        let values: Vec<Option<&Value>> = properties
            .iter()
            .map(|p| p.get(*property).filter(|v| !v.is_null()))
            .collect();
        let (kind, column) = property_column("nodes", property, &values)?;
        schema.push(((*property).to_owned(), kind));
        columns.push(column);
    }
    let mut writer = host
        .create_dataset(&nodes_dataset(name), &schema, false)
        .map_err(|e| conflict(name, e))?;
    append_all(writer.as_mut(), columns, ids.len())?;
    Ok(writer)
}

/// Edges from CSV text with a header: `source`, `target`, optional
/// `weight` and `label`, any other column a property (integers, numbers,
/// `true`/`false` or text, by what every row holds; empty is null).
fn csv_edges(body: &[u8]) -> Result<Vec<Edge>, EngineError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| EngineError::InvalidParams(format!("the CSV header cannot be read: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let position = |name: &str| headers.iter().position(|h| h == name);
    let (Some(source), Some(target)) = (position("source"), position("target")) else {
        return Err(EngineError::InvalidParams(
            "a graph CSV needs columns source and target (integers or text), and optionally a numeric weight and a label".into(),
        ));
    };
    let (weight_column, label) = (position("weight"), position("label"));
    let core = [Some(source), Some(target), weight_column, label];
    let mut edges = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| {
            EngineError::InvalidParams(format!("CSV line {line} cannot be read: {e}"))
        })?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let weight = match weight_column.map(field).filter(|w| !w.is_empty()) {
            None => 1.0,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|w| w.is_finite())
                .ok_or_else(|| {
                    EngineError::InvalidParams(format!(
                        "CSV line {line}: weight '{text}' is not a finite number"
                    ))
                })?,
        };
        let mut properties = Properties::new();
        for (i, name) in headers.iter().enumerate() {
            if core.contains(&Some(i)) {
                continue;
            }
            let text = field(i);
            if !text.is_empty() {
                properties.insert(name.clone(), csv_value(text));
            }
        }
        edges.push(Edge {
            from: NodeName::text(field(source)),
            to: NodeName::text(field(target)),
            weight,
            label: label
                .map(field)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
            properties: (!properties.is_empty()).then(|| Box::new(properties)),
        });
    }
    Ok(edges)
}

fn csv_value(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    if let Ok(x) = text.parse::<f64>()
        && x.is_finite()
    {
        return json!(x);
    }
    match text {
        "true" => json!(true),
        "false" => json!(false),
        _ => json!(text),
    }
}

fn columns_json(columns: &[(String, ColumnKind)]) -> Value {
    columns
        .iter()
        .map(|(name, kind)| json!({"name": name, "type": kind.name()}))
        .collect()
}

fn summary(host: &dyn Host, name: &str) -> Result<Value, EngineError> {
    let datasets = host.list_datasets()?;
    let edges = datasets
        .iter()
        .find(|d| d.name == edges_dataset(name))
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "no stored graph '{name}'; store one with POST /api/v1/graphs/{name}"
            ))
        })?;
    let nodes = datasets.iter().find(|d| d.name == nodes_dataset(name));
    Ok(json!({
        "name": name,
        "edges": edges.rows,
        "edge_columns": columns_json(&edges.columns),
        "nodes": nodes.map(|n| n.rows),
        "node_columns": nodes.map(|n| columns_json(&n.columns)),
    }))
}

/// `graph_info`: one stored graph's summary.
pub(crate) fn info(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let params: NameParams = params.parse()?;
    summary(host, &params.name)
}

/// `list_graphs`: every stored graph's summary.
pub(crate) fn list(host: &dyn Host) -> Result<Value, EngineError> {
    let graphs: Vec<Value> = host
        .list_datasets()?
        .iter()
        .filter_map(|d| d.name.strip_suffix(".edges"))
        .filter_map(|name| summary(host, name).ok())
        .collect();
    Ok(json!({ "graphs": graphs }))
}

/// `drop_graph`: deletes a stored graph, edges and nodes.
pub(crate) fn drop(params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
    let params: NameParams = params.parse()?;
    match host.drop_dataset(&edges_dataset(&params.name)) {
        Err(StorageFailure::NotFound(_)) => {
            return Err(EngineError::NotFound(format!(
                "no stored graph '{}'; store one with POST /api/v1/graphs/{}",
                params.name, params.name
            )));
        }
        other => other?,
    }
    match host.drop_dataset(&nodes_dataset(&params.name)) {
        Ok(()) | Err(StorageFailure::NotFound(_)) => Ok(json!({ "dropped": params.name })),
        Err(other) => Err(other.into()),
    }
}
