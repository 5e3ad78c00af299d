//! Messages after they are sent, and the details users judge a chat by: replies and mentions,
//! edits, recalls, delete-for-me, reactions, exact unread counts, settings, search, moderation;
//! every refusal. REST on the node and the edge; receipts, typing and the message frames over
//! WebSocket and QUIC across two nodes; the unread/mention property over random interleavings
//! on real nodes; the per-user send limit across connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use parley_tests::quic::Quic;
use parley_tests::{Api, NodeOptions, RestEnv, Session, Target, TestEnv, Ws, check, cmid, node_and_edge};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn msg_path(conv: &str, id: &str) -> String {
    format!("/v1/conversations/{conv}/messages/{id}")
}

fn reaction_path(conv: &str, id: &str, emoji: &str) -> String {
    let enc: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("{}/reactions/{enc}", msg_path(conv, id))
}

async fn send_full(api: &Api, who: &Session, conv: &str, body: Value) -> Result<parley_tests::Resp> {
    let mut b = body;
    b["client_msg_id"] = json!(cmid());
    api.post(&format!("/v1/conversations/{conv}/messages"), Some(who.token()), &b).await
}

/// One message of `viewer`'s history by id.
async fn seen(api: &Api, viewer: &Session, conv: &str, id: &str) -> Result<Value> {
    api.history(viewer.token(), conv)
        .await?
        .into_iter()
        .find(|e| e["id"] == id)
        .ok_or_else(|| anyhow!("{id} is not in {}'s history", viewer.username))
}

async fn counts(api: &Api, who: &Session, conv: &str) -> Result<(i64, i64)> {
    let c = api.conversation(who.token(), conv).await?;
    Ok((check::int_field(&c, "unread_count")?, check::int_field(&c, "mention_count")?))
}

/// Makes a message older than the recall window (the shortest window is still minutes).
async fn age(env: &RestEnv, id: &str) -> Result<()> {
    let db = env.env.db.client().await?;
    db.execute("UPDATE events SET created_at = now() - interval '10 minutes' WHERE id = $1::text::uuid", &[&id])
        .await?;
    Ok(())
}

node_and_edge!(replies_mentions_edits_recalls_and_delete_for_me, 120);

