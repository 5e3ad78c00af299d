//! A WebSocket client speaking the realtime frames.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::check;

/// The client's WebSocket stream.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Default wait for one expected frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait for the upgrade and the `ready` frame.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the socket produced.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A text frame, parsed as JSON.
    Frame(Value),
    /// The socket ended: a close frame (with its code) or the connection dropped.
    Closed {
        /// The close code, `None` when there was none.
        code: Option<u16>,
        /// The close reason, or what ended the connection.
        reason: String,
    },
}

/// Outcome of an upgrade attempt.
pub enum Upgrade {
    /// The upgrade succeeded.
    Accepted(Box<Ws>),
    /// The HTTP response that refused the upgrade.
    Rejected {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
}

/// Everything seen up to the end of a socket.
#[derive(Debug, Clone)]
pub struct Closing {
    /// The close code, `None` when there was none.
    pub code: Option<u16>,
    /// The close reason, or what ended the connection.
    pub reason: String,
    /// Frames received before the end (buffered ones included).
    pub frames: Vec<Value>,
}

/// What `sync` returned.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The `event` frames received before `synced`, in arrival order.
    pub events: Vec<Value>,
    /// The `synced` frame.
    pub synced: Value,
}

impl Synced {
    /// The event frames of one conversation.
    pub fn of(&self, conversation_id: &str) -> Vec<Value> {
        self.events.iter().filter(|f| f["conversation_id"] == conversation_id).cloned().collect()
    }
}

/// A realtime connection. Frames read while waiting for something else are buffered in
/// arrival order and handed out by later calls.
pub struct Ws {
    stream: WsStream,
    buf: VecDeque<Value>,
    /// The `ready` frame.
    pub ready: Value,
    next_id: u64,
    closed: Option<(Option<u16>, String)>,
    label: String,
}

impl Ws {
    /// `GET <ws_url>?token=<token>`, then waits for `ready`.
    pub async fn connect(ws_url: &str, token: &str) -> Result<Ws> {
        match Ws::try_connect(ws_url, Some(token)).await? {
            Upgrade::Accepted(ws) => Ok(*ws),
            Upgrade::Rejected { status, body } => bail!("upgrade to {ws_url} refused with {status}: {body}"),
        }
    }

