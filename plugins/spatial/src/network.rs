//! Road networks: a graph built from LineStrings whose endpoints meet,
//! shortest paths by Dijkstra and A*, service areas, and a TSP heuristic
//! (nearest neighbour, then 2-opt) with the exact answer beside it on
//! small cases (Held–Karp).
//!
//! Every road is two-way. An edge's cost is a property of its road or its
//! length. Endpoints closer than the snap tolerance are one node (found
//! on a grid of that size), and a query point is snapped to the nearest
//! node through an R-tree. Nothing here knows about storage or JSON.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use geo::{Coord, LineString};
use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::SpatialError;

/// One road between two nodes.
#[derive(Clone, Debug)]
pub struct Road {
    /// Its geometry, from `from` to `to`.
    pub line: LineString,
    /// What travelling it costs (≥ 0).
    pub cost: f64,
}

/// How a straight line between two coordinates is measured, for A*'s
/// estimate: planar, or on the sphere for longitude/latitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Coordinates are planar.
    Planar,
    /// Coordinates are longitude, latitude; lengths in metres.
    Geographic,
}

/// A road network.
pub struct Network {
    /// Node coordinates.
    pub nodes: Vec<Coord>,
    roads: Vec<(u32, u32, Road)>,
    adjacency: Vec<Vec<(u32, u32)>>,
    index: RTree<GeomWithData<[f64; 2], u32>>,
    /// A lower bound of cost per unit of straight-line distance.
    cost_per_distance: f64,
    space: Space,
}

/// A shortest-path search algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Dijkstra's.
    Dijkstra,
    /// A* with the straight-line estimate.
    AStar,
}

/// Where a search is, for progress reports.
pub struct Step<'a> {
    /// The node just settled.
    pub node: u32,
    /// Its cost from the start.
    pub cost: f64,
    /// Nodes settled so far.
    pub settled: usize,
    network: &'a Network,
    previous: &'a [Option<(u32, u32)>],
}

impl Step<'_> {
    /// The node coordinates of the best path to this node.
    pub fn path(&self) -> Vec<Coord> {
        let mut nodes = vec![self.node];
        let mut at = self.node;
        while let Some((before, _)) = self.previous[at as usize] {
            nodes.push(before);
            at = before;
        }
        nodes.reverse();
        nodes
            .iter()
            .map(|&n| self.network.nodes[n as usize])
            .collect()
    }
}

/// A path found.
#[derive(Clone, Debug)]
pub struct Route {
    /// Total cost.
    pub cost: f64,
    /// Node numbers along it.
    pub nodes: Vec<u32>,
    /// Its geometry, the roads joined in travel direction.
    pub line: LineString,
    /// Nodes settled by the search.
    pub settled: usize,
}

impl Network {
    /// A network from roads (`(line, cost)`), endpoints within `snap` of
    /// each other joined.
    pub fn build(roads: Vec<Road>, snap: f64, space: Space) -> Result<Self, SpatialError> {
        if !(snap > 0.0 && snap.is_finite()) {
            return Err(SpatialError::Invalid(
                "snap tolerance must be a positive number".into(),
            ));
        }
        let mut cells: HashMap<(i64, i64), u32> = HashMap::new();
        let mut nodes: Vec<Coord> = Vec::new();
        let mut node_at = |c: Coord| -> u32 {
            let key = ((c.x / snap).round() as i64, (c.y / snap).round() as i64);
            *cells.entry(key).or_insert_with(|| {
                nodes.push(c);
                (nodes.len() - 1) as u32
            })
        };
        let mut edges = Vec::with_capacity(roads.len());
        for (i, road) in roads.into_iter().enumerate() {
            let (Some(&first), Some(&last)) = (road.line.0.first(), road.line.0.last()) else {
                continue;
            };
            if !(road.cost >= 0.0 && road.cost.is_finite()) {
                return Err(SpatialError::Invalid(format!(
                    "road {i} costs {}; costs must be finite and not negative",
                    road.cost
                )));
            }
            let (a, b) = (node_at(first), node_at(last));
            edges.push((a, b, road));
        }
        let mut adjacency = vec![Vec::new(); nodes.len()];
        let mut cost_per_distance = f64::INFINITY;
        for (e, (a, b, road)) in edges.iter().enumerate() {
            adjacency[*a as usize].push((*b, e as u32));
            adjacency[*b as usize].push((*a, e as u32));
            let chord = straight(space, nodes[*a as usize], nodes[*b as usize]);
            if chord > 0.0 {
                cost_per_distance = cost_per_distance.min(road.cost / chord);
            }
        }
        if !cost_per_distance.is_finite() {
            cost_per_distance = 0.0;
        }
        let index = RTree::bulk_load(
            nodes
                .iter()
                .enumerate()
                .map(|(i, c)| GeomWithData::new([c.x, c.y], i as u32))
                .collect(),
        );
        Ok(Self {
            nodes,
            roads: edges,
            adjacency,
            index,
            cost_per_distance,
            space,
        })
    }

