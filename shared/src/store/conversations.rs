//! Conversations and membership.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::events::{EVENT_COLS_LE, event_from_row};
use super::users::{USER_COL_COUNT, USER_COLS, user_from_row};
use super::{StoreError, Type};
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::conversation::{GroupFacts, Membership};
use crate::model::{ConversationKind, ConversationSettings, ConversationSummary, DirectConversation, Role};
use crate::time::Timestamp;

fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// Whether a user exists (direct conversations need a real peer).
pub async fn user_exists<C: GenericClient>(c: &C, u: UserId) -> Result<bool, StoreError> {
    Ok(!c.query_typed("SELECT 1 FROM users WHERE id = $1", &[(&u.0, Type::UUID)]).await?.is_empty())
}

/// The one direct conversation of the pair, created on first use. Returns it and whether this
/// call created it. Must run inside a transaction.
pub async fn get_or_create_direct<C: GenericClient>(
    c: &C,
    me: UserId,
    other: UserId,
) -> Result<(DirectConversation, bool), StoreError> {
    let key = direct_key(me, other);
    let id = ConversationId::new();
    // ON CONFLICT DO NOTHING makes concurrent first calls converge on one row.
    let inserted = c
        .query_typed(
            "INSERT INTO conversations (id, kind, direct_key) VALUES ($1, 'direct', $2) \
             ON CONFLICT (direct_key) DO NOTHING RETURNING id",
            &[(&id.0, Type::UUID), (&key, Type::TEXT)],
        )
        .await?;
    let created = !inserted.is_empty();
    if created {
        c.query_typed(
            "INSERT INTO members (conversation_id, user_id) VALUES ($1, $2), ($1, $3)",
            &[(&id.0, Type::UUID), (&me.0, Type::UUID), (&other.0, Type::UUID)],
        )
        .await?;
    }
    let row = c
        .query_typed("SELECT id, last_seq, created_at FROM conversations WHERE direct_key = $1", &[(&key, Type::TEXT)])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Retry("direct conversation not visible yet".into()))?;
    let mut member_ids = vec![me, other];
    member_ids.sort();
    Ok((
        DirectConversation {
            id: ConversationId(row.get(0)),
            kind: ConversationKind::Direct,
            member_ids,
            last_seq: row.get(1),
            created_at: Timestamp(row.get(2)),
        },
        created,
    ))
}

/// The membership columns [`membership_from_row`] reads, from `members m LEFT JOIN groups g`.
pub(crate) const MEMBERSHIP_COLS: &str = "m.role, m.joined_seq, m.silenced_until, g.conversation_id IS NOT NULL, \
     COALESCE(g.broadcast_only, false), COALESCE(g.history_visible, false), g.dissolved_at IS NOT NULL";
/// How many columns [`MEMBERSHIP_COLS`] is.
pub(crate) const MEMBERSHIP_COL_COUNT: usize = 7;

/// `user`'s membership of `conv`, if any, with the group's settings for a group.
pub async fn membership<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    user: UserId,
) -> Result<Option<Membership>, StoreError> {
    let sql = format!(
        "SELECT {MEMBERSHIP_COLS} FROM members m LEFT JOIN groups g ON g.conversation_id = m.conversation_id \
         WHERE m.conversation_id = $1 AND m.user_id = $2"
    );
    let rows = c.query_typed(&sql, &[(&conv.0, Type::UUID), (&user.0, Type::UUID)]).await?;
    rows.first().map(membership_from_row).transpose()
}

/// Reads [`MEMBERSHIP_COLS`] from column 0.
pub(crate) fn membership_from_row(row: &tokio_postgres::Row) -> Result<Membership, StoreError> {
    let role: &str = row.get(0);
    let role = Role::from_db(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
    let group = row.get::<_, bool>(3).then(|| GroupFacts {
        broadcast_only: row.get(4),
        history_visible: row.get(5),
        dissolved: row.get(6),
    });
    Ok(Membership {
        role,
        joined_seq: row.get(1),
        muted_until: row.get::<_, Option<DateTime<Utc>>>(2).map(Timestamp),
        group,
    })
}

/// One of a user's conversations as a realtime connection follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Its last seq now.
    pub last_seq: Seq,
    /// The user reads events after this seq only (the history before they joined a group is
    /// hidden unless it shows history).
    pub visible_after: Seq,
}

