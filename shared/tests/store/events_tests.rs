//! The write path of the event log: seq assignment, idempotency, refusals, and concurrent
//! batches from several connections.

use std::collections::HashSet;
use std::time::Duration;

use parley_shared::error::ErrorCode;
use parley_shared::ids::{ClientMsgId, ConversationId, EventId, Seq, UserId};
use parley_shared::model::{Event, EventBody, MessageDraft, NewMessage};
use parley_shared::rules::limits::UserRate;
use parley_shared::rules::messages::SendFacts;
use parley_shared::service::messages::{SendPolicy, SendRequest, send_batch};
use parley_shared::store::conversations;
use parley_shared::store::events::{self, Page};
use parley_shared::store::statements::Statements;
use tokio_postgres::Client;

use crate::db::{TestDb, direct, user};

/// No word list, no rate limit: these tests are about the log.
fn open() -> SendPolicy {
    SendPolicy { per_user: UserRate { per_sec: 0, burst: 0 }, ..SendPolicy::default() }
}

fn send(sender: UserId, conv: ConversationId, key: &str, text: &str) -> SendRequest {
    SendRequest { sender, conversation_id: conv, draft: MessageDraft::text(ClientMsgId(key.to_owned()), text) }
}

async fn log(c: &Client, conv: ConversationId) -> Vec<Event> {
    events::page(c, conv, Page::After(0), 0, 200).await.expect("page").0
}

fn seqs(evs: &[Event]) -> Vec<Seq> {
    evs.iter().map(|e| e.seq).collect()
}

fn text(e: &Event) -> &str {
    match &e.body {
        EventBody::Message(m) => m.text.as_deref().unwrap_or(""),
        _ => "",
    }
}

/// The plan of each statement the commit path prepared, as a generic plan made now (while the
/// tables are nearly empty, as right after a deploy) under `settings`.
async fn generic_plans(c: &Client, statements: &Statements, settings: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, (sql, types)) in statements.prepared().into_iter().enumerate() {
        let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
        let nulls = vec!["NULL"; types.len()].join(", ");
        c.batch_execute(&format!("{settings}; SET LOCAL plan_cache_mode = force_generic_plan")).await.unwrap();
        c.batch_execute(&format!("PREPARE plan_{i}({}) AS {sql}", names.join(", "))).await.unwrap();
        let args = if types.is_empty() { String::new() } else { format!("({nulls})") };
        let rows = c.query(&format!("EXPLAIN EXECUTE plan_{i}{args}"), &[]).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        c.batch_execute(&format!("ROLLBACK; DEALLOCATE plan_{i}")).await.unwrap();
        out.push((sql, plan.join("\n")));
    }
    out
}

#[tokio::test]
async fn the_commit_path_finds_rows_by_key_whatever_the_tables_held_when_it_was_planned() {
    use parley_shared::store::tx::BEGIN_KEY_LOOKUPS;
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let statements = Statements::default();
    let first = send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "k1", "one")]).await.unwrap();
    let EventBody::Message(_) = &first[0].as_ref().unwrap().body else { panic!("a message") };
    let mut reply = send(bob, conv, "k2", "two");
    reply.draft.reply_to = Some(first[0].as_ref().unwrap().id);
    send_batch(&mut c, Some(&statements), &open(), vec![reply]).await.unwrap()[0].as_ref().unwrap();
    assert!(statements.len() >= 5, "the send path prepared its statements");

    // Without the commit path's settings, planning the same statements over empty tables picks
    // sequential scans (so the test can tell); with them, none.
    let plain = generic_plans(&c, &statements, "BEGIN").await;
    assert!(plain.iter().any(|(_, p)| p.contains("Seq Scan")), "empty tables invite sequential scans: {plain:#?}");
    for (sql, plan) in generic_plans(&c, &statements, BEGIN_KEY_LOOKUPS).await {
        assert!(!plan.contains("Seq Scan") && !plan.contains("Hash Join"), "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn a_write_that_fails_with_the_commit_rolls_the_whole_batch_back() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let statements = Statements::default();
    send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "k1", "one")]).await.unwrap()[0]
        .as_ref()
        .unwrap();
    // A row in the way of the next seq: the batch's insert fails, with its other writes (the
    // head, the sender's read position, the NOTIFY) already recorded behind it.
    c.execute(
        "INSERT INTO events (id, conversation_id, seq, kind, sender_id, body) \
         VALUES (gen_random_uuid(), $1, 2, 'message', $2, '{}')",
        &[&conv.0, &bob.0],
    )
    .await
    .unwrap();
    let failed = send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "k2", "two")]).await;
    assert!(failed.is_err(), "{failed:?}");
    let head: i64 = c.query_one("SELECT last_seq FROM conversations WHERE id = $1", &[&conv.0]).await.unwrap().get(0);
    assert_eq!(head, 1, "nothing of the failed batch stayed");
    let stored: i64 = c.query_one("SELECT count(*) FROM events WHERE client_msg_id = 'k2'", &[]).await.unwrap().get(0);
    assert_eq!(stored, 0);
    // The connection is usable again: no transaction was left open.
    c.execute("DELETE FROM events WHERE conversation_id = $1 AND seq = 2", &[&conv.0]).await.unwrap();
    let ok = send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "k2", "two")]).await.unwrap();
    assert_eq!(ok[0].as_ref().unwrap().seq, 2);
}