async fn replies_mentions_edits_recalls_and_delete_for_me(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let carol = api.signup("carol").await?;
    let conv = api.direct_id(&alice, &bob).await?;
    let other = api.direct_id(&alice, &carol).await?;

    // Replies: to a visible message of the same conversation only.
    let first = api.send_text(alice.token(), &conv, "first").await?;
    let first_id = check::str_field(&first, "id")?.to_owned();
    let elsewhere = api.send_text(alice.token(), &other, "for carol").await?;
    let reply = send_full(&api, &bob, &conv, json!({"text": "re", "reply_to": first_id})).await?.ok(201)?;
    ensure!(reply["reply_to"] == first_id.as_str(), "{reply}");
    let msg = send_full(&api, &bob, &conv, json!({"text": "re", "reply_to": elsewhere["id"]})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["reply_to"])?;
    // Mentions: members only; @all only in groups.
    let men = send_full(&api, &alice, &conv, json!({"text": "hi @bob", "mentions": [bob.user_id]})).await?.ok(201)?;
    ensure!(men["mentions"] == json!([bob.user_id]), "{men}");
    let msg = send_full(&api, &alice, &conv, json!({"text": "x", "mentions": [carol.user_id]})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["mentions"])?;
    let msg = send_full(&api, &alice, &conv, json!({"text": "x", "mention_all": true})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["mention_all"])?;

    // Edits: the sender only; history shows the latest text and edited_at.
    let path = msg_path(&conv, &first_id);
    api.patch(&path, bob.token(), &json!({"text": "mine now"})).await?.error(403, "forbidden")?;
    api.patch(&path, carol.token(), &json!({"text": "x"})).await?.error(404, "not_found")?;
    api.patch(&msg_path(&other, &first_id), alice.token(), &json!({"text": "x"})).await?.error(404, "not_found")?;
    let msg = api.patch(&path, alice.token(), &json!({"text": " "})).await?.error(400, "invalid_request")?;
    check::mentions_any(&msg, &["text"])?;
    api.patch(&path, alice.token(), &json!({"text": "t".repeat(8001)})).await?.error(400, "invalid_request")?;
    let edit = api.patch(&path, alice.token(), &json!({"text": "first, edited"})).await?.ok(200)?;
    ensure!(
        edit["kind"] == "edit" && edit["message_id"] == first_id.as_str() && edit["text"] == "first, edited",
        "{edit}"
    );
    let now = seen(&api, &bob, &conv, &first_id).await?;
    ensure!(now["text"] == "first, edited" && now["edited_at"].is_string(), "{now}");

    // Recall: the sender within the window; the text is gone, for good.
    let late = api.send_text(alice.token(), &conv, "a secret word: zebrafish").await?;
    let late_id = check::str_field(&late, "id")?.to_owned();
    let found = api.get("/v1/search/messages?q=zebrafish", Some(bob.token())).await?.ok(200)?;
    ensure!(found["hits"].as_array().map(Vec::len) == Some(1), "{found}");
    let recall = format!("{}/recall", msg_path(&conv, &late_id));
    api.post(&recall, Some(bob.token()), &json!({})).await?.error(403, "forbidden")?;
    let r = api.post(&recall, Some(alice.token()), &json!({})).await?.ok(200)?;
    ensure!(r["kind"] == "recall" && r["message_id"] == late_id.as_str(), "{r}");
    api.post(&recall, Some(alice.token()), &json!({})).await?.error(409, "conflict")?;
    let gone = seen(&api, &bob, &conv, &late_id).await?;
    ensure!(gone["text"].is_null() && gone["recalled_at"].is_string() && gone["mentions"] == json!([]), "{gone}");
    let found = api.get("/v1/search/messages?q=zebrafish", Some(bob.token())).await?.ok(200)?;
    ensure!(found["hits"] == json!([]), "a recalled word is not found: {found}");
    api.patch(&msg_path(&conv, &late_id), alice.token(), &json!({"text": "again"})).await?.error(409, "conflict")?;
    api.put(&reaction_path(&conv, &late_id, "👍"), bob.token()).await?.error(409, "conflict")?;
    let msg = send_full(&api, &bob, &conv, json!({"text": "re", "reply_to": late_id})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["reply_to"])?;
    // The edit of a recalled message loses its text too.
    let e2 = api.send_text(alice.token(), &conv, "typo").await?;
    let e2_id = check::str_field(&e2, "id")?.to_owned();
    api.patch(&msg_path(&conv, &e2_id), alice.token(), &json!({"text": "fixed"})).await?.ok(200)?;
    api.post(&format!("{}/recall", msg_path(&conv, &e2_id)), Some(alice.token()), &json!({})).await?.ok(200)?;
    let log = api.history(bob.token(), &conv).await?;
    let edit = log.iter().find(|e| e["kind"] == "edit" && e["message_id"] == e2_id.as_str()).unwrap();
    ensure!(edit["text"].is_null(), "{edit}");
    // After the window, no.
    let old = api.send_text(alice.token(), &conv, "old news").await?;
    let old_id = check::str_field(&old, "id")?.to_owned();
    age(&env, &old_id).await?;
    let msg = api.post(&format!("{}/recall", msg_path(&conv, &old_id)), Some(alice.token()), &json!({})).await?;
    check::mentions_any(&msg.error(403, "forbidden")?, &["within"])?;

    // Delete for me: gone from bob's view and counts, still in alice's.
    let before = counts(&api, &bob, &conv).await?;
    let extra = api.send_text(alice.token(), &conv, "delete me, bob").await?;
    let extra_id = check::str_field(&extra, "id")?.to_owned();
    ensure!(counts(&api, &bob, &conv).await?.0 == before.0 + 1);
    api.delete(&msg_path(&conv, &extra_id), bob.token(), None).await?.ok(204)?;
    api.delete(&msg_path(&conv, &extra_id), bob.token(), None).await?.ok(204)?;
    api.delete(&msg_path(&conv, &extra_id), carol.token(), None).await?.error(404, "not_found")?;
    let mine = seen(&api, &bob, &conv, &extra_id).await?;
    ensure!(mine["hidden"] == true && mine["text"].is_null(), "{mine}");
    let theirs = seen(&api, &alice, &conv, &extra_id).await?;
    ensure!(theirs["text"] == "delete me, bob" && theirs.get("hidden").is_none(), "{theirs}");
    ensure!(counts(&api, &bob, &conv).await?.0 == before.0, "a deleted message is not unread");
    let found = api.get("/v1/search/messages?q=delete", Some(bob.token())).await?.ok(200)?;
    ensure!(found["hits"] == json!([]), "{found}");
    Ok(())
}

