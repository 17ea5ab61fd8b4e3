//! Layers: the one definition of how a layer lives in host storage, and
//! the parsing of uploads into features.
//!
//! Layer `l` is three things, written in this order so a layer is either
//! whole or absent to readers: the dataset `l.features` (column `geometry`
//! as WKB, `_id` when features had GeoJSON ids, then one typed column per
//! property), the blob `l.rtree` (its [`LayerIndex`]), and last its
//! description, JSON under key `l` of collection `spatial.layers` — which
//! is what makes the layer exist. An upload is parsed and checked whole
//! before anything is written, so one bad feature stores nothing.

use std::collections::{BTreeMap, BTreeSet};

use geo::{Geometry, Rect};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use weft_sdk::{ColumnChunk, ColumnKind, ColumnValues, Host, StorageFailure};

use crate::SpatialError;
use crate::crs::Crs;
use crate::geometry;
use crate::index::{self, IndexKind, LayerIndex};

/// The collection of layer descriptions.
pub const LAYERS: &str = "spatial.layers";

/// One feature: a geometry and its properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    /// Its GeoJSON `id`, if it had one.
    pub id: Option<Value>,
    /// Geometry.
    pub geometry: Geometry,
    /// Properties (JSON scalars).
    pub properties: Map<String, Value>,
}

/// What a stored layer is, as `GET /api/v1/spatial/layers/{name}` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerInfo {
    /// Name.
    pub name: String,
    /// Its CRS (canonical name).
    pub crs: String,
    /// Features.
    pub features: u64,
    /// `[min x, min y, max x, max y]`, absent when the layer is empty.
    pub bbox: Option<[f64; 4]>,
    /// Features per geometry type.
    pub geometry_types: BTreeMap<String, u64>,
    /// `{name, type}` per property column, in order.
    pub properties: Vec<PropertyColumn>,
    /// Whether features carry GeoJSON ids (column `_id`).
    pub ids: bool,
    /// Features that break the OGC validity rules (stored as given).
    #[serde(default)]
    pub invalid_features: u64,
    /// The index: `{"kind", "blob", "bytes"}`.
    pub index: IndexInfo,
}

/// A property column.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PropertyColumn {
    /// Name.
    pub name: String,
    /// `f64`, `i64`, `bool` or `string`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Where a layer's index is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IndexInfo {
    /// `rtree`, `quadtree`, `grid` or `hilbert`.
    pub kind: String,
    /// The blob holding it.
    pub blob: String,
    /// Its size.
    pub bytes: u64,
}

/// A layer read back for a query.
pub struct Layer {
    /// Its description.
    pub info: LayerInfo,
    /// Feature `i`'s geometry.
    pub geometries: Vec<Geometry>,
    /// Its index.
    pub index: LayerIndex,
}

/// The dataset holding layer `name`'s features.
pub fn features_dataset(name: &str) -> String {
    format!("{name}.features")
}

fn index_blob(name: &str) -> String {
    format!("{name}.rtree")
}

/// The value of `key` in `collection`; `None` also when the collection
/// does not exist yet.
pub fn lookup(
    host: &dyn Host,
    collection: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, SpatialError> {
    match host.collection_get(collection, key.as_bytes()) {
        Ok(value) => Ok(value),
        Err(StorageFailure::NotFound(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Parses an upload: a GeoJSON FeatureCollection (or one Feature), or CSV
/// with a `wkt`, `geometry` or `wkb` (hex) column and properties in the
/// others. Answers the features and the CRS the body names, if any.
pub fn parse_upload(
    body: &[u8],
    media_type: &str,
) -> Result<(Vec<Feature>, Option<String>), SpatialError> {
    if media_type.contains("csv") {
        return Ok((parse_csv(body)?, None));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        SpatialError::Invalid(format!(
            "the body is not JSON ({e}); send a GeoJSON FeatureCollection, or text/csv with a wkt or wkb column"
        ))
    })?;
    let crs = value
        .pointer("/crs/properties/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let features = match value.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => value
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                SpatialError::Invalid("a FeatureCollection needs \"features\": [...]".into())
            })?
            .iter()
            .enumerate()
            .map(|(i, f)| parse_feature(f).map_err(|e| e.within(&format!("feature {i}"))))
            .collect::<Result<Vec<_>, _>>()?,
        Some("Feature") => vec![parse_feature(&value).map_err(|e| e.within("feature 0"))?],
        _ => {
            return Err(SpatialError::Invalid(
                "the body is JSON but not a GeoJSON FeatureCollection or Feature; send {\"type\": \"FeatureCollection\", \"features\": [...]}"
                    .into(),
            ));
        }
    };
    Ok((features, crs))
}

fn parse_feature(value: &Value) -> Result<Feature, SpatialError> {
    if value.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(SpatialError::Invalid(
            "is not a GeoJSON Feature (\"type\": \"Feature\")".into(),
        ));
    }
    let geometry = value
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| SpatialError::Invalid("has no geometry".into()))?;
    let geometry = geometry::parse(geometry)?;
    let properties = match value.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(SpatialError::Invalid(
                "\"properties\" is not an object".into(),
            ));
        }
    };
    Ok(Feature {
        id: value.get("id").filter(|id| !id.is_null()).cloned(),
        geometry,
        properties,
    })
}

