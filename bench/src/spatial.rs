//! Spatial engine figures: an R-tree over 1M points, 100k nearest-point
//! queries and a points-in-polygons join (1M points, 10k polygons) — the
//! plain-Rust cores natively next to Shapely's STRtree on the same data,
//! and the whole operations as the wasm component (reading and writing a
//! real store) next to the same operations built natively.

use serde_json::{Value, json};
use weft_runtime::Invocation;
use weft_sdk::{Engine, Host, Params, RecordingHost};
use weft_spatial::SpatialEngine;
use weft_spatial::index::{IndexKind, LayerIndex, bounds};
use weft_spatial::predicate::Predicate;

use crate::stats::{Row, Sample};
use crate::time;

const POINTS: usize = 1_000_000;
const QUERIES: usize = 100_000;
const POLYGONS: usize = 10_000;
/// Points fall in [0, EXTENT)²; polygons are squares of side SIDE, so each
/// holds about 25 points.
const EXTENT: f64 = 10_000.0;
const SIDE: f64 = 50.0;

fn uniform(count: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| [next() * EXTENT, next() * EXTENT])
        .collect()
}

fn squares(corners: &[[f64; 2]]) -> Vec<String> {
    corners
        .iter()
        .map(|[x, y]| {
            let (x1, y1) = (x + SIDE, y + SIDE);
            format!("POLYGON (({x} {y}, {x1} {y}, {x1} {y1}, {x} {y1}, {x} {y}))")
        })
        .collect()
}

pub(crate) fn rows() -> anyhow::Result<Vec<Row>> {
    let points = uniform(POINTS, 11);
    let queries = uniform(QUERIES, 12);
    let polygons = squares(&uniform(POLYGONS, 13));
    let mut rows = core_rows(&points, &queries, &polygons)?;
    rows.extend(component_rows(&points, &queries, &polygons)?);
    Ok(rows)
}

