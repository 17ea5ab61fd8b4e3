//! Secondary indexes: their specifications, the entries a document gives
//! each (one per array element for a multikey index), and the planner's
//! choice of an index and key range for a filter.
//!
//! Entries are keys of the collection's host collection (see
//! [`crate::keys::layout`]); this module computes them and the ranges to
//! scan, and the store reads and writes them. Index scans only narrow the
//! candidates: every document they yield is checked against the whole
//! filter, so a range here may be wider than the filter, never narrower.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::DocumentError;
use crate::filter::{Cmp, Condition, Filter};
use crate::keys;
use crate::path;

/// One index of a collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// Name (`a_1_b_-1` unless given).
    pub name: String,
    /// Key fields in order, each 1 (ascending), -1 (descending) or
    /// "text".
    pub keys: Vec<(String, KeyKind)>,
    /// No two documents share a key.
    #[serde(default)]
    pub unique: bool,
    /// Documents missing every key field get no entry.
    #[serde(default)]
    pub sparse: bool,
    /// Only documents matching this filter get entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<Value>,
    /// Seconds after the date in the (single) key field at which a
    /// document expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after_seconds: Option<u64>,
}

/// How a key field is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
    /// Full text (see [`crate::text`]).
    Text,
}

impl IndexSpec {
    /// Parses `{"keys": {"a": 1, "b": -1}, "name"?, "unique"?, "sparse"?,
    /// "partialFilterExpression"?, "expireAfterSeconds"?}`.
    pub fn parse(spec: &Value) -> Result<Self, DocumentError> {
        let keys = spec
            .get("keys")
            .and_then(Value::as_object)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                DocumentError::invalid("an index needs \"keys\": an object like {\"age\": 1}")
            })?;
        let mut parsed = Vec::new();
        for (field, kind) in keys {
            path::parse(field)?;
            let kind = match kind {
                Value::String(s) if s == "text" => KeyKind::Text,
                v if v.as_f64() == Some(1.0) => KeyKind::Asc,
                v if v.as_f64() == Some(-1.0) => KeyKind::Desc,
                other => {
                    return Err(DocumentError::invalid(format!(
                        "index key '{field}' must be 1, -1 or \"text\", not {other}"
                    )));
                }
            };
            parsed.push((field.clone(), kind));
        }
        let text = parsed.iter().filter(|(_, k)| *k == KeyKind::Text).count();
        if text > 0 && text != parsed.len() {
            return Err(DocumentError::invalid("a text index holds text keys only"));
        }
        let name = match spec.get("name") {
            Some(Value::String(n)) if !n.is_empty() && n.len() <= 100 && !n.contains('\0') => {
                n.clone()
            }
            Some(other) => {
                return Err(DocumentError::invalid(format!(
                    "index name must be 1-100 characters, not {other}"
                )));
            }
            None => parsed
                .iter()
                .map(|(f, k)| match k {
                    KeyKind::Asc => format!("{f}_1"),
                    KeyKind::Desc => format!("{f}_-1"),
                    KeyKind::Text => format!("{f}_text"),
                })
                .collect::<Vec<_>>()
                .join("_"),
        };
        if name == "_id_" {
            return Err(DocumentError::invalid("'_id_' is the primary key's name"));
        }
        let partial = spec.get("partialFilterExpression").cloned();
        if let Some(p) = &partial {
            Filter::parse(p).map_err(|e| e.within("partialFilterExpression"))?;
        }
        let expire_after_seconds = match spec.get("expireAfterSeconds") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                DocumentError::invalid("expireAfterSeconds must be a non-negative integer")
            })?),
        };
        if expire_after_seconds.is_some() && parsed.len() != 1 {
            return Err(DocumentError::invalid(
                "a TTL index has exactly one key field",
            ));
        }
        Ok(Self {
            name,
            keys: parsed,
            unique: spec.get("unique").is_some_and(crate::value::truthy),
            sparse: spec.get("sparse").is_some_and(crate::value::truthy),
            partial,
            expire_after_seconds,
        })
    }

    /// Whether this is the text index.
    pub fn is_text(&self) -> bool {
        self.keys.iter().any(|(_, k)| *k == KeyKind::Text)
    }

    /// The index's description, as `…/indexes` lists it.
    pub fn describe(&self) -> Value {
        let mut keys = Map::new();
        for (field, kind) in &self.keys {
            keys.insert(
                field.clone(),
                match kind {
                    KeyKind::Asc => Value::from(1),
                    KeyKind::Desc => Value::from(-1),
                    KeyKind::Text => Value::from("text"),
                },
            );
        }
        let mut out = serde_json::json!({"name": self.name, "keys": keys, "unique": self.unique, "sparse": self.sparse});
        if let Some(p) = &self.partial {
            out["partialFilterExpression"] = p.clone();
        }
        if let Some(s) = self.expire_after_seconds {
            out["expireAfterSeconds"] = Value::from(s);
        }
        out
    }

    /// The key parts (without the index prefix or the `_id`) of every
    /// entry `doc` gives this index: none when a partial or sparse index
    /// leaves it out; several for array values. Two array-valued key
    /// fields in one document cannot be indexed (as in MongoDB).
    pub fn entries(&self, doc: &Value) -> Result<Vec<Vec<u8>>, DocumentError> {
        if let Some(p) = &self.partial
            && !Filter::parse(p)?.matches(doc)
        {
            return Ok(Vec::new());
        }
        let mut per_field: Vec<Vec<Vec<u8>>> = Vec::with_capacity(self.keys.len());
        let mut arrays = 0;
        let mut any_present = false;
        for (field, kind) in &self.keys {
            let segments: Vec<&str> = field.split('.').collect();
            let reached = path::values_at(doc, &segments);
            let mut parts: Vec<Vec<u8>> = Vec::new();
            let mut crossed_array = reached.values.len() > 1;
            for value in &reached.values {
                any_present = true;
                match value {
                    Value::Array(items) if items.is_empty() => parts.push(keys::empty_array()),
                    Value::Array(items) => {
                        crossed_array = true;
                        parts.extend(items.iter().map(keys::encoded));
                    }
                    other => parts.push(keys::encoded(other)),
                }
            }
            if parts.is_empty() || reached.missing && !reached.values.is_empty() {
                parts.push(keys::encoded(&Value::Null));
            }
            parts.sort();
            parts.dedup();
            if crossed_array {
                arrays += 1;
            }
            if *kind == KeyKind::Desc {
                for part in &mut parts {
                    part.iter_mut().for_each(|b| *b = !*b);
                }
            }
            per_field.push(parts);
        }
        if arrays > 1 {
            return Err(DocumentError::invalid(format!(
                "index '{}': a document cannot have arrays in two of its key fields ({})",
                self.name,
                self.keys
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if self.sparse && !any_present {
            return Ok(Vec::new());
        }
        let mut entries: Vec<Vec<u8>> = vec![Vec::new()];
        for parts in per_field {
            entries = entries
                .iter()
                .flat_map(|prefix| parts.iter().map(move |p| [prefix.as_slice(), p].concat()))
                .collect();
        }
        Ok(entries)
    }
}

/// A key range of one index to scan: entries whose first key part lies
/// between `low` and `high`.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// Encoded first-part lower bound (inclusive).
    pub low: Vec<u8>,
    /// Encoded first-part upper bound: entries starting with it are
    /// included, those above it are not.
    pub high: Vec<u8>,
}

/// What the planner chose.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Read every document.
    CollectionScan,
    /// Read the documents these ranges of `index` point at.
    IndexScan {
        /// The index's name.
        index: String,
        /// Ranges of its first key field.
        ranges: Vec<Range>,
        /// A readable form of the bounds, for `explain`.
        bounds: String,
    },
}

/// Chooses an index for `filter`: one whose first key field the filter
/// constrains by equality (best), `$in` or a range, and which can answer
/// for every matching document (a sparse or partial index only when the
/// filter implies it). Otherwise a collection scan.
pub fn plan(filter: &Filter, indexes: &[IndexSpec]) -> Plan {
    let fields = filter.required_fields();
    let mut best: Option<(u8, Plan)> = None;
    for index in indexes.iter().filter(|i| !i.is_text()) {
        let (first, kind) = &index.keys[0];
        if *kind != KeyKind::Asc {
            continue;
        }
        let conditions: Vec<&Condition> = fields
            .iter()
            .filter(|(path, _)| path == first)
            .flat_map(|(_, c)| c.iter())
            .collect();
        if let Some(p) = &index.partial
            && !implies(filter, p)
        {
            continue;
        }
        let Some((score, ranges, bounds)) = ranges_for(&conditions, index.sparse) else {
            continue;
        };
        let score = score + u8::from(index.unique);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                Plan::IndexScan {
                    index: index.name.clone(),
                    ranges,
                    bounds: format!("{first}: {bounds}"),
                },
            ));
        }
    }
    best.map_or(Plan::CollectionScan, |(_, p)| p)
}

