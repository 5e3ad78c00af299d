//! The per-conversation event log: appends (with seq assignment and idempotency) and reads.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures_util::TryFutureExt;
use tokio_postgres::{GenericClient, Row};

use super::conversations::{MEMBERSHIP_COL_COUNT, MEMBERSHIP_COLS, membership_from_row};
use super::media::MediaRow;
use super::notify;
use super::statements::Query;
use super::{StoreError, Type};
use crate::ids::{ClientMsgId, ConversationId, EventId, MediaId, Seq, UserId};
use crate::model::conversation::Membership;
use crate::model::{DmPolicy, Event, EventBody, Media, Message, NewMessage};
use crate::rules::media::AttachFacts;
use crate::rules::messages::{MessageFacts, SendFacts};
use crate::rules::social::DirectFacts;
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

/// The facts that decide a batch of sends, fetched in one pipelined round trip: earlier sends
/// with the same `(sender, client_msg_id)`, the memberships of senders and mentioned users, and
/// the conversations of reply targets.
#[derive(Debug, Default)]
pub struct SendBatchFacts {
    existing: HashMap<(UserId, String), Event>,
    members: HashMap<(ConversationId, UserId), Membership>,
    messages: HashMap<EventId, MessageFacts>,
    direct: HashMap<(ConversationId, UserId), DirectFacts>,
    media: HashMap<MediaId, MediaRow>,
}

impl SendBatchFacts {
    /// The stored event of an earlier send with the same `(sender, client_msg_id)`.
    pub fn existing(&self, sender: UserId, client_msg_id: &ClientMsgId) -> Option<&Event> {
        self.existing.get(&(sender, client_msg_id.0.clone()))
    }
}

impl SendFacts for SendBatchFacts {
    fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership> {
        self.members.get(&(conv, user)).copied()
    }

    fn message(&self, id: EventId) -> Option<MessageFacts> {
        self.messages.get(&id).copied()
    }

    fn direct(&self, conv: ConversationId, sender: UserId) -> Option<DirectFacts> {
        self.direct.get(&(conv, sender)).copied()
    }

    fn media(&self, id: MediaId) -> Option<AttachFacts> {
        self.media.get(&id).map(|m| m.attach_facts().0)
    }
}

impl SendBatchFacts {
    /// The media objects a message carries beside its `media_ids`, in their order (the ids were
    /// checked by [`crate::rules::messages::check_send`], so each is here).
    fn media_objects(&self, ids: &[MediaId]) -> Vec<Media> {
        ids.iter().filter_map(|id| self.media.get(id)).map(|m| m.media.clone()).collect()
    }
}

