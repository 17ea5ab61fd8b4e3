//! MongoDB's order and types over JSON values.
//!
//! Documents are JSON, so of BSON's types only six occur: null, numbers,
//! strings, objects, arrays and booleans, compared across types in
//! MongoDB's order (null < numbers < strings < objects < arrays <
//! booleans) and within a type as MongoDB does (numbers by value whatever
//! their representation, objects field by field, arrays element by
//! element). This module must not know about paths or queries.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// A value's place in MongoDB's order of types ("type bracket").
pub fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Object(_) => 4,
        Value::Array(_) => 5,
        Value::Bool(_) => 8,
    }
}

/// MongoDB's total order of values.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    let by_rank = rank(a).cmp(&rank(b));
    if by_rank != Ordering::Equal {
        return by_rank;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => compare_lists(x, y),
        (Value::Object(x), Value::Object(y)) => compare_objects(x, y),
        _ => Ordering::Equal,
    }
}

/// MongoDB's equality: numbers equal by value (`1 == 1.0`), objects equal
/// only with the same fields in the same order.
pub fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

fn compare_lists(x: &[Value], y: &[Value]) -> Ordering {
    for (a, b) in x.iter().zip(y) {
        let order = compare(a, b);
        if order != Ordering::Equal {
            return order;
        }
    }
    x.len().cmp(&y.len())
}

fn compare_objects(x: &Map<String, Value>, y: &Map<String, Value>) -> Ordering {
    for ((ka, va), (kb, vb)) in x.iter().zip(y) {
        let order = rank(va)
            .cmp(&rank(vb))
            .then_with(|| ka.cmp(kb))
            .then_with(|| compare(va, vb));
        if order != Ordering::Equal {
            return order;
        }
    }
    x.len().cmp(&y.len())
}

/// Numbers by value: integers exactly, floats by IEEE order with NaN
/// below every number (as MongoDB sorts it).
pub fn compare_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let (a, b) = (as_f64(x), as_f64(y));
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A number as f64 (integers past 2^53 round).
pub fn as_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(0.0)
}

/// The number in `value`, if it is one.
pub fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// MongoDB's name of a value's type, as `$type` matches and returns it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "int",
            Some(_) => "long",
            None => "double",
        },
    }
}

/// Whether `value` has the type `alias` names (a `$type` name or BSON
/// type number; `"number"` matches every numeric type).
pub fn has_type(value: &Value, alias: &TypeAlias) -> bool {
    let name = type_name(value);
    match alias {
        TypeAlias::Number => matches!(value, Value::Number(_)),
        TypeAlias::Named(wanted) => *wanted == name,
    }
}

/// A `$type` argument, resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeAlias {
    /// Any number.
    Number,
    /// One of [`type_name`]'s names.
    Named(&'static str),
}

impl TypeAlias {
    /// Resolves a `$type` argument: a name, or a BSON type number.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let known: [(&'static str, i64); 8] = [
            ("double", 1),
            ("string", 2),
            ("object", 3),
            ("array", 4),
            ("bool", 8),
            ("null", 10),
            ("int", 16),
            ("long", 18),
        ];
        match value {
            Value::String(s) if s == "number" => Ok(Self::Number),
            Value::String(s) => known
                .iter()
                .find(|(name, _)| name == s)
                .map(|(name, _)| Self::Named(name))
                .ok_or_else(|| {
                    format!(
                        "unknown $type '{s}': use one of number, double, string, object, array, bool, null, int, long"
                    )
                }),
            Value::Number(n) => {
                let code = n.as_i64().unwrap_or(-1);
                known
                    .iter()
                    .find(|(_, c)| *c == code)
                    .map(|(name, _)| Self::Named(name))
                    .ok_or_else(|| format!("unknown BSON type number {n} for $type"))
            }
            other => Err(format!("$type takes a type name or number, not {other}")),
        }
    }
}

/// A JSON number from an f64, as an integer when it is one (so `$inc` of
/// integers stays integral).
pub fn from_f64(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Whether a value is "truthy" for aggregation expressions: everything but
/// false, null, missing and zero.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => as_f64(n) != 0.0,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_order_as_mongodb_orders_them() {
        let ascending = [
            json!(null),
            json!(-1.5),
            json!(2),
            json!(""),
            json!("b"),
            json!({}),
            json!({"a": 1}),
            json!([]),
            json!([1]),
            json!(false),
            json!(true),
        ];
        for pair in ascending.windows(2) {
            assert_eq!(
                compare(&pair[0], &pair[1]),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn numbers_compare_by_value_and_objects_by_field_order() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!({"a": 1, "b": 2}), &json!({"a": 1.0, "b": 2})));
        assert!(!equal(&json!({"a": 1, "b": 2}), &json!({"b": 2, "a": 1})));
        assert_eq!(
            compare(&json!(i64::MAX), &json!(i64::MAX - 1)),
            Ordering::Greater
        );
    }

    #[test]
    fn type_names_follow_bson() {
        assert_eq!(type_name(&json!(1)), "int");
        assert_eq!(type_name(&json!(1_i64 << 40)), "long");
        assert_eq!(type_name(&json!(1.5)), "double");
        assert!(has_type(&json!(3), &TypeAlias::Number));
        assert_eq!(TypeAlias::parse(&json!(2)), Ok(TypeAlias::Named("string")));
        assert!(TypeAlias::parse(&json!("decimal")).is_err());
    }
}
