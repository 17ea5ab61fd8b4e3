//! OLAP over a cube declared on one dataset: dimensions with hierarchies
//! (region > sensor, or year > quarter > month > day of a timestamp),
//! measures (sum, count, avg, min, max, count_distinct), and the moves
//! analysts make on it — drill down, roll up, slice, dice, pivot.
//!
//! The cube is stateless: a request carries the cube, where the view is
//! (`at`: the level each dimension is grouped to) and the filters so far,
//! plus one move; the answer carries the new `at` and `filters`, so a
//! client chains moves by sending back what it got. Each view compiles to
//! one SQL `GROUP BY` that [`crate::sql`] runs — one executor, one set of
//! semantics — and the SQL is returned so the user can see and reuse it.
//! This module only builds views and pivots; it reads nothing itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AnalyticsError;

/// A cube over `dataset`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cube {
    /// The dataset the cube reads.
    pub dataset: String,
    /// Its dimensions, each a hierarchy of levels.
    pub dimensions: Vec<Dimension>,
    /// Its measures.
    pub measures: Vec<Measure>,
}

/// A dimension: levels from coarsest to finest.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// Its name in `at`, moves and pivots.
    pub name: String,
    /// Coarsest first (`year`, `month`, `day`).
    pub levels: Vec<Level>,
}

/// A level: a column, or a part of a timestamp column.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Its name, unique in the cube: the answer's column.
    pub name: String,
    /// The dataset column.
    pub column: String,
    /// For timestamps: which part (`year`, `quarter`, `month`, `day`,
    /// `hour`, `minute`), an integer key.
    #[serde(default)]
    pub part: Option<TimePart>,
}

/// Parts of a timestamp a level can be.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimePart {
    /// Calendar year.
    Year,
    /// 1–4.
    Quarter,
    /// 1–12.
    Month,
    /// Day of month.
    Day,
    /// 0–23.
    Hour,
    /// 0–59.
    Minute,
}

/// A measure: an aggregate of a column (`count` may omit it).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Its name, unique in the cube: the answer's column.
    pub name: String,
    /// The aggregate.
    pub agg: MeasureAgg,
    /// The column aggregated; `count` without one counts rows.
    #[serde(default)]
    pub column: Option<String>,
}

/// Aggregates a measure can be.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MeasureAgg {
    /// Sum of non-null values.
    Sum,
    /// Non-null values (rows without a column).
    Count,
    /// Mean of non-null values.
    Avg,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Distinct non-null values.
    CountDistinct,
}

/// A filter: a level's value is one of `values` (`null` matches NULL).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The level's name.
    pub level: String,
    /// The values kept.
    pub values: Vec<Value>,
}

/// One move on the view.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Group `dimension` one level finer (its first level if not grouped).
    DrillDown {
        /// The dimension.
        dimension: String,
    },
    /// Group `dimension` one level coarser (not at all from its first).
    RollUp {
        /// The dimension.
        dimension: String,
    },
    /// Keep rows where `level` is `value` and stop grouping its dimension.
    Slice {
        /// The level fixed.
        level: String,
        /// Its value.
        value: Value,
    },
    /// Keep rows where each level is one of its values.
    Dice {
        /// The filters added.
        filters: Vec<Filter>,
    },
    /// Lay the view out as a matrix: `rows` dimension down, `columns`
    /// across, one matrix per measure.
    Pivot {
        /// Dimension down the side.
        rows: String,
        /// Dimension across the top.
        columns: String,
    },
}

/// The view a request describes: levels grouped and filters.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct View {
    /// Dimension name → the level it is grouped to; absent dimensions are
    /// rolled up entirely.
    #[serde(default)]
    pub at: BTreeMap<String, String>,
    /// Filters, all of which hold.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// What a move yields: the new view, its SQL, and the pivot if asked.
#[derive(Debug)]
pub struct Planned {
    /// The view after the move.
    pub view: View,
    /// The one query answering it.
    pub sql: String,
    /// Names of the grouped levels, in the answer's column order.
    pub group_columns: Vec<String>,
    /// For a pivot: (row level names, column level names).
    pub pivot: Option<(Vec<String>, Vec<String>)>,
}

fn invalid(message: String) -> AnalyticsError {
    AnalyticsError::Invalid(message)
}

