//! One trained model: which algorithm, its features, classes and scaling,
//! the fitted estimator, how it predicts, and its stored format (JSON,
//! `format` 1, read back by the same engine version or a later one).
//! Training dispatch lives here too, so that every algorithm is called the
//! same way: a table in, progress out, a model back. Must not touch host
//! storage.

use ndarray::Array2;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::boosting::{BoostParams, Booster, Loss, Truth};
use crate::data::{Scaler, Table, Target};
use crate::forest::{Forest, ForestParams};
use crate::linfa_models::{self, Kernel, Linear, NaiveBayes, SupportVectors};
use crate::mlp::{Mlp, MlpParams, Schedule, Targets};
use crate::tree::{Task, Tree, TreeParams};
use crate::{MlError, metrics};

/// The stored format's version.
pub const FORMAT: u32 = 1;

/// The algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Ordinary least squares (linfa).
    LinearRegression,
    /// Binary or multinomial logistic regression (linfa).
    LogisticRegression,
    /// One CART tree (this crate).
    DecisionTree,
    /// Bagged CART trees (this crate).
    RandomForest,
    /// Gradient-boosted trees (this crate).
    GradientBoosting,
    /// k-means (linfa).
    Kmeans,
    /// Gaussian naive Bayes (linfa).
    NaiveBayes,
    /// Support vector machine (linfa).
    Svm,
    /// Multi-layer perceptron (this crate).
    Mlp,
}

impl Algorithm {
    /// Every algorithm, by name.
    pub const ALL: [&'static str; 9] = [
        "linear_regression",
        "logistic_regression",
        "decision_tree",
        "random_forest",
        "gradient_boosting",
        "kmeans",
        "naive_bayes",
        "svm",
        "mlp",
    ];

    /// The name used in params.
    pub fn name(self) -> &'static str {
        Self::ALL[self as usize]
    }

    /// The tasks it can do, the default first.
    pub fn tasks(self) -> &'static [TaskKind] {
        use TaskKind::*;
        match self {
            Self::LinearRegression => &[Regression],
            Self::LogisticRegression | Self::NaiveBayes | Self::Svm => &[Classification],
            Self::Kmeans => &[Clustering],
            Self::DecisionTree | Self::RandomForest | Self::GradientBoosting | Self::Mlp => {
                &[Classification, Regression]
            }
        }
    }
}

/// What a model does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Predicts a class.
    Classification,
    /// Predicts a value.
    Regression,
    /// Assigns a cluster.
    Clustering,
}

/// The fitted part. Adjacently tagged: internally tagged enums buffer
/// their content, which loses the integer map keys of linfa's models.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "fitted", rename_all = "snake_case")]
pub enum Estimator {
    /// Linear regression.
    Linear(Linear),
    /// Logistic regression (one logit for two classes, else one per class).
    Logistic(Linear),
    /// A tree.
    Tree(Tree),
    /// A forest.
    Forest(Forest),
    /// A booster.
    Boosting(Booster),
    /// k-means centroids (k × features).
    Kmeans {
        /// Centroids.
        centroids: Array2<f64>,
    },
    /// Gaussian naive Bayes.
    NaiveBayes(NaiveBayes),
    /// SVMs.
    Svm(SupportVectors),
    /// A network.
    Mlp(Mlp),
    /// A linear or logistic model with int8 coefficients.
    QuantizedLinear {
        /// Logistic (else linear).
        logistic: bool,
        /// The weights.
        model: crate::quantize::QuantizedLinear,
    },
    /// A network with int8 weights.
    QuantizedMlp(crate::quantize::QuantizedMlp),
}

/// A trained model.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Stored format version.
    pub format: u32,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Task.
    pub task: TaskKind,
    /// Feature names, in the order rows give them.
    pub features: Vec<String>,
    /// Class labels (classification).
    pub classes: Vec<Value>,
    /// Scaling applied before the estimator.
    pub scaler: Option<Scaler>,
    /// The fitted estimator.
    pub estimator: Estimator,
}

