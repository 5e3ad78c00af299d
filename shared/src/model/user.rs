//! Accounts as others see them, and the answer of register, login and refresh.

use serde::{Deserialize, Serialize};

use crate::ids::{MediaId, SessionId, UserId};
use crate::time::Timestamp;

/// A user as anyone may see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Lower-case, unique, 3–32 of `[a-z0-9_.]`.
    pub username: String,
    /// Free-form name shown in clients.
    pub display_name: String,
    /// Short profile text.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub bio: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// Their avatar, an image anyone signed in may download (`GET /v1/media/{id}`); absent when
    /// they have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<MediaId>,
    /// The account was deleted: its profile is erased and its messages stay, as from a deleted
    /// user. Present (true) only then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// `register`, `login` and `refresh` responses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthResponse {
    /// The account.
    pub user: User,
    /// Short-lived Ed25519 JWT for `Authorization: Bearer` and socket auth.
    pub access_token: String,
    /// Long-lived, single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// The auth session these tokens belong to.
    pub session_id: SessionId,
}

/// A page of users, `GET /v1/users?q=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    /// Matching users, by username.
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
