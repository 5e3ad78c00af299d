//! `POST /v1/auth/refresh`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/auth/refresh");

/// Refresh
///
/// Trades a refresh token for a new pair. Refresh tokens are single use: presenting one again
/// is a 401 and revokes its whole session.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "auth",
    request_body = Refresh,
    responses(
        (status = 200, description = "A new token pair for the same session.", body = AuthResponse),
        (status = 400, description = "`invalid_request`: malformed JSON or a missing field.", body = ErrorEnvelope),
        (
            status = 401,
            description = "`unauthorized`: invalid, expired or already used refresh token (a reused one revokes \
                the session).",
            body = ErrorEnvelope
        ),
        (status = 404, response = NoTokens),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let body: Refresh = call.body()?;
    Ok(Response::json(200, &accounts::refresh(call.env, body).await?))
}
