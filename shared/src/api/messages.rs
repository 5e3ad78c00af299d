//! Sending messages and reading a conversation's log.

use serde::Deserialize;

use super::{Env, Query, Request, Response, authenticate, body, transact};
use crate::error::ApiError;
use crate::ids::{ClientMsgId, ConversationId, EventId, UserId};
use crate::model::{Event, EventPage, NewMessage};
use crate::rules;
use crate::store::events::{self, Page};
use crate::store::{StoreError, conversations};

/// The fields of a send, as REST bodies and socket `send` frames carry them.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// Idempotency key.
    pub client_msg_id: ClientMsgId,
    /// Text.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 8000))]
    pub text: Option<String>,
    /// Media.
    #[serde(default)]
    pub media_ids: Vec<uuid::Uuid>,
    /// Reply target.
    #[serde(default)]
    pub reply_to: Option<EventId>,
    /// Mentions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub mentions: Vec<UserId>,
}

/// Validates a send and turns it into a [`NewMessage`]; the same rules for REST and sockets.
pub fn validate_send(sender: UserId, conversation_id: ConversationId, b: SendBody) -> Result<NewMessage, ApiError> {
    rules::client_msg_id(&b.client_msg_id)?;
    rules::message_content(b.text.as_deref(), b.media_ids.len())?;
    let mentions = rules::mentions(&b.mentions)?;
    Ok(NewMessage {
        conversation_id,
        sender_id: sender,
        client_msg_id: b.client_msg_id,
        text: b.text,
        media_ids: b.media_ids,
        reply_to: b.reply_to,
        mentions,
    })
}

/// Appends `batch` in one transaction (retried on conflicts), one outcome per message.
pub async fn commit_batch(
    db: &mut tokio_postgres::Client,
    batch: &[NewMessage],
) -> Result<Vec<Result<Event, ApiError>>, ApiError> {
    Ok(transact!(db, |tx| {
        events::append_messages(tx, batch).await.map_err(|e| match e {
            // Another writer committed the same (sender, client_msg_id) first: the retry finds it.
            StoreError::Unique(c) if c == "events_sender_client_msg_key" => StoreError::Retry(c),
            e => e,
        })
    })?)
}

/// `POST /v1/conversations/{id}/messages`: 201 with the event, also for an idempotent retry.
pub async fn send<E: Env>(env: &E, req: &Request<'_>, conv: ConversationId) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let msg = validate_send(me.user_id, conv, body(req)?)?;
    let mut db = env.db().await?;
    let mut out = commit_batch(&mut db, std::slice::from_ref(&msg)).await?;
    let event = out.pop().expect("one outcome per message")?;
    Ok(Response::json(201, &event))
}

/// `GET /v1/conversations/{id}/events?after_seq=|before_seq=|cursor=&limit=`.
pub async fn events<E: Env>(env: &E, req: &Request<'_>, conv: ConversationId) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let q = Query::parse(req.query);
    let limit = rules::limit(q.int("limit")?)?;
    let page = match (q.get("cursor"), q.int("after_seq")?, q.int("before_seq")?) {
        (Some(c), _, _) => decode_cursor(c)?,
        (None, Some(_), Some(_)) => return Err(ApiError::invalid("after_seq, before_seq: give one, not both")),
        (None, Some(a), None) => Page::After(a),
        (None, None, Some(b)) => Page::Before(b),
        (None, None, None) => Page::After(0),
    };
    let db = env.db().await?;
    if !conversations::is_member(&*db, conv, me.user_id).await? {
        return Err(ApiError::not_found("conversation not found"));
    }
    let (events, more) = events::page(&*db, conv, page, limit).await?;
    let next_cursor = match (more, page) {
        (true, Page::After(_)) => events.last().map(|e| format!("a{}", e.seq)),
        (true, Page::Before(_)) => events.first().map(|e| format!("b{}", e.seq)),
        (false, _) => None,
    };
    Ok(Response::json(200, &EventPage { events, next_cursor }))
}

fn decode_cursor(c: &str) -> Result<Page, ApiError> {
    let bad = || ApiError::invalid("cursor: not a cursor from this API");
    let (dir, n) = c.split_at_checked(1).ok_or_else(bad)?;
    let n: i64 = n.parse().map_err(|_| bad())?;
    match dir {
        "a" => Ok(Page::After(n)),
        "b" => Ok(Page::Before(n)),
        _ => Err(bad()),
    }
}
