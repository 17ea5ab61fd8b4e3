//! The engine, built natively and driven through its operations exactly as
//! the component is, against Shapely 2, pyproj and networkx
//! (`test_data/spatial/make_reference.py`). The same cases run through the
//! real server in `tests/e2e/spatial.rs`; here every case runs, in
//! milliseconds.

use std::path::PathBuf;

use serde_json::{Value, json};
use weft_sdk::{Engine, Host, Params, RecordingHost};
use weft_spatial::SpatialEngine;

fn test_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test_data/spatial")
        .join(name)
}

fn reference() -> Value {
    let text = std::fs::read_to_string(test_data("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("reference JSON")
}

fn run(host: &RecordingHost, op: &str, params: Value) -> Value {
    SpatialEngine::invoke(op, Params::new(&params.to_string()), host)
        .unwrap_or_else(|e| panic!("{op} {params}: {e}"))
}

/// Every index kind a layer can have.
const INDEXES: [&str; 4] = ["rtree", "quadtree", "grid", "hilbert"];

fn store(host: &RecordingHost, name: &str, body: &str, crs: &str) {
    store_indexed(host, name, body, crs, "rtree");
}

fn store_indexed(host: &RecordingHost, name: &str, body: &str, crs: &str, index: &str) {
    host.write_blob("upload", body.as_bytes()).expect("blob");
    let stored = run(
        host,
        "store_layer",
        json!({"name": name, "body_blob": "upload", "body_type": "application/geo+json", "crs": crs, "index": index}),
    );
    assert_eq!(stored["index"]["kind"], index);
}

fn collection(features: &Value) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn ids(answer: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_i64().expect("integer id"))
        .collect();
    ids.sort_unstable();
    ids
}

fn ids_in_order(answer: &Value) -> Vec<i64> {
    answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_i64().unwrap_or(-1))
        .collect()
}

fn close(ours: f64, theirs: f64, relative: f64, what: &str) {
    let scale = theirs.abs().max(1e-300);
    assert!(
        (ours - theirs).abs() / scale <= relative || (ours - theirs).abs() < 1e-12,
        "{what}: ours {ours}, reference {theirs} (relative error {:e})",
        (ours - theirs).abs() / scale
    );
}

#[test]
fn every_predicate_matches_shapely() {
    let r = reference();
    let host = RecordingHost::new();
    let body = collection(&r["predicates"]["features"]);
    for index in INDEXES {
        store_indexed(&host, index, &body, "EPSG:3857", index);
    }
    for (q, case) in r["predicates"]["queries"]
        .as_array()
        .expect("queries")
        .iter()
        .enumerate()
    {
        for index in INDEXES {
            for (name, expected) in case["answers"].as_object().expect("answers") {
                let (predicate, pattern) = match name.split_once(':') {
                    Some((p, pattern)) => (p, Some(pattern)),
                    None => (name.as_str(), None),
                };
                let mut params =
                    json!({"layer": index, "predicate": predicate, "geometry": case["geometry"]});
                if let Some(pattern) = pattern {
                    params["pattern"] = json!(pattern);
                }
                let answer = run(&host, "query", params);
                assert_eq!(answer["explain"]["index"], index);
                let expected: Vec<i64> = serde_json::from_value(expected.clone()).expect("ids");
                assert_eq!(
                    ids(&answer),
                    expected,
                    "{index}: query {q} {name} {}",
                    case["wkt"]
                );
            }
        }
    }
    for pair in r["predicates"]["relate"].as_array().expect("relate") {
        let answer = run(
            &host,
            "relate",
            json!({"geometry": pair["a"], "other": pair["b"]}),
        );
        assert_eq!(
            answer["matrix"], pair["matrix"],
            "{} vs {}",
            pair["a"], pair["b"]
        );
    }
}

