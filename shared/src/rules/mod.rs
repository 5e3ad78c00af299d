//! Rules: what is valid and who may do what, as pure functions over facts the store fetched.
//! Each rule is written once here and called by the services; nothing here touches the database.
//!
//! - [`accounts`]: usernames, passwords, profile and device texts.
//! - [`conversations`]: membership ("not a member → 404"), direct conversations, read positions.
//! - [`forwarded`]: a request's client address behind trusted proxies (`X-Forwarded-For`).
//! - [`groups`]: the permission matrix, ranks, who may post, group limits and invites.
//! - [`messages`]: message content, idempotency keys, mentions, replies: what a send may be.
//! - [`pagination`]: page sizes.
//! - [`limits`]: the per-user send limit (GCRA).
//! - [`media`]: allowed upload types, the size cap, filenames, sniffing the first bytes.
//! - [`search`]: search terms (unspaced scripts too), queries, snippets.
//! - [`words`]: the sensitive-word filter.
//! - [`text`]: U+0000, which Postgres cannot store, refused in any JSON string or query text.
//! - [`social`]: friend requests, blocks, who may message whom, who sees whose presence.
//! - [`users`]: user search and profile edits.

pub mod accounts;
pub mod conversations;
pub mod forwarded;
pub mod groups;
pub mod limits;
pub mod media;
pub mod messages;
pub mod pagination;
pub mod search;
pub mod social;
pub mod text;
pub mod users;
pub mod words;

use crate::error::ApiError;

/// Checks an optional free-text field against a character limit; trimmed, and empty becomes
/// `None`.
pub fn optional_text(field: &str, raw: Option<String>, max_chars: usize) -> Result<Option<String>, ApiError> {
    match raw.map(|s| s.trim().to_owned()) {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max_chars => {
            Err(ApiError::invalid(format!("{field}: at most {max_chars} characters")))
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_text_trims_limits_and_empties() {
        assert_eq!(optional_text("bio", None, 3).unwrap(), None);
        assert_eq!(optional_text("bio", Some("  ".into()), 3).unwrap(), None);
        assert_eq!(optional_text("bio", Some(" abc ".into()), 3).unwrap(), Some("abc".into()));
        assert_eq!(optional_text("bio", Some("ééé".into()), 3).unwrap(), Some("ééé".into()), "characters, not bytes");
        let e = optional_text("bio", Some("abcd".into()), 3).unwrap_err();
        assert!(e.message.starts_with("bio:"), "{}", e.message);
    }
}
