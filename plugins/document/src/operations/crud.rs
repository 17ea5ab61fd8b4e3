//! Document operations over params: parse what the caller sent (naming
//! the part at fault), run it through the store, query and pipeline
//! modules, and shape the answer.

use serde_json::{Value, json};
use weft_sdk::Host;

use super::{AGGREGATION, Ctx, collection, object_param, writes};
use crate::DocumentError;
use crate::aggregate::{Lookup, Pipeline};
use crate::filter::Filter;
use crate::projection::Projection;
use crate::query::{self, Find};
use crate::sort::SortSpec;
use crate::store::{self, Reader};
use crate::update::Update;

fn filter_param(params: &Value) -> Result<Filter, DocumentError> {
    Filter::parse(&object_param(params, "filter")).map_err(|e| e.within("filter"))
}

fn flag(params: &Value, name: &str) -> bool {
    match params.get(name) {
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(v) => crate::value::truthy(v),
        None => false,
    }
}

fn count_param(params: &Value, name: &str) -> Result<Option<usize>, DocumentError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                DocumentError::invalid(format!("'{name}' must be a non-negative integer, not {v}"))
            }),
    }
}

/// The body of a bytes route (`body_blob`), or the `field` param of a
/// job sent over WebSocket.
fn body(host: &dyn Host, params: &Value, field: &str) -> Result<Value, DocumentError> {
    if let Some(blob) = params.get("body_blob").and_then(Value::as_str) {
        let bytes = weft_sdk::read_whole_blob(host, blob)
            .map_err(|e| DocumentError::Storage(format!("{e:?}")))?;
        return serde_json::from_slice(&bytes).map_err(|e| {
            DocumentError::invalid(format!(
                "the body is not JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ))
        });
    }
    params.get(field).cloned().ok_or_else(|| {
        DocumentError::invalid(format!(
            "send the document as the body, or as '{field}' in a job's params"
        ))
    })
}

/// Resolves the `{id}` of a path: the string as given, or, when no
/// document has that string `_id`, the number (or true/false/null) it
/// spells.
fn resolve_id(reader: &Reader<'_>, raw: &Value) -> Result<Value, DocumentError> {
    let Value::String(text) = raw else {
        return Ok(raw.clone());
    };
    let as_string = Value::String(text.clone());
    if reader.get(&query::id_key(&as_string))?.is_some() {
        return Ok(as_string);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_)))
            if reader.get(&query::id_key(&v))?.is_some() =>
        {
            Ok(v)
        }
        _ => Ok(as_string),
    }
}

fn id_filter(id: &Value) -> Filter {
    Filter::Field {
        path: "_id".into(),
        conditions: vec![crate::filter::Condition::Eq(id.clone())],
    }
}

/// `POST …/{collection}`: one document or an array.
pub(super) fn insert(host: &dyn Host, ctx: &Ctx, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let sent = match params.get("documents") {
        Some(docs) => docs.clone(),
        None => body(host, params, "document")?,
    };
    let docs = match sent {
        Value::Array(docs) => docs,
        one => vec![one],
    };
    let ordered = params.get("ordered").is_none_or(crate::value::truthy);
    let outcomes = writes::insert_many(host, ctx, name, docs, ordered)?;
    let mut ids = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(id) => ids.push(id),
            Err(e) if ids.is_empty() => return Err(e),
            Err(e) => {
                return Err(e.within(&format!(
                    "{} document(s) before it were inserted",
                    ids.len()
                )));
            }
        }
    }
    Ok(json!({"inserted_ids": ids, "inserted_count": ids.len()}))
}

/// `GET …/{id}`.
pub(super) fn get_document(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let reader = Reader::open(host, name)?;
    let id = resolve_id(&reader, params.get("id").unwrap_or(&Value::Null))?;
    reader.get(&query::id_key(&id))?.ok_or_else(|| {
        DocumentError::NotFound(format!("collection '{name}' has no document with _id {id}"))
    })
}

/// `PUT …/{id}`.
pub(super) fn replace_document(
    host: &dyn Host,
    ctx: &Ctx,
    params: &Value,
) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let reader = Reader::open(host, name)?;
    let id = resolve_id(&reader, params.get("id").unwrap_or(&Value::Null))?;
    let replacement = body(host, params, "document")?;
    let update = match Update::parse(&replacement)? {
        Update::Operators(_) => {
            return Err(DocumentError::invalid(
                "PUT replaces the document: send one without operators (PATCH takes $set, …)",
            ));
        }
        replace => replace,
    };
    update_by_id(host, ctx, params, name, &id, &update)
}

