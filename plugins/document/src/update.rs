//! Update documents: operators (`$set`, `$inc`, `$push`, …) or a whole
//! replacement, applied to one document with MongoDB's semantics, and the
//! change they made (`updateDescription` of a change event).
//!
//! An update is parsed whole first, so a bad operator changes nothing; it
//! is then applied to a copy, so a failure halfway (an `$inc` of a string)
//! leaves the stored document as it was. This module must not touch
//! storage.

use serde_json::{Map, Value};

use crate::DocumentError;
use crate::filter::{Condition, Filter, is_operator_doc};
use crate::path;
use crate::sort::SortSpec;
use crate::value::{self, compare, equal};

/// A parsed update.
#[derive(Clone, Debug)]
pub enum Update {
    /// A document that replaces the stored one (its `_id` kept).
    Replace(Map<String, Value>),
    /// Operators, each with its field paths and arguments, in order.
    Operators(Vec<(Op, String, Value)>),
}

/// An update operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Set,
    SetOnInsert,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    Rename,
    Push,
    Pull,
    PullAll,
    AddToSet,
    Pop,
    CurrentDate,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "$set" => Self::Set,
            "$setOnInsert" => Self::SetOnInsert,
            "$unset" => Self::Unset,
            "$inc" => Self::Inc,
            "$mul" => Self::Mul,
            "$min" => Self::Min,
            "$max" => Self::Max,
            "$rename" => Self::Rename,
            "$push" => Self::Push,
            "$pull" => Self::Pull,
            "$pullAll" => Self::PullAll,
            "$addToSet" => Self::AddToSet,
            "$pop" => Self::Pop,
            "$currentDate" => Self::CurrentDate,
            _ => return None,
        })
    }
}

/// What an update changed: dotted paths set (with their new values) and
/// removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// `updatedFields`.
    pub updated: Map<String, Value>,
    /// `removedFields`.
    pub removed: Vec<String>,
}

/// What an update may need from outside the document.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    /// Milliseconds since the Unix epoch, for `$currentDate` (the job's
    /// start time: one time for the whole update, as in MongoDB).
    pub now_ms: i64,
    /// Whether the update is creating the document (`$setOnInsert`).
    pub inserting: bool,
}

impl Update {
    /// Parses an update document: all operators, or no operators.
    pub fn parse(update: &Value) -> Result<Self, DocumentError> {
        let Value::Object(fields) = update else {
            return Err(DocumentError::invalid(format!(
                "an update is a JSON object of operators, like {{\"$set\": {{\"a\": 1}}}}, or a replacement document; got {update}"
            )));
        };
        let operators = fields.keys().filter(|k| k.starts_with('$')).count();
        if operators == 0 {
            return Ok(Self::Replace(fields.clone()));
        }
        if operators != fields.len() {
            return Err(DocumentError::invalid(
                "an update mixes operators and fields: use only operators ({\"$set\": {…}}) or only fields (a replacement)",
            ));
        }
        let mut ops = Vec::new();
        let mut touched: Vec<String> = Vec::new();
        for (name, args) in fields {
            let op = Op::parse(name).ok_or_else(|| {
                DocumentError::invalid(format!(
                    "unknown update operator '{name}': use $set $unset $inc $mul $min $max $rename $push $pull $pullAll $addToSet $pop $currentDate $setOnInsert"
                ))
            })?;
            let Value::Object(args) = args else {
                return Err(DocumentError::invalid(format!(
                    "{name} takes an object of field paths, like {{\"a.b\": 1}}"
                )));
            };
            for (field, arg) in args {
                path::parse(field)?;
                let mut fields = vec![field.clone()];
                if op == Op::Rename {
                    let to = arg.as_str().ok_or_else(|| {
                        DocumentError::invalid(format!(
                            "$rename of '{field}' takes the new name as a string"
                        ))
                    })?;
                    path::parse(to)?;
                    fields.push(to.to_owned());
                }
                for f in fields {
                    if let Some(clash) = touched.iter().find(|t| conflicts(t, &f)) {
                        return Err(DocumentError::invalid(format!(
                            "updating the path '{f}' would conflict with '{clash}': change each path once"
                        )));
                    }
                    touched.push(f);
                }
                if field == "_id" && op != Op::SetOnInsert {
                    return Err(DocumentError::invalid("the field '_id' cannot be changed"));
                }
                ops.push((op, field.clone(), arg.clone()));
            }
        }
        Ok(Self::Operators(ops))
    }

