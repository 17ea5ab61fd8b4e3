//! The in-memory graph: nodes numbered densely, adjacency in compressed
//! sparse row form (one offsets array, one targets array, one weights
//! array), both directions.
//!
//! Duplicate edges collapse to one and the last weight wins, as in
//! networkx's `Graph`/`DiGraph`; an undirected edge is stored both ways.

use std::collections::HashMap;

use crate::input::{GraphInput, NodeName};

/// Dense node index.
pub type NodeIndex = u32;

/// Compressed adjacency of one direction.
#[derive(Clone, Debug, Default)]
pub struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<NodeIndex>,
    weights: Vec<f64>,
}

impl Adjacency {
    fn build(node_count: usize, edges: &[(NodeIndex, NodeIndex, f64)]) -> Self {
        let mut offsets = vec![0usize; node_count + 1];
        for &(from, _, _) in edges {
            offsets[from as usize + 1] += 1;
        }
        for i in 0..node_count {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut targets = vec![0; edges.len()];
        let mut weights = vec![0.0; edges.len()];
        for &(from, to, weight) in edges {
            let slot = &mut cursor[from as usize];
            targets[*slot] = to;
            weights[*slot] = weight;
            *slot += 1;
        }
        Self {
            offsets,
            targets,
            weights,
        }
    }

    /// Neighbours of `node` and the weights of the edges to them.
    pub fn neighbours(&self, node: NodeIndex) -> impl Iterator<Item = (NodeIndex, f64)> + '_ {
        let range = self.offsets[node as usize]..self.offsets[node as usize + 1];
        self.targets[range.clone()]
            .iter()
            .copied()
            .zip(self.weights[range].iter().copied())
    }

    /// Neighbours of `node`, in index order.
    pub fn targets(&self, node: NodeIndex) -> &[NodeIndex] {
        &self.targets[self.offsets[node as usize]..self.offsets[node as usize + 1]]
    }

    /// Number of neighbours of `node`.
    pub fn degree(&self, node: NodeIndex) -> usize {
        self.offsets[node as usize + 1] - self.offsets[node as usize]
    }
}

/// A graph ready for the algorithms.
#[derive(Clone, Debug)]
pub struct Graph {
    names: Vec<NodeName>,
    index: HashMap<NodeName, NodeIndex>,
    directed: bool,
    edge_count: usize,
    outgoing: Adjacency,
    incoming: Adjacency,
}

/// Why a graph could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge;

impl Graph {
    /// Builds the graph from parsed input.
    pub fn from_input(input: GraphInput) -> Result<Self, TooLarge> {
        let mut names = Vec::new();
        let mut index: HashMap<NodeName, NodeIndex> = HashMap::new();
        let mut intern = |name: NodeName| -> Result<NodeIndex, TooLarge> {
            if let Some(&i) = index.get(&name) {
                return Ok(i);
            }
            let i = NodeIndex::try_from(names.len()).map_err(|_| TooLarge)?;
            names.push(name.clone());
            index.insert(name, i);
            Ok(i)
        };
        let mut edges = Vec::with_capacity(input.edges.len());
        for edge in input.edges {
            let from = intern(edge.from)?;
            let to = intern(edge.to)?;
            edges.push((from, to, edge.weight));
        }
        for name in input.nodes {
            intern(name)?;
        }
        Ok(Self::from_indexed(names, index, input.directed, edges))
    }

