//! Profiles, friends, blocks, who may message whom, account and devices, notices: every route
//! and rule with its refusals, on the node's REST and on the edge (one database, so the second
//! endpoint of a test is a node).

use anyhow::{Context, Result, ensure};
use parley_tests::{RestEnv, Target, check, cmid, node_and_edge};
use serde_json::{Value, json};

fn kinds(notices: &Value) -> Vec<String> {
    notices["notices"]
        .as_array()
        .map(|a| a.iter().map(|n| n["kind"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

node_and_edge!(profiles_settings_and_relationships, 90);

async fn profiles_settings_and_relationships(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;

    let me = api.me(alice.token()).await?.ok(200)?;
    ensure!(me["dm_policy"] == "everyone" && me["show_presence"] == true, "defaults: {me}");
    check::user_shape(&me)?;

    let edited = api
        .patch(
            "/v1/users/me",
            alice.token(),
            &json!({"display_name": " Alice A. ", "bio": "hi there", "dm_policy": "friends"}),
        )
        .await?
        .ok(200)?;
    ensure!(
        edited["display_name"] == "Alice A." && edited["bio"] == "hi there" && edited["dm_policy"] == "friends",
        "{edited}"
    );
    let cleared = api.patch("/v1/users/me", alice.token(), &json!({"bio": ""})).await?.ok(200)?;
    ensure!(
        cleared["bio"].is_null() && cleared["display_name"] == "Alice A.",
        "an empty bio clears only the bio: {cleared}"
    );
    for (body, field) in [
        (json!({"display_name": "   "}), "display_name"),
        (json!({"display_name": "x".repeat(65)}), "display_name"),
        (json!({"bio": "b".repeat(501)}), "bio"),
        (json!({"dm_policy": "nobody"}), "dm_policy"),
        (json!({"show_presence": "yes"}), "show_presence"),
        (json!({"nickname": "al"}), "nickname"),
    ] {
        let msg = api.patch("/v1/users/me", alice.token(), &body).await?.error(400, "invalid_request")?;
        check::mentions_any(&msg, &[field]).with_context(|| format!("PATCH {body}"))?;
    }

    // The relationship as each side sees it, through a friendship's life.
    ensure!(api.relationship(&alice, &bob).await? == "none");
    let req = api.friend_request(&alice, &bob).await?;
    ensure!(api.relationship(&alice, &bob).await? == "request_sent");
    ensure!(api.relationship(&bob, &alice).await? == "request_received");
    let id = check::str_field(&req, "id")?;
    api.post(&format!("/v1/friends/requests/{id}/accept"), Some(bob.token()), &json!({})).await?.ok(200)?;
    ensure!(api.relationship(&alice, &bob).await? == "friend");
    let profile = api.get(&format!("/v1/users/{}", alice.user_id), Some(bob.token())).await?.ok(200)?;
    ensure!(profile["bio"].is_null() && profile["display_name"] == "Alice A.", "{profile}");
    ensure!(profile["online"] == false, "a friend sees presence (offline: no connection): {profile}");
    api.put(&format!("/v1/blocks/{}", bob.user_id), alice.token()).await?.ok(204)?;
    ensure!(api.relationship(&alice, &bob).await? == "blocked");
    ensure!(api.relationship(&bob, &alice).await? == "blocked");
    let profile = api.get(&format!("/v1/users/{}", alice.user_id), Some(bob.token())).await?.ok(200)?;
    ensure!(profile.get("online").is_none(), "no presence across a block: {profile}");
    api.get("/v1/users/not-a-uuid", Some(bob.token())).await?.error(404, "not_found")?;
    Ok(())
}

node_and_edge!(friend_requests_from_ask_to_unfriend, 90);

async fn friend_requests_from_ask_to_unfriend(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let (api, other) = (env.api(0), env.api(1));
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let carol = api.signup("carol").await?;

    // Refusals before anything exists.
    let msg = api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": alice.user_id})).await?;
    msg.error(400, "invalid_request")?;
    api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": "0190a3c2-0000-7000-8000-000000000000"}))
        .await?
        .error(404, "not_found")?;
    let long = api
        .post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": bob.user_id, "message": "m".repeat(201)}))
        .await?
        .error(400, "invalid_request")?;
    check::mentions_any(&long, &["message"])?;
    api.post("/v1/friends/requests", None, &json!({"user_id": bob.user_id})).await?.error(401, "unauthorized")?;

    let req = api
        .post(
            "/v1/friends/requests",
            Some(alice.token()),
            &json!({"user_id": bob.user_id, "message": "hi, it's alice"}),
        )
        .await?
        .ok(201)?;
    ensure!(req["status"] == "pending" && req["message"] == "hi, it's alice", "{req}");
    ensure!(req["from"]["id"] == alice.user_id.as_str() && req["to"]["id"] == bob.user_id.as_str(), "{req}");
    let id = check::str_field(&req, "id")?.to_owned();
    // A duplicate is a conflict, on the other endpoint too.
    other
        .post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": bob.user_id}))
        .await?
        .error(409, "conflict")?;

    let incoming = other.get("/v1/friends/requests?direction=incoming", Some(bob.token())).await?.ok(200)?;
    ensure!(
        incoming["requests"].as_array().map(Vec::len) == Some(1) && incoming["requests"][0]["id"] == id.as_str(),
        "{incoming}"
    );
    let outgoing = api.get("/v1/friends/requests?direction=outgoing", Some(alice.token())).await?.ok(200)?;
    ensure!(outgoing["requests"][0]["id"] == id.as_str(), "{outgoing}");
    ensure!(
        api.get("/v1/friends/requests", Some(alice.token())).await?.ok(200)?["requests"] == json!([]),
        "default: incoming"
    );
    api.get("/v1/friends/requests?direction=sideways", Some(alice.token())).await?.error(400, "invalid_request")?;
    ensure!(kinds(&api.notices(&bob).await?) == ["friend_request"], "bob was told");

    // Only the recipient accepts or declines; only the sender cancels (each side is told what it
    // may do); strangers see nothing.
    let accept = format!("/v1/friends/requests/{id}/accept");
    api.post(&accept, Some(alice.token()), &json!({})).await?.error(403, "forbidden")?;
    api.post(&format!("/v1/friends/requests/{id}/decline"), Some(alice.token()), &json!({}))
        .await?
        .error(403, "forbidden")?;
    api.post(&accept, Some(carol.token()), &json!({})).await?.error(404, "not_found")?;
    api.delete(&format!("/v1/friends/requests/{id}"), bob.token(), None).await?.error(403, "forbidden")?;
    api.delete(&format!("/v1/friends/requests/{id}"), carol.token(), None).await?.error(404, "not_found")?;
    let accepted = other.post(&accept, Some(bob.token()), &json!({})).await?.ok(200)?;
    ensure!(accepted["status"] == "accepted" && accepted["decided_at"].is_string(), "{accepted}");
    api.post(&accept, Some(bob.token()), &json!({})).await?.error(409, "conflict")?;
    api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": bob.user_id}))
        .await?
        .error(409, "conflict")?;
    let friends = api.get("/v1/friends", Some(alice.token())).await?.ok(200)?;
    ensure!(
        friends["friends"][0]["id"] == bob.user_id.as_str() && friends["friends"][0]["since"].is_string(),
        "{friends}"
    );
    ensure!(kinds(&api.notices(&alice).await?) == ["friend_accepted"], "alice was told");
    ensure!(kinds(&api.notices(&bob).await?) == ["friend_accepted", "friend_request"], "bob too, newest first");

    // Unfriend: both lists empty; once more is a 404.
    api.delete(&format!("/v1/friends/{}", alice.user_id), bob.token(), None).await?.ok(204)?;
    ensure!(other.get("/v1/friends", Some(alice.token())).await?.ok(200)?["friends"] == json!([]));
    api.delete(&format!("/v1/friends/{}", alice.user_id), bob.token(), None).await?.error(404, "not_found")?;
    ensure!(kinds(&api.notices(&alice).await?)[0] == "friend_removed");

    // Decline and cancel.
    let to_carol = api.friend_request(&alice, &carol).await?;
    let cid = check::str_field(&to_carol, "id")?;
    let declined =
        api.post(&format!("/v1/friends/requests/{cid}/decline"), Some(carol.token()), &json!({})).await?.ok(200)?;
    ensure!(declined["status"] == "declined");
    ensure!(kinds(&api.notices(&alice).await?)[0] == "friend_declined");
    let again = api.friend_request(&alice, &carol).await?;
    let aid = check::str_field(&again, "id")?;
    let cancelled = api.delete(&format!("/v1/friends/requests/{aid}"), alice.token(), None).await?.ok(200)?;
    ensure!(cancelled["status"] == "cancelled");
    ensure!(kinds(&api.notices(&carol).await?)[0] == "friend_request_cancelled");
    api.post(&format!("/v1/friends/requests/{aid}/accept"), Some(carol.token()), &json!({}))
        .await?
        .error(409, "conflict")?;

    // Asking someone who already asked you accepts their request.
    let theirs = api.friend_request(&carol, &alice).await?;
    let mine =
        api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": carol.user_id})).await?.ok(200)?;
    ensure!(mine["id"] == theirs["id"] && mine["status"] == "accepted", "{mine}");
    ensure!(api.relationship(&alice, &carol).await? == "friend");

    // The seen marker.
    let page = api.notices(&alice).await?;
    let unseen = page["unseen_count"].as_i64().unwrap_or(0);
    ensure!(unseen >= 3, "{page}");
    let newest = check::str_field(&page["notices"][0], "id")?;
    api.post("/v1/notices/seen", Some(alice.token()), &json!({"up_to": newest})).await?.ok(204)?;
    let page = api.notices(&alice).await?;
    ensure!(page["unseen_count"] == 0 && page["notices"][0]["seen"] == true, "{page}");
    Ok(())
}

node_and_edge!(pending_requests_are_limited, 90);

async fn pending_requests_are_limited(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let targets = env.env.db.insert_users("target", 101).await?;
    for (i, id) in targets.iter().enumerate() {
        let resp = api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": id})).await?;
        if i < 100 {
            resp.ok(201).with_context(|| format!("request #{}", i + 1))?;
        } else {
            resp.error(429, "rate_limited").context("the 101st pending request")?;
            ensure!(resp.header("retry-after").is_some(), "429 carries Retry-After");
        }
    }
    // Cancelling one makes room again.
    let outgoing = api.get("/v1/friends/requests?direction=outgoing&limit=1", Some(alice.token())).await?.ok(200)?;
    let first = check::str_field(&outgoing["requests"][0], "id")?;
    ensure!(outgoing["next_cursor"].is_string(), "a second page exists");
    api.delete(&format!("/v1/friends/requests/{first}"), alice.token(), None).await?.ok(200)?;
    api.post("/v1/friends/requests", Some(alice.token()), &json!({"user_id": targets[100]})).await?.ok(201)?;
    Ok(())
}

node_and_edge!(blocks_stop_requests_and_direct_messages_both_ways, 90);

async fn blocks_stop_requests_and_direct_messages_both_ways(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let (api, other) = (env.api(0), env.api(1));
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    let carol = api.signup("carol").await?;
    api.befriend(&alice, &bob).await?;
    api.send_text(alice.token(), &conv, "before the block").await?;
    let pending = api.friend_request(&carol, &alice).await?;

    api.put(&format!("/v1/blocks/{}", bob.user_id), alice.token()).await?.ok(204)?;
    api.put(&format!("/v1/blocks/{}", bob.user_id), alice.token()).await?.ok(204).context("blocking twice is fine")?;
    api.put(&format!("/v1/blocks/{}", alice.user_id), alice.token()).await?.error(400, "invalid_request")?;
    ensure!(
        api.get("/v1/friends", Some(alice.token())).await?.ok(200)?["friends"] == json!([]),
        "the friendship ended"
    );
    ensure!(kinds(&api.notices(&bob).await?)[0] == "friend_removed");

    for (from, to) in [(&alice, &bob), (&bob, &alice)] {
        for a in [&api, &other] {
            let r = a.post("/v1/friends/requests", Some(from.token()), &json!({"user_id": to.user_id})).await?;
            r.error(403, "forbidden").with_context(|| format!("{} → {} request", from.username, to.username))?;
            a.send(from.token(), &conv, &cmid(), "hello?").await?.error(403, "forbidden").context("existing direct")?;
            a.direct(from.token(), &to.user_id).await?.error(403, "forbidden").context("opening direct")?;
        }
    }
    let blocks = api.get("/v1/blocks", Some(alice.token())).await?.ok(200)?;
    ensure!(
        blocks["blocks"][0]["id"] == bob.user_id.as_str() && blocks["blocks"][0]["blocked_at"].is_string(),
        "{blocks}"
    );
    let found = api.get("/v1/users?q=alice", Some(bob.token())).await?.ok(200)?;
    ensure!(found["users"] == json!([]), "search leaves out users who blocked the caller: {found}");
    let found = api.get("/v1/users?q=bob", Some(alice.token())).await?.ok(200)?;
    ensure!(found["users"].as_array().map(Vec::len) == Some(1), "the blocker still finds the blocked: {found}");
    // A pending request between others is untouched.
    let pid = check::str_field(&pending, "id")?;
    api.post(&format!("/v1/friends/requests/{pid}/accept"), Some(alice.token()), &json!({})).await?.ok(200)?;

    // Unblocking restores the right to message, not the friendship.
    api.delete(&format!("/v1/blocks/{}", bob.user_id), alice.token(), None).await?.ok(204)?;
    api.delete(&format!("/v1/blocks/{}", bob.user_id), alice.token(), None).await?.ok(204).context("twice")?;
    ensure!(api.relationship(&alice, &bob).await? == "none");
    api.send_text(bob.token(), &conv, "we're good").await?;
    ensure!(api.messages(alice.token(), &conv).await?.len() == 2, "history kept, nothing lost");
    Ok(())
}

node_and_edge!(friends_only_policy_limits_direct_messages, 60);

async fn friends_only_policy_limits_direct_messages(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    let carol = api.signup("carol").await?;
    api.patch("/v1/users/me", bob.token(), &json!({"dm_policy": "friends"})).await?.ok(200)?;
    api.direct(carol.token(), &bob.user_id).await?.error(403, "forbidden").context("a stranger opening")?;
    api.send(alice.token(), &conv, &cmid(), "hi bob")
        .await?
        .error(403, "forbidden")
        .context("existing, not friends")?;
    // Bob may still write to alice: her policy is everyone.
    api.send_text(bob.token(), &conv, "hi alice").await?;
    api.befriend(&alice, &bob).await?;
    api.send_text(alice.token(), &conv, "now we're friends").await?;
    Ok(())
}

node_and_edge!(password_change_and_sessions_sign_devices_out, 90);

async fn password_change_and_sessions_sign_devices_out(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let (api, other) = (env.api(0), env.api(1));
    let alice = api.signup("alice").await?;
    let laptop = other
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "alice", "password": alice.password, "device_name": "laptop"}),
        )
        .await?
        .ok(200)?;
    let laptop_refresh = check::str_field(&laptop, "refresh_token")?.to_owned();
    let laptop_session = check::str_field(&laptop, "session_id")?.to_owned();

    let list = api.get("/v1/sessions", Some(alice.token())).await?.ok(200)?;
    let sessions = list["sessions"].as_array().cloned().unwrap_or_default();
    ensure!(sessions.len() == 2, "{list}");
    ensure!(sessions.iter().filter(|s| s["current"] == true).count() == 1, "{list}");
    ensure!(sessions.iter().any(|s| s["device_name"] == "laptop" && s["current"] == false), "{list}");

    // Someone else's session is not found; a revoked one stops refreshing.
    let bob = api.signup("bob").await?;
    api.delete(&format!("/v1/sessions/{laptop_session}"), bob.token(), None).await?.error(404, "not_found")?;

    let wrong = api
        .post(
            "/v1/users/me/password",
            Some(alice.token()),
            &json!({"current_password": "not it at all", "new_password": "a new password"}),
        )
        .await?
        .error(403, "forbidden")?;
    check::mentions_any(&wrong, &["current_password"])?;
    let short = api
        .post(
            "/v1/users/me/password",
            Some(alice.token()),
            &json!({"current_password": alice.password, "new_password": "short"}),
        )
        .await?
        .error(400, "invalid_request")?;
    check::mentions_any(&short, &["new_password"])?;
    api.post(
        "/v1/users/me/password",
        Some(alice.token()),
        &json!({"current_password": alice.password, "new_password": "a new password"}),
    )
    .await?
    .ok(204)?;
    other.refresh(&laptop_refresh).await?.error(401, "unauthorized").context("the other session is signed out")?;
    api.me(alice.token()).await?.ok(200).context("the calling session stays")?;
    api.login("alice", &alice.password).await?.error(401, "unauthorized").context("the old password")?;
    let fresh = api.login("alice", "a new password").await?.ok(200)?;
    let fresh_session = check::str_field(&fresh, "session_id")?;
    api.delete(&format!("/v1/sessions/{fresh_session}"), alice.token(), None).await?.ok(204)?;
    api.delete(&format!("/v1/sessions/{fresh_session}"), alice.token(), None).await?.error(404, "not_found")?;
    Ok(())
}

node_and_edge!(deleting_an_account_erases_it_and_keeps_its_messages, 90);

async fn deleting_an_account_erases_it_and_keeps_its_messages(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    api.befriend(&alice, &bob).await?;
    api.send_text(alice.token(), &conv, "remember me").await?;

    api.delete("/v1/users/me", alice.token(), Some(&json!({"password": "wrong wrong"})))
        .await?
        .error(403, "forbidden")?;
    api.delete("/v1/users/me", alice.token(), Some(&json!({"password": alice.password}))).await?.ok(204)?;
    api.login("alice", &alice.password).await?.error(401, "unauthorized")?;
    api.refresh(&alice.refresh_token).await?.error(401, "unauthorized")?;
    let gone = api.get(&format!("/v1/users/{}", alice.user_id), Some(bob.token())).await?.ok(200)?;
    ensure!(gone["deleted"] == true && gone["bio"].is_null() && gone["username"] == "", "{gone}");
    let history = api.messages(bob.token(), &conv).await?;
    ensure!(history.len() == 1 && history[0]["text"] == "remember me", "{history:?}");
    ensure!(api.get("/v1/friends", Some(bob.token())).await?.ok(200)?["friends"] == json!([]));
    ensure!(kinds(&api.notices(&bob).await?)[0] == "friend_removed");
    api.send(bob.token(), &conv, &cmid(), "hello?")
        .await?
        .error(403, "forbidden")
        .context("writing to a deleted account")?;
    let found = api.get("/v1/users?q=alice", Some(bob.token())).await?.ok(200)?;
    ensure!(found["users"] == json!([]), "{found}");
    // The username is free again.
    let again = api.signup("alice").await?;
    ensure!(again.user_id != alice.user_id);
    Ok(())
}
