//! The `profile`, `olap` and `timeseries` operations run natively over
//! the committed datasets and compared with what DuckDB, statsmodels,
//! pandas and numpy answered (`test_data/analytics/make_ops_reference.py`,
//! `ops_reference.json`): exact counts and keys, floats to 1e-9 relative,
//! STL components to 1e-6 absolute.

mod common;

use anyhow::Context;
use common::{data, invoke, load};
use serde_json::{Value, json};
use weft_sdk::{Recorded, RecordingHost};

fn reference() -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(data(
        "ops_reference.json",
    ))?)?)
}

fn host(reference: &Value) -> anyhow::Result<RecordingHost> {
    let schemas: Value = serde_json::from_str(&std::fs::read_to_string(data("schemas.json"))?)?;
    let host = RecordingHost::new();
    load(
        &host,
        "readings",
        schemas["readings"].as_str().context("schema")?,
    )?;
    for name in ["messy", "series"] {
        load(
            &host,
            name,
            reference["schemas"][name].as_str().context("schema")?,
        )?;
    }
    Ok(host)
}

fn close(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= tolerance * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

fn all_close(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| all_close(p, q, tolerance))
        }
        _ => close(a, b, tolerance),
    }
}

fn micros(v: &Value) -> Option<f64> {
    v.as_str()
        .and_then(weft_analytics::value::parse_timestamp)
        .map(|t| t as f64)
}

