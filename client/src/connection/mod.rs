//! One realtime connection to one node, over WebSocket or QUIC: authenticate, then send and
//! receive the protocol's frames. Reconnecting is [`crate::client`]'s business.

pub mod quic;
pub mod ws;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use parley_shared::error::ErrorCode;
use parley_shared::ids::{NodeId, SessionId, UserId};
use parley_shared::protocol::{ClientFrame, ConnectionCode, FrameErrorCode, ServerFrame};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
pub use quic::QuicTls;

/// Where a node's realtime socket is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `ws://host:port/v1/ws` or `wss://...`.
    Ws {
        /// The full URL without the token.
        url: String,
    },
    /// `quic://host:port`.
    Quic {
        /// `host:port`.
        addr: String,
    },
}

impl Endpoint {
    /// The WebSocket endpoint of a REST base URL: `http://h:p` → `ws://h:p/v1/ws`.
    pub fn ws_from_http(base: &str) -> Result<Endpoint> {
        let base = base.trim_end_matches('/');
        let rest = if let Some(r) = base.strip_prefix("http://") {
            format!("ws://{r}")
        } else if let Some(r) = base.strip_prefix("https://") {
            format!("wss://{r}")
        } else {
            return Err(Error::Config(format!("not an http(s) URL: {base}")));
        };
        Ok(Endpoint::Ws { url: format!("{rest}/v1/ws") })
    }

    /// `ws` or `quic`.
    pub fn transport(&self) -> Transport {
        match self {
            Endpoint::Ws { .. } => Transport::Ws,
            Endpoint::Quic { .. } => Transport::Quic,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Ws { url } => f.write_str(url),
            Endpoint::Quic { addr } => write!(f, "quic://{addr}"),
        }
    }
}

impl FromStr for Endpoint {
    type Err = Error;

    /// `ws://h:p[/path]` (path defaults to `/v1/ws`), `wss://...`, or `quic://h:p`.
    fn from_str(s: &str) -> Result<Endpoint> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("quic://") {
            let addr = rest.trim_end_matches('/');
            if addr.is_empty() || !addr.contains(':') {
                return Err(Error::Config(format!("QUIC endpoint needs host:port: {s}")));
            }
            return Ok(Endpoint::Quic { addr: addr.to_owned() });
        }
        for scheme in ["ws://", "wss://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                if rest.is_empty() {
                    return Err(Error::Config(format!("WebSocket endpoint has no host: {s}")));
                }
                let url = if rest.contains('/') && !rest.ends_with('/') {
                    s.to_owned()
                } else {
                    format!("{scheme}{}/v1/ws", rest.trim_end_matches('/'))
                };
                return Ok(Endpoint::Ws { url });
            }
        }
        Err(Error::Config(format!("endpoint must be ws://, wss:// or quic://: {s}")))
    }
}

/// Which transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket.
    Ws,
    /// QUIC.
    Quic,
}

impl FromStr for Transport {
    type Err = Error;
    fn from_str(s: &str) -> Result<Transport> {
        match s {
            "ws" | "websocket" => Ok(Transport::Ws),
            "quic" => Ok(Transport::Quic),
            _ => Err(Error::Config(format!("transport must be ws or quic, not {s}"))),
        }
    }
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Certificate checking for QUIC.
    pub quic_tls: QuicTls,
    /// Connecting and authenticating may take this long.
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { quic_tls: QuicTls::Unset, connect_timeout: Duration::from_secs(10) }
    }
}

pub use parley_shared::protocol::Ready;

/// A frame from the node.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// One the SDK knows.
    Frame(ServerFrame),
    /// A frame type newer than this SDK (the protocol may grow): its JSON text.
    Unknown(String),
}

impl Incoming {
    /// Parses a frame's JSON.
    pub fn parse(bytes: &[u8]) -> Result<Incoming> {
        match serde_json::from_slice::<ServerFrame>(bytes) {
            Ok(f) => Ok(Incoming::Frame(f)),
            Err(e) => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v) if v.get("type").is_some_and(serde_json::Value::is_string) => {
                    Ok(Incoming::Unknown(String::from_utf8_lossy(bytes).into_owned()))
                }
                _ => Err(Error::Protocol(format!("not a server frame ({e}): {}", String::from_utf8_lossy(bytes)))),
            },
        }
    }
}

enum Sink {
    Ws(ws::WsSink),
    Quic(quic::QuicSink),
}