node_and_edge!(group_recalls_mentions_all_and_reactions, 120);

async fn group_recalls_mentions_all_and_reactions(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let owner = api.signup("owner").await?;
    let admin = api.signup("admin").await?;
    let member = api.signup("member").await?;
    let guest = api.signup("guest").await?;
    let g = check::str_field(&api.create_group(&owner, "G", &[&admin, &member, &guest]).await?, "id")?.to_owned();
    api.patch(&format!("/v1/groups/{g}/members/{}", admin.user_id), owner.token(), &json!({"role": "admin"}))
        .await?
        .ok(200)?;
    api.patch(&format!("/v1/groups/{g}/members/{}", guest.user_id), owner.token(), &json!({"role": "guest"}))
        .await?
        .ok(200)?;

    // @all: owner and admins.
    let msg = send_full(&api, &member, &g, json!({"text": "everyone!", "mention_all": true})).await?;
    msg.error(403, "forbidden")?;
    let all = send_full(&api, &admin, &g, json!({"text": "everyone, look", "mention_all": true})).await?.ok(201)?;
    ensure!(all["mention_all"] == true, "{all}");
    ensure!(counts(&api, &member, &g).await? == (1, 1), "@all counts as a mention");
    ensure!(counts(&api, &guest, &g).await? == (1, 1));
    ensure!(counts(&api, &admin, &g).await? == (0, 0), "never one's own");

    // Recalls by managers at any time, below their rank.
    let m = api.send_text(member.token(), &g, "a member's old message").await?;
    let m_id = check::str_field(&m, "id")?.to_owned();
    let a = api.send_text(admin.token(), &g, "an admin's old message").await?;
    let a_id = check::str_field(&a, "id")?.to_owned();
    age(&env, &m_id).await?;
    age(&env, &a_id).await?;
    api.post(&format!("{}/recall", msg_path(&g, &a_id)), Some(member.token()), &json!({}))
        .await?
        .error(403, "forbidden")?;
    api.post(&format!("{}/recall", msg_path(&g, &m_id)), Some(admin.token()), &json!({})).await?.ok(200)?;
    let all_id = check::str_field(&all, "id")?.to_owned();
    api.post(&format!("{}/recall", msg_path(&g, &all_id)), Some(owner.token()), &json!({})).await?.ok(200)?;
    ensure!(counts(&api, &guest, &g).await? == (1, 0), "recalled: neither unread nor a mention");

    // Reactions: guests too; one per user per emoji; counts in history.
    let path = reaction_path(&g, &a_id, "👍");
    let ev = api.put(&path, guest.token()).await?.ok(200)?;
    ensure!(ev["kind"] == "reaction" && ev["emoji"] == "👍" && ev["added"] == true, "{ev}");
    api.put(&path, guest.token()).await?.ok(204)?;
    api.put(&path, member.token()).await?.ok(200)?;
    api.put(&reaction_path(&g, &a_id, "🎉"), member.token()).await?.ok(200)?;
    let shown = seen(&api, &member, &g, &a_id).await?;
    let r = shown["reactions"].as_array().ok_or_else(|| anyhow!("{shown}"))?;
    ensure!(r[0]["emoji"] == "👍" && r[0]["count"] == 2 && r[0]["me"] == true, "{shown}");
    ensure!(r[1]["emoji"] == "🎉" && r[1]["count"] == 1, "{shown}");
    let for_owner = seen(&api, &owner, &g, &a_id).await?;
    ensure!(for_owner["reactions"][0]["me"] == false, "{for_owner}");
    let unreact = api.delete(&path, guest.token(), None).await?.ok(200)?;
    ensure!(unreact["added"] == false, "{unreact}");
    api.delete(&path, guest.token(), None).await?.ok(204)?;
    for bad in ["ok", "a%20b", "%F0%9F"] {
        let p = format!("{}/reactions/{bad}", msg_path(&g, &a_id));
        api.put(&p, member.token()).await?.error(400, "invalid_request")?;
    }
    let other = api.direct_id(&owner, &member).await?;
    api.put(&reaction_path(&other, &a_id, "👍"), member.token()).await?.error(404, "not_found")?;
    // A dissolved group: no more reactions, recalls or edits.
    api.delete(&format!("/v1/groups/{g}"), owner.token(), None).await?.ok(204)?;
    api.put(&reaction_path(&g, &a_id, "😀"), member.token()).await?.error(403, "forbidden")?;
    Ok(())
}

