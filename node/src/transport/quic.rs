//! QUIC (quinn + rustls, TLS 1.3 only, ALPN `parley/1` only): the client opens one bidirectional
//! stream and sends `{"type":"auth","token":...}` first; both directions carry frames as a 4-byte
//! big-endian length and the JSON bytes ([`parley_shared::framing`]).
//!
//! Connection-level ends are QUIC application closes with a code mirroring the WebSocket close
//! codes ([`close_code`]), so clients of either transport handle them the same way.
//!
//! Mobile radios: the node allows [`MAX_IDLE_TIMEOUT`] of silence and never sends keep-alives
//! itself; clients send a keep-alive every [`CLIENT_KEEP_ALIVE`] (under the ~30 s a typical NAT
//! keeps a UDP mapping), so the radio sleeps between those small packets. Connection migration
//! stays on: a phone moving from Wi-Fi to cellular keeps its connection and its session.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::Stream;
use parley_shared::framing::{self, FrameDecoder};
use parley_shared::protocol::ServerFrame;
use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};

use crate::session::{self, AUTH_TIMEOUT, CloseKind, FrameSink, Inbound};
use crate::state::NodeState;

/// The one application protocol a QUIC connection may negotiate.
pub const ALPN: &[u8] = b"parley/1";
/// Longest silence before the node drops a connection. Negotiated: the smaller of this and
/// the client's value applies.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The keep-alive interval clients should use (documented; the node sends none of its own).
pub const CLIENT_KEEP_ALIVE: Duration = Duration::from_secs(25);
/// How long a closing connection waits for the peer to acknowledge its last frames (the
/// `error` frame before a close) before the CONNECTION_CLOSE discards anything unsent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// Validity of the self-signed certificate (WebTransport's `serverCertificateHashes` limit).
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);
/// Bytes read from the stream at once.
const READ_CHUNK: usize = 16 * 1024;

/// Application close codes (QUIC CONNECTION_CLOSE, frame type 0x1d), the WebSocket codes in hex.
pub mod code {
    /// Normal end (WebSocket 1000).
    pub const NORMAL: u32 = 0x1000;
    /// The node is shutting down: reconnect elsewhere (WebSocket 1001).
    pub const GOING_AWAY: u32 = 0x1001;
    /// Protocol violation: no `parley/1` ALPN, no stream in time (WebSocket 1002).
    pub const PROTOCOL: u32 = 0x1002;
    /// Bad or missing auth, revoked session (WebSocket 1008).
    pub const POLICY: u32 = 0x1008;
    /// A frame over 64 KiB (WebSocket 1009).
    pub const TOO_LARGE: u32 = 0x1009;
    /// The node is overloaded or the client fell behind: retry later (WebSocket 1013).
    pub const TRY_AGAIN_LATER: u32 = 0x1013;
}

/// The application close code for `kind`.
pub fn close_code(kind: CloseKind) -> u32 {
    match kind {
        CloseKind::Normal => code::NORMAL,
        CloseKind::GoingAway => code::GOING_AWAY,
        CloseKind::Policy => code::POLICY,
        CloseKind::TooLarge => code::TOO_LARGE,
        CloseKind::TryAgainLater => code::TRY_AGAIN_LATER,
    }
}

/// QUIC set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// `--tls-cert` without `--tls-key` or the reverse.
    #[error("--tls-cert and --tls-key go together (PARLEY_TLS_CERT / PARLEY_TLS_KEY)")]
    HalfTls,
    /// A PEM file could not be read or holds nothing usable.
    #[error("reading {path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Generating the self-signed certificate.
    #[error("generating the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate and key do not make a TLS 1.3 configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// quinn refused the TLS configuration.
    #[error("QUIC TLS configuration: {0}")]
    QuicTls(String),
    /// Binding the UDP socket.
    #[error("binding QUIC on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// The certificate chain and key QUIC presents.
pub struct Identity {
    /// Leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's key.
    pub key: PrivateKeyDer<'static>,
    /// Lower-case hex SHA-256 of the leaf certificate's DER, for pinning.
    pub cert_sha256: String,
    /// Whether it was generated at start.
    pub self_signed: bool,
}

