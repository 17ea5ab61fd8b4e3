//! Query filters with MongoDB's semantics, compiled once and then matched
//! against many documents.
//!
//! A filter is parsed whole before any document is read, so an unknown
//! operator is an error even on an empty collection. Matching follows
//! MongoDB: each condition on a field is tested on the value and, where
//! that value is an array, on each element; comparisons (`$gt`, …) only
//! match values of the same type bracket; `{f: null}` matches a missing
//! `f` too. This module must not touch storage.

use regex::Regex;
use serde_json::{Map, Value};

use crate::DocumentError;
use crate::path::{self, Reached};
use crate::value::{TypeAlias, compare, equal, has_type, rank};

/// A compiled filter.
#[derive(Clone, Debug)]
pub enum Filter {
    /// Every part holds (a filter document's fields, or `$and`).
    And(Vec<Filter>),
    /// Some part holds.
    Or(Vec<Filter>),
    /// No part holds.
    Nor(Vec<Filter>),
    /// Conditions on one field path, all of which hold.
    Field {
        /// The dotted path as written.
        path: String,
        /// The conditions.
        conditions: Vec<Condition>,
    },
    /// An aggregation expression that must be truthy (`$expr`).
    Expr(crate::expr::Expr),
    /// A JSONPath (RFC 9535) query that must select something.
    JsonPath(Box<serde_json_path::JsonPath>),
}

/// One condition on a field's value.
#[derive(Clone, Debug)]
pub enum Condition {
    /// `$eq` (and a plain value).
    Eq(Value),
    /// `$gt`, `$gte`, `$lt`, `$lte`: within the operand's type bracket.
    Cmp(Cmp, Value),
    /// `$in`.
    In(Vec<Value>),
    /// `$exists`.
    Exists(bool),
    /// `$type`.
    Type(Vec<TypeAlias>),
    /// `$regex` (on strings).
    Regex(Box<Regex>),
    /// `$all`: every value is matched as by `$eq`.
    All(Vec<Value>),
    /// `$size` of an array.
    Size(usize),
    /// `$elemMatch` with a filter over element documents.
    ElemDoc(Box<Filter>),
    /// `$elemMatch` with conditions on the elements themselves.
    ElemValue(Vec<Condition>),
    /// `$mod: [divisor, remainder]`.
    Mod(f64, f64),
    /// `$ne`, `$nin`, `$not`: the negation of these conditions on the field.
    Not(Vec<Condition>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `$gt`.
    Gt,
    /// `$gte`.
    Gte,
    /// `$lt`.
    Lt,
    /// `$lte`.
    Lte,
}

impl Cmp {
    fn holds(self, order: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match self {
            Self::Gt => order == Greater,
            Self::Gte => order != Less,
            Self::Lt => order == Less,
            Self::Lte => order != Greater,
        }
    }
}

impl Filter {
    /// Compiles a filter document. `{}` matches everything.
    pub fn parse(filter: &Value) -> Result<Self, DocumentError> {
        let Value::Object(fields) = filter else {
            return Err(DocumentError::invalid(format!(
                "a filter is a JSON object, like {{\"status\": \"A\"}}; got {filter}"
            )));
        };
        Self::parse_fields(fields)
    }

    fn parse_fields(fields: &Map<String, Value>) -> Result<Self, DocumentError> {
        let mut parts = Vec::with_capacity(fields.len());
        for (key, value) in fields {
            parts.push(match key.as_str() {
                "$and" => Self::And(Self::parse_list(key, value)?),
                "$or" => Self::Or(Self::parse_list(key, value)?),
                "$nor" => Self::Nor(Self::parse_list(key, value)?),
                "$expr" => Self::Expr(crate::expr::Expr::parse(value)?),
                "$jsonPath" => {
                    let text = value.as_str().ok_or_else(|| {
                        DocumentError::invalid("$jsonPath takes a JSONPath string, like \"$.tags[?@ == 'x']\"")
                    })?;
                    let parsed = serde_json_path::JsonPath::parse(text).map_err(|e| {
                        DocumentError::invalid(format!("$jsonPath '{text}' is not RFC 9535 JSONPath: {e}"))
                    })?;
                    Self::JsonPath(Box::new(parsed))
                }
                op if op.starts_with('$') => {
                    return Err(DocumentError::invalid(format!(
                        "unknown top-level operator '{op}': use $and, $or, $nor, $expr or $jsonPath, or a field name"
                    )));
                }
                field => {
                    path::parse(field)?;
                    Self::Field {
                        path: field.to_owned(),
                        conditions: parse_conditions(field, value)?,
                    }
                }
            });
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Self::And(parts)
        })
    }

