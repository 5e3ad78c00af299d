//! [`Call`]: one request as a handler sees it, with the helpers every handler uses to read it
//! (the caller's identity, the JSON body, the query, path ids).

use std::str::FromStr;

use serde::de::DeserializeOwned;

use super::{MAX_BODY_BYTES, Request};
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::service::{Env, accounts};

/// A request routed to its handler.
pub struct Call<'a, E> {
    /// The host.
    pub env: &'a E,
    /// The request.
    pub req: &'a Request<'a>,
    params: Vec<(&'static str, &'a str)>,
}

impl<'a, E: Env> Call<'a, E> {
    /// A call with the path's captured segments.
    pub fn new(env: &'a E, req: &'a Request<'a>, params: Vec<(&'static str, &'a str)>) -> Self {
        Call { env, req, params }
    }

    /// The caller's verified identity from `Authorization: Bearer`, of a session still signed in;
    /// 401 without one, for a bad or expired token, and for a signed-out session.
    pub async fn caller(&self) -> Result<AccessClaims, ApiError> {
        let claims = accounts::authenticate_bearer(self.env.verifier(), self.req.authorization)?;
        if !self.env.session_active(claims.session_id).await? {
            return Err(ApiError::unauthorized("this session was signed out"));
        }
        Ok(claims)
    }

    /// The JSON body as `T`; a 400 whose message names the offending field.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_body(self.req.body)
    }

    /// The query string; a 400 naming the parameter that holds U+0000.
    pub fn query(&self) -> Result<Query, ApiError> {
        let q = Query::parse(self.req.query);
        for (k, v) in &q.0 {
            crate::rules::text::refuse_nul(k, v)?;
        }
        Ok(q)
    }

    /// The path segment `{name}` as an id; one that cannot be an id is a 404 naming `what`, the
    /// same answer as an id that does not exist.
    pub fn id<T: FromStr>(&self, name: &str, what: &str) -> Result<T, ApiError> {
        let raw = self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_default();
        raw.parse().map_err(|_| ApiError::not_found(format!("{what} not found")))
    }

    /// The path segment `{name}`, percent-decoded (an emoji, say); a 400 naming it when it is
    /// not UTF-8 or holds U+0000.
    pub fn text_param(&self, name: &str) -> Result<String, ApiError> {
        let raw = self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_default();
        let text = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ApiError::invalid(format!("{name}: not UTF-8")))?;
        crate::rules::text::refuse_nul(name, &text)?;
        Ok(text.into_owned())
    }
}

/// Parses a JSON body into `T`; serde's message names the offending field.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(format!("body: at most {MAX_BODY_BYTES} bytes")));
    }
    // No body at all is an empty object (actions whose fields are all optional). A body that is
    // only whitespace is not JSON, and it is refused like any other: accepting it would read a
    // client's broken serialisation as "change nothing" and answer 200.
    let bytes = if body.is_empty() { b"{}".as_slice() } else { body };
    // serde reads a struct from an array too (`[null, null]` as a profile edit): every body of
    // the contract is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("invalid JSON body: expected a JSON object"));
    }
    crate::rules::text::refuse_nul_in_json(bytes)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = crate::rules::text::printable(&e.path().to_string());
        let inner = crate::rules::text::printable(&e.inner().to_string());
        let syntax = e.inner().is_syntax() || e.inner().is_eof();
        if syntax {
            ApiError::invalid(format!("invalid JSON body: {inner}"))
        } else if path == "." {
            // Missing and unknown fields are reported at the root; serde's message names them.
            ApiError::invalid(format!("invalid request body: {inner}"))
        } else {
            ApiError::invalid(format!("{path}: {inner}"))
        }
    })?;
    // Without this, anything after the object (`{...}garbage`) would go unread, and the NUL
    // scan above, which only reads well-formed JSON, would have passed it.
    de.end().map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    Ok(value)
}

/// Query-string parameters.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `a=1&b=x` (percent-decoded).
    pub fn parse(raw: Option<&str>) -> Self {
        Self(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key` as an integer; a 400 naming `key` when it is not one.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::invalid(format!("{key}: not an integer"))))
            .transpose()
    }

    /// The first value of `key` as a boolean, `true` or `false` exactly; anything else is a 400
    /// naming `key`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(ApiError::invalid(format!("{key}: {other:?} is not true or false"))),
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::{Query, parse_body};

    #[derive(serde::Deserialize, Debug)]
    struct AllOptional {
        #[allow(dead_code)]
        pinned: Option<bool>,
    }

    #[test]
    fn no_body_is_an_empty_object_and_a_blank_one_is_refused() {
        assert!(parse_body::<AllOptional>(b"").is_ok());
        assert!(parse_body::<AllOptional>(b" {} ").is_ok());
        for blank in [b" ".as_slice(), b"\n", b"\t \r\n"] {
            let e = parse_body::<AllOptional>(blank).unwrap_err();
            assert_eq!(e.status(), 400, "{blank:?}");
        }
    }

    #[test]
    fn booleans_are_true_or_false_exactly() {
        let q = Query::parse(Some("a=true&b=false&c=1&d=TRUE&e="));
        assert_eq!(q.bool("a").unwrap(), Some(true));
        assert_eq!(q.bool("b").unwrap(), Some(false));
        assert_eq!(q.bool("missing").unwrap(), None);
        for key in ["c", "d", "e"] {
            let e = q.bool(key).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.message.starts_with(&format!("{key}:")), "{}", e.message);
        }
    }
}