/// Hyperparameters; every one optional, unknown names refused.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hyperparameters {
    /// Classification or regression, for algorithms that do both.
    pub task: Option<TaskKind>,
    /// Centre and scale features first (default: on for logistic
    /// regression, SVMs and the MLP).
    pub standardize: Option<bool>,
    /// Inverse L2 strength (logistic regression, SVM; 1).
    pub c: Option<f64>,
    /// L2 strength of the MLP (1e-4).
    pub alpha: Option<f64>,
    /// Iterations (logistic regression 100, k-means 300).
    pub max_iterations: Option<u64>,
    /// SVM kernel: "rbf" (default) or "linear".
    pub kernel: Option<String>,
    /// RBF width (default 1 / features, scikit-learn's "scale" on
    /// standardized features).
    pub gamma: Option<f64>,
    /// Tree depth (trees and forests: unlimited; boosting 3).
    pub max_depth: Option<usize>,
    /// Rows a node needs to be split (2).
    pub min_samples_split: Option<usize>,
    /// Rows each leaf keeps (1).
    pub min_samples_leaf: Option<usize>,
    /// Features tried per split.
    pub max_features: Option<usize>,
    /// Trees (forest) or rounds (boosting): 100.
    pub n_estimators: Option<usize>,
    /// Boosting shrinkage (0.1) or the MLP's starting rate (0.001).
    pub learning_rate: Option<f64>,
    /// Boosting's row fraction per round (1).
    pub subsample: Option<f64>,
    /// Forest bootstrap (true).
    pub bootstrap: Option<bool>,
    /// k-means clusters (8).
    pub k: Option<usize>,
    /// k-means runs, best kept (10).
    pub n_init: Option<usize>,
    /// MLP hidden widths ([100]).
    pub hidden_layers: Option<Vec<usize>>,
    /// MLP epochs (200).
    pub epochs: Option<usize>,
    /// MLP batch size (200).
    pub batch_size: Option<usize>,
    /// MLP learning-rate schedule ({"type": "constant" | "step" | "exponential", …}).
    pub schedule: Option<Schedule>,
    /// Stop when the validation loss stalls this many epochs or rounds
    /// (MLP: 10 always; boosting: only when set).
    pub patience: Option<usize>,
    /// Smallest improvement that counts for `patience` (1e-4).
    pub tol: Option<f64>,
}

/// One step of training, reported as `training_progress`.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Epoch, round, tree or iteration, from 1.
    pub epoch: usize,
    /// How many there will be at most.
    pub total_epochs: usize,
    /// Training loss.
    pub loss: Option<f64>,
    /// Validation loss.
    pub validation_loss: Option<f64>,
    /// Accuracy (classes) or R² (values) on the validation rows.
    pub validation_score: Option<f64>,
    /// Learning rate of the step.
    pub learning_rate: Option<f64>,
}

fn positive(name: &str, v: Option<f64>, default: f64) -> Result<f64, MlError> {
    let v = v.unwrap_or(default);
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(MlError::Invalid(format!(
            "hyperparameter {name} must be a positive number, not {v}"
        )))
    }
}

/// Rows used to score validation each step: enough to see the trend.
const PROGRESS_ROWS: usize = 2_000;

