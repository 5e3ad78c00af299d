//! Accounts and tokens: register, login, refresh rotation, logout, JWKS, `users/me`.

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine as _;
use parley_tests::{RestEnv, Target, api::PASSWORD, check, keys, node_and_edge};
use serde_json::{Value, json};

/// Header of a JWT (the first dot-separated part, base64url).
fn jwt_header(token: &str) -> Result<Value> {
    let first = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first.trim_end_matches('='))
        .with_context(|| format!("access token header is not base64url: {token}"))?;
    serde_json::from_slice(&bytes).context("access token header is not JSON")
}

node_and_edge!(register_returns_the_user_and_a_token_pair, 60);

async fn register_returns_the_user_and_a_token_pair(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    api.healthz().await?.ok(200).context("healthz")?;

    let resp = api
        .post(
            "/v1/auth/register",
            None,
            &json!({"username": "alice", "password": PASSWORD, "display_name": "Alice A."}),
        )
        .await?;
    let body = resp.ok(201)?;
    check::auth_response(&body)?;
    ensure!(body["user"]["username"] == "alice", "username echoed back: {body}");
    if let Some(name) = body["user"].get("display_name") {
        ensure!(name == "Alice A.", "display_name: {body}");
    }
    // The access token is a JWT the node can verify: EdDSA with our key id.
    let header = jwt_header(check::str_field(&body, "access_token")?)?;
    ensure!(header["alg"] == "EdDSA", "access token alg: {header}");
    ensure!(header["kid"] == keys()?.kid.as_str(), "access token kid {header} vs keygen {}", keys()?.kid);
    Ok(())
}

node_and_edge!(usernames_follow_the_rules_and_are_unique_ignoring_case, 90);

async fn usernames_follow_the_rules_and_are_unique_ignoring_case(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);

    for ok in ["abc", "a.b_c9", &"x".repeat(32)] {
        api.register(ok, PASSWORD).await?.ok(201).with_context(|| format!("valid username {ok:?}"))?;
    }
    let too_long = "y".repeat(33);
    for bad in ["ab", too_long.as_str(), "has-dash", "has space", "émile", "semi;colon", ""] {
        let resp = api.register(bad, PASSWORD).await?;
        let msg = resp.error(400, "invalid_request").with_context(|| format!("invalid username {bad:?}"))?;
        check::mentions_any(&msg, &["username"])?;
    }

    api.register("mixed_case", PASSWORD).await?.ok(201)?;
    api.register("MIXED_CASE", PASSWORD).await?.error(409, "conflict").context("a username differing only by case")?;
    api.register("mixed_case", PASSWORD).await?.error(409, "conflict").context("the same username again")?;

    let resp = api.register("shortpw", "1234567").await?;
    let msg = resp.error(400, "invalid_request").context("a 7-char password")?;
    check::mentions_any(&msg, &["password"])?;
    api.register("longpw", &"p".repeat(257)).await?.error(400, "invalid_request").context("a 257-char password")?;
    api.register("okpw", "12345678").await?.ok(201).context("an 8-char password")?;
    Ok(())
}

node_and_edge!(login_succeeds_and_fails_uniformly, 60);

async fn login_succeeds_and_fails_uniformly(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;

    let body = api
        .post("/v1/auth/login", None, &json!({"username": "alice", "password": PASSWORD, "device_name": "laptop"}))
        .await?
        .ok(200)?;
    check::auth_response(&body)?;
    ensure!(body["user"]["id"] == alice.user_id.as_str(), "login user id: {body}");
    ensure!(body["refresh_token"] != alice.refresh_token.as_str(), "a new session gets a new refresh token");

    let wrong_password = api.login("alice", "not the password").await?;
    wrong_password.error(401, "unauthorized").context("wrong password")?;
    let wrong_user = api.login("nobody_here", PASSWORD).await?;
    wrong_user.error(401, "unauthorized").context("unknown username")?;
    ensure!(
        wrong_password.json == wrong_user.json,
        "wrong username and wrong password must give the same 401: {} vs {}",
        wrong_password.text,
        wrong_user.text
    );
    Ok(())
}

node_and_edge!(refresh_rotates_and_reuse_revokes_the_session, 60);

