//! The per-conversation event log: appends (with seq assignment and idempotency) and reads.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::TryFutureExt;
use tokio_postgres::{GenericClient, Row};

use super::notify;
use super::{StoreError, Type};
use crate::error::ApiError;
use crate::ids::{ConversationId, EventId, Seq, UserId};
use crate::model::{Event, EventBody, NewMessage};
use crate::time::Timestamp;

/// Columns [`event_from_row`] reads, for a table aliased `e`.
pub(crate) const EVENT_COLS: &str = "e.id, e.conversation_id, e.seq, e.sender_id, e.created_at, e.body";
/// The same for a lateral subquery aliased `le`.
pub(crate) const EVENT_COLS_LE: &str = "le.id, le.conversation_id, le.seq, le.sender_id, le.created_at, le.body";

pub(crate) fn event_from_row(row: &Row, at: usize) -> Result<Event, StoreError> {
    let body: serde_json::Value = row.get(at + 5);
    let body: EventBody = serde_json::from_value(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Event {
        id: EventId(row.get(at)),
        conversation_id: ConversationId(row.get(at + 1)),
        seq: row.get(at + 2),
        sender_id: UserId(row.get(at + 3)),
        created_at: Timestamp(row.get(at + 4)),
        body,
    })
}

fn events_from_rows(rows: &[Row]) -> Result<Vec<Event>, StoreError> {
    rows.iter().map(|r| event_from_row(r, 0)).collect()
}

