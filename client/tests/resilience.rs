//! The SDK against real nodes and a real Postgres: a client streaming sends while its node is
//! SIGKILLed, or while the receiving node loses its LISTEN connection, over WebSocket and
//! QUIC. Every acknowledged message must reach the receiver's SDK stream and the history
//! exactly once, in order.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_client::{
    Auth, Client, ClientConfig, ClientEvent, ConnectOptions, Endpoint, Events, QuicTls, Rest, Transport,
};
use parley_shared::ids::{ConversationId, Seq};
use parley_shared::model::{Event, EventBody};
use parley_tests::{TestEnv, run};

const N: usize = 100;
const WAIT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGKILL the sender's node mid-stream.
    KillSenderNode,
    /// Terminate the receiver node's LISTEN connection twice mid-stream.
    DropReceiverListen,
}

fn endpoints(env: &TestEnv, transport: Transport, order: &[usize]) -> Vec<Endpoint> {
    order
        .iter()
        .map(|&i| match transport {
            Transport::Ws => Endpoint::Ws { url: env.ws_url(i) },
            Transport::Quic => Endpoint::Quic { addr: env.nodes[i].quic_addr().to_string() },
        })
        .collect()
}

fn config(env: &TestEnv, transport: Transport, order: &[usize], conv: ConversationId) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new(endpoints(env, transport, order));
    let pins = env.nodes.iter().map(|n| n.cert_sha256().to_owned()).collect::<Vec<_>>().join(",");
    cfg.connect = ConnectOptions { quic_tls: QuicTls::from_hex(&pins)?, ..ConnectOptions::default() };
    cfg.positions.insert(conv, 0);
    cfg.backoff.base = Duration::from_millis(50);
    Ok(cfg)
}

/// Reads the stream until `conv` reaches `seq`, pushing the events of `conv`; returns how many
/// disconnects it saw meanwhile.
async fn collect_until(events: &mut Events, conv: ConversationId, seq: Seq, into: &mut Vec<Event>) -> Result<usize> {
    let mut disconnects = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while into.last().map_or(0, |e| e.seq) < seq {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .with_context(|| format!("waiting for seq {seq}, at {:?}", into.last().map(|e| e.seq)))?;
        match ev {
            Some(ClientEvent::Event(e)) if e.conversation_id == conv => into.push(*e),
            Some(ClientEvent::Disconnected { .. }) => disconnects += 1,
            Some(ClientEvent::Closed(e)) => bail!("the client stopped: {e}"),
            Some(_) => {}
            None => bail!("the event stream ended"),
        }
    }
    Ok(disconnects)
}

/// Exactly once and in order: seqs 1, 2, 3, ... with no repeat and no gap.
fn ensure_contiguous(who: &str, events: &[Event]) -> Result<()> {
    for (i, e) in events.iter().enumerate() {
        ensure!(e.seq == i as Seq + 1, "{who}: event #{i} has seq {} (seqs {:?})", e.seq, seqs(events));
    }
    Ok(())
}

fn seqs(events: &[Event]) -> Vec<Seq> {
    events.iter().map(|e| e.seq).collect()
}

fn text(e: &Event) -> Option<&str> {
    match &e.body {
        EventBody::Message(m) => m.text.as_deref(),
        _ => None,
    }
}

