//! Test-only routes, answered only when the `PARLEY_EDGE_TEST_HOOKS` var is `1`: the black-box
//! tests set it in the config they run wrangler with; no deployed configuration has it (it is
//! not in wrangler.toml), and without it these paths are ordinary 404s from the router.
//!
//! - `GET /__test/panic` panics inside the worker, to check that a panic still answers with the
//!   contract's 500 envelope (edge/entry.mjs) and that the next request is served.
//! - `GET /__test/argon2?m_kib=M&t=T&p=P` hashes a password with those argon2id parameters and
//!   answers 200, so a client can time argon2id inside workerd (time does not advance inside a
//!   worker between I/O, so the worker cannot time itself).

use parley_shared::api;
use parley_shared::auth::{PasswordParams, passwords};
use parley_shared::error::ApiError;
use serde_json::json;
use worker::Url;

use crate::env::string_binding;

/// The var that turns the hooks on.
pub const HOOKS_VAR: &str = "PARLEY_EDGE_TEST_HOOKS";

/// The hook's answer if `url` names one and the hooks are on; `None` sends the request on to the
/// router.
pub fn handle(env: &worker::Env, method: &str, url: &Url) -> Option<api::Response> {
    if !url.path().starts_with("/__test/") || string_binding(env, HOOKS_VAR).as_deref() != Some("1") {
        return None;
    }
    if !method.eq_ignore_ascii_case("GET") {
        return None;
    }
    match url.path() {
        "/__test/panic" => panic_now(),
        "/__test/argon2" => Some(argon2(url)),
        _ => None,
    }
}

#[allow(clippy::panic)]
fn panic_now() -> ! {
    panic!("test-only panic requested through /__test/panic ({HOOKS_VAR}=1)")
}

fn argon2(url: &Url) -> api::Response {
    let mut params = PasswordParams::EDGE;
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "m_kib" => &mut params.m_kib,
            "t" => &mut params.t,
            "p" => &mut params.p,
            _ => continue,
        };
        match v.parse() {
            Ok(n) => *slot = n,
            Err(_) => return api::Response::error(&ApiError::invalid(format!("{k}: not a number"))),
        }
    }
    match passwords::hash("correct horse battery staple", params) {
        Ok(phc) => api::Response::json(200, &json!({ "phc": phc })),
        Err(e) => api::Response::error(&ApiError::invalid(e.to_string())),
    }
}
