//! Training data: a host dataset's columns as a feature matrix and a
//! target (class indices or values), seeded train/validation splits and
//! standard scaling. Must not know about models or JSON params beyond the
//! labels it reports.

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_sdk::{ColumnValues, Host};

use crate::MlError;

/// What is being predicted.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Class indices into `classes` (sorted: numbers ascending, then text).
    Classes {
        /// Class labels as they appear in the data.
        classes: Vec<Value>,
        /// Each row's class index.
        y: Vec<usize>,
    },
    /// Real values.
    Values(Vec<f64>),
    /// None (clustering).
    None,
}

impl Target {
    /// Rows kept, in the order given.
    pub fn select(&self, rows: &[usize]) -> Self {
        match self {
            Self::Classes { classes, y } => Self::Classes {
                classes: classes.clone(),
                y: rows.iter().map(|&r| y[r]).collect(),
            },
            Self::Values(v) => Self::Values(rows.iter().map(|&r| v[r]).collect()),
            Self::None => Self::None,
        }
    }
}

/// A feature matrix (rows × features) and its target.
#[derive(Clone, Debug)]
pub struct Table {
    /// Feature names, in column order.
    pub features: Vec<String>,
    /// Features.
    pub x: Array2<f64>,
    /// Target.
    pub target: Target,
}

impl Table {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// The rows given, in that order.
    pub fn select(&self, rows: &[usize]) -> Self {
        Self {
            features: self.features.clone(),
            x: self.x.select(Axis(0), rows),
            target: self.target.select(rows),
        }
    }

    /// Splits off a seeded random `fraction` of rows for validation
    /// (`(train, None)` when the fraction leaves none).
    pub fn split(&self, fraction: f64, seed: u64) -> (Self, Option<Self>) {
        let n = self.rows();
        let held = ((n as f64) * fraction).round() as usize;
        if held == 0 || held >= n {
            return (self.clone(), None);
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed));
        let (validation, train) = order.split_at(held);
        (self.select(train), Some(self.select(validation)))
    }
}

/// How the target column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Labels: text, booleans or integers (or whole-valued floats).
    Classes,
    /// Numbers.
    Values,
    /// No target column.
    None,
}

/// One column read whole.
enum Column {
    Numbers(Vec<f64>),
    Text(Vec<String>),
}

fn read_column(
    host: &dyn Host,
    dataset: &str,
    column: &str,
    chunks: &[u32],
) -> Result<(Column, usize), MlError> {
    let mut numbers = Vec::new();
    let mut text = Vec::new();
    let mut is_text = false;
    let mut nulls = 0usize;
    let mut first_null = None;
    for &chunk in chunks {
        let read = host.read_chunk(dataset, column, chunk).map_err(|e| match e {
            weft_sdk::StorageFailure::NotFound(_) => MlError::Invalid(format!(
                "dataset '{dataset}' has no column '{column}': name one of its columns (GET /api/v1/datasets/{dataset})"
            )),
            other => other.into(),
        })?;
        let offset = numbers.len() + text.len();
        for (i, ok) in read.valid.iter().enumerate() {
            if !ok {
                nulls += 1;
                first_null.get_or_insert(offset + i);
            }
        }
        match read.values {
            ColumnValues::Text(values) => {
                is_text = true;
                text.extend(values);
            }
            other => match other.to_f64() {
                Some(values) => numbers.extend(values),
                None => {
                    return Err(MlError::Invalid(format!(
                        "column '{column}' holds binary values; ML columns must be numbers, booleans or (for the target) text"
                    )));
                }
            },
        }
    }
    if let Some(row) = first_null {
        return Err(MlError::Invalid(format!(
            "column '{column}' has {nulls} null value(s), the first at row {row}: fill them or leave the column out of features"
        )));
    }
    if is_text {
        if !numbers.is_empty() {
            return Err(MlError::Invalid(format!(
                "column '{column}' mixes text and numbers across chunks"
            )));
        }
        let n = text.len();
        Ok((Column::Text(text), n))
    } else {
        let n = numbers.len();
        Ok((Column::Numbers(numbers), n))
    }
}

