//! The query log and the `workload` operation. Every `sql` query appends
//! a [`QueryRecord`] to collection `workload` (the newest 10,000 are
//! kept); `workload` reads them, reports the patterns ([`workload`]'s
//! frequent and slow shapes) as `workload_update`s, measures each
//! candidate through the SQL engine — how many rows its filter keeps, how
//! many values its column has, how fast cache hits answered — and emits
//! what is worth doing as `workload_recommendation`s.

use std::hash::{BuildHasher, Hasher};

use serde::Deserialize;
use weft_sdk::{Host, StorageFailure, Value, json};

use super::{HostCatalog, WORKLOAD};
use crate::AnalyticsError;
use crate::sql::{self, Progress};
use crate::value::Datum;
use crate::workload::{self, Candidate, QueryRecord};

const COLLECTION: &str = "workload";
/// A log entry: key and record.
type Entry = (Vec<u8>, Vec<u8>);
/// Records kept; older ones are pruned.
const MAX_RECORDS: usize = 10_000;
/// A filter keeping more than this share of rows is not worth a layout.
const WORTH_SKIPPING: f64 = 0.5;
/// Columns with at most this many values may be partitioned by.
const MAX_PARTITIONS: i64 = 1_000;

/// A random u64 from the sandbox's per-job randomness (std's hasher keys).
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Appends `record` to the log, and now and then prunes it.
pub(super) fn log(host: &dyn Host, record: &QueryRecord) -> Result<(), AnalyticsError> {
    let nonce = random();
    let key = format!("q/{:016x}/{nonce:016x}", record.at_ms.max(0));
    let value = serde_json::to_vec(record).map_err(|e| AnalyticsError::Storage(e.to_string()))?;
    host.collection_put(COLLECTION, key.as_bytes(), &value)?;
    if nonce.is_multiple_of(64) {
        prune(host)?;
    }
    Ok(())
}

