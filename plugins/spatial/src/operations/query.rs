//! Queries over a stored layer: predicates, nearest neighbours, distance
//! and box searches, and the spatial join of two layers. Candidates come
//! from the layer's index and are then tested exactly; every answer says
//! how many were tested (`explain`), and the features found stream as
//! `spatial_result` events.
//!
//! Distances here are planar, in the layer's CRS units: store a layer in a
//! projected CRS (a UTM zone, say) to search it in metres.

use geo::{Distance, Euclidean, Geometry, Rect, coord};
use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use crate::crs::Crs;
use crate::layer::{self, Layer};
use crate::predicate::Predicate;
use crate::{SpatialError, geometry, index};

use super::{QUERY, check_cancelled};

/// A feature found: its number and, for distance searches, its distance.
type Found = (u32, Option<f64>);

/// Features per `spatial_result` event.
const BATCH: usize = 256;

fn default_limit() -> usize {
    10_000
}

fn yes() -> bool {
    true
}

/// How much of each feature found an answer shows.
#[derive(Deserialize)]
struct Shown {
    /// Most features returned (all are counted).
    #[serde(default = "default_limit")]
    limit: usize,
    /// Include properties.
    #[serde(default = "yes")]
    with_properties: bool,
}

#[derive(Deserialize)]
pub(super) struct QueryParams {
    layer: String,
    predicate: String,
    #[serde(default)]
    pattern: Option<String>,
    geometry: Value,
    #[serde(default)]
    crs: Option<String>,
    #[serde(flatten)]
    shown: Shown,
}

/// The given geometry in the layer's CRS (transformed, and said so, when
/// the caller names another).
fn in_layer_crs(
    value: &Value,
    crs: Option<&str>,
    layer: &Layer,
) -> Result<(Geometry, Option<String>), SpatialError> {
    let g = geometry::parse(value).map_err(|e| e.within("geometry"))?;
    match crs {
        Some(name) => {
            let given = Crs::parse(name)?;
            if given.name == layer.info.crs {
                return Ok((g, None));
            }
            let target = Crs::parse(&layer.info.crs)?;
            Ok((given.transform(&g, &target)?, Some(given.name)))
        }
        None => Ok((g, None)),
    }
}

/// What every query answer and its events share.
struct Answer<'a> {
    host: &'a dyn Host,
    layer: &'a Layer,
    operation: &'static str,
    with_properties: bool,
    limit: usize,
}

impl Answer<'_> {
    /// Emits the found features in batches and answers them.
    fn finish(
        &self,
        found: &[(u32, Option<f64>)],
        candidates: usize,
        extra: Value,
    ) -> Result<Value, SpatialError> {
        let shown = &found[..found.len().min(self.limit)];
        let rows: Vec<u32> = shown.iter().map(|f| f.0).collect();
        let properties = if self.with_properties {
            layer::properties(self.host, &self.layer.info, &rows)?
        } else {
            rows.iter()
                .map(|&r| (json!(r), Default::default()))
                .collect()
        };
        let features: Vec<Value> = shown
            .iter()
            .zip(properties)
            .map(|(&(row, distance), (id, props))| {
                let mut feature = json!({
                    "type": "Feature",
                    "id": id,
                    "geometry": geometry::to_json(&self.layer.geometries[row as usize]),
                    "properties": props,
                });
                if let Some(d) = distance {
                    feature["distance"] = json!(d);
                }
                feature
            })
            .collect();
        let batches = features.chunks(BATCH).count().max(1);
        for (i, batch) in features
            .chunks(BATCH)
            .chain(
                // An answer with nothing found still ends its stream.
                std::iter::once(&[][..]).filter(|_| features.is_empty()),
            )
            .enumerate()
        {
            self.host.emit(
                QUERY,
                "spatial_result",
                &json!({
                    "operation": self.operation,
                    "layer": self.layer.info.name,
                    "features": batch,
                    "results_found": (i * BATCH + batch.len()).min(found.len()),
                    "processing_complete": i + 1 == batches,
                }),
            );
        }
        let mut answer = json!({
            "operation": self.operation,
            "layer": self.layer.info.name,
            "crs": self.layer.info.crs,
            "results_found": found.len(),
            "truncated": found.len() > shown.len(),
            "features": features,
            "explain": {
                "index": self.layer.info.index.kind,
                "candidates_tested": candidates,
                "features_in_layer": self.layer.geometries.len(),
            },
        });
        if let (Value::Object(answer), Value::Object(extra)) = (&mut answer, extra) {
            answer.extend(extra);
        }
        Ok(answer)
    }
}

/// Tests `candidates` (every feature when `None`) with `test`, reporting
/// progress; answers the matches in feature order and how many were
/// tested.
fn scan(
    host: &dyn Host,
    layer: &Layer,
    candidates: Option<Vec<u32>>,
    mut test: impl FnMut(&Geometry) -> Option<Option<f64>>,
) -> Result<(Vec<Found>, usize), SpatialError> {
    let mut rows = candidates.unwrap_or_else(|| (0..layer.geometries.len() as u32).collect());
    rows.sort_unstable();
    let total = rows.len() as u64;
    let mut found = Vec::new();
    for (i, &row) in rows.iter().enumerate() {
        if i % 4096 == 0 {
            check_cancelled(host)?;
            host.progress(i as u64, total, "testing candidates", None);
        }
        if let Some(distance) = test(&layer.geometries[row as usize]) {
            found.push((row, distance));
        }
    }
    host.progress(total, total, "tested", None);
    Ok((found, rows.len()))
}