#[test]
fn planar_measures_match_shapely() {
    let host = RecordingHost::new();
    for case in reference()["planar"].as_array().expect("planar") {
        let measure = |m: &str| {
            run(
                &host,
                "measure",
                json!({"geometry": case["wkt"], "measure": m, "other": case["other"], "crs": "EPSG:3857"}),
            )
        };
        let area = measure("area");
        assert_eq!(area["method"], "planar");
        close(
            area["value"].as_f64().unwrap_or(f64::NAN),
            case["area"].as_f64().unwrap_or(0.0),
            1e-9,
            "area",
        );
        close(
            measure("length")["value"].as_f64().unwrap_or(f64::NAN),
            case["length"].as_f64().unwrap_or(0.0),
            1e-9,
            "length",
        );
        close(
            measure("distance")["value"].as_f64().unwrap_or(f64::NAN),
            case["distance"].as_f64().unwrap_or(0.0),
            1e-9,
            "distance",
        );
        let centroid = run(&host, "centroid", json!({"geometry": case["wkt"]}));
        for axis in 0..2 {
            close(
                centroid["geometry"]["coordinates"][axis]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                case["centroid"][axis].as_f64().unwrap_or(0.0),
                1e-9,
                "centroid",
            );
        }
    }
}

#[test]
fn geodesic_and_haversine_measures_match_pyproj() {
    let host = RecordingHost::new();
    for case in reference()["geodesic"].as_array().expect("geodesic") {
        let value = |params: Value| {
            run(&host, "measure", params)["value"]
                .as_f64()
                .unwrap_or(f64::NAN)
        };
        let number = |key: &str| case[key].as_f64().unwrap_or(0.0);
        close(
            value(json!({"geometry": case["polygon"], "measure": "area"})),
            number("area"),
            1e-6,
            "geodesic area",
        );
        close(
            value(json!({"geometry": case["polygon"], "measure": "length"})),
            number("perimeter"),
            1e-6,
            "geodesic perimeter",
        );
        close(
            value(json!({"geometry": case["line"], "measure": "length"})),
            number("line_length"),
            1e-6,
            "geodesic length",
        );
        close(
            value(json!({"geometry": case["line"], "measure": "length", "method": "haversine"})),
            number("line_haversine"),
            1e-9,
            "haversine length",
        );
        let (a, b) = (
            json!({"type": "Point", "coordinates": case["a"]}),
            json!({"type": "Point", "coordinates": case["b"]}),
        );
        close(
            value(json!({"geometry": a, "other": b, "measure": "distance"})),
            number("distance"),
            1e-6,
            "geodesic distance",
        );
        close(
            value(json!({"geometry": a, "other": b, "measure": "distance", "method": "haversine"})),
            number("haversine"),
            1e-9,
            "haversine distance",
        );
    }
}

#[test]
fn transforms_match_pyproj() {
    let host = RecordingHost::new();
    for case in reference()["transforms"].as_array().expect("transforms") {
        let to = case["to"].as_str().expect("crs");
        let points = json!({"type": "MultiPoint", "coordinates": case["points"]});
        let there = run(
            &host,
            "transform",
            json!({"geometry": points, "from": "EPSG:4326", "to": to}),
        );
        let projected = case["projected"].as_array().expect("projected");
        let geographic = to == "EPSG:4258";
        for (ours, theirs) in there["geometry"]["coordinates"]
            .as_array()
            .expect("coordinates")
            .iter()
            .zip(projected)
        {
            for axis in 0..2 {
                let (o, t) = (
                    ours[axis].as_f64().unwrap_or(f64::NAN),
                    theirs[axis].as_f64().unwrap_or(0.0),
                );
                let tolerance = if geographic { 1e-9 } else { 1e-6 };
                assert!(
                    (o - t).abs() <= tolerance,
                    "{to}: ours {ours}, pyproj {theirs}"
                );
            }
        }
        let back = run(
            &host,
            "transform",
            json!({"geometry": there["geometry"], "from": to, "to": "EPSG:4326"}),
        );
        for (ours, theirs) in back["geometry"]["coordinates"]
            .as_array()
            .expect("coordinates")
            .iter()
            .zip(case["points"].as_array().expect("points"))
        {
            for axis in 0..2 {
                let (o, t) = (
                    ours[axis].as_f64().unwrap_or(f64::NAN),
                    theirs[axis].as_f64().unwrap_or(0.0),
                );
                assert!(
                    (o - t).abs() <= 1e-9,
                    "{to} and back: ours {ours}, started at {theirs}"
                );
            }
        }
    }
}

