//! Neighbourhood similarity of node pairs (undirected graphs), as
//! networkx's link-prediction functions, and top-k recommendations.

use crate::graph::{Graph, NodeIndex};

/// Which score to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// |N(u) ∩ N(v)| / |N(u) ∪ N(v)| (`jaccard_coefficient`).
    Jaccard,
    /// |N(u) ∩ N(v)| / sqrt(|N(u)|·|N(v)|).
    Cosine,
    /// |N(u) ∩ N(v)| (`common_neighbors`).
    CommonNeighbors,
    /// Σ 1 / ln |N(w)| over common neighbours w (`adamic_adar_index`).
    AdamicAdar,
}

/// Neighbours of `v` without self-loops (sorted, since adjacency is).
fn neighbours(graph: &Graph, v: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
    graph
        .outgoing()
        .targets(v)
        .iter()
        .copied()
        .filter(move |&w| w != v)
}

fn degree(graph: &Graph, v: NodeIndex) -> usize {
    neighbours(graph, v).count()
}

/// The score of the pair (u, v).
pub fn score(graph: &Graph, metric: Metric, u: NodeIndex, v: NodeIndex) -> f64 {
    let a: Vec<NodeIndex> = neighbours(graph, u).collect();
    let b: Vec<NodeIndex> = neighbours(graph, v).collect();
    let (mut i, mut j) = (0, 0);
    let mut common = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    let shared = common.len() as f64;
    match metric {
        Metric::CommonNeighbors => shared,
        Metric::Jaccard => {
            let union = (a.len() + b.len()) as f64 - shared;
            if union == 0.0 { 0.0 } else { shared / union }
        }
        Metric::Cosine => {
            let norm = ((a.len() * b.len()) as f64).sqrt();
            if norm == 0.0 { 0.0 } else { shared / norm }
        }
        Metric::AdamicAdar => common
            .iter()
            .map(|&w| 1.0 / (degree(graph, w) as f64).ln())
            .sum(),
    }
}

/// The `k` best-scoring nodes for `source` that are not already its
/// neighbours (nor itself): candidates are the nodes two hops away, the
/// only ones with a non-zero score. Ties go to the lower node index.
pub fn recommend(
    graph: &Graph,
    metric: Metric,
    source: NodeIndex,
    k: usize,
) -> Vec<(NodeIndex, f64)> {
    let mut seen = vec![false; graph.node_count()];
    seen[source as usize] = true;
    for w in neighbours(graph, source) {
        seen[w as usize] = true;
    }
    let mut candidates = Vec::new();
    for w in neighbours(graph, source) {
        for c in neighbours(graph, w) {
            if !seen[c as usize] {
                seen[c as usize] = true;
                candidates.push(c);
            }
        }
    }
    let mut scored: Vec<(NodeIndex, f64)> = candidates
        .into_iter()
        .map(|c| (c, score(graph, metric, source, c)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;
    use crate::input::NodeName;

    #[test]
    fn scores_of_a_shared_neighbourhood() {
        // a and b share c and d; a also knows e.
        let g = build(
            &[
                ("a", "c", 1.0),
                ("a", "d", 1.0),
                ("a", "e", 1.0),
                ("b", "c", 1.0),
                ("b", "d", 1.0),
            ],
            false,
        );
        let find = |n: &str| g.find(&NodeName::text(n)).expect("node");
        let (a, b) = (find("a"), find("b"));
        assert_eq!(score(&g, Metric::CommonNeighbors, a, b), 2.0);
        assert!((score(&g, Metric::Jaccard, a, b) - 2.0 / 3.0).abs() < 1e-12);
        assert!((score(&g, Metric::Cosine, a, b) - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert!((score(&g, Metric::AdamicAdar, a, b) - 2.0 / 2f64.ln()).abs() < 1e-12);
        let top = recommend(&g, Metric::CommonNeighbors, b, 3);
        assert_eq!(top[0], (a, 2.0));
    }
}
