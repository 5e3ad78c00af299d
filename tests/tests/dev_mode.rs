//! `parley-node dev`: from nothing to a working server with one command, and a clean stop.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_tests::{Api, Ws, cmid, node_bin, run};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Whether a postmaster still runs on the cluster under `data_dir` (following the relocation
/// file a root run may leave).
fn postmaster_running(data_dir: &Path) -> bool {
    let cluster = std::fs::read_to_string(data_dir.join("postgres").join("CLUSTER_PATH"))
        .map(|p| p.trim().into())
        .unwrap_or_else(|_| data_dir.join("postgres"));
    let Ok(pid_file) = std::fs::read_to_string(Path::new(&cluster).join("postmaster.pid")) else {
        return false;
    };
    let pid: i32 = pid_file.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_runs_everything_and_stops_postgres_on_ctrl_c() -> Result<()> {
    run(180, async {
        let data_dir = std::env::temp_dir().join(format!("parley-dev-test-{}", uuid::Uuid::new_v4().simple()));
        let mut child = tokio::process::Command::new(node_bin())
            .args(["dev", "--http", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env("PARLEY_PG_NOSYNC", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning parley-node dev")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let addr = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await? {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["event"] == "listening" {
                    return Ok(v["http"].as_str().unwrap_or_default().to_owned());
                }
            }
            bail!("dev mode exited before listening")
        })
        .await
        .context("dev mode did not start within 120 s")??;
        ensure!(postmaster_running(&data_dir), "no private Postgres under {}", data_dir.display());

        // The whole product on one port: REST, auth, a WebSocket receiving a message.
        let api = Api::new(&format!("http://{addr}"));
        api.healthz().await?.ok(200)?;
        let alice = api.signup("alice").await?;
        let bob = api.signup("bob").await?;
        let conv = api.direct_id(&alice, &bob).await?;
        let mut ws = Ws::connect_synced(&format!("ws://{addr}/v1/ws"), bob.token(), &[&conv]).await?;
        let sent = api.send(alice.token(), &conv, &cmid(), "hello from dev mode").await?.ok(201)?;
        let got = ws.collect_events(&conv, 1, Duration::from_secs(10)).await?;
        ensure!(got[0]["event"]["id"] == sent["id"], "bob got {}", got[0]);

        // Ctrl-C: the node stops, then its Postgres.
        // SAFETY: sending SIGINT to our own child process.
        unsafe { libc::kill(child.id().context("pid")? as i32, libc::SIGINT) };
        let status =
            tokio::time::timeout(Duration::from_secs(60), child.wait()).await.context("dev mode did not exit")??;
        ensure!(status.success(), "dev mode exited with {status}");
        ensure!(!postmaster_running(&data_dir), "Postgres still runs after dev mode stopped");

        // Data and keys survive a restart of dev mode (same data dir): not re-tested here to
        // keep the suite short; the cluster reuse is covered by pg_cluster's unit tests.
        let _ = std::fs::remove_dir_all(&data_dir);
        Ok(())
    })
    .await
}
