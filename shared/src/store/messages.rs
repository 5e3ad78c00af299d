//! A sent message's life: its facts, edits and recalls rewriting the stored row (the log keeps
//! the `edit` / `recall` events; the message row holds the current state, so history shows the
//! latest text and a recall really removes the content), reactions, and delete-for-me.

use std::collections::{HashMap, HashSet};

use tokio_postgres::GenericClient;

use super::events::message_facts;
use super::{StoreError, Type};
use crate::ids::{ConversationId, EventId, MediaId, Seq, UserId};
use crate::model::{Event, EventBody, ReactionCount};
use crate::rules::messages::MessageFacts;
use crate::time::Timestamp;

/// Message `id`'s facts (`None` for an unknown id or an event that is not a message).
pub async fn facts<C: GenericClient>(c: &C, id: EventId) -> Result<Option<MessageFacts>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT conversation_id, seq, sender_id, created_at, recalled_at IS NOT NULL FROM events \
             WHERE id = $1 AND kind = 'message'",
            &[(&id.0, Type::UUID)],
        )
        .await?;
    Ok(rows.first().map(|r| message_facts(r, 0)))
}

/// Rewrites message `id`'s text (and its search terms) after an edit at `at`.
pub async fn set_text<C: GenericClient>(c: &C, id: EventId, text: &str, at: Timestamp) -> Result<(), StoreError> {
    let patch = serde_json::json!({ "text": text, "edited_at": at });
    let search = crate::rules::search::tsvector(text);
    c.query_typed(
        "UPDATE events SET body = body || $2, edited_at = $3, search = $4::tsvector WHERE id = $1",
        &[(&id.0, Type::UUID), (&patch, Type::JSONB), (&at.0, Type::TIMESTAMPTZ), (&search, Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// Removes message `id`'s content for good (text, media, mentions, search entry, the text of its
/// edits, its reactions) and marks it recalled at `at`.
pub async fn scrub<C: GenericClient>(c: &C, id: EventId, at: Timestamp) -> Result<(), StoreError> {
    let patch = serde_json::json!({
        "text": null, "media_ids": [], "media": [], "mentions": [], "mention_all": false, "recalled_at": at,
    });
    futures_util::future::try_join4(
        c.query_typed(
            "UPDATE events SET body = body || $2, mentions = '{}', mention_all = false, recalled_at = $3, \
                    search = NULL WHERE id = $1",
            &[(&id.0, Type::UUID), (&patch, Type::JSONB), (&at.0, Type::TIMESTAMPTZ)],
        ),
        c.query_typed(
            "UPDATE events SET body = body || '{\"text\": null}'::jsonb WHERE target_id = $1 AND kind = 'edit'",
            &[(&id.0, Type::UUID)],
        ),
        c.query_typed("DELETE FROM reactions WHERE message_id = $1", &[(&id.0, Type::UUID)]),
        c.query_typed("DELETE FROM media_uses WHERE event_id = $1", &[(&id.0, Type::UUID)]),
    )
    .await?;
    Ok(())
}

/// Records `user`'s `emoji` on `message`; false when it was there already.
pub async fn add_reaction<C: GenericClient>(
    c: &C,
    message: EventId,
    user: UserId,
    emoji: &str,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING \
             RETURNING 1",
            &[(&message.0, Type::UUID), (&user.0, Type::UUID), (&emoji, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Removes `user`'s `emoji` from `message`; false when it was not there.
pub async fn remove_reaction<C: GenericClient>(
    c: &C,
    message: EventId,
    user: UserId,
    emoji: &str,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1",
            &[(&message.0, Type::UUID), (&user.0, Type::UUID), (&emoji, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Hides message `id` (seq `seq` of `conv`) from `user`; false when it was hidden already.
pub async fn hide<C: GenericClient>(
    c: &C,
    user: UserId,
    id: EventId,
    conv: ConversationId,
    seq: Seq,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "INSERT INTO hidden_events (user_id, event_id, conversation_id, seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING 1",
            &[(&user.0, Type::UUID), (&id.0, Type::UUID), (&conv.0, Type::UUID), (&seq, Type::INT8)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Of `events`, the ids `user` deleted for themselves.
async fn hidden_among<C: GenericClient>(c: &C, user: UserId, events: &[Event]) -> Result<HashSet<EventId>, StoreError> {
    let pairs: Vec<(UserId, EventId)> =
        events.iter().filter(|e| matches!(e.body, EventBody::Message(_))).map(|e| (user, e.id)).collect();
    Ok(hidden_pairs(c, &pairs).await?.into_iter().map(|(_, e)| e).collect())
}

/// Reactions on `events`' messages, counted per emoji, with whether `viewer` is among them.
async fn reactions_on<C: GenericClient>(
    c: &C,
    viewer: UserId,
    events: &[Event],
) -> Result<HashMap<EventId, Vec<ReactionCount>>, StoreError> {
    let ids: Vec<uuid::Uuid> =
        events.iter().filter(|e| matches!(e.body, EventBody::Message(_))).map(|e| e.id.0).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = c
        .query_typed(
            "SELECT message_id, emoji, count(*), bool_or(user_id = $2), min(created_at) FROM reactions \
             WHERE message_id = ANY($1) GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji",
            &[(&ids, Type::UUID_ARRAY), (&viewer.0, Type::UUID)],
        )
        .await?;
    let mut out: HashMap<EventId, Vec<ReactionCount>> = HashMap::new();
    for r in &rows {
        out.entry(EventId(r.get(0))).or_default().push(ReactionCount {
            emoji: r.get(1),
            count: r.get(2),
            me: r.get(3),
        });
    }
    Ok(out)
}

/// What `viewer` sees of `events`: messages they deleted for themselves lose their content
/// (`hidden`); with `with_reactions`, messages carry their reaction counts; images made
/// thumbnails since they were sent say so.
pub async fn as_seen_by<C: GenericClient>(
    c: &C,
    viewer: UserId,
    mut events: Vec<Event>,
    with_reactions: bool,
) -> Result<Vec<Event>, StoreError> {
    let awaiting = awaiting_thumbnails(&events);
    let reactions = async { if with_reactions { reactions_on(c, viewer, &events).await } else { Ok(HashMap::new()) } };
    let (hidden, reactions, thumbs) = futures_util::future::try_join3(
        hidden_among(c, viewer, &events),
        reactions,
        super::media::with_thumbnails(c, &awaiting),
    )
    .await?;
    let thumbs: HashSet<MediaId> = thumbs.into_iter().collect();
    present(&mut events, |id| hidden.contains(&id), &reactions, &thumbs);
    Ok(events)
}

/// [`as_seen_by`] (without reactions) for several viewers at once, with two statements
/// however many: a node answers the syncs of connections that open together in one batch.
pub async fn as_seen_by_many<C: GenericClient>(
    c: &C,
    mut views: Vec<(UserId, Vec<Event>)>,
) -> Result<Vec<(UserId, Vec<Event>)>, StoreError> {
    let mut awaiting: Vec<MediaId> = views.iter().flat_map(|(_, evs)| awaiting_thumbnails(evs)).collect();
    awaiting.sort_unstable_by_key(|m| m.0);
    awaiting.dedup();
    let pairs: Vec<(UserId, EventId)> = views
        .iter()
        .flat_map(|(u, evs)| evs.iter().filter(|e| matches!(e.body, EventBody::Message(_))).map(|e| (*u, e.id)))
        .collect();
    let (hidden, thumbs) =
        futures_util::future::try_join(hidden_pairs(c, &pairs), super::media::with_thumbnails(c, &awaiting)).await?;
    let thumbs: HashSet<MediaId> = thumbs.into_iter().collect();
    let none = HashMap::new();
    for (viewer, events) in &mut views {
        present(events, |id| hidden.contains(&(*viewer, id)), &none, &thumbs);
    }
    Ok(views)
}

/// Media of `events` whose thumbnails were still being made when they were sent.
fn awaiting_thumbnails(events: &[Event]) -> Vec<MediaId> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message(m) => Some(m.media.iter().filter(|x| x.has_thumbnail == Some(false)).map(|x| x.id)),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Of `(viewer, message)` pairs, those the viewer deleted for themselves.
async fn hidden_pairs<C: GenericClient>(
    c: &C,
    pairs: &[(UserId, EventId)],
) -> Result<HashSet<(UserId, EventId)>, StoreError> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let users: Vec<uuid::Uuid> = pairs.iter().map(|(u, _)| u.0).collect();
    let ids: Vec<uuid::Uuid> = pairs.iter().map(|(_, e)| e.0).collect();
    let rows = c
        .query_typed(
            "SELECT h.user_id, h.event_id FROM unnest($1::uuid[], $2::uuid[]) AS w(u, e) \
             JOIN hidden_events h ON h.user_id = w.u AND h.event_id = w.e",
            &[(&users, Type::UUID_ARRAY), (&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| (UserId(r.get(0)), EventId(r.get(1)))).collect())
}

/// Applies what a viewer sees to `events`: hidden messages emptied, reaction counts, finished
/// thumbnails.
fn present(
    events: &mut [Event],
    hidden: impl Fn(EventId) -> bool,
    reactions: &HashMap<EventId, Vec<ReactionCount>>,
    thumbs: &HashSet<MediaId>,
) {
    for e in events {
        if let EventBody::Message(m) = &mut e.body {
            if hidden(e.id) {
                m.draft.text = None;
                m.draft.media_ids.clear();
                m.media.clear();
                m.draft.mentions.clear();
                m.draft.mention_all = false;
                m.draft.reply_to = None;
                m.state.hidden = true;
                continue;
            }
            if let Some(r) = reactions.get(&e.id) {
                m.state.reactions = r.clone();
            }
            for x in m.media.iter_mut().filter(|x| thumbs.contains(&x.id)) {
                x.has_thumbnail = Some(true);
            }
        }
    }
}
