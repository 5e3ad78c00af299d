//! Direct conversations, the conversation list, read positions.

use tokio_postgres::Client;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::{
    ConversationPage, ConversationSettings, DirectConversation, OpenDirect, ReadReceipt, ReadState, UpdateSettings,
};
use crate::rules;
use crate::store::conversations::{self, ListCursor};
use crate::store::notify::{self, Announcement};
use crate::store::tx::transact;
use crate::store::{messages, social};

/// The pair's one direct conversation, and whether this call created it.
pub async fn open_direct<E: Env>(
    env: &E,
    me: &AccessClaims,
    b: OpenDirect,
) -> Result<(DirectConversation, bool), ApiError> {
    rules::conversations::may_open_direct(me.user_id, b.user_id)?;
    let mut db = env.db().await?;
    let facts = social::direct_facts(&*db, me.user_id, b.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user not found"))?;
    rules::social::may_message(&facts)?;
    Ok(transact!(db, |tx| {
        let (conv, created) = conversations::get_or_create_direct(tx, me.user_id, b.user_id).await?;
        if created {
            let notice = Announcement::Members {
                conversation_id: conv.id,
                user_ids: conv.member_ids.clone(),
                seq: conv.last_seq,
            };
            notify::send(tx, &notice).await?;
        }
        Ok((conv, created))
    })?)
}

/// The caller's conversations, most recent activity first, after the page cursor.
pub async fn list<E: Env>(
    env: &E,
    me: &AccessClaims,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<ConversationPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let cursor = match cursor {
        Some(c) => Some(ListCursor::decode(c).ok_or_else(|| ApiError::invalid("cursor: not a cursor from this API"))?),
        None => None,
    };
    let db = env.db().await?;
    let (mut conversations, next) = conversations::list(&*db, me.user_id, cursor, limit).await?;
    // The latest event as the caller sees it (a message they deleted shows as hidden).
    let latest: Vec<crate::model::Event> = conversations.iter().filter_map(|c| c.last_event.clone()).collect();
    let mut seen = messages::as_seen_by(&*db, me.user_id, latest, false).await?.into_iter();
    for c in conversations.iter_mut().filter(|c| c.last_event.is_some()) {
        c.last_event = seen.next();
    }
    Ok(ConversationPage { conversations, next_cursor: next.map(|c| c.encode()) })
}

/// `PATCH /v1/conversations/{id}/settings`: the caller's pin, mute and archive; 404 for
/// non-members.
pub async fn update_settings<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    b: UpdateSettings,
) -> Result<ConversationSettings, ApiError> {
    let db = env.db().await?;
    conversations::update_settings(&*db, conv, me.user_id, b.pinned, b.muted_until, b.archived)
        .await?
        .ok_or_else(rules::conversations::not_found)
}

/// Moves `user`'s read position forward to `seq` and announces it when it moved: the REST
/// `read` and the realtime `read` frame. 404 when `user` is not a member.
pub async fn mark_read(db: &mut Client, conv: ConversationId, user: UserId, seq: Seq) -> Result<ReadState, ApiError> {
    let seq = rules::conversations::read_seq(seq)?;
    let moved = transact!(db, |tx| {
        let r = conversations::mark_read(tx, conv, user, seq).await?;
        if let Some((read_seq, true)) = r {
            let receipt = ReadReceipt { conversation_id: conv, user_id: user, seq: read_seq };
            let all = conversations::receipts_to_all(tx, conv).await?;
            notify::send(tx, &Announcement::Read { receipt, all }).await?;
        }
        Ok(r)
    })?;
    rules::conversations::require_member(moved.is_some())?;
    Ok(ReadState { conversation_id: conv, read_seq: moved.map(|(s, _)| s).unwrap_or(0) })
}
