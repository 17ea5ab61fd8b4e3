//! How a document collection lives in host storage, and the only code
//! that writes it.
//!
//! Each document collection is one host collection (`c.<name>`) holding
//! its documents, index entries, text postings, change log and
//! description under the key prefixes of [`crate::keys::layout`]. One
//! host collection is what makes a write atomic: a [`Txn`] gathers every
//! key a change touches (document, index entries, postings, change record,
//! sequence number) into one conditional batch (`write-batch-if`) that
//! applies only if the sequence number is still the one the transaction
//! read. On a conflict the caller runs its closure again on fresh reads
//! ([`transact`]), so concurrent `$inc`s lose nothing and no index entry
//! ever exists without its document, even across a crash.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_sdk::Host;

use crate::DocumentError;
use crate::index::{IndexSpec, KeyKind};
use crate::keys::{self, layout};
use crate::text;
use crate::update::Changes;

/// A document may be at most this large, serialized (as in MongoDB).
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;
/// Change records kept per collection for resuming change streams.
pub const CHANGES_KEPT: u64 = 100_000;
/// Host writes one transaction gathers before the caller should commit
/// and start another (the host takes 10,000 per batch).
pub const TXN_WRITES: usize = 6_000;
/// Bytes one transaction gathers before the caller should commit.
pub const TXN_BYTES: usize = 40 << 20;
/// Conflicting attempts before a write gives up (each one lost to a
/// concurrent writer that committed).
const ATTEMPTS: usize = 10_000;

/// The host collection of document collection `name`.
pub fn host_name(name: &str) -> String {
    format!("c.{name}")
}

/// Checks a collection name: 1-60 of `A-Z a-z 0-9 _ -`.
pub fn check_name(name: &str) -> Result<(), DocumentError> {
    let ok = !name.is_empty()
        && name.len() <= 60
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DocumentError::invalid(format!(
            "collection name '{name}' is not allowed: use 1-60 characters of A-Z a-z 0-9 _ -"
        )))
    }
}

/// A collection's description.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    /// Secondary indexes, with whether each is built (`ready`).
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// JSON Schema every written document must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<Value>,
}

/// An index and its state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Index {
    /// What it indexes.
    #[serde(flatten)]
    pub spec: IndexSpec,
    /// Built over every document: the planner may use it.
    pub ready: bool,
}

impl Meta {
    /// The indexes the planner may use.
    pub fn ready_indexes(&self) -> Vec<IndexSpec> {
        self.indexes
            .iter()
            .filter(|i| i.ready)
            .map(|i| i.spec.clone())
            .collect()
    }

    /// The text index, if there is one.
    pub fn text_index(&self) -> Option<&IndexSpec> {
        self.indexes.iter().map(|i| &i.spec).find(|s| s.is_text())
    }
}

/// Totals of the text index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextStats {
    /// Documents with at least one term.
    pub docs: u64,
    /// Terms across them.
    pub terms: u64,
}

fn storage(e: weft_sdk::StorageFailure) -> DocumentError {
    use weft_sdk::StorageFailure as F;
    match e {
        F::NotFound(m) => DocumentError::NotFound(m),
        F::Invalid(m) => DocumentError::Invalid(m),
        F::Exists(m) => DocumentError::Conflict(m),
        F::Failed(m) => DocumentError::Storage(m),
    }
}

fn parse_doc(bytes: &[u8]) -> Result<Value, DocumentError> {
    serde_json::from_slice(bytes)
        .map_err(|e| DocumentError::Storage(format!("a stored document is damaged: {e}")))
}

/// Read access to one collection.
pub struct Reader<'h> {
    host: &'h dyn Host,
    key: String,
    /// Its description.
    pub meta: Meta,
    /// Whether it exists.
    pub exists: bool,
}

impl<'h> Reader<'h> {
    /// Opens collection `name` for reading (an absent one reads empty).
    pub fn open(host: &'h dyn Host, name: &str) -> Result<Self, DocumentError> {
        check_name(name)?;
        let key = host_name(name);
        let (meta, exists) = match host.collection_get(&key, layout::META) {
            Ok(Some(bytes)) => (
                serde_json::from_slice(&bytes).map_err(|e| {
                    DocumentError::Storage(format!("collection '{name}': damaged description: {e}"))
                })?,
                true,
            ),
            Ok(None) => (
                Meta::default(),
                host.collection_get(&key, layout::SEQ)
                    .ok()
                    .flatten()
                    .is_some(),
            ),
            Err(weft_sdk::StorageFailure::NotFound(_)) => (Meta::default(), false),
            Err(e) => return Err(storage(e)),
        };
        Ok(Self {
            host,
            key,
            meta,
            exists,
        })
    }

