//! A KLL quantile sketch (Karnin, Lang & Liberty 2016): `approx_quantile`
//! in memory that does not grow with the input. Level `h` holds items
//! standing for 2^h inputs each; a full level is sorted and every other
//! item promoted (a coin picks which half), so the rank of the answer to `q` is
//! within about 1.7 % of `q·n` at k = 200 (the DataSketches figure for
//! 99 % confidence; the tests check 2 %).

/// Items kept at the top level; the rank error falls as 1/k.
const K: usize = 200;

/// A KLL sketch of f64 values.
#[derive(Clone, Debug, Default)]
pub struct Kll {
    levels: Vec<Vec<f64>>,
    /// Picks which half of a compacted level is promoted: pseudo-random
    /// (the error analysis needs a fair coin; alternating biases ranks),
    /// from a fixed seed so answers repeat.
    coin: u64,
}

/// The rank error the sketch is tested to.
pub const KLL_RANK_ERROR: f64 = 0.02;

impl Kll {
    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    fn capacity(&self, level: usize) -> usize {
        let depth = self.levels.len().saturating_sub(level + 1) as i32;
        ((K as f64) * (2.0f64 / 3.0).powi(depth)).ceil().max(2.0) as usize
    }

    /// Counts `x` (NaN is ignored).
    pub fn insert(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(x);
        let mut level = 0;
        while level < self.levels.len() {
            if self.levels[level].len() >= self.capacity(level) {
                self.compact(level);
            }
            level += 1;
        }
    }

    fn compact(&mut self, level: usize) {
        if level + 1 == self.levels.len() {
            self.levels.push(Vec::new());
        }
        let mut items = std::mem::take(&mut self.levels[level]);
        items.sort_by(f64::total_cmp);
        // An odd item out stays where it is.
        if !items.len().is_multiple_of(2)
            && let Some(last) = items.pop()
        {
            self.levels[level].push(last);
        }
        // xorshift64*, seeded on first use.
        if self.coin == 0 {
            self.coin = 0x9e37_79b9_7f4a_7c15;
        }
        self.coin ^= self.coin >> 12;
        self.coin ^= self.coin << 25;
        self.coin ^= self.coin >> 27;
        let start = (self.coin.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 63) as usize;
        let promoted: Vec<f64> = items.into_iter().skip(start).step_by(2).collect();
        self.levels[level + 1].extend(promoted);
    }

    /// The item whose weighted rank first reaches `q` of the total, or
    /// `None` when nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let mut weighted: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, items)| items.iter().map(move |&x| (x, 1u64 << h)))
            .collect();
        if weighted.is_empty() {
            return None;
        }
        weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = weighted.iter().map(|w| w.1).sum();
        let target = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (x, w) in &weighted {
            seen += w;
            if seen as f64 >= target {
                return Some(*x);
            }
        }
        weighted.last().map(|w| w.0)
    }

    /// Items held (memory), for tests.
    pub fn retained(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_within_the_bound_in_bounded_memory() {
        let n = 200_000u64;
        let mut sketch = Kll::new();
        // A shuffled permutation of 0..n (multiplicative hashing).
        for i in 0..n {
            sketch.insert(((i * 2_654_435_761) % n) as f64);
        }
        assert!(
            sketch.retained() < 2_000,
            "{} items kept",
            sketch.retained()
        );
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
            let got = sketch.quantile(q).unwrap_or(f64::NAN);
            // The value is its own rank in a permutation of 0..n.
            let error = (got / n as f64 - q).abs();
            assert!(
                error <= KLL_RANK_ERROR,
                "q={q}: rank {got} is {error:.4} off"
            );
        }
        assert_eq!(Kll::new().quantile(0.5), None);
        let mut one = Kll::new();
        one.insert(3.0);
        assert_eq!(one.quantile(0.9), Some(3.0));
    }
}
