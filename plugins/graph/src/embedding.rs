//! Node embeddings, node2vec-style (Grover & Leskovec 2016):
//!
//! 1. **Walks.** From every node, `walks_per_node` second-order random
//!    walks of `walk_length` steps. Having stepped t → v, the next node x
//!    is drawn with weight `w(v,x)/p` if x = t (return), `w(v,x)` if x is
//!    also a neighbour of t, and `w(v,x)/q` otherwise (explore). p = q = 1
//!    is DeepWalk.
//! 2. **Skip-gram with negative sampling** (word2vec) over the walks:
//!    nodes within `window` steps of each other are pulled together,
//!    `negative` nodes drawn by frequency^0.75 are pushed apart, with a
//!    learning rate decaying linearly from 0.025.
//!
//! Everything is seeded: the same input and seed give the same vectors.

use std::ops::ControlFlow;

use crate::graph::{Graph, NodeIndex};

/// Parameters; defaults follow the node2vec paper's small settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct EmbeddingConfig {
    /// Vector length.
    pub dimensions: usize,
    /// Steps per walk.
    pub walk_length: usize,
    /// Walks started from each node.
    pub walks_per_node: usize,
    /// Skip-gram context window.
    pub window: usize,
    /// Return parameter.
    pub p: f64,
    /// In-out parameter.
    pub q: f64,
    /// Negative samples per positive pair.
    pub negative: usize,
    /// Passes over the walks.
    pub epochs: usize,
    /// Random seed.
    pub seed: u64,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            dimensions: 32,
            walk_length: 40,
            walks_per_node: 10,
            window: 5,
            p: 1.0,
            q: 1.0,
            negative: 5,
            epochs: 1,
            seed: 42,
        }
    }
}