/// Updates the document with `id`; 404 when there is none and no upsert.
fn update_by_id(
    host: &dyn Host,
    ctx: &Ctx,
    params: &Value,
    name: &str,
    id: &Value,
    update: &Update,
) -> Result<Value, DocumentError> {
    let upsert = flag(params, "upsert");
    let outcome = writes::update(host, ctx, name, &id_filter(id), update, upsert, false)?;
    if outcome.matched == 0 && outcome.upserted_id.is_none() {
        return Err(DocumentError::NotFound(format!(
            "collection '{name}' has no document with _id {id}: ?upsert=true creates it"
        )));
    }
    Ok(outcome.to_json())
}

/// `PATCH …/{id}`: the body's operators.
pub(super) fn update_document(
    host: &dyn Host,
    ctx: &Ctx,
    params: &Value,
) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let reader = Reader::open(host, name)?;
    let id = resolve_id(&reader, params.get("id").unwrap_or(&Value::Null))?;
    let mut operators = serde_json::Map::new();
    if let Value::Object(map) = params {
        for (k, v) in map {
            if k.starts_with('$') {
                operators.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(Value::Object(update)) = params.get("update") {
        operators.extend(update.clone());
    }
    if operators.is_empty() {
        return Err(DocumentError::invalid(
            "PATCH takes update operators, like {\"$set\": {\"a\": 1}}; PUT replaces",
        ));
    }
    let update = Update::parse(&Value::Object(operators))?;
    update_by_id(host, ctx, params, name, &id, &update)
}

/// `DELETE …/{id}`.
pub(super) fn delete_document(
    host: &dyn Host,
    ctx: &Ctx,
    params: &Value,
) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let reader = Reader::open(host, name)?;
    let id = resolve_id(&reader, params.get("id").unwrap_or(&Value::Null))?;
    match writes::delete(host, ctx, name, &id_filter(&id), false)? {
        0 => Err(DocumentError::NotFound(format!(
            "collection '{name}' has no document with _id {id}"
        ))),
        n => Ok(json!({"deleted": n})),
    }
}

fn find_spec(params: &Value) -> Result<Find, DocumentError> {
    Ok(Find {
        filter: filter_param(params)?,
        sort: match params.get("sort") {
            None | Some(Value::Null) => None,
            Some(s) => Some(SortSpec::parse(s).map_err(|e| e.within("sort"))?),
        },
        skip: count_param(params, "skip")?.unwrap_or(0),
        limit: count_param(params, "limit")?.filter(|l| *l > 0),
        projection: match params.get("projection") {
            None | Some(Value::Null) => None,
            Some(p) => Some(Projection::parse(p).map_err(|e| e.within("projection"))?),
        },
    })
}

/// `POST …/find`.
pub(super) fn find(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let spec = find_spec(params)?;
    let reader = Reader::open(host, name)?;
    let (docs, _, _) = query::find(&reader, &spec)?;
    Ok(json!({"documents": docs}))
}

/// `POST …/explain`.
pub(super) fn explain(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let spec = find_spec(params)?;
    let reader = Reader::open(host, name)?;
    let (_, plan, stats) = query::find(&reader, &spec)?;
    Ok(query::explain(&plan, &stats))
}

/// `POST …/count`.
pub(super) fn count(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let filter = filter_param(params)?;
    let reader = Reader::open(host, name)?;
    let mut n = 0u64;
    query::matching(&reader, &filter, &mut query::Stats::default(), |_| {
        n += 1;
        Ok(true)
    })?;
    Ok(json!({"count": n}))
}

/// `POST …/distinct`: values of `field` (array elements one by one).
pub(super) fn distinct(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let field = super::text(params, "field")?;
    let segments = crate::path::parse(field)?;
    let filter = filter_param(params)?;
    let reader = Reader::open(host, name)?;
    let mut values: Vec<Value> = Vec::new();
    query::matching(&reader, &filter, &mut query::Stats::default(), |doc| {
        for v in crate::path::values_at(&doc, &segments).values {
            let items: Vec<&Value> = match v {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                if !values.iter().any(|x| crate::value::equal(x, item)) {
                    values.push(item.clone());
                }
            }
        }
        Ok(true)
    })?;
    values.sort_by(crate::value::compare);
    Ok(json!({"values": values}))
}

/// `POST …/update`.
pub(super) fn update(host: &dyn Host, ctx: &Ctx, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let filter = filter_param(params)?;
    let update = Update::parse(params.get("update").unwrap_or(&Value::Null))
        .map_err(|e| e.within("update"))?;
    let outcome = writes::update(
        host,
        ctx,
        name,
        &filter,
        &update,
        flag(params, "upsert"),
        flag(params, "multi"),
    )?;
    Ok(outcome.to_json())
}

/// `POST …/delete`.
pub(super) fn delete(host: &dyn Host, ctx: &Ctx, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let filter = filter_param(params)?;
    let deleted = writes::delete(host, ctx, name, &filter, flag(params, "multi"))?;
    Ok(json!({"deleted": deleted}))
}

/// `POST …/bulk`.
pub(super) fn bulk(host: &dyn Host, ctx: &Ctx, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let operations = params
        .get("operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DocumentError::invalid(
                "'operations' is required: an array of {insertOne}, {updateOne}, …",
            )
        })?;
    let ordered = params.get("ordered").is_none_or(crate::value::truthy);
    writes::bulk(host, ctx, name, operations, ordered)
}

