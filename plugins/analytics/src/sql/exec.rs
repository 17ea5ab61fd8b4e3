//! Runs a [`Plan`]: each operator takes whole tables from its inputs and
//! returns one. Scans read column chunks from the catalog and report
//! progress; joins hash the right side; sorts and windows order row
//! indices, not rows.

use std::borrow::Cow;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::Catalog;
use super::aggregate::{aggregate, group_ids};
use super::expr::eval;
use super::plan::{JoinKind, Plan, SortKey};
use super::window::order_rows;
use crate::AnalyticsError;
use crate::table::Table;
use crate::value::{Column, Datum};

/// Most row pairs a join without equality keys may consider.
const MAX_NESTED_LOOP_PAIRS: u64 = 50_000_000;

/// Where scans report rows read.
pub trait Progress {
    /// The plan's scans will read `total_rows` in all.
    fn planned(&mut self, total_rows: u64) {
        let _ = total_rows;
    }
    /// `rows` more were read; false when the query should stop.
    fn scanned(&mut self, rows: u64) -> bool;
    /// `rows` were skipped by zone maps (they also count as scanned, so
    /// progress reaches 100 %).
    fn skipped(&mut self, rows: u64) {
        let _ = rows;
    }
    /// A `TABLESAMPLE` kept `kept` of `rows`.
    fn sampled(&mut self, sample: &super::plan::SampleSpec, rows: u64, kept: u64) {
        let _ = (sample, rows, kept);
    }
}

