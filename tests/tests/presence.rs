//! Notices and presence across two nodes, over WebSocket and QUIC: notices reach every device of
//! the user on any node; friends see each other come online within a second, a reconnect within
//! the grace period announces nothing, the last connection closing (or its node dying) takes the
//! user offline; nobody else hears it, and a block ends it. Blocks and direct-message policies
//! refuse socket sends as they refuse REST ones.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use parley_tests::quic::Quic;
use parley_tests::{NodeOptions, TestEnv, Ws, check, run};
use serde_json::{Value, json};

const FRAME: Duration = Duration::from_secs(10);

fn presence_of<'a>(user: &'a str, online: bool) -> impl Fn(&Value) -> bool + 'a {
    move |v: &Value| v["type"] == "presence" && v["user_id"] == user && v["online"] == online
}

fn any_presence_of(user: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v: &Value| {
        (v["type"] == "presence" && v["user_id"] == user)
            || (v["type"] == "presence_snapshot" && v["online"].as_array().is_some_and(|a| a.iter().any(|u| u == user)))
    }
}

fn any_online(user: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v: &Value| {
        (v["type"] == "presence" && v["user_id"] == user && v["online"] == true)
            || (v["type"] == "presence_snapshot" && v["online"].as_array().is_some_and(|a| a.iter().any(|u| u == user)))
    }
}

