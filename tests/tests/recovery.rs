//! Failures: a node losing its LISTEN connection, a node SIGKILLed under load, a node told to
//! stop, and logout closing a session's sockets everywhere.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use parley_tests::ws::reply_event;
use parley_tests::{Session, TestEnv, Upgrade, Ws, check, cmid, run};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// What one client saw of a conversation, with every gap or repeat noted.
#[derive(Debug)]
struct Tracker {
    who: String,
    seqs: Vec<i64>,
    ids: Vec<String>,
    problems: Vec<String>,
}

impl Tracker {
    fn new(who: &str) -> Tracker {
        Tracker { who: who.to_owned(), seqs: Vec::new(), ids: Vec::new(), problems: Vec::new() }
    }

    fn last(&self) -> i64 {
        self.seqs.last().copied().unwrap_or(0)
    }

    fn record(&mut self, frames: &[Value]) {
        for f in frames {
            if let Err(e) = check::event_frame(f) {
                self.problems.push(format!("bad event frame: {e:#}"));
                continue;
            }
            let seq = f["seq"].as_i64().unwrap_or_default();
            if let Some(&last) = self.seqs.last() {
                if seq <= last {
                    self.problems.push(format!("repeat or reorder: seq {seq} after {last}"));
                    continue;
                }
                if seq != last + 1 {
                    self.problems.push(format!("gap: seq {last} then {seq}"));
                }
            }
            self.seqs.push(seq);
            self.ids.push(f["event"]["id"].as_str().unwrap_or_default().to_owned());
        }
    }

    fn ensure_clean(&self) -> Result<()> {
        ensure!(self.problems.is_empty(), "{} saw: {:?}", self.who, self.problems);
        Ok(())
    }

