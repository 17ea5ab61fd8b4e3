//! The accept loop, in place of `axum::serve`: the same hyper connection
//! per socket (with upgrades, for WebSockets), plus what a public server
//! needs and `axum::serve` cannot give — a deadline for a request's headers
//! (a client that opens connections and sends a byte a minute, slowloris,
//! is cut off), a cap on connections per client address, a fixed socket
//! send buffer, and a graceful shutdown that waits a bounded time. It must
//! not know any route.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// What one server accepts.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Time a client has to send a request's headers.
    pub(crate) header_read: Duration,
    /// Connections one client address may hold at once.
    pub(crate) per_ip: usize,
    /// Socket send buffer per connection, bytes.
    pub(crate) send_buffer: usize,
    /// How long shutdown waits for open connections.
    pub(crate) shutdown_grace: Duration,
}

/// Open connections per client address.
#[derive(Clone, Default)]
struct PerIp(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its address; uncounted when dropped.
struct Counted {
    table: PerIp,
    ip: IpAddr,
}

impl PerIp {
    fn enter(&self, ip: IpAddr, limit: usize) -> Option<Counted> {
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = table.entry(ip).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Counted {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = table.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish for at most `limits.shutdown_grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let per_ip = PerIp::default();
    let mut refused_logged = std::time::Instant::now() - Duration::from_secs(60);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather
                    // than spin, and keep serving the connections we have.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(counted) = per_ip.enter(peer.ip(), limits.per_ip) else {
            if refused_logged.elapsed() > Duration::from_secs(10) {
                refused_logged = std::time::Instant::now();
                tracing::warn!(client = %peer.ip(), limit = limits.per_ip, "connection refused: the address holds its limit (--max-connections-per-ip)");
            }
            drop(stream);
            continue;
        };
        if let Err(error) = socket2::SockRef::from(&stream).set_send_buffer_size(limits.send_buffer)
        {
            tracing::warn!(%error, "cannot set the socket send buffer");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            app.clone().oneshot(request.map(Body::new))
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended");
            }
            drop(counted);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "connections still open at shutdown; closing them");
        }
    }
}
