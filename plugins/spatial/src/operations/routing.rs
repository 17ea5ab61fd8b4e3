//! Routing over a stored layer of roads: `route` (streaming
//! `routing_update` and `routing_complete` on `spatial.routing`), `tsp`
//! and `service_area`. The graph is built per call from the layer.

use geo::{Coord, Geometry, LineString, MultiLineString};
use serde::Deserialize;
use weft_sdk::{Host, Value, json};

use crate::crs::Crs;
use crate::layer;
use crate::measure::{self, Method};
use crate::network::{Algorithm, Network, Road, Space};
use crate::{SpatialError, geometry, shapes};

use super::{ROUTING, check_cancelled};

/// The network of layer `name`, costs from property `cost` (or lengths).
fn load_network(
    host: &dyn Host,
    name: &str,
    cost: Option<&str>,
    snap: Option<f64>,
) -> Result<(Network, Crs), SpatialError> {
    let layer = layer::load(host, name)?;
    let crs = Crs::parse(&layer.info.crs)?;
    let space = if crs.is_geographic() {
        Space::Geographic
    } else {
        Space::Planar
    };
    let method = if crs.is_geographic() {
        Method::Geodesic
    } else {
        Method::Planar
    };
    let costs: Option<Vec<Value>> = match cost {
        None => None,
        Some(property) => {
            if !layer.info.properties.iter().any(|p| p.name == property) {
                let known: Vec<&str> = layer
                    .info
                    .properties
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                return Err(SpatialError::Invalid(format!(
                    "network '{name}' has no property '{property}' to use as cost; it has: {}",
                    known.join(", ")
                )));
            }
            let rows: Vec<u32> = (0..layer.geometries.len() as u32).collect();
            Some(
                layer::properties(host, &layer.info, &rows)?
                    .into_iter()
                    .map(|(_, mut props)| props.remove(property).unwrap_or(Value::Null))
                    .collect(),
            )
        }
    };
    let mut roads = Vec::with_capacity(layer.geometries.len());
    for (i, g) in layer.geometries.into_iter().enumerate() {
        let lines: Vec<LineString> = match g {
            Geometry::LineString(l) => vec![l],
            Geometry::MultiLineString(MultiLineString(parts)) => parts,
            other => {
                return Err(SpatialError::Invalid(format!(
                    "feature {i} of network '{name}' is a {}; a network is a layer of LineStrings",
                    geometry::type_name(&other)
                )));
            }
        };
        let parts = lines.len() as f64;
        for line in lines {
            let road_cost = match &costs {
                None => measure::length(&Geometry::LineString(line.clone()), method),
                // A MultiLineString's cost is shared by its parts.
                Some(values) => {
                    values[i].as_f64().ok_or_else(|| {
                        SpatialError::Invalid(format!(
                            "feature {i} of network '{name}' has no number in its cost property"
                        ))
                    })? / parts
                }
            };
            roads.push(Road {
                line,
                cost: road_cost,
            });
        }
    }
    let snap = snap.unwrap_or(if crs.is_geographic() { 1e-9 } else { 1e-6 });
    Ok((Network::build(roads, snap, space)?, crs))
}

fn coords(path: &[Coord]) -> Vec<[f64; 2]> {
    path.iter().map(|c| [c.x, c.y]).collect()
}

fn snapped(network: &Network, point: [f64; 2], what: &str) -> Result<(u32, f64), SpatialError> {
    network
        .snap(Coord {
            x: point[0],
            y: point[1],
        })
        .ok_or_else(|| SpatialError::Invalid(format!("the network has no nodes to snap {what} to")))
}

#[derive(Deserialize)]
pub(super) struct RouteParams {
    network: String,
    from: [f64; 2],
    to: [f64; 2],
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    cost: Option<String>,
    #[serde(default)]
    snap: Option<f64>,
    #[serde(default)]
    report_every: Option<usize>,
}