impl Cube {
    /// Checks names are unique and every measure can be computed.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        if self.dimensions.is_empty() && self.measures.is_empty() {
            return Err(invalid(
                "a cube needs dimensions and measures: {\"dimensions\": [{\"name\", \"levels\": [{\"name\", \"column\"}]}], \"measures\": [{\"name\", \"agg\", \"column\"}]}".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for d in &self.dimensions {
            if d.levels.is_empty() {
                return Err(invalid(format!("dimension '{}' has no levels", d.name)));
            }
            if !names.insert(format!("dimension {}", d.name)) {
                return Err(invalid(format!("dimension '{}' is declared twice", d.name)));
            }
        }
        let mut columns = std::collections::BTreeSet::new();
        for name in self
            .dimensions
            .iter()
            .flat_map(|d| d.levels.iter().map(|l| &l.name))
            .chain(self.measures.iter().map(|m| &m.name))
        {
            if !columns.insert(name) {
                return Err(invalid(format!(
                    "'{name}' names two levels or measures; each must be unique, it is a column of the answer"
                )));
            }
        }
        for m in &self.measures {
            if m.column.is_none() && m.agg != MeasureAgg::Count {
                return Err(invalid(format!(
                    "measure '{}' ({:?}) needs a \"column\"",
                    m.name, m.agg
                )));
            }
        }
        Ok(())
    }

    fn dimension(&self, name: &str) -> Result<&Dimension, AnalyticsError> {
        self.dimensions
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| {
                invalid(format!(
                    "no dimension '{name}' in the cube; it has {}",
                    list(self.dimensions.iter().map(|d| d.name.as_str()))
                ))
            })
    }

    /// The dimension holding level `name`, and the level.
    fn level(&self, name: &str) -> Result<(&Dimension, &Level), AnalyticsError> {
        self.dimensions
            .iter()
            .find_map(|d| d.levels.iter().find(|l| l.name == name).map(|l| (d, l)))
            .ok_or_else(|| {
                invalid(format!(
                    "no level '{name}' in the cube; it has {}",
                    list(
                        self.dimensions
                            .iter()
                            .flat_map(|d| d.levels.iter().map(|l| l.name.as_str()))
                    )
                ))
            })
    }

    /// Applies `action` to `view`, then compiles the result.
    pub fn plan(&self, mut view: View, action: Option<&Action>) -> Result<Planned, AnalyticsError> {
        self.validate()?;
        for (dim, level) in &view.at {
            let d = self.dimension(dim)?;
            if !d.levels.iter().any(|l| &l.name == level) {
                return Err(invalid(format!(
                    "dimension '{dim}' has no level '{level}'; its levels are {}",
                    list(d.levels.iter().map(|l| l.name.as_str()))
                )));
            }
        }
        for f in &view.filters {
            self.level(&f.level)?;
        }
        let mut pivot = None;
        match action {
            None => {}
            Some(Action::DrillDown { dimension }) => {
                let d = self.dimension(dimension)?;
                let next = match view.at.get(dimension) {
                    None => 0,
                    Some(level) => position(d, level) + 1,
                };
                let level = d.levels.get(next).ok_or_else(|| {
                    invalid(format!(
                        "'{dimension}' is already at its finest level '{}'; roll_up, slice or dice instead",
                        d.levels[d.levels.len() - 1].name
                    ))
                })?;
                view.at.insert(dimension.clone(), level.name.clone());
            }
            Some(Action::RollUp { dimension }) => {
                let d = self.dimension(dimension)?;
                let at = view.at.get(dimension).ok_or_else(|| {
                    invalid(format!(
                        "'{dimension}' is already rolled up entirely; drill_down to group it"
                    ))
                })?;
                match position(d, at) {
                    0 => view.at.remove(dimension),
                    i => view
                        .at
                        .insert(dimension.clone(), d.levels[i - 1].name.clone()),
                };
            }
            Some(Action::Slice { level, value }) => {
                let (d, _) = self.level(level)?;
                view.at.remove(&d.name);
                view.filters.push(Filter {
                    level: level.clone(),
                    values: vec![value.clone()],
                });
            }
            Some(Action::Dice { filters }) => {
                for f in filters {
                    self.level(&f.level)?;
                    if f.values.is_empty() {
                        return Err(invalid(format!(
                            "dice on '{}' keeps no values; give at least one",
                            f.level
                        )));
                    }
                }
                view.filters.extend(filters.iter().cloned());
            }
            Some(Action::Pivot { rows, columns }) => {
                if rows == columns {
                    return Err(invalid(
                        "pivot needs two different dimensions for rows and columns".into(),
                    ));
                }
                let mut sides = Vec::new();
                for name in [rows, columns] {
                    let d = self.dimension(name)?;
                    let at = view
                        .at
                        .entry(name.clone())
                        .or_insert_with(|| d.levels[0].name.clone());
                    let upto = position(d, at);
                    sides.push(d.levels[..=upto].iter().map(|l| l.name.clone()).collect());
                }
                let columns = sides.pop().unwrap_or_default();
                let rows = sides.pop().unwrap_or_default();
                pivot = Some((rows, columns));
            }
        }
        let (sql, group_columns) = self.sql(&view)?;
        Ok(Planned {
            view,
            sql,
            group_columns,
            pivot,
        })
    }

