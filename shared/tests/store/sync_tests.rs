//! `sync_many`: many connections' syncs answered together give each exactly what its own sync
//! gives (replays, latest events, what the viewer may see, former memberships).

use std::collections::BTreeMap;

use parley_shared::ids::{ClientMsgId, ConversationId, Seq, UserId};
use parley_shared::model::{Event, EventBody, MessageDraft, Role};
use parley_shared::positions::Positions;
use parley_shared::service::messages::{SendPolicy, SendRequest, send_batch};
use parley_shared::service::realtime::{SyncRequest, sync_many};
use parley_shared::store::groups;
use parley_shared::store::messages;
use tokio_postgres::Client;

use crate::db::{TestDb, direct, group, user};

async fn say(c: &mut Client, who: UserId, conv: ConversationId, text: &str) -> Event {
    let policy = SendPolicy {
        per_user: parley_shared::rules::limits::UserRate { per_sec: 0, burst: 0 },
        ..SendPolicy::default()
    };
    let draft = MessageDraft::text(ClientMsgId(parley_shared::ids::new_uuid_v7().to_string()), text);
    let req = SendRequest { sender: who, conversation_id: conv, draft };
    send_batch(c, None, &policy, vec![req]).await.unwrap().remove(0).unwrap()
}

/// What a sync sends, comparable: (conversation, seq, hidden) of the replay and of the latest.
type Seen = (Vec<(ConversationId, Seq, bool)>, Vec<(ConversationId, Seq, bool)>);

fn seen(replay: &[Event], latest: &[Event]) -> Seen {
    let f = |evs: &[Event]| {
        evs.iter()
            .map(|e| {
                let hidden = matches!(&e.body, EventBody::Message(m) if m.state.hidden);
                (e.conversation_id, e.seq, hidden)
            })
            .collect()
    };
    (f(replay), f(latest))
}

#[tokio::test]
async fn a_batch_of_syncs_answers_each_as_its_own_sync_would() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let (alice, bob, carol, stranger) =
        (user(&c, "alice").await, user(&c, "bob").await, user(&c, "carol").await, user(&c, "zed").await);
    let dm = direct(&mut c, alice, bob).await;
    for i in 0..5 {
        say(&mut c, if i % 2 == 0 { alice } else { bob }, dm, &format!("dm {i}")).await;
    }
    let group = group(&c, alice, false).await;
    groups::add_members(&c, group, &[bob, carol], Role::Member, 0, Some(alice)).await.unwrap();
    let mut last = 0;
    for i in 0..4 {
        last = say(&mut c, alice, group, &format!("group {i}")).await.seq;
    }
    // Carol leaves after the fourth; bob deletes the third for himself.
    assert!(groups::remove_member(&c, group, carol, last).await.unwrap());
    say(&mut c, alice, group, "after carol").await;
    let third = say(&mut c, bob, dm, "bob hides this").await;
    assert!(messages::hide(&c, bob, third.id, dm, third.seq).await.unwrap());

    let wanted = |list: &[(ConversationId, Seq)]| list.iter().copied().collect::<BTreeMap<_, _>>();
    let reqs = vec![
        SyncRequest { user: alice, wanted: wanted(&[(dm, 0)]) },
        SyncRequest { user: alice, wanted: wanted(&[]) },
        SyncRequest { user: bob, wanted: wanted(&[(dm, 2), (group, 0)]) },
        SyncRequest { user: bob, wanted: wanted(&[(dm, 4)]) },
        SyncRequest { user: carol, wanted: wanted(&[(group, 1)]) },
        SyncRequest { user: stranger, wanted: wanted(&[(dm, 0), (group, 0)]) },
    ];
    let together = sync_many(&c, &reqs).await.unwrap();
    assert_eq!(together.len(), reqs.len());
    for (r, (_, replay, latest)) in reqs.iter().zip(&together) {
        let (_, alone_replay, alone_latest) = sync_many(&c, std::slice::from_ref(r)).await.unwrap().remove(0);
        assert_eq!(seen(replay, latest), seen(&alone_replay, &alone_latest), "{r:?}");
    }
    let (alice_dm, alice_all, bob_both, _, carol_left, strangers) =
        (&together[0], &together[1], &together[2], &together[3], &together[4], &together[5]);
    assert_eq!(alice_dm.1.len(), 6, "alice replays the whole dm");
    assert_eq!(alice_all.2.len(), 2, "alice listed nothing: the latest of both conversations");
    let bob_seen = seen(&bob_both.1, &bob_both.2).0;
    assert!(bob_seen.contains(&(dm, third.seq, true)), "bob's deleted message shows hidden to him");
    assert!(seen(&alice_dm.1, &alice_dm.2).0.contains(&(dm, third.seq, false)), "not to alice");
    let (plan, replay, latest) = carol_left.clone();
    let sent = plan.resolve(&mut Positions::new(), replay, latest).send;
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|e| e.conversation_id == group && e.seq <= last), "carol's view ends where she left");
    assert!(strangers.1.is_empty() && strangers.2.is_empty(), "nothing of other people's conversations");
}