    /// Like `connect`, with the token in `Sec-WebSocket-Protocol: parley.v1, bearer.<token>`.
    pub async fn connect_with_protocol(ws_url: &str, token: &str) -> Result<Ws> {
        let mut req = ws_url.into_client_request().context("bad ws url")?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(&format!("parley.v1, bearer.{token}"))?);
        match upgrade(req, ws_url).await? {
            Upgrade::Accepted(ws) => Ok(*ws),
            Upgrade::Rejected { status, body } => bail!("upgrade to {ws_url} refused with {status}: {body}"),
        }
    }

    /// Like `connect`, over a socket whose receive buffer is `recv_buffer` bytes (set before the
    /// handshake, so the kernel neither grows it nor opens a wider window): a client that stops
    /// reading fills it soon.
    pub async fn connect_with_recv_buffer(ws_url: &str, token: &str, recv_buffer: u32) -> Result<Ws> {
        let url = format!("{ws_url}?token={token}");
        let req = url.as_str().into_client_request().context("bad ws url")?;
        let host = req.uri().host().context("no host in the ws url")?;
        let addr: std::net::SocketAddr = format!("{host}:{}", req.uri().port_u16().unwrap_or(80))
            .parse()
            .context("the ws url's host is not an IP address")?;
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_recv_buffer_size(recv_buffer)?;
        let tcp = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        match upgrade_on(req, ws_url, Some(tcp)).await? {
            Upgrade::Accepted(ws) => Ok(*ws),
            Upgrade::Rejected { status, body } => bail!("upgrade to {ws_url} refused with {status}: {body}"),
        }
    }

    /// `connect`, then `sync` with cursor 0 for each of `conversations` (whatever is replayed
    /// is dropped): afterwards only live events arrive.
    pub async fn connect_synced(ws_url: &str, token: &str, conversations: &[&str]) -> Result<Ws> {
        let mut ws = Ws::connect(ws_url, token).await?;
        let cursors: Vec<(&str, i64)> = conversations.iter().map(|c| (*c, 0)).collect();
        ws.sync(&cursors).await?;
        Ok(ws)
    }

    /// Attempts the upgrade; a refusal is an `Upgrade::Rejected`, not an error.
    pub async fn try_connect(ws_url: &str, token: Option<&str>) -> Result<Upgrade> {
        let url = match token {
            Some(t) => format!("{ws_url}?token={t}"),
            None => ws_url.to_owned(),
        };
        let req = url.as_str().into_client_request().context("bad ws url")?;
        upgrade(req, ws_url).await
    }

    fn from_stream(stream: WsStream, label: &str) -> Ws {
        Ws { stream, buf: VecDeque::new(), ready: Value::Null, next_id: 0, closed: None, label: label.to_owned() }
    }

    /// The `user_id` of the `ready` frame.
    pub fn user_id(&self) -> &str {
        self.ready["user_id"].as_str().unwrap_or_default()
    }

    /// The `session_id` of the `ready` frame.
    pub fn session_id(&self) -> &str {
        self.ready["session_id"].as_str().unwrap_or_default()
    }

    /// The `node_id` of the `ready` frame.
    pub fn node_id(&self) -> &str {
        self.ready["node_id"].as_str().unwrap_or_default()
    }

    /// A new request id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Frames read but not yet handed out.
    pub fn buffered(&self) -> &VecDeque<Value> {
        &self.buf
    }

    /// Whether the socket has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Sends one frame as JSON text.
    pub async fn send_json(&mut self, frame: &Value) -> Result<()> {
        self.send_text(frame.to_string()).await
    }

    /// Sends one text message as is.
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        tokio::time::timeout(FRAME_TIMEOUT, self.stream.send(Message::Text(text.into())))
            .await
            .with_context(|| format!("{}: send timed out", self.label))?
            .with_context(|| format!("{}: send failed", self.label))
    }

    /// Sends one binary message as is (for bytes that are not UTF-8).
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<()> {
        tokio::time::timeout(FRAME_TIMEOUT, self.stream.send(Message::Binary(bytes.into())))
            .await
            .with_context(|| format!("{}: send timed out", self.label))?
            .with_context(|| format!("{}: send failed", self.label))
    }

    /// Reads the next thing from the socket itself (not the buffer).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Incoming> {
        if let Some((code, reason)) = &self.closed {
            return Ok(Incoming::Closed { code: *code, reason: reason.clone() });
        }
        let deadline = Instant::now() + timeout;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => bail!("{}: nothing received within {timeout:?}{}", self.label, self.buffer_note()),
                Ok(None) => return Ok(self.mark_closed(None, "connection ended without a close frame".into())),
                Ok(Some(Err(e))) => return Ok(self.mark_closed(None, format!("connection error: {e}"))),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .with_context(|| format!("{}: the node sent a non-JSON text frame: {t}", self.label))?;
                    return Ok(Incoming::Frame(v));
                }
                Message::Binary(b) => bail!("{}: unexpected binary frame of {} bytes", self.label, b.len()),
                Message::Close(frame) => {
                    let (code, reason) = match frame {
                        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                        None => (None, "close frame without a code".into()),
                    };
                    return Ok(self.mark_closed(code, reason));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }

    fn mark_closed(&mut self, code: Option<u16>, reason: String) -> Incoming {
        self.closed = Some((code, reason.clone()));
        Incoming::Closed { code, reason }
    }

    fn buffer_note(&self) -> String {
        if self.buf.is_empty() {
            return String::new();
        }
        let last: Vec<String> = self.buf.iter().rev().take(5).map(Value::to_string).collect();
        format!(" ({} frames buffered, last ones: {})", self.buf.len(), last.join(" | "))
    }

    /// The next frame (buffered first); an error if the socket ends or nothing comes.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<Value> {
        if let Some(v) = self.buf.pop_front() {
            return Ok(v);
        }
        match self.recv(timeout).await? {
            Incoming::Frame(v) => Ok(v),
            Incoming::Closed { code, reason } => bail!("{}: socket closed ({code:?}: {reason})", self.label),
        }
    }

    /// The first frame matching `pred` (buffered first); other frames stay buffered.
    pub async fn wait_for(&mut self, timeout: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        if let Some(pos) = self.buf.iter().position(&pred) {
            return Ok(self.buf.remove(pos).expect("position is in range"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let incoming = self.recv(left).await.with_context(|| format!("{}: waiting for {what}", self.label))?;
            match incoming {
                Incoming::Frame(v) if pred(&v) => return Ok(v),
                Incoming::Frame(v) => self.buf.push_back(v),
                Incoming::Closed { code, reason } => bail!(
                    "{}: socket closed ({code:?}: {reason}) while waiting for {what}{}",
                    self.label,
                    self.buffer_note()
                ),
            }
        }
    }

    /// The `reply` / `pong` / `synced` frame with id `id`.
    pub async fn wait_reply(&mut self, id: u64, timeout: Duration) -> Result<Value> {
        self.wait_for(timeout, &format!("the answer to request {id}"), |v| {
            v["id"] == json!(id) && matches!(v["type"].as_str(), Some("reply" | "pong" | "synced"))
        })
        .await
    }

    /// Sends `frame` with a fresh `id` and waits for its answer.
    pub async fn request(&mut self, mut frame: Value) -> Result<Value> {
        let id = self.next_id();
        frame["id"] = json!(id);
        self.send_json(&frame).await?;
        self.wait_reply(id, FRAME_TIMEOUT).await
    }

    /// Sends a `send` frame without waiting; returns its request id.
    pub async fn start_send(&mut self, conversation_id: &str, client_msg_id: &str, text: &str) -> Result<u64> {
        let id = self.next_id();
        self.send_json(&json!({
            "type": "send",
            "id": id,
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id,
            "text": text,
        }))
        .await?;
        Ok(id)
    }

    /// Sends a message and returns the `reply` frame, whatever its outcome.
    pub async fn send_message(&mut self, conversation_id: &str, client_msg_id: &str, text: &str) -> Result<Value> {
        let id = self.start_send(conversation_id, client_msg_id, text).await?;
        self.wait_reply(id, FRAME_TIMEOUT).await
    }

    /// Sends `text` with a fresh client_msg_id; expects `ok:true` and returns the event.
    pub async fn send_message_ok(&mut self, conversation_id: &str, text: &str) -> Result<Value> {
        let cmid = crate::cmid();
        let reply = self.send_message(conversation_id, &cmid, text).await?;
        reply_event(&reply).with_context(|| format!("{}: sending {text:?}", self.label))
    }

    /// `ping` → `pong` with the same id.
    pub async fn ping(&mut self) -> Result<()> {
        let reply = self.request(json!({"type": "ping"})).await?;
        ensure!(reply["type"] == "pong", "{}: ping answered with {reply}", self.label);
        Ok(())
    }

    /// `sync` with `cursors`; returns the event frames received before `synced`. Other frames
    /// stay buffered.
    pub async fn sync(&mut self, cursors: &[(&str, i64)]) -> Result<Synced> {
        let id = self.next_id();
        let map: serde_json::Map<String, Value> = cursors.iter().map(|(c, s)| ((*c).to_owned(), json!(s))).collect();
        self.send_json(&json!({"type": "sync", "id": id, "cursors": map})).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut events = Vec::new();
        let mut others = Vec::new();
        let result = loop {
            let frame = if let Some(v) = self.buf.pop_front() {
                v
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.recv(left).await {
                    Ok(Incoming::Frame(v)) => v,
                    Ok(Incoming::Closed { code, reason }) => {
                        break Err(anyhow!("{}: socket closed ({code:?}: {reason}) during sync", self.label));
                    }
                    Err(e) => break Err(e.context(format!("{}: waiting for synced {id}", self.label))),
                }
            };
            match frame["type"].as_str() {
                Some("synced") if frame["id"] == json!(id) => break Ok(frame),
                Some("event") => events.push(frame),
                _ => others.push(frame),
            }
        };
        // Frames that were not part of the sync go back, ahead of anything newer.
        for v in others.into_iter().rev() {
            self.buf.push_front(v);
        }
        let synced = result?;
        for f in &events {
            check::event_frame(f)?;
        }
        Ok(Synced { events, synced })
    }

    /// Takes the buffered `event` frames of one conversation.
    pub fn take_buffered_events(&mut self, conversation_id: &str) -> Vec<Value> {
        let (mine, rest): (Vec<Value>, Vec<Value>) =
            self.buf.drain(..).partition(|v| v["type"] == "event" && v["conversation_id"] == conversation_id);
        self.buf = rest.into();
        mine
    }

    /// The next `n` event frames of `conversation_id`, in arrival order (each checked).
    pub async fn collect_events(&mut self, conversation_id: &str, n: usize, timeout: Duration) -> Result<Vec<Value>> {
        let mut got = self.take_buffered_events(conversation_id);
        let deadline = Instant::now() + timeout;
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let failure = match self.recv(left).await {
                Ok(Incoming::Frame(v)) if v["type"] == "event" && v["conversation_id"] == conversation_id => {
                    got.push(v);
                    continue;
                }
                Ok(Incoming::Frame(v)) => {
                    self.buf.push_back(v);
                    continue;
                }
                Ok(Incoming::Closed { code, reason }) => anyhow!("socket closed ({code:?}: {reason})"),
                Err(e) => e,
            };
            let seqs: Vec<Value> = got.iter().map(|f| f["seq"].clone()).collect();
            let note = self.buffer_note();
            // Nothing is lost: what arrived stays buffered for the next call.
            for v in got.into_iter().rev() {
                self.buf.push_front(v);
            }
            return Err(failure.context(format!(
                "{}: waiting for {n} events of {conversation_id}, got {} (seqs {seqs:?}){note}",
                self.label,
                seqs.len()
            )));
        }
        if got.len() > n {
            // Keep the extra ones for later, in order.
            for v in got.split_off(n).into_iter().rev() {
                self.buf.push_front(v);
            }
        }
        for f in &got {
            check::event_frame(f)?;
        }
        Ok(got)
    }

    /// Fails if an event of `conversation_id` arrives within `quiet`.
    pub async fn expect_no_event(&mut self, conversation_id: &str, quiet: Duration) -> Result<()> {
        let early = self.take_buffered_events(conversation_id);
        ensure!(early.is_empty(), "{}: unexpected events: {early:?}", self.label);
        self.expect_none(quiet, "an event", |v| v["type"] == "event" && v["conversation_id"] == conversation_id).await
    }

    /// Fails if a frame matching `pred` (`what`) is buffered or arrives within `quiet`; other
    /// frames stay buffered.
    pub async fn expect_none(&mut self, quiet: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Result<()> {
        if let Some(v) = self.buf.iter().find(|v| pred(v)) {
            bail!("{}: unexpected {what}: {v}", self.label);
        }
        let deadline = Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.recv(left).await {
                Err(_) if Instant::now() >= deadline => return Ok(()),
                Err(e) => return Err(e),
                Ok(Incoming::Frame(v)) if pred(&v) => bail!("{}: unexpected {what}: {v}", self.label),
                Ok(Incoming::Frame(v)) => self.buf.push_back(v),
                Ok(Incoming::Closed { code, reason }) => {
                    bail!("{}: socket closed ({code:?}: {reason}) while expecting silence", self.label)
                }
            }
        }
    }

    /// Reads until the socket ends; returns the close code and every frame seen before.
    pub async fn wait_close(&mut self, timeout: Duration) -> Result<Closing> {
        let mut frames: Vec<Value> = self.buf.drain(..).collect();
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Ok(Incoming::Frame(v)) => frames.push(v),
                Ok(Incoming::Closed { code, reason }) => return Ok(Closing { code, reason, frames }),
                Err(e) => {
                    return Err(e.context(format!(
                        "{}: the socket was not closed within {timeout:?}; frames seen: {frames:?}",
                        self.label
                    )));
                }
            }
        }
    }

    /// Closes politely (errors ignored).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.close(None)).await;
    }
}