    /// Roads in the network.
    pub fn road_count(&self) -> usize {
        self.roads.len()
    }

    /// The node nearest to `point` and its distance (planar, in the
    /// coordinates' units).
    pub fn snap(&self, point: Coord) -> Option<(u32, f64)> {
        self.index.nearest_neighbor(&[point.x, point.y]).map(|n| {
            (
                n.data,
                ((n.geom()[0] - point.x).powi(2) + (n.geom()[1] - point.y).powi(2)).sqrt(),
            )
        })
    }

    /// The cheapest path from `from` to `to`, reporting every
    /// `report_every` settled nodes; `None` when `to` cannot be reached.
    /// `progress` answering false stops the search (cancelled).
    pub fn shortest_path(
        &self,
        from: u32,
        to: u32,
        algorithm: Algorithm,
        report_every: usize,
        progress: &mut dyn FnMut(&Step<'_>) -> bool,
    ) -> Result<Option<Route>, SpatialError> {
        let target = self.nodes[to as usize];
        let estimate = |n: u32| match algorithm {
            Algorithm::Dijkstra => 0.0,
            Algorithm::AStar => {
                self.cost_per_distance * straight(self.space, self.nodes[n as usize], target)
            }
        };
        let n = self.nodes.len();
        let mut best = vec![f64::INFINITY; n];
        let mut previous: Vec<Option<(u32, u32)>> = vec![None; n];
        let mut done = vec![false; n];
        let mut queue = BinaryHeap::new();
        best[from as usize] = 0.0;
        queue.push(Reverse((Key(estimate(from)), from)));
        let mut settled = 0usize;
        while let Some(Reverse((_, node))) = queue.pop() {
            if done[node as usize] {
                continue;
            }
            done[node as usize] = true;
            settled += 1;
            let step = Step {
                node,
                cost: best[node as usize],
                settled,
                network: self,
                previous: &previous,
            };
            if (node == to || settled.is_multiple_of(report_every.max(1))) && !progress(&step) {
                return Err(SpatialError::Cancelled);
            }
            if node == to {
                return Ok(Some(self.route(
                    from,
                    to,
                    best[to as usize],
                    &previous,
                    settled,
                )));
            }
            for &(next, edge) in &self.adjacency[node as usize] {
                let cost = best[node as usize] + self.roads[edge as usize].2.cost;
                if cost < best[next as usize] {
                    best[next as usize] = cost;
                    previous[next as usize] = Some((node, edge));
                    queue.push(Reverse((Key(cost + estimate(next)), next)));
                }
            }
        }
        Ok(None)
    }

    /// Costs from `from` to every node (infinite where unreachable or
    /// beyond `limit`).
    pub fn costs_from(&self, from: u32, limit: f64) -> Vec<f64> {
        let mut best = vec![f64::INFINITY; self.nodes.len()];
        let mut queue = BinaryHeap::new();
        best[from as usize] = 0.0;
        queue.push(Reverse((Key(0.0), from)));
        while let Some(Reverse((Key(cost), node))) = queue.pop() {
            if cost > best[node as usize] {
                continue;
            }
            for &(next, edge) in &self.adjacency[node as usize] {
                let c = cost + self.roads[edge as usize].2.cost;
                if c <= limit && c < best[next as usize] {
                    best[next as usize] = c;
                    queue.push(Reverse((Key(c), next)));
                }
            }
        }
        best
    }

    /// Everything reachable from `from` within `max_cost`: the nodes
    /// reached, and the roads (whole, or the part of one that can be
    /// travelled) as lines.
    pub fn service_area(&self, from: u32, max_cost: f64) -> (usize, Vec<LineString>) {
        let costs = self.costs_from(from, max_cost);
        let reached = costs.iter().filter(|c| c.is_finite()).count();
        let mut lines = Vec::new();
        for (a, b, road) in &self.roads {
            let (ca, cb) = (costs[*a as usize], costs[*b as usize]);
            if ca + road.cost <= max_cost || cb + road.cost <= max_cost {
                lines.push(road.line.clone());
                continue;
            }
            let share = |spare: f64| {
                if road.cost > 0.0 {
                    spare / road.cost
                } else {
                    1.0
                }
            };
            if ca.is_finite() {
                lines.push(part_of(&road.line, share(max_cost - ca)));
            }
            if cb.is_finite() {
                let mut reversed = road.line.clone();
                reversed.0.reverse();
                lines.push(part_of(&reversed, share(max_cost - cb)));
            }
        }
        (reached, lines)
    }

    fn route(
        &self,
        from: u32,
        to: u32,
        cost: f64,
        previous: &[Option<(u32, u32)>],
        settled: usize,
    ) -> Route {
        let mut hops = Vec::new();
        let mut at = to;
        while let Some((before, edge)) = previous[at as usize] {
            hops.push((before, at, edge));
            at = before;
        }
        hops.reverse();
        let mut nodes = vec![from];
        let mut coords: Vec<Coord> = vec![self.nodes[from as usize]];
        for (before, after, edge) in hops {
            let (a, _, road) = &self.roads[edge as usize];
            let mut part = road.line.0.clone();
            if *a != before {
                part.reverse();
            }
            coords.extend(part.into_iter().skip(1));
            nodes.push(after);
        }
        Route {
            cost,
            nodes,
            line: LineString(coords),
            settled,
        }
    }
}

/// Straight-line distance for A*'s estimate; on the sphere it is shrunk
/// by 1 % so it stays below the geodesic length of any road.
fn straight(space: Space, a: Coord, b: Coord) -> f64 {
    match space {
        Space::Planar => ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt(),
        Space::Geographic => {
            use geo::{Distance, Haversine, Point};
            0.99 * Haversine.distance(Point(a), Point(b))
        }
    }
}

/// The first `share` (0..1) of a line, by planar length.
fn part_of(line: &LineString, share: f64) -> LineString {
    let segments: Vec<f64> = line
        .0
        .windows(2)
        .map(|w| ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt())
        .collect();
    let mut left = segments.iter().sum::<f64>() * share.clamp(0.0, 1.0);
    let mut out = vec![line.0[0]];
    for (w, length) in line.0.windows(2).zip(segments) {
        if left >= length {
            out.push(w[1]);
            left -= length;
        } else {
            let t = if length > 0.0 { left / length } else { 0.0 };
            out.push(Coord {
                x: w[0].x + t * (w[1].x - w[0].x),
                y: w[0].y + t * (w[1].y - w[0].y),
            });
            break;
        }
    }
    LineString(out)
}

/// A tour through every stop, starting and ending at stop 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Tour {
    /// Stops in visiting order (stop 0 first, not repeated at the end).
    pub order: Vec<usize>,
    /// The tour's cost.
    pub cost: f64,
    /// The cheapest tour's cost, when there are at most [`EXACT_STOPS`]
    /// stops.
    pub exact: Option<f64>,
}

