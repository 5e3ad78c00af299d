//! Bad input over REST and WebSocket: the right error, the contract envelope, nothing stored,
//! and the connection (or other connections) unharmed.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use parley_shared::protocol::Close;
use parley_tests::ws::reply_error;
use parley_tests::{NodeOptions, RestEnv, Target, TestEnv, Upgrade, Ws, check, cmid, node_and_edge, node_bin, run};
use reqwest::Method;
use serde_json::{Value, json};

/// Either status the contract allows for a conversation the caller may not touch.
const HIDDEN: &[(u16, &str)] = &[(403, "forbidden"), (404, "not_found")];

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The token with its payload's `exp` moved to 2001 (the signature no longer matches).
fn expired_looking(token: &str) -> Result<String> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "the access token is not a JWS: {token}");
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1])?)?;
    payload["exp"] = json!(1_000_000_000);
    payload["iat"] = json!(999_999_000);
    Ok(format!("{}.{}.{}", parts[0], B64.encode(payload.to_string()), parts[2]))
}

/// The token with its header's `alg` set to `none` and no signature (RFC 7519 "unsecured JWT").
fn alg_none(token: &str) -> Result<String> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "the access token is not a JWS: {token}");
    let mut header: Value = serde_json::from_slice(&B64.decode(parts[0])?)?;
    header["alg"] = json!("none");
    Ok(format!("{}.{}.", B64.encode(header.to_string()), parts[1]))
}

