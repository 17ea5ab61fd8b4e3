//! The GraphQL schema: queries and mutations at `POST /graphql` (GraphiQL
//! at `GET /graphql`), subscriptions at `/graphql/ws` over both
//! `graphql-transport-ws` and the legacy `graphql-ws` subprotocol.
//!
//! Two schemas answer as one: the host's, fixed and typed in Rust, and
//! the engines' typed subscriptions, generated from their manifests
//! (`declared`). [`Schemas`] sends each subscription to the schema that has
//! its field and merges the two for introspection, so a client (GraphiQL)
//! sees one schema.

mod declared;
mod storage;
mod typed;
mod types;

use async_graphql::http::GraphiQLSource;
use async_graphql::{
    Context, ErrorExtensions, Json, MergedSubscription, Object, Schema, Subscription,
};
use axum::Router;
use axum::response::Html;
use axum::routing::get;
use futures::{Stream, StreamExt};
use weft_bus::Delivery;
use weft_runtime::{RuntimeError, SubmitRequest};

use crate::api_doc::{Api, Op};
use crate::{ApiError, AppState, Principal};
use axum::response::IntoResponse;
use types::{GqlEvent, GqlJob, GqlJobState, GqlPlugin, JobUpdate};

pub(crate) type WeftSchema = Schema<Query, Mutation, SubscriptionRoot>;

pub(crate) fn schema(state: AppState) -> WeftSchema {
    Schema::build(Query, Mutation, SubscriptionRoot::default())
        .data(state)
        .limit_depth(16)
        .limit_complexity(2000)
        .finish()
}

/// The fields of the host's `Subscription` type, which no plugin may
/// declare.
pub(crate) fn subscription_names() -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let sdl = Schema::build(Query, Mutation, SubscriptionRoot::default())
        .finish()
        .sdl();
    let Ok(document) = async_graphql::parser::parse_schema(&sdl) else {
        return Vec::new();
    };
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(ty)
                if ty.node.name.node == "SubscriptionRoot"
                    || ty.node.name.node == "Subscription" =>
            {
                match &ty.node.kind {
                    TypeKind::Object(object) => Some(
                        object
                            .fields
                            .iter()
                            .map(|f| f.node.name.node.to_string())
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                }
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Documents what [`routes`] serves (it has a state of its own).
pub(crate) fn document(api: Api) -> Api {
    api.external(
        Op::get(
            "/graphql",
            "graphql",
            "GraphiQL, the in-browser GraphQL IDE",
        )
        .responds(200, "HTML"),
    )
    .external(
        Op::post(
            "/graphql",
            "graphql",
            "GraphQL queries and mutations: plugins, job(s), submitJob, cancelJob",
        )
        .body("application/json", "{\"query\", \"variables\"?}"),
    )
    .external(Op::websocket(
        "/graphql/ws",
        "graphql",
        "GraphQL subscriptions (events, jobProgress and the seeds' typed streams) over graphql-transport-ws or graphql-ws; with --api-keys, the key goes in connection_init",
    ))
}

/// The host's schema and the declared one, served as one.
#[derive(Clone)]
pub(crate) struct Schemas {
    fixed: WeftSchema,
    declared: declared::Declared,
}

/// The root fields of the operation a request runs, if it is a
/// subscription.
fn subscription_fields(request: &async_graphql::Request) -> Vec<String> {
    use async_graphql::parser::types::{OperationType, Selection};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return Vec::new();
    };
    let operation = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => document.operations.iter().next().map(|(_, op)| op),
    };
    let Some(operation) = operation else {
        return Vec::new();
    };
    if operation.node.ty != OperationType::Subscription {
        return Vec::new();
    }
    operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .collect()
}

/// `__schema.types` of `declared` added to those of `fixed`: its
/// subscription fields join the host's `Subscription` type.
fn merge_introspection(fixed: &mut serde_json::Value, declared: serde_json::Value) {
    if let (Some(fields), Some(more)) = (
        fixed["__schema"]["subscriptionType"]["fields"].as_array_mut(),
        declared["__schema"]["subscriptionType"]["fields"].as_array(),
    ) {
        fields.extend(more.iter().cloned());
    }
    let Some(types) = fixed["__schema"]["types"].as_array_mut() else {
        return;
    };
    let Some(extra) = declared["__schema"]["types"].as_array() else {
        return;
    };
    for ty in extra {
        let name = ty["name"].as_str().unwrap_or_default();
        if name == "Query" {
            continue;
        }
        match types.iter_mut().find(|t| t["name"] == name) {
            Some(existing) if name == "Subscription" => {
                if let (Some(fields), Some(more)) =
                    (existing["fields"].as_array_mut(), ty["fields"].as_array())
                {
                    fields.extend(more.iter().cloned());
                }
            }
            Some(_) => {}
            None => types.push(ty.clone()),
        }
    }
}