fn parse_csv(body: &[u8]) -> Result<Vec<Feature>, SpatialError> {
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| SpatialError::Invalid(format!("the CSV header is unreadable: {e}")))?
        .clone();
    let position = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let (column, is_wkb) = match (position(&["wkt", "geometry", "geom"]), position(&["wkb"])) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => {
            return Err(SpatialError::Invalid(
                "the CSV has no geometry column; name one wkt (or geometry) holding WKT, or wkb holding hex WKB".into(),
            ));
        }
    };
    let mut features = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record
            .map_err(|e| SpatialError::Invalid(format!("CSV line {line} is unreadable: {e}")))?;
        let text = record.get(column).unwrap_or_default();
        let geometry = if is_wkb {
            let bytes = geometry::hex_bytes(text).ok_or_else(|| {
                SpatialError::Invalid(format!("CSV line {line}: column wkb is not hex"))
            })?;
            geometry::from_wkb(&bytes)
        } else {
            geometry::parse(&Value::String(text.to_owned()))
        }
        .map_err(|e| e.within(&format!("CSV line {line} (feature {i})")))?;
        let mut properties = Map::new();
        for (j, (name, value)) in headers.iter().zip(record.iter()).enumerate() {
            if j != column {
                properties.insert(name.to_owned(), csv_value(value));
            }
        }
        features.push(Feature {
            id: None,
            geometry,
            properties,
        });
    }
    Ok(features)
}

/// A CSV cell as JSON: empty is null, then integer, number, boolean, text.
fn csv_value(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else if let Ok(n) = text.parse::<i64>() {
        json!(n)
    } else if let Some(x) = text.parse::<f64>().ok().filter(|x| x.is_finite()) {
        json!(x)
    } else if let Ok(b) = text.parse::<bool>() {
        json!(b)
    } else {
        json!(text)
    }
}

/// Writes a layer; fails with `Conflict` if one of that name exists.
pub fn store(
    host: &dyn Host,
    name: &str,
    features: &[Feature],
    crs: &Crs,
    kind: IndexKind,
) -> Result<LayerInfo, SpatialError> {
    if lookup(host, LAYERS, name)?.is_some() {
        return Err(exists(name));
    }
    let boxes: Vec<Option<Rect>> = features
        .iter()
        .map(|f| index::bounds(&f.geometry))
        .collect();
    let index = LayerIndex::build(kind, &boxes);
    let mut wkb = Vec::with_capacity(features.len());
    for (i, feature) in features.iter().enumerate() {
        wkb.push(
            geometry::to_wkb(&feature.geometry).map_err(|e| e.within(&format!("feature {i}")))?,
        );
    }
    let (schema, columns, properties) = columns(features, wkb)?;
    let mut writer = host.create_dataset(&features_dataset(name), &schema, false)?;
    weft_sdk::append_chunked(writer.as_mut(), columns, features.len())?;
    writer.commit().map_err(|e| match e {
        StorageFailure::Exists(_) => exists(name),
        other => other.into(),
    })?;
    let index_bytes = index.to_bytes()?;
    weft_sdk::write_whole_blob(host, &index_blob(name), &index_bytes)?;
    let mut geometry_types = BTreeMap::new();
    for feature in features {
        *geometry_types
            .entry(geometry::type_name(&feature.geometry).to_owned())
            .or_insert(0) += 1;
    }
    let bbox = boxes.iter().flatten().copied().reduce(|a, b| {
        Rect::new(
            geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
            geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
        )
    });
    let info = LayerInfo {
        name: name.to_owned(),
        crs: crs.name.clone(),
        features: features.len() as u64,
        bbox: bbox.map(|b| [b.min().x, b.min().y, b.max().x, b.max().y]),
        geometry_types,
        properties,
        ids: features.iter().any(|f| f.id.is_some()),
        invalid_features: features
            .iter()
            .filter(|f| crate::shapes::validate(&f.geometry).is_err())
            .count() as u64,
        index: IndexInfo {
            kind: kind.name().into(),
            blob: index_blob(name),
            bytes: index_bytes.len() as u64,
        },
    };
    let text = serde_json::to_vec(&info)
        .map_err(|e| SpatialError::Storage(format!("cannot encode the layer: {e}")))?;
    host.collection_put(LAYERS, name.as_bytes(), &text)?;
    Ok(info)
}

