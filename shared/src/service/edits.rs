//! Changes to a sent message, each under the conversation's write lock (the lock a send takes)
//! and, for everyone's view, an event in the log: an edit (`edit`, the message row holds the
//! latest text), a recall (`recall`, the content removed from storage), and delete-for-me (no
//! event: only that user's view changes, on all their devices).

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{ConversationId, EventId};
use crate::model::{EditMessage, Event, EventBody};
use crate::rules;
use crate::store::events::{self, NewEvent};
use crate::store::notify::{self, Announcement};
use crate::store::tx::transact;
use crate::store::{StoreError, conversations, messages};
use crate::time::Timestamp;

fn refused(e: ApiError) -> StoreError {
    StoreError::refused(e)
}

/// Appends one event by `me` to a locked conversation.
async fn append_one<C: tokio_postgres::GenericClient>(
    c: &C,
    heads: &mut std::collections::BTreeMap<ConversationId, crate::ids::Seq>,
    conv: ConversationId,
    me: &AccessClaims,
    body: EventBody,
) -> Result<Event, StoreError> {
    let ev = events::append(c, heads, vec![NewEvent { conversation_id: conv, sender_id: me.user_id, body }]).await?;
    ev.into_iter().flatten().next().ok_or_else(|| refused(rules::conversations::not_found()))
}

/// `PATCH /v1/conversations/{id}/messages/{message_id}` and the `edit` frame: the sender
/// changes the text; answers the `edit` event.
pub async fn edit<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    message: EventId,
    b: EditMessage,
) -> Result<Event, ApiError> {
    let words = env.words().await?;
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let mut heads = events::lock_heads(tx, &[conv]).await?;
        let mine =
            rules::conversations::member(conversations::membership(tx, conv, me.user_id).await?).map_err(refused)?;
        let m = rules::messages::target(conv, &mine, messages::facts(tx, message).await?).map_err(refused)?;
        let text = rules::messages::edit(me.user_id, &mine, &m, &b.text, &words, Timestamp::now()).map_err(refused)?;
        let ev =
            append_one(tx, &mut heads, conv, me, EventBody::Edit { message_id: message, text: Some(text.clone()) })
                .await?;
        messages::set_text(tx, message, &text, ev.created_at).await?;
        Ok(ev)
    })?)
}

/// `POST /v1/conversations/{id}/messages/{message_id}/recall` and the `recall` frame: the
/// message's text, media, mentions, search entry, reactions and its edits' text are removed
/// from storage; answers the `recall` event.
pub async fn recall<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    message: EventId,
) -> Result<Event, ApiError> {
    let window = env.recall_window();
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let mut heads = events::lock_heads(tx, &[conv]).await?;
        let mine =
            rules::conversations::member(conversations::membership(tx, conv, me.user_id).await?).map_err(refused)?;
        let m = rules::messages::target(conv, &mine, messages::facts(tx, message).await?).map_err(refused)?;
        let sender = conversations::membership(tx, conv, m.sender_id).await?;
        rules::messages::recall(me.user_id, &mine, sender, &m, window, Timestamp::now()).map_err(refused)?;
        let ev = append_one(tx, &mut heads, conv, me, EventBody::Recall { message_id: message }).await?;
        messages::scrub(tx, message, ev.created_at).await?;
        Ok(ev)
    })?)
}

/// `DELETE /v1/conversations/{id}/messages/{message_id}`: hides a message from the caller's
/// history, sync, search and counts, on all their devices. Safe to repeat.
pub async fn hide<E: Env>(env: &E, me: &AccessClaims, conv: ConversationId, message: EventId) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let mine =
            rules::conversations::member(conversations::membership(tx, conv, me.user_id).await?).map_err(refused)?;
        let m = rules::messages::target(conv, &mine, messages::facts(tx, message).await?).map_err(refused)?;
        if messages::hide(tx, me.user_id, message, conv, m.seq).await? {
            let a =
                Announcement::Hidden { user_id: me.user_id, conversation_id: conv, message_id: message, seq: m.seq };
            notify::send(tx, &a).await?;
        }
        Ok(())
    })?)
}