node_and_edge!(search_settings_and_counts_in_the_list, 90);

async fn search_settings_and_counts_in_the_list(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let eve = api.signup("eve").await?;
    let conv = api.direct_id(&alice, &bob).await?;
    let theirs = api.direct_id(&alice, &eve).await?;
    for t in ["we go to Kyoto tomorrow", "我们明天去东京", "the kyoto trip photos", "nothing here"] {
        api.send_text(alice.token(), &conv, t).await?;
    }
    api.send_text(alice.token(), &theirs, "kyoto with eve").await?;
    let r = api.get("/v1/search/messages?q=kyoto", Some(bob.token())).await?.ok(200)?;
    let hits = r["hits"].as_array().ok_or_else(|| anyhow!("{r}"))?;
    ensure!(hits.len() == 2, "only what bob can read: {r}");
    for h in hits {
        let snippet = check::str_field(h, "snippet")?;
        let [a, b] = [
            h["highlights"][0][0].as_u64().unwrap_or(0) as usize,
            h["highlights"][0][1].as_u64().unwrap_or(0) as usize,
        ];
        let marked: String = snippet.chars().skip(a).take(b - a).collect();
        ensure!(marked.eq_ignore_ascii_case("kyoto"), "{h}");
        ensure!(h["event"]["kind"] == "message", "{h}");
    }
    let cjk = api.get("/v1/search/messages?q=%E4%B8%9C%E4%BA%AC", Some(bob.token())).await?.ok(200)?;
    ensure!(cjk["hits"].as_array().map(Vec::len) == Some(1), "东京: {cjk}");
    let page = api.get("/v1/search/messages?q=kyo&limit=1", Some(bob.token())).await?.ok(200)?;
    let cursor = check::str_field(&page, "next_cursor")?;
    let next =
        api.get(&format!("/v1/search/messages?q=kyo&limit=1&cursor={cursor}"), Some(bob.token())).await?.ok(200)?;
    ensure!(
        next["hits"][0]["event"]["id"] != page["hits"][0]["event"]["id"] && next["next_cursor"].is_null(),
        "{next}"
    );
    let only = api.get(&format!("/v1/search/messages?q=kyoto&conversation_id={theirs}"), Some(bob.token())).await?;
    only.error(404, "not_found")?;
    for bad in ["/v1/search/messages", "/v1/search/messages?q=%20%21", "/v1/search/messages?q=a&cursor=nope"] {
        api.get(bad, Some(bob.token())).await?.error(400, "invalid_request")?;
    }
    api.get("/v1/search/messages?q=a", None).await?.error(401, "unauthorized")?;

    // Settings: per user, in the list.
    let s = api
        .patch(
            &format!("/v1/conversations/{conv}/settings"),
            bob.token(),
            &json!({"pinned": true, "muted_until": "2030-01-01T00:00:00.000Z"}),
        )
        .await?
        .ok(200)?;
    ensure!(s["pinned"] == true && s["muted_until"] == "2030-01-01T00:00:00.000Z" && s["archived"] == false, "{s}");
    let s = api
        .patch(
            &format!("/v1/conversations/{conv}/settings"),
            bob.token(),
            &json!({"muted_until": null, "archived": true}),
        )
        .await?
        .ok(200)?;
    ensure!(s["pinned"] == true && s["muted_until"].is_null() && s["archived"] == true, "{s}");
    let mine = api.conversation(bob.token(), &conv).await?;
    ensure!(mine["pinned"] == true && mine["archived"] == true, "{mine}");
    let hers = api.conversation(alice.token(), &conv).await?;
    ensure!(hers["pinned"] == false && hers["archived"] == false, "for bob only: {hers}");
    api.patch(&format!("/v1/conversations/{theirs}/settings"), bob.token(), &json!({"pinned": true}))
        .await?
        .error(404, "not_found")?;
    api.patch(&format!("/v1/conversations/{conv}/settings"), bob.token(), &json!({"starred": true}))
        .await?
        .error(400, "invalid_request")?;

    // Counts: messages from others after the read position; reads move them to zero.
    ensure!(counts(&api, &bob, &conv).await? == (4, 0));
    ensure!(counts(&api, &alice, &conv).await? == (0, 0), "never one's own");
    let last = check::int_field(&api.conversation(bob.token(), &conv).await?, "last_seq")?;
    api.read(bob.token(), &conv, last).await?.ok(200)?;
    ensure!(counts(&api, &bob, &conv).await? == (0, 0));
    let peer = api.conversation(alice.token(), &conv).await?;
    ensure!(peer["peer_read_seq"] == last, "alice sees how far bob read: {peer}");
    Ok(())
}

