//! Louvain community detection (Blondel et al. 2008) on undirected,
//! weighted graphs: local moving of nodes between neighbouring communities
//! while modularity rises, then aggregation of each community into one
//! node, repeated until a level brings no gain.
//!
//! Nodes are visited in index order (networkx shuffles them with a seed),
//! so results are deterministic; modularity is what the tests compare.

use std::collections::HashMap;
use std::ops::ControlFlow;

use crate::graph::Graph;

/// One level's weighted graph: neighbour lists without self-loops, plus
/// each node's self-loop weight (both directions counted) and degree.
struct Level {
    neighbours: Vec<Vec<(usize, f64)>>,
    self_loops: Vec<f64>,
    degree: Vec<f64>,
}

impl Level {
    fn from_graph(graph: &Graph) -> Self {
        let n = graph.node_count();
        let mut neighbours = vec![Vec::new(); n];
        let mut self_loops = vec![0.0; n];
        for u in graph.nodes() {
            for (v, w) in graph.outgoing().neighbours(u) {
                if u == v {
                    self_loops[u as usize] += 2.0 * w;
                } else {
                    neighbours[u as usize].push((v as usize, w));
                }
            }
        }
        let degree = (0..n)
            .map(|i| neighbours[i].iter().map(|&(_, w)| w).sum::<f64>() + self_loops[i])
            .collect();
        Self {
            neighbours,
            self_loops,
            degree,
        }
    }

    /// Moves nodes between communities until no move helps; returns each
    /// node's community (renumbered densely) and whether anything moved.
    fn local_moves(&self, m2: f64, resolution: f64) -> (Vec<usize>, bool) {
        let n = self.degree.len();
        let mut community: Vec<usize> = (0..n).collect();
        let mut total: Vec<f64> = self.degree.clone();
        let mut weight_to: HashMap<usize, f64> = HashMap::new();
        let mut moved_any = false;
        loop {
            let mut moved = false;
            for i in 0..n {
                let own = community[i];
                let k = self.degree[i];
                weight_to.clear();
                for &(j, w) in &self.neighbours[i] {
                    *weight_to.entry(community[j]).or_default() += w;
                }
                total[own] -= k;
                let gain = |c: usize, to: f64| to - resolution * total[c] * k / m2;
                let mut best = own;
                let mut best_gain = gain(own, weight_to.get(&own).copied().unwrap_or(0.0));
                let mut candidates: Vec<(usize, f64)> =
                    weight_to.iter().map(|(&c, &w)| (c, w)).collect();
                candidates.sort_unstable_by_key(|&(c, _)| c);
                for (c, to) in candidates {
                    let g = gain(c, to);
                    if g > best_gain + 1e-12 {
                        best = c;
                        best_gain = g;
                    }
                }
                total[best] += k;
                if best != own {
                    community[i] = best;
                    moved = true;
                    moved_any = true;
                }
            }
            if !moved {
                break;
            }
        }
        let mut renumber = HashMap::new();
        for c in &mut community {
            let next = renumber.len();
            *c = *renumber.entry(*c).or_insert(next);
        }
        (community, moved_any)
    }

    /// The graph whose nodes are the communities of this one.
    fn aggregate(&self, community: &[usize], count: usize) -> Self {
        let mut self_loops = vec![0.0; count];
        let mut edges: Vec<HashMap<usize, f64>> = vec![HashMap::new(); count];
        for (i, list) in self.neighbours.iter().enumerate() {
            let ci = community[i];
            self_loops[ci] += self.self_loops[i];
            for &(j, w) in list {
                let cj = community[j];
                if ci == cj {
                    self_loops[ci] += w;
                } else {
                    *edges[ci].entry(cj).or_default() += w;
                }
            }
        }
        let neighbours: Vec<Vec<(usize, f64)>> = edges
            .into_iter()
            .map(|m| {
                let mut list: Vec<(usize, f64)> = m.into_iter().collect();
                list.sort_unstable_by_key(|&(j, _)| j);
                list
            })
            .collect();
        let degree = (0..count)
            .map(|c| neighbours[c].iter().map(|&(_, w)| w).sum::<f64>() + self_loops[c])
            .collect();
        Self {
            neighbours,
            self_loops,
            degree,
        }
    }
}

/// Communities (each a list of node indices, largest first) and their
/// modularity. `on_level(level, modularity)` may stop the run.
pub fn louvain(
    graph: &Graph,
    resolution: f64,
    mut on_level: impl FnMut(usize, f64) -> ControlFlow<()>,
) -> Option<(Vec<Vec<u32>>, f64)> {
    let n = graph.node_count();
    let mut level = Level::from_graph(graph);
    let m2: f64 = level.degree.iter().sum();
    let mut membership: Vec<usize> = (0..n).collect();
    if m2 == 0.0 {
        let singletons = graph.nodes().map(|v| vec![v]).collect();
        return Some((singletons, 0.0));
    }
    let mut best = modularity(graph, &membership, resolution);
    for depth in 1.. {
        let (community, moved) = level.local_moves(m2, resolution);
        if !moved {
            break;
        }
        let candidate: Vec<usize> = membership.iter().map(|&c| community[c]).collect();
        let q = modularity(graph, &candidate, resolution);
        if q <= best + 1e-10 {
            break;
        }
        best = q;
        membership = candidate;
        let count = community.iter().max().map_or(0, |m| m + 1);
        level = level.aggregate(&community, count);
        if on_level(depth, q).is_break() {
            return None;
        }
    }
    let count = membership.iter().max().map_or(0, |m| m + 1);
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); count];
    for v in graph.nodes() {
        groups[membership[v as usize]].push(v);
    }
    groups.retain(|g| !g.is_empty());
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    Some((groups, best))
}

/// Newman's modularity of a partition of an undirected graph, as
/// networkx's `community.modularity`.
pub fn modularity(graph: &Graph, membership: &[usize], resolution: f64) -> f64 {
    let mut inside = 0.0;
    let mut m2 = 0.0;
    let mut total: HashMap<usize, f64> = HashMap::new();
    for u in graph.nodes() {
        let mut degree = 0.0;
        for (v, w) in graph.outgoing().neighbours(u) {
            // A self-loop adds its weight twice to the degree.
            let weight = if u == v { 2.0 * w } else { w };
            degree += weight;
            if membership[u as usize] == membership[v as usize] {
                inside += weight;
            }
        }
        m2 += degree;
        *total.entry(membership[u as usize]).or_default() += degree;
    }
    if m2 == 0.0 {
        return 0.0;
    }
    inside / m2 - resolution * total.values().map(|t| (t / m2) * (t / m2)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    #[test]
    fn two_triangles_joined_by_a_bridge_split_in_two() {
        let g = build(
            &[
                ("a", "b", 1.0),
                ("b", "c", 1.0),
                ("c", "a", 1.0),
                ("d", "e", 1.0),
                ("e", "f", 1.0),
                ("f", "d", 1.0),
                ("c", "d", 1.0),
            ],
            false,
        );
        let (groups, q) = louvain(&g, 1.0, |_, _| ControlFlow::Continue(())).expect("runs");
        assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        // networkx: modularity(G, [{a,b,c},{d,e,f}]) = 0.3571428571428571
        assert!((q - 0.357_142_857_142_857_1).abs() < 1e-12, "{q}");
    }
}
