//! Geometries in and out: GeoJSON geometry objects, WKT strings and WKB
//! bytes to `geo` types and back.
//!
//! Input is checked here, once, before any algorithm sees it: coordinates
//! finite, rings closed with at least four positions, lines with at least
//! two. The GeoJSON reader is our own (a few dozen lines over
//! `serde_json`) because those checks must name the ring and position that
//! fails, which a general converter does not; WKT and WKB go through the
//! `wkt` and `wkb` crates. Nothing here knows about layers or storage.

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use geo_traits::to_geo::ToGeoGeometry;
use serde_json::{Map, Value, json};
use wkt::{ToWkt, TryFromWkt};

use crate::SpatialError;

/// A geometry given as a GeoJSON geometry object, a WKT string or a hex
/// WKB string.
pub fn parse(value: &Value) -> Result<Geometry, SpatialError> {
    let geometry = match value {
        Value::String(text) if looks_like_wkb(text) => {
            let bytes = hex_bytes(text)
                .ok_or_else(|| SpatialError::Invalid("hex WKB holds a non-hex digit".into()))?;
            return from_wkb(&bytes);
        }
        Value::String(text) => Geometry::try_from_wkt_str(text).map_err(|e| {
            SpatialError::Invalid(format!(
                "'{}' is not WKT ({e}); give WKT such as \"POINT (1 2)\" or a GeoJSON geometry object",
                shorten(text)
            ))
        })?,
        Value::Object(object) => from_geojson(object)?,
        other => {
            return Err(SpatialError::Invalid(format!(
                "a geometry is a GeoJSON geometry object or a WKT string, not {}",
                kind_of(other)
            )));
        }
    };
    check_finite(&geometry)?;
    Ok(geometry)
}

/// A geometry as GeoJSON with its WKT and hex WKB beside it: `{"type",
/// "coordinates", "wkt", "wkb"}`.
pub fn to_json(geometry: &Geometry) -> Value {
    let mut object = to_geojson(geometry);
    if let Value::Object(map) = &mut object {
        map.insert("wkt".into(), Value::String(geometry.wkt_string()));
        if let Ok(bytes) = to_wkb(geometry) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            map.insert("wkb".into(), Value::String(hex));
        }
    }
    object
}

/// Bytes from hex digits (`None` if any pair is not hex).
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hex WKB starts with a byte-order byte (`00` or `01`) and is all hex
/// digits; WKT never is.
fn looks_like_wkb(text: &str) -> bool {
    text.len() >= 10
        && text.len().is_multiple_of(2)
        && (text.starts_with("00") || text.starts_with("01"))
        && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// WKB (little-endian, 2D) of a geometry.
pub fn to_wkb(geometry: &Geometry) -> Result<Vec<u8>, SpatialError> {
    let mut out = Vec::new();
    wkb::writer::write_geometry(
        &mut out,
        geometry,
        &wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        },
    )
    .map_err(|e| SpatialError::Invalid(format!("cannot write WKB: {e}")))?;
    Ok(out)
}

/// A geometry from WKB bytes.
pub fn from_wkb(bytes: &[u8]) -> Result<Geometry, SpatialError> {
    let wkb =
        wkb::reader::read_wkb(bytes).map_err(|e| SpatialError::Invalid(format!("not WKB: {e}")))?;
    let geometry: Geometry = wkb.to_geometry();
    check_finite(&geometry)?;
    Ok(geometry)
}

