//! Media rows: uploads, their completion, and where each medium was posted.

use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{MediaId, UserId};
use crate::model::Media;
use crate::rules::media::MediaUse;
use crate::time::Timestamp;

/// A media row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRow {
    /// The medium as readers see it.
    pub media: Media,
    /// Its uploader.
    pub owner: UserId,
    /// Its object's key in the bucket.
    pub object_key: String,
    /// Whether `complete` accepted it.
    pub ready: bool,
}

const COLS: &str = "id, owner_id, content_type, size, filename, object_key, ready, width, height, has_thumbnail";

fn row(r: &tokio_postgres::Row) -> MediaRow {
    let content_type: String = r.get(2);
    let image = crate::rules::media::is_image(&content_type);
    MediaRow {
        media: Media {
            id: MediaId(r.get(0)),
            size: r.get(3),
            filename: r.get(4),
            width: r.get(7),
            height: r.get(8),
            has_thumbnail: image.then(|| r.get(9)),
            content_type,
        },
        owner: UserId(r.get(1)),
        object_key: r.get(5),
        ready: r.get(6),
    }
}

/// Records an upload about to happen.
pub async fn insert<C: GenericClient>(c: &C, m: &MediaRow, at: Timestamp) -> Result<(), StoreError> {
    c.query_typed(
        "INSERT INTO media (id, owner_id, content_type, size, filename, object_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            (&m.media.id.0, Type::UUID),
            (&m.owner.0, Type::UUID),
            (&m.media.content_type, Type::TEXT),
            (&m.media.size, Type::INT8),
            (&m.media.filename, Type::TEXT),
            (&m.object_key, Type::TEXT),
            (&at.0, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(())
}

/// One medium.
pub async fn get<C: GenericClient>(c: &C, id: MediaId) -> Result<Option<MediaRow>, StoreError> {
    let rows = c.query_typed(&format!("SELECT {COLS} FROM media WHERE id = $1"), &[(&id.0, Type::UUID)]).await?;
    Ok(rows.first().map(row))
}

/// Several media, in no particular order (absent ids are left out).
pub async fn get_many<C: GenericClient>(c: &C, ids: &[MediaId]) -> Result<Vec<MediaRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    let rows =
        c.query_typed(&format!("SELECT {COLS} FROM media WHERE id = ANY($1)"), &[(&raw, Type::UUID_ARRAY)]).await?;
    Ok(rows.iter().map(row).collect())
}

/// Marks an upload usable, with an image's dimensions; returns it.
pub async fn mark_ready<C: GenericClient>(
    c: &C,
    id: MediaId,
    dims: Option<(i32, i32)>,
    at: Timestamp,
) -> Result<Option<MediaRow>, StoreError> {
    let (w, h) = (dims.map(|d| d.0), dims.map(|d| d.1));
    let rows = c
        .query_typed(
            &format!(
                "UPDATE media SET ready = true, width = $2, height = $3, completed_at = $4 WHERE id = $1 RETURNING {COLS}"
            ),
            &[(&id.0, Type::UUID), (&w, Type::INT4), (&h, Type::INT4), (&at.0, Type::TIMESTAMPTZ)],
        )
        .await?;
    Ok(rows.first().map(row))
}

/// Forgets an upload (its object is deleted by the caller).
pub async fn delete<C: GenericClient>(c: &C, id: MediaId) -> Result<(), StoreError> {
    c.query_typed("DELETE FROM media WHERE id = $1", &[(&id.0, Type::UUID)]).await?;
    Ok(())
}

/// What [`crate::rules::media::may_download`] needs: the row, and each place the medium was
/// posted in a conversation `reader` is a member of.
pub async fn facts<C: GenericClient>(
    c: &C,
    id: MediaId,
    reader: UserId,
) -> Result<Option<(MediaRow, Vec<MediaUse>)>, StoreError> {
    let Some(m) = get(c, id).await? else { return Ok(None) };
    let rows = c
        .query_typed(
            "SELECT mu.seq, m.joined_seq, g.conversation_id IS NOT NULL, coalesce(g.history_visible, true), \
                    g.dissolved_at IS NOT NULL \
             FROM media_uses mu \
             JOIN members m ON m.conversation_id = mu.conversation_id AND m.user_id = $2 \
             LEFT JOIN groups g ON g.conversation_id = mu.conversation_id \
             WHERE mu.media_id = $1",
            &[(&id.0, Type::UUID), (&reader.0, Type::UUID)],
        )
        .await?;
    let uses = rows
        .iter()
        .map(|r| MediaUse {
            seq: r.get(0),
            joined_seq: r.get(1),
            group: r.get(2),
            history_visible: r.get(3),
            dissolved: r.get(4),
        })
        .collect();
    Ok(Some((m, uses)))
}
