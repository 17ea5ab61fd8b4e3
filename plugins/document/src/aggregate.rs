//! Aggregation pipelines: stages compiled once, then run over documents in
//! memory, each stage's output handed to an observer (which publishes it
//! as `aggregation_result`). `$lookup` reads other collections through a
//! [`Lookup`] the caller provides. This module must not touch storage
//! itself.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::DocumentError;
use crate::expr::{Expr, Vars};
use crate::filter::Filter;
use crate::projection::Projection;
use crate::sort::SortSpec;
use crate::value::{self, compare, equal};

/// Reads another collection whole, for `$lookup`.
pub trait Lookup {
    /// The documents of `collection` (none if it does not exist).
    fn documents(&self, collection: &str) -> Result<Vec<Value>, DocumentError>;
}

/// One compiled stage.
#[derive(Clone, Debug)]
pub enum Stage {
    /// `$match`.
    Match(Filter),
    /// `$project`.
    Project(Projection),
    /// `$addFields` / `$set`.
    AddFields(Vec<(String, Expr)>),
    /// `$unset`.
    Unset(Vec<String>),
    /// `$group`.
    Group(Expr, Vec<(String, String, Expr)>),
    /// `$sort`.
    Sort(SortSpec),
    /// `$limit`.
    Limit(usize),
    /// `$skip`.
    Skip(usize),
    /// `$unwind`.
    Unwind {
        /// The array field.
        path: Vec<String>,
        /// `includeArrayIndex`.
        index_field: Option<String>,
        /// `preserveNullAndEmptyArrays`.
        preserve: bool,
    },
    /// `$lookup` (equality form).
    Lookup {
        /// The other collection.
        from: String,
        /// `localField`.
        local: String,
        /// `foreignField`.
        foreign: String,
        /// `as`.
        into: String,
    },
    /// `$count`.
    Count(String),
    /// `$facet`.
    Facet(Vec<(String, Pipeline)>),
    /// `$bucket`.
    Bucket {
        /// `groupBy`.
        group_by: Expr,
        /// Ascending bucket bounds.
        boundaries: Vec<Value>,
        /// The bucket of values outside them.
        default: Option<Value>,
        /// Accumulators per bucket.
        output: Vec<(String, String, Expr)>,
    },
    /// `$replaceRoot` / `$replaceWith`.
    ReplaceRoot(Expr),
    /// `$sortByCount`.
    SortByCount(Expr),
}

impl Stage {
    /// The stage's operator, as written.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Match(_) => "$match",
            Self::Project(_) => "$project",
            Self::AddFields(_) => "$addFields",
            Self::Unset(_) => "$unset",
            Self::Group(..) => "$group",
            Self::Sort(_) => "$sort",
            Self::Limit(_) => "$limit",
            Self::Skip(_) => "$skip",
            Self::Unwind { .. } => "$unwind",
            Self::Lookup { .. } => "$lookup",
            Self::Count(_) => "$count",
            Self::Facet(_) => "$facet",
            Self::Bucket { .. } => "$bucket",
            Self::ReplaceRoot(_) => "$replaceRoot",
            Self::SortByCount(_) => "$sortByCount",
        }
    }
}

/// A compiled pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

fn usize_arg(stage: &str, v: &Value) -> Result<usize, DocumentError> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                .map(|x| x as u64)
        })
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            DocumentError::invalid(format!("{stage} takes a non-negative integer, not {v}"))
        })
}

fn field_path(stage: &str, v: &Value) -> Result<Vec<String>, DocumentError> {
    match v.as_str() {
        Some(s) if s.starts_with('$') && !s.starts_with("$$") => {
            crate::path::parse(&s[1..])?;
            Ok(s[1..].split('.').map(str::to_owned).collect())
        }
        _ => Err(DocumentError::invalid(format!(
            "{stage} takes a field path like \"$tags\", not {v}"
        ))),
    }
}

