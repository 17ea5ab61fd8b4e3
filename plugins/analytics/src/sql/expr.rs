//! Bound scalar expressions and their evaluation over a [`Table`]:
//! column references are indices, functions are resolved, and every
//! operator follows SQL's NULL rules (three-valued logic, NULL in → NULL
//! out). Arithmetic and comparisons on whole typed columns take fast
//! paths; everything else is evaluated row by row on [`Datum`]s.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

use crate::AnalyticsError;
use crate::table::Table;
use crate::value::{Column, DataType, Datum, compare, parse_timestamp, timestamp_fields};

/// A binary operator.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::IntDiv => "//",
            Self::Mod => "%",
            Self::Eq => "=",
            Self::NotEq => "<>",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::And => "AND",
            Self::Or => "OR",
            Self::Concat => "||",
        }
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::NotEq | Self::Lt | Self::LtEq | Self::Gt | Self::GtEq
        )
    }
}

/// A scalar function.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Abs,
    Round,
    Floor,
    Ceil,
    Sqrt,
    Ln,
    Exp,
    Power,
    Lower,
    Upper,
    Length,
    Substr,
    Trim,
    Coalesce,
    NullIf,
    Greatest,
    Least,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    DateTrunc,
}

impl Func {
    /// The function of a SQL name, if it is a scalar one we have.
    pub fn of(name: &str) -> Option<Self> {
        Some(match name {
            "abs" => Self::Abs,
            "round" => Self::Round,
            "floor" => Self::Floor,
            "ceil" | "ceiling" => Self::Ceil,
            "sqrt" => Self::Sqrt,
            "ln" => Self::Ln,
            "exp" => Self::Exp,
            "power" | "pow" => Self::Power,
            "lower" => Self::Lower,
            "upper" => Self::Upper,
            "length" | "char_length" => Self::Length,
            "substr" | "substring" => Self::Substr,
            "trim" => Self::Trim,
            "coalesce" => Self::Coalesce,
            "nullif" => Self::NullIf,
            "greatest" => Self::Greatest,
            "least" => Self::Least,
            "year" => Self::Year,
            "month" => Self::Month,
            "day" | "dayofmonth" => Self::Day,
            "hour" => Self::Hour,
            "minute" => Self::Minute,
            "second" => Self::Second,
            "date_trunc" => Self::DateTrunc,
            _ => return None,
        })
    }

