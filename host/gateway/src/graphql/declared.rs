//! Typed GraphQL subscriptions generated from what plugins declare: every
//! plugin gets `<plugin>Events` over all its event kinds, and each
//! subscription a manifest declares (the seeds' `graphAlgorithmProgress`,
//! `timeseriesAnomalyAlerts`, …) becomes a field of its own. Item types
//! come from the event kinds' JSON Schemas (properties camelCased, nested
//! objects as types of their own), beside `kind`, `topic`, `seq`,
//! `resumeFrom`, `timestamp` and `jobId`.
//!
//! The schema is async-graphql's `dynamic` one, rebuilt when the registry
//! changes (`Runtime::generation`). It must not know any engine: all of it
//! is read from manifests.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, Scalar, Schema, SubscriptionField,
    SubscriptionFieldFuture, TypeRef,
};
use futures::Stream;
use serde_json::Value;
use weft_bus::{Delivery, Event};
use weft_runtime::manifest::{camel_case, events_subscription};
use weft_runtime::{PluginInfo, Runtime};

use super::types::rfc3339;
use crate::{AppState, Principal};

/// A JSON value of no fixed shape.
const JSON: &str = "JSON";

/// Fields every item has; a data property of the same name is left out.
const STANDARD: &[&str] = &["kind", "topic", "seq", "resumeFrom", "timestamp", "jobId"];

/// The schema of the declared subscriptions, rebuilt on registry change.
#[derive(Clone)]
pub(crate) struct Declared {
    state: AppState,
    built: Arc<RwLock<Option<(u64, Built)>>>,
}

#[derive(Clone)]
struct Built {
    /// None while no plugin declares an event kind.
    schema: Option<Schema>,
    names: Arc<HashSet<String>>,
}

impl Declared {
    pub(crate) fn new(state: AppState) -> Self {
        Self {
            state,
            built: Arc::default(),
        }
    }

    fn current(&self) -> Built {
        let generation = self.state.runtime.generation();
        if let Some((at, built)) = &*self.built.read().unwrap_or_else(|p| p.into_inner())
            && *at == generation
        {
            return built.clone();
        }
        let built = build(&self.state);
        *self.built.write().unwrap_or_else(|p| p.into_inner()) = Some((generation, built.clone()));
        built
    }

    /// The schema, if `field` is one of its subscriptions.
    pub(crate) fn serving(&self, field: &str) -> Option<Schema> {
        let built = self.current();
        if built.names.contains(field) {
            built.schema
        } else {
            None
        }
    }

    /// The schema as it is now (for introspection).
    pub(crate) fn schema(&self) -> Option<Schema> {
        self.current().schema
    }
}

/// One subscription field, resolved from the manifest.
struct Spec {
    name: String,
    description: String,
    /// Full topic pattern.
    topic: String,
    kinds: Vec<String>,
    /// `(data field, argument)`.
    filters: Vec<(String, String)>,
    final_kind: Option<String>,
    /// Merged `properties` of the kinds' schemas.
    properties: BTreeMap<String, Value>,
    /// Whether `kinds` is a filter argument (the `<plugin>Events` field).
    kinds_argument: bool,
}

