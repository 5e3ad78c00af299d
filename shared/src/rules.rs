//! Validation and permission rules: pure functions, the single place each rule is written.

use crate::error::ApiError;
use crate::ids::{ClientMsgId, UserId};

/// Most characters (Unicode scalar values) in a message's text.
pub const MAX_TEXT_CHARS: usize = 8000;
/// Longest `client_msg_id`.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 128;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest bio, in characters.
pub const MAX_BIO_CHARS: usize = 500;
/// Longest device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;
/// Largest REST request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Default and largest page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 200;

/// Normalises and checks a username: 3–32 of `[a-z0-9_.]`, compared case-insensitively.
pub fn username(raw: &str) -> Result<String, ApiError> {
    let u = raw.trim().to_ascii_lowercase();
    let ok_chars = u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !(3..=32).contains(&u.len()) || !ok_chars {
        return Err(ApiError::invalid("username: 3 to 32 characters of a-z, 0-9, '_' and '.'"));
    }
    Ok(u)
}

/// Checks a new password: 8–256 characters.
pub fn password(raw: &str) -> Result<(), ApiError> {
    let n = raw.chars().count();
    if !(8..=256).contains(&n) {
        return Err(ApiError::invalid("password: 8 to 256 characters"));
    }
    Ok(())
}

/// Checks an optional free-text field against a character limit; empty becomes `None`.
pub fn optional_text(field: &str, raw: Option<String>, max_chars: usize) -> Result<Option<String>, ApiError> {
    match raw.map(|s| s.trim().to_owned()) {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max_chars => {
            Err(ApiError::invalid(format!("{field}: at most {max_chars} characters")))
        }
        other => Ok(other),
    }
}

/// A message must say something: text and/or media. Text is limited to [`MAX_TEXT_CHARS`].
pub fn message_content(text: Option<&str>, media_count: usize) -> Result<(), ApiError> {
    if text.is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS) {
        return Err(ApiError::invalid(format!("text: at most {MAX_TEXT_CHARS} characters")));
    }
    let has_text = text.is_some_and(|t| !t.trim().is_empty());
    if !has_text && media_count == 0 {
        return Err(ApiError::invalid("text: a message needs text or media_ids"));
    }
    Ok(())
}

/// Checks a client's idempotency key.
pub fn client_msg_id(id: &ClientMsgId) -> Result<(), ApiError> {
    if id.0.is_empty() || id.0.len() > MAX_CLIENT_MSG_ID_LEN {
        return Err(ApiError::invalid(format!("client_msg_id: 1 to {MAX_CLIENT_MSG_ID_LEN} bytes")));
    }
    Ok(())
}

/// Checks the mention list's size and removes duplicates, keeping order.
pub fn mentions(list: &[UserId]) -> Result<Vec<UserId>, ApiError> {
    if list.len() > MAX_MENTIONS {
        return Err(ApiError::invalid(format!("mentions: at most {MAX_MENTIONS} users")));
    }
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    Ok(out)
}

/// A page size: default [`DEFAULT_LIMIT`], 1..=[`MAX_LIMIT`].
pub fn limit(raw: Option<i64>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(format!("limit: 1 to {MAX_LIMIT}"))),
    }
}

/// A user may open a direct conversation with anyone but themself (blocks arrive with friends).
pub fn may_open_direct(me: UserId, other: UserId) -> Result<(), ApiError> {
    if me == other {
        return Err(ApiError::invalid("user_id: cannot open a direct conversation with yourself"));
    }
    Ok(())
}

/// Who may post: any member, until groups bring roles and mutes.
pub fn may_post(is_member: bool) -> Result<(), ApiError> {
    if !is_member {
        // 404 rather than 403: a non-member must not learn that the conversation exists.
        return Err(ApiError::not_found("conversation not found"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("Alice_01").unwrap(), "alice_01");
        assert!(username("ab").is_err());
        assert!(username("a".repeat(33).as_str()).is_err());
        assert!(username("bad name").is_err());
        assert!(username("ümlaut").is_err());
    }

    #[test]
    fn message_limits() {
        assert!(message_content(Some("hi"), 0).is_ok());
        assert!(message_content(Some(&"é".repeat(MAX_TEXT_CHARS)), 0).is_ok());
        let e = message_content(Some(&"x".repeat(MAX_TEXT_CHARS + 1)), 0).unwrap_err();
        assert!(e.message.starts_with("text"));
        assert!(message_content(Some("   "), 0).is_err());
        assert!(message_content(None, 1).is_ok());
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), 50);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(201)).is_err());
    }
}
