//! Operations that make new geometries: boolean overlays, buffers, hulls,
//! simplification, centroids, and the validity check with its repair. All
//! from `geo` (its overlays and buffers run on `i_overlay`); this module
//! chooses the variant and says in its errors which inputs each takes.

use std::f64::consts::FRAC_PI_2;

use geo::algorithm::buffer::{BufferStyle, LineCap, LineJoin};
use geo::concave_hull::ConcaveHullOptions;
use geo::{
    BooleanOps, Buffer, Centroid, ConcaveHull, ConvexHull, CoordsIter, Geometry, MakeValid,
    MultiLineString, MultiPoint, MultiPolygon, Point, RemoveRepeatedPoints, Simplify, SimplifyVw,
    SimplifyVwPreserve, Validation,
};

use crate::SpatialError;

/// A boolean overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// Points in both.
    Intersection,
    /// Points in either.
    Union,
    /// Points in the first and not the second.
    Difference,
    /// Points in exactly one.
    SymDifference,
}

impl Overlay {
    /// The operation's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Intersection => "intersection",
            Self::Union => "union",
            Self::Difference => "difference",
            Self::SymDifference => "sym_difference",
        }
    }
}

/// `a overlay b`. Polygons with polygons; a line with a polygon for
/// intersection and difference (the line clipped).
pub fn overlay(a: &Geometry, b: &Geometry, op: Overlay) -> Result<Geometry, SpatialError> {
    // Overlays of invalid polygons answer garbage silently; refuse them.
    for (which, g) in [("geometry", a), ("other", b)] {
        if let Err(why) = validate(g) {
            return Err(SpatialError::Invalid(format!(
                "{which} is not a valid geometry ({why}); run op repair on it first"
            )));
        }
    }
    if let (Some(a), Some(b)) = (polygonal(a), polygonal(b)) {
        let out = match op {
            Overlay::Intersection => a.intersection(&b),
            Overlay::Union => a.union(&b),
            Overlay::Difference => a.difference(&b),
            Overlay::SymDifference => a.xor(&b),
        };
        return Ok(Geometry::MultiPolygon(out));
    }
    if let (Some(lines), Some(area)) = (lineal(a), polygonal(b)) {
        match op {
            Overlay::Intersection => {
                return Ok(Geometry::MultiLineString(area.clip(&lines, false)));
            }
            Overlay::Difference => return Ok(Geometry::MultiLineString(area.clip(&lines, true))),
            _ => {}
        }
    }
    Err(SpatialError::Invalid(format!(
        "{} takes two polygonal geometries (Polygon, MultiPolygon), or for intersection and difference a line first and a polygon second",
        op.name()
    )))
}

/// The geometry as a MultiPolygon, if it is polygonal.
pub fn polygonal(geometry: &Geometry) -> Option<MultiPolygon> {
    match geometry {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        Geometry::Rect(r) => Some(MultiPolygon(vec![r.to_polygon()])),
        Geometry::Triangle(t) => Some(MultiPolygon(vec![t.to_polygon()])),
        _ => None,
    }
}

fn lineal(geometry: &Geometry) -> Option<MultiLineString> {
    match geometry {
        Geometry::LineString(l) => Some(MultiLineString(vec![l.clone()])),
        Geometry::MultiLineString(m) => Some(m.clone()),
        Geometry::Line(l) => Some(MultiLineString(vec![(*l).into()])),
        _ => None,
    }
}

/// How a buffer's corners and line ends are drawn.
#[derive(Clone, Debug)]
pub struct BufferOptions {
    /// `round`, `mitre` or `bevel`.
    pub join: String,
    /// `round`, `flat` or `square`.
    pub cap: String,
    /// Segments per quarter circle on round joins and caps (Shapely's
    /// `quad_segs`).
    pub quad_segs: u32,
    /// Mitre limit (Shapely's `mitre_limit`).
    pub mitre_limit: f64,
}

impl Default for BufferOptions {
    fn default() -> Self {
        Self {
            join: "round".into(),
            cap: "round".into(),
            quad_segs: 16,
            mitre_limit: 5.0,
        }
    }
}

