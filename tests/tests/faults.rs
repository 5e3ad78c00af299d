//! Faults under load (`parley_tests::faults`), bounded: a few thousand acknowledged sends over
//! WebSocket and QUIC across three nodes through a SIGKILL, a SIGSTOP, killed LISTEN
//! connections, a Postgres restart and Postgres down, with clients that never read.
//! `parley-bench --faults` runs the same scenario with ≥ 100,000 sends.
//!
//! A binary of its own: it restarts and stops the process's Postgres cluster under itself.

use std::time::Duration;

use anyhow::{Result, ensure};
use parley_tests::faults::{FaultsConfig, faults_under_load};
use parley_tests::{TestEnv, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sends_survive_node_and_postgres_faults_exactly_once() -> Result<()> {
    run(300, async {
        let mut env = TestEnv::start_with(FaultsConfig::node_options()).await?;
        let cfg = FaultsConfig {
            groups: 4,
            members: 6,
            min_sends: 60,
            calm: Duration::from_secs(1),
            outage: Duration::from_secs(3),
        };
        let report = faults_under_load(&mut env, &cfg).await?;
        println!("{}", report.table());
        ensure!(report.faults.len() == 5, "every fault ran");
        ensure!(report.reconnects > 0, "no client had to reconnect: the faults missed");
        // The clients that never read were closed by the node as too slow (the driver waited for
        // node 1 to count both); QUIC's close says so, WebSocket's usually cannot get through.
        for c in &report.stall.closes {
            match c.transport {
                "quic" => ensure!(c.code == Some(0x1013) && c.reason == "not reading", "{c:?}"),
                _ => ensure!(c.code.is_none_or(|code| code == 1013), "{c:?}"),
            }
        }
        Ok(())
    })
    .await
}
