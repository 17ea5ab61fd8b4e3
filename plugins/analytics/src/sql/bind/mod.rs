//! From sqlparser's syntax tree to a [`Plan`]: resolves names against
//! the fields in scope, pulls aggregates and window calls out of the
//! select list into their own operators, expands `ROLLUP`, `CUBE` and
//! `GROUPING SETS`, and splits join conditions into hash keys and a
//! residual filter. It reads no data (only dataset shapes).

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{
    self as ast, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, GroupByWithModifier, JoinConstraint, JoinOperator, OrderByKind, Query, Select,
    SelectItem, SetExpr, SetOperator, SetQuantifier, TableFactor,
};

use super::Catalog;
use super::aggregate::AggFunc;
use super::expr::{BExpr, BinOp};
use super::plan::{JoinKind, Plan, SortKey};
use crate::AnalyticsError;
use crate::table::{Field, resolve};

mod calls;
mod expr;
mod sample;

use calls::{aggregate_call, window_call};
use expr::bind;
pub use expr::data_type;
use sample::sample_spec;

fn invalid(message: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Invalid(message.into())
}

/// What expressions may refer to: the input's fields, and expressions an
/// operator below already computed (an aggregate, a group key, a window
/// call), found by their text.
struct Scope<'a> {
    fields: &'a [Field],
    computed: &'a HashMap<String, usize>,
    /// Why a bare column is refused here (after GROUP BY), if it is.
    grouped: bool,
    /// Functions UDF plugins bring, if the catalog has any.
    udfs: Option<&'a super::udf::Udfs>,
}

/// Turns queries into plans.
pub struct Binder<'a> {
    catalog: &'a dyn Catalog,
    ctes: Vec<HashMap<String, Plan>>,
    /// Lower-case names any part of the query mentions; scans read only
    /// these columns (`None`: a wildcard needs them all).
    needed: Option<HashSet<String>>,
    udfs: Option<super::udf::Udfs>,
}

impl<'a> Binder<'a> {
    /// A binder over `catalog`, reading only columns named in `needed`.
    pub fn new(catalog: &'a dyn Catalog, needed: Option<HashSet<String>>) -> Self {
        let udfs = catalog
            .functions()
            .map(super::udf::Udfs::new)
            .filter(|u| !u.is_empty());
        Self {
            catalog,
            ctes: Vec::new(),
            needed,
            udfs,
        }
    }

    /// The plan of a query.
    pub fn query(&mut self, query: &Query) -> Result<Plan, AnalyticsError> {
        // A frame of its own, so later CTEs see earlier ones and nothing
        // leaks to an enclosing query.
        self.ctes.push(HashMap::new());
        let result = self.with_ctes(query);
        self.ctes.pop();
        result
    }

