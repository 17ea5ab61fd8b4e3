//! Operations on geometries given in the params (no layer): measures,
//! transforms, the DE-9IM matrix, overlays, buffers, hulls,
//! simplification, centroids, validity and repair.

use serde::Deserialize;
use weft_sdk::{EngineError, Params, Value, json};

use crate::crs::Crs;
use crate::measure::{self, Method};
use crate::predicate::{self, Predicate};
use crate::shapes::{self, BufferOptions, Overlay, Simplification};
use crate::{SpatialError, geometry};

use super::parse;

#[derive(Deserialize)]
struct One {
    geometry: Value,
}

#[derive(Deserialize)]
struct Two {
    geometry: Value,
    other: Value,
}

#[derive(Deserialize)]
struct MeasureParams {
    geometry: Value,
    measure: String,
    #[serde(default)]
    other: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    crs: Option<String>,
}

#[derive(Deserialize)]
struct TransformParams {
    geometry: Value,
    from: String,
    to: String,
}

#[derive(Deserialize)]
struct BufferParams {
    geometry: Value,
    distance: f64,
    #[serde(default)]
    join: Option<String>,
    #[serde(default)]
    cap: Option<String>,
    #[serde(default)]
    quad_segs: Option<u32>,
    #[serde(default)]
    mitre_limit: Option<f64>,
}

#[derive(Deserialize)]
struct ConcaveParams {
    geometry: Value,
    #[serde(default = "default_concavity")]
    concavity: f64,
}

fn default_concavity() -> f64 {
    2.0
}

#[derive(Deserialize)]
struct SimplifyParams {
    geometry: Value,
    tolerance: f64,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    preserve_topology: bool,
}

fn parsed(value: &Value, field: &str) -> Result<geo::Geometry, SpatialError> {
    geometry::parse(value).map_err(|e| e.within(field))
}

/// Runs `op` if it is one of this module's; `None` otherwise.
pub(super) fn invoke(op: &str, params: Params<'_>) -> Result<Option<Value>, EngineError> {
    let answer = match op {
        "measure" => measure_op(parse(params)?),
        "transform" => transform(parse(params)?),
        "relate" => relate(parse(params)?),
        "buffer" => buffer(parse(params)?),
        "convex_hull" => one(parse(params)?, |g| Ok(shapes::convex_hull(g))),
        "concave_hull" => {
            let p: ConcaveParams = parse(params)?;
            let g = parsed(&p.geometry, "geometry")?;
            Ok(json!({"geometry": geometry::to_json(&shapes::concave_hull(&g, p.concavity))}))
        }
        "simplify" => simplify(parse(params)?),
        "centroid" => centroid(parse(params)?),
        "validate" => validate(parse(params)?),
        "repair" => one(parse(params)?, shapes::repair),
        "intersection" => overlay(parse(params)?, Overlay::Intersection),
        "union" => overlay(parse(params)?, Overlay::Union),
        "difference" => overlay(parse(params)?, Overlay::Difference),
        "sym_difference" => overlay(parse(params)?, Overlay::SymDifference),
        _ => return Ok(None),
    };
    answer.map(Some).map_err(EngineError::from)
}

fn one(
    params: One,
    op: impl FnOnce(&geo::Geometry) -> Result<geo::Geometry, SpatialError>,
) -> Result<Value, SpatialError> {
    let g = parsed(&params.geometry, "geometry")?;
    Ok(json!({"geometry": geometry::to_json(&op(&g)?)}))
}

/// The method asked for, or the natural one for the CRS.
fn method_for(asked: Option<&str>, crs: &Crs) -> Result<Method, SpatialError> {
    match asked {
        Some(name) => Method::parse(name),
        None if crs.is_geographic() => Ok(Method::Geodesic),
        None => Ok(Method::Planar),
    }
}