    fn from_indexed(
        names: Vec<NodeName>,
        index: HashMap<NodeName, NodeIndex>,
        directed: bool,
        mut edges: Vec<(NodeIndex, NodeIndex, f64)>,
    ) -> Self {
        if !directed {
            for edge in &mut edges {
                if edge.0 > edge.1 {
                    std::mem::swap(&mut edge.0, &mut edge.1);
                }
            }
        }
        // Stable sort keeps input order among duplicates; keep the last.
        edges.sort_by_key(|&(from, to, _)| (from, to));
        let mut unique: Vec<(NodeIndex, NodeIndex, f64)> = Vec::with_capacity(edges.len());
        for edge in edges {
            match unique.last_mut() {
                Some(last) if (last.0, last.1) == (edge.0, edge.1) => *last = edge,
                _ => unique.push(edge),
            }
        }
        let edge_count = unique.len();
        let mut arcs = unique;
        if !directed {
            let mirrored: Vec<_> = arcs
                .iter()
                .filter(|(from, to, _)| from != to)
                .map(|&(from, to, weight)| (to, from, weight))
                .collect();
            arcs.extend(mirrored);
            // Keep every neighbour list sorted by index: similarity merges
            // them, and results stay independent of input order.
            arcs.sort_unstable_by_key(|&(from, to, _)| (from, to));
        }
        let outgoing = Adjacency::build(names.len(), &arcs);
        let incoming = if directed {
            let reversed: Vec<_> = arcs.iter().map(|&(f, t, w)| (t, f, w)).collect();
            Adjacency::build(names.len(), &reversed)
        } else {
            outgoing.clone()
        };
        Self {
            names,
            index,
            directed,
            edge_count,
            outgoing,
            incoming,
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.names.len()
    }

    /// Number of distinct edges (an undirected edge counts once).
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// Was the graph built as directed?
    pub fn is_directed(&self) -> bool {
        self.directed
    }

    /// Name of node `i`.
    pub fn name(&self, i: NodeIndex) -> &str {
        &self.names[i as usize].0
    }

    /// Index of the node called `name`.
    pub fn find(&self, name: &NodeName) -> Option<NodeIndex> {
        self.index.get(name).copied()
    }

    /// Out-edges (for undirected graphs: all edges).
    pub fn outgoing(&self) -> &Adjacency {
        &self.outgoing
    }

    /// In-edges (for undirected graphs: all edges).
    pub fn incoming(&self) -> &Adjacency {
        &self.incoming
    }

    /// All node indices.
    pub fn nodes(&self) -> std::ops::Range<NodeIndex> {
        // node_count fits in NodeIndex: `intern` refuses anything larger.
        0..self.names.len() as NodeIndex
    }
}

#[cfg(test)]
pub(crate) fn build(edges: &[(&str, &str, f64)], directed: bool) -> Graph {
    use crate::input::Edge;
    Graph::from_input(GraphInput {
        edges: edges
            .iter()
            .map(|&(f, t, w)| Edge {
                from: NodeName(f.into()),
                to: NodeName(t.into()),
                weight: w,
                label: None,
            })
            .collect(),
        graph: None,
        directed,
        nodes: Vec::new(),
    })
    .expect("small graph")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undirected_edges_are_stored_both_ways_once() {
        let g = build(&[("a", "b", 1.0), ("b", "a", 2.0), ("b", "c", 1.0)], false);
        assert_eq!(g.node_count(), 3);
        assert_eq!(g.edge_count(), 2);
        let a = g.find(&NodeName("a".into())).expect("a");
        let b = g.find(&NodeName("b".into())).expect("b");
        assert_eq!(
            g.outgoing().neighbours(a).collect::<Vec<_>>(),
            vec![(b, 2.0)]
        );
        assert_eq!(g.outgoing().degree(b), 2);
    }

    #[test]
    fn directed_edges_keep_their_direction() {
        let g = build(&[("a", "b", 1.0), ("a", "b", 3.0)], true);
        let a = g.find(&NodeName("a".into())).expect("a");
        let b = g.find(&NodeName("b".into())).expect("b");
        assert_eq!(g.edge_count(), 1);
        assert_eq!(
            g.outgoing().neighbours(a).collect::<Vec<_>>(),
            vec![(b, 3.0)]
        );
        assert_eq!(g.outgoing().degree(b), 0);
        assert_eq!(
            g.incoming().neighbours(b).collect::<Vec<_>>(),
            vec![(a, 3.0)]
        );
    }
}
