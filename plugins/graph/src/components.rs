//! Connected components with union–find; weakly connected ones for
//! directed graphs.

use crate::graph::{Graph, NodeIndex};

struct DisjointSets {
    parent: Vec<NodeIndex>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as NodeIndex).collect(),
            size: vec![1; n],
        }
    }

    fn root(&mut self, mut x: NodeIndex) -> NodeIndex {
        while self.parent[x as usize] != x {
            // Path halving.
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    fn union(&mut self, a: NodeIndex, b: NodeIndex) {
        let (mut a, mut b) = (self.root(a), self.root(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

/// Components, largest first; nodes within each in index order.
pub fn connected_components(graph: &Graph) -> Vec<Vec<NodeIndex>> {
    let mut sets = DisjointSets::new(graph.node_count());
    let directed = graph.is_directed();
    for u in graph.nodes() {
        for &v in graph.outgoing().targets(u) {
            // An undirected edge is listed at both ends; one union will do.
            if directed || u < v {
                sets.union(u, v);
            }
        }
    }
    // Component number of each root, in order of the roots' first member.
    let mut number = vec![NodeIndex::MAX; graph.node_count()];
    let mut components: Vec<Vec<NodeIndex>> = Vec::new();
    for u in graph.nodes() {
        let slot = &mut number[sets.root(u) as usize];
        if *slot == NodeIndex::MAX {
            // At most node_count components, which fits in NodeIndex.
            *slot = components.len() as NodeIndex;
            components.push(Vec::new());
        }
        components[*slot as usize].push(u);
    }
    components.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    components
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    #[test]
    fn finds_every_component_largest_first() {
        let g = build(
            &[
                ("a", "b", 1.0),
                ("c", "d", 1.0),
                ("d", "e", 1.0),
                ("f", "f", 1.0),
            ],
            false,
        );
        let sizes: Vec<usize> = connected_components(&g).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 2, 1]);
    }

    #[test]
    fn directed_graphs_give_weak_components() {
        let g = build(&[("a", "b", 1.0), ("c", "b", 1.0)], true);
        assert_eq!(connected_components(&g).len(), 1);
    }
}
