//! The engine's kept state through its operations, natively over a
//! recording host: a repeated query is served from the cache until its
//! dataset is replaced; a log of filtered queries yields measured
//! partition and index recommendations whose figures match what SQL
//! counts; a materialized view answers the query it defines and is
//! recomputed when its input changes.

mod common;

use anyhow::Context;
use common::{data, invoke, load};
use serde_json::{Value, json};
use weft_sdk::{Recorded, RecordingHost};

fn readings() -> anyhow::Result<RecordingHost> {
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(data("schemas.json"))?)?;
    let host = RecordingHost::new();
    load(
        &host,
        "readings",
        schemas["readings"].as_str().context("schema")?,
    )?;
    Ok(host)
}

fn cache_events(host: &RecordingHost) -> Vec<String> {
    host.calls()
        .into_iter()
        .filter_map(|c| match c {
            Recorded::Event { kind, data, .. } if kind == "cache_event" => {
                data["event"].as_str().map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_repeated_query_is_served_until_its_dataset_changes() -> anyhow::Result<()> {
    let host = readings()?;
    let q = json!({"query": "SELECT region, count(*) AS n FROM readings GROUP BY region ORDER BY region"});
    let first = invoke(&host, "sql", &q)?;
    assert_eq!(first["cache"], "miss");
    // Another spelling of the same query shares the answer.
    let again = invoke(
        &host,
        "sql",
        &json!({"query": "SELECT region,  count(*) AS n\nFROM readings GROUP BY region ORDER BY region;"}),
    )?;
    assert_eq!(again["cache"], "hit", "{again}");
    assert_eq!(again["rows"], first["rows"]);
    assert_eq!(again["rows_scanned"], 0);
    assert_eq!(cache_events(&host), ["miss", "update", "hit"]);

    // Replacing the dataset (same rows) invalidates the answer.
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(data("schemas.json"))?)?;
    load_replacing(&host, schemas["readings"].as_str().context("schema")?)?;
    let after = invoke(&host, "sql", &q)?;
    assert_eq!(after["cache"], "miss");
    assert_eq!(cache_events(&host)[3], "invalidation");
    assert_eq!(
        invoke(&host, "sql", &json!({"query": q["query"], "cache": false}))?["cache"],
        "off"
    );

    let stats = invoke(&host, "cache_stats", &json!({}))?;
    assert_eq!(
        (
            stats["hits"].as_u64(),
            stats["misses"].as_u64(),
            stats["invalidations"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["hit_rate"], 1.0 / 3.0);
    assert_eq!(stats["entries"], 1);
    assert_eq!(invoke(&host, "cache_clear", &json!({}))?["cleared"], 1);
    Ok(())
}

/// Writes `readings` again over the recording host (a new version).
fn load_replacing(host: &RecordingHost, schema: &str) -> anyhow::Result<()> {
    use weft_sdk::Host;
    let shape = host
        .dataset_shape("readings")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let columns = host.dataset("readings").context("dataset")?;
    let kinds: Vec<(String, weft_sdk::ColumnKind)> = schema
        .split(',')
        .map(|f| {
            let (n, t) = f.split_once(':').unwrap_or((f, "string"));
            let kind = match t {
                "i64" => weft_sdk::ColumnKind::I64,
                "f64" => weft_sdk::ColumnKind::F64,
                "bool" => weft_sdk::ColumnKind::Bool,
                "timestamp" => weft_sdk::ColumnKind::Timestamp,
                _ => weft_sdk::ColumnKind::Text,
            };
            (n.to_owned(), kind)
        })
        .collect();
    let mut writer = host
        .create_dataset("readings", &kinds, true)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    writer
        .append(columns.into_iter().map(|(_, c)| c).collect())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    writer.commit().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert_ne!(
        host.dataset_shape("readings")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .version,
        shape.version
    );
    Ok(())
}

#[test]
fn the_log_yields_measured_recommendations() -> anyhow::Result<()> {
    let host = readings()?;
    for region in ["north", "south", "north", "north"] {
        invoke(
            &host,
            "sql",
            &json!({"query": format!("SELECT avg(value) FROM readings WHERE region = '{region}'"), "cache": false}),
        )?;
    }
    for low in [40, 45, 42] {
        invoke(
            &host,
            "sql",
            &json!({"query": format!("SELECT count(*) FROM readings WHERE value > {low}")}),
        )?;
    }
    let report = invoke(&host, "workload", &json!({"analysis_id": "w1"}))?;
    assert_eq!(report["queries"], 7);
    assert_eq!(report["patterns"][0]["count"], 4, "{report}");
    assert_eq!(
        report["patterns"][0]["shape"],
        "select avg ( value ) from readings where region = ?"
    );
    let recs = report["recommendations"]
        .as_array()
        .context("recommendations")?;
    let find = |kind: &str| recs.iter().find(|r| r["recommendation_type"] == kind);

    // Partition by region: what it saves is what SQL counts.
    let partition = find("partition").context("a partition recommendation")?;
    assert_eq!(partition["target"], "readings.region");
    // The latest filter is measured (queries finishing in the same
    // millisecond are in no particular order): count what it keeps.
    let filter = partition["evidence"]["measured_filter"]
        .as_str()
        .context("measured_filter")?;
    assert!(
        ["region = 'north'", "region = 'south'"].contains(&filter),
        "{partition}"
    );
    let counted = invoke(
        &host,
        "sql",
        &json!({"query": format!("SELECT count(*) FROM readings WHERE {filter}"), "cache": false}),
    )?;
    let kept = counted["rows"][0][0].as_f64().context("count")?;
    let improvement = partition["improvement_pct"].as_f64().context("pct")?;
    assert!(
        (improvement - (1.0 - kept / 3000.0) * 100.0).abs() < 1e-9,
        "{partition}"
    );
    assert_eq!(partition["evidence"]["distinct_values"], 4);
    assert_eq!(partition["measured"], true);

    // A sort order (zone maps) for value, filtered by range.
    let index = find("index").context("an index recommendation")?;
    assert_eq!(index["target"], "readings.value");
    // The latest filter is measured (queries finishing in the same
    // millisecond are in no particular order).
    let measured = index["evidence"]["measured_filter"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["value > 40", "value > 45", "value > 42"].contains(&measured),
        "{index}"
    );
    // The one query repeated with the cache off.
    let cache = find("cache").context("a cache recommendation")?;
    assert!(
        cache["target"]
            .as_str()
            .unwrap_or_default()
            .contains("'north'"),
        "{cache}"
    );
    assert!(
        cache["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("\"cache\": true")
    );
    Ok(())
}

fn rows_of(answer: &Value) -> Value {
    answer["rows"].clone()
}

#[test]
fn a_materialized_view_answers_its_query_and_follows_its_input() -> anyhow::Result<()> {
    let host = readings()?;
    let define = "SELECT region, count(*) AS n, avg(value) AS mean FROM readings GROUP BY region";
    let direct = invoke(
        &host,
        "sql",
        &json!({"query": format!("{define} ORDER BY region"), "cache": false}),
    )?;
    assert!(direct.get("materialized_view").is_none());
    let created = invoke(
        &host,
        "sql",
        &json!({"query": format!("CREATE MATERIALIZED VIEW by_region AS {define}")}),
    )?;
    assert_eq!(
        created["rows"],
        json!([["by_region", "created", 5]]),
        "{created}"
    );

    // Read as a dataset, and the defining query (plus ORDER BY) rewritten to it.
    let read = invoke(
        &host,
        "sql",
        &json!({"query": "SELECT * FROM by_region ORDER BY region", "cache": false}),
    )?;
    assert_eq!(rows_of(&read), rows_of(&direct));
    let rewritten = invoke(
        &host,
        "sql",
        &json!({"query": format!("{define} ORDER BY region"), "cache": false}),
    )?;
    assert_eq!(rewritten["materialized_view"], "by_region", "{rewritten}");
    assert_eq!(rows_of(&rewritten), rows_of(&direct));
    assert_eq!(rewritten["rows_scanned"], 5, "five stored rows, not 3,000");

    // Its input replaced: the next query naming it recomputes it first.
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(data("schemas.json"))?)?;
    load_replacing(&host, schemas["readings"].as_str().context("schema")?)?;
    let listed = invoke(&host, "views", &json!({}))?;
    assert_eq!(listed["views"][0]["current"], false);
    let again = invoke(
        &host,
        "sql",
        &json!({"query": "SELECT n FROM by_region WHERE region = 'north'"}),
    )?;
    assert_eq!(again["views_refreshed"], json!(["by_region"]), "{again}");
    assert_eq!(
        invoke(&host, "views", &json!({}))?["views"][0]["current"],
        true
    );

    // Mistakes, refresh and drop.
    let err = invoke(
        &host,
        "sql",
        &json!({"query": format!("CREATE MATERIALIZED VIEW by_region AS {define}")}),
    )
    .err()
    .context("exists")?;
    assert!(err.to_string().contains("CREATE OR REPLACE"), "{err}");
    let refreshed = invoke(
        &host,
        "sql",
        &json!({"query": "REFRESH MATERIALIZED VIEW by_region"}),
    )?;
    assert_eq!(refreshed["rows"][0][1], "refreshed");
    invoke(
        &host,
        "sql",
        &json!({"query": "DROP MATERIALIZED VIEW by_region"}),
    )?;
    let gone = invoke(
        &host,
        "sql",
        &json!({"query": "SELECT * FROM by_region", "cache": false}),
    )
    .err()
    .context("dropped")?;
    assert!(
        gone.to_string().contains("no dataset 'by_region'"),
        "{gone}"
    );
    let plain = invoke(
        &host,
        "sql",
        &json!({"query": format!("CREATE VIEW v AS {define}")}),
    )
    .err()
    .context("plain view")?;
    assert!(
        plain.to_string().contains("only materialized views"),
        "{plain}"
    );
    Ok(())
}

#[test]
fn a_sampled_answer_says_how_to_scale_it() -> anyhow::Result<()> {
    let host = readings()?;
    let answer = invoke(
        &host,
        "sql",
        &json!({"query": "SELECT count(*) AS n FROM readings TABLESAMPLE BERNOULLI (20 PERCENT) REPEATABLE (3)"}),
    )?;
    let sample = &answer["samples"][0];
    assert_eq!(sample["dataset"], "readings");
    assert_eq!(sample["rows_in"], 3000);
    assert_eq!(sample["rows_kept"], answer["rows"][0][0]);
    assert_eq!(sample["scale"], 5.0);
    let error = sample["count_relative_error"].as_f64().context("error")?;
    assert!((error - (0.8f64 / 600.0).sqrt()).abs() < 1e-12, "{sample}");
    Ok(())
}
