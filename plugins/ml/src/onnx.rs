//! ONNX export (opset 18 with ai.onnx.ml 3) for the models that map onto
//! ONNX-ML operators: linear regression (`LinearRegressor`), logistic
//! regression (`LinearClassifier`, softmax over per-class scores; two
//! classes as scores (0, z), so the softmax is the logistic), decision
//! trees and random forests (`TreeEnsembleClassifier` / `…Regressor`,
//! `BRANCH_LEQ` splits, leaves weighted 1/trees). Standardization is folded
//! into coefficients and thresholds, so the graph takes raw features: input
//! `X`, float32 [N, features]; outputs `label` [N] and `probabilities`
//! [N, classes] (classifiers) or `variable` [N, 1] (regressors). ONNX-ML
//! is float32: thresholds and weights are rounded to it.
//!
//! The protobuf is written by hand ([`Message`]): the few ONNX messages
//! needed are a page of field numbers, where a protobuf code generator
//! would need `protoc` and the ONNX schema at build time.

use serde_json::Value;

use crate::MlError;
use crate::linfa_models::Linear;
use crate::model::{Estimator, Model, TaskKind};
use crate::tree::Tree;

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn text(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes(field, &m.0)
    }
    fn floats(&mut self, field: u32, v: &[f32]) -> &mut Self {
        let packed: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        self.bytes(field, &packed)
    }
    fn ints(&mut self, field: u32, v: &[i64]) -> &mut Self {
        let mut packed = Message::default();
        for &i in v {
            packed.varint(i as u64);
        }
        self.bytes(field, &packed.0)
    }
}

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20.
fn attr_floats(name: &str, v: &[f32]) -> Message {
    let mut a = Message::default();
    a.text(1, name).floats(7, v).int(20, 6);
    a
}
fn attr_ints(name: &str, v: &[i64]) -> Message {
    let mut a = Message::default();
    a.text(1, name).ints(8, v).int(20, 7);
    a
}
fn attr_int(name: &str, v: i64) -> Message {
    let mut a = Message::default();
    a.text(1, name).int(3, v).int(20, 2);
    a
}
fn attr_text(name: &str, v: &str) -> Message {
    let mut a = Message::default();
    a.text(1, name).bytes(4, v.as_bytes()).int(20, 3);
    a
}
fn attr_texts(name: &str, v: &[String]) -> Message {
    let mut a = Message::default();
    a.text(1, name);
    for s in v {
        a.bytes(9, s.as_bytes());
    }
    a.int(20, 8);
    a
}

/// A tensor value's declaration: element type (1 float, 7 int64, 8
/// string) and dims (`None`: symbolic N).
fn value_info(name: &str, elem: i64, dims: &[Option<i64>]) -> Message {
    let mut shape = Message::default();
    for d in dims {
        let mut dim = Message::default();
        match d {
            Some(v) => dim.int(1, *v),
            None => dim.text(2, "N"),
        };
        shape.message(1, &dim);
    }
    let mut tensor = Message::default();
    tensor.int(1, elem).message(2, &shape);
    let mut ty = Message::default();
    ty.message(1, &tensor);
    let mut info = Message::default();
    info.text(1, name).message(2, &ty);
    info
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attributes: &[Message]) -> Message {
    let mut n = Message::default();
    for i in inputs {
        n.text(1, i);
    }
    for o in outputs {
        n.text(2, o);
    }
    n.text(3, op).text(4, op);
    for a in attributes {
        n.message(5, a);
    }
    n.text(7, "ai.onnx.ml");
    n
}

