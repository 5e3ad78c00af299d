//! `POST /v1/groups`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups");

/// Create a group
///
/// A new group owned by the caller, with up to 500 first members (`member_ids`; unknown users and
/// users with a block between them and the caller are left out). Its log starts with
/// `group_created` and one `member_joined` per member; the members get an `added_to_group` notice.
/// The group's id is its conversation's id.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    request_body = CreateGroup,
    responses(
        (status = 201, description = "The group.", body = Group),
        (status = 400, description = "`invalid_request`: a name of 0 or over 64 characters, a description over 500, or over 500 `member_ids`.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: more first members than a group may have.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: CreateGroup = call.body()?;
    Ok(Response::json(201, &groups::create(call.env, &me, body).await?))
}
