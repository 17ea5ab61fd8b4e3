//! What a plugin declares besides its operations — REST routes, WebSocket
//! endpoints, event kinds and a session protocol — in version-neutral
//! types, and the checks a manifest must pass before a plugin is loaded:
//! well-formed paths, schemas that compile, operations that exist, topics
//! under the plugin's own name, and no route or endpoint that another
//! plugin or the host already serves.
//!
//! This module says what may be served; it must not serve anything (the
//! gateway mounts what the registry holds).

use serde::Serialize;
use serde_json::Value;

/// An HTTP method a route may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method's name, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// The method named `name` (upper case), if routes may use it.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }
}

/// What a route's request body is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BodyKind {
    /// No body.
    None,
    /// A JSON object merged into the params.
    Json,
    /// Raw bytes of a media type, stored as a blob named in
    /// `params.body_blob`.
    Bytes {
        /// e.g. `text/csv`; `*/*` for any.
        media_type: String,
    },
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Any authenticated caller.
    Tenant,
    /// Operators only.
    Operator,
}

/// A REST route a plugin serves.
#[derive(Clone, Debug, Serialize)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Template, e.g. `/api/v1/graphs/{name}`.
    pub path: String,
    /// Operation it runs.
    pub operation: String,
    /// Body.
    pub body: BodyKind,
    /// Answer the result (true) or 202 and the job (false).
    pub wait: bool,
    /// Who may call it.
    pub access: Access,
    /// Status of a successful waited answer.
    pub success_status: u16,
    /// One sentence.
    pub description: String,
}

/// A request message an endpoint takes.
#[derive(Clone, Debug, Serialize)]
pub struct RequestMessage {
    /// The message's `type`.
    pub message_type: String,
    /// Operation it runs unless the message names another.
    pub operation: String,
}

/// A WebSocket endpoint a plugin serves.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    /// e.g. `/api/v1/ws/graph/algorithms`.
    pub path: String,
    /// Full topic patterns it is pre-subscribed to, e.g. `graph.algorithms`.
    pub topics: Vec<String>,
    /// Request messages it takes.
    pub requests: Vec<RequestMessage>,
    /// One sentence.
    pub description: String,
}

/// An event kind a plugin emits.
#[derive(Clone, Debug, Serialize)]
pub struct EventKind {
    /// The event's `kind`.
    pub name: String,
    /// JSON Schema of its `data`.
    pub schema: Value,
    /// One sentence.
    pub description: String,
}

/// How a session message reaches the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCall {
    /// `push` (rows in, scores out).
    Push,
    /// `request` (JSON in, JSON out).
    Request,
}

/// One message type of a session protocol.
#[derive(Clone, Debug, Serialize)]
pub struct SessionMessage {
    /// The message's `type`.
    pub message_type: String,
    /// Where it goes.
    pub call: SessionCall,
    /// `push`: the field holding the rows.
    pub rows_field: String,
    /// `push`: the field holds one row.
    pub single_row: bool,
    /// `type` of the answer.
    pub reply_type: String,
    /// `push`: the declared columns of its rows (empty: typed from the
    /// values).
    pub columns: Vec<weft_storage::columnar::Field>,
    /// One sentence.
    pub description: String,
}

/// The session protocol of a streaming plugin.
#[derive(Clone, Debug, Serialize)]
pub struct SessionProtocol {
    /// Template of the session endpoint, ending in `{session_id}`.
    pub path: String,
    /// JSON Schema of a session's config.
    pub config_schema: Value,
    /// Message types.
    pub messages: Vec<SessionMessage>,
    /// Topics within a session its clients may subscribe to (relative to
    /// `<plugin>.sessions.<id>`); the host's `stats` is always one.
    pub topics: Vec<String>,
}

/// Message types the host answers in every session itself.
pub const SESSION_MESSAGES: &[&str] = &["ping", "stats", "subscribe", "unsubscribe"];

/// A typed GraphQL subscription over a plugin's events.
#[derive(Clone, Debug, Serialize)]
pub struct Subscription {
    /// Field name, camelCase.
    pub name: String,
    /// One sentence.
    pub description: String,
    /// Full topic pattern, e.g. `graph.algorithms`.
    pub topic: String,
    /// Event kinds it carries.
    pub kinds: Vec<String>,
    /// Data fields a subscriber may filter on.
    pub filters: Vec<String>,
    /// The kind that ends a one-job stream.
    pub final_kind: Option<String>,
}