    fn parse_list(op: &str, value: &Value) -> Result<Vec<Self>, DocumentError> {
        match value {
            Value::Array(items) if !items.is_empty() => items.iter().map(Self::parse).collect(),
            _ => Err(DocumentError::invalid(format!(
                "{op} takes a non-empty array of filters, like [{{\"a\": 1}}, {{\"b\": 2}}]"
            ))),
        }
    }

    /// Whether `doc` matches.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|p| p.matches(doc)),
            Self::Or(parts) => parts.iter().any(|p| p.matches(doc)),
            Self::Nor(parts) => !parts.iter().any(|p| p.matches(doc)),
            Self::Field { path, conditions } => {
                let segments: Vec<&str> = path.split('.').collect();
                let reached = path::values_at(doc, &segments);
                conditions.iter().all(|c| c.holds(&reached))
            }
            Self::Expr(expr) => crate::value::truthy(
                &expr
                    .eval(doc, &crate::expr::Vars::root(doc))
                    .unwrap_or(Value::Null),
            ),
            Self::JsonPath(query) => !query.query(doc).is_empty(),
        }
    }

    /// The top-level conditions on fields, for the planner: `(path,
    /// conditions)` of every field part that must hold.
    pub fn required_fields(&self) -> Vec<(&str, &[Condition])> {
        match self {
            Self::Field { path, conditions } => vec![(path.as_str(), conditions.as_slice())],
            Self::And(parts) => parts.iter().flat_map(Self::required_fields).collect(),
            _ => Vec::new(),
        }
    }
}

/// Whether a value is an operator document (`{"$gt": 1}`), rather than a
/// literal to compare with.
pub fn is_operator_doc(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.keys().next().is_some_and(|k| k.starts_with('$')))
}

fn parse_conditions(field: &str, value: &Value) -> Result<Vec<Condition>, DocumentError> {
    if !is_operator_doc(value) {
        return Ok(vec![Condition::Eq(value.clone())]);
    }
    let Value::Object(ops) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        if !op.starts_with('$') {
            return Err(DocumentError::invalid(format!(
                "'{field}': an operator document cannot mix operators and fields ('{op}')"
            )));
        }
        if op == "$options" {
            if !ops.contains_key("$regex") {
                return Err(DocumentError::invalid(format!(
                    "'{field}': $options needs $regex"
                )));
            }
            continue;
        }
        out.push(parse_condition(field, op, arg, ops.get("$options"))?);
    }
    Ok(out)
}

fn list<'a>(field: &str, op: &str, arg: &'a Value) -> Result<&'a Vec<Value>, DocumentError> {
    arg.as_array()
        .ok_or_else(|| DocumentError::invalid(format!("'{field}': {op} takes an array, not {arg}")))
}

fn parse_condition(
    field: &str,
    op: &str,
    arg: &Value,
    options: Option<&Value>,
) -> Result<Condition, DocumentError> {
    Ok(match op {
        "$eq" => Condition::Eq(arg.clone()),
        "$ne" => Condition::Not(vec![Condition::Eq(arg.clone())]),
        "$gt" => Condition::Cmp(Cmp::Gt, arg.clone()),
        "$gte" => Condition::Cmp(Cmp::Gte, arg.clone()),
        "$lt" => Condition::Cmp(Cmp::Lt, arg.clone()),
        "$lte" => Condition::Cmp(Cmp::Lte, arg.clone()),
        "$in" => Condition::In(list(field, op, arg)?.clone()),
        "$nin" => Condition::Not(vec![Condition::In(list(field, op, arg)?.clone())]),
        "$exists" => Condition::Exists(crate::value::truthy(arg)),
        "$type" => Condition::Type(match arg {
            Value::Array(items) => items
                .iter()
                .map(TypeAlias::parse)
                .collect::<Result<_, _>>()
                .map_err(DocumentError::invalid)?,
            one => vec![TypeAlias::parse(one).map_err(DocumentError::invalid)?],
        }),
        "$regex" => Condition::Regex(Box::new(regex(field, arg, options)?)),
        "$all" => Condition::All(list(field, op, arg)?.clone()),
        "$size" => Condition::Size(
            arg.as_u64()
                .or_else(|| {
                    arg.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                        .map(|x| x as u64)
                })
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    DocumentError::invalid(format!(
                        "'{field}': $size takes a non-negative integer, not {arg}"
                    ))
                })?,
        ),
        "$elemMatch" => match arg {
            Value::Object(map)
                if map.keys().all(|k| {
                    k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor" | "$expr")
                }) =>
            {
                Condition::ElemValue(parse_conditions(field, arg)?)
            }
            Value::Object(_) => Condition::ElemDoc(Box::new(Filter::parse(arg)?)),
            _ => {
                return Err(DocumentError::invalid(format!(
                    "'{field}': $elemMatch takes an object (a filter or conditions), not {arg}"
                )));
            }
        },
        "$mod" => {
            let pair = list(field, op, arg)?;
            match (
                pair.first().and_then(Value::as_f64),
                pair.get(1).and_then(Value::as_f64),
            ) {
                (Some(d), Some(r)) if pair.len() == 2 && d != 0.0 => Condition::Mod(d, r),
                _ => {
                    return Err(DocumentError::invalid(format!(
                        "'{field}': $mod takes [divisor, remainder] with a non-zero divisor, not {arg}"
                    )));
                }
            }
        }
        "$not" => match arg {
            Value::Object(_) if is_operator_doc(arg) => {
                Condition::Not(parse_conditions(field, arg)?)
            }
            Value::String(_) => {
                Condition::Not(vec![Condition::Regex(Box::new(regex(field, arg, None)?))])
            }
            _ => {
                return Err(DocumentError::invalid(format!(
                    "'{field}': $not takes an operator document like {{\"$gt\": 5}} or a regex, not {arg}"
                )));
            }
        },
        other => {
            return Err(DocumentError::invalid(format!(
                "'{field}': unknown operator '{other}': use $eq $ne $gt $gte $lt $lte $in $nin $exists $type $regex $all $size $elemMatch $mod $not"
            )));
        }
    })
}

