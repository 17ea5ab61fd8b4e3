//! The WebSocket transport under every endpoint (the event protocol, the
//! seed endpoints, `/ws/query`, `/ws/metrics`, streaming sessions and
//! GraphQL subscriptions): yawc, which speaks RFC 6455 and negotiates
//! permessage-deflate (RFC 7692) when the client offers it — axum's
//! tungstenite-based WebSocket cannot. Endpoints see only [`Upgrade`],
//! [`Socket`] and [`Message`]; nothing outside this file names yawc.
//!
//! Compression runs with no context takeover on either side and deflate
//! state borrowed from one process-wide pool, so a connection holds no
//! compressor between messages: 10,000 idle subscribers cost no more with
//! compression than without. Messages under [`COMPRESSION_THRESHOLD`]
//! bytes go out as they are (deflate would not make them smaller).

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::{Sink, Stream};

use crate::ApiError;

/// Smallest outgoing message worth compressing, in bytes.
const COMPRESSION_THRESHOLD: usize = 256;

/// Largest incoming message unless an endpoint sets its own.
const DEFAULT_MAX_MESSAGE: usize = 64 << 10;

/// Idle deflate/inflate states kept for reuse: about the number of threads
/// that compress at the same moment, not the number of connections.
static DEFLATE_POOL: LazyLock<yawc::DeflatePool> = LazyLock::new(|| yawc::DeflatePool::new(16));

/// One WebSocket message, as endpoints send and receive it.
#[derive(Debug)]
pub(crate) enum Message {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseFrame>),
}

/// Code and reason of a close frame.
#[derive(Debug)]
pub(crate) struct CloseFrame {
    pub(crate) code: u16,
    pub(crate) reason: String,
}

/// Close codes of RFC 6455 §7.4.1 that endpoints use.
pub(crate) mod close_code {
    pub(crate) const NORMAL: u16 = 1000;
    pub(crate) const AWAY: u16 = 1001;
    pub(crate) const POLICY: u16 = 1008;
}

/// A WebSocket upgrade request; a plain HTTP request is rejected with a
/// JSON `websocket_required` error.
pub(crate) struct Upgrade {
    incoming: yawc::IncomingUpgrade,
    offered_protocols: Option<String>,
    /// The client offered permessage-deflate; we always accept it.
    deflate: bool,
    selected_protocol: Option<&'static str>,
    max_message_size: usize,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let is_upgrade = parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let incoming = match yawc::IncomingUpgrade::from_request_parts(parts, state).await {
            Ok(incoming) if is_upgrade => incoming,
            _ => {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "websocket_required",
                    "this endpoint speaks WebSocket; connect with a WebSocket client (ws://…) sending Upgrade: websocket, Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
                ));
            }
        };
        let deflate = parts
            .headers
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("permessage-deflate"));
        let offered_protocols = parts
            .headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            incoming,
            offered_protocols,
            deflate,
            selected_protocol: None,
            max_message_size: DEFAULT_MAX_MESSAGE,
        })
    }
}

impl Upgrade {
    /// Incoming messages larger than this close the connection (1009).
    pub(crate) fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Picks the first subprotocol the client offered that is in
    /// `supported`; it is answered in `Sec-WebSocket-Protocol`.
    pub(crate) fn protocols(mut self, supported: &[&'static str]) -> Self {
        self.selected_protocol = self.offered_protocols.as_deref().and_then(|offered| {
            offered
                .split(',')
                .map(str::trim)
                .find_map(|p| supported.iter().copied().find(|s| *s == p))
        });
        self
    }

    /// The subprotocol [`Upgrade::protocols`] chose, if any.
    pub(crate) fn selected_protocol(&self) -> Option<&'static str> {
        self.selected_protocol
    }