/// Everything a plugin serves besides jobs. Plugins built against WIT 0.1
/// have an empty one.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Manifest {
    /// REST routes.
    pub routes: Vec<Route>,
    /// WebSocket endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Event kinds.
    pub events: Vec<EventKind>,
    /// Session protocol, for streaming plugins.
    pub session: Option<SessionProtocol>,
    /// Typed GraphQL subscriptions.
    pub subscriptions: Vec<Subscription>,
}

/// What the host serves itself; no plugin may declare any of it.
#[derive(Clone, Debug, Default)]
pub struct HostSurface {
    /// `(method, template)` of every host REST route.
    pub routes: Vec<(Method, String)>,
    /// Paths of the host's WebSocket endpoints.
    pub endpoints: Vec<String>,
    /// Fields of the host's GraphQL `Subscription` type.
    pub subscriptions: Vec<String>,
}

/// Message types every endpoint speaks already.
const PROTOCOL_MESSAGES: &[&str] = &["subscribe", "unsubscribe", "ping", "query", "cancel"];
/// Event kinds the host publishes on a job's topics.
pub(crate) const HOST_KINDS: &[&str] = &["job_state", "progress", "lagged"];

/// A segment of a path template: a literal or a `{param}`.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
}

fn segments(template: &str) -> Vec<Segment<'_>> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            },
        )
        .collect()
}

fn is_snake(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a path template: absolute, under `prefix`, segments of
/// `[A-Za-z0-9._-]` or `{snake_case}` params, each param once.
pub(crate) fn check_template(template: &str, prefix: &str) -> Result<(), String> {
    if !template.starts_with(prefix) || template.len() > 200 || template.ends_with('/') {
        return Err(format!(
            "path '{template}' must start with {prefix}, not end with '/', and be at most 200 characters"
        ));
    }
    let mut params = Vec::new();
    for segment in segments(template) {
        match segment {
            Segment::Literal(s) => {
                let ok = !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !ok {
                    return Err(format!("path '{template}' has a bad segment '{s}'"));
                }
            }
            Segment::Param(name) => {
                if !is_snake(name) || params.contains(&name) {
                    return Err(format!(
                        "path '{template}': parameter '{{{name}}}' must be snake_case and appear once"
                    ));
                }
                params.push(name);
            }
        }
    }
    Ok(())
}

/// True when some concrete path matches both templates.
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    let (a, b) = (segments(a), segments(b));
    a.len() == b.len()
        && a.iter().zip(&b).all(|pair| match pair {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            _ => true,
        })
}

/// The path parameters of `path` if it matches `template`.
pub fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let pattern = segments(template);
    let concrete: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if pattern.len() != concrete.len() {
        return None;
    }
    let mut params = Vec::new();
    for (segment, value) in pattern.iter().zip(concrete) {
        match segment {
            Segment::Literal(s) if *s == value => {}
            Segment::Literal(_) => return None,
            Segment::Param(_) if value.is_empty() => return None,
            Segment::Param(name) => params.push(((*name).to_owned(), value.to_owned())),
        }
    }
    Some(params)
}

/// Compiles a schema a manifest declares.
pub(crate) fn compile(what: &str, schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| format!("{what} is not a valid JSON Schema: {e}"))
}

