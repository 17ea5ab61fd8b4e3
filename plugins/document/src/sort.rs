//! Sort specifications (`{"age": -1, "name": 1}`) and MongoDB's sort keys:
//! a field holding an array sorts by its smallest element ascending and
//! its largest descending; a missing field sorts as null, and an empty
//! array before null. This module must not touch storage.

use std::cmp::Ordering;

use serde_json::Value;

use crate::DocumentError;
use crate::path;
use crate::value::compare;

/// A parsed sort specification.
#[derive(Clone, Debug, PartialEq)]
pub struct SortSpec {
    keys: Vec<(String, bool)>,
    /// `$push`'s `$sort: 1`: the values themselves, not fields of them.
    whole: Option<bool>,
}

impl SortSpec {
    /// Parses `{"field": 1 | -1, …}`, keys in order.
    pub fn parse(spec: &Value) -> Result<Self, DocumentError> {
        let Value::Object(map) = spec else {
            return Err(DocumentError::invalid(format!(
                "a sort is an object of fields and directions, like {{\"age\": -1}}; got {spec}"
            )));
        };
        if map.is_empty() {
            return Err(DocumentError::invalid("a sort needs at least one field"));
        }
        let mut keys = Vec::with_capacity(map.len());
        for (field, direction) in map {
            path::parse(field)?;
            let ascending = match direction.as_f64() {
                Some(1.0) => true,
                Some(-1.0) => false,
                _ => {
                    return Err(DocumentError::invalid(format!(
                        "sort direction of '{field}' must be 1 or -1, not {direction}"
                    )));
                }
            };
            keys.push((field.clone(), ascending));
        }
        Ok(Self { keys, whole: None })
    }

    /// Parses `$push`'s `$sort`: 1, -1 or a field specification.
    pub fn parse_push(spec: &Value) -> Result<Self, DocumentError> {
        match spec.as_f64() {
            Some(d) if d == 1.0 || d == -1.0 => Ok(Self {
                keys: Vec::new(),
                whole: Some(d == 1.0),
            }),
            _ => Self::parse(spec),
        }
    }

    /// The fields sorted on, in order, with `true` for ascending.
    pub fn keys(&self) -> &[(String, bool)] {
        &self.keys
    }

    /// Orders two documents.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        if let Some(ascending) = self.whole {
            let order = compare(a, b);
            return if ascending { order } else { order.reverse() };
        }
        for (field, ascending) in &self.keys {
            let segments: Vec<&str> = field.split('.').collect();
            let (ka, kb) = (
                sort_key(a, &segments, *ascending),
                sort_key(b, &segments, *ascending),
            );
            let order = compare_keys(&ka, &kb);
            let order = if *ascending { order } else { order.reverse() };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }

    /// Sorts documents, stably.
    pub fn sort(&self, docs: &mut [Value]) {
        docs.sort_by(|a, b| self.compare(a, b));
    }

    /// Sorts values (`$push`'s `$sort`).
    pub fn sort_values(&self, values: &mut [Value]) {
        self.sort(values);
    }
}

/// A document's key for one sort field: `None` stands for the empty
/// array, which sorts before everything.
fn sort_key(doc: &Value, segments: &[&str], ascending: bool) -> Option<Value> {
    let reached = path::values_at(doc, segments);
    let mut candidates: Vec<&Value> = Vec::new();
    let mut empty_array = false;
    for value in &reached.values {
        match value {
            Value::Array(items) if items.is_empty() => empty_array = true,
            Value::Array(items) => candidates.extend(items.iter()),
            other => candidates.push(other),
        }
    }
    if reached.values.is_empty() || reached.missing {
        candidates.push(&Value::Null);
    }
    if candidates.is_empty() {
        return if empty_array { None } else { Some(Value::Null) };
    }
    let pick = if ascending {
        candidates.into_iter().min_by(|a, b| compare(a, b))
    } else {
        candidates.into_iter().max_by(|a, b| compare(a, b))
    };
    pick.cloned()
}

fn compare_keys(a: &Option<Value>, b: &Option<Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare(x, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_on_several_keys_with_arrays_and_missing_fields() -> Result<(), DocumentError> {
        let spec = SortSpec::parse(&json!({"a": 1, "b": -1}))?;
        let mut docs = vec![
            json!({"_id": 1, "a": 2, "b": 1}),
            json!({"_id": 2, "a": [5, 1], "b": 2}),
            json!({"_id": 3, "b": 9}),
            json!({"_id": 4, "a": 2, "b": 3}),
        ];
        spec.sort(&mut docs);
        let ids: Vec<&Value> = docs.iter().map(|d| &d["_id"]).collect();
        assert_eq!(ids, vec![&json!(3), &json!(2), &json!(4), &json!(1)]);
        assert!(SortSpec::parse(&json!({"a": 2})).is_err());
        Ok(())
    }
}
