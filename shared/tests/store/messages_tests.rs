//! A message's life in storage: edits rewrite the row and its search entry, a recall scrubs the
//! content everywhere (edits, reactions, search), reactions and delete-for-me, exact unread and
//! mention counts, delivered positions, full-text search (unspaced scripts too), and the
//! per-user send limit across connections.

use std::time::Duration;

use parley_shared::error::ErrorCode;
use parley_shared::ids::{ClientMsgId, ConversationId, EventId, UserId};
use parley_shared::model::{Event, EventBody, MessageDraft, Role};
use parley_shared::rules::limits::UserRate;
use parley_shared::rules::search;
use parley_shared::service::messages::{SendPolicy, SendRequest, send_batch};
use parley_shared::service::receipts;
use parley_shared::store::events::{self, NewEvent, Page};
use parley_shared::store::groups;
use parley_shared::store::notify::Announcement;
use parley_shared::store::{conversations, messages, search as store_search};
use parley_shared::time::Timestamp;
use tokio_postgres::Client;

use crate::db::{TestDb, direct, group, user};

fn unlimited() -> SendPolicy {
    SendPolicy { per_user: UserRate { per_sec: 0, burst: 0 }, ..SendPolicy::default() }
}

async fn say(c: &mut Client, who: UserId, conv: ConversationId, text: &str) -> Event {
    let req = SendRequest {
        sender: who,
        conversation_id: conv,
        draft: MessageDraft::text(ClientMsgId(parley_shared::ids::new_uuid_v7().to_string()), text),
    };
    send_batch(c, None, &unlimited(), vec![req]).await.unwrap().remove(0).unwrap()
}

async fn log(c: &Client, conv: ConversationId) -> Vec<Event> {
    events::page(c, conv, Page::After(0), 0, 200).await.unwrap().0
}

async fn counts(c: &Client, user: UserId, conv: ConversationId) -> (i64, i64) {
    let (list, _) = conversations::list(c, user, None, 50).await.unwrap();
    let s = list.into_iter().find(|s| s.id == conv).expect("in the list");
    (s.unread_count, s.mention_count)
}

async fn find(c: &Client, user: UserId, q: &str) -> Vec<EventId> {
    let q = search::query(q).unwrap();
    store_search::messages(c, user, &q.tsquery(), None, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.id)
        .collect()
}

fn text_of(e: &Event) -> Option<&str> {
    match &e.body {
        EventBody::Message(m) => m.text.as_deref(),
        EventBody::Edit { text, .. } => text.as_deref(),
        _ => None,
    }
}

#[tokio::test]
async fn edits_and_recalls_rewrite_storage_and_search() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let m = say(&mut c, alice, conv, "meet at the harbour").await;
    assert_eq!(find(&c, bob, "harbour").await, vec![m.id]);

    // An edit: the row holds the new text, search follows, the log keeps the edit event.
    let mut heads = events::lock_heads(&c, &[conv]).await.unwrap();
    let body = EventBody::Edit { message_id: m.id, text: Some("meet at the station".into()) };
    events::append(&c, &mut heads, vec![NewEvent { conversation_id: conv, sender_id: alice, body }]).await.unwrap();
    messages::set_text(&c, m.id, "meet at the station", Timestamp::now_micros()).await.unwrap();
    assert!(find(&c, bob, "harbour").await.is_empty());
    assert_eq!(find(&c, bob, "station").await, vec![m.id]);
    let stored = log(&c, conv).await;
    let EventBody::Message(msg) = &stored[0].body else { panic!("a message") };
    assert_eq!(msg.text.as_deref(), Some("meet at the station"));
    assert!(msg.state.edited_at.is_some());

    // Reactions, then a recall: content, edits' text, reactions and search entry are gone.
    assert!(messages::add_reaction(&c, m.id, bob, "👍").await.unwrap());
    assert!(!messages::add_reaction(&c, m.id, bob, "👍").await.unwrap(), "one per user per emoji");
    assert!(messages::add_reaction(&c, m.id, alice, "👍").await.unwrap());
    let seen = messages::as_seen_by(&c, bob, log(&c, conv).await, true).await.unwrap();
    let EventBody::Message(msg) = &seen[0].body else { panic!() };
    assert_eq!((msg.state.reactions[0].count, msg.state.reactions[0].me), (2, true));
    messages::scrub(&c, m.id, Timestamp::now_micros()).await.unwrap();
    let after = log(&c, conv).await;
    assert!(after.iter().all(|e| text_of(e).is_none()), "no text left anywhere: {after:?}");
    let EventBody::Message(msg) = &after[0].body else { panic!() };
    assert!(msg.state.recalled_at.is_some() && msg.mentions.is_empty());
    assert!(find(&c, bob, "station").await.is_empty());
    let raw: i64 = c
        .query_one("SELECT count(*) FROM events WHERE body::text LIKE '%station%' OR body::text LIKE '%harbour%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw, 0, "not in storage at all");
    let reactions: i64 = c.query_one("SELECT count(*) FROM reactions", &[]).await.unwrap().get(0);
    assert_eq!(reactions, 0);
    assert!(messages::facts(&c, m.id).await.unwrap().unwrap().recalled);
}