struct StoreLookup<'h> {
    host: &'h dyn Host,
}

impl Lookup for StoreLookup<'_> {
    fn documents(&self, collection: &str) -> Result<Vec<Value>, DocumentError> {
        let reader = Reader::open(self.host, collection)?;
        let mut out = Vec::new();
        reader.documents(|d| {
            out.push(d);
            Ok(true)
        })?;
        Ok(out)
    }
}

/// Documents of an `aggregation_result` event (the rest are counted).
const STAGE_SAMPLE: usize = 100;

/// `POST …/aggregate`: a leading `$match` is planned like a find (it may
/// use an index). Stages that work per document, up to a `$group`, take
/// the documents one at a time as they are read, so grouping a large
/// collection does not hold it in memory; each stage's output is
/// published as it is computed (counts, and its first documents).
pub(super) fn aggregate(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    use crate::aggregate::{Grouper, Stage};
    let name = collection(params)?;
    let pipeline = Pipeline::parse(params.get("pipeline").unwrap_or(&Value::Null))
        .map_err(|e| e.within("pipeline"))?;
    let reader = Reader::open(host, name)?;
    let total = pipeline.stages.len();
    let mut stages = pipeline.stages.clone();
    let filter = match stages.first() {
        Some(Stage::Match(f)) => {
            let f = f.clone();
            stages.remove(0);
            Some(f)
        }
        _ => None,
    };
    let offset = usize::from(filter.is_some());
    let lookup = StoreLookup { host };
    // The per-document prefix, and a $group right after it if there is one.
    let prefix = stages.iter().take_while(|s| s.per_document()).count();
    let mut grouper = match stages.get(prefix) {
        Some(Stage::Group(id, fields)) => Some(Grouper::new(id.clone(), fields.clone())),
        _ => None,
    };
    let streamed = prefix + usize::from(grouper.is_some());
    let mut seen: Vec<(usize, Vec<Value>)> = vec![(0, Vec::new()); prefix + offset];
    let mut kept: Vec<Value> = Vec::new();
    let mut stats = query::Stats::default();
    let plan = query::matching(
        &reader,
        filter.as_ref().unwrap_or(&Filter::And(Vec::new())),
        &mut stats,
        |doc| {
            if offset == 1 {
                note(&mut seen[0], &doc);
            }
            let mut docs = vec![doc];
            for (i, stage) in stages[..prefix].iter().enumerate() {
                let mut next = Vec::with_capacity(docs.len());
                for d in docs {
                    next.extend(stage.apply_one(d, &lookup).map_err(|e| {
                        e.within(&format!("stage {} ({})", i + offset, stage.name()))
                    })?);
                }
                for d in &next {
                    note(&mut seen[i + offset], d);
                }
                docs = next;
            }
            match &mut grouper {
                Some(g) => {
                    for d in &docs {
                        g.add(d).map_err(|e| {
                            e.within(&format!("stage {} ($group)", prefix + offset))
                        })?;
                    }
                }
                None => kept.extend(docs),
            }
            if host.cancelled() {
                return Err(DocumentError::Cancelled);
            }
            Ok(true)
        },
    )?;
    for (i, (count, sample)) in seen.iter().enumerate() {
        let operator = if i < offset {
            "$match"
        } else {
            stages[i - offset].name()
        };
        emit_stage(host, name, i, operator, *count, sample, total);
    }
    let mut docs = match grouper {
        Some(g) => {
            let grouped = g.finish();
            emit_stage(
                host,
                name,
                prefix + offset,
                "$group",
                grouped.len(),
                &grouped,
                total,
            );
            grouped
        }
        None => kept,
    };
    let rest = Pipeline {
        stages: stages[streamed..].to_vec(),
    };
    let done = streamed + offset;
    docs = rest.run_from(docs, &lookup, done, &mut |i, stage, docs| {
        emit_stage(host, name, i, stage.name(), docs.len(), docs, total);
        host.progress((i + 1) as u64, total as u64, stage.name(), None);
    })?;
    let explained = query::explain(&plan, &stats);
    host.emit(
        AGGREGATION,
        "aggregation_complete",
        &json!({"collection": name, "stages": total, "count": docs.len(), "plan": explained["queryPlanner"]["winningPlan"], "docs_examined": stats.docs_examined}),
    );
    Ok(json!({"documents": docs}))
}