/// Every conversation of `user` with its current last seq (what a node subscribes a connection
/// to) and where the user's view of it starts.
pub async fn memberships<C: GenericClient>(c: &C, user: UserId) -> Result<Vec<Head>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT c.id, c.last_seq, \
                    CASE WHEN g.conversation_id IS NOT NULL AND NOT g.history_visible THEN m.joined_seq ELSE 0 END \
             FROM members m JOIN conversations c ON c.id = m.conversation_id \
             LEFT JOIN groups g ON g.conversation_id = m.conversation_id \
             WHERE m.user_id = $1",
            &[(&user.0, Type::UUID)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Head { conversation_id: ConversationId(r.get(0)), last_seq: r.get(1), visible_after: r.get(2) })
        .collect())
}

/// [`memberships`] of several users at once (one statement for a batch of connecting users).
pub async fn memberships_of<C: GenericClient>(c: &C, users: &[UserId]) -> Result<Vec<(UserId, Head)>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed(
            "SELECT m.user_id, c.id, c.last_seq, \
                    CASE WHEN g.conversation_id IS NOT NULL AND NOT g.history_visible THEN m.joined_seq ELSE 0 END \
             FROM members m JOIN conversations c ON c.id = m.conversation_id \
             LEFT JOIN groups g ON g.conversation_id = m.conversation_id \
             WHERE m.user_id = ANY($1)",
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let head = Head { conversation_id: ConversationId(r.get(1)), last_seq: r.get(2), visible_after: r.get(3) };
            (UserId(r.get(0)), head)
        })
        .collect())
}

/// A conversation `user` left or was removed from: their view of it ended at `left_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Former {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Their view started after this seq.
    pub visible_after: Seq,
    /// Their `member_left` event: their view ends here.
    pub left_seq: Seq,
}

/// Of `convs`, those `user` is a former member of (and not a member again).
pub async fn former<C: GenericClient>(
    c: &C,
    user: UserId,
    convs: &[ConversationId],
) -> Result<Vec<Former>, StoreError> {
    let pairs: Vec<(UserId, ConversationId)> = convs.iter().map(|cv| (user, *cv)).collect();
    Ok(former_of(c, &pairs).await?.into_iter().map(|(_, f)| f).collect())
}

/// [`former`] for several users at once: of each `(user, conversation)`, those the user left.
pub async fn former_of<C: GenericClient>(
    c: &C,
    pairs: &[(UserId, ConversationId)],
) -> Result<Vec<(UserId, Former)>, StoreError> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<uuid::Uuid> = pairs.iter().map(|(u, _)| u.0).collect();
    let convs: Vec<uuid::Uuid> = pairs.iter().map(|(_, c)| c.0).collect();
    let rows = c
        .query_typed(
            "SELECT f.user_id, f.conversation_id, CASE WHEN g.history_visible THEN 0 ELSE f.joined_seq END, f.left_seq \
             FROM unnest($1::uuid[], $2::uuid[]) AS w(u, cv) \
             JOIN former_members f ON f.user_id = w.u AND f.conversation_id = w.cv \
             LEFT JOIN groups g ON g.conversation_id = f.conversation_id",
            &[(&users, Type::UUID_ARRAY), (&convs, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let f = Former { conversation_id: ConversationId(r.get(1)), visible_after: r.get(2), left_seq: r.get(3) };
            (UserId(r.get(0)), f)
        })
        .collect())
}

/// Moves `user`'s read position forward to `seq` (never back, never past the last event).
/// Returns the read seq after the call and whether it moved, or None when the user is not a
/// member.
pub async fn mark_read<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    user: UserId,
    seq: Seq,
) -> Result<Option<(Seq, bool)>, StoreError> {
    let rows = c
        .query_typed(
            "WITH old AS (SELECT read_seq FROM members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE) \
             UPDATE members m SET read_seq = GREATEST(m.read_seq, LEAST($3, c.last_seq)), \
                    delivered_seq = GREATEST(m.delivered_seq, m.read_seq, LEAST($3, c.last_seq)) \
             FROM conversations c, old \
             WHERE m.conversation_id = $1 AND m.user_id = $2 AND c.id = m.conversation_id \
             RETURNING m.read_seq, m.read_seq <> old.read_seq",
            &[(&conv.0, Type::UUID), (&user.0, Type::UUID), (&seq, Type::INT8)],
        )
        .await?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}

