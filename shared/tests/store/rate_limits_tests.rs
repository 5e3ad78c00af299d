//! Login limits on real Postgres: attempts spend from every key or from none, a success forgives
//! the account and refunds the address, and concurrent attempts never spend more than the burst.

use chrono::Duration;
use parley_shared::rules::limits::{LOGIN_PER_ACCOUNT_AND_ADDRESS, LOGIN_PER_ADDRESS, Slow, login_keys};
use parley_shared::store::rate_limits;
use parley_shared::time::Timestamp;

use crate::db::TestDb;

#[tokio::test]
async fn attempts_spend_from_every_key_or_none_and_success_forgives() {
    let db = TestDb::new().await;
    let c = db.connect().await;
    let now = Timestamp::now();
    let keys = login_keys(Some("alice"), Some("198.51.100.7".parse().unwrap()));
    for i in 0..LOGIN_PER_ACCOUNT_AND_ADDRESS.burst {
        assert_eq!(rate_limits::take(&c, &keys.all(), now).await.unwrap(), Ok(()), "attempt {i}");
    }
    let wait = rate_limits::take(&c, &keys.all(), now).await.unwrap().unwrap_err();
    assert_eq!(wait, 30);
    // Refused attempts spend nothing: the address still has its burst minus the five.
    let address_only = vec![keys.address[0].clone()];
    let left = LOGIN_PER_ADDRESS.burst - LOGIN_PER_ACCOUNT_AND_ADDRESS.burst;
    for i in 0..left {
        assert_eq!(rate_limits::take(&c, &address_only, now).await.unwrap(), Ok(()), "address attempt {i}");
    }
    assert!(rate_limits::take(&c, &address_only, now).await.unwrap().is_err(), "the address is spent");

    // A success forgives the account, and gives the address back one attempt.
    rate_limits::forgive(&c, &keys.account, &keys.address).await.unwrap();
    assert_eq!(rate_limits::take(&c, &address_only, now).await.unwrap(), Ok(()), "the refunded attempt");
    let account_only = keys.account.clone();
    assert_eq!(rate_limits::take(&c, &account_only, now).await.unwrap(), Ok(()), "the account starts afresh");
}

#[tokio::test]
async fn concurrent_attempts_never_spend_more_than_the_burst() {
    let db = TestDb::new().await;
    let rate = Slow { every: Duration::seconds(60), burst: 3 };
    let key = vec![("login:race".to_owned(), rate)];
    let now = Timestamp::now();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = db.connect().await;
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = c;
            let tx = c.transaction().await.unwrap();
            let r = rate_limits::take(&tx, &key, now).await.unwrap();
            tx.commit().await.unwrap();
            r
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 3, "exactly the burst gets through");
}
