//! The spatial engine as a wasm component through the real server: layers
//! stored over its declared routes, queries, measures and transforms
//! against Shapely and pyproj (`test_data/spatial/make_reference.py`),
//! routing progress over `/api/v1/ws/spatial/routing`, and bad uploads
//! that store nothing. Every reference case also runs natively in
//! `plugins/spatial/tests/reference.rs`; here a sample of each kind runs
//! through the sandbox.

use anyhow::Context;
use serde_json::{Value, json};
use weft_tests::{Server, WsClient, test_data};

fn reference() -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(test_data("spatial/reference.json"))?;
    Ok(serde_json::from_str(&text)?)
}

fn collection(features: &Value) -> Vec<u8> {
    json!({"type": "FeatureCollection", "features": features})
        .to_string()
        .into_bytes()
}

fn sorted_ids(answer: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = answer["features"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["id"].as_i64()).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

fn relative(ours: &Value, theirs: &Value) -> f64 {
    let (o, t) = (
        ours.as_f64().unwrap_or(f64::NAN),
        theirs.as_f64().unwrap_or(0.0),
    );
    (o - t).abs() / t.abs().max(1e-300)
}

#[tokio::test]
async fn layers_predicates_measures_and_transforms_match_shapely_and_pyproj() -> anyhow::Result<()>
{
    let r = reference()?;
    let server = Server::start(&[])?;
    let (status, stored) = server
        .post_raw(
            "/api/v1/spatial/layers/shapes?crs=EPSG:3857",
            "application/geo+json",
            collection(&r["predicates"]["features"]),
        )
        .await?;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["features"], 66);
    assert_eq!(stored["crs"], "EPSG:3857");
    assert_eq!(stored["index"]["kind"], "rtree");
    let (_, listed) = server.get("/api/v1/spatial/layers").await?;
    assert_eq!(listed["layers"][0]["name"], "shapes", "{listed}");

    for case in r["predicates"]["queries"].as_array().context("queries")? {
        for predicate in ["intersects", "within", "touches", "overlaps", "covers"] {
            let (status, answer) = server
                .post(
                    "/api/v1/spatial/query",
                    &json!({"layer": "shapes", "predicate": predicate, "geometry": case["wkt"]}),
                )
                .await?;
            assert_eq!(status, 200, "{answer}");
            let theirs: Vec<i64> = serde_json::from_value(case["answers"][predicate].clone())?;
            assert_eq!(sorted_ids(&answer), theirs, "{predicate} {}", case["wkt"]);
            assert!(answer["explain"]["candidates_tested"].as_u64() <= Some(66));
        }
    }

    for case in r["geodesic"].as_array().context("geodesic")?.iter().take(4) {
        let (_, area) = server
            .post(
                "/api/v1/spatial/measure",
                &json!({"geometry": case["polygon"], "measure": "area"}),
            )
            .await?;
        assert_eq!(area["method"], "geodesic", "{area}");
        assert!(
            relative(&area["value"], &case["area"]) < 1e-6,
            "{area} vs {}",
            case["area"]
        );
        let (_, distance) = server
            .post(
                "/api/v1/spatial/measure",
                &json!({"geometry": {"type": "Point", "coordinates": case["a"]},
                        "other": {"type": "Point", "coordinates": case["b"]},
                        "measure": "distance", "method": "haversine"}),
            )
            .await?;
        assert!(
            relative(&distance["value"], &case["haversine"]) < 1e-9,
            "{distance}"
        );
    }

    for case in r["transforms"].as_array().context("transforms")? {
        let (status, moved) = server
            .post(
                "/api/v1/spatial/transform",
                &json!({"geometry": {"type": "Point", "coordinates": case["points"][0]},
                        "from": "EPSG:4326", "to": case["to"]}),
            )
            .await?;
        assert_eq!(status, 200, "{moved}");
        for axis in 0..2 {
            let ours = moved["geometry"]["coordinates"][axis]
                .as_f64()
                .unwrap_or(f64::NAN);
            let theirs = case["projected"][0][axis].as_f64().unwrap_or(0.0);
            assert!(
                (ours - theirs).abs() < 1e-6,
                "{}: {ours} vs {theirs}",
                case["to"]
            );
        }
    }

    // The geometry operations run as jobs too.
    let pair = &r["operations"]["pairs"][0];
    let job = server
        .run_job(
            "spatial",
            "intersection",
            json!({"geometry": pair["a"], "other": pair["b"]}),
        )
        .await?;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(
        relative(&job["result"]["area"], &pair["intersection"]) < 1e-6,
        "{job}"
    );

    let deleted = reqwest::Client::new()
        .delete(server.url("/api/v1/spatial/layers/shapes"))
        .send()
        .await?;
    assert_eq!(deleted.status().as_u16(), 204);
    let (status, gone) = server.get("/api/v1/spatial/layers/shapes").await?;
    assert_eq!(status, 404, "{gone}");
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("POST /api/v1/spatial/layers/shapes")
    );
    Ok(())
}

