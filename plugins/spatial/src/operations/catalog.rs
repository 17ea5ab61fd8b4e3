//! The operations the engine offers, each with the JSON Schema of its
//! params (the host validates jobs against it) and, where it helps, of
//! its result.

use weft_sdk::{Operation, Value, json};

use super::{QUERY, ROUTING};

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn geometry(description: &str) -> Value {
    json!({"type": ["object", "string"], "description": format!("{description}: a GeoJSON geometry object or a WKT string")})
}

fn name(what: &str) -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,57}$",
           "description": format!("The {what}'s name: 1-58 characters of A-Z a-z 0-9 _ . - not starting with '.'")})
}

fn point() -> Value {
    json!({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2, "description": "[x, y] in the layer's CRS"})
}

fn crs(description: &str) -> Value {
    json!({"type": "string", "description": format!("{description}: EPSG:<code>, CRS84 or a proj string")})
}

fn upload() -> Value {
    object(
        json!({
            "name": name("layer"),
            "body_blob": {"type": "string", "description": "The blob holding the uploaded body (the route stores it)"},
            "body_type": {"type": "string", "description": "The body's media type: text/csv for CSV, anything else is JSON"},
            "crs": crs("The CRS of the coordinates (default EPSG:4326, or the body's crs member)"),
            "index": {"type": "string", "enum": ["rtree", "quadtree", "grid", "hilbert"], "default": "rtree", "description": "Layers: the spatial index built for it"},
            "validate": {"type": "string", "enum": ["true", "false", "strict"], "default": "false", "description": "Layers: refuse the upload if any feature breaks the OGC validity rules (else they are stored and counted in invalid_features)"},
            "origin": {"type": "string", "description": "Rasters in CSV: x,y of the top-left corner"},
            "cell_size": {"type": ["string", "number"], "description": "Rasters in CSV: the side of a cell"}
        }),
        &["name", "body_blob"],
    )
}

fn layer_query(extra: Value, required: &[&str]) -> Value {
    let mut properties = json!({
        "layer": name("layer"),
        "crs": crs("The CRS of the given geometry (default: the layer's); it is transformed to the layer's"),
        "limit": {"type": "integer", "minimum": 0, "default": 10000, "description": "Most features returned (all are counted)"},
        "with_properties": {"type": "boolean", "default": true, "description": "Include each feature's properties"}
    });
    if let (Value::Object(p), Value::Object(extra)) = (&mut properties, extra) {
        p.extend(extra);
    }
    object(properties, required)
}

fn one_geometry(extra: Value, required: &[&str]) -> Value {
    let mut properties = json!({"geometry": geometry("The geometry")});
    if let (Value::Object(p), Value::Object(extra)) = (&mut properties, extra) {
        p.extend(extra);
    }
    object(properties, required)
}

fn network(extra: Value, required: &[&str]) -> Value {
    let mut properties = json!({
        "network": name("network layer (LineStrings; roads meet at shared endpoints)"),
        "cost": {"type": "string", "description": "The road property to minimise (default: length; geodesic metres in a geographic CRS)"},
        "snap": {"type": "number", "exclusiveMinimum": 0, "description": "Endpoints closer than this are one node (default 1e-6 of the CRS's units)"}
    });
    if let (Value::Object(p), Value::Object(extra)) = (&mut properties, extra) {
        p.extend(extra);
    }
    object(properties, required)
}

