//! Projections: which fields of a document to return (`{"a": 1, "b.c":
//! 1}`), which to leave out (`{"secret": 0}`), array slices (`$slice`), the
//! first matching element (`$elemMatch`) and, as in `$project`, computed
//! fields (`{"total": {"$add": ["$a", "$b"]}}`). Inclusion and exclusion
//! cannot be mixed, except that `_id` may always be left out. This module
//! must not touch storage.

use serde_json::{Map, Value};

use crate::DocumentError;
use crate::expr::{Expr, Vars};
use crate::filter::Filter;
use crate::path;

/// A parsed projection.
#[derive(Clone, Debug)]
pub struct Projection {
    inclusive: bool,
    keep_id: bool,
    tree: Node,
    slices: Vec<(String, i64, Option<i64>)>,
    elem_matches: Vec<(String, Filter)>,
    computed: Vec<(String, Expr)>,
}

#[derive(Clone, Debug, Default)]
struct Node {
    leaf: bool,
    nodes: Vec<(String, Node)>,
}

impl Node {
    fn insert(&mut self, segments: &[&str]) {
        match segments.split_first() {
            None => self.leaf = true,
            Some((head, rest)) => {
                if let Some((_, child)) = self.nodes.iter_mut().find(|(k, _)| k == head) {
                    child.insert(rest);
                } else {
                    let mut child = Node::default();
                    child.insert(rest);
                    self.nodes.push(((*head).to_owned(), child));
                }
            }
        }
    }

    fn child(&self, key: &str) -> Option<&Node> {
        self.nodes.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }
}

impl Projection {
    /// Parses a projection; `{}` returns documents whole.
    pub fn parse(spec: &Value) -> Result<Self, DocumentError> {
        let Value::Object(fields) = spec else {
            return Err(DocumentError::invalid(format!(
                "a projection is an object like {{\"name\": 1, \"_id\": 0}}; got {spec}"
            )));
        };
        let mut projection = Self {
            inclusive: false,
            keep_id: true,
            tree: Node::default(),
            slices: Vec::new(),
            elem_matches: Vec::new(),
            computed: Vec::new(),
        };
        let (mut includes, mut excludes, mut id_only) = (false, false, false);
        for (field, value) in fields {
            path::parse(field)?;
            match value {
                Value::Object(map) if map.contains_key("$slice") => {
                    projection.slices.push(parse_slice(field, &map["$slice"])?);
                }
                Value::Object(map) if map.contains_key("$elemMatch") => {
                    projection
                        .elem_matches
                        .push((field.clone(), Filter::parse(&map["$elemMatch"])?));
                }
                Value::Bool(_) | Value::Number(_) => {
                    let on = crate::value::truthy(value);
                    if field == "_id" {
                        projection.keep_id = on;
                        id_only |= on;
                        continue;
                    }
                    if on {
                        includes = true;
                    } else {
                        excludes = true;
                    }
                    let segments: Vec<&str> = field.split('.').collect();
                    projection.tree.insert(&segments);
                }
                other => {
                    includes = true;
                    projection
                        .computed
                        .push((field.clone(), Expr::parse(other)?));
                }
            }
        }
        if includes && excludes {
            return Err(DocumentError::invalid(
                "a projection cannot both include (1) and exclude (0) fields, except _id: 0",
            ));
        }
        // `{_id: 1}` alone is an inclusion of `_id` only.
        projection.inclusive = includes
            || id_only
                && !excludes
                && projection.slices.is_empty()
                && projection.elem_matches.is_empty();
        Ok(projection)
    }

    /// Whether the projection returns documents unchanged.
    pub fn is_identity(&self) -> bool {
        !self.inclusive
            && self.keep_id
            && self.tree.nodes.is_empty()
            && self.slices.is_empty()
            && self.elem_matches.is_empty()
    }