    fn with_ctes(&mut self, query: &Query) -> Result<Plan, AnalyticsError> {
        if let Some(with) = &query.with {
            if with.recursive {
                return Err(invalid("WITH RECURSIVE is not supported"));
            }
            for cte in &with.cte_tables {
                let plan = self.query(&cte.query)?;
                let name = cte.alias.name.value.clone();
                let columns: Vec<String> = cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| c.name.value.clone())
                    .collect();
                let plan = alias(plan, &name, &columns)?;
                if let Some(frame) = self.ctes.last_mut() {
                    frame.insert(name.to_lowercase(), plan);
                }
            }
        }
        self.query_body(query)
    }

    fn query_body(&mut self, query: &Query) -> Result<Plan, AnalyticsError> {
        let order: Vec<ast::OrderByExpr> = match &query.order_by {
            None => Vec::new(),
            Some(o) => match &o.kind {
                OrderByKind::Expressions(list) => list.clone(),
                OrderByKind::All(_) => return Err(invalid("ORDER BY ALL is not supported")),
            },
        };
        let mut plan = match query.body.as_ref() {
            SetExpr::Select(select) => self.select(select, &order)?,
            other => {
                let plan = self.set_expr(other)?;
                if order.is_empty() {
                    plan
                } else {
                    let fields = plan.fields();
                    let keys = order
                        .iter()
                        .map(|o| {
                            let expr = output_reference(&o.expr, &fields)?
                                .map(|i| BExpr::Column(i, fields[i].name.clone()))
                                .ok_or_else(|| {
                                    invalid(format!(
                                        "ORDER BY {} must name an output column of the UNION",
                                        o.expr
                                    ))
                                })?;
                            Ok(sort_key(expr, o))
                        })
                        .collect::<Result<_, AnalyticsError>>()?;
                    Plan::Sort {
                        input: Box::new(plan),
                        keys,
                    }
                }
            }
        };
        if let Some(limit) = &query.limit_clause {
            let (limit, offset) = match limit {
                ast::LimitClause::LimitOffset { limit, offset, .. } => {
                    (limit.as_ref(), offset.as_ref().map(|o| &o.value))
                }
                ast::LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
            };
            plan = Plan::Limit {
                input: Box::new(plan),
                offset: offset.map(count).transpose()?.unwrap_or(0),
                limit: limit.map(count).transpose()?,
            };
        }
        Ok(plan)
    }

    fn set_expr(&mut self, body: &SetExpr) -> Result<Plan, AnalyticsError> {
        match body {
            SetExpr::Select(select) => self.select(select, &[]),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation {
                left,
                op: SetOperator::Union,
                set_quantifier,
                right,
            } => {
                let (l, r) = (self.set_expr(left)?, self.set_expr(right)?);
                if l.fields().len() != r.fields().len() {
                    return Err(invalid(format!(
                        "each side of a UNION needs the same number of columns ({} and {})",
                        l.fields().len(),
                        r.fields().len()
                    )));
                }
                let union = Plan::Union { inputs: vec![l, r] };
                Ok(match set_quantifier {
                    SetQuantifier::All => union,
                    _ => Plan::Distinct {
                        input: Box::new(union),
                    },
                })
            }
            other => Err(invalid(format!(
                "only SELECT and UNION queries are supported, not: {other}"
            ))),
        }
    }

    fn table(&mut self, factor: &TableFactor) -> Result<Plan, AnalyticsError> {
        match factor {
            TableFactor::Table {
                name,
                alias: a,
                sample,
                ..
            } => {
                let name = name.to_string();
                let label = a.as_ref().map_or(name.clone(), |a| a.name.value.clone());
                let columns: Vec<String> = a
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
                    .unwrap_or_default();
                let key = name.trim_matches('"').to_lowercase();
                if let Some(plan) = self.ctes.iter().rev().find_map(|s| s.get(&key)) {
                    return alias(plan.clone(), &label, &columns);
                }
                let (all, rows) = self.catalog.columns(name.trim_matches('"'))?;
                let read: Vec<String> = match &self.needed {
                    None => all,
                    Some(needed) => all
                        .into_iter()
                        .filter(|c| needed.contains(&c.to_lowercase()))
                        .collect(),
                };
                let mut scan = Plan::Scan {
                    dataset: name.trim_matches('"').to_owned(),
                    alias: label.clone(),
                    columns: read,
                    rows,
                };
                if let Some(kind) = sample {
                    let spec = sample_spec(kind, name.trim_matches('"'))?;
                    scan = Plan::Sample {
                        input: Box::new(scan),
                        sample: spec,
                    };
                }
                if columns.is_empty() {
                    Ok(scan)
                } else {
                    alias(scan, &label, &columns)
                }
            }
            TableFactor::Derived {
                subquery, alias: a, ..
            } => {
                let plan = self.query(subquery)?;
                match a {
                    Some(a) => {
                        let columns: Vec<String> =
                            a.columns.iter().map(|c| c.name.value.clone()).collect();
                        alias(plan, &a.name.value, &columns)
                    }
                    None => Ok(plan),
                }
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.from(std::slice::from_ref(table_with_joins)),
            other => Err(invalid(format!("unsupported FROM item: {other}"))),
        }
    }

    fn from(&mut self, from: &[ast::TableWithJoins]) -> Result<Plan, AnalyticsError> {
        let mut plan: Option<Plan> = None;
        for item in from {
            let mut current = self.table(&item.relation)?;
            for join in &item.joins {
                let right = self.table(&join.relation)?;
                let (kind, constraint) = match &join.join_operator {
                    JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, Some(c)),
                    JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, Some(c)),
                    JoinOperator::CrossJoin(_) => (JoinKind::Inner, None),
                    other => {
                        let shown = format!("{other:?}");
                        let kind = shown.split('(').next().unwrap_or("this join");
                        return Err(invalid(format!(
                            "only INNER, LEFT and CROSS joins are supported, not {kind}"
                        )));
                    }
                };
                current = self.join(current, right, kind, constraint)?;
            }
            plan = Some(match plan {
                None => current,
                Some(left) => self.join(left, current, JoinKind::Inner, None)?,
            });
        }
        Ok(plan.unwrap_or(Plan::Single))
    }

    fn join(
        &mut self,
        left: Plan,
        right: Plan,
        kind: JoinKind,
        constraint: Option<&JoinConstraint>,
    ) -> Result<Plan, AnalyticsError> {
        let (lf, rf) = (left.fields(), right.fields());
        let mut both = lf.clone();
        both.extend(rf.iter().cloned());
        let empty = HashMap::new();
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        let mut residual: Vec<BExpr> = Vec::new();
        match constraint {
            None | Some(JoinConstraint::None) => {}
            Some(JoinConstraint::On(on)) => {
                let mut conjuncts = Vec::new();
                split_and(on, &mut conjuncts);
                for c in conjuncts {
                    if let Expr::BinaryOp {
                        left: a,
                        op: BinaryOperator::Eq,
                        right: b,
                    } = c
                    {
                        let side = |e: &Expr, fields: &[Field]| {
                            bind(
                                e,
                                &Scope {
                                    fields,
                                    computed: &empty,
                                    grouped: false,
                                    udfs: self.udfs.as_ref(),
                                },
                            )
                            .ok()
                        };
                        if let (Some(l), Some(r)) = (side(a, &lf), side(b, &rf)) {
                            left_keys.push(l);
                            right_keys.push(r);
                            continue;
                        }
                        if let (Some(l), Some(r)) = (side(b, &lf), side(a, &rf)) {
                            left_keys.push(l);
                            right_keys.push(r);
                            continue;
                        }
                    }
                    residual.push(bind(
                        c,
                        &Scope {
                            fields: &both,
                            computed: &empty,
                            grouped: false,
                            udfs: self.udfs.as_ref(),
                        },
                    )?);
                }
            }
            Some(JoinConstraint::Using(names)) => {
                for name in names {
                    let name = name.to_string();
                    let l = resolve(&lf, None, &name)?;
                    let r = resolve(&rf, None, &name)?;
                    left_keys.push(BExpr::Column(l, name.clone()));
                    right_keys.push(BExpr::Column(r, name));
                }
            }
            Some(other) => return Err(invalid(format!("unsupported join condition: {other:?}"))),
        }
        let residual = residual
            .into_iter()
            .reduce(|a, b| BExpr::Binary(Box::new(a), BinOp::And, Box::new(b)));
        Ok(Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            left_keys,
            right_keys,
            residual,
        })
    }

    fn select(
        &mut self,
        select: &Select,
        order: &[ast::OrderByExpr],
    ) -> Result<Plan, AnalyticsError> {
        let mut plan = self.from(&select.from)?;
        let none = HashMap::new();
        if let Some(selection) = &select.selection {
            let fields = plan.fields();
            let predicate = bind(
                selection,
                &Scope {
                    fields: &fields,
                    computed: &none,
                    grouped: false,
                    udfs: self.udfs.as_ref(),
                },
            )?;
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate,
            };
        }
        let items = expand_items(&select.projection, &plan.fields())?;

        // Aggregation: pull every aggregate call out of the select list,
        // HAVING and ORDER BY.
        let mut aggregates: Vec<&ast::Function> = Vec::new();
        for (expr, _) in &items {
            collect_calls(expr, true, &mut aggregates);
        }
        if let Some(h) = &select.having {
            collect_calls(h, true, &mut aggregates);
        }
        for o in order {
            collect_calls(&o.expr, true, &mut aggregates);
        }
        let (key_exprs, sets) = grouping(&select.group_by, &items)?;
        let mut computed: HashMap<String, usize> = HashMap::new();
        let grouped = !key_exprs.is_empty() || !aggregates.is_empty();
        if grouped {
            let input_fields = plan.fields();
            let scope = Scope {
                fields: &input_fields,
                computed: &none,
                grouped: false,
                udfs: self.udfs.as_ref(),
            };
            let mut keys = Vec::new();
            let mut fields = Vec::new();
            for (i, k) in key_exprs.iter().enumerate() {
                let bound = bind(k, &scope)?;
                computed.insert(k.to_string(), i);
                if let BExpr::Column(c, _) = &bound {
                    let f = &input_fields[*c];
                    computed.entry(f.name.clone()).or_insert(i);
                    if let Some(t) = &f.table {
                        computed.entry(format!("{t}.{}", f.name)).or_insert(i);
                    }
                }
                fields.push(match &bound {
                    BExpr::Column(c, _) => input_fields[*c].clone(),
                    _ => Field::new(None, &k.to_string()),
                });
                keys.push(bound);
            }
            let mut calls = Vec::new();
            for f in &aggregates {
                let text = Expr::Function((*f).clone()).to_string();
                if computed.contains_key(&text) {
                    continue;
                }
                calls.push(aggregate_call(f, &scope)?);
                computed.insert(text.clone(), keys.len() + calls.len() - 1);
                fields.push(Field::new(None, &text));
            }
            let mut grouping_calls: Vec<&ast::Function> = Vec::new();
            for (expr, _) in &items {
                collect_grouping(expr, &mut grouping_calls);
            }
            if let Some(h) = &select.having {
                collect_grouping(h, &mut grouping_calls);
            }
            let mut groupings = Vec::new();
            for f in grouping_calls {
                let text = Expr::Function(f.clone()).to_string();
                if computed.contains_key(&text) {
                    continue;
                }
                let args = function_args(f)
                    .into_iter()
                    .map(|a| {
                        let t = a.to_string();
                        key_exprs
                            .iter()
                            .position(|k| k.to_string() == t)
                            .ok_or_else(|| {
                                invalid(format!("GROUPING({t}): {t} is not a GROUP BY key"))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                groupings.push(args);
                computed.insert(text.clone(), fields.len());
                fields.push(Field::new(None, &text));
            }
            plan = Plan::Aggregate {
                input: Box::new(plan),
                keys,
                sets,
                calls,
                groupings,
                fields,
            };
            if let Some(having) = &select.having {
                let fields = plan.fields();
                let predicate = bind(
                    having,
                    &Scope {
                        fields: &fields,
                        computed: &computed,
                        grouped: true,
                        udfs: self.udfs.as_ref(),
                    },
                )?;
                plan = Plan::Filter {
                    input: Box::new(plan),
                    predicate,
                };
            }
        } else if select.having.is_some() {
            return Err(invalid("HAVING needs GROUP BY or an aggregate"));
        }

        // Window calls, computed over the (grouped) rows.
        let mut windows: Vec<&ast::Function> = Vec::new();
        for (expr, _) in &items {
            collect_calls(expr, false, &mut windows);
        }
        for o in order {
            collect_calls(&o.expr, false, &mut windows);
        }
        if !windows.is_empty() {
            let input_fields = plan.fields();
            let mut calls = Vec::new();
            let mut fields = Vec::new();
            let mut added: Vec<String> = Vec::new();
            {
                let scope = Scope {
                    fields: &input_fields,
                    computed: &computed,
                    grouped,
                    udfs: self.udfs.as_ref(),
                };
                for f in windows {
                    let text = Expr::Function(f.clone()).to_string();
                    if computed.contains_key(&text) || added.contains(&text) {
                        continue;
                    }
                    calls.push(window_call(f, &scope)?);
                    fields.push(Field::new(None, &text));
                    added.push(text);
                }
            }
            for (i, text) in added.into_iter().enumerate() {
                computed.insert(text, input_fields.len() + i);
            }
            plan = Plan::Window {
                input: Box::new(plan),
                calls,
                fields,
            };
        }

        // The select list, then hidden columns for ORDER BY expressions
        // that are not in it.
        let input_fields = plan.fields();
        let scope = Scope {
            fields: &input_fields,
            computed: &computed,
            grouped,
            udfs: self.udfs.as_ref(),
        };
        let mut exprs = Vec::new();
        let mut fields = Vec::new();
        for (expr, name) in &items {
            exprs.push(bind(expr, &scope)?);
            let table = match exprs.last() {
                Some(BExpr::Column(c, _)) if name.is_none() => input_fields[*c].table.clone(),
                _ => None,
            };
            fields.push(Field {
                table,
                name: name.clone().unwrap_or_else(|| display_name(expr)),
            });
        }
        let visible = exprs.len();
        let distinct = match &select.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => {
                return Err(invalid(
                    "DISTINCT ON is not supported; use ROW_NUMBER() OVER (PARTITION BY …) = 1",
                ));
            }
        };
        let mut keys = Vec::new();
        for o in order {
            let position = match output_reference(&o.expr, &fields)? {
                Some(i) => i,
                None => {
                    let text = o.expr.to_string();
                    match items.iter().position(|(e, _)| e.to_string() == text) {
                        Some(i) => i,
                        None if distinct => {
                            return Err(invalid(format!(
                                "with SELECT DISTINCT, ORDER BY {text} must be in the select list"
                            )));
                        }
                        None => {
                            exprs.push(bind(&o.expr, &scope)?);
                            fields.push(Field::new(None, &text));
                            exprs.len() - 1
                        }
                    }
                }
            };
            keys.push(sort_key(
                BExpr::Column(position, fields[position].name.clone()),
                o,
            ));
        }
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
            fields: fields.clone(),
        };
        if distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if fields.len() > visible {
            let kept = fields[..visible].to_vec();
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible)
                    .map(|i| BExpr::Column(i, kept[i].name.clone()))
                    .collect(),
                fields: kept,
            };
        }
        Ok(plan)
    }
}

