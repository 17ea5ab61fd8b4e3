//! UDF plugins hot-loaded into a running server and called by name from
//! the analytics engine's SQL: `tests/plugins/udfs` (world
//! `weft:udf/scalar-plugin`) answers the same values DuckDB's built-ins do
//! (`test_data/analytics/make_udf_reference.py`), in projections and in
//! GROUP BY, over 3,000 rows; a function that answers the wrong length or
//! type, or panics, fails only the query that called it; a second plugin
//! bringing the same name is refused; unloading makes the name unknown.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, test_data, test_plugin};

async fn sql(server: &Server, query: &str) -> anyhow::Result<(u16, Value)> {
    server
        .post(
            "/api/v1/analytics/sql",
            &json!({"query": query, "max_rows": 5000}),
        )
        .await
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

async fn started() -> anyhow::Result<Server> {
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/schemas.json",
    ))?)?;
    let schema = schemas["readings"].as_str().context("schema")?;
    let server = Server::start(&[])?;
    let csv = std::fs::read(test_data("analytics/readings.csv"))?;
    let (status, body) = server
        .post_raw(
            &format!("/api/v1/datasets/readings?schema={schema}"),
            "text/csv",
            csv,
        )
        .await?;
    anyhow::ensure!(status == 201, "upload: {status} {body}");
    let (status, body) = server.load_plugin("udfs", &test_plugin("udfs")).await?;
    anyhow::ensure!(status == 201, "load udfs: {status} {body}");
    Ok(server)
}

#[tokio::test]
async fn hot_loaded_functions_answer_what_duckdb_does() -> anyhow::Result<()> {
    let server = started().await?;
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "analytics/udf_reference.json",
    ))?)?;

    let (_, plugins) = server.get("/api/v1/plugins").await?;
    let udfs = plugins["plugins"]
        .as_array()
        .or(plugins.as_array())
        .and_then(|all| all.iter().find(|p| p["name"] == "udfs"))
        .cloned()
        .context("udfs listed")?;
    assert_eq!(udfs["world"], "weft:udf/scalar-plugin@0.1.0", "{udfs}");
    let names: Vec<&str> = udfs["functions"]
        .as_array()
        .context("functions")?
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fahrenheit") && names.contains(&"slug"),
        "{names:?}"
    );

    let (status, answer) = sql(
        &server,
        "SELECT id, fahrenheit(value) AS f, root(value) AS r, slug(region || ' / ' || sensor) AS s FROM readings ORDER BY id",
    )
    .await?;
    assert_eq!(status, 200, "{answer}");
    let ours = answer["rows"].as_array().context("rows")?;
    let theirs = reference["rows"].as_array().context("reference rows")?;
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        let (a, b) = (a.as_array().context("row")?, b.as_array().context("row")?);
        assert!(
            a.iter().zip(b).all(|(x, y)| close(x, y)),
            "ours {a:?} vs DuckDB {b:?}"
        );
    }

    // In GROUP BY, and alongside the built-ins it mirrors.
    let (status, grouped) = sql(
        &server,
        "SELECT slug(region || ' / ' || sensor) AS s, count(*) AS n FROM readings GROUP BY 1 ORDER BY 1 NULLS FIRST",
    )
    .await?;
    assert_eq!(status, 200, "{grouped}");
    assert_eq!(grouped["rows"], reference["by_slug"]);

    let (_, plan) = sql(&server, "EXPLAIN SELECT fahrenheit(value) FROM readings").await?;
    let text = plan["rows"].to_string();
    assert!(text.contains("fahrenheit(value)"), "{text}");

    // Integers widen to the declared float64; a text argument is refused.
    let (status, widened) = sql(&server, "SELECT fahrenheit(100) AS f").await?;
    assert_eq!(
        (status, &widened["rows"]),
        (200, &json!([[212.0]])),
        "{widened}"
    );
    let (status, body) = sql(&server, "SELECT fahrenheit(sensor) FROM readings").await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CAST"),
        "{body}"
    );
    let (status, body) = sql(&server, "SELECT fahrenheit(value, value) FROM readings").await?;
    assert_eq!(status, 422, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_lying_or_panicking_function_fails_only_its_query() -> anyhow::Result<()> {
    let server = started().await?;
    for (function, says) in [
        ("bad_length", "answered 2999 values for 3000 rows"),
        ("bad_type", "answered text values; it declares float64"),
        ("bad_panic", "bad_panic was called"),
    ] {
        let (status, body) =
            sql(&server, &format!("SELECT {function}(value) FROM readings")).await?;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!((400..500).contains(&status), "{function}: {status} {body}");
        assert!(message.contains(says), "{function}: {message}");
        // The next query, and the next call of a good function, still work.
        let (status, body) = sql(&server, "SELECT sum(fahrenheit(value)) FROM readings").await?;
        assert_eq!(status, 200, "after {function}: {body}");
    }

    // A job on a UDF plugin says what it is for.
    let (status, body) = server
        .post(
            "/api/v1/jobs",
            &json!({"engine": "udfs", "op": "anything", "params": {}}),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("a UDF plugin runs no jobs"),
        "{body}"
    );

    // Another plugin bringing the same names is refused; the first stays.
    let (status, body) = server
        .load_plugin("udfs-again", &test_plugin("udfs"))
        .await?;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(
        body.to_string()
            .contains("already brought by plugin 'udfs'"),
        "{body}"
    );

    // Unloaded, the name is unknown again.
    let (status, _) = server.delete("/api/v1/plugins/udfs").await?;
    assert_eq!(status, 200);
    let (status, body) = sql(&server, "SELECT fahrenheit(value) FROM readings").await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("unknown function fahrenheit()"),
        "{body}"
    );
    Ok(())
}