fn regex(field: &str, pattern: &Value, options: Option<&Value>) -> Result<Regex, DocumentError> {
    let text = pattern.as_str().ok_or_else(|| {
        DocumentError::invalid(format!(
            "'{field}': $regex takes a pattern string, not {pattern}"
        ))
    })?;
    let flags = match options {
        None => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(DocumentError::invalid(format!(
                "'{field}': $options takes a string of i, m, s, x, not {other}"
            )));
        }
    };
    let mut builder = regex::RegexBuilder::new(text);
    for flag in flags.chars() {
        let _ = match flag {
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            'x' => builder.ignore_whitespace(true),
            other => {
                return Err(DocumentError::invalid(format!(
                    "'{field}': unknown regex option '{other}': use i, m, s or x"
                )));
            }
        };
    }
    builder.size_limit(1 << 20).build().map_err(|e| {
        DocumentError::invalid(format!("'{field}': $regex '{text}' does not compile: {e}"))
    })
}

impl Condition {
    /// Whether the condition holds for what a path reached.
    pub fn holds(&self, reached: &Reached<'_>) -> bool {
        match self {
            Self::Exists(wanted) => reached.values.is_empty() != *wanted,
            Self::Not(inner) => !inner.iter().all(|c| c.holds(reached)),
            Self::Size(_) | Self::ElemDoc(_) | Self::ElemValue(_) => {
                reached.values.iter().any(|v| self.holds_whole(v))
            }
            Self::All(values) => {
                !values.is_empty()
                    && values
                        .iter()
                        .all(|wanted| Self::Eq(wanted.clone()).holds(reached))
            }
            _ => {
                let missing_matches =
                    (reached.values.is_empty() || reached.missing) && self.holds_on_missing();
                missing_matches
                    || reached.values.iter().any(|value| {
                        self.holds_on(value)
                            || matches!(value, Value::Array(items) if items.iter().any(|i| self.holds_on(i)))
                    })
            }
        }
    }

    /// Conditions that a missing field satisfies: equality with null (and
    /// comparisons that include null).
    fn holds_on_missing(&self) -> bool {
        match self {
            Self::Eq(Value::Null) => true,
            Self::Cmp(Cmp::Gte | Cmp::Lte, Value::Null) => true,
            Self::In(values) => values.iter().any(Value::is_null),
            _ => false,
        }
    }

    /// Conditions on an array as a whole.
    fn holds_whole(&self, value: &Value) -> bool {
        let Value::Array(items) = value else {
            return false;
        };
        match self {
            Self::Size(n) => items.len() == *n,
            Self::ElemDoc(filter) => items.iter().any(|i| i.is_object() && filter.matches(i)),
            Self::ElemValue(conditions) => items.iter().any(|item| {
                let reached = Reached {
                    values: vec![item],
                    missing: false,
                };
                conditions.iter().all(|c| match c {
                    // On the element itself, not fanning into it.
                    Self::Eq(_)
                    | Self::Cmp(..)
                    | Self::In(_)
                    | Self::Regex(_)
                    | Self::Type(_)
                    | Self::Mod(..) => c.holds_on(item),
                    other => other.holds(&reached),
                })
            }),
            _ => false,
        }
    }