/// Fetches the [`SendBatchFacts`] of `msgs` in one round trip (three pipelined statements, one
/// more when messages reply and one more when media are attached, whatever the batch size).
pub async fn send_facts<C: Query>(c: &C, msgs: &[NewMessage]) -> Result<SendBatchFacts, StoreError> {
    let senders: Vec<uuid::Uuid> = msgs.iter().map(|m| m.sender_id.0).collect();
    let cmids: Vec<&str> = msgs.iter().map(|m| m.draft.client_msg_id.0.as_str()).collect();
    let (mut pair_convs, mut pair_users) = (Vec::new(), Vec::new());
    for m in msgs {
        pair_convs.push(m.conversation_id.0);
        pair_users.push(m.sender_id.0);
        for u in &m.draft.mentions {
            pair_convs.push(m.conversation_id.0);
            pair_users.push(u.0);
        }
    }
    let reply_ids: Vec<uuid::Uuid> = msgs.iter().filter_map(|m| m.draft.reply_to.map(|r| r.0)).collect();
    let existing_sql = format!(
        "SELECT {EVENT_COLS}, e.client_msg_id FROM events e \
         JOIN unnest($1::uuid[], $2::text[]) AS k(s, m) ON e.sender_id = k.s AND e.client_msg_id = k.m"
    );
    // Reads that do not depend on each other go out together (tokio-postgres pipelines
    // concurrent queries on one connection).
    let (send_convs, send_users): (Vec<uuid::Uuid>, Vec<uuid::Uuid>) =
        msgs.iter().map(|m| (m.conversation_id.0, m.sender_id.0)).unzip();
    let media_ids: Vec<MediaId> = msgs.iter().flat_map(|m| m.draft.media_ids.iter().copied()).collect();
    let (existing, members, replies, direct, attached) = futures_util::future::try_join5(
        c.query_typed(&existing_sql, &[(&senders, Type::UUID_ARRAY), (&cmids, Type::TEXT_ARRAY)])
            .map_err(StoreError::from),
        c.query_typed(
            &format!(
                "SELECT {MEMBERSHIP_COLS}, m.conversation_id, m.user_id FROM members m \
                 LEFT JOIN groups g ON g.conversation_id = m.conversation_id \
                 JOIN unnest($1::uuid[], $2::uuid[]) AS k(c, u) ON m.conversation_id = k.c AND m.user_id = k.u"
            ),
            &[(&pair_convs, Type::UUID_ARRAY), (&pair_users, Type::UUID_ARRAY)],
        )
        .map_err(StoreError::from),
        async {
            // Most sends reply to nothing: no statement then.
            if reply_ids.is_empty() {
                return Ok(Vec::new());
            }
            c.query_typed(
                "SELECT id, conversation_id, seq, sender_id, created_at, recalled_at IS NOT NULL FROM events \
                 WHERE id = ANY($1) AND kind = 'message'",
                &[(&reply_ids, Type::UUID_ARRAY)],
            )
            .await
            .map_err(StoreError::from)
        },
        c.query_typed(
            "SELECT k.c, k.s, u.dm_policy, u.deleted_at IS NOT NULL, \
                    EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = k.s AND b.blocked_id = pm.user_id) \
                                                      OR (b.blocker_id = pm.user_id AND b.blocked_id = k.s)), \
                    EXISTS (SELECT 1 FROM friendships f WHERE f.user_id = k.s AND f.friend_id = pm.user_id) \
             FROM (SELECT DISTINCT * FROM unnest($1::uuid[], $2::uuid[])) AS k(c, s) \
             JOIN conversations cv ON cv.id = k.c AND cv.kind = 'direct' \
             JOIN members pm ON pm.conversation_id = k.c AND pm.user_id <> k.s \
             JOIN users u ON u.id = pm.user_id",
            &[(&send_convs, Type::UUID_ARRAY), (&send_users, Type::UUID_ARRAY)],
        )
        .map_err(StoreError::from),
        super::media::lock_for_attach(c, &media_ids),
    )
    .await?;
    let mut facts =
        SendBatchFacts { media: attached.into_iter().map(|m| (m.media.id, m)).collect(), ..SendBatchFacts::default() };
    for r in &existing {
        let ev = event_from_row(r, 0)?;
        facts.existing.insert((ev.sender_id, r.get(6)), ev);
    }
    for r in &members {
        let n = MEMBERSHIP_COL_COUNT;
        facts.members.insert((ConversationId(r.get(n)), UserId(r.get(n + 1))), membership_from_row(r)?);
    }
    facts.messages = replies.iter().map(|r| (EventId(r.get(0)), message_facts(r, 1))).collect();
    for r in &direct {
        facts.direct.insert(
            (ConversationId(r.get(0)), UserId(r.get(1))),
            DirectFacts {
                peer_policy: DmPolicy::from_db(r.get(2)),
                peer_deleted: r.get(3),
                blocked: r.get(4),
                friends: r.get(5),
            },
        );
    }
    Ok(facts)
}

/// Reads a message's facts from `conversation_id, seq, sender_id, created_at, recalled` at `at`.
pub(crate) fn message_facts(r: &Row, at: usize) -> MessageFacts {
    MessageFacts {
        conversation_id: ConversationId(r.get(at)),
        seq: r.get(at + 1),
        sender_id: UserId(r.get(at + 2)),
        sent_at: Timestamp(r.get(at + 3)),
        recalled: r.get(at + 4),
    }
}

/// Locks these conversations' rows, in id order, and reads their last seqs: the per-conversation
/// write lock that every append and every membership change takes first, so concurrent writers
/// cannot deadlock and a decision made under it (who is a member, who may post) holds until
/// commit. Conversations that do not exist are absent.
pub async fn lock_heads<C: Query>(
    c: &C,
    convs: &[ConversationId],
) -> Result<BTreeMap<ConversationId, Seq>, StoreError> {
    let mut ids: Vec<uuid::Uuid> = convs.iter().map(|c| c.0).collect();
    ids.sort();
    ids.dedup();
    let locked = c
        .query_typed(
            "SELECT id, last_seq FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(locked.iter().map(|r| (ConversationId(r.get(0)), r.get(1))).collect())
}

/// An event to append; [`append`] gives it its id, seq and time.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Where.
    pub conversation_id: ConversationId,
    /// Who caused it.
    pub sender_id: UserId,
    /// What.
    pub body: EventBody,
}

