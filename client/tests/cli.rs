//! The `parley` binary against a real node: two users register, one tails (`--json`), the
//! other sends over QUIC and over WebSocket, and the text shows up; history prints it too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_tests::{TestEnv, run};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery staple";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("parley-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn parley(config: &Path, server: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    c.arg("--config-dir").arg(config).arg("--server").arg(server).arg("--json");
    for var in ["PARLEY_SERVER", "PARLEY_NODES", "PARLEY_TRANSPORT", "PARLEY_QUIC_CERT_SHA256", "PARLEY_PASSWORD"] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null()).kill_on_drop(true);
    c
}

async fn output(mut c: Command) -> Result<Vec<Value>> {
    let out = tokio::time::timeout(WAIT, c.output()).await.context("parley timed out")??;
    ensure!(
        out.status.success(),
        "parley failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not a JSON line: {l:?}")))
        .collect()
}

/// Reads `tail --json` lines until one satisfies `pred`.
async fn wait_line(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .with_context(|| format!("tail printed no {what}"))??;
        let Some(line) = line else { bail!("tail exited before printing {what}") };
        let v: Value = serde_json::from_str(&line).with_context(|| format!("tail printed a non-JSON line {line:?}"))?;
        if pred(&v) {
            return Ok(v);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_sees_what_send_sends_over_quic_and_ws() -> Result<()> {
    run(180, async {
        let env = TestEnv::start(1).await?;
        let node = &env.nodes[0];
        let server = node.http_url();
        let (alice_dir, bob_dir) = (scratch("alice"), scratch("bob"));

        let mut reg = parley(&alice_dir, &server);
        reg.args(["register", "alice", "--password", PASSWORD]);
        output(reg).await?;
        let mut reg = parley(&bob_dir, &server);
        reg.args(["register", "bob", "--password", PASSWORD]);
        let bob = output(reg).await?;
        let bob_id = bob[0]["user"]["id"].as_str().context("register printed no user id")?.to_owned();
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(bob_dir.join("session.json"))?.permissions());
        ensure!(mode & 0o777 == 0o600, "session.json has mode {:o}", mode & 0o777);

        // Bob tails over WebSocket.
        let mut tail = parley(&bob_dir, &server);
        tail.arg("tail").stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = tail.spawn()?;
        let mut lines = BufReader::new(child.stdout.take().context("tail stdout")?).lines();
        wait_line(&mut lines, "synced", |v| v["type"] == "synced").await?;

        // Alice sends over QUIC (pinning the node's certificate), then over WebSocket.
        let quic = format!("quic://{}", node.quic_addr());
        let mut send = parley(&alice_dir, &server);
        send.args(["--transport", "quic", "--nodes", &quic, "--quic-cert-sha256", node.cert_sha256()]);
        send.args(["send", &bob_id, "hello", "over", "quic"]);
        let sent = output(send).await?;
        ensure!(sent[0]["text"] == "hello over quic", "send printed {sent:?}");
        let conv = sent[0]["conversation_id"].as_str().context("no conversation id")?.to_owned();
        let got = wait_line(&mut lines, "the QUIC message", |v| v["type"] == "event").await?;
        ensure!(got["event"]["text"] == "hello over quic", "tail printed {got}");

        let mut send = parley(&alice_dir, &server);
        send.args(["--transport", "ws", "send", "--conversation", &conv, "hello", "over", "ws"]);
        output(send).await?;
        let got = wait_line(&mut lines, "the WebSocket message", |v| v["type"] == "event").await?;
        ensure!(got["event"]["text"] == "hello over ws", "tail printed {got}");
        ensure!(got["event"]["seq"].as_i64() == sent[0]["seq"].as_i64().map(|s| s + 1), "seq did not follow: {got}");

        // History, and a clear answer for a username the server cannot look up.
        let mut hist = parley(&bob_dir, &server);
        hist.args(["history", &conv]);
        let texts: Vec<Value> = output(hist).await?.into_iter().map(|v| v["event"]["text"].clone()).collect();
        ensure!(texts.ends_with(&["hello over quic".into(), "hello over ws".into()]), "history: {texts:?}");
        let mut by_name = parley(&alice_dir, &server);
        by_name.args(["send", "bob", "by", "name"]);
        let out = tokio::time::timeout(WAIT, by_name.output()).await??;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.success() || err.contains("cannot look users up by name"),
            "send to a username: {} {err}",
            out.status
        );

        child.start_kill()?;
        let _ = child.wait().await;
        let _ = std::fs::remove_dir_all(&alice_dir);
        let _ = std::fs::remove_dir_all(&bob_dir);
        Ok(())
    })
    .await
}
