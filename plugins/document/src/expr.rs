//! Aggregation expressions: `"$field"`, `"$$ROOT"`, literals, and operator
//! documents like `{"$add": ["$a", 1]}`, compiled once, evaluated per
//! document.
//!
//! A field that is not there evaluates to "missing" (`None`), which
//! `$project` omits and most operators read as null, as in MongoDB. Errors
//! at evaluation (a `$divide` by zero, `$add` of a string) name the
//! operator. This module must not know about stages or storage.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::DocumentError;
use crate::value::{self, compare, equal, from_f64, truthy};

/// A compiled expression.
#[derive(Clone, Debug)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// `$a.b`: a path into the current document.
    Field(Vec<String>),
    /// `$$name.a.b`: a path into a variable.
    Var(String, Vec<String>),
    /// `{a: expr, …}`: an object of expressions.
    Object(Vec<(String, Expr)>),
    /// `[expr, …]`.
    Array(Vec<Expr>),
    /// `{"$op": args}`.
    Op(String, Vec<Expr>),
    /// `$filter`, `$map`: `input`, the variable's name and the body.
    Iterate {
        /// `$filter` or `$map`.
        op: &'static str,
        /// The array.
        input: Box<Expr>,
        /// The variable each element is bound to (`as`).
        name: String,
        /// `cond` or `in`.
        body: Box<Expr>,
    },
    /// `$reduce`.
    Reduce {
        /// The array.
        input: Box<Expr>,
        /// `initialValue`.
        initial: Box<Expr>,
        /// `in`, with `$$value` and `$$this`.
        body: Box<Expr>,
    },
    /// `$let`.
    Let(Vec<(String, Expr)>, Box<Expr>),
    /// `$switch`.
    Switch(Vec<(Expr, Expr)>, Option<Box<Expr>>),
}

/// Variables in scope: `$$ROOT`, `$$CURRENT` and those `$let`, `$map`,
/// `$filter` and `$reduce` bind.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    values: HashMap<String, Value>,
}

impl Vars {
    /// The variables of a stage over `doc`.
    pub fn root(doc: &Value) -> Self {
        let mut values = HashMap::new();
        values.insert("ROOT".to_owned(), doc.clone());
        Self { values }
    }

    fn with(&self, name: &str, value: Value) -> Self {
        let mut next = self.clone();
        next.values.insert(name.to_owned(), value);
        next
    }
}

const OPERATORS: &[&str] = &[
    "$add",
    "$subtract",
    "$multiply",
    "$divide",
    "$mod",
    "$abs",
    "$ceil",
    "$floor",
    "$round",
    "$trunc",
    "$sqrt",
    "$pow",
    "$exp",
    "$ln",
    "$log10",
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$cmp",
    "$and",
    "$or",
    "$not",
    "$cond",
    "$ifNull",
    "$concat",
    "$toLower",
    "$toUpper",
    "$substr",
    "$substrCP",
    "$substrBytes",
    "$strLenCP",
    "$strLenBytes",
    "$split",
    "$trim",
    "$ltrim",
    "$rtrim",
    "$indexOfCP",
    "$strcasecmp",
    "$size",
    "$arrayElemAt",
    "$first",
    "$last",
    "$in",
    "$isArray",
    "$concatArrays",
    "$slice",
    "$reverseArray",
    "$range",
    "$indexOfArray",
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$type",
    "$toString",
    "$toInt",
    "$toLong",
    "$toDouble",
    "$toBool",
    "$mergeObjects",
    "$objectToArray",
    "$arrayToObject",
    "$isNumber",
    "$literal",
];

/// Operators whose one argument is given as an object of named fields
/// (`{"$trim": {"input": …}}`), mapped to positional arguments.
fn named_args(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "$trim" | "$ltrim" | "$rtrim" => &["input", "chars"],
        "$cond" => &["if", "then", "else"],
        _ => return None,
    })
}

