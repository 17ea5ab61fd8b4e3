//! The `sql` operation: one statement in, rows out as JSON, scan progress
//! as `query_progress` events. A repeated query is answered from the query
//! cache while the datasets it read keep their versions (`cache_event`
//! says hit, miss, invalidation, update or eviction), and every query is
//! logged for workload analysis.

use serde::Deserialize;
use weft_sdk::{Host, Level, Value, json};

use super::{CACHE, HostCatalog, QUERY};
use crate::AnalyticsError;
use crate::cache::{self, Entry, Lookup, QueryCache, Stats};
use crate::sql::versioned::Versioned;
use crate::sql::{self, Catalog, Progress, normalize::normalize};
use crate::views;
use crate::workload::{self, QueryRecord};

/// Rows an answer carries unless `max_rows` says otherwise.
const DEFAULT_MAX_ROWS: usize = 10_000;
/// Most rows an answer may carry (larger results: LIMIT, or aggregate).
const MAX_ROWS: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SqlParams {
    query: String,
    #[serde(default)]
    query_id: Option<String>,
    #[serde(default)]
    max_rows: Option<usize>,
    #[serde(default = "yes")]
    cache: bool,
}

fn yes() -> bool {
    true
}

/// Reports scans as job progress and `query_progress` events, at most
/// one event per 5 % so a long scan does not flood the bus.
struct JobProgress<'h> {
    host: &'h dyn Host,
    query_id: String,
    total: u64,
    done: u64,
    last_step: u64,
    skipped: u64,
    samples: Vec<Value>,
}

impl Progress for JobProgress<'_> {
    fn skipped(&mut self, rows: u64) {
        self.skipped += rows;
    }

    fn sampled(&mut self, sample: &crate::sql::plan::SampleSpec, rows: u64, kept: u64) {
        self.samples.push(sample_account(sample, rows, kept));
    }

    fn planned(&mut self, total_rows: u64) {
        self.total = total_rows;
    }

    fn scanned(&mut self, rows: u64) -> bool {
        self.done += rows;
        let total = self.total.max(1);
        let step = (self.done.min(total) * 20) / total;
        if step > self.last_step {
            self.last_step = step;
            let pct = self.done.min(total) as f64 * 100.0 / total as f64;
            self.host.progress(
                self.done.min(total),
                total,
                &format!("{} of {} rows scanned", self.done, self.total),
                None,
            );
            self.host.emit(
                QUERY,
                "query_progress",
                &json!({
                    "query_id": self.query_id,
                    "rows_processed": self.done,
                    "total_rows": self.total,
                    "progress_pct": pct,
                    "timestamp": super::now(),
                }),
            );
        }
        !self.host.cancelled()
    }
}

/// What a sample kept and how to scale from it: a Bernoulli sample of N
/// rows at p estimates a count as kept/p with relative standard error
/// √((1−p)/(N·p)); a sample of n rows has scale N/n and an exact count.
fn sample_account(sample: &crate::sql::plan::SampleSpec, rows: u64, kept: u64) -> Value {
    let (method, scale, error) = match (sample.rows, sample.fraction) {
        (Some(_), _) => (
            "rows",
            if kept == 0 {
                0.0
            } else {
                rows as f64 / kept as f64
            },
            0.0,
        ),
        (None, fraction) => {
            let p = fraction.unwrap_or(1.0);
            let error = if rows == 0 {
                0.0
            } else {
                ((1.0 - p) / (rows as f64 * p)).sqrt()
            };
            ("bernoulli", 1.0 / p, error)
        }
    };
    json!({
        "dataset": sample.dataset,
        "method": method,
        "fraction": sample.fraction,
        "rows": sample.rows,
        "seed": sample.seed,
        "rows_in": rows,
        "rows_kept": kept,
        "scale": scale,
        "count_relative_error": error,
        "note": "multiply counts and sums over the sample by scale to estimate them over the dataset",
    })
}

