//! Accounts: usernames, passwords, and the short texts of a profile and a device.

use crate::error::ApiError;

/// Shortest username.
pub const MIN_USERNAME_LEN: usize = 3;
/// Longest username.
pub const MAX_USERNAME_LEN: usize = 32;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Longest bio, in characters.
pub const MAX_BIO_CHARS: usize = 500;
/// Longest device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Normalises and checks a username: 3–32 of `[a-z0-9_.]`, compared case-insensitively.
pub fn username(raw: &str) -> Result<String, ApiError> {
    let u = raw.trim().to_ascii_lowercase();
    let ok_chars = u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !(MIN_USERNAME_LEN..=MAX_USERNAME_LEN).contains(&u.len()) || !ok_chars {
        return Err(ApiError::invalid("username: 3 to 32 characters of a-z, 0-9, '_' and '.'"));
    }
    Ok(u)
}

/// Checks a new password: 8–256 characters.
pub fn password(raw: &str) -> Result<(), ApiError> {
    let n = raw.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(ApiError::invalid("password: 8 to 256 characters"));
    }
    Ok(())
}

/// A display name: defaults to the username when absent or blank.
pub fn display_name(raw: Option<String>, username: &str) -> Result<String, ApiError> {
    Ok(super::optional_text("display_name", raw, MAX_DISPLAY_NAME_CHARS)?.unwrap_or_else(|| username.to_owned()))
}

/// A device name, optional.
pub fn device_name(raw: Option<String>) -> Result<Option<String>, ApiError> {
    super::optional_text("device_name", raw, MAX_DEVICE_NAME_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("Alice_01").unwrap(), "alice_01");
        assert_eq!(username("  bob.b  ").unwrap(), "bob.b");
        assert_eq!(username("abc").unwrap(), "abc");
        assert!(username(&"a".repeat(32)).is_ok());
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("bad name").is_err());
        assert!(username("ümlaut").is_err());
        assert!(username("a-b-c").is_err());
        assert!(username("nul\0x").is_err());
        assert!(username("").unwrap_err().message.starts_with("username"));
    }

    #[test]
    fn passwords_count_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"é".repeat(256)).is_ok());
        assert!(password(&"é".repeat(257)).is_err());
        assert!(password("").unwrap_err().message.starts_with("password"));
    }

    #[test]
    fn display_and_device_names() {
        assert_eq!(display_name(None, "alice").unwrap(), "alice");
        assert_eq!(display_name(Some("  ".into()), "alice").unwrap(), "alice");
        assert_eq!(display_name(Some("Alice A.".into()), "alice").unwrap(), "Alice A.");
        assert!(display_name(Some("x".repeat(65)), "alice").unwrap_err().message.starts_with("display_name"));
        assert_eq!(device_name(None).unwrap(), None);
        assert!(device_name(Some("d".repeat(65))).unwrap_err().message.starts_with("device_name"));
    }
}