    /// Answers the handshake and runs `serve` on the socket once the
    /// connection has switched protocols.
    pub(crate) fn on_upgrade<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let options = yawc::Options::default()
            .with_max_payload_read(self.max_message_size)
            .with_max_read_buffer(self.max_message_size)
            .with_utf8()
            .with_compression_level(yawc::CompressionLevel::fast())
            .server_no_context_takeover()
            .client_no_context_takeover()
            .with_compression_threshold(COMPRESSION_THRESHOLD)
            .with_deflate_pool(DEFLATE_POOL.clone());
        let deflate = self.deflate;
        let (response, upgraded) = match self.incoming.upgrade(options) {
            Ok(pair) => pair,
            Err(e) => {
                return ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "websocket_required",
                    format!("cannot complete the WebSocket handshake: {e}"),
                )
                .into_response();
            }
        };
        tokio::spawn(async move {
            match upgraded.await {
                Ok(socket) => {
                    serve(Socket {
                        inner: socket,
                        deflate,
                    })
                    .await;
                }
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade did not complete"),
            }
        });
        let (mut parts, _) = response.into_parts();
        if let Some(protocol) = self.selected_protocol {
            parts.headers.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        Response::from_parts(parts, Body::empty())
    }
}

/// An open WebSocket: a stream of [`Message`]s in and a sink of them out.
/// Pings are answered by the transport; they still arrive as messages, so
/// every frame counts as life for the idle timeout.
pub(crate) struct Socket {
    inner: yawc::WebSocket<yawc::HttpStream>,
    deflate: bool,
}

impl Socket {
    /// Whether messages are compressed (permessage-deflate agreed).
    pub(crate) fn compressed(&self) -> bool {
        self.deflate
    }
}

/// The connection broke or the peer broke the protocol.
#[derive(Debug, thiserror::Error)]
#[error("WebSocket: {0}")]
pub(crate) struct SocketError(String);

impl Stream for Socket {
    type Item = Result<Message, SocketError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let socket = &mut self.get_mut().inner;
        let frame = match socket.poll_next_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(yawc::WebSocketError::ConnectionClosed)) => return Poll::Ready(None),
            Poll::Ready(Err(e)) => {
                // yawc has queued a close frame naming the fault (1009 for
                // a message over the limit); push it out now, because the
                // endpoint drops the socket on an error.
                let _ = Pin::new(&mut *socket).poll_flush(cx);
                return Poll::Ready(Some(Err(SocketError(e.to_string()))));
            }
            Poll::Ready(Ok(frame)) => frame,
        };
        let message = match frame.opcode() {
            yawc::OpCode::Text => match String::from_utf8(frame.into_payload().to_vec()) {
                Ok(text) => Ok(Message::Text(text)),
                Err(_) => Err(SocketError("text frame is not UTF-8".into())),
            },
            yawc::OpCode::Binary | yawc::OpCode::Continuation => {
                Ok(Message::Binary(frame.into_payload()))
            }
            yawc::OpCode::Ping => Ok(Message::Ping(frame.into_payload())),
            yawc::OpCode::Pong => Ok(Message::Pong(frame.into_payload())),
            yawc::OpCode::Close => Ok(Message::Close(frame.close_code().map(|code| {
                CloseFrame {
                    code: code.into(),
                    reason: frame
                        .close_reason()
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                        .to_owned(),
                }
            }))),
        };
        Poll::Ready(Some(message))
    }
}

impl Sink<Message> for Socket {
    type Error = SocketError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_ready(cx)
            .map_err(|e| SocketError(e.to_string()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let frame = match message {
            Message::Text(text) => yawc::Frame::text(text),
            Message::Binary(data) => yawc::Frame::binary(data),
            Message::Ping(data) => yawc::Frame::ping(data),
            Message::Pong(data) => yawc::Frame::pong(data),
            Message::Close(Some(close)) => yawc::Frame::close(close.code.into(), close.reason),
            Message::Close(None) => yawc::Frame::close(close_code::NORMAL.into(), ""),
        };
        Pin::new(&mut self.get_mut().inner)
            .start_send(frame)
            .map_err(|e| SocketError(e.to_string()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(|e| SocketError(e.to_string()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(|e| SocketError(e.to_string()))
    }
}