impl async_graphql::Executor for Schemas {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        let introspects = request.query.contains("__schema");
        let again = introspects.then(|| {
            let mut copy = async_graphql::Request::new(request.query.clone())
                .variables(request.variables.clone());
            copy.operation_name = request.operation_name.clone();
            copy
        });
        let mut response = self.fixed.execute(request).await;
        if let (Some(copy), Some(declared)) = (again, self.declared.schema())
            && response.errors.is_empty()
        {
            let theirs = declared.execute(copy).await;
            if let (Ok(mut ours), Ok(theirs)) =
                (response.data.clone().into_json(), theirs.data.into_json())
            {
                merge_introspection(&mut ours, theirs);
                if let Ok(merged) = async_graphql::Value::from_json(ours) {
                    response.data = merged;
                }
            }
        }
        response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<std::sync::Arc<async_graphql::Data>>,
    ) -> futures::stream::BoxStream<'static, async_graphql::Response> {
        let fields = subscription_fields(&request);
        if let Some(declared) = fields.first().and_then(|f| self.declared.serving(f)) {
            return async_graphql::Executor::execute_stream(&declared, request, session_data);
        }
        async_graphql::Executor::execute_stream(&self.fixed, request, session_data)
    }
}

pub(crate) fn routes(schema: WeftSchema, state: AppState) -> Router {
    let router = Schemas {
        fixed: schema,
        declared: declared::Declared::new(state.clone()),
    };
    let for_queries = router.clone();
    Router::new()
        .route(
            "/graphql",
            get(graphiql).post(
                move |caller: Principal, body: axum::body::Body| async move {
                    let request = match read_request(body).await {
                        Ok(request) => request,
                        Err(error) => return error.into_response(),
                    };
                    let request = request.data(caller).data(types::ResultBudget::default());
                    async_graphql_axum::GraphQLResponse::from(
                        async_graphql::Executor::execute(&for_queries, request).await,
                    )
                    .into_response()
                },
            ),
        )
        .route(
            "/graphql/ws",
            get(
                move |ws: crate::transport::Upgrade, caller: Result<Principal, ApiError>| {
                    subscriptions(ws, router, state, caller.ok())
                },
            ),
        )
}

/// Largest GraphQL request body.
const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A GraphQL request from a POST body, every refusal in the JSON envelope:
/// bounded in size, one operation (no batches), errors in plain words.
async fn read_request(body: axum::body::Body) -> Result<async_graphql::Request, ApiError> {
    use axum::http::StatusCode;
    let bytes = crate::extract::bounded_body(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "a GraphQL request is at most {} MiB; pass large inputs as stored data (POST /api/v1/datasets/{{name}}) and name them",
                    MAX_REQUEST_BYTES >> 20
                ),
            )
        })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::bad_request(
            "batched GraphQL requests are not supported: send one {\"query\": …} per request",
        ));
    }
    serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not a GraphQL request (line {}, column {}: {}); send {{\"query\": \"…\", \"variables\": {{…}}}} as JSON",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Data => "a field has the wrong type",
                serde_json::error::Category::Eof => "the JSON ends early",
                _ => "not JSON",
            }
        ))
    })
}

/// graphql-transport-ws's close code for a refused `connection_init`.
const FORBIDDEN: u16 = 4403;

/// The API key in a `connection_init` payload: `{"authorization": "Bearer
/// <key>"}` (the header's form) or `{"token": "<key>"}`.
fn payload_key(payload: &serde_json::Value) -> Option<&str> {
    ["authorization", "Authorization", "token", "apiKey"]
        .iter()
        .find_map(|field| payload.get(field)?.as_str())
        .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).trim())
}

