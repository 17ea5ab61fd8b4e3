//! What plugins serve, mounted generically: every request no host route
//! matched comes here and is matched against the loaded plugins' declared
//! routes and WebSocket endpoints (`weft_runtime::manifest`), which change
//! with every hot load and unload. A REST route's path, query and JSON body
//! become its operation's params (validated by the op's schema) and run as
//! a job; an endpoint is the event protocol pre-subscribed to its topics;
//! a session path opens a streaming session (`sessions`).
//! The OpenAPI document gets an entry for each.
//!
//! This module must not know any engine: it reads the registry only.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use weft_runtime::manifest::{Access, BodyKind, Method};
use weft_runtime::{JobState, Runtime, SubmitRequest};

use crate::{ApiError, AppState, Principal};

/// Largest bytes body a plugin route takes: streamed into a file blob as
/// it arrives, never held whole.
const MAX_BYTES_BODY: u64 = 1 << 30;
/// Bytes gathered before each write of a streamed body.
const WRITE_CHUNK: usize = 1 << 20;
/// How long a waited route waits for its job.
const WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The fallback: a plugin's route or endpoint, or a 404 that says what is
/// served.
pub(crate) async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let caller = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(rejection) => return rejection.into_response(),
    };
    if path.starts_with("/api/v1/ws/")
        && let Some(preset) = crate::ws::plugin_preset(&state, &path)
    {
        return match crate::transport::Upgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => crate::ws::serve_preset(ws, state, caller, preset, None),
            Err(rejection) => rejection.into_response(),
        };
    }
    if parts.method == axum::http::Method::GET
        && let Some(target) = state.runtime.find_session(&path)
    {
        let query: std::collections::HashMap<String, String> =
            form_urlencoded(parts.uri.query()).into_iter().collect();
        let ws = crate::transport::Upgrade::from_request_parts(&mut parts, &state).await;
        return crate::sessions::open(state, caller, target, &path, query, ws)
            .unwrap_or_else(IntoResponse::into_response);
    }
    let Some(method) = Method::parse(parts.method.as_str()) else {
        return not_served(&state.runtime, &path).into_response();
    };
    let Some(found) = state.runtime.find_route(method, &path) else {
        return not_served(&state.runtime, &path).into_response();
    };
    match run_route(
        &state,
        &caller,
        found,
        parts.uri.query(),
        &parts.headers,
        body,
    )
    .await
    {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn not_served(runtime: &Runtime, path: &str) -> ApiError {
    if let Some((engine, false)) = runtime.declared_by(path) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "engine_not_loaded",
            format!(
                "{path} is served by engine '{engine}', which is not loaded; load it with POST /api/v1/plugins?name={engine}"
            ),
        );
    }
    let loaded: Vec<String> = runtime.plugins().into_iter().map(|p| p.name).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {path}; the host's routes are in /api/v1/openapi.json, with those of the loaded engines ({})",
            if loaded.is_empty() {
                "none".to_owned()
            } else {
                loaded.join(", ")
            }
        ),
    )
}