impl Manifest {
    /// Checks the manifest on its own (`plugin` is the name it is loaded
    /// under; `operations` its operation names; `emits` every kind its
    /// operations say they emit).
    pub(crate) fn check(&self, operations: &[&str], emits: &[&str]) -> Result<(), String> {
        let has_op = |op: &str| operations.contains(&op);
        for (i, route) in self.routes.iter().enumerate() {
            check_template(&route.path, "/api/v1/")?;
            if route.path.starts_with("/api/v1/ws/") || route.path.starts_with("/api/v1/plugins") {
                return Err(format!("route '{}' is in a host-only space", route.path));
            }
            if !has_op(&route.operation) {
                return Err(format!(
                    "route {} {} runs '{}', which is not one of its operations",
                    route.method.as_str(),
                    route.path,
                    route.operation
                ));
            }
            if !matches!(route.success_status, 200 | 201 | 202 | 204) {
                return Err(format!(
                    "route {} {}: success status must be 200, 201, 202 or 204",
                    route.method.as_str(),
                    route.path
                ));
            }
            if let BodyKind::Bytes { media_type } = &route.body
                && (media_type.is_empty() || !media_type.contains('/'))
            {
                return Err(format!(
                    "route {}: '{media_type}' is not a media type",
                    route.path
                ));
            }
            if let Some(other) = self.routes[..i]
                .iter()
                .find(|o| o.method == route.method && overlap(&o.path, &route.path))
            {
                return Err(format!(
                    "routes {} {} and {} overlap",
                    route.method.as_str(),
                    other.path,
                    route.path
                ));
            }
        }
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            check_template(&endpoint.path, "/api/v1/ws/")?;
            if endpoint.path.contains('{') {
                return Err(format!(
                    "endpoint '{}' may not have parameters",
                    endpoint.path
                ));
            }
            if self.endpoints[..i].iter().any(|o| o.path == endpoint.path) {
                return Err(format!("endpoint '{}' is declared twice", endpoint.path));
            }
            if endpoint.topics.is_empty() {
                return Err(format!("endpoint '{}' names no topic", endpoint.path));
            }
            for (j, request) in endpoint.requests.iter().enumerate() {
                if !is_snake(&request.message_type)
                    || PROTOCOL_MESSAGES.contains(&request.message_type.as_str())
                    || endpoint.requests[..j]
                        .iter()
                        .any(|r| r.message_type == request.message_type)
                {
                    return Err(format!(
                        "endpoint '{}': request type '{}' must be snake_case, unique, and not one of {}",
                        endpoint.path,
                        request.message_type,
                        PROTOCOL_MESSAGES.join(", ")
                    ));
                }
                if !has_op(&request.operation) {
                    return Err(format!(
                        "endpoint '{}': {} runs '{}', which is not one of its operations",
                        endpoint.path, request.message_type, request.operation
                    ));
                }
            }
        }
        for (i, kind) in self.events.iter().enumerate() {
            if !is_snake(&kind.name)
                || HOST_KINDS.contains(&kind.name.as_str())
                || self.events[..i].iter().any(|k| k.name == kind.name)
            {
                return Err(format!(
                    "event kind '{}' must be snake_case, declared once, and not a host kind ({})",
                    kind.name,
                    HOST_KINDS.join(", ")
                ));
            }
            compile(
                &format!("the schema of event kind '{}'", kind.name),
                &kind.schema,
            )?;
        }
        for kind in emits {
            if !HOST_KINDS.contains(kind) && !self.events.iter().any(|k| k.name == *kind) {
                return Err(format!(
                    "an operation emits '{kind}', which the manifest's events do not declare (with a schema)"
                ));
            }
        }
        if let Some(session) = &self.session {
            session.check()?;
        }
        for (i, subscription) in self.subscriptions.iter().enumerate() {
            if self.subscriptions[..i]
                .iter()
                .any(|s| s.name == subscription.name)
            {
                return Err(format!(
                    "subscription '{}' is declared twice",
                    subscription.name
                ));
            }
            subscription.check(&self.events)?;
        }
        Ok(())
    }

    /// The first route or endpoint of `self` that `other` (another
    /// plugin's manifest, or the host's surface) serves already.
    pub(crate) fn collision(
        &self,
        routes: &[(Method, String)],
        endpoints: &[String],
        subscriptions: &[String],
    ) -> Option<String> {
        for (method, path) in self.route_keys() {
            if let Some((_, taken)) = routes
                .iter()
                .find(|(m, p)| *m == method && overlap(p, &path))
            {
                return Some(format!(
                    "route {} {path} overlaps {taken}, which is served already",
                    method.as_str(),
                ));
            }
        }
        if let Some(taken) = self
            .subscriptions
            .iter()
            .find(|s| subscriptions.contains(&s.name))
        {
            return Some(format!(
                "GraphQL subscription '{}' is served already",
                taken.name
            ));
        }
        self.endpoints
            .iter()
            .find(|e| endpoints.contains(&e.path))
            .map(|e| format!("endpoint {} is served already", e.path))
    }

    /// `(method, template)` of every route.
    pub(crate) fn route_keys(&self) -> Vec<(Method, String)> {
        let session = self.session.iter().map(|s| (Method::Get, s.path.clone()));
        self.routes
            .iter()
            .map(|r| (r.method, r.path.clone()))
            .chain(session)
            .collect()
    }

    /// Names of its GraphQL subscriptions.
    pub(crate) fn subscription_names(&self) -> Vec<String> {
        self.subscriptions.iter().map(|s| s.name.clone()).collect()
    }

    /// Every endpoint path.
    pub(crate) fn endpoint_paths(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.path.clone()).collect()
    }
}