node_and_edge!(sensitive_words_and_reports, 90);

async fn sensitive_words_and_reports(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    // Listed before anything reads the list (the edge keeps what it read for 30 s).
    for (word, reject) in [("darn", false), ("forbiddenword", true)] {
        let mut cmd = std::process::Command::new(parley_tests::node_bin());
        cmd.args(["words", "add", word]).env("DATABASE_URL", &env.env.db.url);
        if reject {
            cmd.arg("--reject");
        }
        let out = cmd.output().context("parley-node words add")?;
        ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let listed = std::process::Command::new(parley_tests::node_bin())
        .args(["words", "list"])
        .env("DATABASE_URL", &env.env.db.url)
        .output()?;
    ensure!(String::from_utf8_lossy(&listed.stdout).contains("forbiddenword\treject"));
    // The node reloads on the change notice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let conv = api.direct_id(&alice, &bob).await?;
    let m = api.send_text(alice.token(), &conv, "oh DARN it").await?;
    ensure!(m["text"] == "oh **** it", "masked: {m}");
    let msg = api.send(alice.token(), &conv, &cmid(), "a ForbiddenWord here").await?.error(400, "invalid_request")?;
    check::mentions_any(&msg, &["text"])?;
    let id = check::str_field(&m, "id")?.to_owned();
    let msg = api.patch(&msg_path(&conv, &id), alice.token(), &json!({"text": "forbiddenword"})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["text"])?;
    let p = api.patch("/v1/users/me", alice.token(), &json!({"bio": "darn good"})).await?.ok(200)?;
    ensure!(p["bio"] == "**** good", "{p}");
    let msg = api.post("/v1/groups", Some(alice.token()), &json!({"name": "forbiddenword club"})).await?;
    check::mentions_any(&msg.error(400, "invalid_request")?, &["name"])?;

    // Reports.
    let r = api.post("/v1/reports", Some(bob.token()), &json!({"message_id": id, "reason": "rude"})).await?.ok(201)?;
    ensure!(r["user_id"] == alice.user_id.as_str() && r["message_id"] == id.as_str() && r["reason"] == "rude", "{r}");
    api.post("/v1/reports", Some(bob.token()), &json!({"user_id": alice.user_id, "reason": "spam"})).await?.ok(201)?;
    for body in [
        json!({"reason": "x"}),
        json!({"message_id": id, "user_id": alice.user_id, "reason": "x"}),
        json!({"user_id": alice.user_id, "reason": " "}),
    ] {
        api.post("/v1/reports", Some(bob.token()), &body).await?.error(400, "invalid_request")?;
    }
    let eve = api.signup("eve").await?;
    api.post("/v1/reports", Some(eve.token()), &json!({"message_id": id, "reason": "x"}))
        .await?
        .error(404, "not_found")?;
    let db = env.env.db.client().await?;
    let n: i64 = db.query_one("SELECT count(*) FROM reports", &[]).await?.get(0);
    ensure!(n == 2, "{n} reports stored");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_typing_and_message_frames_over_ws_and_quic_across_two_nodes() -> Result<()> {
    parley_tests::install_crypto_provider();
    parley_tests::run(120, async {
        let env = TestEnv::start(2).await?;
        let (n1, n2) = (&env.nodes[0], &env.nodes[1]);
        let api = env.api(0);
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let carol = api.signup("carol").await?;
        let mut a = Ws::connect_synced(&n1.ws_url(), alice.token(), &[&conv]).await?;
        let mut b = Quic::connect_synced(n2.quic_addr(), n2.cert_sha256(), bob.token(), &[&conv]).await?;

        // sent → delivered → read.
        let m = a.send_message_ok(&conv, "hello").await?;
        let seq = check::seq(&m)?;
        let got = b.collect_events(&conv, 1, WAIT).await?;
        ensure!(check::seq(&got[0])? == seq);
        let d = a.wait_for(WAIT, "delivered", |f| f["type"] == "delivered").await?;
        ensure!(
            d["user_id"] == bob.user_id.as_str() && d["seq"] == seq && d["conversation_id"] == conv.as_str(),
            "{d}"
        );
        b.send_json(&json!({"type": "read", "conversation_id": conv, "seq": seq})).await?;
        let r = a.wait_for(WAIT, "read", |f| f["type"] == "read" && f["user_id"] == bob.user_id.as_str()).await?;
        ensure!(r["seq"] == seq, "{r}");
        let summary = api.conversation(alice.token(), &conv).await?;
        ensure!(summary["peer_delivered_seq"] == seq && summary["peer_read_seq"] == seq, "{summary}");

        // Typing: start and stop reach the other member; not one's own; not a stranger's
        // conversation.
        b.send_json(&json!({"type": "typing", "conversation_id": conv})).await?;
        let t = a.wait_for(WAIT, "typing", |f| f["type"] == "typing").await?;
        ensure!(t["active"] == true && t["user_id"] == bob.user_id.as_str(), "{t}");
        b.send_json(&json!({"type": "typing", "conversation_id": conv, "active": false})).await?;
        let t = a.wait_for(WAIT, "typing stop", |f| f["type"] == "typing").await?;
        ensure!(t["active"] == false, "{t}");
        let foreign = api.direct_id(&alice, &carol).await?;
        b.send_json(&json!({"type": "typing", "conversation_id": foreign})).await?;
        let e = b.wait_for(WAIT, "an error", |f| f["type"] == "error").await?;
        ensure!(e["code"] == "not_found", "{e}");

        // Edit, react, recall as frames; the other side gets the events.
        let mid = check::str_field(&m, "id")?.to_owned();
        let r = a
            .request(json!({"type": "edit", "conversation_id": conv, "message_id": mid, "text": "hello, edited"}))
            .await?;
        ensure!(r["ok"] == true && r["event"]["kind"] == "edit", "{r}");
        let r = b.request(json!({"type": "edit", "conversation_id": conv, "message_id": mid, "text": "mine"})).await?;
        ensure!(r["ok"] == false && r["error"]["code"] == "forbidden", "edit by another user: {r}");
        let r = b.request(json!({"type": "react", "conversation_id": conv, "message_id": mid, "emoji": "🔥"})).await?;
        ensure!(r["ok"] == true && r["event"]["kind"] == "reaction", "{r}");
        let r = b.request(json!({"type": "react", "conversation_id": conv, "message_id": mid, "emoji": "🔥"})).await?;
        ensure!(r["ok"] == true && r.get("event").is_none(), "nothing changed: {r}");
        let r = b.request(json!({"type": "recall", "conversation_id": conv, "message_id": mid})).await?;
        ensure!(r["ok"] == false && r["error"]["code"] == "forbidden", "{r}");
        let r = a.request(json!({"type": "recall", "conversation_id": conv, "message_id": mid})).await?;
        ensure!(r["ok"] == true && r["event"]["kind"] == "recall", "{r}");
        let evs = b.collect_events(&conv, 3, WAIT).await?;
        let kinds: Vec<&str> = evs.iter().map(|f| f["event"]["kind"].as_str().unwrap_or("")).collect();
        ensure!(kinds == ["edit", "reaction", "recall"], "{kinds:?}");

        // Delete for me on one device: the user's other device hears of it, the other side not.
        let m2 = a.send_message_ok(&conv, "for bob's eyes").await?;
        let m2_id = check::str_field(&m2, "id")?.to_owned();
        b.collect_events(&conv, 1, WAIT).await?;
        let bob2 = api.login_again(&bob).await?;
        let mut b2 = Ws::connect_synced(&n1.ws_url(), bob2.token(), &[&conv]).await?;
        api.delete(&msg_path(&conv, &m2_id), bob.token(), None).await?.ok(204)?;
        let h = b2.wait_for(WAIT, "message_hidden", |f| f["type"] == "message_hidden").await?;
        ensure!(h["message_id"] == m2_id.as_str(), "{h}");
        a.expect_none(Duration::from_millis(500), "message_hidden", |f| f["type"] == "message_hidden").await?;
        // Bob's sync replays it as hidden.
        let replay = b2.sync(&[(&conv, 0)]).await?;
        let h = replay
            .of(&conv)
            .into_iter()
            .find(|f| f["event"]["id"] == m2_id.as_str())
            .ok_or_else(|| anyhow!("replayed"))?;
        ensure!(h["event"]["hidden"] == true && h["event"]["text"].is_null(), "{h}");
        a.close().await;
        b2.close().await;
        Ok(())
    })
    .await
}

/// Tiny deterministic random numbers (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What the test knows of one message.
struct Known {
    seq: i64,
    sender: usize,
    mentions: BTreeSet<usize>,
    all: bool,
    recalled: bool,
    hidden_for: BTreeSet<usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_and_mention_counts_stay_exact_over_random_interleavings() -> Result<()> {
    parley_tests::run(150, async {
        let env = TestEnv::start(2).await?;
        let apis = [env.api(0), env.api(1)];
        let mut users = Vec::new();
        for name in ["ann", "ben", "cat"] {
            users.push(apis[0].signup(name).await?);
        }
        // A second device (session) for each, used for reads and deletes on the other node.
        let mut devices = Vec::new();
        for u in &users {
            devices.push(apis[1].login_again(u).await?);
        }
        let g =
            check::str_field(&apis[0].create_group(&users[0], "P", &[&users[1], &users[2]]).await?, "id")?.to_owned();
        let mut ws: Vec<Ws> = Vec::new();
        for (i, u) in users.iter().enumerate() {
            ws.push(Ws::connect_synced(&env.ws_url(i % 2), u.token(), &[&g]).await?);
        }
        let mut msgs: Vec<(String, Known)> = Vec::new();
        let mut read: HashMap<usize, i64> = HashMap::new();
        let mut head = check::seq(apis[0].history(users[0].token(), &g).await?.last().unwrap())?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for step in 0..120 {
            let who = rng.below(3);
            match rng.below(10) {
                0..=3 => {
                    // Send over REST (either node) or WebSocket, maybe mentioning someone.
                    let mention = rng.below(4);
                    let mut body = json!({"client_msg_id": cmid(), "text": format!("m{step}")});
                    let mut mentions = BTreeSet::new();
                    if mention < 3 && mention != who {
                        body["mentions"] = json!([users[mention].user_id]);
                        mentions.insert(mention);
                    }
                    let all = who == 0 && rng.below(5) == 0;
                    if all {
                        body["mention_all"] = json!(true);
                    }
                    let ev = if rng.below(2) == 0 {
                        apis[rng.below(2)]
                            .post(&format!("/v1/conversations/{g}/messages"), Some(users[who].token()), &body)
                            .await?
                            .ok(201)?
                    } else {
                        let mut f = body.clone();
                        f["type"] = json!("send");
                        f["conversation_id"] = json!(g);
                        parley_tests::ws::reply_event(&ws[who].request(f).await?)?
                    };
                    let seq = check::seq(&ev)?;
                    head = head.max(seq);
                    // Sending moves the sender's read position to their message.
                    let r = read.entry(who).or_insert(0);
                    *r = (*r).max(seq);
                    let k = Known { seq, sender: who, mentions, all, recalled: false, hidden_for: BTreeSet::new() };
                    msgs.push((check::str_field(&ev, "id")?.to_owned(), k));
                }
                4 | 5 => {
                    // Read up to some seq, from the second device on the other node.
                    let upto = head - rng.below(4) as i64;
                    apis[1].read(devices[who].token(), &g, upto.max(0)).await?.ok(200)?;
                    let r = read.entry(who).or_insert(0);
                    *r = (*r).max(upto.max(0));
                }
                6 | 7 if !msgs.is_empty() => {
                    // Recall one of one's own (within the window).
                    let mine: Vec<usize> =
                        (0..msgs.len()).filter(|i| msgs[*i].1.sender == who && !msgs[*i].1.recalled).collect();
                    if let Some(&i) = mine.get(rng.below(mine.len().max(1)).min(mine.len().saturating_sub(1))) {
                        let path = format!("{}/recall", msg_path(&g, &msgs[i].0));
                        let r = apis[rng.below(2)].post(&path, Some(users[who].token()), &json!({})).await?.ok(200)?;
                        head = head.max(check::seq(&r)?);
                        msgs[i].1.recalled = true;
                    }
                }
                8 if !msgs.is_empty() => {
                    // Delete one for oneself.
                    let i = rng.below(msgs.len());
                    apis[rng.below(2)].delete(&msg_path(&g, &msgs[i].0), devices[who].token(), None).await?.ok(204)?;
                    msgs[i].1.hidden_for.insert(who);
                }
                _ => {
                    // Drop a connection and come back (and sync) on the other node.
                    let node = rng.below(2);
                    let fresh = Ws::connect_synced(&env.ws_url(node), users[who].token(), &[&g]).await?;
                    let old = std::mem::replace(&mut ws[who], fresh);
                    old.close().await;
                }
            }
            if step % 20 == 19 {
                for (u, s) in users.iter().enumerate() {
                    let want_unread = msgs
                        .iter()
                        .filter(|(_, k)| {
                            k.sender != u
                                && !k.recalled
                                && !k.hidden_for.contains(&u)
                                && k.seq > *read.get(&u).unwrap_or(&0)
                        })
                        .count() as i64;
                    let want_mentions = msgs
                        .iter()
                        .filter(|(_, k)| {
                            k.sender != u
                                && !k.recalled
                                && !k.hidden_for.contains(&u)
                                && k.seq > *read.get(&u).unwrap_or(&0)
                                && (k.all || k.mentions.contains(&u))
                        })
                        .count() as i64;
                    let got = counts(&apis[u % 2], s, &g).await?;
                    ensure!(
                        got == (want_unread, want_mentions),
                        "step {step}, {}: counts {got:?}, the log says {:?}",
                        s.username,
                        (want_unread, want_mentions)
                    );
                }
            }
        }
        let kinds: BTreeMap<String, usize> =
            apis[0].history(users[0].token(), &g).await?.iter().fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e["kind"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
                m
            });
        ensure!(kinds.get("message").copied().unwrap_or(0) == msgs.len(), "{kinds:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_send_limit_holds_across_sockets_nodes_and_rest() -> Result<()> {
    parley_tests::run(90, async {
        let limited = |id: &str| {
            let mut o = NodeOptions::new(id);
            o.extra_args = vec!["--user-send-rate".into(), "5".into(), "--user-send-burst".into(), "10".into()];
            o
        };
        let env = TestEnv::start_with(vec![limited("node1"), limited("node2")]).await?;
        let (alice, _bob, conv) = env.pair("alice", "bob").await?;
        let mut w1 = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut w2 = Ws::connect_synced(&env.ws_url(1), alice.token(), &[&conv]).await?;
        let mut ids = Vec::new();
        for i in 0..8 {
            ids.push((1, w1.start_send(&conv, &cmid(), &format!("one {i}")).await?));
            ids.push((2, w2.start_send(&conv, &cmid(), &format!("two {i}")).await?));
        }
        let (mut acked, mut limited_n) = (Vec::new(), 0);
        for (w, id) in ids {
            let ws = if w == 1 { &mut w1 } else { &mut w2 };
            let r = ws.wait_reply(id, WAIT).await?;
            if r["ok"] == true {
                acked.push(r["event"]["id"].as_str().unwrap_or_default().to_owned());
            } else {
                ensure!(r["error"]["code"] == "rate_limited", "{r}");
                limited_n += 1;
            }
        }
        let rest = env.api(0).send(alice.token(), &conv, &cmid(), "and over REST").await?;
        rest.error(429, "rate_limited")?;
        ensure!(rest.header("retry-after").is_some(), "Retry-After");
        ensure!(
            acked.len() <= 11 && limited_n >= 5,
            "burst 10 across both nodes: {} acked, {limited_n} limited",
            acked.len()
        );
        // Nothing acknowledged is lost.
        let stored: BTreeSet<String> = env
            .api(1)
            .messages(alice.token(), &conv)
            .await?
            .iter()
            .map(|e| e["id"].as_str().unwrap_or("").to_owned())
            .collect();
        ensure!(acked.iter().all(|a| stored.contains(a)) && stored.len() == acked.len(), "{stored:?} vs {acked:?}");
        w1.close().await;
        w2.close().await;
        Ok(())
    })
    .await
}