impl Expr {
    /// Compiles an expression.
    pub fn parse(value: &Value) -> Result<Self, DocumentError> {
        Ok(match value {
            Value::String(s) if s.starts_with("$$") => {
                let mut parts = s[2..].split('.').map(str::to_owned);
                let name = parts.next().unwrap_or_default();
                if name.is_empty() {
                    return Err(DocumentError::invalid(format!("'{s}' names no variable")));
                }
                Self::Var(name, parts.collect())
            }
            Value::String(s) if s.starts_with('$') => {
                crate::path::parse(&s[1..])?;
                Self::Field(s[1..].split('.').map(str::to_owned).collect())
            }
            Value::Array(items) => {
                Self::Array(items.iter().map(Self::parse).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => match map.iter().next() {
                Some((op, arg)) if op.starts_with('$') => {
                    if map.len() != 1 {
                        return Err(DocumentError::invalid(format!(
                            "an expression object holds one operator; this one has {} keys starting with {op}",
                            map.len()
                        )));
                    }
                    Self::parse_op(op, arg)?
                }
                _ => Self::Object(
                    map.iter()
                        .map(|(k, v)| Ok((k.clone(), Self::parse(v)?)))
                        .collect::<Result<_, DocumentError>>()?,
                ),
            },
            other => Self::Literal(other.clone()),
        })
    }

    fn parse_op(op: &str, arg: &Value) -> Result<Self, DocumentError> {
        let field = |name: &str| -> Result<&Value, DocumentError> {
            arg.get(name)
                .ok_or_else(|| DocumentError::invalid(format!("{op} needs '{name}'")))
        };
        Ok(match op {
            "$literal" => Self::Literal(arg.clone()),
            "$filter" | "$map" => {
                let name = arg
                    .get("as")
                    .and_then(Value::as_str)
                    .unwrap_or("this")
                    .to_owned();
                let body = if op == "$filter" {
                    field("cond")?
                } else {
                    field("in")?
                };
                Self::Iterate {
                    op: if op == "$filter" { "$filter" } else { "$map" },
                    input: Box::new(Self::parse(field("input")?)?),
                    name,
                    body: Box::new(Self::parse(body)?),
                }
            }
            "$reduce" => Self::Reduce {
                input: Box::new(Self::parse(field("input")?)?),
                initial: Box::new(Self::parse(field("initialValue")?)?),
                body: Box::new(Self::parse(field("in")?)?),
            },
            "$let" => {
                let vars = field("vars")?
                    .as_object()
                    .ok_or_else(|| DocumentError::invalid("$let's vars is an object"))?;
                Self::Let(
                    vars.iter()
                        .map(|(k, v)| Ok((k.clone(), Self::parse(v)?)))
                        .collect::<Result<_, DocumentError>>()?,
                    Box::new(Self::parse(field("in")?)?),
                )
            }
            "$switch" => {
                let branches = field("branches")?.as_array().ok_or_else(|| {
                    DocumentError::invalid("$switch's branches is an array of {case, then}")
                })?;
                let branches = branches
                    .iter()
                    .map(|b| {
                        let case = b.get("case").ok_or_else(|| {
                            DocumentError::invalid("a $switch branch needs 'case'")
                        })?;
                        let then = b.get("then").ok_or_else(|| {
                            DocumentError::invalid("a $switch branch needs 'then'")
                        })?;
                        Ok((Self::parse(case)?, Self::parse(then)?))
                    })
                    .collect::<Result<_, DocumentError>>()?;
                let default = arg
                    .get("default")
                    .map(Self::parse)
                    .transpose()?
                    .map(Box::new);
                Self::Switch(branches, default)
            }
            known if OPERATORS.contains(&known) => {
                let args = match (arg, named_args(known)) {
                    (Value::Object(map), Some(names)) => names
                        .iter()
                        .map(|n| {
                            map.get(*n)
                                .map_or(Ok(Self::Literal(Value::Null)), Self::parse)
                        })
                        .collect::<Result<_, _>>()?,
                    (Value::Array(items), _) => {
                        items.iter().map(Self::parse).collect::<Result<_, _>>()?
                    }
                    (one, _) => vec![Self::parse(one)?],
                };
                Self::Op(known.to_owned(), args)
            }
            unknown => {
                return Err(DocumentError::invalid(format!(
                    "unknown expression operator '{unknown}'"
                )));
            }
        })
    }

    /// Evaluates over `doc`; `None` is a missing value.
    pub fn eval(&self, doc: &Value, vars: &Vars) -> Result<Value, DocumentError> {
        Ok(self.eval_opt(doc, vars)?.unwrap_or(Value::Null))
    }

    /// Evaluates over `doc`, keeping "missing" apart from null.
    pub fn eval_opt(&self, doc: &Value, vars: &Vars) -> Result<Option<Value>, DocumentError> {
        Ok(match self {
            Self::Literal(v) => Some(v.clone()),
            Self::Field(path) => field_value(doc, path),
            Self::Var(name, path) => {
                let base = match name.as_str() {
                    "CURRENT" => Some(doc),
                    "REMOVE" => None,
                    other => Some(vars.values.get(other).ok_or_else(|| {
                        DocumentError::invalid(format!("the variable $${other} is not defined"))
                    })?),
                };
                base.and_then(|b| field_value(b, path))
            }
            Self::Object(fields) => {
                let mut out = Map::new();
                for (k, e) in fields {
                    if let Some(v) = e.eval_opt(doc, vars)? {
                        out.insert(k.clone(), v);
                    }
                }
                Some(Value::Object(out))
            }
            Self::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .map(|e| e.eval(doc, vars))
                    .collect::<Result<_, _>>()?,
            )),
            Self::Iterate {
                op,
                input,
                name,
                body,
            } => {
                let items = match input.eval(doc, vars)? {
                    Value::Array(items) => items,
                    Value::Null => return Ok(Some(Value::Null)),
                    other => {
                        return Err(DocumentError::invalid(format!(
                            "{op}'s input must be an array, not {other}"
                        )));
                    }
                };
                let mut out = Vec::new();
                for item in items {
                    let scope = vars.with(name, item.clone());
                    let v = body.eval(doc, &scope)?;
                    if *op == "$map" {
                        out.push(v);
                    } else if truthy(&v) {
                        out.push(item);
                    }
                }
                Some(Value::Array(out))
            }
            Self::Reduce {
                input,
                initial,
                body,
            } => {
                let items = match input.eval(doc, vars)? {
                    Value::Array(items) => items,
                    _ => return Ok(Some(Value::Null)),
                };
                let mut acc = initial.eval(doc, vars)?;
                for item in items {
                    let scope = vars.with("this", item).with("value", acc);
                    acc = body.eval(doc, &scope)?;
                }
                Some(acc)
            }
            Self::Let(bindings, body) => {
                let mut scope = vars.clone();
                for (name, e) in bindings {
                    let v = e.eval(doc, vars)?;
                    scope = scope.with(name, v);
                }
                body.eval_opt(doc, &scope)?
            }
            Self::Switch(branches, default) => {
                for (case, then) in branches {
                    if truthy(&case.eval(doc, vars)?) {
                        return then.eval_opt(doc, vars);
                    }
                }
                match default {
                    Some(d) => d.eval_opt(doc, vars)?,
                    None => {
                        return Err(DocumentError::invalid(
                            "$switch: no branch matched and there is no default",
                        ));
                    }
                }
            }
            Self::Op(op, args) => operate(op, args, doc, vars)?,
        })
    }
}