fn exists(name: &str) -> SpatialError {
    SpatialError::Conflict(format!(
        "layer '{name}' already exists; DELETE /api/v1/spatial/layers/{name} first or pick another name"
    ))
}

type Columns = (
    Vec<(String, ColumnKind)>,
    Vec<ColumnChunk>,
    Vec<PropertyColumn>,
);

fn columns(features: &[Feature], wkb: Vec<Vec<u8>>) -> Result<Columns, SpatialError> {
    let mut schema = vec![("geometry".to_owned(), ColumnKind::Binary)];
    let mut columns = vec![ColumnChunk {
        values: ColumnValues::Binary(wkb),
        valid: Vec::new(),
    }];
    if features.iter().any(|f| f.id.is_some()) {
        // Ids are text unless every one is an integer.
        let ids: Vec<Option<Value>> = features.iter().map(|f| f.id.clone()).collect();
        let as_text: Vec<Option<Value>> = ids
            .iter()
            .map(|id| {
                id.as_ref().map(|v| match v {
                    Value::String(_) => v.clone(),
                    other if ids.iter().flatten().all(Value::is_i64) => other.clone(),
                    other => Value::String(other.to_string()),
                })
            })
            .collect();
        let refs: Vec<Option<&Value>> = as_text.iter().map(Option::as_ref).collect();
        let (kind, chunk) = weft_sdk::json_column(&refs)
            .map_err(|why| SpatialError::Invalid(format!("feature ids {why}")))?;
        schema.push(("_id".into(), kind));
        columns.push(chunk);
    }
    let names: BTreeSet<&String> = features.iter().flat_map(|f| f.properties.keys()).collect();
    let mut properties = Vec::new();
    for name in names {
        if name == "geometry" || name == "_id" {
            return Err(SpatialError::Invalid(format!(
                "property '{name}' has a name the layer uses itself; rename it"
            )));
        }
        let values: Vec<Option<&Value>> = features
            .iter()
            .map(|f| f.properties.get(name).filter(|v| !v.is_null()))
            .collect();
        let (kind, chunk) = weft_sdk::json_column(&values)
            .map_err(|why| SpatialError::Invalid(format!("property '{name}' {why}")))?;
        properties.push(PropertyColumn {
            name: name.clone(),
            kind: kind.name().to_owned(),
        });
        schema.push((name.clone(), kind));
        columns.push(chunk);
    }
    Ok((schema, columns, properties))
}

/// The description of layer `name`.
pub fn info(host: &dyn Host, name: &str) -> Result<LayerInfo, SpatialError> {
    let bytes = lookup(host, LAYERS, name)?.ok_or_else(|| not_found(name))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SpatialError::Storage(format!("layer '{name}' is unreadable: {e}")))
}

fn not_found(name: &str) -> SpatialError {
    SpatialError::NotFound(format!(
        "no layer '{name}'; store one with POST /api/v1/spatial/layers/{name} (GeoJSON or CSV), or list them with GET /api/v1/spatial/layers"
    ))
}

