//! Workload analysis: what each query was (its normalised shape, the
//! datasets it read, the columns its `WHERE` compares with literals), how
//! it ran (latency, rows scanned and returned, cache use), and, over a log
//! of them, the patterns (frequent and slow shapes) and the candidates for
//! a recommendation: a cache for a query recomputed again and again, a
//! partitioning for a low-cardinality column queries pick one value of, a
//! sort order (zone maps) for a column queries take ranges of.
//!
//! Plain functions over records; the `workload` operation reads the log
//! from storage and measures each candidate (selectivity, distinct
//! counts, hit latencies) through the SQL engine before recommending it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sqlparser::ast::{BinaryOperator, Expr, InTarget, SetExpr, Statement, TableFactor};

/// A `WHERE` comparison of a dataset column with literals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    /// The dataset the column belongs to.
    pub dataset: String,
    /// The column.
    pub column: String,
    /// `eq` (=, IN) or `range` (<, <=, >, >=, BETWEEN).
    pub kind: String,
    /// The comparison as SQL, to measure how much it keeps.
    pub sql: String,
}

/// One query, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// When it finished (ms since the epoch).
    pub at_ms: i64,
    /// Normalised text (at most 4 KiB of it).
    pub query: String,
    /// Its shape: literals as `?`.
    pub shape: String,
    /// Datasets it read.
    pub datasets: Vec<String>,
    /// Wall time, ms.
    pub latency_ms: f64,
    /// Rows its scans read (0 when served from the cache).
    pub rows_scanned: u64,
    /// Rows it answered.
    pub rows_returned: u64,
    /// `hit`, `miss` or `off`.
    pub cache: String,
    /// Its column-versus-literal comparisons.
    pub predicates: Vec<Predicate>,
}

/// The comparisons of `statement`'s top-level `WHERE` (through `AND`,
/// `OR` and parentheses) of a column with literals, each with the dataset
/// it belongs to: the one table of `FROM`, or the one a qualifier names.
pub fn predicates(statement: &Statement) -> Vec<Predicate> {
    let query = match statement {
        Statement::Query(q) => q,
        _ => return Vec::new(),
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Vec::new();
    };
    // Alias or name → dataset.
    let mut tables: HashMap<String, String> = HashMap::new();
    let mut count = 0;
    for from in &select.from {
        for factor in std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
        {
            count += 1;
            if let TableFactor::Table { name, alias, .. } = factor {
                let dataset = name.to_string().trim_matches('"').to_owned();
                tables.insert(dataset.to_lowercase(), dataset.clone());
                if let Some(a) = alias {
                    tables.insert(a.name.value.to_lowercase(), dataset);
                }
            }
        }
    }
    let single = if count == 1 {
        tables.values().next().cloned()
    } else {
        None
    };
    let mut out = Vec::new();
    if let Some(selection) = &select.selection {
        walk(selection, &tables, single.as_deref(), &mut out);
    }
    out
}

fn column_of(
    expr: &Expr,
    tables: &HashMap<String, String>,
    single: Option<&str>,
) -> Option<(String, String)> {
    match expr {
        Expr::Identifier(id) => single.map(|d| (d.to_owned(), id.value.clone())),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => tables
            .get(&parts[0].value.to_lowercase())
            .map(|d| (d.clone(), parts[1].value.clone())),
        Expr::Nested(e) => column_of(e, tables, single),
        _ => None,
    }
}

fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) | Expr::TypedString { .. } => true,
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => is_literal(expr),
        Expr::Cast { expr, .. } => is_literal(expr),
        _ => false,
    }
}

fn walk(
    expr: &Expr,
    tables: &HashMap<String, String>,
    single: Option<&str>,
    out: &mut Vec<Predicate>,
) {
    let mut push = |column: Option<(String, String)>, kind: &str| {
        if let Some((dataset, column)) = column {
            out.push(Predicate {
                dataset,
                column,
                kind: kind.to_owned(),
                sql: expr.to_string(),
            });
        }
    };
    match expr {
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And | BinaryOperator::Or => {
                walk(left, tables, single, out);
                walk(right, tables, single, out);
            }
            BinaryOperator::Eq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let kind = if *op == BinaryOperator::Eq {
                    "eq"
                } else {
                    "range"
                };
                if is_literal(right) {
                    push(column_of(left, tables, single), kind);
                } else if is_literal(left) {
                    push(column_of(right, tables, single), kind);
                }
            }
            _ => {}
        },
        Expr::Between {
            expr: e,
            negated: false,
            low,
            high,
        } if is_literal(low) && is_literal(high) => push(column_of(e, tables, single), "range"),
        Expr::In {
            expr: e,
            target: InTarget::List(list),
            negated: false,
            ..
        } if list.iter().all(is_literal) => push(column_of(e, tables, single), "eq"),
        Expr::Nested(e) => walk(e, tables, single, out),
        _ => {}
    }
}

