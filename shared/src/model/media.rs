//! Media: uploads by presigned URL, and the media objects messages carry.

use serde::{Deserialize, Serialize};

use crate::ids::MediaId;
use crate::time::Timestamp;

/// `POST /v1/media`: what the client is about to upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateMedia {
    /// One of the allowed types (`rules::media::ALLOWED_TYPES`: JPEG, PNG, GIF and WebP images,
    /// MP4 and WebM video, MP3, M4A, Ogg, WebM and WAV audio, PDF, plain text).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "image/png",
            pattern = "^(image/jpeg|image/png|image/gif|image/webp|video/mp4|video/webm|audio/mpeg|audio/mp4|audio/ogg|audio/webm|audio/wav|application/pdf|text/plain)$"
        )
    )]
    pub content_type: String,
    /// Exactly how many bytes will be uploaded; at most the server's cap (25 MiB by default).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 26214400, example = 48213))]
    pub size: i64,
    /// Shown to readers and used when they save it; 1 to 255 characters, no `/`, `\` or control
    /// characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255, example = "harbour.png"))]
    pub filename: String,
}

/// Where and how to upload: `PUT` the bytes to `upload_url` with every header of
/// `upload_headers`, before `expires_at`; then `POST /v1/media/{id}/complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaUpload {
    /// The new media's id.
    pub media_id: MediaId,
    /// A presigned `PUT` URL of the object store.
    pub upload_url: String,
    /// Header name → value, to send with the `PUT` (the declared type and size are signed).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub upload_headers: std::collections::BTreeMap<String, String>,
    /// The upload URL stops working then.
    pub expires_at: Timestamp,
}

/// A medium as readers see it (in messages, and from `complete`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    /// Its id.
    pub id: MediaId,
    /// The declared (and checked) type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// The uploader's filename.
    pub filename: String,
    /// Pixels, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    /// Pixels, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// For images: whether `GET /v1/media/{id}?variant=thumb` has a thumbnail yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_thumbnail: Option<bool>,
}

/// `GET /v1/media/{id}?redirect=false`: the presigned download URL the 302 would point to, for
/// clients that cannot follow the redirect with their token (a browser's `fetch` cannot read a
/// 302's `Location`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaUrl {
    /// A presigned `GET` URL of the object store (no token needed: usable as an `<img src>`),
    /// served with the uploader's filename.
    pub url: String,
    /// The URL stops working then (5 minutes after it was made).
    pub expires_at: Timestamp,
}
