//! REST request bodies. Every one refuses unknown fields, so a misspelt field is a 400 naming it
//! rather than silently ignored.

use serde::{Deserialize, Serialize};

use crate::ids::{MediaId, NoticeId, Seq, UserId};
use crate::model::event::MessageDraft;
use crate::model::social::DmPolicy;

/// `POST /v1/auth/register`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// 3–32 of `[a-z0-9_.]`, case-insensitive (stored lower-case), unique.
    #[cfg_attr(feature = "openapi", schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.]{3,32}$"))]
    pub username: String,
    /// 8–256 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub password: String,
    /// Shown in clients; defaults to the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub display_name: Option<String>,
    /// Names the first session's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub device_name: Option<String>,
}

/// `POST /v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's username (any case).
    pub username: String,
    /// Its password.
    pub password: String,
    /// Names the new session's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub device_name: Option<String>,
}

/// `POST /v1/auth/refresh`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// The current refresh token (single use).
    pub refresh_token: String,
}

/// `POST /v1/conversations/direct`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenDirect {
    /// The other participant.
    pub user_id: UserId,
}

/// `POST /v1/conversations/{id}/read`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Read up to and including this seq (never moves back).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0))]
    pub seq: Seq,
}

/// `POST /v1/conversations/{id}/messages`: a `MessageDraft`, nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The message.
    #[serde(flatten)]
    pub message: MessageDraft,
}

/// `PATCH /v1/users/me`: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// 1 to 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub display_name: Option<String>,
    /// At most 500 characters; an empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub bio: Option<String>,
    /// Who may message the caller directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicy>,
    /// Whether friends see the caller online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_presence: Option<bool>,
    /// A completed image upload of the caller's as their avatar; `null` removes it.
    #[serde(default, deserialize_with = "crate::model::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid, nullable))]
    pub avatar_media_id: Option<Option<MediaId>>,
}

/// `POST /v1/users/me/password`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: String,
    /// The new one, 8–256 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub new_password: String,
}

/// `DELETE /v1/users/me`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The account's password, to confirm.
    pub password: String,
}

/// `POST /v1/friends/requests`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendFriendRequest {
    /// Whom to ask.
    pub user_id: UserId,
    /// A note to go with it, at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub message: Option<String>,
}

/// `POST /v1/notices/seen`: marks this notice and every older one seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MarkNoticesSeen {
    /// The newest notice seen.
    pub up_to: NoticeId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_refuses_unknown_fields_and_names_bad_ones() {
        let ok: SendMessage = serde_json::from_str(r#"{"client_msg_id":"a","text":"hi"}"#).unwrap();
        assert_eq!(ok.message.text.as_deref(), Some("hi"));
        let e = serde_json::from_str::<SendMessage>(r#"{"client_msg_id":"a","text":"hi","bogus":1}"#).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = serde_json::from_str::<SendMessage>(r#"{"client_msg_id":"a","text":42}"#).unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
        let wire = serde_json::to_value(&ok).unwrap();
        assert_eq!(wire["client_msg_id"], "a");
    }
}