    /// The `GROUP BY` answering `view`: grouped levels in cube order (a
    /// dimension at `month` groups by year and month), measures after.
    fn sql(&self, view: &View) -> Result<(String, Vec<String>), AnalyticsError> {
        let mut select = Vec::new();
        let mut keys = Vec::new();
        let mut names = Vec::new();
        for d in &self.dimensions {
            let Some(at) = view.at.get(&d.name) else {
                continue;
            };
            for level in &d.levels[..=position(d, at)] {
                let expr = level_expr(level);
                select.push(format!("{expr} AS {}", ident(&level.name)));
                keys.push(expr);
                names.push(level.name.clone());
            }
        }
        for m in &self.measures {
            let arg = m.column.as_deref().map(ident);
            let call = match (m.agg, arg) {
                (MeasureAgg::Count, None) => "count(*)".to_owned(),
                (MeasureAgg::CountDistinct, Some(a)) => format!("count(DISTINCT {a})"),
                (agg, Some(a)) => format!("{}({a})", agg_name(agg)),
                (_, None) => unreachable_measure(&m.name)?,
            };
            select.push(format!("{call} AS {}", ident(&m.name)));
        }
        let mut sql = format!("SELECT {} FROM {}", select.join(", "), ident(&self.dataset));
        let mut conditions = Vec::new();
        for f in &view.filters {
            let (_, level) = self.level(&f.level)?;
            let expr = level_expr(level);
            let (nulls, values): (Vec<&Value>, Vec<&Value>) =
                f.values.iter().partition(|v| v.is_null());
            let mut parts = Vec::new();
            if !values.is_empty() {
                let literals = values
                    .iter()
                    .map(|v| literal(v))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(format!("{expr} IN ({})", literals.join(", ")));
            }
            if !nulls.is_empty() {
                parts.push(format!("{expr} IS NULL"));
            }
            conditions.push(format!("({})", parts.join(" OR ")));
        }
        if !conditions.is_empty() {
            sql += &format!(" WHERE {}", conditions.join(" AND "));
        }
        if !keys.is_empty() {
            sql += &format!(" GROUP BY {}", keys.join(", "));
            let order: Vec<String> = names.iter().map(|n| ident(n)).collect();
            sql += &format!(" ORDER BY {}", order.join(", "));
        }
        Ok((sql, names))
    }
}

fn unreachable_measure(name: &str) -> Result<String, AnalyticsError> {
    Err(invalid(format!("measure '{name}' needs a \"column\"")))
}

fn position(d: &Dimension, level: &str) -> usize {
    d.levels.iter().position(|l| l.name == level).unwrap_or(0)
}

fn agg_name(agg: MeasureAgg) -> &'static str {
    match agg {
        MeasureAgg::Sum => "sum",
        MeasureAgg::Count => "count",
        MeasureAgg::Avg => "avg",
        MeasureAgg::Min => "min",
        MeasureAgg::Max => "max",
        MeasureAgg::CountDistinct => "count",
    }
}

