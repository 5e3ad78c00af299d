//! Parley's edge: the REST API as a Cloudflare Worker (wasm32, `worker` crate).
//!
//! Every rule lives in `parley-shared`; this crate only adapts Workers to it:
//! - [`http`]: a Workers request → [`parley_shared::api::Request`], the shared router's
//!   [`parley_shared::api::Response`] → a Workers response (with the 413 body limit and CORS);
//! - [`env`]: [`env::EdgeEnv`], the shared handlers' view of the worker (keys, passwords, database);
//! - [`db`]: one Postgres connection per request over a Workers TCP socket (Hyperdrive or
//!   `DATABASE_URL`), opened only when a handler asks for it;
//! - [`test_hooks`]: test-only routes (a panic, argon2id timing), off unless
//!   `PARLEY_EDGE_TEST_HOOKS=1`.
//!
//! Errors never escape as a Workers error or a panic: every failure becomes the contract's
//! `{"error": {...}}` envelope, and the causes of 500s go to the worker's log (`console.error`),
//! never to the client.

#![warn(missing_docs)]
// A panic in wasm32 aborts the instance, so this crate maps every failure instead of unwrapping.
// Should one happen anyway (a bug), `edge/entry.mjs`, the module wrangler runs around this one,
// answers the contract's 500 envelope instead of the runtime's bare 500, and the shim starts a
// fresh instance for the next request.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cors;
mod db;
mod env;
mod http;
mod objects;
mod test_hooks;

use worker::{Context, Env, Request, Response, event};

/// The Workers entry point: every request goes through the shared router.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    Ok(http::serve(req, &env).await)
}
