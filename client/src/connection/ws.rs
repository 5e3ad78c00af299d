//! WebSocket transport: `GET /v1/ws?token=...`, one JSON frame per text message.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Incoming;
use crate::error::{Error, Result};
use crate::rest::{error_from_response, percent_encode};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub(crate) type WsSink = SplitSink<Stream, Message>;

/// Connects and starts the reader task.
pub(crate) async fn connect(
    url: &str,
    token: &str,
) -> Result<(WsSink, mpsc::Receiver<Result<Incoming>>, tokio::task::JoinHandle<()>)> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}token={}", percent_encode(token));
    let (stream, _resp) = tokio_tungstenite::connect_async(full).await.map_err(|e| match e {
        tungstenite::Error::Http(resp) => {
            let status = resp.status().as_u16();
            let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            match error_from_response(status, &body) {
                Error::Unauthorized(m) => Error::Unauthorized(m),
                other => Error::Transport(format!("{url}: upgrade refused: {other}")),
            }
        }
        other => Error::Transport(format!("{url}: {other}")),
    })?;
    let (sink, stream) = stream.split();
    let (tx, rx) = mpsc::channel(1024);
    let reader = tokio::spawn(read_loop(stream, tx));
    Ok((sink, rx, reader))
}

async fn read_loop(mut stream: SplitStream<Stream>, tx: mpsc::Sender<Result<Incoming>>) {
    while let Some(msg) = stream.next().await {
        let item = match msg {
            Ok(Message::Text(t)) => Incoming::parse(t.as_bytes()),
            Ok(Message::Binary(b)) => Incoming::parse(&b),
            Ok(Message::Close(frame)) => {
                tracing::debug!(?frame, "websocket closed by the node");
                return;
            }
            Ok(_) => continue,
            Err(e) => Err(Error::Transport(format!("websocket: {e}"))),
        };
        let fatal = matches!(item, Err(Error::Transport(_)));
        if tx.send(item).await.is_err() || fatal {
            return;
        }
    }
}

pub(crate) async fn send(sink: &mut WsSink, json: Vec<u8>) -> Result<()> {
    let text = String::from_utf8(json).map_err(|e| Error::Protocol(e.to_string()))?;
    sink.send(Message::text(text)).await.map_err(|e| Error::Transport(format!("websocket send: {e}")))
}

pub(crate) async fn close(sink: &mut WsSink) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), sink.close()).await;
}