#[tokio::test]
async fn unread_and_mention_counts_are_exact() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    let a1 = say(&mut c, alice, conv, "one").await;
    say(&mut c, bob, conv, "mine do not count").await;
    let a2 = say(&mut c, alice, conv, "two").await;
    let mut heads = events::lock_heads(&c, &[conv]).await.unwrap();
    let body = EventBody::Reaction { message_id: a1.id, emoji: "👍".into(), added: true };
    events::append(&c, &mut heads, vec![NewEvent { conversation_id: conv, sender_id: alice, body }]).await.unwrap();
    // Bob's own send moved his read position past a1: only a2 is unread.
    assert_eq!(counts(&c, bob, conv).await, (1, 0), "messages from others after the read position; no reactions");
    // A mention, then a recall and a delete-for-me drop out of the counts.
    let mut d = MessageDraft::text(ClientMsgId("m".into()), "hey bob");
    d.mentions = vec![bob];
    let men =
        send_batch(&mut c, None, &unlimited(), vec![SendRequest { sender: alice, conversation_id: conv, draft: d }])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
    assert_eq!(counts(&c, bob, conv).await, (2, 1));
    messages::scrub(&c, men.id, Timestamp::now_micros()).await.unwrap();
    assert_eq!(counts(&c, bob, conv).await, (1, 0));
    assert!(messages::hide(&c, bob, a2.id, conv, a2.seq).await.unwrap());
    assert!(!messages::hide(&c, bob, a2.id, conv, a2.seq).await.unwrap());
    assert_eq!(counts(&c, bob, conv).await, (0, 0));
    assert_eq!(counts(&c, alice, conv).await, (0, 0), "alice's read position moved with her sends");
    // Reading to the end: zero, whatever comes after in seq.
    let last = log(&c, conv).await.last().unwrap().seq;
    conversations::mark_read(&c, conv, bob, last).await.unwrap();
    assert_eq!(counts(&c, bob, conv).await, (0, 0));
    // What bob sees of the message he deleted.
    let seen = messages::as_seen_by(&c, bob, log(&c, conv).await, false).await.unwrap();
    let hidden = seen.iter().find(|e| e.id == a2.id).unwrap();
    let EventBody::Message(m) = &hidden.body else { panic!() };
    assert!(m.state.hidden && m.text.is_none());
    let theirs = messages::as_seen_by(&c, alice, log(&c, conv).await, false).await.unwrap();
    assert!(theirs.iter().any(|e| e.id == a2.id && text_of(e) == Some("two")), "alice still has it");
}

#[tokio::test]
async fn delivered_positions_only_move_forward_and_never_past_the_log() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let conv = direct(&mut c, alice, bob).await;
    for t in ["a", "b", "c"] {
        say(&mut c, alice, conv, t).await;
    }
    let moved = conversations::mark_delivered(&c, &[(conv, bob, 2), (conv, bob, 1)]).await.unwrap();
    assert_eq!(moved, vec![(conv, bob, 2, true)], "the highest of a batch, once");
    assert!(conversations::mark_delivered(&c, &[(conv, bob, 1)]).await.unwrap().is_empty(), "never back");
    let moved = conversations::mark_delivered(&c, &[(conv, bob, 99)]).await.unwrap();
    assert_eq!(moved[0].2, 3, "never past the log");
    let (list, _) = conversations::list(&c, alice, None, 10).await.unwrap();
    assert_eq!((list[0].peer_delivered_seq, list[0].peer_read_seq), (Some(3), Some(0)));
    conversations::mark_read(&c, conv, bob, 3).await.unwrap();
    let (list, _) = conversations::list(&c, alice, None, 10).await.unwrap();
    assert_eq!(list[0].peer_read_seq, Some(3));
}

