//! `POST /v1/auth/login`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/auth/login");

/// Log in
///
/// Starts a new session. A wrong username and a wrong password get the same 401.
///
/// Attempts are limited, per account and address (5 at once, then one per 30 s), per account (20,
/// then 10 a minute) and per address (30, then 30 a minute), whether they succeed or not; past
/// that, 429 with `Retry-After`. A successful login forgives the account's failures, so a
/// guesser slows the account down by seconds at most, and never locks its owner out.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "A token pair for the new session.", body = AuthResponse),
        (status = 400, response = InvalidBody),
        (status = 401, description = "`unauthorized`: wrong username or password.", body = ErrorEnvelope),
        (status = 404, response = NoTokens),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let body: Login = call.body()?;
    Ok(Response::json(200, &accounts::login(call.env, body, call.req.client).await?))
}