fn pascal(name: &str) -> String {
    let camel = camel_case(name);
    let mut chars = camel.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn merged_properties(plugin: &PluginInfo, kinds: &[String]) -> BTreeMap<String, Value> {
    let mut properties = BTreeMap::new();
    for kind in plugin
        .manifest
        .events
        .iter()
        .filter(|k| kinds.contains(&k.name))
    {
        if let Some(props) = kind.schema["properties"].as_object() {
            for (name, schema) in props {
                properties
                    .entry(name.clone())
                    .or_insert_with(|| schema.clone());
            }
        }
    }
    properties
}

fn specs(plugin: &PluginInfo) -> Vec<Spec> {
    let all: Vec<String> = plugin
        .manifest
        .events
        .iter()
        .map(|k| k.name.clone())
        .collect();
    let mut specs = Vec::new();
    if !all.is_empty() {
        specs.push(Spec {
            name: events_subscription(&plugin.name),
            description: format!(
                "Every event of engine '{}' ({}): of one job (jobId) or of all, optionally of some kinds",
                plugin.name,
                all.join(", ")
            ),
            topic: format!("{}.>", plugin.name),
            properties: merged_properties(plugin, &all),
            kinds: all,
            filters: Vec::new(),
            final_kind: None,
            kinds_argument: true,
        });
    }
    for declared in &plugin.manifest.subscriptions {
        specs.push(Spec {
            name: declared.name.clone(),
            description: declared.description.clone(),
            topic: declared.topic.clone(),
            kinds: declared.kinds.clone(),
            filters: declared
                .filters
                .iter()
                .map(|f| (f.clone(), camel_case(f)))
                .collect(),
            final_kind: declared.final_kind.clone(),
            properties: merged_properties(plugin, &declared.kinds),
            kinds_argument: false,
        });
    }
    specs
}

/// The GraphQL type of a JSON Schema, registering object types it needs
/// under names starting with `prefix`.
fn type_of(schema: &Value, prefix: &str, types: &mut Vec<Object>) -> TypeRef {
    let kind = match &schema["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    let kind = kind.or_else(|| match &schema["const"] {
        Value::Bool(_) => Some("boolean"),
        Value::String(_) => Some("string"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
        Value::Number(_) => Some("number"),
        _ => None,
    });
    let kind = kind.or_else(|| {
        schema["enum"]
            .as_array()
            .filter(|values| values.iter().all(Value::is_string))
            .map(|_| "string")
    });
    match kind {
        Some("string") => TypeRef::named(TypeRef::STRING),
        Some("integer") => TypeRef::named(TypeRef::INT),
        Some("number") => TypeRef::named(TypeRef::FLOAT),
        Some("boolean") => TypeRef::named(TypeRef::BOOLEAN),
        Some("array") => match type_of(&schema["items"], prefix, types) {
            TypeRef::Named(name) => TypeRef::List(Box::new(TypeRef::Named(name))),
            _ => TypeRef::named(JSON),
        },
        Some("object")
            if schema["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty()) =>
        {
            let properties: BTreeMap<String, Value> = schema["properties"]
                .as_object()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let object = object_type(prefix, &properties, types, &[]);
            let name = object.type_name().to_owned();
            types.push(object);
            TypeRef::named(name)
        }
        _ => TypeRef::named(JSON),
    }
}

/// A nested object's value, as async-graphql gives it back to resolvers.
struct Nested(Value);

fn resolve_json(value: Option<&Value>, ty: &TypeRef) -> Option<FieldValue<'static>> {
    let value = value.filter(|v| !v.is_null())?;
    let name = match ty {
        TypeRef::Named(name) => name.as_ref(),
        TypeRef::List(inner) => {
            let items = value.as_array()?;
            return Some(FieldValue::list(items.iter().map(|item| {
                resolve_json(Some(item), inner).unwrap_or(FieldValue::NULL)
            })));
        }
        TypeRef::NonNull(inner) => return resolve_json(Some(value), inner),
    };
    match name {
        TypeRef::STRING => Some(FieldValue::value(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })),
        TypeRef::INT | TypeRef::FLOAT | TypeRef::BOOLEAN | JSON => {
            async_graphql::Value::from_json(value.clone())
                .ok()
                .map(FieldValue::value)
        }
        _ => Some(FieldValue::owned_any(Nested(value.clone()))),
    }
}

/// An object type whose fields read `properties` of its parent value
/// (an item's event data, or a nested object).
fn object_type(
    name: &str,
    properties: &BTreeMap<String, Value>,
    types: &mut Vec<Object>,
    skip: &[&str],
) -> Object {
    let mut object = Object::new(name);
    for (property, schema) in properties {
        let field = camel_case(property);
        if skip.contains(&field.as_str()) || field.is_empty() {
            continue;
        }
        let ty = type_of(schema, &format!("{name}{}", pascal(property)), types);
        let key = property.clone();
        let resolved = ty.clone();
        let mut graphql_field = Field::new(field, ty, move |ctx| {
            let key = key.clone();
            let ty = resolved.clone();
            FieldFuture::new(async move {
                let data = if let Some(item) = ctx.parent_value.downcast_ref::<Item>() {
                    &item.event.data
                } else if let Some(nested) = ctx.parent_value.downcast_ref::<Nested>() {
                    &nested.0
                } else {
                    return Ok(None);
                };
                Ok(resolve_json(data.get(&key), &ty))
            })
        });
        if let Some(description) = schema["description"].as_str() {
            graphql_field = graphql_field.description(description);
        }
        object = object.field(graphql_field);
    }
    object
}