impl Identity {
    /// PEM files given with `--tls-cert`/`--tls-key`; without either, a fresh self-signed
    /// certificate.
    pub fn load_or_generate(cert: Option<&Path>, key: Option<&Path>) -> Result<Identity, QuicError> {
        match (cert, key) {
            (Some(c), Some(k)) => Identity::from_pem_files(c, k),
            (None, None) => Identity::self_signed(),
            _ => Err(QuicError::HalfTls),
        }
    }

    /// A certificate chain and key from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, QuicError> {
        let pem_err = |p: &Path, m: String| QuicError::Pem { path: p.display().to_string(), message: m };
        let certs = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_err(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err(cert, e.to_string()))?;
        if certs.is_empty() {
            return Err(pem_err(cert, "no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
        let cert_sha256 = sha256_hex(&certs[0]);
        Ok(Identity { certs, key, cert_sha256, self_signed: false })
    }

    /// An ECDSA P-256 certificate for `localhost` and `127.0.0.1`, valid for 14 days from now.
    pub fn self_signed() -> Result<Identity, QuicError> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "parley-node self-signed");
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // A minute of slack for clocks a little behind; the whole span stays 14 days.
        let not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch.saturating_sub(Duration::from_secs(60));
        params.not_before = not_before;
        params.not_after = not_before + SELF_SIGNED_VALIDITY;
        let cert = params.self_signed(&key_pair)?;
        let der = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        Ok(Identity { cert_sha256: sha256_hex(&der), certs: vec![der], key, self_signed: true })
    }
}

/// Lower-case hex SHA-256 of `der`.
pub fn sha256_hex(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// The rustls + quinn server configuration: TLS 1.3 only, ALPN `parley/1` only, no 0-RTT (an
/// auth frame in early data could be replayed), one client-opened bidirectional stream,
/// migration on, the idle timeout above.
pub fn server_config(identity: &Identity) -> Result<quinn::ServerConfig, QuicError> {
    // Explicit provider: reqwest brings rustls' aws-lc-rs provider too, so there is no
    // unambiguous process-wide default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(identity.certs.clone(), identity.key.clone_key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| QuicError::QuicTls(e.to_string()))?;

    let mut transport = quinn::TransportConfig::default();
    transport
        .max_idle_timeout(Some(MAX_IDLE_TIMEOUT.try_into().expect("120 s fits a QUIC varint")))
        .keep_alive_interval(None)
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        // The protocol has no datagrams: refuse them rather than buffer them.
        .datagram_receive_buffer_size(None);
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(transport));
    server.migration(true);
    Ok(server)
}

/// Binds the UDP socket (port 0: any free port; ask the endpoint's `local_addr`).
pub fn bind(addr: std::net::SocketAddr, identity: &Identity) -> Result<Endpoint, QuicError> {
    let config = server_config(identity)?;
    Endpoint::server(config, addr).map_err(|source| QuicError::Bind { addr, source })
}

/// Accepts connections until the endpoint closes; refuses new ones once the node drains.
pub async fn accept_loop(state: Arc<NodeState>, endpoint: Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        if state.draining.load(Ordering::Acquire) {
            incoming.refuse();
            continue;
        }
        tokio::spawn(serve_connection(state.clone(), incoming));
    }
}

/// After the sessions were told `going_away`: waits (bounded) for them to close, then closes
/// the endpoint and waits (bounded) for the closes to be delivered.
pub async fn shutdown(endpoint: &Endpoint, bound: Duration) {
    let deadline = tokio::time::Instant::now() + bound;
    while endpoint.open_connections() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = endpoint.open_connections();
    if left > 0 {
        info!("closing {left} remaining QUIC connections");
    }
    endpoint.close(VarInt::from_u32(code::GOING_AWAY), b"node shutting down");
    if tokio::time::timeout_at(
        deadline.max(tokio::time::Instant::now() + Duration::from_millis(200)),
        endpoint.wait_idle(),
    )
    .await
    .is_err()
    {
        warn!("QUIC endpoint not idle in time; exiting anyway");
    }
}

