//! Black-box test harness for Parley: a throwaway Postgres server shared by the test process
//! (one fresh migrated database per test), real `parley-node serve --rest` processes, the edge
//! worker under `wrangler dev` ([`edge`]; REST suites run each test against node and edge), a
//! REST client and a WebSocket client that speak the public contract.
//!
//! ```text
//! parley_tests::run(60, async {
//!     let env = TestEnv::start(2).await?;           // db + node1 + node2
//!     let (a, b, conv) = env.pair("alice", "bob").await?;
//!     let mut ws = Ws::connect(&env.nodes[1].ws_url(), b.token()).await?;
//!     ws.sync(&[]).await?;
//!     env.api(0).send_text(a.token(), &conv, "hi").await?;
//!     ws.collect_events(&conv, 1, Duration::from_secs(10)).await?;
//!     Ok(())
//! }).await
//! ```
//!
//! Environment: `PARLEY_TEST_DATABASE_URL` (use that server instead of a private cluster),
//! `PARLEY_NODE_BIN` (the binary), `PARLEY_TEST_KEEP=1` (keep the scratch directory with the
//! node logs). Every wait has a timeout; dropping a `Node` kills it and prints the tail of its
//! log, which libtest shows for failing tests.

#![warn(missing_docs)]

pub mod api;
pub mod big_group;
pub mod check;
pub mod cluster;
pub mod db_work;
pub mod edge;
pub mod faults;
pub mod media;
pub mod node;
pub mod quic;
pub mod s3;
pub mod storm;
pub mod ws;

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};

pub use api::{Api, EventsQuery, Resp, Session};
pub use cluster::{TestDb, keys, node_bin};
pub use edge::{Edge, EdgeOptions, RestEnv, Target};
pub use node::{Node, NodeOptions};
pub use ws::{Incoming, Synced, Upgrade, Ws};

/// Runs a test body with an overall time limit, so that no test can hang.
pub async fn run<F>(limit_secs: u64, body: F) -> Result<()>
where
    F: Future<Output = Result<()>>,
{
    tokio::time::timeout(Duration::from_secs(limit_secs), body)
        .await
        .with_context(|| format!("the test did not finish within {limit_secs} s"))?
}

/// Makes ring the process's TLS crypto provider, which reqwest (built without one, so that the
/// workspace links a single provider) needs before any client is built. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A fresh client_msg_id.
pub fn cmid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A database of its own plus `nodes` running nodes `node1`, `node2`, ...
pub struct TestEnv {
    /// The test's own database.
    pub db: TestDb,
    /// The running nodes, `node1` first.
    pub nodes: Vec<Node>,
}

impl TestEnv {
    /// A fresh database and `n` nodes with default options.
    pub async fn start(n: usize) -> Result<TestEnv> {
        let opts = (1..=n).map(|i| NodeOptions::new(&format!("node{i}"))).collect();
        TestEnv::start_with(opts).await
    }

    /// A fresh database and one node per entry of `opts`.
    pub async fn start_with(opts: Vec<NodeOptions>) -> Result<TestEnv> {
        let db = TestDb::create().await.context("creating the test database")?;
        let mut nodes = Vec::new();
        for o in opts {
            nodes.push(Node::start_with(&db, o).await?);
        }
        Ok(TestEnv { db, nodes })
    }

    /// A REST client for node `i` (0-based).
    pub fn api(&self, i: usize) -> Api {
        self.nodes[i].api()
    }

    /// The WebSocket URL of node `i` (0-based).
    pub fn ws_url(&self, i: usize) -> String {
        self.nodes[i].ws_url()
    }

    /// Registers two users (through node 0) and opens their direct conversation.
    pub async fn pair(&self, a: &str, b: &str) -> Result<(Session, Session, String)> {
        let api = self.api(0);
        let sa = api.signup(a).await?;
        let sb = api.signup(b).await?;
        let conv = api.direct_id(&sa, &sb).await?;
        Ok((sa, sb, conv))
    }
}
