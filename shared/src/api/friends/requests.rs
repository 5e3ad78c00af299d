//! `GET /v1/friends/requests`.

use crate::api::prelude::*;
use crate::service::social;

/// Query of `GET /v1/friends/requests`.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct RequestsQuery {
    /// `incoming` (sent to the caller; the default) or `outgoing` (sent by the caller).
    #[param(pattern = "^(incoming|outgoing)$")]
    direction: Option<String>,
}

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/friends/requests");

/// Pending friend requests
///
/// The caller's pending requests, `incoming` (default) or `outgoing`, oldest first.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(RequestsQuery, PageParams),
    responses(
        (status = 200, description = "One page.", body = FriendRequestPage),
        (
            status = 400,
            description = "`invalid_request`: `direction` not incoming or outgoing, `limit` out of range, or a \
                `cursor` not from this API.",
            body = ErrorEnvelope
        ),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    let page = social::pending(call.env, &me, q.get("direction"), q.get("cursor"), q.int("limit")?).await?;
    Ok(Response::json(200, &page))
}
