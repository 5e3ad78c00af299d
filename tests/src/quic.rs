//! A QUIC client speaking the realtime frames (ALPN `parley/1`, one bidirectional stream, 4-byte
//! big-endian length + JSON). It trusts exactly the certificate whose SHA-256 the node printed
//! on its listening line (a pinning `ServerCertVerifier`), as a mobile app would.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use parley_shared::protocol::framing::{self, FrameDecoder};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, Endpoint, RecvStream, SendStream};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::check;
use crate::ws::Synced;

pub use parley_shared::protocol::{ALPN, Close};
/// Default wait for one expected frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait for the handshake and the `ready` frame.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The node closed it with an application code.
    App {
        /// The application error code.
        code: u64,
        /// The close reason, as text.
        reason: String,
    },
    /// Anything else (transport error, timeout, local close), as text.
    Other(String),
}

impl Ended {
    fn from_error(e: &ConnectionError) -> Ended {
        match e {
            ConnectionError::ApplicationClosed(c) => {
                Ended::App { code: c.error_code.into_inner(), reason: String::from_utf8_lossy(&c.reason).into_owned() }
            }
            other => Ended::Other(other.to_string()),
        }
    }

    /// The application close code, if the node closed with one.
    pub fn app_code(&self) -> Option<u64> {
        match self {
            Ended::App { code, .. } => Some(*code),
            Ended::Other(_) => None,
        }
    }
}

/// What the connection produced.
#[derive(Debug, Clone)]
pub enum QuicIncoming {
    /// A frame received.
    Frame(Value),
    /// The connection ended.
    Closed(Ended),
}

/// Everything seen up to the end of a connection.
#[derive(Debug, Clone)]
pub struct QuicClosing {
    /// How the connection ended.
    pub ended: Ended,
    /// Frames received before the end (buffered ones included).
    pub frames: Vec<Value>,
}

