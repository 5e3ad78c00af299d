//! What committed transactions announce on the `parley` NOTIFY channel. Postgres caps a payload
//! below 8000 bytes: small things (receipts, notices, presence, and new events that fit) travel
//! whole, so nodes skip a fetch; anything else as ids and seqs, and nodes fetch it. A notice is
//! never the only copy of anything: a node that missed one catches up from the tables.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::statements::Query;
use super::{StoreError, Type};
use crate::ids::{ConversationId, EventId, NoticeId, Seq, SessionId, UserId};
use crate::model::{DeliveryReceipt, Event, Notice, NoticeBody, PresenceChange, ReadReceipt, TypingIndicator};
use crate::time::Timestamp;

/// The one channel every node LISTENs on. One channel keeps notices in commit order across kinds
/// (a conversation's membership notice always precedes its first events notice).
pub const CHANNEL: &str = "parley";

/// Most (conversation, seq) pairs in one events notice: ~50 bytes each keeps it far under 8000.
const EVENTS_PER_NOTICE: usize = 100;
/// Most bytes of one payload (Postgres refuses 8000 and more).
const MAX_PAYLOAD: usize = 7_900;

/// What a commit announces on [`CHANNEL`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Announcement {
    /// These conversations have events up to (at least) these seqs.
    Events {
        /// (conversation, latest seq) pairs.
        c: Vec<(ConversationId, Seq)>,
        /// The events themselves, those that fit, oldest first per conversation: a node that
        /// has delivered up to just before them delivers them without a fetch, and fetches
        /// whatever of `c` they do not cover. Absent from notices of older nodes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        e: Vec<Event>,
    },
    /// Users joined a conversation whose log stood at `seq`.
    Members {
        /// Conversation.
        conversation_id: ConversationId,
        /// New members.
        user_ids: Vec<UserId>,
        /// The conversation's last seq when they joined.
        seq: Seq,
    },
    /// Users left a conversation (left, removed): after delivering its events up to `seq` (their
    /// `member_left`), nodes stop sending it to their connections.
    Left {
        /// Conversation.
        conversation_id: ConversationId,
        /// Former members.
        user_ids: Vec<UserId>,
        /// The last seq they may see.
        seq: Seq,
    },
    /// A session was revoked (logout, refresh-token reuse): close its sockets.
    Revoked {
        /// The auth session.
        session_id: SessionId,
    },
    /// A member's read position moved; `all`: every member hears of it (else only the member's
    /// own devices: a big group).
    Read {
        /// The new position.
        receipt: ReadReceipt,
        /// Whether all members hear of it.
        all: bool,
    },
    /// Members' devices received the log up to these seqs (a batch per node per tick), each
    /// with whether all members hear of it.
    Delivered {
        /// The new positions.
        receipts: Vec<(DeliveryReceipt, bool)>,
    },
    /// A user deleted a message for themselves: their other devices drop it.
    Hidden {
        /// The user.
        user_id: UserId,
        /// Where.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// Its seq.
        seq: Seq,
    },
    /// The sensitive-word list changed: reload it.
    Words,
    /// A medium waits for its thumbnail: a node with time takes the job.
    MediaJob,
    /// A member is typing.
    Typing(TypingIndicator),
    /// A notice for one user's connected devices (small: it travels whole).
    Notice {
        /// The user.
        user_id: UserId,
        /// The notice, as stored.
        notice: Box<Notice>,
    },
    /// The same notice for many users (a group's new members), each with its own id.
    Notices {
        /// (user, notice id) pairs.
        to: Vec<(UserId, NoticeId)>,
        /// When.
        created_at: Timestamp,
        /// What.
        body: Box<NoticeBody>,
    },
    /// Two users became friends, or stopped being friends: nodes update who sees whose presence.
    Friends {
        /// One of them.
        a: UserId,
        /// The other.
        b: UserId,
        /// Friends now.
        friends: bool,
    },
    /// Users went online or offline (a batch per node per tick; the node filters by friendship).
    Presence {
        /// The changes.
        changes: Vec<PresenceChange>,
    },
}

