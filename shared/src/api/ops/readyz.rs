//! `GET /readyz`.

use crate::api::prelude::*;
use crate::service::users;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/readyz");

/// Readiness
///
/// 200 when the database answers.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "ops",
    responses(
        (status = 200, description = "The database answers.", body = Status, example = json!({"status": "ready"})),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    users::ready(call.env).await?;
    Ok(Response::json(200, &Status::new("ready")))
}
