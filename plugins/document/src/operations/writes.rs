//! Insert, replace, update, delete and bulk writes: each a transaction
//! (or, past one batch, a run of them) of [`crate::store`], its change
//! records published as `change_event`s once it commits.

use serde_json::{Map, Value, json};
use weft_sdk::Host;

use super::{Ctx, publish_changes};
use crate::DocumentError;
use crate::filter::{Condition, Filter};
use crate::query::{self, Stats};
use crate::store::{ChangeKind, Txn, transact};
use crate::update::{Context, Update};

/// One document to insert, checked: an object with an `_id`.
fn prepare(doc: Value, position: usize) -> Result<Value, DocumentError> {
    let Value::Object(mut fields) = doc else {
        return Err(DocumentError::invalid(format!(
            "document {position} is not a JSON object: documents are objects like {{\"name\": \"Ada\"}}"
        )));
    };
    if let Some(key) = fields.keys().find(|k| k.starts_with('$')) {
        return Err(DocumentError::invalid(format!(
            "document {position}: field names cannot start with '$' ('{key}')"
        )));
    }
    match fields.get("_id") {
        Some(Value::Array(_)) => {
            return Err(DocumentError::invalid(format!(
                "document {position}: _id cannot be an array"
            )));
        }
        Some(_) => {}
        None => {
            // _id first, as MongoDB stores it.
            let mut with_id = Map::new();
            with_id.insert("_id".into(), Value::String(object_id()));
            with_id.extend(fields);
            fields = with_id;
        }
    }
    Ok(Value::Object(fields))
}

/// A new ObjectId-like `_id`: 24 hex digits, as MongoDB's: seconds since
/// the epoch (the job's start, in the sandbox), then random bits (the host
/// seeds the sandbox's randomness per job) and a count within the job.
pub fn object_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let random = std::collections::hash_map::RandomState::new().hash_one(n);
    format!(
        "{:08x}{:010x}{:06x}",
        seconds as u32,
        random >> 24,
        n & 0xff_ffff
    )
}

fn insert_one(txn: &mut Txn<'_>, doc: &Value) -> Result<(), DocumentError> {
    let id = doc.get("_id").cloned().unwrap_or(Value::Null);
    if txn.get(&query::id_key(&id))?.is_some() {
        return Err(DocumentError::Conflict(format!(
            "duplicate key: a document with _id {id} exists: choose another _id, or replace it with PUT"
        )));
    }
    txn.write(&id, Some(doc.clone()), ChangeKind::Insert, None)
}

/// Inserts documents; with `ordered`, stops at the first failure. Answers
/// per document its `_id` or its error.
pub(super) fn insert_many(
    host: &dyn Host,
    ctx: &Ctx,
    collection: &str,
    docs: Vec<Value>,
    ordered: bool,
) -> Result<Vec<Result<Value, DocumentError>>, DocumentError> {
    let mut prepared = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        prepared.push(prepare(doc, i));
    }
    let mut outcomes: Vec<Result<Value, DocumentError>> = Vec::with_capacity(prepared.len());
    let mut next = 0;
    while next < prepared.len() {
        let (taken, events) = transact(host, collection, |txn| {
            let mut results = Vec::new();
            let mut i = next;
            while i < prepared.len() && !txn.is_full() {
                let outcome = match &prepared[i] {
                    Ok(doc) => insert_one(txn, doc)
                        .map(|()| doc["_id"].clone())
                        .map_err(|e| e.within(&format!("document {i}"))),
                    Err(e) => Err(e.clone()),
                };
                let failed = outcome.is_err();
                results.push(outcome);
                i += 1;
                if failed && ordered {
                    break;
                }
            }
            Ok(results)
        })?;
        publish_changes(host, ctx, &events);
        next += taken.len();
        let stop = ordered && taken.iter().any(Result::is_err);
        outcomes.extend(taken);
        if stop {
            break;
        }
        host.progress(next as u64, prepared.len() as u64, "inserting", None);
    }
    Ok(outcomes)
}

/// The equality fields of a filter, as the document an upsert starts
/// from.
fn upsert_seed(filter: &Filter) -> Result<Value, DocumentError> {
    let mut doc = json!({});
    for (path, conditions) in filter.required_fields() {
        for c in conditions {
            if let Condition::Eq(v) = c {
                let segments: Vec<&str> = path.split('.').collect();
                crate::path::set(&mut doc, &segments, v.clone())?;
            }
        }
    }
    Ok(doc)
}

/// What an update did.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct UpdateOutcome {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents changed.
    pub modified: u64,
    /// The `_id` of a document an upsert created.
    pub upserted_id: Option<Value>,
}

