//! The engine's operations: JSON params in, JSON results out, change
//! events and aggregation stages to the host. The query logic lives in
//! the crate's other modules; this one declares the surface (routes,
//! endpoints, event kinds, subscriptions) and translates.

use serde_json::{Value, json};
use weft_sdk::{
    Body, Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Params,
    Route, Subscription,
};

use crate::DocumentError;

mod admin;
mod catalog;
mod crud;
mod writes;

pub use writes::object_id;

/// The document engine as a Weft [`Engine`].
pub struct DocumentEngine;

/// Family topic of change events (`document.changes`).
pub(crate) const CHANGES: &str = "changes";
/// Family topic of aggregation results (`document.aggregation`).
pub(crate) const AGGREGATION: &str = "aggregation";

/// Change events carry the full document up to this size; past it the
/// event says `fullDocumentOmitted` (the host takes events up to 1 MiB).
const FULL_DOCUMENT_IN_EVENTS: usize = 256 << 10;

/// What every operation may need besides its params.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// Milliseconds since the epoch, for `$currentDate`.
    pub now_ms: i64,
}

/// Publishes committed change records as `change_event`s, in commit
/// order.
pub(crate) fn publish_changes(host: &dyn Host, _ctx: &Ctx, records: &[Value]) {
    for record in records {
        let mut event = record.clone();
        let large = event.get("fullDocument").is_some_and(|d| {
            serde_json::to_vec(d).map_or(0, |b| b.len()) > FULL_DOCUMENT_IN_EVENTS
        });
        if large && let Value::Object(map) = &mut event {
            map.shift_remove("fullDocument");
            map.insert("fullDocumentOmitted".into(), Value::Bool(true));
        }
        if let Some(id) = event.pointer("/documentKey/_id").cloned() {
            event["document_id"] = id;
        }
        event["resumeToken"] = event["_id"]["_data"].clone();
        // operationType again as one snake_case word, which GraphQL
        // subscriptions can filter on (`operation:`).
        event["operation"] = event["operationType"].clone();
        host.emit(CHANGES, "change_event", &event);
    }
}

/// The snake_case code of an error, as bulk results and events show it.
pub(crate) fn error_code(error: &DocumentError) -> &'static str {
    match error {
        DocumentError::Invalid(_) => "invalid_params",
        DocumentError::Schema { .. } => "schema_violation",
        DocumentError::NotFound(_) => "not_found",
        DocumentError::Conflict(_) => "duplicate_key",
        DocumentError::TooLarge(_) => "payload_too_large",
        DocumentError::Storage(_) => "storage_failed",
        DocumentError::Cancelled => "cancelled",
    }
}