/// The subscription socket: async-graphql's protocol state machine over
/// the gateway's own WebSocket transport (so it gets permessage-deflate
/// like every other endpoint).
/// A caller that showed no key in the upgrade request must show one in
/// `connection_init`, or the connection is closed (4403 on
/// graphql-transport-ws) before any subscription starts.
async fn subscriptions(
    ws: crate::transport::Upgrade,
    schema: Schemas,
    state: AppState,
    caller: Option<Principal>,
) -> axum::response::Response {
    use async_graphql::http::{WebSocketProtocols, WsMessage};
    use axum::response::IntoResponse;
    use futures::SinkExt;
    use std::str::FromStr;

    use crate::transport::{CloseFrame, Message};

    let ws = ws
        .protocols(&["graphql-transport-ws", "graphql-ws"])
        .max_message_size(64 << 10);
    let Some(protocol) = ws
        .selected_protocol()
        .and_then(|p| WebSocketProtocols::from_str(p).ok())
    else {
        return ApiError::bad_request(
            "offer the subprotocol graphql-transport-ws (or the legacy graphql-ws) in Sec-WebSocket-Protocol",
        )
        .into_response();
    };
    ws.on_upgrade(move |socket| async move {
        let (mut sink, stream) = socket.split();
        let input = stream
            .take_while(|message| std::future::ready(message.is_ok()))
            .filter_map(|message| {
                std::future::ready(match message {
                    Ok(Message::Text(text)) => Some(text.into_bytes()),
                    Ok(Message::Binary(data)) => Some(data.to_vec()),
                    _ => None,
                })
            });
        // async-graphql closes a refused connection_init with 1002; the
        // graphql-transport-ws protocol says 4403 Forbidden, so remember
        // that the refusal was ours.
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refusing = refused.clone();
        let mut output = async_graphql::http::WebSocket::new(schema, input, protocol)
            .on_connection_init(move |payload| async move {
                let principal = match caller {
                    Some(caller) => caller,
                    None => payload_key(&payload)
                        .map_or_else(
                            || crate::auth::check_key(&state, ""),
                            |key| crate::auth::check_key(&state, key),
                        )
                        .ok_or_else(|| {
                            refusing.store(true, std::sync::atomic::Ordering::Relaxed);
                            async_graphql::Error::new(
                                "unauthorized: send {\"authorization\": \"Bearer <key>\"} in the connection_init payload",
                            )
                        })?,
                };
                let mut data = async_graphql::Data::default();
                data.insert(principal);
                Ok(data)
            });
        while let Some(message) = output.next().await {
            let message = match message {
                WsMessage::Text(text) => Message::Text(text),
                WsMessage::Close(code, reason) => {
                    let code = if refused.load(std::sync::atomic::Ordering::Relaxed) {
                        FORBIDDEN
                    } else {
                        code
                    };
                    Message::Close(Some(CloseFrame { code, reason }))
                }
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
    })
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

fn gql_error(error: RuntimeError) -> async_graphql::Error {
    let api = ApiError::from(error);
    let code = api.code();
    async_graphql::Error::new(api.message()).extend_with(|_, e| e.set("code", code))
}

fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    // `schema()` always installs the state.
    ctx.data_unchecked::<AppState>()
}

/// Who is asking: every request and every subscription connection carries
/// its caller (see `routes`).
fn caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Principal>()
        .map_err(|_| async_graphql::Error::new("unauthorized: no caller on this request"))
}

/// Read-only queries.
pub(crate) struct Query;

#[Object]
impl Query {
    /// Loaded plugins.
    async fn plugins(&self, ctx: &Context<'_>) -> Vec<GqlPlugin> {
        state(ctx)
            .runtime
            .plugins()
            .into_iter()
            .map(GqlPlugin)
            .collect()
    }

    /// One job.
    async fn job(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<GqlJob> {
        caller(ctx)?
            .job(&state(ctx).jobs, &id)
            .map(GqlJob)
            .map_err(gql_error)
    }

    /// Jobs, newest first. Costs `limit` times its fields in the query's
    /// complexity (at most 2,000).
    #[graphql(complexity = "(limit.max(1) as usize).saturating_mul(child_complexity)")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "state")] state_filter: Option<GqlJobState>,
        engine: Option<String>,
        #[graphql(default = 100)] limit: i32,
    ) -> async_graphql::Result<Vec<GqlJob>> {
        let limit = usize::try_from(limit).unwrap_or(0).min(1000);
        let tenant = caller(ctx)?.event_tenant();
        Ok(state(ctx)
            .jobs
            .list(
                &weft_runtime::ListFilter {
                    state: state_filter.map(Into::into),
                    engine: engine.as_deref(),
                    tenant,
                    before: None,
                    // A GraphQL client picks fields; `result` may be one.
                    with_results: true,
                },
                limit,
            )
            .into_iter()
            .map(GqlJob)
            .collect())
    }
}

/// Changes.
pub(crate) struct Mutation;

#[Object]
impl Mutation {
    /// Queues a job; watch it with `jobProgress`. Costs 20 in the query's
    /// complexity, so one request queues at most 100.
    #[graphql(complexity = 20)]
    async fn submit_job(
        &self,
        ctx: &Context<'_>,
        engine: String,
        op: String,
        params: Option<Json<serde_json::Value>>,
    ) -> async_graphql::Result<GqlJob> {
        let state = state(ctx);
        state
            .jobs
            .submit(SubmitRequest {
                engine,
                op,
                params: params.map_or_else(|| serde_json::json!({}), |p| p.0),
                tenant: caller(ctx)?.tenant.clone(),
                version: None,
            })
            .map(GqlJob)
            .map_err(gql_error)
    }

    /// Cancels a queued or running job.
    async fn cancel_job(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<GqlJob> {
        let jobs = &state(ctx).jobs;
        caller(ctx)?
            .job(jobs, &id)
            .and_then(|_| jobs.cancel(&id))
            .map(GqlJob)
            .map_err(gql_error)
    }
}

/// Live streams of the host: the bus, jobs and storage (the engines'
/// typed streams are `declared`).
#[derive(MergedSubscription, Default)]
pub(crate) struct SubscriptionRoot(CoreSubscriptions, storage::StorageSubscriptions);

/// Streams of the bus and of jobs.
#[derive(Default)]
pub(crate) struct CoreSubscriptions;

#[Subscription]
impl CoreSubscriptions {
    /// Events on topics matching `topics` (`*` one segment, `>` the rest),
    /// replaying everything retained after `resumeFrom` first. Ends with a
    /// `lagged` error (carrying `resumeFrom`) if the client falls behind.
    async fn events(
        &self,
        ctx: &Context<'_>,
        topics: Vec<String>,
        resume_from: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<GqlEvent>>> {
        let state = state(ctx);
        let subscription = state
            .bus
            .subscribe(&topics, caller(ctx)?.event_tenant(), resume_from.as_deref())
            .map_err(bus_error)?;
        Ok(futures::stream::unfold(
            Some(subscription),
            |subscription| async move {
                let mut subscription = subscription?;
                match subscription.next().await? {
                    Delivery::Event(event) => Some((Ok(GqlEvent(event)), Some(subscription))),
                    Delivery::Lagged(token) => Some((Err(lagged_error(&token.to_string())), None)),
                }
            },
        ))
    }

    /// Progress and state changes of one job, from its first retained event;
    /// completes when the job finishes.
    async fn job_progress(
        &self,
        ctx: &Context<'_>,
        job_id: String,
    ) -> async_graphql::Result<impl Stream<Item = JobUpdate>> {
        let state = state(ctx).clone();
        let job = caller(ctx)?.job(&state.jobs, &job_id).map_err(gql_error)?;
        let topics = [job.topic.clone()];
        let tenant = Some(job.tenant.as_str());
        if job.state.is_final() {
            // Nothing more will be published: replay what is retained and
            // close with the job's final record.
            let retained = state
                .bus
                .replay(&topics, tenant, None, usize::MAX)
                .map_err(bus_error)?;
            let mut updates: Vec<JobUpdate> = retained
                .iter()
                .map(|e| JobUpdate::from_event(e, &state.jobs))
                .filter(|u| !u.is_final())
                .collect();
            updates.push(JobUpdate::from_job(&job));
            return Ok(futures::stream::iter(updates).left_stream());
        }
        let origin = state.bus.origin().to_string();
        let subscription = state
            .bus
            .subscribe(&topics, tenant, Some(&origin))
            .map_err(bus_error)?;
        let jobs = state.jobs.clone();
        let live = futures::stream::unfold(Some(subscription), move |subscription| {
            let jobs = jobs.clone();
            async move {
                let mut subscription = subscription?;
                let Delivery::Event(event) = subscription.next().await? else {
                    return None;
                };
                let update = JobUpdate::from_event(&event, &jobs);
                let next = if update.is_final() {
                    None
                } else {
                    Some(subscription)
                };
                Some((update, next))
            }
        });
        Ok(live.right_stream())
    }
}

/// The error that ends a subscription whose client fell behind.
fn lagged_error(token: &str) -> async_graphql::Error {
    async_graphql::Error::new("the subscriber fell behind; subscribe again with resumeFrom")
        .extend_with(|_, e| {
            e.set("code", "lagged");
            e.set("resumeFrom", token);
        })
}

fn bus_error(error: weft_bus::BusError) -> async_graphql::Error {
    async_graphql::Error::new(error.to_string()).extend_with(|_, e| e.set("code", "bad_request"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_subscriptions_are_known_by_name() {
        let names = super::subscription_names();
        for expected in ["events", "jobProgress", "lsmTreeEvents"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }
}