/// Every layer's description.
pub fn list(host: &dyn Host) -> Result<Vec<LayerInfo>, SpatialError> {
    let mut out = Vec::new();
    let mut start = Vec::new();
    loop {
        let page = match host.collection_scan_page(LAYERS, &start, b"", 1000, 4 << 20) {
            Ok(page) => page,
            Err(StorageFailure::NotFound(_)) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for (_, value) in &page.entries {
            if let Ok(info) = serde_json::from_slice(value) {
                out.push(info);
            }
        }
        match page.next {
            Some(next) => start = next,
            None => return Ok(out),
        }
    }
}

/// Deletes layer `name`: its description first, so it stops existing at
/// once, then its index and features (also leftovers of a failed upload).
pub fn drop(host: &dyn Host, name: &str) -> Result<(), SpatialError> {
    let described = lookup(host, LAYERS, name)?.is_some();
    if described {
        host.collection_delete(LAYERS, name.as_bytes())?;
    }
    let index = host.drop_blob(&index_blob(name));
    let dataset = host.drop_dataset(&features_dataset(name));
    if !described && index.is_err() && dataset.is_err() {
        return Err(not_found(name));
    }
    Ok(())
}

/// Reads layer `name`'s geometries and index.
pub fn load(host: &dyn Host, name: &str) -> Result<Layer, SpatialError> {
    let info = info(host, name)?;
    let dataset = features_dataset(name);
    let shape = host.dataset_shape(&dataset)?;
    let mut geometries = Vec::with_capacity(shape.rows as usize);
    for chunk in 0..shape.chunks {
        let column = host.read_chunk(&dataset, "geometry", chunk)?;
        let ColumnValues::Binary(values) = column.values else {
            return Err(SpatialError::Storage(format!(
                "layer '{name}' has no WKB geometry column; store it again"
            )));
        };
        for bytes in values {
            geometries.push(geometry::from_wkb(&bytes)?);
        }
    }
    let index = LayerIndex::from_bytes(&weft_sdk::read_whole_blob(host, &info.index.blob)?)?;
    Ok(Layer {
        info,
        geometries,
        index,
    })
}

/// A feature's id and properties.
pub type FeatureProperties = (Value, Map<String, Value>);

/// The properties (and ids) of features `rows` of a layer, in that order.
pub fn properties(
    host: &dyn Host,
    info: &LayerInfo,
    rows: &[u32],
) -> Result<Vec<FeatureProperties>, SpatialError> {
    let mut out: Vec<FeatureProperties> = rows.iter().map(|&r| (json!(r), Map::new())).collect();
    if rows.is_empty() {
        return Ok(out);
    }
    let dataset = features_dataset(&info.name);
    let shape = host.dataset_shape(&dataset)?;
    let mut names: Vec<&str> = info.properties.iter().map(|p| p.name.as_str()).collect();
    if info.ids {
        names.push("_id");
    }
    for name in names {
        let mut values = Vec::with_capacity(shape.rows as usize);
        for chunk in 0..shape.chunks {
            let read = host.read_chunk(&dataset, name, chunk)?;
            let json = read.values.to_json();
            values.extend(json.into_iter().enumerate().map(|(i, v)| {
                if read.valid.get(i) == Some(&false) {
                    Value::Null
                } else {
                    v
                }
            }));
        }
        for (slot, &row) in out.iter_mut().zip(rows) {
            let value = values.get(row as usize).cloned().unwrap_or(Value::Null);
            if name == "_id" {
                if !value.is_null() {
                    slot.0 = value;
                }
            } else {
                slot.1.insert(name.to_owned(), value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::RecordingHost;

    const COLLECTION: &str = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {"n": 1, "name": "one"}},
        {"type": "Feature", "id": "b", "geometry": {"type": "LineString", "coordinates": [[0, 0], [3, 4]]}, "properties": {"n": 2}}
    ]}"#;

    #[test]
    fn a_layer_round_trips_through_storage() {
        let host = RecordingHost::new();
        let (features, crs) =
            parse_upload(COLLECTION.as_bytes(), "application/geo+json").expect("valid test input");
        assert_eq!(crs, None);
        let info = store(&host, "places", &features, &Crs::wgs84(), IndexKind::RTree)
            .expect("valid test input");
        assert_eq!(info.features, 2);
        assert_eq!(info.bbox, Some([0.0, 0.0, 3.0, 4.0]));
        assert_eq!(info.geometry_types["Point"], 1);
        assert!(matches!(
            store(&host, "places", &features, &Crs::wgs84(), IndexKind::RTree),
            Err(SpatialError::Conflict(_))
        ));
        let layer = load(&host, "places").expect("valid test input");
        assert_eq!(layer.geometries[1], features[1].geometry);
        let props = properties(&host, &layer.info, &[1, 0]).expect("valid test input");
        assert_eq!(props[0].0, "b");
        assert_eq!(props[0].1["n"], 2);
        assert_eq!(props[0].1["name"], Value::Null);
        assert_eq!(props[1].1["name"], "one");
        assert_eq!(list(&host).expect("valid test input").len(), 1);
        drop(&host, "places").expect("valid test input");
        assert!(matches!(
            info_of(&host, "places"),
            Err(SpatialError::NotFound(_))
        ));
    }

    fn info_of(host: &dyn Host, name: &str) -> Result<LayerInfo, SpatialError> {
        info(host, name)
    }

    #[test]
    fn csv_layers_and_bad_features() {
        let csv = "name,wkt,size\nsquare,\"POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))\",2.5\ndot,POINT (3 3),1\n";
        let (features, _) = parse_upload(csv.as_bytes(), "text/csv").expect("valid test input");
        assert_eq!(features.len(), 2);
        assert_eq!(features[0].properties["size"], 2.5);
        let bad = "wkt\nPOINT (1 1)\n\"POLYGON ((0 0, 1 0\"\n";
        let err = parse_upload(bad.as_bytes(), "text/csv")
            .expect_err("must be refused")
            .to_string();
        assert!(err.contains("CSV line 3 (feature 1)"), "{err}");
        let unclosed = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 2]]]}}]}"#;
        let err = parse_upload(unclosed.as_bytes(), "application/json")
            .expect_err("must be refused")
            .to_string();
        assert!(
            err.starts_with("feature 1: Polygon coordinates[0] is not closed"),
            "{err}"
        );
    }
}
