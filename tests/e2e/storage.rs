//! Host storage through the real server: collections over REST survive a
//! `kill -9`, a CSV upload matches DuckDB's reading of the same file, and
//! the storage WebSocket streams carry the events the storage code emits,
//! each matching its schema.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::schemas::check_storage_event;
use weft_tests::{Server, WsClient, test_data};

async fn put(server: &Server, path: &str, body: &str) -> anyhow::Result<u16> {
    let response = server
        .http
        .put(server.url(path))
        .body(body.to_owned())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn get_text(server: &Server, path: &str) -> anyhow::Result<(u16, String, String)> {
    let response = server.http.get(server.url(path)).send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, content_type, response.text().await?))
}

#[tokio::test]
async fn collections_answer_over_rest_and_survive_kill_9() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    assert_eq!(
        put(
            &server,
            "/api/v1/collections/users/keys/alice",
            r#"{"age":31}"#
        )
        .await?,
        204
    );
    assert_eq!(
        put(&server, "/api/v1/collections/users/keys/bob", "plain text").await?,
        204
    );
    let (status, content_type, body) =
        get_text(&server, "/api/v1/collections/users/keys/alice").await?;
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (200, "application/json", r#"{"age":31}"#)
    );
    let (_, content_type, body) = get_text(&server, "/api/v1/collections/users/keys/bob").await?;
    assert_eq!(
        (content_type.as_str(), body.as_str()),
        ("application/octet-stream", "plain text")
    );

    // An atomic batch, enough to flush several tables, then a paged scan.
    let mut puts = serde_json::Map::new();
    for i in 0..3000 {
        puts.insert(
            format!("item-{i:05}"),
            json!({"n": i, "pad": "x".repeat(200)}),
        );
    }
    let (status, body) = server
        .post(
            "/api/v1/collections/users/batch",
            &json!({"put": puts, "delete": ["bob"]}),
        )
        .await?;
    assert_eq!((status, &body["put"]), (200, &json!(3000)), "{body}");
    let (status, stats) = server
        .post("/api/v1/collections/users/flush", &json!({}))
        .await?;
    assert_eq!(status, 200, "{stats}");
    assert!(
        stats["trees"][0]["levels"][0]["tables"].as_u64() >= Some(1),
        "{stats}"
    );
    let (_, page) = server
        .get("/api/v1/collections/users/keys?prefix=item-&limit=1000")
        .await?;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1000));
    assert_eq!(page["entries"][999]["key"], "item-00999");
    let next = page["next"].as_str().context("a next page")?.to_owned();
    let (_, page) = server
        .get(&format!(
            "/api/v1/collections/users/keys?prefix=item-&limit=5000&start={}",
            urlencode(&next)
        ))
        .await?;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2000));
    assert_eq!(page["entries"][0]["value"]["n"], 1000);
    assert!(page["next"].is_null());

    // Bad input: clear 4xx errors.
    let (status, body) = server.get("/api/v1/collections/users/keys/bob").await?;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "deleted key"
    );
    let (status, body) = server.get("/api/v1/collections/nobody/keys/x").await?;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert_eq!(
        put(&server, "/api/v1/collections/..%2Fetc/keys/x", "v").await?,
        400
    );
    let long_key = "k".repeat(2000);
    assert_eq!(
        put(
            &server,
            &format!("/api/v1/collections/users/keys/{long_key}"),
            "v"
        )
        .await?,
        400
    );

    // A collection whose keys are split by their first ':' segment.
    let (status, created) = server
        .post(
            "/api/v1/collections/regional",
            &json!({"partitioning": "list:eu,us"}),
        )
        .await?;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["trees"].as_array().map(Vec::len), Some(3));
    let mut puts = serde_json::Map::new();
    for region in ["eu", "us", "apac"] {
        for i in 0..10 {
            puts.insert(format!("{region}:{i}"), json!(i));
        }
    }
    server
        .post("/api/v1/collections/regional/batch", &json!({"put": puts}))
        .await?;
    server
        .post("/api/v1/collections/regional/flush", &json!({}))
        .await?;
    let (_, stats) = server.get("/api/v1/collections/regional").await?;
    let entries: Vec<u64> = stats["trees"]
        .as_array()
        .context("trees")?
        .iter()
        .map(|t| t["levels"][0]["entries"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        entries,
        [10, 10, 10],
        "one partition per region, apac in the rest: {stats}"
    );
    let (_, page) = server
        .get("/api/v1/collections/regional/keys?limit=100")
        .await?;
    let keys: Vec<&str> = page["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 30);
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "merged in key order: {keys:?}"
    );
    let (status, body) = server
        .post(
            "/api/v1/collections/regional",
            &json!({"partitioning": "hash:4"}),
        )
        .await?;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("conflict")));
    let (status, _) = server
        .post("/api/v1/collections/odd", &json!({"partitioning": "zip:4"}))
        .await?;
    assert_eq!(status, 400);

    // The tier policy: idle tables go cold (compressed) and come back on read.
    let (status, policy) = server.get("/api/v1/storage/tier-policy").await?;
    assert_eq!((status, &policy["cold_after_secs"]), (200, &json!(600)));
    let response = server
        .http
        .put(server.url("/api/v1/storage/tier-policy"))
        .json(&json!({"cold_after_secs": 3600}))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    let (status, migrated) = server
        .post("/api/v1/storage/tiers/migrate?idle_secs=0", &json!({}))
        .await?;
    assert_eq!(status, 200, "{migrated}");
    assert!(migrated["moved_to_cold"].as_u64() >= Some(1), "{migrated}");
    assert_eq!(migrated["tiers"]["warm_segments"], 0, "{migrated}");
    let (_, page) = server
        .get("/api/v1/collections/users/keys?prefix=item-02&limit=5")
        .await?;
    assert_eq!(
        page["entries"][0]["key"], "item-02000",
        "read back from the cold tier"
    );

    // kill -9 and restart: every acknowledged write is there.
    let server = server.restart()?;
    let (status, _, body) = get_text(&server, "/api/v1/collections/users/keys/alice").await?;
    assert_eq!((status, body.as_str()), (200, r#"{"age":31}"#));
    let (_, page) = server
        .get("/api/v1/collections/users/keys?prefix=item-&limit=10000")
        .await?;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3000));
    let (status, verify) = server.post("/api/v1/storage/verify", &json!({})).await?;
    assert_eq!((status, &verify["ok"]), (200, &json!(true)), "{verify}");
    let (_, list) = server.get("/api/v1/collections").await?;
    assert_eq!(list["collections"], json!(["regional", "users"]));
    Ok(())
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Every value of one column, across its chunks (nulls as `None`).
async fn column(server: &Server, dataset: &str, name: &str) -> anyhow::Result<Vec<Value>> {
    let mut values = Vec::new();
    let mut chunk = 0;
    loop {
        let (status, body) = server
            .get(&format!(
                "/api/v1/datasets/{dataset}/columns/{name}?chunk={chunk}"
            ))
            .await?;
        anyhow::ensure!(status == 200, "{body}");
        values.extend(body["values"].as_array().context("values")?.iter().cloned());
        chunk += 1;
        if chunk >= body["chunks"].as_u64().context("chunks")? as usize {
            return Ok(values);
        }
    }
}

