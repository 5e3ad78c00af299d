//! `parley-node ws-echo`: the WebSocket transport with an echo in place of the protocol, for the
//! Autobahn|Testsuite conformance run (`scripts/conformance`). The same HTTP loop, upgrade,
//! framing, buffers and limits as `/v1/ws`; no database, no tokens. Test-only: the subcommand is
//! hidden from `--help`.

use std::net::SocketAddr;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use parley_shared::protocol::MAX_FRAME_BYTES;
use tokio::net::TcpStream;

use super::ws::{Upgrade, socket};

/// Serves the echo on every path of `addr` until `shutdown` resolves; prints
/// `{"http":"ADDR"}` once listening.
pub async fn run(addr: SocketAddr, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let listener = crate::http_server::bind(addr)?;
    println!("{}", serde_json::json!({ "http": listener.local_addr()?.to_string() }));
    let app = Router::new().fallback(get(upgrade));
    crate::http_server::serve(listener, app, shutdown).await;
    Ok(())
}

async fn upgrade(upgrade: Upgrade) -> Response {
    upgrade.respond(echo)
}

/// Sends back each text and binary message as it came; the reader answers pings and the
/// closing handshake itself, and a framing error (bad UTF-8, a bad frame, one over the limit)
/// fails the socket as it would a client's.
async fn echo(stream: TcpStream, pre_read: Bytes) {
    let (mut reader, mut writer) = socket::split(stream, pre_read, MAX_FRAME_BYTES);
    while let Ok(m) = reader.next().await {
        if writer.feed(m.text, Bytes::from(m.payload)).await.is_err() || writer.flush().await.is_err() {
            break;
        }
    }
}
