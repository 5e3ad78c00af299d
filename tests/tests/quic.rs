//! The QUIC transport (ALPN `parley/1`, length-prefixed JSON frames) against real nodes: fan-out
//! with the other transports across nodes, refusals (foreign ALPN, bad token, oversized frame),
//! SIGTERM, connection migration, and an independent client (Python aioquic) for interop.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_tests::quic::{ALPN, Close, Quic, handshake};
use parley_tests::{NodeOptions, TestEnv, Ws, check, run};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// The delivered frame carries the event that was sent.
fn same_event(frame: &Value, sent: &Value) -> Result<()> {
    let ev = check::event_frame(frame)?;
    for key in ["id", "conversation_id", "seq", "kind", "sender_id", "text", "client_msg_id"] {
        ensure!(ev[key] == sent[key], "delivered and sent events differ on `{key}`:\n{ev}\n{sent}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_send_on_node1_reaches_quic_client_on_node2() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let n2 = &env.nodes[1];
        let mut bob2 = Quic::connect_synced(n2.quic_addr(), n2.cert_sha256(), bob.token(), &[&conv]).await?;
        ensure!(bob2.node_id() == "node2" && bob2.user_id() == bob.user_id, "ready: {}", bob2.ready);

        let sent = env.api(0).send_text(alice.token(), &conv, "hello, QUIC").await?;
        let got = bob2.collect_events(&conv, 1, WAIT).await.context("bob over QUIC on node2")?;
        same_event(&got[0], &sent)?;
        let sent2 = env.api(0).send_text(alice.token(), &conv, "second").await?;
        same_event(&bob2.collect_events(&conv, 1, WAIT).await?[0], &sent2)?;
        bob2.ping().await?;

        // The session core's gauge counts QUIC connections under their own label.
        let metrics = reqwest::get(format!("{}/metrics", n2.http_url())).await?.text().await?;
        ensure!(
            metrics.lines().any(|l| l.starts_with("parley_connections{transport=\"quic\"} 1")),
            "no parley_connections{{transport=\"quic\"}} 1 in node2's metrics:\n{metrics}"
        );
        bob2.close().await;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_send_on_node2_reaches_websocket_and_rest_on_node1() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let n2 = &env.nodes[1];
        let mut bob2 = Quic::connect_synced(n2.quic_addr(), n2.cert_sha256(), bob.token(), &[&conv]).await?;

        let sent = bob2.send_message_ok(&conv, "from a phone over QUIC").await?;
        check::message_event(
            &sent,
            check::Msg {
                conversation_id: Some(&conv),
                sender_id: Some(&bob.user_id),
                text: Some("from a phone over QUIC"),
                ..Default::default()
            },
        )?;
        same_event(&alice1.collect_events(&conv, 1, WAIT).await.context("alice's WebSocket on node1")?[0], &sent)?;
        // The sender's own QUIC connection gets the event too (for its other devices' sake).
        same_event(&bob2.collect_events(&conv, 1, WAIT).await?[0], &sent)?;
        let stored = env.api(0).messages(alice.token(), &conv).await?;
        ensure!(stored.len() == 1 && stored[0]["id"] == sent["id"], "REST history on node1: {stored:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_or_missing_alpn_is_refused() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let n = &env.nodes[0];
        // A client offering only another protocol, or none, fails the TLS handshake with
        // no_application_protocol (TLS alert 120, QUIC CRYPTO_ERROR 0x178). (Were a handshake
        // without ALPN ever to complete, the node closes it with 0x1002.)
        let alpns: [&[&[u8]]; 3] = [&[b"h3"], &[b"parley/2", b"hq-interop"], &[]];
        for offered in alpns {
            match handshake(n.quic_addr(), n.cert_sha256(), offered).await {
                Ok(_) => bail!("a connection offering ALPN {offered:?} was accepted"),
                Err(e) => {
                    let text = format!("{e:#}");
                    ensure!(text.contains("error 120"), "ALPN {offered:?} refused, but not by ALPN: {text}");
                }
            }
        }

        // The right ALPN still works.
        let (alice, _bob, _conv) = env.pair("alice", "bob").await?;
        let mut q = Quic::connect(n.quic_addr(), n.cert_sha256(), alice.token()).await?;
        q.ping().await?;
        let (_ep, ok) = handshake(n.quic_addr(), n.cert_sha256(), &[b"h3", ALPN]).await?;
        ok.close(0u32.into(), b"");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_gets_an_error_frame_then_a_policy_close() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let n = &env.nodes[0];
        let mut q = Quic::open(n.quic_addr(), n.cert_sha256()).await?;
        q.send_json(&json!({"type": "auth", "token": "not-a-token"})).await?;
        let closing = q.wait_close(WAIT).await?;
        ensure!(
            closing.frames.len() == 1
                && closing.frames[0]["type"] == "error"
                && closing.frames[0]["code"] == "unauthorized",
            "expected exactly an unauthorized error frame, got {:?}",
            closing.frames
        );
        ensure!(closing.ended.app_code() == Some(Close::Policy.quic_code().into()), "closed with {:?}", closing.ended);

        // A first frame that is not auth is refused the same way.
        let (alice, _bob, _conv) = env.pair("alice", "bob").await?;
        let mut q = Quic::open(n.quic_addr(), n.cert_sha256()).await?;
        q.send_json(&json!({"type": "ping", "id": 1})).await?;
        let closing = q.wait_close(WAIT).await?;
        ensure!(closing.frames.first().is_some_and(|f| f["type"] == "error"), "{:?}", closing.frames);
        ensure!(closing.ended.app_code() == Some(Close::Policy.quic_code().into()), "closed with {:?}", closing.ended);
        Quic::connect(n.quic_addr(), n.cert_sha256(), alice.token()).await?.ping().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_that_connection_only() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let n = &env.nodes[0];
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut first = Quic::connect_synced(n.quic_addr(), n.cert_sha256(), alice.token(), &[&conv]).await?;
        let mut second = Quic::connect_synced(n.quic_addr(), n.cert_sha256(), alice.token(), &[&conv]).await?;

        // Announce 64 KiB + 1: the node closes as soon as it reads the length.
        let too_big = (64 * 1024 + 1) as u32;
        first.send_raw(&too_big.to_be_bytes()).await?;
        // The node may already have stopped reading: this write can fail, the close is the point.
        let _ = first.send_raw(&[b'x'; 1024]).await;
        let closing = first.wait_close(WAIT).await?;
        ensure!(
            closing.ended.app_code() == Some(Close::TooLarge.quic_code().into()),
            "oversized frame: closed with {:?}, expected {:#x}",
            closing.ended,
            Close::TooLarge.quic_code()
        );

        // The same user's other connection is unaffected.
        second.ping().await?;
        let sent = env.api(0).send_text(bob.token(), &conv, "still here?").await?;
        same_event(&second.collect_events(&conv, 1, WAIT).await?[0], &sent)?;
        second.send_message_ok(&conv, "yes").await?;

        // Exactly 64 KiB is a frame (here not valid JSON: an error frame, the connection stays).
        let mut third = Quic::connect(n.quic_addr(), n.cert_sha256(), alice.token()).await?;
        let mut wire = ((64 * 1024) as u32).to_be_bytes().to_vec();
        wire.extend(std::iter::repeat_n(b' ', 64 * 1024));
        third.send_raw(&wire).await?;
        let err = third.wait_for(WAIT, "an error frame", |f| f["type"] == "error").await?;
        ensure!(err["code"] == "invalid_request", "{err}");
        third.ping().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sends_going_away_over_quic() -> Result<()> {
    run(60, async {
        let mut env = TestEnv::start(2).await?;
        let (alice, _bob, conv) = env.pair("alice", "bob").await?;
        let n1 = &env.nodes[0];
        let mut q = Quic::connect_synced(n1.quic_addr(), n1.cert_sha256(), alice.token(), &[&conv]).await?;

        env.nodes[0].sigterm()?;
        let closing = q.wait_close(WAIT).await?;
        ensure!(
            closing.frames.iter().any(|f| f["type"] == "error" && f["code"] == "going_away"),
            "no going_away error frame before the close: {:?}",
            closing.frames
        );
        ensure!(
            closing.ended.app_code() == Some(Close::GoingAway.quic_code().into()),
            "closed with {:?}",
            closing.ended
        );
        let status = env.nodes[0].wait_exit(Duration::from_secs(15)).await?;
        ensure!(status.success(), "node1 exited with {status} after SIGTERM");

        // The client reconnects to the other node.
        let n2 = &env.nodes[1];
        Quic::connect(n2.quic_addr(), n2.cert_sha256(), alice.token()).await?.ping().await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_address_change_keeps_the_session() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let n = &env.nodes[0];
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut q = Quic::connect_synced(n.quic_addr(), n.cert_sha256(), bob.token(), &[&conv]).await?;
        let session = q.session_id().to_owned();

        // Wi-Fi → cellular: same connection, new source address.
        let new_addr = q.rebind()?;
        q.ping().await.context("ping after the address change")?;
        let sent = env.api(0).send_text(alice.token(), &conv, "after the move").await?;
        same_event(&q.collect_events(&conv, 1, WAIT).await?[0], &sent)?;
        ensure!(q.session_id() == session, "the session changed");
        ensure!(q.connection().close_reason().is_none(), "the connection ended");
        ensure!(new_addr.port() != 0, "rebound to {new_addr}");
        Ok(())
    })
    .await
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_certificate_is_served_and_half_a_config_is_refused() -> Result<()> {
    run(60, async {
        // A certificate made outside the node, handed over as PEM files like a deployer's.
        let id = parley_node::transport::quic::Identity::self_signed()?;
        let dir = std::env::temp_dir().join(format!("parley-quic-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let (cert, key) = (dir.join("quic.crt"), dir.join("quic.key"));
        std::fs::write(&cert, pem("CERTIFICATE", &id.certs[0]))?;
        std::fs::write(&key, pem("PRIVATE KEY", id.key.secret_der()))?;

        let mut opts = NodeOptions::new("node1");
        opts.env.push(("PARLEY_TLS_CERT".into(), cert.display().to_string()));
        opts.env.push(("PARLEY_TLS_KEY".into(), key.display().to_string()));
        let env = TestEnv::start_with(vec![opts]).await?;
        let n = &env.nodes[0];
        ensure!(
            n.cert_sha256() == id.cert_sha256,
            "node pins {} for a certificate of {}",
            n.cert_sha256(),
            id.cert_sha256
        );
        let (alice, _bob, _conv) = env.pair("alice", "bob").await?;
        Quic::connect(n.quic_addr(), &id.cert_sha256, alice.token()).await?.ping().await?;

        // A certificate without its key is a start-up error, not a silent self-signed fallback.
        let mut half = NodeOptions::new("node2");
        half.env.push(("PARLEY_TLS_CERT".into(), cert.display().to_string()));
        match parley_tests::Node::start_with(&env.db, half).await {
            Ok(_) => bail!("a node started with PARLEY_TLS_CERT but no PARLEY_TLS_KEY"),
            Err(e) => ensure!(format!("{e:#}").contains("--tls-key"), "unexpected start failure: {e:#}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
    .await
}

/// `$PARLEY_PYTHON`, else the venv `scripts/ensure-deps --python` makes.
fn python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PARLEY_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let tools = std::env::var_os("PARLEY_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/parley-tools")))
        .context("neither PARLEY_TOOLS_DIR nor HOME is set")?;
    let py = tools.join("venv/bin/python3");
    ensure!(
        py.exists(),
        "the aioquic interop test needs Python with aioquic: run `scripts/ensure-deps --python` \
         (creates {}), or set PARLEY_PYTHON to an interpreter that can `import aioquic`",
        py.display()
    );
    Ok(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquic_client_interoperates() -> Result<()> {
    run(90, async {
        let py = python()?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/aioquic_client.py");
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let n1 = &env.nodes[0];
        let n2 = &env.nodes[1];
        let mut bob2 = Quic::connect_synced(n2.quic_addr(), n2.cert_sha256(), bob.token(), &[&conv]).await?;

        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(&py)
                .arg(&script)
                .args(["127.0.0.1", &n1.quic_addr().port().to_string(), alice.token(), &conv])
                .args(["--cert-sha256", n1.cert_sha256()])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .context("the aioquic client did not finish within 60 s")?
        .with_context(|| format!("running {} {}", py.display(), script.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.success(),
            "aioquic client failed ({}); if aioquic is missing run `scripts/ensure-deps --python`\n\
             stdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        let frames: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).with_context(|| format!("line {l:?}")))
            .collect::<Result<_>>()?;
        let types: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
        for want in ["ready", "synced", "pong", "reply", "event"] {
            ensure!(types.contains(&want), "aioquic saw no `{want}` frame: {types:?}");
        }
        ensure!(frames.last() == Some(&json!({"interop": "ok"})), "no final ok line:\n{stdout}");
        ensure!(frames[0]["node_id"] == "node1" && frames[0]["user_id"] == alice.user_id, "ready: {}", frames[0]);
        let reply = frames.iter().find(|f| f["type"] == "reply").expect("checked above");
        let sent = parley_tests::ws::reply_event(reply)?;

        // What the Python client sent reached a quinn client on the other node, and the database.
        same_event(&bob2.collect_events(&conv, 1, WAIT).await.context("bob over QUIC on node2")?[0], &sent)?;
        ensure!(sent["text"] == "hello from aioquic", "{sent}");
        let stored = env.api(1).messages(bob.token(), &conv).await?;
        ensure!(stored.len() == 1 && stored[0]["id"] == sent["id"], "history: {stored:?}");
        Ok(())
    })
    .await
}
