//! TreeSHAP (Lundberg, Erion and Lee 2018, algorithm 2): exact Shapley
//! values of one tree's output for one row, in time polynomial in the
//! depth, with the "path-dependent" expectation — a feature left out
//! follows both children in proportion to the training rows that went
//! each way. The values add up to the output minus the tree's expected
//! output (local accuracy). Must not know about models or params.

use ndarray::ArrayView1;

use crate::tree::Tree;

#[derive(Clone, Copy, Debug)]
struct PathElement {
    /// Feature (usize::MAX for the root, which splits on nothing).
    feature: usize,
    /// Fraction of "zero" paths (feature left out) flowing here.
    zero: f64,
    /// Fraction of "one" paths (feature known) flowing here.
    one: f64,
    /// Permutation weight.
    weight: f64,
}

fn extend(path: &mut Vec<PathElement>, zero: f64, one: f64, feature: usize) {
    let l = path.len();
    path.push(PathElement {
        feature,
        zero,
        one,
        weight: if l == 0 { 1.0 } else { 0.0 },
    });
    for i in (0..l).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (l + 1) as f64;
        path[i].weight = zero * path[i].weight * (l - i) as f64 / (l + 1) as f64;
    }
}

fn unwind(path: &mut Vec<PathElement>, at: usize) {
    let l = path.len();
    let (one, zero) = (path[at].one, path[at].zero);
    let mut next = path[l - 1].weight;
    for j in (0..l - 1).rev() {
        if one != 0.0 {
            let kept = path[j].weight;
            path[j].weight = next * l as f64 / ((j + 1) as f64 * one);
            next = kept - path[j].weight * zero * (l - j - 1) as f64 / l as f64;
        } else {
            path[j].weight = path[j].weight * l as f64 / (zero * (l - j - 1) as f64);
        }
    }
    for j in at..l - 1 {
        path[j].feature = path[j + 1].feature;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
    path.truncate(l - 1);
}

/// Shapley values of `output(leaf value)` for `row`, one per feature.
pub fn tree_shap(
    tree: &Tree,
    row: ArrayView1<'_, f64>,
    output: &dyn Fn(&[f64]) -> f64,
    features: usize,
) -> Vec<f64> {
    let mut phi = vec![0.0; features];
    recurse(
        tree,
        row,
        output,
        0,
        Vec::new(),
        1.0,
        1.0,
        usize::MAX,
        &mut phi,
    );
    phi
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &Tree,
    row: ArrayView1<'_, f64>,
    output: &dyn Fn(&[f64]) -> f64,
    at: usize,
    mut path: Vec<PathElement>,
    zero: f64,
    one: f64,
    feature: usize,
    phi: &mut [f64],
) {
    extend(&mut path, zero, one, feature);
    let node = &tree.nodes[at];
    if node.left == 0 {
        let value = output(&node.value);
        for i in 1..path.len() {
            let mut unwound = path.clone();
            unwind(&mut unwound, i);
            let w: f64 = unwound.iter().map(|e| e.weight).sum();
            phi[path[i].feature] += w * (path[i].one - path[i].zero) * value;
        }
        return;
    }
    let split = node.feature as usize;
    let (hot, cold) = if row[split] <= node.threshold {
        (node.left, node.right)
    } else {
        (node.right, node.left)
    };
    let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
    if let Some(k) = path.iter().position(|e| e.feature == split) {
        incoming_zero = path[k].zero;
        incoming_one = path[k].one;
        unwind(&mut path, k);
    }
    let cover = f64::from(node.samples.max(1));
    let share = |child: u32| f64::from(tree.nodes[child as usize].samples) / cover;
    recurse(
        tree,
        row,
        output,
        hot as usize,
        path.clone(),
        incoming_zero * share(hot),
        incoming_one,
        split,
        phi,
    );
    recurse(
        tree,
        row,
        output,
        cold as usize,
        path,
        incoming_zero * share(cold),
        0.0,
        split,
        phi,
    );
}

/// The tree's output averaged over its training rows (leaves weighted by
/// the rows that reached them): what the Shapley values start from.
pub fn expected(tree: &Tree, output: &dyn Fn(&[f64]) -> f64) -> f64 {
    let root = f64::from(tree.nodes[0].samples.max(1));
    tree.nodes
        .iter()
        .filter(|n| n.left == 0)
        .map(|n| f64::from(n.samples) / root * output(&n.value))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Task, TreeParams};
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    /// E[f(x) | x_S] with the same path-dependent rule, by traversal.
    fn conditional(tree: &Tree, row: ArrayView1<'_, f64>, known: &[bool], at: usize) -> f64 {
        let node = &tree.nodes[at];
        if node.left == 0 {
            return node.value[0];
        }
        let f = node.feature as usize;
        if known[f] {
            let next = if row[f] <= node.threshold {
                node.left
            } else {
                node.right
            };
            return conditional(tree, row, known, next as usize);
        }
        let cover = f64::from(node.samples);
        let (l, r) = (
            &tree.nodes[node.left as usize],
            &tree.nodes[node.right as usize],
        );
        f64::from(l.samples) / cover * conditional(tree, row, known, node.left as usize)
            + f64::from(r.samples) / cover * conditional(tree, row, known, node.right as usize)
    }

    fn factorial(n: usize) -> f64 {
        (1..=n).map(|v| v as f64).product()
    }

    #[test]
    fn tree_shap_equals_brute_force_shapley_values_and_adds_up() {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(9);
        let m = 4;
        let x: Array2<f64> = Array2::from_shape_fn((300, m), |_| rng.gen_range(-1.0..1.0));
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| r[0] * 2.0 + r[1] * r[2] - r[3].abs())
            .collect();
        let params = TreeParams {
            max_depth: Some(5),
            ..TreeParams::default()
        };
        let tree = Tree::fit(&x, Task::Values(&y), (0..300).collect(), &params, &mut rng);
        let out = |v: &[f64]| v[0];
        for r in 0..5 {
            let row = x.row(r);
            let phi = tree_shap(&tree, row, &out, m);
            for i in 0..m {
                let mut exact = 0.0;
                for mask in 0..(1u32 << m) {
                    if mask & (1 << i) != 0 {
                        continue;
                    }
                    let known: Vec<bool> = (0..m).map(|j| mask & (1 << j) != 0).collect();
                    let mut with = known.clone();
                    with[i] = true;
                    let s = mask.count_ones() as usize;
                    let weight = factorial(s) * factorial(m - s - 1) / factorial(m);
                    exact += weight
                        * (conditional(&tree, row, &with, 0) - conditional(&tree, row, &known, 0));
                }
                assert!(
                    (phi[i] - exact).abs() < 1e-9,
                    "row {r} feature {i}: {} vs {exact}",
                    phi[i]
                );
            }
            let total = expected(&tree, &out) + phi.iter().sum::<f64>();
            assert!((total - tree.predict_row(row)[0]).abs() < 1e-9);
        }
    }
}