#[test]
fn profiles_agree_with_duckdb() -> anyhow::Result<()> {
    let reference = reference()?;
    let host = host(&reference)?;
    let mut checked = 0;
    for dataset in ["readings", "messy"] {
        let ours = invoke(
            &host,
            "profile",
            &json!({"dataset": dataset, "profile_id": dataset}),
        )?;
        let theirs = reference["profiles"][dataset]
            .as_array()
            .context("profiles")?;
        let columns = ours["columns"].as_array().context("columns")?;
        assert_eq!(columns.len(), theirs.len(), "{dataset}");
        for (p, r) in columns.iter().zip(theirs) {
            let what = format!("{dataset}.{}", r["column"]);
            for field in [
                "column",
                "rows",
                "null_count",
                "distinct_count",
                "min",
                "max",
                "most_common",
            ] {
                assert_eq!(p[field], r[field], "{what} {field}");
            }
            assert!(
                close(&p["quality"]["completeness"], &r["completeness"], 1e-12),
                "{what}"
            );
            assert!(
                close(&p["quality"]["uniqueness"], &r["uniqueness"], 1e-12),
                "{what}"
            );
            if let Some(kind) = r.get("inferred_type") {
                assert_eq!(&p["inferred_type"], kind, "{what}");
                assert!(
                    close(&p["quality"]["validity"], &r["validity"], 1e-12),
                    "{what}"
                );
            }
            for field in ["mean", "stddev"] {
                if let Some(v) = r.get(field) {
                    assert!(
                        close(&p[field], v, 1e-9),
                        "{what} {field}: {} vs {v}",
                        p[field]
                    );
                }
            }
            if let Some(qs) = r["quantiles_numeric"].as_array() {
                for (q, theirs) in p["quantiles"]
                    .as_array()
                    .context("quantiles")?
                    .iter()
                    .zip(qs)
                {
                    let ours = q["value"].as_f64().or_else(|| micros(&q["value"]));
                    let theirs = theirs.as_f64().context("quantile")?;
                    // Timestamps: ours is rounded to the microsecond.
                    let ok = ours
                        .is_some_and(|o| (o - theirs).abs() <= 1e-9 * theirs.abs().max(1.0) + 0.5);
                    assert!(ok, "{what} quantile {}: {ours:?} vs {theirs}", q["q"]);
                }
                let counts: Vec<Value> = p["histogram"]
                    .as_array()
                    .context("histogram")?
                    .iter()
                    .map(|b| b["count"].clone())
                    .collect();
                assert_eq!(
                    Value::Array(counts),
                    r["histogram_counts"],
                    "{what} histogram"
                );
            }
            // The sketch is within 3 of its standard errors.
            let exact = p["distinct_count"].as_f64().context("distinct")?;
            let estimate = p["approx_distinct"]["estimate"]
                .as_f64()
                .context("estimate")?;
            assert!(
                (estimate - exact).abs() <= 3.0 * 0.01625 * exact + 1.0,
                "{what} HLL"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);

    // One profiling_update per column, then profiling_complete.
    let kinds: Vec<String> = host
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Recorded::Event { kind, data, .. } if data["profile_id"] == "messy" => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds.len(), 6);
    assert_eq!(kinds.last().map(String::as_str), Some("profiling_complete"));
    Ok(())
}

#[test]
fn olap_moves_land_where_duckdb_says() -> anyhow::Result<()> {
    let reference = reference()?;
    let host = host(&reference)?;
    for case in reference["olap"].as_array().context("olap")? {
        let mut params = case["request"].clone();
        params["cube"] = reference["cube"].clone();
        let ours = invoke(&host, "olap", &params)?;
        let what = case["what"].as_str().unwrap_or_default();
        assert_eq!(ours["at"], case["at"], "{what}: view");
        assert_eq!(ours["filters"], case["filters"], "{what}: filters");
        assert_eq!(ours["columns"], case["columns"], "{what}: columns");
        assert!(
            all_close(&ours["rows"], &case["rows"], 1e-9),
            "{what}:\n ours {}\n duckdb {}\n sql {}",
            ours["rows"],
            case["rows"],
            ours["sql"]
        );
    }
    let case = &reference["pivot"];
    let mut params = case["request"].clone();
    params["cube"] = reference["cube"].clone();
    let ours = invoke(&host, "olap", &params)?;
    let pivot = &ours["pivot"];
    assert_eq!(pivot["row_keys"], case["pivot"]["row_keys"]);
    assert_eq!(pivot["column_keys"], case["pivot"]["column_keys"]);
    for m in ["n", "total"] {
        assert!(
            all_close(&pivot["cells"][m], &case["pivot"]["cells"][m], 1e-9),
            "pivot {m}"
        );
    }

    // Mistakes name what exists.
    let mut bad =
        json!({"cube": reference["cube"], "action": {"type": "drill_down", "dimension": "space"}});
    let err = invoke(&host, "olap", &bad)
        .err()
        .context("unknown dimension")?;
    assert!(
        err.to_string()
            .contains("no dimension 'space' in the cube; it has 'time', 'place'"),
        "{err}"
    );
    bad["action"] = json!({"type": "roll_up", "dimension": "time"});
    let err = invoke(&host, "olap", &bad)
        .err()
        .context("roll up from the top")?;
    assert!(err.to_string().contains("already rolled up"), "{err}");
    Ok(())
}

fn series_params(extra: &Value) -> Value {
    let mut p = json!({"dataset": "series", "time_column": "at", "value_column": "load", "metric_name": "load"});
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    p
}

#[test]
fn timeseries_decomposes_as_statsmodels_does() -> anyhow::Result<()> {
    let reference = reference()?;
    let host = host(&reference)?;
    for case in reference["timeseries"].as_array().context("timeseries")? {
        let what = case["what"].as_str().unwrap_or_default();
        let ours = invoke(&host, "timeseries", &series_params(&case["params"]))?;
        assert_eq!(ours["points"], case["points"], "{what}");
        assert_eq!(ours["period"], 24, "{what}");
        assert_eq!(ours["decomposition"]["method"], "stl");
        let parts = &ours["decomposition"]["components"];
        if let Some(values) = case.get("values") {
            assert!(
                all_close(&parts["values"], values, 1e-9),
                "{what}: bucketed values"
            );
            assert_eq!(parts["times"][0], case["first_time"], "{what}");
            assert_eq!(ours["period_detected"], true);
        }
        for part in ["trend", "seasonal", "residual"] {
            let (a, b) = (
                parts[part].as_array().context("ours")?,
                case[part].as_array().context("theirs")?,
            );
            assert_eq!(a.len(), b.len(), "{what} {part}");
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(0.0)).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-6,
                "{what}: {part} differs from statsmodels by {worst}"
            );
        }
        let flagged: Vec<Value> = ours["anomalies"]
            .as_array()
            .context("anomalies")?
            .iter()
            .map(|a| a["index"].clone())
            .collect();
        assert_eq!(
            Value::Array(flagged),
            case["anomalies"],
            "{what}: anomalies"
        );
        if let Some(forecast) = case["forecast"].as_array() {
            let ours = ours["forecast"].as_array().context("forecast")?;
            assert_eq!(ours.len(), forecast.len());
            for (o, t) in ours.iter().zip(forecast) {
                for f in ["value", "lower", "upper"] {
                    assert!(
                        (o[f].as_f64().unwrap_or(f64::NAN) - t[f].as_f64().unwrap_or(0.0)).abs()
                            < 1e-6,
                        "{what}: forecast step {} {f}: {} vs {}",
                        o["step"],
                        o[f],
                        t[f]
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn windows_aggregate_as_duckdb_time_buckets() -> anyhow::Result<()> {
    let reference = reference()?;
    let host = host(&reference)?;
    let windows = &reference["windows"];
    let ours = invoke(&host, "timeseries", &series_params(&windows["params"]))?;
    for (index, kind) in ["tumbling", "sliding"].into_iter().enumerate() {
        let rows = ours["windows"][index]["rows"].as_array().context("rows")?;
        let theirs = windows[kind].as_array().context("theirs")?;
        assert_eq!(rows.len(), theirs.len(), "{kind}");
        for (o, t) in rows.iter().zip(theirs) {
            assert_eq!(o["start"], t["start"], "{kind}");
            for f in ["count", "sum", "avg", "min", "max"] {
                assert!(
                    close(&o[f], &t[f], 1e-9),
                    "{kind} {} {f}: {} vs {}",
                    t["start"],
                    o[f],
                    t[f]
                );
            }
        }
    }
    // Mistakes say what to write.
    for (params, needle) in [
        (
            json!({"windows": [{"type": "hopping", "size": "1h"}]}),
            "tumbling or sliding",
        ),
        (
            json!({"windows": [{"type": "tumbling", "size": "1 fortnight"}]}),
            "unknown unit",
        ),
        (json!({"period": 300}), "needs at least two cycles"),
        (json!({"seasonal": 8}), "odd smoother length"),
    ] {
        let err = invoke(&host, "timeseries", &series_params(&params))
            .err()
            .context("an error")?;
        assert!(err.to_string().contains(needle), "{params}: {err}");
    }
    let err = invoke(
        &host,
        "timeseries",
        &json!({"dataset": "series", "time_column": "load", "value_column": "at"}),
    )
    .err()
    .context("types")?;
    assert!(
        err.to_string().contains("not a timestamp or a number")
            || err.to_string().contains("not a number"),
        "{err}"
    );
    Ok(())
}
