//! The operator tree a query becomes, with the fields each operator puts
//! out and how `EXPLAIN` prints it. Building the tree is [`super::bind`];
//! running it is [`super::exec`].

use std::fmt::Write;

use super::aggregate::AggCall;
use super::expr::BExpr;
use super::window::WindowCall;
use crate::table::Field;

/// One sort key.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// What to sort by.
    pub expr: BExpr,
    /// Descending.
    pub descending: bool,
    /// NULLs before other values (DuckDB's default is last).
    pub nulls_first: bool,
}

/// How a join keeps rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Matching pairs only.
    Inner,
    /// Every left row, NULLs where nothing matched.
    Left,
}

/// What `TABLESAMPLE` keeps: each row with probability `fraction`
/// (Bernoulli), or exactly `rows` of them (a simple random sample), chosen
/// by a hash of `seed` and the row's position so a query repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSpec {
    /// The dataset sampled (for the answer's account).
    pub dataset: String,
    /// Probability of keeping a row, in (0, 1].
    pub fraction: Option<f64>,
    /// Or the number of rows kept.
    pub rows: Option<u64>,
    /// `REPEATABLE (seed)`; 0 when not given.
    pub seed: u64,
}

/// An operator and its inputs.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Debug)]
pub enum Plan {
    /// Reads `columns` of dataset `dataset`.
    Scan {
        dataset: String,
        alias: String,
        columns: Vec<String>,
        rows: u64,
    },
    /// One row of no columns (`SELECT 1`).
    Single,
    /// A seeded random sample of its input (`TABLESAMPLE`).
    Sample {
        input: Box<Plan>,
        sample: SampleSpec,
    },
    /// Rows where `predicate` is true.
    Filter { input: Box<Plan>, predicate: BExpr },
    /// Computes `exprs`, named by `fields`.
    Project {
        input: Box<Plan>,
        exprs: Vec<BExpr>,
        fields: Vec<Field>,
    },
    /// Groups by `keys` once per grouping set (indices into `keys`); puts
    /// out the keys (NULL where a set leaves one out), the aggregates, then
    /// one `GROUPING(…)` value per entry of `groupings` (key indices).
    Aggregate {
        input: Box<Plan>,
        keys: Vec<BExpr>,
        sets: Vec<Vec<usize>>,
        calls: Vec<(AggCall, Option<BExpr>)>,
        groupings: Vec<Vec<usize>>,
        fields: Vec<Field>,
    },
    /// Appends one column per window call.
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
        fields: Vec<Field>,
    },
    /// Hash join on `left_keys = right_keys`, then `residual` over the
    /// pair (left fields then right fields); a nested loop without keys.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        left_keys: Vec<BExpr>,
        right_keys: Vec<BExpr>,
        residual: Option<BExpr>,
    },
    /// Orders rows.
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    /// Skips `offset` rows and keeps at most `limit`.
    Limit {
        input: Box<Plan>,
        offset: usize,
        limit: Option<usize>,
    },
    /// Drops repeated rows.
    Distinct { input: Box<Plan> },
    /// Rows of every input in turn (`UNION ALL`; `UNION` adds a Distinct).
    Union { inputs: Vec<Plan> },
    /// Renames the table of every field (a derived table's or CTE's alias).
    Alias {
        input: Box<Plan>,
        alias: String,
        names: Vec<String>,
    },
}

impl Plan {
    /// The fields it puts out.
    pub fn fields(&self) -> Vec<Field> {
        match self {
            Self::Scan { alias, columns, .. } => {
                columns.iter().map(|c| Field::new(Some(alias), c)).collect()
            }
            Self::Single => Vec::new(),
            Self::Filter { input, .. }
            | Self::Sort { input, .. }
            | Self::Limit { input, .. }
            | Self::Sample { input, .. }
            | Self::Distinct { input } => input.fields(),
            Self::Project { fields, .. } | Self::Aggregate { fields, .. } => fields.clone(),
            Self::Window { input, fields, .. } => {
                let mut all = input.fields();
                all.extend(fields.iter().cloned());
                all
            }
            Self::Join { left, right, .. } => {
                let mut all = left.fields();
                all.extend(right.fields());
                all
            }
            Self::Union { inputs } => inputs.first().map(Plan::fields).unwrap_or_default(),
            Self::Alias { alias, names, .. } => {
                names.iter().map(|n| Field::new(Some(alias), n)).collect()
            }
        }
    }

    /// Rows it is expected to put out, for `EXPLAIN` and join order.
    pub fn estimated_rows(&self) -> u64 {
        match self {
            Self::Scan { rows, .. } => *rows,
            Self::Single => 1,
            Self::Sample { input, sample } => {
                let n = input.estimated_rows();
                match (sample.fraction, sample.rows) {
                    (_, Some(rows)) => n.min(rows),
                    (Some(f), None) => (n as f64 * f).ceil() as u64,
                    (None, None) => n,
                }
            }
            // A filter keeps a third, a group by a tenth: the textbook
            // guesses, until chunk statistics say better.
            Self::Filter { input, .. } => input.estimated_rows() / 3 + 1,
            Self::Aggregate {
                input, keys, sets, ..
            } => {
                if keys.is_empty() {
                    1
                } else {
                    (input.estimated_rows() / 10 + 1) * sets.len() as u64
                }
            }
            Self::Project { input, .. }
            | Self::Window { input, .. }
            | Self::Sort { input, .. }
            | Self::Alias { input, .. } => input.estimated_rows(),
            Self::Distinct { input } => input.estimated_rows() / 2 + 1,
            Self::Limit { input, limit, .. } => {
                let n = input.estimated_rows();
                limit.map_or(n, |l| n.min(l as u64))
            }
            Self::Join {
                left,
                right,
                left_keys,
                ..
            } => {
                let (l, r) = (left.estimated_rows(), right.estimated_rows());
                if left_keys.is_empty() {
                    l.saturating_mul(r)
                } else {
                    l.max(r)
                }
            }
            Self::Union { inputs } => inputs.iter().map(Plan::estimated_rows).sum(),
        }
    }

