//! `GET /v1/media/{id}`.

use crate::api::prelude::*;
use crate::service::media::{self, Variant};

/// Query of `GET /v1/media/{id}`.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct DownloadQuery {
    /// `original` (the default) or `thumb`.
    #[param(pattern = "^(original|thumb)$")]
    variant: Option<String>,
    /// `true` (the default): answer 302 to the URL. `false`: answer 200 with the URL as JSON
    /// (`MediaUrl`), for browsers, whose `fetch` cannot read a redirect's `Location`.
    redirect: Option<bool>,
}

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/media/{id}");

/// Download a medium
///
/// Redirects (302) to a presigned download URL of the object store, valid for 5 minutes, served
/// with the uploader's filename (`Content-Disposition`: inline for images, audio, video and PDFs).
/// For the uploader, and for members of conversations where a message carrying it can be seen by
/// them (not recalled; from where their view starts; not in a dissolved group), and for anyone
/// signed in when it is a user's or a group's avatar; 404 for anyone else, exactly as for an id
/// that does not exist.
///
/// With `redirect=false` it answers 200 with that URL and when it expires as JSON instead, under
/// the same rules and with the same errors: a browser fetches it with the bearer token, then puts
/// the URL in an `<img src>` or a link, which need no token.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "media",
    security(("bearer" = [])),
    params(("id" = MediaId, Path, description = "The medium's id."), DownloadQuery),
    responses(
        (status = 200, description = "With `redirect=false`: the presigned GET URL (the one the 302 would point to).", body = MediaUrl),
        (status = 302, description = "To the bytes.", headers(("Location" = String, description = "A presigned GET URL."))),
        (status = 400, description = "`invalid_request`: an unknown `variant`, or a `redirect` other than `true` or `false`.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such medium the caller may read, not completed, or no thumbnail.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: MediaId = call.id("id", "media")?;
    let me = call.caller().await?;
    let q = call.query()?;
    let variant = Variant::parse(q.get("variant"))?;
    let redirect = q.bool("redirect")?.unwrap_or(true);
    let to = media::download(call.env, &me, id, variant).await?;
    Ok(if redirect { Response::redirect(to.url) } else { Response::json(200, &to) })
}