/// Every operation.
pub(super) fn operations() -> Vec<Operation> {
    let named = |what| object(json!({"name": name(what)}), &["name"]);
    let mut ops = vec![
        Operation::new("store_layer", "Stores a layer from an uploaded body (GeoJSON FeatureCollection, or CSV with WKT/WKB) with its R-tree; one bad feature stores nothing.", upload()),
        Operation::new("list_layers", "Every stored layer's description.", object(json!({}), &[])),
        Operation::new("layer_info", "A layer's description: features, bbox, CRS, geometry types, properties, index.", named("layer")),
        Operation::new("drop_layer", "Deletes a layer, its features and its index.", named("layer")),
        Operation::new("store_raster", "Stores a grid of numbers with its origin and cell size.", upload()),
        Operation::new("raster_info", "A raster's description.", named("raster")),
        Operation::new("drop_raster", "Deletes a raster.", named("raster")),
        Operation::new(
            "query",
            "Features for which `feature <predicate> geometry` holds (DE-9IM), found through the index and tested exactly.",
            layer_query(
                json!({
                    "predicate": {"type": "string", "enum": crate::predicate::NAMES},
                    "pattern": {"type": "string", "description": "For relate: a DE-9IM pattern such as T*F**F***"},
                    "geometry": geometry("The geometry to test against")
                }),
                &["layer", "predicate", "geometry"],
            ),
        )
        .emits(&["spatial_result"])
        .topic(QUERY),
        Operation::new(
            "nearest",
            "The k features nearest to a point (exact distance to each geometry), nearest first.",
            layer_query(
                json!({"point": point(), "k": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10},
                       "points": {"type": "array", "items": point(), "description": "Many query points at once: answered as {\"results\": [{\"ids\", \"distances\"}]} without geometries"},
                       "max_distance": {"type": "number", "minimum": 0}}),
                &["layer"],
            ),
        )
        .emits(&["spatial_result"])
        .topic(QUERY),
        Operation::new(
            "within_distance",
            "Features within a distance of a geometry, nearest first.",
            layer_query(
                json!({"geometry": geometry("The geometry"), "point": point(), "distance": {"type": "number", "minimum": 0}}),
                &["layer", "distance"],
            ),
        )
        .emits(&["spatial_result"])
        .topic(QUERY),
        Operation::new(
            "bbox",
            "Features whose geometry meets a box.",
            layer_query(
                json!({"bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4, "description": "[min x, min y, max x, max y]"}}),
                &["layer", "bbox"],
            ),
        )
        .emits(&["spatial_result"])
        .topic(QUERY),
        Operation::new(
            "join",
            "A spatial join: for each feature of `left`, the features of `right` for which `left <predicate> right` holds, counted (points in polygons: predicate contains).",
            object(
                json!({"left": name("layer"), "right": name("layer"),
                       "predicate": {"type": "string", "enum": crate::predicate::NAMES, "default": "intersects"},
                       "pattern": {"type": "string"},
                       "with_ids": {"type": "boolean", "default": false, "description": "List the matching right features' numbers"}}),
                &["left", "right"],
            ),
        )
        .emits(&["spatial_result"])
        .topic(QUERY),
        Operation::new(
            "zonal_stats",
            "Count, sum, mean, min and max of a raster's cells whose centres lie in each zone.",
            object(
                json!({"raster": name("raster"), "zones": name("layer of polygons"),
                       "geometries": {"type": "array", "items": geometry("A zone")}}),
                &["raster"],
            ),
        ),
        Operation::new(
            "sample",
            "A raster's values at points (null outside it or where it has no data).",
            object(json!({"raster": name("raster"), "points": {"type": "array", "items": point()}}), &["raster", "points"]),
        ),
        Operation::new(
            "route",
            "The cheapest path between two points of a road network (each snapped to its nearest node), by Dijkstra or A*.",
            network(
                json!({"from": point(), "to": point(),
                       "algorithm": {"type": "string", "enum": ["dijkstra", "astar"], "default": "dijkstra"},
                       "report_every": {"type": "integer", "minimum": 1, "default": 64, "description": "Nodes settled between routing_update events"}}),
                &["network", "from", "to"],
            ),
        )
        .emits(&["routing_update", "routing_complete"])
        .topic(ROUTING),
        Operation::new(
            "tsp",
            "A round trip through every stop (nearest neighbour + 2-opt over network costs), with the exact optimum and the gap to it for up to 12 stops.",
            network(json!({"stops": {"type": "array", "items": point(), "minItems": 2, "maxItems": 500}}), &["network", "stops"]),
        )
        .topic(ROUTING),
        Operation::new(
            "service_area",
            "Every road reachable within a cost from a point, as lines and as a polygon (their concave hull).",
            network(
                json!({"from": point(), "max_cost": {"type": "number", "minimum": 0},
                       "concavity": {"type": "number", "minimum": 0, "default": 2.0}}),
                &["network", "from", "max_cost"],
            ),
        )
        .topic(ROUTING),
    ];
    let method = json!({"type": "string", "enum": ["planar", "geodesic", "haversine"],
        "description": "planar: in the CRS's units; geodesic: WGS 84 ellipsoid (Karney), metres; haversine: sphere of the GRS80 mean radius. Default: geodesic in a geographic CRS, planar otherwise"});
    let crs_of = crs("The geometry's CRS (default EPSG:4326)");
    ops.extend([
        Operation::new(
            "measure",
            "Area, length (perimeter for polygons) or distance, saying how it was measured.",
            one_geometry(
                json!({"measure": {"type": "string", "enum": ["area", "length", "distance"]},
                       "other": geometry("For distance: the second geometry"),
                       "method": method, "crs": crs_of}),
                &["geometry", "measure"],
            ),
        ),
        Operation::new(
            "transform",
            "A geometry moved from one CRS to another.",
            one_geometry(json!({"from": crs("From"), "to": crs("To")}), &["geometry", "from", "to"]),
        ),
        Operation::new(
            "relate",
            "The DE-9IM matrix of geometry against other, and every named predicate.",
            one_geometry(json!({"other": geometry("The other geometry")}), &["geometry", "other"]),
        ),
        Operation::new(
            "buffer",
            "Every point within a distance of the geometry (negative shrinks polygons).",
            one_geometry(
                json!({"distance": {"type": "number"},
                       "join": {"type": "string", "enum": ["round", "mitre", "bevel"], "default": "round"},
                       "cap": {"type": "string", "enum": ["round", "flat", "square"], "default": "round"},
                       "quad_segs": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 16},
                       "mitre_limit": {"type": "number", "minimum": 1, "default": 5}}),
                &["geometry", "distance"],
            ),
        ),
        Operation::new("convex_hull", "The smallest convex polygon holding the geometry.", one_geometry(json!({}), &["geometry"])),
        Operation::new(
            "concave_hull",
            "A concave hull of the geometry's points (smaller concavity is tighter).",
            one_geometry(json!({"concavity": {"type": "number", "minimum": 0, "default": 2.0}}), &["geometry"]),
        ),
        Operation::new(
            "simplify",
            "Fewer vertices: Douglas-Peucker (tolerance is a distance) or Visvalingam-Whyatt (an area); preserve_topology keeps rings valid.",
            one_geometry(
                json!({"tolerance": {"type": "number", "minimum": 0},
                       "method": {"type": "string", "enum": ["douglas_peucker", "visvalingam"], "default": "douglas_peucker"},
                       "preserve_topology": {"type": "boolean", "default": false}}),
                &["geometry", "tolerance"],
            ),
        ),
        Operation::new("centroid", "The geometry's centroid.", one_geometry(json!({}), &["geometry"])),
        Operation::new("validate", "Whether the geometry is valid (OGC rules), and if not, why.", one_geometry(json!({}), &["geometry"])),
        Operation::new("repair", "A valid version of the geometry.", one_geometry(json!({}), &["geometry"])),
    ]);
    for (op, what) in [
        ("intersection", "Points in both geometries."),
        ("union", "Points in either geometry."),
        ("difference", "Points in geometry and not in other."),
        ("sym_difference", "Points in exactly one of the geometries."),
    ] {
        ops.push(Operation::new(
            op,
            what,
            one_geometry(
                json!({"other": geometry("The other geometry")}),
                &["geometry", "other"],
            ),
        ));
    }
    ops
}
