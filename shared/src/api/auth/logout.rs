//! `POST /v1/auth/logout`.

use crate::api::prelude::*;
use crate::service::accounts;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/auth/logout");

/// Log out
///
/// Ends the caller's session: its refresh token dies and its realtime connections are closed
/// within seconds, on every node. Safe to repeat.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; no body."),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    accounts::logout(call.env, &me).await?;
    Ok(Response::empty(204))
}