/// GeoJSON of a geometry, without the WKT.
pub fn to_geojson(geometry: &Geometry) -> Value {
    fn position(c: &Coord) -> Value {
        json!([c.x, c.y])
    }
    fn line(l: &LineString) -> Value {
        Value::Array(l.0.iter().map(position).collect())
    }
    fn polygon(p: &Polygon) -> Value {
        let mut rings = vec![line(p.exterior())];
        rings.extend(p.interiors().iter().map(line));
        Value::Array(rings)
    }
    match geometry {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": position(&p.0)}),
        Geometry::MultiPoint(m) => json!({"type": "MultiPoint",
            "coordinates": m.0.iter().map(|p| position(&p.0)).collect::<Vec<_>>()}),
        Geometry::LineString(l) => json!({"type": "LineString", "coordinates": line(l)}),
        Geometry::Line(l) => {
            json!({"type": "LineString", "coordinates": [position(&l.start), position(&l.end)]})
        }
        Geometry::MultiLineString(m) => json!({"type": "MultiLineString",
            "coordinates": m.0.iter().map(line).collect::<Vec<_>>()}),
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": polygon(p)}),
        Geometry::Rect(r) => to_geojson(&Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => to_geojson(&Geometry::Polygon(t.to_polygon())),
        Geometry::MultiPolygon(m) => json!({"type": "MultiPolygon",
            "coordinates": m.0.iter().map(polygon).collect::<Vec<_>>()}),
        Geometry::GeometryCollection(c) => json!({"type": "GeometryCollection",
            "geometries": c.0.iter().map(to_geojson).collect::<Vec<_>>()}),
    }
}

/// The GeoJSON type name of a geometry (`Point`, `Polygon`, …).
pub fn type_name(geometry: &Geometry) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

fn from_geojson(object: &Map<String, Value>) -> Result<Geometry, SpatialError> {
    let kind = object.get("type").and_then(Value::as_str).ok_or_else(|| {
        SpatialError::Invalid(
            "a GeoJSON geometry needs a \"type\" (Point, LineString, Polygon, Multi…, GeometryCollection)"
                .into(),
        )
    })?;
    if kind == "GeometryCollection" {
        let members = object
            .get("geometries")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a GeometryCollection needs \"geometries\": [...]"))?;
        let mut out = Vec::with_capacity(members.len());
        for (i, member) in members.iter().enumerate() {
            let member = member
                .as_object()
                .ok_or_else(|| invalid(&format!("geometries[{i}] is not a geometry object")))?;
            out.push(from_geojson(member).map_err(|e| e.within(&format!("geometries[{i}]")))?);
        }
        return Ok(Geometry::GeometryCollection(geo::GeometryCollection(out)));
    }
    let coordinates = object
        .get("coordinates")
        .ok_or_else(|| invalid(&format!("a {kind} needs \"coordinates\"")))?;
    let at = |what: &str| format!("{kind} coordinates{what}");
    Ok(match kind {
        "Point" => Geometry::Point(Point(coord(coordinates, &at(""))?)),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            array(coordinates, &at(""))?
                .iter()
                .enumerate()
                .map(|(i, c)| coord(c, &at(&format!("[{i}]"))).map(Point))
                .collect::<Result<_, _>>()?,
        )),
        "LineString" => Geometry::LineString(line(coordinates, &at(""))?),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            array(coordinates, &at(""))?
                .iter()
                .enumerate()
                .map(|(i, l)| line(l, &at(&format!("[{i}]"))))
                .collect::<Result<_, _>>()?,
        )),
        "Polygon" => Geometry::Polygon(polygon(coordinates, &at(""))?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            array(coordinates, &at(""))?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &at(&format!("[{i}]"))))
                .collect::<Result<_, _>>()?,
        )),
        other => {
            return Err(invalid(&format!(
                "unknown geometry type '{other}'; use Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon or GeometryCollection"
            )));
        }
    })
}

fn invalid(message: &str) -> SpatialError {
    SpatialError::Invalid(message.to_owned())
}

fn array<'a>(value: &'a Value, at: &str) -> Result<&'a Vec<Value>, SpatialError> {
    value
        .as_array()
        .ok_or_else(|| invalid(&format!("{at} is not an array")))
}