impl SessionProtocol {
    fn check(&self) -> Result<(), String> {
        check_template(&self.path, "/api/v1/")?;
        if !self.path.ends_with("/{session_id}")
            || self.path.matches('{').count() != 1
            || self.path.starts_with("/api/v1/ws/")
            || self.path.starts_with("/api/v1/plugins")
        {
            return Err(format!(
                "session path '{}' must end in /{{session_id}}, have no other parameter, and not be under /api/v1/ws/ or /api/v1/plugins",
                self.path
            ));
        }
        compile("the session config schema", &self.config_schema)?;
        for (i, message) in self.messages.iter().enumerate() {
            if !is_snake(&message.message_type)
                || SESSION_MESSAGES.contains(&message.message_type.as_str())
                || self.messages[..i]
                    .iter()
                    .any(|m| m.message_type == message.message_type)
            {
                return Err(format!(
                    "session message '{}' must be snake_case, declared once, and not one of the host's ({})",
                    message.message_type,
                    SESSION_MESSAGES.join(", ")
                ));
            }
            if message.call == SessionCall::Push
                && (message.rows_field.is_empty()
                    || matches!(message.rows_field.as_str(), "type" | "request_id"))
            {
                return Err(format!(
                    "session message '{}' is a push: name the field that holds its rows",
                    message.message_type
                ));
            }
            for (j, column) in message.columns.iter().enumerate() {
                if column.name.is_empty()
                    || message.columns[..j].iter().any(|c| c.name == column.name)
                {
                    return Err(format!(
                        "session message '{}': column names must be non-empty and unique ('{}')",
                        message.message_type, column.name
                    ));
                }
            }
            if !message.reply_type.is_empty() && !is_snake(&message.reply_type) {
                return Err(format!(
                    "session message '{}': reply type '{}' must be snake_case",
                    message.message_type, message.reply_type
                ));
            }
        }
        for (i, topic) in self.topics.iter().enumerate() {
            if !is_snake(topic) || topic == "stats" || self.topics[..i].contains(topic) {
                return Err(format!(
                    "session topic '{topic}' must be snake_case, declared once, and not 'stats' (the host's)"
                ));
            }
        }
        Ok(())
    }

    /// The declared message of `type`.
    pub fn message(&self, message_type: &str) -> Option<&SessionMessage> {
        self.messages
            .iter()
            .find(|m| m.message_type == message_type)
    }
}

