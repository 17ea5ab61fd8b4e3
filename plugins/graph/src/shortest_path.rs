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
        distance: 0.0,
        node: source,
    });
    while let Some(Entry { distance: d, node }) = heap.pop() {
        if settled[node as usize] {
            continue;
        }
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
                    distance: candidate,
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
        let find = |n: &str| g.find(&NodeName(n.into())).expect("node");
        let paths = dijkstra(&g, find("a"), None, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(paths.distance[find("d") as usize], Some(3.0));
        let path = paths.path_to(find("d")).expect("reachable");
        assert_eq!(path, vec![find("a"), find("c"), find("b"), find("d")]);
    }

    #[test]
    fn unreachable_nodes_have_no_distance() {
        let g = build(&[("a", "b", 1.0), ("c", "a", 1.0)], true);
        let find = |n: &str| g.find(&NodeName(n.into())).expect("node");
        let paths = dijkstra(&g, find("a"), None, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(paths.distance[find("c") as usize], None);
        assert!(paths.path_to(find("c")).is_none());
    }
}
