//! Stored graphs: `POST /api/v1/graphs/{name}` stores an edge list (and
//! optional nodes with properties) once, as columnar datasets
//! `<name>.edges` (`source`, `target`, `weight`, `label`, then one column
//! per edge property) and `<name>.nodes` (`id` and one column per
//! property). Graph jobs then name
//! it (`"graph": "<name>"`) and the plugin reads the columns in bulk through
//! `weft:host/storage` — no JSON per edge after the upload.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use serde_json::{Value, json};
use weft_storage::columnar::{CHUNK_ROWS, ColumnType, Field, Format, Values};
use weft_storage::{StorageError, Store};

use crate::api_doc::{Api, Op};
use crate::{ApiError, AppState, Principal};

/// Largest graph upload.
const MAX_GRAPH_BYTES: usize = 512 << 20;

pub(super) fn routes(api: Api) -> Api {
    api.route(
        Op::get("/api/v1/graphs", "graphs", "Stored graphs and their sizes"),
        get(list),
    )
    .route(
        Op::post(
            "/api/v1/graphs/{name}",
            "graphs",
            "Store a graph: JSON {\"edges\": [[from, to, weight?] or {from, to, weight?, label?, …properties}], \"nodes\": [id or {id, …properties}]} or CSV with columns source,target[,weight][,label][,properties…]; graph jobs then take {\"graph\": name}",
        )
        .body("application/json", "edges and optional nodes (or text/csv of edges)")
        .responds(201, "the stored graph's summary"),
        get(info)
            .post(store_graph)
            .delete(drop_graph)
            .layer(DefaultBodyLimit::max(MAX_GRAPH_BYTES)),
    )
    .external(Op::get("/api/v1/graphs/{name}", "graphs", "A stored graph's summary"))
    .external(Op::delete("/api/v1/graphs/{name}", "graphs", "Delete a stored graph"))
}

fn edges_of(name: &str) -> String {
    format!("{name}.edges")
}

fn nodes_of(name: &str) -> String {
    format!("{name}.nodes")
}

/// [`super::blocking`] for work that already speaks HTTP errors.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    super::blocking(work).await
}

fn summary(store: &Store, tenant: &str, name: &str) -> Result<Value, StorageError> {
    let edges = store.dataset(tenant, &edges_of(name))?;
    let nodes = store.dataset(tenant, &nodes_of(name)).ok();
    Ok(json!({
        "name": name,
        "edges": edges.rows(),
        "edge_columns": edges.schema(),
        "nodes": nodes.as_ref().map(|n| n.rows()),
        "node_columns": nodes.map(|n| n.schema()),
    }))
}

async fn list(State(state): State<AppState>, caller: Principal) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (state.store.clone(), caller.tenant.clone());
    blocking(move || {
        let graphs: Vec<Value> = store
            .datasets(&tenant)
            .iter()
            .filter_map(|d| d.name.strip_suffix(".edges"))
            .filter_map(|name| summary(&store, &tenant, name).ok())
            .collect();
        Ok(Json(json!({ "graphs": graphs })))
    })
    .await
}

async fn info(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (store, tenant) = (state.store.clone(), caller.tenant.clone());
    blocking(move || match summary(&store, &tenant, &name) {
        Ok(found) => Ok(Json(found)),
        Err(StorageError::NotFound { .. }) => Err(not_found(&name)),
        Err(other) => Err(other.into()),
    })
    .await
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no stored graph '{name}'; store one with POST /api/v1/graphs/{name}"),
    )
}

async fn drop_graph(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (store, tenant) = (state.store.clone(), caller.tenant.clone());
    blocking(move || {
        match store.drop_dataset(&tenant, &edges_of(&name)) {
            Err(StorageError::NotFound { .. }) => return Err(not_found(&name)),
            other => other?,
        }
        match store.drop_dataset(&tenant, &nodes_of(&name)) {
            Err(StorageError::NotFound { .. }) | Ok(()) => Ok(StatusCode::NO_CONTENT),
            Err(other) => Err(other.into()),
        }
    })
    .await
}

/// A node id: integers stay integers, anything else is text.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// Columns of one edge list, in storage types.
struct EdgeColumns {
    sources: Vec<String>,
    targets: Vec<String>,
    weights: Vec<f64>,
    labels: Vec<Option<String>>,
    /// Other properties by name: one value (or null) per edge.
    properties: std::collections::BTreeMap<String, Vec<Option<Value>>>,
}

/// The edge fields that are not properties.
const EDGE_FIELDS: [&str; 4] = ["from", "to", "weight", "label"];