/// A cache step that failed is logged and skipped: the query still runs.
fn soft<T>(host: &dyn Host, what: &str, result: Result<T, AnalyticsError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            host.log(Level::Warn, &format!("query cache: {what}: {e}"));
            None
        }
    }
}

fn cache_event(host: &dyn Host, event: &str, key: &str, query: &str, stats: &Stats, extra: Value) {
    let mut data = json!({
        "event": event,
        "query_hash": key,
        "query": query.chars().take(512).collect::<String>(),
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_rate": stats.hit_rate(),
        "timestamp": super::now(),
    });
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    host.emit(CACHE, "cache_event", &data);
}

/// Whether `query` names a function that a loaded UDF plugin brings and
/// the engine does not build in.
fn calls_udfs(host: &dyn Host, query: &str) -> bool {
    let Some(names) = sql::mentioned_names(query) else {
        // A wildcard query may still call one: look at every word.
        return host
            .functions()
            .list()
            .iter()
            .any(|f| query.to_lowercase().contains(&f.signature.name));
    };
    host.functions().list().iter().any(|f| {
        names.contains(&f.signature.name) && crate::sql::expr::Func::of(&f.signature.name).is_none()
    })
}

/// Runs `params.query`.
pub(super) fn run(params: SqlParams, host: &dyn Host) -> Result<Value, AnalyticsError> {
    let started = std::time::Instant::now();
    let max_rows = params.max_rows.unwrap_or(DEFAULT_MAX_ROWS);
    if max_rows > MAX_ROWS {
        return Err(AnalyticsError::Invalid(format!(
            "max_rows is at most {MAX_ROWS}; aggregate or LIMIT larger results"
        )));
    }
    let query_id = params
        .query_id
        .unwrap_or_else(|| super::generated_id("q", &params.query));
    let statement = sql::parse(&params.query)?;
    let mut progress = JobProgress {
        host,
        query_id: query_id.clone(),
        total: 0,
        done: 0,
        last_step: 0,
        skipped: 0,
        samples: Vec::new(),
    };
    if let Some(done) = super::views_op::ddl(&statement, host, &query_id, &mut progress) {
        return done;
    }
    let explain = matches!(statement, sqlparser::ast::Statement::Explain { .. });
    let normalized = normalize(&params.query);
    let text = normalized
        .as_ref()
        .map_or_else(|| params.query.clone(), |n| n.text.clone());
    let key = cache::key_of(&format!("{text}\u{0}{max_rows}"));
    let catalog = HostCatalog::new(host);
    // Views the query names are brought up to date first, so neither the
    // cache nor the query sees an answer older than the view's inputs.
    let refreshed = views::refresh_named(host, &catalog, &text, &mut progress)?;
    let all_views = views::all(host)?;
    let rewritten = if explain {
        None
    } else {
        views::rewrite(&all_views, &text)
    };
    let store = QueryCache::new(host);
    // A UDF's answer can change with its plugin's version, which no
    // dataset version records: such queries are not cached.
    let use_cache = params.cache && !explain && !calls_udfs(host, &text);
    let log = |answer: &Value, state: &str, datasets: Vec<String>| {
        let record = QueryRecord {
            at_ms: weft_sdk::now_ms(),
            query: text.chars().take(4096).collect(),
            shape: normalized
                .as_ref()
                .map_or_else(|| text.clone(), |n| n.shape.clone()),
            datasets,
            latency_ms: super::elapsed_ms(started),
            rows_scanned: answer["rows_scanned"].as_u64().unwrap_or(0),
            rows_returned: answer["row_count"].as_u64().unwrap_or(0),
            cache: state.to_owned(),
            predicates: workload::predicates(&statement),
        };
        if !explain {
            soft(host, "log", super::workload_op::log(host, &record));
        }
    };

    if use_cache {
        match soft(host, "lookup", store.lookup(&key, &|d| catalog.version(d))) {
            Some(Lookup::Hit(entry)) => {
                let mut answer = entry.answer;
                let bytes = answer.to_string().len() as u64;
                soft(host, "touch", store.touch(&key, bytes));
                if let Some(stats) = soft(host, "count", store.count(|s| s.hits += 1)) {
                    cache_event(
                        host,
                        "hit",
                        &key,
                        &text,
                        &stats,
                        json!({"datasets": entry.datasets}),
                    );
                }
                answer["query_id"] = json!(query_id);
                answer["rows_scanned"] = json!(0);
                answer["cache"] = json!("hit");
                answer["elapsed_ms"] = json!(super::elapsed_ms(started));
                log(&answer, "hit", entry.datasets.keys().cloned().collect());
                return Ok(answer);
            }
            Some(Lookup::Stale { dataset }) => {
                let counted = store.count(|s| {
                    s.misses += 1;
                    s.invalidations += 1;
                });
                if let Some(stats) = soft(host, "count", counted) {
                    cache_event(
                        host,
                        "invalidation",
                        &key,
                        &text,
                        &stats,
                        json!({"dataset": dataset}),
                    );
                }
            }
            Some(Lookup::Miss) => {
                if let Some(stats) = soft(host, "count", store.count(|s| s.misses += 1)) {
                    cache_event(host, "miss", &key, &text, &stats, json!({}));
                }
            }
            None => {}
        }
    }

    let versioned = Versioned::new(&catalog);
    progress.done = 0;
    progress.last_step = 0;
    // A query a view defines reads the view; should that fail to bind
    // (an ORDER BY on an expression the view does not answer), the
    // query runs as written.
    let (answer, view_used) = match &rewritten {
        Some((sql_text, view)) => match sql::run(sql_text, &versioned, &mut progress) {
            Ok(a) => (a, Some(view.clone())),
            Err(_) => (sql::run(&params.query, &versioned, &mut progress)?, None),
        },
        None => (sql::run(&params.query, &versioned, &mut progress)?, None),
    };
    let table = &answer.table;
    let shown = table.rows.min(max_rows);
    let rows: Vec<Value> = (0..shown)
        .map(|i| Value::Array(table.columns.iter().map(|c| c.get(i).to_json()).collect()))
        .collect();
    let mut result = json!({
        "query_id": query_id,
        "columns": answer.columns,
        "types": answer.types,
        "rows": rows,
        "row_count": table.rows,
        "truncated": shown < table.rows,
        "rows_scanned": answer.scanned_rows.saturating_sub(progress.skipped),
        "rows_skipped": progress.skipped,
        "elapsed_ms": super::elapsed_ms(started),
        "plan": answer.plan,
        "cache": if use_cache { "miss" } else { "off" },
    });
    if let Some(view) = view_used {
        result["materialized_view"] = json!(view);
    }
    if !refreshed.is_empty() {
        result["views_refreshed"] = json!(refreshed);
    }
    if !progress.samples.is_empty() {
        result["samples"] = json!(progress.samples);
    }
    if use_cache && let Some(datasets) = versioned.versions() {
        let entry = Entry {
            query: text.clone(),
            datasets: datasets.clone(),
            answer: result.clone(),
        };
        if let Some(Some(evicted)) = soft(host, "store", store.store(&key, &entry)) {
            let n = evicted.len() as u64;
            let counted = store.count(|s| {
                s.updates += 1;
                s.evictions += n;
            });
            if let Some(stats) = soft(host, "count", counted) {
                for gone in &evicted {
                    cache_event(host, "eviction", gone, "", &stats, json!({}));
                }
                let (entries, bytes) = soft(host, "size", store.size()).unwrap_or_default();
                cache_event(
                    host,
                    "update",
                    &key,
                    &text,
                    &stats,
                    json!({"datasets": datasets, "entries": entries, "total_bytes": bytes}),
                );
            }
        }
    }
    let read: Vec<String> = versioned
        .versions()
        .map(|v| v.into_keys().collect())
        .unwrap_or_default();
    log(&result, if use_cache { "miss" } else { "off" }, read);
    result["elapsed_ms"] = json!(super::elapsed_ms(started));
    Ok(result)
}
