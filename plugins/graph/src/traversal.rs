//! Breadth-first search from one node, level by level, following edge
//! direction in directed graphs.

use std::ops::ControlFlow;

use crate::graph::{Graph, NodeIndex};

/// Reported after each completed depth level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Depth just completed.
    pub depth: u32,
    /// Nodes visited so far.
    pub visited: usize,
    /// Nodes waiting at the next depth.
    pub frontier: usize,
}

/// Visit order and depth of every reached node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bfs {
    /// Nodes in the order they were reached.
    pub order: Vec<NodeIndex>,
    /// Depth of each node in `order`.
    pub depths: Vec<u32>,
}

/// Runs BFS from `source` down to `max_depth` (inclusive). `on_level` may
/// stop the run by returning `Break`, which yields `None`.
pub fn bfs(
    graph: &Graph,
    source: NodeIndex,
    max_depth: Option<u32>,
    mut on_level: impl FnMut(&Level) -> ControlFlow<()>,
) -> Option<Bfs> {
    let mut seen = vec![false; graph.node_count()];
    seen[source as usize] = true;
    let mut order = vec![source];
    let mut depths = vec![0];
    let mut level_start = 0;
    let mut depth = 0;
    while level_start < order.len() && max_depth.is_none_or(|max| depth < max) {
        let level_end = order.len();
        for i in level_start..level_end {
            for &next in graph.outgoing().targets(order[i]) {
                if !seen[next as usize] {
                    seen[next as usize] = true;
                    order.push(next);
                    depths.push(depth + 1);
                }
            }
        }
        level_start = level_end;
        depth += 1;
        let level = Level {
            depth,
            visited: order.len(),
            frontier: order.len() - level_start,
        };
        if on_level(&level).is_break() {
            return None;
        }
    }
    Some(Bfs { order, depths })
}

/// Depth-first preorder from `source` down to `max_depth`, following edge
/// direction. `on_visit(vertex, depth, visited)` is called every
/// `report_every` visits and may stop the run.
pub fn dfs(
    graph: &Graph,
    source: NodeIndex,
    max_depth: Option<u32>,
    report_every: usize,
    mut on_visit: impl FnMut(NodeIndex, u32, usize) -> ControlFlow<()>,
) -> Option<Bfs> {
    let mut seen = vec![false; graph.node_count()];
    let mut order = Vec::new();
    let mut depths = Vec::new();
    // (node, depth, next neighbour position)
    let mut stack = vec![(source, 0u32, 0usize)];
    seen[source as usize] = true;
    order.push(source);
    depths.push(0);
    // The source is visited first, and reported like every other vertex.
    if report_every <= 1 && on_visit(source, 0, 1).is_break() {
        return None;
    }
    while let Some(top) = stack.last_mut() {
        let (node, depth, position) = *top;
        top.2 += 1;
        let next = graph.outgoing().targets(node).get(position).copied();
        match next {
            None => {
                stack.pop();
            }
            Some(w) if !seen[w as usize] && max_depth.is_none_or(|max| depth < max) => {
                seen[w as usize] = true;
                order.push(w);
                depths.push(depth + 1);
                stack.push((w, depth + 1, 0));
                if order.len() % report_every.max(1) == 0
                    && on_visit(w, depth + 1, order.len()).is_break()
                {
                    return None;
                }
            }
            Some(_) => {}
        }
    }
    Some(Bfs { order, depths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;
    use crate::input::NodeName;

    fn index(g: &Graph, name: &str) -> NodeIndex {
        g.find(&NodeName::text(name)).expect("node exists")
    }

    #[test]
    fn depths_are_hop_counts() {
        let g = build(
            &[
                ("a", "b", 1.0),
                ("b", "c", 1.0),
                ("a", "d", 1.0),
                ("c", "e", 1.0),
            ],
            false,
        );
        let result = bfs(&g, index(&g, "a"), None, |_| ControlFlow::Continue(())).expect("runs");
        let depth_of = |name| {
            let i = index(&g, name);
            result.depths[result.order.iter().position(|&n| n == i).expect("visited")]
        };
        assert_eq!(result.order.len(), 5);
        assert_eq!(
            (depth_of("a"), depth_of("b"), depth_of("c"), depth_of("e")),
            (0, 1, 2, 3)
        );
    }

    #[test]
    fn dfs_goes_deep_before_wide() {
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0), ("a", "d", 1.0)], true);
        let mut reported = Vec::new();
        let result = dfs(&g, index(&g, "a"), None, 1, |vertex, _, _| {
            reported.push(vertex);
            ControlFlow::Continue(())
        })
        .expect("runs");
        assert_eq!(reported, result.order, "every vertex, the source too");
        let names: Vec<String> = result
            .order
            .iter()
            .map(|&n| g.name(n).to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(result.depths, vec![0, 1, 2, 1]);
    }

    #[test]
    fn direction_and_max_depth_limit_the_search() {
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0), ("d", "a", 1.0)], true);
        let all = bfs(&g, index(&g, "a"), None, |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(all.order.len(), 3, "d is upstream of a");
        let near = bfs(&g, index(&g, "a"), Some(1), |_| ControlFlow::Continue(())).expect("runs");
        assert_eq!(near.order.len(), 2);
    }
}
