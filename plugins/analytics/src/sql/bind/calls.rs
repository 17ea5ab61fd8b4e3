//! Aggregate and window calls: `count(DISTINCT x)`, `quantile_cont(x, q)`,
//! `sum(x) OVER (PARTITION BY … ORDER BY … ROWS BETWEEN …)` from sqlparser's
//! function nodes to the calls the aggregate and window operators run.

use sqlparser::ast::{self as ast, Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::super::aggregate::{AggCall, AggFunc};
use super::super::expr::BExpr;
use super::super::window::{Frame, FrameBound, WindowCall, WindowFunc};
use super::{Scope, bind, collect_calls, count, function_args, function_name, invalid, sort_key};
use crate::AnalyticsError;

pub(super) fn aggregate_call(
    f: &ast::Function,
    scope: &Scope,
) -> Result<(AggCall, Option<BExpr>), AnalyticsError> {
    let name = function_name(f);
    let func = AggFunc::of(&name).ok_or_else(|| invalid(format!("{name} is not an aggregate")))?;
    let distinct = matches!(
        &f.args,
        FunctionArguments::List(l) if matches!(l.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct))
    );
    let star = matches!(
        &f.args,
        FunctionArguments::List(l) if l.args.iter().any(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Wildcard)))
    );
    let args = function_args(f);
    if star || (func == AggFunc::Count && args.is_empty()) {
        if func != AggFunc::Count {
            return Err(invalid(format!("{name}(*) is not a thing; name a column")));
        }
        return Ok((
            AggCall {
                func: AggFunc::CountStar,
                distinct: false,
                arg: None,
                param: None,
            },
            None,
        ));
    }
    let quantile = matches!(func, AggFunc::Quantile | AggFunc::ApproxQuantile);
    let (arg, param) = match (args.as_slice(), quantile) {
        ([arg], false) => (arg, None),
        ([arg, q], true) => (arg, Some(quantile_param(&name, q)?)),
        (_, true) => {
            return Err(invalid(format!(
                "{name}(x, q) takes a column and a quantile between 0 and 1, such as {name}(value, 0.9)"
            )));
        }
        _ => return Err(invalid(format!("{name}() takes one argument"))),
    };
    let mut inner = Vec::new();
    collect_calls(arg, true, &mut inner);
    if !inner.is_empty() {
        return Err(invalid(format!(
            "aggregates cannot be nested: {}",
            Expr::Function(f.clone())
        )));
    }
    Ok((
        AggCall {
            func,
            distinct,
            arg: Some(0),
            param,
        },
        Some(bind(arg, scope)?),
    ))
}

/// The constant `q` of `name(x, q)`, in [0, 1].
fn quantile_param(name: &str, q: &Expr) -> Result<f64, AnalyticsError> {
    let text = q.to_string();
    text.parse::<f64>()
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        .ok_or_else(|| {
            invalid(format!(
                "the quantile of {name}() is a number between 0 and 1, not {text}"
            ))
        })
}

fn frame_bound(b: &ast::WindowFrameBound) -> Result<FrameBound, AnalyticsError> {
    let offset = |e: &Option<Box<Expr>>| -> Result<Option<u64>, AnalyticsError> {
        e.as_ref().map(|e| count(e).map(|n| n as u64)).transpose()
    };
    Ok(match b {
        ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
        ast::WindowFrameBound::Preceding(e) => match offset(e)? {
            None => FrameBound::UnboundedPreceding,
            Some(n) => FrameBound::Preceding(n),
        },
        ast::WindowFrameBound::Following(e) => match offset(e)? {
            None => FrameBound::UnboundedFollowing,
            Some(n) => FrameBound::Following(n),
        },
    })
}

pub(super) fn window_call(f: &ast::Function, scope: &Scope) -> Result<WindowCall, AnalyticsError> {
    let name = function_name(f);
    let Some(ast::WindowType::WindowSpec(spec)) = &f.over else {
        return Err(invalid(format!(
            "{name}: named windows are not supported; write OVER (…)"
        )));
    };
    let args: Vec<BExpr> = function_args(f)
        .into_iter()
        .map(|a| bind(a, scope))
        .collect::<Result<_, _>>()?;
    let star = matches!(
        &f.args,
        FunctionArguments::List(l) if l.args.iter().any(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Wildcard)))
    );
    let func = match name.as_str() {
        "row_number" => WindowFunc::RowNumber,
        "rank" => WindowFunc::Rank,
        "dense_rank" => WindowFunc::DenseRank,
        "percent_rank" => WindowFunc::PercentRank,
        "ntile" => WindowFunc::Ntile,
        "lag" => WindowFunc::Lag,
        "lead" => WindowFunc::Lead,
        "first_value" => WindowFunc::FirstValue,
        "last_value" => WindowFunc::LastValue,
        "count" if star || args.is_empty() => WindowFunc::Aggregate(AggFunc::CountStar),
        other => match AggFunc::of(other) {
            Some(
                a @ (AggFunc::Count | AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max),
            ) => WindowFunc::Aggregate(a),
            _ => {
                return Err(invalid(format!(
                    "{other} is not a window function here; use row_number, rank, dense_rank, percent_rank, ntile, lag, lead, first_value, last_value, or count/sum/avg/min/max OVER (…)"
                )));
            }
        },
    };
    let partition = spec
        .partition_by
        .iter()
        .map(|e| bind(e, scope))
        .collect::<Result<_, _>>()?;
    let order = spec
        .order_by
        .iter()
        .map(|o| Ok(sort_key(bind(&o.expr, scope)?, o)))
        .collect::<Result<Vec<_>, AnalyticsError>>()?;
    let frame = match &spec.window_frame {
        None => Frame::default_for(!spec.order_by.is_empty()),
        Some(w) => {
            let rows = match w.units {
                ast::WindowFrameUnits::Rows => true,
                ast::WindowFrameUnits::Range => false,
                ast::WindowFrameUnits::Groups => {
                    return Err(invalid(
                        "GROUPS frames are not supported; use ROWS or RANGE",
                    ));
                }
            };
            let start = frame_bound(&w.start_bound)?;
            let end = w
                .end_bound
                .as_ref()
                .map(frame_bound)
                .transpose()?
                .unwrap_or(FrameBound::CurrentRow);
            if !rows
                && (matches!(start, FrameBound::Preceding(_) | FrameBound::Following(_))
                    || matches!(end, FrameBound::Preceding(_) | FrameBound::Following(_)))
            {
                return Err(invalid(
                    "RANGE frames with offsets are not supported; use ROWS BETWEEN n PRECEDING AND m FOLLOWING",
                ));
            }
            Frame { rows, start, end }
        }
    };
    WindowCall::new(func, args, partition, order, frame, &name)
}
