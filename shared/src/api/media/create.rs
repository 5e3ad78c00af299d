//! `POST /v1/media`.

use crate::api::prelude::*;
use crate::service::media;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/media");

/// Start an upload
///
/// Records a medium the caller is about to upload and answers a presigned `PUT` URL of the object
/// store, valid for 10 minutes, with the headers to send (the declared type and size are signed:
/// the store refuses other bytes). The bytes never pass through Parley. Then call
/// `POST /v1/media/{id}/complete`; only completed media can be attached to messages.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "media",
    security(("bearer" = [])),
    request_body = CreateMedia,
    responses(
        (status = 201, description = "Where to upload.", body = MediaUpload),
        (status = 400, description = "`invalid_request`: a type not allowed, a size under 1 byte, or a bad filename (the message names the field).", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 413, description = "`too_large`: `size` over the server's cap (25 MiB by default), or the body too large.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: CreateMedia = call.body()?;
    Ok(Response::json(201, &media::create(call.env, &me, body).await?))
}
