//! Two hierarchies of boxes sharing one search: a region quadtree (a box
//! lives in the smallest quadrant that holds it whole) and a packed R-tree
//! whose leaves follow the Hilbert curve through the boxes' centres (16
//! entries a node, as flatbush does).

use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use super::{Bounds, Nearer, box_distance, extent, meets};

/// Entries a node holds before it splits (quadtree) or packs (Hilbert).
const NODE: usize = 16;
/// Quadtree depth at which splitting stops (identical boxes would
/// otherwise split forever).
const MAX_DEPTH: u32 = 16;

#[derive(Serialize, Deserialize)]
struct Node {
    /// Holds every entry below the node.
    bounds: Bounds,
    children: Vec<u32>,
    items: Vec<(u32, Bounds)>,
}

/// Nodes in a flat list, the root last.
#[derive(Serialize, Deserialize, Default)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn root(&self) -> Option<u32> {
        self.nodes.len().checked_sub(1).map(|r| r as u32)
    }

    fn intersecting(&self, q: Bounds) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack: Vec<u32> = self.root().into_iter().collect();
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id as usize];
            if !meets(&node.bounds, &q) {
                continue;
            }
            out.extend(
                node.items
                    .iter()
                    .filter(|(_, b)| meets(b, &q))
                    .map(|(f, _)| *f),
            );
            stack.extend(&node.children);
        }
        out
    }

    fn by_distance(&self, point: [f64; 2]) -> BestFirst<'_> {
        let mut heap = BinaryHeap::new();
        if let Some(root) = self.root() {
            heap.push((
                Nearer(box_distance(point, &self.nodes[root as usize].bounds)),
                Step::Node(root),
            ));
        }
        BestFirst {
            tree: self,
            point,
            heap,
        }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Node(u32),
    Item(u32),
}

/// Entries in nondecreasing order of their box's distance.
struct BestFirst<'a> {
    tree: &'a Tree,
    point: [f64; 2],
    heap: BinaryHeap<(Nearer, Step)>,
}

impl Iterator for BestFirst<'_> {
    type Item = (u32, f64);

    fn next(&mut self) -> Option<(u32, f64)> {
        while let Some((Nearer(distance), step)) = self.heap.pop() {
            match step {
                Step::Item(feature) => return Some((feature, distance)),
                Step::Node(id) => {
                    let node = &self.tree.nodes[id as usize];
                    for (feature, b) in &node.items {
                        self.heap
                            .push((Nearer(box_distance(self.point, b)), Step::Item(*feature)));
                    }
                    for &child in &node.children {
                        let b = &self.tree.nodes[child as usize].bounds;
                        self.heap
                            .push((Nearer(box_distance(self.point, b)), Step::Node(child)));
                    }
                }
            }
        }
        None
    }
}

/// A region quadtree.
#[derive(Serialize, Deserialize)]
pub struct Quadtree(Tree);

impl Quadtree {
    pub(super) fn build(entries: &[(u32, Bounds)]) -> Self {
        let mut tree = Tree::default();
        if !entries.is_empty() {
            split(&mut tree, extent(entries), entries.to_vec(), 0);
        }
        Self(tree)
    }

    pub(super) fn intersecting(&self, q: Bounds) -> Vec<u32> {
        self.0.intersecting(q)
    }

    pub(super) fn by_distance(&self, point: [f64; 2]) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.0.by_distance(point)
    }
}

/// Builds the subtree of `region` holding `items`; answers its node (the
/// children are pushed first, so the root ends up last).
fn split(tree: &mut Tree, region: Bounds, items: Vec<(u32, Bounds)>, depth: u32) -> u32 {
    let mut kept = Vec::new();
    let mut children = Vec::new();
    if items.len() <= NODE || depth >= MAX_DEPTH {
        kept = items;
    } else {
        let (mx, my) = ((region[0] + region[2]) / 2.0, (region[1] + region[3]) / 2.0);
        let quadrants = [
            [region[0], region[1], mx, my],
            [mx, region[1], region[2], my],
            [region[0], my, mx, region[3]],
            [mx, my, region[2], region[3]],
        ];
        let mut parts: [Vec<(u32, Bounds)>; 4] = Default::default();
        for item in items {
            let b = item.1;
            match quadrants
                .iter()
                .position(|q| b[0] >= q[0] && b[1] >= q[1] && b[2] <= q[2] && b[3] <= q[3])
            {
                Some(i) => parts[i].push(item),
                None => kept.push(item),
            }
        }
        for (quadrant, part) in quadrants.into_iter().zip(parts) {
            if !part.is_empty() {
                children.push(split(tree, quadrant, part, depth + 1));
            }
        }
    }
    tree.nodes.push(Node {
        bounds: region,
        children,
        items: kept,
    });
    (tree.nodes.len() - 1) as u32
}