/// A plan whose fields are renamed to `alias` (and `columns`, if given).
fn alias(plan: Plan, alias: &str, columns: &[String]) -> Result<Plan, AnalyticsError> {
    let fields = plan.fields();
    if columns.len() > fields.len() {
        return Err(invalid(format!(
            "{alias} names {} columns but has {}",
            columns.len(),
            fields.len()
        )));
    }
    let names = fields
        .iter()
        .enumerate()
        .map(|(i, f)| columns.get(i).cloned().unwrap_or_else(|| f.name.clone()))
        .collect();
    Ok(Plan::Alias {
        input: Box::new(plan),
        alias: alias.to_owned(),
        names,
    })
}

fn count(expr: &Expr) -> Result<usize, AnalyticsError> {
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n
                .parse()
                .map_err(|_| invalid(format!("LIMIT and OFFSET take a whole number, not {n}"))),
            _ => Err(invalid(format!(
                "LIMIT and OFFSET take a whole number, not {expr}"
            ))),
        },
        _ => Err(invalid(format!(
            "LIMIT and OFFSET take a whole number, not {expr}"
        ))),
    }
}

fn sort_key(expr: BExpr, o: &ast::OrderByExpr) -> SortKey {
    let descending = o
        .options
        .sort
        .as_ref()
        .is_some_and(|s| matches!(s, ast::OrderBySort::Desc));
    SortKey {
        expr,
        descending,
        nulls_first: o.options.nulls_first.unwrap_or(false),
    }
}

