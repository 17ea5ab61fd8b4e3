//! `/api/v1/plugins`: list, hot-load, unload, and versions side by side —
//! list them, activate one, roll back (the runtime keeps every version
//! uploaded under a name; running jobs finish on theirs).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use weft_runtime::PluginInfo;

use super::ApiQuery;
use crate::api_doc::{Api, Op};
use crate::{ApiError, AppState};

/// Largest component accepted for upload.
const MAX_COMPONENT_BYTES: usize = 64 << 20;

pub(super) fn routes(api: Api) -> Api {
    api.route(
        Op::get(
            "/api/v1/plugins",
            "plugins",
            "Loaded plugins with their operations, params schemas, topics and digests",
        ),
        get(list),
    )
    .route(
        Op::post(
            "/api/v1/plugins",
            "plugins",
            "Hot-load a plugin: validate the component against the WIT worlds and load it",
        )
        .query(
            "name",
            "the name to load it under (required; becomes its topic prefix)",
        )
        .query(
            "activate",
            "false: validate and keep this version beside the active one, to activate later (default true)",
        )
        .body(
            "application/wasm",
            "a WebAssembly component, at most 64 MiB",
        )
        .responds(201, "loaded; the plugin's description"),
        post(upload).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
    )
    .route(
        Op::get("/api/v1/plugins/{name}", "plugins", "One loaded plugin"),
        get(show),
    )
    .route(
        Op::get(
            "/api/v1/plugins/{name}/versions",
            "plugins",
            "Every version uploaded under a name (oldest first), which one is active",
        ),
        get(versions),
    )
    .route(
        Op::post(
            "/api/v1/plugins/{name}/versions/{version}/activate",
            "plugins",
            "Make a kept version the one serving, at once; running jobs and sessions finish on theirs",
        ),
        post(activate),
    )
    .route(
        Op::post(
            "/api/v1/plugins/{name}/rollback",
            "plugins",
            "Activate the version that was active before the current one",
        ),
        post(rollback),
    )
    .route(
        Op::delete(
            "/api/v1/plugins/{name}",
            "plugins",
            "Unload a plugin (running jobs finish on it)",
        ),
        delete(unload),
    )
}

async fn list(State(state): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(state.runtime.plugins())
}

async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    Ok(Json(state.runtime.plugin(&name)?.info().clone()))
}

#[derive(Deserialize)]
struct UploadQuery {
    name: Option<String>,
    activate: Option<bool>,
}

async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<weft_runtime::VersionInfo>>, ApiError> {
    Ok(Json(state.runtime.versions(&name)?))
}

async fn activate(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PluginInfo>, ApiError> {
    let runtime = state.runtime.clone();
    Ok(Json(
        super::blocking(move || runtime.activate(&name, &version)).await?,
    ))
}

async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    let runtime = state.runtime.clone();
    Ok(Json(
        super::blocking(move || runtime.rollback(&name)).await?,
    ))
}

async fn upload(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    let Some(name) = query.name else {
        return Err(ApiError::bad_request(
            "name the plugin: POST /api/v1/plugins?name=<name> with the component as the body",
        ));
    };
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or_default();
        if !(kind.starts_with("application/wasm") || kind.starts_with("application/octet-stream")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the component as application/wasm, not {kind}"),
            ));
        }
    }
    let body = body?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send the component's bytes",
        ));
    }
    let runtime = state.runtime.clone();
    // Compiling a component takes a while: keep it off the async workers.
    let activate = query.activate.unwrap_or(true);
    let info = tokio::task::spawn_blocking(move || runtime.load_with(&name, &body, activate))
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })??;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn unload(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    Ok(Json(state.runtime.unload(&name)?))
}
