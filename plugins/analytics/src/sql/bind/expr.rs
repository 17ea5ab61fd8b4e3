//! Expressions: sqlparser's `Expr` to the executor's [`BExpr`], names
//! resolved against the fields in scope, literals and types read.

use std::rc::Rc;

use sqlparser::ast::{self as ast, BinaryOperator, Expr, UnaryOperator};

use super::super::aggregate::AggFunc;
use super::super::expr::{BExpr, BinOp, Func};
use super::{Scope, function_args, function_name, invalid};
use crate::AnalyticsError;
use crate::table::resolve;
use crate::value::{DataType, Datum};

fn literal(value: &ast::Value) -> Result<Datum, AnalyticsError> {
    Ok(match value {
        ast::Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => Datum::Int(i),
            Err(_) => Datum::Float(n.parse().map_err(|_| invalid(format!("bad number {n}")))?),
        },
        ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
            Datum::Text(Rc::from(s.as_str()))
        }
        ast::Value::Boolean(b) => Datum::Bool(*b),
        ast::Value::Null => Datum::Null,
        other => return Err(invalid(format!("unsupported literal {other}"))),
    })
}

/// The executor's type for a SQL type name.
pub fn data_type(t: &ast::DataType) -> Result<DataType, AnalyticsError> {
    let name = t.to_string().to_uppercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Ok(match base {
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "INT64" | "INT8" | "INT4"
        | "HUGEINT" => DataType::Int,
        "DOUBLE" | "FLOAT" | "REAL" | "DECIMAL" | "NUMERIC" | "FLOAT8" | "FLOAT64"
        | "DOUBLE PRECISION" => DataType::Float,
        "VARCHAR" | "TEXT" | "STRING" | "CHAR" => DataType::Text,
        "BOOLEAN" | "BOOL" => DataType::Bool,
        "TIMESTAMP" | "DATETIME" | "DATE" | "TIMESTAMPTZ" => DataType::Timestamp,
        _ => {
            return Err(invalid(format!(
                "unsupported type {t}: use BIGINT, DOUBLE, VARCHAR, BOOLEAN or TIMESTAMP"
            )));
        }
    })
}