#[test]
fn overlays_buffers_hulls_and_validity_match_shapely() {
    let r = &reference()["operations"];
    let host = RecordingHost::new();
    for pair in r["pairs"].as_array().expect("pairs") {
        for op in ["intersection", "union", "difference", "sym_difference"] {
            let answer = run(
                &host,
                op,
                json!({"geometry": pair["a"], "other": pair["b"]}),
            );
            close(
                answer["area"].as_f64().unwrap_or(f64::NAN),
                pair[op].as_f64().unwrap_or(0.0),
                1e-6,
                op,
            );
        }
    }
    for case in r["buffers"].as_array().expect("buffers") {
        let ours = run(
            &host,
            "buffer",
            json!({"geometry": case["wkt"], "distance": case["distance"]}),
        );
        // The arcs are drawn differently (GEOS places vertices on the
        // circle, i_overlay by chord length): compare by the area both
        // differ in, relative to the buffer's.
        let apart = run(
            &host,
            "sym_difference",
            json!({"geometry": ours["geometry"], "other": case["result"]}),
        );
        let share =
            apart["area"].as_f64().unwrap_or(f64::NAN) / case["area"].as_f64().unwrap_or(1.0);
        assert!(
            share < 2e-3,
            "buffer {} by {}: {share} of the area differs",
            case["wkt"],
            case["distance"]
        );
    }
    let hull = run(
        &host,
        "convex_hull",
        json!({"geometry": r["convex_hull"]["points"]}),
    );
    let apart = run(
        &host,
        "sym_difference",
        json!({"geometry": hull["geometry"], "other": r["convex_hull"]["hull"]}),
    );
    assert!(
        apart["area"].as_f64().unwrap_or(f64::NAN) < 1e-9,
        "convex hull differs: {apart}"
    );
    for case in r["simplify"]["cases"].as_array().expect("simplify") {
        let ours = run(
            &host,
            "simplify",
            json!({"geometry": r["simplify"]["line"], "tolerance": case["tolerance"]}),
        );
        // The same vertices: Shapely's WKT read back as coordinates.
        let theirs = run(
            &host,
            "transform",
            json!({"geometry": case["result"], "from": "EPSG:3857", "to": "EPSG:3857"}),
        );
        assert_eq!(
            ours["geometry"]["coordinates"], theirs["geometry"]["coordinates"],
            "simplify by {}",
            case["tolerance"]
        );
        let relate = run(
            &host,
            "relate",
            json!({"geometry": ours["geometry"], "other": case["result"]}),
        );
        assert_eq!(
            relate["predicates"]["equals"], true,
            "simplify by {}: {relate} {}",
            case["tolerance"], case["result"]
        );
    }
    for case in r["validity"].as_array().expect("validity") {
        let answer = run(&host, "validate", json!({"geometry": case["wkt"]}));
        assert_eq!(answer["valid"], case["valid"], "{}: {answer}", case["wkt"]);
        if answer["valid"] == false
            && case["wkt"]
                .as_str()
                .is_some_and(|w| w.starts_with("POLYGON"))
        {
            let fixed = run(&host, "repair", json!({"geometry": case["wkt"]}));
            assert_eq!(
                run(&host, "validate", json!({"geometry": fixed["geometry"]}))["valid"],
                true,
                "{}",
                case["wkt"]
            );
        }
    }
}