async fn run_route(
    state: &AppState,
    caller: &Principal,
    found: weft_runtime::RouteMatch,
    query: Option<&str>,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let route = &found.route;
    if route.access == Access::Operator && !caller.operator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{} {} is for operators", route.method.as_str(), route.path),
        ));
    }
    let engine = found.plugin.info().name.clone();
    let schema = found
        .plugin
        .operation(&route.operation)
        .map(|o| o.params_schema.clone())
        .unwrap_or(Value::Null);
    let mut params = Map::new();
    // The uploaded body's blob, removed once the job is done with it.
    let mut upload: Option<String> = None;
    match &route.body {
        BodyKind::None => {}
        BodyKind::Json => {
            // The server's request limit, as for every JSON body.
            let bytes = read_body(body, state.max_request_bytes).await?;
            if !bytes.is_empty() {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(fields)) => params = fields,
                    Ok(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
                    Err(e) => {
                        return Err(ApiError::bad_request(format!("the body is not JSON: {e}")));
                    }
                }
            }
        }
        BodyKind::Bytes { media_type } => {
            let sent = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if media_type != "*/*" && !sent.starts_with(media_type.as_str()) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "{} takes a body of type {media_type}, not '{sent}'",
                        route.path
                    ),
                ));
            }
            let name = format!("upload-{}", uuid::Uuid::now_v7());
            // The plugin's own space, where its storage calls look.
            let space = weft_storage::store::plugin_space(&caller.tenant, &engine);
            stream_to_blob(state, &space, &name, body).await?;
            params.insert("body_blob".into(), Value::String(name.clone()));
            params.insert("body_type".into(), Value::String(sent.to_owned()));
            upload = Some(name);
        }
    }
    for (name, value) in form_urlencoded(query) {
        let typed = typed_param(&schema, &name, &value);
        params.insert(name, typed);
    }
    for (name, value) in &found.params {
        let typed = typed_param(&schema, name, value);
        params.insert(name.clone(), typed);
    }
    let submitted = state.jobs.submit(SubmitRequest {
        engine,
        op: route.operation.clone(),
        params: Value::Object(params),
        tenant: caller.tenant.clone(),
        version: None,
    });
    let job = match submitted {
        Ok(job) => job,
        Err(error) => {
            if let Some(blob) = upload {
                remove_upload(state, &space_of(caller, &found), blob).await;
            }
            return Err(error.into());
        }
    };
    if !route.wait {
        if let Some(blob) = upload {
            remove_upload_when_done(state, space_of(caller, &found), job.job_id.clone(), blob);
        }
        let body = json!({"job_id": job.job_id, "topic": job.topic});
        return Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response());
    }
    let job = state.jobs.wait(&job.job_id, WAIT).await?;
    if let Some(blob) = upload {
        // At once if the job is done; if it runs past the wait, when it ends.
        remove_upload_when_done(state, space_of(caller, &found), job.job_id.clone(), blob);
    }
    match (&job.state, &job.error) {
        (JobState::Succeeded, _) => {
            let status = StatusCode::from_u16(route.success_status).unwrap_or(StatusCode::OK);
            if status == StatusCode::NO_CONTENT {
                return Ok(status.into_response());
            }
            let result = job.result.clone().unwrap_or(Value::Null);
            Ok((status, axum::Json(result)).into_response())
        }
        (JobState::Failed | JobState::Cancelled, Some(error)) => {
            let status = crate::error::status_of_failure(&error.code);
            let mut body = json!({"error": {"code": error.code, "message": error.message, "job_id": job.job_id}});
            if let Some(pointer) = &error.pointer {
                body["error"]["pointer"] = Value::String(pointer.clone());
            }
            Ok((status, axum::Json(body)).into_response())
        }
        _ => {
            let body = json!({"job_id": job.job_id, "topic": job.topic, "state": job.state});
            Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
    }
}

/// Removes an uploaded body's blob once its job has finished.
fn remove_upload_when_done(state: &AppState, space: String, job_id: String, blob: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let _ = state
            .jobs
            .wait(&job_id, std::time::Duration::from_secs(24 * 3600))
            .await;
        remove_upload(&state, &space, blob).await;
    });
}

fn space_of(caller: &Principal, found: &weft_runtime::RouteMatch) -> String {
    weft_storage::store::plugin_space(&caller.tenant, &found.plugin.info().name)
}

/// Streams a route's body into file blob `name` of `space`, published
/// whole once the body ends; a body that breaks off, stalls past the
/// upload idle timeout or passes [`MAX_BYTES_BODY`] leaves nothing.
async fn stream_to_blob(
    state: &AppState,
    space: &str,
    name: &str,
    body: Body,
) -> Result<(), ApiError> {
    use futures::StreamExt;
    let (store, space_owned, name_owned) = (state.store.clone(), space.to_owned(), name.to_owned());
    let mut blob =
        crate::rest::blocking(move || store.create_blob(&space_owned, &name_owned)).await?;
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    let mut total = 0u64;
    let idle = state.uploads.idle();
    loop {
        let next = tokio::time::timeout(idle, stream.next())
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "upload_stalled",
                    format!(
                        "the body sent nothing for {} s; send it again",
                        idle.as_secs()
                    ),
                )
            })?;
        let chunk = match next {
            Some(Ok(chunk)) => Some(chunk),
            Some(Err(e)) => {
                return Err(ApiError::bad_request(format!("the body broke off: {e}")));
            }
            None => None,
        };
        if let Some(chunk) = &chunk {
            total += chunk.len() as u64;
            if total > MAX_BYTES_BODY {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "a route's body is at most {} MiB; split the data or store it first (POST /api/v1/datasets/{{name}})",
                        MAX_BYTES_BODY >> 20
                    ),
                ));
            }
            pending.extend_from_slice(chunk);
        }
        if pending.len() >= WRITE_CHUNK || (chunk.is_none() && !pending.is_empty()) {
            let part = std::mem::take(&mut pending);
            blob = crate::rest::blocking(move || blob.write(&part).map(|()| blob)).await?;
        }
        if chunk.is_none() {
            break;
        }
    }
    crate::rest::blocking(move || blob.commit()).await?;
    Ok(())
}

async fn remove_upload(state: &AppState, space: &str, blob: String) {
    let (store, space) = (state.store.clone(), space.to_owned());
    let removed = crate::rest::blocking(move || store.drop_blob(&space, &blob)).await;
    if let Err(error) = removed {
        tracing::warn!(error = %error.message(), "an uploaded body was not removed");
    }
}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    crate::extract::bounded_body(body, limit).await.map_err(|()| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is over this route's limit of {} MiB (weft serve --max-request-mib); store the data first (POST /api/v1/datasets/{{name}}) and name it in the params",
                limit >> 20
            ),
        )
    })
}

