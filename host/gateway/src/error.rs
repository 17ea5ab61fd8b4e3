//! The one error type that reaches HTTP: a status and
//! `{"error": {"code", "message"}}`.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_bus::BusError;
use weft_runtime::RuntimeError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// Machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        let (status, code) = match &error {
            RuntimeError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            RuntimeError::UnknownOperation { .. } => (StatusCode::BAD_REQUEST, "unknown_operation"),
            RuntimeError::InvalidParams { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params")
            }
            RuntimeError::InvalidPlugin(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_plugin"),
            RuntimeError::InvalidName(_) => (StatusCode::BAD_REQUEST, "invalid_name"),
            RuntimeError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            RuntimeError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_jobs"),
            RuntimeError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<weft_storage::StorageError> for ApiError {
    fn from(error: weft_storage::StorageError) -> Self {
        use weft_storage::StorageError as E;
        let (status, code) = match &error {
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            E::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            E::Exists { .. } => (StatusCode::CONFLICT, "conflict"),
            // Damage on disk is the server's fault, never the caller's; the
            // message names the file and page for the operator.
            E::Checksum { .. } | E::Corrupt { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "storage_damaged")
            }
            E::Io { .. } | E::Encode(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage_io"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<BusError> for ApiError {
    fn from(error: BusError) -> Self {
        Self::bad_request(error.to_string())
    }
}

/// The HTTP status that answers a job failed with `code`: the caller's
/// mistakes are 4xx (bad params 422, a missing input 404, a conflict 409,
/// too large 413), a job that ran out of time 504, a plugin that broke
/// 500.
pub(crate) fn status_of_failure(code: &str) -> StatusCode {
    match code {
        "invalid_params" | "unknown_operation" | "memory_limit" => StatusCode::UNPROCESSABLE_ENTITY,
        "not_found" => StatusCode::NOT_FOUND,
        "exists" | "conflict" | "cancelled" => StatusCode::CONFLICT,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The request body limit the router was built with (`--max-request-mib`),
/// for the 413's message.
static REQUEST_LIMIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The request body limit (64 MiB until the router sets it).
pub(crate) fn request_limit() -> usize {
    match REQUEST_LIMIT.load(std::sync::atomic::Ordering::Relaxed) {
        0 => 64 << 20,
        limit => limit,
    }
}

/// Records the request body limit, so refusals can say it.
pub(crate) fn set_request_limit(bytes: usize) {
    REQUEST_LIMIT.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

impl ApiError {
    /// A body over the request limit: the limit, how to raise it and the
    /// way around it.
    pub(crate) fn request_too_large() -> Self {
        let limit = REQUEST_LIMIT.load(std::sync::atomic::Ordering::Relaxed);
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} MiB, this server's limit (weft serve --max-request-mib); store large inputs first and name them in the job: a dataset (POST /api/v1/datasets/{{name}}) or an engine's own upload route (see /api/v1/openapi.json), or stream rows over /api/v1/ws/query",
                limit >> 20
            ),
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match rejection {
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::JsonDataError(_) => "invalid_request",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => return Self::request_too_large(),
            _ => "bad_request",
        };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::request_too_large();
        }
        Self::new(status, "bad_request", rejection.body_text())
    }
}