impl Model {
    /// Trains `algorithm` on `train`; `on_step` sees each step (an error,
    /// such as cancellation, stops training).
    pub fn train(
        algorithm: Algorithm,
        task: TaskKind,
        train: &Table,
        validation: Option<&Table>,
        hp: &Hyperparameters,
        seed: u64,
        on_step: &mut dyn FnMut(&Progress) -> Result<(), MlError>,
    ) -> Result<Self, MlError> {
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed);
        let classes: Vec<Value> = match &train.target {
            Target::Classes { classes, .. } => classes.clone(),
            _ => Vec::new(),
        };
        let k = classes.len();
        if task == TaskKind::Classification && k < 2 {
            return Err(MlError::Invalid(format!(
                "the target has {k} class; a classifier needs at least two: check the target column"
            )));
        }
        let standardize = hp.standardize.unwrap_or(matches!(
            algorithm,
            Algorithm::LogisticRegression | Algorithm::Svm | Algorithm::Mlp
        ));
        let scaler = standardize.then(|| Scaler::fit(&train.x));
        let x = match &scaler {
            Some(s) => s.apply(&train.x),
            None => train.x.clone(),
        };
        let mut model = Model {
            format: FORMAT,
            algorithm,
            task,
            features: train.features.clone(),
            classes,
            scaler,
            estimator: Estimator::Kmeans {
                centroids: Array2::zeros((0, 0)),
            },
        };
        // A sample of validation rows, already scaled, for progress scores.
        let progress_rows = validation.map(|v| {
            let take: Vec<usize> = (0..v.rows().min(PROGRESS_ROWS)).collect();
            v.select(&take)
        });
        let tree_params = |default_depth: Option<usize>| TreeParams {
            max_depth: hp.max_depth.or(default_depth),
            min_samples_split: hp.min_samples_split.unwrap_or(2),
            min_samples_leaf: hp.min_samples_leaf.unwrap_or(1),
            max_features: hp.max_features,
        };
        let (y_classes, y_values): (&[usize], &[f64]) = match &train.target {
            Target::Classes { y, .. } => (y, &[]),
            Target::Values(v) => (&[], v),
            Target::None => (&[], &[]),
        };
        let task_of = || match task {
            TaskKind::Classification => Task::Classes(k, y_classes),
            _ => Task::Values(y_values),
        };
        model.estimator = match algorithm {
            Algorithm::LinearRegression => {
                Estimator::Linear(linfa_models::linear_regression(&x, y_values)?)
            }
            Algorithm::LogisticRegression => {
                let c = positive("c", hp.c, 1.0)?;
                Estimator::Logistic(linfa_models::logistic_regression(
                    &x,
                    y_classes,
                    k,
                    1.0 / c,
                    hp.max_iterations.unwrap_or(100),
                )?)
            }
            Algorithm::NaiveBayes => {
                Estimator::NaiveBayes(linfa_models::naive_bayes(&x, y_classes)?)
            }
            Algorithm::Svm => {
                let kernel = match hp.kernel.as_deref().unwrap_or("rbf") {
                    "rbf" => Kernel::Rbf {
                        gamma: positive("gamma", hp.gamma, 1.0 / x.ncols().max(1) as f64)?,
                    },
                    "linear" => Kernel::Linear,
                    other => {
                        return Err(MlError::Invalid(format!(
                            "kernel '{other}' is not known: use \"rbf\" or \"linear\""
                        )));
                    }
                };
                Estimator::Svm(linfa_models::svm(
                    &x,
                    y_classes,
                    k,
                    kernel,
                    positive("c", hp.c, 1.0)?,
                )?)
            }
            Algorithm::Kmeans => {
                let centroids = linfa_models::kmeans(
                    &x,
                    hp.k.unwrap_or(8),
                    hp.n_init.unwrap_or(10),
                    hp.max_iterations.unwrap_or(300),
                    seed,
                )?;
                Estimator::Kmeans { centroids }
            }
            Algorithm::DecisionTree => {
                let rows = (0..x.nrows()).collect();
                Estimator::Tree(Tree::fit(&x, task_of(), rows, &tree_params(None), &mut rng))
            }
            Algorithm::RandomForest => {
                let params = ForestParams {
                    trees: hp.n_estimators.unwrap_or(100),
                    tree: tree_params(None),
                    bootstrap: hp.bootstrap.unwrap_or(true),
                };
                let total = params.trees;
                let forest = Forest::fit(&x, task_of(), &params, &mut rng, &mut |done, forest| {
                    let validation_score = progress_rows.as_ref().map(|v| {
                        score_of(&model_view(&model, Estimator::Forest(forest.clone())), v)
                    });
                    on_step(&Progress {
                        epoch: done,
                        total_epochs: total,
                        loss: None,
                        validation_loss: None,
                        validation_score,
                        learning_rate: None,
                    })
                })?;
                Estimator::Forest(forest)
            }
            Algorithm::GradientBoosting => {
                let params = BoostParams {
                    rounds: hp.n_estimators.unwrap_or(100),
                    learning_rate: positive("learning_rate", hp.learning_rate, 0.1)?,
                    subsample: positive("subsample", hp.subsample, 1.0)?.min(1.0),
                    tree: tree_params(Some(3)),
                    patience: hp.patience,
                };
                let (truth, loss) = match task {
                    TaskKind::Classification if k == 2 => (Truth::Classes(y_classes), Loss::Binary),
                    TaskKind::Classification => (Truth::Classes(y_classes), Loss::Multinomial(k)),
                    _ => (Truth::Values(y_values), Loss::Squared),
                };
                let scaled_validation = validation.map(|v| scaled(&model, &v.x));
                let validation_truth = validation.map(|v| truth_of(&v.target));
                let validation_pair = scaled_validation.as_ref().zip(validation_truth);
                let total = params.rounds;
                let booster = Booster::fit(
                    &x,
                    truth,
                    loss,
                    &params,
                    validation_pair,
                    &mut rng,
                    &mut |round, b| {
                        on_step(&Progress {
                            epoch: round.round,
                            total_epochs: total,
                            loss: Some(round.loss),
                            validation_loss: round.validation_loss,
                            validation_score: progress_rows.as_ref().map(|v| {
                                score_of(&model_view(&model, Estimator::Boosting(b.clone())), v)
                            }),
                            learning_rate: Some(b.learning_rate),
                        })
                    },
                )?;
                Estimator::Boosting(booster)
            }
            Algorithm::Mlp => {
                let defaults = MlpParams::default();
                let params = MlpParams {
                    hidden: hp.hidden_layers.clone().unwrap_or(defaults.hidden),
                    epochs: hp.epochs.unwrap_or(defaults.epochs),
                    batch_size: hp.batch_size.unwrap_or(defaults.batch_size),
                    learning_rate: positive(
                        "learning_rate",
                        hp.learning_rate,
                        defaults.learning_rate,
                    )?,
                    schedule: hp.schedule.clone().unwrap_or(Schedule::Constant),
                    alpha: hp.alpha.unwrap_or(defaults.alpha).max(0.0),
                    patience: hp.patience.unwrap_or(defaults.patience).max(1),
                    tol: hp.tol.unwrap_or(defaults.tol),
                };
                let targets = match task {
                    TaskKind::Classification => Targets::Classes(y_classes, k),
                    _ => Targets::Values(y_values),
                };
                let scaled_validation = validation.map(|v| scaled(&model, &v.x));
                let validation_pair = match (&scaled_validation, validation.map(|v| &v.target)) {
                    (Some(vx), Some(Target::Classes { y, .. })) => {
                        Some((vx, Targets::Classes(y, k)))
                    }
                    (Some(vx), Some(Target::Values(y))) => Some((vx, Targets::Values(y))),
                    _ => None,
                };
                let total = params.epochs;
                let net = Mlp::fit(
                    &x,
                    targets,
                    &params,
                    validation_pair,
                    &mut rng,
                    &mut |epoch, net| {
                        on_step(&Progress {
                            epoch: epoch.epoch,
                            total_epochs: total,
                            loss: Some(epoch.loss),
                            validation_loss: epoch.validation_loss,
                            validation_score: progress_rows.as_ref().map(|v| {
                                score_of(&model_view(&model, Estimator::Mlp(net.clone())), v)
                            }),
                            learning_rate: Some(epoch.learning_rate),
                        })
                    },
                )?;
                Estimator::Mlp(net)
            }
        };
        Ok(model)
    }

    /// Class probabilities (classification) or values per row, for rows
    /// of raw (unscaled) features in `self.features` order.
    pub fn predict(&self, x: &Array2<f64>) -> Result<Prediction, MlError> {
        if x.ncols() != self.features.len() {
            return Err(MlError::Invalid(format!(
                "rows have {} values; the model takes {} features: {}",
                x.ncols(),
                self.features.len(),
                self.features.join(", ")
            )));
        }
        if let Some(plain) = self.expanded() {
            return plain.predict(x);
        }
        let x = scaled(self, x);
        let per_row = |f: &dyn Fn(ndarray::ArrayView1<'_, f64>) -> Vec<f64>| -> Array2<f64> {
            let rows: Vec<Vec<f64>> = x.rows().into_iter().map(f).collect();
            let width = rows.first().map_or(0, Vec::len);
            Array2::from_shape_fn((rows.len(), width), |(i, j)| rows[i][j])
        };
        let k = self.classes.len();
        let out = match &self.estimator {
            Estimator::Linear(m) => m.raw(&x),
            Estimator::Logistic(m) => {
                let raw = m.raw(&x);
                if raw.ncols() == 1 {
                    Array2::from_shape_fn((raw.nrows(), 2), |(i, j)| {
                        let p = 1.0 / (1.0 + (-raw[[i, 0]]).exp());
                        if j == 1 { p } else { 1.0 - p }
                    })
                } else {
                    let mut p = raw;
                    for mut row in p.rows_mut() {
                        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        row.mapv_inplace(|v| (v - max).exp());
                        let total = row.sum();
                        row.mapv_inplace(|v| v / total);
                    }
                    p
                }
            }
            Estimator::Tree(t) => per_row(&|r| t.predict_row(r).to_vec()),
            Estimator::Forest(f) => per_row(&|r| f.predict_row(r)),
            Estimator::Boosting(b) => per_row(&|r| b.predict_row(r)),
            Estimator::NaiveBayes(nb) => linfa_models::naive_bayes_probabilities(nb, &x, k),
            Estimator::Svm(s) => linfa_models::svm_probabilities(s, &x, k),
            Estimator::Mlp(n) => n.predict(&x),
            Estimator::QuantizedLinear { .. } | Estimator::QuantizedMlp(_) => {
                return Err(MlError::Storage("a quantized model did not expand".into()));
            }
            Estimator::Kmeans { centroids } => {
                let assigned: Vec<f64> = x
                    .rows()
                    .into_iter()
                    .map(|row| {
                        let distance = |c: ndarray::ArrayView1<'_, f64>| -> f64 {
                            row.iter().zip(c.iter()).map(|(a, b)| (a - b).powi(2)).sum()
                        };
                        (0..centroids.nrows())
                            .min_by(|&a, &b| {
                                distance(centroids.row(a)).total_cmp(&distance(centroids.row(b)))
                            })
                            .unwrap_or(0) as f64
                    })
                    .collect();
                Array2::from_shape_vec((assigned.len(), 1), assigned).unwrap_or_default()
            }
        };
        Ok(match self.task {
            TaskKind::Classification => {
                let labels = out
                    .rows()
                    .into_iter()
                    .map(|r| {
                        (0..r.len())
                            .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                            .unwrap_or(0)
                    })
                    .collect();
                Prediction::Classes {
                    labels,
                    probabilities: out,
                }
            }
            TaskKind::Regression => Prediction::Values(out.column(0).to_vec()),
            TaskKind::Clustering => {
                Prediction::Clusters(out.column(0).iter().map(|v| *v as usize).collect())
            }
        })
    }

    /// Quality on `table`: accuracy, F1 and log-loss; R² and RMSE; or
    /// inertia.
    pub fn evaluate(&self, table: &Table) -> Result<serde_json::Map<String, Value>, MlError> {
        let mut m = serde_json::Map::new();
        match (self.predict(&table.x)?, &table.target) {
            (
                Prediction::Classes {
                    labels,
                    probabilities,
                },
                Target::Classes { y, .. },
            ) => {
                m.insert("accuracy".into(), metrics::accuracy(y, &labels).into());
                m.insert(
                    "f1".into(),
                    metrics::macro_f1(y, &labels, self.classes.len()).into(),
                );
                m.insert(
                    "log_loss".into(),
                    metrics::log_loss(y, &probabilities).into(),
                );
            }
            (Prediction::Values(values), Target::Values(y)) => {
                m.insert("r2".into(), metrics::r2(y, &values).into());
                m.insert("rmse".into(), metrics::rmse(y, &values).into());
            }
            (Prediction::Clusters(_), _) => {
                if let Estimator::Kmeans { centroids } = &self.estimator {
                    m.insert(
                        "inertia".into(),
                        metrics::inertia(&scaled(self, &table.x), centroids).into(),
                    );
                }
            }
            _ => {}
        }
        m.insert("rows".into(), table.rows().into());
        Ok(m)
    }

    /// Impurity importance per feature (trees, forests, boosting).
    pub fn impurity_importance(&self) -> Option<Vec<f64>> {
        let n = self.features.len();
        match &self.estimator {
            Estimator::Tree(t) => Some(crate::tree::normalised(&t.importance)),
            Estimator::Forest(f) => Some(f.importance(n)),
            Estimator::Boosting(b) => Some(b.importance(n)),
            _ => None,
        }
    }

    /// Per-feature contributions to one row's raw output (the value, or
    /// the logit of `class`), exact for linear models: `w_j · x_j` on the
    /// features as the model sees them (standardized when it scales), and
    /// the intercept as `base`; they add up to the raw output. `None` for
    /// other estimators.
    pub fn linear_contributions(
        &self,
        row: &[f64],
        class: Option<usize>,
    ) -> Option<(f64, Vec<f64>)> {
        let (Estimator::Linear(m) | Estimator::Logistic(m)) = &self.estimator else {
            return None;
        };
        let column = match (m.coefficients.ncols(), class) {
            (1, _) => 0,
            (_, Some(c)) => c,
            _ => 0,
        };
        let x = scaled(
            self,
            &Array2::from_shape_vec((1, row.len()), row.to_vec()).ok()?,
        );
        let contributions: Vec<f64> = (0..row.len())
            .map(|j| m.coefficients[[j, column]] * x[[0, j]])
            .collect();
        // A binary logit is class 1's; for class 0 it changes sign.
        let sign = if m.coefficients.ncols() == 1
            && class == Some(0)
            && self.task == TaskKind::Classification
        {
            -1.0
        } else {
            1.0
        };
        Some((
            sign * m.intercepts[column],
            contributions.iter().map(|c| sign * c).collect(),
        ))
    }

    /// Per-feature TreeSHAP values of one row's output (the predicted
    /// class's probability for trees and forests, its raw score — log-odds
    /// — for boosting; the value for regressors), with the expected output
    /// as `base`; they add up to the output. `None` for other estimators.
    pub fn tree_contributions(&self, row: &[f64], class: Option<usize>) -> Option<(f64, Vec<f64>)> {
        let x = scaled(
            self,
            &Array2::from_shape_vec((1, row.len()), row.to_vec()).ok()?,
        );
        let x = x.row(0);
        let n = self.features.len();
        let index = class.unwrap_or(0);
        let pick = move |v: &[f64]| v.get(index).copied().unwrap_or(0.0);
        let add = |into: &mut Vec<f64>, phi: Vec<f64>, factor: f64| {
            for (a, b) in into.iter_mut().zip(phi) {
                *a += factor * b;
            }
        };
        match &self.estimator {
            Estimator::Tree(t) => Some((
                crate::shap::expected(t, &pick),
                crate::shap::tree_shap(t, x, &pick, n),
            )),
            Estimator::Forest(f) => {
                let k = f.trees.len().max(1) as f64;
                let mut phi = vec![0.0; n];
                let mut base = 0.0;
                for t in &f.trees {
                    base += crate::shap::expected(t, &pick) / k;
                    add(&mut phi, crate::shap::tree_shap(t, x, &pick, n), 1.0 / k);
                }
                Some((base, phi))
            }
            Estimator::Boosting(b) => {
                // Binary boosting has one score, class 1's log-odds.
                let (score, sign) = match (b.loss, class) {
                    (crate::boosting::Loss::Binary, Some(0)) => (0, -1.0),
                    (crate::boosting::Loss::Multinomial(_), Some(c)) => (c, 1.0),
                    _ => (0, 1.0),
                };
                let first = |v: &[f64]| v[0];
                let mut phi = vec![0.0; n];
                let mut base = b.init[score];
                for trees in &b.rounds {
                    base += b.learning_rate * crate::shap::expected(&trees[score], &first);
                    add(
                        &mut phi,
                        crate::shap::tree_shap(&trees[score], x, &first, n),
                        b.learning_rate,
                    );
                }
                Some((sign * base, phi.into_iter().map(|v| sign * v).collect()))
            }
            _ => None,
        }
    }

    /// A quantized model's full-precision stand-in (weights multiplied
    /// back), which predicts what it predicts.
    fn expanded(&self) -> Option<Model> {
        let estimator = match &self.estimator {
            Estimator::QuantizedLinear {
                logistic: true,
                model,
            } => Estimator::Logistic(model.expand()),
            Estimator::QuantizedLinear {
                logistic: false,
                model,
            } => Estimator::Linear(model.expand()),
            Estimator::QuantizedMlp(q) => Estimator::Mlp(q.expand()),
            _ => return None,
        };
        Some(model_view(self, estimator))
    }

    /// The same model with int8 weights, and the bytes of its weights
    /// before and after; `None` for estimators it does not apply to.
    pub fn quantized(&self) -> Option<(Model, (usize, usize))> {
        use crate::quantize::{QuantizedLinear, QuantizedMlp, weight_bytes};
        let (estimator, bytes) = match &self.estimator {
            Estimator::Linear(m) | Estimator::Logistic(m) => {
                let q = QuantizedLinear::new(m);
                let bytes = weight_bytes(&[&q.coefficients]);
                (
                    Estimator::QuantizedLinear {
                        logistic: matches!(self.estimator, Estimator::Logistic(_)),
                        model: q,
                    },
                    bytes,
                )
            }
            Estimator::Mlp(net) => {
                let q = QuantizedMlp::new(net);
                let bytes = weight_bytes(&q.layers.iter().map(|(w, _)| w).collect::<Vec<_>>());
                (Estimator::QuantizedMlp(q), bytes)
            }
            _ => return None,
        };
        Some((model_view(self, estimator), bytes))
    }

    /// The stored bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MlError> {
        serde_json::to_vec(self)
            .map_err(|e| MlError::Storage(format!("model could not be serialized: {e}")))
    }

    /// A model from stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MlError> {
        let model: Model = serde_json::from_slice(bytes)
            .map_err(|e| MlError::Storage(format!("stored model could not be read: {e}")))?;
        if model.format > FORMAT {
            return Err(MlError::Invalid(format!(
                "the model is in format {}, newer than this engine's {FORMAT}: upgrade the ml plugin",
                model.format
            )));
        }
        Ok(model)
    }
}