#[tokio::test]
async fn nearest_neighbours_and_joins_match_numpy_and_shapely() -> anyhow::Result<()> {
    let r = &reference()?["proximity"];
    let server = Server::start(&[])?;
    for (name, features) in [("points", &r["points"]), ("zones", &r["polygons"])] {
        let (status, stored) = server
            .post_raw(
                &format!("/api/v1/spatial/layers/{name}?crs=EPSG:3857"),
                "application/json",
                collection(features),
            )
            .await?;
        assert_eq!(status, 201, "{stored}");
    }
    for case in r["knn"].as_array().context("knn")?.iter().take(4) {
        let (_, answer) = server
            .post(
                "/api/v1/spatial/nearest",
                &json!({"layer": "points", "point": case["point"], "k": case["k"]}),
            )
            .await?;
        let ours: Vec<i64> = answer["features"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["id"].as_i64()).collect())
            .unwrap_or_default();
        let theirs: Vec<i64> = serde_json::from_value(case["ids"].clone())?;
        assert_eq!(ours, theirs, "{answer}");
    }
    let job = server
        .run_job(
            "spatial",
            "join",
            json!({"left": "zones", "right": "points", "predicate": "contains"}),
        )
        .await?;
    let counts: Vec<u64> = job["result"]["counts"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["count"].as_u64()).collect())
        .unwrap_or_default();
    let theirs: Vec<u64> = serde_json::from_value(r["join_counts"].clone())?;
    assert_eq!(counts, theirs, "{job}");
    Ok(())
}

#[tokio::test]
async fn routing_streams_progress_and_matches_networkx() -> anyhow::Result<()> {
    let r = &reference()?["routing"];
    let server = Server::start(&[])?;
    let network = std::fs::read(test_data("spatial/network.geojson"))?;
    let (status, stored) = server
        .post_raw(
            "/api/v1/spatial/layers/city?crs=EPSG:32633",
            "application/geo+json",
            network,
        )
        .await?;
    assert_eq!(status, 201, "{stored}");

    let mut client = WsClient::connect(&server.ws_url("/api/v1/ws/spatial/routing"), None)
        .await?
        .validating("ws");
    assert_eq!(client.recv().await?["type"], "welcome");
    assert_eq!(client.recv().await?["type"], "subscribed");
    let case = &r["routes"][0];
    client
        .send(&json!({"type": "network_routing_request",
                      "params": {"network": "city", "from": case["from"], "to": case["to"],
                                 "algorithm": "astar", "cost": "minutes", "report_every": 4}}))
        .await?;
    let mut messages = client.recv_until(|m| m["type"] == "result").await?;
    while !messages.iter().any(|m| m["kind"] == "routing_complete") {
        messages.push(client.recv().await?);
    }
    let updates: Vec<&Value> = messages
        .iter()
        .filter(|m| m["kind"] == "routing_update")
        .collect();
    assert!(!updates.is_empty(), "no routing_update in {messages:?}");
    for event in messages
        .iter()
        .filter(|m| m["kind"] == "routing_update" || m["kind"] == "routing_complete")
    {
        weft_tests::schemas::check_event("spatial", event)?;
    }
    let settled: Vec<u64> = updates
        .iter()
        .filter_map(|u| u["data"]["nodes_settled"].as_u64())
        .collect();
    assert!(
        settled.windows(2).all(|w| w[0] < w[1]),
        "settled counts grow: {settled:?}"
    );
    let result = &messages
        .iter()
        .find(|m| m["type"] == "result")
        .context("result")?["result"];
    assert!(
        relative(&result["cost"], &case["minutes"]) < 1e-9,
        "{result} vs {}",
        case["minutes"]
    );
    assert_eq!(result["path"]["type"], "LineString");

    // Dijkstra by length, through REST.
    for case in r["routes"].as_array().context("routes")?.iter().take(4) {
        let (_, route) = server
            .post(
                "/api/v1/spatial/route",
                &json!({"network": "city", "from": case["from"], "to": case["to"]}),
            )
            .await?;
        assert!(relative(&route["cost"], &case["length"]) < 1e-9, "{route}");
    }
    let tour = server
        .run_job(
            "spatial",
            "tsp",
            json!({"network": "city", "stops": r["tsp"]["stops"]}),
        )
        .await?;
    assert!(
        relative(&tour["result"]["optimal_cost"], &r["tsp"]["optimal_length"]) < 1e-9,
        "{tour}"
    );
    Ok(())
}