    /// The document with `_id` key `id_key`.
    pub fn get(&self, id_key: &[u8]) -> Result<Option<Value>, DocumentError> {
        if !self.exists {
            return Ok(None);
        }
        match self
            .host
            .collection_get(&self.key, &layout::document(id_key))
        {
            Ok(Some(bytes)) => parse_doc(&bytes).map(Some),
            Ok(None) | Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// Calls `each` with every entry whose key starts with `prefix`, from
    /// `start`, until it answers false.
    pub fn scan(
        &self,
        start: &[u8],
        prefix: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool, DocumentError>,
    ) -> Result<(), DocumentError> {
        if !self.exists {
            return Ok(());
        }
        let mut cursor = start.to_vec();
        loop {
            let page =
                match self
                    .host
                    .collection_scan_page(&self.key, &cursor, prefix, 1024, 4 << 20)
                {
                    Ok(page) => page,
                    Err(weft_sdk::StorageFailure::NotFound(_)) => return Ok(()),
                    Err(e) => return Err(storage(e)),
                };
            for (k, v) in &page.entries {
                if !each(k, v)? {
                    return Ok(());
                }
            }
            match page.next {
                Some(next) => cursor = next,
                None => return Ok(()),
            }
        }
    }

    /// Every document, in `_id` order, until `each` answers false.
    pub fn documents(
        &self,
        mut each: impl FnMut(Value) -> Result<bool, DocumentError>,
    ) -> Result<(), DocumentError> {
        self.scan(layout::DOCUMENTS, layout::DOCUMENTS, |_, v| {
            each(parse_doc(v)?)
        })
    }

    /// The value of a raw key.
    pub fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DocumentError> {
        if !self.exists {
            return Ok(None);
        }
        match self.host.collection_get(&self.key, key) {
            Ok(v) => Ok(v),
            Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    /// The text index's totals.
    pub fn text_stats(&self) -> Result<TextStats, DocumentError> {
        match self.host.collection_get(&self.key, layout::TEXT_STATS) {
            Ok(Some(bytes)) => {
                serde_json::from_slice(&bytes).map_err(|e| DocumentError::Storage(e.to_string()))
            }
            Ok(None) | Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(TextStats::default()),
            Err(e) => Err(storage(e)),
        }
    }

    /// The last committed sequence number.
    pub fn seq(&self) -> Result<u64, DocumentError> {
        match self.host.collection_get(&self.key, layout::SEQ) {
            Ok(Some(bytes)) => Ok(decode_seq(&bytes)),
            Ok(None) | Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(0),
            Err(e) => Err(storage(e)),
        }
    }
}

fn decode_seq(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// What kind of change a write is, for its change record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// `insert`.
    Insert,
    /// `update`.
    Update,
    /// `replace`.
    Replace,
    /// `delete`.
    Delete,
}

impl ChangeKind {
    fn name(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
        }
    }
}

/// A write transaction over one collection.
pub struct Txn<'h> {
    /// What was read when it began.
    pub reader: Reader<'h>,
    name: String,
    seq_seen: Option<Vec<u8>>,
    seq: u64,
    validator: Option<jsonschema::Validator>,
    batch: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
    docs: HashMap<Vec<u8>, Option<Value>>,
    text_stats: Option<TextStats>,
    meta_changed: bool,
    events: Vec<Value>,
}

impl<'h> Txn<'h> {
    /// Begins a transaction on collection `name`, reading its sequence
    /// number and description.
    pub fn begin(host: &'h dyn Host, name: &str) -> Result<Self, DocumentError> {
        let reader = Reader::open(host, name)?;
        let seq_seen = match host.collection_get(&reader.key, layout::SEQ) {
            Ok(v) => v,
            Err(weft_sdk::StorageFailure::NotFound(_)) => None,
            Err(e) => return Err(storage(e)),
        };
        let seq = seq_seen.as_deref().map_or(0, decode_seq);
        let validator = match &reader.meta.validator {
            Some(schema) => Some(compile_validator(schema)?),
            None => None,
        };
        Ok(Self {
            reader,
            name: name.to_owned(),
            seq_seen,
            seq,
            validator,
            batch: BTreeMap::new(),
            bytes: 0,
            docs: HashMap::new(),
            text_stats: None,
            meta_changed: false,
            events: Vec::new(),
        })
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the transaction has gathered enough for one batch.
    pub fn is_full(&self) -> bool {
        self.batch.len() >= TXN_WRITES || self.bytes >= TXN_BYTES
    }

    /// The document with `_id` key `id_key`, as this transaction sees it.
    pub fn get(&self, id_key: &[u8]) -> Result<Option<Value>, DocumentError> {
        match self.docs.get(id_key) {
            Some(doc) => Ok(doc.clone()),
            None => self.reader.get(id_key),
        }
    }

    /// Indexes one document's text, unless it is indexed already (a
    /// write since the index was recorded did it).
    pub fn index_text(
        &mut self,
        index: &IndexSpec,
        id_key: &[u8],
        doc: &Value,
    ) -> Result<(), DocumentError> {
        if self.raw(&layout::text_length(id_key))?.is_some() {
            return Ok(());
        }
        self.write_text(index, id_key, None, Some(doc))
    }

    /// The value of a raw key, as this transaction sees it.
    pub fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DocumentError> {
        self.pending_or_stored(key)
    }

    fn pending_or_stored(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DocumentError> {
        if let Some(v) = self.batch.get(key) {
            return Ok(v.clone());
        }
        if !self.reader.exists {
            return Ok(None);
        }
        match self.reader.host.collection_get(&self.reader.key, key) {
            Ok(v) => Ok(v),
            Err(weft_sdk::StorageFailure::NotFound(_)) => Ok(None),
            Err(e) => Err(storage(e)),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.bytes += key.len() + value.as_ref().map_or(0, Vec::len);
        self.batch.insert(key, value);
    }

    /// Replaces the description (indexes, validator).
    pub fn set_meta(&mut self, meta: Meta) -> Result<(), DocumentError> {
        self.validator = match &meta.validator {
            Some(schema) => Some(compile_validator(schema)?),
            None => None,
        };
        self.reader.meta = meta;
        self.meta_changed = true;
        Ok(())
    }

    /// Writes a raw entry (index maintenance outside document writes).
    pub fn put_raw(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.put(key, value);
    }

    /// Writes document `new` (or deletes, with `None`) under `id`,
    /// keeping every index, the text index and the change log in step.
    /// Checks the validator and unique indexes first: on error nothing of
    /// this write is gathered.
    pub fn write(
        &mut self,
        id: &Value,
        new: Option<Value>,
        kind: ChangeKind,
        changes: Option<&Changes>,
    ) -> Result<(), DocumentError> {
        let id_key = keys::encoded(id);
        let old = self.get(&id_key)?;
        let bytes = match &new {
            Some(doc) => {
                let bytes =
                    serde_json::to_vec(doc).map_err(|e| DocumentError::invalid(e.to_string()))?;
                if bytes.len() > MAX_DOCUMENT_BYTES {
                    return Err(DocumentError::TooLarge(format!(
                        "the document with _id {id} is {} bytes; a document may be at most 16 MiB: split it, or keep large values as blobs",
                        bytes.len()
                    )));
                }
                if let Some(validator) = &self.validator {
                    check_schema(validator, doc)?;
                }
                Some(bytes)
            }
            None => None,
        };
        // Index entries to remove and add, checked before anything is kept.
        let mut index_writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for index in self
            .reader
            .meta
            .indexes
            .clone()
            .iter()
            .map(|i| &i.spec)
            .filter(|s| !s.is_text())
        {
            let before = match &old {
                Some(doc) => index.entries(doc)?,
                None => Vec::new(),
            };
            let after = match &new {
                Some(doc) => index.entries(doc)?,
                None => Vec::new(),
            };
            let prefix = layout::index(&index.name);
            let entry_key = |part: &[u8]| -> Vec<u8> {
                if index.unique {
                    [prefix.as_slice(), part].concat()
                } else {
                    [prefix.as_slice(), part, &id_key].concat()
                }
            };
            for part in before.iter().filter(|p| !after.contains(p)) {
                index_writes.push((entry_key(part), None));
            }
            for part in after.iter().filter(|p| !before.contains(p)) {
                let key = entry_key(part);
                if index.unique {
                    let removed_here = index_writes.iter().any(|(k, v)| *k == key && v.is_none());
                    if let Some(holder) = self.pending_or_stored(&key)?
                        && holder != id_key
                        && !removed_here
                    {
                        return Err(DocumentError::Conflict(format!(
                            "duplicate key: index '{}' already holds {} for another document: change the value or drop the index",
                            index.name,
                            describe_key(index, new.as_ref())
                        )));
                    }
                }
                // The entry's value is the document's key, so scans need not
                // take entries apart.
                index_writes.push((key, Some(id_key.clone())));
            }
        }
        for (k, v) in index_writes {
            self.put(k, v);
        }
        if let Some(text_index) = self.reader.meta.text_index().cloned() {
            self.write_text(&text_index, &id_key, old.as_ref(), new.as_ref())?;
        }
        self.put(layout::document(&id_key), bytes);
        self.seq += 1;
        let record = change_record(&self.name, self.seq, kind, id, new.as_ref(), changes);
        let stored =
            serde_json::to_vec(&record).map_err(|e| DocumentError::Storage(e.to_string()))?;
        self.put(layout::change(self.seq), Some(stored));
        if self.seq > CHANGES_KEPT {
            self.put(layout::change(self.seq - CHANGES_KEPT), None);
        }
        self.events.push(record);
        self.docs.insert(id_key, new);
        Ok(())
    }

    fn write_text(
        &mut self,
        index: &IndexSpec,
        id_key: &[u8],
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<(), DocumentError> {
        let fields: Vec<String> = index
            .keys
            .iter()
            .filter(|(_, k)| *k == KeyKind::Text)
            .map(|(f, _)| f.clone())
            .collect();
        let before = old
            .map(|d| text::document_terms(d, &fields))
            .unwrap_or_default();
        let after = new
            .map(|d| text::document_terms(d, &fields))
            .unwrap_or_default();
        if before == after {
            return Ok(());
        }
        let mut stats = match self.text_stats {
            Some(s) => s,
            None => self.reader.text_stats()?,
        };
        let (fb, fa) = (text::frequencies(&before), text::frequencies(&after));
        for term in fb.keys().filter(|t| !fa.contains_key(*t)) {
            self.put(layout::posting(term, id_key), None);
        }
        for (term, tf) in &fa {
            if fb.get(term) != Some(tf) {
                self.put(
                    layout::posting(term, id_key),
                    Some(tf.to_le_bytes().to_vec()),
                );
            }
        }
        if !before.is_empty() {
            stats.docs = stats.docs.saturating_sub(1);
            stats.terms = stats.terms.saturating_sub(before.len() as u64);
        }
        if after.is_empty() {
            self.put(layout::text_length(id_key), None);
        } else {
            stats.docs += 1;
            stats.terms += after.len() as u64;
            self.put(
                layout::text_length(id_key),
                Some((after.len() as u32).to_le_bytes().to_vec()),
            );
        }
        self.text_stats = Some(stats);
        Ok(())
    }

    /// Commits: answers the change records, or `None` when another
    /// writer committed first (nothing was written; run again).
    pub fn commit(mut self) -> Result<Option<Vec<Value>>, DocumentError> {
        if self.batch.is_empty() && !self.meta_changed {
            return Ok(Some(Vec::new()));
        }
        if self.meta_changed {
            let meta = serde_json::to_vec(&self.reader.meta)
                .map_err(|e| DocumentError::Storage(e.to_string()))?;
            self.put(layout::META.to_vec(), Some(meta));
        }
        if let Some(stats) = self.text_stats {
            let bytes =
                serde_json::to_vec(&stats).map_err(|e| DocumentError::Storage(e.to_string()))?;
            self.put(layout::TEXT_STATS.to_vec(), Some(bytes));
        }
        // Every commit moves the sequence number, so that a transaction
        // that read before it fails its check.
        // (A gap in the change log's numbers is harmless: resuming reads
        // what comes after a token.)
        if self.seq == self.seq_seen.as_deref().map_or(0, decode_seq) {
            self.seq += 1;
        }
        self.put(layout::SEQ.to_vec(), Some(self.seq.to_be_bytes().to_vec()));
        let expect = vec![(layout::SEQ.to_vec(), self.seq_seen.clone())];
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            std::mem::take(&mut self.batch).into_iter().collect();
        let applied = self
            .reader
            .host
            .collection_write_batch_if(&self.reader.key, &expect, &batch)
            .map_err(storage)?;
        Ok(applied.then_some(self.events))
    }
}

/// Runs `work` in a transaction on `name`, again on fresh reads whenever
/// another writer committed in between; answers its result and the change
/// records it committed.
pub fn transact<T>(
    host: &dyn Host,
    name: &str,
    mut work: impl FnMut(&mut Txn<'_>) -> Result<T, DocumentError>,
) -> Result<(T, Vec<Value>), DocumentError> {
    for _ in 0..ATTEMPTS {
        let mut txn = Txn::begin(host, name)?;
        let out = work(&mut txn)?;
        if let Some(events) = txn.commit()? {
            return Ok((out, events));
        }
        if host.cancelled() {
            return Err(DocumentError::Cancelled);
        }
    }
    Err(DocumentError::Storage(format!(
        "collection '{name}': {ATTEMPTS} attempts lost to concurrent writers; try again"
    )))
}

fn describe_key(index: &IndexSpec, doc: Option<&Value>) -> String {
    let mut shown = Map::new();
    for (field, _) in &index.keys {
        let segments: Vec<&str> = field.split('.').collect();
        let value = doc
            .and_then(|d| crate::path::get(d, &segments))
            .cloned()
            .unwrap_or(Value::Null);
        shown.insert(field.clone(), value);
    }
    Value::Object(shown).to_string()
}

/// A change record, as stored in the log and published as
/// `change_event`.
fn change_record(
    collection: &str,
    seq: u64,
    kind: ChangeKind,
    id: &Value,
    new: Option<&Value>,
    changes: Option<&Changes>,
) -> Value {
    let mut record = json!({
        "_id": {"_data": resume_token(collection, seq)},
        "operationType": kind.name(),
        "clusterTime": seq,
        "collection": collection,
        "ns": {"coll": collection},
        "documentKey": {"_id": id},
    });
    if let (ChangeKind::Update, Some(c)) = (kind, changes) {
        record["updateDescription"] =
            json!({"updatedFields": c.updated, "removedFields": c.removed});
    }
    if let Some(doc) = new {
        record["fullDocument"] = doc.clone();
    }
    record
}

/// A resume token: the collection and the change's sequence number.
pub fn resume_token(collection: &str, seq: u64) -> String {
    format!("{collection}:{seq:016x}")
}

/// The sequence number in a resume token of `collection`.
pub fn parse_resume_token(collection: &str, token: &Value) -> Result<u64, DocumentError> {
    let text = match token {
        Value::String(s) => s.as_str(),
        Value::Object(map) => map.get("_data").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    let bad = || {
        DocumentError::invalid(format!(
            "'{token}' is not a resume token of collection '{collection}': pass the _id of a change event it sent"
        ))
    };
    let (coll, hex) = text.rsplit_once(':').ok_or_else(bad)?;
    if coll != collection {
        return Err(bad());
    }
    u64::from_str_radix(hex, 16).map_err(|_| bad())
}

fn compile_validator(schema: &Value) -> Result<jsonschema::Validator, DocumentError> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .map_err(|e| {
            DocumentError::invalid(format!(
                "the validator is not a valid JSON Schema (draft 2020-12): {e}"
            ))
        })
}

/// Checks `doc` against a collection validator.
pub fn check_schema(validator: &jsonschema::Validator, doc: &Value) -> Result<(), DocumentError> {
    match validator.iter_errors(doc).next() {
        None => Ok(()),
        Some(error) => Err(DocumentError::Schema {
            pointer: error.instance_path().to_string(),
            message: format!(
                "the document fails the collection's validator at '{}': {error}",
                error.instance_path()
            ),
        }),
    }
}

/// Compiles a validator, for the operation that sets it.
pub fn validator(schema: &Value) -> Result<jsonschema::Validator, DocumentError> {
    compile_validator(schema)
}