#[tokio::test]
async fn appends_get_consecutive_seqs_and_move_the_senders_read_position() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;

    let first = send_batch(&mut c, None, &open(), vec![send(alice, conv, "a1", "one"), send(bob, conv, "b1", "two")])
        .await
        .unwrap();
    // The commit workers' way: statements prepared once on the connection, then reused.
    let statements = Statements::default();
    let second = send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "a2", "three")]).await.unwrap();
    let prepared = statements.len();
    assert!(prepared >= 5, "the send path prepared its statements: {prepared}");
    let retried = send_batch(&mut c, Some(&statements), &open(), vec![send(alice, conv, "a2", "three")]).await.unwrap();
    assert_eq!(retried[0], second[0], "a retry through the prepared statements finds the stored event");
    assert_eq!(statements.len(), prepared, "and prepares nothing new");
    let stored: Vec<Event> = first.into_iter().chain(second).map(|r| r.unwrap()).collect();
    assert_eq!(seqs(&stored), vec![1, 2, 3]);
    let history = log(&c, conv).await;
    assert_eq!(history, stored, "what the send answered is what the log holds");
    assert_eq!(history.iter().map(text).collect::<Vec<_>>(), ["one", "two", "three"]);

    let (list, _) = conversations::list(&c, alice, None, 10).await.unwrap();
    assert_eq!((list[0].last_seq, list[0].read_seq), (3, 3), "alice sent the last message: read up to it");
    let (list, _) = conversations::list(&c, bob, None, 10).await.unwrap();
    assert_eq!((list[0].read_seq, list[0].unread_count), (2, 1));
}

#[tokio::test]
async fn a_retry_returns_the_stored_event_and_a_key_reused_elsewhere_is_409() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, carol) = (user(&c, "alice").await, user(&c, "bob").await, user(&c, "carol").await);
    let ab = direct(&mut c, alice, bob).await;
    let ac = direct(&mut c, alice, carol).await;

    let first =
        send_batch(&mut c, None, &open(), vec![send(alice, ab, "k", "hello")]).await.unwrap().remove(0).unwrap();
    let again = send_batch(&mut c, None, &open(), vec![send(alice, ab, "k", "hello (retried)")])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(again, first, "a retry answers the stored event");
    let elsewhere =
        send_batch(&mut c, None, &open(), vec![send(alice, ac, "k", "hi")]).await.unwrap().remove(0).unwrap_err();
    assert_eq!(elsewhere.code, ErrorCode::Conflict);
    // Another sender may use the same key.
    let bobs = send_batch(&mut c, None, &open(), vec![send(bob, ab, "k", "mine")]).await.unwrap().remove(0).unwrap();
    assert_eq!(bobs.seq, 2);
    assert_eq!(seqs(&log(&c, ab).await), vec![1, 2]);
    assert!(log(&c, ac).await.is_empty());
}

#[tokio::test]
async fn copies_in_one_batch_share_one_event() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let out = send_batch(
        &mut c,
        None,
        &open(),
        vec![send(alice, conv, "k", "x"), send(bob, conv, "k", "y"), send(alice, conv, "k", "x again")],
    )
    .await
    .unwrap();
    let out: Vec<Event> = out.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(out[0], out[2]);
    assert_eq!(seqs(&log(&c, conv).await), vec![1, 2]);
}

#[tokio::test]
async fn refused_sends_write_nothing_and_do_not_stop_the_batch() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, mallory) = (user(&c, "alice").await, user(&c, "bob").await, user(&c, "mallory").await);
    let conv = direct(&mut c, alice, bob).await;
    let mut mention_outsider = send(alice, conv, "m", "hey @mallory");
    mention_outsider.draft.mentions = vec![mallory];
    let mut reply_to_nothing = send(alice, conv, "r", "re");
    reply_to_nothing.draft.reply_to = Some(EventId::new());
    let empty = send(alice, conv, "e", "   ");
    let out = send_batch(
        &mut c,
        None,
        &open(),
        vec![
            send(alice, conv, "ok1", "fine"),
            send(mallory, conv, "x", "let me in"),
            mention_outsider,
            reply_to_nothing,
            empty,
            send(bob, conv, "ok2", "also fine"),
        ],
    )
    .await
    .unwrap();
    let codes: Vec<Option<ErrorCode>> = out.iter().map(|r| r.as_ref().err().map(|e| e.code)).collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(ErrorCode::NotFound),
            Some(ErrorCode::InvalidRequest),
            Some(ErrorCode::InvalidRequest),
            Some(ErrorCode::InvalidRequest),
            None
        ]
    );
    let history = log(&c, conv).await;
    assert_eq!(seqs(&history), vec![1, 2], "the accepted ones, consecutive");
    assert_eq!(history.iter().map(text).collect::<Vec<_>>(), ["fine", "also fine"]);
}

