//! Triangles, clustering coefficients and strongly connected components.

use crate::graph::{Graph, NodeIndex};

/// Triangles through each node of an undirected graph (self-loops
/// ignored), as networkx's `triangles`. Each triangle is found once, from
/// its lowest-ranked corner, by intersecting forward neighbour lists.
pub fn triangles(graph: &Graph) -> Vec<u64> {
    let n = graph.node_count();
    let adjacency = graph.outgoing();
    // Rank by (degree, index): every edge points "forward" once.
    let rank = |v: NodeIndex| (adjacency.degree(v), v);
    let forward: Vec<Vec<NodeIndex>> = graph
        .nodes()
        .map(|u| {
            adjacency
                .neighbours(u)
                .map(|(w, _)| w)
                .filter(|&w| w != u && rank(w) > rank(u))
                .collect()
        })
        .collect();
    let mut count = vec![0u64; n];
    let mut marked = vec![false; n];
    for u in graph.nodes() {
        for &v in &forward[u as usize] {
            marked[v as usize] = true;
        }
        for &v in &forward[u as usize] {
            for &w in &forward[v as usize] {
                if marked[w as usize] {
                    count[u as usize] += 1;
                    count[v as usize] += 1;
                    count[w as usize] += 1;
                }
            }
        }
        for &v in &forward[u as usize] {
            marked[v as usize] = false;
        }
    }
    count
}

/// Local clustering coefficient of each node of an undirected graph:
/// 2·T(v) / (d(v)·(d(v) − 1)), 0 below degree 2 (networkx's `clustering`).
pub fn clustering(graph: &Graph, triangles: &[u64]) -> Vec<f64> {
    graph
        .nodes()
        .map(|v| {
            let degree = graph
                .outgoing()
                .neighbours(v)
                .filter(|&(w, _)| w != v)
                .count() as f64;
            if degree < 2.0 {
                0.0
            } else {
                2.0 * triangles[v as usize] as f64 / (degree * (degree - 1.0))
            }
        })
        .collect()
}

/// Strongly connected components (Tarjan, iterative), largest first,
/// nodes in index order. For an undirected graph these are its connected
/// components.
pub fn strongly_connected_components(graph: &Graph) -> Vec<Vec<NodeIndex>> {
    const UNVISITED: u32 = u32::MAX;
    let n = graph.node_count();
    let adjacency = graph.outgoing();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<NodeIndex> = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0u32;
    // (node, position in its neighbour list)
    let mut call: Vec<(NodeIndex, usize)> = Vec::new();
    for root in graph.nodes() {
        if index[root as usize] != UNVISITED {
            continue;
        }
        call.push((root, 0));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut position)) = call.last_mut() {
            let neighbour = adjacency.targets(v).get(*position).copied();
            *position += 1;
            match neighbour {
                Some(w) if index[w as usize] == UNVISITED => {
                    index[w as usize] = next_index;
                    low[w as usize] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    call.push((w, 0));
                }
                Some(w) => {
                    if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                }
                None => {
                    call.pop();
                    if let Some(&(parent, _)) = call.last() {
                        low[parent as usize] = low[parent as usize].min(low[v as usize]);
                    }
                    if low[v as usize] == index[v as usize] {
                        let mut component = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            component.push(w);
                            if w == v {
                                break;
                            }
                        }
                        component.sort_unstable();
                        components.push(component);
                    }
                }
            }
        }
    }
    components.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    components
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    #[test]
    fn a_square_with_a_diagonal_has_two_triangles() {
        let g = build(
            &[
                ("a", "b", 1.0),
                ("b", "c", 1.0),
                ("c", "d", 1.0),
                ("d", "a", 1.0),
                ("a", "c", 1.0),
            ],
            false,
        );
        let t = triangles(&g);
        assert_eq!(t, vec![2, 1, 2, 1]);
        let c = clustering(&g, &t);
        assert!((c[0] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c[1], 1.0);
    }

    #[test]
    fn cycles_are_strongly_connected_and_tails_are_not() {
        let g = build(
            &[
                ("a", "b", 1.0),
                ("b", "c", 1.0),
                ("c", "a", 1.0),
                ("c", "d", 1.0),
            ],
            true,
        );
        let sizes: Vec<usize> = strongly_connected_components(&g)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![3, 1]);
    }
}