fn coord(value: &Value, at: &str) -> Result<Coord, SpatialError> {
    let position = array(value, at)?;
    match position.as_slice() {
        [x, y, ..] => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => Ok(Coord { x, y }),
            _ => Err(invalid(&format!("{at} holds a value that is not a number"))),
        },
        _ => Err(invalid(&format!(
            "{at} is a position with {} numbers; a position is [x, y]",
            position.len()
        ))),
    }
}

fn line(value: &Value, at: &str) -> Result<LineString, SpatialError> {
    let positions = array(value, at)?;
    if positions.len() < 2 {
        return Err(invalid(&format!(
            "{at} has {} position(s); a LineString needs at least 2",
            positions.len()
        )));
    }
    positions
        .iter()
        .enumerate()
        .map(|(i, c)| coord(c, &format!("{at}[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(LineString)
}

fn polygon(value: &Value, at: &str) -> Result<Polygon, SpatialError> {
    let rings = array(value, at)?;
    let mut out = Vec::with_capacity(rings.len());
    for (i, ring) in rings.iter().enumerate() {
        let where_ = format!("{at}[{i}]");
        let ring = line(ring, &where_)?;
        if ring.0.len() < 4 {
            return Err(invalid(&format!(
                "{where_} is a ring of {} positions; a ring needs at least 4, the last equal to the first",
                ring.0.len()
            )));
        }
        if ring.0.first() != ring.0.last() {
            return Err(invalid(&format!(
                "{where_} is not closed: its last position must equal its first"
            )));
        }
        out.push(ring);
    }
    let mut rings = out.into_iter();
    let exterior = rings.next().ok_or_else(|| {
        invalid(&format!(
            "{at} has no rings; a Polygon needs an exterior ring"
        ))
    })?;
    Ok(Polygon::new(exterior, rings.collect()))
}

fn check_finite(geometry: &Geometry) -> Result<(), SpatialError> {
    use geo::CoordsIter;
    if let Some((i, c)) = geometry
        .coords_iter()
        .enumerate()
        .find(|(_, c)| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err(invalid(&format!(
            "coordinate {i} is ({}, {}); coordinates must be finite numbers",
            c.x, c.y
        )));
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geojson_wkt_and_wkb_agree() {
        let from_json = parse(&json!({"type": "Polygon",
            "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 0]]]}))
        .expect("valid test input");
        let from_wkt = parse(&json!("POLYGON ((0 0, 4 0, 4 4, 0 0))")).expect("valid test input");
        assert_eq!(from_json, from_wkt);
        let back =
            from_wkb(&to_wkb(&from_json).expect("valid test input")).expect("valid test input");
        assert_eq!(back, from_json);
        assert_eq!(to_json(&from_json)["wkt"], "POLYGON((0 0,4 0,4 4,0 0))");
        let hex = to_json(&from_json)["wkb"]
            .as_str()
            .expect("hex WKB")
            .to_owned();
        assert_eq!(parse(&json!(hex)).expect("hex WKB parses"), from_json);
    }

    #[test]
    fn bad_geometries_say_where() {
        let unclosed = parse(&json!({"type": "Polygon",
            "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 1]]]}))
        .expect_err("must be refused");
        assert!(
            unclosed.to_string().contains("[0] is not closed"),
            "{unclosed}"
        );
        let short = parse(&json!({"type": "LineString", "coordinates": [[0, 0]]}))
            .expect_err("must be refused");
        assert!(short.to_string().contains("at least 2"), "{short}");
        let nan = to_wkb(&Geometry::Point(Point::new(f64::NAN, 1.0))).expect("valid test input");
        let nan = from_wkb(&nan).expect_err("must be refused");
        assert!(nan.to_string().contains("finite"), "{nan}");
        let kind =
            parse(&json!({"type": "Circle", "coordinates": [0, 0]})).expect_err("must be refused");
        assert!(kind.to_string().contains("unknown geometry type"), "{kind}");
        assert!(parse(&json!(7)).is_err());
    }
}
