//! Coordinate reference systems: names to `proj4rs` projections, and
//! geometries transformed between them.
//!
//! A CRS is named `EPSG:<code>` (from the table below, and every WGS 84 and
//! ETRS89 UTM zone), `CRS84`/`WGS84`, an OGC URN, or given as a proj string
//! (`+proj=…`). The table is ours and short on purpose: the full EPSG
//! database would add megabytes to every instance of the plugin, and any
//! other system can be given as its proj string. Geographic coordinates
//! are longitude, latitude in degrees, always (the GeoJSON axis order).

use geo::{Coord, Geometry, MapCoords};
use proj4rs::Proj;

use crate::SpatialError;

/// EPSG codes the engine knows by number, with their proj strings (as in
/// PROJ's `proj4` export of each definition).
pub const KNOWN: &[(u32, &str, &str)] = &[
    (4326, "WGS 84", "+proj=longlat +datum=WGS84 +no_defs"),
    (
        4258,
        "ETRS89",
        "+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs",
    ),
    (
        4269,
        "NAD83",
        "+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs",
    ),
    (
        4283,
        "GDA94",
        "+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs",
    ),
    (
        3857,
        "WGS 84 / Pseudo-Mercator",
        "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs",
    ),
    (
        3395,
        "WGS 84 / World Mercator",
        "+proj=merc +lon_0=0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        4087,
        "WGS 84 / World Equidistant Cylindrical",
        "+proj=eqc +lat_ts=0 +lat_0=0 +lon_0=0 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        6933,
        "WGS 84 / NSIDC EASE-Grid 2.0 Global",
        "+proj=cea +lat_ts=30 +lon_0=0 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        3413,
        "WGS 84 / NSIDC Sea Ice Polar Stereographic North",
        "+proj=stere +lat_0=90 +lat_ts=70 +lon_0=-45 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        3031,
        "WGS 84 / Antarctic Polar Stereographic",
        "+proj=stere +lat_0=-90 +lat_ts=-71 +lon_0=0 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs",
    ),
    (
        2154,
        "RGF93 v1 / Lambert-93",
        "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        3035,
        "ETRS89-extended / LAEA Europe",
        "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        3034,
        "ETRS89-extended / LCC Europe",
        "+proj=lcc +lat_0=52 +lon_0=10 +lat_1=35 +lat_2=65 +x_0=4000000 +y_0=2800000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        3067,
        "ETRS89 / TM35FIN(E,N)",
        "+proj=utm +zone=35 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        5070,
        "NAD83 / Conus Albers",
        "+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        3338,
        "NAD83 / Alaska Albers",
        "+proj=aea +lat_0=50 +lon_0=-154 +lat_1=55 +lat_2=65 +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        3577,
        "GDA94 / Australian Albers",
        "+proj=aea +lat_0=0 +lon_0=132 +lat_1=-18 +lat_2=-36 +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        2193,
        "NZGD2000 / New Zealand Transverse Mercator 2000",
        "+proj=tmerc +lat_0=0 +lon_0=173 +k=0.9996 +x_0=1600000 +y_0=10000000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
    ),
    (
        27700,
        "OSGB36 / British National Grid",
        "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy +towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs",
    ),
];

/// A coordinate reference system.
#[derive(Debug)]
pub struct Crs {
    /// Its canonical name (`EPSG:4326`, or the proj string given).
    pub name: String,
    proj: Proj,
}

impl Crs {
    /// The CRS called `name` (see the module docs for the forms taken).
    pub fn parse(name: &str) -> Result<Self, SpatialError> {
        let trimmed = name.trim();
        if trimmed.starts_with('+') {
            let proj = Proj::from_proj_string(trimmed).map_err(|e| {
                SpatialError::Invalid(format!("proj string '{trimmed}' is not usable: {e}"))
            })?;
            return Ok(Self {
                name: trimmed.to_owned(),
                proj,
            });
        }
        let code = epsg_code(trimmed).ok_or_else(|| unknown(trimmed))?;
        let text = proj_string(code).ok_or_else(|| unknown(trimmed))?;
        let proj = Proj::from_proj_string(&text)
            .map_err(|e| SpatialError::Invalid(format!("EPSG:{code} cannot be set up: {e}")))?;
        Ok(Self {
            name: format!("EPSG:{code}"),
            proj,
        })
    }

    /// WGS 84 longitude/latitude.
    pub fn wgs84() -> Self {
        // The table's first entry always parses.
        Self::parse("EPSG:4326").unwrap_or_else(|_| unreachable!("EPSG:4326 is built in"))
    }

    /// Coordinates are longitude and latitude (degrees).
    pub fn is_geographic(&self) -> bool {
        self.proj.is_latlong()
    }

