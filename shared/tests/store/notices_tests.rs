//! Notices and the seen marker.

use parley_shared::ids::{NoticeId, UserId};
use parley_shared::model::NoticeBody;
use parley_shared::store::notices;

use crate::db::{TestDb, user};

#[tokio::test]
async fn the_seen_marker_moves_forward_to_the_users_own_notices_only() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let (alice, bob) = (user(&c, "alice").await, user(&c, "bob").await);
    let body = |u: UserId| NoticeBody::FriendRemoved { user_id: u };
    let first = notices::insert(&c, alice, body(bob)).await.unwrap();
    let second = notices::insert(&c, alice, body(bob)).await.unwrap();
    let (to, _) = notices::insert_many(&c, &[alice, bob], &body(bob)).await.unwrap();
    assert_eq!(to.len(), 2);
    assert_eq!(notices::list(&c, alice, None, 10).await.unwrap().1, 3, "three unseen");

    notices::mark_seen(&c, alice, second.id).await.unwrap();
    let (list, unseen) = notices::list(&c, alice, None, 10).await.unwrap();
    assert_eq!(unseen, 1);
    assert!(list.iter().find(|n| n.id == first.id).is_some_and(|n| n.seen));
    notices::mark_seen(&c, alice, first.id).await.unwrap();
    assert_eq!(notices::list(&c, alice, None, 10).await.unwrap().1, 1, "never back");

    // An id from the future marks only what exists: later notices arrive unseen.
    let future = NoticeId(uuid::Uuid::from_u128(u128::MAX >> 2 | (7 << 76)));
    notices::mark_seen(&c, alice, future).await.unwrap();
    assert_eq!(notices::list(&c, alice, None, 10).await.unwrap().1, 0);
    notices::insert(&c, alice, body(bob)).await.unwrap();
    assert_eq!(notices::list(&c, alice, None, 10).await.unwrap().1, 1, "a new notice is unseen");
    // Nothing of the user's own at or before the id: nothing changes.
    notices::mark_seen(&c, bob, NoticeId(uuid::Uuid::nil())).await.unwrap();
    assert_eq!(notices::list(&c, bob, None, 10).await.unwrap().1, 1);
}
