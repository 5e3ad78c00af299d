//! QUIC transport: ALPN `parley/1`, TLS 1.3, one bidirectional stream opened by the client,
//! `{"type":"auth","token"}` first, every frame a 4-byte big-endian length then the JSON
//! (`parley_shared::framing`).
//!
//! Nodes without a configured certificate use a self-signed one and print its SHA-256; clients
//! pin that fingerprint ([`QuicTls::Sha256`]) or trust a CA ([`QuicTls::CaPem`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parley_shared::protocol::ClientFrame;
use parley_shared::protocol::framing::{FrameDecoder, encode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Incoming;
use crate::error::{Error, Result};

pub use parley_shared::protocol::ALPN;

/// How the node's QUIC certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuicTls {
    /// Nothing configured: QUIC connections are refused (the SDK never skips verification).
    Unset,
    /// Accept exactly the certificates whose DER has one of these SHA-256s (each node's
    /// `cert_sha256`; nodes with self-signed certificates each have their own).
    Sha256(Vec<[u8; 32]>),
    /// Trust these CA certificates (PEM), checking the server name as usual.
    CaPem(Vec<u8>),
}

impl QuicTls {
    /// From hex fingerprints separated by commas (`ab12...`, colons and case ignored).
    pub fn from_hex(list: &str) -> Result<QuicTls> {
        let pins = list.split(',').filter(|s| !s.trim().is_empty()).map(parse_pin).collect::<Result<Vec<_>>>()?;
        if pins.is_empty() {
            return Err(Error::Config("no certificate fingerprint given".into()));
        }
        Ok(QuicTls::Sha256(pins))
    }
}

fn parse_pin(hex: &str) -> Result<[u8; 32]> {
    let clean: String = hex.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect();
    if clean.len() != 64 {
        return Err(Error::Config(format!("a SHA-256 fingerprint is 64 hex digits, got {:?}", hex)));
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&clean[2 * i..2 * i + 2], 16)
            .map_err(|_| Error::Config(format!("not a hex fingerprint: {hex:?}")))?;
    }
    Ok(out)
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a certificate's DER, as pinned.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts only the certificate with the pinned fingerprint, and checks the handshake
/// signature with its key.
#[derive(Debug)]
struct PinnedCert {
    pins: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.pins.contains(&fingerprint(end_entity)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate SHA-256 {} is not one of the pinned fingerprints",
                to_hex(&fingerprint(end_entity)),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used by QUIC".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration for `tls`: TLS 1.3 only, ALPN `parley/1`.
pub fn rustls_config(tls: &QuicTls) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    let mut cfg = match tls {
        QuicTls::Unset => {
            return Err(Error::Config(
                "QUIC needs the node's certificate fingerprint (--quic-cert-sha256) or a CA (--quic-ca)".into(),
            ));
        }
        QuicTls::Sha256(pins) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCert { pins: pins.clone(), provider }))
            .with_no_client_auth(),
        QuicTls::CaPem(pem) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| Error::Config(format!("CA PEM: {e}")))?;
                roots.add(cert).map_err(|e| Error::Config(format!("CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(Error::Config("the CA PEM holds no certificate".into()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// Sending half of a QUIC connection.
pub(crate) struct QuicSink {
    send: quinn::SendStream,
    conn: quinn::Connection,
    endpoint: quinn::Endpoint,
}

/// How long a silent QUIC peer is given before the connection is declared dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(8);
/// Keep-alive pings on an idle connection (so the idle timeout only fires on a dead peer).
pub const KEEP_ALIVE: Duration = Duration::from_secs(2);

/// Connects to `addr` (`host:port`), opens the stream, sends `auth` and starts the reader.
pub(crate) async fn connect(
    addr: &str,
    token: &str,
    tls: &QuicTls,
) -> Result<(QuicSink, mpsc::Receiver<Result<Incoming>>, tokio::task::JoinHandle<()>)> {
    let host = addr.rsplit_once(':').map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']')).unwrap_or(addr);
    let remote: SocketAddr = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| Error::Transport(format!("resolving {addr}: {e}")))?
        .next()
        .ok_or_else(|| Error::Transport(format!("{addr} resolves to no address")))?;

    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(rustls_config(tls)?)
        .map_err(|e| Error::Config(format!("QUIC TLS: {e}")))?;
    let mut client_cfg = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into().expect("idle timeout fits")));
    client_cfg.transport_config(Arc::new(transport));

    let bind: SocketAddr = if remote.is_ipv6() { "[::]:0".parse().unwrap() } else { "0.0.0.0:0".parse().unwrap() };
    let mut endpoint = quinn::Endpoint::client(bind).map_err(|e| Error::Transport(format!("QUIC socket: {e}")))?;
    endpoint.set_default_client_config(client_cfg);
    let conn = endpoint
        .connect(remote, host)
        .map_err(|e| Error::Transport(format!("QUIC connect to {addr}: {e}")))?
        .await
        .map_err(|e| Error::Transport(format!("QUIC handshake with {addr}: {e}")))?;
    let (send, recv) = conn.open_bi().await.map_err(|e| Error::Transport(format!("QUIC stream to {addr}: {e}")))?;
    let mut sink = QuicSink { send, conn, endpoint };
    let auth = serde_json::to_vec(&ClientFrame::Auth { token: token.to_owned() })
        .map_err(|e| Error::Protocol(e.to_string()))?;
    self::send(&mut sink, &auth).await?;

    let (tx, rx) = mpsc::channel(1024);
    let reader = tokio::spawn(read_loop(recv, tx));
    Ok((sink, rx, reader))
}

async fn read_loop(mut recv: quinn::RecvStream, tx: mpsc::Sender<Result<Incoming>>) {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match recv.read(&mut buf).await {
            Ok(Some(n)) => decoder.push(&buf[..n]),
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(Error::Transport(format!("QUIC read: {e}")))).await;
                return;
            }
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if tx.send(Incoming::parse(&frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(Error::Transport(format!("QUIC framing: {e}")))).await;
                    return;
                }
            }
        }
    }
}

pub(crate) async fn send(sink: &mut QuicSink, json: &[u8]) -> Result<()> {
    let wire = encode(json).map_err(|e| Error::Protocol(e.to_string()))?;
    sink.send.write_all(&wire).await.map_err(|e| Error::Transport(format!("QUIC write: {e}")))
}

pub(crate) async fn close(sink: &mut QuicSink) {
    let _ = sink.send.finish();
    sink.conn.close(0u32.into(), b"bye");
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.endpoint.wait_idle()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_from_hex() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let QuicTls::Sha256(pins) = QuicTls::from_hex(hex).unwrap() else { panic!("not a pin") };
        let pin = pins[0];
        assert_eq!(to_hex(&pin), hex.to_lowercase());
        let colons: String =
            to_hex(&pin).as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":");
        assert_eq!(QuicTls::from_hex(&colons).unwrap(), QuicTls::Sha256(vec![pin]));
        let two = format!("{hex},{}", "11".repeat(32));
        assert!(matches!(QuicTls::from_hex(&two).unwrap(), QuicTls::Sha256(p) if p.len() == 2));
        assert!(QuicTls::from_hex("abc").is_err());
        assert!(QuicTls::from_hex(&"zz".repeat(32)).is_err());
        assert!(rustls_config(&QuicTls::Unset).is_err());
        let cfg = rustls_config(&QuicTls::Sha256(vec![pin])).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![ALPN.to_vec()]);
    }
}
