//! Sending messages and reading a conversation's log.
//!
//! A send, whichever door it came through, is [`send_batch`]: each draft is validated alone
//! ([`rules::messages::prepare`]), the facts of the whole batch are fetched in one round trip,
//! [`rules::messages::check_send`] decides each message, and the accepted ones are appended in one
//! transaction with its NOTIFYs (the events themselves where they fit). REST sends (node and edge) are a batch of one; the node's group
//! commit batches its sockets' sends.

use std::sync::Arc;

use tokio_postgres::Client;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::{Event, EventPage, MessageDraft, NewMessage, SendMessage};
use crate::rules;
use crate::rules::limits::UserRate;
use crate::rules::words::WordFilter;
use crate::store;
use crate::store::events::{self, Page};
use crate::store::pipeline::Recorder;
use crate::store::statements::{Prepared, Query, Statements};
use crate::store::tx::{BEGIN_KEY_LOOKUPS, transact, transact_pipelined};
use crate::store::{StoreError, conversations, moderation};
use crate::time::Timestamp;

/// One send as it arrives: who, where, what.
#[derive(Clone, Debug)]
pub struct SendRequest {
    /// The authenticated sender.
    pub sender: UserId,
    /// The target conversation.
    pub conversation_id: ConversationId,
    /// What they wrote.
    pub draft: MessageDraft,
}

/// What a host applies to every send: the sensitive-word list and the per-user rate.
#[derive(Clone, Debug, Default)]
pub struct SendPolicy {
    /// Words to mask or refuse.
    pub words: Arc<WordFilter>,
    /// Sends per second per user, across all their connections and REST.
    pub per_user: UserRate,
}

/// Sends a batch in one transaction (retried on conflicts), one outcome per request, in order.
/// Idempotent on `(sender, client_msg_id)`: a retry gets the stored event again, and two copies
/// in one batch share the first one's outcome. Refused sends write nothing (a send over the
/// user's rate is refused with 429 and never acknowledged). `Err` only when the transaction
/// itself failed: then nothing of the batch was stored.
///
/// With `statements` (a commit worker's connection, which nothing else uses) the statements are
/// prepared once per connection, planned for key lookups only, and the batch takes two round
/// trips: the BEGIN with the reads, then the writes with the COMMIT
/// ([`transact_pipelined!`](crate::store::tx::transact_pipelined), [`Recorder`]).
pub async fn send_batch(
    db: &mut Client,
    statements: Option<&Statements>,
    policy: &SendPolicy,
    batch: Vec<SendRequest>,
) -> Result<Vec<Result<Event, ApiError>>, ApiError> {
    let mut out: Vec<Option<Result<Event, ApiError>>> = Vec::with_capacity(batch.len());
    let mut prepared: Vec<(usize, NewMessage)> = Vec::with_capacity(batch.len());
    for (i, r) in batch.into_iter().enumerate() {
        match rules::messages::prepare(r.sender, r.conversation_id, r.draft, &policy.words) {
            Ok(m) => {
                prepared.push((i, m));
                out.push(None);
            }
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let msgs: Vec<NewMessage> = prepared.iter().map(|(_, m)| m.clone()).collect();
    let conv_ids: Vec<ConversationId> = msgs.iter().map(|m| m.conversation_id).collect();
    let decided = match statements {
        // A commit worker's own connection: its statements prepared, its BEGIN pipelined.
        Some(s) => {
            let client: &Client = db;
            transact_pipelined!(client, BEGIN_KEY_LOOKUPS, |c| {
                // Reads go out at once; writes are recorded and go out with the COMMIT.
                let writes = Recorder::default();
                let decided = decide(&Prepared::new(c, s), &writes, policy, &msgs, &conv_ids).await?;
                writes.commit(c, s).await.map_err(send_conflict)?;
                Ok(decided)
            })
        }
        None => transact!(db, |tx| decide(tx, tx, policy, &msgs, &conv_ids).await),
    }?;
    let (verdicts, appended) = decided;
    let mut results: Vec<Result<Event, ApiError>> = Vec::with_capacity(verdicts.len());
    for v in verdicts {
        let r = match v {
            Decision::Done(r) => *r,
            Decision::Append(j) => appended[j].clone().ok_or_else(rules::conversations::not_found),
            Decision::SameAs(first) => results[first].clone(),
        };
        results.push(r);
    }
    let mut results = results.into_iter();
    for (i, _) in &prepared {
        out[*i] = results.next();
    }
    Ok(out.into_iter().map(|r| r.expect("every request has an outcome")).collect())
}

/// The batch's decision and writes, inside its transaction: who may send what (from the facts
/// read under the conversations' write lock), then the appended messages.
async fn decide<C: Query, W: Query>(
    tx: &C,
    writes: &W,
    policy: &SendPolicy,
    msgs: &[NewMessage],
    conv_ids: &[ConversationId],
) -> Result<(Vec<Decision>, Vec<Option<Event>>), StoreError> {
    // With no limit configured the limit's rows are not touched at all.
    let senders: Vec<UserId> =
        if policy.per_user.per_sec == 0 { Vec::new() } else { msgs.iter().map(|m| m.sender_id).collect() };
    // The conversations' write lock first: who is a member and who may post cannot change
    // between the decision and the commit. The reads go out with it in one round trip: Postgres
    // runs a connection's statements in order, so they start once the lock is held (each
    // statement reads what was committed when it starts).
    let (mut heads, facts, mut tats) = futures_util::future::try_join3(
        events::lock_heads(tx, conv_ids),
        events::send_facts(tx, msgs),
        moderation::lock_send_limits(tx, &senders),
    )
    .await?;
    let now = Timestamp::now();
    let mut verdicts: Vec<Decision> = Vec::with_capacity(msgs.len());
    let mut accepted: Vec<&NewMessage> = Vec::new();
    for (k, m) in msgs.iter().enumerate() {
        let key = (m.sender_id, m.draft.client_msg_id.0.as_str());
        let verdict = if let Some(ev) = facts.existing(m.sender_id, &m.draft.client_msg_id) {
            Decision::Done(Box::new(rules::messages::idempotent_retry(ev, m)))
        } else if let Some(first) =
            msgs[..k].iter().position(|p| (p.sender_id, p.draft.client_msg_id.0.as_str()) == key)
        {
            Decision::SameAs(first)
        } else {
            let admitted = rules::messages::check_send(&facts, m, now)
                .and_then(|()| rules::limits::admit(tats.get(&m.sender_id).copied(), now, policy.per_user));
            match admitted {
                Ok(tat) => {
                    tats.insert(m.sender_id, tat);
                    accepted.push(m);
                    Decision::Append(accepted.len() - 1)
                }
                Err(e) => Decision::Done(Box::new(Err(e))),
            }
        };
        verdicts.push(verdict);
    }
    let (appended, ()) = futures_util::future::try_join(
        events::append_messages(writes, &mut heads, &accepted, &facts),
        moderation::set_send_limits(writes, &tats),
    )
    .await
    .map_err(send_conflict)?;
    Ok((verdicts, appended))
}

/// Another writer committed the same `(sender, client_msg_id)` first: the retry finds it.
fn send_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Unique(c) if c == "events_sender_client_msg_key" => StoreError::Retry(c),
        e => e,
    }
}

