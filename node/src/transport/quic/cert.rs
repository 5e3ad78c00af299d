//! The certificate QUIC presents: PEM files given by the operator, or a self-signed ECDSA P-256
//! certificate generated at start (valid 14 days, WebTransport's `serverCertificateHashes` limit)
//! whose SHA-256 clients pin.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// Validity of the self-signed certificate.
const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);

/// Why no certificate could be had.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
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
    pub fn load_or_generate(cert: Option<&Path>, key: Option<&Path>) -> Result<Identity, CertError> {
        match (cert, key) {
            (Some(c), Some(k)) => Identity::from_pem_files(c, k),
            (None, None) => Identity::self_signed(),
            _ => Err(CertError::HalfTls),
        }
    }

    /// A certificate chain and key from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, CertError> {
        let pem_err = |p: &Path, m: String| CertError::Pem { path: p.display().to_string(), message: m };
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
    pub fn self_signed() -> Result<Identity, CertError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identity_has_its_fingerprint() {
        let id = Identity::self_signed().expect("self-signed");
        assert!(id.self_signed);
        assert_eq!(id.cert_sha256.len(), 64);
        assert_eq!(id.cert_sha256, sha256_hex(&id.certs[0]));
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
        assert!(matches!(Identity::load_or_generate(Some(&c), None), Err(CertError::HalfTls)));
        assert!(matches!(Identity::load_or_generate(Some(&k), Some(&k)), Err(CertError::Pem { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