/// Whether every document `filter` matches also matches `partial`: true
/// when each of the partial filter's field conditions appears in the
/// filter as written.
fn implies(filter: &Filter, partial: &Value) -> bool {
    let Ok(partial) = Filter::parse(partial) else {
        return false;
    };
    let have = filter.required_fields();
    partial.required_fields().iter().all(|(path, conditions)| {
        have.iter()
            .any(|(p, c)| p == path && format!("{c:?}") == format!("{conditions:?}"))
    })
}

fn ranges_for(conditions: &[&Condition], sparse: bool) -> Option<(u8, Vec<Range>, String)> {
    let point = |v: &Value| -> Option<Range> {
        // Arrays match by element too, and null matches missing: neither
        // is one key.
        if v.is_array() || v.is_null() && sparse {
            return None;
        }
        let k = keys::encoded(v);
        Some(Range {
            low: k.clone(),
            high: k,
        })
    };
    for c in conditions {
        match c {
            Condition::Eq(v) => return Some((3, vec![point(v)?], format!("[{v}, {v}]"))),
            Condition::In(values) if !values.is_empty() => {
                let mut ranges = values.iter().map(point).collect::<Option<Vec<_>>>()?;
                ranges.sort_by(|a, b| a.low.cmp(&b.low));
                ranges.dedup();
                let shown: Vec<String> = values.iter().map(|v| format!("[{v}, {v}]")).collect();
                return Some((2, ranges, shown.join(", ")));
            }
            _ => {}
        }
    }
    // Each bound: its encoding, and how `explain` shows it.
    type Bound = Option<(Vec<u8>, String)>;
    let (mut low, mut high): (Bound, Bound) = (None, None);
    let mut bracket: Option<(Vec<u8>, Vec<u8>)> = None;
    for c in conditions {
        if let Condition::Cmp(cmp, v) = c {
            if v.is_null() || v.is_array() || v.is_object() {
                return None;
            }
            bracket.get_or_insert_with(|| keys::bracket(v));
            let k = keys::encoded(v);
            match cmp {
                Cmp::Gt | Cmp::Gte => {
                    if low.as_ref().is_none_or(|(l, _)| k > *l) {
                        low = Some((k, v.to_string()));
                    }
                }
                Cmp::Lt | Cmp::Lte => {
                    if high.as_ref().is_none_or(|(h, _)| k < *h) {
                        high = Some((k, v.to_string()));
                    }
                }
            }
        }
    }
    let (bracket_low, bracket_high) = bracket?;
    let shown = format!(
        "[{}, {}]",
        low.as_ref().map_or("-inf".to_owned(), |(_, s)| s.clone()),
        high.as_ref().map_or("+inf".to_owned(), |(_, s)| s.clone())
    );
    Some((
        1,
        vec![Range {
            low: low.map_or(bracket_low, |(k, _)| k),
            high: high.map_or(bracket_high, |(k, _)| k),
        }],
        shown,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(spec: Value) -> IndexSpec {
        match IndexSpec::parse(&spec) {
            Ok(i) => i,
            Err(e) => panic!("{spec}: {e}"),
        }
    }

    #[test]
    fn multikey_compound_sparse_and_partial_entries() -> Result<(), DocumentError> {
        let tags = index(json!({"keys": {"tags": 1}}));
        assert_eq!(tags.name, "tags_1");
        assert_eq!(tags.entries(&json!({"tags": ["b", "a", "b"]}))?.len(), 2);
        assert_eq!(tags.entries(&json!({}))?, vec![keys::encoded(&json!(null))]);
        let compound = index(json!({"keys": {"a": 1, "b": -1}}));
        assert_eq!(compound.entries(&json!({"a": [1, 2], "b": 3}))?.len(), 2);
        assert!(
            compound
                .entries(&json!({"a": [1, 2], "b": [3, 4]}))
                .is_err(),
            "parallel arrays"
        );
        let sparse = index(json!({"keys": {"x": 1}, "sparse": true}));
        assert!(sparse.entries(&json!({"y": 1}))?.is_empty());
        let partial = index(json!({"keys": {"x": 1}, "partialFilterExpression": {"active": true}}));
        assert!(
            partial
                .entries(&json!({"x": 1, "active": false}))?
                .is_empty()
        );
        assert_eq!(partial.entries(&json!({"x": 1, "active": true}))?.len(), 1);
        Ok(())
    }

    #[test]
    fn the_planner_prefers_equality_and_respects_partial_indexes() -> Result<(), DocumentError> {
        let indexes = vec![
            index(json!({"keys": {"age": 1}})),
            index(json!({"keys": {"email": 1}, "unique": true})),
            index(json!({"keys": {"x": 1}, "partialFilterExpression": {"active": true}})),
        ];
        let filter = Filter::parse(&json!({"age": {"$gt": 30}, "email": "a@b"}))?;
        assert!(
            matches!(plan(&filter, &indexes), Plan::IndexScan { index, .. } if index == "email_1")
        );
        let filter = Filter::parse(&json!({"age": {"$gte": 30, "$lt": 40}}))?;
        assert!(
            matches!(plan(&filter, &indexes), Plan::IndexScan { index, .. } if index == "age_1")
        );
        let filter = Filter::parse(&json!({"x": 5}))?;
        assert_eq!(
            plan(&filter, &indexes),
            Plan::CollectionScan,
            "the partial index may miss documents"
        );
        let filter = Filter::parse(&json!({"x": 5, "active": true}))?;
        assert!(matches!(plan(&filter, &indexes), Plan::IndexScan { index, .. } if index == "x_1"));
        let filter = Filter::parse(&json!({"$or": [{"age": 1}, {"name": "x"}]}))?;
        assert_eq!(plan(&filter, &indexes), Plan::CollectionScan);
        Ok(())
    }
}