    /// A scalar condition on one value.
    fn holds_on(&self, value: &Value) -> bool {
        match self {
            Self::Eq(wanted) => equal(value, wanted),
            Self::Cmp(cmp, operand) => {
                rank(value) == rank(operand) && cmp.holds(compare(value, operand))
            }
            Self::In(values) => values.iter().any(|w| equal(value, w)),
            Self::Type(aliases) => aliases.iter().any(|a| has_type(value, a)),
            Self::Regex(re) => value.as_str().is_some_and(|s| re.is_match(s)),
            Self::Mod(divisor, remainder) => value
                .as_f64()
                .is_some_and(|x| (x.trunc() % divisor.trunc()) == *remainder),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: Value, doc: Value) -> bool {
        match Filter::parse(&filter) {
            Ok(f) => f.matches(&doc),
            Err(e) => panic!("{filter}: {e}"),
        }
    }

    #[test]
    fn equality_reaches_into_arrays_and_null_matches_missing() {
        assert!(check(json!({"tags": "a"}), json!({"tags": ["a", "b"]})));
        assert!(check(
            json!({"tags": ["a", "b"]}),
            json!({"tags": ["a", "b"]})
        ));
        assert!(!check(
            json!({"tags": ["b", "a"]}),
            json!({"tags": ["a", "b"]})
        ));
        assert!(check(json!({"x": null}), json!({"y": 1})));
        assert!(check(json!({"x": null}), json!({"x": null})));
        assert!(!check(json!({"x": {"$exists": true}}), json!({"y": 1})));
        assert!(check(json!({"a.b": 2}), json!({"a": [{"b": 1}, {"b": 2}]})));
    }

    #[test]
    fn comparisons_stay_in_their_type_bracket() {
        assert!(check(json!({"n": {"$gt": 5}}), json!({"n": 7})));
        assert!(!check(json!({"n": {"$gt": 5}}), json!({"n": "7"})));
        assert!(
            check(json!({"n": {"$gt": 1, "$lt": 3}}), json!({"n": [0, 5]})),
            "each condition may use another element"
        );
        assert!(!check(
            json!({"n": {"$elemMatch": {"$gt": 1, "$lt": 3}}}),
            json!({"n": [0, 5]})
        ));
        assert!(check(
            json!({"n": {"$elemMatch": {"$gt": 1, "$lt": 3}}}),
            json!({"n": [0, 2]})
        ));
    }

    #[test]
    fn negations_include_missing_and_logic_composes() {
        assert!(check(json!({"x": {"$ne": 1}}), json!({})));
        assert!(check(json!({"x": {"$nin": [1, 2]}}), json!({"x": 3})));
        assert!(!check(json!({"x": {"$nin": [1, 2]}}), json!({"x": [3, 2]})));
        assert!(check(json!({"$or": [{"a": 1}, {"b": 2}]}), json!({"b": 2})));
        assert!(check(
            json!({"$nor": [{"a": 1}, {"b": 2}]}),
            json!({"b": 3})
        ));
        assert!(check(json!({"x": {"$not": {"$gt": 5}}}), json!({"x": 3})));
        assert!(check(
            json!({"name": {"$regex": "^al", "$options": "i"}}),
            json!({"name": "Alice"})
        ));
        assert!(check(
            json!({"t": {"$all": ["a", "c"]}, "t.1": "b"}),
            json!({"t": ["a", "b", "c"]})
        ));
        assert!(check(
            json!({"t": {"$size": 3}}),
            json!({"t": ["a", "b", "c"]})
        ));
        assert!(check(json!({"t": {"$type": "array"}}), json!({"t": []})));
        assert!(check(
            json!({"$jsonPath": "$.t[?@ == 'b']"}),
            json!({"t": ["a", "b"]})
        ));
    }

    #[test]
    fn bad_filters_name_their_fault() {
        for (filter, says) in [
            (json!({"a": {"$gtt": 1}}), "$gtt"),
            (json!({"$or": []}), "$or"),
            (json!({"a..b": 1}), "a..b"),
            (json!({"a": {"$regex": "("}}), "does not compile"),
            (json!({"$where": "1"}), "$where"),
        ] {
            match Filter::parse(&filter) {
                Ok(_) => panic!("{filter} should not compile"),
                Err(e) => assert!(e.to_string().contains(says), "{filter}: {e}"),
            }
        }
    }
}