/// An ORDER BY that names an output column by alias or position.
fn output_reference(expr: &Expr, fields: &[Field]) -> Result<Option<usize>, AnalyticsError> {
    match expr {
        Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let i: usize = n.parse().unwrap_or(0);
                if i == 0 || i > fields.len() {
                    return Err(invalid(format!(
                        "ORDER BY {n} is out of range: the query has {} columns",
                        fields.len()
                    )));
                }
                Ok(Some(i - 1))
            }
            _ => Ok(None),
        },
        Expr::Identifier(id) => Ok(fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(&id.value))),
        _ => Ok(None),
    }
}

fn split_and<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(e) => split_and(e, out),
        other => out.push(other),
    }
}

/// Select items with wildcards expanded; each with its alias.
fn expand_items(
    items: &[SelectItem],
    fields: &[Field],
) -> Result<Vec<(Expr, Option<String>)>, AnalyticsError> {
    let mut out = Vec::new();
    let column = |f: &Field| match &f.table {
        Some(t) => Expr::CompoundIdentifier(vec![ast::Ident::new(t), ast::Ident::new(&f.name)]),
        None => Expr::Identifier(ast::Ident::with_quote('"', &f.name)),
    };
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => out.push((e.clone(), None)),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push((expr.clone(), Some(alias.value.clone())))
            }
            SelectItem::Wildcard(_) => {
                for f in fields.iter().filter(|f| !f.name.starts_with("__")) {
                    out.push((column(f), Some(f.name.clone())));
                }
            }
            SelectItem::QualifiedWildcard(kind, _) => {
                let table = kind.to_string();
                let table = table.trim_end_matches(".*");
                let mut any = false;
                for f in fields.iter().filter(|f| {
                    f.table
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(table))
                }) {
                    any = true;
                    out.push((column(f), Some(f.name.clone())));
                }
                if !any {
                    return Err(invalid(format!("no table '{table}' in FROM for {table}.*")));
                }
            }
            other => return Err(invalid(format!("unsupported select item: {other}"))),
        }
    }
    Ok(out)
}