fn parse_edges(edges: &[Value]) -> Result<EdgeColumns, ApiError> {
    let mut out = EdgeColumns {
        sources: Vec::with_capacity(edges.len()),
        targets: Vec::with_capacity(edges.len()),
        weights: Vec::with_capacity(edges.len()),
        labels: Vec::with_capacity(edges.len()),
        properties: Default::default(),
    };
    for (i, edge) in edges.iter().enumerate() {
        let bad = || {
            ApiError::bad_request(format!(
                "edge {i} ({edge}): write [from, to], [from, to, weight] or {{\"from\", \"to\", \"weight\", \"label\"}} with integer or string ids and a finite weight"
            ))
        };
        let (from, to, weight, label) = match edge {
            Value::Array(parts) if (2..=3).contains(&parts.len()) => {
                (&parts[0], &parts[1], parts.get(2), None)
            }
            Value::Object(fields) => (
                fields.get("from").ok_or_else(bad)?,
                fields.get("to").ok_or_else(bad)?,
                fields.get("weight"),
                fields
                    .get("label")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            _ => return Err(bad()),
        };
        // Any other field of an edge object (or of its "properties"
        // object) is a property, as for nodes.
        if let Value::Object(fields) = edge {
            let nested = match fields.get("properties") {
                None => None,
                Some(Value::Object(nested)) => Some(nested),
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "edge {i}: \"properties\" must be an object of named values"
                    )));
                }
            };
            let extra = fields
                .iter()
                .filter(|(k, _)| !EDGE_FIELDS.contains(&k.as_str()) && *k != "properties")
                .chain(nested.into_iter().flatten());
            for (key, value) in extra {
                // The stored columns' own names cannot be properties.
                if ["source", "target", "weight", "label", "from", "to"].contains(&key.as_str()) {
                    return Err(ApiError::bad_request(format!(
                        "edge {i}: a property cannot be called '{key}', which names an edge field"
                    )));
                }
                let column = out
                    .properties
                    .entry(key.clone())
                    .or_insert_with(|| vec![None; i]);
                column.resize(i, None);
                column.push((!value.is_null()).then(|| value.clone()));
            }
        }
        let weight = match weight {
            None => 1.0,
            Some(w) => w.as_f64().filter(|w| w.is_finite()).ok_or_else(bad)?,
        };
        out.sources.push(id_text(from).ok_or_else(bad)?);
        out.targets.push(id_text(to).ok_or_else(bad)?);
        out.weights.push(weight);
        out.labels.push(label);
    }
    for column in out.properties.values_mut() {
        column.resize(edges.len(), None);
    }
    Ok(out)
}

/// One edge property as a typed column: booleans, integers, numbers or
/// text, the same type throughout (nulls aside).
fn property_column(
    name: &str,
    values: &[Option<Value>],
) -> Result<(ColumnType, Values, Vec<bool>), ApiError> {
    let present = || values.iter().flatten();
    let (kind, column) = if present().all(Value::is_boolean) {
        let v = values
            .iter()
            .map(|v| v.as_ref().and_then(Value::as_bool).unwrap_or_default());
        (ColumnType::Bool, Values::Bool(v.collect()))
    } else if present().all(Value::is_i64) {
        let v = values
            .iter()
            .map(|v| v.as_ref().and_then(Value::as_i64).unwrap_or_default());
        (ColumnType::I64, Values::I64(v.collect()))
    } else if present().all(Value::is_number) {
        let v = values
            .iter()
            .map(|v| v.as_ref().and_then(Value::as_f64).unwrap_or_default());
        (ColumnType::F64, Values::F64(v.collect()))
    } else if present().all(Value::is_string) {
        let v = values.iter().map(|v| {
            v.as_ref()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        });
        (ColumnType::String, Values::String(v.collect()))
    } else {
        return Err(ApiError::bad_request(format!(
            "edge property '{name}' mixes types or holds lists/objects; give every edge the same kind of value (number, text or boolean) or null"
        )));
    };
    let valid: Vec<bool> = values.iter().map(Option::is_some).collect();
    let valid = if valid.iter().all(|v| *v) {
        Vec::new()
    } else {
        valid
    };
    Ok((kind, column, valid))
}

/// Integer ids are stored as integers (smaller, delta-encodable); any text
/// id makes the column text.
fn id_column(ids: &[String], integers: bool) -> Values {
    if integers {
        Values::I64(ids.iter().map(|s| s.parse().unwrap_or_default()).collect())
    } else {
        Values::String(ids.to_vec())
    }
}