/// How [`send_batch`] settled one prepared message.
enum Decision {
    /// Refused, or an idempotent retry of a stored event.
    Done(Box<Result<Event, ApiError>>),
    /// The `n`th appended message.
    Append(usize),
    /// A copy of an earlier message of the batch (the same idempotency key).
    SameAs(usize),
}

/// `POST /v1/conversations/{id}/messages`: one send.
pub async fn send<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    body: SendMessage,
) -> Result<Event, ApiError> {
    let policy = env.send_policy().await?;
    // Validate before taking a connection: a bad draft costs no database work.
    rules::messages::prepare(me.user_id, conv, body.message.clone(), &policy.words)?;
    let req = SendRequest { sender: me.user_id, conversation_id: conv, draft: body.message };
    let mut db = env.db().await?;
    send_batch(&mut db, None, &policy, vec![req]).await?.pop().expect("one outcome per request")
}

/// Where a page of events starts: the query of `GET /v1/conversations/{id}/events`.
#[derive(Clone, Debug, Default)]
pub struct EventsQuery<'a> {
    /// `next_cursor` of the previous page (wins over the seqs).
    pub cursor: Option<&'a str>,
    /// Events after this seq.
    pub after_seq: Option<Seq>,
    /// Events before this seq.
    pub before_seq: Option<Seq>,
    /// Page size.
    pub limit: Option<i64>,
}

/// One page of a conversation's log, ascending; 404 for non-members.
pub async fn events<E: Env>(
    env: &E,
    me: &AccessClaims,
    conv: ConversationId,
    q: EventsQuery<'_>,
) -> Result<EventPage, ApiError> {
    let limit = rules::pagination::limit(q.limit)?;
    let page = match (q.cursor, q.after_seq, q.before_seq) {
        (Some(c), _, _) => {
            Page::from_cursor(c).ok_or_else(|| ApiError::invalid("cursor: not a cursor from this API"))?
        }
        (None, Some(_), Some(_)) => return Err(ApiError::invalid("after_seq, before_seq: give one, not both")),
        (None, Some(a), None) => Page::After(a),
        (None, None, Some(b)) => Page::Before(b),
        (None, None, None) => Page::After(0),
    };
    let db = env.db().await?;
    let member = rules::conversations::member(conversations::membership(&*db, conv, me.user_id).await?)?;
    let (events, more) = events::page(&*db, conv, page, member.visible_after(), limit).await?;
    let events = store::messages::as_seen_by(&*db, me.user_id, events, true).await?;
    let next_cursor = match (more, page) {
        (true, Page::After(_)) => events.last().map(|e| page.cursor(e.seq)),
        (true, Page::Before(_)) => events.first().map(|e| page.cursor(e.seq)),
        (false, _) => None,
    };
    Ok(EventPage { events, next_cursor })
}
