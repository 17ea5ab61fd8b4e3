//! Degree, closeness and betweenness centrality, with networkx's
//! definitions and normalisations: over hop counts, or (the `_weighted`
//! variants) over shortest paths by edge weight, as networkx's
//! `distance="weight"` / `weight="weight"`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::ControlFlow;

use crate::graph::{Graph, NodeIndex};

/// networkx's `degree_centrality`: degree / (n − 1); for directed graphs
/// in-degree + out-degree. A self-loop counts twice, as in networkx.
pub fn degree(graph: &Graph) -> Vec<f64> {
    let n = graph.node_count();
    if n <= 1 {
        return vec![1.0; n];
    }
    let scale = 1.0 / (n - 1) as f64;
    graph
        .nodes()
        .map(|v| {
            let loops = graph
                .outgoing()
                .neighbours(v)
                .filter(|&(w, _)| w == v)
                .count();
            let d = if graph.is_directed() {
                graph.outgoing().degree(v) + graph.incoming().degree(v)
            } else {
                graph.outgoing().degree(v) + loops
            };
            d as f64 * scale
        })
        .collect()
}

/// Hop distances from `source` along `adjacency` (`u32::MAX`: unreached),
/// written into `distance`; returns (reached count, sum of distances).
fn bfs_distances(
    adjacency: &crate::graph::Adjacency,
    source: NodeIndex,
    distance: &mut [u32],
    queue: &mut VecDeque<NodeIndex>,
) -> (usize, u64) {
    distance.fill(u32::MAX);
    distance[source as usize] = 0;
    queue.clear();
    queue.push_back(source);
    let (mut reached, mut total) = (0usize, 0u64);
    while let Some(u) = queue.pop_front() {
        reached += 1;
        total += u64::from(distance[u as usize]);
        for &w in adjacency.targets(u) {
            if distance[w as usize] == u32::MAX {
                distance[w as usize] = distance[u as usize] + 1;
                queue.push_back(w);
            }
        }
    }
    (reached, total)
}

/// Closeness of a node that reaches `reached` nodes (itself included) at a
/// total distance `total` in a graph of `n`: (r/total)·(r/(n−1)), r = reached−1,
/// networkx's `wf_improved` form; 0 when it reaches nobody.
fn wasserman_faust(reached: usize, total: f64, n: usize) -> f64 {
    if total <= 0.0 || n <= 1 {
        return 0.0;
    }
    let r = (reached - 1) as f64;
    r / total * (r / (n - 1) as f64)
}

/// networkx's `closeness_centrality` (Wasserman–Faust improved formula);
/// for directed graphs, distances *to* each node. `on_node(done)` is
/// called every `report_every` nodes and may stop the run.
pub fn closeness(
    graph: &Graph,
    report_every: usize,
    mut on_node: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<Vec<f64>> {
    let n = graph.node_count();
    // Distances to v are distances from v in the reversed graph.
    let adjacency = graph.incoming();
    let mut distance = vec![u32::MAX; n];
    let mut queue = VecDeque::new();
    let mut result = Vec::with_capacity(n);
    for v in graph.nodes() {
        let (reached, total) = bfs_distances(adjacency, v, &mut distance, &mut queue);
        result.push(wasserman_faust(reached, total as f64, n));
        let done = v as usize + 1;
        if done.is_multiple_of(report_every.max(1)) && on_node(done).is_break() {
            return None;
        }
    }
    Some(result)
}

/// A node on the Dijkstra frontier; `BinaryHeap` is a max-heap, so the
/// order is reversed, and ties go to the earlier push (as networkx's
/// counter does) so that path counts match its order of discovery.
#[derive(Clone, Copy, PartialEq)]
struct Frontier {
    distance: f64,
    pushed: u64,
    predecessor: NodeIndex,
    node: NodeIndex,
}

impl Eq for Frontier {}

impl Ord for Frontier {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .distance
            .total_cmp(&self.distance)
            .then_with(|| other.pushed.cmp(&self.pushed))
    }
}

impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Weighted distances from `source` along `adjacency`; returns (reached
/// count, sum of distances). Weights must be non-negative.
fn dijkstra_distances(
    adjacency: &crate::graph::Adjacency,
    source: NodeIndex,
    distance: &mut [f64],
    heap: &mut BinaryHeap<Frontier>,
) -> (usize, f64) {
    distance.fill(f64::INFINITY);
    heap.clear();
    distance[source as usize] = 0.0;
    heap.push(Frontier {
        distance: 0.0,
        pushed: 0,
        predecessor: source,
        node: source,
    });
    let (mut reached, mut total, mut pushed) = (0usize, 0.0, 0u64);
    let mut done = vec![false; distance.len()];
    while let Some(Frontier {
        distance: d,
        node: u,
        ..
    }) = heap.pop()
    {
        if done[u as usize] {
            continue;
        }
        done[u as usize] = true;
        reached += 1;
        total += d;
        for (w, weight) in adjacency.neighbours(u) {
            let candidate = d + weight;
            if candidate < distance[w as usize] {
                distance[w as usize] = candidate;
                pushed += 1;
                heap.push(Frontier {
                    distance: candidate,
                    pushed,
                    predecessor: u,
                    node: w,
                });
            }
        }
    }
    (reached, total)
}

/// [`closeness`] over weighted shortest paths (networkx's
/// `closeness_centrality(G, distance="weight")`).
pub fn closeness_weighted(
    graph: &Graph,
    report_every: usize,
    mut on_node: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<Vec<f64>> {
    let n = graph.node_count();
    let adjacency = graph.incoming();
    let mut distance = vec![f64::INFINITY; n];
    let mut heap = BinaryHeap::new();
    let mut result = Vec::with_capacity(n);
    for v in graph.nodes() {
        let (reached, total) = dijkstra_distances(adjacency, v, &mut distance, &mut heap);
        result.push(wasserman_faust(reached, total, n));
        let done = v as usize + 1;
        if done.is_multiple_of(report_every.max(1)) && on_node(done).is_break() {
            return None;
        }
    }
    Some(result)
}

/// networkx's normalisation of betweenness (`normalized=True`), scaled by
/// n / k when only k sources were used.
fn normalise_betweenness(centrality: &mut [f64], sources: usize) {
    let n = centrality.len();
    if n > 2 {
        let mut scale = 1.0 / ((n - 1) * (n - 2)) as f64;
        if sources < n {
            scale *= n as f64 / sources.max(1) as f64;
        }
        for c in centrality {
            *c *= scale;
        }
    }
}

/// [`betweenness`] over weighted shortest paths: Brandes with Dijkstra,
/// as networkx's `betweenness_centrality(G, weight="weight")` (paths of
/// equal length are counted by exact equality of their sums, as there).
pub fn betweenness_weighted(
    graph: &Graph,
    sources: &[NodeIndex],
    report_every: usize,
    mut on_source: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<Vec<f64>> {
    let n = graph.node_count();
    let mut centrality = vec![0.0; n];
    let mut sigma = vec![0.0f64; n];
    let mut seen = vec![f64::INFINITY; n];
    let mut settled = vec![false; n];
    let mut delta = vec![0.0f64; n];
    let mut predecessors: Vec<Vec<NodeIndex>> = vec![Vec::new(); n];
    let mut order: Vec<NodeIndex> = Vec::with_capacity(n);
    let mut heap = BinaryHeap::new();
    for (done, &s) in sources.iter().enumerate() {
        for &v in &order {
            predecessors[v as usize].clear();
            settled[v as usize] = false;
            delta[v as usize] = 0.0;
        }
        order.clear();
        sigma.fill(0.0);
        seen.fill(f64::INFINITY);
        sigma[s as usize] = 1.0;
        seen[s as usize] = 0.0;
        let mut pushed = 0u64;
        heap.push(Frontier {
            distance: 0.0,
            pushed,
            predecessor: s,
            node: s,
        });
        while let Some(Frontier {
            distance: d,
            predecessor,
            node: v,
            ..
        }) = heap.pop()
        {
            if settled[v as usize] {
                continue;
            }
            if v != s {
                sigma[v as usize] += sigma[predecessor as usize];
            }
            settled[v as usize] = true;
            order.push(v);
            for (w, weight) in graph.outgoing().neighbours(v) {
                let through = d + weight;
                let w_index = w as usize;
                if !settled[w_index] && through < seen[w_index] {
                    seen[w_index] = through;
                    pushed += 1;
                    heap.push(Frontier {
                        distance: through,
                        pushed,
                        predecessor: v,
                        node: w,
                    });
                    sigma[w_index] = 0.0;
                    predecessors[w_index].clear();
                    predecessors[w_index].push(v);
                } else if through == seen[w_index] {
                    sigma[w_index] += sigma[v as usize];
                    predecessors[w_index].push(v);
                }
            }
        }
        for &w in order.iter().rev() {
            let coefficient = (1.0 + delta[w as usize]) / sigma[w as usize];
            for &v in &predecessors[w as usize] {
                delta[v as usize] += sigma[v as usize] * coefficient;
            }
            if w != s {
                centrality[w as usize] += delta[w as usize];
            }
        }
        if (done + 1) % report_every.max(1) == 0 && on_source(done + 1).is_break() {
            return None;
        }
    }
    normalise_betweenness(&mut centrality, sources.len());
    Some(centrality)
}

/// Deterministic source sample for approximate betweenness (xorshift,
/// partial Fisher–Yates).
pub fn sample_sources(n: usize, k: usize, seed: u64) -> Vec<NodeIndex> {
    let mut nodes: Vec<NodeIndex> = (0..n as NodeIndex).collect();
    let mut state = seed | 1;
    for i in 0..k.min(n) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = i + (state % (n - i) as u64) as usize;
        nodes.swap(i, j);
    }
    nodes.truncate(k.min(n));
    nodes
}

/// Brandes' betweenness over unweighted shortest paths from `sources` (all
/// nodes for the exact value), normalised as networkx does with
/// `normalized=True`; with a sample of k sources, scaled by n / k.
pub fn betweenness(
    graph: &Graph,
    sources: &[NodeIndex],
    report_every: usize,
    mut on_source: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<Vec<f64>> {
    let n = graph.node_count();
    let mut centrality = vec![0.0; n];
    let mut sigma = vec![0.0f64; n];
    let mut distance = vec![u32::MAX; n];
    let mut delta = vec![0.0f64; n];
    // Breadth-first order doubles as the queue: nodes are appended when
    // discovered and visited from `head` on.
    let mut order: Vec<NodeIndex> = Vec::with_capacity(n);
    for (done, &s) in sources.iter().enumerate() {
        order.clear();
        sigma.fill(0.0);
        distance.fill(u32::MAX);
        sigma[s as usize] = 1.0;
        distance[s as usize] = 0;
        order.push(s);
        let mut head = 0;
        while let Some(&u) = order.get(head) {
            head += 1;
            let next = distance[u as usize] + 1;
            for &w in graph.outgoing().targets(u) {
                if distance[w as usize] == u32::MAX {
                    distance[w as usize] = next;
                    order.push(w);
                }
                if distance[w as usize] == next {
                    sigma[w as usize] += sigma[u as usize];
                }
            }
        }
        for &v in &order {
            delta[v as usize] = 0.0;
        }
        // Predecessors are the in-neighbours one hop closer to the source.
        for &w in order.iter().rev() {
            let dw = distance[w as usize];
            let coefficient = (1.0 + delta[w as usize]) / sigma[w as usize];
            for &v in graph.incoming().targets(w) {
                if dw > 0 && distance[v as usize] == dw - 1 {
                    delta[v as usize] += sigma[v as usize] * coefficient;
                }
            }
            if w != s {
                centrality[w as usize] += delta[w as usize];
            }
        }
        if (done + 1) % report_every.max(1) == 0 && on_source(done + 1).is_break() {
            return None;
        }
    }
    normalise_betweenness(&mut centrality, sources.len());
    Some(centrality)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    fn go(_: usize) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    #[test]
    fn the_centre_of_a_path_has_all_the_betweenness() {
        // networkx: betweenness_centrality(path_graph(3)) = {0: 0, 1: 1.0, 2: 0}
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0)], false);
        let all: Vec<NodeIndex> = g.nodes().collect();
        let b = betweenness(&g, &all, 1, go).expect("runs");
        assert_eq!(b, vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn closeness_of_a_star() {
        // networkx: closeness_centrality(star_graph(3)) centre = 1.0, leaves = 0.6
        let g = build(&[("c", "1", 1.0), ("c", "2", 1.0), ("c", "3", 1.0)], false);
        let c = closeness(&g, 1, go).expect("runs");
        assert!((c[0] - 1.0).abs() < 1e-12);
        assert!((c[1] - 0.6).abs() < 1e-12);
    }

    #[test]
    fn degree_is_normalised_by_n_minus_one() {
        let g = build(&[("a", "b", 1.0), ("a", "c", 1.0)], false);
        assert_eq!(degree(&g), vec![1.0, 0.5, 0.5]);
    }

    #[test]
    fn sampling_is_deterministic_and_distinct() {
        let a = sample_sources(100, 10, 7);
        assert_eq!(a, sample_sources(100, 10, 7));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
    }
}
