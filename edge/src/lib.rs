//! Parley's edge: the REST API as a Cloudflare Worker (wasm32, `worker` crate).
//!
//! Every rule lives in `parley-shared`; this crate only adapts Workers to it:
//! - [`http`]: a Workers request → [`parley_shared::api::Request`], the shared router's
//!   [`parley_shared::api::Response`] → a Workers response (with the 413 body limit and CORS);
//! - [`env`]: [`env::EdgeEnv`], the shared handlers' view of the worker (keys, passwords, database);
//! - [`db`]: one Postgres connection per request over a Workers TCP socket (Hyperdrive or
//!   `DATABASE_URL`), opened only when a handler asks for it.
//!
//! Errors never escape as a Workers error or a panic: every failure becomes the contract's
//! `{"error": {...}}` envelope, and the causes of 500s go to the worker's log (`console.error`),
//! never to the client.

// A panic in wasm32 aborts the instance and the client gets the runtime's bare 500 rather than
// the contract's envelope, so this crate maps every failure instead of unwrapping.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cors;
mod db;
mod env;
mod http;

use worker::{Context, Env, Request, Response, event};

/// The Workers entry point: every request goes through the shared router.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    Ok(http::serve(req, &env).await)
}