#[tokio::test]
async fn delivered_receipts_are_announced_only_where_someone_hears_them() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let dm = direct(&mut c, alice, bob).await;
    let big = group(&c, alice, true).await;
    groups::add_members(&c, big, &[bob], Role::Member, 0, Some(alice)).await.unwrap();
    // Past RECEIPTS_TO_ALL_MAX_MEMBERS: only bob's own devices would hear, and they need not.
    c.execute("UPDATE groups SET member_count = 101 WHERE conversation_id = $1", &[&big.0]).await.unwrap();
    say(&mut c, alice, dm, "hi").await;
    say(&mut c, alice, big, "hello all").await;
    let (_listening, mut heard) = db.listen().await;

    let moved = receipts::mark_delivered(&mut c, &[(dm, bob, 1), (big, bob, 1)]).await.unwrap();
    assert_eq!(moved, 2, "both positions moved");
    let n = tokio::time::timeout(Duration::from_secs(5), heard.recv()).await.unwrap().unwrap();
    let Announcement::Delivered { receipts } = n else { panic!("not a delivered notice: {n:?}") };
    assert_eq!(receipts.iter().map(|(r, all)| (r.conversation_id, *all)).collect::<Vec<_>>(), vec![(dm, true)]);
    assert!(tokio::time::timeout(Duration::from_millis(300), heard.recv()).await.is_err(), "nothing else");
    let delivered: i64 = c
        .query_one("SELECT delivered_seq FROM members WHERE conversation_id = $1 AND user_id = $2", &[&big.0, &bob.0])
        .await
        .unwrap()
        .get(0);
    assert_eq!(delivered, 1, "the big group's position is recorded all the same");
}

#[tokio::test]
async fn search_finds_words_prefixes_and_unspaced_scripts_only_where_the_reader_may() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, eve) = (user(&c, "alice").await, user(&c, "bob").await, user(&c, "eve").await);
    let conv = direct(&mut c, alice, bob).await;
    let tokyo = say(&mut c, alice, conv, "我们明天去东京都玩吧").await;
    let en = say(&mut c, alice, conv, "Tomorrow we travel to Kyoto, then Tokyo").await;
    let jp = say(&mut c, bob, conv, "京都タワーに行きましょう").await;
    assert_eq!(find(&c, bob, "东京").await, vec![tokyo.id]);
    // Bigrams find 京都 inside 东京都 too: substring semantics, as users of these scripts expect.
    let mut kyoto = find(&c, bob, "京都").await;
    kyoto.sort();
    let mut want = vec![tokyo.id, jp.id];
    want.sort();
    assert_eq!(kyoto, want);
    assert_eq!(find(&c, bob, "タワー").await, vec![jp.id]);
    assert_eq!(find(&c, bob, "kyo").await, vec![en.id], "the last word is a prefix");
    assert_eq!(find(&c, bob, "TOKYO kyoto").await, vec![en.id], "case folded, every term");
    assert!(find(&c, bob, "osaka").await.is_empty());
    assert!(find(&c, eve, "tokyo").await.is_empty(), "not a member: nothing");
    assert!(messages::hide(&c, bob, en.id, conv, en.seq).await.unwrap());
    assert!(find(&c, bob, "tokyo").await.is_empty(), "deleted for bob");
    assert_eq!(find(&c, alice, "tokyo").await, vec![en.id], "not for alice");
}

#[tokio::test]
async fn the_per_user_send_limit_holds_across_connections() {
    let db = TestDb::new().await;
    let (mut c1, mut c2) = (db.connect().await, db.connect().await);
    let (alice, bob) = (user(&c1, "alice").await, user(&c1, "bob").await);
    let conv = direct(&mut c1, alice, bob).await;
    let policy = SendPolicy { per_user: UserRate { per_sec: 1, burst: 3 }, ..SendPolicy::default() };
    let req = |k: &str| SendRequest {
        sender: alice,
        conversation_id: conv,
        draft: MessageDraft::text(ClientMsgId(k.into()), "x"),
    };
    let first = send_batch(&mut c1, None, &policy, vec![req("a"), req("b")]).await.unwrap();
    assert!(first.iter().all(Result::is_ok));
    let second = send_batch(&mut c2, None, &policy, vec![req("c"), req("d")]).await.unwrap();
    assert!(second[0].is_ok(), "the burst's third");
    let e = second[1].clone().unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.retry_after.is_some_and(|s| s >= 1));
    // A retry of an acknowledged send is not a new send: it is answered, not limited.
    let again = send_batch(&mut c2, None, &policy, vec![req("a")]).await.unwrap();
    assert!(again[0].is_ok());
    // Bob has his own allowance.
    let bobs = SendRequest { sender: bob, ..req("e") };
    assert!(send_batch(&mut c2, None, &policy, vec![bobs]).await.unwrap()[0].is_ok());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(send_batch(&mut c1, None, &policy, vec![req("f")]).await.unwrap()[0].is_ok(), "a second later one more");
    assert_eq!(log(&c1, conv).await.len(), 5, "refused sends stored nothing");
}
