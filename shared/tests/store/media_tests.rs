//! Media rows on real Postgres: thumbnail jobs' leases (a node that dies holding a job loses it
//! to another when the lease ends), and sweeps that never delete a medium being attached.

use std::time::Duration;

use parley_shared::ids::{MediaId, UserId};
use parley_shared::model::Media;
use parley_shared::store::media::{self, MediaRow};
use parley_shared::store::media_jobs::{self, Sweep};
use parley_shared::time::Timestamp;
use tokio_postgres::Client;

use crate::db::{TestDb, user};

async fn upload(c: &Client, owner: UserId, ready: bool) -> MediaId {
    let id = MediaId::new();
    let row = MediaRow {
        media: Media {
            id,
            content_type: "image/png".into(),
            size: 10,
            filename: "a.png".into(),
            width: None,
            height: None,
            has_thumbnail: None,
        },
        owner,
        object_key: format!("media/{id}"),
        ready: false,
        thumb: None,
    };
    media::insert(c, &row, Timestamp::now()).await.unwrap();
    if ready {
        media::mark_ready(c, id, Some((4, 3)), Timestamp::now()).await.unwrap().unwrap();
    }
    id
}

fn later() -> Timestamp {
    Timestamp(chrono::Utc::now() + chrono::Duration::seconds(5))
}

#[tokio::test]
async fn a_taken_job_is_taken_again_when_its_lease_ends() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let owner = user(&c, "alice").await;
    let id = upload(&c, owner, true).await;
    media_jobs::enqueue(&c, id, Timestamp::now()).await.unwrap();
    media_jobs::enqueue(&c, id, Timestamp::now()).await.unwrap();

    let first = media_jobs::take(&c, Duration::from_millis(500)).await.unwrap().expect("a due job");
    assert_eq!((first.media.media.id, first.attempts), (id, 0));
    assert!(media_jobs::take(&c, Duration::from_secs(60)).await.unwrap().is_none(), "leased: nobody else takes it");
    // The taker died; its lease runs out.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = media_jobs::take(&c, Duration::from_secs(60)).await.unwrap().expect("taken again");
    assert_eq!((second.media.media.id, second.attempts), (id, 1));

    assert!(media_jobs::thumbnail_done(&c, id, "thumbs/x", "image/jpeg").await.unwrap());
    assert!(media_jobs::take(&c, Duration::ZERO).await.unwrap().is_none(), "done jobs are gone");
    let m = media::get(&c, id).await.unwrap().unwrap();
    assert_eq!(m.thumb, Some(("thumbs/x".into(), "image/jpeg".into())));
    assert_eq!(m.media.has_thumbnail, Some(true));

    // A job that cannot succeed is dropped, with the reason on the medium.
    let bad = upload(&c, owner, true).await;
    media_jobs::enqueue(&c, bad, Timestamp::now()).await.unwrap();
    media_jobs::take(&c, Duration::from_secs(60)).await.unwrap().unwrap();
    media_jobs::thumbnail_failed(&c, bad, "bomb", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(media_jobs::take(&c, Duration::ZERO).await.unwrap().is_none());
}

#[tokio::test]
async fn sweeps_find_the_unfinished_and_the_unreferenced_only() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let owner = user(&c, "alice").await;
    let pending = upload(&c, owner, false).await;
    let unused = upload(&c, owner, true).await;
    let avatar = upload(&c, owner, true).await;
    c.execute("UPDATE users SET avatar_media_id = $1 WHERE id = $2", &[&avatar.0, &owner.0]).await.unwrap();

    let found = |s| {
        let c = &c;
        async move {
            let mut ids: Vec<MediaId> =
                media_jobs::doomed(c, s, 100).await.unwrap().into_iter().map(|d| d.id).collect();
            ids.sort_by_key(|i| i.0);
            ids
        }
    };
    assert_eq!(found(Sweep::Unfinished(later())).await, vec![pending]);
    assert_eq!(found(Sweep::Unreferenced(later())).await, vec![unused], "an avatar is in use");
    assert!(found(Sweep::Unfinished(Timestamp(chrono::Utc::now() - chrono::Duration::hours(1)))).await.is_empty());
    let d = media_jobs::doomed(&c, Sweep::Unfinished(later()), 100).await.unwrap();
    assert_eq!(d[0].keys, vec![format!("media/{pending}")]);
}

#[tokio::test]
async fn a_sweep_and_an_attach_of_the_same_medium_never_both_win() {
    let db = TestDb::new().await;
    let (mut sweeper, mut sender) = (db.connect().await, db.connect().await);
    let owner = user(&sweeper, "alice").await;

    // The sweep locked it first: the attach waits, then finds it gone.
    let id = upload(&sweeper, owner, true).await;
    let sweep = sweeper.transaction().await.unwrap();
    let doomed = media_jobs::doomed(&sweep, Sweep::Unreferenced(later()), 100).await.unwrap();
    assert_eq!(doomed.len(), 1);
    let attach = tokio::spawn(async move {
        let tx = sender.transaction().await.unwrap();
        let n = media::lock_for_attach(&tx, &[id]).await.unwrap().len();
        tx.commit().await.unwrap();
        (sender, n)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!attach.is_finished(), "the attach waits for the sweep");
    media_jobs::forget(&sweep, &[id]).await.unwrap();
    sweep.commit().await.unwrap();
    let (mut sender, n) = attach.await.unwrap();
    assert_eq!(n, 0, "the attach finds nothing to attach");

    // The attach locked it first: the sweep passes it by.
    let id = upload(&sweeper, owner, true).await;
    let tx = sender.transaction().await.unwrap();
    assert_eq!(media::lock_for_attach(&tx, &[id]).await.unwrap().len(), 1);
    let sweep = sweeper.transaction().await.unwrap();
    assert!(media_jobs::doomed(&sweep, Sweep::Unreferenced(later()), 100).await.unwrap().is_empty());
    sweep.rollback().await.unwrap();
    tx.commit().await.unwrap();
}