/// Reads `features` (all columns but the target when `None`) and
/// `target` of dataset `dataset`.
pub fn read_table(
    host: &dyn Host,
    dataset: &str,
    target: Option<&str>,
    features: Option<&[String]>,
    target_kind: TargetKind,
) -> Result<Table, MlError> {
    read_table_chunks(host, dataset, target, features, target_kind, None)
}

/// Like [`read_table`], reading only `chunks` (e.g. one partition's) when
/// given.
pub fn read_table_chunks(
    host: &dyn Host,
    dataset: &str,
    target: Option<&str>,
    features: Option<&[String]>,
    target_kind: TargetKind,
    chunks: Option<&[u32]>,
) -> Result<Table, MlError> {
    let shape = host.dataset_shape(dataset).map_err(|e| match e {
        weft_sdk::StorageFailure::NotFound(_) => MlError::NotFound(format!(
            "no dataset '{dataset}': upload it first with POST /api/v1/datasets/{dataset}"
        )),
        other => other.into(),
    })?;
    if shape.rows == 0 {
        return Err(MlError::Invalid(format!(
            "dataset '{dataset}' is empty: upload rows before training"
        )));
    }
    if let Some(t) = target
        && !shape.columns.iter().any(|c| c == t)
    {
        return Err(MlError::Invalid(format!(
            "dataset '{dataset}' has no target column '{t}'; its columns are: {}",
            shape.columns.join(", ")
        )));
    }
    let features: Vec<String> = match features {
        Some([]) => {
            return Err(MlError::Invalid("features is empty: name at least one column, or leave it out to use all but the target".into()));
        }
        Some(list) => list.to_vec(),
        None => shape
            .columns
            .iter()
            .filter(|c| Some(c.as_str()) != target)
            .cloned()
            .collect(),
    };
    if features.is_empty() {
        return Err(MlError::Invalid(format!(
            "dataset '{dataset}' has no columns besides the target to learn from"
        )));
    }
    if let Some(t) = target
        && features.iter().any(|f| f == t)
    {
        return Err(MlError::Invalid(format!(
            "the target '{t}' is also listed in features: leave it out of features"
        )));
    }
    let all: Vec<u32> = (0..shape.chunks).collect();
    let chunks = chunks.unwrap_or(&all);
    let mut rows = None;
    let mut columns = Vec::with_capacity(features.len());
    for name in &features {
        match read_column(host, dataset, name, chunks)? {
            (Column::Numbers(values), n) if rows.is_none_or(|r| r == n) => {
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(MlError::Invalid(format!(
                        "column '{name}' holds a non-finite number at row {i}: clean it or leave the column out"
                    )));
                }
                rows = Some(n);
                columns.push(values);
            }
            (Column::Text(_), _) => {
                return Err(MlError::Invalid(format!(
                    "feature '{name}' is text; features must be numbers or booleans: encode it as numbers or leave it out of features"
                )));
            }
            (_, n) => {
                return Err(MlError::Storage(format!(
                    "column '{name}' has {n} rows, the others {}",
                    rows.unwrap_or(0)
                )));
            }
        }
    }
    let rows = rows.unwrap_or(0);
    if rows == 0 {
        return Err(MlError::Invalid(format!(
            "the part of dataset '{dataset}' read has no rows"
        )));
    }
    let mut x = Array2::<f64>::zeros((rows, features.len()));
    for (j, values) in columns.into_iter().enumerate() {
        x.column_mut(j).assign(&ndarray::Array1::from(values));
    }
    let target = match (target, target_kind) {
        (None, _) | (_, TargetKind::None) => Target::None,
        (Some(name), kind) => {
            let (column, _) = read_column(host, dataset, name, chunks)?;
            target_from(name, column, kind)?
        }
    };
    Ok(Table {
        features,
        x,
        target,
    })
}