    /// Applies the update to `doc`, answering what changed; `doc` is left
    /// as it was on error.
    pub fn apply(&self, doc: &mut Value, context: Context) -> Result<Changes, DocumentError> {
        let mut next = doc.clone();
        let mut changes = Changes::default();
        match self {
            Self::Replace(fields) => {
                let id = next.get("_id").cloned();
                if let (Some(new), Some(old)) = (fields.get("_id"), &id)
                    && !equal(new, old)
                {
                    return Err(DocumentError::invalid("a replacement cannot change '_id'"));
                }
                let mut replaced = Map::new();
                if let Some(id) = id {
                    replaced.insert("_id".into(), id);
                }
                for (k, v) in fields {
                    if k != "_id" {
                        replaced.insert(k.clone(), v.clone());
                    }
                }
                next = Value::Object(replaced);
            }
            Self::Operators(ops) => {
                for (op, field, arg) in ops {
                    apply_op(&mut next, *op, field, arg, context, &mut changes)?;
                }
            }
        }
        *doc = next;
        Ok(changes)
    }
}

/// Two paths conflict when one is the other or a prefix of it.
fn conflicts(a: &str, b: &str) -> bool {
    a == b || b.starts_with(&format!("{a}.")) || a.starts_with(&format!("{b}."))
}

fn record_set(changes: &mut Changes, field: &str, doc: &Value) {
    let segments: Vec<&str> = field.split('.').collect();
    if let Some(v) = path::get(doc, &segments) {
        changes.updated.insert(field.to_owned(), v.clone());
    }
}

fn numeric_arg(op: &str, field: &str, arg: &Value) -> Result<f64, DocumentError> {
    arg.as_f64().ok_or_else(|| {
        DocumentError::invalid(format!("{op} of '{field}' takes a number, not {arg}"))
    })
}

fn arithmetic(op: Op, current: &Value, arg: &Value, field: &str) -> Result<Value, DocumentError> {
    let name = if op == Op::Inc { "$inc" } else { "$mul" };
    numeric_arg(name, field, arg)?;
    let Value::Number(x) = current else {
        return Err(DocumentError::invalid(format!(
            "cannot apply {name} to '{field}', which holds {} ({current}): it must be a number",
            value::type_name(current)
        )));
    };
    if let (Some(a), Some(b)) = (x.as_i64(), arg.as_i64()) {
        let exact = if op == Op::Inc {
            a.checked_add(b)
        } else {
            a.checked_mul(b)
        };
        if let Some(v) = exact {
            return Ok(Value::from(v));
        }
    }
    let (a, b) = (value::as_f64(x), arg.as_f64().unwrap_or(0.0));
    Ok(value::from_f64(if op == Op::Inc { a + b } else { a * b }))
}