impl Announcement {
    /// Parses a payload; unknown payloads (from a newer node) are skipped by the caller.
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// Queues `notice` for delivery when the surrounding transaction commits.
pub async fn send<C: Query>(c: &C, notice: &Announcement) -> Result<(), StoreError> {
    send_payload(c, &serde_json::to_string(notice).expect("notices serialise")).await
}

/// Most users in one members, left or notices announcement: ~40 (or ~80) bytes each.
const USERS_PER_NOTICE: usize = 80;

/// Announces that `users` joined `conv` whose log stood at `seq`, split to respect the payload
/// limit. Sent before the events that record the joins, so nodes follow before they fetch.
pub async fn send_members<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    users: &[UserId],
    seq: Seq,
) -> Result<(), StoreError> {
    send_users(c, users, |user_ids| Announcement::Members { conversation_id: conv, user_ids, seq }).await
}

/// Announces that `users` left `conv` at `seq`, split to respect the payload limit. Sent after
/// the events that record it.
pub async fn send_left<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    users: &[UserId],
    seq: Seq,
) -> Result<(), StoreError> {
    send_users(c, users, |user_ids| Announcement::Left { conversation_id: conv, user_ids, seq }).await
}

/// One announcement per [`USERS_PER_NOTICE`] users.
async fn send_users<C: GenericClient>(
    c: &C,
    users: &[UserId],
    make: impl Fn(Vec<UserId>) -> Announcement,
) -> Result<(), StoreError> {
    for chunk in users.chunks(USERS_PER_NOTICE) {
        send(c, &make(chunk.to_vec())).await?;
    }
    Ok(())
}

/// Announces one notice body stored for many users; bodies must be small (ids and a name).
pub async fn send_notices<C: GenericClient>(
    c: &C,
    to: &[(UserId, NoticeId)],
    created_at: Timestamp,
    body: &NoticeBody,
) -> Result<(), StoreError> {
    for chunk in to.chunks(USERS_PER_NOTICE) {
        send(c, &Announcement::Notices { to: chunk.to_vec(), created_at, body: Box::new(body.clone()) }).await?;
    }
    Ok(())
}

/// Most delivery receipts in one announcement: ~120 bytes each.
const RECEIPTS_PER_NOTICE: usize = 50;

/// Announces delivered positions, split to respect the payload limit.
pub async fn send_delivered<C: GenericClient>(c: &C, receipts: &[(DeliveryReceipt, bool)]) -> Result<(), StoreError> {
    for chunk in receipts.chunks(RECEIPTS_PER_NOTICE) {
        send(c, &Announcement::Delivered { receipts: chunk.to_vec() }).await?;
    }
    Ok(())
}

/// Most presence changes in one announcement: ~110 bytes each keeps it far under 8000.
const PRESENCE_PER_NOTICE: usize = 50;

/// Announces presence changes, split to respect the payload limit.
pub async fn send_presence<C: GenericClient>(c: &C, changes: &[PresenceChange]) -> Result<(), StoreError> {
    for chunk in changes.chunks(PRESENCE_PER_NOTICE) {
        send(c, &Announcement::Presence { changes: chunk.to_vec() }).await?;
    }
    Ok(())
}

/// Announces new events (`events` in seq order per conversation, `heads` each touched
/// conversation's new last seq), split into notices that respect the payload limit and carry the
/// events that fit ([`pack_events`]).
pub async fn send_events<C: Query>(
    c: &C,
    heads: &[(ConversationId, Seq)],
    events: &[&Event],
) -> Result<(), StoreError> {
    for payload in pack_events(heads, events) {
        send_payload(c, &payload).await?;
    }
    Ok(())
}

async fn send_payload<C: Query>(c: &C, payload: &str) -> Result<(), StoreError> {
    c.query_typed("SELECT pg_notify($1, $2)", &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)]).await?;
    Ok(())
}

