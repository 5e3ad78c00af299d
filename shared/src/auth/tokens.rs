//! Access tokens: short-lived Ed25519 JWTs signed by whoever serves REST (edge or node) and
//! verified locally by every node with the public JWKS, so no node ever calls back to the signer.
//!
//! `jwt-simple` signs and handles keys. Verification, on every connection and REST request,
//! reads the compact JWS itself and checks the signature with `ed25519-dalek`, which took 42 µs
//! per signature on the dev machine against 75 µs for `ed25519-compact` (`jwt-simple`'s): the
//! largest part of a connection's setup on the node (README, "Fan-out").

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use jwt_simple::prelude::{Claims, Ed25519KeyPair, Ed25519PublicKey, EdDSAKeyPairLike};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::{SessionId, UserId};

/// How long an access token lives. Revocation reaches sockets and REST within seconds (REST asks
/// the host's `Env::session_active`), so this bounds only what a stolen token is worth to one
/// who also keeps the session signed in.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Clock skew tolerated between signer and verifier.
const CLOCK_TOLERANCE: Duration = Duration::from_secs(30);

/// The only algorithm accepted: anything else (`none`, HS256 with the public key, ...) is refused.
const ALG: &str = "EdDSA";

/// Longer tokens are refused unread (ours are about 330 bytes).
const MAX_TOKEN_BYTES: usize = 4096;

/// What a verified access token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`: the auth session, so logout can close that session's sockets.
    pub session_id: SessionId,
}

#[derive(Clone, Serialize, Deserialize)]
struct CustomClaims {
    sid: SessionId,
}

/// The header fields verification reads.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// The claims verification reads (times in seconds since the epoch, as `jwt-simple` writes them).
#[derive(Deserialize)]
struct Payload {
    sub: Option<String>,
    sid: SessionId,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

/// Problems with key material (configuration errors, not client errors).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The signing key is not base64url of a 64-byte Ed25519 key pair.
    #[error("PARLEY_JWT_SIGNING_KEY is not a valid Ed25519 signing key: {0}")]
    BadSigningKey(String),
    /// The JWKS document cannot be used.
    #[error("invalid JWKS: {0}")]
    BadJwks(String),
}

/// Why a token was refused. All of them are a 401 to the client.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No token given.
    #[error("missing access token")]
    Missing,
    /// Not a JWT, wrong algorithm, unknown key, bad signature, expired.
    #[error("invalid or expired access token")]
    Invalid,
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::unauthorized(e.to_string())
    }
}

/// Signs access tokens with one Ed25519 key.
#[derive(Clone)]
pub struct Signer {
    key: Ed25519KeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_key(Ed25519KeyPair::generate())
    }

    /// Loads the `PARLEY_JWT_SIGNING_KEY` form: base64url (no padding) of seed ‖ public key.
    pub fn from_encoded(encoded: &str) -> Result<Self, KeyError> {
        let raw = URL_SAFE_NO_PAD.decode(encoded.trim()).map_err(|e| KeyError::BadSigningKey(e.to_string()))?;
        let key = Ed25519KeyPair::from_bytes(&raw).map_err(|e| KeyError::BadSigningKey(e.to_string()))?;
        Ok(Self::from_key(key))
    }

    fn from_key(key: Ed25519KeyPair) -> Self {
        // The kid is the RFC 7638 thumbprint: derived from the key, so one secret is all a
        // deployer handles and rotating keys never reuses a kid.
        let kid = key.public_key().jwk_thumbprint();
        let key = key.with_key_id(&kid);
        Self { key, kid }
    }

    /// The secret's text form (for `keygen`).
    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.to_bytes())
    }

    /// The key id put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document publishing this key's public half.
    pub fn jwks(&self) -> serde_json::Value {
        let jwk = self.key.public_key().with_key_id(&self.kid).to_jwk();
        let jwk: serde_json::Value = serde_json::from_str(&jwk).expect("jwt-simple emits JSON");
        serde_json::json!({ "keys": [jwk] })
    }

    /// A verifier for tokens of this signer.
    pub fn verifier(&self) -> Verifier {
        let mut keys = HashMap::new();
        keys.insert(self.kid.clone(), verifying_key(&self.key.public_key()).expect("a key pair's own public key"));
        Verifier { keys }
    }

    /// Signs an access token valid for [`ACCESS_TOKEN_TTL`].
    pub fn sign(&self, user_id: UserId, session_id: SessionId) -> String {
        let claims =
            Claims::with_custom_claims(CustomClaims { sid: session_id }, ACCESS_TOKEN_TTL.into()).with_subject(user_id);
        self.key.sign(claims).expect("Ed25519 signing does not fail")
    }
}

/// Verifies access tokens against a set of public keys (a JWKS), locally.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: HashMap<String, VerifyingKey>,
}