/// All points within `distance` of the geometry (negative shrinks
/// polygons).
pub fn buffer(
    geometry: &Geometry,
    distance: f64,
    options: &BufferOptions,
) -> Result<Geometry, SpatialError> {
    let step = FRAC_PI_2 / f64::from(options.quad_segs.clamp(1, 1024));
    let join = match options.join.as_str() {
        "round" => LineJoin::Round(step),
        // i_overlay's mitre takes the sharpest angle it still draws; a
        // mitre limit m keeps corners down to 2·asin(1/m).
        "mitre" | "miter" => LineJoin::Miter(2.0 * (1.0 / options.mitre_limit.max(1.0)).asin()),
        "bevel" => LineJoin::Bevel,
        other => {
            return Err(SpatialError::Invalid(format!(
                "unknown join '{other}'; use round, mitre or bevel"
            )));
        }
    };
    let cap = match options.cap.as_str() {
        "round" => LineCap::Round(step),
        "flat" | "butt" => LineCap::Butt,
        "square" => LineCap::Square,
        other => {
            return Err(SpatialError::Invalid(format!(
                "unknown cap '{other}'; use round, flat or square"
            )));
        }
    };
    if !distance.is_finite() {
        return Err(SpatialError::Invalid(
            "distance must be a finite number".into(),
        ));
    }
    if polygonal(geometry).is_some()
        && let Err(why) = validate(geometry)
    {
        return Err(SpatialError::Invalid(format!(
            "the polygon is not valid ({why}); run op repair on it first"
        )));
    }
    let style = BufferStyle::new(distance).line_join(join).line_cap(cap);
    Ok(Geometry::MultiPolygon(geometry.buffer_with_style(style)))
}

/// The smallest convex polygon holding every point.
pub fn convex_hull(geometry: &Geometry) -> Geometry {
    Geometry::Polygon(geometry.convex_hull())
}

/// A concave hull of the geometry's points; `concavity` ≥ 0, smaller is
/// tighter (geo's default is 2).
pub fn concave_hull(geometry: &Geometry, concavity: f64) -> Geometry {
    let points = MultiPoint(geometry.coords_iter().map(Point).collect());
    Geometry::Polygon(points.concave_hull_with_options(ConcaveHullOptions {
        concavity,
        length_threshold: 0.0,
    }))
}

/// A simplification method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simplification {
    /// Ramer–Douglas–Peucker with `tolerance` as the distance.
    DouglasPeucker,
    /// Visvalingam–Whyatt with `tolerance` as the triangle area.
    Visvalingam,
    /// Visvalingam–Whyatt that keeps rings valid and apart.
    VisvalingamPreserve,
}

impl Simplification {
    /// From `method` and `preserve_topology`.
    pub fn parse(method: &str, preserve_topology: bool) -> Result<Self, SpatialError> {
        match (method, preserve_topology) {
            // geo's topology-preserving simplifier is Visvalingam–Whyatt's.
            (_, true) => Ok(Self::VisvalingamPreserve),
            ("douglas_peucker" | "dp" | "rdp", false) => Ok(Self::DouglasPeucker),
            ("visvalingam" | "visvalingam_whyatt" | "vw", false) => Ok(Self::Visvalingam),
            (other, _) => Err(SpatialError::Invalid(format!(
                "unknown simplification '{other}'; use douglas_peucker or visvalingam (and preserve_topology: true to keep rings valid)"
            ))),
        }
    }

    /// Its name in answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::DouglasPeucker => "douglas_peucker",
            Self::Visvalingam => "visvalingam_whyatt",
            Self::VisvalingamPreserve => "visvalingam_whyatt_topology_preserving",
        }
    }
}