#[tokio::test]
async fn a_csv_upload_matches_duckdb() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(test_data(
        "storage/reference.json",
    ))?)?;
    let csv = std::fs::read(test_data("storage/sensors.csv"))?;
    let mut columnar = WsClient::connect(&server.ws_url("/api/v1/ws/storage/columnar"), None)
        .await?
        .validating("ws");
    columnar.recv().await?; // welcome
    columnar.recv().await?; // subscribed

    let (status, info) = server
        .post_raw("/api/v1/datasets/sensors", "text/csv", csv)
        .await?;
    assert_eq!(status, 201, "{info}");
    assert_eq!(info["rows"], reference["rows"]);
    assert_eq!(info["chunks"], 2, "70,000 rows are two 65,536-row chunks");
    let types: Vec<(&str, &str)> = info["schema"]
        .as_array()
        .context("schema")?
        .iter()
        .filter_map(|f| Some((f["name"].as_str()?, f["type"].as_str()?)))
        .collect();
    assert_eq!(
        types,
        [
            ("ts", "timestamp"),
            ("sensor", "string"),
            ("reading", "f64"),
            ("count", "i64"),
            ("ok", "bool")
        ],
        "inferred schema (DuckDB: TIMESTAMP, VARCHAR, DOUBLE, BIGINT, BOOLEAN)"
    );
    let encodings = &info["encodings"];
    assert_eq!(
        encodings[0]["chunks_by_encoding"]["delta"], 2,
        "sorted timestamps: {encodings}"
    );
    assert_eq!(
        encodings[1]["chunks_by_encoding"]["dictionary"], 2,
        "four sensors: {encodings}"
    );

    let expected = &reference["columns"];
    let reading = column(&server, "sensors", "reading").await?;
    let present: Vec<f64> = reading.iter().filter_map(Value::as_f64).collect();
    assert_eq!(
        present.len() as u64,
        expected["reading"]["non_null"]
            .as_u64()
            .context("non_null")?
    );
    assert_eq!(
        (reading.len() - present.len()) as u64,
        expected["reading"]["nulls"].as_u64().context("nulls")?
    );
    let sum: f64 = present.iter().sum();
    let want = expected["reading"]["sum"].as_f64().context("sum")?;
    assert!(
        (sum - want).abs() < 1e-6 * want.abs(),
        "sum {sum} vs DuckDB {want}"
    );
    let min = present.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(min, expected["reading"]["min"].as_f64().context("min")?);

    let (status, summary) = server
        .get("/api/v1/datasets/sensors/columns/reading/summary")
        .await?;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["nulls"], expected["reading"]["nulls"]);
    assert_eq!(summary["max"], expected["reading"]["max"]);
    let scanned = summary["sum"].as_f64().context("sum")?;
    assert!(
        (scanned - want).abs() < 1e-6 * want.abs(),
        "summary sum {scanned} vs DuckDB {want}"
    );
    let (_, summary) = server
        .get("/api/v1/datasets/sensors/columns/sensor/summary")
        .await?;
    assert_eq!(summary["distinct"], 4);
    let (status, body) = server
        .get("/api/v1/datasets/sensors/columns/nope/summary")
        .await?;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));

    let count = column(&server, "sensors", "count").await?;
    let total: i64 = count.iter().filter_map(Value::as_i64).sum();
    assert_eq!(
        total as f64,
        expected["count"]["sum"].as_f64().context("sum")?
    );
    let ok = column(&server, "sensors", "ok").await?;
    assert_eq!(
        ok.iter().filter(|v| **v == json!(true)).count() as u64,
        expected["ok"]["true"].as_u64().context("true")?
    );
    let sensor = column(&server, "sensors", "sensor").await?;
    let north = sensor.iter().filter(|v| **v == json!("north")).count() as u64;
    assert_eq!(
        north,
        expected["sensor"]["counts"]["north"]
            .as_u64()
            .context("north")?
    );
    let ts = column(&server, "sensors", "ts").await?;
    assert_eq!(ts.first(), Some(&expected["ts"]["min_us"]));
    assert_eq!(ts.last(), Some(&expected["ts"]["max_us"]));

    // The upload's progress: one batch_inserted per chunk, on the stream.
    let mut inserted = Vec::new();
    while inserted.len() < 2 {
        let message = columnar.recv().await?;
        check_storage_event(&message)?;
        if message["kind"] == "batch_inserted" {
            inserted.push(
                message["data"]["total_rows"]
                    .as_u64()
                    .context("total_rows")?,
            );
        }
    }
    assert_eq!(inserted, [65_536, 70_000]);

    // Bad uploads: 4xx with the reason, and nothing left behind.
    let (status, body) = server
        .post_raw("/api/v1/datasets/sensors", "text/csv", b"a\n1\n".to_vec())
        .await?;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("conflict")));
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/ragged",
            "text/csv",
            b"a,b\n1,2\n3\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/typed?schema=a:i64",
            "text/csv",
            b"a\n1\n2\nthree\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("row 3")),
        "{body}"
    );
    let (status, _) = server.get("/api/v1/datasets/typed").await?;
    assert_eq!(status, 404, "a failed upload leaves no dataset");
    let (status, body) = server
        .post_raw("/api/v1/datasets/empty", "text/csv", b"a,b\n".to_vec())
        .await?;
    assert_eq!(status, 400, "{body}");

    // Partitioned by sensor: each partition's scan reads only its chunks and
    // counts what DuckDB counts.
    let csv = std::fs::read(test_data("storage/sensors.csv"))?;
    let (status, info) = server
        .post_raw(
            "/api/v1/datasets/by_sensor?partition_by=sensor&partitioning=list:north,south,east",
            "text/csv",
            csv,
        )
        .await?;
    assert_eq!(status, 201, "{info}");
    let partitions = info["partitions"].as_array().context("partitions")?;
    assert_eq!(partitions.len(), 4);
    assert_eq!(partitions[3]["label"], "(other)");
    for (p, sensor) in ["north", "south", "east", "west"].iter().enumerate() {
        let want = &expected["sensor"]["counts"][sensor];
        assert_eq!(&partitions[p]["rows"], want, "partition {p}: {info}");
        let (_, summary) = server
            .get(&format!(
                "/api/v1/datasets/by_sensor/columns/sensor/summary?partition={p}"
            ))
            .await?;
        assert_eq!(
            (&summary["rows"], &summary["distinct"]),
            (want, &json!(1)),
            "{summary}"
        );
    }
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/bad_parts?partition_by=sensor&partitioning=range:1,2",
            "text/csv",
            b"sensor
