//! `POST /v1/auth/login`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/auth/login");

/// Log in
///
/// Starts a new session. A wrong username and a wrong password get the same 401.
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
    Ok(Response::json(200, &accounts::login(call.env, body).await?))
}
