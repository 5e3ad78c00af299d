//! Finding users.

use crate::error::ApiError;

/// Longest search prefix, in characters.
pub const MAX_QUERY_CHARS: usize = 64;

/// The prefix of `GET /v1/users?q=`: trimmed, 1 to [`MAX_QUERY_CHARS`] characters.
pub fn search_prefix(raw: Option<&str>) -> Result<&str, ApiError> {
    let prefix = raw.map(str::trim).unwrap_or("");
    if prefix.is_empty() || prefix.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(format!("q: 1 to {MAX_QUERY_CHARS} characters")));
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(search_prefix(Some(" al ")).unwrap(), "al");
        assert!(search_prefix(None).is_err());
        assert!(search_prefix(Some("   ")).is_err());
        assert!(search_prefix(Some(&"é".repeat(64))).is_ok());
        assert!(search_prefix(Some(&"é".repeat(65))).unwrap_err().message.starts_with("q:"));
    }
}
