//! A small raster: a grid of numbers with its place in the world (the
//! top-left corner and a square cell size; rows run south), sampled at
//! points and summarised over polygons.
//!
//! A cell belongs to a zone when its centre lies inside the polygon
//! (strictly: a centre on the boundary is out), as `rasterstats` does by
//! default. No GeoTIFF: a grid is uploaded as JSON or CSV.

use geo::{Contains, Coord, Geometry, Point, Rect};
use serde::{Deserialize, Serialize};

use crate::SpatialError;

/// Largest grid taken, in cells.
pub const MAX_CELLS: usize = 16 << 20;

/// A grid of values.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Grid {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `[x, y]` of the top-left corner.
    pub origin: [f64; 2],
    /// Side of a cell, in the CRS's units.
    pub cell_size: f64,
    /// Row-major values, `height × width`; `null` in JSON is no data.
    pub values: Vec<Option<f64>>,
}

/// Statistics of the cells in one zone.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ZoneStats {
    /// Cells with data.
    pub count: usize,
    /// Their sum.
    pub sum: f64,
    /// Their mean (`None` when empty).
    pub mean: Option<f64>,
    /// Smallest.
    pub min: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Grid {
    /// A grid from rows of values (`None`: no data), checked.
    pub fn new(
        rows: Vec<Vec<Option<f64>>>,
        origin: [f64; 2],
        cell_size: f64,
    ) -> Result<Self, SpatialError> {
        let height = rows.len();
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 {
            return Err(SpatialError::Invalid(
                "a grid needs at least one row and one column".into(),
            ));
        }
        if width.saturating_mul(height) > MAX_CELLS {
            return Err(SpatialError::TooLarge(format!(
                "a grid holds at most {MAX_CELLS} cells, this one {width}×{height}; split it into tiles"
            )));
        }
        if let Some(r) = rows.iter().position(|r| r.len() != width) {
            return Err(SpatialError::Invalid(format!(
                "row {r} has {} values, row 0 has {width}; every row needs the same number",
                rows[r].len()
            )));
        }
        if !(cell_size > 0.0 && cell_size.is_finite() && origin.iter().all(|v| v.is_finite())) {
            return Err(SpatialError::Invalid(
                "cell_size must be a positive number and origin two finite numbers".into(),
            ));
        }
        Ok(Self {
            width,
            height,
            origin,
            cell_size,
            values: rows.into_iter().flatten().collect(),
        })
    }

    /// The grid's extent.
    pub fn bounds(&self) -> Rect {
        Rect::new(
            Coord {
                x: self.origin[0],
                y: self.origin[1] - self.height as f64 * self.cell_size,
            },
            Coord {
                x: self.origin[0] + self.width as f64 * self.cell_size,
                y: self.origin[1],
            },
        )
    }

    /// The value of the cell holding `point` (`None` outside the grid or
    /// where there is no data).
    pub fn sample(&self, point: Coord) -> Option<f64> {
        let column = ((point.x - self.origin[0]) / self.cell_size).floor();
        let row = ((self.origin[1] - point.y) / self.cell_size).floor();
        if column < 0.0 || row < 0.0 || column >= self.width as f64 || row >= self.height as f64 {
            return None;
        }
        self.values[row as usize * self.width + column as usize]
    }

    /// Statistics of the cells whose centres lie inside `zone`.
    pub fn zonal_stats(&self, zone: &Geometry) -> ZoneStats {
        use geo::BoundingRect;
        let mut stats = ZoneStats {
            count: 0,
            sum: 0.0,
            mean: None,
            min: None,
            max: None,
        };
        let Some(bounds) = zone.bounding_rect() else {
            return stats;
        };
        // Only the cells under the zone's box are tested.
        let cell = self.cell_size;
        let first_col = (((bounds.min().x - self.origin[0]) / cell).floor().max(0.0)) as usize;
        let last_col =
            (((bounds.max().x - self.origin[0]) / cell).ceil().max(0.0) as usize).min(self.width);
        let first_row = (((self.origin[1] - bounds.max().y) / cell).floor().max(0.0)) as usize;
        let last_row =
            (((self.origin[1] - bounds.min().y) / cell).ceil().max(0.0) as usize).min(self.height);
        for row in first_row..last_row {
            for column in first_col..last_col {
                let centre = Point::new(
                    self.origin[0] + (column as f64 + 0.5) * cell,
                    self.origin[1] - (row as f64 + 0.5) * cell,
                );
                let Some(value) = self.values[row * self.width + column] else {
                    continue;
                };
                if zone.contains(&centre) {
                    stats.count += 1;
                    stats.sum += value;
                    stats.min = Some(stats.min.map_or(value, |m: f64| m.min(value)));
                    stats.max = Some(stats.max.map_or(value, |m: f64| m.max(value)));
                }
            }
        }
        stats.mean = (stats.count > 0).then(|| stats.sum / stats.count as f64);
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wkt::TryFromWkt;

    #[test]
    fn samples_and_zones() {
        let grid = Grid::new(
            vec![vec![Some(1.0), Some(2.0)], vec![Some(3.0), None]],
            [0.0, 2.0],
            1.0,
        )
        .expect("valid test input");
        assert_eq!(grid.sample(Coord { x: 0.5, y: 1.5 }), Some(1.0));
        assert_eq!(grid.sample(Coord { x: 0.5, y: 0.5 }), Some(3.0));
        assert_eq!(grid.sample(Coord { x: 1.5, y: 0.5 }), None);
        assert_eq!(grid.sample(Coord { x: 5.0, y: 0.5 }), None);
        let zone = Geometry::try_from_wkt_str("POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0))")
            .expect("valid test input");
        let stats = grid.zonal_stats(&zone);
        assert_eq!((stats.count, stats.sum, stats.max), (3, 6.0, Some(3.0)));
        assert!(Grid::new(vec![vec![Some(1.0)], vec![]], [0.0, 0.0], 1.0).is_err());
    }
}
