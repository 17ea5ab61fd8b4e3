//! The in-memory graph: nodes numbered densely, adjacency in compressed
//! sparse row form (one offsets array, one targets array, one weights
//! array), both directions.
//!
//! Duplicate edges collapse to one and the last weight wins, as in
//! networkx's `Graph`/`DiGraph`; an undirected edge is stored both ways.
//! Building is linear: arcs are placed by counting sort, never sorted as a
//! whole, and integer ids in a compact range are numbered through a table
//! instead of a hash map. At a million edges building the graph costs more
//! than most algorithms, so this is where the time goes.

use rustc_hash::FxHashMap;

use crate::input::{GraphInput, NodeName};

/// Dense node index.
pub type NodeIndex = u32;

/// An arc: tail, head, weight.
type Arc = (NodeIndex, NodeIndex, f64);

/// Compressed adjacency of one direction.
#[derive(Clone, Debug, Default)]
pub struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<NodeIndex>,
    weights: Vec<f64>,
}

impl Adjacency {
    /// Places the arcs `arcs()` yields by tail, keeping their order within
    /// each tail (a stable counting sort; `arcs` is called twice).
    fn build<I: Iterator<Item = Arc>>(node_count: usize, arcs: impl Fn() -> I) -> Self {
        let mut offsets = vec![0usize; node_count + 1];
        for (from, _, _) in arcs() {
            offsets[from as usize + 1] += 1;
        }
        for i in 0..node_count {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets[..node_count].to_vec();
        let mut targets = vec![0; offsets[node_count]];
        let mut weights = vec![0.0; offsets[node_count]];
        for (from, to, weight) in arcs() {
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

    /// Every arc, by tail and then in list order.
    fn arcs(&self) -> impl Iterator<Item = Arc> + '_ {
        (0..self.offsets.len() - 1).flat_map(move |from| {
            // `from` < node_count, which fits in NodeIndex.
            self.neighbours(from as NodeIndex)
                .map(move |(to, weight)| (from as NodeIndex, to, weight))
        })
    }

    /// Each list sorted by target with duplicates collapsed to the last one
    /// (lists keep input order, so "last" is the input's last).
    fn deduplicated(self) -> Self {
        let node_count = self.offsets.len() - 1;
        let mut offsets = Vec::with_capacity(node_count + 1);
        let mut targets = Vec::with_capacity(self.targets.len());
        let mut weights = Vec::with_capacity(self.weights.len());
        offsets.push(0);
        let mut list: Vec<(NodeIndex, f64)> = Vec::new();
        for node in 0..node_count {
            let range = self.offsets[node]..self.offsets[node + 1];
            let slice = &self.targets[range.clone()];
            if slice.windows(2).all(|pair| pair[0] < pair[1]) {
                targets.extend_from_slice(slice);
                weights.extend_from_slice(&self.weights[range]);
            } else {
                list.clear();
                list.extend(
                    slice
                        .iter()
                        .copied()
                        .zip(self.weights[range].iter().copied()),
                );
                list.sort_by_key(|&(to, _)| to); // stable: duplicates keep input order
                for &(to, weight) in &list {
                    if targets.len() > offsets[node] && targets.last() == Some(&to) {
                        if let Some(last) = weights.last_mut() {
                            *last = weight;
                        }
                    } else {
                        targets.push(to);
                        weights.push(weight);
                    }
                }
            }
            offsets.push(targets.len());
        }
        Self {
            offsets,
            targets,
            weights,
        }
    }

    /// Both directions of every (low, high) edge. A node's list gets its
    /// lower neighbours (from earlier tails, ascending) before its own
    /// higher ones, so lists stay sorted — similarity merges them, and
    /// results stay independent of input order.
    fn symmetric(&self) -> Self {
        let node_count = self.offsets.len() - 1;
        let mut offsets = vec![0usize; node_count + 1];
        for from in 0..node_count {
            for &to in self.targets(from as NodeIndex) {
                offsets[from + 1] += 1;
                if to as usize != from {
                    offsets[to as usize + 1] += 1;
                }
            }
        }
        for i in 0..node_count {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets[..node_count].to_vec();
        let mut targets = vec![0; offsets[node_count]];
        let mut weights = vec![0.0; offsets[node_count]];
        for from in 0..node_count {
            for (to, weight) in self.neighbours(from as NodeIndex) {
                let slot = &mut cursor[from];
                targets[*slot] = to;
                weights[*slot] = weight;
                *slot += 1;
                if to as usize != from {
                    let slot = &mut cursor[to as usize];
                    targets[*slot] = from as NodeIndex;
                    weights[*slot] = weight;
                    *slot += 1;
                }
            }
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

/// From node ids to indices, numbered in order of first appearance.
#[derive(Clone, Debug)]
enum Lookup {
    /// Integer ids within `minimum..minimum + table.len()`: a table slot
    /// per possible id (`NodeIndex::MAX` = absent).
    Table { minimum: i64, table: Vec<NodeIndex> },
    /// Anything else.
    Hashed(FxHashMap<NodeName, NodeIndex>),
}

impl Lookup {
    /// A table when every id is an integer and their range is at most a
    /// few times their number (so the table is no bigger than the edges).
    fn for_ids<'a>(ids: impl Iterator<Item = &'a NodeName>, count: usize) -> Self {
        let mut range: Option<(i64, i64)> = None;
        for id in ids {
            let NodeName::Integer(number) = *id else {
                return Self::Hashed(FxHashMap::default());
            };
            range = Some(range.map_or((number, number), |(low, high)| {
                (low.min(number), high.max(number))
            }));
        }
        match range {
            Some((low, high)) if (high as i128 - low as i128) < 4 * count as i128 + 1024 => {
                Self::Table {
                    minimum: low,
                    table: vec![NodeIndex::MAX; (high - low) as usize + 1],
                }
            }
            _ => Self::Hashed(FxHashMap::default()),
        }
    }

    fn get(&self, name: &NodeName) -> Option<NodeIndex> {
        match (self, name) {
            (Self::Table { minimum, table }, NodeName::Integer(number)) => {
                let slot = number.checked_sub(*minimum)?;
                let index = *table.get(usize::try_from(slot).ok()?)?;
                (index != NodeIndex::MAX).then_some(index)
            }
            (Self::Table { .. }, NodeName::Text(_)) => None,
            (Self::Hashed(map), _) => map.get(name).copied(),
        }
    }

    /// The index of `name`, numbering it `next` if it is new.
    fn intern(&mut self, name: &NodeName, next: NodeIndex) -> (NodeIndex, bool) {
        match (self, name) {
            (Self::Table { minimum, table }, NodeName::Integer(number)) => {
                // `for_ids` saw every id, so the slot exists.
                let slot = &mut table[(number - *minimum) as usize];
                if *slot == NodeIndex::MAX {
                    *slot = next;
                    (next, true)
                } else {
                    (*slot, false)
                }
            }
            (Self::Hashed(map), _) => match map.get(name) {
                Some(&index) => (index, false),
                None => {
                    map.insert(name.clone(), next);
                    (next, true)
                }
            },
            (Self::Table { .. }, NodeName::Text(_)) => {
                unreachable!("tables are only made when every id is an integer")
            }
        }
    }
}

/// A graph ready for the algorithms.
#[derive(Clone, Debug)]
pub struct Graph {
    names: Vec<NodeName>,
    lookup: Lookup,
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
        let ids = input
            .edges
            .iter()
            .flat_map(|edge| [&edge.from, &edge.to])
            .chain(&input.nodes);
        let mut lookup = Lookup::for_ids(ids, input.edges.len() * 2 + input.nodes.len());
        let mut names = Vec::new();
        let mut intern = |name: &NodeName| -> Result<NodeIndex, TooLarge> {
            // NodeIndex::MAX marks empty table slots, so it is never an index.
            let next = NodeIndex::try_from(names.len())
                .ok()
                .filter(|&next| next != NodeIndex::MAX)
                .ok_or(TooLarge)?;
            let (index, new) = lookup.intern(name, next);
            if new {
                names.push(name.clone());
            }
            Ok(index)
        };
        let mut edges = Vec::with_capacity(input.edges.len());
        for edge in &input.edges {
            let from = intern(&edge.from)?;
            let to = intern(&edge.to)?;
            edges.push((from, to, edge.weight));
        }
        for name in &input.nodes {
            intern(name)?;
        }
        let directed = input.directed;
        drop(input); // the edge list is no longer needed; free it before building
        Ok(Self::from_indexed(names, lookup, directed, edges))
    }

    fn from_indexed(
        names: Vec<NodeName>,
        lookup: Lookup,
        directed: bool,
        mut edges: Vec<Arc>,
    ) -> Self {
        if !directed {
            for edge in &mut edges {
                if edge.0 > edge.1 {
                    std::mem::swap(&mut edge.0, &mut edge.1);
                }
            }
        }
        let node_count = names.len();
        let unique = Adjacency::build(node_count, || edges.iter().copied()).deduplicated();
        drop(edges);
        let edge_count = unique.targets.len();
        let (outgoing, incoming) = if directed {
            // Tails come out ascending, so every in-list is sorted too.
            let incoming =
                Adjacency::build(node_count, || unique.arcs().map(|(f, t, w)| (t, f, w)));
            (unique, incoming)
        } else {
            let both = unique.symmetric();
            (both.clone(), both)
        };
        Self {
            names,
            lookup,
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

    /// Id of node `i`, as the input gave it.
    pub fn name(&self, i: NodeIndex) -> &NodeName {
        &self.names[i as usize]
    }

    /// Index of the node called `name`.
    pub fn find(&self, name: &NodeName) -> Option<NodeIndex> {
        self.lookup.get(name)
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
                from: NodeName::text(f),
                to: NodeName::text(t),
                weight: w,
                label: None,
                properties: None,
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
        let a = g.find(&NodeName::text("a")).expect("a");
        let b = g.find(&NodeName::text("b")).expect("b");
        assert_eq!(
            g.outgoing().neighbours(a).collect::<Vec<_>>(),
            vec![(b, 2.0)]
        );
        assert_eq!(g.outgoing().degree(b), 2);
    }

    #[test]
    fn directed_edges_keep_their_direction() {
        let g = build(&[("a", "b", 1.0), ("a", "b", 3.0)], true);
        let a = g.find(&NodeName::text("a")).expect("a");
        let b = g.find(&NodeName::text("b")).expect("b");
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
