//! `GET /v1/groups/{id}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/groups/{id}");

/// A group
///
/// The group's name, settings, announcement, member count and the caller's role.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    responses(
        (status = 200, description = "The group.", body = Group),
        (status = 401, response = Unauthorized),
        (status = 404, response = GroupNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    Ok(Response::json(200, &groups::get(call.env, &me, id).await?))
}
