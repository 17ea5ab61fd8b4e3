//! Area, length and distance: planar (in the CRS's units), on the WGS 84
//! ellipsoid (Karney's geodesics, through `geo`'s `Geodesic*`, as pyproj's
//! `Geod`), or on a sphere of the GRS80 mean radius (haversine).
//!
//! Length follows Shapely: a polygon's length is its perimeter, a point's
//! zero. Ellipsoidal and spherical measures take longitude/latitude; the
//! caller transforms first (see `operations`).

use geo::{
    Area, ChamberlainDuquetteArea, Distance, Euclidean, Geodesic, GeodesicArea, Geometry,
    Haversine, Length, LineString, Point,
};

use crate::SpatialError;

/// How a measure is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Euclidean, in the coordinates' units.
    Planar,
    /// On the WGS 84 ellipsoid, in metres.
    Geodesic,
    /// On a sphere of radius 6,371,008.8 m (GRS80 R1, as geo rounds it).
    Haversine,
}

impl Method {
    /// `planar`, `geodesic` or `haversine`.
    pub fn parse(name: &str) -> Result<Self, SpatialError> {
        match name {
            "planar" | "euclidean" => Ok(Self::Planar),
            "geodesic" | "ellipsoidal" => Ok(Self::Geodesic),
            "haversine" | "spherical" => Ok(Self::Haversine),
            other => Err(SpatialError::Invalid(format!(
                "unknown method '{other}'; use planar, geodesic or haversine"
            ))),
        }
    }

    /// Its name in answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Planar => "planar",
            Self::Geodesic => "geodesic",
            Self::Haversine => "haversine",
        }
    }
}

/// Area (unsigned; zero for points and lines).
pub fn area(geometry: &Geometry, method: Method) -> f64 {
    match method {
        Method::Planar => geometry.unsigned_area(),
        Method::Geodesic => geometry.geodesic_area_unsigned(),
        Method::Haversine => geometry.chamberlain_duquette_unsigned_area(),
    }
}

/// Length of lines, perimeter of polygons, summed over parts.
pub fn length(geometry: &Geometry, method: Method) -> f64 {
    let line = |l: &LineString| match method {
        Method::Planar => Euclidean.length(l),
        Method::Geodesic => Geodesic.length(l),
        Method::Haversine => Haversine.length(l),
    };
    let polygon = |p: &geo::Polygon| -> f64 {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(line)
            .sum()
    };
    match geometry {
        Geometry::Point(_) | Geometry::MultiPoint(_) => 0.0,
        Geometry::Line(l) => line(&LineString::from(*l)),
        Geometry::LineString(l) => line(l),
        Geometry::MultiLineString(m) => m.0.iter().map(line).sum(),
        Geometry::Polygon(p) => polygon(p),
        Geometry::Rect(r) => polygon(&r.to_polygon()),
        Geometry::Triangle(t) => polygon(&t.to_polygon()),
        Geometry::MultiPolygon(m) => m.0.iter().map(polygon).sum(),
        Geometry::GeometryCollection(c) => c.0.iter().map(|g| length(g, method)).sum(),
    }
}

/// Shortest distance between two geometries. On the ellipsoid and the
/// sphere, between two points only.
pub fn distance(a: &Geometry, b: &Geometry, method: Method) -> Result<f64, SpatialError> {
    if method == Method::Planar {
        return Ok(Euclidean.distance(a, b));
    }
    let (Geometry::Point(p), Geometry::Point(q)) = (a, b) else {
        return Err(SpatialError::Invalid(format!(
            "{} distance is measured between two points; for other geometries use method \"planar\" in a projected CRS (transform first, e.g. to the UTM zone)",
            method.name()
        )));
    };
    Ok(point_distance(*p, *q, method))
}

/// Distance between two points.
pub fn point_distance(p: Point, q: Point, method: Method) -> f64 {
    match method {
        Method::Planar => Euclidean.distance(p, q),
        Method::Geodesic => Geodesic.distance(p, q),
        Method::Haversine => Haversine.distance(p, q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wkt::TryFromWkt;

    #[test]
    fn planar_measures_of_a_square_with_a_hole() {
        let g = Geometry::try_from_wkt_str(
            "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 4 2, 4 4, 2 4, 2 2))",
        )
        .expect("valid test input");
        assert_eq!(area(&g, Method::Planar), 96.0);
        assert_eq!(length(&g, Method::Planar), 48.0);
        let p = Geometry::Point(Point::new(13.0, 14.0));
        assert_eq!(
            distance(&g, &p, Method::Planar).expect("valid test input"),
            5.0
        );
        assert!(distance(&g, &p, Method::Geodesic).is_err());
    }

    #[test]
    fn a_degree_of_the_equator() {
        let (p, q) = (Point::new(0.0, 0.0), Point::new(1.0, 0.0));
        // WGS 84: a = 6378137 m, so one degree of the equator is a·π/180.
        let geodesic = point_distance(p, q, Method::Geodesic);
        assert!((geodesic - 6_378_137.0 * std::f64::consts::PI / 180.0).abs() < 1e-6);
        let spherical = point_distance(p, q, Method::Haversine);
        assert!((spherical - 6_371_008.8 * std::f64::consts::PI / 180.0).abs() < 1e-6);
    }
}