fn apply_op(
    doc: &mut Value,
    op: Op,
    field: &str,
    arg: &Value,
    context: Context,
    changes: &mut Changes,
) -> Result<(), DocumentError> {
    let segments: Vec<&str> = field.split('.').collect();
    let current = path::get(doc, &segments).cloned();
    match op {
        Op::Set => {
            if current.as_ref() != Some(arg) {
                path::set(doc, &segments, arg.clone())?;
                record_set(changes, field, doc);
            }
        }
        Op::SetOnInsert => {
            if context.inserting {
                path::set(doc, &segments, arg.clone())?;
            }
        }
        Op::Unset => {
            if path::unset(doc, &segments).is_some() {
                changes.removed.push(field.to_owned());
            }
        }
        Op::Inc | Op::Mul => {
            let next = match &current {
                None if op == Op::Inc => {
                    numeric_arg("$inc", field, arg)?;
                    arg.clone()
                }
                None => {
                    numeric_arg("$mul", field, arg)?;
                    if arg.is_i64() || arg.is_u64() {
                        Value::from(0)
                    } else {
                        value::from_f64(0.0)
                    }
                }
                Some(v) => arithmetic(op, v, arg, field)?,
            };
            path::set(doc, &segments, next)?;
            record_set(changes, field, doc);
        }
        Op::Min | Op::Max => {
            let replace = match &current {
                None => true,
                Some(v) => {
                    let order = compare(arg, v);
                    if op == Op::Min {
                        order.is_lt()
                    } else {
                        order.is_gt()
                    }
                }
            };
            if replace {
                path::set(doc, &segments, arg.clone())?;
                record_set(changes, field, doc);
            }
        }
        Op::Rename => {
            let to = arg.as_str().unwrap_or_default();
            if let Some(moved) = path::unset(doc, &segments) {
                changes.removed.push(field.to_owned());
                let target: Vec<&str> = to.split('.').collect();
                path::set(doc, &target, moved)?;
                record_set(changes, to, doc);
            }
        }
        Op::Push | Op::AddToSet => {
            let (items, modifiers) = each_items(op, field, arg)?;
            let mut list = match current {
                None => Vec::new(),
                Some(Value::Array(list)) => list,
                Some(other) => {
                    return Err(DocumentError::invalid(format!(
                        "{} to '{field}', which holds {} ({other}): it must be an array",
                        if op == Op::Push { "$push" } else { "$addToSet" },
                        value::type_name(&other)
                    )));
                }
            };
            let before = list.clone();
            if op == Op::AddToSet {
                for item in items {
                    if !list.iter().any(|x| equal(x, &item)) {
                        list.push(item);
                    }
                }
            } else {
                let at = match modifiers.position {
                    Some(p) if p < 0 => list.len().saturating_sub(p.unsigned_abs() as usize),
                    Some(p) => (p as usize).min(list.len()),
                    None => list.len(),
                };
                list.splice(at..at, items);
                if let Some(spec) = &modifiers.sort {
                    spec.sort_values(&mut list);
                }
                if let Some(n) = modifiers.slice {
                    if n >= 0 {
                        list.truncate(n as usize);
                    } else {
                        let keep = n.unsigned_abs() as usize;
                        if list.len() > keep {
                            list.drain(..list.len() - keep);
                        }
                    }
                }
            }
            if list != before || path::get(doc, &segments).is_none() {
                path::set(doc, &segments, Value::Array(list))?;
                record_set(changes, field, doc);
            }
        }
        Op::Pull | Op::PullAll => {
            let Some(Value::Array(list)) = current else {
                if current.is_some() {
                    return Err(DocumentError::invalid(format!(
                        "$pull from '{field}', which is not an array"
                    )));
                }
                return Ok(());
            };
            let keep: Vec<Value> = if op == Op::PullAll {
                let Value::Array(out) = arg else {
                    return Err(DocumentError::invalid(format!(
                        "$pullAll of '{field}' takes an array"
                    )));
                };
                list.iter()
                    .filter(|x| !out.iter().any(|o| equal(o, x)))
                    .cloned()
                    .collect()
            } else {
                let matcher = PullMatcher::parse(arg)?;
                list.iter()
                    .filter(|x| !matcher.matches(x))
                    .cloned()
                    .collect()
            };
            if keep.len() != list.len() {
                path::set(doc, &segments, Value::Array(keep))?;
                record_set(changes, field, doc);
            }
        }
        Op::Pop => {
            let end = arg
                .as_i64()
                .filter(|n| *n == 1 || *n == -1)
                .ok_or_else(|| {
                    DocumentError::invalid(format!(
                        "$pop of '{field}' takes 1 (last) or -1 (first), not {arg}"
                    ))
                })?;
            match current {
                Some(Value::Array(mut list)) if !list.is_empty() => {
                    if end == 1 {
                        list.pop();
                    } else {
                        list.remove(0);
                    }
                    path::set(doc, &segments, Value::Array(list))?;
                    record_set(changes, field, doc);
                }
                Some(Value::Array(_)) | None => {}
                Some(other) => {
                    return Err(DocumentError::invalid(format!(
                        "$pop from '{field}', which holds {other}"
                    )));
                }
            }
        }
        Op::CurrentDate => {
            let as_timestamp = match arg {
                Value::Bool(true) => false,
                Value::Object(spec) => match spec.get("$type").and_then(Value::as_str) {
                    Some("date") => false,
                    Some("timestamp") => true,
                    _ => {
                        return Err(DocumentError::invalid(format!(
                            "$currentDate of '{field}' takes true or {{\"$type\": \"date\"|\"timestamp\"}}"
                        )));
                    }
                },
                _ => {
                    return Err(DocumentError::invalid(format!(
                        "$currentDate of '{field}' takes true or {{\"$type\": \"date\"|\"timestamp\"}}"
                    )));
                }
            };
            // JSON has no date type: dates are RFC 3339 text (sortable as
            // strings), timestamps milliseconds since the epoch.
            let now = if as_timestamp {
                Value::from(context.now_ms)
            } else {
                Value::String(rfc3339(context.now_ms))
            };
            path::set(doc, &segments, now)?;
            record_set(changes, field, doc);
        }
    }
    Ok(())
}

