//! PageRank by power iteration over the incoming adjacency: O(V + E) per
//! iteration, no dense matrices.
//!
//! Matches networkx's `pagerank` (uniform teleport, dangling nodes spread
//! uniformly, edge weights normalise out-links, convergence when the L1
//! change is below `node_count × tolerance`), so its results agree with
//! networkx to rounding.

use std::ops::ControlFlow;

use crate::graph::Graph;

/// Parameters, with networkx's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageRankConfig {
    /// Probability of following a link (networkx's `alpha`).
    pub damping: f64,
    /// Per-node tolerance; stops when the L1 change < `n × tolerance`.
    pub tolerance: f64,
    /// Upper bound on iterations.
    pub max_iterations: u32,
}

impl Default for PageRankConfig {
    fn default() -> Self {
        Self {
            damping: 0.85,
            tolerance: 1e-6,
            max_iterations: 100,
        }
    }
}

/// Reported after every iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Iteration {
    /// 1-based iteration number.
    pub iteration: u32,
    /// L1 change of the score vector in this iteration.
    pub delta: f64,
    /// Did this iteration meet the tolerance?
    pub converged: bool,
}

/// Scores (indexed like the graph's nodes) and how the iteration ended.
#[derive(Clone, Debug, PartialEq)]
pub struct PageRank {
    /// One score per node; they sum to 1.
    pub scores: Vec<f64>,
    /// Iterations run.
    pub iterations: u32,
    /// Did it meet the tolerance within `max_iterations`?
    pub converged: bool,
}

/// Runs PageRank. `personalization` (one non-negative weight per node,
/// summing to 1) replaces the uniform teleport and dangling distributions,
/// as networkx's `personalization`. `on_iteration` may stop the run by
/// returning `Break`, in which case `None` is returned.
pub fn pagerank(
    graph: &Graph,
    config: &PageRankConfig,
    personalization: Option<&[f64]>,
    mut on_iteration: impl FnMut(&Iteration) -> ControlFlow<()>,
) -> Option<PageRank> {
    let n = graph.node_count();
    if n == 0 {
        return Some(PageRank {
            scores: Vec::new(),
            iterations: 0,
            converged: true,
        });
    }
    let uniform = 1.0 / n as f64;
    let outgoing = graph.outgoing();
    let incoming = graph.incoming();

    // 1 / total out-weight, or 0 for dangling nodes.
    let inverse_out_weight: Vec<f64> = graph
        .nodes()
        .map(|u| {
            let total: f64 = outgoing.neighbours(u).map(|(_, w)| w).sum();
            if total == 0.0 { 0.0 } else { 1.0 / total }
        })
        .collect();
    let dangling: Vec<u32> = graph
        .nodes()
        .filter(|&u| inverse_out_weight[u as usize] == 0.0)
        .collect();

    let mut scores = vec![uniform; n];
    let mut next = vec![0.0; n];
    let mut share = vec![0.0; n];
    let teleport = (1.0 - config.damping) * uniform;
    for iteration in 1..=config.max_iterations {
        let dangling_mass: f64 = dangling.iter().map(|&u| scores[u as usize]).sum();
        for (s, (&x, &inv)) in share.iter_mut().zip(scores.iter().zip(&inverse_out_weight)) {
            *s = x * inv;
        }
        let base = config.damping * dangling_mass * uniform + teleport;
        for v in graph.nodes() {
            let pulled: f64 = incoming
                .neighbours(v)
                .map(|(u, w)| share[u as usize] * w)
                .sum();
            next[v as usize] = match personalization {
                None => config.damping * pulled + base,
                Some(p) => {
                    let p = p[v as usize];
                    config.damping * (pulled + dangling_mass * p) + (1.0 - config.damping) * p
                }
            };
        }
        let delta: f64 = next.iter().zip(&scores).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut scores, &mut next);
        let converged = delta < n as f64 * config.tolerance;
        let report = Iteration {
            iteration,
            delta,
            converged,
        };
        if on_iteration(&report).is_break() {
            return None;
        }
        if converged {
            return Some(PageRank {
                scores,
                iterations: iteration,
                converged: true,
            });
        }
    }
    Some(PageRank {
        scores,
        iterations: config.max_iterations,
        converged: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::build;

    fn run(graph: &Graph) -> PageRank {
        let config = PageRankConfig {
            tolerance: 1e-12,
            max_iterations: 1000,
            ..PageRankConfig::default()
        };
        pagerank(graph, &config, None, |_| ControlFlow::Continue(())).expect("not cancelled")
    }

    #[test]
    fn a_symmetric_cycle_has_uniform_scores() {
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0), ("c", "a", 1.0)], true);
        let result = run(&g);
        assert!(result.converged);
        for s in result.scores {
            assert!((s - 1.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn dangling_nodes_spread_their_rank_and_scores_sum_to_one() {
        // networkx: nx.pagerank(nx.DiGraph([("a","b"),("b","c")]), tol=1e-12)
        // gives a = 0.18441678192752337, b = 0.3411.., c = 0.4744..
        let g = build(&[("a", "b", 1.0), ("b", "c", 1.0)], true);
        let result = run(&g);
        let total: f64 = result.scores.iter().sum();
        assert!((total - 1.0).abs() < 1e-9);
        let c = result.scores[2];
        let a = result.scores[0];
        assert!(c > result.scores[1] && result.scores[1] > a);
        assert!((a - 0.184_416_781_927_523_37).abs() < 1e-9, "a = {a}");
    }

    #[test]
    fn breaking_from_the_callback_cancels() {
        let g = build(&[("a", "b", 1.0), ("b", "a", 1.0), ("b", "c", 1.0)], true);
        let mut seen = 0;
        let result = pagerank(&g, &PageRankConfig::default(), None, |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert!(result.is_none());
        assert_eq!(seen, 1);
    }

    #[test]
    fn an_empty_graph_is_trivially_converged() {
        let g = build(&[], false);
        let result = run(&g);
        assert!(result.converged && result.scores.is_empty());
    }
}