/// The cores against Shapely, none of them timing their input's parsing.
fn core_rows(
    points: &[[f64; 2]],
    queries: &[[f64; 2]],
    polygons: &[String],
) -> anyhow::Result<Vec<Row>> {
    use wkt::TryFromWkt;
    let geometries: Vec<geo::Geometry> = points
        .iter()
        .map(|&[x, y]| geo::Geometry::Point(geo::Point::new(x, y)))
        .collect();
    let boxes: Vec<_> = geometries.iter().map(bounds).collect();
    let zones: Vec<geo::Geometry> = polygons
        .iter()
        .map(|w| geo::Geometry::try_from_wkt_str(w).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<anyhow::Result<_>>()?;

    let mut build = Sample::default();
    let mut index = LayerIndex::build(IndexKind::RTree, &[]);
    for _ in 0..3 {
        let (elapsed, built) = time(|| LayerIndex::build(IndexKind::RTree, &boxes));
        build.push(elapsed);
        index = built;
    }
    let mut knn = Sample::default();
    let mut first = Vec::new();
    for _ in 0..3 {
        let (elapsed, found) = time(|| {
            queries
                .iter()
                .map(|&[x, y]| {
                    let at = geo::Point::new(x, y);
                    index
                        .nearest([x, y], 1, |row| {
                            use geo::{Distance, Euclidean};
                            Euclidean.distance(&geo::Geometry::Point(at), &geometries[row as usize])
                        })
                        .0
                        .first()
                        .map_or(u32::MAX, |n| n.0)
                })
                .collect::<Vec<u32>>()
        });
        knn.push(elapsed);
        first = found;
    }
    let mut join = Sample::default();
    let mut pairs = 0usize;
    for _ in 0..3 {
        let (elapsed, found) = time(|| {
            zones
                .iter()
                .map(|zone| {
                    bounds(zone).map_or(0, |b| {
                        index
                            .intersecting(b)
                            .into_iter()
                            .filter(|&r| Predicate::Contains.holds(zone, &geometries[r as usize]))
                            .count()
                    })
                })
                .sum::<usize>()
        });
        join.push(elapsed);
        pairs = found;
    }

    let scratch = tempfile::tempdir()?;
    let write = |name: &str, lines: Vec<String>| -> anyhow::Result<std::path::PathBuf> {
        let path = scratch.path().join(name);
        std::fs::write(&path, lines.join("\n"))?;
        Ok(path)
    };
    let xy = |p: &[[f64; 2]]| {
        p.iter()
            .map(|[x, y]| format!("{x},{y}"))
            .collect::<Vec<_>>()
    };
    let paths = (
        write("points.csv", xy(points))?,
        write("queries.csv", xy(queries))?,
        write("polygons.wkt", polygons.to_vec())?,
    );
    let mut rows = Vec::new();
    match shapely(&paths) {
        Ok(baseline) => {
            let seconds = |key: &str| {
                Sample::of(std::time::Duration::from_secs_f64(
                    baseline[key].as_f64().unwrap_or(0.0),
                ))
            };
            let agree = baseline["pairs"].as_u64() == Some(pairs as u64)
                && baseline["first_nearest"].as_array().is_some_and(|ids| {
                    ids.iter()
                        .zip(&first)
                        .all(|(a, b)| a.as_u64() == Some(u64::from(*b)))
                });
            let note = if agree {
                ""
            } else {
                " (ANSWERS DIFFER from Shapely's)"
            };
            rows.push(Row::versus(
                &format!("spatial: R-tree bulk load, 1M points — native core{note}"),
                build,
                "Shapely 2 STRtree build",
                seconds("build"),
            ));
            rows.push(Row::versus(
                "spatial: 100k nearest-point queries on 1M points — native core",
                knn,
                "Shapely STRtree.query_nearest (vectorised)",
                seconds("knn"),
            ));
            rows.push(Row::versus(
                &format!("spatial: points in polygons, 1M × 10k ({pairs} pairs) — native core"),
                join,
                "Shapely STRtree.query(predicate=\"contains\") + bincount",
                seconds("join"),
            ));
        }
        Err(e) => {
            eprintln!("      Shapely baseline skipped: {e:#}");
            rows.push(Row::absolute(
                "spatial: R-tree bulk load, 1M points — native core",
                build,
                "Shapely unavailable",
            ));
            rows.push(Row::absolute(
                "spatial: 100k nearest-point queries — native core",
                knn,
                "Shapely unavailable",
            ));
            rows.push(Row::absolute(
                "spatial: points in polygons, 1M × 10k — native core",
                join,
                "Shapely unavailable",
            ));
        }
    }
    Ok(rows)
}

fn shapely(
    paths: &(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf),
) -> anyhow::Result<Value> {
    crate::setup::python_json(
        "spatial_baselines.py",
        &[
            paths.0.as_os_str(),
            paths.1.as_os_str(),
            paths.2.as_os_str(),
        ],
    )
}

/// Whole operations: the component through the runtime against a real
/// store, and the same crate natively against an in-memory host.
fn component_rows(
    points: &[[f64; 2]],
    queries: &[[f64; 2]],
    polygons: &[String],
) -> anyhow::Result<Vec<Row>> {
    let component = crate::setup::component("spatial")?;
    let (store, plugin) = (&component.store, &component.plugin);
    let space = weft_storage::store::plugin_space("bench", "spatial");
    let upload = |name: &str, body: &str| -> anyhow::Result<()> {
        let mut blob = store.create_blob(&space, name)?;
        blob.write(body.as_bytes())?;
        blob.commit()?;
        Ok(())
    };
    let points_csv: String = std::iter::once("wkt".to_owned())
        .chain(points.iter().map(|[x, y]| format!("POINT ({x} {y})")))
        .collect::<Vec<_>>()
        .join("\n");
    let zones_csv: String = std::iter::once("wkt".to_owned())
        .chain(polygons.iter().map(|w| format!("\"{w}\"")))
        .collect::<Vec<_>>()
        .join("\n");
    upload("points.csv", &points_csv)?;
    upload("zones.csv", &zones_csv)?;
    let native = RecordingHost::new();
    native
        .write_blob("points.csv", points_csv.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    native
        .write_blob("zones.csv", zones_csv.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut rows = Vec::new();
    let mut timed = |label: &str,
                     op: &str,
                     params: Value,
                     runs: usize,
                     before: &dyn Fn(usize)|
     -> anyhow::Result<()> {
        let text = params.to_string();
        let (mut w, mut n) = (Sample::default(), Sample::default());
        for run in 0..runs {
            before(run);
            let (elapsed, out) = time(|| plugin.invoke(op, &params, Invocation::detached("bench")));
            out.map_err(|e| anyhow::anyhow!("{op}: {}", e.message))?;
            w.push(elapsed);
            let (elapsed, out) = time(|| SpatialEngine::invoke(op, Params::new(&text), &native));
            std::hint::black_box(out.map_err(|e| anyhow::anyhow!("{op}: {e}"))?);
            n.push(elapsed);
        }
        rows.push(Row::versus(
            label,
            w,
            "same crate, native, in-memory host",
            n,
        ));
        Ok(())
    };
    let drop_points = |run: usize| {
        if run > 0 {
            let params = json!({"name": "points"});
            let _ = plugin.invoke("drop_layer", &params, Invocation::detached("bench"));
            let _ = SpatialEngine::invoke("drop_layer", Params::new(&params.to_string()), &native);
        }
    };
    eprintln!("      storing a 1M-point layer …");
    timed(
        "spatial: store a 1M-point layer (CSV → WKB dataset + R-tree) — wasm, real store",
        "store_layer",
        json!({"name": "points", "body_blob": "points.csv", "body_type": "text/csv", "crs": "EPSG:3857"}),
        2,
        &drop_points,
    )?;
    let zones = json!({"name": "zones", "body_blob": "zones.csv", "body_type": "text/csv", "crs": "EPSG:3857"});
    plugin
        .invoke("store_layer", &zones, Invocation::detached("bench"))
        .map_err(|e| anyhow::anyhow!("zones: {}", e.message))?;
    SpatialEngine::invoke("store_layer", Params::new(&zones.to_string()), &native)
        .map_err(|e| anyhow::anyhow!("zones: {e}"))?;
    eprintln!("      nearest and join jobs …");
    let batch: Vec<[f64; 2]> = queries.iter().take(10_000).copied().collect();
    timed(
        "spatial: nearest job, 10k points against a stored 1M-point layer (reading it included) — wasm",
        "nearest",
        json!({"layer": "points", "points": batch, "k": 1}),
        3,
        &|_| {},
    )?;
    timed(
        "spatial: join job, 10k stored polygons × 1M stored points (contains) — wasm",
        "join",
        json!({"left": "zones", "right": "points", "predicate": "contains"}),
        3,
        &|_| {},
    )?;
    Ok(rows)
}
