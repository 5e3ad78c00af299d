//! `POST /v1/media/{id}/complete`.

use crate::api::prelude::*;
use crate::service::media;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/media/{id}/complete");

/// Complete an upload
///
/// Checks that the object is in the store with the declared size and that its first bytes are of
/// the declared type, then marks the medium usable (images get their width and height). A size or
/// type mismatch deletes the object; the upload may then be repeated while its URL lasts. Safe to
/// repeat once completed. Only the uploader may complete.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "media",
    security(("bearer" = [])),
    params(("id" = MediaId, Path, description = "The medium's id.")),
    responses(
        (status = 200, description = "The medium, usable.", body = Media),
        (status = 400, description = "`invalid_request`: the bytes are not of the declared `content_type`; the object was deleted.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such medium of the caller's.", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: nothing uploaded yet, or a size other than the declared one (then the object was deleted).", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: MediaId = call.id("id", "media")?;
    let me = call.caller().await?;
    Ok(Response::json(200, &media::complete(call.env, &me, id).await?))
}