fn accumulators(
    stage: &str,
    fields: &Map<String, Value>,
    skip: &str,
) -> Result<Vec<(String, String, Expr)>, DocumentError> {
    let mut out = Vec::new();
    for (name, spec) in fields {
        if name == skip {
            continue;
        }
        let Some((op, arg)) = spec
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
        else {
            return Err(DocumentError::invalid(format!(
                "{stage}: '{name}' must be one accumulator like {{\"$sum\": \"$qty\"}}"
            )));
        };
        if !ACCUMULATORS.contains(&op.as_str()) {
            return Err(DocumentError::invalid(format!(
                "{stage}: unknown accumulator '{op}' for '{name}': use {}",
                ACCUMULATORS.join(" ")
            )));
        }
        let expr = if op == "$count" {
            Expr::Literal(Value::from(1))
        } else {
            Expr::parse(arg)?
        };
        out.push((name.clone(), op.clone(), expr));
    }
    Ok(out)
}

const ACCUMULATORS: &[&str] = &[
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$first",
    "$last",
    "$push",
    "$addToSet",
    "$count",
    "$stdDevPop",
    "$stdDevSamp",
];

impl Pipeline {
    /// Compiles a pipeline: an array of one-key stage documents.
    pub fn parse(pipeline: &Value) -> Result<Self, DocumentError> {
        let Value::Array(items) = pipeline else {
            return Err(DocumentError::invalid(format!(
                "a pipeline is an array of stages, like [{{\"$match\": {{…}}}}]; got {pipeline}"
            )));
        };
        let mut stages = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let stage = Self::parse_stage(item).map_err(|e| e.within(&format!("stage {i}")))?;
            stages.push(stage);
        }
        Ok(Self { stages })
    }

    fn parse_stage(item: &Value) -> Result<Stage, DocumentError> {
        let Some((name, arg)) = item
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
        else {
            return Err(DocumentError::invalid(format!(
                "a stage is an object with one operator, like {{\"$limit\": 5}}; got {item}"
            )));
        };
        let object = |what: &str| -> Result<&Map<String, Value>, DocumentError> {
            arg.as_object()
                .ok_or_else(|| DocumentError::invalid(format!("{name} takes {what}, not {arg}")))
        };
        Ok(match name.as_str() {
            "$match" => Stage::Match(Filter::parse(arg)?),
            "$project" => Stage::Project(Projection::parse(arg)?),
            "$addFields" | "$set" => Stage::AddFields(
                object("an object of fields and expressions")?
                    .iter()
                    .map(|(k, v)| {
                        crate::path::parse(k)?;
                        Ok((k.clone(), Expr::parse(v)?))
                    })
                    .collect::<Result<_, DocumentError>>()?,
            ),
            "$unset" => Stage::Unset(match arg {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| DocumentError::invalid("$unset takes field names"))
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(DocumentError::invalid(
                        "$unset takes a field name or an array of them",
                    ));
                }
            }),
            "$group" => {
                let spec = object("{_id: expression, field: {accumulator: expression}}")?;
                let id = spec.get("_id").ok_or_else(|| {
                    DocumentError::invalid("$group needs an _id (null to group everything)")
                })?;
                Stage::Group(Expr::parse(id)?, accumulators("$group", spec, "_id")?)
            }
            "$sort" => Stage::Sort(SortSpec::parse(arg)?),
            "$limit" => Stage::Limit(usize_arg("$limit", arg)?),
            "$skip" => Stage::Skip(usize_arg("$skip", arg)?),
            "$unwind" => match arg {
                Value::String(_) => Stage::Unwind {
                    path: field_path("$unwind", arg)?,
                    index_field: None,
                    preserve: false,
                },
                Value::Object(spec) => Stage::Unwind {
                    path: field_path("$unwind", spec.get("path").unwrap_or(&Value::Null))?,
                    index_field: spec
                        .get("includeArrayIndex")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    preserve: spec
                        .get("preserveNullAndEmptyArrays")
                        .is_some_and(value::truthy),
                },
                _ => {
                    return Err(DocumentError::invalid(
                        "$unwind takes \"$path\" or {path, includeArrayIndex, preserveNullAndEmptyArrays}",
                    ));
                }
            },
            "$lookup" => {
                let spec = object("{from, localField, foreignField, as}")?;
                let text = |k: &str| -> Result<String, DocumentError> {
                    spec.get(k)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            DocumentError::invalid(format!("$lookup needs '{k}' (a string)"))
                        })
                };
                Stage::Lookup {
                    from: text("from")?,
                    local: text("localField")?,
                    foreign: text("foreignField")?,
                    into: text("as")?,
                }
            }
            "$count" => match arg.as_str() {
                Some(f) if !f.is_empty() && !f.starts_with('$') && !f.contains('.') => {
                    Stage::Count(f.to_owned())
                }
                _ => {
                    return Err(DocumentError::invalid(
                        "$count takes a field name (no $, no dots)",
                    ));
                }
            },
            "$facet" => Stage::Facet(
                object("an object of named pipelines")?
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Self::parse(v)?)))
                    .collect::<Result<_, DocumentError>>()?,
            ),
            "$bucket" => {
                let spec = object("{groupBy, boundaries, default, output}")?;
                let boundaries = spec
                    .get("boundaries")
                    .and_then(Value::as_array)
                    .cloned()
                    .filter(|b| b.len() >= 2 && b.windows(2).all(|w| compare(&w[0], &w[1]).is_lt()))
                    .ok_or_else(|| {
                        DocumentError::invalid("$bucket needs at least two ascending boundaries")
                    })?;
                let output = match spec.get("output") {
                    Some(Value::Object(out)) => accumulators("$bucket", out, "")?,
                    Some(_) => {
                        return Err(DocumentError::invalid(
                            "$bucket's output is an object of accumulators",
                        ));
                    }
                    None => vec![(
                        "count".to_owned(),
                        "$sum".to_owned(),
                        Expr::Literal(Value::from(1)),
                    )],
                };
                Stage::Bucket {
                    group_by: Expr::parse(
                        spec.get("groupBy")
                            .ok_or_else(|| DocumentError::invalid("$bucket needs groupBy"))?,
                    )?,
                    boundaries,
                    default: spec.get("default").cloned(),
                    output,
                }
            }
            "$replaceRoot" => Stage::ReplaceRoot(Expr::parse(
                object("{newRoot: expression}")?
                    .get("newRoot")
                    .ok_or_else(|| DocumentError::invalid("$replaceRoot needs newRoot"))?,
            )?),
            "$replaceWith" => Stage::ReplaceRoot(Expr::parse(arg)?),
            "$sortByCount" => Stage::SortByCount(Expr::parse(arg)?),
            other => {
                return Err(DocumentError::invalid(format!(
                    "unknown stage '{other}': use $match $project $addFields $set $unset $group $sort $limit $skip $unwind $lookup $count $facet $bucket $replaceRoot $replaceWith $sortByCount"
                )));
            }
        })
    }

    /// Runs the pipeline over `docs`; `observe` sees each stage's output.
    pub fn run(
        &self,
        docs: Vec<Value>,
        lookup: &dyn Lookup,
        observe: &mut dyn FnMut(usize, &Stage, &[Value]),
    ) -> Result<Vec<Value>, DocumentError> {
        self.run_from(docs, lookup, 0, observe)
    }

    /// Runs the pipeline as the stages from `first` on of a longer one
    /// (errors and `observe` number them so).
    pub fn run_from(
        &self,
        mut docs: Vec<Value>,
        lookup: &dyn Lookup,
        first: usize,
        observe: &mut dyn FnMut(usize, &Stage, &[Value]),
    ) -> Result<Vec<Value>, DocumentError> {
        for (i, stage) in self.stages.iter().enumerate() {
            let at = first + i;
            docs = run_stage(stage, docs, lookup)
                .map_err(|e| e.within(&format!("stage {at} ({})", stage.name())))?;
            observe(at, stage, &docs);
        }
        Ok(docs)
    }
}