pub(super) fn bind(expr: &Expr, scope: &Scope) -> Result<BExpr, AnalyticsError> {
    let text = expr.to_string();
    if let Some(&i) = scope.computed.get(&text) {
        return Ok(BExpr::Column(i, text));
    }
    let b = |e: &Expr| bind(e, scope).map(Box::new);
    Ok(match expr {
        Expr::Identifier(id) => {
            if scope.grouped {
                return Err(invalid(format!(
                    "column '{}' must appear in GROUP BY or be used in an aggregate function",
                    id.value
                )));
            }
            BExpr::Column(resolve(scope.fields, None, &id.value)?, id.value.clone())
        }
        Expr::CompoundIdentifier(parts) => {
            let [table, column] = parts.as_slice() else {
                return Err(invalid(format!(
                    "cannot resolve {text}: write table.column"
                )));
            };
            if scope.grouped {
                return Err(invalid(format!(
                    "column '{text}' must appear in GROUP BY or be used in an aggregate function"
                )));
            }
            BExpr::Column(
                resolve(scope.fields, Some(&table.value), &column.value)?,
                text,
            )
        }
        Expr::Value(v) => BExpr::Literal(literal(&v.value)?),
        Expr::TypedString(t) => {
            let to = data_type(&t.data_type)?;
            BExpr::Literal(super::super::expr::cast(&literal(&t.value.value)?, to)?)
        }
        Expr::Nested(e) => bind(e, scope)?,
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Plus => BinOp::Add,
                BinaryOperator::Minus => BinOp::Sub,
                BinaryOperator::Multiply => BinOp::Mul,
                BinaryOperator::Divide => BinOp::Div,
                BinaryOperator::DuckIntegerDivide | BinaryOperator::MyIntegerDivide => {
                    BinOp::IntDiv
                }
                BinaryOperator::Modulo => BinOp::Mod,
                BinaryOperator::Eq => BinOp::Eq,
                BinaryOperator::NotEq => BinOp::NotEq,
                BinaryOperator::Lt => BinOp::Lt,
                BinaryOperator::LtEq => BinOp::LtEq,
                BinaryOperator::Gt => BinOp::Gt,
                BinaryOperator::GtEq => BinOp::GtEq,
                BinaryOperator::And => BinOp::And,
                BinaryOperator::Or => BinOp::Or,
                BinaryOperator::StringConcat => BinOp::Concat,
                other => return Err(invalid(format!("unsupported operator {other}"))),
            };
            BExpr::Binary(b(left)?, op, b(right)?)
        }
        Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Not => BExpr::Not(b(expr)?),
            UnaryOperator::Minus => match bind(expr, scope)? {
                BExpr::Literal(Datum::Int(v)) => BExpr::Literal(Datum::Int(-v)),
                BExpr::Literal(Datum::Float(v)) => BExpr::Literal(Datum::Float(-v)),
                other => BExpr::Negate(Box::new(other)),
            },
            UnaryOperator::Plus => bind(expr, scope)?,
            other => return Err(invalid(format!("unsupported operator {other}"))),
        },
        Expr::IsNull(e) => BExpr::IsNull(b(e)?, false),
        Expr::IsNotNull(e) => BExpr::IsNull(b(e)?, true),
        Expr::IsDistinctFrom(l, r) | Expr::IsNotDistinctFrom(l, r) => {
            // a IS DISTINCT FROM b: NULL-safe inequality.
            let (l, r) = (b(l)?, b(r)?);
            let both_null = BExpr::Binary(
                Box::new(BExpr::IsNull(l.clone(), false)),
                BinOp::And,
                Box::new(BExpr::IsNull(r.clone(), false)),
            );
            let equal = BExpr::Call(
                Func::Coalesce,
                vec![
                    BExpr::Binary(l, BinOp::Eq, r),
                    BExpr::Literal(Datum::Bool(false)),
                ],
            );
            let same = BExpr::Binary(Box::new(both_null), BinOp::Or, Box::new(equal));
            if matches!(expr, Expr::IsDistinctFrom(..)) {
                BExpr::Not(Box::new(same))
            } else {
                same
            }
        }
        Expr::In {
            expr: e,
            target,
            negated,
            ..
        } => match target {
            ast::InTarget::List(list) => BExpr::InList(
                b(e)?,
                list.iter()
                    .map(|x| bind(x, scope))
                    .collect::<Result<_, _>>()?,
                *negated,
            ),
            _ => {
                return Err(invalid(
                    "IN takes a list of values here; subqueries are not supported yet",
                ));
            }
        },
        Expr::Between {
            expr: e,
            negated,
            low,
            high,
        } => {
            let e = bind(e, scope)?;
            let inside = BExpr::Binary(
                Box::new(BExpr::Binary(Box::new(e.clone()), BinOp::GtEq, b(low)?)),
                BinOp::And,
                Box::new(BExpr::Binary(Box::new(e), BinOp::LtEq, b(high)?)),
            );
            if *negated {
                BExpr::Not(Box::new(inside))
            } else {
                inside
            }
        }
        Expr::Like {
            negated,
            expr: e,
            pattern,
            ..
        }
        | Expr::ILike {
            negated,
            expr: e,
            pattern,
            ..
        } => BExpr::Like {
            expr: b(e)?,
            pattern: b(pattern)?,
            negated: *negated,
            insensitive: matches!(expr, Expr::ILike { .. }),
        },
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => BExpr::Case {
            operand: operand.as_ref().map(|o| b(o)).transpose()?,
            branches: conditions
                .iter()
                .map(|c| Ok((bind(&c.condition, scope)?, bind(&c.result, scope)?)))
                .collect::<Result<_, AnalyticsError>>()?,
            otherwise: else_result.as_ref().map(|o| b(o)).transpose()?,
        },
        Expr::Cast {
            expr: e,
            data_type: t,
            ..
        } => BExpr::Cast(b(e)?, data_type(t)?),
        Expr::Extract { field, expr: e, .. } => {
            let name = field.to_string().to_lowercase();
            let func = Func::of(&name).filter(|f| matches!(f, Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second))
                .ok_or_else(|| invalid(format!("EXTRACT({name} …) is not supported: use year, month, day, hour, minute or second")))?;
            BExpr::Call(func, vec![bind(e, scope)?])
        }
        Expr::Ceil { expr: e, .. } => BExpr::Call(Func::Ceil, vec![bind(e, scope)?]),
        Expr::Floor { expr: e, .. } => BExpr::Call(Func::Floor, vec![bind(e, scope)?]),
        Expr::Trim { expr: e, .. } => BExpr::Call(Func::Trim, vec![bind(e, scope)?]),
        Expr::Substring {
            expr: e,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![bind(e, scope)?];
            args.push(match substring_from {
                Some(f) => bind(f, scope)?,
                None => BExpr::Literal(Datum::Int(1)),
            });
            if let Some(f) = substring_for {
                args.push(bind(f, scope)?);
            }
            BExpr::Call(Func::Substr, args)
        }
        Expr::Function(f) => {
            let name = function_name(f);
            if f.over.is_some() {
                return Err(invalid(format!(
                    "window function {name} is not allowed here (only in the select list and ORDER BY)"
                )));
            }
            if AggFunc::of(&name).is_some() {
                return Err(invalid(format!(
                    "aggregate {name}() is not allowed here (WHERE, GROUP BY and join conditions run before aggregation; use HAVING)"
                )));
            }
            let args: Vec<BExpr> = function_args(f)
                .into_iter()
                .map(|a| bind(a, scope))
                .collect::<Result<_, _>>()?;
            match Func::of(&name) {
                Some(func) => {
                    func.check_arity(&name, args.len())?;
                    BExpr::Call(func, args)
                }
                None => match scope.udfs.and_then(|u| u.bind(&name, args.len())) {
                    Some(udf) => BExpr::Udf(udf?, args),
                    None => {
                        return Err(invalid(format!(
                            "unknown function {name}(): neither built in nor brought by a loaded UDF plugin (GET /api/v1/plugins lists their functions)"
                        )));
                    }
                },
            }
        }
        Expr::Subquery(_) | Expr::Exists { .. } => {
            return Err(invalid(
                "subqueries in expressions are not supported yet: join, or use a CTE",
            ));
        }
        other => return Err(invalid(format!("unsupported expression: {other}"))),
    })
}