async fn refresh_rotates_and_reuse_revokes_the_session(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let r1 = alice.refresh_token.clone();
    let other = api.login_again(&alice).await?;

    let body = api.refresh(&r1).await?.ok(200).context("first refresh")?;
    let r2 = check::str_field(&body, "refresh_token")?.to_owned();
    let access2 = check::str_field(&body, "access_token")?.to_owned();
    ensure!(r2 != r1, "the refresh token must rotate");
    let me = api.me(&access2).await?.ok(200).context("the refreshed access token works")?;
    ensure!(me["id"] == alice.user_id.as_str(), "me after refresh: {me}");

    let body = api.refresh(&r2).await?.ok(200).context("second refresh")?;
    let r3 = check::str_field(&body, "refresh_token")?.to_owned();

    // Presenting a used token: 401, and the whole session dies, newest token included.
    api.refresh(&r1).await?.error(401, "unauthorized").context("reusing the first refresh token")?;
    api.refresh(&r3)
        .await?
        .error(401, "unauthorized")
        .context("the session's newest refresh token after reuse detection")?;

    // Another session of the same user is untouched.
    api.refresh(&other.refresh_token).await?.ok(200).context("another session keeps refreshing")?;

    api.refresh("not-a-refresh-token").await?.error(401, "unauthorized").context("a garbage refresh token")?;
    Ok(())
}

node_and_edge!(logout_kills_the_sessions_refresh_token_only, 60);

async fn logout_kills_the_sessions_refresh_token_only(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let phone = api.login_again(&alice).await?;

    let resp = api.logout(&alice.access_token).await?;
    ensure!(resp.status == 204, "logout: {} {}", resp.status, resp.text);
    ensure!(resp.text.is_empty(), "204 has no body: {:?}", resp.text);
    api.refresh(&alice.refresh_token).await?.error(401, "unauthorized").context("refresh after logout")?;
    api.refresh(&phone.refresh_token).await?.ok(200).context("the other session survives")?;
    api.request(reqwest::Method::POST, "/v1/auth/logout", None, None)
        .await?
        .error(401, "unauthorized")
        .context("logout without a token")?;
    Ok(())
}

node_and_edge!(a_signed_out_sessions_access_token_is_refused_everywhere_within_seconds, 90);

/// A logout, a refresh-token reuse and a session signed out from another device end the
/// session's still-valid access token on every endpoint (each node, the edge) within seconds,
/// not when it expires; a node whose LISTEN connection is down asks the database instead of
/// trusting what it heard.
async fn a_signed_out_sessions_access_token_is_refused_everywhere_within_seconds(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 2).await?;
    let endpoints: Vec<_> =
        (0..=env.env.nodes.len()).filter(|i| *i < 2 || env.edge.is_some()).map(|i| env.api(i)).collect();
    let api = &endpoints[0];
    let refused_everywhere = |token: String, what: &'static str| {
        let endpoints = endpoints.clone();
        async move {
            let started = std::time::Instant::now();
            for (i, e) in endpoints.iter().enumerate() {
                // The edge believes "still signed in" for 2 s; the nodes hear the NOTIFY at once.
                let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
                loop {
                    let r = e.me(&token).await?;
                    if r.status == 401 {
                        r.error(401, "unauthorized").with_context(|| format!("{what}: endpoint {i}"))?;
                        break;
                    }
                    ensure!(r.status == 200, "{what}: endpoint {i}: {} {}", r.status, r.text);
                    ensure!(std::time::Instant::now() < until, "{what}: endpoint {i} still serves the token after 5 s");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
            Ok::<_, anyhow::Error>(started.elapsed())
        }
    };

    // Logout: every endpoint served the token a moment ago.
    let alice = api.signup("alice").await?;
    for e in &endpoints {
        e.me(&alice.access_token).await?.ok(200).context("before the logout")?;
    }
    api.logout(&alice.access_token).await?.ok(204).context("logout")?;
    let took = refused_everywhere(alice.access_token.clone(), "after logout").await?;
    println!("logout: refused on every endpoint after {took:?}");
    api.logout(&alice.access_token).await?.error(401, "unauthorized").context("a second logout")?;

    // Refresh-token reuse revokes the session, its newest access token included.
    let bob = api.signup("bob").await?;
    let fresh = api.refresh(&bob.refresh_token).await?.ok(200)?;
    let newest = check::str_field(&fresh, "access_token")?.to_owned();
    api.me(&newest).await?.ok(200)?;
    api.refresh(&bob.refresh_token).await?.error(401, "unauthorized").context("reuse")?;
    refused_everywhere(newest, "after refresh-token reuse").await?;

    // Signed out from another device (DELETE /v1/sessions/{id}), while node 2 cannot hear it:
    // its LISTEN connection is cut, so it must not trust its cache.
    let carol = api.signup("carol").await?;
    let laptop = api.login_again(&carol).await?;
    let sessions = api.get("/v1/sessions", Some(&carol.access_token)).await?.ok(200)?;
    let laptop_id = sessions["sessions"]
        .as_array()
        .context("sessions")?
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .context("the laptop's session")?
        .to_owned();
    env.env.api(1).me(&laptop.access_token).await?.ok(200)?;
    env.env.db.terminate_listen_connection("node2").await?;
    api.request(reqwest::Method::DELETE, &format!("/v1/sessions/{laptop_id}"), Some(&carol.access_token), None)
        .await?
        .ok(204)
        .context("signing the laptop out")?;
    refused_everywhere(laptop.access_token.clone(), "a session signed out elsewhere").await?;
    // The other session is untouched everywhere.
    for e in &endpoints {
        e.me(&carol.access_token).await?.ok(200).context("the session that stayed")?;
    }
    Ok(())
}