fn run_stage(
    stage: &Stage,
    docs: Vec<Value>,
    lookup: &dyn Lookup,
) -> Result<Vec<Value>, DocumentError> {
    Ok(match stage {
        Stage::Match(filter) => docs.into_iter().filter(|d| filter.matches(d)).collect(),
        Stage::Project(projection) => docs
            .iter()
            .map(|d| projection.apply(d))
            .collect::<Result<_, _>>()?,
        Stage::AddFields(fields) => docs
            .into_iter()
            .map(|doc| {
                let vars = Vars::root(&doc);
                let mut out = doc.clone();
                for (field, expr) in fields {
                    let segments: Vec<&str> = field.split('.').collect();
                    match expr.eval_opt(&doc, &vars)? {
                        Some(v) => {
                            crate::path::set(&mut out, &segments, v)?;
                        }
                        None => {
                            crate::path::unset(&mut out, &segments);
                        }
                    }
                }
                Ok(out)
            })
            .collect::<Result<_, DocumentError>>()?,
        Stage::Unset(fields) => docs
            .into_iter()
            .map(|mut doc| {
                for f in fields {
                    let segments: Vec<&str> = f.split('.').collect();
                    crate::path::unset(&mut doc, &segments);
                }
                doc
            })
            .collect(),
        Stage::Group(id, fields) => group(&docs, id, fields)?,
        Stage::Sort(spec) => {
            let mut docs = docs;
            spec.sort(&mut docs);
            docs
        }
        Stage::Limit(n) => docs.into_iter().take(*n).collect(),
        Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
        Stage::Unwind {
            path,
            index_field,
            preserve,
        } => unwind(docs, path, index_field.as_deref(), *preserve)?,
        Stage::Lookup {
            from,
            local,
            foreign,
            into,
        } => {
            let foreign_docs = lookup.documents(from)?;
            let (local_path, foreign_path): (Vec<&str>, Vec<&str>) =
                (local.split('.').collect(), foreign.split('.').collect());
            docs.into_iter()
                .map(|mut doc| {
                    let reached = crate::path::values_at(&doc, &local_path);
                    let mut keys: Vec<Value> = Vec::new();
                    for v in &reached.values {
                        match v {
                            Value::Array(items) => keys.extend(items.iter().cloned()),
                            other => keys.push((*other).clone()),
                        }
                    }
                    if keys.is_empty() {
                        keys.push(Value::Null);
                    }
                    let conditions = [crate::filter::Condition::In(keys)];
                    let matched: Vec<Value> = foreign_docs
                        .iter()
                        .filter(|f| {
                            let reached = crate::path::values_at(f, &foreign_path);
                            conditions.iter().all(|c| c.holds(&reached))
                        })
                        .cloned()
                        .collect();
                    let segments: Vec<&str> = into.split('.').collect();
                    crate::path::set(&mut doc, &segments, Value::Array(matched))?;
                    Ok(doc)
                })
                .collect::<Result<_, DocumentError>>()?
        }
        Stage::Count(field) => {
            if docs.is_empty() {
                Vec::new()
            } else {
                let mut out = Map::new();
                out.insert(field.clone(), Value::from(docs.len()));
                vec![Value::Object(out)]
            }
        }
        Stage::Facet(facets) => {
            let mut out = Map::new();
            for (name, pipeline) in facets {
                let result = pipeline.run(docs.clone(), lookup, &mut |_, _, _| {})?;
                out.insert(name.clone(), Value::Array(result));
            }
            vec![Value::Object(out)]
        }
        Stage::Bucket {
            group_by,
            boundaries,
            default,
            output,
        } => bucket(&docs, group_by, boundaries, default.as_ref(), output)?,
        Stage::ReplaceRoot(expr) => docs
            .iter()
            .map(|doc| match expr.eval(doc, &Vars::root(doc))? {
                v @ Value::Object(_) => Ok(v),
                other => Err(DocumentError::invalid(format!(
                    "$replaceRoot's newRoot must be a document, not {}",
                    value::type_name(&other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        Stage::SortByCount(expr) => {
            let mut grouped = group(
                &docs,
                expr,
                &[(
                    "count".to_owned(),
                    "$sum".to_owned(),
                    Expr::Literal(Value::from(1)),
                )],
            )?;
            grouped.sort_by(|a, b| compare(&b["count"], &a["count"]));
            grouped
        }
    })
}

fn unwind(
    docs: Vec<Value>,
    path: &[String],
    index_field: Option<&str>,
    preserve: bool,
) -> Result<Vec<Value>, DocumentError> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        match crate::path::get(&doc, &segments).cloned() {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.into_iter().enumerate() {
                    let mut copy = doc.clone();
                    crate::path::set(&mut copy, &segments, item)?;
                    if let Some(f) = index_field {
                        crate::path::set(&mut copy, &[f], Value::from(i))?;
                    }
                    out.push(copy);
                }
            }
            Some(Value::Array(_)) | Some(Value::Null) | None => {
                if preserve {
                    let mut copy = doc;
                    if let Some(f) = index_field {
                        crate::path::set(&mut copy, &[f], Value::Null)?;
                    }
                    out.push(copy);
                }
            }
            Some(_) => {
                let mut copy = doc;
                if let Some(f) = index_field {
                    crate::path::set(&mut copy, &[f], Value::Null)?;
                }
                out.push(copy);
            }
        }
    }
    Ok(out)
}

/// Groups in first-seen order of keys.
fn group(
    docs: &[Value],
    id: &Expr,
    fields: &[(String, String, Expr)],
) -> Result<Vec<Value>, DocumentError> {
    let mut grouper = Grouper::new(id.clone(), fields.to_vec());
    for doc in docs {
        grouper.add(doc)?;
    }
    Ok(grouper.finish())
}

/// A `$group` fed one document at a time, so a pipeline whose first
/// stages work per document can group a collection without holding it.
pub struct Grouper {
    id: Expr,
    fields: Vec<(String, String, Expr)>,
    order: Vec<Value>,
    index: HashMap<String, usize>,
    accs: Vec<Vec<Accumulator>>,
}

impl Grouper {
    /// A grouper for `$group`'s `_id` and accumulators.
    pub fn new(id: Expr, fields: Vec<(String, String, Expr)>) -> Self {
        Self {
            id,
            fields,
            order: Vec::new(),
            index: HashMap::new(),
            accs: Vec::new(),
        }
    }

    /// Adds one document.
    pub fn add(&mut self, doc: &Value) -> Result<(), DocumentError> {
        let vars = Vars::root(doc);
        let key = self.id.eval(doc, &vars)?;
        let canonical = canonical_key(&key);
        let slot = match self.index.get(&canonical) {
            Some(&slot) => slot,
            None => {
                self.order.push(key);
                self.accs.push(
                    self.fields
                        .iter()
                        .map(|(_, op, _)| Accumulator::new(op))
                        .collect(),
                );
                self.index.insert(canonical, self.order.len() - 1);
                self.order.len() - 1
            }
        };
        for ((_, _, expr), acc) in self.fields.iter().zip(&mut self.accs[slot]) {
            acc.add(expr.eval_opt(doc, &vars)?.as_ref());
        }
        Ok(())
    }

    /// The groups, in first-seen order.
    pub fn finish(self) -> Vec<Value> {
        let fields = self.fields;
        self.order
            .into_iter()
            .zip(self.accs)
            .map(|(key, accs)| {
                let mut out = Map::new();
                out.insert("_id".into(), key);
                for ((name, _, _), acc) in fields.iter().zip(accs) {
                    out.insert(name.clone(), acc.finish());
                }
                Value::Object(out)
            })
            .collect()
    }
}

impl Stage {
    /// Whether the stage maps each document on its own (so documents can
    /// flow through it one at a time).
    pub fn per_document(&self) -> bool {
        matches!(
            self,
            Self::Match(_)
                | Self::Project(_)
                | Self::AddFields(_)
                | Self::Unset(_)
                | Self::Unwind { .. }
                | Self::ReplaceRoot(_)
        )
    }

    /// Runs a per-document stage on one document.
    pub fn apply_one(&self, doc: Value, lookup: &dyn Lookup) -> Result<Vec<Value>, DocumentError> {
        run_stage(self, vec![doc], lookup)
    }
}

/// A key under which equal values (by MongoDB's equality: 1 and 1.0)
/// group together.
fn canonical_key(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("n:{}", value::as_f64(n)),
        Value::Array(items) => format!(
            "a:[{}]",
            items
                .iter()
                .map(canonical_key)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(map) => format!(
            "o:{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k:?}:{}", canonical_key(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => format!("v:{other}"),
    }
}

fn bucket(
    docs: &[Value],
    group_by: &Expr,
    boundaries: &[Value],
    default: Option<&Value>,
    output: &[(String, String, Expr)],
) -> Result<Vec<Value>, DocumentError> {
    let buckets = boundaries.len() - 1;
    let mut accs: Vec<Vec<Accumulator>> = (0..=buckets)
        .map(|_| {
            output
                .iter()
                .map(|(_, op, _)| Accumulator::new(op))
                .collect()
        })
        .collect();
    let mut seen = vec![false; buckets + 1];
    for doc in docs {
        let vars = Vars::root(doc);
        let key = group_by.eval(doc, &vars)?;
        let slot = (0..buckets).find(|&b| {
            value::rank(&key) == value::rank(&boundaries[b])
                && compare(&key, &boundaries[b]).is_ge()
                && compare(&key, &boundaries[b + 1]).is_lt()
        });
        let slot = match (slot, default) {
            (Some(b), _) => b,
            (None, Some(_)) => buckets,
            (None, None) => {
                return Err(DocumentError::invalid(format!(
                    "$bucket: {key} falls outside the boundaries and there is no default"
                )));
            }
        };
        seen[slot] = true;
        for ((_, _, expr), acc) in output.iter().zip(&mut accs[slot]) {
            acc.add(expr.eval_opt(doc, &vars)?.as_ref());
        }
    }
    let mut out = Vec::new();
    for (slot, accs) in accs.into_iter().enumerate() {
        if !seen[slot] {
            continue;
        }
        let id = if slot < buckets {
            boundaries[slot].clone()
        } else {
            default.cloned().unwrap_or(Value::Null)
        };
        let mut doc = Map::new();
        doc.insert("_id".into(), id);
        for ((name, _, _), acc) in output.iter().zip(accs) {
            doc.insert(name.clone(), acc.finish());
        }
        out.push(Value::Object(doc));
    }
    Ok(out)
}

/// One accumulator of `$group` (and the array forms of `$sum`, `$avg`,
/// `$min`, `$max` in expressions).
#[derive(Clone, Debug)]
pub struct Accumulator {
    op: String,
    sum: f64,
    integral: bool,
    count: u64,
    sum_sq: f64,
    best: Option<Value>,
    first: Option<Value>,
    last: Option<Value>,
    items: Vec<Value>,
}

impl Accumulator {
    /// An empty accumulator for `op`.
    pub fn new(op: &str) -> Self {
        Self {
            op: op.to_owned(),
            sum: 0.0,
            integral: true,
            count: 0,
            sum_sq: 0.0,
            best: None,
            first: None,
            last: None,
            items: Vec::new(),
        }
    }

    /// Adds one document's value (`None`: the field is missing).
    pub fn add(&mut self, value: Option<&Value>) {
        match self.op.as_str() {
            "$sum" | "$avg" | "$count" | "$stdDevPop" | "$stdDevSamp" => {
                if let Some(Value::Number(n)) = value {
                    let x = value::as_f64(n);
                    self.sum += x;
                    self.sum_sq += x * x;
                    self.count += 1;
                    self.integral &= n.is_i64() || n.is_u64();
                }
            }
            "$min" | "$max" => {
                if let Some(v) = value.filter(|v| !v.is_null()) {
                    let better = self.best.as_ref().is_none_or(|b| {
                        let order = compare(v, b);
                        if self.op == "$min" {
                            order.is_lt()
                        } else {
                            order.is_gt()
                        }
                    });
                    if better {
                        self.best = Some(v.clone());
                    }
                }
            }
            "$first" => {
                if self.count == 0 {
                    self.first = Some(value.cloned().unwrap_or(Value::Null));
                }
                self.count += 1;
            }
            "$last" => self.last = Some(value.cloned().unwrap_or(Value::Null)),
            "$push" => {
                if let Some(v) = value {
                    self.items.push(v.clone());
                }
            }
            "$addToSet" => {
                if let Some(v) = value
                    && !self.items.iter().any(|i| equal(i, v))
                {
                    self.items.push(v.clone());
                }
            }
            _ => {}
        }
    }

    /// The accumulated value.
    pub fn finish(self) -> Value {
        match self.op.as_str() {
            "$sum" | "$count" => {
                if self.integral && self.sum.abs() < 9.0e15 {
                    Value::from(self.sum as i64)
                } else {
                    value::from_f64(self.sum)
                }
            }
            "$avg" if self.count == 0 => Value::Null,
            "$avg" => value::from_f64(self.sum / self.count as f64),
            "$stdDevPop" | "$stdDevSamp" => {
                let n = self.count as f64;
                let denominator = if self.op == "$stdDevPop" { n } else { n - 1.0 };
                if denominator <= 0.0 {
                    return Value::Null;
                }
                let mean = self.sum / n;
                value::from_f64(
                    ((self.sum_sq - n * mean * mean) / denominator)
                        .max(0.0)
                        .sqrt(),
                )
            }
            "$min" | "$max" => self.best.unwrap_or(Value::Null),
            "$first" => self.first.unwrap_or(Value::Null),
            "$last" => self.last.unwrap_or(Value::Null),
            _ => Value::Array(self.items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Others;
    impl Lookup for Others {
        fn documents(&self, collection: &str) -> Result<Vec<Value>, DocumentError> {
            Ok(match collection {
                "owners" => vec![
                    json!({"_id": "o1", "name": "Ann"}),
                    json!({"_id": "o2", "name": "Bo"}),
                ],
                _ => Vec::new(),
            })
        }
    }

    fn run(pipeline: Value, docs: Vec<Value>) -> Vec<Value> {
        match Pipeline::parse(&pipeline).and_then(|p| p.run(docs, &Others, &mut |_, _, _| {})) {
            Ok(out) => out,
            Err(e) => panic!("{pipeline}: {e}"),
        }
    }

    fn sales() -> Vec<Value> {
        vec![
            json!({"_id": 1, "item": "a", "qty": 2, "price": 10, "owner": "o1", "tags": ["x", "y"]}),
            json!({"_id": 2, "item": "b", "qty": 1, "price": 20, "owner": "o2", "tags": ["x"]}),
            json!({"_id": 3, "item": "a", "qty": 5, "price": 10, "owner": "o1", "tags": []}),
        ]
    }

    #[test]
    fn group_sort_and_accumulators() {
        let out = run(
            json!([
                {"$group": {"_id": "$item", "total": {"$sum": {"$multiply": ["$qty", "$price"]}}, "n": {"$count": {}}, "avg": {"$avg": "$qty"}, "ids": {"$push": "$_id"}}},
                {"$sort": {"total": -1}}
            ]),
            sales(),
        );
        assert_eq!(
            out,
            vec![
                json!({"_id": "a", "total": 70, "n": 2, "avg": 3.5, "ids": [1, 3]}),
                json!({"_id": "b", "total": 20, "n": 1, "avg": 1.0, "ids": [2]}),
            ]
        );
    }

    #[test]
    fn unwind_lookup_facet_bucket_count() {
        let out = run(
            json!([{"$unwind": "$tags"}, {"$sortByCount": "$tags"}]),
            sales(),
        );
        assert_eq!(
            out,
            vec![
                json!({"_id": "x", "count": 2}),
                json!({"_id": "y", "count": 1})
            ]
        );
        let out = run(
            json!([{"$match": {"_id": 2}}, {"$lookup": {"from": "owners", "localField": "owner", "foreignField": "_id", "as": "who"}}, {"$project": {"who.name": 1, "_id": 0}}]),
            sales(),
        );
        assert_eq!(out, vec![json!({"who": [{"name": "Bo"}]})]);
        let out = run(
            json!([{"$facet": {"n": [{"$count": "c"}], "cheap": [{"$match": {"price": {"$lt": 15}}}, {"$count": "c"}]}}]),
            sales(),
        );
        assert_eq!(out, vec![json!({"n": [{"c": 3}], "cheap": [{"c": 2}]})]);
        let out = run(
            json!([{"$bucket": {"groupBy": "$qty", "boundaries": [0, 2, 10], "output": {"n": {"$sum": 1}}}}]),
            sales(),
        );
        assert_eq!(
            out,
            vec![json!({"_id": 0, "n": 1}), json!({"_id": 2, "n": 2})]
        );
    }

    #[test]
    fn malformed_pipelines_name_the_stage() {
        for (pipeline, says) in [
            (json!([{"$limit": 1}, {"$grop": {}}]), "stage 1"),
            (json!([{"$group": {"total": {"$sum": 1}}}]), "_id"),
            (
                json!([{"$group": {"_id": null, "t": {"$median": "$x"}}}]),
                "$median",
            ),
            (json!({"$match": {}}), "array of stages"),
            (json!([{"$limit": -1}]), "non-negative"),
        ] {
            match Pipeline::parse(&pipeline) {
                Ok(_) => panic!("{pipeline} should not compile"),
                Err(e) => assert!(e.to_string().contains(says), "{pipeline}: {e}"),
            }
        }
    }
}
