//! `parley-node dev`: from nothing to a working server with one command, and a clean stop.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_tests::{Api, Ws, cmid, media, node_bin, run};
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
    run(240, async {
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
        let mut store = serde_json::Value::Null;
        let addr = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await? {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["event"] == "object_store" {
                    store = v;
                } else if v["event"] == "listening" {
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

        // Media with no set-up: the embedded store takes the upload, the node makes the
        // thumbnail, bob downloads what alice posted.
        ensure!(store["endpoint"].as_str().is_some_and(|e| e.starts_with("http://127.0.0.1:")), "{store}");
        let png = media::picture("image/png", 1000, 400);
        let m = media::stored(&api, &alice, "image/png", "wide.png", png.clone()).await?;
        let id = m["id"].as_str().unwrap_or_default().to_owned();
        let body = serde_json::json!({"client_msg_id": cmid(), "media_ids": [id]});
        api.post(&format!("/v1/conversations/{conv}/messages"), Some(alice.token()), &body).await?.ok(201)?;
        ensure!(media::download(&api, &bob, &id, "").await? == png, "bob downloads the bytes alice sent");
        let thumb = media::thumbnail(&api, &bob, &id, Duration::from_secs(30)).await?;
        ensure!(thumb.starts_with(&[0xFF, 0xD8]), "an opaque image's thumbnail is a JPEG");
        ensure!(data_dir.join("objects").join("parley-media").exists(), "objects live under the data dir");

        // The store checks signatures like a real one: an expired URL and a changed signed header
        // are refused.
        let config = parley_shared::objects::ObjectsConfig {
            endpoint: store["endpoint"].as_str().map(str::to_owned),
            bucket: store["bucket"].as_str().unwrap_or_default().into(),
            region: store["region"].as_str().unwrap_or_default().into(),
            access_key_id: store["access_key_id"].as_str().unwrap_or_default().into(),
            secret_access_key: store["secret_access_key"].as_str().unwrap_or_default().into(),
        };
        let presigner = parley_shared::objects::Presigner::new(&config)?;
        let long_ago = parley_shared::time::Timestamp(chrono::Utc::now() - chrono::Duration::minutes(20));
        let expired = presigner.put("media/late", "image/png", 3, Duration::from_secs(600), long_ago);
        let http = reqwest::Client::new();
        let r = http.put(&expired.url).header("content-type", "image/png").body(vec![1, 2, 3]).send().await?;
        ensure!(r.status() == 403, "an expired upload URL was accepted: {}", r.status());
        let up = media::announce(&api, &alice, "image/png", "x.png", 3).await?;
        let r = http
            .put(up["upload_url"].as_str().unwrap_or_default())
            .header("content-type", "text/html")
            .body(vec![1, 2, 3])
            .send()
            .await?;
        ensure!(r.status() == 403, "a changed content-type was accepted: {}", r.status());
        let fresh = presigner.get(
            "media/nothing",
            "inline",
            "image/png",
            Duration::from_secs(60),
            parley_shared::time::Timestamp::now(),
        );
        ensure!(http.get(&fresh).send().await?.status() == 404, "a valid signature reaches the store");

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