fn label_text(label: &Value) -> String {
    match label {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Coefficients and intercepts on raw features (standardization folded).
fn raw_linear(model: &Model, m: &Linear) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = model.features.len();
    let (mean, scale) = match &model.scaler {
        Some(s) => (s.mean.clone(), s.scale.clone()),
        None => (vec![0.0; n], vec![1.0; n]),
    };
    let mut rows = Vec::new();
    let mut intercepts = Vec::new();
    for c in 0..m.coefficients.ncols() {
        let w: Vec<f64> = (0..n).map(|j| m.coefficients[[j, c]] / scale[j]).collect();
        let shift: f64 = w.iter().zip(&mean).map(|(w, m)| w * m).sum();
        rows.push(w);
        intercepts.push(m.intercepts[c] - shift);
    }
    (rows, intercepts)
}

/// Writes `model` as an ONNX model (the protobuf bytes).
pub fn export(model: &Model) -> Result<Vec<u8>, MlError> {
    let n = model.features.len() as i64;
    let classes: Vec<String> = model.classes.iter().map(label_text).collect();
    let integer_labels = model.classes.iter().all(Value::is_i64);
    // LinearClassifier calls integer labels classlabels_ints, the tree
    // ensembles classlabels_int64s.
    let label_attr = |ints_name: &str| {
        if integer_labels {
            attr_ints(
                ints_name,
                &model
                    .classes
                    .iter()
                    .filter_map(Value::as_i64)
                    .collect::<Vec<_>>(),
            )
        } else {
            attr_texts("classlabels_strings", &classes)
        }
    };
    let classifier_outputs = || {
        vec![
            value_info("label", if integer_labels { 7 } else { 8 }, &[None]),
            value_info("probabilities", 1, &[None, Some(classes.len() as i64)]),
        ]
    };
    let (nodes, outputs) = match &model.estimator {
        Estimator::Linear(m) => {
            let (w, b) = raw_linear(model, m);
            let f: Vec<f32> = w[0].iter().map(|v| *v as f32).collect();
            let attrs = [
                attr_floats("coefficients", &f),
                attr_floats("intercepts", &[b[0] as f32]),
                attr_int("targets", 1),
            ];
            (
                vec![node("LinearRegressor", &["X"], &["variable"], &attrs)],
                vec![value_info("variable", 1, &[None, Some(1)])],
            )
        }
        Estimator::Logistic(m) => {
            let (mut w, mut b) = raw_linear(model, m);
            if w.len() == 1 {
                // Scores (0, z): their softmax is (1 − σ(z), σ(z)).
                w.insert(0, vec![0.0; n as usize]);
                b.insert(0, 0.0);
            }
            let f: Vec<f32> = w.iter().flatten().map(|v| *v as f32).collect();
            let attrs = [
                attr_floats("coefficients", &f),
                attr_floats(
                    "intercepts",
                    &b.iter().map(|v| *v as f32).collect::<Vec<_>>(),
                ),
                label_attr("classlabels_ints"),
                attr_text("post_transform", "SOFTMAX"),
            ];
            (
                vec![node(
                    "LinearClassifier",
                    &["X"],
                    &["label", "probabilities"],
                    &attrs,
                )],
                classifier_outputs(),
            )
        }
        Estimator::Tree(t) => trees(
            model,
            std::slice::from_ref(t),
            &label_attr,
            classifier_outputs,
        ),
        Estimator::Forest(f) => trees(model, &f.trees, &label_attr, classifier_outputs),
        _ => {
            return Err(MlError::Invalid(format!(
                "ONNX export covers linear_regression, logistic_regression, decision_tree and random_forest; this model is {}",
                model.algorithm.name()
            )));
        }
    };
    let mut graph = Message::default();
    for nd in &nodes {
        graph.message(1, nd);
    }
    graph.text(2, "weft_ml");
    graph.message(11, &value_info("X", 1, &[None, Some(n)]));
    for o in &outputs {
        graph.message(12, o);
    }
    let mut out = Message::default();
    out.int(1, 8); // IR version 8
    out.text(2, "weft-ml").text(3, env!("CARGO_PKG_VERSION"));
    let mut default = Message::default();
    default.text(1, "").int(2, 18);
    let mut ml = Message::default();
    ml.text(1, "ai.onnx.ml").int(2, 3);
    out.message(7, &graph).message(8, &default).message(8, &ml);
    Ok(out.0)
}

/// The largest float32 at or below `t`: for every float32 input x,
/// `x <= t` exactly when `x <= threshold_below(t)`, so rounding thresholds
/// to ONNX's float32 moves no row to the other branch.
fn threshold_below(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t { f.next_down() } else { f }
}

fn trees(
    model: &Model,
    forest: &[Tree],
    label_attr: &dyn Fn(&str) -> Message,
    classifier_outputs: impl Fn() -> Vec<Message>,
) -> (Vec<Message>, Vec<Message>) {
    let (mean, scale) = match &model.scaler {
        Some(s) => (s.mean.clone(), s.scale.clone()),
        None => (
            vec![0.0; model.features.len()],
            vec![1.0; model.features.len()],
        ),
    };
    let weight = 1.0 / forest.len().max(1) as f64;
    let (mut tree_ids, mut node_ids, mut features, mut values, mut modes, mut trues, mut falses) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut leaf_trees, mut leaf_nodes, mut leaf_ids, mut leaf_weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, tree) in forest.iter().enumerate() {
        for (i, nd) in tree.nodes.iter().enumerate() {
            tree_ids.push(t as i64);
            node_ids.push(i as i64);
            if nd.left == 0 {
                features.push(0);
                values.push(0.0f32);
                modes.push("LEAF".to_owned());
                trues.push(0);
                falses.push(0);
                for (c, v) in nd.value.iter().enumerate() {
                    leaf_trees.push(t as i64);
                    leaf_nodes.push(i as i64);
                    leaf_ids.push(c as i64);
                    leaf_weights.push((v * weight) as f32);
                }
            } else {
                let f = nd.feature as usize;
                features.push(f as i64);
                values.push(threshold_below(nd.threshold * scale[f] + mean[f]));
                modes.push("BRANCH_LEQ".to_owned());
                trues.push(i64::from(nd.left));
                falses.push(i64::from(nd.right));
            }
        }
    }
    let mut attrs = vec![
        attr_ints("nodes_treeids", &tree_ids),
        attr_ints("nodes_nodeids", &node_ids),
        attr_ints("nodes_featureids", &features),
        attr_floats("nodes_values", &values),
        attr_texts("nodes_modes", &modes),
        attr_ints("nodes_truenodeids", &trues),
        attr_ints("nodes_falsenodeids", &falses),
        attr_text("post_transform", "NONE"),
    ];
    if model.task == TaskKind::Classification {
        attrs.extend([
            attr_ints("class_treeids", &leaf_trees),
            attr_ints("class_nodeids", &leaf_nodes),
            attr_ints("class_ids", &leaf_ids),
            attr_floats("class_weights", &leaf_weights),
            label_attr("classlabels_int64s"),
        ]);
        (
            vec![node(
                "TreeEnsembleClassifier",
                &["X"],
                &["label", "probabilities"],
                &attrs,
            )],
            classifier_outputs(),
        )
    } else {
        attrs.extend([
            attr_ints("target_treeids", &leaf_trees),
            attr_ints("target_nodeids", &leaf_nodes),
            attr_ints("target_ids", &leaf_ids),
            attr_floats("target_weights", &leaf_weights),
            attr_int("n_targets", 1),
            attr_text("aggregate_function", "SUM"),
        ]);
        (
            vec![node("TreeEnsembleRegressor", &["X"], &["variable"], &attrs)],
            vec![value_info("variable", 1, &[None, Some(1)])],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_round_down_to_float32() {
        let t = 5.0 - 1e-12;
        assert!(threshold_below(t) < 5.0f32);
        assert!(f64::from(threshold_below(t)) <= t);
        assert_eq!(threshold_below(1.75), 1.75f32);
    }

    #[test]
    fn varints_and_packed_fields_follow_the_wire_format() {
        let mut m = Message::default();
        m.int(1, 300);
        assert_eq!(m.0, [0x08, 0xac, 0x02]);
        let mut m = Message::default();
        m.ints(8, &[1, 2]);
        assert_eq!(m.0, [0x42, 0x02, 0x01, 0x02]);
        let mut m = Message::default();
        m.text(2, "hi");
        assert_eq!(m.0, [0x12, 0x02, b'h', b'i']);
    }
}
