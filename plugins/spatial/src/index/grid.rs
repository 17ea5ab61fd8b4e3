//! A uniform grid: square cells sized for about four boxes each, every box
//! listed in each cell it meets (boxes spanning very many cells are kept
//! aside and always tried). Nearest-neighbour search walks rings of cells
//! outwards from the query point.

use std::collections::{BinaryHeap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Bounds, Nearer, box_distance, extent, meets};

/// Cells a box may be listed in before it is kept aside.
const MAX_SPAN: usize = 256;
/// Most cells a grid has.
const MAX_CELLS: usize = 1 << 22;

/// A uniform grid index.
#[derive(Serialize, Deserialize)]
pub struct Grid {
    origin: [f64; 2],
    cell: f64,
    columns: usize,
    rows: usize,
    /// Cell `c` lists `slots[starts[c]..starts[c + 1]]` (entry positions).
    starts: Vec<u32>,
    slots: Vec<u32>,
    /// Entry positions of boxes kept aside.
    wide: Vec<u32>,
    entries: Vec<(u32, Bounds)>,
}

impl Grid {
    pub(super) fn build(entries: &[(u32, Bounds)]) -> Self {
        let whole = extent(entries);
        let (width, height) = if entries.is_empty() {
            (1.0, 1.0)
        } else {
            (
                (whole[2] - whole[0]).max(1e-12),
                (whole[3] - whole[1]).max(1e-12),
            )
        };
        let target = (entries.len() / 4).clamp(1, MAX_CELLS) as f64;
        let mut cell = (width * height / target)
            .sqrt()
            .max(width.max(height) / 4096.0);
        if !(cell.is_finite() && cell > 0.0) {
            cell = 1.0;
        }
        let columns = ((width / cell).ceil() as usize).max(1);
        let rows = ((height / cell).ceil() as usize).max(1);
        let origin = if entries.is_empty() {
            [0.0, 0.0]
        } else {
            [whole[0], whole[1]]
        };
        let mut grid = Self {
            origin,
            cell,
            columns,
            rows,
            starts: Vec::new(),
            slots: Vec::new(),
            wide: Vec::new(),
            entries: entries.to_vec(),
        };
        // Two passes (count, then fill) so the lists are one flat array.
        let mut counts = vec![0u32; columns * rows];
        let mut spans = Vec::with_capacity(entries.len());
        for (position, (_, b)) in entries.iter().enumerate() {
            let span = grid.cells_of(b);
            let cells = (span.2 - span.0 + 1) * (span.3 - span.1 + 1);
            if cells > MAX_SPAN {
                grid.wide.push(position as u32);
                spans.push(None);
                continue;
            }
            for row in span.1..=span.3 {
                for column in span.0..=span.2 {
                    counts[row * columns + column] += 1;
                }
            }
            spans.push(Some(span));
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u32;
        for count in &counts {
            starts.push(total);
            total += count;
        }
        starts.push(total);
        let mut fill = starts.clone();
        let mut slots = vec![0u32; total as usize];
        for (position, span) in spans.into_iter().enumerate() {
            let Some(span) = span else { continue };
            for row in span.1..=span.3 {
                for column in span.0..=span.2 {
                    let c = row * columns + column;
                    slots[fill[c] as usize] = position as u32;
                    fill[c] += 1;
                }
            }
        }
        grid.starts = starts;
        grid.slots = slots;
        grid
    }

    /// Column and row of a coordinate, clamped to the grid.
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let column = ((x - self.origin[0]) / self.cell)
            .floor()
            .clamp(0.0, (self.columns - 1) as f64);
        let row = ((y - self.origin[1]) / self.cell)
            .floor()
            .clamp(0.0, (self.rows - 1) as f64);
        (column as usize, row as usize)
    }

    /// `(first column, first row, last column, last row)` a box meets.
    fn cells_of(&self, b: &Bounds) -> (usize, usize, usize, usize) {
        let (c0, r0) = self.cell_of(b[0], b[1]);
        let (c1, r1) = self.cell_of(b[2], b[3]);
        (c0, r0, c1, r1)
    }