async fn serve_connection(state: Arc<NodeState>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            // Includes a client offering only foreign ALPNs: rustls ends the handshake with
            // no_application_protocol.
            metrics::counter!("parley_quic_refused_total", "reason" => "handshake").increment(1);
            debug!(%remote, "QUIC handshake failed: {e}");
            return;
        }
    };
    let alpn = conn.handshake_data().and_then(|h| h.downcast::<HandshakeData>().ok()).and_then(|h| h.protocol);
    if alpn.as_deref() != Some(ALPN) {
        metrics::counter!("parley_quic_refused_total", "reason" => "alpn").increment(1);
        debug!(%remote, "QUIC connection without ALPN parley/1; closing");
        conn.close(VarInt::from_u32(code::PROTOCOL), b"ALPN parley/1 required");
        return;
    }
    let (send, recv) = match tokio::time::timeout(AUTH_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => {
            debug!(%remote, "QUIC connection ended before its stream: {e}");
            return;
        }
        Err(_) => {
            conn.close(VarInt::from_u32(code::PROTOCOL), b"no stream opened in time");
            return;
        }
    };
    let mut sink = QuicSink { send, conn: conn.clone() };
    let mut inbound = inbound(recv);
    let Some(claims) = session::await_auth(&state, &mut inbound, &mut sink).await else {
        return;
    };
    session::run(state, claims, "quic", inbound, sink).await;
}

/// The writing half: the connection's one stream, and the connection for closing.
pub struct QuicSink {
    send: SendStream,
    conn: Connection,
}

impl FrameSink for QuicSink {
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), ()> {
        let wire = match framing::encode(frame.to_json().as_bytes()) {
            Ok(w) => w,
            Err(e) => {
                warn!("not sending a frame: {e}");
                return Err(());
            }
        };
        self.send.write_all(&wire).await.map_err(|_| ())
    }

    async fn close(&mut self, kind: CloseKind, reason: &str) {
        // Let the peer receive what was written (the `error` frame before a close) first.
        if self.send.finish().is_ok() {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, self.send.stopped()).await;
        }
        let reason: String = reason.chars().take(100).collect();
        self.conn.close(VarInt::from_u32(close_code(kind)), reason.as_bytes());
    }
}

/// Frames from the stream: a [`FrameDecoder`] fed by reads. A length prefix over the limit
/// yields [`Inbound::TooLarge`] at once (the session closes this connection only).
fn inbound(recv: RecvStream) -> impl Stream<Item = Inbound> + Unpin + Send {
    struct Reader {
        recv: RecvStream,
        decoder: FrameDecoder,
        buf: Box<[u8]>,
    }
    let reader = Reader { recv, decoder: FrameDecoder::new(), buf: vec![0u8; READ_CHUNK].into_boxed_slice() };
    Box::pin(futures_util::stream::unfold(Some(reader), |state| async move {
        let mut r = state?;
        loop {
            match r.decoder.next_frame() {
                Ok(Some(frame)) => return Some((Inbound::Frame(frame), Some(r))),
                Ok(None) => {}
                Err(e) => {
                    debug!("QUIC framing: {e}");
                    return Some((Inbound::TooLarge, None));
                }
            }
            match r.recv.read(&mut r.buf).await {
                Ok(Some(n)) => r.decoder.push(&r.buf[..n]),
                // The client finished its stream or the connection ended.
                Ok(None) | Err(_) => return Some((Inbound::Closed, None)),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identity_makes_a_server_config() {
        let id = Identity::self_signed().expect("self-signed");
        assert!(id.self_signed);
        assert_eq!(id.cert_sha256.len(), 64);
        assert_eq!(id.cert_sha256, sha256_hex(&id.certs[0]));
        server_config(&id).expect("server config");
    }

    #[test]
    fn pem_files_round_trip_with_the_same_fingerprint() {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key_pair)
            .expect("cert");
        let dir = std::env::temp_dir().join(format!("parley-quic-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem()).expect("write cert");
        std::fs::write(&k, key_pair.serialize_pem()).expect("write key");
        let id = Identity::load_or_generate(Some(&c), Some(&k)).expect("load");
        assert!(!id.self_signed);
        assert_eq!(id.cert_sha256, sha256_hex(cert.der()));
        server_config(&id).expect("server config");
        assert!(matches!(Identity::load_or_generate(Some(&c), None), Err(QuicError::HalfTls)));
        assert!(matches!(Identity::load_or_generate(Some(&k), Some(&k)), Err(QuicError::Pem { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn close_codes_mirror_websocket() {
        assert_eq!(close_code(CloseKind::Normal), 0x1000);
        assert_eq!(close_code(CloseKind::GoingAway), 0x1001);
        assert_eq!(close_code(CloseKind::Policy), 0x1008);
        assert_eq!(close_code(CloseKind::TooLarge), 0x1009);
        assert_eq!(close_code(CloseKind::TryAgainLater), 0x1013);
    }
}
