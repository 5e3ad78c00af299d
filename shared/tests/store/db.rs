//! A fresh, migrated database per test on the binary's one private Postgres cluster, and the
//! rows most tests need.

use std::path::PathBuf;
use std::sync::OnceLock;

use parley_shared::ids::{ConversationId, UserId};
use parley_shared::model::Role;
use parley_shared::store::groups::{self, NewGroup};
use parley_shared::store::notify::{Announcement, CHANNEL};
use parley_shared::store::{conversations, schema, users};
use tokio_postgres::{Client, NoTls};

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// This binary's scratch directory, removed at exit (after the cluster in it has stopped: its
/// stop is registered later, and exit handlers run in reverse order).
fn scratch_dir() -> &'static PathBuf {
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("parley-store-tests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        extern "C" fn remove() {
            if let Some(d) = DIR.get() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        // SAFETY: registering a plain extern "C" function without captured state.
        unsafe { libc_atexit(remove) };
        dir
    })
}

unsafe extern "C" {
    #[link_name = "atexit"]
    fn libc_atexit(f: extern "C" fn()) -> i32;
}

/// One test's database.
pub struct TestDb {
    url: String,
}

impl TestDb {
    /// Creates and migrates a database of its own.
    pub async fn new() -> TestDb {
        let dir = scratch_dir().join("pg");
        let admin = tokio::task::spawn_blocking(move || parley_pg_cluster::process_server(&dir))
            .await
            .expect("server task")
            .expect("the test Postgres server");
        let name = format!("s_{}", parley_shared::ids::new_uuid_v7().simple());
        connect(&admin).await.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("CREATE DATABASE");
        let db = TestDb { url: parley_pg_cluster::url_with_db(&admin, &name) };
        let mut c = db.connect().await;
        schema::migrate(&mut c).await.expect("migrations");
        db
    }

    /// A new connection to this database.
    pub async fn connect(&self) -> Client {
        connect(&self.url).await
    }
}

impl TestDb {
    /// A connection LISTENing on the nodes' channel, and the announcements it hears.
    pub async fn listen(&self) -> (Client, tokio::sync::mpsc::UnboundedReceiver<Announcement>) {
        use futures_util::StreamExt;
        let (client, mut conn) = tokio_postgres::connect(&self.url, NoTls).await.expect("connect");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = m {
                    let _ = tx.send(Announcement::parse(n.payload()).expect("a known announcement"));
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.expect("LISTEN");
        (client, rx)
    }
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// A user named `name`.
pub async fn user(c: &Client, name: &str) -> UserId {
    let id = UserId::new();
    users::insert(c, id, name, name, "x").await.expect("insert user");
    id
}

/// A group "team" (described "about", at most 100 members) with `owner` as its only member.
pub async fn group(c: &Client, owner: UserId, history_visible: bool) -> ConversationId {
    let id = ConversationId::new();
    let g = NewGroup {
        id,
        owner,
        name: "team",
        description: Some("about"),
        broadcast_only: false,
        history_visible,
        join_approval: false,
        max_members: 100,
    };
    groups::create(c, &g).await.expect("create group");
    groups::add_members(c, id, &[owner], Role::Owner, 0, None).await.expect("add the owner");
    id
}

/// The direct conversation of `a` and `b`.
pub async fn direct(c: &mut Client, a: UserId, b: UserId) -> ConversationId {
    let tx = c.transaction().await.expect("tx");
    let (conv, _) = conversations::get_or_create_direct(&tx, a, b).await.expect("direct");
    tx.commit().await.expect("commit");
    conv.id
}