/// A path into a value, fanning out over arrays of documents as MongoDB's
/// `"$a.b"` does.
pub fn field_value(doc: &Value, path: &[String]) -> Option<Value> {
    let Some((head, rest)) = path.split_first() else {
        return Some(doc.clone());
    };
    match doc {
        Value::Object(map) => field_value(map.get(head)?, rest),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|i| {
                    if i.is_object() {
                        field_value(i, path)
                    } else {
                        None
                    }
                })
                .collect(),
        )),
        _ => None,
    }
}

fn num(op: &str, v: &Value) -> Result<Option<f64>, DocumentError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(value::as_f64(n))),
        other => Err(DocumentError::invalid(format!(
            "{op} takes numbers, not {} ({other})",
            value::type_name(other)
        ))),
    }
}

/// An integer result stays an integer when all inputs were.
fn numeric(x: f64, integral: bool) -> Value {
    if integral && x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        from_f64(x)
    }
}

fn all_integers(values: &[Value]) -> bool {
    values
        .iter()
        .all(|v| v.is_i64() || v.is_u64() || v.is_null())
}

fn string_of(op: &str, v: &Value) -> Result<String, DocumentError> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(DocumentError::invalid(format!(
                "{op} takes strings, not {}",
                value::type_name(other)
            )));
        }
    })
}

