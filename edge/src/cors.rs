//! CORS for browsers calling the edge from another origin, driven by the `CORS_ORIGINS` var:
//! a comma-separated list of origins (`https://app.example.com,http://localhost:5173`), or `*`
//! for any. Unset or empty means same-origin only (the web client served from this worker's
//! assets needs no CORS). Access tokens travel in `Authorization`, never in cookies, so no
//! credentials mode is involved.

use worker::{Headers, Request, Response, ResponseBuilder};

/// The var listing the allowed origins.
pub const ORIGINS_VAR: &str = "CORS_ORIGINS";

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "Authorization, Content-Type";
const EXPOSE_HEADERS: &str = "Retry-After";
const MAX_AGE_SECS: &str = "86400";

/// Whether `origin` is allowed by the `CORS_ORIGINS` value `config`.
pub fn allows(config: &str, origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    !origin.is_empty()
        && config
            .split(',')
            .map(|o| o.trim().trim_end_matches('/'))
            .any(|o| o == "*" || (!o.is_empty() && o.eq_ignore_ascii_case(origin)))
}

/// The request's `Origin` if `config` allows it.
pub fn allowed_origin(config: Option<&str>, req: &Request) -> Option<String> {
    let config = config?;
    let origin = req.headers().get("Origin").ok().flatten()?;
    allows(config, &origin).then_some(origin)
}

/// Whether `req` is a CORS preflight (an `OPTIONS` naming the method it is about to send).
pub fn is_preflight(req: &Request) -> bool {
    req.inner().method().eq_ignore_ascii_case("OPTIONS")
        && req.headers().has("Access-Control-Request-Method").unwrap_or(false)
}

/// Adds the headers every response to an allowed origin carries.
pub fn apply(headers: &Headers, origin: &str) -> worker::Result<()> {
    headers.set("Access-Control-Allow-Origin", origin)?;
    headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS)?;
    headers.append("Vary", "Origin")
}

/// The 204 answering an allowed preflight.
pub fn preflight(origin: &str) -> worker::Result<Response> {
    let headers = Headers::new();
    apply(&headers, origin)?;
    headers.set("Access-Control-Allow-Methods", ALLOW_METHODS)?;
    headers.set("Access-Control-Allow-Headers", ALLOW_HEADERS)?;
    headers.set("Access-Control-Max-Age", MAX_AGE_SECS)?;
    Ok(ResponseBuilder::new().with_status(204).with_headers(headers).empty())
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn origin_matching() {
        let list = "https://app.example.com, http://localhost:5173/";
        assert!(allows(list, "https://app.example.com"));
        assert!(allows(list, "HTTPS://APP.EXAMPLE.COM"));
        assert!(allows(list, "http://localhost:5173"));
        assert!(!allows(list, "https://evil.example.com"));
        assert!(!allows(list, "http://localhost:5174"));
        assert!(!allows(list, ""));
        assert!(!allows("", "https://app.example.com"));
        assert!(!allows(" , ", "https://app.example.com"));
        assert!(allows("*", "https://anything.example"));
        assert!(!allows("*", ""));
    }
}