fn target_from(name: &str, column: Column, kind: TargetKind) -> Result<Target, MlError> {
    match (column, kind) {
        (Column::Text(labels), TargetKind::Classes) => {
            let mut classes: Vec<String> = labels.clone();
            classes.sort();
            classes.dedup();
            let y = labels
                .iter()
                .map(|l| classes.binary_search(l).unwrap_or_default())
                .collect();
            Ok(Target::Classes {
                classes: classes.into_iter().map(Value::String).collect(),
                y,
            })
        }
        (Column::Text(_), _) => Err(MlError::Invalid(format!(
            "target '{name}' is text, so it can only be a class label: use a classifier (or \"task\": \"classification\")"
        ))),
        (Column::Numbers(values), TargetKind::Classes) => {
            if let Some(i) = values
                .iter()
                .position(|v| v.fract() != 0.0 || !v.is_finite())
            {
                return Err(MlError::Invalid(format!(
                    "target '{name}' has the non-integer value {} at row {i}; class labels must be whole numbers or text (for values use \"task\": \"regression\")",
                    values[i]
                )));
            }
            let mut classes = values.clone();
            classes.sort_by(f64::total_cmp);
            classes.dedup();
            let y = values
                .iter()
                .map(|v| {
                    classes
                        .binary_search_by(|c| c.total_cmp(v))
                        .unwrap_or_default()
                })
                .collect();
            Ok(Target::Classes {
                classes: classes.into_iter().map(|c| Value::from(c as i64)).collect(),
                y,
            })
        }
        (Column::Numbers(values), _) => Ok(Target::Values(values)),
    }
}

/// Per-feature mean and standard deviation, to centre and scale features
/// as scikit-learn's `StandardScaler` does (a constant feature keeps a
/// scale of 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Means.
    pub mean: Vec<f64>,
    /// Standard deviations (population).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits to the columns of `x`.
    pub fn fit(x: &Array2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
        let scale = x
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| {
                let var = c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
                if var > 0.0 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Self { mean, scale }
    }

    /// `x` centred and scaled.
    pub fn apply(&self, x: &Array2<f64>) -> Array2<f64> {
        let mut out = x.clone();
        for (j, mut column) in out.columns_mut().into_iter().enumerate() {
            column.mapv_inplace(|v| (v - self.mean[j]) / self.scale[j]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::RecordingHost;

    #[test]
    fn text_labels_become_sorted_classes_and_text_features_are_refused() {
        let host = RecordingHost::new().with_dataset(
            "d",
            vec![
                ("a", ColumnValues::F64(vec![1.0, 2.0, 3.0])),
                ("b", ColumnValues::I64(vec![4, 5, 6])),
                (
                    "label",
                    ColumnValues::Text(vec!["z".into(), "a".into(), "z".into()]),
                ),
            ],
        );
        let table =
            read_table(&host, "d", Some("label"), None, TargetKind::Classes).expect("table");
        assert_eq!(table.features, ["a", "b"]);
        assert_eq!(table.x[[2, 1]], 6.0);
        assert_eq!(
            table.target,
            Target::Classes {
                classes: vec![Value::from("a"), Value::from("z")],
                y: vec![1, 0, 1]
            }
        );
        let err =
            read_table(&host, "d", Some("b"), None, TargetKind::Values).expect_err("text feature");
        assert!(err.to_string().contains("feature 'label' is text"), "{err}");
        let err =
            read_table(&host, "d", Some("nope"), None, TargetKind::Values).expect_err("no column");
        assert!(err.to_string().contains("no target column 'nope'"), "{err}");
    }

    #[test]
    fn a_split_is_seeded_and_disjoint() {
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let table = Table {
            features: vec!["i".into()],
            x,
            target: Target::None,
        };
        let (train, validation) = table.split(0.2, 7);
        let validation = validation.expect("validation rows");
        assert_eq!((train.rows(), validation.rows()), (80, 20));
        let mut all: Vec<f64> = train.x.iter().chain(validation.x.iter()).copied().collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(all, (0..100).map(f64::from).collect::<Vec<_>>());
        let (again, _) = table.split(0.2, 7);
        assert_eq!(again.x, train.x);
        assert!(table.split(0.0, 7).1.is_none());
    }

    #[test]
    fn the_scaler_matches_standard_scaling() {
        let x = ndarray::array![[1.0, 5.0], [3.0, 5.0]];
        let s = Scaler::fit(&x);
        assert_eq!(s.mean, [2.0, 5.0]);
        assert_eq!(s.scale, [1.0, 1.0]);
        assert_eq!(s.apply(&x), ndarray::array![[-1.0, 0.0], [1.0, 0.0]]);
    }
}
