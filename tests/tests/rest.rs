//! REST conversations and messages: direct conversations, the list with unread counts,
//! idempotent sends, history paging.

use anyhow::{Context, Result, ensure};
use parley_tests::{EventsQuery, RestEnv, Target, check, cmid, node_and_edge};
use serde_json::Value;

fn seqs(events: &[Value]) -> Result<Vec<i64>> {
    events.iter().map(check::seq).collect()
}

node_and_edge!(direct_conversation_is_one_per_pair_on_every_node, 60);

async fn direct_conversation_is_one_per_pair_on_every_node(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let (api1, api2) = (env.api(0), env.api(1));
    let alice = api1.signup("alice").await?;
    let bob = api1.signup("bob").await?;
    let carol = api1.signup("carol").await?;

    let first = api1.direct(&alice.access_token, &bob.user_id).await?.ok_any(&[200, 201])?;
    let id = check::conversation_id(&first)?.to_owned();
    if let Some(kind) = first.get("kind") {
        ensure!(kind == "direct", "kind of a direct conversation: {first}");
    }
    for (api, who, other) in
        [(&api1, &alice, &bob), (&api2, &alice, &bob), (&api1, &bob, &alice), (&api2, &bob, &alice)]
    {
        let again = api.direct_id(who, other).await?;
        ensure!(again == id, "direct conversation {} ↔ {}: {again} != {id}", who.username, other.username);
    }
    let other = api1.direct_id(&alice, &carol).await?;
    ensure!(other != id, "alice↔carol must be another conversation");
    Ok(())
}

node_and_edge!(conversation_list_carries_unread_counts_most_recent_first, 60);

async fn conversation_list_carries_unread_counts_most_recent_first(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, bob, ab) = env.pair("alice", "bob").await?;
    let carol = api.signup("carol").await?;
    let ac = api.direct_id(&alice, &carol).await?;

    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(api.send_text(&alice.access_token, &ab, &format!("hello {i}")).await?);
    }
    let s = seqs(&sent)?;
    check::consecutive(&s)?;

    let item = api.conversation(&bob.access_token, &ab).await?;
    for key in [
        "id",
        "kind",
        "title",
        "last_event",
        "last_seq",
        "read_seq",
        "unread_count",
        "mention_count",
        "pinned",
        "muted_until",
        "archived",
    ] {
        ensure!(item.get(key).is_some(), "conversation item lacks `{key}`: {item}");
    }
    ensure!(item["kind"] == "direct", "kind: {item}");
    ensure!(item["last_seq"] == s[2], "last_seq should be {}: {item}", s[2]);
    ensure!(item["unread_count"] == 3, "bob has 3 unread: {item}");
    ensure!(item["last_event"]["seq"] == s[2], "last_event is the latest: {item}");
    check::message_event(&item["last_event"], check::Msg { text: Some("hello 3"), ..Default::default() })?;

    let resp = api.read(&bob.access_token, &ab, s[1]).await?;
    ensure!(matches!(resp.status, 200 | 204), "read: {} {}", resp.status, resp.text);
    let item = api.conversation(&bob.access_token, &ab).await?;
    ensure!(item["read_seq"] == s[1], "read_seq after reading seq {}: {item}", s[1]);
    ensure!(item["unread_count"] == 1, "bob has 1 unread after reading up to the 2nd: {item}");

    let resp = api.read(&bob.access_token, &ab, s[2]).await?;
    ensure!(matches!(resp.status, 200 | 204), "read: {} {}", resp.status, resp.text);
    let item = api.conversation(&bob.access_token, &ab).await?;
    ensure!(item["unread_count"] == 0, "all read: {item}");

    // Most recent first.
    api.send_text(&alice.access_token, &ac, "to carol").await?;
    let list = api.conversation_list(&alice.access_token).await?;
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).collect();
    ensure!(ids == [ac.as_str(), ab.as_str()], "alice's list order after writing to carol: {ids:?}");
    api.send_text(&alice.access_token, &ab, "back to bob").await?;
    let list = api.conversation_list(&alice.access_token).await?;
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).collect();
    ensure!(ids == [ab.as_str(), ac.as_str()], "alice's list order after writing to bob: {ids:?}");

    // Carol only sees her conversation.
    let list = api.conversation_list(&carol.access_token).await?;
    let ids: Vec<&str> = list.iter().filter_map(|c| c["id"].as_str()).collect();
    ensure!(ids == [ac.as_str()], "carol's list: {ids:?}");
    Ok(())
}

node_and_edge!(send_is_idempotent_on_client_msg_id_across_nodes, 60);

