//! Document engine figures: single and bulk inserts, point reads by `_id`,
//! indexed and unindexed range queries, a three-stage pipeline and
//! full-text search — the wasm component as jobs against a real store
//! (each job a fresh sandboxed instance, as a REST call gets), next to
//! SQLite's JSON1 and FTS5 doing the same in the same run (Python's
//! `sqlite3`, WAL mode, `synchronous=FULL`: a commit is durable when it
//! returns, as a Weft write is).

use std::io::Write;
use std::process::Command;

use anyhow::Context;
use serde_json::{Value, json};
use weft_runtime::Invocation;

use crate::stats::{Row, Sample};
use crate::time;

/// Documents for the bulk insert, ranges and pipeline.
const DOCS: usize = 1_000_000;
/// Documents of the text collection.
const TEXTS: usize = 100_000;
/// Single inserts and point reads (one job each).
const SINGLES: usize = 300;
/// Documents per bulk-insert job.
const BATCH: usize = 20_000;

const CITIES: [&str; 8] = [
    "Paris", "Oslo", "Lima", "Kyoto", "Accra", "Quito", "Perth", "Cairo",
];
const WORDS: [&str; 24] = [
    "coffee", "brew", "cold", "espresso", "roast", "bean", "grind", "milk", "tea", "green",
    "water", "kettle", "filter", "press", "french", "pour", "over", "aroma", "bitter", "sweet",
    "acid", "crema", "shot", "latte",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn person(rng: &mut Rng, i: usize) -> Value {
    json!({
        "_id": i,
        "name": format!("user{i}"),
        "age": 18 + rng.below(60),
        "score": rng.below(10_000) as f64 / 100.0,
        "city": CITIES[rng.below(CITIES.len() as u64) as usize],
        "active": rng.below(10) < 6,
    })
}

fn text(rng: &mut Rng, i: usize) -> Value {
    let words: Vec<&str> = (0..8 + rng.below(24))
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect();
    json!({"_id": i, "body": words.join(" ")})
}

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let component = crate::setup::component("document")?;
    let plugin = &component.plugin;
    let scratch = &component.dir;
    let job = |op: &str, params: Value| -> anyhow::Result<Value> {
        plugin
            .invoke(op, &params, Invocation::detached("bench"))
            .map_err(|e| anyhow::anyhow!("{op}: {}", e.message))
    };

    let mut rng = Rng(0x5eed);
    let people: Vec<Value> = (0..DOCS).map(|i| person(&mut rng, i)).collect();
    let texts: Vec<Value> = (0..TEXTS).map(|i| text(&mut rng, i)).collect();
    let files = scratch.join("docs.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&files)?);
    for p in &people {
        writeln!(out, "{p}")?;
    }
    out.flush()?;
    let text_file = scratch.join("texts.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&text_file)?);
    for t in &texts {
        writeln!(out, "{t}")?;
    }
    out.flush()?;

    eprintln!("      single inserts and point reads …");
    let mut single = Sample::default();
    for doc in people.iter().take(SINGLES) {
        let (elapsed, out) = time(|| {
            job(
                "insert",
                json!({"collection": "singles", "documents": [doc]}),
            )
        });
        out?;
        single.push(elapsed);
    }
    eprintln!("      bulk insert of {DOCS} documents …");
    let (bulk, out) = time(|| -> anyhow::Result<()> {
        for chunk in people.chunks(BATCH) {
            job(
                "insert",
                json!({"collection": "people", "documents": chunk}),
            )?;
        }
        Ok(())
    });
    out?;
    let mut point = Sample::default();
    for i in 0..SINGLES {
        let id = (i * 7919) % DOCS;
        let (elapsed, out) =
            time(|| job("get_document", json!({"collection": "people", "id": id})));
        out?;
        point.push(elapsed);
    }
    let range = json!({"collection": "people", "filter": {"age": {"$gte": 30, "$lt": 31}}});
    let scan_range =
        json!({"collection": "people", "filter": {"score": {"$gte": 50.0, "$lt": 50.5}}});
    let mut unindexed = Sample::default();
    let mut unindexed_count = 0;
    for _ in 0..3 {
        let (elapsed, out) = time(|| job("count", scan_range.clone()));
        unindexed_count = out?["count"].as_u64().unwrap_or(0);
        unindexed.push(elapsed);
    }
    job(
        "create_index",
        json!({"collection": "people", "keys": {"age": 1}}),
    )?;
    let mut indexed = Sample::default();
    let mut indexed_count = 0;
    for _ in 0..3 {
        let (elapsed, out) = time(|| job("find", range.clone()));
        indexed_count = out?["documents"].as_array().map_or(0, Vec::len);
        indexed.push(elapsed);
    }
    let pipeline = json!({"collection": "people", "pipeline": [
        {"$match": {"active": true}},
        {"$group": {"_id": "$city", "total": {"$sum": "$score"}, "n": {"$sum": 1}}},
        {"$sort": {"total": -1}}
    ]});
    let mut aggregate = Sample::default();
    let mut groups = Value::Null;
    for _ in 0..2 {
        let (elapsed, out) = time(|| job("aggregate", pipeline.clone()));
        groups = out?["documents"].clone();
        aggregate.push(elapsed);
    }
    eprintln!("      text index over {TEXTS} documents …");
    for chunk in texts.chunks(BATCH) {
        job("insert", json!({"collection": "texts", "documents": chunk}))?;
    }
    job(
        "create_index",
        json!({"collection": "texts", "keys": {"body": "text"}}),
    )?;
    let mut search = Sample::default();
    for _ in 0..5 {
        let (elapsed, out) = time(|| {
            job(
                "search",
                json!({"collection": "texts", "query": "espresso crema", "limit": 10}),
            )
        });
        std::hint::black_box(out?);
        search.push(elapsed);
    }

    let mut rows = Vec::new();
    match sqlite(&files, &text_file) {
        Ok(base) => {
            let secs = |key: &str| {
                Sample::of(std::time::Duration::from_secs_f64(
                    base[key].as_f64().unwrap_or(f64::NAN),
                ))
            };
            let per = |key: &str, n: usize| {
                Sample::of(std::time::Duration::from_secs_f64(
                    base[key].as_f64().unwrap_or(f64::NAN) / n as f64,
                ))
            };
            let agree = base["indexed_count"].as_u64() == Some(indexed_count as u64)
                && base["unindexed_count"].as_u64() == Some(unindexed_count)
                && base["groups"].as_u64() == groups.as_array().map(|g| g.len() as u64);
            let note = if agree {
                ""
            } else {
                " (ANSWERS DIFFER from SQLite's)"
            };
            rows.push(Row::versus(
                "document: single insert, one job each — wasm, real store",
                single,
                "SQLite JSON1 INSERT, one commit each",
                per("single", SINGLES),
            ));
            rows.push(Row::versus(
                &format!("document: bulk insert {DOCS} documents, {BATCH} per job — wasm"),
                Sample::of(bulk),
                "SQLite executemany, one transaction per batch",
                secs("bulk"),
            ));
            rows.push(Row::versus(
                "document: point read by _id, one job each — wasm",
                point,
                "SQLite SELECT by primary key",
                per("point", SINGLES),
            ));
            rows.push(Row::versus(
                &format!("document: indexed range ({indexed_count} of 1M) — wasm{note}"),
                indexed,
                "SQLite, index on json_extract(age)",
                secs("indexed"),
            ));
            rows.push(Row::versus(
                &format!("document: unindexed range count ({unindexed_count} of 1M) — wasm"),
                unindexed,
                "SQLite full scan of json_extract(score)",
                secs("unindexed"),
            ));
            rows.push(Row::versus(
                "document: $match → $group → $sort over 1M — wasm",
                aggregate,
                "SQLite WHERE / GROUP BY / ORDER BY on JSON1",
                secs("pipeline"),
            ));
            rows.push(Row::versus(
                &format!("document: text search, BM25 top 10 of {TEXTS} — wasm"),
                search,
                "SQLite FTS5 MATCH ORDER BY bm25",
                secs("search"),
            ));
        }
        Err(e) => {
            eprintln!("      SQLite baseline skipped: {e:#}");
            rows.push(Row::absolute(
                "document: bulk insert 1M documents — wasm",
                Sample::of(bulk),
                "SQLite unavailable",
            ));
            rows.push(Row::absolute(
                "document: $match → $group → $sort over 1M — wasm",
                aggregate,
                "SQLite unavailable",
            ));
        }
    }
    Ok(rows)
}

fn sqlite(docs: &std::path::Path, texts: &std::path::Path) -> anyhow::Result<Value> {
    let script = weft_tests::repo_root().join("bench/python/document_baselines.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(docs)
        .arg(texts)
        .args([SINGLES.to_string(), BATCH.to_string()])
        .output()
        .context("cannot run python3")?;
    anyhow::ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}