    /// The tree as `EXPLAIN` shows it, one operator per line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let list = |exprs: &[BExpr]| {
            exprs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let line = match self {
            Self::Scan {
                dataset,
                alias,
                columns,
                rows,
            } => format!(
                "Scan {dataset}{} columns=[{}] rows={rows}",
                if alias == dataset {
                    String::new()
                } else {
                    format!(" AS {alias}")
                },
                columns.join(", ")
            ),
            Self::Single => "Single row".into(),
            Self::Sample { sample, .. } => match (sample.fraction, sample.rows) {
                (_, Some(rows)) => {
                    format!("Sample {rows} rows (simple random) seed={}", sample.seed)
                }
                (fraction, None) => format!(
                    "Sample bernoulli {}% seed={}",
                    fraction.unwrap_or(1.0) * 100.0,
                    sample.seed
                ),
            },
            Self::Filter { predicate, input } => match input.as_ref() {
                Self::Scan { columns, .. } => {
                    let ranges = super::zone::ranges(predicate, columns);
                    if ranges.is_empty() {
                        format!("Filter {predicate}")
                    } else {
                        let shown: Vec<String> = ranges.iter().map(ToString::to_string).collect();
                        format!(
                            "Filter {predicate} zone_map=[{}] (chunks whose min/max rule it out are not read)",
                            shown.join(", ")
                        )
                    }
                }
                _ => format!("Filter {predicate}"),
            },
            Self::Project { fields, .. } => format!(
                "Project [{}]",
                fields
                    .iter()
                    .map(|f| f.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Aggregate {
                keys, sets, calls, ..
            } => {
                let aggs: Vec<String> = calls
                    .iter()
                    .map(|(c, arg)| {
                        format!(
                            "{:?}({}{})",
                            c.func,
                            if c.distinct { "DISTINCT " } else { "" },
                            arg.as_ref().map_or("*".into(), ToString::to_string)
                        )
                    })
                    .collect();
                let grouping = if sets.len() > 1 {
                    format!(" sets={sets:?}")
                } else {
                    String::new()
                };
                format!(
                    "HashAggregate keys=[{}]{grouping} aggregates=[{}]",
                    list(keys),
                    aggs.join(", ")
                )
            }
            Self::Window { calls, .. } => format!(
                "Window [{}]",
                calls
                    .iter()
                    .map(WindowCall::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Join {
                kind,
                left_keys,
                right_keys,
                residual,
                left,
                right,
            } => {
                let how = if left_keys.is_empty() {
                    "NestedLoopJoin".to_owned()
                } else {
                    format!("HashJoin on [{}] = [{}]", list(left_keys), list(right_keys))
                };
                let filter = residual
                    .as_ref()
                    .map_or(String::new(), |r| format!(" filter {r}"));
                let (l, r) = (left.estimated_rows(), right.estimated_rows());
                // An inner join builds its hash table on the smaller side
                // (by the rows each side turns out to have; the estimate
                // shown is the planner's); a left join on the right.
                let build = match kind {
                    JoinKind::Inner if l < r => format!("left, smaller: est. {l} vs {r} rows"),
                    JoinKind::Inner => format!("right, smaller: est. {r} vs {l} rows"),
                    JoinKind::Left => "right, to keep every left row".to_owned(),
                };
                format!("{how} {kind:?}{filter} (build: {build})")
            }
            Self::Sort { keys, .. } => format!(
                "Sort [{}]",
                keys.iter()
                    .map(|k| format!("{}{}", k.expr, if k.descending { " DESC" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Limit { offset, limit, .. } => format!(
                "Limit {} offset {offset}",
                limit.map_or("all".into(), |l| l.to_string())
            ),
            Self::Distinct { .. } => "Distinct".into(),
            Self::Union { .. } => "Union all".into(),
            Self::Alias { alias, .. } => format!("Alias {alias}"),
        };
        let _ = writeln!(out, "{pad}{line}  (~{} rows)", self.estimated_rows());
        for child in self.children() {
            child.write(out, depth + 1);
        }
    }

    fn children(&self) -> Vec<&Plan> {
        match self {
            Self::Scan { .. } | Self::Single => Vec::new(),
            Self::Filter { input, .. }
            | Self::Project { input, .. }
            | Self::Aggregate { input, .. }
            | Self::Window { input, .. }
            | Self::Sort { input, .. }
            | Self::Limit { input, .. }
            | Self::Distinct { input }
            | Self::Sample { input, .. }
            | Self::Alias { input, .. } => vec![input],
            Self::Join { left, right, .. } => vec![left, right],
            Self::Union { inputs } => inputs.iter().collect(),
        }
    }

    /// Rows the scans under it read, for progress.
    pub fn scanned_rows(&self) -> u64 {
        match self {
            Self::Scan { rows, .. } => *rows,
            other => other.children().iter().map(|c| c.scanned_rows()).sum(),
        }
    }
}