/// True for a GraphQL field name we accept: `camelCase` ASCII.
fn is_camel(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Subscription {
    fn check(&self, events: &[EventKind]) -> Result<(), String> {
        let name = &self.name;
        if !is_camel(name) {
            return Err(format!(
                "subscription '{name}' must be camelCase (letters and digits)"
            ));
        }
        weft_bus::TopicPattern::parse(&self.topic)
            .map_err(|why| format!("subscription '{name}' has a bad topic: {why}"))?;
        if self.kinds.is_empty() {
            return Err(format!("subscription '{name}' carries no event kind"));
        }
        for kind in &self.kinds {
            if !events.iter().any(|k| &k.name == kind) {
                return Err(format!(
                    "subscription '{name}' carries '{kind}', which the manifest's events do not declare"
                ));
            }
        }
        if let Some(last) = &self.final_kind
            && !self.kinds.contains(last)
        {
            return Err(format!(
                "subscription '{name}' ends with '{last}', which it does not carry"
            ));
        }
        for filter in &self.filters {
            if !is_snake(filter) || matches!(filter.as_str(), "job_id" | "resume_from") {
                return Err(format!(
                    "subscription '{name}': filter '{filter}' must be a snake_case data field (not job_id or resume_from)"
                ));
            }
        }
        Ok(())
    }
}

/// The GraphQL subscription every plugin gets over all its events:
/// `<plugin>Events` (plugin name camelCased).
pub fn events_subscription(plugin: &str) -> String {
    format!("{}Events", camel_case(&plugin.replace('-', "_")))
}

/// `snake_case` → `camelCase`.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_overlap_when_some_path_matches_both() {
        assert!(overlap("/api/v1/graphs/{name}", "/api/v1/graphs/{id}"));
        assert!(overlap("/api/v1/graphs/{name}", "/api/v1/graphs/stats"));
        assert!(!overlap(
            "/api/v1/graphs/{name}",
            "/api/v1/graphs/{name}/edges"
        ));
        assert!(!overlap("/api/v1/graphs/a", "/api/v1/graphs/b"));
    }

    #[test]
    fn paths_match_templates_and_give_their_params() {
        assert_eq!(
            match_template("/api/v1/graphs/{name}/nodes", "/api/v1/graphs/roads/nodes"),
            Some(vec![("name".into(), "roads".into())])
        );
        assert_eq!(
            match_template("/api/v1/graphs/{name}", "/api/v1/graphs/"),
            None
        );
        assert_eq!(
            match_template("/api/v1/graphs/{name}", "/api/v1/graph/x"),
            None
        );
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        assert!(check_template("/api/v1/x/{name}", "/api/v1/").is_ok());
        for bad in [
            "/api/v2/x",
            "/api/v1/x/",
            "/api/v1/x//y",
            "/api/v1/{Name}",
            "/api/v1/{a}/{a}",
            "/api/v1/x y",
        ] {
            assert!(check_template(bad, "/api/v1/").is_err(), "{bad}");
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            routes: vec![Route {
                method: Method::Post,
                path: "/api/v1/things/{name}".into(),
                operation: "make".into(),
                body: BodyKind::Json,
                wait: true,
                access: Access::Tenant,
                success_status: 201,
                description: String::new(),
            }],
            endpoints: vec![Endpoint {
                path: "/api/v1/ws/things".into(),
                topics: vec!["things.made".into()],
                requests: vec![RequestMessage {
                    message_type: "make_request".into(),
                    operation: "make".into(),
                }],
                description: String::new(),
            }],
            events: vec![EventKind {
                name: "made".into(),
                schema: serde_json::json!({"type": "object"}),
                description: String::new(),
            }],
            session: None,
            subscriptions: Vec::new(),
        }
    }

    #[test]
    fn a_manifest_must_name_its_own_operations_and_declare_what_it_emits() {
        let m = manifest();
        assert!(m.check(&["make"], &["made", "progress"]).is_ok());
        assert!(
            m.check(&["other"], &[])
                .err()
                .unwrap_or_default()
                .contains("not one of its operations")
        );
        assert!(
            m.check(&["make"], &["unknown"])
                .err()
                .unwrap_or_default()
                .contains("do not declare")
        );
        let mut forged = manifest();
        forged.events[0].name = "job_state".into();
        assert!(
            forged
                .check(&["make"], &[])
                .err()
                .unwrap_or_default()
                .contains("host kind")
        );
        let mut bad_schema = manifest();
        bad_schema.events[0].schema = serde_json::json!({"type": 7});
        assert!(
            bad_schema
                .check(&["make"], &[])
                .err()
                .unwrap_or_default()
                .contains("JSON Schema")
        );
    }

    #[test]
    fn collisions_with_served_routes_and_endpoints_are_found() {
        let m = manifest();
        let taken = vec![(Method::Post, "/api/v1/things/{id}".to_owned())];
        assert!(m.collision(&taken, &[], &[]).is_some());
        let other_method = vec![(Method::Get, "/api/v1/things/{id}".to_owned())];
        assert!(m.collision(&other_method, &[], &[]).is_none());
        assert!(
            m.collision(&[], &["/api/v1/ws/things".to_owned()], &[])
                .is_some()
        );
    }
}
