//! Finding users, and what a profile edit may say.

use super::accounts::{MAX_BIO_CHARS, MAX_DISPLAY_NAME_CHARS};
use crate::error::ApiError;
use crate::model::UpdateProfile;

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

/// A profile edit, normalised: a display name must stay 1 to 64 characters; an empty bio clears
/// it (`Some(None)`); absent fields stay as they are (`None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    /// New display name.
    pub display_name: Option<String>,
    /// New bio (`Some(None)` clears it).
    pub bio: Option<Option<String>>,
}

/// Checks the text fields of `PATCH /v1/users/me`.
pub fn profile_edit(u: &UpdateProfile) -> Result<ProfileEdit, ApiError> {
    let display_name = match &u.display_name {
        None => None,
        Some(raw) => match super::optional_text("display_name", Some(raw.clone()), MAX_DISPLAY_NAME_CHARS)? {
            Some(d) => Some(d),
            None => return Err(ApiError::invalid(format!("display_name: 1 to {MAX_DISPLAY_NAME_CHARS} characters"))),
        },
    };
    let bio = match &u.bio {
        None => None,
        Some(raw) => Some(super::optional_text("bio", Some(raw.clone()), MAX_BIO_CHARS)?),
    };
    Ok(ProfileEdit { display_name, bio })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_edits() {
        let e = |d: Option<&str>, b: Option<&str>| {
            profile_edit(&UpdateProfile {
                display_name: d.map(str::to_owned),
                bio: b.map(str::to_owned),
                ..Default::default()
            })
        };
        assert_eq!(e(None, None).unwrap(), ProfileEdit::default());
        assert_eq!(e(Some(" Al "), None).unwrap().display_name.as_deref(), Some("Al"));
        assert!(e(Some("  "), None).unwrap_err().message.starts_with("display_name"));
        assert!(e(Some(&"x".repeat(65)), None).unwrap_err().message.starts_with("display_name"));
        assert_eq!(e(None, Some("")).unwrap().bio, Some(None), "an empty bio clears it");
        assert_eq!(e(None, Some("hi")).unwrap().bio, Some(Some("hi".into())));
        assert!(e(None, Some(&"b".repeat(501))).unwrap_err().message.starts_with("bio"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(search_prefix(Some(" al ")).unwrap(), "al");
        assert!(search_prefix(None).is_err());
        assert!(search_prefix(Some("   ")).is_err());
        assert!(search_prefix(Some(&"é".repeat(64))).is_ok());
        assert!(search_prefix(Some(&"é".repeat(65))).unwrap_err().message.starts_with("q:"));
    }
}
