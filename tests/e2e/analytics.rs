//! The analytics engine as a wasm component through the real server: the
//! reference datasets uploaded as CSV with their schemas, every DuckDB
//! reference query (`test_data/analytics/make_reference.py`; also run
//! natively in `plugins/analytics/tests/reference.rs`) answered over
//! `POST /api/v1/analytics/sql`, progress on `analyticsQueryProgress`
//! (schema-checked), and bad SQL or a missing dataset answered as the
//! caller's mistake.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_data};

async fn upload(server: &Server, name: &str, schema: &str) -> anyhow::Result<()> {
    let csv = std::fs::read(test_data(&format!("analytics/{name}.csv")))?;
    let (status, body) = server
        .post_raw(
            &format!("/api/v1/datasets/{name}?schema={schema}"),
            "text/csv",
            csv,
        )
        .await?;
    anyhow::ensure!(status == 201, "upload {name}: {status} {body}");
    Ok(())
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn rows_agree(ours: &[Value], theirs: &[Value]) -> bool {
    ours.len() == theirs.len()
        && ours.iter().zip(theirs).all(|(a, b)| {
            a.as_array().zip(b.as_array()).is_some_and(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            })
        })
}

/// Rows in a canonical order (floats rounded for the ordering only), for
/// queries whose order SQL leaves open.
fn sorted(rows: &[Value]) -> Vec<Value> {
    let key = |r: &Value| -> String {
        r.as_array()
            .map(|cells| {
                cells
                    .iter()
                    .map(|c| c.as_f64().map_or(c.to_string(), |f| format!("{f:.6}")))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default()
    };
    let mut rows = rows.to_vec();
    rows.sort_by_key(key);
    rows
}

#[tokio::test]
async fn sql_over_uploaded_datasets_answers_as_duckdb_does() -> anyhow::Result<()> {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/reference.json",
    ))?)?;
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    let server = Server::start(&[])?;
    for name in ["readings", "sensors"] {
        upload(&server, name, schemas[name].as_str().context("schema")?).await?;
    }
    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "p",
        "subscription { analyticsQueryProgress(queryId: \"watched\") { queryId rowsProcessed totalRows progressPct } }",
    )
    .await?;

    let mut failures = Vec::new();
    let cases = reference["cases"].as_array().context("cases")?;
    for case in cases {
        let query = case["sql"].as_str().context("sql")?;
        let (status, answer) = server
            .post("/api/v1/analytics/sql", &json!({"query": query}))
            .await?;
        if status != 200 {
            failures.push(format!("{query}\n  {status} {answer}"));
            continue;
        }
        let theirs = case["rows"].as_array().context("rows")?;
        let ours = answer["rows"].as_array().context("rows")?;
        let agree = answer["columns"] == case["columns"]
            && answer["row_count"].as_u64() == Some(theirs.len() as u64)
            && if case["ordered"] == true {
                rows_agree(ours, theirs)
            } else {
                rows_agree(&sorted(ours), &sorted(theirs))
            };
        if !agree {
            failures.push(format!("{query}\n  ours {answer}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries disagree with DuckDB:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // A named query's scan progress reaches its subscription.
    let (status, answer) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": "SELECT sum(value) FROM readings", "query_id": "watched"}),
        )
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["query_id"], "watched");
    assert_eq!(answer["rows_scanned"], 3000);
    let next = gql.recv().await?;
    let progress = &next["payload"]["data"]["analyticsQueryProgress"];
    assert_eq!(progress["queryId"], "watched", "{next}");
    assert_eq!(progress["rowsProcessed"], 3000, "{next}");
    assert_eq!(progress["progressPct"], 100.0, "{next}");
    Ok(())
}

#[tokio::test]
async fn queries_run_as_jobs_and_mistakes_are_the_callers() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    upload(
        &server,
        "sensors",
        schemas["sensors"].as_str().context("schema")?,
    )
    .await?;
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    ws.send(&json!({"type": "subscribe", "id": "q", "topics": ["analytics.query"]}))
        .await?;
    assert_eq!(ws.recv().await?["type"], "subscribed");

    // As a job, with its progress on the family topic.
    let job = server
        .run_job(
            "analytics",
            "sql",
            json!({"query": "SELECT kind, count(*) AS n FROM sensors GROUP BY kind ORDER BY n DESC, kind", "max_rows": 2}),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(result["row_count"], 4, "{job}");
    assert_eq!(result["truncated"], true);
    assert_eq!(result["rows"], json!([["humid", 2], ["pressure", 2]]));
    assert_eq!(result["types"], json!(["VARCHAR", "BIGINT"]));
    let seen = ws.recv_until(|m| m["kind"] == "query_progress").await?;
    let event = seen.last().context("a query_progress event")?;
    weft_tests::schemas::check_event("analytics", event)?;
    assert_eq!(event["data"]["rows_processed"], 7);

    // EXPLAIN answers the plan.
    let (status, plan) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": "EXPLAIN SELECT kind FROM sensors WHERE threshold > 30"}),
        )
        .await?;
    assert_eq!(status, 200, "{plan}");
    let text = plan["plan"].as_str().unwrap_or_default();
    assert!(
        text.contains("Filter") && text.contains("Scan sensors columns=[kind, threshold]"),
        "{text}"
    );

    // Mistakes: bad SQL says where, a missing dataset or column is named.
    for (query, status, needle) in [
        (
            "SELECT kind FROM sensors WHER threshold > 1",
            422,
            "Line: 1, Column",
        ),
        (
            "SELECT kind FROM nowhere",
            404,
            "POST /api/v1/datasets/nowhere",
        ),
        ("SELECT colour FROM sensors", 422, "no column 'colour'"),
        ("DROP TABLE sensors", 422, "only SELECT"),
    ] {
        let (got, body) = server
            .post("/api/v1/analytics/sql", &json!({"query": query}))
            .await?;
        assert_eq!(got, status, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{query}: {body}");
    }
    let (got, body) = server
        .post("/api/v1/analytics/sql", &json!({"sql": "SELECT 1"}))
        .await?;
    assert_eq!(got, 422, "{body}");
    Ok(())
}

fn ops_reference() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/ops_reference.json",
    ))?)?)
}