#[test]
fn proximity_and_join_match_numpy_and_shapely() {
    let r = &reference()["proximity"];
    let host = RecordingHost::new();
    store(&host, "zones", &collection(&r["polygons"]), "EPSG:3857");
    for index in INDEXES {
        store_indexed(&host, index, &collection(&r["points"]), "EPSG:3857", index);
        for case in r["knn"].as_array().expect("knn") {
            let answer = run(
                &host,
                "nearest",
                json!({"layer": index, "point": case["point"], "k": case["k"]}),
            );
            let theirs: Vec<i64> = serde_json::from_value(case["ids"].clone()).expect("ids");
            assert_eq!(
                ids_in_order(&answer),
                theirs,
                "{index}: nearest to {}",
                case["point"]
            );
            let tested = answer["explain"]["candidates_tested"]
                .as_u64()
                .unwrap_or(u64::MAX);
            assert!(
                tested < 100,
                "{index}: the index tested {tested} of 400 points"
            );
        }
        for case in r["within"].as_array().expect("within") {
            let answer = run(
                &host,
                "within_distance",
                json!({"layer": index, "point": case["point"], "distance": case["distance"]}),
            );
            let theirs: Vec<i64> = serde_json::from_value(case["ids"].clone()).expect("ids");
            assert_eq!(
                ids_in_order(&answer),
                theirs,
                "{index}: within {} of {}",
                case["distance"],
                case["point"]
            );
        }
        let boxed = run(&host, "bbox", json!({"layer": index, "bbox": r["bbox"]}));
        let theirs: Vec<i64> = serde_json::from_value(r["in_bbox"].clone()).expect("ids");
        assert_eq!(ids(&boxed), theirs, "{index}: bbox");
    }
    store(&host, "points", &collection(&r["points"]), "EPSG:3857");
    let joined = run(
        &host,
        "join",
        json!({"left": "zones", "right": "points", "predicate": "contains"}),
    );
    let counts: Vec<u64> = joined["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .collect();
    let theirs: Vec<u64> = serde_json::from_value(r["join_counts"].clone()).expect("counts");
    assert_eq!(counts, theirs);
}

#[test]
fn routes_tours_and_service_areas_match_networkx() {
    let r = &reference()["routing"];
    let host = RecordingHost::new();
    let network = std::fs::read_to_string(test_data("network.geojson")).expect("network");
    store(&host, "city", &network, "EPSG:32633");
    for case in r["routes"].as_array().expect("routes") {
        for algorithm in ["dijkstra", "astar"] {
            let by_length = run(
                &host,
                "route",
                json!({"network": "city", "from": case["from"], "to": case["to"], "algorithm": algorithm}),
            );
            close(
                by_length["cost"].as_f64().unwrap_or(f64::NAN),
                case["length"].as_f64().unwrap_or(0.0),
                1e-9,
                "route length",
            );
            assert_eq!(by_length["snapped"]["from"]["node"], case["from_node"]);
            let by_time = run(
                &host,
                "route",
                json!({"network": "city", "from": case["from"], "to": case["to"], "algorithm": algorithm, "cost": "minutes"}),
            );
            close(
                by_time["cost"].as_f64().unwrap_or(f64::NAN),
                case["minutes"].as_f64().unwrap_or(0.0),
                1e-9,
                "route minutes",
            );
        }
    }
    let tour = run(
        &host,
        "tsp",
        json!({"network": "city", "stops": r["tsp"]["stops"]}),
    );
    let optimal = r["tsp"]["optimal_length"].as_f64().unwrap_or(0.0);
    close(
        tour["optimal_cost"].as_f64().unwrap_or(f64::NAN),
        optimal,
        1e-9,
        "optimal tour",
    );
    assert!(tour["cost"].as_f64().unwrap_or(0.0) >= optimal * (1.0 - 1e-12));
    assert!(tour["gap"].as_f64().unwrap_or(1.0) < 0.25, "{tour}");
    let area = run(
        &host,
        "service_area",
        json!({"network": "city", "from": r["service_area"]["from"], "max_cost": r["service_area"]["max_cost"]}),
    );
    assert_eq!(
        area["reachable_nodes"],
        r["service_area"]["reachable_nodes"]
    );
    assert_eq!(area["polygon"]["type"], "Polygon");
}

#[test]
fn zonal_statistics_and_samples_match_numpy() {
    let r = &reference()["raster"];
    let host = RecordingHost::new();
    host.write_blob("grid", r["grid"].to_string().as_bytes())
        .expect("blob");
    run(
        &host,
        "store_raster",
        json!({"name": "heights", "body_blob": "grid", "body_type": "application/json", "crs": "EPSG:3857"}),
    );
    let zones: Vec<Value> = r["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| z["geometry"].clone())
        .collect();
    let answer = run(
        &host,
        "zonal_stats",
        json!({"raster": "heights", "geometries": zones}),
    );
    for (ours, theirs) in answer["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .zip(r["stats"].as_array().expect("stats"))
    {
        assert_eq!(ours["count"], theirs["count"]);
        for key in ["sum", "mean", "min", "max"] {
            close(
                ours[key].as_f64().unwrap_or(f64::NAN),
                theirs[key].as_f64().unwrap_or(0.0),
                1e-9,
                key,
            );
        }
    }
    let points: Vec<Value> = r["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| s["point"].clone())
        .collect();
    let sampled = run(
        &host,
        "sample",
        json!({"raster": "heights", "points": points}),
    );
    let theirs: Vec<Value> = r["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| s["value"].clone())
        .collect();
    assert_eq!(sampled["values"], Value::Array(theirs));
}