    fn arity(self) -> (usize, usize) {
        match self {
            Self::Round | Self::Substr => (1, 3),
            Self::Power | Self::NullIf | Self::DateTrunc => (2, 2),
            Self::Coalesce | Self::Greatest | Self::Least => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    /// Checks the argument count.
    pub fn check_arity(self, name: &str, given: usize) -> Result<(), AnalyticsError> {
        let (low, high) = self.arity();
        if given < low || given > high {
            let wanted = if low == high {
                format!("{low}")
            } else if high == usize::MAX {
                format!("at least {low}")
            } else {
                format!("{low} to {high}")
            };
            return Err(AnalyticsError::Invalid(format!(
                "{name}() takes {wanted} arguments, not {given}"
            )));
        }
        Ok(())
    }
}

/// A bound expression.
// Each variant is the SQL construct of its name.
#[allow(missing_docs)]
#[derive(Clone, Debug)]
pub enum BExpr {
    /// Input column `i`.
    Column(usize, String),
    /// A constant.
    Literal(Datum),
    /// `left op right`.
    Binary(Box<BExpr>, BinOp, Box<BExpr>),
    /// `NOT e`.
    Not(Box<BExpr>),
    /// `-e`.
    Negate(Box<BExpr>),
    /// `e IS [NOT] NULL`.
    IsNull(Box<BExpr>, bool),
    /// `e [NOT] IN (list)`.
    InList(Box<BExpr>, Vec<BExpr>, bool),
    /// `e [NOT] LIKE pattern`, case-insensitive for ILIKE.
    Like {
        expr: Box<BExpr>,
        pattern: Box<BExpr>,
        negated: bool,
        insensitive: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        operand: Option<Box<BExpr>>,
        branches: Vec<(BExpr, BExpr)>,
        otherwise: Option<Box<BExpr>>,
    },
    /// `CAST(e AS type)`.
    Cast(Box<BExpr>, DataType),
    /// A scalar function call.
    Call(Func, Vec<BExpr>),
    /// A call of a function a UDF plugin brings.
    Udf(Rc<super::udf::BoundUdf>, Vec<BExpr>),
}

impl fmt::Display for BExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Column(i, name) => write!(f, "{name}#{i}"),
            Self::Literal(d) => write!(f, "{}", d.render()),
            Self::Binary(l, op, r) => write!(f, "({l} {} {r})", op.symbol()),
            Self::Not(e) => write!(f, "NOT {e}"),
            Self::Negate(e) => write!(f, "-{e}"),
            Self::IsNull(e, false) => write!(f, "{e} IS NULL"),
            Self::IsNull(e, true) => write!(f, "{e} IS NOT NULL"),
            Self::InList(e, list, negated) => {
                let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                let not = if *negated { " NOT" } else { "" };
                write!(f, "{e}{not} IN ({})", items.join(", "))
            }
            Self::Like { expr, pattern, .. } => write!(f, "{expr} LIKE {pattern}"),
            Self::Case { .. } => write!(f, "CASE …"),
            Self::Cast(e, t) => write!(f, "CAST({e} AS {})", t.name()),
            Self::Call(func, args) => {
                let items: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{}({})",
                    format!("{func:?}").to_lowercase(),
                    items.join(", ")
                )
            }
            Self::Udf(udf, args) => {
                let items: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(f, "{}({})", udf.label(), items.join(", "))
            }
        }
    }
}

impl BExpr {
    /// The input columns it reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Self::Column(i, _) => out.push(*i),
            Self::Literal(_) => {}
            Self::Binary(l, _, r) => {
                l.columns(out);
                r.columns(out);
            }
            Self::Not(e) | Self::Negate(e) | Self::IsNull(e, _) | Self::Cast(e, _) => {
                e.columns(out)
            }
            Self::InList(e, list, _) => {
                e.columns(out);
                list.iter().for_each(|x| x.columns(out));
            }
            Self::Like { expr, pattern, .. } => {
                expr.columns(out);
                pattern.columns(out);
            }
            Self::Case {
                operand,
                branches,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.columns(out);
                }
                for (w, t) in branches {
                    w.columns(out);
                    t.columns(out);
                }
                if let Some(o) = otherwise {
                    o.columns(out);
                }
            }
            Self::Call(_, args) | Self::Udf(_, args) => args.iter().for_each(|x| x.columns(out)),
        }
    }
}