fn form_urlencoded(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "access_token")
                .collect()
        })
        .unwrap_or_default()
}

/// A path or query value as the type its schema property asks for, so
/// `?limit=5` reaches an integer param as 5. Anything else stays a string
/// (and the schema then says what is wrong).
pub(crate) fn typed_param(schema: &Value, name: &str, value: &str) -> Value {
    let kind = &schema["properties"][name]["type"];
    let wants = |t: &str| kind == t || kind.as_array().is_some_and(|k| k.iter().any(|k| k == t));
    if (wants("integer") || wants("number"))
        && let Ok(number) = value.parse::<serde_json::Number>()
    {
        return Value::Number(number);
    }
    if wants("boolean")
        && let Ok(flag) = value.parse::<bool>()
    {
        return Value::Bool(flag);
    }
    Value::String(value.to_owned())
}

/// Adds every loaded plugin's routes and endpoints to the OpenAPI
/// `document`.
pub(crate) fn document(runtime: &Runtime, document: &mut Value) {
    for plugin in runtime.plugins() {
        let tag = format!("engine: {}", plugin.name);
        for route in &plugin.manifest.routes {
            let op = plugin.operations.iter().find(|o| o.name == route.operation);
            let mut parameters: Vec<Value> = route
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| {
                    let schema = op
                        .map(|o| o.params_schema["properties"][name].clone())
                        .filter(|s| !s.is_null())
                        .unwrap_or(json!({"type": "string"}));
                    json!({"name": name, "in": "path", "required": true, "schema": schema})
                })
                .collect();
            if route.body == BodyKind::None
                && let Some(Value::Object(props)) = op.map(|o| &o.params_schema["properties"])
            {
                for (name, schema) in props {
                    if !route.path.contains(&format!("{{{name}}}")) {
                        parameters.push(json!({"name": name, "in": "query", "required": false, "schema": schema}));
                    }
                }
            }
            let result = op
                .and_then(|o| o.result_schema.clone())
                .unwrap_or(json!({}));
            let status = if route.wait {
                route.success_status
            } else {
                202
            };
            let mut entry = json!({
                "tags": [tag],
                "summary": route.description,
                "operationId": format!("{}_{}", plugin.name, route.operation),
                "parameters": parameters,
                "responses": {
                    status.to_string(): {"description": "the operation's result", "content": {"application/json": {"schema": result}}},
                    "4XX": {"description": "Bad input or unknown resource", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                },
            });
            match &route.body {
                BodyKind::Json => {
                    let schema = op.map(|o| o.params_schema.clone()).unwrap_or(json!({}));
                    entry["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
                }
                BodyKind::Bytes { media_type } => {
                    entry["requestBody"] =
                        json!({"required": true, "content": {media_type.as_str(): {}}});
                }
                BodyKind::None => {}
            }
            document["paths"][&route.path][route.method.as_str().to_ascii_lowercase()] = entry;
        }
        if let Some(session) = &plugin.manifest.session {
            let messages: Vec<&str> = session
                .messages
                .iter()
                .map(|m| m.message_type.as_str())
                .collect();
            let config = session.config_schema["properties"]
                .as_object()
                .map(|props| {
                    props
                        .iter()
                        .map(|(name, schema)| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": "config of a session this connection opens"}))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut parameters = vec![
                json!({"name": "session_id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}),
                json!({"name": "client_id", "in": "query", "required": false, "schema": {"type": "string"}}),
            ];
            parameters.extend(config);
            document["paths"][&session.path]["get"] = json!({
                "tags": [tag],
                "summary": format!(
                    "A streaming session (WebSocket): takes {} and the host's ping, stats, subscribe, unsubscribe",
                    messages.join(", ")
                ),
                "operationId": format!("{}_session", plugin.name),
                "parameters": parameters,
                "responses": {"101": {"description": "switches to the WebSocket protocol"}},
            });
        }
        for endpoint in &plugin.manifest.endpoints {
            let requests: Vec<&str> = endpoint
                .requests
                .iter()
                .map(|r| r.message_type.as_str())
                .collect();
            document["paths"][&endpoint.path]["get"] = json!({
                "tags": [tag],
                "summary": format!(
                    "{} (WebSocket: the event protocol pre-subscribed to {}{})",
                    endpoint.description,
                    endpoint.topics.join(", "),
                    if requests.is_empty() { String::new() } else { format!("; takes {}", requests.join(", ")) }
                ),
                "operationId": format!("{}_ws{}", plugin.name, endpoint.path.replace(['/', '-'], "_")),
                "responses": {"101": {"description": "switches to the WebSocket protocol"}},
            });
        }
    }
}
