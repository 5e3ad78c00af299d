//! `DELETE /v1/groups/{id}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/groups/{id}");

/// Dissolve a group
///
/// The owner ends the group: a `group_dissolved` event, then its history stays readable for its
/// members and nothing more can be posted or changed (403). Safe to repeat.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    responses(
        (status = 204, description = "Dissolved; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: only the owner dissolves.", body = ErrorEnvelope),
        (status = 404, response = GroupNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    groups::dissolve(call.env, &me, id).await?;
    Ok(Response::empty(204))
}
