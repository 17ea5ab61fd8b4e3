//! The operations behind `/api/v1/spatial/layers/…` and
//! `/api/v1/spatial/rasters/…` (declared in the manifest), and the raster
//! queries. How layers are stored is `layer.rs`'s business.

use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use crate::crs::Crs;
use crate::index::IndexKind;
use crate::layer::{self, LayerInfo};
use crate::raster::Grid;
use crate::{SpatialError, geometry};

/// Largest upload, parsed in memory.
const MAX_UPLOAD: u64 = 64 << 20;
/// The collection of raster descriptions.
const RASTERS: &str = "spatial.rasters";

#[derive(Deserialize)]
pub(super) struct Named {
    name: String,
}

#[derive(Deserialize)]
pub(super) struct Upload {
    name: String,
    body_blob: String,
    #[serde(default)]
    body_type: String,
    #[serde(default)]
    crs: Option<String>,
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    validate: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    cell_size: Option<Value>,
}

impl Upload {
    /// The CRS the query names, else the one the body names, else WGS 84.
    fn crs(&self, in_body: Option<&str>) -> Result<Crs, SpatialError> {
        Crs::parse(self.crs.as_deref().or(in_body).unwrap_or("EPSG:4326"))
    }
}

fn body(host: &dyn Host, upload: &Upload, what: &str) -> Result<Vec<u8>, SpatialError> {
    let (size, _) = host.read_blob_range(&upload.body_blob, 0, 0)?;
    if size > MAX_UPLOAD {
        return Err(SpatialError::TooLarge(format!(
            "a {what} upload is at most {} MiB, this one is {size} bytes; split it into several {what}s (CSV with WKB is the most compact form)",
            MAX_UPLOAD >> 20
        )));
    }
    Ok(weft_sdk::read_whole_blob(host, &upload.body_blob)?)
}

pub(super) fn store_layer(upload: Upload, host: &dyn Host) -> Result<Value, SpatialError> {
    let bytes = body(host, &upload, "layer")?;
    host.progress(0, 3, "parsing", None);
    let (features, body_crs) = layer::parse_upload(&bytes, &upload.body_type)?;
    drop(bytes);
    let crs = upload.crs(body_crs.as_deref())?;
    host.progress(1, 3, "indexing and writing", None);
    if upload
        .validate
        .as_deref()
        .is_some_and(|v| v == "true" || v == "strict")
    {
        for (i, feature) in features.iter().enumerate() {
            crate::shapes::validate(&feature.geometry).map_err(|why| {
                SpatialError::Invalid(format!(
                    "feature {i} is not valid ({why}); repair it, or store the layer without ?validate=true"
                ))
            })?;
        }
    }
    let kind = IndexKind::parse(upload.index.as_deref().unwrap_or("rtree"))?;
    let info = layer::store(host, &upload.name, &features, &crs, kind)?;
    host.progress(3, 3, "stored", None);
    Ok(describe(info))
}

fn describe(info: LayerInfo) -> Value {
    serde_json::to_value(info).unwrap_or(Value::Null)
}

pub(super) fn list_layers(host: &dyn Host) -> Result<Value, SpatialError> {
    let layers: Vec<Value> = layer::list(host)?.into_iter().map(describe).collect();
    Ok(json!({"layers": layers}))
}

pub(super) fn layer_info(p: Named, host: &dyn Host) -> Result<Value, SpatialError> {
    Ok(describe(layer::info(host, &p.name)?))
}

pub(super) fn drop_layer(p: Named, host: &dyn Host) -> Result<Value, SpatialError> {
    layer::drop(host, &p.name)?;
    Ok(json!({"dropped": p.name}))
}

#[derive(Deserialize)]
struct RasterBody {
    values: Vec<Vec<Option<f64>>>,
    origin: [f64; 2],
    cell_size: f64,
    #[serde(default)]
    crs: Option<String>,
}

#[derive(serde::Serialize, Deserialize)]
struct RasterInfo {
    name: String,
    crs: String,
    width: usize,
    height: usize,
    origin: [f64; 2],
    cell_size: f64,
    bbox: [f64; 4],
}

fn raster_blob(name: &str) -> String {
    format!("{name}.grid")
}

pub(super) fn store_raster(upload: Upload, host: &dyn Host) -> Result<Value, SpatialError> {
    let bytes = body(host, &upload, "raster")?;
    let (grid, body_crs) = if upload.body_type.contains("csv") {
        (csv_grid(&bytes, &upload)?, None)
    } else {
        let parsed: RasterBody = serde_json::from_slice(&bytes).map_err(|e| {
            SpatialError::Invalid(format!(
                "the body is not a grid ({e}); send {{\"values\": [[row 0…], [row 1…]], \"origin\": [x, y] (top-left corner), \"cell_size\": side}}, or text/csv rows with ?origin=x,y&cell_size=…"
            ))
        })?;
        (
            Grid::new(parsed.values, parsed.origin, parsed.cell_size)?,
            parsed.crs,
        )
    };
    let crs = upload.crs(body_crs.as_deref())?;
    if layer::lookup(host, RASTERS, &upload.name)?.is_some() {
        return Err(SpatialError::Conflict(format!(
            "raster '{0}' already exists; DELETE /api/v1/spatial/rasters/{0} first or pick another name",
            upload.name
        )));
    }
    let encoded = postcard::to_allocvec(&grid)
        .map_err(|e| SpatialError::Storage(format!("cannot encode the grid: {e}")))?;
    weft_sdk::write_whole_blob(host, &raster_blob(&upload.name), &encoded)?;
    let b = grid.bounds();
    let info = RasterInfo {
        name: upload.name.clone(),
        crs: crs.name,
        width: grid.width,
        height: grid.height,
        origin: grid.origin,
        cell_size: grid.cell_size,
        bbox: [b.min().x, b.min().y, b.max().x, b.max().y],
    };
    let text = serde_json::to_vec(&info)
        .map_err(|e| SpatialError::Storage(format!("cannot encode the raster: {e}")))?;
    host.collection_put(RASTERS, upload.name.as_bytes(), &text)?;
    Ok(serde_json::to_value(info).unwrap_or(Value::Null))
}

