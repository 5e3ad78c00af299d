//! `DELETE /v1/users/me`.

use crate::api::prelude::*;
use crate::service::account;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/users/me");

/// Delete the caller's account
///
/// Erases the account's credentials and profile and frees its username; every session is signed
/// out (their connections close on every node) and friendships end. Messages stay in others'
/// history as from a deleted user. Needs the account's password.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    request_body = DeleteAccount,
    responses(
        (status = 204, description = "Deleted; no body."),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: `password` is wrong.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: DeleteAccount = call.body()?;
    account::delete(call.env, &me, body).await?;
    Ok(Response::empty(204))
}