/// Counts a stage's output and keeps its first documents for its event.
fn note(seen: &mut (usize, Vec<Value>), doc: &Value) {
    seen.0 += 1;
    if seen.1.len() < STAGE_SAMPLE {
        seen.1.push(doc.clone());
    }
}

fn emit_stage(
    host: &dyn Host,
    collection: &str,
    index: usize,
    operator: &str,
    count: usize,
    docs: &[Value],
    total: usize,
) {
    let sample: Vec<&Value> = docs.iter().take(STAGE_SAMPLE).collect();
    host.emit(
        AGGREGATION,
        "aggregation_result",
        &json!({
            "collection": collection,
            "stage": index,
            "operator": operator,
            "stages": total,
            "count": count,
            "documents": sample,
            "truncated": count > STAGE_SAMPLE,
            "is_final": index + 1 == total,
        }),
    );
}

/// `POST …/search`.
pub(super) fn search(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let text = super::text(params, "query")?;
    let filter = filter_param(params)?;
    let limit = count_param(params, "limit")?.unwrap_or(100);
    let reader = Reader::open(host, name)?;
    let hits = query::search(&reader, text, &filter, limit)?;
    Ok(
        json!({"results": hits.into_iter().map(|h| json!({"score": h.score, "document": h.document})).collect::<Vec<_>>()}),
    )
}

/// `POST …/jsonpath`: each matching document's values at an RFC 9535
/// path.
pub(super) fn jsonpath(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let text = super::text(params, "path")?;
    let path = serde_json_path::JsonPath::parse(text).map_err(|e| {
        DocumentError::invalid(format!("'path': '{text}' is not RFC 9535 JSONPath: {e}"))
    })?;
    let filter = filter_param(params)?;
    let limit = count_param(params, "limit")?;
    let reader = Reader::open(host, name)?;
    let mut results = Vec::new();
    query::matching(&reader, &filter, &mut query::Stats::default(), |doc| {
        let values: Vec<Value> = path.query(&doc).all().into_iter().cloned().collect();
        if !values.is_empty() {
            results.push(json!({"_id": doc.get("_id"), "values": values}));
        }
        Ok(limit.is_none_or(|l| results.len() < l))
    })?;
    Ok(json!({"results": results}))
}

/// `POST …/changes`: the durable change log after a token.
pub(super) fn changes(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let after = match (params.get("resumeAfter"), params.get("startAfter")) {
        (Some(t), _) | (None, Some(t)) if !t.is_null() => store::parse_resume_token(name, t)?,
        _ => 0,
    };
    let kinds: Option<Vec<String>> =
        params
            .get("operationTypes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
    let full_document = params
        .get("fullDocument")
        .and_then(Value::as_str)
        .unwrap_or("default");
    if !matches!(
        full_document,
        "default" | "updateLookup" | "whenAvailable" | "required"
    ) {
        return Err(DocumentError::invalid(
            "'fullDocument' is one of default, updateLookup, whenAvailable, required",
        ));
    }
    let limit = count_param(params, "limit")?.unwrap_or(1000).min(10_000);
    let reader = Reader::open(host, name)?;
    let head = reader.seq()?;
    let oldest_kept = head.saturating_sub(store::CHANGES_KEPT);
    if after > 0 && after < oldest_kept {
        return Err(DocumentError::NotFound(format!(
            "the change log no longer holds changes after this token (it keeps the last {}): start a new stream",
            store::CHANGES_KEPT
        )));
    }
    let mut out = Vec::new();
    let mut last = after;
    let start = crate::keys::layout::change(after + 1);
    reader.scan(&start, crate::keys::layout::CHANGES, |_, v| {
        let mut record: Value =
            serde_json::from_slice(v).map_err(|e| DocumentError::Storage(e.to_string()))?;
        last = record["clusterTime"].as_u64().unwrap_or(last);
        let kind = record["operationType"].as_str().unwrap_or("").to_owned();
        if kinds.as_ref().is_none_or(|k| k.contains(&kind)) {
            if kind == "update"
                && full_document == "default"
                && let Value::Object(map) = &mut record
            {
                map.shift_remove("fullDocument");
            }
            out.push(record);
        }
        Ok(out.len() < limit)
    })?;
    Ok(json!({"changes": out, "resumeToken": store::resume_token(name, last)}))
}