pub(super) fn query(p: QueryParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let predicate = Predicate::parse(&p.predicate, p.pattern.as_deref())?;
    let layer = layer::load(host, &p.layer)?;
    let (g, transformed_from) = in_layer_crs(&p.geometry, p.crs.as_deref(), &layer)?;
    let candidates = match (predicate.needs_contact(), index::bounds(&g)) {
        (true, Some(b)) => Some(layer.index.intersecting(b)),
        (true, None) => Some(Vec::new()),
        (false, _) => None,
    };
    let (found, tested) = scan(host, &layer, candidates, |feature| {
        predicate.holds(feature, &g).then_some(None)
    })?;
    Answer {
        host,
        layer: &layer,
        operation: "query",
        with_properties: p.shown.with_properties,
        limit: p.shown.limit,
    }
    .finish(
        &found,
        tested,
        json!({"predicate": p.predicate, "transformed_from": transformed_from}),
    )
}

#[derive(Deserialize)]
pub(super) struct NearestParams {
    layer: String,
    #[serde(default)]
    point: Option<[f64; 2]>,
    /// Many query points at once: answered as compact arrays.
    #[serde(default)]
    points: Option<Vec<[f64; 2]>>,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    max_distance: Option<f64>,
    #[serde(default)]
    crs: Option<String>,
    #[serde(default = "yes")]
    with_properties: bool,
}

fn default_k() -> usize {
    10
}

pub(super) fn nearest(p: NearestParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let layer = layer::load(host, &p.layer)?;
    if let Some(points) = &p.points {
        return nearest_many(host, &layer, points, &p);
    }
    let point = json!({"type": "Point", "coordinates": p.point.ok_or_else(|| {
        SpatialError::Invalid("nearest needs \"point\": [x, y] (or \"points\": [[x, y], …])".into())
    })?});
    let (g, transformed_from) = in_layer_crs(&point, p.crs.as_deref(), &layer)?;
    let Geometry::Point(at) = g else {
        return Err(SpatialError::Invalid("point must be [x, y]".into()));
    };
    let (mut near, searched) = layer.index.nearest([at.x(), at.y()], p.k, |row| {
        Euclidean.distance(&Geometry::Point(at), &layer.geometries[row as usize])
    });
    if let Some(max) = p.max_distance {
        near.retain(|(_, d)| *d <= max);
    }
    let found: Vec<(u32, Option<f64>)> = near.into_iter().map(|(r, d)| (r, Some(d))).collect();
    Answer {
        host,
        layer: &layer,
        operation: "nearest",
        with_properties: p.with_properties,
        limit: usize::MAX,
    }
    .finish(
        &found,
        searched.candidates,
        json!({"k": p.k, "transformed_from": transformed_from}),
    )
}

/// `nearest` for many points: per point, the ids and distances of its k
/// nearest features (no geometries or properties, no events).
fn nearest_many(
    host: &dyn Host,
    layer: &Layer,
    points: &[[f64; 2]],
    p: &NearestParams,
) -> Result<Value, SpatialError> {
    if p.crs
        .as_deref()
        .is_some_and(|c| Crs::parse(c).map(|c| c.name) != Ok(layer.info.crs.clone()))
    {
        return Err(SpatialError::Invalid(format!(
            "points must be in the layer's CRS ({}) for a batch nearest search",
            layer.info.crs
        )));
    }
    let mut tested = 0;
    let mut results = Vec::with_capacity(points.len());
    for (i, &[x, y]) in points.iter().enumerate() {
        if i % 4096 == 0 {
            check_cancelled(host)?;
            host.progress(i as u64, points.len() as u64, "searching", None);
        }
        let at = Geometry::Point(geo::Point::new(x, y));
        let (mut near, searched) = layer.index.nearest([x, y], p.k, |row| {
            Euclidean.distance(&at, &layer.geometries[row as usize])
        });
        if let Some(max) = p.max_distance {
            near.retain(|(_, d)| *d <= max);
        }
        tested += searched.candidates;
        let (ids, distances): (Vec<u32>, Vec<f64>) = near.into_iter().unzip();
        results.push(json!({"ids": ids, "distances": distances}));
    }
    host.progress(points.len() as u64, points.len() as u64, "searched", None);
    Ok(json!({
        "operation": "nearest",
        "layer": layer.info.name,
        "k": p.k,
        "results": results,
        "explain": {"index": layer.info.index.kind, "candidates_tested": tested},
    }))
}