/// Gives each event the next seq of its conversation (`None` for a conversation not in `heads`).
fn assign(heads: &mut BTreeMap<ConversationId, Seq>, events: Vec<NewEvent>, now: DateTime<Utc>) -> Vec<Option<Event>> {
    events
        .into_iter()
        .map(|e| {
            let head = heads.get_mut(&e.conversation_id)?;
            *head += 1;
            Some(Event {
                id: EventId::new(),
                conversation_id: e.conversation_id,
                seq: *head,
                sender_id: e.sender_id,
                created_at: Timestamp(now),
                body: e.body,
            })
        })
        .collect()
}

/// Appends events, in order, to conversations locked by [`lock_heads`] (`heads` moves with
/// them), announced in the batch's NOTIFYs ([`notify::send_events`]); returns each stored event (`None` for a conversation
/// that was not locked). Fixed round trips whatever the batch size.
pub async fn append<C: Query>(
    c: &C,
    heads: &mut BTreeMap<ConversationId, Seq>,
    events: Vec<NewEvent>,
) -> Result<Vec<Option<Event>>, StoreError> {
    let now = Timestamp::now_micros().0;
    let out = assign(heads, events, now);
    write(c, heads, &out, &[], now).await?;
    Ok(out)
}

/// Appends accepted messages (the group commit of a node's connections' sends and, with a batch
/// of one, the REST send): [`append`], and each sender's read position moves to their own
/// message. A `StoreError::Unique` on `events_sender_client_msg_key` means another writer
/// committed the same `(sender, client_msg_id)` first: roll back and decide the batch again.
pub async fn append_messages<C: Query>(
    c: &C,
    heads: &mut BTreeMap<ConversationId, Seq>,
    msgs: &[&NewMessage],
    facts: &SendBatchFacts,
) -> Result<Vec<Option<Event>>, StoreError> {
    let now = Timestamp::now_micros().0;
    let events = msgs
        .iter()
        .map(|m| NewEvent {
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            body: EventBody::Message(Message {
                media: facts.media_objects(&m.draft.media_ids),
                ..m.draft.clone().into()
            }),
        })
        .collect();
    let out = assign(heads, events, now);
    let mut read_upto: HashMap<(ConversationId, UserId), Seq> = HashMap::new();
    for ev in out.iter().flatten() {
        read_upto.insert((ev.conversation_id, ev.sender_id), ev.seq);
    }
    let reads: Vec<(ConversationId, UserId, Seq)> = read_upto.into_iter().map(|((c, u), s)| (c, u, s)).collect();
    futures_util::future::try_join(write(c, heads, &out, &reads, now), super::media::add_uses(c, &out)).await?;
    Ok(out)
}

