//! `/api/v1/wit`: the WIT contract this server binds, for plugin authors
//! to build against (the same files `weft wit` writes).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use weft_runtime::wit;

use super::ApiQuery;
use crate::ApiError;
use crate::api_doc::{Api, Op};

pub(super) fn routes(api: Api) -> Api {
    api.route(
        Op::get(
            "/api/v1/wit",
            "plugins",
            "The WIT packages this server binds, their versions, the compatibility policy and every file's text",
        )
        .query(
            "file",
            "one file's path (as listed, e.g. engine/engine.wit): answered as text/plain",
        ),
        get(serve),
    )
}

#[derive(Deserialize)]
struct WitQuery {
    file: Option<String>,
}

async fn serve(ApiQuery(query): ApiQuery<WitQuery>) -> Result<Response, ApiError> {
    let files = wit::CURRENT.iter().chain(wit::PREVIOUS);
    if let Some(path) = query.file {
        let Some(file) = files.clone().find(|f| f.path == path) else {
            let known: Vec<&str> = files.map(|f| f.path).collect();
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no WIT file '{path}'; the files are {}", known.join(", ")),
            ));
        };
        return Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            file.text,
        )
            .into_response());
    }
    let packages: Vec<_> = wit::packages()
        .iter()
        .map(|p| json!({"name": p.name, "version": p.version, "accepts": p.accepts}))
        .collect();
    let listed = |set: &[wit::WitFile]| -> Vec<serde_json::Value> {
        set.iter()
            .map(|f| json!({"path": f.path, "text": f.text}))
            .collect()
    };
    Ok(Json(json!({
        "packages": packages,
        "policy": wit::POLICY,
        "files": listed(wit::CURRENT),
        "previous": listed(wit::PREVIOUS),
        "write_with": "weft wit <folder>",
    }))
    .into_response())
}