/// A uniform number in [0, 1) from `seed` and row `i` (splitmix64).
fn uniform(seed: u64, i: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(i)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Which of `rows` rows `sample` keeps.
fn sample_rows(sample: &super::plan::SampleSpec, rows: usize) -> Vec<bool> {
    match (sample.rows, sample.fraction) {
        (Some(n), _) => {
            // The n rows with the smallest draws: a simple random sample.
            let mut order: Vec<(f64, usize)> = (0..rows)
                .map(|i| (uniform(sample.seed, i as u64), i))
                .collect();
            let n = (n as usize).min(rows);
            if n < rows {
                order.select_nth_unstable_by(n, |a, b| a.0.total_cmp(&b.0));
            }
            let mut keep = vec![false; rows];
            for &(_, i) in &order[..n] {
                keep[i] = true;
            }
            keep
        }
        (None, fraction) => {
            let p = fraction.unwrap_or(1.0);
            (0..rows)
                .map(|i| uniform(sample.seed, i as u64) < p)
                .collect()
        }
    }
}

/// Runs `plan`.
pub fn execute(
    plan: &Plan,
    catalog: &dyn Catalog,
    progress: &mut dyn Progress,
) -> Result<Table, AnalyticsError> {
    match plan {
        Plan::Scan {
            dataset,
            alias: _,
            columns,
            rows: _,
        } => {
            let fields = plan.fields();
            let (data, rows) = catalog.read(dataset, columns, progress)?;
            Ok(Table::new(fields, data, rows))
        }
        Plan::Single => Ok(Table::new(Vec::new(), Vec::new(), 1)),
        Plan::Sample { input, sample } => {
            let table = execute(input, catalog, progress)?;
            let keep = sample_rows(sample, table.rows);
            let kept = keep.iter().filter(|&&k| k).count() as u64;
            progress.sampled(sample, table.rows as u64, kept);
            Ok(filter(&table, &keep))
        }
        Plan::Filter { input, predicate } => {
            let table = match input.as_ref() {
                Plan::Scan {
                    dataset, columns, ..
                } => {
                    let ranges = super::zone::ranges(predicate, columns);
                    if ranges.is_empty() {
                        execute(input, catalog, progress)?
                    } else {
                        let (data, rows, skipped) =
                            catalog.read_pruned(dataset, columns, &ranges, progress)?;
                        progress.skipped(skipped);
                        Table::new(input.fields(), data, rows)
                    }
                }
                _ => execute(input, catalog, progress)?,
            };
            let keep = truth(eval(predicate, &table)?.as_ref())?;
            Ok(filter(&table, &keep))
        }
        Plan::Project {
            input,
            exprs,
            fields,
        } => {
            let table = execute(input, catalog, progress)?;
            let columns = exprs
                .iter()
                .map(|e| eval(e, &table).map(Cow::into_owned))
                .collect::<Result<_, _>>()?;
            Ok(Table::new(fields.clone(), columns, table.rows))
        }
        Plan::Aggregate {
            input,
            keys,
            sets,
            calls,
            groupings,
            fields,
        } => {
            let table = execute(input, catalog, progress)?;
            let key_columns: Vec<Cow<'_, Column>> = keys
                .iter()
                .map(|k| eval(k, &table))
                .collect::<Result<_, _>>()?;
            let args: Vec<Option<Cow<'_, Column>>> = calls
                .iter()
                .map(|(_, arg)| arg.as_ref().map(|a| eval(a, &table)).transpose())
                .collect::<Result<_, _>>()?;
            let mut out: Option<Vec<Column>> = None;
            let mut total = 0;
            for set in sets {
                let set_keys: Vec<&Column> = set.iter().map(|&k| key_columns[k].as_ref()).collect();
                let (ids, groups, firsts) = group_ids(&set_keys, table.rows);
                // No rows and no keys still make one group (count = 0).
                if table.rows == 0 && !set.is_empty() {
                    continue;
                }
                let mut columns = Vec::new();
                for (k, column) in key_columns.iter().enumerate() {
                    columns.push(if set.contains(&k) {
                        column.gather(&firsts)
                    } else {
                        Column::from_datums_as(&vec![Datum::Null; groups], column.data_type())
                    });
                }
                for ((call, _), arg) in calls.iter().zip(&args) {
                    columns.push(aggregate(call, arg.as_deref(), &ids, groups)?);
                }
                for args in groupings {
                    // GROUPING(a, b): a bit per argument, 1 where the set
                    // leaves it out, the first argument most significant.
                    let mut bits = 0i64;
                    for k in args {
                        bits = bits << 1 | i64::from(!set.contains(k));
                    }
                    columns.push(Column::Int(vec![Some(bits); groups]));
                }
                total += groups;
                match &mut out {
                    None => out = Some(columns),
                    Some(acc) => {
                        for (a, c) in acc.iter_mut().zip(columns) {
                            a.append(c);
                        }
                    }
                }
            }
            let columns = out.unwrap_or_else(|| fields.iter().map(|_| Column::Null(0)).collect());
            Ok(Table::new(fields.clone(), columns, total))
        }
        Plan::Window {
            input,
            calls,
            fields,
        } => {
            let mut table = execute(input, catalog, progress)?;
            for call in calls {
                let column = call.eval(&table)?;
                table.columns.push(column);
            }
            table.fields.extend(fields.iter().cloned());
            Ok(table)
        }
        Plan::Join {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
        } => {
            let l = execute(left, catalog, progress)?;
            let r = execute(right, catalog, progress)?;
            let (mut li, mut ri) = if left_keys.is_empty() {
                let pairs = l.rows as u64 * r.rows as u64;
                if pairs > MAX_NESTED_LOOP_PAIRS {
                    return Err(AnalyticsError::Invalid(format!(
                        "this join has no equality condition and would pair {pairs} rows (more than {MAX_NESTED_LOOP_PAIRS}): join ON a = b"
                    )));
                }
                let mut li = Vec::new();
                let mut ri = Vec::new();
                for a in 0..l.rows {
                    for b in 0..r.rows {
                        li.push(a);
                        ri.push(b);
                    }
                }
                (li, ri)
            } else if *kind == JoinKind::Inner && l.rows < r.rows {
                // Build on the smaller side: fewer keys to hash and hold.
                let (ri, li) = hash_join(&r, &l, right_keys, left_keys)?;
                (li, ri)
            } else {
                hash_join(&l, &r, left_keys, right_keys)?
            };
            if let Some(residual) = residual {
                let pairs = pair_table(
                    &l,
                    &r,
                    &li,
                    &ri.iter().map(|&b| Some(b)).collect::<Vec<_>>(),
                );
                let keep = truth(eval(residual, &pairs)?.as_ref())?;
                let kept = |v: &[usize]| -> Vec<usize> {
                    v.iter()
                        .zip(&keep)
                        .filter_map(|(x, k)| k.then_some(*x))
                        .collect()
                };
                li = kept(&li);
                ri = kept(&ri);
            }
            let mut right_rows: Vec<Option<usize>> = ri.into_iter().map(Some).collect();
            if *kind == JoinKind::Left {
                let matched: HashSet<usize> = li.iter().copied().collect();
                // Keep left order: merge unmatched rows in where they belong.
                let mut order: Vec<(usize, Option<usize>)> =
                    li.into_iter().zip(right_rows).collect();
                order.extend(
                    (0..l.rows)
                        .filter(|a| !matched.contains(a))
                        .map(|a| (a, None)),
                );
                order.sort_by_key(|(a, _)| *a);
                li = order.iter().map(|(a, _)| *a).collect();
                right_rows = order.into_iter().map(|(_, b)| b).collect();
            }
            Ok(pair_table(&l, &r, &li, &right_rows))
        }
        Plan::Sort { input, keys } => {
            let table = execute(input, catalog, progress)?;
            let order = sort_indices(&table, keys)?;
            Ok(table.gather(&order))
        }
        Plan::Limit {
            input,
            offset,
            limit,
        } => {
            let table = execute(input, catalog, progress)?;
            let start = (*offset).min(table.rows);
            let end = limit.map_or(table.rows, |l| (start + l).min(table.rows));
            Ok(table.gather(&(start..end).collect::<Vec<_>>()))
        }
        Plan::Distinct { input } => {
            let table = execute(input, catalog, progress)?;
            let mut seen: HashSet<Vec<Datum>> = HashSet::default();
            let keep: Vec<bool> = (0..table.rows).map(|i| seen.insert(table.row(i))).collect();
            Ok(filter(&table, &keep))
        }
        Plan::Union { inputs } => {
            let mut tables = inputs
                .iter()
                .map(|p| execute(p, catalog, progress))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter();
            let mut first = tables
                .next()
                .unwrap_or_else(|| Table::new(Vec::new(), Vec::new(), 0));
            for t in tables {
                first.rows += t.rows;
                for (a, c) in first.columns.iter_mut().zip(t.columns) {
                    a.append(c);
                }
            }
            Ok(first)
        }
        Plan::Alias { input, .. } => {
            let table = execute(input, catalog, progress)?;
            Ok(Table::new(plan.fields(), table.columns, table.rows))
        }
    }
}

/// Rows where a predicate is true (NULL and false drop the row).
fn truth(column: &Column) -> Result<Vec<bool>, AnalyticsError> {
    match column {
        Column::Bool(v) => Ok(v.iter().map(|b| *b == Some(true)).collect()),
        Column::Null(n) => Ok(vec![false; *n]),
        other => Err(AnalyticsError::Invalid(format!(
            "a condition must be true or false, not {}",
            other.data_type().name()
        ))),
    }
}

fn filter(table: &Table, keep: &[bool]) -> Table {
    let rows = keep.iter().filter(|k| **k).count();
    Table::new(
        table.fields.clone(),
        table.columns.iter().map(|c| c.filter(keep)).collect(),
        rows,
    )
}

fn pair_table(l: &Table, r: &Table, li: &[usize], ri: &[Option<usize>]) -> Table {
    let mut fields = l.fields.clone();
    fields.extend(r.fields.iter().cloned());
    let mut columns: Vec<Column> = l.columns.iter().map(|c| c.gather(li)).collect();
    columns.extend(r.columns.iter().map(|c| c.gather_optional(ri)));
    Table::new(fields, columns, li.len())
}

/// Pairs of matching rows; NULL keys match nothing.
fn hash_join(
    l: &Table,
    r: &Table,
    left_keys: &[super::expr::BExpr],
    right_keys: &[super::expr::BExpr],
) -> Result<(Vec<usize>, Vec<usize>), AnalyticsError> {
    let lk: Vec<Cow<'_, Column>> = left_keys
        .iter()
        .map(|k| eval(k, l))
        .collect::<Result<_, _>>()?;
    let rk: Vec<Cow<'_, Column>> = right_keys
        .iter()
        .map(|k| eval(k, r))
        .collect::<Result<_, _>>()?;
    // One integer key each side: no per-row key vectors.
    if let ([l0], [r0]) = (lk.as_slice(), rk.as_slice())
        && let (Column::Int(lv) | Column::Timestamp(lv), Column::Int(rv) | Column::Timestamp(rv)) =
            (l0.as_ref() as &Column, r0.as_ref() as &Column)
    {
        // Rows of each key chained through `next` (head per key).
        let mut head: HashMap<i64, usize> = HashMap::default();
        let mut next = vec![usize::MAX; r.rows];
        for (b, v) in rv.iter().enumerate().rev() {
            if let Some(v) = v
                && let Some(h) = head.insert(*v, b)
            {
                next[b] = h;
            }
        }
        let (mut li, mut ri) = (Vec::new(), Vec::new());
        for (a, v) in lv.iter().enumerate() {
            let Some(mut b) = v.and_then(|v| head.get(&v).copied()) else {
                continue;
            };
            loop {
                li.push(a);
                ri.push(b);
                b = next[b];
                if b == usize::MAX {
                    break;
                }
            }
        }
        return Ok((li, ri));
    }
    let mut table: HashMap<Vec<Datum>, Vec<usize>> = HashMap::default();
    for b in 0..r.rows {
        let key: Vec<Datum> = rk.iter().map(|c| c.get(b)).collect();
        if key.iter().any(Datum::is_null) {
            continue;
        }
        table.entry(key).or_default().push(b);
    }
    let (mut li, mut ri) = (Vec::new(), Vec::new());
    let mut key = Vec::with_capacity(lk.len());
    for a in 0..l.rows {
        key.clear();
        key.extend(lk.iter().map(|c| c.get(a)));
        if key.iter().any(Datum::is_null) {
            continue;
        }
        if let Some(matches) = table.get(&key) {
            for &b in matches {
                li.push(a);
                ri.push(b);
            }
        }
    }
    Ok((li, ri))
}

/// The order of `table`'s rows by `keys` (stable).
pub fn sort_indices(table: &Table, keys: &[SortKey]) -> Result<Vec<usize>, AnalyticsError> {
    let columns: Vec<Column> = keys
        .iter()
        .map(|k| eval(&k.expr, table).map(Cow::into_owned))
        .collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..table.rows).collect();
    // One float key without NULLs: compare the raw values.
    if let ([Column::Float(v)], [key]) = (columns.as_slice(), keys)
        && v.iter().all(Option::is_some)
    {
        let raw: Vec<f64> = v.iter().map(|x| x.unwrap_or_default()).collect();
        order.sort_by(|&a, &b| {
            let o = raw[a].total_cmp(&raw[b]);
            if key.descending { o.reverse() } else { o }
        });
        return Ok(order);
    }
    order.sort_by(|&a, &b| order_rows(&columns, keys, a, b));
    Ok(order)
}