/// What a model predicted.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// Class index per row and class probabilities (rows × classes).
    Classes {
        /// Most probable class per row.
        labels: Vec<usize>,
        /// Probabilities.
        probabilities: Array2<f64>,
    },
    /// A value per row.
    Values(Vec<f64>),
    /// A cluster per row.
    Clusters(Vec<usize>),
}

fn scaled(model: &Model, x: &Array2<f64>) -> Array2<f64> {
    match &model.scaler {
        Some(s) => s.apply(x),
        None => x.clone(),
    }
}

fn truth_of(target: &Target) -> Truth<'_> {
    match target {
        Target::Classes { y, .. } => Truth::Classes(y),
        Target::Values(v) => Truth::Values(v),
        Target::None => Truth::Values(&[]),
    }
}

/// A model sharing `base`'s description with another estimator: how a
/// half-trained estimator is scored.
fn model_view(base: &Model, estimator: Estimator) -> Model {
    Model {
        format: base.format,
        algorithm: base.algorithm,
        task: base.task,
        features: base.features.clone(),
        classes: base.classes.clone(),
        scaler: base.scaler.clone(),
        estimator,
    }
}

/// Accuracy or R² of `model` on `table` (NaN if it cannot predict).
fn score_of(model: &Model, table: &Table) -> f64 {
    match (model.predict(&table.x), &table.target) {
        (Ok(Prediction::Classes { labels, .. }), Target::Classes { y, .. }) => {
            metrics::accuracy(y, &labels)
        }
        (Ok(Prediction::Values(v)), Target::Values(y)) => metrics::r2(y, &v),
        _ => f64::NAN,
    }
}