/// One delivered event, the parent of an item's fields.
struct Item {
    event: Arc<Event>,
}

impl<'a> From<Item> for FieldValue<'a> {
    fn from(item: Item) -> Self {
        FieldValue::owned_any(item)
    }
}

fn standard_field(
    name: &'static str,
    ty: TypeRef,
    read: fn(&Event) -> Option<async_graphql::Value>,
) -> Field {
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            Ok(ctx
                .parent_value
                .downcast_ref::<Item>()
                .and_then(|item| read(&item.event))
                .map(FieldValue::value))
        })
    })
}

fn item_type(spec: &Spec, types: &mut Vec<Object>) -> Object {
    let name = pascal(&spec.name);
    let mut object = object_type(&name, &spec.properties, types, STANDARD)
        .description(format!("An item of `{}`", spec.name));
    use async_graphql::Value as V;
    object = object
        .field(standard_field(
            "kind",
            TypeRef::named_nn(TypeRef::STRING),
            |e| Some(V::from(e.kind.clone())),
        ))
        .field(standard_field(
            "topic",
            TypeRef::named_nn(TypeRef::STRING),
            |e| Some(V::from(e.topic.clone())),
        ))
        .field(standard_field(
            "seq",
            TypeRef::named_nn(TypeRef::INT),
            |e| Some(V::from(e.seq)),
        ))
        .field(standard_field(
            "resumeFrom",
            TypeRef::named_nn(TypeRef::STRING),
            |e| Some(V::from(e.token.to_string())),
        ))
        .field(standard_field(
            "timestamp",
            TypeRef::named_nn(TypeRef::STRING),
            |e| Some(V::from(rfc3339(e.ts))),
        ))
        .field(standard_field(
            "jobId",
            TypeRef::named(TypeRef::STRING),
            |e| e.source.as_ref().and_then(|s| s.job.clone()).map(V::from),
        ));
    object
}

/// What one subscription call asked for.
struct Filter {
    kinds: Vec<String>,
    /// `(data field, wanted value)`.
    fields: Vec<(String, Value)>,
    /// End after this kind (one job's stream).
    final_kind: Option<String>,
}

impl Filter {
    fn admits(&self, event: &Event) -> bool {
        self.kinds.contains(&event.kind)
            && self
                .fields
                .iter()
                .all(|(key, wanted)| event.data.get(key) == Some(wanted))
    }
}

fn subscription_field(spec: Spec) -> SubscriptionField {
    let item = pascal(&spec.name);
    let spec = Arc::new(spec);
    let resolver_spec = spec.clone();
    let mut field =
        SubscriptionField::new(spec.name.clone(), TypeRef::named_nn(item), move |ctx| {
            let spec = resolver_spec.clone();
            SubscriptionFieldFuture::new(async move {
                let job_id = ctx
                    .args
                    .get("jobId")
                    .and_then(|v| v.string().ok().map(str::to_owned));
                let mut resume_from = ctx
                    .args
                    .get("resumeFrom")
                    .and_then(|v| v.string().ok().map(str::to_owned));
                let mut kinds = spec.kinds.clone();
                if let Some(asked) = ctx.args.get("kinds").and_then(|v| v.list().ok()) {
                    let asked: Vec<String> = asked
                        .iter()
                        .filter_map(|v| v.string().ok().map(str::to_owned))
                        .collect();
                    kinds.retain(|k| asked.contains(k));
                }
                let mut fields = Vec::new();
                for (key, argument) in &spec.filters {
                    if let Some(value) = ctx.args.get(argument) {
                        fields.push((key.clone(), value.as_value().clone().into_json()?));
                    }
                }
                let state = ctx.data::<AppState>()?;
                let caller = ctx.data::<Principal>().map_err(|_| {
                    async_graphql::Error::new("unauthorized: no caller on this request")
                })?;
                let topic = match &job_id {
                    Some(id) => {
                        // A job's stream starts from its first retained event.
                        caller.job(&state.jobs, id).map_err(|e| {
                            async_graphql::Error::new(crate::ApiError::from(e).message().to_owned())
                        })?;
                        resume_from = resume_from.or_else(|| Some(state.bus.origin().to_string()));
                        format!("jobs.{id}")
                    }
                    None => spec.topic.clone(),
                };
                let filter = Filter {
                    kinds,
                    fields,
                    final_kind: job_id.as_ref().and(spec.final_kind.clone()),
                };
                events(state, caller, topic, resume_from, filter)
            })
        })
        .description(spec.description.clone())
        .argument(
            InputValue::new("jobId", TypeRef::named(TypeRef::STRING))
                .description("only this job's events; the stream starts from its first"),
        )
        .argument(
            InputValue::new("resumeFrom", TypeRef::named(TypeRef::STRING))
                .description("replay what is retained after this token first"),
        );
    if spec.kinds_argument {
        field = field.argument(
            InputValue::new("kinds", TypeRef::named_nn_list(TypeRef::STRING))
                .description("only these event kinds"),
        );
    }
    for (key, argument) in &spec.filters {
        let ty = match type_of(
            &spec.properties.get(key).cloned().unwrap_or(Value::Null),
            "",
            &mut Vec::new(),
        ) {
            TypeRef::Named(name)
                if matches!(
                    name.as_ref(),
                    TypeRef::INT | TypeRef::FLOAT | TypeRef::BOOLEAN | TypeRef::STRING
                ) =>
            {
                TypeRef::Named(name)
            }
            _ => TypeRef::named(TypeRef::STRING),
        };
        field = field.argument(
            InputValue::new(argument.clone(), ty)
                .description(format!("only events whose {key} is this")),
        );
    }
    field
}