/// Conversations larger than this tell only the member's own devices about their read and
/// delivered positions (everyone else reads them from `GET /v1/groups/{id}/members`): in a
/// 10,000-member group a receipt per member per message to every member would be millions of
/// frames.
pub const RECEIPTS_TO_ALL_MAX_MEMBERS: i32 = 100;

/// Whether `conv`'s receipts go to all its members ([`RECEIPTS_TO_ALL_MAX_MEMBERS`]).
pub async fn receipts_to_all<C: GenericClient>(c: &C, conv: ConversationId) -> Result<bool, StoreError> {
    let row = c
        .query_typed_one(
            "SELECT COALESCE((SELECT member_count <= $2 FROM groups WHERE conversation_id = $1), true)",
            &[(&conv.0, Type::UUID), (&RECEIPTS_TO_ALL_MAX_MEMBERS, Type::INT4)],
        )
        .await?;
    Ok(row.get(0))
}

/// Moves delivered positions forward (never back, never past the log), one statement for the
/// batch; answers the positions that moved, each with whether all the conversation's members
/// hear of it.
pub async fn mark_delivered<C: GenericClient>(
    c: &C,
    marks: &[(ConversationId, UserId, Seq)],
) -> Result<Vec<(ConversationId, UserId, Seq, bool)>, StoreError> {
    if marks.is_empty() {
        return Ok(Vec::new());
    }
    let convs: Vec<uuid::Uuid> = marks.iter().map(|m| m.0.0).collect();
    let users: Vec<uuid::Uuid> = marks.iter().map(|m| m.1.0).collect();
    let seqs: Vec<Seq> = marks.iter().map(|m| m.2).collect();
    let rows = c
        .query_typed(
            "UPDATE members m SET delivered_seq = LEAST(k.s, c.last_seq) \
             FROM (SELECT cv, u, max(s) AS s FROM unnest($1::uuid[], $2::uuid[], $3::int8[]) AS t(cv, u, s) \
                   GROUP BY cv, u) k, conversations c \
             WHERE m.conversation_id = k.cv AND m.user_id = k.u AND c.id = k.cv \
               AND m.delivered_seq < LEAST(k.s, c.last_seq) \
             RETURNING m.conversation_id, m.user_id, m.delivered_seq, \
                       COALESCE((SELECT g.member_count <= $4 FROM groups g WHERE g.conversation_id = m.conversation_id), true)",
            &[
                (&convs, Type::UUID_ARRAY),
                (&users, Type::UUID_ARRAY),
                (&seqs, Type::INT8_ARRAY),
                (&RECEIPTS_TO_ALL_MAX_MEMBERS, Type::INT4),
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| (ConversationId(r.get(0)), UserId(r.get(1)), r.get(2), r.get(3))).collect())
}

/// Writes `user`'s settings of `conv` (`None` leaves one; `muted_until: Some(None)` unmutes);
/// `None` when they are not a member.
pub async fn update_settings<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    user: UserId,
    pinned: Option<bool>,
    muted_until: Option<Option<Timestamp>>,
    archived: Option<bool>,
) -> Result<Option<ConversationSettings>, StoreError> {
    let set_mute = muted_until.is_some();
    let mute = muted_until.flatten().map(|t| t.0);
    let rows = c
        .query_typed(
            "UPDATE members SET pinned = COALESCE($3, pinned), \
                    muted_until = CASE WHEN $4 THEN $5 ELSE muted_until END, archived = COALESCE($6, archived) \
             WHERE conversation_id = $1 AND user_id = $2 RETURNING pinned, muted_until, archived",
            &[
                (&conv.0, Type::UUID),
                (&user.0, Type::UUID),
                (&pinned, Type::BOOL),
                (&set_mute, Type::BOOL),
                (&mute, Type::TIMESTAMPTZ),
                (&archived, Type::BOOL),
            ],
        )
        .await?;
    Ok(rows.first().map(|r| ConversationSettings {
        conversation_id: conv,
        pinned: r.get(0),
        muted_until: r.get::<_, Option<DateTime<Utc>>>(1).map(Timestamp),
        archived: r.get(2),
    }))
}

