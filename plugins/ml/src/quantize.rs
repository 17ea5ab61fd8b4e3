//! int8 weights for linear models and the MLP: each weight matrix (each
//! output column of a linear model, each layer of a network) is scaled
//! symmetrically so its largest magnitude is 127, stored as `i8`, and
//! multiplied back at prediction; biases and intercepts stay `f64`. The
//! weights take an eighth of the space; what it costs in accuracy is
//! measured by the `quantize` operation on data the caller names. Must not
//! touch host storage.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::linfa_models::Linear;
use crate::mlp::{Layer, Mlp};

/// A matrix as `i8` with one scale per column (`value = q · scale`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Int8Matrix {
    /// Rows × columns, row-major.
    pub shape: (usize, usize),
    /// Quantized values.
    pub values: Vec<i8>,
    /// Per-column scale.
    pub scales: Vec<f64>,
}

impl Int8Matrix {
    /// Quantizes `m` column by column.
    pub fn quantize(m: &Array2<f64>) -> Self {
        let (rows, cols) = m.dim();
        let scales: Vec<f64> = (0..cols)
            .map(|c| {
                let max = m.column(c).iter().fold(0.0f64, |a, v| a.max(v.abs()));
                if max > 0.0 { max / 127.0 } else { 1.0 }
            })
            .collect();
        let values = m
            .indexed_iter()
            .map(|((_, c), v)| (v / scales[c]).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Self {
            shape: (rows, cols),
            values,
            scales,
        }
    }

    /// Back to floats.
    pub fn dequantize(&self) -> Array2<f64> {
        let (rows, cols) = self.shape;
        Array2::from_shape_fn((rows, cols), |(r, c)| {
            f64::from(self.values[r * cols + c]) * self.scales[c]
        })
    }
}

/// A linear or logistic model with int8 coefficients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedLinear {
    /// Coefficients.
    pub coefficients: Int8Matrix,
    /// Intercepts (full precision).
    pub intercepts: Array1<f64>,
}

impl QuantizedLinear {
    /// Quantizes `m`.
    pub fn new(m: &Linear) -> Self {
        Self {
            coefficients: Int8Matrix::quantize(&m.coefficients),
            intercepts: m.intercepts.clone(),
        }
    }
    /// The model it stands for.
    pub fn expand(&self) -> Linear {
        Linear {
            coefficients: self.coefficients.dequantize(),
            intercepts: self.intercepts.clone(),
        }
    }
}

/// A network with int8 weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedMlp {
    /// Per layer: weights and biases.
    pub layers: Vec<(Int8Matrix, Array1<f64>)>,
    /// Softmax output.
    pub classes: bool,
}

impl QuantizedMlp {
    /// Quantizes `net`.
    pub fn new(net: &Mlp) -> Self {
        Self {
            layers: net
                .layers
                .iter()
                .map(|l| (Int8Matrix::quantize(&l.weights), l.bias.clone()))
                .collect(),
            classes: net.classes,
        }
    }
    /// The network it stands for.
    pub fn expand(&self) -> Mlp {
        Mlp {
            layers: self
                .layers
                .iter()
                .map(|(w, b)| Layer {
                    weights: w.dequantize(),
                    bias: b.clone(),
                })
                .collect(),
            classes: self.classes,
        }
    }
}

/// Bytes of weights: as `f64`, and as `i8` with their scales.
pub fn weight_bytes(matrices: &[&Int8Matrix]) -> (usize, usize) {
    let full = matrices.iter().map(|m| m.values.len() * 8).sum();
    let small = matrices
        .iter()
        .map(|m| m.values.len() + m.scales.len() * 8)
        .sum();
    (full, small)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizing_keeps_every_weight_within_half_a_step() {
        let m = ndarray::array![[0.5, -3.0], [-0.25, 1.5], [0.0, 0.75]];
        let q = Int8Matrix::quantize(&m);
        assert_eq!(q.values[1], -127);
        let back = q.dequantize();
        for ((r, c), v) in m.indexed_iter() {
            assert!((back[[r, c]] - v).abs() <= q.scales[c] / 2.0 + 1e-12);
        }
        let (full, small) = weight_bytes(&[&q]);
        assert_eq!((full, small), (48, 6 + 16));
    }
}