/// Accepts exactly the certificate with this SHA-256; signatures are still checked.
#[derive(Debug)]
pub struct PinnedCert {
    sha256: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl PinnedCert {
    /// A verifier for the hex SHA-256 `sha256_hex` (64 digits), checking signatures with `provider`.
    pub fn new(sha256_hex: &str, provider: Arc<CryptoProvider>) -> Result<PinnedCert> {
        ensure!(sha256_hex.len() == 64, "a SHA-256 fingerprint is 64 hex digits, got {sha256_hex:?}");
        let sha256 = (0..32)
            .map(|i| u8::from_str_radix(&sha256_hex[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .with_context(|| format!("bad fingerprint {sha256_hex:?}"))?;
        Ok(PinnedCert { sha256, provider })
    }
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if Sha256::digest(end_entity.as_ref()).as_slice() == self.sha256.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("certificate does not match the pinned SHA-256".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used by QUIC".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A quinn client configuration pinning `cert_sha256` and offering `alpns`, with the keep-alive
/// a mobile client uses (25 s).
pub fn client_config(cert_sha256: &str, alpns: &[&[u8]]) -> Result<quinn::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedCert::new(cert_sha256, provider.clone())?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = alpns.iter().map(|a| a.to_vec()).collect();
    let mut cfg = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(25)));
    cfg.transport_config(Arc::new(transport));
    Ok(cfg)
}

/// Opens a QUIC connection (handshake only) from a fresh client endpoint.
pub async fn handshake(addr: SocketAddr, cert_sha256: &str, alpns: &[&[u8]]) -> Result<(Endpoint, quinn::Connection)> {
    handshake_with(addr, client_config(cert_sha256, alpns)?).await
}

/// [`handshake`] with a configuration of the caller's.
pub async fn handshake_with(addr: SocketAddr, cfg: quinn::ClientConfig) -> Result<(Endpoint, quinn::Connection)> {
    let mut endpoint = Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).context("client endpoint")?;
    endpoint.set_default_client_config(cfg);
    let connecting = endpoint.connect(addr, "localhost").context("starting the QUIC handshake")?;
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .with_context(|| format!("QUIC handshake with {addr} timed out"))?
        .with_context(|| format!("QUIC handshake with {addr}"))?;
    Ok((endpoint, conn))
}

/// A realtime connection over QUIC. Frames read while waiting for something else are buffered
/// in arrival order and handed out by later calls.
pub struct Quic {
    endpoint: Endpoint,
    conn: quinn::Connection,
    send: SendStream,
    recv: RecvStream,
    decoder: FrameDecoder,
    buf: VecDeque<Value>,
    /// The `ready` frame (null before auth).
    pub ready: Value,
    next_id: u64,
    closed: Option<Ended>,
    label: String,
}

impl Quic {
    /// Handshake, the stream, `auth`, then waits for `ready`.
    pub async fn connect(addr: SocketAddr, cert_sha256: &str, token: &str) -> Result<Quic> {
        let mut q = Quic::open(addr, cert_sha256).await?;
        q.send_json(&json!({"type": "auth", "token": token})).await?;
        let first = q.next_frame(CONNECT_TIMEOUT).await.context("waiting for the ready frame")?;
        ensure!(first["type"] == "ready", "{}: the first frame is not `ready`: {first}", q.label);
        for key in ["user_id", "session_id", "node_id"] {
            check::str_field(&first, key).context("ready frame")?;
        }
        q.label =
            format!("quic[{}@{}]", first["user_id"].as_str().unwrap_or("?"), first["node_id"].as_str().unwrap_or("?"));
        q.ready = first;
        Ok(q)
    }

    /// `connect`, then `sync` with cursor 0 for each of `conversations` (the replay is dropped).
    pub async fn connect_synced(addr: SocketAddr, cert_sha256: &str, token: &str, convs: &[&str]) -> Result<Quic> {
        let mut q = Quic::connect(addr, cert_sha256, token).await?;
        let cursors: Vec<(&str, i64)> = convs.iter().map(|c| (*c, 0)).collect();
        q.sync(&cursors).await?;
        Ok(q)
    }

    /// Like `connect`, granting the node at most `window` bytes of unread stream data (quinn's
    /// default is 1.25 MB): a client that stops reading stops the node's writes soon.
    pub async fn connect_with_window(addr: SocketAddr, cert_sha256: &str, token: &str, window: u32) -> Result<Quic> {
        let mut cfg = client_config(cert_sha256, &[ALPN])?;
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(Duration::from_secs(25))).stream_receive_window(window.into());
        cfg.transport_config(Arc::new(transport));
        let mut q = Quic::open_with(addr, cfg).await?;
        q.send_json(&json!({"type": "auth", "token": token})).await?;
        let first = q.next_frame(CONNECT_TIMEOUT).await.context("waiting for the ready frame")?;
        ensure!(first["type"] == "ready", "{}: the first frame is not `ready`: {first}", q.label);
        q.ready = first;
        Ok(q)
    }

    /// Handshake and the bidirectional stream, nothing sent yet (the stream reaches the node
    /// with the first bytes written).
    pub async fn open(addr: SocketAddr, cert_sha256: &str) -> Result<Quic> {
        Quic::open_with(addr, client_config(cert_sha256, &[ALPN])?).await
    }

    async fn open_with(addr: SocketAddr, cfg: quinn::ClientConfig) -> Result<Quic> {
        let (endpoint, conn) = handshake_with(addr, cfg).await?;
        let (send, recv) = conn.open_bi().await.context("opening the stream")?;
        Ok(Quic {
            endpoint,
            conn,
            send,
            recv,
            decoder: FrameDecoder::new(),
            buf: VecDeque::new(),
            ready: Value::Null,
            next_id: 0,
            closed: None,
            label: format!("quic[{addr}]"),
        })
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

    /// The quinn connection (for its stats or remote address).
    pub fn connection(&self) -> &quinn::Connection {
        &self.conn
    }

    /// Moves the client to a new local UDP port, as a phone changing networks does; the node
    /// sees the same connection arrive from a new address.
    pub fn rebind(&self) -> Result<SocketAddr> {
        let socket = std::net::UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = socket.local_addr()?;
        self.endpoint.rebind(socket).context("rebinding the client endpoint")?;
        Ok(addr)
    }

    /// A new request id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends one frame.
    pub async fn send_json(&mut self, frame: &Value) -> Result<()> {
        let wire = framing::encode(frame.to_string().as_bytes())?;
        self.send_raw(&wire).await
    }

    /// Writes bytes as they are (for malformed or oversized frames).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        tokio::time::timeout(FRAME_TIMEOUT, self.send.write_all(bytes))
            .await
            .with_context(|| format!("{}: write timed out", self.label))?
            .with_context(|| format!("{}: write failed", self.label))
    }

    /// Reads the next thing from the connection itself (not the buffer).
    pub async fn recv(&mut self, timeout: Duration) -> Result<QuicIncoming> {
        if let Some(e) = &self.closed {
            return Ok(QuicIncoming::Closed(e.clone()));
        }
        let deadline = Instant::now() + timeout;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if let Some(frame) = self.decoder.next_frame().with_context(|| format!("{}: node framing", self.label))? {
                let v: Value = serde_json::from_slice(&frame).with_context(|| {
                    format!("{}: the node sent a non-JSON frame: {}", self.label, String::from_utf8_lossy(&frame))
                })?;
                return Ok(QuicIncoming::Frame(v));
            }
            match tokio::time::timeout_at(deadline, self.recv.read(&mut chunk)).await {
                Err(_) => bail!("{}: nothing received within {timeout:?}{}", self.label, self.buffer_note()),
                Ok(Ok(Some(n))) => self.decoder.push(&chunk[..n]),
                Ok(Ok(None)) => {
                    // The node finished the stream; its CONNECTION_CLOSE says why.
                    let ended = match tokio::time::timeout(Duration::from_secs(5), self.conn.closed()).await {
                        Ok(e) => Ended::from_error(&e),
                        Err(_) => Ended::Other("stream finished but the connection stayed open".into()),
                    };
                    return Ok(self.mark_closed(ended));
                }
                Ok(Err(quinn::ReadError::ConnectionLost(e))) => return Ok(self.mark_closed(Ended::from_error(&e))),
                Ok(Err(e)) => return Ok(self.mark_closed(Ended::Other(e.to_string()))),
            }
        }
    }

