//! `GET /.well-known/jwks.json`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/.well-known/jwks.json");

/// Token verification keys
///
/// The Ed25519 public keys that verify access tokens (`kid` in the token header), so nodes and
/// third parties verify tokens locally.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "auth",
    responses(
        (status = 200, description = "The JWKS.", body = Jwks),
        (status = 404, response = NoTokens),
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    Ok(Response::json(200, &accounts::jwks(call.env)?))
}

/// The public keys that verify access tokens (its schema; the signer builds the document).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its schema is used
pub(crate) struct Jwks {
    /// One per signing key in use.
    keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only its schema is used
pub(crate) struct Jwk {
    /// Always `OKP`.
    #[schema(examples("OKP"))]
    kty: String,
    /// Always `Ed25519`.
    #[schema(examples("Ed25519"))]
    crv: String,
    /// Always `EdDSA`.
    #[schema(examples("EdDSA"))]
    alg: String,
    /// Always `sig`.
    #[schema(rename = "use", examples("sig"))]
    key_use: String,
    /// Key id, matched against the `kid` of a token's header.
    kid: String,
    /// The public key, base64url without padding.
    x: String,
}