#[derive(Deserialize)]
pub(super) struct WithinParams {
    layer: String,
    #[serde(default)]
    geometry: Option<Value>,
    #[serde(default)]
    point: Option<[f64; 2]>,
    distance: f64,
    #[serde(default)]
    crs: Option<String>,
    #[serde(flatten)]
    shown: Shown,
}

pub(super) fn within_distance(p: WithinParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let layer = layer::load(host, &p.layer)?;
    let given = match (&p.geometry, p.point) {
        (Some(g), _) => g.clone(),
        (None, Some(point)) => json!({"type": "Point", "coordinates": point}),
        (None, None) => {
            return Err(SpatialError::Invalid(
                "within_distance needs \"geometry\" or \"point\"".into(),
            ));
        }
    };
    let (g, transformed_from) = in_layer_crs(&given, p.crs.as_deref(), &layer)?;
    let d = p.distance;
    let candidates = index::bounds(&g).map(|b| {
        layer.index.intersecting(Rect::new(
            coord! {x: b.min().x - d, y: b.min().y - d},
            coord! {x: b.max().x + d, y: b.max().y + d},
        ))
    });
    let (mut found, tested) = scan(
        host,
        &layer,
        Some(candidates.unwrap_or_default()),
        |feature| {
            let distance = Euclidean.distance(&g, feature);
            (distance <= d).then_some(Some(distance))
        },
    )?;
    found.sort_by(|a, b| {
        a.1.unwrap_or(0.0)
            .total_cmp(&b.1.unwrap_or(0.0))
            .then(a.0.cmp(&b.0))
    });
    Answer {
        host,
        layer: &layer,
        operation: "within_distance",
        with_properties: p.shown.with_properties,
        limit: p.shown.limit,
    }
    .finish(
        &found,
        tested,
        json!({"distance": d, "transformed_from": transformed_from}),
    )
}

#[derive(Deserialize)]
pub(super) struct BboxParams {
    layer: String,
    bbox: [f64; 4],
    #[serde(flatten)]
    shown: Shown,
}

pub(super) fn bbox(p: BboxParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let [x0, y0, x1, y1] = p.bbox;
    if !(x0 <= x1 && y0 <= y1) {
        return Err(SpatialError::Invalid(
            "bbox is [min x, min y, max x, max y] with min ≤ max".into(),
        ));
    }
    let layer = layer::load(host, &p.layer)?;
    let area = Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y1});
    let boxed = Geometry::Polygon(area.to_polygon());
    let (found, tested) = scan(
        host,
        &layer,
        Some(layer.index.intersecting(area)),
        |feature| Predicate::Intersects.holds(feature, &boxed).then_some(None),
    )?;
    Answer {
        host,
        layer: &layer,
        operation: "bbox",
        with_properties: p.shown.with_properties,
        limit: p.shown.limit,
    }
    .finish(&found, tested, json!({"bbox": p.bbox}))
}

#[derive(Deserialize)]
pub(super) struct JoinParams {
    left: String,
    right: String,
    #[serde(default = "intersects")]
    predicate: String,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    with_ids: bool,
}

fn intersects() -> String {
    "intersects".into()
}

pub(super) fn join(p: JoinParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let predicate = Predicate::parse(&p.predicate, p.pattern.as_deref())?;
    let left = layer::load(host, &p.left)?;
    let right = layer::load(host, &p.right)?;
    if left.info.crs != right.info.crs {
        return Err(SpatialError::Invalid(format!(
            "layers '{}' ({}) and '{}' ({}) are in different CRSs; store one again in the other's CRS before joining them",
            left.info.name, left.info.crs, right.info.name, right.info.crs
        )));
    }
    let total = left.geometries.len() as u64;
    let mut counts = Vec::with_capacity(left.geometries.len());
    let mut tested = 0usize;
    let mut pairs = 0usize;
    for (i, g) in left.geometries.iter().enumerate() {
        if i % 64 == 0 {
            check_cancelled(host)?;
            host.progress(i as u64, total, "joining", None);
        }
        let mut candidates = match (predicate.needs_contact(), index::bounds(g)) {
            (true, Some(b)) => right.index.intersecting(b),
            (true, None) => Vec::new(),
            (false, _) => (0..right.geometries.len() as u32).collect(),
        };
        candidates.sort_unstable();
        tested += candidates.len();
        let matches: Vec<u32> = candidates
            .into_iter()
            .filter(|&r| predicate.holds(g, &right.geometries[r as usize]))
            .collect();
        pairs += matches.len();
        let mut entry = json!({"left": i, "count": matches.len()});
        if p.with_ids {
            entry["right"] = json!(matches);
        }
        counts.push(entry);
    }
    host.progress(total, total, "joined", None);
    let summary = json!({
        "operation": "join",
        "layer": left.info.name,
        "features": [],
        "results_found": pairs,
        "processing_complete": true,
    });
    host.emit(QUERY, "spatial_result", &summary);
    Ok(json!({
        "operation": "join",
        "left": left.info.name,
        "right": right.info.name,
        "predicate": p.predicate,
        "pairs": pairs,
        "counts": counts,
        "explain": {"index": right.info.index.kind, "candidates_tested": tested},
    }))
}
