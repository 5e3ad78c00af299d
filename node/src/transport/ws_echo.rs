//! `parley-node ws-echo`: the WebSocket transport with an echo in place of the protocol, for the
//! Autobahn|Testsuite conformance run (`scripts/conformance`). The same HTTP loop, upgrade,
//! framing library, buffers and limits as `/v1/ws`; no database, no tokens. Test-only: the
//! subcommand is hidden from `--help`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;

/// Serves the echo on every path of `addr` until `shutdown` resolves; prints
/// `{"http":"ADDR"}` once listening.
pub async fn run(addr: SocketAddr, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let listener = crate::http_server::bind(addr)?;
    println!("{}", serde_json::json!({ "http": listener.local_addr()?.to_string() }));
    let app = Router::new().fallback(get(upgrade));
    crate::http_server::serve(listener, app, shutdown).await;
    Ok(())
}

async fn upgrade(upgrade: WebSocketUpgrade) -> Response {
    super::ws::sized(upgrade).on_upgrade(echo)
}

/// Sends back each text and binary message; tungstenite answers pings and the closing
/// handshake itself, and a protocol error (bad UTF-8, a bad frame, one over the limit) ends
/// the socket as it would a client's.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.next().await {
        let reply = match msg {
            Message::Text(_) | Message::Binary(_) => msg,
            // tungstenite queued its reply to a close; reading on sends it and then ends.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}