fn keys(host: &dyn Host) -> Result<Vec<Entry>, AnalyticsError> {
    let mut out = Vec::new();
    let mut start = b"q/".to_vec();
    loop {
        let page = match host.collection_scan_page(COLLECTION, &start, b"q/", 1_000, 4 << 20) {
            Ok(p) => p,
            Err(StorageFailure::NotFound(_)) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        out.extend(page.entries);
        match page.next {
            Some(next) => start = next,
            None => return Ok(out),
        }
    }
}

fn prune(host: &dyn Host) -> Result<(), AnalyticsError> {
    let entries = keys(host)?;
    if entries.len() > MAX_RECORDS {
        let batch: Vec<(Vec<u8>, Option<Vec<u8>>)> = entries[..entries.len() - MAX_RECORDS]
            .iter()
            .map(|(k, _)| (k.clone(), None))
            .collect();
        for part in batch.chunks(5_000) {
            host.collection_write_batch(COLLECTION, part)?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkloadParams {
    #[serde(default)]
    analysis_id: Option<String>,
    #[serde(default)]
    min_runs: Option<usize>,
}

struct Cancellable<'h>(&'h dyn Host);

impl Progress for Cancellable<'_> {
    fn scanned(&mut self, _: u64) -> bool {
        !self.0.cancelled()
    }
}

/// The first value of a one-row answer.
fn scalar(host: &dyn Host, query: &str) -> Result<Datum, AnalyticsError> {
    let answer = sql::run(query, &HostCatalog::new(host), &mut Cancellable(host))?;
    Ok(answer
        .table
        .columns
        .first()
        .map_or(Datum::Null, |c| c.get(0)))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Measures `candidate`; `None` when it is not worth recommending.
fn measure(
    host: &dyn Host,
    candidate: &Candidate,
    mean_hit_ms: Option<f64>,
) -> Result<Option<Value>, AnalyticsError> {
    Ok(match candidate {
        Candidate::Cache {
            query,
            runs,
            hits,
            hit_ms,
            miss_ms,
        } => {
            let (hit, measured) = match (hit_ms, mean_hit_ms) {
                (Some(h), _) => (Some(*h), true),
                (None, Some(h)) => (Some(h), false),
                (None, None) => (None, false),
            };
            let improvement =
                hit.map(|h| ((1.0 - h / miss_ms.max(1e-6)) * 100.0).clamp(0.0, 100.0));
            let reason = if *hits > 0 {
                format!(
                    "ran {runs} times and was recomputed {} times because the datasets it reads changed in between: each recomputation took {miss_ms:.1} ms, a cache hit {:.1} ms; batch the uploads, or materialize it",
                    runs - hits,
                    hit.unwrap_or(0.0)
                )
            } else {
                format!(
                    "ran {runs} times, computed every time ({miss_ms:.1} ms each) with the cache off; send it with \"cache\": true"
                )
            };
            Some(json!({
                "recommendation_type": "cache",
                "target": query,
                "reason": reason,
                "improvement_pct": improvement,
                "measured": measured,
                "evidence": {"runs": runs, "hits": hits, "miss_ms": miss_ms, "hit_ms": hit},
            }))
        }
        Candidate::Column {
            dataset,
            column,
            eq_uses,
            range_uses,
            latest,
            ..
        } => {
            let table = ident(dataset);
            let rows = scalar(host, &format!("SELECT count(*) FROM {table}"))?
                .as_f64()
                .unwrap_or(0.0);
            if rows <= 0.0 {
                return Ok(None);
            }
            let kept = scalar(
                host,
                &format!("SELECT count(*) FROM {table} WHERE {latest}"),
            )?
            .as_f64()
            .unwrap_or(rows);
            let distinct = scalar(
                host,
                &format!("SELECT count(DISTINCT {}) FROM {table}", ident(column)),
            )?
            .as_f64()
            .unwrap_or(0.0) as i64;
            let share = kept / rows;
            if share > WORTH_SKIPPING {
                return Ok(None);
            }
            let improvement = (1.0 - share) * 100.0;
            let uses = eq_uses + range_uses;
            let evidence = json!({
                "dataset": dataset, "column": column, "queries": uses, "rows": rows,
                "rows_kept": kept, "distinct_values": distinct, "measured_filter": latest,
            });
            let kept_pct = share * 100.0;
            Some(
                if eq_uses >= range_uses && (2..=MAX_PARTITIONS).contains(&distinct) {
                    json!({
                        "recommendation_type": "partition",
                        "target": format!("{dataset}.{column}"),
                        "reason": format!("{uses} queries pick values of {dataset}.{column}, which has {distinct} distinct values; partitioned by it (upload with ?partition_by={column}&partitioning=list:…), a query like `{latest}` reads its partition, {kept_pct:.1} % of the {rows} rows, instead of all of them"),
                        "improvement_pct": improvement,
                        "measured": true,
                        "evidence": evidence,
                    })
                } else {
                    json!({
                        "recommendation_type": "index",
                        "target": format!("{dataset}.{column}"),
                        "reason": format!("{uses} queries filter {dataset}.{column} ({range_uses} by range); `{latest}` keeps {kept_pct:.1} % of the {rows} rows but every scan reads them all: stored sorted by {column}, each chunk's min/max (a zone map) rules out the chunks that cannot match"),
                        "improvement_pct": improvement,
                        "measured": true,
                        "evidence": evidence,
                    })
                },
            )
        }
    })
}

/// Analyses the log.
pub(super) fn run(params: WorkloadParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = std::time::Instant::now();
    let analysis_id = params
        .analysis_id
        .unwrap_or_else(|| super::generated_id("w", "workload"));
    let min_runs = params.min_runs.unwrap_or(3).max(2);
    let mut records: Vec<QueryRecord> = keys(host)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect();
    records.sort_by_key(|r| r.at_ms);
    let patterns = workload::patterns(&records);
    let update = |data: Value| {
        let mut data = data;
        data["analysis_id"] = json!(analysis_id);
        data["timestamp"] = super::now();
        host.emit(WORKLOAD, "workload_update", &data);
    };
    let shown: Vec<Value> = patterns
        .iter()
        .take(20)
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    for (i, p) in shown.iter().enumerate() {
        update(json!({"stage": "pattern", "rank": i + 1, "pattern": p}));
    }
    let hits: Vec<f64> = records
        .iter()
        .filter(|r| r.cache == "hit")
        .map(|r| r.latency_ms)
        .collect();
    let mean_hit = (!hits.is_empty()).then(|| hits.iter().sum::<f64>() / hits.len() as f64);
    let candidates = workload::candidates(&records, min_runs);
    let mut recommendations = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if host.cancelled() {
            return Err(AnalyticsError::Cancelled);
        }
        host.progress(
            i as u64,
            candidates.len() as u64,
            "measuring recommendations",
            None,
        );
        if let Some(mut rec) = measure(host, c, mean_hit)? {
            rec["analysis_id"] = json!(analysis_id);
            rec["timestamp"] = super::now();
            host.emit(WORKLOAD, "workload_recommendation", &rec);
            recommendations.push(rec);
        }
    }
    let elapsed = super::elapsed_ms(started);
    host.emit(
        WORKLOAD,
        "workload_complete",
        &json!({
            "analysis_id": analysis_id, "queries": records.len(), "shapes": patterns.len(),
            "recommendations": recommendations.len(), "elapsed_ms": elapsed, "timestamp": super::now(),
        }),
    );
    Ok(json!({
        "analysis_id": analysis_id,
        "queries": records.len(),
        "shapes": patterns.len(),
        "patterns": shown,
        "slow_shapes": patterns.iter().filter(|p| p.slow).map(|p| p.shape.clone()).collect::<Vec<_>>(),
        "recommendations": recommendations,
        "elapsed_ms": elapsed,
    }))
}