/// Messages until one of `kind` (an event) or a failed result.
async fn until_event(ws: &mut WsClient, kind: &str) -> anyhow::Result<Vec<Value>> {
    let mut seen = Vec::new();
    loop {
        let m = ws.recv().await?;
        anyhow::ensure!(
            !(m["type"] == "result" && m["state"] != "succeeded"),
            "the request failed: {m}"
        );
        let done = m["kind"] == kind;
        seen.push(m);
        if done {
            return Ok(seen);
        }
    }
}

#[tokio::test]
async fn profiles_cubes_and_series_over_their_websocket_endpoints() -> anyhow::Result<()> {
    let reference = ops_reference()?;
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    let server = Server::start(&[])?;
    upload(
        &server,
        "readings",
        schemas["readings"].as_str().context("schema")?,
    )
    .await?;
    for name in ["messy", "series"] {
        upload(
            &server,
            name,
            reference["schemas"][name].as_str().context("schema")?,
        )
        .await?;
    }

    // Profiling: a profiling_update per column, then profiling_complete.
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/analytics/profiling"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["topics"], json!(["analytics.profiling"]));
    ws.send(&json!({"type": "profiling_request", "request_id": "p1",
        "params": {"dataset": "messy", "profile_id": "messy-1"}}))
        .await?;
    let seen = until_event(&mut ws, "profiling_complete").await?;
    let updates: Vec<&Value> = seen
        .iter()
        .filter(|m| m["kind"] == "profiling_update")
        .collect();
    assert_eq!(updates.len(), 5, "{seen:?}");
    for m in seen.iter().filter(|m| {
        m["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("profiling_"))
    }) {
        weft_tests::schemas::check_event("analytics", m)?;
    }
    for (update, theirs) in updates
        .iter()
        .zip(reference["profiles"]["messy"].as_array().context("messy")?)
    {
        let ours = &update["data"]["profile"];
        assert_eq!(ours["column"], theirs["column"]);
        assert_eq!(ours["inferred_type"], theirs["inferred_type"], "{ours}");
        assert_eq!(ours["distinct_count"], theirs["distinct_count"], "{ours}");
        assert_eq!(ours["most_common"], theirs["most_common"], "{ours}");
    }

    // OLAP: a move per request, each answered as olap_result.
    let mut ws = WsClient::connect(&server.ws_url("/api/v1/ws/analytics/olap"), None)
        .await?
        .validating("ws");
    assert_eq!(ws.recv().await?["type"], "welcome");
    assert_eq!(ws.recv().await?["type"], "subscribed");
    let case = &reference["olap"][3];
    let mut params = case["request"].clone();
    params["cube"] = reference["cube"].clone();
    ws.send(&json!({"type": "olap_request", "request_id": "o1", "params": params}))
        .await?;
    let seen = until_event(&mut ws, "olap_result").await?;
    let event = seen.last().context("olap_result")?;
    weft_tests::schemas::check_event("analytics", event)?;
    assert_eq!(event["data"]["at"], case["at"]);
    assert!(
        rows_agree(
            event["data"]["rows"].as_array().context("rows")?,
            case["rows"].as_array().context("rows")?
        ),
        "{event}"
    );
    assert!(event["data"]["processing_time_ms"].as_f64().is_some());

    // Time series through REST; flagged points reach the subscription.
    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "a",
        "subscription { analyticsTimeseriesAlerts(metricName: \"load\") { metricName index severity score expectedValue } }",
    )
    .await?;
    let case = &reference["timeseries"][0];
    let mut params = case["params"].clone();
    for (k, v) in [
        ("dataset", "series"),
        ("time_column", "at"),
        ("value_column", "load"),
        ("metric_name", "load"),
    ] {
        params[k] = json!(v);
    }
    let (status, answer) = server.post("/api/v1/analytics/timeseries", &params).await?;
    assert_eq!(status, 200, "{answer}");
    let trend = answer["decomposition"]["components"]["trend"]
        .as_array()
        .context("trend")?;
    let theirs = case["trend"].as_array().context("trend")?;
    assert_eq!(trend.len(), theirs.len());
    for (a, b) in trend.iter().zip(theirs) {
        let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(0.0));
        assert!((a - b).abs() < 1e-6, "trend {a} vs statsmodels {b}");
    }
    let alert = gql.recv().await?;
    let alert = &alert["payload"]["data"]["analyticsTimeseriesAlerts"];
    assert_eq!(alert["metricName"], "load", "{alert}");
    assert_eq!(alert["index"], case["anomalies"][0], "{alert}");

    // Mistakes in a cube are the caller's, and name what exists.
    let (status, body) = server
        .post(
            "/api/v1/analytics/olap",
            &json!({"cube": reference["cube"],
            "action": {"type": "slice", "level": "planet", "value": "mars"}}),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no level 'planet'"),
        "{body}"
    );
    Ok(())
}

