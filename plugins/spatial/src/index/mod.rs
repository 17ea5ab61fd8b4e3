//! A layer's spatial index over its features' bounding boxes, built once
//! when the layer is stored and serialized beside it (postcard).
//!
//! Four kinds, chosen per layer: an R-tree (`rstar`, bulk-loaded with STR
//! packing; the default), a region quadtree, a uniform grid, and a packed
//! R-tree in Hilbert-curve order. Each only proposes candidates — callers
//! test every one exactly and say how many they tested (`explain`).
//! Nearest-neighbour search takes candidates in order of their box's
//! distance, a lower bound of the feature's, and stops once no box can
//! beat the k-th exact distance.

use std::collections::BinaryHeap;

use geo::{Geometry, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::{Deserialize, Serialize};

use crate::SpatialError;

mod grid;
mod tree;

pub use grid::Grid;
pub use tree::{Hilbert, Quadtree};

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// `[min x, min y, max x, max y]`.
pub type Bounds = [f64; 4];

/// Which structure indexes a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// `rstar`'s R-tree.
    RTree,
    /// A region quadtree.
    Quadtree,
    /// A uniform grid.
    Grid,
    /// A packed R-tree in Hilbert order.
    Hilbert,
}

impl IndexKind {
    /// `rtree`, `quadtree`, `grid` or `hilbert`.
    pub fn parse(name: &str) -> Result<Self, SpatialError> {
        match name {
            "rtree" | "r-tree" => Ok(Self::RTree),
            "quadtree" => Ok(Self::Quadtree),
            "grid" => Ok(Self::Grid),
            "hilbert" => Ok(Self::Hilbert),
            other => Err(SpatialError::Invalid(format!(
                "unknown index '{other}'; use rtree (the default), quadtree, grid or hilbert"
            ))),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::RTree => "rtree",
            Self::Quadtree => "quadtree",
            Self::Grid => "grid",
            Self::Hilbert => "hilbert",
        }
    }
}

/// The index of one layer.
#[derive(Serialize, Deserialize)]
pub enum LayerIndex {
    /// `rstar`'s R-tree.
    RTree(RTree<Entry>),
    /// A region quadtree.
    Quadtree(Quadtree),
    /// A uniform grid.
    Grid(Grid),
    /// A packed Hilbert R-tree.
    Hilbert(Hilbert),
}

/// What an index search did, for `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Searched {
    /// Features whose geometry was tested exactly.
    pub candidates: usize,
}

impl LayerIndex {
    /// An index of `kind` over the boxes (`None`: an empty geometry, never
    /// found); feature `i` is `boxes[i]`.
    pub fn build(kind: IndexKind, boxes: &[Option<Rect>]) -> Self {
        let entries: Vec<(u32, Bounds)> = boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.map(|b| (i as u32, [b.min().x, b.min().y, b.max().x, b.max().y]))
            })
            .collect();
        match kind {
            IndexKind::RTree => Self::RTree(RTree::bulk_load(
                entries
                    .into_iter()
                    .map(|(i, b)| {
                        GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), i)
                    })
                    .collect(),
            )),
            IndexKind::Quadtree => Self::Quadtree(Quadtree::build(&entries)),
            IndexKind::Grid => Self::Grid(Grid::build(&entries)),
            IndexKind::Hilbert => Self::Hilbert(Hilbert::build(&entries)),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> IndexKind {
        match self {
            Self::RTree(_) => IndexKind::RTree,
            Self::Quadtree(_) => IndexKind::Quadtree,
            Self::Grid(_) => IndexKind::Grid,
            Self::Hilbert(_) => IndexKind::Hilbert,
        }
    }

    /// The index as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SpatialError> {
        postcard::to_allocvec(self)
            .map_err(|e| SpatialError::Storage(format!("cannot encode the index: {e}")))
    }

    /// The index from [`LayerIndex::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SpatialError> {
        postcard::from_bytes(bytes).map_err(|e| {
            SpatialError::Storage(format!(
                "the layer's index is unreadable ({e}); store the layer again"
            ))
        })
    }

    /// Features whose box meets `area`, each once, in no particular order.
    pub fn intersecting(&self, area: Rect) -> Vec<u32> {
        let q = [area.min().x, area.min().y, area.max().x, area.max().y];
        match self {
            Self::RTree(tree) => tree
                .locate_in_envelope_intersecting(&AABB::from_corners([q[0], q[1]], [q[2], q[3]]))
                .map(|e| e.data)
                .collect(),
            Self::Quadtree(t) => t.intersecting(q),
            Self::Grid(g) => g.intersecting(q),
            Self::Hilbert(h) => h.intersecting(q),
        }
    }

    /// The `k` features nearest to `point` by `exact` distance, nearest
    /// first (ties by feature number), and how many were tested.
    pub fn nearest(
        &self,
        point: [f64; 2],
        k: usize,
        exact: impl FnMut(u32) -> f64,
    ) -> (Vec<(u32, f64)>, Searched) {
        match self {
            Self::RTree(tree) => k_best(
                tree.nearest_neighbor_iter_with_distance_2(&point)
                    .map(|(e, d2)| (e.data, d2.sqrt())),
                k,
                exact,
            ),
            Self::Quadtree(t) => k_best(t.by_distance(point), k, exact),
            Self::Grid(g) => k_best(g.by_distance(point), k, exact),
            Self::Hilbert(h) => k_best(h.by_distance(point), k, exact),
        }
    }
}