/// A signing key and JWKS of its own (`parley-node keygen`), not the harness's.
fn another_key() -> Result<(String, String)> {
    let out = std::process::Command::new(node_bin()).arg("keygen").output().context("parley-node keygen")?;
    ensure!(out.status.success(), "keygen failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.trim_start().starts_with('{')).unwrap_or_default();
    let v: Value = serde_json::from_str(line).with_context(|| format!("keygen output {stdout:?}"))?;
    let jwks = match &v["jwks"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok((check::str_field(&v, "signing_key")?.to_owned(), jwks))
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over a raw HTTP/1.1
/// connection; returns the status and the raw response text. The server may answer and close
/// before the whole body is written: write errors are ignored.
async fn chunked_post(base: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    for chunk in body.chunks(8192) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

/// The token with a signature of zeros.
fn forged(token: &str) -> Result<String> {
    let parts: Vec<&str> = token.split('.').collect();
    ensure!(parts.len() == 3, "the access token is not a JWS: {token}");
    Ok(format!("{}.{}.{}", parts[0], parts[1], B64.encode([0u8; 64])))
}

node_and_edge!(costly_requests_are_limited_per_user_and_address, 90);

/// With the limits of costly requests on (the suites turn them off: their clients share one
/// address): registrations per address, group creations and searches per user, each answered
/// 429 `rate_limited` with `Retry-After` past its burst, and only for whoever spent it.
async fn costly_requests_are_limited_per_user_and_address(t: Target) -> Result<()> {
    let env = RestEnv::start_with_vars(t, 1, &[("PARLEY_COSTLY_LIMITS".into(), "true".into())]).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let retry_after = |r: &parley_tests::api::Resp, what: &str| -> Result<u64> {
        r.error(429, "rate_limited").with_context(|| what.to_owned())?;
        let wait: u64 = r.header("retry-after").with_context(|| format!("{what}: Retry-After"))?.parse()?;
        ensure!(wait >= 1, "{what}: Retry-After {wait}");
        Ok(wait)
    };

    // Groups: ten at once per user, then one a minute; Bob is not held up by Alice.
    for i in 0..10 {
        api.post("/v1/groups", Some(&alice.access_token), &json!({"name": format!("g{i}")}))
            .await?
            .ok(201)
            .with_context(|| format!("group {i}"))?;
    }
    let r = api.post("/v1/groups", Some(&alice.access_token), &json!({"name": "one too many"})).await?;
    retry_after(&r, "the eleventh group")?;
    api.post("/v1/groups", Some(&bob.access_token), &json!({"name": "bob's"}))
        .await?
        .ok(201)
        .context("another user's group")?;

    // Searches: thirty at once per user, then two a second (a slow endpoint earns some back
    // while the loop runs, hence "at least").
    let mut served = 0;
    let refused = loop {
        let r = api.get("/v1/search/messages?q=hello", Some(&alice.access_token)).await?;
        if r.status != 200 || served > 100 {
            break r;
        }
        served += 1;
    };
    retry_after(&refused, "searches past the burst")?;
    ensure!(served >= 30, "only {served} searches before the 429");
    api.get("/v1/search/messages?q=hello", Some(&bob.access_token)).await?.ok(200).context("another user's search")?;

    // Registrations: ten per address (Alice and Bob were two of them).
    for i in 2..10 {
        api.signup(&format!("user{i}")).await.with_context(|| format!("registration {i}"))?;
    }
    let r = api
        .post("/v1/auth/register", None, &json!({"username": "one_too_many", "password": parley_tests::api::PASSWORD}))
        .await?;
    retry_after(&r, "the eleventh registration from one address")?;
    // Logging in is not registering: the new users still get in.
    api.login("user5", parley_tests::api::PASSWORD).await?.ok(200)?;
    Ok(())
}

node_and_edge!(malformed_json_and_missing_fields_are_400_naming_the_problem, 60);

async fn malformed_json_and_missing_fields_are_400_naming_the_problem(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;
    let json_ct = [("content-type", "application/json")];
    let auth = format!("Bearer {}", alice.token());
    let authed = [("content-type", "application/json"), ("authorization", auth.as_str())];

    let resp = api.raw(Method::POST, "/v1/auth/register", &json_ct, Some(r#"{"username": "x","#.into())).await?;
    let msg = resp.error(400, "invalid_request").context("truncated JSON")?;
    check::mentions_any(&msg, &["json", "parse", "syntax", "expected", "eof", "malformed"])?;

    let path = format!("/v1/conversations/{conv}/messages");
    let resp = api.raw(Method::POST, &path, &authed, Some("not json at all".into())).await?;
    let msg = resp.error(400, "invalid_request").context("a non-JSON send body")?;
    check::mentions_any(&msg, &["json", "parse", "syntax", "expected", "malformed"])?;

    let cases: Vec<(&str, Option<&str>, Value, &str)> = vec![
        ("/v1/auth/register", None, json!({"password": "long enough pw"}), "username"),
        ("/v1/auth/register", None, json!({"username": "zed"}), "password"),
        ("/v1/auth/register", None, json!({"username": 5, "password": "long enough pw"}), "username"),
        ("/v1/auth/login", None, json!({"username": "alice"}), "password"),
        ("/v1/auth/refresh", None, json!({}), "refresh_token"),
        ("/v1/conversations/direct", Some(alice.token()), json!({}), "user_id"),
        (path.as_str(), Some(alice.token()), json!({"text": "no client_msg_id"}), "client_msg_id"),
        (path.as_str(), Some(alice.token()), json!({"client_msg_id": cmid(), "text": 42}), "text"),
    ];
    let read_path = format!("/v1/conversations/{conv}/read");
    let read_case = (read_path.as_str(), Some(alice.token()), json!({}), "seq");
    for (path, token, body, field) in cases.into_iter().chain([read_case]) {
        let resp = api.post(path, token, &body).await?;
        let msg = resp.error(400, "invalid_request").with_context(|| format!("POST {path} {body}"))?;
        check::mentions_any(&msg, &[field]).with_context(|| format!("POST {path} {body}"))?;
    }

    // Found by fuzzing: a body that is an array (serde reads a struct from one), an object with
    // something after it (it went unread, NUL and all), and a field name quoting a NUL.
    let trailing = format!(r#"{{"client_msg_id":"{}","text":"hi\u0000"}}garbage"#, cmid());
    let nul_key = format!(r#"{{"client_msg_id":"{}","te\u0000xt":"hi"}}x"#, cmid());
    for (what, body) in [("an array", "[null, null]".to_owned()), ("trailing bytes", trailing), ("a NUL key", nul_key)]
    {
        let resp = api.raw(Method::POST, &path, &authed, Some(body)).await?;
        let msg = resp.error(400, "invalid_request").with_context(|| format!("a send body with {what}"))?;
        ensure!(!msg.contains('\0'), "the error message quotes a NUL: {msg:?}");
    }
    let resp = api.raw(Method::PATCH, "/v1/users/me", &authed, Some("[null, null]".into())).await?;
    resp.error(400, "invalid_request").context("a profile edit that is an array")?;

    let history = api.messages(alice.token(), &conv).await?;
    ensure!(history.is_empty(), "failed sends stored something: {history:?}");
    Ok(())
}

node_and_edge!(missing_garbage_or_forged_tokens_are_401, 60);

async fn missing_garbage_or_forged_tokens_are_401(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;

    let resp = api.get("/v1/conversations", None).await?;
    resp.error(401, "unauthorized").context("no Authorization header")?;
    let bad_tokens = [
        ("garbage", "garbage".to_owned()),
        ("expired-looking", expired_looking(alice.token())?),
        ("forged signature", forged(alice.token())?),
        ("a refresh token", alice.refresh_token.clone()),
    ];
    for (what, token) in &bad_tokens {
        api.get("/v1/conversations", Some(token))
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("GET /v1/conversations with {what}"))?;
        api.get("/v1/users/me", Some(token))
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("GET /v1/users/me with {what}"))?;
        api.send(token, &conv, &cmid(), "sneaky")
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("send with {what}"))?;
    }
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:password"));
    api.raw(Method::GET, "/v1/conversations", &[("authorization", basic.as_str())], None)
        .await?
        .error(401, "unauthorized")
        .context("Basic auth")?;
    api.raw(Method::GET, "/v1/conversations", &[("authorization", alice.token())], None)
        .await?
        .error(401, "unauthorized")
        .context("a token without the Bearer scheme")?;

    let history = api.messages(alice.token(), &conv).await?;
    ensure!(history.is_empty(), "an unauthenticated send was stored: {history:?}");
    Ok(())
}

node_and_edge!(strangers_can_neither_read_nor_write_a_conversation, 60);

async fn strangers_can_neither_read_nor_write_a_conversation(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;
    let carol = api.signup("carol").await?;
    let sent = api.send_text(alice.token(), &conv, "private").await?;

    api.events(carol.token(), &conv, Default::default())
        .await?
        .error_any(HIDDEN)
        .context("a stranger reading the history")?;
    api.send(carol.token(), &conv, &cmid(), "intrusion").await?.error_any(HIDDEN).context("a stranger sending")?;
    api.read(carol.token(), &conv, check::seq(&sent)?).await?.error_any(HIDDEN).context("a stranger marking read")?;
    let listed = api.conversation_list(carol.token()).await?;
    ensure!(listed.iter().all(|c| c["id"] != conv.as_str()), "the stranger lists the conversation");

    let nowhere = uuid::Uuid::new_v4().to_string();
    api.events(alice.token(), &nowhere, Default::default())
        .await?
        .error_any(HIDDEN)
        .context("an unknown conversation")?;
    api.send(alice.token(), &nowhere, &cmid(), "into the void")
        .await?
        .error_any(HIDDEN)
        .context("sending to an unknown conversation")?;

    let history = api.messages(alice.token(), &conv).await?;
    ensure!(history.len() == 1 && history[0]["id"] == sent["id"], "history changed: {history:?}");
    Ok(())
}

node_and_edge!(text_over_8000_chars_is_rejected_and_not_stored, 60);

async fn text_over_8000_chars_is_rejected_and_not_stored(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;

    let resp = api.send(alice.token(), &conv, &cmid(), &"a".repeat(8001)).await?;
    let msg = resp.error(400, "invalid_request").context("8001 chars")?;
    check::mentions_any(&msg, &["text"])?;
    let ok = api.send_text(alice.token(), &conv, &"b".repeat(8000)).await.context("8000 chars")?;
    ensure!(ok["text"].as_str().map(str::len) == Some(8000), "the 8000-char text comes back whole");
    // The limit counts characters, not bytes.
    api.send_text(alice.token(), &conv, &"é".repeat(8000)).await.context("8000 two-byte chars")?;
    api.send(alice.token(), &conv, &cmid(), &"é".repeat(8001))
        .await?
        .error(400, "invalid_request")
        .context("8001 two-byte chars")?;

    let history = api.messages(alice.token(), &conv).await?;
    let lens: Vec<usize> = history.iter().filter_map(|e| e["text"].as_str()).map(|t| t.chars().count()).collect();
    ensure!(lens == [8000, 8000], "only the accepted messages are stored: {lens:?}");
    Ok(())
}

node_and_edge!(direct_conversation_with_an_unknown_user_is_404, 60);

async fn direct_conversation_with_an_unknown_user_is_404(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    api.direct(alice.token(), &uuid::Uuid::new_v4().to_string())
        .await?
        .error(404, "not_found")
        .context("an unknown user id")?;
    let msg =
        api.direct(alice.token(), "not-a-uuid").await?.error(400, "invalid_request").context("a malformed user id")?;
    check::mentions_any(&msg, &["user_id"])?;
    let list = api.conversation_list(alice.token()).await?;
    ensure!(list.is_empty(), "nothing was created: {list:?}");
    Ok(())
}

node_and_edge!(unsigned_and_foreign_key_tokens_are_401, 60);

async fn unsigned_and_foreign_key_tokens_are_401(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;

    // A well-formed token for the same database, signed by a key nobody here trusts: a node
    // configured with another key issues it.
    let (key, jwks) = another_key()?;
    let mut opts = NodeOptions::new("rogue");
    opts.env = vec![("PARLEY_JWT_SIGNING_KEY".into(), key), ("PARLEY_JWKS".into(), jwks)];
    let rogue = parley_tests::Node::start_with(&env.env.db, opts).await?;
    let mallory = rogue.api().signup("mallory").await?;
    let foreign = rogue.api().login_again(&alice).await?;

    let bad_tokens = [
        ("alg none", alg_none(alice.token())?),
        ("alg none without the trailing dot", alg_none(alice.token())?.trim_end_matches('.').to_owned()),
        ("signed by another key (another user)", mallory.access_token.clone()),
        ("signed by another key (alice herself)", foreign.access_token.clone()),
    ];
    for (what, token) in &bad_tokens {
        api.get("/v1/users/me", Some(token))
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("GET /v1/users/me with {what}"))?;
        api.send(token, &conv, &cmid(), "sneaky")
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("send with {what}"))?;
    }
    let history = api.messages(alice.token(), &conv).await?;
    ensure!(history.is_empty(), "a send with a bad token was stored: {history:?}");
    Ok(())
}

node_and_edge!(bodies_over_the_limit_are_413, 60);

async fn bodies_over_the_limit_are_413(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;
    let auth = format!("Bearer {}", alice.token());
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let path = format!("/v1/conversations/{conv}/messages");

    // 64 KiB is the limit: one byte over, and far over, with a JSON body that would otherwise parse.
    for size in [64 * 1024 + 1, 1024 * 1024] {
        let head = format!(r#"{{"client_msg_id":"{}","text":""#, cmid());
        let tail = r#""}"#;
        let body = format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()));
        ensure!(body.len() == size, "body size");
        api.raw(Method::POST, &path, &headers, Some(body))
            .await?
            .error(413, "too_large")
            .with_context(|| format!("a {size}-byte send body"))?;
    }
    let big_register = json!({"username": "big", "password": "p".repeat(70 * 1024)}).to_string();
    api.raw(Method::POST, "/v1/auth/register", &[("content-type", "application/json")], Some(big_register))
        .await?
        .error(413, "too_large")
        .context("a 70 KiB register body")?;
    // Without a Content-Length (chunked), the limit still holds as the body streams in.
    let head = format!(r#"{{"client_msg_id":"{}","text":""#, cmid());
    let body = format!("{head}{}\"}}", "z".repeat(70 * 1024));
    let (status, text) = chunked_post(api.base(), &path, &headers, body.as_bytes()).await?;
    ensure!(status == 413 && text.contains("too_large"), "a chunked 70 KiB send body: {status} {text}");
    // Just under the limit is parsed normally (here: refused for its text, not its size).
    let head = format!(r#"{{"client_msg_id":"{}","text":""#, cmid());
    let body = format!("{head}{}\"}}", "y".repeat(60 * 1024));
    api.raw(Method::POST, &path, &headers, Some(body))
        .await?
        .error(400, "invalid_request")
        .context("a 60 KiB body with 61440 chars of text")?;
    let history = api.messages(alice.token(), &conv).await?;
    ensure!(history.is_empty(), "an oversized send was stored: {history:?}");
    Ok(())
}

node_and_edge!(deeply_nested_json_and_huge_headers_get_clear_errors_and_lose_nothing, 60);

/// JSON nested thousands deep (inside a field and as the whole body) is a 400 naming the depth,
/// not a stack overflow; a request head of 80 KiB, or of 300 headers, is a 431; afterwards the
/// server serves the same users as before and nothing was stored.
async fn deeply_nested_json_and_huge_headers_get_clear_errors_and_lose_nothing(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, _bob, conv) = env.pair("alice", "bob").await?;
    let auth = format!("Bearer {}", alice.token());
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let path = format!("/v1/conversations/{conv}/messages");

    let depth = 5000;
    let nested_text =
        format!(r#"{{"client_msg_id":"{}","text":{}"x"{}}}"#, cmid(), "[".repeat(depth), "]".repeat(depth));
    let msg = api.raw(Method::POST, &path, &headers, Some(nested_text)).await?.error(400, "invalid_request")?;
    check::mentions_any(&msg, &["recursion", "nest", "deep"]).context("a send with text nested 5000 deep")?;
    let nested_body = format!("{}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    api.raw(Method::POST, "/v1/auth/register", &[("content-type", "application/json")], Some(nested_body))
        .await?
        .error(400, "invalid_request")
        .context("a register body of objects nested 5000 deep")?;

    let junk = "j".repeat(80 * 1024);
    let resp =
        api.raw(Method::GET, "/v1/users/me", &[("authorization", auth.as_str()), ("x-junk", &junk)], None).await?;
    if matches!(t, Target::Node) {
        // Measured exactly, so the contract's envelope; workerd may refuse such a head itself.
        resp.error(431, "too_large").context("an 80 KiB header")?;
    }
    ensure!(resp.status == 431, "an 80 KiB header: {} {}", resp.status, resp.text);
    let names: Vec<String> = (0..300).map(|i| format!("x-junk-{i}")).collect();
    let mut many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "yes")).collect();
    many.push(("authorization", auth.as_str()));
    let resp = api.raw(Method::GET, "/v1/users/me", &many, None).await?;
    ensure!(resp.status == 431, "300 headers: {} {}", resp.status, resp.text);

    ensure!(api.messages(alice.token(), &conv).await?.is_empty(), "a refused send was stored");
    api.send_text(alice.token(), &conv, "still here").await?;
    api.me(alice.token()).await?.ok(200)?;
    Ok(())
}

node_and_edge!(nul_and_invalid_utf8_in_any_string_are_400_and_store_nothing, 90);

/// U+0000 (which Postgres cannot store) in a string field of every kind of body, in a query
/// parameter, and bytes that are not UTF-8: 400 naming the field, never a 500, nothing stored.
async fn nul_and_invalid_utf8_in_any_string_are_400_and_store_nothing(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let conv = api.direct_id(&alice, &bob).await?;
    let group = check::str_field(&api.create_group(&alice, "g", &[&bob]).await?, "id")?.to_owned();
    let nul = "a\u{0}b";
    let cases: Vec<(Method, String, Option<&str>, Value, &str)> = vec![
        (
            Method::POST,
            "/v1/auth/register".into(),
            None,
            json!({"username": nul, "password": "long enough pw"}),
            "username",
        ),
        (
            Method::POST,
            "/v1/auth/register".into(),
            None,
            json!({"username": "nulpw", "password": format!("long{nul}pass")}),
            "password",
        ),
        (Method::POST, "/v1/auth/login".into(), None, json!({"username": "alice", "password": nul}), "password"),
        (Method::PATCH, "/v1/users/me".into(), Some(alice.token()), json!({"bio": nul}), "bio"),
        (Method::PATCH, "/v1/users/me".into(), Some(alice.token()), json!({"display_name": nul}), "display_name"),
        (
            Method::POST,
            format!("/v1/conversations/{conv}/messages"),
            Some(alice.token()),
            json!({"client_msg_id": cmid(), "text": nul}),
            "text",
        ),
        (
            Method::POST,
            format!("/v1/conversations/{conv}/messages"),
            Some(alice.token()),
            json!({"client_msg_id": nul, "text": "x"}),
            "client_msg_id",
        ),
        (
            Method::POST,
            "/v1/friends/requests".into(),
            Some(alice.token()),
            json!({"user_id": bob.user_id, "message": nul}),
            "message",
        ),
        (
            Method::POST,
            "/v1/groups".into(),
            Some(alice.token()),
            json!({"name": "ok", "description": nul}),
            "description",
        ),
        (Method::PATCH, format!("/v1/groups/{group}"), Some(alice.token()), json!({"name": nul}), "name"),
        (Method::PUT, format!("/v1/groups/{group}/announcement"), Some(alice.token()), json!({"text": nul}), "text"),
    ];
    for (method, path, token, body, field) in cases {
        let r = api.request(method.clone(), &path, token, Some(&body)).await?;
        let msg = r.error(400, "invalid_request").with_context(|| format!("{method} {path} {body}"))?;
        check::mentions_any(&msg, &[field]).with_context(|| format!("{method} {path}"))?;
    }
    let msg = api.get("/v1/users?q=al%00ice", Some(alice.token())).await?.error(400, "invalid_request")?;
    check::mentions_any(&msg, &["q"])?;
    // Not UTF-8 at all.
    let raw = b"{\"client_msg_id\":\"k\",\"text\":\"\xff\xfe\"}".to_vec();
    let r = api
        .raw_bytes(
            Method::POST,
            &format!("/v1/conversations/{conv}/messages"),
            &[("authorization", &format!("Bearer {}", alice.token())), ("content-type", "application/json")],
            raw,
        )
        .await?;
    r.error(400, "invalid_request")?;
    ensure!(api.messages(alice.token(), &conv).await?.is_empty(), "nothing stored");
    ensure!(api.me(alice.token()).await?.ok(200)?["bio"].is_null(), "the profile is unchanged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_nul_and_invalid_utf8_get_invalid_request_and_the_socket_stays_usable() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let (alice, _bob, conv) = env.pair("alice", "bob").await?;
        let mut ws = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let r = ws
            .request(json!({"type": "send", "conversation_id": conv, "client_msg_id": cmid(), "text": "a\u{0}b"}))
            .await;
        let code = match r {
            Ok(reply) => reply_error(&reply)?,
            Err(_) => {
                let err = ws.wait_for(Duration::from_secs(10), "an error frame", |f| f["type"] == "error").await?;
                err["code"].as_str().unwrap_or_default().to_owned()
            }
        };
        ensure!(code == "invalid_request", "NUL in a send: {code}");
        ws.send_binary(b"{\"type\":\"ping\",\"id\":\"\xff\"}".to_vec()).await?;
        let err = ws.wait_for(Duration::from_secs(10), "an error frame", |f| f["type"] == "error").await?;
        ensure!(err["code"] == "invalid_request", "{err}");
        ws.ping().await?;
        ws.send_message_ok(&conv, "still works").await?;
        ensure!(env.api(0).messages(alice.token(), &conv).await?.len() == 1, "only the good one stored");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_garbage_frames_get_an_error_and_the_socket_stays_usable() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let (alice, _bob, conv) = env.pair("alice", "bob").await?;
        let mut ws = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let is_error = |f: &Value| f["type"] == "error";

        for garbage in ["{not json", r#"{"type":"no_such_frame","id":5}"#, "[1,2,3]", r#""just a string""#] {
            ws.send_text(garbage.to_owned()).await?;
            let err = ws
                .wait_for(Duration::from_secs(10), "an error frame", is_error)
                .await
                .with_context(|| format!("after {garbage}"))?;
            ensure!(err["code"] == "invalid_request", "error for {garbage}: {err}");
            ensure!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "error message: {err}");
            ws.ping().await.with_context(|| format!("ping after {garbage}"))?;
        }

        // A send without its fields: refused (as a reply to its id, or an error frame).
        ws.send_json(&json!({"type": "send", "id": 77})).await?;
        let answer = ws
            .wait_for(Duration::from_secs(10), "a refusal", |f| {
                f["type"] == "error" || (f["type"] == "reply" && f["id"] == 77)
            })
            .await?;
        let code = if answer["type"] == "reply" {
            reply_error(&answer)?
        } else {
            answer["code"].as_str().unwrap_or_default().to_owned()
        };
        ensure!(code == "invalid_request", "a send without fields: {answer}");
        ws.ping().await?;
        let ok = ws.send_message_ok(&conv, "still works").await?;
        ensure!(ok["text"] == "still works", "{ok}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_an_oversized_frame_closes_only_that_socket() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut big = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut other = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;

        let head = r#"{"type":"ping","id":1,"pad":""#;
        let tail = r#""}"#;
        let frame = format!("{head}{}{tail}", "x".repeat(65 * 1024 + 1 - head.len() - tail.len()));
        ensure!(frame.len() == 65 * 1024 + 1, "frame size");
        // The node may stop reading before the whole frame is written.
        let _ = big.send_text(frame).await;
        let closing = big.wait_close(Duration::from_secs(10)).await.context("the oversized socket")?;
        ensure!(
            closing.code == Some(Close::TooLarge.ws_code()),
            "expected close code 1009 (message too big), got {:?} ({}); frames {:?}",
            closing.code,
            closing.reason,
            closing.frames
        );

        other.ping().await.context("the other socket")?;
        let sent = env.api(0).send_text(bob.token(), &conv, "to the survivor").await?;
        let got = other.collect_events(&conv, 1, Duration::from_secs(10)).await?;
        ensure!(got[0]["event"]["id"] == sent["id"], "{}", got[0]);
        other.send_message_ok(&conv, "and back").await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_refused_sends_store_nothing() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let api = env.api(0);
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let carol = api.signup("carol").await?;
        let mut alice_ws = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut bob_ws = Ws::connect_synced(&env.ws_url(0), bob.token(), &[&conv]).await?;
        let mut carol_ws = Ws::connect_synced(&env.ws_url(0), carol.token(), &[]).await?;

        let reply = alice_ws.send_message(&conv, &cmid(), &"a".repeat(8001)).await?;
        let code = reply_error(&reply).context("8001 chars over a socket")?;
        ensure!(code == "invalid_request", "8001 chars: {reply}");

        let reply = carol_ws.send_message(&conv, &cmid(), "not my conversation").await?;
        let code = reply_error(&reply).context("a stranger's send over a socket")?;
        ensure!(matches!(code.as_str(), "not_found" | "forbidden"), "a stranger's send: {reply}");

        let reply = alice_ws.send_message(&uuid::Uuid::new_v4().to_string(), &cmid(), "into the void").await?;
        let code = reply_error(&reply).context("a send to an unknown conversation")?;
        ensure!(matches!(code.as_str(), "not_found" | "forbidden"), "unknown conversation: {reply}");

        alice_ws.ping().await?;
        carol_ws.ping().await?;
        bob_ws.expect_no_event(&conv, Duration::from_millis(500)).await?;
        let history = api.messages(alice.token(), &conv).await?;
        ensure!(history.is_empty(), "a refused send was stored: {history:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_upgrade_needs_a_valid_token() -> Result<()> {
    run(60, async {
        let env = TestEnv::start(1).await?;
        let api = env.api(0);
        let alice = api.signup("alice").await?;
        let url = env.ws_url(0);

        let cases = [
            ("no token", None),
            ("garbage", Some("garbage".to_owned())),
            ("an expired-looking token", Some(expired_looking(alice.token())?)),
            ("a forged signature", Some(forged(alice.token())?)),
            ("a refresh token", Some(alice.refresh_token.clone())),
        ];
        for (what, token) in &cases {
            match Ws::try_connect(&url, token.as_deref()).await? {
                Upgrade::Rejected { status, .. } => ensure!(status == 401, "{what}: refused with {status}"),
                Upgrade::Accepted(ws) => bail!("{what}: the upgrade was accepted ({})", ws.ready),
            }
        }

        let mut ws =
            Ws::connect_with_protocol(&url, alice.token()).await.context("the token in Sec-WebSocket-Protocol")?;
        ensure!(ws.user_id() == alice.user_id, "ready: {}", ws.ready);
        ws.ping().await?;
        let mut ws = Ws::connect(&url, alice.token()).await?;
        ensure!(ws.user_id() == alice.user_id && !ws.session_id().is_empty(), "ready: {}", ws.ready);
        ws.ping().await?;
        Ok(())
    })
    .await
}

/// A flood of logins from one address gets 429 `rate_limited` with `Retry-After`; the account
/// and its data are intact, and the address gets through again once the window has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_floods_get_429_with_retry_after_and_lose_nothing() -> Result<()> {
    run(60, async {
        let mut opts = NodeOptions::new("node1");
        for (k, v) in [
            ("PARLEY_AUTH_RATE", "1"),
            ("PARLEY_AUTH_BURST", "3"),
            ("PARLEY_REST_RATE", "2"),
            ("PARLEY_REST_BURST", "5"),
        ] {
            opts.env.push((k.into(), v.into()));
        }
        let env = TestEnv::start_with(vec![opts]).await?;
        let api = env.api(0);
        // One registration, then wrong-password logins until the auth budget is spent.
        let alice = api.signup("alice").await?;
        let mut limited = None;
        for _ in 0..10 {
            let r = api.login("alice", "wrong password").await?;
            if r.status == 429 {
                limited = Some(r);
                break;
            }
            r.error(401, "unauthorized")?;
        }
        let r = limited.context("ten logins in a row were never rate limited")?;
        r.error(429, "rate_limited")?;
        let retry: u64 = r.header("retry-after").context("429 without Retry-After")?.parse()?;
        ensure!((1..=5).contains(&retry), "Retry-After {retry}");

        // Other routes have their own budget: a burst of reads also ends in 429, not an error.
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(api.me(alice.token()).await?.status);
        }
        ensure!(statuses.contains(&200) && statuses.contains(&429), "statuses {statuses:?}");
        ensure!(statuses.iter().all(|s| *s == 200 || *s == 429), "statuses {statuses:?}");

        // After the window, the right password works and the account is as it was.
        tokio::time::sleep(Duration::from_secs(retry + 1)).await;
        let me = api.login("alice", &alice.password).await?.ok(200)?;
        ensure!(me["user"]["id"] == alice.user_id.as_str(), "{me}");
        Ok(())
    })
    .await
}

/// Percentile `p` (0–100) of `samples`, sorted in place.
fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// Send-to-ack latencies of `n` sends one after another over `ws`, appending each ack's seq.
async fn send_latencies(ws: &mut Ws, conv: &str, n: usize, seqs: &mut Vec<i64>) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let started = std::time::Instant::now();
        let event = tokio::time::timeout(Duration::from_secs(5), ws.send_message_ok(conv, &format!("probe {i}")))
            .await
            .context("a send was not acknowledged within 5 s")??;
        out.push(started.elapsed());
        seqs.push(check::seq(&event)?);
    }
    Ok(out)
}

/// 10,000 sockets that connect and never send a request, 200 that send a request head a few
/// bytes a second (slowloris), and 200 WebSocket handshakes cut off half-way: the node closes
/// every one within its 10 s head timeout plus a margin (the time it took is printed), keeps
/// serving, and another user's
/// sends are still acknowledged meanwhile (their latency before and during is printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_sockets_are_closed_within_seconds_and_others_keep_chatting() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const IDLE: usize = 10_000;
    const SLOW: usize = 200;
    const HALF_HANDSHAKES: usize = 200;
    run(120, async {
        let env = TestEnv::start(1).await?;
        let node = &env.nodes[0];
        let addr = node.addr();
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let mut ws = Ws::connect_synced(&env.ws_url(0), alice.token(), &[&conv]).await?;
        let mut seqs = Vec::new();
        let mut before = send_latencies(&mut ws, &conv, 100, &mut seqs).await?;

        // Idle sockets, opened in waves so the listen backlog keeps up.
        let mut idle = Vec::with_capacity(IDLE);
        let opened = std::time::Instant::now();
        for wave in 0..IDLE / 500 {
            let batch = futures_util::future::try_join_all((0..500).map(|_| TcpStream::connect(addr)))
                .await
                .with_context(|| format!("opening idle sockets, wave {wave}"))?;
            idle.extend(batch);
        }
        let opened_in = opened.elapsed();
        // Slowloris: a request head trickling in, three bytes at a time.
        let head = b"GET /v1/users/me HTTP/1.1\r\nHost: parley\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut slow = Vec::new();
        for _ in 0..SLOW {
            slow.push(TcpStream::connect(addr).await?);
        }
        let trickle = tokio::spawn(async move {
            let mut closed = 0usize;
            for chunk in head.chunks(3) {
                for s in slow.iter_mut() {
                    if s.write_all(chunk).await.is_err() {
                        closed += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            (slow, closed)
        });
        // WebSocket handshakes that stop before the blank line.
        let mut half = Vec::new();
        for _ in 0..HALF_HANDSHAKES {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(
                format!(
                    "GET /v1/ws?token={} HTTP/1.1\r\nHost: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
                    bob.token()
                )
                .as_bytes(),
            )
            .await?;
            half.push(s);
        }

        // Meanwhile Alice chats on.
        let mut during = send_latencies(&mut ws, &conv, 100, &mut seqs).await?;
        api_still_serves(&env, &alice).await?;

        // Every idle, slow and half-open socket is closed by the node, none later than the head
        // timeout plus a margin for a loaded machine, counted from when it was opened.
        let deadline = opened + Duration::from_secs(10 + 20);
        let wait_closed = |mut s: TcpStream| async move {
            let mut buf = [0u8; 512];
            loop {
                match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
                    Err(_) => break,
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    // hyper may answer 408 before closing; keep reading to the close.
                    Ok(Ok(_)) => continue,
                }
            }
            // Still open on this side: a connection the kernel completed but dropped from a full
            // accept queue never reached the node, which holds nothing for it. A byte tells: the
            // node's kernel answers it with a reset. A connection the node did hold would just
            // go on waiting for the rest of a request.
            if s.write_all(b"G").await.is_err() {
                return true;
            }
            matches!(tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
        };
        let idle_closed = futures_util::future::join_all(idle.into_iter().map(wait_closed)).await;
        let half_closed = futures_util::future::join_all(half.into_iter().map(wait_closed)).await;
        let (slow, _) = trickle.await?;
        let slow_closed = futures_util::future::join_all(slow.into_iter().map(wait_closed)).await;
        let closed_after = opened.elapsed();
        let count = |v: &[bool]| v.iter().filter(|c| **c).count();
        ensure!(count(&idle_closed) == IDLE, "{} of {IDLE} idle sockets still open", IDLE - count(&idle_closed));
        ensure!(count(&slow_closed) == SLOW, "{} of {SLOW} slowloris sockets still open", SLOW - count(&slow_closed));
        ensure!(
            count(&half_closed) == HALF_HANDSHAKES,
            "{} of {HALF_HANDSHAKES} half handshakes still open",
            HALF_HANDSHAKES - count(&half_closed)
        );

        // Nothing Alice sent was lost or reordered, and she is still connected.
        send_latencies(&mut ws, &conv, 10, &mut seqs).await?;
        check::consecutive(&seqs).context("Alice's acknowledged seqs")?;
        println!(
            "{IDLE} idle sockets opened in {opened_in:?}; all {} closed {closed_after:?} after opening; \
             Alice's send→ack p50/p99 before {:?}/{:?}, during {:?}/{:?}",
            IDLE + SLOW + HALF_HANDSHAKES,
            percentile(&mut before, 50.0),
            percentile(&mut before, 99.0),
            percentile(&mut during, 50.0),
            percentile(&mut during, 99.0),
        );
        Ok(())
    })
    .await
}

/// A fresh REST request of `who` still gets its answer.
async fn api_still_serves(env: &TestEnv, who: &parley_tests::Session) -> Result<()> {
    env.api(0).me(who.token()).await?.ok(200).context("GET /v1/users/me during the abuse")?;
    Ok(())
}

/// Behind a trusted proxy (`PARLEY_TRUSTED_PROXIES`), `X-Forwarded-For` names the client whose
/// per-address budget a request spends; from anyone else the header changes nothing, so a client
/// cannot buy a fresh budget by sending it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() -> Result<()> {
    run(60, async {
        let limited = |id: &str, trusted: &str| {
            let mut o = NodeOptions::new(id);
            for (k, v) in [("PARLEY_REST_RATE", "1"), ("PARLEY_REST_BURST", "3"), ("PARLEY_TRUSTED_PROXIES", trusted)] {
                o.env.push((k.into(), v.into()));
            }
            o
        };
        let env = TestEnv::start_with(vec![limited("node1", "127.0.0.1, 10.0.0.0/8"), limited("node2", "")]).await?;
        let status = |i: usize, xff: &'static str| {
            let api = env.api(i);
            async move { anyhow::Ok(api.raw(Method::GET, "/v1/users/me", &[("x-forwarded-for", xff)], None).await?.status) }
        };
        // Node 1 trusts its loopback "load balancer": each forwarded client has its own budget.
        for n in 0..3 {
            ensure!(status(0, "203.0.113.1").await? == 401, "request {n} of client 1");
        }
        ensure!(status(0, "203.0.113.1").await? == 429, "client 1 over its burst");
        ensure!(status(0, "203.0.113.2").await? == 401, "client 2 has a budget of its own");
        ensure!(status(0, "6.6.6.6, 203.0.113.1").await? == 429, "an entry the client wrote itself is not believed");
        ensure!(status(0, "203.0.113.1, 10.1.1.1").await? == 429, "a chain of trusted proxies ends at client 1");
        // Node 2 trusts nobody: the header changes nothing, every request is loopback's.
        for (n, xff) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"].into_iter().enumerate() {
            ensure!(status(1, xff).await? == 401, "request {n} to node 2");
        }
        ensure!(status(1, "203.0.113.4").await? == 429, "a made-up address buys no fresh budget");
        Ok(())
    })
    .await
}