/// Stops up to which the exact tour is also computed.
pub const EXACT_STOPS: usize = 12;

/// A tour by nearest neighbour improved by 2-opt, over a symmetric cost
/// matrix; with the exact optimum beside it on small cases.
pub fn tsp(costs: &[Vec<f64>]) -> Tour {
    let n = costs.len();
    let tour_cost = |order: &[usize]| -> f64 {
        (0..order.len())
            .map(|i| costs[order[i]][order[(i + 1) % order.len()]])
            .sum()
    };
    let mut order = vec![0usize];
    let mut left: Vec<usize> = (1..n).collect();
    while !left.is_empty() {
        let last = order[order.len() - 1];
        let (pos, _) = left
            .iter()
            .enumerate()
            .min_by(|a, b| costs[last][*a.1].total_cmp(&costs[last][*b.1]))
            .unwrap_or((0, &0));
        order.push(left.swap_remove(pos));
    }
    // 2-opt: reverse a stretch while that shortens the tour.
    let mut improved = n > 3;
    while improved {
        improved = false;
        for i in 1..n - 1 {
            for j in i + 1..n {
                let (a, b) = (order[i - 1], order[i]);
                let (c, d) = (order[j], order[(j + 1) % n]);
                if costs[a][c] + costs[b][d] < costs[a][b] + costs[c][d] - 1e-12 {
                    order[i..=j].reverse();
                    improved = true;
                }
            }
        }
    }
    Tour {
        cost: tour_cost(&order),
        order,
        exact: (n <= EXACT_STOPS).then(|| held_karp(costs)),
    }
}

