//! Every query of `test_data/analytics/queries.sql` run natively over the
//! same seeded datasets DuckDB answered (`make_reference.py`), through the
//! engine's own catalog over a recording host: the answers must agree
//! value for value (floats to 1e-9, relative).

mod common;

use anyhow::Context;
use common::{Quiet, data, load};
use serde_json::Value;
use weft_analytics::operations::HostCatalog;
use weft_analytics::sql;
use weft_sdk::{ColumnValues, Host, RecordingHost};

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn canonical(rows: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = rows
        .iter()
        .map(|r| {
            r.as_array()
                .map(|cells| {
                    cells
                        .iter()
                        .map(|c| match c.as_f64() {
                            Some(f) => format!("{f:.6}"),
                            None => c.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .unwrap_or_default()
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn every_query_answers_as_duckdb_does() -> anyhow::Result<()> {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(data("reference.json"))?)?;
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(data("schemas.json"))?)?;
    let host = RecordingHost::new();
    for name in ["readings", "sensors"] {
        load(&host, name, schemas[name].as_str().context("schema")?)?;
    }
    let catalog = HostCatalog::new(&host);
    let cases = reference["cases"].as_array().context("cases")?;
    assert!(
        cases.len() >= 50,
        "the reference has {} queries",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let query = case["sql"].as_str().context("sql")?;
        let answer = match sql::run(query, &catalog, &mut Quiet) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{query}\n  failed: {e}"));
                continue;
            }
        };
        let columns: Vec<Value> = answer
            .columns
            .iter()
            .map(|c| Value::from(c.as_str()))
            .collect();
        if columns.as_slice() != case["columns"].as_array().context("columns")?.as_slice() {
            failures.push(format!(
                "{query}\n  columns {columns:?}, DuckDB {}",
                case["columns"]
            ));
            continue;
        }
        let ours: Vec<Value> = (0..answer.table.rows)
            .map(|i| {
                Value::Array(
                    answer
                        .table
                        .columns
                        .iter()
                        .map(|c| c.get(i).to_json())
                        .collect(),
                )
            })
            .collect();
        let theirs = case["rows"].as_array().context("rows")?;
        let agree = ours.len() == theirs.len()
            && if case["ordered"] == true {
                ours.iter().zip(theirs).all(|(a, b)| {
                    let (a, b) = (a.as_array(), b.as_array());
                    a.zip(b).is_some_and(|(a, b)| {
                        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
                    })
                })
            } else {
                canonical(&ours) == canonical(theirs)
            };
        if !agree {
            let first = ours
                .iter()
                .zip(theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(theirs.len()));
            failures.push(format!(
                "{query}\n  {} rows, DuckDB {}; first difference at row {first}: ours {:?}, DuckDB {:?}",
                ours.len(),
                theirs.len(),
                ours.get(first),
                theirs.get(first)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries disagree with DuckDB:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn explain_shows_the_plan_without_running_it() -> anyhow::Result<()> {
    let host =
        RecordingHost::new().with_dataset("t", vec![("a", ColumnValues::I64(vec![1, 2, 3]))]);
    let catalog = HostCatalog::new(&host);
    let answer = sql::run(
        "EXPLAIN SELECT a, count(*) FROM t WHERE a > 1 GROUP BY a ORDER BY a",
        &catalog,
        &mut Quiet,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(answer.columns, ["plan"]);
    let plan = answer.plan;
    for op in [
        "Sort",
        "HashAggregate",
        "Filter",
        "Scan t columns=[a] rows=3",
    ] {
        assert!(plan.contains(op), "no {op} in\n{plan}");
    }
    assert!(plan.contains("zone_map=[a > 1]"), "{plan}");

    // An inner join builds on its smaller side, by the planner's estimate.
    let host = host.with_dataset("big", vec![("a", ColumnValues::I64((0..100).collect()))]);
    let catalog = HostCatalog::new(&host);
    for (query, build) in [
        (
            "EXPLAIN SELECT count(*) FROM t JOIN big ON t.a = big.a",
            "build: left, smaller: est. 3 vs 100 rows",
        ),
        (
            "EXPLAIN SELECT count(*) FROM big JOIN t ON t.a = big.a",
            "build: right, smaller: est. 3 vs 100 rows",
        ),
        (
            "EXPLAIN SELECT count(*) FROM t LEFT JOIN big ON t.a = big.a",
            "build: right, to keep every left row",
        ),
    ] {
        let plan = sql::run(query, &catalog, &mut Quiet)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .plan;
        assert!(plan.contains(build), "{query}:\n{plan}");
    }
    let answer = sql::run(
        "SELECT count(*) FROM t JOIN big ON t.a = big.a",
        &catalog,
        &mut Quiet,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(answer.table.columns[0].get(0).as_f64(), Some(3.0));
    Ok(())
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let host = RecordingHost::new().with_dataset("t", vec![("a", ColumnValues::I64(vec![1]))]);
    let catalog = HostCatalog::new(&host);
    let error = |q: &str| match sql::run(q, &catalog, &mut Quiet) {
        Ok(_) => panic!("{q} should fail"),
        Err(e) => e.to_string(),
    };
    let parse = error("SELECT a FROM t WHERE");
    assert!(
        parse.contains("bad SQL") && parse.contains("Expected"),
        "{parse}"
    );
    let parse = error("SELECT a FROM t WHER a > 1");
    assert!(parse.contains("Line: 1, Column"), "{parse}");
    assert!(error("SELECT b FROM t").contains("no column 'b'"));
    assert!(error("SELECT a FROM nowhere").contains("POST /api/v1/datasets/nowhere"));
    assert!(error("SELECT a, count(*) FROM t").contains("GROUP BY"));
    assert!(error("SELECT a FROM t WHERE sum(a) > 1").contains("HAVING"));
    assert!(error("DELETE FROM t").contains("only SELECT"));
    assert!(error("SELECT nosuch(a) FROM t").contains("unknown function nosuch"));
    let _ = host.cancelled();
}

#[test]
fn approximate_distinct_counts_stay_within_their_bound() -> anyhow::Result<()> {
    // 200k distinct ids in 1,000 groups of 200 and overall.
    let ids: Vec<i64> = (0..200_000).collect();
    let groups: Vec<i64> = ids.iter().map(|i| i % 1_000).collect();
    let host = RecordingHost::new().with_dataset(
        "t",
        vec![
            ("id", ColumnValues::I64(ids)),
            ("g", ColumnValues::I64(groups)),
        ],
    );
    let catalog = HostCatalog::new(&host);
    let answer = sql::run(
        "SELECT approx_count_distinct(id) AS a, count(DISTINCT id) AS e FROM t",
        &catalog,
        &mut Quiet,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (a, e) = (
        answer.table.columns[0].get(0),
        answer.table.columns[1].get(0),
    );
    let (a, e) = (a.as_f64().context("a")?, e.as_f64().context("e")?);
    assert_eq!(e, 200_000.0);
    // 1.6 % standard error: three of them.
    assert!((a - e).abs() / e < 0.05, "{a} vs {e}");
    let per_group = sql::run(
        "SELECT g, approx_count_distinct(id) AS a FROM t GROUP BY g",
        &catalog,
        &mut Quiet,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(per_group.table.rows, 1_000);
    for i in 0..per_group.table.rows {
        let a = per_group.table.columns[1].get(i).as_f64().context("a")?;
        // Small counts are linear counting (σ ≈ 1.1 % at 200 in 4,096
        // registers); the worst of 1,000 groups lies near 3σ, so allow 5σ.
        assert!((a - 200.0).abs() <= 11.0, "group {i}: {a}");
    }
    Ok(())
}

#[test]
fn approximate_quantiles_stay_within_their_rank_bound() -> anyhow::Result<()> {
    // 300k values, a shuffled permutation of 0..300k (a value is its own
    // rank), in 3 groups; and the same over one of the reference columns.
    let n = 300_000i64;
    let values: Vec<i64> = (0..n).map(|i| (i * 2_654_435_761) % n).collect();
    let groups: Vec<i64> = (0..n).map(|i| i % 3).collect();
    let host = RecordingHost::new().with_dataset(
        "t",
        vec![
            ("v", ColumnValues::I64(values.clone())),
            ("g", ColumnValues::I64(groups)),
        ],
    );
    let catalog = HostCatalog::new(&host);
    for q in [0.05, 0.5, 0.95] {
        let answer = sql::run(
            &format!("SELECT approx_quantile(v, {q}) FROM t"),
            &catalog,
            &mut Quiet,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let got = answer.table.columns[0].get(0).as_f64().context("value")?;
        let rank_error = (got / n as f64 - q).abs();
        assert!(
            rank_error <= weft_analytics::sql::sketch::KLL_RANK_ERROR,
            "q={q}: {got}"
        );
        let per_group = sql::run(
            &format!("SELECT g, approx_quantile(v, {q}) AS a FROM t GROUP BY g ORDER BY g"),
            &catalog,
            &mut Quiet,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        for g in 0..3 {
            let got = per_group.table.columns[1].get(g).as_f64().context("a")?;
            let mut mine: Vec<i64> = values
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as i64 % 3 == g as i64)
                .map(|(_, v)| *v)
                .collect();
            mine.sort_unstable();
            let rank = mine.partition_point(|&v| (v as f64) < got) as f64 / mine.len() as f64;
            assert!(
                (rank - q).abs() <= weft_analytics::sql::sketch::KLL_RANK_ERROR,
                "group {g} q={q}: rank {rank}"
            );
        }
    }
    let bad = sql::run("SELECT approx_quantile(v, 2) FROM t", &catalog, &mut Quiet)
        .err()
        .context("bad q")?;
    assert!(bad.to_string().contains("between 0 and 1"), "{bad}");
    Ok(())
}

#[test]
fn samples_are_seeded_sized_and_within_their_error() -> anyhow::Result<()> {
    let n = 100_000i64;
    let host =
        RecordingHost::new().with_dataset("t", vec![("id", ColumnValues::I64((0..n).collect()))]);
    let catalog = HostCatalog::new(&host);
    let one = |q: &str| -> anyhow::Result<Vec<f64>> {
        let a = sql::run(q, &catalog, &mut Quiet).map_err(|e| anyhow::anyhow!("{q}: {e}"))?;
        Ok(a.table
            .columns
            .iter()
            .map(|c| c.get(0).as_f64().unwrap_or(f64::NAN))
            .collect())
    };
    let q = "SELECT count(*), avg(id) FROM t TABLESAMPLE BERNOULLI (10 PERCENT) REPEATABLE (7)";
    let first = one(q)?;
    assert_eq!(first, one(q)?, "a seed repeats");
    // Count: N·p ± 4σ with σ = √(N·p·(1−p)) = 95; mean: N/2 ± 4·σ/√(N·p).
    assert!((first[0] - 10_000.0).abs() < 4.0 * 95.0, "{first:?}");
    assert!(
        (first[1] - 49_999.5).abs() < 4.0 * 28_868.0 / 100.0,
        "{first:?}"
    );
    let other = one("SELECT count(*) FROM t TABLESAMPLE BERNOULLI (10 PERCENT) REPEATABLE (8)")?;
    assert_ne!(other[0], first[0], "another seed, another sample");
    assert_eq!(
        one("SELECT count(*) FROM t TABLESAMPLE (500 ROWS) REPEATABLE (1)")?[0],
        500.0
    );
    assert_eq!(
        one("SELECT count(*) FROM t TABLESAMPLE (500000 ROWS)")?[0],
        100_000.0
    );
    let plan = sql::run(&format!("EXPLAIN {q}"), &catalog, &mut Quiet)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .plan;
    assert!(plan.contains("Sample bernoulli 10% seed=7"), "{plan}");
    let bad = sql::run(
        "SELECT count(*) FROM t TABLESAMPLE BERNOULLI (150 PERCENT)",
        &catalog,
        &mut Quiet,
    )
    .err()
    .context("150 %")?;
    assert!(bad.to_string().contains("at most 100"), "{bad}");
    Ok(())
}