node_and_edge!(password_guessing_is_slowed_per_account_and_address_and_success_forgives, 60);

/// Wrong passwords for one account from one address: 5, then 429 with `Retry-After` (whatever
/// the password, so the guesser learns nothing more); a successful login before that forgives
/// the failures; other accounts from the same address are not held up by it.
async fn password_guessing_is_slowed_per_account_and_address_and_success_forgives(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;

    // Four wrong, then the right one: in, and the four are forgiven.
    for i in 0..4 {
        api.login(&alice.username, "wrong password")
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("guess {i}"))?;
    }
    api.login(&alice.username, PASSWORD).await?.ok(200).context("the owner logs in")?;
    // So five more guesses are answered (401), and the sixth is slowed down.
    for i in 0..5 {
        api.login(&alice.username, "wrong password")
            .await?
            .error(401, "unauthorized")
            .with_context(|| format!("guess {i} after the login"))?;
    }
    let r = api.login(&alice.username, PASSWORD).await?;
    r.error(429, "rate_limited").context("the sixth attempt in a row")?;
    let wait: u64 = r.header("retry-after").context("Retry-After")?.parse()?;
    ensure!((1..=30).contains(&wait), "Retry-After {wait}");
    // Bob, from the same address, is not held up by Alice's guesser.
    api.login(&bob.username, PASSWORD).await?.ok(200).context("another account from the same address")?;
    // An unknown username spends the same way (no telling accounts that exist from others).
    for _ in 0..5 {
        api.login("nobody_here", "x".repeat(8).as_str()).await?.error(401, "unauthorized")?;
    }
    api.login("nobody_here", "xxxxxxxx").await?.error(429, "rate_limited").context("an unknown account")?;
    Ok(())
}

node_and_edge!(jwks_publishes_the_ed25519_key, 60);

async fn jwks_publishes_the_ed25519_key(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let body = api.jwks().await?.ok(200)?;
    let ks = body["keys"].as_array().ok_or_else(|| anyhow!("jwks has no `keys` array: {body}"))?;
    ensure!(!ks.is_empty(), "jwks is empty");
    for k in ks {
        ensure!(k["kty"] == "OKP", "kty: {k}");
        ensure!(k["crv"] == "Ed25519", "crv: {k}");
        ensure!(!check::str_field(k, "kid")?.is_empty(), "kid: {k}");
        let x = check::str_field(k, "x")?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(x.trim_end_matches('='))
            .with_context(|| format!("x is not base64url: {k}"))?;
        ensure!(raw.len() == 32, "an Ed25519 public key has 32 bytes: {k}");
        ensure!(k.get("d").is_none(), "the JWKS leaks a private key: {k}");
    }
    let alice = api.signup("alice").await?;
    let kid = jwt_header(&alice.access_token)?["kid"].clone();
    ensure!(ks.iter().any(|k| k["kid"] == kid), "the access token's kid {kid} is not in the JWKS {body}");
    Ok(())
}

node_and_edge!(users_me_returns_the_caller, 60);

async fn users_me_returns_the_caller(t: Target) -> Result<()> {
    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let bob = api.signup("bob").await?;
    let me = api.me(&alice.access_token).await?.ok(200)?;
    check::user_shape(&me)?;
    ensure!(me["id"] == alice.user_id.as_str() && me["username"] == "alice", "alice's me: {me}");
    let me = api.me(&bob.access_token).await?.ok(200)?;
    ensure!(me["id"] == bob.user_id.as_str() && me["username"] == "bob", "bob's me: {me}");
    api.get("/v1/users/me", None).await?.error(401, "unauthorized").context("me without a token")?;
    Ok(())
}

node_and_edge!(forged_foreign_and_out_of_date_tokens_are_refused_at_every_door, 90);