/// The event of a successful `reply`.
pub fn reply_event(reply: &Value) -> Result<Value> {
    ensure!(reply["type"] == "reply" && reply["ok"] == true, "expected a successful reply, got {reply}");
    let ev = reply
        .get("event")
        .filter(|e| e.is_object())
        .cloned()
        .ok_or_else(|| anyhow!("successful send reply carries no event: {reply}"))?;
    check::message_event(&ev, check::Msg::default())?;
    Ok(ev)
}

/// The error code of a failed `reply` (checking its shape).
pub fn reply_error(reply: &Value) -> Result<String> {
    ensure!(reply["type"] == "reply" && reply["ok"] == false, "expected a failed reply, got {reply}");
    let err = reply.get("error").ok_or_else(|| anyhow!("failed reply carries no error: {reply}"))?;
    let message = check::str_field(err, "message")?;
    ensure!(!message.is_empty(), "empty error message: {reply}");
    Ok(check::str_field(err, "code")?.to_owned())
}

async fn upgrade(req: tungstenite::handshake::client::Request, label: &str) -> Result<Upgrade> {
    upgrade_on(req, label, None).await
}

/// The upgrade over `tcp` when given, else over a connection of its own.
async fn upgrade_on(
    req: tungstenite::handshake::client::Request,
    label: &str,
    tcp: Option<TcpStream>,
) -> Result<Upgrade> {
    let connecting = async move {
        match tcp {
            Some(tcp) => tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await,
            None => tokio_tungstenite::connect_async(req).await,
        }
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => bail!("{label}: the WebSocket upgrade timed out"),
        Ok(Err(tungstenite::Error::Http(resp))) => {
            let status = resp.status().as_u16();
            let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            return Ok(Upgrade::Rejected { status, body });
        }
        Ok(Err(e)) => return Err(anyhow!(e).context(format!("{label}: WebSocket upgrade failed"))),
        Ok(Ok((stream, _resp))) => stream,
    };
    let mut ws = Ws::from_stream(stream, label);
    let first = ws.next_frame(CONNECT_TIMEOUT).await.context("waiting for the ready frame")?;
    ensure!(first["type"] == "ready", "{label}: the first frame is not `ready`: {first}");
    for key in ["user_id", "session_id", "node_id"] {
        check::str_field(&first, key).context("ready frame")?;
    }
    ws.label =
        format!("ws[{}@{}]", &first["user_id"].as_str().unwrap_or("?"), first["node_id"].as_str().unwrap_or("?"));
    ws.ready = first;
    Ok(Upgrade::Accepted(Box::new(ws)))
}
