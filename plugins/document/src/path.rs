//! Dotted paths into documents: `a.b.0.c`.
//!
//! Two readings, as in MongoDB. A query path fans out through arrays
//! (`tags.name` over `tags: [{name}, …]` is every element's name; see
//! [`values_at`]); an update path addresses one place (`tags.0.name`), with
//! numeric segments indexing arrays (see [`get`], [`set`], [`unset`]).
//! This module must not interpret operators.

use serde_json::{Map, Value};

use crate::DocumentError;

/// A path split into its segments, checked: no empty segment, no `$`
/// prefix (which would be an operator).
pub fn parse(path: &str) -> Result<Vec<&str>, DocumentError> {
    if path.is_empty() {
        return Err(DocumentError::invalid("a field path cannot be empty"));
    }
    let segments: Vec<&str> = path.split('.').collect();
    for segment in &segments {
        if segment.is_empty() {
            return Err(DocumentError::invalid(format!(
                "the field path '{path}' has an empty segment: write it without leading, trailing or doubled dots"
            )));
        }
        if segment.starts_with('$') {
            return Err(DocumentError::invalid(format!(
                "the field path '{path}' has a segment '{segment}' starting with '$': operators go in the value, not the path"
            )));
        }
    }
    Ok(segments)
}

fn index(segment: &str) -> Option<usize> {
    if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
        segment.parse().ok()
    } else {
        None
    }
}

/// What a query path reaches in `doc`: every value it names, fanning out
/// through arrays of documents, and whether any array was crossed (a path
/// through an array that some element lacks also counts as missing there).
pub fn values_at<'a>(doc: &'a Value, segments: &[&str]) -> Reached<'a> {
    let mut reached = Reached::default();
    walk(doc, segments, &mut reached);
    reached
}

/// The values a query path reached.
#[derive(Debug, Default)]
pub struct Reached<'a> {
    /// Each value found at the end of the path.
    pub values: Vec<&'a Value>,
    /// Whether some branch of the path ended before its last segment.
    pub missing: bool,
}

fn walk<'a>(value: &'a Value, segments: &[&str], out: &mut Reached<'a>) {
    let Some((head, rest)) = segments.split_first() else {
        out.values.push(value);
        return;
    };
    match value {
        Value::Object(map) => match map.get(*head) {
            Some(child) => walk(child, rest, out),
            None => out.missing = true,
        },
        Value::Array(items) => {
            if let Some(i) = index(head) {
                match items.get(i) {
                    Some(child) => walk(child, rest, out),
                    None => out.missing = true,
                }
                return;
            }
            let mut any_document = false;
            for item in items {
                if item.is_object() {
                    any_document = true;
                    walk(item, segments, out);
                }
            }
            if !any_document {
                out.missing = true;
            }
        }
        _ => out.missing = true,
    }
}

/// The one value at an update path, if there is one.
pub fn get<'a>(doc: &'a Value, segments: &[&str]) -> Option<&'a Value> {
    let mut current = doc;
    for segment in segments {
        current = match current {
            Value::Object(map) => map.get(*segment)?,
            Value::Array(items) => items.get(index(segment)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The place at an update path, created (as objects, or array slots
/// padded with null) where missing. Fails where the path runs into a
/// scalar, or names a field of an array.
pub fn slot<'a>(doc: &'a mut Value, segments: &[&str]) -> Result<&'a mut Value, DocumentError> {
    let mut current = doc;
    // A field this call created holds null until filled: an object is made
    // of it if the path goes on. A null that was there stays an error.
    let mut created = false;
    for (depth, segment) in segments.iter().enumerate() {
        if created {
            *current = Value::Object(Map::new());
        }
        created = false;
        current = match current {
            Value::Object(map) => {
                if !map.contains_key(*segment) {
                    created = true;
                }
                map.entry((*segment).to_owned()).or_insert(Value::Null)
            }
            Value::Array(items) => {
                let i = index(segment).ok_or_else(|| {
                    DocumentError::invalid(format!(
                        "cannot create field '{segment}' in an array at '{}': use a numeric index",
                        segments[..depth].join(".")
                    ))
                })?;
                if i > 1_000_000 {
                    return Err(DocumentError::invalid(format!(
                        "array index {i} at '{}' is too large",
                        segments[..=depth].join(".")
                    )));
                }
                if items.len() <= i {
                    items.resize(i + 1, Value::Null);
                    created = true;
                }
                &mut items[i]
            }
            other => {
                return Err(DocumentError::invalid(format!(
                    "cannot create field '{segment}' in '{}', which holds {}",
                    segments[..depth].join("."),
                    crate::value::type_name(other)
                )));
            }
        };
    }
    Ok(current)
}

/// Sets the value at an update path; answers the previous one.
pub fn set(
    doc: &mut Value,
    segments: &[&str],
    value: Value,
) -> Result<Option<Value>, DocumentError> {
    let existed = get(doc, segments).is_some();
    let place = slot(doc, segments)?;
    let old = std::mem::replace(place, value);
    Ok(existed.then_some(old))
}

/// Removes the field at an update path (an array element becomes null,
/// as in MongoDB); answers what was there.
pub fn unset(doc: &mut Value, segments: &[&str]) -> Option<Value> {
    let (last, parents) = segments.split_last()?;
    let mut current = doc;
    for segment in parents {
        current = match current {
            Value::Object(map) => map.get_mut(*segment)?,
            Value::Array(items) => items.get_mut(index(segment)?)?,
            _ => return None,
        };
    }
    match current {
        Value::Object(map) => map.shift_remove(*last),
        Value::Array(items) => {
            let slot = items.get_mut(index(last)?)?;
            Some(std::mem::replace(slot, Value::Null))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_paths_fan_out_through_arrays_of_documents() {
        let doc = json!({"a": [{"b": 1}, {"b": [2, 3]}, {"c": 4}], "x": {"y": 5}});
        let reached = values_at(&doc, &["a", "b"]);
        assert_eq!(reached.values, vec![&json!(1), &json!([2, 3])]);
        assert!(reached.missing, "the third element has no b");
        assert_eq!(
            values_at(&doc, &["a", "1", "b"]).values,
            vec![&json!([2, 3])]
        );
        assert_eq!(values_at(&doc, &["x", "y"]).values, vec![&json!(5)]);
        assert!(values_at(&doc, &["x", "z"]).values.is_empty());
    }

    #[test]
    fn update_paths_create_what_is_missing() -> Result<(), DocumentError> {
        let mut doc = json!({"a": {"b": 1}, "list": [1]});
        set(&mut doc, &["a", "c", "d"], json!(2))?;
        set(&mut doc, &["list", "3"], json!(9))?;
        assert_eq!(
            doc,
            json!({"a": {"b": 1, "c": {"d": 2}}, "list": [1, null, null, 9]})
        );
        assert!(
            set(&mut doc, &["a", "b", "c"], json!(0)).is_err(),
            "b is a number"
        );
        assert!(set(&mut doc, &["list", "x"], json!(0)).is_err());
        assert_eq!(unset(&mut doc, &["a", "b"]), Some(json!(1)));
        assert_eq!(unset(&mut doc, &["list", "0"]), Some(json!(1)));
        assert_eq!(
            doc,
            json!({"a": {"c": {"d": 2}}, "list": [null, null, null, 9]})
        );
        Ok(())
    }

    #[test]
    fn bad_paths_are_refused_with_their_segment() {
        assert!(parse("a..b").is_err());
        assert!(parse("a.$b").is_err());
        assert!(parse("").is_err());
        assert_eq!(parse("a.0.b").ok(), Some(vec!["a", "0", "b"]));
    }
}
