//! Reactions: one per user per emoji per message, each change a `reaction` event in the log.

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{ConversationId, EventId};
use crate::model::{Event, EventBody};
use crate::rules;
use crate::store::events::{self, NewEvent};
use crate::store::tx::transact;
use crate::store::{StoreError, conversations, messages};

/// `PUT` (`added`) or `DELETE` `/v1/conversations/{id}/messages/{message_id}/reactions/{emoji}`
/// and the `react` frame: the `reaction` event, or `None` when nothing changed (it was there
/// already, or was not).
pub async fn react<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    message: EventId,
    emoji: &str,
    added: bool,
) -> Result<Option<Event>, ApiError> {
    let emoji = rules::messages::emoji(emoji)?.to_owned();
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let mut heads = events::lock_heads(tx, &[conv]).await?;
        let mine = rules::conversations::member(conversations::membership(tx, conv, me.user_id).await?)
            .map_err(StoreError::refused)?;
        let m =
            rules::messages::target(conv, &mine, messages::facts(tx, message).await?).map_err(StoreError::refused)?;
        rules::messages::react(&mine, &m).map_err(StoreError::refused)?;
        let changed = if added {
            messages::add_reaction(tx, message, me.user_id, &emoji).await?
        } else {
            messages::remove_reaction(tx, message, me.user_id, &emoji).await?
        };
        if !changed {
            return Ok(None);
        }
        let body = EventBody::Reaction { message_id: message, emoji: emoji.clone(), added };
        let ev = events::append(tx, &mut heads, vec![NewEvent { conversation_id: conv, sender_id: me.user_id, body }])
            .await?;
        Ok(ev.into_iter().flatten().next())
    })?)
}