/// Evaluates `expr` for every row of `table`; a column reference is
/// borrowed, not copied.
pub fn eval<'t>(expr: &BExpr, table: &'t Table) -> Result<Cow<'t, Column>, AnalyticsError> {
    if let BExpr::Column(i, _) = expr {
        return Ok(Cow::Borrowed(&table.columns[*i]));
    }
    let n = table.rows;
    Ok(Cow::Owned(match expr {
        BExpr::Column(i, _) => table.columns[*i].clone(),
        BExpr::Literal(d) => Column::repeat(d, n),
        BExpr::Binary(l, op, r) => {
            if let BExpr::Literal(value) = r.as_ref() {
                let a = eval(l, table)?;
                if let Some(c) = scalar_binary(&a, *op, value) {
                    return Ok(Cow::Owned(c));
                }
            }
            let (a, b) = (eval(l, table)?, eval(r, table)?);
            match fast_binary(&a, *op, &b) {
                Some(c) => c,
                None => rowwise2(&a, &b, n, |x, y| binary(*op, &x, &y))?,
            }
        }
        BExpr::Not(e) => {
            let c = eval(e, table)?;
            rowwise1(&c, n, |x| match x {
                Datum::Null => Ok(Datum::Null),
                Datum::Bool(b) => Ok(Datum::Bool(!b)),
                other => Err(type_error("NOT", &other)),
            })?
        }
        BExpr::Negate(e) => {
            let c = eval(e, table)?;
            rowwise1(&c, n, |x| match x {
                Datum::Null => Ok(Datum::Null),
                Datum::Int(v) => Ok(Datum::Int(-v)),
                Datum::Float(v) => Ok(Datum::Float(-v)),
                other => Err(type_error("-", &other)),
            })?
        }
        BExpr::IsNull(e, negated) => {
            let c = eval(e, table)?;
            Column::Bool((0..n).map(|i| Some(c.is_null(i) != *negated)).collect())
        }
        BExpr::InList(e, list, negated) => {
            let c = eval(e, table)?;
            let items: Vec<Cow<'_, Column>> = list
                .iter()
                .map(|x| eval(x, table))
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let v = c.get(i);
                if v.is_null() {
                    out.push(None);
                    continue;
                }
                let mut found = Some(false);
                for item in &items {
                    match binary(BinOp::Eq, &v, &item.get(i))? {
                        Datum::Bool(true) => {
                            found = Some(true);
                            break;
                        }
                        Datum::Null => found = None,
                        _ => {}
                    }
                }
                out.push(found.map(|f| f != *negated));
            }
            Column::Bool(out)
        }
        BExpr::Like {
            expr,
            pattern,
            negated,
            insensitive,
        } => {
            let (c, p) = (eval(expr, table)?, eval(pattern, table)?);
            rowwise2(&c, &p, n, |x, y| match (x, y) {
                (Datum::Text(t), Datum::Text(p)) => {
                    let hit = if *insensitive {
                        like(&t.to_lowercase(), &p.to_lowercase())
                    } else {
                        like(&t, &p)
                    };
                    Ok(Datum::Bool(hit != *negated))
                }
                (Datum::Null, _) | (_, Datum::Null) => Ok(Datum::Null),
                (other, _) => Err(type_error("LIKE", &other)),
            })?
        }
        BExpr::Case {
            operand,
            branches,
            otherwise,
        } => eval_case(operand.as_deref(), branches, otherwise.as_deref(), table)?,
        BExpr::Cast(e, to) => {
            let c = eval(e, table)?;
            let values: Vec<Datum> = (0..n)
                .map(|i| cast(&c.get(i), *to))
                .collect::<Result<_, _>>()?;
            Column::from_datums_as(&values, *to)
        }
        BExpr::Call(func, args) => {
            let cols: Vec<Cow<'_, Column>> = args
                .iter()
                .map(|x| eval(x, table))
                .collect::<Result<_, _>>()?;
            let mut values = Vec::with_capacity(n);
            let mut row = Vec::with_capacity(cols.len());
            for i in 0..n {
                row.clear();
                row.extend(cols.iter().map(|c| c.get(i)));
                values.push(call(*func, &row)?);
            }
            Column::from_datums(&values)
        }
        BExpr::Udf(udf, args) => {
            let cols: Vec<Cow<'_, Column>> = args
                .iter()
                .map(|x| eval(x, table))
                .collect::<Result<_, _>>()?;
            let refs: Vec<&Column> = cols.iter().map(AsRef::as_ref).collect();
            udf.call(&refs, n)?
        }
    }))
}

