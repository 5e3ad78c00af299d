//! `DELETE /v1/sessions/{id}`.

use crate::api::prelude::*;
use crate::service::account;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/sessions/{id}");

/// Sign out a session
///
/// Revokes one of the caller's sessions (the current one too): its refresh token dies and its
/// realtime connections close on every node within seconds.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "account",
    security(("bearer" = [])),
    params(("id" = SessionId, Path, description = "The session's id.")),
    responses(
        (status = 204, description = "Signed out; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: not one of the caller's active sessions.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: SessionId = call.id("id", "session")?;
    let me = call.caller().await?;
    account::revoke_session(call.env, &me, id).await?;
    Ok(Response::empty(204))
}
