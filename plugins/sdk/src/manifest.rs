//! What an engine serves besides its operations, declared in plain Rust:
//! REST routes, WebSocket endpoints, event kinds (each with a JSON Schema
//! of its data) and a session protocol. The host checks the manifest when
//! it loads the plugin and mounts all of it without engine-specific code.

use serde_json::Value;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// What a route's body is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// None: params come from the path and query.
    None,
    /// A JSON object merged into the params.
    Json,
    /// Raw bytes of this media type, stored as a blob named in
    /// `params.body_blob`.
    Bytes(String),
}

/// A REST route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Template under `/api/v1/`, e.g. `/api/v1/things/{name}`.
    pub path: String,
    /// Operation it runs; path and query parameters become its params.
    pub operation: String,
    /// Body.
    pub body: Body,
    /// Answer the result (true) or 202 with the job (false).
    pub wait: bool,
    /// Operators only.
    pub operator_only: bool,
    /// Status of a successful waited answer.
    pub success_status: u16,
    /// One sentence.
    pub description: String,
}

impl Route {
    /// A route that runs `operation` and answers its result (200).
    pub fn new(method: Method, path: &str, operation: &str, description: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            operation: operation.to_owned(),
            body: if matches!(method, Method::Get | Method::Delete) {
                Body::None
            } else {
                Body::Json
            },
            wait: true,
            operator_only: false,
            success_status: 200,
            description: description.to_owned(),
        }
    }

    /// Sets the body kind.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Answers 202 with the job at once instead of waiting.
    pub fn as_job(mut self) -> Self {
        self.wait = false;
        self
    }

    /// Sets the status of a successful answer.
    pub fn status(mut self, status: u16) -> Self {
        self.success_status = status;
        self
    }

    /// Restricts the route to operators.
    pub fn operator_only(mut self) -> Self {
        self.operator_only = true;
        self
    }
}

/// A WebSocket endpoint: the event protocol pre-subscribed to `topics`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Under `/api/v1/ws/`.
    pub path: String,
    /// Topic patterns relative to the plugin's name.
    pub topics: Vec<String>,
    /// `(message type, operation)` of each request message it takes.
    pub requests: Vec<(String, String)>,
    /// One sentence.
    pub description: String,
}

impl Endpoint {
    /// An endpoint at `path` pre-subscribed to `topic`.
    pub fn new(path: &str, topic: &str, description: &str) -> Self {
        Self {
            path: path.to_owned(),
            topics: vec![topic.to_owned()],
            requests: Vec::new(),
            description: description.to_owned(),
        }
    }

    /// Takes request messages of `message_type`, running `operation` by
    /// default (a message may name another in `"operation"`).
    pub fn request(mut self, message_type: &str, operation: &str) -> Self {
        self.requests
            .push((message_type.to_owned(), operation.to_owned()));
        self
    }
}

/// An event kind and the JSON Schema of its data.
#[derive(Clone, Debug)]
pub struct EventKind {
    /// The `kind`.
    pub name: String,
    /// JSON Schema of `data`.
    pub schema: Value,
    /// One sentence.
    pub description: String,
}

impl EventKind {
    /// A kind with its data schema.
    pub fn new(name: &str, description: &str, schema: Value) -> Self {
        Self {
            name: name.to_owned(),
            schema,
            description: description.to_owned(),
        }
    }
}

/// Where a session message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionCall {
    /// `push`.
    Push,
    /// `request`.
    Request,
}

/// A message type a session takes.
#[derive(Clone, Debug)]
pub struct SessionMessage {
    /// Its `type`.
    pub message_type: String,
    /// Where it goes.
    pub call: SessionCall,
    /// `Push`: the field holding its rows.
    pub rows_field: String,
    /// `Push`: the field holds one row, answered at the reply's top level.
    pub single_row: bool,
    /// `type` of the answer (empty: the message's own).
    pub reply_type: String,
    /// `Push`: the columns its rows have (empty: typed from the values).
    pub columns: Vec<(String, crate::ColumnKind)>,
    /// One sentence.
    pub description: String,
}

impl SessionMessage {
    /// A message whose rows (a list of rows, each an array of numbers or
    /// an object) are in field `rows_field`, handed to `Session::push`.
    pub fn push(message_type: &str, rows_field: &str, description: &str) -> Self {
        Self {
            message_type: message_type.to_owned(),
            call: SessionCall::Push,
            rows_field: rows_field.to_owned(),
            single_row: false,
            reply_type: String::new(),
            columns: Vec::new(),
            description: description.to_owned(),
        }
    }

    /// A message handed to `Session::request` with its fields as JSON.
    pub fn request(message_type: &str, description: &str) -> Self {
        Self {
            message_type: message_type.to_owned(),
            call: SessionCall::Request,
            rows_field: String::new(),
            single_row: false,
            reply_type: String::new(),
            columns: Vec::new(),
            description: description.to_owned(),
        }
    }

    /// Declares the columns of its rows, in order: the host converts each
    /// row to them (by position for arrays, by name for objects) and
    /// refuses a row that does not fit.
    pub fn columns(mut self, columns: &[(&str, crate::ColumnKind)]) -> Self {
        self.columns = columns.iter().map(|(n, k)| ((*n).to_owned(), *k)).collect();
        self
    }

    /// The rows field holds one row.
    pub fn single_row(mut self) -> Self {
        self.single_row = true;
        self
    }

    /// Answers with `type` `reply_type`.
    pub fn reply(mut self, reply_type: &str) -> Self {
        self.reply_type = reply_type.to_owned();
        self
    }
}

/// The session protocol of a streaming engine.
#[derive(Clone, Debug)]
pub struct SessionProtocol {
    /// The WebSocket path, ending in `{session_id}`.
    pub path: String,
    /// JSON Schema of a session's config.
    pub config_schema: Value,
    /// Message types.
    pub messages: Vec<SessionMessage>,
    /// Topics a session's clients may subscribe to; the engine emits on
    /// `sessions.<session_id>.<topic>`.
    pub topics: Vec<String>,
}

/// A typed GraphQL subscription over the engine's events.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// camelCase field name.
    pub name: String,
    /// One sentence.
    pub description: String,
    /// Topic pattern relative to the engine's name.
    pub topic: String,
    /// Event kinds it carries.
    pub kinds: Vec<String>,
    /// Data fields a subscriber may filter on.
    pub filters: Vec<String>,
    /// The kind that ends a one-job stream.
    pub final_kind: Option<String>,
}

impl Subscription {
    /// Subscription `name` over `kinds` on `topic`.
    pub fn new(name: &str, topic: &str, kinds: &[&str], description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            topic: topic.to_owned(),
            kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
            filters: Vec::new(),
            final_kind: None,
        }
    }

    /// Lets subscribers filter on data field `field`.
    pub fn filter(mut self, field: &str) -> Self {
        self.filters.push(field.to_owned());
        self
    }

    /// A one-job stream ends after an event of `kind`.
    pub fn ends_with(mut self, kind: &str) -> Self {
        self.final_kind = Some(kind.to_owned());
        self
    }
}

/// Everything an engine serves besides its operations.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// REST routes.
    pub routes: Vec<Route>,
    /// WebSocket endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Event kinds.
    pub events: Vec<EventKind>,
    /// Session protocol.
    pub session: Option<SessionProtocol>,
    /// Typed GraphQL subscriptions.
    pub subscriptions: Vec<Subscription>,
}
