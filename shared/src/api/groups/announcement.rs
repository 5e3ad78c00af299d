//! `PUT /v1/groups/{id}/announcement`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Put, "/v1/groups/{id}/announcement");

/// Set the announcement
///
/// Owner and admins pin a text for every member (an empty text clears it): an `announcement` event.
#[cfg_attr(feature = "openapi", utoipa::path(
    put,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    request_body = SetAnnouncement,
    responses(
        (status = 200, description = "The group now.", body = Group),
        (status = 400, description = "`invalid_request`: a text over 2000 characters.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role may not, or the group was dissolved.", body = ErrorEnvelope),
        (status = 404, response = GroupNotFound),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    let body: SetAnnouncement = call.body()?;
    Ok(Response::json(200, &groups::announce(call.env, &me, id, body).await?))
}
