//! Axum extractors whose rejections are the JSON error envelope, shared by
//! every protocol module (REST, WebSocket presets, sessions).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header};

use crate::ApiError;

/// `Json<T>` whose rejection is an [`ApiError`]. The body is read within
/// the server's request limit and, past it, drained before the 413 is sent,
/// so a client still sending reads the refusal instead of a reset.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with content-type: application/json",
            ));
        }
        let bytes = bounded_body(request.into_body(), crate::error::request_limit())
            .await
            .map_err(|()| ApiError::request_too_large())?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// `Query<T>` whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub(crate) T);

/// Bytes of a body too large for its route that are still read (and
/// dropped) before the refusal is sent, so that a client still sending
/// reads the 413 instead of a reset connection.
const DRAIN_BYTES: usize = 64 << 20;
/// How long that draining may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A body of at most `limit` bytes; `Err(())` when it is larger (or
/// breaks off). Past the limit the rest is drained within bounds first.
pub(crate) async fn bounded_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, ()> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ())?;
        if buffer.len() + chunk.len() > limit {
            let mut drained = 0usize;
            let drain = async {
                while let Some(Ok(chunk)) = stream.next().await {
                    drained += chunk.len();
                    if drained > DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            return Err(());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.into())
}