fn level_expr(level: &Level) -> String {
    let column = ident(&level.column);
    match level.part {
        None => column,
        Some(TimePart::Quarter) => {
            format!("CAST(FLOOR((EXTRACT(month FROM {column}) - 1) / 3) AS BIGINT) + 1")
        }
        Some(part) => {
            let name = match part {
                TimePart::Year => "year",
                TimePart::Month => "month",
                TimePart::Day => "day",
                TimePart::Hour => "hour",
                _ => "minute",
            };
            format!("EXTRACT({name} FROM {column})")
        }
    }
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A JSON scalar as a SQL literal.
fn literal(value: &Value) -> Result<String, AnalyticsError> {
    match value {
        Value::String(s) => Ok(format!("'{}'", s.replace('\'', "''"))),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("NULL".into()),
        other => Err(invalid(format!(
            "filter values are strings, numbers, booleans or null, not {other}"
        ))),
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("'{n}'")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Lays `rows` (group columns then measures, as `columns` names them) out
/// as one matrix per measure: `row_keys` down, `column_keys` across, a
/// missing combination `null`.
pub fn pivot(
    columns: &[String],
    rows: &[Vec<Value>],
    row_levels: &[String],
    column_levels: &[String],
    measures: &[String],
) -> Value {
    let index = |name: &String| columns.iter().position(|c| c == name);
    let row_at: Vec<usize> = row_levels.iter().filter_map(index).collect();
    let col_at: Vec<usize> = column_levels.iter().filter_map(index).collect();
    let key = |row: &[Value], at: &[usize]| -> Vec<Value> {
        at.iter().map(|&i| row[i].clone()).collect()
    };
    let mut row_keys: Vec<Vec<Value>> = Vec::new();
    let mut col_keys: Vec<Vec<Value>> = Vec::new();
    for row in rows {
        let (r, c) = (key(row, &row_at), key(row, &col_at));
        if !row_keys.contains(&r) {
            row_keys.push(r);
        }
        if !col_keys.contains(&c) {
            col_keys.push(c);
        }
    }
    // Rows arrive ordered by the row levels first; columns need sorting.
    col_keys.sort_by(|a, b| compare_keys(a, b));
    let mut matrices = serde_json::Map::new();
    for m in measures {
        let Some(mi) = index(m) else { continue };
        let mut matrix = vec![vec![Value::Null; col_keys.len()]; row_keys.len()];
        for row in rows {
            let r = row_keys.iter().position(|k| *k == key(row, &row_at));
            let c = col_keys.iter().position(|k| *k == key(row, &col_at));
            if let (Some(r), Some(c)) = (r, c) {
                matrix[r][c] = row[mi].clone();
            }
        }
        matrices.insert(m.clone(), json!(matrix));
    }
    json!({
        "row_levels": row_levels,
        "column_levels": column_levels,
        "row_keys": row_keys,
        "column_keys": col_keys,
        "cells": matrices,
    })
}

/// Key order as `ORDER BY` sorts: numbers, then text, NULLs last.
fn compare_keys(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            (Value::Number(p), Value::Number(q)) => p
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&q.as_f64().unwrap_or(0.0)),
            (Value::String(p), Value::String(q)) => p.cmp(q),
            (p, q) => p.to_string().cmp(&q.to_string()),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube() -> Cube {
        serde_json::from_value(json!({
            "dataset": "readings",
            "dimensions": [
                {"name": "time", "levels": [
                    {"name": "year", "column": "ts", "part": "year"},
                    {"name": "month", "column": "ts", "part": "month"}]},
                {"name": "place", "levels": [
                    {"name": "region", "column": "region"},
                    {"name": "sensor", "column": "sensor"}]}],
            "measures": [{"name": "n", "agg": "count"}, {"name": "total", "agg": "sum", "column": "value"}]
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn drilling_down_groups_by_the_whole_path() -> Result<(), AnalyticsError> {
        let c = cube();
        let first = c.plan(
            View::default(),
            Some(&Action::DrillDown {
                dimension: "time".into(),
            }),
        )?;
        assert_eq!(first.group_columns, ["year"]);
        let second = c.plan(
            first.view,
            Some(&Action::DrillDown {
                dimension: "time".into(),
            }),
        )?;
        assert_eq!(second.group_columns, ["year", "month"]);
        assert!(
            second
                .sql
                .contains("GROUP BY EXTRACT(year FROM \"ts\"), EXTRACT(month FROM \"ts\")")
        );
        let err = c.plan(
            second.view,
            Some(&Action::DrillDown {
                dimension: "time".into(),
            }),
        );
        assert!(
            matches!(err, Err(AnalyticsError::Invalid(m)) if m.contains("finest level 'month'"))
        );
        Ok(())
    }

    #[test]
    fn slicing_fixes_a_level_and_drops_its_dimension() -> Result<(), AnalyticsError> {
        let c = cube();
        let mut view = View::default();
        view.at.insert("place".into(), "sensor".into());
        view.at.insert("time".into(), "year".into());
        let sliced = c.plan(
            view,
            Some(&Action::Slice {
                level: "region".into(),
                value: json!("it's"),
            }),
        )?;
        assert_eq!(sliced.group_columns, ["year"]);
        assert!(
            sliced.sql.contains("WHERE (\"region\" IN ('it''s'))"),
            "{}",
            sliced.sql
        );
        Ok(())
    }

    #[test]
    fn pivot_lays_measures_out_by_row_and_column_keys() {
        let columns: Vec<String> = ["region", "year", "n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = vec![
            vec![json!("east"), json!(2025), json!(3)],
            vec![json!("west"), json!(2024), json!(1)],
        ];
        let p = pivot(
            &columns,
            &rows,
            &["region".into()],
            &["year".into()],
            &["n".into()],
        );
        assert_eq!(p["column_keys"], json!([[2024], [2025]]));
        assert_eq!(p["cells"]["n"], json!([[null, 3], [1, null]]));
    }
}