/// Cache events of `seen`, in order.
fn cache_kinds(seen: &[Value]) -> Vec<String> {
    seen.iter()
        .filter(|m| m["kind"] == "cache_event")
        .filter_map(|m| m["data"]["event"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_cache_and_the_workload_are_watched_over_their_endpoints() -> anyhow::Result<()> {
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    let schema = schemas["readings"].as_str().context("schema")?;
    let server = Server::start(&[])?;
    upload(&server, "readings", schema).await?;
    let mut cache = WsClient::connect(&server.ws_url("/api/v1/ws/analytics/cache"), None)
        .await?
        .validating("ws");
    assert_eq!(cache.recv().await?["type"], "welcome");
    assert_eq!(cache.recv().await?["topics"], json!(["analytics.cache"]));

    // A repeated query hits; an upload to its dataset invalidates it.
    let query = json!({"query": "SELECT region, avg(value) AS mean FROM readings GROUP BY region ORDER BY region"});
    let (_, first) = server.post("/api/v1/analytics/sql", &query).await?;
    assert_eq!(first["cache"], "miss", "{first}");
    let (_, second) = server.post("/api/v1/analytics/sql", &query).await?;
    assert_eq!(second["cache"], "hit", "{second}");
    assert_eq!(second["rows"], first["rows"]);
    let seen = cache.recv_until(|m| m["data"]["event"] == "hit").await?;
    assert_eq!(cache_kinds(&seen), ["miss", "update", "hit"]);
    let deleted = reqwest::Client::new()
        .delete(server.url("/api/v1/datasets/readings"))
        .send()
        .await?;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    upload(&server, "readings", schema).await?;
    let (_, third) = server.post("/api/v1/analytics/sql", &query).await?;
    assert_eq!(
        third["cache"], "miss",
        "the same rows uploaded anew are a new version: {third}"
    );
    let seen = cache
        .recv_until(|m| m["data"]["event"] == "invalidation")
        .await?;
    let invalidation = seen.last().context("invalidation")?;
    assert_eq!(invalidation["data"]["dataset"], "readings");
    // Hit-rate figures on request.
    cache
        .send(&json!({"type": "cache_request", "request_id": "c1"}))
        .await?;
    let seen = cache.recv_until(|m| m["data"]["event"] == "stats").await?;
    let stats = &seen.last().context("stats")?["data"];
    assert_eq!(
        (stats["hits"].as_u64(), stats["misses"].as_u64()),
        (Some(1), Some(2)),
        "{stats}"
    );
    for m in seen
        .iter()
        .chain([invalidation])
        .filter(|m| m["kind"] == "cache_event")
    {
        weft_tests::schemas::check_event("analytics", m)?;
    }

    // Filtered queries, then a workload analysis over its endpoint, with
    // recommendations live on GraphQL.
    for region in ["north", "south", "north", "west"] {
        let q = format!("SELECT count(*) FROM readings WHERE region = '{region}'");
        let (status, body) = server
            .post("/api/v1/analytics/sql", &json!({"query": q}))
            .await?;
        assert_eq!(status, 200, "{body}");
    }
    let mut gql = server.graphql_ws().await?;
    gql.subscribe_graphql(
        "w",
        "subscription { workloadRecommendations { recommendationType target reason improvementPct measured } }",
    )
    .await?;
    let mut workload = WsClient::connect(&server.ws_url("/api/v1/ws/analytics/workload"), None)
        .await?
        .validating("ws");
    assert_eq!(workload.recv().await?["type"], "welcome");
    assert_eq!(workload.recv().await?["type"], "subscribed");
    workload
        .send(&json!({"type": "workload_request", "request_id": "w1", "params": {"analysis_id": "w1"}}))
        .await?;
    let seen = until_event(&mut workload, "workload_complete").await?;
    for m in seen.iter().filter(|m| {
        m["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("workload_"))
    }) {
        weft_tests::schemas::check_event("analytics", m)?;
    }
    let recommendation = seen
        .iter()
        .find(|m| {
            m["kind"] == "workload_recommendation"
                && m["data"]["recommendation_type"] == "partition"
        })
        .context("a partition recommendation")?;
    assert_eq!(
        recommendation["data"]["target"], "readings.region",
        "{recommendation}"
    );
    assert_eq!(recommendation["data"]["measured"], true);
    let live = gql.recv().await?;
    let live = &live["payload"]["data"]["workloadRecommendations"];
    assert!(
        live["recommendationType"].is_string() && live["improvementPct"].is_number(),
        "{live}"
    );
    Ok(())
}

/// Zone maps: a filter on a column the data is sorted by reads only the
/// chunks whose min/max can match, and answers exactly as a full scan.
#[tokio::test]
async fn zone_maps_skip_the_chunks_a_filter_rules_out() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut csv = String::from("id,reading\n");
    for id in 1..=200_000u64 {
        csv.push_str(&format!("{id},{}\n", id % 97));
    }
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/big?schema=id:i64,reading:i64",
            "text/csv",
            csv.into_bytes(),
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    let query = "SELECT count(*) AS n, sum(reading) AS s FROM big WHERE id > 190000";
    let (status, answer) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": query, "cache": false}),
        )
        .await?;
    assert_eq!(status, 200, "{answer}");
    // Ids 190001..=200000 by arithmetic: 10,000 rows, their readings summed.
    let expected: u64 = (190_001..=200_000u64).map(|id| id % 97).sum();
    assert_eq!(answer["rows"], json!([[10_000, expected]]), "{answer}");
    // 65,536-row chunks: the first two hold ids up to 131,072 and are not read.
    assert_eq!(answer["rows_skipped"], 131_072, "{answer}");
    assert_eq!(answer["rows_scanned"], 200_000 - 131_072);
    let (_, plan) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": format!("EXPLAIN {query}")}),
        )
        .await?;
    assert!(
        plan["plan"]
            .as_str()
            .unwrap_or_default()
            .contains("zone_map=[id > 190000]"),
        "{plan}"
    );
    // A filter no chunk can pass reads nothing and keeps the column types.
    let (_, none) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": "SELECT id FROM big WHERE id < 0", "cache": false}),
        )
        .await?;
    assert_eq!(
        (none["row_count"].as_u64(), none["rows_skipped"].as_u64()),
        (Some(0), Some(200_000)),
        "{none}"
    );
    assert_eq!(none["types"], json!(["BIGINT"]));
    Ok(())
}

/// A query that would need more memory than the sandbox gives fails its
/// own job with `memory_limit`; the server answers the next query.
#[tokio::test]
async fn a_query_past_the_memory_cap_fails_alone() -> anyhow::Result<()> {
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    let server = Server::start(&["--max-memory-mib", "64"])?;
    upload(
        &server,
        "readings",
        schemas["readings"].as_str().context("schema")?,
    )
    .await?;
    // 3,000² = 9M joined rows, each side's columns gathered: far past 64 MiB.
    let job = server
        .run_job(
            "analytics",
            "sql",
            json!({"query": "SELECT count(*) AS n, sum(a.value + b.value) AS s FROM readings a CROSS JOIN readings b", "cache": false}),
        )
        .await?;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "memory_limit", "{job}");
    let (status, answer) = server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": "SELECT count(*) AS n FROM readings"}),
        )
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"], json!([[3000]]));
    Ok(())
}