impl UpdateOutcome {
    /// As the REST answer.
    pub(super) fn to_json(&self) -> Value {
        json!({"matched": self.matched, "modified": self.modified, "upserted_id": self.upserted_id})
    }
}

/// Applies `update` to the first (or, with `multi`, every) document
/// matching `filter`; with `upsert`, inserts one if none does.
pub(super) fn update(
    host: &dyn Host,
    ctx: &Ctx,
    collection: &str,
    filter: &Filter,
    update: &Update,
    upsert: bool,
    multi: bool,
) -> Result<UpdateOutcome, DocumentError> {
    if multi && matches!(update, Update::Replace(_)) {
        return Err(DocumentError::invalid(
            "a replacement updates one document: use operators ($set, …) with multi",
        ));
    }
    let context = Context {
        now_ms: ctx.now_ms,
        inserting: false,
    };
    let kind = if matches!(update, Update::Replace(_)) {
        ChangeKind::Replace
    } else {
        ChangeKind::Update
    };
    // The ids matched when the update began; each is read again, and
    // checked again, inside the transaction that changes it.
    let ids = matching_ids(host, collection, filter, !multi)?;
    let mut outcome = UpdateOutcome::default();
    let mut next = 0;
    while next < ids.len() {
        let ((matched, modified, done), events) = transact(host, collection, |txn| {
            let (mut matched, mut modified, mut i) = (0u64, 0u64, next);
            while i < ids.len() && !txn.is_full() {
                let id = &ids[i];
                i += 1;
                let Some(mut doc) = txn.get(&query::id_key(id))? else {
                    continue;
                };
                if !filter.matches(&doc) {
                    continue;
                }
                matched += 1;
                let before = doc.clone();
                let changes = update.apply(&mut doc, context)?;
                if doc != before {
                    modified += 1;
                    txn.write(id, Some(doc), kind, Some(&changes))?;
                }
            }
            Ok((matched, modified, i))
        })?;
        publish_changes(host, ctx, &events);
        outcome.matched += matched;
        outcome.modified += modified;
        next = done;
    }
    if outcome.matched == 0 && upsert {
        let (id, events) = transact(host, collection, |txn| {
            let mut doc = upsert_seed(filter)?;
            let replacement = matches!(update, Update::Replace(_));
            if replacement {
                let id = doc.get("_id").cloned();
                doc = json!({});
                if let Some(id) = id {
                    doc["_id"] = id;
                }
            }
            update.apply(
                &mut doc,
                Context {
                    now_ms: ctx.now_ms,
                    inserting: true,
                },
            )?;
            let doc = prepare(doc, 0)?;
            insert_one(txn, &doc)?;
            Ok(doc["_id"].clone())
        })?;
        publish_changes(host, ctx, &events);
        outcome.upserted_id = Some(id);
    }
    Ok(outcome)
}

/// The `_id`s of documents matching `filter`; with `first`, only the
/// one with the smallest `_id`, whichever plan reads them (so that
/// "update one" picks the same document with or without indexes).
fn matching_ids(
    host: &dyn Host,
    collection: &str,
    filter: &Filter,
    first: bool,
) -> Result<Vec<Value>, DocumentError> {
    let reader = crate::store::Reader::open(host, collection)?;
    let mut ids = Vec::new();
    query::matching(&reader, filter, &mut Stats::default(), |doc| {
        ids.push(doc.get("_id").cloned().unwrap_or(Value::Null));
        // A collection scan reads in _id order: its first is the one.
        Ok(!(first && reader.meta.indexes.is_empty()))
    })?;
    if first {
        ids.sort_by(crate::value::compare);
        ids.truncate(1);
    }
    Ok(ids)
}

/// Deletes the first (or, with `multi`, every) document matching
/// `filter`; answers how many.
pub(super) fn delete(
    host: &dyn Host,
    ctx: &Ctx,
    collection: &str,
    filter: &Filter,
    multi: bool,
) -> Result<u64, DocumentError> {
    let ids = matching_ids(host, collection, filter, !multi)?;
    let mut deleted = 0;
    let mut next = 0;
    while next < ids.len() {
        let ((count, done), events) = transact(host, collection, |txn| {
            let (mut count, mut i) = (0u64, next);
            while i < ids.len() && !txn.is_full() {
                let id = &ids[i];
                i += 1;
                match txn.get(&query::id_key(id))? {
                    Some(doc) if filter.matches(&doc) => {
                        txn.write(id, None, ChangeKind::Delete, None)?;
                        count += 1;
                    }
                    _ => {}
                }
            }
            Ok((count, i))
        })?;
        publish_changes(host, ctx, &events);
        deleted += count;
        next = done;
    }
    Ok(deleted)
}