/// The geometry with fewer vertices.
pub fn simplify(
    geometry: &Geometry,
    tolerance: f64,
    method: Simplification,
) -> Result<Geometry, SpatialError> {
    macro_rules! each {
        ($g:expr) => {
            match method {
                Simplification::DouglasPeucker => $g.simplify(tolerance),
                Simplification::Visvalingam => $g.simplify_vw(tolerance),
                Simplification::VisvalingamPreserve => $g.simplify_vw_preserve(tolerance),
            }
        };
    }
    Ok(match geometry {
        Geometry::LineString(l) => Geometry::LineString(each!(l)),
        Geometry::MultiLineString(m) => Geometry::MultiLineString(each!(m)),
        Geometry::Polygon(p) => Geometry::Polygon(each!(p)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(each!(m)),
        Geometry::Point(_) | Geometry::MultiPoint(_) => geometry.clone(),
        _ => {
            return Err(SpatialError::Invalid(
                "simplify takes a LineString, MultiLineString, Polygon or MultiPolygon".into(),
            ));
        }
    })
}

/// The centroid (`None` for an empty geometry).
pub fn centroid(geometry: &Geometry) -> Option<Point> {
    geometry.centroid()
}

/// `Ok` or the first reason the geometry is invalid (OGC simple features
/// rules, as GEOS checks them).
pub fn validate(geometry: &Geometry) -> Result<(), String> {
    geometry.check_validation().map_err(|e| e.to_string())
}

/// A valid version of the geometry: polygons rebuilt from their rings
/// (odd-even, Ledoux et al.), repeated points removed from lines.
pub fn repair(geometry: &Geometry) -> Result<Geometry, SpatialError> {
    if validate(geometry).is_ok() {
        return Ok(geometry.clone());
    }
    let failed = |e: geo::algorithm::repair_polygon::RepairPolygonError| {
        SpatialError::Invalid(format!("the geometry cannot be repaired: {e}"))
    };
    match geometry {
        Geometry::Polygon(p) => p.make_valid().map(Geometry::MultiPolygon).map_err(failed),
        Geometry::MultiPolygon(m) => m.make_valid().map(Geometry::MultiPolygon).map_err(failed),
        Geometry::LineString(_) | Geometry::MultiLineString(_) | Geometry::MultiPoint(_) => {
            let cleaned = geometry.remove_repeated_points();
            validate(&cleaned).map_err(|why| {
                SpatialError::Invalid(format!("the geometry cannot be repaired: {why}"))
            })?;
            Ok(cleaned)
        }
        _ => Err(SpatialError::Invalid(
            "only polygons and lines can be repaired".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use wkt::TryFromWkt;

    fn g(text: &str) -> Geometry {
        Geometry::try_from_wkt_str(text).expect("valid test input")
    }

    #[test]
    fn overlays_of_two_squares() {
        let a = g("POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))");
        let b = g("POLYGON ((1 0, 3 0, 3 2, 1 2, 1 0))");
        let area = |op| {
            overlay(&a, &b, op)
                .expect("valid test input")
                .unsigned_area()
        };
        assert_eq!(area(Overlay::Intersection), 2.0);
        assert_eq!(area(Overlay::Union), 6.0);
        assert_eq!(area(Overlay::Difference), 2.0);
        assert_eq!(area(Overlay::SymDifference), 4.0);
        let line = g("LINESTRING (-1 1, 4 1)");
        let clipped = overlay(&line, &a, Overlay::Intersection).expect("valid test input");
        assert_eq!(
            crate::measure::length(&clipped, crate::measure::Method::Planar),
            2.0
        );
        assert!(overlay(&line, &line, Overlay::Union).is_err());
    }

    #[test]
    fn a_bowtie_is_invalid_and_repaired() {
        let bowtie = g("POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))");
        let why = validate(&bowtie).expect_err("must be refused");
        assert!(why.contains("self-intersect"), "{why}");
        let fixed = repair(&bowtie).expect("valid test input");
        assert!(validate(&fixed).is_ok());
        assert!((fixed.unsigned_area() - 50.0).abs() < 1e-9);
        let square = g("POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))");
        let refused = overlay(&bowtie, &square, Overlay::Union)
            .expect_err("must be refused")
            .to_string();
        assert!(refused.contains("run op repair"), "{refused}");
    }

    #[test]
    fn a_point_buffer_is_nearly_a_circle() {
        let circle =
            buffer(&g("POINT (0 0)"), 1.0, &BufferOptions::default()).expect("valid test input");
        let area = circle.unsigned_area();
        assert!((area - std::f64::consts::PI).abs() < 0.01, "{area}");
        let bad = BufferOptions {
            join: "wavy".into(),
            ..BufferOptions::default()
        };
        assert!(buffer(&g("POINT (0 0)"), 1.0, &bad).is_err());
    }
}