    /// Reads live events until `seq` has been seen.
    async fn catch_up(&mut self, ws: &mut Ws, conv: &str, seq: i64) -> Result<()> {
        while self.last() < seq {
            let frames = ws
                .collect_events(conv, 1, WAIT)
                .await
                .with_context(|| format!("{} waiting for seq {seq}, at {}", self.who, self.last()))?;
            self.record(&frames);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listen_connection_loses_no_message() -> Result<()> {
    run(120, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        env.db.wait_listen_connection("node2", WAIT).await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;

        const N: usize = 60;
        let sent_count = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (api, alice, conv, sent_count) = (env.api(0), alice.clone(), conv.clone(), sent_count.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..N {
                    sent.push(api.send_text(alice.token(), &conv, &format!("flow {i}")).await?);
                    sent_count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                anyhow::Ok(sent)
            })
        };

        let mut tracker = Tracker::new("bob@node2");
        for kill_after in [15, 40] {
            while sent_count.load(Ordering::SeqCst) < kill_after {
                tracker.record(&bob2.take_buffered_events(&conv));
                if let Ok(frames) = bob2.collect_events(&conv, 1, Duration::from_millis(50)).await {
                    tracker.record(&frames);
                }
                ensure!(!bob2.is_closed(), "bob's socket closed");
                if sender.is_finished() {
                    let outcome = sender.await.context("sender task")?;
                    bail!("the sender stopped early: {:?}", outcome.map(|v| v.len()));
                }
            }
            let killed = env.db.terminate_listen_connection("node2").await?;
            ensure!(killed >= 1, "node2 had no LISTEN connection to kill");
        }
        let sent = sender.await.context("sender task")??;
        let last = check::seq(sent.last().expect("sent N"))?;
        tracker.catch_up(&mut bob2, &conv, last).await?;
        tracker.ensure_clean()?;
        let sent_ids: Vec<&str> = sent.iter().filter_map(|e| e["id"].as_str()).collect();
        ensure!(
            tracker.ids.iter().map(String::as_str).collect::<Vec<_>>() == sent_ids,
            "bob's events differ from the sent ones"
        );
        bob2.expect_no_event(&conv, Duration::from_millis(300)).await?;

        // The node listens again, and new messages still arrive on the same socket.
        env.db.wait_listen_connection("node2", WAIT).await?;
        let after = env.api(0).send_text(alice.token(), &conv, "after the storm").await?;
        let got = bob2.collect_events(&conv, 1, WAIT).await?;
        ensure!(got[0]["event"]["id"] == after["id"], "the next message: {}", got[0]);
        Ok(())
    })
    .await
}

/// A client that sends `total` messages, failing over to `fallback` when its node dies and
/// retrying an unacknowledged send with the same client_msg_id.
struct Sender {
    name: String,
    session: Session,
    conv: String,
    first_url: String,
    fallback: String,
    total: usize,
    progress: Arc<AtomicUsize>,
}

struct SenderReport {
    ws: Ws,
    tracker: Tracker,
    acked: Vec<Value>,
    reconnects: usize,
}

impl Sender {
    async fn run(self) -> Result<SenderReport> {
        let mut tracker = Tracker::new(&self.name);
        let mut ws = Ws::connect(&self.first_url, self.session.token()).await?;
        let synced = ws.sync(&[(&self.conv, 0)]).await?;
        tracker.record(&synced.of(&self.conv));
        let mut acked = Vec::new();
        let mut reconnects = 0;
        for n in 0..self.total {
            let id = cmid();
            let text = format!("{} {n}", self.name);
            let mut attempts = 0;
            loop {
                attempts += 1;
                ensure!(attempts <= 10, "{}: message {n} never acknowledged", self.name);
                let result = ws.send_message(&self.conv, &id, &text).await;
                tracker.record(&ws.take_buffered_events(&self.conv));
                match result {
                    Ok(reply) if reply["ok"] == true => {
                        let ev = reply_event(&reply)?;
                        ensure!(
                            ev["client_msg_id"] == id.as_str(),
                            "{}: reply for another message: {reply}",
                            self.name
                        );
                        acked.push(ev);
                        self.progress.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    // A refused send is retried as a client would; it is not acknowledged.
                    Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Err(_) => {
                        ws = self.reconnect(&mut tracker).await?;
                        reconnects += 1;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(SenderReport { ws, tracker, acked, reconnects })
    }

    async fn reconnect(&self, tracker: &mut Tracker) -> Result<Ws> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match Ws::connect(&self.fallback, self.session.token()).await {
                Ok(mut ws) => {
                    let synced = ws.sync(&[(&self.conv, tracker.last())]).await?;
                    tracker.record(&synced.of(&self.conv));
                    return Ok(ws);
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(e.context(format!("{}: could not reconnect", self.name)));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_sigkilled_node_fail_over_without_loss_or_duplicates() -> Result<()> {
    run(150, async {
        let mut env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        // A bystander on node2 that stays connected throughout.
        let bob_watch = env.api(1).login_again(&bob).await?;
        let mut watcher = Ws::connect_synced(&env.ws_url(1), bob_watch.token(), &[&conv]).await?;
        let mut watch = Tracker::new("watcher@node2");

        const TOTAL: usize = 30;
        let mut tasks = Vec::new();
        let mut progress = Vec::new();
        for (name, session) in [("alice", &alice), ("bob", &bob)] {
            let p = Arc::new(AtomicUsize::new(0));
            progress.push(p.clone());
            let sender = Sender {
                name: format!("{name}@node1"),
                session: session.clone(),
                conv: conv.clone(),
                first_url: env.ws_url(0),
                fallback: env.ws_url(1),
                total: TOTAL,
                progress: p,
            };
            tasks.push(tokio::spawn(sender.run()));
        }

        // Kill node1 while both are mid-stream.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while progress.iter().any(|p| p.load(Ordering::SeqCst) < 8) {
            ensure!(tokio::time::Instant::now() < deadline, "the senders made no progress");
            if let Some(i) = tasks.iter().position(|t| t.is_finished()) {
                let outcome = tasks.swap_remove(i).await.context("sender task")?;
                bail!("a sender stopped before the kill: {:?}", outcome.map(|r| r.acked.len()));
            }
            if let Ok(frames) = watcher.collect_events(&conv, 1, Duration::from_millis(50)).await {
                watch.record(&frames);
            }
        }
        env.nodes[0].sigkill()?;
        env.nodes[0].wait_exit(Duration::from_secs(10)).await?;

        let mut reports = Vec::new();
        for t in tasks {
            reports.push(t.await.context("sender task")??);
        }
        let max_seq = reports.iter().flat_map(|r| r.acked.iter()).filter_map(|e| e["seq"].as_i64()).max().unwrap_or(0);

        // Ground truth: the history, via node2.
        let history = env.api(1).history(bob.token(), &conv).await?;
        let hist_seqs: Vec<i64> = history.iter().filter_map(|e| e["seq"].as_i64()).collect();
        check::consecutive(&hist_seqs).context("history seqs")?;
        let by_id: HashMap<&str, &Value> = history.iter().filter_map(|e| Some((e["id"].as_str()?, e))).collect();
        ensure!(by_id.len() == history.len(), "an event id appears twice in the history");
        let mut keys = HashSet::new();
        for e in history.iter().filter(|e| e["kind"] == "message") {
            let key = (e["sender_id"].as_str().unwrap_or_default(), e["client_msg_id"].as_str().unwrap_or_default());
            ensure!(keys.insert(key), "two events for one (sender, client_msg_id): {key:?}");
        }
        for r in &reports {
            ensure!(r.acked.len() == TOTAL, "{} acknowledged {} messages", r.tracker.who, r.acked.len());
            ensure!(r.reconnects >= 1, "{} never had to reconnect: the kill missed", r.tracker.who);
            for ev in &r.acked {
                let id = ev["id"].as_str().unwrap_or_default();
                let stored =
                    by_id.get(id).with_context(|| format!("acknowledged event missing from the history: {ev}"))?;
                ensure!(stored["seq"] == ev["seq"], "acknowledged seq differs from the stored one: {ev} vs {stored}");
            }
        }
        ensure!(
            hist_seqs.last().copied() == Some(max_seq),
            "the history ends at {:?}, acks at {max_seq}",
            hist_seqs.last()
        );

        // What each socket saw: every event exactly once, in order, no gaps.
        for r in &mut reports {
            let conv = conv.clone();
            r.tracker.catch_up(&mut r.ws, &conv, max_seq).await?;
            r.tracker.ensure_clean()?;
            ensure!(
                r.tracker.seqs == hist_seqs,
                "{} saw seqs {:?}, history has {hist_seqs:?}",
                r.tracker.who,
                r.tracker.seqs
            );
            r.ws.expect_no_event(&conv, Duration::from_millis(300)).await?;
        }
        watch.record(&watcher.take_buffered_events(&conv));
        watch.catch_up(&mut watcher, &conv, max_seq).await?;
        watch.ensure_clean()?;
        ensure!(
            hist_seqs.ends_with(&watch.seqs),
            "the watcher's seqs {:?} are not the tail of the history",
            watch.seqs
        );
        ensure!(watch.seqs.len() >= 2 * TOTAL, "the watcher saw only {} events", watch.seqs.len());
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_that_sessions_sockets_on_every_node() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let other = env.api(0).login_again(&alice).await?;
        let mut gone1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut gone2 = Ws::connect_synced(&env.ws_url(1), alice.token(), &[&conv]).await?;
        let mut stay1 = Ws::connect_synced(&env.ws_url(0), other.token(), &[&conv]).await?;
        let mut stay2 = Ws::connect_synced(&env.ws_url(1), other.token(), &[&conv]).await?;

        let resp = env.api(0).logout(alice.token()).await?;
        ensure!(resp.status == 204, "logout: {} {}", resp.status, resp.text);

        for (node, ws) in [("node1", &mut gone1), ("node2", &mut gone2)] {
            let closing = ws
                .wait_close(Duration::from_secs(10))
                .await
                .with_context(|| format!("the logged-out session's socket on {node}"))?;
            let errors: Vec<&Value> = closing.frames.iter().filter(|f| f["type"] == "error").collect();
            ensure!(
                errors.iter().any(|f| f["code"] == "session_revoked"),
                "{node}: no session_revoked error before the close; frames {:?}",
                closing.frames
            );
        }
        for (node, i) in [("node1", 0), ("node2", 1)] {
            match Ws::try_connect(&env.ws_url(i), Some(alice.token())).await? {
                Upgrade::Rejected { status, .. } => ensure!(status == 401, "{node}: reconnect refused with {status}"),
                Upgrade::Accepted(_) => bail!("{node} accepted the logged-out session's token"),
            }
        }

        // The other session of the same user is untouched.
        let sent = env.api(1).send_text(bob.token(), &conv, "still there?").await?;
        for (node, ws) in [("node1", &mut stay1), ("node2", &mut stay2)] {
            ws.ping().await.with_context(|| format!("other session on {node}"))?;
            let got = ws.collect_events(&conv, 1, WAIT).await.with_context(|| format!("other session on {node}"))?;
            ensure!(got[0]["event"]["id"] == sent["id"], "{node}: {}", got[0]);
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_clients_to_go_away_and_they_resume_elsewhere() -> Result<()> {
    run(60, async {
        let mut env = TestEnv::start(2).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut alice1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut bob2 = Ws::connect_synced(&env.ws_url(1), bob.token(), &[&conv]).await?;
        let first = alice1.send_message_ok(&conv, "before the restart").await?;

        env.nodes[0].sigterm()?;
        let closing = alice1.wait_close(Duration::from_secs(10)).await?;
        ensure!(
            closing.frames.iter().any(|f| f["type"] == "error" && f["code"] == "going_away"),
            "no going_away error before the close: {:?}",
            closing.frames
        );
        let status = env.nodes[0].wait_exit(Duration::from_secs(15)).await?;
        ensure!(status.success(), "node1 exited with {status} after SIGTERM");

        let missed = env.api(1).send_text(bob.token(), &conv, "while you moved").await?;
        let mut alice2 = Ws::connect(&env.ws_url(1), alice.token()).await?;
        let synced = alice2.sync(&[(&conv, check::seq(&first)?)]).await?;
        let replay = synced.of(&conv);
        ensure!(replay.len() == 1 && replay[0]["event"]["id"] == missed["id"], "replay after moving: {replay:?}");
        bob2.ping().await?;
        Ok(())
    })
    .await
}
