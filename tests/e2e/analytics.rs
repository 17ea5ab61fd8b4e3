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