fn eval_case(
    operand: Option<&BExpr>,
    branches: &[(BExpr, BExpr)],
    otherwise: Option<&BExpr>,
    table: &Table,
) -> Result<Column, AnalyticsError> {
    let n = table.rows;
    let operand = operand.map(|o| eval(o, table)).transpose()?;
    let whens: Vec<(Cow<'_, Column>, Cow<'_, Column>)> = branches
        .iter()
        .map(|(w, t)| Ok((eval(w, table)?, eval(t, table)?)))
        .collect::<Result<_, AnalyticsError>>()?;
    let otherwise = otherwise.map(|o| eval(o, table)).transpose()?;
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let mut chosen = None;
        for (w, t) in &whens {
            let hit = match &operand {
                Some(o) => matches!(binary(BinOp::Eq, &o.get(i), &w.get(i))?, Datum::Bool(true)),
                None => matches!(w.get(i), Datum::Bool(true)),
            };
            if hit {
                chosen = Some(t.get(i));
                break;
            }
        }
        values.push(chosen.unwrap_or_else(|| otherwise.as_ref().map_or(Datum::Null, |o| o.get(i))));
    }
    Ok(Column::from_datums(&values))
}

fn rowwise1(
    a: &Column,
    n: usize,
    f: impl Fn(Datum) -> Result<Datum, AnalyticsError>,
) -> Result<Column, AnalyticsError> {
    let values: Vec<Datum> = (0..n).map(|i| f(a.get(i))).collect::<Result<_, _>>()?;
    Ok(Column::from_datums(&values))
}

fn rowwise2(
    a: &Column,
    b: &Column,
    n: usize,
    f: impl Fn(Datum, Datum) -> Result<Datum, AnalyticsError>,
) -> Result<Column, AnalyticsError> {
    let values: Vec<Datum> = (0..n)
        .map(|i| f(a.get(i), b.get(i)))
        .collect::<Result<_, _>>()?;
    Ok(Column::from_datums(&values))
}

/// A column against a constant (`v > 0.5`, `k * 2`) without building a
/// column of copies of the constant.
fn scalar_binary(a: &Column, op: BinOp, value: &Datum) -> Option<Column> {
    fn cmp<T: PartialOrd + Copy>(x: &[Option<T>], y: T, op: BinOp) -> Vec<Option<bool>> {
        x.iter()
            .map(|a| {
                a.map(|a| match op {
                    BinOp::Eq => a == y,
                    BinOp::NotEq => a != y,
                    BinOp::Lt => a < y,
                    BinOp::LtEq => a <= y,
                    BinOp::Gt => a > y,
                    _ => a >= y,
                })
            })
            .collect()
    }
    let map = |x: &[Option<f64>], f: &dyn Fn(f64) -> f64| -> Vec<Option<f64>> {
        x.iter().map(|a| a.map(f)).collect()
    };
    match (a, value) {
        (Column::Float(x), Datum::Float(_) | Datum::Int(_)) => {
            let y = value.as_f64()?;
            Some(match op {
                op if op.is_comparison() => Column::Bool(cmp(x, y, op)),
                BinOp::Add => Column::Float(map(x, &|a| a + y)),
                BinOp::Sub => Column::Float(map(x, &|a| a - y)),
                BinOp::Mul => Column::Float(map(x, &|a| a * y)),
                BinOp::Div => Column::Float(map(x, &|a| a / y)),
                _ => return None,
            })
        }
        (Column::Int(x), Datum::Int(y)) if op.is_comparison() => Some(Column::Bool(cmp(x, *y, op))),
        (Column::Timestamp(x), Datum::Timestamp(y)) if op.is_comparison() => {
            Some(Column::Bool(cmp(x, *y, op)))
        }
        (Column::Int(x), Datum::Float(y)) if op.is_comparison() => {
            let x: Vec<Option<f64>> = x.iter().map(|v| v.map(|v| v as f64)).collect();
            Some(Column::Bool(cmp(&x, *y, op)))
        }
        _ => None,
    }
}