/// `$push`/`$addToSet` modifiers.
#[derive(Default)]
struct Modifiers {
    slice: Option<i64>,
    sort: Option<SortSpec>,
    position: Option<i64>,
}

fn each_items(op: Op, field: &str, arg: &Value) -> Result<(Vec<Value>, Modifiers), DocumentError> {
    let Value::Object(map) = arg else {
        return Ok((vec![arg.clone()], Modifiers::default()));
    };
    if !map.contains_key("$each") {
        if map.keys().any(|k| k.starts_with('$')) {
            return Err(DocumentError::invalid(format!(
                "'{field}': $slice, $sort and $position need $each"
            )));
        }
        return Ok((vec![arg.clone()], Modifiers::default()));
    }
    let mut modifiers = Modifiers::default();
    let mut items = Vec::new();
    for (k, v) in map {
        match k.as_str() {
            "$each" => {
                items = v.as_array().cloned().ok_or_else(|| {
                    DocumentError::invalid(format!("'{field}': $each takes an array"))
                })?;
            }
            "$slice" if op == Op::Push => {
                modifiers.slice = Some(v.as_i64().ok_or_else(|| {
                    DocumentError::invalid(format!("'{field}': $slice takes an integer"))
                })?);
            }
            "$position" if op == Op::Push => {
                modifiers.position = Some(v.as_i64().ok_or_else(|| {
                    DocumentError::invalid(format!("'{field}': $position takes an integer"))
                })?);
            }
            "$sort" if op == Op::Push => modifiers.sort = Some(SortSpec::parse_push(v)?),
            other => {
                return Err(DocumentError::invalid(format!(
                    "'{field}': unknown modifier '{other}'"
                )));
            }
        }
    }
    Ok((items, modifiers))
}

/// What `$pull` removes: values equal to a literal, values meeting
/// conditions (`{"$gte": 6}`), or documents matching a filter.
enum PullMatcher {
    Equal(Value),
    Conditions(Vec<Condition>),
    Documents(Filter),
}

impl PullMatcher {
    fn parse(arg: &Value) -> Result<Self, DocumentError> {
        if is_operator_doc(arg) {
            let probe = serde_json::json!({ "v": arg });
            return match Filter::parse(&probe)? {
                Filter::Field { conditions, .. } => Ok(Self::Conditions(conditions)),
                _ => Err(DocumentError::invalid("$pull: bad conditions")),
            };
        }
        if arg.is_object() {
            return Ok(Self::Documents(Filter::parse(arg)?));
        }
        Ok(Self::Equal(arg.clone()))
    }