impl From<DocumentError> for EngineError {
    fn from(error: DocumentError) -> Self {
        match error {
            DocumentError::Invalid(m) => EngineError::InvalidParams(m),
            DocumentError::Schema { pointer, message } => {
                EngineError::InvalidParam { pointer, message }
            }
            DocumentError::NotFound(m) => EngineError::NotFound(m),
            DocumentError::Conflict(m) => EngineError::Conflict(m),
            DocumentError::TooLarge(m) => EngineError::TooLarge(m),
            DocumentError::Storage(m) => EngineError::Failed(m),
            DocumentError::Cancelled => EngineError::Cancelled,
        }
    }
}

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn manifest() -> Manifest {
    const BASE: &str = "/api/v1/documents/{collection}";
    let at = |suffix: &str| format!("{BASE}{suffix}");
    let post = |suffix: &str, op: &str, description: &str| {
        Route::new(Method::Post, &at(suffix), op, description)
    };
    Manifest {
        routes: vec![
            Route::new(Method::Get, "/api/v1/documents", "list_collections", "The tenant's document collections with their counts"),
            Route::new(Method::Get, BASE, "collection_info", "A collection's count, indexes and validator"),
            Route::new(Method::Post, BASE, "insert", "Insert one document or a JSON array of them (up to the request limit); _id generated when absent")
                .body(Body::Bytes("application/json".into()))
                .status(201),
            Route::new(Method::Delete, BASE, "drop_collection", "Delete a collection, its indexes and change log").status(204),
            Route::new(Method::Get, &at("/{id}"), "get_document", "The document with this _id (a string, or a number if no string _id matches)"),
            Route::new(Method::Put, &at("/{id}"), "replace_document", "Replace the document with this _id by the body; ?upsert=true inserts it when absent")
                .body(Body::Bytes("application/json".into())),
            Route::new(Method::Patch, &at("/{id}"), "update_document", "Update the document with this _id with operators ($set, $inc, …); ?upsert=true"),
            Route::new(Method::Delete, &at("/{id}"), "delete_document", "Delete the document with this _id"),
            post("/find", "find", "Documents matching a filter, with projection, sort, skip and limit"),
            post("/update", "update", "Update the first (or every, with multi) document matching a filter"),
            post("/delete", "delete", "Delete the first (or every, with multi) document matching a filter"),
            post("/aggregate", "aggregate", "Run an aggregation pipeline; each stage's output streams as aggregation_result"),
            post("/bulk", "bulk", "Ordered or unordered bulk writes, a result per item"),
            post("/count", "count", "How many documents match a filter"),
            post("/distinct", "distinct", "The distinct values of a field among matching documents"),
            post("/indexes", "create_index", "Create an index: single-field, compound, multikey, unique, sparse, partial, TTL or text").status(201),
            Route::new(Method::Delete, &at("/indexes/{index}"), "drop_index", "Drop an index").status(204),
            post("/schema", "set_validator", "Set (or, with null, remove) the collection's JSON Schema validator"),
            post("/search", "search", "Full-text search over the text index, BM25-ranked, with phrases and -exclusions"),
            post("/explain", "explain", "The plan of a find: which index, how many keys and documents were examined"),
            post("/changes", "changes", "Change records after a resume token, from the durable change log"),
            post("/jsonpath", "jsonpath", "Values an RFC 9535 JSONPath selects in each matching document"),
        ],
        endpoints: vec![
            Endpoint::new("/api/v1/ws/documents/changes", CHANGES, "Change streams: inserts, updates, replaces and deletes with their documents (seed 000 §2.5)"),
            Endpoint::new("/api/v1/ws/documents/aggregation", AGGREGATION, "Aggregation pipelines: each stage's results, then completion (seed 000 §2.5)")
                .request("aggregation_request", "aggregate"),
        ],
        events: vec![
            EventKind::new("change_event", "A committed insert, update, replace or delete, in commit order (clusterTime).", schema(include_str!("../../schemas/change_event.json"))),
            EventKind::new("aggregation_result", "The output of one pipeline stage.", schema(include_str!("../../schemas/aggregation_result.json"))),
            EventKind::new("aggregation_complete", "A pipeline finished: its documents and figures.", schema(include_str!("../../schemas/aggregation_complete.json"))),
        ],
        subscriptions: vec![
            Subscription::new("documentChanges", CHANGES, &["change_event"], "Document changes, of one collection and operation type if given")
                .filter("collection")
                .filter("operation"),
            Subscription::new("documentAggregation", AGGREGATION, &["aggregation_result", "aggregation_complete"], "Aggregation stage results: of one pipeline (jobId; ends with its aggregation_complete) or of all")
                .filter("collection")
                .ends_with("aggregation_complete"),
        ],
        ..Manifest::default()
    }
}

impl Engine for DocumentEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "document".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: catalog::operations(),
            manifest: manifest(),
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        let params = params.value()?;
        // In the sandbox the wall clock is frozen at the job's start: one
        // time for every `$currentDate` of the job, as MongoDB gives one
        // per operation.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let ctx = Ctx { now_ms };
        let answer = match op {
            "list_collections" => admin::list_collections(host),
            "collection_info" => admin::collection_info(host, &params),
            "drop_collection" => admin::drop_collection(host, &params),
            "create_index" => admin::create_index(host, &ctx, &params),
            "drop_index" => admin::drop_index(host, &params),
            "set_validator" => admin::set_validator(host, &params),
            "insert" => crud::insert(host, &ctx, &params),
            "get_document" => crud::get_document(host, &params),
            "replace_document" => crud::replace_document(host, &ctx, &params),
            "update_document" => crud::update_document(host, &ctx, &params),
            "delete_document" => crud::delete_document(host, &ctx, &params),
            "find" => crud::find(host, &params),
            "update" => crud::update(host, &ctx, &params),
            "delete" => crud::delete(host, &ctx, &params),
            "bulk" => crud::bulk(host, &ctx, &params),
            "count" => crud::count(host, &params),
            "distinct" => crud::distinct(host, &params),
            "aggregate" => crud::aggregate(host, &params),
            "search" => crud::search(host, &params),
            "explain" => crud::explain(host, &params),
            "changes" => crud::changes(host, &params),
            "jsonpath" => crud::jsonpath(host, &params),
            other => return Err(EngineError::UnknownOperation(other.into())),
        };
        answer.map_err(EngineError::from)
    }
}

/// A required string param.
pub(crate) fn text<'a>(params: &'a Value, name: &str) -> Result<&'a str, DocumentError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| DocumentError::invalid(format!("'{name}' is required (a string)")))
}

/// The `collection` param, checked.
pub(crate) fn collection(params: &Value) -> Result<&str, DocumentError> {
    let name = text(params, "collection")?;
    crate::store::check_name(name)?;
    Ok(name)
}

/// An optional object param (`{}` when absent).
pub(crate) fn object_param(params: &Value, name: &str) -> Value {
    match params.get(name) {
        Some(Value::Null) | None => json!({}),
        Some(v) => v.clone(),
    }
}