fn operate(
    op: &str,
    args: &[Expr],
    doc: &Value,
    vars: &Vars,
) -> Result<Option<Value>, DocumentError> {
    let vals = |doc: &Value| -> Result<Vec<Value>, DocumentError> {
        args.iter().map(|a| a.eval(doc, vars)).collect()
    };
    let arg = |i: usize| -> Result<Value, DocumentError> {
        args.get(i).map_or(Ok(Value::Null), |a| a.eval(doc, vars))
    };
    let need = |n: usize| -> Result<(), DocumentError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(DocumentError::invalid(format!(
                "{op} takes {n} argument(s), not {}",
                args.len()
            )))
        }
    };
    let v = match op {
        "$add" | "$multiply" => {
            let values = vals(doc)?;
            let mut acc = if op == "$add" { 0.0 } else { 1.0 };
            for v in &values {
                match num(op, v)? {
                    Some(x) if op == "$add" => acc += x,
                    Some(x) => acc *= x,
                    None => return Ok(Some(Value::Null)),
                }
            }
            numeric(acc, all_integers(&values))
        }
        "$subtract" | "$divide" | "$mod" | "$pow" => {
            need(2)?;
            let values = vals(doc)?;
            let (Some(a), Some(b)) = (num(op, &values[0])?, num(op, &values[1])?) else {
                return Ok(Some(Value::Null));
            };
            match op {
                "$subtract" => numeric(a - b, all_integers(&values)),
                "$divide" if b == 0.0 => return Err(DocumentError::invalid("$divide by zero")),
                "$divide" => from_f64(a / b),
                "$mod" if b == 0.0 => return Err(DocumentError::invalid("$mod by zero")),
                "$mod" => numeric(a % b, all_integers(&values)),
                _ => numeric(a.powf(b), all_integers(&values) && b >= 0.0),
            }
        }
        "$abs" | "$ceil" | "$floor" | "$trunc" | "$sqrt" | "$exp" | "$ln" | "$log10" | "$round" => {
            let v = arg(0)?;
            let Some(x) = num(op, &v)? else {
                return Ok(Some(Value::Null));
            };
            let integral = v.is_i64() || v.is_u64();
            match op {
                "$abs" => numeric(x.abs(), integral),
                "$ceil" => numeric(x.ceil(), integral),
                "$floor" => numeric(x.floor(), integral),
                "$trunc" => numeric(x.trunc(), integral),
                "$round" => {
                    let places = num(op, &arg(1)?)?.unwrap_or(0.0);
                    let scale = 10f64.powi(places as i32);
                    // Banker's rounding, as MongoDB rounds.
                    let scaled = x * scale;
                    let rounded = if (scaled.fract().abs() - 0.5).abs() < 1e-12 {
                        let f = scaled.floor();
                        if f % 2.0 == 0.0 { f } else { f + 1.0 }
                    } else {
                        scaled.round()
                    };
                    numeric(rounded / scale, integral && places <= 0.0)
                }
                "$sqrt" if x < 0.0 => {
                    return Err(DocumentError::invalid("$sqrt of a negative number"));
                }
                "$sqrt" => from_f64(x.sqrt()),
                "$exp" => from_f64(x.exp()),
                "$ln" => from_f64(x.ln()),
                _ => from_f64(x.log10()),
            }
        }
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            need(2)?;
            let (a, b) = (arg(0)?, arg(1)?);
            let order = compare(&a, &b);
            use std::cmp::Ordering::{Equal, Greater, Less};
            match op {
                "$eq" => Value::Bool(order == Equal),
                "$ne" => Value::Bool(order != Equal),
                "$gt" => Value::Bool(order == Greater),
                "$gte" => Value::Bool(order != Less),
                "$lt" => Value::Bool(order == Less),
                "$lte" => Value::Bool(order != Greater),
                _ => Value::from(match order {
                    Less => -1,
                    Equal => 0,
                    Greater => 1,
                }),
            }
        }
        "$and" => Value::Bool(vals(doc)?.iter().all(truthy)),
        "$or" => Value::Bool(vals(doc)?.iter().any(truthy)),
        "$not" => Value::Bool(!truthy(&arg(0)?)),
        "$cond" => {
            need(3)?;
            return if truthy(&arg(0)?) {
                args[1].eval_opt(doc, vars)
            } else {
                args[2].eval_opt(doc, vars)
            };
        }
        "$ifNull" => {
            for a in args {
                let v = a.eval(doc, vars)?;
                if !v.is_null() {
                    return Ok(Some(v));
                }
            }
            Value::Null
        }
        "$concat" => {
            let mut out = String::new();
            for v in vals(doc)? {
                match v {
                    Value::Null => return Ok(Some(Value::Null)),
                    Value::String(s) => out.push_str(&s),
                    other => {
                        return Err(DocumentError::invalid(format!(
                            "$concat takes strings, not {}",
                            value::type_name(&other)
                        )));
                    }
                }
            }
            Value::String(out)
        }
        "$toLower" => Value::String(string_of(op, &arg(0)?)?.to_lowercase()),
        "$toUpper" => Value::String(string_of(op, &arg(0)?)?.to_uppercase()),
        "$toString" => match arg(0)? {
            Value::Null => Value::Null,
            other => Value::String(string_of(op, &other)?),
        },
        "$substr" | "$substrCP" | "$substrBytes" => {
            need(3)?;
            let s = string_of(op, &arg(0)?)?;
            let start = num(op, &arg(1)?)?.unwrap_or(0.0).max(0.0) as usize;
            let len = num(op, &arg(2)?)?.unwrap_or(-1.0);
            let chars: Vec<char> = s.chars().collect();
            let end = if len < 0.0 {
                chars.len()
            } else {
                (start + len as usize).min(chars.len())
            };
            Value::String(
                chars
                    .get(start.min(chars.len())..end.max(start.min(chars.len())))
                    .unwrap_or(&[])
                    .iter()
                    .collect(),
            )
        }
        "$strLenCP" => Value::from(string_of(op, &arg(0)?)?.chars().count()),
        "$strLenBytes" => Value::from(string_of(op, &arg(0)?)?.len()),
        "$split" => {
            need(2)?;
            let (s, sep) = (string_of(op, &arg(0)?)?, string_of(op, &arg(1)?)?);
            if sep.is_empty() {
                return Err(DocumentError::invalid("$split needs a non-empty separator"));
            }
            Value::Array(
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            )
        }
        "$trim" | "$ltrim" | "$rtrim" => {
            let s = string_of(op, &arg(0)?)?;
            let chars = match arg(1)? {
                Value::Null => None,
                v => Some(string_of(op, &v)?),
            };
            let pred = |c: char| {
                chars
                    .as_ref()
                    .map_or(c.is_whitespace(), |set| set.contains(c))
            };
            Value::String(match op {
                "$trim" => s.trim_matches(pred).to_owned(),
                "$ltrim" => s.trim_start_matches(pred).to_owned(),
                _ => s.trim_end_matches(pred).to_owned(),
            })
        }
        "$indexOfCP" => {
            let (s, sub) = (string_of(op, &arg(0)?)?, string_of(op, &arg(1)?)?);
            match s.find(&sub) {
                Some(byte) => Value::from(s[..byte].chars().count()),
                None => Value::from(-1),
            }
        }
        "$strcasecmp" => {
            let (a, b) = (
                string_of(op, &arg(0)?)?.to_lowercase(),
                string_of(op, &arg(1)?)?.to_lowercase(),
            );
            Value::from(match a.cmp(&b) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        }
        "$size" => match arg(0)? {
            Value::Array(items) => Value::from(items.len()),
            other => {
                return Err(DocumentError::invalid(format!(
                    "$size takes an array, not {}",
                    value::type_name(&other)
                )));
            }
        },
        "$arrayElemAt" => {
            need(2)?;
            let (list, i) = (arg(0)?, num(op, &arg(1)?)?.unwrap_or(0.0) as i64);
            let Value::Array(items) = list else {
                return Ok(Some(Value::Null));
            };
            let at = if i < 0 { items.len() as i64 + i } else { i };
            return Ok(usize::try_from(at)
                .ok()
                .and_then(|at| items.get(at).cloned()));
        }
        "$first" | "$last" => {
            let Value::Array(items) = arg(0)? else {
                return Ok(Some(Value::Null));
            };
            return Ok(if op == "$first" {
                items.first().cloned()
            } else {
                items.last().cloned()
            });
        }
        "$in" => {
            need(2)?;
            let (needle, hay) = (arg(0)?, arg(1)?);
            let Value::Array(items) = hay else {
                return Err(DocumentError::invalid(
                    "$in's second argument must be an array",
                ));
            };
            Value::Bool(items.iter().any(|i| equal(i, &needle)))
        }
        "$indexOfArray" => {
            let (hay, needle) = (arg(0)?, arg(1)?);
            let Value::Array(items) = hay else {
                return Ok(Some(Value::Null));
            };
            Value::from(
                items
                    .iter()
                    .position(|i| equal(i, &needle))
                    .map_or(-1, |p| p as i64),
            )
        }
        "$isArray" => Value::Bool(arg(0)?.is_array()),
        "$isNumber" => Value::Bool(arg(0)?.is_number()),
        "$concatArrays" => {
            let mut out = Vec::new();
            for v in vals(doc)? {
                match v {
                    Value::Array(items) => out.extend(items),
                    Value::Null => return Ok(Some(Value::Null)),
                    other => {
                        return Err(DocumentError::invalid(format!(
                            "$concatArrays takes arrays, not {other}"
                        )));
                    }
                }
            }
            Value::Array(out)
        }
        "$slice" => {
            let Value::Array(items) = arg(0)? else {
                return Ok(Some(Value::Null));
            };
            let a = num(op, &arg(1)?)?.unwrap_or(0.0) as i64;
            let (start, n) = if args.len() == 3 {
                let start = if a < 0 {
                    (items.len() as i64 + a).max(0)
                } else {
                    a
                };
                (
                    start as usize,
                    num(op, &arg(2)?)?.unwrap_or(0.0).max(0.0) as usize,
                )
            } else if a < 0 {
                ((items.len() as i64 + a).max(0) as usize, items.len())
            } else {
                (0, a as usize)
            };
            Value::Array(items.into_iter().skip(start).take(n).collect())
        }
        "$reverseArray" => match arg(0)? {
            Value::Array(mut items) => {
                items.reverse();
                Value::Array(items)
            }
            _ => Value::Null,
        },
        "$range" => {
            let start = num(op, &arg(0)?)?.unwrap_or(0.0) as i64;
            let end = num(op, &arg(1)?)?.unwrap_or(0.0) as i64;
            let step = if args.len() > 2 {
                num(op, &arg(2)?)?.unwrap_or(1.0) as i64
            } else {
                1
            };
            if step == 0 {
                return Err(DocumentError::invalid("$range's step cannot be 0"));
            }
            let count = ((end - start) / step).clamp(0, 1_000_000);
            Value::Array((0..count).map(|i| Value::from(start + i * step)).collect())
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let values = vals(doc)?;
            let items: Vec<Value> = match values.as_slice() {
                [Value::Array(items)] => items.clone(),
                _ => values,
            };
            let mut acc = crate::aggregate::Accumulator::new(op);
            for v in &items {
                acc.add(Some(v));
            }
            acc.finish()
        }
        "$type" => Value::String(
            match args
                .first()
                .map(|a| a.eval_opt(doc, vars))
                .transpose()?
                .flatten()
            {
                None => "missing".to_owned(),
                Some(v) => value::type_name(&v).to_owned(),
            },
        ),
        "$toInt" | "$toLong" => match arg(0)? {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::from(i64::from(b)),
            Value::Number(n) => Value::from(value::as_f64(&n).trunc() as i64),
            Value::String(s) => Value::from(s.trim().parse::<i64>().map_err(|_| {
                DocumentError::invalid(format!("{op} cannot convert '{s}' to an integer"))
            })?),
            other => {
                return Err(DocumentError::invalid(format!(
                    "{op} cannot convert {other}"
                )));
            }
        },
        "$toDouble" => match arg(0)? {
            Value::Null => Value::Null,
            Value::Bool(b) => from_f64(f64::from(u8::from(b))),
            Value::Number(n) => from_f64(value::as_f64(&n)),
            Value::String(s) => from_f64(s.trim().parse::<f64>().map_err(|_| {
                DocumentError::invalid(format!("$toDouble cannot convert '{s}' to a number"))
            })?),
            other => {
                return Err(DocumentError::invalid(format!(
                    "$toDouble cannot convert {other}"
                )));
            }
        },
        "$toBool" => match arg(0)? {
            Value::Null => Value::Null,
            Value::String(_) => Value::Bool(true),
            other => Value::Bool(truthy(&other)),
        },
        "$mergeObjects" => {
            let values = vals(doc)?;
            let items: Vec<Value> = match values.as_slice() {
                [Value::Array(items)] => items.clone(),
                _ => values,
            };
            let mut out = Map::new();
            for v in items {
                match v {
                    Value::Object(map) => out.extend(map),
                    Value::Null => {}
                    other => {
                        return Err(DocumentError::invalid(format!(
                            "$mergeObjects takes documents, not {other}"
                        )));
                    }
                }
            }
            Value::Object(out)
        }
        "$objectToArray" => match arg(0)? {
            Value::Object(map) => Value::Array(
                map.into_iter()
                    .map(|(k, v)| serde_json::json!({"k": k, "v": v}))
                    .collect(),
            ),
            _ => Value::Null,
        },
        "$arrayToObject" => match arg(0)? {
            Value::Array(items) => {
                let mut out = Map::new();
                for item in items {
                    match item {
                        Value::Object(kv) => {
                            if let (Some(Value::String(k)), Some(v)) = (kv.get("k"), kv.get("v")) {
                                out.insert(k.clone(), v.clone());
                            }
                        }
                        Value::Array(pair) if pair.len() == 2 => {
                            if let Value::String(k) = &pair[0] {
                                out.insert(k.clone(), pair[1].clone());
                            }
                        }
                        other => {
                            return Err(DocumentError::invalid(format!(
                                "$arrayToObject takes [k, v] pairs or {{k, v}} documents, not {other}"
                            )));
                        }
                    }
                }
                Value::Object(out)
            }
            _ => Value::Null,
        },
        other => {
            return Err(DocumentError::invalid(format!(
                "expression operator {other} is not supported"
            )));
        }
    };
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: Value, doc: Value) -> Value {
        match Expr::parse(&expr).and_then(|e| e.eval(&doc, &Vars::root(&doc))) {
            Ok(v) => v,
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    #[test]
    fn arithmetic_keeps_integers_integral() {
        assert_eq!(eval(json!({"$add": ["$a", 2]}), json!({"a": 3})), json!(5));
        assert_eq!(
            eval(json!({"$multiply": ["$a", 1.5]}), json!({"a": 3})),
            json!(4.5)
        );
        assert_eq!(
            eval(json!({"$divide": ["$a", 2]}), json!({"a": 3})),
            json!(1.5)
        );
        assert_eq!(
            eval(json!({"$add": ["$missing", 2]}), json!({})),
            json!(null)
        );
        assert!(
            Expr::parse(&json!({"$divide": [1, 0]}))
                .and_then(|e| e.eval(&json!({}), &Vars::default()))
                .is_err()
        );
    }

    #[test]
    fn strings_arrays_and_conditionals() {
        let doc = json!({"name": "Ada Lovelace", "tags": ["x", "y", "z"], "n": 7});
        assert_eq!(
            eval(json!({"$toUpper": "$name"}), doc.clone()),
            json!("ADA LOVELACE")
        );
        assert_eq!(
            eval(json!({"$split": ["$name", " "]}), doc.clone()),
            json!(["Ada", "Lovelace"])
        );
        assert_eq!(eval(json!({"$size": "$tags"}), doc.clone()), json!(3));
        assert_eq!(
            eval(json!({"$arrayElemAt": ["$tags", -1]}), doc.clone()),
            json!("z")
        );
        assert_eq!(
            eval(
                json!({"$cond": [{"$gt": ["$n", 5]}, "big", "small"]}),
                doc.clone()
            ),
            json!("big")
        );
        assert_eq!(
            eval(
                json!({"$map": {"input": "$tags", "as": "t", "in": {"$concat": ["$$t", "!"]}}}),
                doc.clone()
            ),
            json!(["x!", "y!", "z!"])
        );
        assert_eq!(
            eval(
                json!({"$filter": {"input": [1, 5, 9], "cond": {"$gt": ["$$this", 4]}}}),
                doc.clone()
            ),
            json!([5, 9])
        );
        assert_eq!(
            eval(
                json!({"$reduce": {"input": [1, 2, 3], "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}),
                doc
            ),
            json!(6)
        );
    }

    #[test]
    fn unknown_operators_are_refused() {
        assert!(Expr::parse(&json!({"$frobnicate": 1})).is_err());
        assert!(Expr::parse(&json!({"$add": 1, "$subtract": 2})).is_err());
    }
}