fn snapshot(v: &Value) -> bool {
    v["type"] == "presence_snapshot"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_every_device_on_every_node() -> Result<()> {
    run(90, async {
        let env = TestEnv::start(2).await?;
        let (api1, api2) = (env.api(0), env.api(1));
        let alice = api1.signup("alice").await?;
        let bob = api1.signup("bob").await?;
        let mut bob_ws = Ws::connect(&env.ws_url(1), bob.token()).await?;
        let mut bob_quic = Quic::connect(env.nodes[0].quic_addr(), env.nodes[0].cert_sha256(), bob.token()).await?;
        let mut alice_ws = Ws::connect(&env.ws_url(0), alice.token()).await?;

        let req = api1
            .post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": bob.user_id, "message": "hello"}))
            .await?
            .ok(201)?;
        let is_request = |v: &Value| v["type"] == "notice" && v["kind"] == "friend_request";
        let on_ws = bob_ws.wait_for(FRAME, "the friend_request notice (WS, node 2)", is_request).await?;
        let on_quic = bob_quic.wait_for(FRAME, "the friend_request notice (QUIC, node 1)", is_request).await?;
        ensure!(on_ws["request"]["id"] == req["id"] && on_ws["request"]["message"] == "hello", "{on_ws}");
        ensure!(on_ws["id"] == on_quic["id"] && on_ws["seen"] == false, "the same notice on both: {on_ws} {on_quic}");
        let listed = api2.notices(&bob).await?;
        ensure!(listed["notices"][0]["id"] == on_ws["id"], "the frame is the stored notice: {listed}");

        let id = check::str_field(&req, "id")?;
        api2.post(&format!("/v1/friends/requests/{id}/accept"), Some(bob.token()), &json!({})).await?.ok(200)?;
        let accepted = alice_ws
            .wait_for(FRAME, "friend_accepted", |v| v["type"] == "notice" && v["kind"] == "friend_accepted")
            .await?;
        ensure!(accepted["user"]["id"] == bob.user_id.as_str(), "{accepted}");
        // Bob's other device hears of it too, and both now see each other online.
        bob_quic
            .wait_for(FRAME, "friend_accepted on bob's QUIC", |v| {
                v["type"] == "notice" && v["kind"] == "friend_accepted"
            })
            .await?;
        alice_ws.wait_for(FRAME, "bob online (new friend)", presence_of(&bob.user_id, true)).await?;
        bob_ws.wait_for(FRAME, "alice online (new friend)", presence_of(&alice.user_id, true)).await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_see_presence_across_nodes_and_nobody_else_does() -> Result<()> {
    run(120, async {
        let env = TestEnv::start(2).await?;
        let api = env.api(0);
        let alice = api.signup("alice").await?;
        let bob = api.signup("bob").await?;
        let carol = api.signup("carol").await?;
        let dave = api.signup("dave").await?;
        api.befriend(&alice, &bob).await?;
        api.befriend(&dave, &bob).await?;
        api.patch("/v1/users/me", dave.token(), &json!({"show_presence": false})).await?.ok(200)?;

        let mut bob_ws = Ws::connect(&env.ws_url(1), bob.token()).await?;
        let snap = bob_ws.wait_for(FRAME, "bob's snapshot", snapshot).await?;
        ensure!(snap["online"] == json!([]), "nobody online yet: {snap}");
        let mut carol_ws = Ws::connect(&env.ws_url(1), carol.token()).await?;

        // Alice comes online over QUIC on the other node: bob (a friend) knows within a second.
        let started = Instant::now();
        let mut alice_quic = Quic::connect(env.nodes[0].quic_addr(), env.nodes[0].cert_sha256(), alice.token()).await?;
        bob_ws.wait_for(Duration::from_secs(5), "alice online", presence_of(&alice.user_id, true)).await?;
        let took = started.elapsed();
        eprintln!("alice online for bob {took:?} after her connection opened");
        // Typically a quarter of a second (one presence batch); the bound leaves room for a
        // loaded CI machine.
        ensure!(took < Duration::from_secs(2), "online after {took:?}");
        // Bob shows as online to her: in her snapshot, or (when his own connection was recorded
        // after her snapshot was read) by a presence frame right after it.
        alice_quic.wait_for(FRAME, "bob online for alice", any_online(&bob.user_id)).await?;
        let mut second = Ws::connect(&env.ws_url(0), bob.token()).await?;
        let snap = second.wait_for(FRAME, "a second device's snapshot", snapshot).await?;
        ensure!(snap["online"] == json!([alice.user_id]), "{snap}");
        second.close().await;

        // A friend who hides presence never shows; a stranger hears nothing of anyone.
        let _dave_ws = Ws::connect(&env.ws_url(0), dave.token()).await?;
        bob_ws.expect_none(Duration::from_secs(2), "dave's presence", any_presence_of(&dave.user_id)).await?;
        carol_ws.expect_none(Duration::from_millis(500), "alice's presence", any_presence_of(&alice.user_id)).await?;

        // A reconnect within the grace period (a phone changing networks) announces nothing.
        alice_quic.close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let alice_ws = Ws::connect(&env.ws_url(1), alice.token()).await?;
        bob_ws
            .expect_none(
                Duration::from_secs(8),
                "alice going offline during a reconnect",
                presence_of(&alice.user_id, false),
            )
            .await?;

        // The last connection closing: offline after the grace period, with when she was last seen.
        alice_ws.close().await;
        let off = bob_ws.wait_for(Duration::from_secs(15), "alice offline", presence_of(&alice.user_id, false)).await?;
        check::timestamp(check::str_field(&off, "last_seen_at")?)?;
        let friends = api.get("/v1/friends", Some(bob.token())).await?.ok(200)?;
        let entry =
            friends["friends"].as_array().and_then(|a| a.iter().find(|f| f["id"] == alice.user_id.as_str())).cloned();
        let entry = entry.context("alice in bob's friends")?;
        ensure!(entry["online"] == false && entry["last_seen_at"].is_string(), "{entry}");

        // After a block, nothing more.
        api.put(&format!("/v1/blocks/{}", alice.user_id), bob.token()).await?.ok(204)?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _again = Ws::connect(&env.ws_url(0), alice.token()).await?;
        bob_ws.expect_none(Duration::from_secs(2), "presence across a block", any_presence_of(&alice.user_id)).await?;
        carol_ws.expect_none(Duration::from_millis(200), "anyone's presence", |v| v["type"] == "presence").await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_users_go_offline_once_its_lease_runs_out() -> Result<()> {
    run(120, async {
        let mut env = TestEnv::start_with(vec![NodeOptions::new("node1"), NodeOptions::new("node2")]).await?;
        let api = env.api(1);
        let alice = api.signup("alice").await?;
        let bob = api.signup("bob").await?;
        api.befriend(&alice, &bob).await?;
        let mut bob_ws = Ws::connect(&env.ws_url(1), bob.token()).await?;
        let _alice_ws = Ws::connect(&env.ws_url(0), alice.token()).await?;
        bob_ws.wait_for(FRAME, "alice online", presence_of(&alice.user_id, true)).await?;
        let killed = Instant::now();
        env.nodes[0].kill().await?;
        // No close ever reaches Postgres: the lease (30 s) has to run out, be reaped (every 10 s by
        // the surviving node), then the grace period (5 s).
        bob_ws
            .expect_none(
                Duration::from_secs(10),
                "alice offline before her node's lease ran out",
                presence_of(&alice.user_id, false),
            )
            .await?;
        bob_ws
            .wait_for(Duration::from_secs(60), "alice offline after the lease", presence_of(&alice.user_id, false))
            .await?;
        let after = killed.elapsed();
        ensure!(after <= Duration::from_secs(50), "offline {after:?} after the kill");
        eprintln!("offline {after:?} after SIGKILL of her node");
        Ok(())
    })
    .await
}

/// 300 users with 20 friends each, all on node 1; node 1 is SIGTERMed and everyone reconnects to
/// node 2 at once. Nobody was away longer than the grace period, so nobody's friends hear of it,
/// and Postgres carries next to nothing. (`scripts/bench --presence` runs 2,000 users.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restart_is_not_a_presence_storm() -> Result<()> {
    run(180, async {
        let mut env = TestEnv::start(2).await?;
        let r = parley_tests::storm::presence_storm(&mut env, 300, 20).await?;
        eprintln!("{r:?}");
        ensure!(r.presence_frames == 0, "friends saw {} presence changes: {r:?}", r.presence_frames);
        ensure!(r.presence_changes == 0 && r.presence_notifies == 0, "{r:?}");
        Ok(())
    })
    .await
}

/// Who may message whom holds over realtime connections too: a block, or a friends-only policy,
/// refuses socket sends with a 403 reply, on both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_and_policies_refuse_socket_sends() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let api = env.api(0);
        let mut alice_ws = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut bob_quic = Quic::connect(env.nodes[1].quic_addr(), env.nodes[1].cert_sha256(), bob.token()).await?;
        alice_ws.send_message_ok(&conv, "before").await?;

        api.put(&format!("/v1/blocks/{}", alice.user_id), bob.token()).await?.ok(204)?;
        let reply = alice_ws.send_message(&conv, &parley_tests::cmid(), "after the block").await?;
        ensure!(parley_tests::ws::reply_error(&reply)? == "forbidden", "{reply}");
        let reply = bob_quic
            .request(
                json!({"type": "send", "conversation_id": conv, "client_msg_id": parley_tests::cmid(), "text": "x"}),
            )
            .await?;
        ensure!(
            reply["ok"] == false && reply["error"]["code"] == "forbidden",
            "the blocker cannot write either: {reply}"
        );

        api.delete(&format!("/v1/blocks/{}", alice.user_id), bob.token(), None).await?.ok(204)?;
        api.patch("/v1/users/me", bob.token(), &json!({"dm_policy": "friends"})).await?.ok(200)?;
        let reply = alice_ws.send_message(&conv, &parley_tests::cmid(), "not friends").await?;
        ensure!(parley_tests::ws::reply_error(&reply)? == "forbidden", "{reply}");
        api.befriend(&alice, &bob).await?;
        alice_ws.send_message_ok(&conv, "friends now").await?;
        ensure!(api.messages(bob.token(), &conv).await?.len() == 2, "only the accepted sends were stored");
        Ok(())
    })
    .await
}