fn measure_op(p: MeasureParams) -> Result<Value, SpatialError> {
    let crs = match &p.crs {
        Some(name) => Crs::parse(name)?,
        None => Crs::wgs84(),
    };
    let method = method_for(p.method.as_deref(), &crs)?;
    let g = parsed(&p.geometry, "geometry")?;
    // Ellipsoidal and spherical measures take longitude/latitude: a
    // projected geometry is brought back to WGS 84 first, and the answer
    // says so.
    let wgs84 = Crs::wgs84();
    let (g, measured_in) = if method != Method::Planar && !crs.is_geographic() {
        (crs.transform(&g, &wgs84)?, wgs84.name.clone())
    } else {
        (g, crs.name.clone())
    };
    let units = match method {
        Method::Planar => crs.units().to_owned(),
        _ => "m".to_owned(),
    };
    let value = match p.measure.as_str() {
        "area" => measure::area(&g, method),
        "length" => measure::length(&g, method),
        "distance" => {
            let other = p.other.as_ref().ok_or_else(|| {
                SpatialError::Invalid(
                    "measure distance needs \"other\": the second geometry".into(),
                )
            })?;
            let mut other = parsed(other, "other")?;
            if method != Method::Planar && !crs.is_geographic() {
                other = crs.transform(&other, &wgs84)?;
            }
            measure::distance(&g, &other, method)?
        }
        other => {
            return Err(SpatialError::Invalid(format!(
                "unknown measure '{other}'; use area, length or distance"
            )));
        }
    };
    let units = if p.measure == "area" {
        format!("{units}²")
    } else {
        units
    };
    Ok(
        json!({"measure": p.measure, "value": value, "method": method.name(), "units": units, "crs": measured_in}),
    )
}

fn transform(p: TransformParams) -> Result<Value, SpatialError> {
    let (from, to) = (Crs::parse(&p.from)?, Crs::parse(&p.to)?);
    let g = parsed(&p.geometry, "geometry")?;
    let moved = from.transform(&g, &to)?;
    Ok(json!({"geometry": geometry::to_json(&moved), "from": from.name, "to": to.name}))
}

fn relate(p: Two) -> Result<Value, SpatialError> {
    let (a, b) = (parsed(&p.geometry, "geometry")?, parsed(&p.other, "other")?);
    let mut predicates = serde_json::Map::new();
    for name in predicate::NAMES.iter().filter(|n| **n != "relate") {
        let holds = Predicate::parse(name, None)?.holds(&a, &b);
        predicates.insert((*name).to_owned(), json!(holds));
    }
    Ok(json!({"matrix": predicate::matrix(&a, &b), "predicates": predicates}))
}

fn buffer(p: BufferParams) -> Result<Value, SpatialError> {
    let g = parsed(&p.geometry, "geometry")?;
    let defaults = BufferOptions::default();
    let options = BufferOptions {
        join: p.join.unwrap_or(defaults.join),
        cap: p.cap.unwrap_or(defaults.cap),
        quad_segs: p.quad_segs.unwrap_or(defaults.quad_segs),
        mitre_limit: p.mitre_limit.unwrap_or(defaults.mitre_limit),
    };
    let out = shapes::buffer(&g, p.distance, &options)?;
    Ok(json!({"geometry": geometry::to_json(&out), "area": measure::area(&out, Method::Planar)}))
}

fn simplify(p: SimplifyParams) -> Result<Value, SpatialError> {
    let g = parsed(&p.geometry, "geometry")?;
    let method = Simplification::parse(
        p.method.as_deref().unwrap_or("douglas_peucker"),
        p.preserve_topology,
    )?;
    let out = shapes::simplify(&g, p.tolerance, method)?;
    use geo::CoordsIter;
    Ok(
        json!({"geometry": geometry::to_json(&out), "algorithm": method.name(),
              "vertices_before": g.coords_count(), "vertices_after": out.coords_count()}),
    )
}

fn centroid(p: One) -> Result<Value, SpatialError> {
    let g = parsed(&p.geometry, "geometry")?;
    let point = shapes::centroid(&g)
        .ok_or_else(|| SpatialError::Invalid("an empty geometry has no centroid".into()))?;
    Ok(json!({"geometry": geometry::to_json(&geo::Geometry::Point(point))}))
}

fn validate(p: One) -> Result<Value, SpatialError> {
    let g = parsed(&p.geometry, "geometry")?;
    Ok(match shapes::validate(&g) {
        Ok(()) => json!({"valid": true, "reason": null}),
        Err(reason) => json!({"valid": false, "reason": reason}),
    })
}

fn overlay(p: Two, op: Overlay) -> Result<Value, SpatialError> {
    let (a, b) = (parsed(&p.geometry, "geometry")?, parsed(&p.other, "other")?);
    let out = shapes::overlay(&a, &b, op)?;
    Ok(json!({"geometry": geometry::to_json(&out), "area": measure::area(&out, Method::Planar)}))
}