fn csv_grid(bytes: &[u8], upload: &Upload) -> Result<Grid, SpatialError> {
    let usage = "a CSV raster needs ?origin=x,y (top-left corner) and ?cell_size=side";
    let origin: Vec<f64> = upload
        .origin
        .as_deref()
        .ok_or_else(|| SpatialError::Invalid(usage.into()))?
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| SpatialError::Invalid(usage.into()))?;
    let cell_size = match &upload.cell_size {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| SpatialError::Invalid(usage.into()))?;
    let [x, y] = origin[..] else {
        return Err(SpatialError::Invalid(usage.into()));
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| SpatialError::Invalid(format!("CSV line {} is unreadable: {e}", i + 1)))?;
        let row = record
            .iter()
            .map(|cell| match cell.trim() {
                "" | "nan" | "NaN" | "null" => Ok(None),
                text => text.parse::<f64>().map(Some).map_err(|_| {
                    SpatialError::Invalid(format!("CSV line {}: '{text}' is not a number", i + 1))
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
    }
    Grid::new(rows, [x, y], cell_size)
}

fn load_raster(host: &dyn Host, name: &str) -> Result<(RasterInfo, Grid), SpatialError> {
    let missing = || {
        SpatialError::NotFound(format!(
            "no raster '{name}'; store one with POST /api/v1/spatial/rasters/{name}"
        ))
    };
    let info = layer::lookup(host, RASTERS, name)?.ok_or_else(missing)?;
    let info: RasterInfo = serde_json::from_slice(&info)
        .map_err(|e| SpatialError::Storage(format!("raster '{name}' is unreadable: {e}")))?;
    let bytes = weft_sdk::read_whole_blob(host, &raster_blob(name))?;
    let grid = postcard::from_bytes(&bytes)
        .map_err(|e| SpatialError::Storage(format!("raster '{name}' is unreadable: {e}")))?;
    Ok((info, grid))
}

pub(super) fn raster_info(p: Named, host: &dyn Host) -> Result<Value, SpatialError> {
    let (info, _) = load_raster(host, &p.name)?;
    Ok(serde_json::to_value(info).unwrap_or(Value::Null))
}

pub(super) fn drop_raster(p: Named, host: &dyn Host) -> Result<Value, SpatialError> {
    load_raster(host, &p.name)?;
    host.collection_delete(RASTERS, p.name.as_bytes())?;
    let _ = host.drop_blob(&raster_blob(&p.name));
    Ok(json!({"dropped": p.name}))
}

#[derive(Deserialize)]
pub(super) struct ZonalParams {
    raster: String,
    #[serde(default)]
    zones: Option<String>,
    #[serde(default)]
    geometries: Vec<Value>,
}

pub(super) fn zonal_stats(p: ZonalParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let (info, grid) = load_raster(host, &p.raster)?;
    let zones: Vec<geo::Geometry> = match &p.zones {
        Some(layer_name) => {
            let zones = layer::load(host, layer_name)?;
            if zones.info.crs != info.crs {
                return Err(SpatialError::Invalid(format!(
                    "layer '{layer_name}' is in {} and raster '{}' in {}; store them in one CRS",
                    zones.info.crs, info.name, info.crs
                )));
            }
            zones.geometries
        }
        None => p
            .geometries
            .iter()
            .enumerate()
            .map(|(i, g)| geometry::parse(g).map_err(|e| e.within(&format!("geometries[{i}]"))))
            .collect::<Result<_, _>>()?,
    };
    if zones.is_empty() {
        return Err(SpatialError::Invalid(
            "zonal_stats needs zones: a layer name in \"zones\" or a list of polygons in \"geometries\"".into(),
        ));
    }
    let stats: Vec<Value> = zones
        .iter()
        .enumerate()
        .map(|(i, zone)| {
            let mut s = serde_json::to_value(grid.zonal_stats(zone)).unwrap_or(Value::Null);
            s["zone"] = json!(i);
            s
        })
        .collect();
    Ok(json!({"raster": info.name, "zones": stats}))
}

#[derive(Deserialize)]
pub(super) struct SampleParams {
    raster: String,
    points: Vec<[f64; 2]>,
}

pub(super) fn sample(p: SampleParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let (info, grid) = load_raster(host, &p.raster)?;
    let values: Vec<Option<f64>> = p
        .points
        .iter()
        .map(|&[x, y]| grid.sample(geo::Coord { x, y }))
        .collect();
    Ok(json!({"raster": info.name, "values": values}))
}