/// A packed R-tree in Hilbert order.
#[derive(Serialize, Deserialize)]
pub struct Hilbert(Tree);

impl Hilbert {
    pub(super) fn build(entries: &[(u32, Bounds)]) -> Self {
        let mut tree = Tree::default();
        if entries.is_empty() {
            return Self(tree);
        }
        let whole = extent(entries);
        let (width, height) = (
            (whole[2] - whole[0]).max(f64::MIN_POSITIVE),
            (whole[3] - whole[1]).max(f64::MIN_POSITIVE),
        );
        let scale = f64::from(u16::MAX);
        let mut sorted: Vec<(u32, (u32, Bounds))> = entries
            .iter()
            .map(|&(f, b)| {
                let x = (((b[0] + b[2]) / 2.0 - whole[0]) / width * scale) as u32;
                let y = (((b[1] + b[3]) / 2.0 - whole[1]) / height * scale) as u32;
                (hilbert_index(x, y), (f, b))
            })
            .collect();
        sorted.sort_by_key(|(h, (f, _))| (*h, *f));
        let mut level: Vec<u32> = Vec::new();
        for leaf in sorted.chunks(NODE) {
            let items: Vec<(u32, Bounds)> = leaf.iter().map(|(_, e)| *e).collect();
            tree.nodes.push(Node {
                bounds: extent(&items),
                children: Vec::new(),
                items,
            });
            level.push((tree.nodes.len() - 1) as u32);
        }
        while level.len() > 1 {
            let mut next = Vec::new();
            for group in level.chunks(NODE) {
                let bounds = group.iter().fold(
                    [
                        f64::INFINITY,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        f64::NEG_INFINITY,
                    ],
                    |a, &c| {
                        let b = tree.nodes[c as usize].bounds;
                        [
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[2].max(b[2]),
                            a[3].max(b[3]),
                        ]
                    },
                );
                tree.nodes.push(Node {
                    bounds,
                    children: group.to_vec(),
                    items: Vec::new(),
                });
                next.push((tree.nodes.len() - 1) as u32);
            }
            level = next;
        }
        Self(tree)
    }

    pub(super) fn intersecting(&self, q: Bounds) -> Vec<u32> {
        self.0.intersecting(q)
    }

    pub(super) fn by_distance(&self, point: [f64; 2]) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.0.by_distance(point)
    }
}

/// Position of `(x, y)` (16 bits each) along the Hilbert curve.
fn hilbert_index(mut x: u32, mut y: u32) -> u32 {
    let mut d = 0u32;
    let mut s = 1u32 << 15;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant so the curve stays continuous.
        if ry == 0 {
            if rx == 1 {
                x = 0xffff - x;
                y = 0xffff - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hilbert_curve_visits_neighbours_in_turn() {
        // The corner 4×4 block is the curve's first 16 steps, each to a
        // neighbouring cell.
        let mut cells: Vec<(u32, (i64, i64))> = (0..4)
            .flat_map(|x| (0..4).map(move |y| (hilbert_index(x, y), (i64::from(x), i64::from(y)))))
            .collect();
        cells.sort_unstable();
        assert_eq!(
            cells.iter().map(|c| c.0).collect::<Vec<_>>(),
            (0..16).collect::<Vec<_>>()
        );
        for pair in cells.windows(2) {
            let ((a, b), (c, d)) = (pair[0].1, pair[1].1);
            assert_eq!((a - c).abs() + (b - d).abs(), 1, "{pair:?}");
        }
    }
}