/// Whole-column arithmetic and comparisons of numbers.
fn fast_binary(a: &Column, op: BinOp, b: &Column) -> Option<Column> {
    fn zip<T: Copy, U>(x: &[Option<T>], y: &[Option<T>], f: impl Fn(T, T) -> U) -> Vec<Option<U>> {
        x.iter()
            .zip(y)
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => Some(f(*a, *b)),
                _ => None,
            })
            .collect()
    }
    fn compare_with<T: PartialOrd + Copy>(
        x: &[Option<T>],
        y: &[Option<T>],
        op: BinOp,
    ) -> Vec<Option<bool>> {
        zip(x, y, |a, b| match op {
            BinOp::Eq => a == b,
            BinOp::NotEq => a != b,
            BinOp::Lt => a < b,
            BinOp::LtEq => a <= b,
            BinOp::Gt => a > b,
            _ => a >= b,
        })
    }
    match (a, b) {
        (Column::Float(x), Column::Float(y)) => Some(match op {
            BinOp::Add => Column::Float(zip(x, y, |a, b| a + b)),
            BinOp::Sub => Column::Float(zip(x, y, |a, b| a - b)),
            BinOp::Mul => Column::Float(zip(x, y, |a, b| a * b)),
            BinOp::Div => Column::Float(zip(x, y, |a, b| a / b)),
            op if op.is_comparison() => Column::Bool(compare_with(x, y, op)),
            _ => return None,
        }),
        (Column::Int(x), Column::Int(y)) | (Column::Timestamp(x), Column::Timestamp(y))
            if op.is_comparison() =>
        {
            Some(Column::Bool(compare_with(x, y, op)))
        }
        (Column::Int(x), Column::Int(y)) => match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                let mut out = Vec::with_capacity(x.len());
                for (a, b) in x.iter().zip(y) {
                    out.push(match (a, b) {
                        (Some(a), Some(b)) => Some(match op {
                            BinOp::Add => a.checked_add(*b),
                            BinOp::Sub => a.checked_sub(*b),
                            _ => a.checked_mul(*b),
                        }?),
                        _ => None,
                    });
                }
                Some(Column::Int(out))
            }
            BinOp::Div => Some(Column::Float(zip(x, y, |a, b| a as f64 / b as f64))),
            _ => None,
        },
        (Column::Int(_), Column::Float(_)) | (Column::Float(_), Column::Int(_))
            if op != BinOp::Mod && op != BinOp::IntDiv =>
        {
            fast_binary(&to_float(a), op, &to_float(b))
        }
        (Column::Bool(x), Column::Bool(y)) if matches!(op, BinOp::And | BinOp::Or) => Some(
            Column::Bool(x.iter().zip(y).map(|(a, b)| logic(op, *a, *b)).collect()),
        ),
        _ => None,
    }
}

fn to_float(c: &Column) -> Column {
    match c {
        Column::Int(v) => Column::Float(v.iter().map(|x| x.map(|x| x as f64)).collect()),
        other => other.clone(),
    }
}