fn store_json(store: &Arc<Store>, tenant: &str, name: &str, body: &Value) -> Result<(), ApiError> {
    let edges = body["edges"]
        .as_array()
        .ok_or_else(|| ApiError::bad_request("the body needs \"edges\": a list of edges"))?;
    if edges.is_empty() {
        return Err(ApiError::bad_request(
            "a stored graph needs at least one edge",
        ));
    }
    let columns = parse_edges(edges)?;
    let integers = columns
        .sources
        .iter()
        .chain(&columns.targets)
        .all(|s| s.parse::<i64>().is_ok());
    let id_type = if integers {
        ColumnType::I64
    } else {
        ColumnType::String
    };
    let has_labels = columns.labels.iter().any(Option::is_some);
    let mut schema = vec![
        Field {
            name: "source".into(),
            kind: id_type,
        },
        Field {
            name: "target".into(),
            kind: id_type,
        },
        Field {
            name: "weight".into(),
            kind: ColumnType::F64,
        },
    ];
    if has_labels {
        schema.push(Field {
            name: "label".into(),
            kind: ColumnType::String,
        });
    }
    let mut properties = Vec::with_capacity(columns.properties.len());
    for (property, values) in &columns.properties {
        let (kind, values, valid) = property_column(property, values)?;
        schema.push(Field {
            name: property.clone(),
            kind,
        });
        properties.push((values, valid));
    }
    let dataset = store.create_dataset(tenant, &edges_of(name), schema)?;
    for start in (0..edges.len()).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(edges.len());
        let mut chunk = vec![
            (
                id_column(&columns.sources[start..end], integers),
                Vec::new(),
            ),
            (
                id_column(&columns.targets[start..end], integers),
                Vec::new(),
            ),
            (
                Values::F64(columns.weights[start..end].to_vec()),
                Vec::new(),
            ),
        ];
        if has_labels {
            let labels = &columns.labels[start..end];
            let valid: Vec<bool> = labels.iter().map(Option::is_some).collect();
            let values = labels
                .iter()
                .map(|l| l.clone().unwrap_or_default())
                .collect();
            chunk.push((
                Values::String(values),
                if valid.iter().all(|v| *v) {
                    Vec::new()
                } else {
                    valid
                },
            ));
        }
        for (values, valid) in &properties {
            let valid = if valid.is_empty() {
                Vec::new()
            } else {
                valid[start..end].to_vec()
            };
            chunk.push((values.slice(start..end), valid));
        }
        dataset.append(chunk)?;
    }
    if let Some(nodes) = body["nodes"].as_array().filter(|n| !n.is_empty()) {
        // Nodes go through the JSON-lines loader: one column per property,
        // types inferred as for any dataset.
        let mut lines = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let object = match node {
                Value::Object(fields) if fields.get("id").and_then(id_text).is_some() => {
                    node.clone()
                }
                other if id_text(other).is_some() => json!({ "id": other }),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "node {i}: write an id (integer or string) or {{\"id\": …, properties…}}"
                    )));
                }
            };
            serde_json::to_writer(&mut lines, &object)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            lines.push(b'\n');
        }
        let (store, tenant, nodes_name) = (store.clone(), tenant.to_owned(), nodes_of(name));
        weft_storage::columnar::load(
            lines.as_slice(),
            Format::JsonLines,
            None,
            Box::new(move |schema| store.create_dataset(&tenant, &nodes_name, schema)),
            &mut |_| {},
        )?;
    }
    Ok(())
}

fn store_csv(store: &Arc<Store>, tenant: &str, name: &str, body: &[u8]) -> Result<(), ApiError> {
    let (creator, tenant_owned, edges_name) = (store.clone(), tenant.to_owned(), edges_of(name));
    let dataset = weft_storage::columnar::load(
        body,
        Format::Csv,
        None,
        Box::new(move |schema| creator.create_dataset(&tenant_owned, &edges_name, schema)),
        &mut |_| {},
    )?
    .ok_or_else(|| ApiError::bad_request("the CSV holds no edges"))?;
    let schema = dataset.schema();
    let column = |name: &str| schema.iter().find(|f| f.name == name).map(|f| f.kind);
    let ids_ok = [column("source"), column("target")]
        .iter()
        .all(|k| matches!(k, Some(ColumnType::I64 | ColumnType::String)));
    let weight_ok = matches!(
        column("weight"),
        None | Some(ColumnType::F64 | ColumnType::I64)
    );
    if !ids_ok || !weight_ok {
        return Err(ApiError::bad_request(
            "a graph CSV needs columns source and target (integers or text), and optionally a numeric weight and a label",
        ));
    }
    Ok(())
}

async fn store_graph(
    State(state): State<AppState>,
    caller: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    weft_storage::store::check_name(&name)?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("csv"));
    let (store, tenant) = (state.store.clone(), caller.tenant.clone());
    blocking(move || {
        if store.dataset(&tenant, &edges_of(&name)).is_ok() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("graph '{name}' already exists; DELETE it first or pick another name"),
            ));
        }
        let stored = if csv {
            store_csv(&store, &tenant, &name, &body)
        } else {
            serde_json::from_slice::<Value>(&body)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "the body is not JSON ({e}); send JSON or text/csv"
                    ))
                })
                .and_then(|json| store_json(&store, &tenant, &name, &json))
        };
        if let Err(error) = stored {
            // Leave nothing half-stored behind.
            let _ = store.drop_dataset(&tenant, &edges_of(&name));
            let _ = store.drop_dataset(&tenant, &nodes_of(&name));
            return Err(error);
        }
        Ok((StatusCode::CREATED, Json(summary(&store, &tenant, &name)?)))
    })
    .await
}