/// An authenticated connection. Frames arrive through [`Connection::recv`] (read by a task, so
/// `recv` is cancel-safe); dropping the connection closes it.
pub struct Connection {
    /// What the node said after authentication.
    pub ready: Ready,
    /// Where it is connected.
    pub endpoint: Endpoint,
    sink: Sink,
    frames: mpsc::Receiver<Result<Incoming>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Connects to `endpoint`, authenticates with `token` and waits for `ready`.
    pub async fn open(endpoint: &Endpoint, token: &str, opts: &ConnectOptions) -> Result<Connection> {
        let fut = async {
            let (sink, frames, reader) = match endpoint {
                Endpoint::Ws { url } => {
                    let (s, f, r) = ws::connect(url, token).await?;
                    (Sink::Ws(s), f, r)
                }
                Endpoint::Quic { addr } => {
                    let (s, f, r) = quic::connect(addr, token, &opts.quic_tls).await?;
                    (Sink::Quic(s), f, r)
                }
            };
            let mut conn = Connection {
                ready: Ready {
                    user_id: UserId::default(),
                    session_id: SessionId::default(),
                    node_id: NodeId(String::new()),
                },
                endpoint: endpoint.clone(),
                sink,
                frames,
                reader,
            };
            conn.ready = conn.wait_ready().await?;
            Ok(conn)
        };
        tokio::time::timeout(opts.connect_timeout, fut)
            .await
            .map_err(|_| Error::Timeout(format!("connecting to {endpoint}")))?
    }

    async fn wait_ready(&mut self) -> Result<Ready> {
        loop {
            match self.recv().await {
                None => return Err(Error::Transport(format!("{} closed before `ready`", self.endpoint))),
                Some(Err(e)) => return Err(e),
                Some(Ok(Incoming::Frame(ServerFrame::Ready(ready)))) => {
                    return Ok(ready);
                }
                Some(Ok(Incoming::Frame(ServerFrame::Error { code, message }))) => {
                    return Err(match code {
                        FrameErrorCode::Contract(ErrorCode::Unauthorized)
                        | FrameErrorCode::Connection(ConnectionCode::SessionRevoked) => Error::Unauthorized(message),
                        _ => Error::Transport(format!("{}: {code:?}: {message}", self.endpoint)),
                    });
                }
                Some(Ok(other)) => tracing::debug!(?other, "frame before ready"),
            }
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let json = serde_json::to_vec(frame).map_err(|e| Error::Protocol(e.to_string()))?;
        match &mut self.sink {
            Sink::Ws(s) => ws::send(s, json).await,
            Sink::Quic(s) => quic::send(s, &json).await,
        }
    }

    /// The next frame; `None` once the connection is closed. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Incoming>> {
        self.frames.recv().await
    }

    /// Closes politely.
    pub async fn close(mut self) {
        match &mut self.sink {
            Sink::Ws(s) => ws::close(s).await,
            Sink::Quic(s) => quic::close(s).await,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            "ws://127.0.0.1:8080".parse::<Endpoint>().unwrap(),
            Endpoint::Ws { url: "ws://127.0.0.1:8080/v1/ws".into() }
        );
        assert_eq!(
            "wss://chat.example/v1/ws".parse::<Endpoint>().unwrap(),
            Endpoint::Ws { url: "wss://chat.example/v1/ws".into() }
        );
        assert_eq!(
            "quic://127.0.0.1:4433".parse::<Endpoint>().unwrap(),
            Endpoint::Quic { addr: "127.0.0.1:4433".into() }
        );
        assert!("quic://nohost".parse::<Endpoint>().is_err());
        assert!("http://x".parse::<Endpoint>().is_err());
        assert_eq!(
            Endpoint::ws_from_http("https://chat.example/").unwrap(),
            Endpoint::Ws { url: "wss://chat.example/v1/ws".into() }
        );
    }

    #[test]
    fn unknown_frame_types_are_tolerated() {
        assert!(matches!(Incoming::parse(br#"{"type":"pong","id":1}"#), Ok(Incoming::Frame(ServerFrame::Pong { .. }))));
        assert!(matches!(
            Incoming::parse(br#"{"type":"presence","user_id":"x","online":true}"#),
            Ok(Incoming::Unknown(_))
        ));
        assert!(Incoming::parse(b"nope").is_err());
    }
}