fn display_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(id) => id.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn function_name(f: &ast::Function) -> String {
    f.name.to_string().to_lowercase()
}

/// Collects aggregate calls (`aggregates`) or window calls (not) in
/// `expr`, outermost first, not looking inside what it collects.
fn collect_calls<'e>(expr: &'e Expr, aggregates: bool, out: &mut Vec<&'e ast::Function>) {
    if let Expr::Function(f) = expr {
        let is_window = f.over.is_some();
        let is_aggregate = !is_window && AggFunc::of(&function_name(f)).is_some();
        if (aggregates && is_aggregate) || (!aggregates && is_window) {
            out.push(f);
            return;
        }
    }
    for child in children(expr) {
        collect_calls(child, aggregates, out);
    }
}

fn function_args(f: &ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn children(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryOp { left, right, .. } => vec![left, right],
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::Cast { expr, .. }
        | Expr::Extract { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. }
        | Expr::Trim { expr, .. } => vec![expr],
        Expr::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            vec![expr, pattern]
        }
        Expr::In { expr, target, .. } => {
            let mut all = vec![expr.as_ref()];
            if let ast::InTarget::List(list) = target {
                all.extend(list.iter());
            }
            all
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let mut all: Vec<&Expr> = operand.iter().map(|b| b.as_ref()).collect();
            for c in conditions {
                all.push(&c.condition);
                all.push(&c.result);
            }
            all.extend(else_result.iter().map(|b| b.as_ref()));
            all
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut all = vec![expr.as_ref()];
            all.extend(substring_from.iter().map(|b| b.as_ref()));
            all.extend(substring_for.iter().map(|b| b.as_ref()));
            all
        }
        Expr::Function(f) => function_args(f),
        _ => Vec::new(),
    }
}

