//! A layer's spatial index: an R-tree (`rstar`, bulk-loaded, STR packing)
//! over the features' bounding boxes, serialized to bytes so it is built
//! once when the layer is stored and read back by every query.
//!
//! The index only proposes candidates; callers test each one exactly and
//! say how many they tested (`explain`). Nearest-neighbour search walks
//! boxes in order of their distance, which is a lower bound of the
//! feature's, and stops once no box can beat the k-th exact distance.

use std::collections::BinaryHeap;

use geo::{Geometry, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::{Deserialize, Serialize};

use crate::SpatialError;

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The index of one layer.
#[derive(Serialize, Deserialize)]
pub struct LayerIndex {
    tree: RTree<Entry>,
}

/// What an index search did, for `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Searched {
    /// Features whose geometry was tested exactly.
    pub candidates: usize,
}

impl LayerIndex {
    /// Bulk-loads the boxes (`None`: an empty geometry, never found);
    /// feature `i` is `boxes[i]`.
    pub fn build(boxes: &[Option<Rect>]) -> Self {
        let entries = boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.map(|b| {
                    let (min, max) = (b.min(), b.max());
                    GeomWithData::new(
                        Rectangle::from_corners([min.x, min.y], [max.x, max.y]),
                        i as u32,
                    )
                })
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
        }
    }

    /// Features indexed.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// Whether it holds no feature.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index as bytes (postcard).
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

    /// Features whose box meets `area`, in no particular order.
    pub fn intersecting(&self, area: Rect) -> Vec<u32> {
        let envelope =
            AABB::from_corners([area.min().x, area.min().y], [area.max().x, area.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|e| e.data)
            .collect()
    }

    /// The `k` features nearest to `point` by `exact` distance, nearest
    /// first (ties by feature number), and how many were tested.
    pub fn nearest(
        &self,
        point: [f64; 2],
        k: usize,
        mut exact: impl FnMut(u32) -> f64,
    ) -> (Vec<(u32, f64)>, Searched) {
        // Max-heap of the best k so far: its top is the k-th best.
        let mut best: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
        let mut searched = Searched::default();
        if k == 0 {
            return (Vec::new(), searched);
        }
        for (entry, box_distance_2) in self.tree.nearest_neighbor_iter_with_distance_2(&point) {
            if best.len() == k
                && let Some(worst) = best.peek()
                && box_distance_2.sqrt() > worst.distance
            {
                break;
            }
            searched.candidates += 1;
            let distance = exact(entry.data);
            best.push(Ranked {
                distance,
                feature: entry.data,
            });
            if best.len() > k {
                best.pop();
            }
        }
        let mut out: Vec<(u32, f64)> = best.into_iter().map(|r| (r.feature, r.distance)).collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        (out, searched)
    }
}

/// The bounding box of a geometry (`None` when it has no coordinates).
pub fn bounds(geometry: &Geometry) -> Option<Rect> {
    use geo::BoundingRect;
    geometry.bounding_rect()
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

    #[test]
    fn finds_boxes_and_neighbours_and_survives_bytes() {
        let points: Vec<Point> = (0..100).map(|i| Point::new(f64::from(i), 0.0)).collect();
        let boxes: Vec<_> = points
            .iter()
            .map(|p| bounds(&Geometry::Point(*p)))
            .collect();
        let index = LayerIndex::from_bytes(&LayerIndex::build(&boxes).to_bytes().unwrap()).unwrap();
        assert_eq!(index.len(), 100);
        let mut hits = index.intersecting(Rect::new(
            coord! {x: 9.5, y: -1.0},
            coord! {x: 12.0, y: 1.0},
        ));
        hits.sort_unstable();
        assert_eq!(hits, vec![10, 11, 12]);
        let (near, searched) = index.nearest([41.2, 0.0], 3, |i| (f64::from(i) - 41.2).abs());
        assert_eq!(
            near.iter().map(|n| n.0).collect::<Vec<_>>(),
            vec![41, 42, 40]
        );
        assert!(searched.candidates < 10, "{searched:?}");
    }
}
