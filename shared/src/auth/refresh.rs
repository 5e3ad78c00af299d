//! Refresh tokens: 256 random bits shown to the client once; only their SHA-256 is stored, which
//! is enough for a value with that much entropy (no slow hash needed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How long a refresh token (and so an idle session) lives.
pub const REFRESH_TOKEN_TTL_DAYS: i64 = 30;

/// A new random refresh token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores for a token.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