/// The payloads announcing `heads`: every head once, and as many of `events` as fit beside them
/// (a conversation's events may spread over several notices, in order; an event too big for any
/// notice, and every later one of its conversation, is left for nodes to fetch).
pub fn pack_events(heads: &[(ConversationId, Seq)], events: &[&Event]) -> Vec<String> {
    let mut by_conv: std::collections::HashMap<ConversationId, Vec<&Event>> = std::collections::HashMap::new();
    for ev in events {
        by_conv.entry(ev.conversation_id).or_default().push(ev);
    }
    let mut out = Vec::new();
    let mut notice = EventsNotice::default();
    for &(conv, head) in heads {
        if notice.c.len() >= EVENTS_PER_NOTICE {
            notice.flush(&mut out);
        }
        for ev in by_conv.get(&conv).map(Vec::as_slice).unwrap_or_default() {
            let json = serde_json::to_string(ev).expect("events serialise");
            if !notice.fits(&json) {
                notice.flush(&mut out);
                if !notice.fits(&json) {
                    break;
                }
            }
            notice.add(conv, ev.seq, json);
        }
        notice.head(conv, head);
    }
    notice.flush(&mut out);
    out
}

/// An events notice being filled, its events kept serialised.
#[derive(Default)]
struct EventsNotice {
    c: Vec<(ConversationId, Seq)>,
    e: Vec<String>,
    bytes: usize,
}

impl EventsNotice {
    /// Generous sizes of the fixed part and of one head (`["<uuid>",<seq>],`).
    const BASE: usize = 40;
    const HEAD: usize = 64;

    fn fits(&self, json: &str) -> bool {
        Self::BASE + (self.c.len() + 1) * Self::HEAD + self.bytes + json.len() < MAX_PAYLOAD
    }

    fn add(&mut self, conv: ConversationId, seq: Seq, json: String) {
        self.bytes += json.len() + 1;
        self.e.push(json);
        self.head(conv, seq);
    }

    /// Announces `conv` up to `seq` in this notice.
    fn head(&mut self, conv: ConversationId, seq: Seq) {
        match self.c.last_mut() {
            Some((c, s)) if *c == conv => *s = seq,
            _ => self.c.push((conv, seq)),
        }
    }