/// Runs a bulk write: `insertOne`, `updateOne`, `updateMany`,
/// `replaceOne`, `deleteOne`, `deleteMany` items, in order; `ordered`
/// stops at the first failure. Runs of inserts share transactions.
pub(super) fn bulk(
    host: &dyn Host,
    ctx: &Ctx,
    collection: &str,
    operations: &[Value],
    ordered: bool,
) -> Result<Value, DocumentError> {
    let mut results: Vec<Value> = Vec::with_capacity(operations.len());
    let mut errors: Vec<Value> = Vec::new();
    let (mut inserted, mut matched, mut modified, mut deleted, mut upserted) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    while i < operations.len() {
        // A run of inserts goes through insert_many.
        let run_end = (i..operations.len())
            .find(|&j| operations[j].get("insertOne").is_none())
            .unwrap_or(operations.len());
        if run_end > i {
            let docs: Vec<Value> = operations[i..run_end]
                .iter()
                .map(|op| {
                    op["insertOne"]
                        .get("document")
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect();
            let outcomes = insert_many(host, ctx, collection, docs, ordered)?;
            let mut stop = false;
            for (k, outcome) in outcomes.into_iter().enumerate() {
                match outcome {
                    Ok(id) => {
                        inserted += 1;
                        results.push(json!({"inserted_id": id}));
                    }
                    Err(e) => {
                        errors.push(json!({"index": i + k, "code": super::error_code(&e), "message": e.to_string()}));
                        results.push(json!({"error": e.to_string()}));
                        stop = ordered;
                    }
                }
            }
            if stop {
                break;
            }
            i = run_end;
            continue;
        }
        let item = &operations[i];
        let outcome = bulk_item(host, ctx, collection, item);
        match outcome {
            Ok((result, counts)) => {
                matched += counts.0;
                modified += counts.1;
                deleted += counts.2;
                upserted += counts.3;
                results.push(result);
            }
            Err(e) => {
                errors.push(
                    json!({"index": i, "code": super::error_code(&e), "message": e.to_string()}),
                );
                results.push(json!({"error": e.to_string()}));
                if ordered {
                    break;
                }
            }
        }
        i += 1;
    }
    Ok(json!({
        "results": results,
        "inserted": inserted,
        "matched": matched,
        "modified": modified,
        "deleted": deleted,
        "upserted": upserted,
        "errors": errors,
    }))
}

type Counts = (u64, u64, u64, u64);

fn bulk_item(
    host: &dyn Host,
    ctx: &Ctx,
    collection: &str,
    item: &Value,
) -> Result<(Value, Counts), DocumentError> {
    let Some((kind, spec)) = item
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(DocumentError::invalid(
            "a bulk item is one of {insertOne}, {updateOne}, {updateMany}, {replaceOne}, {deleteOne}, {deleteMany}",
        ));
    };
    let filter = Filter::parse(spec.get("filter").unwrap_or(&json!({})))?;
    let upsert = spec.get("upsert").is_some_and(crate::value::truthy);
    match kind.as_str() {
        "updateOne" | "updateMany" | "replaceOne" => {
            let body = if kind == "replaceOne" {
                spec.get("replacement")
            } else {
                spec.get("update")
            };
            let parsed = Update::parse(
                body.ok_or_else(|| DocumentError::invalid(format!("{kind} needs its update")))?,
            )?;
            if kind == "replaceOne" && !matches!(parsed, Update::Replace(_)) {
                return Err(DocumentError::invalid(
                    "replaceOne takes a document without operators",
                ));
            }
            if kind != "replaceOne" && matches!(parsed, Update::Replace(_)) {
                return Err(DocumentError::invalid(format!(
                    "{kind} takes update operators ($set, …)"
                )));
            }
            let out = update(
                host,
                ctx,
                collection,
                &filter,
                &parsed,
                upsert,
                kind == "updateMany",
            )?;
            let counts = (
                out.matched,
                out.modified,
                0,
                u64::from(out.upserted_id.is_some()),
            );
            Ok((out.to_json(), counts))
        }
        "deleteOne" | "deleteMany" => {
            let n = delete(host, ctx, collection, &filter, kind == "deleteMany")?;
            Ok((json!({"deleted": n}), (0, 0, n, 0)))
        }
        other => Err(DocumentError::invalid(format!(
            "unknown bulk operation '{other}': use insertOne, updateOne, updateMany, replaceOne, deleteOne or deleteMany"
        ))),
    }
}
