//! Assertions on the contract's shapes. Each returns an error that shows the offending JSON.

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::Value;

/// `v[key]` as a string.
pub fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| anyhow!("`{key}` is missing or not a string in {v}"))
}

/// `v[key]` as an integer.
pub fn int_field(v: &Value, key: &str) -> Result<i64> {
    v.get(key).and_then(Value::as_i64).ok_or_else(|| anyhow!("`{key}` is missing or not an integer in {v}"))
}

/// A UUIDv7 string.
pub fn uuid_v7(s: &str) -> Result<uuid::Uuid> {
    let id = uuid::Uuid::parse_str(s).with_context(|| format!("{s:?} is not a UUID"))?;
    ensure!(id.get_version_num() == 7, "{s:?} is a UUIDv{}, not a UUIDv7", id.get_version_num());
    Ok(id)
}

/// `v[key]` as a UUIDv7 string.
pub fn uuid_field(v: &Value, key: &str) -> Result<uuid::Uuid> {
    uuid_v7(str_field(v, key)?).with_context(|| format!("`{key}` in {v}"))
}

/// RFC 3339 UTC with milliseconds: `2026-11-22T10:00:00.123Z`.
pub fn timestamp(s: &str) -> Result<()> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    ensure!(shape_ok, "timestamp {s:?} is not like 2026-11-22T10:00:00.123Z");
    chrono::DateTime::parse_from_rfc3339(s).with_context(|| format!("timestamp {s:?} does not parse"))?;
    Ok(())
}

/// `{"error": {"code": code, "message": "..."}}`; returns the message.
pub fn error_envelope(body: &Value, code: &str) -> Result<String> {
    let err = body
        .get("error")
        .filter(|e| e.is_object())
        .ok_or_else(|| anyhow!("not an error envelope {{\"error\":{{\"code\",\"message\"}}}}: {body}"))?;
    let got = str_field(err, "code")?;
    ensure!(got == code, "error code is {got:?}, expected {code:?}: {body}");
    let message = str_field(err, "message")?;
    ensure!(!message.trim().is_empty(), "error message is empty: {body}");
    Ok(message.to_owned())
}

/// Register/login/refresh body: `{user, access_token, refresh_token, expires_in}`.
pub fn auth_response(body: &Value) -> Result<()> {
    let user = body
        .get("user")
        .filter(|u| u.is_object())
        .ok_or_else(|| anyhow!("auth response has no `user` object: {body}"))?;
    user_shape(user)?;
    ensure!(!str_field(body, "access_token")?.is_empty(), "empty access_token");
    ensure!(!str_field(body, "refresh_token")?.is_empty(), "empty refresh_token");
    ensure!(int_field(body, "expires_in")? > 0, "expires_in must be positive: {body}");
    Ok(())
}

/// A user object: id, username, and no secret.
pub fn user_shape(user: &Value) -> Result<()> {
    uuid_field(user, "id")?;
    str_field(user, "username")?;
    for secret in ["password", "password_hash"] {
        ensure!(user.get(secret).is_none(), "user object leaks `{secret}`: {user}");
    }
    Ok(())
}

/// The id of a conversation object (`{"id": ...}`).
pub fn conversation_id(body: &Value) -> Result<&str> {
    let id = str_field(body, "id").context("conversation object")?;
    uuid_v7(id)?;
    Ok(id)
}

/// The items of a paginated list: `body[key]` (or `body.items`, or a bare array).
pub fn list_items(body: &Value, key: &str) -> Result<Vec<Value>> {
    if let Some(items) = body.get(key).or_else(|| body.get("items")).and_then(Value::as_array) {
        return Ok(items.clone());
    }
    if let Some(items) = body.as_array() {
        return Ok(items.clone());
    }
    bail!("list response has no `{key}` array: {body}")
}

/// The `seq` of an event or an event frame.
pub fn seq(v: &Value) -> Result<i64> {
    int_field(v, "seq")
}