    fn cell(&self, column: usize, row: usize) -> &[u32] {
        let c = row * self.columns + column;
        &self.slots[self.starts[c] as usize..self.starts[c + 1] as usize]
    }

    pub(super) fn intersecting(&self, q: Bounds) -> Vec<u32> {
        let mut positions: Vec<u32> = self.wide.clone();
        if !self.entries.is_empty() {
            let (c0, r0, c1, r1) = self.cells_of(&q);
            for row in r0..=r1 {
                for column in c0..=c1 {
                    positions.extend_from_slice(self.cell(column, row));
                }
            }
        }
        positions.sort_unstable();
        positions.dedup();
        positions
            .into_iter()
            .map(|p| &self.entries[p as usize])
            .filter(|(_, b)| meets(b, &q))
            .map(|(f, _)| *f)
            .collect()
    }

    pub(super) fn by_distance(&self, point: [f64; 2]) -> Rings<'_> {
        // Unclamped: a point outside the grid starts from its own cell.
        let column = ((point[0] - self.origin[0]) / self.cell).floor() as i64;
        let row = ((point[1] - self.origin[1]) / self.cell).floor() as i64;
        let mut rings = Rings {
            grid: self,
            point,
            centre: (column, row),
            ring: 0,
            heap: BinaryHeap::new(),
            seen: HashSet::new(),
        };
        for &p in &self.wide {
            rings.offer(p);
        }
        rings
    }
}

/// Entries in nondecreasing order of box distance: a ring of cells at a
/// time, releasing those no farther ring can beat.
pub(super) struct Rings<'a> {
    grid: &'a Grid,
    point: [f64; 2],
    centre: (i64, i64),
    ring: i64,
    heap: BinaryHeap<(Nearer, u32)>,
    seen: HashSet<u32>,
}

impl Rings<'_> {
    fn offer(&mut self, position: u32) {
        if self.seen.insert(position) {
            let (_, b) = &self.grid.entries[position as usize];
            self.heap
                .push((Nearer(box_distance(self.point, b)), position));
        }
    }

    /// Whether any cell of ring `ring` or beyond lies in the grid.
    fn more(&self) -> bool {
        let (c, r) = self.centre;
        let (columns, rows) = (self.grid.columns as i64, self.grid.rows as i64);
        // The farthest cell, in rings (Chebyshev distance).
        let reach = c
            .abs()
            .max((columns - 1 - c).abs())
            .max(r.abs())
            .max((rows - 1 - r).abs());
        !self.grid.entries.is_empty() && self.ring <= reach
    }

    fn visit_ring(&mut self) {
        let (c, r) = self.centre;
        let k = self.ring;
        let (columns, rows) = (self.grid.columns as i64, self.grid.rows as i64);
        let mut cells = Vec::new();
        for dy in -k..=k {
            for dx in -k..=k {
                if dx.abs() != k && dy.abs() != k {
                    continue;
                }
                let (x, y) = (c + dx, r + dy);
                if (0..columns).contains(&x) && (0..rows).contains(&y) {
                    cells.push((x as usize, y as usize));
                }
            }
        }
        let grid = self.grid;
        for (x, y) in cells {
            for &p in grid.cell(x, y) {
                self.offer(p);
            }
        }
        self.ring += 1;
    }
}

impl Iterator for Rings<'_> {
    type Item = (u32, f64);

    fn next(&mut self) -> Option<(u32, f64)> {
        loop {
            // Cells of ring `ring` and beyond are at least (ring - 1) cells
            // from the point.
            let bound = (self.ring - 1).max(0) as f64 * self.grid.cell;
            let exhausted = !self.more();
            if let Some(&(Nearer(d), p)) = self.heap.peek()
                && (d <= bound || exhausted)
            {
                self.heap.pop();
                return Some((self.grid.entries[p as usize].0, d));
            }
            if exhausted {
                return None;
            }
            self.visit_ring();
        }
    }
}