    /// Projects one document.
    pub fn apply(&self, doc: &Value) -> Result<Value, DocumentError> {
        let Value::Object(fields) = doc else {
            return Ok(doc.clone());
        };
        let mut out = if self.inclusive {
            let mut out = Map::new();
            if self.keep_id
                && let Some(id) = fields.get("_id")
            {
                out.insert("_id".into(), id.clone());
            }
            for (k, v) in fields {
                if let Some(node) = self.tree.child(k)
                    && let Some(kept) = include(v, node)
                {
                    out.insert(k.clone(), kept);
                }
            }
            out
        } else {
            let mut out = fields.clone();
            if !self.keep_id {
                out.shift_remove("_id");
            }
            let mut value = Value::Object(std::mem::take(&mut out));
            exclude(&mut value, &self.tree);
            match value {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        };
        for (field, expr) in &self.computed {
            if let Some(v) = expr.eval_opt(doc, &Vars::root(doc))? {
                let mut wrapped = Value::Object(std::mem::take(&mut out));
                let segments: Vec<&str> = field.split('.').collect();
                path::set(&mut wrapped, &segments, v)?;
                out = match wrapped {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
            }
        }
        let mut value = Value::Object(out);
        for (field, skip, limit) in &self.slices {
            let segments: Vec<&str> = field.split('.').collect();
            if let Some(Value::Array(items)) = path::get(doc, &segments) {
                path::set(
                    &mut value,
                    &segments,
                    Value::Array(slice(items, *skip, *limit)),
                )?;
            }
        }
        for (field, filter) in &self.elem_matches {
            let segments: Vec<&str> = field.split('.').collect();
            let first = match path::get(doc, &segments) {
                Some(Value::Array(items)) => items
                    .iter()
                    .find(|i| i.is_object() && filter.matches(i))
                    .cloned(),
                _ => None,
            };
            match first {
                Some(item) => {
                    path::set(&mut value, &segments, Value::Array(vec![item]))?;
                }
                None => {
                    path::unset(&mut value, &segments);
                }
            }
        }
        Ok(value)
    }
}

fn parse_slice(field: &str, arg: &Value) -> Result<(String, i64, Option<i64>), DocumentError> {
    let bad =
        || DocumentError::invalid(format!("'{field}': $slice takes n or [skip, n], not {arg}"));
    match arg {
        Value::Number(n) => Ok((field.to_owned(), n.as_i64().ok_or_else(bad)?, None)),
        Value::Array(pair) if pair.len() == 2 => {
            let skip = pair[0].as_i64().ok_or_else(bad)?;
            let n = pair[1].as_i64().filter(|n| *n > 0).ok_or_else(bad)?;
            Ok((field.to_owned(), skip, Some(n)))
        }
        _ => Err(bad()),
    }
}

/// `$slice: n` (first n, or last -n) or `[skip, n]` (skip from the end
/// when negative).
fn slice(items: &[Value], a: i64, limit: Option<i64>) -> Vec<Value> {
    let len = items.len() as i64;
    let (start, count) = match limit {
        None if a >= 0 => (0, a),
        None => ((len + a).max(0), len),
        Some(n) => (if a < 0 { (len + a).max(0) } else { a.min(len) }, n),
    };
    items
        .iter()
        .skip(start as usize)
        .take(count.max(0) as usize)
        .cloned()
        .collect()
}

fn include(value: &Value, node: &Node) -> Option<Value> {
    if node.leaf {
        return Some(value.clone());
    }
    match value {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (k, v) in fields {
                if let Some(child) = node.child(k)
                    && let Some(kept) = include(v, child)
                {
                    out.insert(k.clone(), kept);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter(|i| i.is_object() || i.is_array())
                .filter_map(|i| include(i, node))
                .collect(),
        )),
        _ => None,
    }
}

fn exclude(value: &mut Value, node: &Node) {
    match value {
        Value::Object(fields) => {
            for (key, child) in &node.nodes {
                if child.leaf {
                    fields.shift_remove(key);
                } else if let Some(v) = fields.get_mut(key) {
                    exclude(v, child);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                exclude(item, node);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(spec: Value, doc: Value) -> Value {
        match Projection::parse(&spec).and_then(|p| p.apply(&doc)) {
            Ok(v) => v,
            Err(e) => panic!("{spec}: {e}"),
        }
    }

    #[test]
    fn inclusion_exclusion_and_nested_arrays() {
        let doc = json!({"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "l": [{"x": 1, "y": 2}, 5]});
        assert_eq!(
            project(json!({"a": 1}), doc.clone()),
            json!({"_id": 1, "a": 1})
        );
        assert_eq!(
            project(json!({"b.c": 1, "_id": 0}), doc.clone()),
            json!({"b": {"c": 2}})
        );
        assert_eq!(
            project(json!({"l.x": 1}), doc.clone()),
            json!({"_id": 1, "l": [{"x": 1}]})
        );
        assert_eq!(
            project(json!({"b.d": 0, "l": 0}), doc.clone()),
            json!({"_id": 1, "a": 1, "b": {"c": 2}})
        );
        assert!(Projection::parse(&json!({"a": 1, "b": 0})).is_err());
    }

    #[test]
    fn slices_elem_matches_and_computed_fields() {
        let doc = json!({"_id": 1, "s": [1, 2, 3, 4], "e": [{"k": 1}, {"k": 2}, {"k": 2, "z": 1}]});
        assert_eq!(
            project(json!({"s": {"$slice": 2}}), doc.clone())["s"],
            json!([1, 2])
        );
        assert_eq!(
            project(json!({"s": {"$slice": -1}}), doc.clone())["s"],
            json!([4])
        );
        assert_eq!(
            project(json!({"s": {"$slice": [1, 2]}}), doc.clone())["s"],
            json!([2, 3])
        );
        assert_eq!(
            project(json!({"e": {"$elemMatch": {"k": 2}}}), doc.clone())["e"],
            json!([{"k": 2}])
        );
        assert_eq!(
            project(json!({"n": {"$size": "$s"}}), doc),
            json!({"_id": 1, "n": 4})
        );
    }
}
