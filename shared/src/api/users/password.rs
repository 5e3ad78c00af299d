//! `POST /v1/users/me/password`.

use crate::api::prelude::*;
use crate::service::account;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/users/me/password");

/// Change the password
///
/// Needs the current password; every other session is signed out (their connections close on
/// every node), the calling one stays.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed; no body."),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: `current_password` is wrong.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: ChangePassword = call.body()?;
    account::change_password(call.env, &me, body).await?;
    Ok(Response::empty(204))
}