fn events(
    state: &AppState,
    caller: &Principal,
    topic: String,
    resume_from: Option<String>,
    filter: Filter,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Item>> + use<>> {
    let subscription = state
        .bus
        .subscribe(&[topic], caller.event_tenant(), resume_from.as_deref())
        .map_err(super::bus_error)?;
    let filter = Arc::new(filter);
    Ok(futures::stream::unfold(
        Some(subscription),
        move |subscription| {
            let filter = filter.clone();
            async move {
                let mut subscription = subscription?;
                loop {
                    match subscription.next().await? {
                        Delivery::Event(event) if filter.admits(&event) => {
                            let last = filter.final_kind.as_ref() == Some(&event.kind);
                            return Some((Ok(Item { event }), (!last).then_some(subscription)));
                        }
                        Delivery::Event(_) => {}
                        Delivery::Lagged(token) => {
                            return Some((Err(super::lagged_error(&token.to_string())), None));
                        }
                    }
                }
            }
        },
    ))
}

fn build(state: &AppState) -> Built {
    let runtime: &Runtime = &state.runtime;
    let mut types = Vec::new();
    let mut subscription = async_graphql::dynamic::Subscription::new("Subscription");
    let mut names = HashSet::new();
    for plugin in runtime.plugins() {
        for spec in specs(&plugin) {
            if !names.insert(spec.name.clone()) {
                continue;
            }
            let item = item_type(&spec, &mut types);
            types.push(item);
            subscription = subscription.field(subscription_field(spec));
        }
    }
    if names.is_empty() {
        return Built {
            schema: None,
            names: Arc::new(names),
        };
    }
    // A schema needs a query root; this one says what it serves.
    let mut served: Vec<String> = names.iter().cloned().collect();
    served.sort();
    let query = Object::new("Query").field(Field::new(
        "engineSubscriptions",
        TypeRef::named_nn_list_nn(TypeRef::STRING),
        move |_| {
            let served = served.clone();
            FieldFuture::new(async move {
                Ok(Some(FieldValue::list(
                    served.into_iter().map(FieldValue::value),
                )))
            })
        },
    ));
    let mut builder = Schema::build("Query", None, Some("Subscription"))
        .register(query)
        .register(subscription)
        .register(Scalar::new(JSON).description("Any JSON value"))
        .data(state.clone())
        .limit_depth(16)
        .limit_complexity(2000);
    let mut seen = HashSet::new();
    for object in types {
        // Two kinds may describe the same nested object: register it once.
        if seen.insert(object.type_name().to_owned()) {
            builder = builder.register(object);
        }
    }
    match builder.finish() {
        Ok(schema) => Built {
            schema: Some(schema),
            names: Arc::new(names),
        },
        Err(error) => {
            tracing::warn!(%error, "declared GraphQL subscriptions could not be built");
            Built {
                schema: None,
                names: Arc::default(),
            }
        }
    }
}