/// SQL's three-valued AND and OR.
fn logic(op: BinOp, a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match op {
        BinOp::And => match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        _ => match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn type_error(what: &str, value: &Datum) -> AnalyticsError {
    AnalyticsError::Invalid(format!(
        "{what} cannot take a {} value ({})",
        value.data_type().name(),
        value.render()
    ))
}

/// `a op b` on single values.
pub fn binary(op: BinOp, a: &Datum, b: &Datum) -> Result<Datum, AnalyticsError> {
    use Datum as D;
    if matches!(op, BinOp::And | BinOp::Or) {
        let truth = |d: &Datum| match d {
            D::Null => Ok(None),
            D::Bool(v) => Ok(Some(*v)),
            other => Err(type_error(op.symbol(), other)),
        };
        return Ok(logic(op, truth(a)?, truth(b)?).map_or(D::Null, D::Bool));
    }
    if a.is_null() || b.is_null() {
        return Ok(D::Null);
    }
    if op.is_comparison() {
        let ordering = match (a, b) {
            (D::Timestamp(_), D::Text(t)) => compare(a, &text_timestamp(t)?),
            (D::Text(t), D::Timestamp(_)) => compare(&text_timestamp(t)?, b),
            (D::Int(_) | D::Float(_), D::Int(_) | D::Float(_))
            | (D::Text(_), D::Text(_))
            | (D::Bool(_), D::Bool(_))
            | (D::Timestamp(_), D::Timestamp(_)) => compare(a, b),
            _ => {
                return Err(AnalyticsError::Invalid(format!(
                    "cannot compare {} with {} ({} {} {}); CAST one of them",
                    a.data_type().name(),
                    b.data_type().name(),
                    a.render(),
                    op.symbol(),
                    b.render()
                )));
            }
        };
        use std::cmp::Ordering::*;
        let hit = match op {
            BinOp::Eq => ordering == Equal,
            BinOp::NotEq => ordering != Equal,
            BinOp::Lt => ordering == Less,
            BinOp::LtEq => ordering != Greater,
            BinOp::Gt => ordering == Greater,
            _ => ordering != Less,
        };
        return Ok(D::Bool(hit));
    }
    let overflow = || {
        AnalyticsError::Invalid(format!(
            "integer overflow in {} {} {}",
            a.render(),
            op.symbol(),
            b.render()
        ))
    };
    Ok(match (op, a, b) {
        (BinOp::Concat, _, _) => D::Text(Rc::from(format!("{}{}", text_of(a), text_of(b)))),
        (BinOp::Add, D::Int(x), D::Int(y)) => D::Int(x.checked_add(*y).ok_or_else(overflow)?),
        (BinOp::Sub, D::Int(x), D::Int(y)) => D::Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (BinOp::Mul, D::Int(x), D::Int(y)) => D::Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (BinOp::Mod, D::Int(_), D::Int(0)) | (BinOp::IntDiv, D::Int(_), D::Int(0)) => D::Null,
        (BinOp::Mod, D::Int(x), D::Int(y)) => D::Int(x.wrapping_rem(*y)),
        (BinOp::IntDiv, D::Int(x), D::Int(y)) => D::Int(x.div_euclid(*y)),
        (BinOp::Sub, D::Timestamp(x), D::Timestamp(y)) => D::Int(x - y),
        (op, x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => match op {
                BinOp::Add => D::Float(x + y),
                BinOp::Sub => D::Float(x - y),
                BinOp::Mul => D::Float(x * y),
                BinOp::Div => D::Float(x / y),
                BinOp::Mod => D::Float(x % y),
                _ => D::Float((x / y).floor()),
            },
            _ => {
                return Err(AnalyticsError::Invalid(format!(
                    "cannot apply {} to {} and {}",
                    op.symbol(),
                    a.data_type().name(),
                    b.data_type().name()
                )));
            }
        },
    })
}

fn text_of(d: &Datum) -> String {
    match d {
        Datum::Text(t) => t.to_string(),
        other => other.render(),
    }
}

fn text_timestamp(t: &str) -> Result<Datum, AnalyticsError> {
    parse_timestamp(t).map(Datum::Timestamp).ok_or_else(|| {
        AnalyticsError::Invalid(format!(
            "'{t}' is not a timestamp: write it as '2024-01-31' or '2024-01-31 12:00:00'"
        ))
    })
}

/// SQL LIKE: `%` any run, `_` one character.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matching with one backtrack point per `%`.
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// `CAST(value AS to)`.
pub fn cast(value: &Datum, to: DataType) -> Result<Datum, AnalyticsError> {
    use Datum as D;
    let fail =
        || AnalyticsError::Invalid(format!("cannot cast {} to {}", value.render(), to.name()));
    Ok(match (value, to) {
        (D::Null, _) => D::Null,
        (v, t) if v.data_type() == t => v.clone(),
        (D::Int(v), DataType::Float) => D::Float(*v as f64),
        (D::Float(v), DataType::Int) => {
            if !v.is_finite() || v.abs() > 9.2e18 {
                return Err(fail());
            }
            D::Int(v.round() as i64)
        }
        (D::Bool(v), DataType::Int) => D::Int(i64::from(*v)),
        (D::Int(v), DataType::Bool) => D::Bool(*v != 0),
        (D::Text(t), DataType::Int) => D::Int(t.trim().parse().map_err(|_| fail())?),
        (D::Text(t), DataType::Float) => D::Float(t.trim().parse().map_err(|_| fail())?),
        (D::Text(t), DataType::Bool) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => D::Bool(true),
            "false" | "f" | "0" => D::Bool(false),
            _ => return Err(fail()),
        },
        (D::Text(t), DataType::Timestamp) => text_timestamp(t)?,
        (D::Timestamp(v), DataType::Int) => D::Int(*v),
        (v, DataType::Text) => D::Text(Rc::from(text_of(v))),
        _ => return Err(fail()),
    })
}

fn numeric(func: Func, d: &Datum) -> Result<Option<f64>, AnalyticsError> {
    match d {
        Datum::Null => Ok(None),
        other => other.as_f64().map(Some).ok_or_else(|| {
            AnalyticsError::Invalid(format!(
                "{}() takes a number, not {}",
                format!("{func:?}").to_lowercase(),
                other.render()
            ))
        }),
    }
}

/// A scalar function on one row's arguments.
pub fn call(func: Func, args: &[Datum]) -> Result<Datum, AnalyticsError> {
    use Datum as D;
    let first = &args[0];
    if !matches!(
        func,
        Func::Coalesce | Func::NullIf | Func::Greatest | Func::Least
    ) && args.iter().any(Datum::is_null)
    {
        return Ok(D::Null);
    }
    let float = |f: fn(f64) -> f64| -> Result<Datum, AnalyticsError> {
        Ok(numeric(func, first)?.map_or(D::Null, |x| D::Float(f(x))))
    };
    Ok(match func {
        Func::Abs => match first {
            D::Int(v) => D::Int(v.abs()),
            _ => float(f64::abs)?,
        },
        Func::Round => {
            let digits = match args.get(1) {
                Some(D::Int(d)) => *d as i32,
                Some(other) => numeric(func, other)?.unwrap_or(0.0) as i32,
                None => 0,
            };
            match first {
                D::Int(v) if digits >= 0 => D::Int(*v),
                _ => {
                    let x = numeric(func, first)?.unwrap_or(0.0);
                    if digits == 0 {
                        D::Float(x.round())
                    } else if digits > 0 {
                        // Rounds the exact binary value, as DuckDB does:
                        // 23.15 is 23.149999… and rounds to 23.1.
                        let text = format!("{x:.0$}", digits as usize);
                        D::Float(text.parse().unwrap_or(x))
                    } else {
                        let scale = 10f64.powi(-digits);
                        D::Float((x / scale).round() * scale)
                    }
                }
            }
        }
        Func::Floor => match first {
            D::Int(v) => D::Int(*v),
            _ => float(f64::floor)?,
        },
        Func::Ceil => match first {
            D::Int(v) => D::Int(*v),
            _ => float(f64::ceil)?,
        },
        Func::Sqrt => float(f64::sqrt)?,
        Func::Ln => float(f64::ln)?,
        Func::Exp => float(f64::exp)?,
        Func::Power => {
            let (x, y) = (numeric(func, first)?, numeric(func, &args[1])?);
            D::Float(x.unwrap_or(0.0).powf(y.unwrap_or(0.0)))
        }
        Func::Lower => D::Text(Rc::from(text_of(first).to_lowercase())),
        Func::Upper => D::Text(Rc::from(text_of(first).to_uppercase())),
        Func::Trim => D::Text(Rc::from(text_of(first).trim())),
        Func::Length => D::Int(text_of(first).chars().count() as i64),
        Func::Substr => {
            let text: Vec<char> = text_of(first).chars().collect();
            let start = args.get(1).and_then(Datum::as_f64).unwrap_or(1.0) as i64;
            let len = args.get(2).and_then(Datum::as_f64).map(|l| l as i64);
            let from = (start.max(1) - 1) as usize;
            let to = match len {
                Some(l) => ((start - 1 + l).max(0) as usize).min(text.len()),
                None => text.len(),
            };
            D::Text(Rc::from(
                text.get(from.min(to)..to)
                    .unwrap_or_default()
                    .iter()
                    .collect::<String>(),
            ))
        }
        Func::Coalesce => args
            .iter()
            .find(|a| !a.is_null())
            .cloned()
            .unwrap_or(D::Null),
        Func::NullIf => match binary(BinOp::Eq, first, &args[1])? {
            D::Bool(true) => D::Null,
            _ => first.clone(),
        },
        Func::Greatest | Func::Least => {
            let mut best: Option<&Datum> = None;
            for a in args.iter().filter(|a| !a.is_null()) {
                let better = best.is_none_or(|b| {
                    let o = compare(a, b);
                    if func == Func::Greatest {
                        o.is_gt()
                    } else {
                        o.is_lt()
                    }
                });
                if better {
                    best = Some(a);
                }
            }
            best.cloned().unwrap_or(D::Null)
        }
        Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second => {
            let D::Timestamp(t) = first else {
                return Err(type_error(&format!("{func:?}()").to_lowercase(), first));
            };
            let (y, m, d, h, min, s) = timestamp_fields(*t);
            D::Int(match func {
                Func::Year => y,
                Func::Month => i64::from(m),
                Func::Day => i64::from(d),
                Func::Hour => h,
                Func::Minute => min,
                _ => s,
            })
        }
        Func::DateTrunc => {
            let (D::Text(unit), D::Timestamp(t)) = (first, &args[1]) else {
                return Err(AnalyticsError::Invalid(
                    "date_trunc takes a unit and a timestamp: date_trunc('month', at)".into(),
                ));
            };
            D::Timestamp(truncate(unit, *t)?)
        }
    })
}

/// A timestamp truncated to `unit`.
pub fn truncate(unit: &str, micros: i64) -> Result<i64, AnalyticsError> {
    use crate::value::days_from_civil;
    let (y, m, d, h, min, _) = timestamp_fields(micros);
    let day = |y, m, d| days_from_civil(y, m, d) * 86_400_000_000;
    Ok(match unit.to_ascii_lowercase().as_str() {
        "year" => day(y, 1, 1),
        "quarter" => day(y, (m - 1) / 3 * 3 + 1, 1),
        "month" => day(y, m, 1),
        "day" => day(y, m, d),
        "hour" => day(y, m, d) + h * 3_600_000_000,
        "minute" => day(y, m, d) + (h * 60 + min) * 60_000_000,
        "second" => micros - micros.rem_euclid(1_000_000),
        other => {
            return Err(AnalyticsError::Invalid(format!(
                "date_trunc does not know unit '{other}': use year, quarter, month, day, hour, minute or second"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_runs_and_single_characters() {
        assert!(like("hello", "h%o"));
        assert!(like("hello", "_ello"));
        assert!(like("hello", "%"));
        assert!(!like("hello", "h_o"));
        assert!(like("a%b", "a%b"));
        assert!(!like("", "_"));
    }

    #[test]
    fn null_logic_is_three_valued() {
        let t = Datum::Bool(true);
        let f = Datum::Bool(false);
        let n = Datum::Null;
        assert!(matches!(binary(BinOp::And, &n, &f), Ok(Datum::Bool(false))));
        assert!(matches!(binary(BinOp::And, &n, &t), Ok(Datum::Null)));
        assert!(matches!(binary(BinOp::Or, &n, &t), Ok(Datum::Bool(true))));
        assert!(matches!(binary(BinOp::Eq, &n, &n), Ok(Datum::Null)));
    }

    #[test]
    fn integer_arithmetic_is_checked_and_division_is_real() {
        assert!(binary(BinOp::Mul, &Datum::Int(i64::MAX), &Datum::Int(2)).is_err());
        assert!(
            matches!(binary(BinOp::Div, &Datum::Int(1), &Datum::Int(2)), Ok(Datum::Float(x)) if x == 0.5)
        );
        assert!(matches!(
            binary(BinOp::IntDiv, &Datum::Int(7), &Datum::Int(2)),
            Ok(Datum::Int(3))
        ));
    }
}