/// The `k` best of candidates that arrive in nondecreasing order of a lower
/// bound of their exact distance.
fn k_best(
    candidates: impl Iterator<Item = (u32, f64)>,
    k: usize,
    mut exact: impl FnMut(u32) -> f64,
) -> (Vec<(u32, f64)>, Searched) {
    // Max-heap of the best k so far: its top is the k-th best.
    let mut best: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
    let mut searched = Searched::default();
    if k == 0 {
        return (Vec::new(), searched);
    }
    for (feature, lower_bound) in candidates {
        if best.len() == k
            && let Some(worst) = best.peek()
            && lower_bound > worst.distance
        {
            break;
        }
        searched.candidates += 1;
        best.push(Ranked {
            distance: exact(feature),
            feature,
        });
        if best.len() > k {
            best.pop();
        }
    }
    let mut out: Vec<(u32, f64)> = best.into_iter().map(|r| (r.feature, r.distance)).collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    (out, searched)
}

/// The bounding box of a geometry (`None` when it has no coordinates).
pub fn bounds(geometry: &Geometry) -> Option<Rect> {
    use geo::BoundingRect;
    geometry.bounding_rect()
}

/// Distance from a point to a box (0 inside it).
fn box_distance(point: [f64; 2], b: &Bounds) -> f64 {
    let dx = (b[0] - point[0]).max(point[0] - b[2]).max(0.0);
    let dy = (b[1] - point[1]).max(point[1] - b[3]).max(0.0);
    (dx * dx + dy * dy).sqrt()
}

/// The box holding every entry (inverted when there are none).
pub(super) fn extent(entries: &[(u32, Bounds)]) -> Bounds {
    entries.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |a, (_, b)| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        },
    )
}

fn meets(a: &Bounds, b: &Bounds) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

/// A cost with a total order, smallest first in a `BinaryHeap`.
#[derive(Clone, Copy, PartialEq)]
struct Nearer(f64);

impl Eq for Nearer {}

impl PartialOrd for Nearer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Nearer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0)
    }
}

#[derive(PartialEq)]
struct Ranked {
    distance: f64,
    feature: u32,
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.feature.cmp(&other.feature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Point, coord};

    /// Every kind finds the same boxes and neighbours as a scan.
    #[test]
    fn every_kind_agrees_with_a_scan_and_survives_bytes() {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 100.0
        };
        let points: Vec<Point> = (0..2000).map(|_| Point::new(next(), next())).collect();
        // A few wide boxes too, which no single cell or quadrant holds.
        let mut boxes: Vec<Option<Rect>> = points
            .iter()
            .map(|p| bounds(&Geometry::Point(*p)))
            .collect();
        boxes.push(Some(Rect::new(
            coord! {x: 10.0, y: 10.0},
            coord! {x: 90.0, y: 20.0},
        )));
        boxes.push(None);
        let area = Rect::new(coord! {x: 20.0, y: 15.0}, coord! {x: 35.0, y: 40.0});
        let mut expected: Vec<u32> = (0..boxes.len() as u32)
            .filter(|&i| {
                boxes[i as usize].is_some_and(|b| {
                    let b = [b.min().x, b.min().y, b.max().x, b.max().y];
                    meets(&b, &[20.0, 15.0, 35.0, 40.0])
                })
            })
            .collect();
        expected.sort_unstable();
        let distance = |i: u32, q: [f64; 2]| {
            boxes[i as usize].map_or(f64::INFINITY, |b| {
                box_distance(q, &[b.min().x, b.min().y, b.max().x, b.max().y])
            })
        };
        for kind in [
            IndexKind::RTree,
            IndexKind::Quadtree,
            IndexKind::Grid,
            IndexKind::Hilbert,
        ] {
            let index = LayerIndex::from_bytes(
                &LayerIndex::build(kind, &boxes)
                    .to_bytes()
                    .expect("valid test input"),
            )
            .expect("valid test input");
            assert_eq!(index.kind(), kind);
            let mut found = index.intersecting(area);
            found.sort_unstable();
            assert_eq!(found, expected, "{kind:?}");
            for q in [[50.0, 50.0], [0.0, 0.0], [150.0, -20.0]] {
                let (near, searched) = index.nearest(q, 5, |i| distance(i, q));
                let mut scan: Vec<(u32, f64)> = (0..boxes.len() as u32 - 1)
                    .map(|i| (i, distance(i, q)))
                    .collect();
                scan.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                assert_eq!(near, scan[..5].to_vec(), "{kind:?} at {q:?}");
                assert!(
                    searched.candidates < 400,
                    "{kind:?} tested {}",
                    searched.candidates
                );
            }
        }
    }
}