/// Appends a batch of already-validated messages in the caller's transaction, with one NOTIFY
/// for the whole batch. This is both the group commit of a node's socket sends and, with a batch
/// of one, the REST send.
///
/// Each message gets its own outcome: the stored event (a retry of an earlier send returns that
/// earlier event: idempotency on `(sender, client_msg_id)`), or the client error that stopped it.
/// Rejected messages write nothing. The statements run in a fixed number of round trips whatever
/// the batch size, and conversations are locked in id order so concurrent batches cannot
/// deadlock. `Err(StoreError::Unique)` means another writer raced us to a `client_msg_id`: roll
/// back and run the batch again, and the retry will find that event.
pub async fn append_messages<C: GenericClient>(
    c: &C,
    msgs: &[NewMessage],
) -> Result<Vec<Result<Event, ApiError>>, StoreError> {
    let mut out: Vec<Option<Result<Event, ApiError>>> = vec![None; msgs.len()];

    // Reads that do not depend on each other go out together (tokio-postgres pipelines
    // concurrent queries on one connection).
    let senders: Vec<uuid::Uuid> = msgs.iter().map(|m| m.sender_id.0).collect();
    let cmids: Vec<&str> = msgs.iter().map(|m| m.client_msg_id.0.as_str()).collect();
    let (mut pair_convs, mut pair_users) = (Vec::new(), Vec::new());
    for m in msgs {
        pair_convs.push(m.conversation_id.0);
        pair_users.push(m.sender_id.0);
        for u in &m.mentions {
            pair_convs.push(m.conversation_id.0);
            pair_users.push(u.0);
        }
    }
    let reply_ids: Vec<uuid::Uuid> = msgs.iter().filter_map(|m| m.reply_to.map(|r| r.0)).collect();
    let existing_sql = format!(
        "SELECT {EVENT_COLS}, e.client_msg_id FROM events e \
         JOIN unnest($1::uuid[], $2::text[]) AS k(s, m) ON e.sender_id = k.s AND e.client_msg_id = k.m"
    );
    let (existing, members, replies) = futures_util::future::try_join3(
        c.query_typed(&existing_sql, &[(&senders, Type::UUID_ARRAY), (&cmids, Type::TEXT_ARRAY)]),
        c.query_typed(
            "SELECT m.conversation_id, m.user_id FROM members m \
             JOIN unnest($1::uuid[], $2::uuid[]) AS k(c, u) ON m.conversation_id = k.c AND m.user_id = k.u",
            &[(&pair_convs, Type::UUID_ARRAY), (&pair_users, Type::UUID_ARRAY)],
        ),
        c.query_typed(
            "SELECT id, conversation_id FROM events WHERE id = ANY($1) AND kind = 'message'",
            &[(&reply_ids, Type::UUID_ARRAY)],
        ),
    )
    .await?;

    let mut existing_by_key: HashMap<(UserId, String), Event> = HashMap::new();
    for r in &existing {
        let ev = event_from_row(r, 0)?;
        existing_by_key.insert((ev.sender_id, r.get(6)), ev);
    }
    let members: HashSet<(ConversationId, UserId)> =
        members.iter().map(|r| (ConversationId(r.get(0)), UserId(r.get(1)))).collect();
    let replies: HashMap<EventId, ConversationId> =
        replies.iter().map(|r| (EventId(r.get(0)), ConversationId(r.get(1)))).collect();

    // Decide each message; `accepted` keeps batch order, which becomes seq order.
    let mut accepted: Vec<usize> = Vec::new();
    let mut seen_in_batch: HashMap<(UserId, &str), usize> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        if let Some(ev) = existing_by_key.get(&(m.sender_id, m.client_msg_id.0.clone())) {
            out[i] = Some(if ev.conversation_id == m.conversation_id {
                Ok(ev.clone())
            } else {
                Err(ApiError::conflict("client_msg_id: already used for a message in another conversation"))
            });
            continue;
        }
        if seen_in_batch.contains_key(&(m.sender_id, m.client_msg_id.0.as_str())) {
            // Resolved at the end, from the first copy's outcome.
            continue;
        }
        let verdict = if !members.contains(&(m.conversation_id, m.sender_id)) {
            Err(ApiError::not_found("conversation not found"))
        } else if m.mentions.iter().any(|u| !members.contains(&(m.conversation_id, *u))) {
            Err(ApiError::invalid("mentions: every mentioned user must be a member of the conversation"))
        } else if m.reply_to.is_some_and(|r| replies.get(&r) != Some(&m.conversation_id)) {
            Err(ApiError::invalid("reply_to: no such message in this conversation"))
        } else if !m.media_ids.is_empty() {
            // Only completed uploads may be attached, and this server has none yet.
            Err(ApiError::invalid("media_ids: unknown media"))
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                seen_in_batch.insert((m.sender_id, m.client_msg_id.0.as_str()), i);
                accepted.push(i);
            }
            Err(e) => out[i] = Some(Err(e)),
        }
    }

    if !accepted.is_empty() {
        let mut conv_ids: Vec<uuid::Uuid> = accepted.iter().map(|&i| msgs[i].conversation_id.0).collect();
        conv_ids.sort();
        conv_ids.dedup();
        let locked = c
            .query_typed(
                "SELECT id, last_seq FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[(&conv_ids, Type::UUID_ARRAY)],
            )
            .await?;
        let mut heads: BTreeMap<ConversationId, Seq> =
            locked.iter().map(|r| (ConversationId(r.get(0)), r.get(1))).collect();

        let now: DateTime<Utc> = Utc::now();
        let mut ins = InsertColumns::default();
        let mut read_upto: HashMap<(ConversationId, UserId), Seq> = HashMap::new();
        for &i in &accepted {
            let m = &msgs[i];
            let Some(head) = heads.get_mut(&m.conversation_id) else {
                out[i] = Some(Err(ApiError::not_found("conversation not found")));
                continue;
            };
            *head += 1;
            let ev = Event {
                id: EventId::new(),
                conversation_id: m.conversation_id,
                seq: *head,
                sender_id: m.sender_id,
                created_at: Timestamp(now),
                body: EventBody::Message {
                    text: m.text.clone(),
                    media_ids: m.media_ids.clone(),
                    reply_to: m.reply_to,
                    mentions: m.mentions.clone(),
                    client_msg_id: m.client_msg_id.clone(),
                },
            };
            ins.push(&ev, &m.client_msg_id.0);
            // Sending a message means having read the conversation up to it.
            read_upto.insert((m.conversation_id, m.sender_id), *head);
            out[i] = Some(Ok(ev));
        }
        let head_list: Vec<(ConversationId, Seq)> = heads.iter().map(|(c, s)| (*c, *s)).collect();
        let head_ids: Vec<uuid::Uuid> = head_list.iter().map(|(c, _)| c.0).collect();
        let head_seqs: Vec<Seq> = head_list.iter().map(|(_, s)| *s).collect();
        let (r_convs, r_users, r_seqs) =
            read_upto.iter().fold((Vec::new(), Vec::new(), Vec::new()), |(mut a, mut b, mut s), ((c, u), seq)| {
                a.push(c.0);
                b.push(u.0);
                s.push(*seq);
                (a, b, s)
            });
        futures_util::future::try_join4(
            c.query_typed(
                "INSERT INTO events (id, conversation_id, seq, kind, sender_id, client_msg_id, body, mentions, created_at) \
                 SELECT i, cv, s, 'message', u, m, b, \
                        ARRAY(SELECT jsonb_array_elements_text(b->'mentions')::uuid), $7 \
                 FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::text[], $6::jsonb[]) \
                      AS t(i, cv, s, u, m, b)",
                &[
                    (&ins.ids, Type::UUID_ARRAY),
                    (&ins.convs, Type::UUID_ARRAY),
                    (&ins.seqs, Type::INT8_ARRAY),
                    (&ins.senders, Type::UUID_ARRAY),
                    (&ins.cmids, Type::TEXT_ARRAY),
                    (&ins.bodies, Type::JSONB_ARRAY),
                    (&now, Type::TIMESTAMPTZ),
                ],
            )
            .map_err(StoreError::from),
            c.query_typed(
                "UPDATE conversations c SET last_seq = t.s, last_event_at = $3 \
                 FROM unnest($1::uuid[], $2::int8[]) AS t(id, s) WHERE c.id = t.id",
                &[(&head_ids, Type::UUID_ARRAY), (&head_seqs, Type::INT8_ARRAY), (&now, Type::TIMESTAMPTZ)],
            )
            .map_err(StoreError::from),
            c.query_typed(
                "UPDATE members m SET read_seq = GREATEST(m.read_seq, k.s) \
                 FROM unnest($1::uuid[], $2::uuid[], $3::int8[]) AS k(c, u, s) \
                 WHERE m.conversation_id = k.c AND m.user_id = k.u",
                &[(&r_convs, Type::UUID_ARRAY), (&r_users, Type::UUID_ARRAY), (&r_seqs, Type::INT8_ARRAY)],
            )
            .map_err(StoreError::from),
            notify::send_events(c, &head_list),
        )
        .await?;
    }

    // Duplicates within the batch share the first copy's outcome.
    let mut done: Vec<Result<Event, ApiError>> = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let r = match out[i].take() {
            Some(r) => r,
            None => done[seen_in_batch[&(m.sender_id, m.client_msg_id.0.as_str())]].clone(),
        };
        done.push(r);
    }
    Ok(done)
}