/// The classic JWT attacks, each tried on REST (the edge's for the edge target), on the
/// WebSocket upgrade and on QUIC's `auth` frame: `alg: none`, HS256 keyed with the public key,
/// a foreign key under our `kid`, our key under an unknown `kid`, expired, not yet valid,
/// claims changed under a valid signature, a subject that is no user id, no session id, a cut
/// signature. Every one is a 401 / `unauthorized`, and the genuine token keeps working.
async fn forged_foreign_and_out_of_date_tokens_are_refused_at_every_door(t: Target) -> Result<()> {
    use jwt_simple::prelude::*;
    use parley_tests::Ws;
    use parley_tests::quic::Quic;
    use parley_tests::ws::Upgrade;

    let env = RestEnv::start(t, 1).await?;
    let api = env.api(0);
    let (alice, bob, _conv) = env.pair("alice", "bob").await?;
    let keys = keys()?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let ours = Ed25519KeyPair::from_bytes(&b64.decode(&keys.signing_key)?)?.with_key_id(&keys.kid);
    let public_raw = ours.public_key().to_bytes();

    #[derive(Clone, Serialize, Deserialize)]
    struct Sid {
        sid: String,
    }
    let claims = |sub: &str, sid: &str| {
        Claims::with_custom_claims(Sid { sid: sid.to_owned() }, Duration::from_mins(15)).with_subject(sub)
    };
    let payload_of = |token: &str| token.split('.').nth(1).unwrap_or_default().to_owned();
    let issued: Value = serde_json::from_slice(&b64.decode(payload_of(&alice.access_token))?)?;
    let sid = check::str_field(&issued, "sid")?.to_owned();
    let genuine = claims(&alice.user_id, &sid);
    let now = Clock::now_since_epoch();
    let header = |json: &str| b64.encode(json.as_bytes());

    let mut expired = claims(&alice.user_id, &sid);
    expired.issued_at = Some(now - Duration::from_mins(20));
    expired.expires_at = Some(now - Duration::from_mins(5));
    let mut early = claims(&alice.user_id, &sid);
    early.invalid_before = Some(now + Duration::from_mins(5));
    let signed = ours.sign(genuine.clone())?;
    let tampered = {
        let mut v: Value = serde_json::from_slice(&b64.decode(payload_of(&signed))?)?;
        v["sub"] = json!(bob.user_id);
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        parts[1] = b64.encode(v.to_string());
        parts.join(".")
    };
    let attacks: Vec<(&str, String)> = vec![
        ("alg none", format!("{}.{}.", header(r#"{"alg":"none","typ":"JWT"}"#), payload_of(&signed))),
        (
            "alg none with our kid",
            format!("{}.{}.", header(&format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid)), payload_of(&signed)),
        ),
        (
            "HS256 keyed with the raw public key",
            HS256Key::from_bytes(&public_raw).with_key_id(&keys.kid).authenticate(genuine.clone())?,
        ),
        (
            "HS256 keyed with the published JWK",
            HS256Key::from_bytes(keys.jwks_text().as_bytes()).with_key_id(&keys.kid).authenticate(genuine.clone())?,
        ),
        ("a foreign key under our kid", Ed25519KeyPair::generate().with_key_id(&keys.kid).sign(genuine.clone())?),
        (
            "our key under an unknown kid",
            Ed25519KeyPair::from_bytes(&ours.to_bytes())?.with_key_id("k2").sign(genuine.clone())?,
        ),
        ("our key and no kid", Ed25519KeyPair::from_bytes(&ours.to_bytes())?.sign(genuine.clone())?),
        ("expired five minutes ago", ours.sign(expired)?),
        ("valid only in five minutes", ours.sign(early)?),
        ("another user's id under Alice's signature", tampered),
        ("a subject that is no user id", ours.sign(claims("admin", &sid))?),
        ("no session id", ours.sign(Claims::create(Duration::from_mins(15)).with_subject(&alice.user_id))?),
        ("a signature cut short", signed[..signed.len() - 4].to_owned()),
    ];

    let node = &env.env.nodes[0];
    for (what, token) in &attacks {
        api.me(token).await?.error(401, "unauthorized").with_context(|| format!("REST: {what}"))?;
        match Ws::try_connect(&env.ws_url(0), Some(token)).await? {
            Upgrade::Rejected { status: 401, .. } => {}
            Upgrade::Rejected { status, body } => bail!("WebSocket: {what}: {status} {body}"),
            Upgrade::Accepted(_) => bail!("WebSocket: {what}: the upgrade was accepted"),
        }
        let mut q = Quic::open(node.quic_addr(), node.cert_sha256()).await?;
        q.send_json(&json!({"type": "auth", "token": token})).await?;
        let closing =
            q.wait_close(std::time::Duration::from_secs(10)).await.with_context(|| format!("QUIC: {what}"))?;
        ensure!(
            closing.frames.first().is_some_and(|f| f["code"] == "unauthorized"),
            "QUIC: {what}: {:?}",
            closing.frames
        );
    }
    // A token we forged with the real key and the real session is as good as a genuine one, so
    // the refusals above are about the attacks, not about how the test signs.
    let reforged = ours.sign(genuine)?;
    api.me(&reforged).await?.ok(200).context("REST with a correctly signed token")?;
    Ws::connect(&env.ws_url(0), &reforged).await?.ping().await?;
    Quic::connect(node.quic_addr(), node.cert_sha256(), &reforged).await?.ping().await?;
    Ok(())
}