async fn send_is_idempotent_on_client_msg_id_across_nodes(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let (api1, api2) = (env.api(0), env.api(1));
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    let id = cmid();

    let first = api1.send(&alice.access_token, &conv, &id, "only once").await?.ok(201)?;
    check::message_event(
        &first,
        check::Msg {
            conversation_id: Some(&conv),
            sender_id: Some(&alice.user_id),
            text: Some("only once"),
            client_msg_id: Some(&id),
        },
    )?;
    for (api, node) in [(&api1, "node1"), (&api2, "node2")] {
        let retry = api
            .send(&alice.access_token, &conv, &id, "only once")
            .await?
            .ok_any(&[200, 201])
            .with_context(|| format!("retry on {node}"))?;
        ensure!(retry["id"] == first["id"], "retry on {node} returned another event: {retry} vs {first}");
        ensure!(retry["seq"] == first["seq"], "retry on {node} changed the seq: {retry} vs {first}");
    }
    // The same client_msg_id from another sender is another message.
    let bobs = api1.send(&bob.access_token, &conv, &id, "bob's own").await?.ok(201)?;
    ensure!(bobs["id"] != first["id"], "client_msg_id is scoped by sender");

    let history = api2.messages(&bob.access_token, &conv).await?;
    let alices: Vec<&Value> = history
        .iter()
        .filter(|e| e["client_msg_id"] == id.as_str() && e["sender_id"] == alice.user_id.as_str())
        .collect();
    ensure!(alices.len() == 1, "one event for the retried send, got {alices:?}");
    ensure!(history.len() == 2, "history has exactly alice's and bob's messages: {history:?}");
    for ev in &history {
        check::message_event(ev, check::Msg::default())?;
    }
    Ok(())
}

node_and_edge!(history_pages_with_after_seq_before_seq_and_limit, 60);

async fn history_pages_with_after_seq_before_seq_and_limit(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    let mut sent = Vec::new();
    for i in 0..10 {
        let who = if i % 3 == 0 { &bob } else { &alice };
        sent.push(api.send_text(&who.access_token, &conv, &format!("m{i}")).await?);
    }
    let s = seqs(&sent)?;
    check::consecutive(&s)?;

    // Everything, ascending, identical to what the sends returned.
    let (all, next) = api.events_page(&bob.access_token, &conv, EventsQuery::after(s[0] - 1).limit(200)).await?;
    ensure!(seqs(&all)? == s, "after_seq={} gives all 10: {:?}", s[0] - 1, seqs(&all)?);
    ensure!(next.is_null(), "next_cursor is null at the end: {next}");
    for (got, want) in all.iter().zip(&sent) {
        for key in ["id", "conversation_id", "seq", "kind", "sender_id", "created_at", "text", "client_msg_id"] {
            ensure!(got[key] == want[key], "history and send response differ on `{key}`:\n{got}\n{want}");
        }
        check::message_event(got, check::Msg::default())?;
    }

    // after_seq + limit: the 4 just after.
    let (page, next) = api.events_page(&alice.access_token, &conv, EventsQuery::after(s[2]).limit(4)).await?;
    ensure!(seqs(&page)? == s[3..7], "after_seq={} limit=4: {:?}", s[2], seqs(&page)?);
    ensure!(!next.is_null(), "a full page that is not the end has a next_cursor");

    // before_seq + limit: the 3 just before, still ascending.
    let (page, _) = api.events_page(&alice.access_token, &conv, EventsQuery::before(s[7]).limit(3)).await?;
    ensure!(seqs(&page)? == s[4..7], "before_seq={} limit=3: {:?}", s[7], seqs(&page)?);
    let (page, _) = api.events_page(&alice.access_token, &conv, EventsQuery::before(s[0] + 2).limit(50)).await?;
    let msgs: Vec<i64> = seqs(&page)?.into_iter().filter(|q| *q >= s[0]).collect();
    ensure!(msgs == s[0..2], "before_seq={}: {:?}", s[0] + 2, seqs(&page)?);

    // Past the end: empty, null cursor.
    let (page, next) = api.events_page(&alice.access_token, &conv, EventsQuery::after(s[9])).await?;
    ensure!(page.is_empty() && next.is_null(), "after the last seq: {page:?} {next}");

    // Default limit applies and the whole history pages cleanly.
    let history = api.messages(&alice.access_token, &conv).await?;
    ensure!(seqs(&history)? == s, "paged history: {:?}", seqs(&history)?);
    let texts: Vec<&str> = history.iter().filter_map(|e| e["text"].as_str()).collect();
    let want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    ensure!(texts == want, "texts in order: {texts:?}");
    Ok(())
}

node_and_edge!(users_are_found_by_username_or_display_name_prefix, 60);

async fn users_are_found_by_username_or_display_name_prefix(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice_search").await?;
    api.signup("alina_search").await?;
    api.signup("bob_search").await?;
    let found = api.get("/v1/users?q=ALI", Some(alice.token())).await?.ok(200)?;
    let names: Vec<&str> = found["users"].as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    ensure!(names == ["alice_search", "alina_search"], "found {names:?}");
    // Paging: one at a time, then the cursor.
    let page = api.get("/v1/users?q=ali&limit=1", Some(alice.token())).await?.ok(200)?;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = api.get(&format!("/v1/users?q=ali&limit=1&cursor={cursor}"), Some(alice.token())).await?.ok(200)?;
    ensure!(rest["users"][0]["username"] == "alina_search" && rest["next_cursor"].is_null(), "{rest}");
    // LIKE wildcards are literal, a missing q is a 400 naming it, and no token is a 401.
    let none = api.get("/v1/users?q=%25", Some(alice.token())).await?.ok(200)?;
    ensure!(none["users"].as_array().unwrap().is_empty(), "{none}");
    let msg = api.get("/v1/users", Some(alice.token())).await?.error(400, "invalid_request")?;
    ensure!(msg.contains('q'), "{msg}");
    api.get("/v1/users?q=ali", None).await?.error(401, "unauthorized")?;
    Ok(())
}
