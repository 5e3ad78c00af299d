//! Media rows: uploads, their completion, and where each medium was posted.

use futures_util::TryFutureExt;
use tokio_postgres::GenericClient;

use super::statements::Query;
use super::{StoreError, Type};
use crate::ids::{MediaId, UserId};
use crate::model::{Event, EventBody, Media};
use crate::rules::media::{AttachFacts, MediaUse};
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
    /// Its thumbnail's object key and type, once made.
    pub thumb: Option<(String, String)>,
}

impl MediaRow {
    /// What decides attaching it, and its type.
    pub fn attach_facts(&self) -> (AttachFacts, &str) {
        (AttachFacts { owner: self.owner, ready: self.ready }, &self.media.content_type)
    }
}

pub(crate) const COLS: &str = "media.id, media.owner_id, media.content_type, media.size, media.filename, \
     media.object_key, media.ready, media.width, media.height, media.has_thumbnail, media.thumb_key, \
     media.thumb_content_type";
/// How many columns [`COLS`] has.
pub(crate) const COL_COUNT: usize = 12;

pub(crate) fn row(r: &tokio_postgres::Row) -> MediaRow {
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
        thumb: r.get::<_, Option<String>>(10).zip(r.get::<_, Option<String>>(11)),
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

/// Several media, locked against the sweeps until this transaction ends: what a send or a
/// profile change attaches. Absent ids (and media a sweep is deleting) are left out.
pub async fn lock_for_attach<C: Query>(c: &C, ids: &[MediaId]) -> Result<Vec<MediaRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    let rows = c
        .query_typed(&format!("SELECT {COLS} FROM media WHERE id = ANY($1) FOR SHARE"), &[(&raw, Type::UUID_ARRAY)])
        .await?;
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

/// Records where each medium of these just-appended messages was posted (one statement; none
/// without media).
pub async fn add_uses<C: Query>(c: &C, events: &[Option<Event>]) -> Result<(), StoreError> {
    let (mut media, mut evs, mut convs, mut seqs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in events.iter().flatten() {
        if let EventBody::Message(m) = &e.body {
            for id in &m.draft.media_ids {
                media.push(id.0);
                evs.push(e.id.0);
                convs.push(e.conversation_id.0);
                seqs.push(e.seq);
            }
        }
    }
    if media.is_empty() {
        return Ok(());
    }
    c.query_typed(
        "INSERT INTO media_uses (media_id, event_id, conversation_id, seq) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[])",
        &[(&media, Type::UUID_ARRAY), (&evs, Type::UUID_ARRAY), (&convs, Type::UUID_ARRAY), (&seqs, Type::INT8_ARRAY)],
    )
    .await?;
    Ok(())
}

/// Which of these images have their thumbnail by now (a message's `media` is written when it is
/// sent, perhaps before its thumbnail was made).
pub async fn with_thumbnails<C: GenericClient>(c: &C, ids: &[MediaId]) -> Result<Vec<MediaId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    let rows =
        c.query_typed("SELECT id FROM media WHERE id = ANY($1) AND has_thumbnail", &[(&raw, Type::UUID_ARRAY)]).await?;
    Ok(rows.iter().map(|r| MediaId(r.get(0))).collect())
}

/// What [`crate::rules::media::may_download`] needs: the row, whether it is someone's or some
/// group's avatar, and each place it was posted in a conversation `reader` is a member of.
pub async fn facts<C: GenericClient>(c: &C, id: MediaId, reader: UserId) -> Result<Option<DownloadFacts>, StoreError> {
    let (m, uses, avatar) = futures_util::future::try_join3(
        get(c, id),
        c.query_typed(
            "SELECT mu.seq, m.joined_seq, g.conversation_id IS NOT NULL, coalesce(g.history_visible, true), \
                    g.dissolved_at IS NOT NULL \
             FROM media_uses mu \
             JOIN members m ON m.conversation_id = mu.conversation_id AND m.user_id = $2 \
             LEFT JOIN groups g ON g.conversation_id = mu.conversation_id \
             WHERE mu.media_id = $1",
            &[(&id.0, Type::UUID), (&reader.0, Type::UUID)],
        )
        .map_err(StoreError::from),
        c.query_typed(
            "SELECT EXISTS (SELECT 1 FROM users WHERE avatar_media_id = $1) \
                    OR EXISTS (SELECT 1 FROM groups WHERE avatar_media_id = $1)",
            &[(&id.0, Type::UUID)],
        )
        .map_err(StoreError::from),
    )
    .await?;
    let Some(row) = m else { return Ok(None) };
    let uses = uses
        .iter()
        .map(|r| MediaUse {
            seq: r.get(0),
            joined_seq: r.get(1),
            group: r.get(2),
            history_visible: r.get(3),
            dissolved: r.get(4),
        })
        .collect();
    Ok(Some(DownloadFacts { row, uses, avatar: avatar[0].get(0) }))
}

/// See [`facts`].
#[derive(Clone, Debug)]
pub struct DownloadFacts {
    /// The medium.
    pub row: MediaRow,
    /// Where the reader can meet it.
    pub uses: Vec<MediaUse>,
    /// A user's or a group's avatar.
    pub avatar: bool,
}
