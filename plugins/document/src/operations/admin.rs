//! Collections, indexes and validators: listing, describing, creating
//! and dropping them. An index is recorded first (so writes from then on
//! keep it), then built over the existing documents in batches, and only
//! then offered to the planner; a unique index that finds a duplicate
//! while building is removed again and the call answers 409.

use serde_json::{Value, json};
use weft_sdk::Host;

use super::{Ctx, collection, text};
use crate::DocumentError;
use crate::index::IndexSpec;
use crate::keys::layout;
use crate::store::{self, Index, Reader, Txn, transact};

/// `GET /api/v1/documents`.
pub(super) fn list_collections(host: &dyn Host) -> Result<Value, DocumentError> {
    let names = host
        .list_collections()
        .map_err(|e| DocumentError::Storage(format!("{e:?}")))?;
    let mut out = Vec::new();
    for host_name in names {
        let Some(name) = host_name.strip_prefix("c.") else {
            continue;
        };
        let reader = Reader::open(host, name)?;
        out.push(json!({"name": name, "count": count_documents(&reader)?, "indexes": reader.meta.indexes.len()}));
    }
    Ok(json!({"collections": out}))
}

fn count_documents(reader: &Reader<'_>) -> Result<u64, DocumentError> {
    let mut n = 0;
    reader.scan(layout::DOCUMENTS, layout::DOCUMENTS, |_, _| {
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

/// `GET …/{collection}`.
pub(super) fn collection_info(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let reader = Reader::open(host, name)?;
    if !reader.exists {
        return Err(DocumentError::NotFound(format!(
            "there is no collection '{name}': insert a document to create it"
        )));
    }
    let mut indexes = vec![json!({"name": "_id_", "keys": {"_id": 1}, "unique": true})];
    for index in &reader.meta.indexes {
        let mut described = index.spec.describe();
        described["ready"] = Value::Bool(index.ready);
        indexes.push(described);
    }
    Ok(json!({
        "name": name,
        "count": count_documents(&reader)?,
        "indexes": indexes,
        "validator": reader.meta.validator,
        "last_change": store::resume_token(name, reader.seq()?),
    }))
}

/// `DELETE …/{collection}`.
pub(super) fn drop_collection(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    match host.drop_collection(&store::host_name(name)) {
        Ok(()) => Ok(Value::Null),
        Err(weft_sdk::StorageFailure::NotFound(_)) => Err(DocumentError::NotFound(format!(
            "there is no collection '{name}'"
        ))),
        Err(e) => Err(DocumentError::Storage(format!("{e:?}"))),
    }
}

/// Deletes every entry under `prefix`, a batch at a time.
fn purge(host: &dyn Host, name: &str, prefix: &[u8]) -> Result<(), DocumentError> {
    loop {
        let reader = Reader::open(host, name)?;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        reader.scan(prefix, prefix, |k, _| {
            keys.push(k.to_vec());
            Ok(keys.len() < store::TXN_WRITES)
        })?;
        if keys.is_empty() {
            return Ok(());
        }
        transact(host, name, |txn| {
            for k in &keys {
                txn.put_raw(k.clone(), None);
            }
            Ok(())
        })?;
    }
}

/// `POST …/indexes`.
pub(super) fn create_index(
    host: &dyn Host,
    _ctx: &Ctx,
    params: &Value,
) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let spec = IndexSpec::parse(params)?;
    // Record it (not ready): from now on every write keeps it.
    let ((), _) = transact(host, name, |txn| {
        let mut meta = txn.reader.meta.clone();
        if let Some(existing) = meta.indexes.iter().find(|i| i.spec.name == spec.name) {
            if existing.spec != spec {
                return Err(DocumentError::Conflict(format!(
                    "an index named '{}' exists with other keys or options: drop it first, or choose another name",
                    spec.name
                )));
            }
            return Ok(());
        }
        if spec.is_text() && meta.text_index().is_some() {
            return Err(DocumentError::Conflict(
                "a collection has at most one text index: drop the other first".into(),
            ));
        }
        meta.indexes.push(Index {
            spec: spec.clone(),
            ready: false,
        });
        txn.set_meta(meta)
    })?;
    let built = match build(host, name, &spec) {
        Ok(n) => n,
        Err(e) => {
            let _ = remove_index(host, name, &spec.name);
            return Err(e);
        }
    };
    transact(host, name, |txn| {
        let mut meta = txn.reader.meta.clone();
        for index in &mut meta.indexes {
            if index.spec.name == spec.name {
                index.ready = true;
            }
        }
        txn.set_meta(meta)
    })?;
    Ok(json!({"name": spec.name, "documents_indexed": built, "index": spec.describe()}))
}

/// Writes the index's entries for every existing document, a batch of
/// documents per transaction, each read again inside it.
fn build(host: &dyn Host, name: &str, spec: &IndexSpec) -> Result<u64, DocumentError> {
    let mut cursor = layout::DOCUMENTS.to_vec();
    let mut built = 0u64;
    loop {
        let reader = Reader::open(host, name)?;
        let mut ids: Vec<Vec<u8>> = Vec::new();
        let mut next: Option<Vec<u8>> = None;
        reader.scan(&cursor, layout::DOCUMENTS, |k, _| {
            if ids.len() >= 1000 {
                next = Some(k.to_vec());
                return Ok(false);
            }
            ids.push(k[layout::DOCUMENTS.len()..].to_vec());
            Ok(true)
        })?;
        if ids.is_empty() {
            return Ok(built);
        }
        // As many of them as fit one batch (a text index writes a posting
        // per distinct term); the rest start the next round.
        let (taken, _) = transact(host, name, |txn| {
            let mut taken = 0;
            for id_key in &ids {
                if txn.is_full() {
                    break;
                }
                if let Some(doc) = txn.get(id_key)? {
                    index_document(txn, spec, id_key, &doc)?;
                }
                taken += 1;
            }
            Ok(taken)
        })?;
        built += taken as u64;
        host.progress(built, built, "building the index", None);
        if taken < ids.len() {
            cursor = layout::document(&ids[taken]);
            continue;
        }
        match next {
            Some(k) => cursor = k,
            None => return Ok(built),
        }
    }
}

fn index_document(
    txn: &mut Txn<'_>,
    spec: &IndexSpec,
    id_key: &[u8],
    doc: &Value,
) -> Result<(), DocumentError> {
    if spec.is_text() {
        return txn.index_text(spec, id_key, doc);
    }
    let prefix = layout::index(&spec.name);
    for part in spec.entries(doc)? {
        let key = if spec.unique {
            [prefix.as_slice(), &part].concat()
        } else {
            [prefix.as_slice(), &part, id_key].concat()
        };
        if spec.unique
            && let Some(holder) = txn.raw(&key)?
            && holder != id_key
        {
            return Err(DocumentError::Conflict(format!(
                "cannot build unique index '{}': two documents share a key (one has _id {})",
                spec.name,
                doc.get("_id").unwrap_or(&Value::Null)
            )));
        }
        txn.put_raw(key, Some(id_key.to_vec()));
    }
    Ok(())
}

fn remove_index(host: &dyn Host, name: &str, index: &str) -> Result<(), DocumentError> {
    let (was_text, _) = transact(host, name, |txn| {
        let mut meta = txn.reader.meta.clone();
        let before = meta.indexes.len();
        let was_text = meta
            .indexes
            .iter()
            .any(|i| i.spec.name == index && i.spec.is_text());
        meta.indexes.retain(|i| i.spec.name != index);
        if meta.indexes.len() == before {
            return Err(DocumentError::NotFound(format!(
                "collection '{name}' has no index '{index}'"
            )));
        }
        txn.set_meta(meta)?;
        Ok(was_text)
    })?;
    if was_text {
        purge(host, name, b"t")?;
        purge(host, name, b"l")?;
        transact(host, name, |txn| {
            txn.put_raw(layout::TEXT_STATS.to_vec(), None);
            Ok(())
        })?;
    } else {
        purge(host, name, &layout::index(index))?;
    }
    Ok(())
}

/// `DELETE …/indexes/{index}`.
pub(super) fn drop_index(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let index = text(params, "index")?;
    if index == "_id_" {
        return Err(DocumentError::invalid("the _id index cannot be dropped"));
    }
    remove_index(host, name, index)?;
    Ok(Value::Null)
}

/// `POST …/schema`: `{"schema": {...}}` sets the validator (checked as a
/// draft 2020-12 schema), `{"schema": null}` removes it. Existing
/// documents are not rewritten; the answer counts those that fail it.
pub(super) fn set_validator(host: &dyn Host, params: &Value) -> Result<Value, DocumentError> {
    let name = collection(params)?;
    let schema = params.get("schema").cloned().unwrap_or(Value::Null);
    let compiled = match &schema {
        Value::Null => None,
        Value::Object(_) | Value::Bool(_) => Some(store::validator(&schema)?),
        other => {
            return Err(DocumentError::invalid(format!(
                "'schema' is a JSON Schema object (or null to remove it), not {other}"
            )));
        }
    };
    transact(host, name, |txn| {
        let mut meta = txn.reader.meta.clone();
        meta.validator = if schema.is_null() {
            None
        } else {
            Some(schema.clone())
        };
        txn.set_meta(meta)
    })?;
    let mut failing = 0u64;
    if let Some(validator) = &compiled {
        Reader::open(host, name)?.documents(|doc| {
            if store::check_schema(validator, &doc).is_err() {
                failing += 1;
            }
            Ok(true)
        })?;
    }
    Ok(json!({"validator": schema, "existing_documents_failing": failing}))
}
