//! Running reads: the planner's choice carried out over a [`Reader`]
//! (index ranges or a collection scan), every candidate checked against
//! the filter, then sort, skip, limit and projection; `explain` reports
//! what it did. Text search reads the postings of the query's terms and
//! ranks by BM25.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::DocumentError;
use crate::filter::Filter;
use crate::index::{Plan, plan};
use crate::keys::{self, layout};
use crate::projection::Projection;
use crate::sort::SortSpec;
use crate::store::Reader;
use crate::text;

/// A find: filter, sort, skip, limit, projection.
#[derive(Clone, Debug)]
pub struct Find {
    /// Which documents.
    pub filter: Filter,
    /// Their order.
    pub sort: Option<SortSpec>,
    /// How many to pass over first.
    pub skip: usize,
    /// How many at most (`None`: all).
    pub limit: Option<usize>,
    /// Which fields.
    pub projection: Option<Projection>,
}

/// What a query did, for `explain`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Index entries read.
    pub keys_examined: u64,
    /// Documents read.
    pub docs_examined: u64,
    /// Documents returned.
    pub returned: u64,
}

/// Documents matching `filter`, in the order the plan reads them, until
/// `each` answers false. Answers the plan.
pub fn matching(
    reader: &Reader<'_>,
    filter: &Filter,
    stats: &mut Stats,
    mut each: impl FnMut(Value) -> Result<bool, DocumentError>,
) -> Result<Plan, DocumentError> {
    let chosen = plan(filter, &reader.meta.ready_indexes());
    match &chosen {
        Plan::CollectionScan => {
            reader.documents(|doc| {
                stats.docs_examined += 1;
                if filter.matches(&doc) {
                    each(doc)
                } else {
                    Ok(true)
                }
            })?;
        }
        Plan::IndexScan { index, ranges, .. } => {
            let prefix = layout::index(index);
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            let mut go_on = true;
            for range in ranges {
                if !go_on {
                    break;
                }
                let start = [prefix.as_slice(), &range.low].concat();
                let high = [prefix.as_slice(), &range.high].concat();
                let mut ids: Vec<Vec<u8>> = Vec::new();
                reader.scan(&start, &prefix, |key, value| {
                    if key > high.as_slice() && !key.starts_with(&high) {
                        return Ok(false);
                    }
                    stats.keys_examined += 1;
                    let id_key = value.to_vec();
                    if seen.insert(id_key.clone()) {
                        ids.push(id_key);
                    }
                    Ok(true)
                })?;
                for id_key in ids {
                    stats.docs_examined += 1;
                    if let Some(doc) = reader.get(&id_key)?
                        && filter.matches(&doc)
                        && !each(doc)?
                    {
                        go_on = false;
                        break;
                    }
                }
            }
        }
    }
    Ok(chosen)
}

/// Runs a find; answers the documents, the plan and what it read.
pub fn find(reader: &Reader<'_>, find: &Find) -> Result<(Vec<Value>, Plan, Stats), DocumentError> {
    let mut stats = Stats::default();
    let mut docs = Vec::new();
    let wanted = find.limit.map(|l| l + find.skip);
    let plan = matching(reader, &find.filter, &mut stats, |doc| {
        docs.push(doc);
        Ok(find.sort.is_some() || wanted.is_none_or(|w| docs.len() < w))
    })?;
    if let Some(spec) = &find.sort {
        spec.sort(&mut docs);
    }
    let docs: Vec<Value> = docs
        .into_iter()
        .skip(find.skip)
        .take(find.limit.unwrap_or(usize::MAX))
        .collect();
    let docs = match &find.projection {
        Some(p) if !p.is_identity() => docs.iter().map(|d| p.apply(d)).collect::<Result<_, _>>()?,
        _ => docs,
    };
    stats.returned = docs.len() as u64;
    Ok((docs, plan, stats))
}

/// `explain`'s answer for a plan and its figures.
pub fn explain(plan: &Plan, stats: &Stats) -> Value {
    let winning = match plan {
        Plan::CollectionScan => json!({"stage": "COLLSCAN"}),
        Plan::IndexScan { index, bounds, .. } => {
            json!({"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": index, "indexBounds": bounds}})
        }
    };
    json!({
        "queryPlanner": {"winningPlan": winning},
        "executionStats": {
            "nReturned": stats.returned,
            "totalKeysExamined": stats.keys_examined,
            "totalDocsExamined": stats.docs_examined,
        }
    })
}

/// One text search hit.
#[derive(Clone, Debug)]
pub struct Hit {
    /// BM25 score.
    pub score: f64,
    /// The document.
    pub document: Value,
}

/// Searches the text index: documents holding any of the query's terms,
/// every phrase and none of the excluded terms, passing `filter`, best
/// BM25 score first.
pub fn search(
    reader: &Reader<'_>,
    query: &str,
    filter: &Filter,
    limit: usize,
) -> Result<Vec<Hit>, DocumentError> {
    let index = reader.meta.text_index().cloned().ok_or_else(|| {
        DocumentError::invalid("the collection has no text index: create one with POST …/indexes {\"keys\": {\"field\": \"text\"}}")
    })?;
    let fields: Vec<String> = index.keys.iter().map(|(f, _)| f.clone()).collect();
    let search = text::Search::parse(query);
    if search.terms.is_empty() {
        return Ok(Vec::new());
    }
    let stats = reader.text_stats()?;
    let avg_len = if stats.docs == 0 {
        0.0
    } else {
        stats.terms as f64 / stats.docs as f64
    };
    // Per candidate: (term index, tf) of each query term it holds.
    let mut candidates: std::collections::HashMap<Vec<u8>, Vec<(usize, u32)>> =
        std::collections::HashMap::new();
    let mut df = vec![0u64; search.terms.len()];
    for (t, term) in search.terms.iter().enumerate() {
        let prefix = layout::postings(term);
        reader.scan(&prefix, &prefix, |key, value| {
            df[t] += 1;
            let tf = value.try_into().map(u32::from_le_bytes).unwrap_or(1);
            candidates
                .entry(key[prefix.len()..].to_vec())
                .or_default()
                .push((t, tf));
            Ok(true)
        })?;
    }
    let mut hits = Vec::new();
    for (id_key, tfs) in candidates {
        let Some(doc) = reader.get(&id_key)? else {
            continue;
        };
        if !search.phrases.is_empty() || !search.excluded.is_empty() {
            let terms = text::document_terms(&doc, &fields);
            if !search.admits(&terms) {
                continue;
            }
        }
        if !filter.matches(&doc) {
            continue;
        }
        let len = reader_len(reader, &id_key)?;
        let weighted: Vec<(u32, u64)> = tfs.iter().map(|&(t, tf)| (tf, df[t])).collect();
        hits.push(Hit {
            score: text::bm25(&weighted, len, stats.docs, avg_len),
            document: doc,
        });
    }
    hits.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| crate::value::compare(&a.document["_id"], &b.document["_id"]))
    });
    hits.truncate(limit);
    Ok(hits)
}

fn reader_len(reader: &Reader<'_>, id_key: &[u8]) -> Result<u32, DocumentError> {
    // A point read: scans cost more than gets in the host's memtable.
    Ok(reader
        .raw(&layout::text_length(id_key))?
        .and_then(|v| v.as_slice().try_into().ok().map(u32::from_le_bytes))
        .unwrap_or(0))
}

/// The encoded form of an `_id`, for lookups.
pub fn id_key(id: &Value) -> Vec<u8> {
    keys::encoded(id)
}
