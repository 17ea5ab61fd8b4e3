//! PMML 4.4 in and out, for the models other tools exchange that way:
//! linear regression and logistic regression (`RegressionModel`),
//! decision trees (`TreeModel` with binary `lessOrEqual`/`greaterThan`
//! splits) and random forests (`MiningModel` averaging `TreeModel`
//! segments). Import reads what scikit-learn models exported by nyoka
//! look like; export writes the same shapes, with a model's
//! standardization folded into coefficients and thresholds (so the PMML
//! takes raw features). Must not touch host storage.

use std::fmt::Write as _;

use ndarray::{Array1, Array2};
use roxmltree::{Document, Node};
use serde_json::Value;

use crate::MlError;
use crate::forest::Forest;
use crate::linfa_models::Linear;
use crate::model::{Algorithm, Estimator, FORMAT, Model, TaskKind};
use crate::tree::{self, Tree};

fn invalid(message: impl Into<String>) -> MlError {
    MlError::Invalid(format!("PMML: {}", message.into()))
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn number(node: Node<'_, '_>, attribute: &str) -> Result<f64, MlError> {
    node.attribute(attribute)
        .ok_or_else(|| invalid(format!("<{}> has no {attribute}", node.tag_name().name())))?
        .parse()
        .map_err(|_| {
            invalid(format!(
                "<{}> {attribute} is not a number",
                node.tag_name().name()
            ))
        })
}

/// The target's class labels from the data dictionary, typed as declared.
fn classes(root: Node<'_, '_>, target: &str) -> Vec<Value> {
    let Some(field) = child(root, "DataDictionary")
        .into_iter()
        .flat_map(|d| d.children())
        .find(|f| f.has_tag_name("DataField") && f.attribute("name") == Some(target))
    else {
        return Vec::new();
    };
    let integer = matches!(field.attribute("dataType"), Some("integer"));
    field
        .children()
        .filter(|v| v.has_tag_name("Value"))
        .filter_map(|v| v.attribute("value"))
        .map(|v| match (integer, v.parse::<i64>()) {
            (true, Ok(n)) => Value::from(n),
            _ => Value::from(v),
        })
        .collect()
}

fn label_text(label: &Value) -> String {
    match label {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a PMML document into a model.
pub fn import(xml: &str) -> Result<Model, MlError> {
    let doc = Document::parse(xml).map_err(|e| invalid(format!("not XML: {e}")))?;
    let root = doc.root_element();
    if !root.has_tag_name("PMML") {
        return Err(invalid("the root element is not <PMML>"));
    }
    let model = root
        .children()
        .find(|c| {
            c.is_element()
                && matches!(
                    c.tag_name().name(),
                    "RegressionModel" | "TreeModel" | "MiningModel"
                )
        })
        .ok_or_else(|| {
            invalid("no RegressionModel, TreeModel or MiningModel (the kinds read here)")
        })?;
    let schema =
        child(model, "MiningSchema").ok_or_else(|| invalid("the model has no MiningSchema"))?;
    let mut features = Vec::new();
    let mut target = None;
    for field in schema.children().filter(|f| f.has_tag_name("MiningField")) {
        let name = field.attribute("name").unwrap_or_default().to_owned();
        match field.attribute("usageType").unwrap_or("active") {
            "target" | "predicted" => target = Some(name),
            "active" => features.push(name),
            _ => {}
        }
    }
    let task = match model.attribute("functionName") {
        Some("classification") => TaskKind::Classification,
        Some("regression") => TaskKind::Regression,
        other => {
            return Err(invalid(format!(
                "functionName {other:?} is not classification or regression"
            )));
        }
    };
    let classes = match (&target, task) {
        (Some(t), TaskKind::Classification) => classes(root, t),
        _ => Vec::new(),
    };
    if task == TaskKind::Classification && classes.len() < 2 {
        return Err(invalid(
            "a classifier's target needs its class values in the DataDictionary",
        ));
    }
    let (algorithm, estimator) = match model.tag_name().name() {
        "RegressionModel" => regression_model(model, &features, &classes, task)?,
        "TreeModel" => (
            Algorithm::DecisionTree,
            Estimator::Tree(tree_model(model, &features, &classes, task)?),
        ),
        _ => {
            let segmentation = child(model, "Segmentation")
                .ok_or_else(|| invalid("a MiningModel without Segmentation"))?;
            if segmentation.attribute("multipleModelMethod") != Some("average") {
                return Err(invalid(
                    "only MiningModels that average their segments (random forests) are read",
                ));
            }
            let trees = segmentation
                .children()
                .filter(|s| s.has_tag_name("Segment"))
                .map(|s| {
                    let t = child(s, "TreeModel")
                        .ok_or_else(|| invalid("a forest segment that is not a TreeModel"))?;
                    tree_model(t, &features, &classes, task)
                })
                .collect::<Result<Vec<_>, _>>()?;
            (Algorithm::RandomForest, Estimator::Forest(Forest { trees }))
        }
    };
    Ok(Model {
        format: FORMAT,
        algorithm,
        task,
        features,
        classes,
        scaler: None,
        estimator,
    })
}

fn table_of(table: Node<'_, '_>, features: &[String]) -> Result<(Vec<f64>, f64), MlError> {
    let mut w = vec![0.0; features.len()];
    for p in table
        .children()
        .filter(|p| p.has_tag_name("NumericPredictor"))
    {
        if p.attribute("exponent").is_some_and(|e| e != "1") {
            return Err(invalid("only first-power NumericPredictors are read"));
        }
        let name = p.attribute("name").unwrap_or_default();
        let j = features
            .iter()
            .position(|f| f == name)
            .ok_or_else(|| invalid(format!("predictor '{name}' is not an active field")))?;
        w[j] = number(p, "coefficient")?;
    }
    if table
        .children()
        .any(|p| p.has_tag_name("CategoricalPredictor") || p.has_tag_name("PredictorTerm"))
    {
        return Err(invalid(
            "categorical predictors and interaction terms are not read",
        ));
    }
    Ok((
        w,
        table
            .attribute("intercept")
            .map_or(Ok(0.0), |_| number(table, "intercept"))?,
    ))
}

fn regression_model(
    model: Node<'_, '_>,
    features: &[String],
    classes: &[Value],
    task: TaskKind,
) -> Result<(Algorithm, Estimator), MlError> {
    let tables: Vec<Node<'_, '_>> = model
        .children()
        .filter(|t| t.has_tag_name("RegressionTable"))
        .collect();
    let n = features.len();
    if task == TaskKind::Regression {
        let table = tables
            .first()
            .ok_or_else(|| invalid("a RegressionModel without a RegressionTable"))?;
        let (w, b) = table_of(*table, features)?;
        let linear = Linear {
            coefficients: Array2::from_shape_vec((n, 1), w).map_err(|e| invalid(e.to_string()))?,
            intercepts: Array1::from(vec![b]),
        };
        return Ok((Algorithm::LinearRegression, Estimator::Linear(linear)));
    }
    let class_of = |t: Node<'_, '_>| -> Result<usize, MlError> {
        let category = t
            .attribute("targetCategory")
            .ok_or_else(|| invalid("a classification table without targetCategory"))?;
        classes
            .iter()
            .position(|c| label_text(c) == category)
            .ok_or_else(|| invalid(format!("targetCategory '{category}' is not a class")))
    };
    let method = model.attribute("normalizationMethod").unwrap_or("none");
    let k = classes.len();
    match (method, k) {
        ("logit", 2) | ("softmax", 2) if tables.len() == 2 => {
            // One logit: class 1's table minus class 0's.
            let mut per_class = vec![(vec![0.0; n], 0.0); 2];
            for t in &tables {
                per_class[class_of(*t)?] = table_of(*t, features)?;
            }
            let w: Vec<f64> = per_class[1]
                .0
                .iter()
                .zip(&per_class[0].0)
                .map(|(a, b)| a - b)
                .collect();
            let b = per_class[1].1 - per_class[0].1;
            let linear = Linear {
                coefficients: Array2::from_shape_vec((n, 1), w)
                    .map_err(|e| invalid(e.to_string()))?,
                intercepts: Array1::from(vec![b]),
            };
            Ok((Algorithm::LogisticRegression, Estimator::Logistic(linear)))
        }
        ("softmax", _) if tables.len() == k => {
            let mut coefficients = Array2::zeros((n, k));
            let mut intercepts = Array1::zeros(k);
            for t in &tables {
                let c = class_of(*t)?;
                let (w, b) = table_of(*t, features)?;
                coefficients.column_mut(c).assign(&Array1::from(w));
                intercepts[c] = b;
            }
            Ok((
                Algorithm::LogisticRegression,
                Estimator::Logistic(Linear {
                    coefficients,
                    intercepts,
                }),
            ))
        }
        _ => Err(invalid(format!(
            "a classification RegressionModel is read with normalizationMethod logit (two classes) or softmax (one table per class), not {method} with {} tables for {k} classes",
            tables.len()
        ))),
    }
}

fn tree_model(
    model: Node<'_, '_>,
    features: &[String],
    classes: &[Value],
    task: TaskKind,
) -> Result<Tree, MlError> {
    let root = child(model, "Node").ok_or_else(|| invalid("a TreeModel without a Node"))?;
    let mut tree = Tree {
        nodes: Vec::new(),
        importance: vec![0.0; features.len()],
    };
    let mut stack = vec![(root, 0usize)];
    tree.nodes.push(tree::Node {
        feature: 0,
        threshold: 0.0,
        left: 0,
        right: 0,
        value: Vec::new(),
        samples: 0,
    });
    while let Some((node, at)) = stack.pop() {
        tree.nodes[at].samples = node
            .attribute("recordCount")
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(0.0) as u32;
        let kids: Vec<Node<'_, '_>> = node.children().filter(|c| c.has_tag_name("Node")).collect();
        if kids.is_empty() {
            tree.nodes[at].value = leaf_value(node, classes, task)?;
            continue;
        }
        let [left, right] = kids[..] else {
            return Err(invalid(
                "only binary splits are read (a Node with two child Nodes)",
            ));
        };
        let (Some(lp), Some(rp)) = (
            child(left, "SimplePredicate"),
            child(right, "SimplePredicate"),
        ) else {
            return Err(invalid("only SimplePredicate splits are read"));
        };
        let field = lp.attribute("field").unwrap_or_default();
        let threshold = number(lp, "value")?;
        let swapped = match (lp.attribute("operator"), rp.attribute("operator")) {
            (Some("lessOrEqual"), Some("greaterThan")) => false,
            (Some("greaterThan"), Some("lessOrEqual")) => true,
            (a, b) => {
                return Err(invalid(format!(
                    "split operators {a:?}/{b:?}: only lessOrEqual with greaterThan are read"
                )));
            }
        };
        if rp.attribute("field") != Some(field) || number(rp, "value")? != threshold {
            return Err(invalid(
                "a split whose two sides test different fields or values",
            ));
        }
        let feature = features
            .iter()
            .position(|f| f == field)
            .ok_or_else(|| invalid(format!("split field '{field}' is not an active field")))?;
        let first = tree.nodes.len();
        for _ in 0..2 {
            tree.nodes.push(tree::Node {
                feature: 0,
                threshold: 0.0,
                left: 0,
                right: 0,
                value: Vec::new(),
                samples: 0,
            });
        }
        let n = &mut tree.nodes[at];
        n.feature = feature as u32;
        n.threshold = threshold;
        n.left = first as u32;
        n.right = first as u32 + 1;
        let (l, r) = if swapped {
            (right, left)
        } else {
            (left, right)
        };
        stack.push((l, first));
        stack.push((r, first + 1));
    }
    Ok(tree)
}

fn leaf_value(node: Node<'_, '_>, classes: &[Value], task: TaskKind) -> Result<Vec<f64>, MlError> {
    if task == TaskKind::Regression {
        return Ok(vec![number(node, "score")?]);
    }
    let mut p = vec![0.0; classes.len()];
    let distributions: Vec<Node<'_, '_>> = node
        .children()
        .filter(|d| d.has_tag_name("ScoreDistribution"))
        .collect();
    for d in &distributions {
        let value = d.attribute("value").unwrap_or_default();
        let c = classes
            .iter()
            .position(|c| label_text(c) == value)
            .ok_or_else(|| invalid(format!("ScoreDistribution value '{value}' is not a class")))?;
        p[c] = match d.attribute("confidence") {
            Some(_) => number(*d, "confidence")?,
            None => number(*d, "recordCount")?,
        };
    }
    if distributions.is_empty() {
        // Only a score: all the probability on it.
        let score = node
            .attribute("score")
            .ok_or_else(|| invalid("a leaf with neither ScoreDistribution nor score"))?;
        let c = classes
            .iter()
            .position(|c| label_text(c) == score)
            .ok_or_else(|| invalid(format!("score '{score}' is not a class")))?;
        p[c] = 1.0;
    }
    let total: f64 = p.iter().sum();
    if total > 0.0 {
        p.iter_mut().for_each(|v| *v /= total);
    }
    Ok(p)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes a model as PMML, `target` naming the predicted field.
pub fn export(model: &Model, target: &str) -> Result<String, MlError> {
    let mut out = String::new();
    let kind = |t: TaskKind| {
        if t == TaskKind::Classification {
            "classification"
        } else {
            "regression"
        }
    };
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">"#
    );
    let _ = writeln!(
        out,
        r#"  <Header description="exported by the Weft ML engine"><Application name="weft-ml" version="{}"/></Header>"#,
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        r#"  <DataDictionary numberOfFields="{}">"#,
        model.features.len() + 1
    );
    for f in &model.features {
        let _ = writeln!(
            out,
            r#"    <DataField name="{}" optype="continuous" dataType="double"/>"#,
            escape(f)
        );
    }
    if model.task == TaskKind::Classification {
        let integer = model.classes.iter().all(Value::is_i64);
        let _ = writeln!(
            out,
            r#"    <DataField name="{}" optype="categorical" dataType="{}">"#,
            escape(target),
            if integer { "integer" } else { "string" }
        );
        for c in &model.classes {
            let _ = writeln!(out, r#"      <Value value="{}"/>"#, escape(&label_text(c)));
        }
        let _ = writeln!(out, "    </DataField>");
    } else {
        let _ = writeln!(
            out,
            r#"    <DataField name="{}" optype="continuous" dataType="double"/>"#,
            escape(target)
        );
    }
    let _ = writeln!(out, "  </DataDictionary>");
    let schema = |out: &mut String, indent: &str, with_target: bool| {
        let _ = writeln!(out, "{indent}<MiningSchema>");
        for f in &model.features {
            let _ = writeln!(
                out,
                r#"{indent}  <MiningField name="{}" usageType="active"/>"#,
                escape(f)
            );
        }
        if with_target {
            let _ = writeln!(
                out,
                r#"{indent}  <MiningField name="{}" usageType="target"/>"#,
                escape(target)
            );
        }
        let _ = writeln!(out, "{indent}</MiningSchema>");
    };
    let (mean, scale): (Vec<f64>, Vec<f64>) = match &model.scaler {
        Some(s) => (s.mean.clone(), s.scale.clone()),
        None => (
            vec![0.0; model.features.len()],
            vec![1.0; model.features.len()],
        ),
    };
    // Standardization folded in: w·(x − μ)/σ + b = (w/σ)·x + (b − Σ wμ/σ).
    let raw_table = |w: Vec<f64>, b: f64| -> (Vec<f64>, f64) {
        let folded: Vec<f64> = w.iter().zip(&scale).map(|(w, s)| w / s).collect();
        let shift: f64 = folded.iter().zip(&mean).map(|(w, m)| w * m).sum();
        (folded, b - shift)
    };
    let table = |out: &mut String, w: &[f64], b: f64, category: Option<&Value>| {
        let category = category
            .map(|c| format!(r#" targetCategory="{}""#, escape(&label_text(c))))
            .unwrap_or_default();
        let _ = writeln!(out, r#"    <RegressionTable intercept="{b}"{category}>"#);
        for (f, c) in model.features.iter().zip(w) {
            let _ = writeln!(
                out,
                r#"      <NumericPredictor name="{}" exponent="1" coefficient="{c}"/>"#,
                escape(f)
            );
        }
        let _ = writeln!(out, "    </RegressionTable>");
    };
    match &model.estimator {
        Estimator::Linear(m) | Estimator::Logistic(m) => {
            let logistic = matches!(model.estimator, Estimator::Logistic(_));
            let method = match (logistic, m.coefficients.ncols()) {
                (false, _) => "none",
                (true, 1) => "logit",
                (true, _) => "softmax",
            };
            let _ = writeln!(
                out,
                r#"  <RegressionModel functionName="{}" normalizationMethod="{method}">"#,
                kind(model.task)
            );
            schema(&mut out, "    ", true);
            if logistic && m.coefficients.ncols() == 1 {
                let (w, b) = raw_table(m.coefficients.column(0).to_vec(), m.intercepts[0]);
                table(&mut out, &w, b, model.classes.get(1));
                table(&mut out, &vec![0.0; w.len()], 0.0, model.classes.first());
            } else {
                for c in 0..m.coefficients.ncols() {
                    let (w, b) = raw_table(m.coefficients.column(c).to_vec(), m.intercepts[c]);
                    table(
                        &mut out,
                        &w,
                        b,
                        if logistic { model.classes.get(c) } else { None },
                    );
                }
            }
            let _ = writeln!(out, "  </RegressionModel>");
        }
        Estimator::Tree(t) => tree_xml(&mut out, model, t, (&mean, &scale), "  ", &schema),
        Estimator::Forest(f) => {
            let _ = writeln!(
                out,
                r#"  <MiningModel functionName="{}" algorithmName="randomForest">"#,
                kind(model.task)
            );
            schema(&mut out, "    ", true);
            let _ = writeln!(out, r#"    <Segmentation multipleModelMethod="average">"#);
            for (i, t) in f.trees.iter().enumerate() {
                let _ = writeln!(out, r#"      <Segment id="{}"><True/>"#, i + 1);
                tree_xml(&mut out, model, t, (&mean, &scale), "        ", &schema);
                let _ = writeln!(out, "      </Segment>");
            }
            let _ = writeln!(out, "    </Segmentation>\n  </MiningModel>");
        }
        _ => {
            return Err(MlError::Invalid(format!(
                "PMML export covers linear_regression, logistic_regression, decision_tree and random_forest; this model is {}",
                model.algorithm.name()
            )));
        }
    }
    out.push_str("</PMML>\n");
    Ok(out)
}

fn tree_xml(
    out: &mut String,
    model: &Model,
    t: &Tree,
    (mean, scale): (&[f64], &[f64]),
    indent: &str,
    schema: &dyn Fn(&mut String, &str, bool),
) {
    let kind = if model.task == TaskKind::Classification {
        "classification"
    } else {
        "regression"
    };
    let _ = writeln!(
        out,
        r#"{indent}<TreeModel functionName="{kind}" splitCharacteristic="binarySplit">"#
    );
    schema(out, &format!("{indent}  "), true);
    // Depth-first, writing each node's predicate as its parent decided.
    enum Step {
        Open(usize, Option<(usize, bool)>, usize),
        Close(usize),
    }
    let mut stack = vec![Step::Open(0, None, 1)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Close(depth) => {
                let _ = writeln!(out, "{indent}{}</Node>", "  ".repeat(depth));
            }
            Step::Open(at, predicate, depth) => {
                let node = &t.nodes[at];
                let pad = format!("{indent}{}", "  ".repeat(depth));
                let leaf = node.left == 0;
                let score = if leaf {
                    match model.task {
                        TaskKind::Classification => {
                            let best = (0..node.value.len())
                                .max_by(|&a, &b| node.value[a].total_cmp(&node.value[b]))
                                .unwrap_or(0);
                            format!(r#" score="{}""#, escape(&label_text(&model.classes[best])))
                        }
                        _ => format!(r#" score="{}""#, node.value.first().copied().unwrap_or(0.0)),
                    }
                } else {
                    String::new()
                };
                let _ = writeln!(out, r#"{pad}<Node recordCount="{}"{score}>"#, node.samples);
                match predicate {
                    None => {
                        let _ = writeln!(out, "{pad}  <True/>");
                    }
                    Some((parent, left)) => {
                        let p = &t.nodes[parent];
                        let f = p.feature as usize;
                        let threshold = p.threshold * scale[f] + mean[f];
                        let op = if left { "lessOrEqual" } else { "greaterThan" };
                        let _ = writeln!(
                            out,
                            r#"{pad}  <SimplePredicate field="{}" operator="{op}" value="{threshold}"/>"#,
                            escape(&model.features[f])
                        );
                    }
                }
                if leaf {
                    if model.task == TaskKind::Classification {
                        for (c, p) in model.classes.iter().zip(&node.value) {
                            let _ = writeln!(
                                out,
                                r#"{pad}  <ScoreDistribution value="{}" recordCount="{}" confidence="{p}"/>"#,
                                escape(&label_text(c)),
                                p * f64::from(node.samples)
                            );
                        }
                    }
                    let _ = writeln!(out, "{pad}</Node>");
                } else {
                    stack.push(Step::Close(depth));
                    stack.push(Step::Open(
                        node.right as usize,
                        Some((at, false)),
                        depth + 1,
                    ));
                    stack.push(Step::Open(node.left as usize, Some((at, true)), depth + 1));
                }
            }
        }
    }
    let _ = writeln!(out, "{indent}</TreeModel>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Table, Target};
    use crate::model::Hyperparameters;

    fn table() -> Table {
        let x = Array2::from_shape_fn((90, 2), |(i, j)| {
            (i % 3) as f64 * 3.0 + ((i * 7 + j * 5) % 11) as f64 * 0.2
        });
        Table {
            features: vec!["a".into(), "b & c".into()],
            x,
            target: Target::Classes {
                classes: vec![Value::from("x"), Value::from("y"), Value::from("z")],
                y: (0..90).map(|i| i % 3).collect(),
            },
        }
    }

    #[test]
    fn exported_models_import_and_predict_the_same() {
        let t = table();
        for algorithm in [
            Algorithm::LogisticRegression,
            Algorithm::DecisionTree,
            Algorithm::RandomForest,
        ] {
            let hp = Hyperparameters {
                n_estimators: Some(5),
                standardize: Some(true),
                ..Default::default()
            };
            let model = Model::train(
                algorithm,
                TaskKind::Classification,
                &t,
                None,
                &hp,
                3,
                &mut |_| Ok(()),
            )
            .expect("train");
            let xml = export(&model, "label").expect("export");
            let back = import(&xml).unwrap_or_else(|e| panic!("{algorithm:?}: {e}\n{xml}"));
            let (ours, theirs) = (
                model.predict(&t.x).expect("p"),
                back.predict(&t.x).expect("p"),
            );
            match (ours, theirs) {
                (
                    crate::model::Prediction::Classes {
                        labels: a,
                        probabilities: pa,
                    },
                    crate::model::Prediction::Classes {
                        labels: b,
                        probabilities: pb,
                    },
                ) => {
                    assert_eq!(a, b, "{algorithm:?}");
                    assert!(
                        pa.iter().zip(pb.iter()).all(|(x, y)| (x - y).abs() < 1e-9),
                        "{algorithm:?}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unreadable_pmml_is_named() {
        assert!(
            import("<x/>")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("not <PMML>")
        );
        assert!(
            import("not xml")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("not XML")
        );
        let naive = r#"<PMML><NaiveBayesModel/></PMML>"#;
        assert!(
            import(naive)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("the kinds read here")
        );
    }
}