/// Rows of JSON numbers (or booleans) as a matrix `width` wide.
pub fn rows_matrix(rows: &[Vec<Value>], width: usize) -> Result<Array2<f64>, MlError> {
    let mut x = Array2::zeros((rows.len(), width));
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(MlError::Invalid(format!(
                "row {i} has {} values; the model takes {width} features",
                row.len()
            )));
        }
        for (j, v) in row.iter().enumerate() {
            x[[i, j]] = match v {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                Value::Bool(b) => f64::from(u8::from(*b)),
                other => {
                    return Err(MlError::Invalid(format!(
                        "row {i}, feature {j} is {other}; features must be numbers or booleans"
                    )));
                }
            };
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Table {
        let x = Array2::from_shape_fn((120, 2), |(i, j)| {
            (i % 3) as f64 * 4.0 + ((i * 13 + j * 7) % 10) as f64 * 0.1
        });
        let y: Vec<usize> = (0..120).map(|i| i % 3).collect();
        Table {
            features: vec!["a".into(), "b".into()],
            x,
            target: Target::Classes {
                classes: vec!["x".into(), "y".into(), "z".into()],
                y,
            },
        }
    }

    #[test]
    fn every_classifier_separates_blobs_and_round_trips_through_its_stored_form() {
        let table = blobs();
        for algorithm in [
            Algorithm::LogisticRegression,
            Algorithm::DecisionTree,
            Algorithm::RandomForest,
            Algorithm::GradientBoosting,
            Algorithm::NaiveBayes,
            Algorithm::Svm,
            Algorithm::Mlp,
        ] {
            let hp = Hyperparameters {
                n_estimators: Some(10),
                epochs: Some(50),
                learning_rate: None,
                ..Default::default()
            };
            let hp = if algorithm == Algorithm::Mlp {
                Hyperparameters {
                    learning_rate: Some(0.01),
                    ..hp
                }
            } else {
                hp
            };
            let mut steps = 0;
            let model = Model::train(
                algorithm,
                TaskKind::Classification,
                &table,
                None,
                &hp,
                1,
                &mut |_| {
                    steps += 1;
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
            let metrics = model.evaluate(&table).expect("evaluate");
            assert!(
                metrics["accuracy"].as_f64().unwrap_or(0.0) > 0.95,
                "{algorithm:?}: {metrics:?}"
            );
            let again = Model::from_bytes(&model.to_bytes().expect("bytes")).expect("read back");
            assert_eq!(
                again.predict(&table.x).ok(),
                model.predict(&table.x).ok(),
                "{algorithm:?}"
            );
            if matches!(
                algorithm,
                Algorithm::RandomForest | Algorithm::GradientBoosting | Algorithm::Mlp
            ) {
                assert!(steps >= 10, "{algorithm:?} reported {steps} steps");
            }
        }
    }

    #[test]
    fn a_row_of_the_wrong_width_is_refused_by_name() {
        let table = blobs();
        let model = Model::train(
            Algorithm::NaiveBayes,
            TaskKind::Classification,
            &table,
            None,
            &Hyperparameters::default(),
            1,
            &mut |_| Ok(()),
        )
        .expect("model");
        let err = model
            .predict(&ndarray::array![[1.0, 2.0, 3.0]])
            .expect_err("too wide");
        assert!(
            err.to_string().contains("the model takes 2 features: a, b"),
            "{err}"
        );
    }

    #[test]
    fn linear_contributions_add_up_to_the_raw_output() {
        let x = Array2::from_shape_fn((30, 2), |(i, j)| (i + j * 5) as f64 % 7.0);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 2.0 * r[0] + r[1] - 1.0)
            .collect();
        let table = Table {
            features: vec!["a".into(), "b".into()],
            x,
            target: Target::Values(y),
        };
        let model = Model::train(
            Algorithm::LinearRegression,
            TaskKind::Regression,
            &table,
            None,
            &Hyperparameters::default(),
            1,
            &mut |_| Ok(()),
        )
        .expect("model");
        let (base, parts) = model
            .linear_contributions(&[3.0, 4.0], None)
            .expect("linear");
        assert!(
            (base + parts.iter().sum::<f64>() - 9.0).abs() < 1e-8,
            "{base} {parts:?}"
        );
    }
}
