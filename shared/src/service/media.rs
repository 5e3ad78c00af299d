//! Media use cases: announce an upload, complete it, and hand out a download URL. The bytes never
//! pass through here: clients PUT and GET them at the object store by presigned URL.

use std::time::Duration;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::{ApiError, ErrorCode};
use crate::ids::MediaId;
use crate::model::{CreateMedia, Media, MediaUpload, MediaUrl};
use crate::objects::{ObjectIo, ObjectsError, Presigner};
use crate::rules::limits::Costly;
use crate::rules::media as rules;
use crate::store::media::{self as store, MediaRow};
use crate::store::media_jobs;
use crate::store::tx::transact;
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
        thumb: None,
    };
    let now = Timestamp::now();
    let mut db = env.db().await?;
    super::limits::spend(env, &mut db, Costly::CreateMedia, me.user_id).await?;
    store::insert(&*db, &row, now).await?;
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
/// first bytes must be of the declared type (an image: readable dimensions within
/// `rules::media::MAX_IMAGE_PIXELS`); a mismatch deletes the object (the upload may be retried
/// while its URL lasts). An image's thumbnail job is queued in the same transaction that marks it
/// usable. Completing twice answers the same.
pub async fn complete<E: Env>(env: &E, me: &AccessClaims, id: MediaId) -> Result<Media, ApiError> {
    let mut conn = env.db().await?;
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
        let refuse = |e: ApiError| async move {
            io.delete(key).await.map_err(unavailable)?;
            Err::<(), _>(ApiError { message: format!("{}; the object was deleted", e.message), ..e })
        };
        match imagesize::blob_size(&head) {
            Ok(s) => {
                if let Err(e) = rules::image_dimensions(s.width as u64, s.height as u64) {
                    refuse(e).await?;
                }
                Some((s.width as i32, s.height as i32))
            }
            Err(_) => {
                refuse(ApiError::invalid(format!("content_type: not a readable {} image", row.media.content_type)))
                    .await?;
                None
            }
        }
    } else {
        None
    };
    let now = Timestamp::now();
    // Completion and the thumbnail's job commit together: no image is left without either.
    let done = transact!(conn, |tx| {
        let done = store::mark_ready(tx, id, dims, now).await?;
        if done.is_some() && image {
            media_jobs::enqueue(tx, id, now).await?;
        }
        Ok(done)
    })?;
    Ok(done.ok_or_else(not_found)?.media)
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
pub async fn download<E: Env>(env: &E, me: &AccessClaims, id: MediaId, variant: Variant) -> Result<MediaUrl, ApiError> {
    let not_found = || ApiError::not_found("media not found");
    let f = store::facts(&*env.db().await?, id, me.user_id).await?.ok_or_else(not_found)?;
    let row = f.row;
    if !row.ready || !rules::may_download(me.user_id, row.owner, f.avatar, &f.uses) {
        return Err(not_found());
    }
    let (key, content_type) = match (variant, &row.thumb) {
        (Variant::Original, _) => (&row.object_key, &row.media.content_type),
        (Variant::Thumb, Some((key, ty))) => (key, ty),
        (Variant::Thumb, None) => return Err(ApiError::not_found("this medium has no thumbnail (yet)")),
    };
    let (presign, _) = storage(env)?;
    let disposition = rules::content_disposition(content_type, &row.media.filename);
    let ttl = Duration::from_secs(rules::DOWNLOAD_URL_TTL_SECS);
    let now = Timestamp::now();
    Ok(MediaUrl {
        url: presign.get(key, &disposition, content_type, ttl, now),
        expires_at: Timestamp(now.0 + chrono::Duration::seconds(rules::DOWNLOAD_URL_TTL_SECS as i64)),
    })
}

/// One round of a cleanup sweep: up to `limit` media it finds are deleted, objects first, then
/// their rows, in one transaction (an object store that fails leaves the rows for the next
/// round; deleting an object twice is harmless). Returns how many went. Several nodes may sweep
/// at once: each takes rows the others have not locked.
pub async fn sweep(
    db: &mut tokio_postgres::Client,
    io: &impl ObjectIo,
    which: media_jobs::Sweep,
    limit: i64,
) -> Result<usize, ApiError> {
    let n = transact!(db, |tx| {
        let doomed = media_jobs::doomed(tx, which, limit).await?;
        for d in &doomed {
            for key in &d.keys {
                io.delete(key).await.map_err(|e| crate::store::StoreError::refused(unavailable(e)))?;
            }
        }
        let ids: Vec<MediaId> = doomed.iter().map(|d| d.id).collect();
        media_jobs::forget(tx, &ids).await?;
        Ok(ids.len())
    })?;
    Ok(n)
}
