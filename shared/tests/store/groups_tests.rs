//! Groups' rows: members and their count, former members and where their view ended, the
//! membership facts a send reads, successors, invites and join requests.

use parley_shared::ids::{ConversationId, UserId};
use parley_shared::model::{GroupChanges, Role};
use parley_shared::store::groups;
use parley_shared::store::{conversations, events};

use crate::db::{TestDb, group, user};

#[tokio::test]
async fn members_count_and_former_members_follow_adds_and_removals() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let (owner, a, b) = (user(&c, "owner").await, user(&c, "aa").await, user(&c, "bb").await);
    let id = group(&c, owner, false).await;
    groups::add_members(&c, id, &[a, b], Role::Member, 7, Some(owner)).await.unwrap();
    let g = groups::get(&c, id).await.unwrap().unwrap();
    assert_eq!((g.member_count, g.name.as_str(), g.description.as_deref()), (3, "team", Some("about")));

    let m = conversations::membership(&c, id, a).await.unwrap().unwrap();
    assert_eq!((m.role, m.joined_seq, m.visible_after()), (Role::Member, 7, 7), "history hidden: from the join");
    assert!(m.group.is_some_and(|f| !f.broadcast_only && !f.dissolved));

    // Paged in join order.
    let first = groups::members(&c, id, None, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].0.user.id, owner);
    let rest = groups::members(&c, id, Some(first[1].1), 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    let all: Vec<UserId> = first.iter().chain(&rest).map(|(m, _)| m.user.id).collect();
    assert!(all.contains(&a) && all.contains(&b));

    assert!(groups::remove_member(&c, id, a, 9).await.unwrap());
    assert!(!groups::remove_member(&c, id, a, 10).await.unwrap(), "only once");
    assert_eq!(groups::get(&c, id).await.unwrap().unwrap().member_count, 2);
    assert!(conversations::membership(&c, id, a).await.unwrap().is_none());
    let former = conversations::former(&c, a, &[id, ConversationId::new()]).await.unwrap();
    assert_eq!(former.len(), 1);
    assert_eq!((former[0].left_seq, former[0].visible_after), (9, 7));
    assert!(conversations::former(&c, b, &[id]).await.unwrap().is_empty(), "b never left");

    // Back in: no longer a former member; the view starts at the new join.
    groups::add_members(&c, id, &[a], Role::Member, 12, Some(owner)).await.unwrap();
    assert!(conversations::former(&c, a, &[id]).await.unwrap().is_empty());
    let heads = conversations::memberships(&c, a).await.unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].visible_after, 12);
}

#[tokio::test]
async fn history_visible_groups_show_everything_and_settings_reach_the_facts() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let (owner, a) = (user(&c, "owner").await, user(&c, "aa").await);
    let id = group(&c, owner, true).await;
    groups::add_members(&c, id, &[a], Role::Guest, 5, Some(owner)).await.unwrap();
    let m = conversations::membership(&c, id, a).await.unwrap().unwrap();
    assert_eq!((m.role, m.visible_after()), (Role::Guest, 0));
    let changes = GroupChanges {
        name: Some("renamed".into()),
        description: Some(String::new()),
        broadcast_only: Some(true),
        history_visible: Some(false),
        ..GroupChanges::default()
    };
    groups::update(&c, id, &changes).await.unwrap();
    let g = groups::get(&c, id).await.unwrap().unwrap();
    assert_eq!(
        (g.name.as_str(), g.description.is_none(), g.broadcast_only, g.history_visible),
        ("renamed", true, true, false)
    );
    let m = conversations::membership(&c, id, a).await.unwrap().unwrap();
    assert!(m.group.is_some_and(|f| f.broadcast_only));
    assert_eq!(m.visible_after(), 5, "history hidden again: from the join");
    groups::dissolve(&c, id).await.unwrap();
    let m = conversations::membership(&c, id, a).await.unwrap().unwrap();
    assert!(m.group.is_some_and(|f| f.dissolved));
    // The write lock a membership change takes is the send's: the head is there.
    let heads = events::lock_heads(&c, &[id]).await.unwrap();
    assert_eq!(heads.get(&id), Some(&0));
}

#[tokio::test]
async fn successors_are_admins_first_then_members_by_seniority() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let owner = user(&c, "owner").await;
    let id = group(&c, owner, false).await;
    assert_eq!(groups::successor(&c, id, owner).await.unwrap(), None, "alone");
    let (m1, m2, g1, adm) = (user(&c, "m1").await, user(&c, "m2").await, user(&c, "g1").await, user(&c, "adm").await);
    groups::add_members(&c, id, &[g1], Role::Guest, 0, None).await.unwrap();
    groups::add_members(&c, id, &[m1], Role::Member, 0, None).await.unwrap();
    groups::add_members(&c, id, &[m2], Role::Member, 0, None).await.unwrap();
    assert_eq!(groups::successor(&c, id, owner).await.unwrap(), Some(m1), "the longest-standing member");
    groups::add_members(&c, id, &[adm], Role::Admin, 0, None).await.unwrap();
    assert_eq!(groups::successor(&c, id, owner).await.unwrap(), Some(adm), "an admin before any member");
    let mut managers = groups::managers(&c, id).await.unwrap();
    managers.sort();
    let mut want = vec![owner, adm];
    want.sort();
    assert_eq!(managers, want);
    assert_eq!(groups::groups_of(&c, m2).await.unwrap(), vec![id]);
}

#[tokio::test]
async fn invites_count_uses_and_revoke_once_and_join_requests_wait_once() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let (owner, a) = (user(&c, "owner").await, user(&c, "aa").await);
    let id = group(&c, owner, false).await;
    let inv = groups::create_invite(&c, "Code123", id, owner, 3600, Some(2)).await.unwrap();
    assert_eq!((inv.uses, inv.max_uses, inv.revoked_at), (0, Some(2), None));
    assert!(inv.expires_at.0 > inv.created_at.0 + chrono::Duration::minutes(59));
    groups::use_invite(&c, "Code123").await.unwrap();
    assert_eq!(groups::invite(&c, "Code123").await.unwrap().unwrap().uses, 1);
    assert!(groups::invite(&c, "code123").await.unwrap().is_none(), "codes are case-sensitive");
    assert!(groups::revoke_invite(&c, id, "Code123").await.unwrap());
    assert!(!groups::revoke_invite(&c, id, "Code123").await.unwrap(), "only once");
    assert!(!groups::revoke_invite(&c, ConversationId::new(), "Code123").await.unwrap(), "only its group's");
    assert_eq!(groups::invites(&c, id, None, 10).await.unwrap().len(), 1);

    assert!(groups::request_join(&c, id, a, "Code123").await.unwrap());
    assert!(!groups::request_join(&c, id, a, "Code123").await.unwrap(), "one waiting request per user");
    let waiting = groups::join_requests(&c, id, None, 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].user.id, a);
    assert!(groups::take_join_request(&c, id, a).await.unwrap());
    assert!(!groups::take_join_request(&c, id, a).await.unwrap());
}
