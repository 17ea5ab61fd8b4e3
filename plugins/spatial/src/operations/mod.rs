//! The engine's operations: JSON params in, JSON results out, events and
//! progress to the host. The algorithms live in the crate's other
//! modules; this one declares the surface (routes, endpoints, event kinds,
//! subscriptions) and translates.

use serde::de::DeserializeOwned;
use weft_sdk::{
    Body, Endpoint, Engine, EngineError, EngineInfo, EventKind, Host, Manifest, Method, Params,
    Route, Subscription, Value,
};

use crate::SpatialError;

mod catalog;
mod geometry_ops;
mod layers;
mod query;
mod routing;

/// The spatial engine as a Weft [`Engine`].
pub struct SpatialEngine;

/// Family topic of query results (`spatial.query`).
pub(crate) const QUERY: &str = "query";
/// Family topic of routing progress (`spatial.routing`).
pub(crate) const ROUTING: &str = "routing";

/// Deserializes params, naming the field serde objected to.
pub(crate) fn parse<T: DeserializeOwned>(params: Params<'_>) -> Result<T, EngineError> {
    params.parse()
}

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn manifest() -> Manifest {
    let layer =
        |method, path: &str, op: &str, description: &str| Route::new(method, path, op, description);
    Manifest {
        routes: vec![
            layer(Method::Get, "/api/v1/spatial/layers", "list_layers", "Stored layers: count, bbox, CRS, index"),
            layer(
                Method::Post,
                "/api/v1/spatial/layers/{name}",
                "store_layer",
                "Store a layer (up to 256 MiB): a GeoJSON FeatureCollection, or text/csv with a wkt (or hex wkb) column and properties in the others; ?crs=EPSG:… (default EPSG:4326, or the body's crs member)",
            )
            .body(Body::Bytes("*/*".into()))
            .status(201),
            layer(Method::Get, "/api/v1/spatial/layers/{name}", "layer_info", "A layer's description"),
            layer(Method::Delete, "/api/v1/spatial/layers/{name}", "drop_layer", "Delete a layer, its features and index")
                .status(204),
            layer(
                Method::Post,
                "/api/v1/spatial/rasters/{name}",
                "store_raster",
                "Store a grid: JSON {\"values\": [[…]], \"origin\": [x, y], \"cell_size\", \"crs\"?} or text/csv rows of numbers with ?origin=x,y&cell_size=…",
            )
            .body(Body::Bytes("*/*".into()))
            .status(201),
            layer(Method::Get, "/api/v1/spatial/rasters/{name}", "raster_info", "A raster's description"),
            layer(Method::Delete, "/api/v1/spatial/rasters/{name}", "drop_raster", "Delete a raster").status(204),
            layer(Method::Post, "/api/v1/spatial/query", "query", "Features of a layer for which a predicate holds against a geometry"),
            layer(Method::Post, "/api/v1/spatial/nearest", "nearest", "The k features nearest to a point"),
            layer(Method::Post, "/api/v1/spatial/measure", "measure", "Area, length or distance: planar, geodesic or haversine"),
            layer(Method::Post, "/api/v1/spatial/transform", "transform", "A geometry moved between coordinate systems"),
            layer(Method::Post, "/api/v1/spatial/route", "route", "The cheapest path through a road network"),
        ],
        endpoints: vec![
            Endpoint::new("/api/v1/ws/spatial/query", QUERY, "Spatial query results as they are found (seed 000 §2.5)")
                .request("spatial_query_request", "query"),
            Endpoint::new("/api/v1/ws/spatial/routing", ROUTING, "Dijkstra/A* progress and finished routes (seed 000 §2.5)")
                .request("network_routing_request", "route"),
        ],
        events: vec![
            EventKind::new(
                "spatial_result",
                "A batch of features a query found; the last has processing_complete.",
                schema(include_str!("../../schemas/spatial_result.json")),
            ),
            EventKind::new(
                "routing_update",
                "A routing search's progress: the node just settled, its cost and the path to it.",
                schema(include_str!("../../schemas/routing_update.json")),
            ),
            EventKind::new(
                "routing_complete",
                "A route found (or not): its cost and its path as a LineString.",
                schema(include_str!("../../schemas/routing_complete.json")),
            ),
        ],
        subscriptions: vec![
            Subscription::new(
                "spatialQueryProgress",
                QUERY,
                &["spatial_result"],
                "Spatial query results as they are found: of one query (jobId) or of all, optionally of one layer or operation",
            )
            .filter("layer")
            .filter("operation"),
            Subscription::new(
                "spatialRouting",
                ROUTING,
                &["routing_update", "routing_complete"],
                "Routing progress: of one route (jobId; ends with its routing_complete) or of all",
            )
            .filter("algorithm")
            .ends_with("routing_complete"),
        ],
        ..Manifest::default()
    }
}

impl Engine for SpatialEngine {
    fn describe() -> EngineInfo {
        EngineInfo {
            name: "spatial".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            operations: catalog::operations(),
            manifest: manifest(),
        }
    }

    fn invoke(op: &str, params: Params<'_>, host: &dyn Host) -> Result<Value, EngineError> {
        let answer: Result<Value, SpatialError> = match op {
            "store_layer" => layers::store_layer(parse(params)?, host),
            "list_layers" => layers::list_layers(host),
            "layer_info" => layers::layer_info(parse(params)?, host),
            "drop_layer" => layers::drop_layer(parse(params)?, host),
            "store_raster" => layers::store_raster(parse(params)?, host),
            "raster_info" => layers::raster_info(parse(params)?, host),
            "drop_raster" => layers::drop_raster(parse(params)?, host),
            "query" => query::query(parse(params)?, host),
            "nearest" => query::nearest(parse(params)?, host),
            "within_distance" => query::within_distance(parse(params)?, host),
            "bbox" => query::bbox(parse(params)?, host),
            "join" => query::join(parse(params)?, host),
            "zonal_stats" => layers::zonal_stats(parse(params)?, host),
            "sample" => layers::sample(parse(params)?, host),
            "route" => routing::route(parse(params)?, host),
            "tsp" => routing::tsp(parse(params)?, host),
            "service_area" => routing::service_area(parse(params)?, host),
            other => match geometry_ops::invoke(other, params)? {
                Some(answer) => Ok(answer),
                None => return Err(EngineError::UnknownOperation(other.into())),
            },
        };
        answer.map_err(EngineError::from)
    }
}

/// `host.cancelled()` as an error.
pub(crate) fn check_cancelled(host: &dyn Host) -> Result<(), SpatialError> {
    if host.cancelled() {
        Err(SpatialError::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_and_every_schema_parse() {
        let info = SpatialEngine::describe();
        for kind in &info.manifest.events {
            assert!(kind.schema.is_object(), "{}", kind.name);
        }
        for op in &info.operations {
            assert!(op.params_schema.is_object(), "{}", op.name);
        }
        assert!(info.operations.iter().any(|o| o.name == "buffer"));
    }
}
