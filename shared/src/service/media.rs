//! Media use cases: announce an upload, complete it, and hand out a download URL. The bytes never
//! pass through here: clients PUT and GET them at the object store by presigned URL.

use std::time::Duration;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ErrorCode};
use crate::ids::MediaId;
use crate::model::{CreateMedia, Media, MediaUpload};
use crate::objects::{ObjectIo, ObjectsError, Presigner};
use crate::rules::media as rules;
use crate::store::media::{self as store, MediaRow};
use crate::time::Timestamp;

/// How many leading bytes of an image are read for its dimensions (JPEG's size marker may follow
/// tens of kilobytes of metadata).
const IMAGE_HEAD_BYTES: usize = 64 * 1024;

fn storage<E: Env>(env: &E) -> Result<(&Presigner, &E::Objects), ApiError> {
    env.objects().ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "media storage is not configured on this server"))
}

/// The store could not be reached or refused us: the client may retry later.
fn unavailable(e: ObjectsError) -> ApiError {
    ApiError { detail: Some(e.to_string()), ..ApiError::new(ErrorCode::Unavailable, "media storage is unavailable") }
}

/// `POST /v1/media`: records the upload and presigns its `PUT`.
pub async fn create<E: Env>(env: &E, me: &AccessClaims, body: CreateMedia) -> Result<MediaUpload, ApiError> {
    let content_type = rules::declared(&body.content_type, body.size, &body.filename, env.max_media_size())?;
    let (presign, _) = storage(env)?;
    let id = MediaId::new();
    let row = MediaRow {
        media: Media {
            id,
            content_type,
            size: body.size,
            filename: body.filename.trim().to_owned(),
            width: None,
            height: None,
            has_thumbnail: None,
        },
        owner: me.user_id,
        object_key: format!("media/{id}"),
        ready: false,
    };
    let now = Timestamp::now();
    store::insert(&*env.db().await?, &row, now).await?;
    let ttl = Duration::from_secs(rules::UPLOAD_URL_TTL_SECS);
    let signed = presign.put(&row.object_key, &row.media.content_type, row.media.size, ttl, now);
    Ok(MediaUpload {
        media_id: id,
        upload_url: signed.url,
        upload_headers: signed.headers,
        expires_at: Timestamp(now.0 + chrono::Duration::seconds(rules::UPLOAD_URL_TTL_SECS as i64)),
    })
}

/// `POST /v1/media/{id}/complete`: the object must be there with the declared size, and its
/// first bytes must be of the declared type; a mismatch deletes the object (the upload may be
/// retried while its URL lasts). Completing twice answers the same.
pub async fn complete<E: Env>(env: &E, me: &AccessClaims, id: MediaId) -> Result<Media, ApiError> {
    let conn = env.db().await?;
    let not_found = || ApiError::not_found("media not found");
    let row = store::get(&*conn, id).await?.filter(|m| m.owner == me.user_id).ok_or_else(not_found)?;
    if row.ready {
        return Ok(row.media);
    }
    let (_, io) = storage(env)?;
    let key = &row.object_key;
    let declared = row.media.size as u64;
    match io.size(key).await.map_err(unavailable)? {
        None => return Err(ApiError::conflict("media: nothing was uploaded yet; PUT the bytes to upload_url first")),
        Some(got) if got != declared => {
            io.delete(key).await.map_err(unavailable)?;
            return Err(ApiError::conflict(format!(
                "size: {got} bytes arrived but {declared} were declared; the object was deleted"
            )));
        }
        Some(_) => {}
    }
    let image = rules::is_image(&row.media.content_type);
    let head =
        io.first_bytes(key, if image { IMAGE_HEAD_BYTES } else { rules::SNIFF_BYTES }).await.map_err(unavailable)?;
    if !rules::sniff(&row.media.content_type, &head) {
        io.delete(key).await.map_err(unavailable)?;
        return Err(ApiError::invalid(format!(
            "content_type: the uploaded bytes are not {}; the object was deleted",
            row.media.content_type
        )));
    }
    let dims = if image {
        imagesize::blob_size(&head)
            .ok()
            .and_then(|s| Some((i32::try_from(s.width).ok()?, i32::try_from(s.height).ok()?)))
    } else {
        None
    };
    let done = store::mark_ready(&*conn, id, dims, Timestamp::now()).await?.ok_or_else(not_found)?;
    Ok(done.media)
}

/// Which bytes of a medium `GET /v1/media/{id}` is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// What was uploaded.
    Original,
    /// The thumbnail of an image.
    Thumb,
}

impl Variant {
    /// `?variant=`: absent or `original`, or `thumb`.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("original") => Ok(Self::Original),
            Some("thumb") => Ok(Self::Thumb),
            Some(other) => Err(ApiError::invalid(format!("variant: {other:?} is not original or thumb"))),
        }
    }
}

/// `GET /v1/media/{id}`: a short-lived download URL, for those the rules let read it.
pub async fn download<E: Env>(env: &E, me: &AccessClaims, id: MediaId, variant: Variant) -> Result<String, ApiError> {
    let not_found = || ApiError::not_found("media not found");
    let (row, uses) = store::facts(&*env.db().await?, id, me.user_id).await?.ok_or_else(not_found)?;
    if !row.ready || !rules::may_download(me.user_id, row.owner, &uses) {
        return Err(not_found());
    }
    if variant == Variant::Thumb && row.media.has_thumbnail != Some(true) {
        return Err(ApiError::not_found("this medium has no thumbnail"));
    }
    let (presign, _) = storage(env)?;
    let disposition = rules::content_disposition(&row.media.content_type, &row.media.filename);
    let ttl = Duration::from_secs(rules::DOWNLOAD_URL_TTL_SECS);
    Ok(presign.get(&row.object_key, &disposition, &row.media.content_type, ttl, Timestamp::now()))
}
