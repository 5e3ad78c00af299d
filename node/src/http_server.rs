//! The HTTP connection loop under the router (REST, the WebSocket upgrade, the web app): what
//! `axum::serve` does, plus the timeouts it leaves out. Without a timer hyper never times out a
//! client that sends its request head a byte at a time, or never sends one, so a slowloris or
//! ten thousand idle sockets could hold descriptors for ever.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use parley_shared::api;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How long a client has to send a whole request head, counted from the moment the connection
/// waits for one (so also how long an idle keep-alive connection stays open). A browser or an
/// SDK sends its head in one packet; a WebSocket handshake is one such request too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's read buffer while it reads a request head: it answers a bodyless 431 beyond it, as
/// it does past its default of 100 headers (the contract's [`api::MAX_HEADERS`]). Twice the
/// contract's [`api::MAX_HEAD_BYTES`], so that a head a little over the limit, which one read
/// may take in whole, is measured exactly by [`crate::http::refuse_large_head`] and answered
/// with the contract's envelope.
pub const MAX_HEAD_BUFFER: usize = 2 * api::MAX_HEAD_BYTES;

/// Connections the kernel may complete before the node accepts them (capped by
/// `net.core.somaxconn`, 4096 by default). tokio's 1,024 overflows when thousands of clients
/// reconnect at once after a node restart: the overflow is dropped and retried by the client's
/// kernel seconds later.
const LISTEN_BACKLOG: u32 = 8192;

/// How long a graceful shutdown waits for requests in flight before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A listening socket on `addr` with [`LISTEN_BACKLOG`].
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accept errors that mean "this one connection failed", not "the listener is in trouble".
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (upgraded WebSockets are no longer HTTP connections and are not waited for). Each request
/// carries [`ConnectInfo`] with the peer's address.
///
/// HTTP/1.1 only: hyper-util's auto-detecting builder first reads the HTTP/2 preface with no
/// timeout at all, so a socket that never sends a byte would never be closed. Browsers and the
/// SDKs speak HTTP/1.1 to a node (HTTP/2 needs TLS, which a proxy in front terminates).
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(MAX_HEAD_BUFFER);
    // Told to finish up by `stop`; each connection holds a `done` receiver, so `done_tx.closed()`
    // resolves when the last one has ended.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors, most likely: back off instead of spinning, and keep
                    // serving the connections already open.
                    warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = socket.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let app = app.clone();
            async move {
                if let Some(refused) = crate::http::refuse_large_head(&req) {
                    return Ok::<_, Infallible>(refused);
                }
                Ok(app.oneshot(req.map(Body::new)).await.unwrap_or_else(|e| match e {}))
            }
        });
        let conn = builder.serve_connection(TokioIo::new(socket), service).with_upgrades();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                debug!(%peer, "http connection: {e}");
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = stop_tx.send(());
    if tokio::time::timeout(SHUTDOWN_GRACE, done_tx.closed()).await.is_err() {
        warn!("http: requests still in flight after {SHUTDOWN_GRACE:?}; dropping them");
    }
}
