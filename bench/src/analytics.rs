//! Analytics engine figures: a GROUP BY and a filtered aggregate over 1M
//! rows, a window function over 1M rows, a join of 1M × 100k and a profile
//! of the 1M-row table — the wasm component reading a real store, the same
//! crate natively against an in-memory host, and DuckDB
//! (`bench/python/analytics_baselines.py`, one thread and its default;
//! `SUMMARIZE` for the profile) on the same rows, all in the same run —
//! and a query answered from the query cache against computing it.
//! Computed figures run with `"cache": false`, or every run after the
//! first would be a cache hit.

use std::io::Write;

use serde_json::json;
use weft_analytics::AnalyticsEngine;
use weft_runtime::Invocation;
use weft_sdk::{ColumnValues, Engine, Params, RecordingHost};

use crate::stats::{Row, Sample};
use crate::time;

const FACTS: usize = 1_000_000;
const DIM: usize = 100_000;
const RUNS: usize = 3;

const QUERIES: [(&str, &str); 4] = [
    (
        "GROUP BY 1,000 keys, count/sum/avg, 1M rows",
        "SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM facts GROUP BY k",
    ),
    (
        "filter + aggregate, 1M rows",
        "SELECT count(*) AS n, sum(v) AS s FROM facts WHERE v > 0.5 AND k < 100",
    ),
    (
        "window: sum over 11 rows per key, 1M rows",
        "SELECT sum(w) AS total FROM (SELECT sum(v) OVER (PARTITION BY k ORDER BY id ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS w FROM facts) t",
    ),
    (
        "hash join 1M × 100k + aggregate",
        "SELECT count(*) AS n, sum(f.v * d.w) AS s FROM facts f JOIN dim d ON f.d = d.id",
    ),
];

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    use weft_storage::columnar::{CHUNK_ROWS, ColumnType, Field, Values};
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let ids: Vec<i64> = (0..FACTS as i64).collect();
    let keys: Vec<i64> = (0..FACTS).map(|_| (next() % 1000) as i64).collect();
    let dims: Vec<i64> = (0..FACTS).map(|_| (next() % DIM as u64) as i64).collect();
    let values: Vec<f64> = (0..FACTS)
        .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();
    let dim_ids: Vec<i64> = (0..DIM as i64).collect();
    let weights: Vec<f64> = (0..DIM).map(|i| (i % 97) as f64 / 97.0).collect();

    let component = crate::setup::component("analytics")?;
    let (store, plugin) = (&component.store, &component.plugin);
    let field = |name: &str, kind| Field {
        name: name.into(),
        kind,
    };
    let facts = store.create_dataset(
        "bench",
        "facts",
        vec![
            field("id", ColumnType::I64),
            field("k", ColumnType::I64),
            field("d", ColumnType::I64),
            field("v", ColumnType::F64),
        ],
    )?;
    for start in (0..FACTS).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(FACTS);
        facts.append(vec![
            (Values::I64(ids[start..end].to_vec()), Vec::new()),
            (Values::I64(keys[start..end].to_vec()), Vec::new()),
            (Values::I64(dims[start..end].to_vec()), Vec::new()),
            (Values::F64(values[start..end].to_vec()), Vec::new()),
        ])?;
    }
    let dim = store.create_dataset(
        "bench",
        "dim",
        vec![field("id", ColumnType::I64), field("w", ColumnType::F64)],
    )?;
    for start in (0..DIM).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(DIM);
        dim.append(vec![
            (Values::I64(dim_ids[start..end].to_vec()), Vec::new()),
            (Values::F64(weights[start..end].to_vec()), Vec::new()),
        ])?;
    }
    let native = RecordingHost::new()
        .with_dataset(
            "facts",
            vec![
                ("id", ColumnValues::I64(ids.clone())),
                ("k", ColumnValues::I64(keys.clone())),
                ("d", ColumnValues::I64(dims.clone())),
                ("v", ColumnValues::F64(values.clone())),
            ],
        )
        .with_dataset(
            "dim",
            vec![
                ("id", ColumnValues::I64(dim_ids.clone())),
                ("w", ColumnValues::F64(weights.clone())),
            ],
        );

    let facts_csv = component.dir.join("facts.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&facts_csv)?);
    writeln!(out, "id,k,d,v")?;
    for i in 0..FACTS {
        writeln!(out, "{},{},{},{}", ids[i], keys[i], dims[i], values[i])?;
    }
    out.flush()?;
    let dim_csv = component.dir.join("dim.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&dim_csv)?);
    writeln!(out, "id,w")?;
    for i in 0..DIM {
        writeln!(out, "{},{}", dim_ids[i], weights[i])?;
    }
    out.flush()?;
    let mut args = vec![facts_csv.into_os_string(), dim_csv.into_os_string()];
    args.extend(QUERIES.iter().map(|(_, q)| std::ffi::OsString::from(q)));
    args.push("SUMMARIZE facts".into());
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let duckdb = crate::setup::python_json("analytics_baselines.py", &refs);

    let mut rows = Vec::new();
    let mut computed_group_by = None;
    let profile = ("profile: 1M rows × 4 columns (DuckDB: SUMMARIZE)", "");
    for (i, (label, query)) in QUERIES.iter().chain([&profile]).enumerate() {
        eprintln!("      {label} …");
        let (op, params) = if query.is_empty() {
            ("profile", json!({"dataset": "facts"}))
        } else {
            ("sql", json!({"query": query, "cache": false}))
        };
        let text = params.to_string();
        let (mut wasm, mut native_sample) = (Sample::default(), Sample::default());
        for _ in 0..RUNS {
            let (elapsed, out) = time(|| plugin.invoke(op, &params, Invocation::detached("bench")));
            out.map_err(|e| anyhow::anyhow!("{label}: {}", e.message))?;
            wasm.push(elapsed);
            let (elapsed, out) = time(|| {
                AnalyticsEngine::invoke(op, Params::new(&text), &native)
                    .map(|v| v.to_string().len())
            });
            std::hint::black_box(out.map_err(|e| anyhow::anyhow!("{label}: {e}"))?);
            native_sample.push(elapsed);
        }
        if i == 0 {
            computed_group_by = Some(wasm.clone());
        }
        let what = format!("analytics: {label} — wasm (store in)");
        rows.push(Row::versus(
            &what,
            wasm.clone(),
            "same crate, native, in-memory host",
            native_sample,
        ));
        match &duckdb {
            Ok(figures) => {
                let seconds = |key: &str| {
                    figures[key][i]
                        .as_f64()
                        .map(|s| Sample::of(std::time::Duration::from_secs_f64(s)))
                };
                if let (Some(one), Some(all)) = (seconds("threads_1"), seconds("threads_default")) {
                    rows.push(Row::versus(
                        &what,
                        wasm.clone(),
                        "DuckDB, 1 thread (in-memory table)",
                        one,
                    ));
                    rows.push(Row::versus(
                        &what,
                        wasm,
                        &format!("DuckDB, {} threads", figures["threads"]),
                        all,
                    ));
                }
            }
            Err(e) => rows.push(Row::absolute(
                &what,
                wasm,
                &format!("DuckDB unavailable: {e}"),
            )),
        }
    }
    // The GROUP BY again, answered from the cache (one miss fills it).
    let params = json!({"query": QUERIES[0].1});
    plugin
        .invoke("sql", &params, Invocation::detached("bench"))
        .map_err(|e| anyhow::anyhow!("cache fill: {}", e.message))?;
    let mut hits = Sample::default();
    for _ in 0..RUNS {
        let (elapsed, out) = time(|| plugin.invoke("sql", &params, Invocation::detached("bench")));
        let out = out.map_err(|e| anyhow::anyhow!("cache hit: {}", e.message))?;
        anyhow::ensure!(out["cache"] == "hit", "the repeated query missed the cache");
        hits.push(elapsed);
    }
    if let Some(computed) = computed_group_by {
        rows.push(Row::versus(
            "analytics: GROUP BY 1M rows answered from the query cache — wasm",
            hits,
            "the same query computed (cache off)",
            computed,
        ));
    }
    Ok(rows)
}
