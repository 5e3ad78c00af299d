//! `/v1/auth/*` and the JWKS.

pub mod jwks;
pub mod login;
pub mod logout;
pub mod refresh;
pub mod register;