    fn mark_closed(&mut self, ended: Ended) -> QuicIncoming {
        self.closed = Some(ended.clone());
        QuicIncoming::Closed(ended)
    }

    fn buffer_note(&self) -> String {
        if self.buf.is_empty() {
            return String::new();
        }
        let last: Vec<String> = self.buf.iter().rev().take(5).map(Value::to_string).collect();
        format!(" ({} frames buffered, last ones: {})", self.buf.len(), last.join(" | "))
    }

    /// The next frame (buffered first); an error if the connection ends or nothing comes.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<Value> {
        if let Some(v) = self.buf.pop_front() {
            return Ok(v);
        }
        match self.recv(timeout).await? {
            QuicIncoming::Frame(v) => Ok(v),
            QuicIncoming::Closed(e) => bail!("{}: connection closed ({e:?})", self.label),
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
            match self.recv(left).await.with_context(|| format!("{}: waiting for {what}", self.label))? {
                QuicIncoming::Frame(v) if pred(&v) => return Ok(v),
                QuicIncoming::Frame(v) => self.buf.push_back(v),
                QuicIncoming::Closed(e) => {
                    bail!("{}: connection closed ({e:?}) while waiting for {what}{}", self.label, self.buffer_note())
                }
            }
        }
    }

    /// Sends `frame` with a fresh `id` and waits for its `reply`/`pong`/`synced`.
    pub async fn request(&mut self, mut frame: Value) -> Result<Value> {
        let id = self.next_id();
        frame["id"] = json!(id);
        self.send_json(&frame).await?;
        self.wait_for(FRAME_TIMEOUT, &format!("the answer to request {id}"), |v| {
            v["id"] == json!(id) && matches!(v["type"].as_str(), Some("reply" | "pong" | "synced"))
        })
        .await
    }

    /// `ping` → `pong`.
    pub async fn ping(&mut self) -> Result<()> {
        let reply = self.request(json!({"type": "ping"})).await?;
        ensure!(reply["type"] == "pong", "{}: ping answered with {reply}", self.label);
        Ok(())
    }

    /// Sends `text` with a fresh client_msg_id; expects `ok:true` and returns the event.
    pub async fn send_message_ok(&mut self, conversation_id: &str, text: &str) -> Result<Value> {
        let reply = self
            .request(json!({
                "type": "send",
                "conversation_id": conversation_id,
                "client_msg_id": crate::cmid(),
                "text": text,
            }))
            .await?;
        crate::ws::reply_event(&reply).with_context(|| format!("{}: sending {text:?}", self.label))
    }

    /// `sync` with `cursors`; returns the event frames received before `synced`.
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
                    Ok(QuicIncoming::Frame(v)) => v,
                    Ok(QuicIncoming::Closed(e)) => break Err(anyhow!("{}: closed ({e:?}) during sync", self.label)),
                    Err(e) => break Err(e.context(format!("{}: waiting for synced {id}", self.label))),
                }
            };
            match frame["type"].as_str() {
                Some("synced") if frame["id"] == json!(id) => break Ok(frame),
                Some("event") => events.push(frame),
                _ => others.push(frame),
            }
        };
        for v in others.into_iter().rev() {
            self.buf.push_front(v);
        }
        let synced = result?;
        for f in &events {
            check::event_frame(f)?;
        }
        Ok(Synced { events, synced })
    }

    /// The next `n` event frames of `conversation_id`, in arrival order (each checked).
    pub async fn collect_events(&mut self, conversation_id: &str, n: usize, timeout: Duration) -> Result<Vec<Value>> {
        let (mut got, rest): (Vec<Value>, Vec<Value>) =
            self.buf.drain(..).partition(|v| v["type"] == "event" && v["conversation_id"] == conversation_id);
        self.buf = rest.into();
        let deadline = Instant::now() + timeout;
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Ok(QuicIncoming::Frame(v)) if v["type"] == "event" && v["conversation_id"] == conversation_id => {
                    got.push(v)
                }
                Ok(QuicIncoming::Frame(v)) => self.buf.push_back(v),
                Ok(QuicIncoming::Closed(e)) => {
                    bail!("{}: closed ({e:?}) after {} of {n} events", self.label, got.len())
                }
                Err(e) => return Err(e.context(format!("{}: got {} of {n} events", self.label, got.len()))),
            }
        }
        for v in got.split_off(n).into_iter().rev() {
            self.buf.push_front(v);
        }
        for f in &got {
            check::event_frame(f)?;
        }
        Ok(got)
    }

    /// Reads until the connection ends; returns how and every frame seen before.
    pub async fn wait_close(&mut self, timeout: Duration) -> Result<QuicClosing> {
        let mut frames: Vec<Value> = self.buf.drain(..).collect();
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Ok(QuicIncoming::Frame(v)) => frames.push(v),
                Ok(QuicIncoming::Closed(ended)) => return Ok(QuicClosing { ended, frames }),
                Err(e) => {
                    return Err(e.context(format!(
                        "{}: the connection was not closed within {timeout:?}; frames seen: {frames:?}",
                        self.label
                    )));
                }
            }
        }
    }

    /// Closes politely.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"bye");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}
