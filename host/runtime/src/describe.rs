//! A plugin's `describe()` answer, from either WIT version, in the
//! runtime's own types ([`OperationInfo`], [`Manifest`]), checked: schemas
//! that compile, names that are unique, topics under the plugin's name.
//! Whatever fails here keeps the plugin from loading, with the reason.

use std::collections::HashMap;

use serde_json::Value;

use crate::bindings::{v1, v2};
use crate::manifest::{
    Access, BodyKind, Endpoint, EventKind, Manifest, Method, RequestMessage, Route, SessionCall,
    SessionMessage, SessionProtocol, Subscription, compile,
};
use crate::plugin::OperationInfo;

/// What `describe()` said, checked.
pub(crate) struct Described {
    pub(crate) version: String,
    pub(crate) operations: Vec<OperationInfo>,
    pub(crate) validators: HashMap<String, jsonschema::Validator>,
    pub(crate) manifest: Manifest,
}

/// One operation before its schemas are parsed.
struct RawOperation {
    name: String,
    description: String,
    params_schema: String,
    result_schema: String,
    emits: Vec<String>,
    topic: String,
}

fn parse_schema(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not JSON: {e}"))
}

fn check_operations(
    name: &str,
    version: String,
    raw: Vec<RawOperation>,
    manifest: Manifest,
) -> Result<Described, String> {
    let mut validators = HashMap::new();
    let mut operations = Vec::new();
    for op in raw {
        let what = format!("operation '{}' has a params schema that", op.name);
        let schema = parse_schema(&what, &op.params_schema)?;
        let validator = compile(&format!("the params schema of '{}'", op.name), &schema)?;
        if op.name.is_empty() || validators.insert(op.name.clone(), validator).is_some() {
            return Err(format!(
                "operation names must be non-empty and unique ('{}')",
                op.name
            ));
        }
        let result_schema = if op.result_schema.trim().is_empty() {
            None
        } else {
            let what = format!("operation '{}' has a result schema that", op.name);
            let schema = parse_schema(&what, &op.result_schema)?;
            compile(&format!("the result schema of '{}'", op.name), &schema)?;
            Some(schema)
        };
        let topic = format!("{name}.{}", op.topic);
        weft_bus::validate_topic(&topic)
            .map_err(|e| format!("operation '{}' has a bad topic: {e}", op.name))?;
        operations.push(OperationInfo {
            name: op.name,
            description: op.description,
            params_schema: schema,
            result_schema,
            emits: op.emits,
            topic,
        });
    }
    if operations.is_empty() {
        return Err("it offers no operations".into());
    }
    let names: Vec<&str> = operations.iter().map(|o| o.name.as_str()).collect();
    let emits: Vec<&str> = operations
        .iter()
        .flat_map(|o| o.emits.iter().map(String::as_str))
        .collect();
    // A 0.1 plugin has no manifest, and declared no schemas for its kinds.
    let declares = !manifest.routes.is_empty()
        || !manifest.endpoints.is_empty()
        || !manifest.events.is_empty()
        || manifest.session.is_some()
        || !manifest.subscriptions.is_empty();
    if declares {
        manifest.check(&names, &emits)?;
    }
    Ok(Described {
        version,
        operations,
        validators,
        manifest,
    })
}

/// A 0.1 answer: operations only.
pub(crate) fn from_v1(
    name: &str,
    info: v1::plugin::weft::engine::types::Info,
) -> Result<Described, String> {
    let raw = info
        .operations
        .into_iter()
        .map(|op| RawOperation {
            name: op.name,
            description: op.description,
            params_schema: op.params_schema,
            result_schema: String::new(),
            emits: op.emits,
            topic: op.topic,
        })
        .collect();
    check_operations(name, info.version, raw, Manifest::default())
}

/// A 0.2 answer: operations and the manifest.
pub(crate) fn from_v2(
    name: &str,
    info: v2::plugin::weft::engine::types::Info,
) -> Result<Described, String> {
    use v2::plugin::weft::engine::types as wit;
    let raw = info
        .operations
        .into_iter()
        .map(|op| RawOperation {
            name: op.name,
            description: op.description,
            params_schema: op.params_schema,
            result_schema: op.result_schema,
            emits: op.emits,
            topic: op.topic,
        })
        .collect();
    let m = info.manifest;
    let routes = m
        .routes
        .into_iter()
        .map(|r| Route {
            method: match r.method {
                wit::HttpMethod::Get => Method::Get,
                wit::HttpMethod::Post => Method::Post,
                wit::HttpMethod::Put => Method::Put,
                wit::HttpMethod::Patch => Method::Patch,
                wit::HttpMethod::Delete => Method::Delete,
            },
            path: r.path,
            operation: r.operation,
            body: match r.body {
                wit::BodyKind::None => BodyKind::None,
                wit::BodyKind::Json => BodyKind::Json,
                wit::BodyKind::Bytes(media_type) => BodyKind::Bytes { media_type },
            },
            wait: r.wait,
            access: match r.access {
                wit::Access::Tenant => Access::Tenant,
                wit::Access::Operator => Access::Operator,
            },
            success_status: r.success_status,
            description: r.description,
        })
        .collect();
    let mut endpoints = Vec::new();
    for e in m.endpoints {
        let mut topics = Vec::new();
        for topic in e.topics {
            let full = format!("{name}.{topic}");
            weft_bus::TopicPattern::parse(&full)
                .map_err(|why| format!("endpoint '{}' has a bad topic '{topic}': {why}", e.path))?;
            topics.push(full);
        }
        endpoints.push(Endpoint {
            path: e.path,
            topics,
            requests: e
                .requests
                .into_iter()
                .map(|r| RequestMessage {
                    message_type: r.message_type,
                    operation: r.operation,
                })
                .collect(),
            description: e.description,
        });
    }
    let mut events = Vec::new();
    for kind in m.events {
        let what = format!("event kind '{}' has a schema that", kind.name);
        events.push(EventKind {
            schema: parse_schema(&what, &kind.schema)?,
            name: kind.name,
            description: kind.description,
        });
    }
    let session = match m.session {
        None => None,
        Some(s) => Some(SessionProtocol {
            path: s.path,
            config_schema: parse_schema("the session config schema", &s.config_schema)?,
            messages: s
                .messages
                .into_iter()
                .map(|m| SessionMessage {
                    message_type: m.message_type,
                    call: match m.call {
                        wit::SessionCall::Push => SessionCall::Push,
                        wit::SessionCall::Request => SessionCall::Request,
                    },
                    rows_field: m.rows_field,
                    single_row: m.single_row,
                    reply_type: m.reply_type,
                    columns: m
                        .columns
                        .into_iter()
                        .map(|f| weft_storage::columnar::Field {
                            name: f.name,
                            kind: crate::storage_host::column_type(f.kind),
                        })
                        .collect(),
                    description: m.description,
                })
                .collect(),
            topics: s.topics,
        }),
    };
    let subscriptions = m
        .subscriptions
        .into_iter()
        .map(|s| Subscription {
            name: s.name,
            description: s.description,
            topic: format!("{name}.{}", s.topic),
            kinds: s.kinds,
            filters: s.filters,
            final_kind: Some(s.final_kind).filter(|k| !k.is_empty()),
        })
        .collect();
    let manifest = Manifest {
        routes,
        endpoints,
        events,
        session,
        subscriptions,
    };
    check_operations(name, info.version, raw, manifest)
}