/// The cheapest tour's cost (dynamic programming over subsets).
fn held_karp(costs: &[Vec<f64>]) -> f64 {
    let n = costs.len();
    if n <= 1 {
        return 0.0;
    }
    let full = 1usize << (n - 1);
    // best[set][last]: cheapest path from 0 through `set` (stops 1..n as
    // bits) ending at `last`.
    let mut best = vec![vec![f64::INFINITY; n - 1]; full];
    for last in 0..n - 1 {
        best[1 << last][last] = costs[0][last + 1];
    }
    for set in 1..full {
        for last in 0..n - 1 {
            let here = best[set][last];
            if set & (1 << last) == 0 || !here.is_finite() {
                continue;
            }
            for next in 0..n - 1 {
                if set & (1 << next) == 0 {
                    let with = set | (1 << next);
                    let cost = here + costs[last + 1][next + 1];
                    if cost < best[with][next] {
                        best[with][next] = cost;
                    }
                }
            }
        }
    }
    (0..n - 1)
        .map(|last| best[full - 1][last] + costs[last + 1][0])
        .fold(f64::INFINITY, f64::min)
}

/// A total order on costs for the priority queue.
#[derive(Clone, Copy, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn road(points: &[(f64, f64)], cost: f64) -> Road {
        Road {
            line: LineString::from(points.to_vec()),
            cost,
        }
    }

    /// A square with one diagonal; the diagonal is dear.
    fn square() -> Network {
        Network::build(
            vec![
                road(&[(0.0, 0.0), (1.0, 0.0)], 1.0),
                road(&[(1.0, 0.0), (1.0, 1.0)], 1.0),
                road(&[(1.0, 1.0), (0.0, 1.0)], 1.0),
                road(&[(0.0, 1.0), (0.0, 0.0)], 1.0),
                road(&[(0.0, 0.0), (1.0, 1.0)], 5.0),
            ],
            1e-9,
            Space::Planar,
        )
        .expect("valid test input")
    }

    #[test]
    fn dijkstra_and_astar_agree() {
        let network = square();
        assert_eq!(network.nodes.len(), 4);
        let (from, _) = network
            .snap(Coord { x: -0.1, y: 0.0 })
            .expect("valid test input");
        let (to, _) = network
            .snap(Coord { x: 1.0, y: 1.1 })
            .expect("valid test input");
        for algorithm in [Algorithm::Dijkstra, Algorithm::AStar] {
            let route = network
                .shortest_path(from, to, algorithm, 1, &mut |_| true)
                .expect("valid test input")
                .expect("valid test input");
            assert_eq!(route.cost, 2.0);
            assert_eq!(route.line.0.len(), 3);
        }
        let stopped = network.shortest_path(from, to, Algorithm::Dijkstra, 1, &mut |_| false);
        assert!(matches!(stopped, Err(SpatialError::Cancelled)));
    }

    #[test]
    fn service_area_cuts_roads_at_the_limit() {
        let network = square();
        let (from, _) = network
            .snap(Coord { x: 0.0, y: 0.0 })
            .expect("valid test input");
        let (reached, lines) = network.service_area(from, 1.5);
        assert_eq!(reached, 3);
        let total: f64 = lines
            .iter()
            .map(|l| {
                crate::measure::length(
                    &geo::Geometry::LineString(l.clone()),
                    crate::measure::Method::Planar,
                )
            })
            .sum();
        // Two whole sides, two half sides from their ends, and 1.5 of the
        // diagonal's 5 (30 % of √2).
        assert!(
            (total - (2.0 + 1.0 + 0.3 * 2f64.sqrt())).abs() < 1e-9,
            "{total}"
        );
    }

    #[test]
    fn tsp_heuristic_meets_the_optimum_on_a_square() {
        let corners = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)];
        let costs: Vec<Vec<f64>> = corners
            .iter()
            .map(|a| {
                corners
                    .iter()
                    .map(|b: &(f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
                    .collect()
            })
            .collect();
        let tour = tsp(&costs);
        assert!((tour.cost - 4.0).abs() < 1e-12, "{tour:?}");
        assert_eq!(tour.exact, Some(4.0));
    }
}