/// Inserts the events, bumps their conversations' heads, moves read positions, and announces
/// the heads: four pipelined statements.
async fn write<C: Query>(
    c: &C,
    heads: &BTreeMap<ConversationId, Seq>,
    events: &[Option<Event>],
    reads: &[(ConversationId, UserId, Seq)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut ins = InsertColumns::default();
    for ev in events.iter().flatten() {
        ins.push(ev);
    }
    if ins.ids.is_empty() {
        return Ok(());
    }
    let touched: std::collections::BTreeSet<ConversationId> =
        events.iter().flatten().map(|e| e.conversation_id).collect();
    let head_list: Vec<(ConversationId, Seq)> = touched.iter().filter_map(|c| heads.get(c).map(|s| (*c, *s))).collect();
    let head_ids: Vec<uuid::Uuid> = head_list.iter().map(|(c, _)| c.0).collect();
    let head_seqs: Vec<Seq> = head_list.iter().map(|(_, s)| *s).collect();
    let r_convs: Vec<uuid::Uuid> = reads.iter().map(|r| r.0.0).collect();
    let r_users: Vec<uuid::Uuid> = reads.iter().map(|r| r.1.0).collect();
    let r_seqs: Vec<Seq> = reads.iter().map(|r| r.2).collect();
    futures_util::future::try_join4(
        c.query_typed(
            "INSERT INTO events (id, conversation_id, seq, kind, sender_id, client_msg_id, body, mentions, created_at, \
                                 mention_all, target_id, search) \
             SELECT i, cv, s, k, u, m, b, \
                    ARRAY(SELECT jsonb_array_elements_text(b->'mentions')::uuid), $8, \
                    COALESCE((b->>'mention_all')::boolean, false), tg, sv::tsvector \
             FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::uuid[], $6::text[], $7::jsonb[], \
                         $9::uuid[], $10::text[]) \
                  AS t(i, cv, s, k, u, m, b, tg, sv)",
            &[
                (&ins.ids, Type::UUID_ARRAY),
                (&ins.convs, Type::UUID_ARRAY),
                (&ins.seqs, Type::INT8_ARRAY),
                (&ins.kinds, Type::TEXT_ARRAY),
                (&ins.senders, Type::UUID_ARRAY),
                (&ins.cmids, Type::TEXT_ARRAY),
                (&ins.bodies, Type::JSONB_ARRAY),
                (&now, Type::TIMESTAMPTZ),
                (&ins.targets, Type::UUID_ARRAY),
                (&ins.search, Type::TEXT_ARRAY),
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
        notify::send_events(c, &head_list, &events.iter().flatten().collect::<Vec<_>>()),
    )
    .await?;
    Ok(())
}

/// The columns of one multi-row `INSERT ... SELECT FROM unnest(...)`.
#[derive(Default)]
struct InsertColumns {
    ids: Vec<uuid::Uuid>,
    convs: Vec<uuid::Uuid>,
    seqs: Vec<Seq>,
    kinds: Vec<&'static str>,
    senders: Vec<uuid::Uuid>,
    cmids: Vec<Option<String>>,
    bodies: Vec<serde_json::Value>,
    targets: Vec<Option<uuid::Uuid>>,
    search: Vec<Option<String>>,
}

impl InsertColumns {
    fn push(&mut self, ev: &Event) {
        self.ids.push(ev.id.0);
        self.convs.push(ev.conversation_id.0);
        self.seqs.push(ev.seq);
        self.kinds.push(ev.body.kind());
        self.senders.push(ev.sender_id.0);
        self.cmids.push(match &ev.body {
            EventBody::Message(m) => Some(m.client_msg_id.0.clone()),
            _ => None,
        });
        self.bodies.push(serde_json::to_value(&ev.body).expect("event bodies serialise"));
        self.targets.push(match &ev.body {
            EventBody::Edit { message_id, .. }
            | EventBody::Recall { message_id }
            | EventBody::Reaction { message_id, .. } => Some(message_id.0),
            _ => None,
        });
        self.search.push(match &ev.body {
            EventBody::Message(m) => m.text.as_deref().and_then(crate::rules::search::tsvector),
            _ => None,
        });
    }
}

/// Where a page of a conversation's log starts, and which way it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Events with seq > n, oldest first.
    After(Seq),
    /// The events just before seq n (seq < n), returned oldest first.
    Before(Seq),
}

impl Page {
    /// The page cursor (`next_cursor`) that continues in this direction from `seq`.
    pub fn cursor(self, seq: Seq) -> String {
        match self {
            Page::After(_) => format!("a{seq}"),
            Page::Before(_) => format!("b{seq}"),
        }
    }

    /// Reads a page cursor made by [`Page::cursor`].
    pub fn from_cursor(c: &str) -> Option<Page> {
        let (dir, n) = c.split_at_checked(1)?;
        let n: Seq = n.parse().ok()?;
        match dir {
            "a" => Some(Page::After(n)),
            "b" => Some(Page::Before(n)),
            _ => None,
        }
    }
}

/// One page of `conv`'s log, ascending, never at or before `floor` (where the reader's view
/// starts), and whether more exist in the paging direction.
pub async fn page<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    page: Page,
    floor: Seq,
    limit: i64,
) -> Result<(Vec<Event>, bool), StoreError> {
    let (sql, n) = match page {
        Page::After(n) => (
            format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.conversation_id = $1 AND e.seq > $2 AND e.seq > $4 \
                 ORDER BY e.seq LIMIT $3"
            ),
            n,
        ),
        Page::Before(n) => (
            format!(
                "SELECT {EVENT_COLS} FROM events e WHERE e.conversation_id = $1 AND e.seq < $2 AND e.seq > $4 \
                 ORDER BY e.seq DESC LIMIT $3"
            ),
            n,
        ),
    };
    let rows = c
        .query_typed(&sql, &[(&conv.0, Type::UUID), (&n, Type::INT8), (&(limit + 1), Type::INT8), (&floor, Type::INT8)])
        .await?;
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