/// `GROUP BY` keys (select aliases and positions resolved to their
/// expressions) and the grouping sets over them.
fn grouping(
    group_by: &GroupByExpr,
    items: &[(Expr, Option<String>)],
) -> Result<(Vec<Expr>, Vec<Vec<usize>>), AnalyticsError> {
    let (exprs, modifiers) = match group_by {
        GroupByExpr::Expressions(e, m) => (e, m),
        GroupByExpr::All(_) => {
            return Err(invalid("GROUP BY ALL is not supported: name the columns"));
        }
    };
    let mut keys: Vec<Expr> = Vec::new();
    let mut key_of = |e: &Expr| -> Result<usize, AnalyticsError> {
        let e = match e {
            Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => {
                    let i: usize = n.parse().unwrap_or(0);
                    items
                        .get(i.wrapping_sub(1))
                        .map(|(e, _)| e.clone())
                        .ok_or_else(|| invalid(format!("GROUP BY {n} is out of range")))?
                }
                _ => e.clone(),
            },
            Expr::Identifier(id) => items
                .iter()
                .find(|(item, alias)| {
                    alias.as_ref().is_some_and(|a| a.eq_ignore_ascii_case(&id.value))
                        && !matches!(item, Expr::Identifier(i) if i.value.eq_ignore_ascii_case(&id.value))
                })
                .map_or(e.clone(), |(item, _)| item.clone()),
            _ => e.clone(),
        };
        let text = e.to_string();
        Ok(match keys.iter().position(|k| k.to_string() == text) {
            Some(i) => i,
            None => {
                keys.push(e);
                keys.len() - 1
            }
        })
    };
    // Each GROUP BY element is a list of alternative sets; the query's
    // sets are their cross product.
    let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
    fn cross(sets: &mut Vec<Vec<usize>>, alternatives: Vec<Vec<usize>>) {
        let mut next = Vec::new();
        for s in sets.iter() {
            for a in &alternatives {
                let mut merged = s.clone();
                merged.extend(a.iter().filter(|k| !s.contains(k)));
                next.push(merged);
            }
        }
        *sets = next;
    }
    let lists = |list: &[Vec<Expr>],
                 key_of: &mut dyn FnMut(&Expr) -> Result<usize, AnalyticsError>| {
        list.iter()
            .map(|group| {
                group
                    .iter()
                    .map(&mut *key_of)
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    for e in exprs {
        match e {
            Expr::Rollup(list) => {
                let groups = lists(list, &mut key_of)?;
                let mut alternatives = Vec::new();
                for n in (0..=groups.len()).rev() {
                    alternatives.push(groups[..n].concat());
                }
                cross(&mut sets, alternatives);
            }
            Expr::Cube(list) => {
                let groups = lists(list, &mut key_of)?;
                if groups.len() > 12 {
                    return Err(invalid("CUBE takes at most 12 groups"));
                }
                let mut alternatives = Vec::new();
                for mask in (0..1u32 << groups.len()).rev() {
                    let mut set = Vec::new();
                    for (i, g) in groups.iter().enumerate() {
                        if mask & (1 << (groups.len() - 1 - i)) != 0 {
                            set.extend(g);
                        }
                    }
                    alternatives.push(set);
                }
                cross(&mut sets, alternatives);
            }
            Expr::GroupingSets(list) => {
                let groups = lists(list, &mut key_of)?;
                cross(&mut sets, groups);
            }
            other => {
                let k = key_of(other)?;
                cross(&mut sets, vec![vec![k]]);
            }
        }
    }
    for m in modifiers {
        let all: Vec<usize> = (0..keys.len()).collect();
        match m {
            GroupByWithModifier::Rollup => {
                sets = (0..=all.len()).rev().map(|n| all[..n].to_vec()).collect();
            }
            GroupByWithModifier::Cube => {
                let mut alternatives = Vec::new();
                for mask in (0..1u32 << all.len()).rev() {
                    alternatives.push(
                        all.iter()
                            .copied()
                            .filter(|k| mask & (1 << (all.len() - 1 - k)) != 0)
                            .collect(),
                    );
                }
                sets = alternatives;
            }
            _ => return Err(invalid(format!("unsupported GROUP BY modifier: {m}"))),
        }
    }
    if keys.is_empty() {
        sets = vec![Vec::new()];
    }
    Ok((keys, sets))
}

/// `GROUPING(…)` calls in `expr`.
fn collect_grouping<'e>(expr: &'e Expr, out: &mut Vec<&'e ast::Function>) {
    if let Expr::Function(f) = expr
        && function_name(f) == "grouping"
    {
        out.push(f);
        return;
    }
    for c in children(expr) {
        collect_grouping(c, out);
    }
}
