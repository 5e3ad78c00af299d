//! Text that Postgres cannot store: U+0000. JSON can carry it only as the escape `\u0000`, so a
//! body without that escape needs no further look; one with it is parsed to find the field, and
//! refused with a 400 (or an `invalid_request` frame) naming it, before anything reaches the
//! database.

use serde_json::Value;

use crate::error::ApiError;

/// The path (`text`, `member_ids[2]`, `.` for the root) of the first string in the JSON `body`
/// that holds U+0000, if any (in a value or a key). Bodies that are not JSON answer `None`:
/// their parse error comes later.
pub fn nul_in_json(body: &[u8]) -> Option<String> {
    if !has_nul_escape(body) {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    find(&v, "")
}

/// 400 naming the field when the JSON `body` holds U+0000 in a string.
pub fn refuse_nul_in_json(body: &[u8]) -> Result<(), ApiError> {
    match nul_in_json(body) {
        Some(path) => Err(nul_error(&path)),
        None => Ok(()),
    }
}

/// 400 when a plain text (a query parameter) holds U+0000.
pub fn refuse_nul(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') { Err(nul_error(field)) } else { Ok(()) }
}

fn nul_error(field: &str) -> ApiError {
    // The field is the client's (a JSON key may hold the NUL itself): escaped and cut short.
    let field: String = field.chars().take(64).collect();
    ApiError::invalid(format!("{}: U+0000 (NUL) is not allowed in text", printable(&field)))
}

/// `text` with control characters escaped (`\0`, `\u{1b}`): for error messages that quote
/// what a client sent (serde names an unknown field, say), so that the message itself is text
/// Postgres, a log line and every client can hold.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().fold(String::with_capacity(text.len()), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
        out
    })
}

/// Whether the bytes hold a `\u0000` escape (skipping escaped backslashes, so `\\u0000`, a
/// backslash then `u0000`, does not count).
fn has_nul_escape(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'u') && b.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn find(v: &Value, at: &str) -> Option<String> {
    let here = || if at.is_empty() { ".".to_owned() } else { at.to_owned() };
    match v {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| find(x, &format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            if k.contains('\0') { Some(path) } else { find(x, &path) }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_and_names_the_field() {
        assert_eq!(nul_in_json(br#"{"text":"a\u0000b"}"#).as_deref(), Some("text"));
        assert_eq!(nul_in_json(br#"{"a":{"b":["x","\u0000"]}}"#).as_deref(), Some("a.b[1]"));
        assert_eq!(nul_in_json(br#""\u0000""#).as_deref(), Some("."));
        assert_eq!(nul_in_json(br#"{"k\u0000":1}"#).as_deref(), Some("k\u{0}"));
        assert_eq!(nul_in_json(br#"{"text":"a\\u0000b"}"#), None, "an escaped backslash, then u0000: no NUL");
        assert_eq!(nul_in_json(br#"{"text":"\u00001"}"#).as_deref(), Some("text"));
        assert_eq!(nul_in_json(br#"{"text":"fine \u0001"}"#), None);
        assert_eq!(nul_in_json(b"not json \\u0000"), None, "not JSON: the parser reports it");
        let e = refuse_nul_in_json(br#"{"name":"\u0000"}"#).unwrap_err();
        assert!(e.message.starts_with("name:"), "{}", e.message);
        assert!(refuse_nul("q", "a\0").is_err());
        assert!(refuse_nul("q", "a").is_ok());
    }
}