/// xorshift64*: small, fast, seedable; quality is ample for sampling.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn walks(graph: &Graph, config: &EmbeddingConfig, rng: &mut Rng) -> Vec<Vec<NodeIndex>> {
    let adjacency = graph.outgoing();
    let mut walks = Vec::with_capacity(graph.node_count() * config.walks_per_node);
    let mut weights = Vec::new();
    for _ in 0..config.walks_per_node {
        for start in graph.nodes() {
            let mut walk = vec![start];
            while walk.len() < config.walk_length {
                let v = walk[walk.len() - 1];
                let neighbours = adjacency.targets(v);
                if neighbours.is_empty() {
                    break;
                }
                weights.clear();
                let previous = (walk.len() >= 2).then(|| walk[walk.len() - 2]);
                for (x, w) in adjacency.neighbours(v) {
                    let bias = match previous {
                        None => 1.0,
                        Some(t) if x == t => 1.0 / config.p,
                        Some(t) if adjacency.targets(t).binary_search(&x).is_ok() => 1.0,
                        Some(_) => 1.0 / config.q,
                    };
                    weights.push(w.max(0.0) * bias);
                }
                let total: f64 = weights.iter().sum();
                let next = if total > 0.0 {
                    let mut r = rng.unit() * total;
                    let mut chosen = neighbours.len() - 1;
                    for (i, w) in weights.iter().enumerate() {
                        if r < *w {
                            chosen = i;
                            break;
                        }
                        r -= w;
                    }
                    neighbours[chosen]
                } else {
                    neighbours[rng.below(neighbours.len())]
                };
                walk.push(next);
            }
            walks.push(walk);
        }
    }
    walks
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Trains embeddings; one vector per node. `on_epoch(epoch)` may stop the
/// run.
pub fn embed(
    graph: &Graph,
    config: &EmbeddingConfig,
    mut on_epoch: impl FnMut(usize) -> ControlFlow<()>,
) -> Option<Vec<Vec<f32>>> {
    let n = graph.node_count();
    let d = config.dimensions.max(1);
    let mut rng = Rng::new(config.seed);
    let corpus = walks(graph, config, &mut rng);

    // Negative-sampling table: nodes in proportion to frequency^0.75.
    let mut frequency = vec![0f64; n];
    for walk in &corpus {
        for &v in walk {
            frequency[v as usize] += 1.0;
        }
    }
    let table_size = (n * 100).clamp(1, 1 << 22);
    let total: f64 = frequency.iter().map(|f| f.powf(0.75)).sum();
    let mut table = Vec::with_capacity(table_size);
    if total > 0.0 {
        for (v, f) in frequency.iter().enumerate() {
            let share = (f.powf(0.75) / total * table_size as f64).round() as usize;
            table.extend(std::iter::repeat_n(v as NodeIndex, share));
        }
    }
    if table.is_empty() {
        table.extend(graph.nodes());
    }

    let mut vectors: Vec<f32> = (0..n * d)
        .map(|_| ((rng.unit() - 0.5) / d as f64) as f32)
        .collect();
    let mut context = vec![0f32; n * d];
    let mut gradient = vec![0f32; d];
    let pairs_per_epoch: usize = corpus.iter().map(Vec::len).sum::<usize>().max(1);
    let total_steps = (pairs_per_epoch * config.epochs.max(1)) as f64;
    let mut step = 0usize;
    for epoch in 0..config.epochs.max(1) {
        for walk in &corpus {
            for (i, &centre) in walk.iter().enumerate() {
                step += 1;
                let rate = (0.025 * (1.0 - step as f64 / total_steps)).max(0.0001) as f32;
                let lo = i.saturating_sub(config.window);
                let hi = (i + config.window + 1).min(walk.len());
                for (j, &near) in walk.iter().enumerate().take(hi).skip(lo) {
                    if j == i {
                        continue;
                    }
                    let input = near as usize * d;
                    gradient.fill(0.0);
                    for k in 0..=config.negative {
                        let (target, label) = if k == 0 {
                            (centre, 1.0)
                        } else {
                            let t = table[rng.below(table.len())];
                            if t == centre {
                                continue;
                            }
                            (t, 0.0)
                        };
                        let out = target as usize * d;
                        let dot: f32 = (0..d).map(|x| vectors[input + x] * context[out + x]).sum();
                        let g = (label - sigmoid(dot)) * rate;
                        for x in 0..d {
                            gradient[x] += g * context[out + x];
                            context[out + x] += g * vectors[input + x];
                        }
                    }
                    for x in 0..d {
                        vectors[input + x] += gradient[x];
                    }
                }
            }
        }
        if on_epoch(epoch + 1).is_break() {
            return None;
        }
    }
    Some(vectors.chunks(d).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    #[test]
    fn nodes_of_one_clique_end_up_closer_than_nodes_of_two() {
        let names: Vec<String> = (0..16).map(|i| i.to_string()).collect();
        let mut edges = Vec::new();
        for group in [0..8, 8..16] {
            for a in group.clone() {
                for b in group.clone().filter(|&b| b > a) {
                    edges.push((names[a].as_str(), names[b].as_str(), 1.0));
                }
            }
        }
        edges.push(("0", "8", 1.0));
        let g = build(&edges, false);
        let vectors = embed(&g, &EmbeddingConfig::default(), |_| {
            ControlFlow::Continue(())
        })
        .expect("runs");
        let (mut within, mut across) = (Vec::new(), Vec::new());
        for a in 0..16 {
            for b in (a + 1)..16 {
                let s = cosine(&vectors[a], &vectors[b]);
                if (a < 8) == (b < 8) {
                    within.push(s)
                } else {
                    across.push(s)
                }
            }
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(
            mean(&within) > mean(&across) + 0.3,
            "within {} across {}",
            mean(&within),
            mean(&across)
        );
        let again = embed(&g, &EmbeddingConfig::default(), |_| {
            ControlFlow::Continue(())
        })
        .expect("runs");
        assert_eq!(vectors, again, "seeded: the same vectors every time");
    }
}
