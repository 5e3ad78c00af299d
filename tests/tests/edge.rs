//! The edge worker under wrangler/workerd together with real nodes on one database: accounts and
//! tokens cross between them, messages cross REST (edge) and sockets (node) both ways, a panic
//! still answers with the contract's envelope, browsers get CORS, and the web app is served from
//! the worker's static assets (deep links too) while the API's paths still reach the worker. The
//! REST suites (auth, rest, bad_input) run every REST test against the edge too (`<test>::edge`).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use parley_tests::edge::{EdgeOptions, TEST_ORIGIN};
use parley_tests::{Edge, RestEnv, Target, Ws, check, run};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_account_on_a_node_socket_receives_a_send_made_through_the_edge() -> Result<()> {
    run(90, async {
        let env = RestEnv::start(Target::Edge, 1).await?;
        let edge = env.api(0);
        let alice = edge.signup("alice").await?;
        let bob = edge.signup("bob").await?;
        // A login at the edge: its token is what the node's socket accepts.
        let bob = edge.login_again(&bob).await?;
        let conv = edge.direct_id(&alice, &bob).await?;

        let mut ws = Ws::connect_synced(&env.ws_url(0), bob.token(), &[&conv]).await.context("bob's socket")?;
        ensure!(ws.user_id() == bob.user_id, "ready names bob: {}", ws.ready);
        let sent = edge.send_text(alice.token(), &conv, "from the edge").await?;
        let got = ws.collect_events(&conv, 1, Duration::from_secs(10)).await?;
        ensure!(got[0]["event"]["id"] == sent["id"], "the socket got {} for {sent}", got[0]);
        ensure!(got[0]["event"]["text"] == "from the edge", "{}", got[0]);
        ensure!(got[0]["seq"] == sent["seq"], "seq: {} vs {sent}", got[0]);
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_send_on_a_node_is_read_through_the_edge() -> Result<()> {
    run(90, async {
        let env = RestEnv::start(Target::Edge, 1).await?;
        let (edge, node) = (env.api(0), env.api(1));
        // Hashes cross too: alice registers on the node (node parameters) and logs in at the edge;
        // bob registers at the edge (edge parameters) and logs in on the node.
        let alice = node.signup("alice").await?;
        let alice_edge = edge.login_again(&alice).await.context("a node-registered user logs in at the edge")?;
        let bob = edge.signup("bob").await?;
        let bob_node = node.login_again(&bob).await.context("an edge-registered user logs in on the node")?;
        let conv = edge.direct_id(&alice_edge, &bob).await?;

        let mut ws = Ws::connect_synced(&env.ws_url(0), alice_edge.token(), &[&conv]).await?;
        let sent = ws.send_message_ok(&conv, "over the socket").await?;
        let history = edge.messages(bob.token(), &conv).await?;
        ensure!(history.len() == 1, "bob's history at the edge: {history:?}");
        ensure!(history[0]["id"] == sent["id"] && history[0]["seq"] == sent["seq"], "{} vs {sent}", history[0]);
        check::message_event(&history[0], check::Msg { text: Some("over the socket"), ..Default::default() })?;
        let item = edge.conversation(bob_node.token(), &conv).await?;
        ensure!(item["unread_count"] == 1 && item["last_seq"] == sent["seq"], "bob's list item at the edge: {item}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_answers_the_contract_500_and_the_worker_keeps_serving() -> Result<()> {
    run(90, async {
        let env = RestEnv::start(Target::Edge, 1).await?;
        let edge = env.api(0);
        for _ in 0..2 {
            let resp = edge.raw(Method::GET, "/__test/panic", &[("origin", TEST_ORIGIN)], None).await?;
            let msg = resp.error(500, "internal").context("the test-only panic")?;
            ensure!(msg == "internal error", "message: {msg:?}");
            let lower = resp.text.to_lowercase();
            for leak in ["panic", "unreachable", "wasm", "stack", ".rs"] {
                ensure!(!lower.contains(leak), "the 500 leaks {leak:?}: {}", resp.text);
            }
            ensure!(
                resp.header("access-control-allow-origin").as_deref() == Some(TEST_ORIGIN),
                "a browser can read the 500: {:?}",
                resp.headers
            );
            // The next requests are served by a fresh instance.
            edge.healthz().await?.ok(200)?;
            let user = edge.signup(&format!("after_panic_{}", &parley_tests::cmid()[..8])).await?;
            edge.me(user.token()).await?.ok(200)?;
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_hooks_are_404_without_their_var() -> Result<()> {
    run(90, async {
        let db = parley_tests::TestDb::create().await?;
        let edge = Edge::start_with(EdgeOptions { test_hooks: false, ..EdgeOptions::new(&db) }).await?;
        let api = edge.api();
        api.get("/__test/panic", None).await?.error(404, "not_found").context("/__test/panic without the var")?;
        api.get("/__test/argon2", None).await?.error(404, "not_found").context("/__test/argon2 without the var")?;
        api.healthz().await?.ok(200)?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_for_configured_origins_only() -> Result<()> {
    run(90, async {
        let env = RestEnv::start(Target::Edge, 1).await?;
        let edge = env.api(0);
        let alice = edge.signup("alice").await?;
        let preflight = |origin: &'static str| {
            let edge = edge.clone();
            async move {
                edge.raw(
                    Method::OPTIONS,
                    "/v1/conversations/direct",
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        ("access-control-request-headers", "authorization, content-type"),
                    ],
                    None,
                )
                .await
            }
        };

        let ok = preflight(TEST_ORIGIN).await?;
        ensure!(ok.status == 204, "preflight from an allowed origin: {} {}", ok.status, ok.text);
        ensure!(ok.header("access-control-allow-origin").as_deref() == Some(TEST_ORIGIN), "{:?}", ok.headers);
        let methods = ok.header("access-control-allow-methods").unwrap_or_default();
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            ensure!(methods.contains(m), "Allow-Methods {methods:?} lacks {m}");
        }
        let headers = ok.header("access-control-allow-headers").unwrap_or_default().to_lowercase();
        ensure!(headers.contains("authorization") && headers.contains("content-type"), "Allow-Headers {headers:?}");
        ensure!(ok.header("access-control-max-age").is_some_and(|v| v.parse::<u64>().is_ok()), "{:?}", ok.headers);
        ensure!(ok.header("vary").unwrap_or_default().to_lowercase().contains("origin"), "Vary: {:?}", ok.headers);

        // Another origin gets no CORS headers (the browser then refuses), and an error envelope.
        let no = preflight("https://evil.example").await?;
        ensure!(no.header("access-control-allow-origin").is_none(), "preflight from another origin: {:?}", no.headers);
        ensure!(no.status >= 400, "preflight from another origin: {} {}", no.status, no.text);
        check::error_envelope(&no.json, no.json["error"]["code"].as_str().unwrap_or_default())
            .with_context(|| format!("preflight from another origin: {}", no.text))?;

        // Actual requests: successes and errors carry the header for the allowed origin only.
        let auth = format!("Bearer {}", alice.token());
        let me =
            edge.raw(Method::GET, "/v1/users/me", &[("origin", TEST_ORIGIN), ("authorization", &auth)], None).await?;
        ensure!(me.status == 200, "me: {} {}", me.status, me.text);
        ensure!(me.header("access-control-allow-origin").as_deref() == Some(TEST_ORIGIN), "{:?}", me.headers);
        let denied = edge.raw(Method::GET, "/v1/users/me", &[("origin", TEST_ORIGIN)], None).await?;
        denied.error(401, "unauthorized")?;
        ensure!(denied.header("access-control-allow-origin").as_deref() == Some(TEST_ORIGIN), "{:?}", denied.headers);
        let other = edge
            .raw(Method::GET, "/v1/users/me", &[("origin", "https://evil.example"), ("authorization", &auth)], None)
            .await?;
        ensure!(other.status == 200, "the API still answers (CORS is the browser's check): {}", other.status);
        ensure!(other.header("access-control-allow-origin").is_none(), "{:?}", other.headers);
        Ok(())
    })
    .await
}

/// What a browser sends when it navigates to a page.
const NAVIGATE: [(&str, &str); 2] =
    [("accept", "text/html,application/xhtml+xml,*/*;q=0.8"), ("sec-fetch-mode", "navigate")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_serves_the_web_app_and_the_worker_the_api() -> Result<()> {
    run(90, async {
        let db = parley_tests::TestDb::create().await?;
        let ws_urls = "wss://node-a.parley.test/v1/ws, wss://node-b.parley.test/v1/ws";
        let vars = vec![("PARLEY_WS_URLS".to_owned(), ws_urls.to_owned())];
        let edge = Edge::start_with(EdgeOptions { vars, ..EdgeOptions::new(&db) }).await?;
        let api = edge.api();
        let index = std::fs::read_to_string(parley_tests::cluster::workspace_root().join("web/dist/index.html"))
            .context("web/dist/index.html (scripts/build-web)")?;
        ensure!(index.contains(r#"<div id="app""#), "the built index.html has the app's root: {index}");

        // The app at /, and at any deep link (single-page application), by navigation or fetch.
        // `/.build-stamp` is build-web's, kept out by web/public/.assetsignore: the app answers.
        for path in ["/", "/index.html", "/chat/xyz", "/chat/xyz/details?tab=media", "/settings/", "/.build-stamp"] {
            for headers in [&NAVIGATE[..], &[]] {
                let r = api.raw(Method::GET, path, headers, None).await?;
                let r = if r.status == 307 || r.status == 308 {
                    // `/index.html` → `/` (wrangler's html_handling); follow it once.
                    let to = r.header("location").context("a redirect without Location")?;
                    api.raw(Method::GET, &to, headers, None).await?
                } else {
                    r
                };
                ensure!(r.status == 200, "GET {path}: {} {}", r.status, r.text);
                let ty = r.header("content-type").unwrap_or_default();
                ensure!(ty.starts_with("text/html"), "GET {path}: content-type {ty:?}");
                ensure!(r.text == index, "GET {path} is not web/dist/index.html: {}", r.text);
            }
        }
        // The app's own files, with their types.
        let script = index
            .split('"')
            .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
            .context("index.html names its script under /assets/")?;
        let r = api.raw(Method::GET, script, &[], None).await?;
        ensure!(r.status == 200, "GET {script}: {}", r.status);
        let ty = r.header("content-type").unwrap_or_default();
        ensure!(ty.contains("javascript"), "GET {script}: content-type {ty:?}");

        // The API's paths are the worker's: JSON, even to a navigating browser.
        for headers in [&NAVIGATE[..], &[]] {
            let config = api.raw(Method::GET, "/v1/config", headers, None).await?;
            ensure!(config.status == 200, "GET /v1/config: {} {}", config.status, config.text);
            ensure!(
                config.header("content-type").unwrap_or_default().starts_with("application/json"),
                "{:?}",
                config.headers
            );
            // What the app connects to: PARLEY_WS_URLS, split and trimmed.
            ensure!(
                config.json["websocket_urls"]
                    == serde_json::json!(["wss://node-a.parley.test/v1/ws", "wss://node-b.parley.test/v1/ws"]),
                "GET /v1/config: {}",
                config.text
            );
            for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
                let r = api.raw(Method::GET, path, headers, None).await?;
                ensure!(r.status == 200 && r.json["status"] == status, "GET {path}: {} {}", r.status, r.text);
                ensure!(
                    r.header("content-type").unwrap_or_default().starts_with("application/json"),
                    "{:?}",
                    r.headers
                );
            }
            let jwks = api.raw(Method::GET, "/.well-known/jwks.json", headers, None).await?;
            ensure!(jwks.status == 200 && jwks.json["keys"].is_array(), "GET /.well-known/jwks.json: {}", jwks.text);
            // Unknown API paths are the contract's 404, never the app.
            for path in ["/v1", "/v1/no-such-route", "/v1/chat/xyz", "/.well-known/nothing", "/metrics"] {
                api.raw(Method::GET, path, headers, None)
                    .await?
                    .error(404, "not_found")
                    .with_context(|| format!("GET {path}"))?;
            }
        }
        let alice = api.signup("alice").await.context("signing up through the edge beside its assets")?;
        api.get("/v1/users/me", Some(alice.token())).await?.ok(200)?;
        Ok(())
    })
    .await
}