async fn scenario(transport: Transport, fault: Fault) -> Result<()> {
    let env = TestEnv::start(2).await?;
    let (_, _, conv) = env.pair("alice", "bob").await?;
    let conv: ConversationId = conv.parse()?;
    let urls = [env.nodes[0].http_url(), env.nodes[1].http_url()];
    // Alice lives on node1 (falling back to node2), Bob on node2.
    let alice = Auth::login(Rest::with_bases(&urls)?, "alice", parley_tests::api::PASSWORD).await?;
    let bob =
        Auth::login(Rest::with_bases(&[urls[1].clone(), urls[0].clone()])?, "bob", parley_tests::api::PASSWORD).await?;
    let (alice_c, mut alice_ev) = Client::start(alice, config(&env, transport, &[0, 1], conv)?)?;
    let (bob_c, mut bob_ev) = Client::start(bob.clone(), config(&env, transport, &[1, 0], conv)?)?;
    for (who, ev) in [("alice", &mut alice_ev), ("bob", &mut bob_ev)] {
        loop {
            match tokio::time::timeout(WAIT, ev.recv()).await.with_context(|| format!("{who} connecting"))? {
                Some(ClientEvent::Synced { .. }) => break,
                Some(ClientEvent::Closed(e)) => bail!("{who} stopped: {e}"),
                Some(_) => {}
                None => bail!("{who}'s stream ended"),
            }
        }
    }
    env.db.wait_listen_connection("node2", WAIT).await?;

    // Stream N sends a few ms apart, without waiting for each acknowledgement.
    let acked = Arc::new(AtomicUsize::new(0));
    let mut sends = Vec::new();
    for i in 0..N {
        let acked = acked.clone();
        // Queued now, in order; awaited in its own task.
        let send = alice_c.send(conv, format!("m{i:03}"));
        sends.push(tokio::spawn(async move {
            let r = send.await;
            acked.fetch_add(1, Ordering::SeqCst);
            r
        }));
        tokio::time::sleep(Duration::from_millis(4)).await;
        match fault {
            Fault::KillSenderNode if i == N / 3 => env.nodes[0].sigkill()?,
            Fault::DropReceiverListen if i == N / 4 || i == 2 * N / 3 => {
                ensure!(env.db.terminate_listen_connection("node2").await? >= 1, "node2 had no LISTEN connection");
            }
            _ => {}
        }
    }
    let mut sent: Vec<Event> = Vec::new();
    for (i, s) in sends.into_iter().enumerate() {
        let ev = tokio::time::timeout(WAIT * 2, s)
            .await
            .with_context(|| format!("send {i} not acknowledged ({} acked)", acked.load(Ordering::SeqCst)))???;
        ensure!(text(&ev) == Some(format!("m{i:03}").as_str()), "send {i} acknowledged with {ev:?}");
        sent.push(ev);
    }
    // Distinct messages, committed in the order they were sent.
    let ids: HashSet<_> = sent.iter().map(|e| e.id).collect();
    ensure!(ids.len() == N, "acknowledged events are not distinct");
    ensure!(sent.windows(2).all(|w| w[0].seq < w[1].seq), "sends committed out of order: {:?}", seqs(&sent));
    let last = sent.last().expect("N > 0").seq;

    // Bob's and Alice's SDK streams: every seq once, in order, and exactly the sent messages.
    for (who, ev) in [("bob", &mut bob_ev), ("alice", &mut alice_ev)] {
        let mut seen = Vec::new();
        let disconnects = collect_until(ev, conv, last, &mut seen).await.with_context(|| format!("{who}'s stream"))?;
        if who == "alice" && matches!(fault, Fault::KillSenderNode) {
            ensure!(disconnects >= 1, "alice never noticed her node die");
        }
        ensure_contiguous(who, &seen)?;
        let msgs: Vec<_> = seen.iter().filter(|e| matches!(e.body, EventBody::Message(_))).cloned().collect();
        ensure!(msgs == sent, "{who}'s messages differ from the acknowledged ones: {:?}", seqs(&msgs));
        // Nothing more turns up (no late duplicate).
        tokio::time::sleep(Duration::from_millis(300)).await;
        while let Some(x) = ev.try_recv() {
            ensure!(!matches!(&x, ClientEvent::Event(e) if e.conversation_id == conv), "{who} got an extra {x:?}");
        }
    }

    // History over REST agrees.
    let rest = bob.rest().clone();
    let token = bob.access_token().await?;
    let history = rest.events_after(&token, conv, 0, None).await?;
    ensure_contiguous("history", &history)?;
    let msgs: Vec<_> = history.into_iter().filter(|e| matches!(e.body, EventBody::Message(_))).collect();
    ensure!(msgs == sent, "history differs from the acknowledged messages: {:?}", seqs(&msgs));

    // Still live afterwards.
    let after = alice_c.send(conv, "after").await?;
    let mut seen = Vec::new();
    let mut tail = vec![sent.last().cloned().expect("N > 0")];
    collect_until(&mut bob_ev, conv, after.seq, &mut seen).await?;
    tail.extend(seen);
    ensure!(tail.last().map(|e| e.id) == Some(after.id), "bob did not get the last message");
    alice_c.close().await;
    bob_c.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_sender_node_killed() -> Result<()> {
    run(180, scenario(Transport::Ws, Fault::KillSenderNode)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_receiver_listen_connection_dropped() -> Result<()> {
    run(180, scenario(Transport::Ws, Fault::DropReceiverListen)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_sender_node_killed() -> Result<()> {
    run(180, scenario(Transport::Quic, Fault::KillSenderNode)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_receiver_listen_connection_dropped() -> Result<()> {
    run(180, scenario(Transport::Quic, Fault::DropReceiverListen)).await
}

/// SIGTERM on the client's node (`going_away`) moves it to the other node; logging out
/// (`session_revoked`) stops it with `Unauthorized`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_away_moves_on_and_logout_stops_the_client() -> Result<()> {
    run(120, async {
        let env = TestEnv::start(2).await?;
        let (alice, _, conv_s) = env.pair("alice", "bob").await?;
        let conv: ConversationId = conv_s.parse()?;
        let urls = [env.nodes[1].http_url(), env.nodes[0].http_url()];
        let bob = Auth::login(Rest::with_bases(&urls)?, "bob", parley_tests::api::PASSWORD).await?;
        let (client, mut ev) = Client::start(bob.clone(), config(&env, Transport::Ws, &[0, 1], conv)?)?;
        let mut node = String::new();
        loop {
            match tokio::time::timeout(WAIT, ev.recv()).await.context("waiting to connect")? {
                Some(ClientEvent::Connected { ready, .. }) => node = ready.node_id.0,
                Some(ClientEvent::Synced { .. }) => break,
                other => ensure!(other.is_some(), "stream ended"),
            }
        }
        ensure!(node == "node1", "connected to {node} first");
        env.nodes[0].sigterm()?;
        loop {
            match tokio::time::timeout(WAIT, ev.recv()).await.context("waiting to move")? {
                Some(ClientEvent::Connected { ready, .. }) => {
                    ensure!(ready.node_id.0 == "node2", "moved to {}", ready.node_id);
                    break;
                }
                Some(ClientEvent::Closed(e)) => bail!("stopped: {e}"),
                other => ensure!(other.is_some(), "stream ended"),
            }
        }
        let sent = env.api(1).send_text(alice.token(), &conv_s, "still here").await?;
        let mut seen = Vec::new();
        collect_until(&mut ev, conv, sent["seq"].as_i64().context("seq")?, &mut seen).await?;

        bob.logout().await?;
        loop {
            match tokio::time::timeout(WAIT, ev.recv()).await.context("waiting for the stop")? {
                Some(ClientEvent::Closed(parley_client::Error::Unauthorized(_))) => break,
                Some(ClientEvent::Closed(e)) => bail!("stopped with {e}"),
                other => ensure!(other.is_some(), "stream ended without Closed"),
            }
        }
        let after = client.send(conv, "nope").await;
        ensure!(after.is_err(), "a send after logout succeeded: {after:?}");
        Ok(())
    })
    .await
}