    fn matches(&self, item: &Value) -> bool {
        match self {
            Self::Equal(v) => equal(v, item),
            Self::Conditions(conditions) => {
                let reached = path::Reached {
                    values: vec![item],
                    missing: false,
                };
                conditions.iter().all(|c| c.holds(&reached))
            }
            Self::Documents(filter) => item.is_object() && filter.matches(item),
        }
    }
}

pub use weft_sdk::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(update: Value, doc: Value) -> Result<(Value, Changes), DocumentError> {
        let mut doc = doc;
        let changes = Update::parse(&update)?.apply(&mut doc, Context::default())?;
        Ok((doc, changes))
    }

    #[test]
    fn operators_change_what_they_name_and_report_it() -> Result<(), DocumentError> {
        let (doc, changes) = run(
            json!({"$set": {"a.b": 1}, "$inc": {"n": 2, "m": 1}, "$unset": {"gone": ""}, "$mul": {"p": 1.5}}),
            json!({"_id": 1, "n": 1, "gone": true, "p": 2}),
        )?;
        assert_eq!(
            doc,
            json!({"_id": 1, "n": 3, "p": 3.0, "a": {"b": 1}, "m": 1})
        );
        assert_eq!(changes.removed, vec!["gone".to_owned()]);
        assert_eq!(changes.updated.get("n"), Some(&json!(3)));
        let (doc, _) = run(
            json!({"$min": {"lo": 1}, "$max": {"hi": 1}}),
            json!({"lo": 5, "hi": 5}),
        )?;
        assert_eq!(doc, json!({"lo": 1, "hi": 5}));
        let (doc, _) = run(json!({"$rename": {"a": "b.c"}}), json!({"a": 1}))?;
        assert_eq!(doc, json!({"b": {"c": 1}}));
        Ok(())
    }

    #[test]
    fn array_operators() -> Result<(), DocumentError> {
        let (doc, _) = run(
            json!({"$push": {"s": {"$each": [5, 1, 9], "$sort": 1, "$slice": -3}}}),
            json!({"s": [4]}),
        )?;
        assert_eq!(doc, json!({"s": [4, 5, 9]}));
        let (doc, _) = run(
            json!({"$addToSet": {"t": {"$each": ["a", "b"]}}}),
            json!({"t": ["a"]}),
        )?;
        assert_eq!(doc, json!({"t": ["a", "b"]}));
        let (doc, _) = run(
            json!({"$pull": {"t": {"$gte": 3}}}),
            json!({"t": [1, 3, 5, 2]}),
        )?;
        assert_eq!(doc, json!({"t": [1, 2]}));
        let (doc, _) = run(
            json!({"$pull": {"t": {"x": 1}}}),
            json!({"t": [{"x": 1, "y": 2}, {"x": 2}]}),
        )?;
        assert_eq!(doc, json!({"t": [{"x": 2}]}));
        let (doc, _) = run(json!({"$pop": {"t": -1}}), json!({"t": [1, 2, 3]}))?;
        assert_eq!(doc, json!({"t": [2, 3]}));
        Ok(())
    }

    #[test]
    fn failures_leave_the_document_alone() {
        let mut doc = json!({"s": "text", "n": 1});
        let update = Update::parse(&json!({"$inc": {"n": 1, "s": 1}})).expect("parses");
        assert!(update.apply(&mut doc, Context::default()).is_err());
        assert_eq!(doc, json!({"s": "text", "n": 1}));
        assert!(Update::parse(&json!({"$set": {"a": 1}, "b": 2})).is_err());
        assert!(Update::parse(&json!({"$set": {"a": 1}, "$inc": {"a.b": 1}})).is_err());
        assert!(Update::parse(&json!({"$bump": {"a": 1}})).is_err());
        assert!(Update::parse(&json!({"$set": {"_id": 2}})).is_err());
    }

    #[test]
    fn replacements_keep_the_id_and_dates_are_rfc3339() -> Result<(), DocumentError> {
        let (doc, _) = run(json!({"x": 1}), json!({"_id": 7, "y": 2}))?;
        assert_eq!(doc, json!({"_id": 7, "x": 1}));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        Ok(())
    }
}