    /// Unit of its coordinates, for answers (`degrees`, `m`, …).
    pub fn units(&self) -> &'static str {
        if self.is_geographic() {
            "degrees"
        } else {
            self.proj.units()
        }
    }

    /// `geometry` moved from this CRS to `to`.
    pub fn transform(&self, geometry: &Geometry, to: &Crs) -> Result<Geometry, SpatialError> {
        if self.name == to.name {
            return Ok(geometry.clone());
        }
        let (from_geo, to_geo) = (self.is_geographic(), to.is_geographic());
        geometry.try_map_coords(|c: Coord| {
            let mut point = if from_geo {
                (c.x.to_radians(), c.y.to_radians(), 0.0)
            } else {
                (c.x, c.y, 0.0)
            };
            proj4rs::transform::transform(&self.proj, &to.proj, &mut point).map_err(|e| {
                SpatialError::Invalid(format!(
                    "({}, {}) cannot be transformed from {} to {}: {e}",
                    c.x, c.y, self.name, to.name
                ))
            })?;
            let (x, y) = if to_geo {
                (point.0.to_degrees(), point.1.to_degrees())
            } else {
                (point.0, point.1)
            };
            if !x.is_finite() || !y.is_finite() {
                return Err(SpatialError::Invalid(format!(
                    "({}, {}) lies outside the area where {} is defined",
                    c.x, c.y, to.name
                )));
            }
            Ok(Coord { x, y })
        })
    }
}

/// The EPSG code in `EPSG:4326`, `epsg:4326`, `4326`, `CRS84`, `WGS84` or
/// `urn:ogc:def:crs:EPSG::4326`.
fn epsg_code(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    if matches!(upper.as_str(), "CRS84" | "WGS84" | "OGC:CRS84") || upper.ends_with(":CRS84") {
        return Some(4326);
    }
    let digits = upper
        .strip_prefix("EPSG:")
        .or_else(|| upper.strip_prefix("URN:OGC:DEF:CRS:EPSG::"))
        .or_else(|| upper.rsplit_once("EPSG::").map(|(_, code)| code))
        .unwrap_or(&upper);
    digits.parse().ok()
}

/// The proj string of EPSG `code`: the table, or a UTM zone (WGS 84
/// 326zz/327zz, ETRS89 258zz).
pub fn proj_string(code: u32) -> Option<String> {
    if let Some((_, _, text)) = KNOWN.iter().find(|(known, _, _)| *known == code) {
        return Some((*text).to_owned());
    }
    match code {
        32601..=32660 => Some(format!(
            "+proj=utm +zone={} +datum=WGS84 +units=m +no_defs",
            code - 32600
        )),
        32701..=32760 => Some(format!(
            "+proj=utm +zone={} +south +datum=WGS84 +units=m +no_defs",
            code - 32700
        )),
        25828..=25838 => Some(format!(
            "+proj=utm +zone={} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
            code - 25800
        )),
        _ => None,
    }
}

fn unknown(name: &str) -> SpatialError {
    SpatialError::Invalid(format!(
        "unknown CRS '{name}': use EPSG:4326, EPSG:3857, a UTM zone (EPSG:326zz north, EPSG:327zz south, EPSG:258zz ETRS89), another code from the engine's list (GET /api/v1/plugins/spatial or docs/spatial.md), or a proj string such as \"+proj=utm +zone=33 +datum=WGS84\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Point;

    #[test]
    fn names_parse_to_the_same_system() {
        for name in [
            "EPSG:4326",
            "epsg:4326",
            "4326",
            "CRS84",
            "urn:ogc:def:crs:EPSG::4326",
        ] {
            assert_eq!(
                Crs::parse(name).expect("valid test input").name,
                "EPSG:4326",
                "{name}"
            );
        }
        assert_eq!(
            Crs::parse("EPSG:32633").expect("valid test input").name,
            "EPSG:32633"
        );
        assert!(Crs::parse("EPSG:32633").expect("valid test input").units() == "m");
        let err = Crs::parse("EPSG:999999")
            .expect_err("must be refused")
            .to_string();
        assert!(err.contains("unknown CRS 'EPSG:999999'"), "{err}");
        assert!(Crs::parse("+proj=nonsense").is_err());
    }

    #[test]
    fn web_mercator_round_trips() {
        let wgs84 = Crs::wgs84();
        let mercator = Crs::parse("EPSG:3857").expect("valid test input");
        let p = Geometry::Point(Point::new(10.0, 50.0));
        let there = wgs84.transform(&p, &mercator).expect("valid test input");
        let Geometry::Point(q) = &there else { panic!() };
        // pyproj: (1113194.9079327357, 6446275.841017161)
        assert!((q.x() - 1_113_194.907_932_735_7).abs() < 1e-6, "{q:?}");
        assert!((q.y() - 6_446_275.841_017_161).abs() < 1e-6, "{q:?}");
        let back = mercator
            .transform(&there, &wgs84)
            .expect("valid test input");
        let Geometry::Point(r) = back else { panic!() };
        assert!((r.x() - 10.0).abs() < 1e-9 && (r.y() - 50.0).abs() < 1e-9);
    }
}