#[tokio::test]
async fn a_bad_feature_stores_nothing_and_errors_say_what_to_do() -> anyhow::Result<()> {
    let server = Server::start(&[])?;
    let unclosed = json!([
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]}, "properties": {}}
    ]);
    let (status, error) = server
        .post_raw(
            "/api/v1/spatial/layers/broken",
            "application/geo+json",
            collection(&unclosed),
        )
        .await?;
    assert_eq!(status, 422, "{error}");
    let message = error["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("feature 1") && message.contains("not closed"),
        "{message}"
    );
    let (status, _) = server.get("/api/v1/spatial/layers/broken").await?;
    assert_eq!(status, 404, "nothing was stored");

    // Validity is checked where it matters: on request at upload, and
    // always before an overlay.
    let bowtie = "wkt\n\"POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))\"\n";
    let (status, error) = server
        .post_raw(
            "/api/v1/spatial/layers/bow?validate=true",
            "text/csv",
            bowtie.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("feature 0 is not valid"),
        "{error}"
    );
    let (status, stored) = server
        .post_raw(
            "/api/v1/spatial/layers/bow?index=quadtree",
            "text/csv",
            bowtie.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["invalid_features"], 1, "{stored}");
    assert_eq!(stored["index"]["kind"], "quadtree", "{stored}");
    let (status, error) = server
        .post(
            "/api/v1/jobs?wait=true",
            &json!({"engine": "spatial", "op": "union", "params": {
                "geometry": "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))", "other": "POINT (1 1)"}}),
        )
        .await?;
    assert!(status == 200 || status == 422, "{status} {error}");
    let text = error.to_string();
    assert!(text.contains("run op repair"), "{text}");

    let csv = "name,wkt\nsquare,\"POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))\"\n";
    let (status, error) = server
        .post_raw(
            "/api/v1/spatial/layers/sq?crs=EPSG:123456",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown CRS"),
        "{error}"
    );
    let (status, stored) = server
        .post_raw(
            "/api/v1/spatial/layers/sq",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(status, 201, "{stored}");
    let (status, again) = server
        .post_raw(
            "/api/v1/spatial/layers/sq",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await?;
    assert_eq!(status, 409, "{again}");

    let (status, error) = server
        .post(
            "/api/v1/spatial/query",
            &json!({"layer": "sq", "predicate": "near", "geometry": "POINT (0 0)"}),
        )
        .await?;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("/predicate"),
        "{error}"
    );
    let (status, error) = server
        .post(
            "/api/v1/spatial/measure",
            &json!({"geometry": "POLYGON ((0 0, 1 0", "measure": "area"}),
        )
        .await?;
    assert!(status == 400 || status == 422, "{status} {error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not WKT"),
        "{error}"
    );
    Ok(())
}