/// The common event fields: `id, conversation_id, seq, kind, sender_id, created_at`.
pub fn event(ev: &Value) -> Result<()> {
    (|| -> Result<()> {
        uuid_field(ev, "id")?;
        uuid_field(ev, "conversation_id")?;
        ensure!(seq(ev)? > 0, "seq must be positive");
        str_field(ev, "kind")?;
        ensure!(ev.get("sender_id").is_some(), "`sender_id` is missing");
        timestamp(str_field(ev, "created_at")?)?;
        Ok(())
    })()
    .with_context(|| format!("event shape: {ev}"))
}

/// What a `message` event should carry; `None` fields are not compared.
#[derive(Debug, Default, Clone, Copy)]
pub struct Msg<'a> {
    /// Expected `conversation_id`.
    pub conversation_id: Option<&'a str>,
    /// Expected `sender_id`.
    pub sender_id: Option<&'a str>,
    /// Expected `text`.
    pub text: Option<&'a str>,
    /// Expected `client_msg_id`.
    pub client_msg_id: Option<&'a str>,
}

/// A `message` event with every contract field.
pub fn message_event(ev: &Value, want: Msg<'_>) -> Result<()> {
    event(ev)?;
    (|| -> Result<()> {
        ensure!(ev["kind"] == "message", "kind is not \"message\"");
        uuid_field(ev, "sender_id")?;
        str_field(ev, "text")?;
        str_field(ev, "client_msg_id")?;
        let pairs = [
            ("conversation_id", want.conversation_id),
            ("sender_id", want.sender_id),
            ("text", want.text),
            ("client_msg_id", want.client_msg_id),
        ];
        for (key, expected) in pairs {
            if let Some(expected) = expected {
                let got = str_field(ev, key)?;
                ensure!(got == expected, "`{key}` is {got:?}, expected {expected:?}");
            }
        }
        Ok(())
    })()
    .with_context(|| format!("message event: {ev}"))
}

/// An `event` frame `{"type":"event","conversation_id","seq","event":{...}}`; returns the
/// event after checking it agrees with the frame.
pub fn event_frame(frame: &Value) -> Result<&Value> {
    (|| -> Result<&Value> {
        ensure!(frame["type"] == "event", "not an event frame");
        let conv = str_field(frame, "conversation_id")?;
        let s = seq(frame)?;
        let ev = frame.get("event").filter(|e| e.is_object()).ok_or_else(|| anyhow!("no `event` object"))?;
        event(ev)?;
        ensure!(ev["conversation_id"] == conv, "frame and event disagree on conversation_id");
        ensure!(seq(ev)? == s, "frame and event disagree on seq");
        Ok(ev)
    })()
    .with_context(|| format!("event frame: {frame}"))
}

/// `seqs` are `first, first+1, ...` with no gap and no repeat.
pub fn consecutive(seqs: &[i64]) -> Result<()> {
    for w in seqs.windows(2) {
        ensure!(w[1] == w[0] + 1, "seqs are not consecutive at {} → {}: {seqs:?}", w[0], w[1]);
    }
    Ok(())
}

/// Lower-cased `message` contains one of `needles`.
pub fn mentions_any(message: &str, needles: &[&str]) -> Result<()> {
    let lower = message.to_lowercase();
    ensure!(needles.iter().any(|n| lower.contains(n)), "error message {message:?} names none of {needles:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert!(timestamp("2026-11-22T10:00:00.123Z").is_ok());
        assert!(timestamp("2026-11-22T10:00:00Z").is_err());
        assert!(timestamp("2026-11-22T10:00:00.123+00:00").is_err());
        assert!(timestamp("2026-11-22T10:00:00.123456Z").is_err());
    }

    #[test]
    fn consecutive_seqs() {
        assert!(consecutive(&[3, 4, 5]).is_ok());
        assert!(consecutive(&[3, 5]).is_err());
        assert!(consecutive(&[3, 3]).is_err());
    }
}
