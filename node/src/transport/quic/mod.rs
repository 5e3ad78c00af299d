//! QUIC (quinn + rustls, TLS 1.3 only, ALPN `parley/1` only): the client opens one bidirectional
//! stream and sends `{"type":"auth","token":...}` first; both directions carry frames as a 4-byte
//! big-endian length and the JSON bytes ([`parley_shared::protocol::framing`]).
//!
//! Connection-level ends are QUIC application closes with [`Close::quic_code`], the WebSocket close
//! code in hex digits, so clients of either transport handle them the same way. The certificate
//! comes from [`cert`].
//!
//! Mobile radios: the node allows [`MAX_IDLE_TIMEOUT`] of silence and never sends keep-alives
//! itself; clients send a keep-alive every [`CLIENT_KEEP_ALIVE`] (under the ~30 s a typical NAT
//! keeps a UDP mapping), so the radio sleeps between those small packets. Connection migration
//! stays on: a phone moving from Wi-Fi to cellular keeps its connection and its session.

pub mod cert;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::Stream;
use parley_shared::auth::AccessClaims;
use parley_shared::protocol::framing::{self, FrameDecoder};
use parley_shared::protocol::{ALPN, Close, MAX_FRAME_BYTES};
use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use tracing::{debug, info, warn};

pub use cert::{CertError, Identity};

use crate::connection::{self, AUTH_TIMEOUT, Encoded, FrameSink, Inbound, SinkError};
use crate::state::NodeState;

/// Longest silence before the node drops a connection. Negotiated: the smaller of this and
/// the client's value applies.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The keep-alive interval clients should use (documented; the node sends none of its own).
pub const CLIENT_KEEP_ALIVE: Duration = Duration::from_secs(25);
/// How long a closing connection waits for the peer to acknowledge its last frames (the
/// `error` frame before a close) before the CONNECTION_CLOSE discards anything unsent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// Most bytes taken from the stream at once.
const READ_CHUNK: usize = 16 * 1024;

/// QUIC set-up failures.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// No certificate.
    #[error(transparent)]
    Cert(#[from] CertError),
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
        .datagram_receive_buffer_size(None)
        // quinn sizes a connection's send buffer for a whole segmentation-offload batch (up to
        // ten datagrams) the first time it sends one and keeps it for the connection's life:
        // 13-27 KiB per connection that once had a burst. Pushes are small; one sendmsg per
        // datagram costs less than that memory on every idle connection.
        .enable_segmentation_offload(false)
        // Chat frames fit 1,200-byte datagrams (media goes to object storage, not this
        // stream). Path MTU discovery would probe every connection and, once it found a larger
        // MTU, grow quinn's per-connection transmit buffer to twice the datagram size for good:
        // 1.2 KiB on each idle connection, and probe packets that wake a phone's radio.
        .mtu_discovery_config(None);
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

/// After the connections were told `going_away`: waits (bounded) for them to close, then closes
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
    endpoint.close(VarInt::from_u32(Close::GoingAway.quic_code()), b"node shutting down");
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
    // The handshake, the stream and the auth frame run boxed: this task's memory is the
    // largest state it can be in, and the connection spends its life in `run`, not in them.
    let Some((claims, inbound, sink)) = Box::pin(accept(&state, incoming)).await else { return };
    connection::run(state, claims, "quic", inbound, sink).await;
}

/// Completes the handshake, takes the client's stream and its `auth` frame; `None` when the
/// connection ended on the way.
async fn accept(
    state: &Arc<NodeState>,
    incoming: quinn::Incoming,
) -> Option<(AccessClaims, impl Stream<Item = Inbound> + Unpin + Send + use<>, QuicSink)> {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            // Includes a client offering only foreign ALPNs: rustls ends the handshake with
            // no_application_protocol.
            metrics::counter!("parley_quic_refused_total", "reason" => "handshake").increment(1);
            debug!(%remote, "QUIC handshake failed: {e}");
            return None;
        }
    };
    let alpn = conn.handshake_data().and_then(|h| h.downcast::<HandshakeData>().ok()).and_then(|h| h.protocol);
    if alpn.as_deref() != Some(ALPN) {
        metrics::counter!("parley_quic_refused_total", "reason" => "alpn").increment(1);
        debug!(%remote, "QUIC connection without ALPN parley/1; closing");
        conn.close(VarInt::from_u32(Close::Protocol.quic_code()), b"ALPN parley/1 required");
        return None;
    }
    let (send, recv) = match tokio::time::timeout(AUTH_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => {
            debug!(%remote, "QUIC connection ended before its stream: {e}");
            return None;
        }
        Err(_) => {
            conn.close(VarInt::from_u32(Close::Protocol.quic_code()), b"no stream opened in time");
            return None;
        }
    };
    let mut sink = QuicSink { send, conn: conn.clone() };
    let mut inbound = inbound(recv);
    let claims = connection::await_auth(state, &mut inbound, &mut sink).await?;
    Some((claims, inbound, sink))
}

/// The writing half: the connection's one stream, and the connection for closing.
pub struct QuicSink {
    send: SendStream,
    conn: Connection,
}

impl FrameSink for QuicSink {
    async fn feed(&mut self, frame: Encoded) -> Result<(), SinkError> {
        if frame.json_len() > MAX_FRAME_BYTES {
            let e = framing::FramingError::TooLarge(frame.json_len());
            warn!("not sending a frame: {e}");
            return Err(SinkError::Gone(e.to_string()));
        }
        // The shared bytes go into the stream as they are; quinn packs what was written before
        // its connection task runs into as few packets as fit.
        self.send.write_chunk(frame.framed()).await.map_err(|e| SinkError::Gone(e.to_string()))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn close(&mut self, reason: Close, text: &str) {
        // Let the peer receive what was written (the `error` frame before a close) first.
        if self.send.finish().is_ok() {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, self.send.stopped()).await;
        }
        let text: String = text.chars().take(100).collect();
        self.conn.close(VarInt::from_u32(reason.quic_code()), text.as_bytes());
    }
}

/// Frames from the stream: a [`FrameDecoder`] fed by reads. A length prefix over the limit
/// yields [`Inbound::TooLarge`] at once (the connection core closes this connection only).
fn inbound(recv: RecvStream) -> impl Stream<Item = Inbound> + Unpin + Send {
    struct Reader {
        recv: RecvStream,
        decoder: FrameDecoder,
    }
    // quinn hands out the chunks it holds (no read buffer of our own per connection).
    let reader = Reader { recv, decoder: FrameDecoder::new() };
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
            match r.recv.read_chunk(READ_CHUNK, true).await {
                Ok(Some(chunk)) => r.decoder.push(&chunk.bytes),
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
        server_config(&id).expect("server config");
    }
}
