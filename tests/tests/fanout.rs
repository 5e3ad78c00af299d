//! Fan-out across two nodes sharing one database: REST and socket sends reach every member's
//! sockets on every node, once, in seq order; `sync` catches up an offline client.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use parley_tests::ws::reply_event;
use parley_tests::{NodeOptions, TestEnv, Ws, check, cmid, run};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn inner(frame: &Value) -> &Value {
    &frame["event"]
}

fn frame_seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().filter_map(|f| f["seq"].as_i64()).collect()
}

/// The event frame carries the same event as `sent`.
fn same_event(frame: &Value, sent: &Value) -> Result<()> {
    let ev = check::event_frame(frame)?;
    for key in ["id", "conversation_id", "seq", "kind", "sender_id", "created_at", "text", "client_msg_id"] {
        ensure!(ev[key] == sent[key], "delivered and sent events differ on `{key}`:\n{ev}\n{sent}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_send_on_node1_reaches_sockets_on_both_nodes() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        ensure!(bob2.node_id() == "node2" && alice1.node_id() == "node1", "ready frames name their node");
        ensure!(bob2.user_id() == bob.user_id, "ready names the user: {}", bob2.ready);

        let sent = env.api(0).send_text(alice.token(), &conv, "hello across nodes").await?;
        let got = bob2.collect_events(&conv, 1, WAIT).await.context("bob on node2")?;
        same_event(&got[0], &sent)?;
        check::message_event(
            inner(&got[0]),
            check::Msg {
                conversation_id: Some(&conv),
                sender_id: Some(&alice.user_id),
                text: Some("hello across nodes"),
                ..Default::default()
            },
        )?;
        let own = alice1.collect_events(&conv, 1, WAIT).await.context("the sender's own socket")?;
        same_event(&own[0], &sent)?;

        // And the other way round, through node2's REST.
        let sent = env.api(1).send_text(bob.token(), &conv, "and back").await?;
        same_event(&alice1.collect_events(&conv, 1, WAIT).await?[0], &sent)?;
        same_event(&bob2.collect_events(&conv, 1, WAIT).await?[0], &sent)?;
        bob2.expect_no_event(&conv, Duration::from_millis(300)).await?;
        alice1.expect_no_event(&conv, Duration::from_millis(300)).await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_sends_reach_the_other_node_with_consecutive_seqs() -> Result<()> {
    run(60, async {
        // node1 commits one message per transaction.
        let env = TestEnv::start_with(vec![NodeOptions::new("node1").max_batch(1), NodeOptions::new("node2")]).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;

        let mut sent = Vec::new();
        for i in 0..5 {
            let text = format!("socket message {i}");
            let ev = alice1.send_message_ok(&conv, &text).await?;
            check::message_event(
                &ev,
                check::Msg {
                    conversation_id: Some(&conv),
                    sender_id: Some(&alice.user_id),
                    text: Some(&text),
                    ..Default::default()
                },
            )?;
            sent.push(ev);
        }
        let seqs: Vec<i64> = sent.iter().filter_map(|e| e["seq"].as_i64()).collect();
        check::consecutive(&seqs)?;

        let got = bob2.collect_events(&conv, 5, WAIT).await.context("bob on node2")?;
        ensure!(frame_seqs(&got) == seqs, "bob's seqs {:?} vs sent {seqs:?}", frame_seqs(&got));
        for (f, s) in got.iter().zip(&sent) {
            same_event(f, s)?;
        }
        let own = alice1.collect_events(&conv, 5, WAIT).await.context("alice's own socket")?;
        ensure!(frame_seqs(&own) == seqs, "alice's own seqs {:?} vs sent {seqs:?}", frame_seqs(&own));

        // Bob answers from node2; alice on node1 gets the next seq.
        let answer = bob2.send_message_ok(&conv, "got them").await?;
        ensure!(answer["seq"] == seqs[4] + 1, "the answer takes the next seq: {answer}");
        same_event(&alice1.collect_events(&conv, 1, WAIT).await?[0], &answer)?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_send_is_delivered_once() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;

        let id = cmid();
        let first = reply_event(&alice1.send_message(&conv, &id, "exactly once").await?)?;
        let again = reply_event(&alice1.send_message(&conv, &id, "exactly once").await?)
            .context("the retry over the same socket")?;
        ensure!(again["id"] == first["id"] && again["seq"] == first["seq"], "retry: {again} vs {first}");
        let rest = env
            .api(1)
            .send(alice.token(), &conv, &id, "exactly once")
            .await?
            .ok_any(&[200, 201])
            .context("the retry over REST on node2")?;
        ensure!(rest["id"] == first["id"] && rest["seq"] == first["seq"], "REST retry: {rest} vs {first}");
        let mut alice2 = Ws::connect_synced(&env.ws_url(1), alice.token(), &[&conv]).await?;
        let other_node = reply_event(&alice2.send_message(&conv, &id, "exactly once").await?)
            .context("the retry over a socket on node2")?;
        ensure!(other_node["id"] == first["id"], "retry on node2: {other_node} vs {first}");

        let marker = alice1.send_message_ok(&conv, "marker").await?;
        ensure!(marker["seq"] == first["seq"].as_i64().unwrap_or(0) + 1, "no seq was used by the retries: {marker}");

        for (who, ws) in [("bob@node2", &mut bob2), ("alice@node1", &mut alice1), ("alice@node2", &mut alice2)] {
            // alice@node2 connected after the first send, so only the marker is live for it.
            let expected = if who == "alice@node2" { vec![&marker] } else { vec![&first, &marker] };
            let got = ws.collect_events(&conv, expected.len(), WAIT).await.with_context(|| who.to_owned())?;
            for (f, e) in got.iter().zip(expected) {
                same_event(f, e).with_context(|| who.to_owned())?;
            }
            ws.expect_no_event(&conv, Duration::from_millis(500))
                .await
                .with_context(|| format!("{who} got a duplicate"))?;
        }

        let history = env.api(0).messages(bob.token(), &conv).await?;
        ensure!(history.len() == 2, "history holds the message once plus the marker: {history:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_client_catches_up_with_sync() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (api1, api2) = (env.api(0), env.api(1));
        let (alice, bob, ab) = env.pair("alice", "bob").await?;
        let carol = api1.signup("carol").await?;
        let cb = api1.direct_id(&carol, &bob).await?;

        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&ab, &cb]).await?;
        let m1 = api1.send_text(alice.token(), &ab, "m1").await?;
        same_event(&bob2.collect_events(&ab, 1, WAIT).await?[0], &m1)?;
        let s1 = check::seq(&m1)?;
        bob2.close().await;

        // Three messages while bob is away, through REST on both nodes and a socket.
        let m2 = api1.send_text(alice.token(), &ab, "m2").await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&ab]).await?;
        let m3 = alice1.send_message_ok(&ab, "m3").await?;
        let m4 = api2.send_text(alice.token(), &ab, "m4").await?;
        // And two in a conversation bob does not list when he syncs.
        api1.send_text(carol.token(), &cb, "c1").await?;
        let c2 = api1.send_text(carol.token(), &cb, "c2").await?;

        let mut bob2 = Ws::connect(&env.ws_url(1), bob.token()).await?;
        let synced = bob2.sync(&[(&ab, s1)]).await?;
        let replay = synced.of(&ab);
        ensure!(frame_seqs(&replay) == [s1 + 1, s1 + 2, s1 + 3], "replayed seqs: {:?}", frame_seqs(&replay));
        for (f, sent) in replay.iter().zip([&m2, &m3, &m4]) {
            same_event(f, sent)?;
        }
        let others = synced.of(&cb);
        ensure!(others.len() == 1, "an unlisted conversation gets only its latest event: {others:?}");
        same_event(&others[0], &c2)?;
        ensure!(synced.synced["truncated"] == serde_json::json!([]), "nothing truncated: {}", synced.synced);

        // Live again: the next message comes exactly once, right after the replay.
        let m5 = api1.send_text(alice.token(), &ab, "m5").await?;
        let live = bob2.collect_events(&ab, 1, WAIT).await?;
        same_event(&live[0], &m5)?;
        bob2.expect_no_event(&ab, Duration::from_millis(300)).await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_arrives_complete_and_in_order_on_the_other_node() -> Result<()> {
    run(120, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;

        const N: usize = 200;
        let texts: Vec<String> = (0..N).map(|i| format!("burst {i:03}")).collect();
        let mut ids = Vec::new();
        for t in &texts {
            ids.push(alice1.start_send(&conv, &cmid(), t).await?);
        }
        let mut acked = Vec::new();
        for id in ids {
            let reply = alice1.wait_reply(id, Duration::from_secs(30)).await?;
            acked.push(reply_event(&reply).with_context(|| format!("reply {id}"))?);
        }
        let seqs: Vec<i64> = acked.iter().filter_map(|e| e["seq"].as_i64()).collect();
        check::consecutive(&seqs).context("acknowledged seqs")?;
        let acked_texts: Vec<&str> = acked.iter().filter_map(|e| e["text"].as_str()).collect();
        ensure!(acked_texts == texts, "one socket's sends keep their order");

        let got = bob2.collect_events(&conv, N, Duration::from_secs(30)).await.context("bob on node2")?;
        ensure!(frame_seqs(&got) == seqs, "bob's seqs differ from the acknowledged ones");
        for (f, a) in got.iter().zip(&acked) {
            same_event(f, a)?;
        }
        let own = alice1.collect_events(&conv, N, Duration::from_secs(30)).await.context("alice's own socket")?;
        ensure!(frame_seqs(&own) == seqs, "alice's own copies out of order");
        bob2.expect_no_event(&conv, Duration::from_millis(300)).await?;

        let history = env.api(1).messages(bob.token(), &conv).await?;
        ensure!(history.len() == N, "history holds {} messages", history.len());
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_created_after_connecting_is_delivered() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let api1 = env.api(0);
        let alice = api1.signup("alice").await?;
        let bob = api1.signup("bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[]).await?;

        let conv = api1.direct_id(&alice, &bob).await?;
        let sent = api1.send_text(alice.token(), &conv, "first contact").await?;
        let frame = bob2
            .wait_for(WAIT, "the first message of a new conversation", |f| {
                f["type"] == "event" && f["conversation_id"] == conv.as_str() && f["event"]["kind"] == "message"
            })
            .await?;
        same_event(&frame, &sent)?;

        let next = api1.send_text(alice.token(), &conv, "second").await?;
        let got = bob2.collect_events(&conv, 1, WAIT).await?;
        same_event(&got[0], &next)?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_events_travel_in_the_notice_and_big_ones_are_fetched_in_order() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let node2 = env.api(1);
        let (inline0, fetches0) = (
            node2.metric("parley_hub_inline_events_total", &[]).await?,
            node2.metric("parley_hub_fetches_total", &[]).await?,
        );

        // 7,990 three-byte characters: far past a notice's 8,000 bytes.
        let big = "€".repeat(7990);
        let texts: Vec<String> =
            (0..6).map(|i| if i % 3 == 1 { format!("{i}{big}") } else { format!("small {i}") }).collect();
        let mut ids = Vec::new();
        for t in &texts {
            ids.push(alice1.start_send(&conv, &cmid(), t).await?);
        }
        let mut acked = Vec::new();
        for id in ids {
            acked.push(reply_event(&alice1.wait_reply(id, WAIT).await?)?);
        }
        acked.push(env.api(0).send_text(alice.token(), &conv, "small over REST").await?);
        let seqs: Vec<i64> = acked.iter().filter_map(|e| e["seq"].as_i64()).collect();
        check::consecutive(&seqs)?;

        let got = bob2.collect_events(&conv, acked.len(), WAIT).await.context("bob on node2")?;
        ensure!(frame_seqs(&got) == seqs, "bob's seqs {:?} vs sent {seqs:?}", frame_seqs(&got));
        for (f, a) in got.iter().zip(&acked) {
            same_event(f, a)?;
        }
        let own = alice1.collect_events(&conv, acked.len(), WAIT).await.context("alice's own socket")?;
        ensure!(frame_seqs(&own) == seqs, "alice's own seqs {:?}", frame_seqs(&own));
        bob2.expect_no_event(&conv, Duration::from_millis(300)).await?;

        let inline = node2.metric("parley_hub_inline_events_total", &[]).await? - inline0;
        let fetches = node2.metric("parley_hub_fetches_total", &[]).await? - fetches0;
        ensure!(inline >= 1.0, "no event travelled in its notice");
        ensure!(fetches >= 1.0, "the big events were not fetched");
        Ok(())
    })
    .await
}