fn verifying_key(key: &Ed25519PublicKey) -> Result<VerifyingKey, KeyError> {
    let bytes: [u8; 32] =
        key.to_bytes().try_into().map_err(|_| KeyError::BadJwks("an Ed25519 key is 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::BadJwks(e.to_string()))
}

impl Verifier {
    /// From a JWKS document (`{"keys":[...]}`); only Ed25519 keys with a `kid` are kept.
    pub fn from_jwks(jwks: &str) -> Result<Self, KeyError> {
        let doc: serde_json::Value = serde_json::from_str(jwks).map_err(|e| KeyError::BadJwks(e.to_string()))?;
        let list =
            doc.get("keys").and_then(|k| k.as_array()).ok_or_else(|| KeyError::BadJwks("no `keys` array".into()))?;
        let mut keys = HashMap::new();
        for jwk in list {
            if jwk.get("crv").and_then(|c| c.as_str()) != Some("Ed25519") {
                continue;
            }
            let key = Ed25519PublicKey::from_jwk(&jwk.to_string()).map_err(|e| KeyError::BadJwks(e.to_string()))?;
            let kid =
                jwk.get("kid").and_then(|k| k.as_str()).map(str::to_owned).unwrap_or_else(|| key.jwk_thumbprint());
            keys.insert(kid, verifying_key(&key)?);
        }
        if keys.is_empty() {
            return Err(KeyError::BadJwks("no Ed25519 key".into()));
        }
        Ok(Self { keys })
    }

    /// Checks signature, algorithm, key id and expiry (with [`CLOCK_TOLERANCE`] for `exp`,
    /// `nbf` and `iat`; a token without `exp` is refused).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    fn verify_at(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let (header, payload) = signed.split_once('.').ok_or(TokenError::Invalid)?;
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(bad)?).map_err(bad)?;
        if header.alg != ALG {
            return Err(TokenError::Invalid);
        }
        let key = header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or(TokenError::Invalid)?;
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).map_err(bad)?).map_err(bad)?;
        key.verify_strict(signed.as_bytes(), &signature).map_err(bad)?;
        let claims: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(bad)?).map_err(bad)?;
        let tolerance = CLOCK_TOLERANCE.as_secs() as i64;
        let expired = claims.exp.is_none_or(|exp| now > exp.saturating_add(tolerance));
        let early = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(tolerance));
        if expired || early(claims.nbf) || early(claims.iat) {
            return Err(TokenError::Invalid);
        }
        let user_id = claims.sub.as_deref().and_then(|s| s.parse().ok()).ok_or(TokenError::Invalid)?;
        Ok(AccessClaims { user_id, session_id: claims.sid })
    }
}

/// Any decoding or signature failure: the client learns only that the token is no good.
fn bad<E>(_: E) -> TokenError {
    TokenError::Invalid
}

/// Extracts the token from an `Authorization: Bearer <token>` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, TokenError> {
    let h = header.ok_or(TokenError::Missing)?;
    let (scheme, token) = h.split_once(' ').ok_or(TokenError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Invalid);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let signer = Signer::generate();
        let again = Signer::from_encoded(&signer.encoded()).unwrap();
        assert_eq!(again.kid(), signer.kid());
        let verifier = Verifier::from_jwks(&signer.jwks().to_string()).unwrap();

        let (u, s) = (UserId::new(), SessionId::new());
        let t = signer.sign(u, s);
        assert_eq!(verifier.verify(&t).unwrap(), AccessClaims { user_id: u, session_id: s });

        // Signed by another key.
        let other = Signer::generate().sign(u, s);
        assert!(verifier.verify(&other).is_err());
        // alg: none with the same claims.
        let payload = t.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(verifier.verify(&format!("{none_header}.{payload}.")).is_err());
        // Tampered payload.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"0190a3c2-0000-7000-8000-000000000000"}"#);
        parts[1] = &forged;
        assert!(verifier.verify(&parts.join(".")).is_err());
        assert!(verifier.verify("garbage").is_err());
        assert!(verifier.verify(&format!("{t}.")).is_err(), "a fourth part");
        assert!(verifier.verify(&t[..t.len() - 2]).is_err(), "a cut signature");
        assert!(verifier.verify(&"a.".repeat(3000)).is_err(), "oversized");
    }

    #[test]
    fn expiry_and_times_within_the_tolerance() {
        let signer = Signer::generate();
        let verifier = signer.verifier();
        let (u, s) = (UserId::new(), SessionId::new());
        let t = signer.sign(u, s);
        let now = chrono::Utc::now().timestamp();
        let ttl = ACCESS_TOKEN_TTL.as_secs() as i64;
        let tol = CLOCK_TOLERANCE.as_secs() as i64;
        assert!(verifier.verify_at(&t, now + ttl + tol - 5).is_ok(), "within the tolerance after exp");
        assert!(verifier.verify_at(&t, now + ttl + tol + 5).is_err(), "expired");
        assert!(verifier.verify_at(&t, now - tol + 5).is_ok(), "iat slightly ahead of the verifier's clock");
        assert!(verifier.verify_at(&t, now - tol - 5).is_err(), "issued in the future");
        // Signed without exp: refused.
        let key = Ed25519KeyPair::generate().with_key_id("k");
        let mut keys = HashMap::new();
        keys.insert("k".to_owned(), verifying_key(&key.public_key()).unwrap());
        let v = Verifier { keys };
        let mut claims = Claims::with_custom_claims(CustomClaims { sid: s }, ACCESS_TOKEN_TTL.into()).with_subject(u);
        assert!(v.verify(&key.sign(claims.clone()).unwrap()).is_ok());
        claims.expires_at = None;
        assert!(v.verify(&key.sign(claims).unwrap()).is_err(), "no exp");
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), "abc");
        assert!(bearer(None).is_err());
        assert!(bearer(Some("Basic abc")).is_err());
    }
}