north
"
            .to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "range needs numbers: {body}");
    let (status, _) = server
        .post_raw(
            "/api/v1/datasets/half?partition_by=x",
            "text/csv",
            b"x
1
"
            .to_vec(),
        )
        .await?;
    assert_eq!(status, 400);
    server.delete("/api/v1/datasets/by_sensor").await.ok();

    // JSON lines, with nulls and a given schema.
    let lines =
        b"{\"x\": 1.5, \"tag\": \"a\"}\n{\"x\": null, \"tag\": \"b\"}\n{\"x\": 3, \"tag\": null}\n"
            .to_vec();
    let (status, info) = server
        .post_raw(
            "/api/v1/datasets/lines?schema=x:f64,tag:string",
            "application/x-ndjson",
            lines,
        )
        .await?;
    assert_eq!((status, &info["rows"]), (201, &json!(3)), "{info}");
    assert_eq!(
        column(&server, "lines", "x").await?,
        [json!(1.5), Value::Null, json!(3.0)]
    );
    assert_eq!(
        column(&server, "lines", "tag").await?,
        [json!("a"), json!("b"), Value::Null]
    );

    let (_, list) = server.get("/api/v1/datasets").await?;
    assert_eq!(list["datasets"].as_array().map(Vec::len), Some(2));
    let (status, _) = server
        .delete("/api/v1/datasets/lines")
        .await
        .unwrap_or((0, Value::Null));
    assert!(status == 204 || status == 0);
    let (status, _) = server.get("/api/v1/datasets/lines").await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn storage_streams_carry_the_events_of_the_code_that_did_the_work() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let mut lsm = WsClient::connect(&server.ws_url("/api/v1/ws/storage/lsm"), None)
        .await?
        .validating("ws");
    let mut pool = WsClient::connect(
        &server.ws_url("/api/v1/ws/storage/buffer-pool?interval_ms=1000"),
        None,
    )
    .await?
    .validating("ws");
    let mut pages = WsClient::connect(&server.ws_url("/api/v1/ws/storage/pages"), None)
        .await?
        .validating("ws");
    for client in [&mut lsm, &mut pool, &mut pages] {
        assert_eq!(client.recv().await?["type"], "welcome");
        assert_eq!(client.recv().await?["type"], "subscribed");
    }

    // Four flushes make a level-0 compaction.
    for round in 0..4 {
        let mut puts = serde_json::Map::new();
        for i in 0..200 {
            puts.insert(format!("k-{i:04}"), json!(round));
        }
        server
            .post("/api/v1/collections/events/batch", &json!({"put": puts}))
            .await?;
        let (status, _) = server
            .post("/api/v1/collections/events/flush", &json!({}))
            .await?;
        assert_eq!(status, 200);
    }
    let mut kinds = Vec::new();
    while !kinds.contains(&"compaction_completed".to_owned()) {
        let message = lsm.recv().await?;
        check_storage_event(&message)?;
        assert_eq!(message["topic"], "storage.lsm");
        kinds.push(message["kind"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "memtable_flushed").count(),
        4,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"compaction_started".to_owned()),
        "{kinds:?}"
    );

    let message = pages.recv().await?;
    check_storage_event(&message)?;
    assert_eq!(message["kind"], "allocated");

    // Pool figures arrive, spaced by the connection's interval.
    let mut stats_times = Vec::new();
    let mut flushed = false;
    server.get("/api/v1/collections/events/keys/k-0001").await?;
    while stats_times.len() < 2 {
        let message = pool.recv_within(Duration::from_secs(10)).await?;
        check_storage_event(&message)?;
        match message["kind"].as_str() {
            Some("pool_stats") => {
                stats_times.push(std::time::Instant::now());
                // Keep the figures changing so a new one is published.
                server.get("/api/v1/collections/events/keys/k-0002").await?;
            }
            Some("flushed") => flushed = true,
            _ => {}
        }
    }
    assert!(flushed, "table builds flush dirty pages through the pool");
    let gap = stats_times[1] - stats_times[0];
    assert!(
        gap >= Duration::from_millis(900),
        "pool_stats arrived {gap:?} apart, asked for 1000 ms"
    );

    let response = server
        .http
        .get(
            server
                .ws_url("/api/v1/ws/storage/io?interval_ms=5")
                .replace("ws://", "http://"),
        )
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    Ok(())
}

