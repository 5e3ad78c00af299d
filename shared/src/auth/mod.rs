//! Credentials: access tokens (Ed25519 JWTs), refresh tokens (random, stored hashed) and
//! passwords (argon2id).

pub mod passwords;
pub mod refresh;
pub mod tokens;

pub use passwords::{PasswordError, PasswordParams};
pub use tokens::{AccessClaims, KeyError, Signer, TokenError, Verifier};