pub(super) fn route(p: RouteParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let algorithm = match p.algorithm.as_deref().unwrap_or("dijkstra") {
        "dijkstra" => Algorithm::Dijkstra,
        "astar" | "a*" | "a_star" => Algorithm::AStar,
        other => {
            return Err(SpatialError::Invalid(format!(
                "unknown algorithm '{other}'; use dijkstra or astar"
            )));
        }
    };
    let name = if algorithm == Algorithm::Dijkstra {
        "dijkstra"
    } else {
        "astar"
    };
    let (network, crs) = load_network(host, &p.network, p.cost.as_deref(), p.snap)?;
    let (from, from_gap) = snapped(&network, p.from, "from")?;
    let (to, to_gap) = snapped(&network, p.to, "to")?;
    let total = network.nodes.len() as u64;
    let mut progress = |step: &crate::network::Step<'_>| {
        if host.cancelled() {
            return false;
        }
        host.progress(step.settled as u64, total, "searching", None);
        host.emit(
            ROUTING,
            "routing_update",
            &json!({
                "algorithm": name,
                "current_node": coords(&[network.nodes[step.node as usize]])[0],
                "cost_so_far": step.cost,
                "path_so_far": coords(&step.path()),
                "nodes_settled": step.settled,
            }),
        );
        true
    };
    let found = network.shortest_path(
        from,
        to,
        algorithm,
        p.report_every.unwrap_or(64),
        &mut progress,
    )?;
    let snap = json!({
        "from": {"node": coords(&[network.nodes[from as usize]])[0], "distance": from_gap},
        "to": {"node": coords(&[network.nodes[to as usize]])[0], "distance": to_gap},
    });
    let Some(route) = found else {
        host.emit(ROUTING, "routing_complete", &json!({"algorithm": name, "found": false, "cost": null, "path": null, "nodes_settled": 0}));
        return Err(SpatialError::NotFound(format!(
            "no path in network '{}' between the nodes nearest to from and to (they are in separate parts of it)",
            p.network
        )));
    };
    let path = geometry::to_json(&Geometry::LineString(route.line.clone()));
    host.emit(
        ROUTING,
        "routing_complete",
        &json!({"algorithm": name, "found": true, "cost": route.cost, "path": path, "nodes_settled": route.settled}),
    );
    Ok(json!({
        "algorithm": name,
        "cost": route.cost,
        "cost_property": p.cost,
        "path": path,
        "nodes": route.nodes.len(),
        "nodes_settled": route.settled,
        "snapped": snap,
        "crs": crs.name,
    }))
}

#[derive(Deserialize)]
pub(super) struct TspParams {
    network: String,
    stops: Vec<[f64; 2]>,
    #[serde(default)]
    cost: Option<String>,
    #[serde(default)]
    snap: Option<f64>,
}

pub(super) fn tsp(p: TspParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let (network, _) = load_network(host, &p.network, p.cost.as_deref(), p.snap)?;
    let nodes: Vec<u32> = p
        .stops
        .iter()
        .enumerate()
        .map(|(i, &s)| snapped(&network, s, &format!("stop {i}")).map(|n| n.0))
        .collect::<Result<_, _>>()?;
    let mut costs = Vec::with_capacity(nodes.len());
    for (i, &from) in nodes.iter().enumerate() {
        check_cancelled(host)?;
        host.progress(i as u64, nodes.len() as u64, "costing stops", None);
        let all = network.costs_from(from, f64::INFINITY);
        let row: Vec<f64> = nodes.iter().map(|&to| all[to as usize]).collect();
        if let Some(j) = row.iter().position(|c| !c.is_finite()) {
            return Err(SpatialError::Invalid(format!(
                "stop {j} cannot be reached from stop {i}: they snap to separate parts of network '{}'",
                p.network
            )));
        }
        costs.push(row);
    }
    let tour = crate::network::tsp(&costs);
    let gap = tour.exact.map(|best| {
        if best > 0.0 {
            tour.cost / best - 1.0
        } else {
            0.0
        }
    });
    Ok(json!({
        "order": tour.order,
        "cost": tour.cost,
        "optimal_cost": tour.exact,
        "gap": gap,
        "heuristic": "nearest_neighbour+2opt",
        "exact_up_to_stops": crate::network::EXACT_STOPS,
    }))
}

#[derive(Deserialize)]
pub(super) struct ServiceAreaParams {
    network: String,
    from: [f64; 2],
    max_cost: f64,
    #[serde(default)]
    cost: Option<String>,
    #[serde(default)]
    snap: Option<f64>,
    #[serde(default)]
    concavity: Option<f64>,
}

pub(super) fn service_area(p: ServiceAreaParams, host: &dyn Host) -> Result<Value, SpatialError> {
    let (network, _) = load_network(host, &p.network, p.cost.as_deref(), p.snap)?;
    let (from, gap) = snapped(&network, p.from, "from")?;
    let (reached, lines) = network.service_area(from, p.max_cost);
    let roads = Geometry::MultiLineString(MultiLineString(lines));
    let area = shapes::concave_hull(&roads, p.concavity.unwrap_or(2.0));
    Ok(json!({
        "from": {"node": coords(&[network.nodes[from as usize]])[0], "distance": gap},
        "max_cost": p.max_cost,
        "reachable_nodes": reached,
        "roads": geometry::to_json(&roads),
        "polygon": geometry::to_json(&area),
    }))
}
