//! Requests and answers about messages after they are sent, and about a conversation for one
//! member: edits, the member's settings, search, reports.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, EventId, UserId};
use crate::model::event::Event;
use crate::time::Timestamp;

/// `PATCH /v1/conversations/{id}/messages/{message_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The new text, 1 to 8000 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 8000))]
    pub text: String,
}

/// `PATCH /v1/conversations/{id}/settings`: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// Pinned to the top of the caller's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// No notifications until then; `null` unmutes.
    #[serde(default, deserialize_with = "crate::model::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Timestamp>))]
    pub muted_until: Option<Option<Timestamp>>,
    /// Folded away in the caller's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// A member's own settings of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSettings {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Pinned.
    pub pinned: bool,
    /// Muted until then.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub muted_until: Option<Timestamp>,
    /// Archived.
    pub archived: bool,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The message, as the caller's history shows it.
    pub event: Event,
    /// Its text around the first match.
    pub snippet: String,
    /// Where the matches are in `snippet`: `[start, end)` in Unicode scalar values.
    pub highlights: Vec<[usize; 2]>,
}

/// A page of search results, best first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    /// Best match first.
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// `POST /v1/reports`: one of `message_id` or `user_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    /// A message the caller can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<EventId>,
    /// A user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// What is wrong, 1 to 1000 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub reason: String,
}

/// A stored report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// Id.
    pub id: crate::ids::ReportId,
    /// The reported message.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub message_id: Option<EventId>,
    /// The reported user (the message's sender, for a message).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_id: Option<UserId>,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
}