/// Opaque position in the conversation list: (last activity, id) of the last item returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    /// Last activity of the last item returned.
    pub at: DateTime<Utc>,
    /// Its id, to break ties.
    pub id: ConversationId,
}

impl ListCursor {
    /// Text form for `next_cursor`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.timestamp_micros(), self.id)
    }
    /// Parses [`Self::encode`]'s output.
    pub fn decode(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('_')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Self { at, id: id.parse().ok()? })
    }
}

/// `user`'s conversations, most recent activity first, with unread and mention counts.
pub async fn list<C: GenericClient>(
    c: &C,
    user: UserId,
    after: Option<ListCursor>,
    limit: i64,
) -> Result<(Vec<ConversationSummary>, Option<ListCursor>), StoreError> {
    let (at, id) = match after {
        Some(cur) => (Some(cur.at), Some(cur.id.0)),
        None => (None, None),
    };
    let peer_cols = USER_COLS.replace("u.", "peer.");
    let sql = format!(
        "SELECT c.id, c.kind, c.title, c.last_seq, c.created_at, c.last_event_at, \
                m.read_seq, m.pinned, m.muted_until, m.archived, \
                counts.mentions, \
                peer.id IS NOT NULL, {peer_cols}, le.id IS NOT NULL, {EVENT_COLS_LE}, g.member_count, \
                counts.unread, peer.read_seq, peer.delivered_seq \
         FROM members m JOIN conversations c ON c.id = m.conversation_id \
         LEFT JOIN groups g ON g.conversation_id = c.id \
         LEFT JOIN LATERAL (SELECT u.*, pm.read_seq, pm.delivered_seq FROM members pm JOIN users u ON u.id = pm.user_id \
                            WHERE c.kind = 'direct' AND pm.conversation_id = c.id AND pm.user_id <> m.user_id \
                            LIMIT 1) peer ON true \
         CROSS JOIN LATERAL (SELECT count(*) AS unread, \
                                    count(*) FILTER (WHERE e.mention_all OR m.user_id = ANY(e.mentions)) AS mentions \
                             FROM events e WHERE e.conversation_id = c.id AND e.seq > m.read_seq \
                               AND e.kind = 'message' AND e.recalled_at IS NULL AND e.sender_id <> m.user_id \
                               AND NOT EXISTS (SELECT 1 FROM hidden_events h \
                                               WHERE h.user_id = m.user_id AND h.event_id = e.id)) counts \
         LEFT JOIN LATERAL (SELECT * FROM events e WHERE e.conversation_id = c.id \
                            ORDER BY e.seq DESC LIMIT 1) le ON true \
         WHERE m.user_id = $1 AND ($2::timestamptz IS NULL OR (c.last_event_at, c.id) < ($2, $3::uuid)) \
         ORDER BY c.last_event_at DESC, c.id DESC LIMIT $4"
    );
    let rows = c
        .query_typed(
            &sql,
            &[(&user.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&id, Type::UUID), (&(limit + 1), Type::INT8)],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut cursor = None;
    for (i, r) in rows.iter().enumerate() {
        if i as i64 == limit {
            break;
        }
        let kind = ConversationKind::from_db(r.get(1));
        let last_seq: Seq = r.get(3);
        let read_seq: Seq = r.get(6);
        // Columns after the peer's shift with USER_COL_COUNT.
        let p = 12 + USER_COL_COUNT;
        let peer = if r.get::<_, bool>(11) { Some(user_from_row(r, 12)) } else { None };
        let last_event = if r.get::<_, bool>(p) { Some(event_from_row(r, p + 1)?) } else { None };
        let id = ConversationId(r.get(0));
        cursor = Some(ListCursor { at: r.get(5), id });
        out.push(ConversationSummary {
            id,
            kind,
            title: r.get(2),
            peer,
            member_count: r.get::<_, Option<i32>>(p + 7).map(i64::from),
            last_event,
            last_seq,
            read_seq,
            unread_count: r.get(p + 8),
            mention_count: r.get(10),
            peer_read_seq: r.get(p + 9),
            peer_delivered_seq: r.get(p + 10),
            pinned: r.get(7),
            muted_until: r.get::<_, Option<DateTime<Utc>>>(8).map(Timestamp),
            archived: r.get(9),
            created_at: Timestamp(r.get(4)),
        });
    }
    let next = if rows.len() as i64 > limit { cursor } else { None };
    Ok((out, next))
}