/// A binary column (WKB geometries, embeddings) goes in as hex cells,
/// is stored as bytes and comes back as hex; a cell that is not hex is
/// refused with its row.
#[tokio::test]
async fn binary_columns_take_and_give_hex() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    // Two WKB points: POINT(1 2) and POINT(3 4), little-endian.
    let p1 = "0101000000000000000000f03f0000000000000040";
    let p2 = "010100000000000000000008400000000000001040";
    let csv = format!("id,geom\n1,{p1}\n2,\n3,{p2}\n");
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/points?schema=id:i64,geom:binary",
            "text/csv",
            csv.into_bytes(),
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    let (status, column) = server.get("/api/v1/datasets/points/columns/geom").await?;
    assert_eq!(status, 200, "{column}");
    assert_eq!(column["type"], "binary");
    assert_eq!(column["values"], json!([p1, null, p2]));
    let (_, summary) = server
        .get("/api/v1/datasets/points/columns/geom/summary")
        .await?;
    assert_eq!(summary["bytes"], 42, "{summary}");
    assert_eq!(summary["nulls"], 1);
    let (status, refused) = server
        .post_raw(
            "/api/v1/datasets/bad?schema=geom:binary",
            "text/csv",
            b"geom\n00ff\nnot-hex\n".to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("row 2"),
        "{refused}"
    );
    Ok(())
}

#[tokio::test]
async fn uploads_are_read_by_their_media_type_and_others_are_refused() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let array = br#"[{"x": 1, "tag": "a"}, {"x": 2.5, "tag": null}]"#.to_vec();
    let (status, body) = server
        .post_raw("/api/v1/datasets/from_json", "application/json", array)
        .await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["rows"], 2, "{body}");
    let lines = b"{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}\n".to_vec();
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/from_lines",
            "application/x-ndjson; charset=utf-8",
            lines,
        )
        .await?;
    assert_eq!((status, body["rows"].clone()), (201, json!(3)), "{body}");
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/picture",
            "image/png",
            vec![0x89, b'P', b'N', b'G'],
        )
        .await?;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("text/csv"),
        "{body}"
    );
    let (status, _) = server.get("/api/v1/datasets/picture").await?;
    assert_eq!(status, 404, "nothing stored");
    let (status, body) = server
        .post_raw(
            "/api/v1/datasets/not_objects",
            "application/json",
            b"[1, 2]".to_vec(),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("array of objects"),
        "{body}"
    );
    Ok(())
}
