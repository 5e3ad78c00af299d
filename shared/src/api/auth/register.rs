//! `POST /v1/auth/register`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/auth/register");

/// Register
///
/// Creates an account and a first session. `username`: 3–32 of `[a-z0-9_.]`, case-insensitive
/// (stored lower-case), unique. `password`: 8–256 characters. `display_name` defaults to the
/// username.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "auth",
    request_body = Register,
    responses(
        (status = 201, description = "Account created; a token pair for its first session.", body = AuthResponse),
        (status = 400, response = InvalidBody),
        (status = 404, response = NoTokens),
        (status = 409, description = "`conflict`: the username is taken.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let body: Register = call.body()?;
    Ok(Response::json(201, &accounts::register(call.env, body, call.req.client).await?))
}
