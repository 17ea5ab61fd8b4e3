//! Dijkstra's shortest paths from one source, with early exit at a target.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::ControlFlow;

use crate::graph::{Graph, NodeIndex};

/// How often (in settled nodes) progress is reported.
pub const REPORT_EVERY: usize = 4096;

/// Distances and predecessors from the source.
#[derive(Clone, Debug, PartialEq)]
pub struct ShortestPaths {
    /// Distance of each node, `None` if unreachable (or not settled before
    /// the target was reached).
    pub distance: Vec<Option<f64>>,
    /// Previous node on a shortest path.
    pub previous: Vec<Option<NodeIndex>>,
}

impl ShortestPaths {
    /// The path from the source to `target`, if reached.
    pub fn path_to(&self, target: NodeIndex) -> Option<Vec<NodeIndex>> {
        self.distance[target as usize]?;
        let mut path = vec![target];
        let mut at = target;
        while let Some(prev) = self.previous[at as usize] {
            path.push(prev);
            at = prev;
        }
        path.reverse();
        Some(path)
    }
}

#[derive(PartialEq)]
struct Entry {
    distance: f64,
    node: NodeIndex,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the nearest node.
        other
            .distance
            .total_cmp(&self.distance)
            .then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Runs Dijkstra from `source`, stopping once `target` is settled. Weights
/// must be non-negative (checked by the caller). `on_settled(count)` is
/// called every [`REPORT_EVERY`] settled nodes and may stop the run.
pub fn dijkstra(
    graph: &Graph,
    source: NodeIndex,
    target: Option<NodeIndex>,
    on_settled: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<ShortestPaths> {
    search(graph, source, target, |_| 0.0, on_settled)
}

/// A*: Dijkstra ordered by distance + `heuristic(node)`, an estimate of
/// the remaining distance to `target`. The path is shortest when the
/// heuristic never overestimates (is admissible and consistent).
pub fn astar(
    graph: &Graph,
    source: NodeIndex,
    target: NodeIndex,
    heuristic: impl Fn(NodeIndex) -> f64,
    on_settled: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<ShortestPaths> {
    search(graph, source, Some(target), heuristic, on_settled)
}

fn search(
    graph: &Graph,
    source: NodeIndex,
    target: Option<NodeIndex>,
    heuristic: impl Fn(NodeIndex) -> f64,
    mut on_settled: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<ShortestPaths> {
    let n = graph.node_count();
    let mut distance: Vec<Option<f64>> = vec![None; n];
    let mut previous = vec![None; n];
    let mut settled = vec![false; n];
    let mut settled_count = 0;
    let mut heap = BinaryHeap::new();
    distance[source as usize] = Some(0.0);
    heap.push(Entry {
        distance: heuristic(source),
        node: source,
    });
    while let Some(Entry { node, .. }) = heap.pop() {
        if settled[node as usize] {
            continue;
        }
        let d = distance[node as usize].unwrap_or(0.0);
        settled[node as usize] = true;
        settled_count += 1;
        if settled_count % REPORT_EVERY == 0 && on_settled(settled_count).is_break() {
            return None;
        }
        if Some(node) == target {
            break;
        }
        for (next, weight) in graph.outgoing().neighbours(node) {
            let candidate = d + weight;
            if distance[next as usize].is_none_or(|known| candidate < known) {
                distance[next as usize] = Some(candidate);
                previous[next as usize] = Some(node);
                heap.push(Entry {
                    distance: candidate + heuristic(next),
                    node: next,
                });
            }
        }
    }
    // Tentative distances of unsettled nodes are upper bounds, not answers.
    for (d, done) in distance.iter_mut().zip(&settled) {
        if !done {
            *d = None;
        }
    }
    Some(ShortestPaths { distance, previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;
    use crate::input::NodeName;

    #[test]
    fn takes_the_cheaper_detour() {
        let g = build(
            &[
                ("a", "b", 5.0),
                ("a", "c", 1.0),
                ("c", "b", 1.0),
                ("b", "d", 1.0),
            ],
            true,
        );
        let find = |n: &str| g.find(&NodeName::text(n)).expect("node");
        let paths = dijkstra(&g, find("a"), None, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(paths.distance[find("d") as usize], Some(3.0));
        let path = paths.path_to(find("d")).expect("reachable");
        assert_eq!(path, vec![find("a"), find("c"), find("b"), find("d")]);
    }

    #[test]
    fn astar_with_a_straight_line_heuristic_finds_the_shortest_path() {
        // A 3x1 grid with a slow direct edge: a(0,0) b(1,0) c(2,0).
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0), ("a", "c", 5.0)], false);
        let find = |n: &str| g.find(&NodeName::text(n)).expect("node");
        let x: [f64; 3] = [0.0, 1.0, 2.0];
        let (a, c) = (find("a"), find("c"));
        let h = |v: NodeIndex| (x[c as usize] - x[v as usize]).abs();
        let paths = astar(&g, a, c, h, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(paths.distance[c as usize], Some(2.0));
        assert_eq!(paths.path_to(c).expect("path").len(), 3);
    }

    #[test]
    fn unreachable_nodes_have_no_distance() {
        let g = build(&[("a", "b", 1.0), ("c", "a", 1.0)], true);
        let find = |n: &str| g.find(&NodeName::text(n)).expect("node");
        let paths = dijkstra(&g, find("a"), None, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(paths.distance[find("c") as usize], None);
        assert!(paths.path_to(find("c")).is_none());
    }
}