/// How one shape ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pattern {
    /// The shape.
    pub shape: String,
    /// Times it ran.
    pub count: usize,
    /// Distinct texts (literals) it ran with.
    pub variants: usize,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// 95th percentile latency (nearest rank), ms.
    pub p95_ms: f64,
    /// Mean rows scanned.
    pub mean_rows_scanned: f64,
    /// Cache hits among its runs.
    pub cache_hits: usize,
    /// Whether its mean latency is in the slowest tenth of shapes (and
    /// above 10 ms).
    pub slow: bool,
    /// Its latest text.
    pub example: String,
}

/// The shapes of `records`, most frequent first.
pub fn patterns(records: &[QueryRecord]) -> Vec<Pattern> {
    let mut by_shape: BTreeMap<&str, Vec<&QueryRecord>> = BTreeMap::new();
    for r in records {
        by_shape.entry(&r.shape).or_default().push(r);
    }
    let mut out: Vec<Pattern> = by_shape
        .into_iter()
        .map(|(shape, runs)| {
            let mut latencies: Vec<f64> = runs.iter().map(|r| r.latency_ms).collect();
            latencies.sort_by(f64::total_cmp);
            let n = runs.len();
            let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1;
            let variants = runs
                .iter()
                .map(|r| r.query.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            Pattern {
                shape: shape.to_owned(),
                count: n,
                variants,
                mean_ms: latencies.iter().sum::<f64>() / n as f64,
                p95_ms: latencies[rank],
                mean_rows_scanned: runs.iter().map(|r| r.rows_scanned as f64).sum::<f64>()
                    / n as f64,
                cache_hits: runs.iter().filter(|r| r.cache == "hit").count(),
                slow: false,
                example: runs
                    .iter()
                    .max_by_key(|r| r.at_ms)
                    .map(|r| r.query.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut means: Vec<f64> = out.iter().map(|p| p.mean_ms).collect();
    means.sort_by(f64::total_cmp);
    let cut = means
        .get(((means.len() as f64) * 0.9).floor() as usize)
        .copied()
        .unwrap_or(f64::INFINITY);
    for p in &mut out {
        p.slow = p.mean_ms >= cut && p.mean_ms > 10.0;
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.shape.cmp(&b.shape)));
    out
}

/// A recommendation to measure before making it.
#[derive(Clone, Debug, PartialEq)]
pub enum Candidate {
    /// One exact query recomputed at least `min_runs` times.
    Cache {
        /// Its text.
        query: String,
        /// Runs.
        runs: usize,
        /// Runs answered from the cache.
        hits: usize,
        /// Mean latency of its hits and of its misses, ms.
        hit_ms: Option<f64>,
        /// Mean latency of recomputations.
        miss_ms: f64,
    },
    /// A column compared with literals by at least `min_runs` queries.
    Column {
        /// Dataset.
        dataset: String,
        /// Column.
        column: String,
        /// Queries comparing it by equality and by range.
        eq_uses: usize,
        /// Range uses.
        range_uses: usize,
        /// The latest comparison, to measure.
        latest: String,
        /// Mean rows those queries scanned.
        mean_rows_scanned: f64,
    },
}

/// What in `records` may deserve a recommendation: exact queries rerun
/// `min_runs` times mostly without the cache, and columns `min_runs`
/// queries filter on.
pub fn candidates(records: &[QueryRecord], min_runs: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut by_text: BTreeMap<&str, Vec<&QueryRecord>> = BTreeMap::new();
    for r in records {
        by_text.entry(&r.query).or_default().push(r);
    }
    for (query, runs) in by_text {
        let (hits, misses): (Vec<&&QueryRecord>, Vec<&&QueryRecord>) =
            runs.iter().partition(|r| r.cache == "hit");
        if runs.len() >= min_runs && misses.len() * 2 > runs.len() {
            let mean =
                |v: &[&&QueryRecord]| v.iter().map(|r| r.latency_ms).sum::<f64>() / v.len() as f64;
            out.push(Candidate::Cache {
                query: query.to_owned(),
                runs: runs.len(),
                hits: hits.len(),
                hit_ms: (!hits.is_empty()).then(|| mean(&hits)),
                miss_ms: mean(&misses),
            });
        }
    }
    // (dataset, column) → (eq uses, range uses, latest use, its SQL, rows scanned).
    type Uses = (usize, usize, i64, String, f64);
    let mut columns: BTreeMap<(String, String), Uses> = BTreeMap::new();
    for r in records.iter().filter(|r| r.cache != "hit") {
        for p in &r.predicates {
            let e = columns
                .entry((p.dataset.clone(), p.column.to_lowercase()))
                .or_insert((0, 0, i64::MIN, String::new(), 0.0));
            if p.kind == "eq" {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            if r.at_ms >= e.2 {
                e.2 = r.at_ms;
                e.3 = p.sql.clone();
            }
            e.4 += r.rows_scanned as f64;
        }
    }
    for ((dataset, column), (eq, range, _, latest, scanned)) in columns {
        if eq + range >= min_runs {
            out.push(Candidate::Column {
                dataset,
                column,
                eq_uses: eq,
                range_uses: range,
                latest,
                mean_rows_scanned: scanned / (eq + range) as f64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse;

    fn record(query: &str, latency_ms: f64, cache: &str, at_ms: i64) -> QueryRecord {
        let n = crate::sql::normalize::normalize(query).expect("tokens");
        let statement = parse(query).expect("parses");
        QueryRecord {
            at_ms,
            query: n.text,
            shape: n.shape,
            datasets: vec!["readings".into()],
            latency_ms,
            rows_scanned: 1000,
            rows_returned: 1,
            cache: cache.into(),
            predicates: predicates(&statement),
        }
    }

    #[test]
    fn where_clauses_name_their_columns_and_datasets() {
        let s = parse("SELECT * FROM readings r JOIN sensors s ON r.sensor = s.sensor WHERE r.value > 3 AND (s.kind IN ('a', 'b') OR x = 1) AND r.ts BETWEEN TIMESTAMP '2024-01-01' AND TIMESTAMP '2024-02-01'").expect("parses");
        let found: Vec<(String, String, String)> = predicates(&s)
            .into_iter()
            .map(|p| (p.dataset, p.column, p.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("readings".into(), "value".into(), "range".into()),
                ("sensors".into(), "kind".into(), "eq".into()),
                ("readings".into(), "ts".into(), "range".into()),
            ],
            "x is ambiguous with two tables and is skipped"
        );
        let s = parse("SELECT count(*) FROM readings WHERE 5 < value").expect("parses");
        assert_eq!(predicates(&s)[0].sql, "5 < value");
    }

    #[test]
    fn shapes_group_literals_and_repeats_become_candidates() {
        let records = vec![
            record(
                "SELECT count(*) FROM readings WHERE region = 'north'",
                40.0,
                "miss",
                1,
            ),
            record(
                "SELECT count(*) FROM readings WHERE region = 'south'",
                42.0,
                "miss",
                2,
            ),
            record(
                "SELECT count(*) FROM readings WHERE region = 'north'",
                41.0,
                "miss",
                3,
            ),
            record(
                "SELECT count(*) FROM readings WHERE region = 'north'",
                1.0,
                "hit",
                4,
            ),
            record(
                "SELECT count(*) FROM readings WHERE region = 'north'",
                39.0,
                "miss",
                5,
            ),
            record("SELECT 1", 0.1, "miss", 6),
        ];
        let p = patterns(&records);
        assert_eq!((p[0].count, p[0].variants, p[0].cache_hits), (5, 2, 1));
        assert!(p[0].slow && !p[1].slow);
        let c = candidates(&records, 3);
        assert!(
            c.iter().any(|c| matches!(
                c,
                Candidate::Cache {
                    runs: 4,
                    hits: 1,
                    ..
                }
            )),
            "{c:?}"
        );
        assert!(
            c.iter().any(
                |c| matches!(c, Candidate::Column { column, eq_uses: 4, latest, .. }
            if column == "region" && latest == "region = 'north'")
            ),
            "{c:?}"
        );
    }
}