#[tokio::test]
async fn send_facts_read_memberships_replies_and_earlier_sends() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, carol) = (user(&c, "alice").await, user(&c, "bob").await, user(&c, "carol").await);
    let ab = direct(&mut c, alice, bob).await;
    let ac = direct(&mut c, alice, carol).await;
    let earlier =
        send_batch(&mut c, None, &open(), vec![send(alice, ab, "k", "first")]).await.unwrap().remove(0).unwrap();
    let mut probe = send(bob, ab, "new", "reply");
    probe.draft.reply_to = Some(earlier.id);
    probe.draft.mentions = vec![alice, carol];
    let msgs = vec![
        NewMessage { conversation_id: ab, sender_id: bob, draft: probe.draft },
        NewMessage { conversation_id: ac, sender_id: alice, draft: MessageDraft::text(ClientMsgId("k".into()), "x") },
    ];
    let facts = events::send_facts(&c, &msgs).await.unwrap();
    assert!(facts.membership(ab, bob).is_some());
    assert!(facts.membership(ab, alice).is_some(), "a mentioned member");
    assert!(facts.membership(ab, carol).is_none(), "a mentioned non-member");
    assert_eq!(facts.message(earlier.id).map(|m| m.conversation_id), Some(ab));
    assert_eq!(facts.existing(alice, &ClientMsgId("k".into())).map(|e| e.id), Some(earlier.id));
    assert!(facts.existing(bob, &ClientMsgId("new".into())).is_none());
}

/// Two connections commit batches into the same two conversations, touching them in opposite
/// orders: every message is stored once, each log has every seq once, and nothing deadlocks
/// (conversations are locked in id order).
#[tokio::test]
async fn concurrent_batches_from_two_connections_keep_every_seq_once() {
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 10;
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, carol) = (user(&c, "alice").await, user(&c, "bob").await, user(&c, "carol").await);
    let ab = direct(&mut c, alice, bob).await;
    let ac = direct(&mut c, alice, carol).await;

    let writer = |name: &'static str, order: [ConversationId; 2]| {
        let db_url_conn = db.connect();
        async move {
            let mut c = db_url_conn.await;
            let mut stored = Vec::new();
            for b in 0..BATCHES {
                let batch: Vec<SendRequest> = (0..PER_BATCH)
                    .map(|i| send(alice, order[i % 2], &format!("{name}-{b}-{i}"), &format!("{name} {b} {i}")))
                    .collect();
                for r in send_batch(&mut c, None, &open(), batch).await.expect("batch") {
                    stored.push(r.expect("accepted"));
                }
            }
            stored
        }
    };
    let both = async { tokio::join!(writer("w1", [ab, ac]), writer("w2", [ac, ab])) };
    let (s1, s2) = tokio::time::timeout(Duration::from_secs(60), both).await.expect("no deadlock, no stall");
    assert_eq!(s1.len() + s2.len(), 2 * BATCHES * PER_BATCH);
    let ids: HashSet<EventId> = s1.iter().chain(&s2).map(|e| e.id).collect();
    assert_eq!(ids.len(), 2 * BATCHES * PER_BATCH, "every acknowledged send is its own event");
    for conv in [ab, ac] {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (page, more) = events::page(&c, conv, Page::After(after), 0, 200).await.unwrap();
            after = page.last().map(|e| e.seq).unwrap_or(after);
            all.extend(page);
            if !more {
                break;
            }
        }
        assert_eq!(seqs(&all), (1..=(BATCHES * PER_BATCH) as Seq).collect::<Vec<_>>(), "{conv}: consecutive seqs");
    }
}

/// Two connections race the same `(sender, client_msg_id)`: one event, and both get it.
#[tokio::test]
async fn a_race_on_one_idempotency_key_stores_one_event() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let (mut c1, mut c2) = (db.connect().await, db.connect().await);
    // Every other round the commit workers' way: prepared, writes sent with the COMMIT.
    let (s1, s2) = (Statements::default(), Statements::default());
    for round in 0..20 {
        let key = format!("race-{round}");
        let policy = open();
        let (p1, p2) = if round % 2 == 1 { (Some(&s1), Some(&s2)) } else { (None, None) };
        let (r1, r2) = tokio::join!(
            send_batch(&mut c1, p1, &policy, vec![send(alice, conv, &key, "from one")]),
            send_batch(&mut c2, p2, &policy, vec![send(alice, conv, &key, "from two")]),
        );
        let e1 = r1.unwrap().remove(0).unwrap();
        let e2 = r2.unwrap().remove(0).unwrap();
        assert_eq!(e1, e2, "round {round}: both answers are the one stored event");
    }
    assert_eq!(seqs(&log(&c, conv).await), (1..=20).collect::<Vec<_>>());
}