    fn flush(&mut self, out: &mut Vec<String>) {
        if self.c.is_empty() {
            return;
        }
        let heads = serde_json::to_string(&self.c).expect("heads serialise");
        let payload = if self.e.is_empty() {
            format!(r#"{{"t":"events","c":{heads}}}"#)
        } else {
            format!(r#"{{"t":"events","c":{heads},"e":[{}]}}"#, self.e.join(","))
        };
        out.push(payload);
        *self = EventsNotice::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_announcements_fit_the_payload_limit() {
        let t = crate::time::Timestamp::now();
        let changes: Vec<_> = (0..PRESENCE_PER_NOTICE)
            .map(|_| PresenceChange { user_id: UserId::new(), online: false, last_seen_at: Some(t) })
            .collect();
        let json = serde_json::to_string(&Announcement::Presence { changes }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }

    #[test]
    fn receipts_fit_the_payload_limit() {
        let r = DeliveryReceipt { conversation_id: ConversationId::new(), user_id: UserId::new(), seq: i64::MAX };
        let json =
            serde_json::to_string(&Announcement::Delivered { receipts: vec![(r, true); RECEIPTS_PER_NOTICE] }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }

    #[test]
    fn user_lists_fit_the_payload_limit() {
        let users: Vec<_> = (0..USERS_PER_NOTICE).map(|_| UserId::new()).collect();
        let conv = ConversationId::new();
        for a in [
            Announcement::Members { conversation_id: conv, user_ids: users.clone(), seq: i64::MAX },
            Announcement::Left { conversation_id: conv, user_ids: users.clone(), seq: i64::MAX },
            Announcement::Notices {
                to: users.iter().map(|u| (*u, NoticeId::new())).collect(),
                created_at: crate::time::Timestamp::now(),
                body: Box::new(NoticeBody::AddedToGroup {
                    group_id: conv,
                    name: "n".repeat(crate::rules::groups::MAX_NAME_CHARS * 4),
                    by: UserId::new(),
                }),
            },
        ] {
            let json = serde_json::to_string(&a).unwrap();
            assert!(json.len() < 7900, "{}", json.len());
        }
    }

    #[test]
    fn events_notice_fits_the_payload_limit() {
        let heads: Vec<_> = (0..EVENTS_PER_NOTICE).map(|_| (ConversationId::new(), i64::MAX)).collect();
        let json = serde_json::to_string(&Announcement::Events { c: heads, e: Vec::new() }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }

    fn message(conv: ConversationId, seq: Seq, text: &str) -> Event {
        Event {
            id: EventId::new(),
            conversation_id: conv,
            seq,
            sender_id: UserId::new(),
            created_at: crate::time::Timestamp::now(),
            body: crate::model::EventBody::Message(
                crate::model::MessageDraft::text(crate::ids::ClientMsgId("m".repeat(64)), text.to_owned()).into(),
            ),
        }
    }

    /// Parses payloads back: every one under the limit, heads and events as they went in.
    fn unpack(payloads: &[String]) -> (Vec<(ConversationId, Seq)>, Vec<Event>) {
        let (mut heads, mut events) = (Vec::new(), Vec::new());
        for p in payloads {
            assert!(p.len() < 8000, "{} bytes", p.len());
            match Announcement::parse(p) {
                Some(Announcement::Events { c, e }) => {
                    heads.extend(c);
                    events.extend(e);
                }
                other => panic!("not an events notice: {other:?} from {p}"),
            }
        }
        (heads, events)
    }

    #[test]
    fn small_events_travel_whole_and_every_head_is_announced() {
        let convs: Vec<_> = (0..3).map(|_| ConversationId::new()).collect();
        let events: Vec<Event> =
            (0..60).map(|i| message(convs[i % 3], (i / 3) as Seq + 1, &format!("hello {i} ünïcødé"))).collect();
        let mut ordered: Vec<&Event> = events.iter().collect();
        ordered.sort_by_key(|e| (e.conversation_id.0, e.seq));
        let heads: Vec<_> = convs.iter().map(|c| (*c, 20)).collect();
        let payloads = pack_events(&heads, &ordered);
        assert!(payloads.len() > 1, "60 events do not fit one notice");
        let (got_heads, got_events) = unpack(&payloads);
        // Compared as they travel (timestamps go in milliseconds).
        let wire =
            |evs: &mut dyn Iterator<Item = &Event>| evs.map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>();
        assert!(
            wire(&mut got_events.iter()) == wire(&mut ordered.into_iter()),
            "every event, in order per conversation"
        );
        for (c, s) in heads {
            assert_eq!(got_heads.iter().filter(|(gc, _)| *gc == c).map(|(_, s)| *s).max(), Some(s));
        }
    }

    #[test]
    fn an_event_too_big_to_travel_is_left_to_fetch_with_the_rest_of_its_conversation() {
        let (big, small) = (ConversationId::new(), ConversationId::new());
        let text = "€".repeat(crate::rules::messages::MAX_TEXT_CHARS);
        let events =
            [message(big, 7, "fits"), message(big, 8, &text), message(big, 9, "after"), message(small, 3, "x")];
        let refs: Vec<&Event> = events.iter().collect();
        let (heads, got) = unpack(&pack_events(&[(big, 9), (small, 3)], &refs));
        assert_eq!(got.iter().map(|e| (e.conversation_id, e.seq)).collect::<Vec<_>>(), [(big, 7), (small, 3)]);
        assert!(heads.contains(&(big, 9)) && heads.contains(&(small, 3)), "{heads:?}");
    }

    #[test]
    fn many_conversations_without_events_split_by_heads() {
        let heads: Vec<_> = (0..250).map(|_| (ConversationId::new(), i64::MAX)).collect();
        let (got, events) = unpack(&pack_events(&heads, &[]));
        assert_eq!(got, heads);
        assert!(events.is_empty());
    }
}
