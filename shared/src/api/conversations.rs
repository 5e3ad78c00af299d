//! `/v1/conversations` (list, direct) and read receipts.

use serde::{Deserialize, Serialize};

use super::{Env, Query, Request, Response, authenticate, body, transact};
use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::ConversationPage;
use crate::rules;
use crate::store::conversations::{self, ListCursor};
use crate::store::notify::{self, Notice};

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectBody {
    user_id: UserId,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadBody {
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0))]
    seq: Seq,
}

/// Answer of `POST /v1/conversations/{id}/read`.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct ReadState {
    conversation_id: ConversationId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    read_seq: Seq,
}

/// `POST /v1/conversations/direct`: the pair's one direct conversation (201 when this call
/// created it, 200 after).
pub async fn direct<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let b: DirectBody = body(req)?;
    rules::may_open_direct(me.user_id, b.user_id)?;
    let mut db = env.db().await?;
    if !conversations::user_exists(&*db, b.user_id).await? {
        return Err(ApiError::not_found("user not found"));
    }
    let (conv, created) = transact!(db, |tx| {
        let (conv, created) = conversations::get_or_create_direct(tx, me.user_id, b.user_id).await?;
        if created {
            let notice =
                Notice::Members { conversation_id: conv.id, user_ids: conv.member_ids.clone(), seq: conv.last_seq };
            notify::send(tx, &notice).await?;
        }
        Ok((conv, created))
    })?;
    Ok(Response::json(if created { 201 } else { 200 }, &conv))
}

/// `GET /v1/conversations?cursor=&limit=`: most recent activity first.
pub async fn list<E: Env>(env: &E, req: &Request<'_>) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let q = Query::parse(req.query);
    let limit = rules::limit(q.int("limit")?)?;
    let cursor = match q.get("cursor") {
        Some(c) => Some(ListCursor::decode(c).ok_or_else(|| ApiError::invalid("cursor: not a cursor from this API"))?),
        None => None,
    };
    let db = env.db().await?;
    let (conversations, next) = conversations::list(&*db, me.user_id, cursor, limit).await?;
    Ok(Response::json(200, &ConversationPage { conversations, next_cursor: next.map(|c| c.encode()) }))
}

/// `POST /v1/conversations/{id}/read {seq}`: moves the caller's read position forward.
pub async fn read<E: Env>(env: &E, req: &Request<'_>, conv: ConversationId) -> Result<Response, ApiError> {
    let me = authenticate(env, req)?;
    let b: ReadBody = body(req)?;
    if b.seq < 0 {
        return Err(ApiError::invalid("seq: must be 0 or more"));
    }
    let mut db = env.db().await?;
    let read_seq = mark_read(&mut db, conv, me.user_id, b.seq).await?;
    Ok(Response::json(200, &ReadState { conversation_id: conv, read_seq }))
}

/// Moves a read position and announces it when it moved; shared by REST and the socket `read`
/// frame. 404 when `user` is not a member.
pub async fn mark_read(
    db: &mut tokio_postgres::Client,
    conv: ConversationId,
    user: UserId,
    seq: Seq,
) -> Result<Seq, ApiError> {
    let r = transact!(db, |tx| {
        let r = conversations::mark_read(tx, conv, user, seq).await?;
        if let Some((read_seq, true)) = r {
            notify::send(tx, &Notice::Read { conversation_id: conv, user_id: user, seq: read_seq }).await?;
        }
        Ok(r)
    })?;
    r.map(|(s, _)| s).ok_or_else(|| ApiError::not_found("conversation not found"))
}