#[derive(Default)]
struct InsertColumns {
    ids: Vec<uuid::Uuid>,
    convs: Vec<uuid::Uuid>,
    seqs: Vec<Seq>,
    senders: Vec<uuid::Uuid>,
    cmids: Vec<String>,
    bodies: Vec<serde_json::Value>,
}

impl InsertColumns {
    fn push(&mut self, ev: &Event, cmid: &str) {
        self.ids.push(ev.id.0);
        self.convs.push(ev.conversation_id.0);
        self.seqs.push(ev.seq);
        self.senders.push(ev.sender_id.0);
        self.cmids.push(cmid.to_owned());
        self.bodies.push(serde_json::to_value(&ev.body).expect("event bodies serialise"));
    }
}

/// Which way to page a conversation's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Events with seq > n, oldest first.
    After(Seq),
    /// The events just before seq n (seq < n), returned oldest first.
    Before(Seq),
}

/// One page of `conv`'s log, ascending, and whether more exist in the paging direction.
pub async fn page<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    page: Page,
    limit: i64,
) -> Result<(Vec<Event>, bool), StoreError> {
    let (sql, n) = match page {
        Page::After(n) => (
            format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.conversation_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3"
            ),
            n,
        ),
        Page::Before(n) => (
            format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.conversation_id = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3"
            ),
            n,
        ),
    };
    let rows = c.query_typed(&sql, &[(&conv.0, Type::UUID), (&n, Type::INT8), (&(limit + 1), Type::INT8)]).await?;
    let more = rows.len() as i64 > limit;
    let mut events = events_from_rows(&rows[..rows.len().min(limit as usize)])?;
    if matches!(page, Page::Before(_)) {
        events.reverse();
    }
    Ok((events, more))
}

/// Events after each given seq, for many conversations at once, ordered by conversation then
/// seq; at most `per_conversation` each. This is how a node fetches once per conversation, not
/// once per recipient.
pub async fn after_many<C: GenericClient>(
    c: &C,
    cursors: &[(ConversationId, Seq)],
    per_conversation: i64,
) -> Result<Vec<Event>, StoreError> {
    if cursors.is_empty() {
        return Ok(Vec::new());
    }
    let convs: Vec<uuid::Uuid> = cursors.iter().map(|(c, _)| c.0).collect();
    let seqs: Vec<Seq> = cursors.iter().map(|(_, s)| *s).collect();
    let sql = format!(
        "SELECT {EVENT_COLS} FROM unnest($1::uuid[], $2::int8[]) AS w(cv, after) \
         CROSS JOIN LATERAL (SELECT * FROM events x WHERE x.conversation_id = w.cv AND x.seq > w.after \
                             ORDER BY x.seq LIMIT $3) e \
         ORDER BY e.conversation_id, e.seq"
    );
    let rows = c
        .query_typed(&sql, &[(&convs, Type::UUID_ARRAY), (&seqs, Type::INT8_ARRAY), (&per_conversation, Type::INT8)])
        .await?;
    events_from_rows(&rows)
}

/// The latest event of each conversation that has one.
pub async fn latest_many<C: GenericClient>(c: &C, convs: &[ConversationId]) -> Result<Vec<Event>, StoreError> {
    if convs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = convs.iter().map(|c| c.0).collect();
    let sql = format!(
        "SELECT {EVENT_COLS} FROM unnest($1::uuid[]) AS w(cv) \
         CROSS JOIN LATERAL (SELECT * FROM events x WHERE x.conversation_id = w.cv ORDER BY x.seq DESC LIMIT 1) e"
    );
    let rows = c.query_typed(&sql, &[(&ids, Type::UUID_ARRAY)]).await?;
    events_from_rows(&rows)
}
