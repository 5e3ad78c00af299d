//! What may be uploaded: the allowed content types, the size cap, filenames, and whether the
//! first bytes of an uploaded object are what its declared type says.

use crate::error::ApiError;
use crate::ids::{MediaId, UserId};

/// The size cap when the host sets none (`--max-media-size`): 25 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;
/// Longest filename, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;
/// How many leading bytes [`sniff`] needs to recognise every allowed type.
pub const SNIFF_BYTES: usize = 512;
/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL_SECS: u64 = 10 * 60;
/// How long a download URL (behind the 302) stays valid.
pub const DOWNLOAD_URL_TTL_SECS: u64 = 5 * 60;

/// The content types clients may upload: images, audio and video in the formats browsers and
/// phones play, PDFs and plain text. Anything else (HTML, SVG, executables) could run in a
/// reader's browser or device, so it is refused rather than served.
pub const ALLOWED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/webm",
    "audio/wav",
    "application/pdf",
    "text/plain",
];

/// Longest side of a thumbnail, in pixels.
pub const THUMB_MAX_SIDE: u32 = 320;
/// Largest image accepted, in pixels (width × height): a 50-megapixel photo passes; a small file
/// that claims to be 30,000 × 30,000 (a decompression bomb, 3.6 GB once decoded) does not.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// Most memory one thumbnail's decoding may take.
pub const THUMB_MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Longest a node works on one thumbnail.
pub const THUMB_TIMEOUT_SECS: u64 = 20;
/// How many times a thumbnail is tried when object storage fails, before giving up.
pub const THUMB_ATTEMPTS: i32 = 5;

/// Checks an image's dimensions as its header states them: at least a pixel, at most
/// [`MAX_IMAGE_PIXELS`].
pub fn image_dimensions(width: u64, height: u64) -> Result<(), ApiError> {
    if width == 0 || height == 0 {
        return Err(ApiError::invalid("content_type: the image has no pixels"));
    }
    if width.saturating_mul(height) > MAX_IMAGE_PIXELS {
        return Err(ApiError::invalid(format!(
            "content_type: the image is {width}×{height} pixels, more than the {} megapixels allowed",
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// A thumbnail's size: the image scaled to fit [`THUMB_MAX_SIDE`] keeping its proportions (never
/// enlarged, never below one pixel).
pub fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= THUMB_MAX_SIDE {
        return (width, height);
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(THUMB_MAX_SIDE) + u64::from(longest) / 2) / u64::from(longest)).max(1) as u32
    };
    (scale(width), scale(height))
}

/// Whether `content_type` is an image a thumbnail can be made of.
pub fn is_image(content_type: &str) -> bool {
    matches!(content_type, "image/jpeg" | "image/png" | "image/gif" | "image/webp")
}

/// A new upload's declared type, size and filename, checked; the type comes back lowercased
/// without parameters (`text/plain; charset=utf-8` is `text/plain`: text must be UTF-8 anyway).
pub fn declared(content_type: &str, size: i64, filename: &str, max_size: u64) -> Result<String, ApiError> {
    let ty = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !ALLOWED_TYPES.contains(&ty.as_str()) {
        return Err(ApiError::invalid(format!(
            "content_type: {content_type:?} is not allowed (allowed: {})",
            ALLOWED_TYPES.join(", ")
        )));
    }
    if size <= 0 {
        return Err(ApiError::invalid("size: must be at least 1 byte"));
    }
    if size as u64 > max_size {
        return Err(ApiError::too_large(format!("size: {size} bytes is over the limit of {max_size}")));
    }
    filename_ok(filename)?;
    Ok(ty)
}

fn filename_ok(name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    if n == 0 || name.trim().is_empty() {
        return Err(ApiError::invalid("filename: must not be empty"));
    }
    if n > MAX_FILENAME_CHARS {
        return Err(ApiError::invalid(format!("filename: at most {MAX_FILENAME_CHARS} characters")));
    }
    if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(ApiError::invalid("filename: no control characters, '/' or '\\'"));
    }
    Ok(())
}

/// Whether `head` (the object's first bytes, up to [`SNIFF_BYTES`]) is what `content_type`
/// declares.
pub fn sniff(content_type: &str, head: &[u8]) -> bool {
    let at = |i: usize, want: &[u8]| head.get(i..i + want.len()) == Some(want);
    match content_type {
        "image/jpeg" => at(0, &[0xFF, 0xD8, 0xFF]),
        "image/png" => at(0, b"\x89PNG\r\n\x1a\n"),
        "image/gif" => at(0, b"GIF87a") || at(0, b"GIF89a"),
        "image/webp" => at(0, b"RIFF") && at(8, b"WEBP"),
        "audio/wav" => at(0, b"RIFF") && at(8, b"WAVE"),
        "video/mp4" | "audio/mp4" => at(4, b"ftyp"),
        "video/webm" | "audio/webm" => at(0, &[0x1A, 0x45, 0xDF, 0xA3]),
        "audio/ogg" => at(0, b"OggS"),
        "audio/mpeg" => at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0),
        "application/pdf" => at(0, b"%PDF-"),
        "text/plain" => plain_text(head),
        _ => false,
    }
}

/// UTF-8 without NUL, allowing a character cut at the end of the sniffed prefix.
fn plain_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    !valid.contains('\0')
}

/// `Content-Disposition` for a download: images, audio, video and PDFs open in place, the rest
/// saves; the filename twice, as RFC 6266 asks (an ASCII fallback, then UTF-8).
pub fn content_disposition(content_type: &str, filename: &str) -> String {
    let inline = content_type.starts_with("image/")
        || content_type.starts_with("audio/")
        || content_type.starts_with("video/")
        || content_type == "application/pdf";
    let fallback: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("{}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" })
}

/// A message carrying the medium, in a conversation the reader is a member of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaUse {
    /// The message's seq.
    pub seq: i64,
    /// Where the reader's view of the conversation starts.
    pub joined_seq: i64,
    /// In a group (else a direct conversation).
    pub group: bool,
    /// The group shows new members its history.
    pub history_visible: bool,
    /// The group was dissolved.
    pub dissolved: bool,
}

/// Who may download a medium: its uploader; anyone signed in when it is a user's or a group's
/// avatar; and members who can see a message carrying it (from where their view starts; not in
/// a dissolved group). Everyone else gets the same 404 as for a medium that does not exist.
/// Recalled messages have no uses left, so recalling revokes.
pub fn may_download(reader: UserId, owner: UserId, avatar: bool, uses: &[MediaUse]) -> bool {
    reader == owner
        || avatar
        || uses.iter().any(|u| !u.dissolved && (!u.group || u.history_visible || u.seq > u.joined_seq))
}

/// Most media one message may carry.
pub const MAX_PER_MESSAGE: usize = 10;

/// What decides whether a medium may be attached to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachFacts {
    /// Its uploader.
    pub owner: UserId,
    /// Whether `complete` accepted it.
    pub ready: bool,
}

/// The list of media a draft attaches: at most [`MAX_PER_MESSAGE`], each once.
pub fn attachments(ids: &[MediaId]) -> Result<(), ApiError> {
    if ids.len() > MAX_PER_MESSAGE {
        return Err(ApiError::invalid(format!("media_ids: at most {MAX_PER_MESSAGE} per message")));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(ApiError::invalid("media_ids: each medium once"));
    }
    Ok(())
}

/// Whether `sender` may attach medium `id`: only their own uploads (anyone else's, like an unknown
/// id, is a 400 that does not say it exists), and only once completed (409).
pub fn may_attach(sender: UserId, id: MediaId, facts: Option<AttachFacts>) -> Result<(), ApiError> {
    match facts {
        Some(f) if f.owner == sender && f.ready => Ok(()),
        Some(f) if f.owner == sender => Err(ApiError::conflict(format!(
            "media_ids: {id} is not completed yet; POST /v1/media/{id}/complete after the upload"
        ))),
        _ => Err(ApiError::invalid(format!("media_ids: unknown media {id}"))),
    }
}

/// Whether `user` may make medium `id` an avatar (theirs, or a group's): a completed image of
/// their own. `found` is the medium and its content type.
pub fn avatar(user: UserId, id: MediaId, found: Option<(AttachFacts, &str)>) -> Result<(), ApiError> {
    may_attach(user, id, found.map(|f| f.0))
        .map_err(|e| ApiError { message: e.message.replacen("media_ids", "avatar_media_id", 1), ..e })?;
    match found {
        Some((_, ty)) if is_image(ty) => Ok(()),
        _ => Err(ApiError::invalid("avatar_media_id: an avatar must be a JPEG, PNG, GIF or WebP image")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_for_the_uploader_and_members_who_see_the_message() {
        let (me, other) = (UserId::new(), UserId::new());
        let seen = MediaUse { seq: 5, joined_seq: 0, group: true, history_visible: false, dissolved: false };
        assert!(may_download(me, me, false, &[]));
        assert!(!may_download(me, other, false, &[]), "never posted where I am");
        assert!(may_download(me, other, true, &[]), "an avatar");
        assert!(may_download(me, other, false, &[seen]));
        assert!(!may_download(me, other, false, &[MediaUse { joined_seq: 5, ..seen }]), "posted before I joined");
        assert!(may_download(me, other, false, &[MediaUse { joined_seq: 5, history_visible: true, ..seen }]));
        assert!(
            may_download(me, other, false, &[MediaUse { joined_seq: 9, group: false, ..seen }]),
            "direct: all of it"
        );
        assert!(!may_download(me, other, false, &[MediaUse { dissolved: true, ..seen }]));
        assert!(
            may_download(me, other, false, &[MediaUse { dissolved: true, ..seen }, seen]),
            "any visible use will do"
        );
    }

    #[test]
    fn only_own_completed_media_attach_at_most_ten_once_each() {
        let (me, other, id) = (UserId::new(), UserId::new(), MediaId::new());
        let mine = AttachFacts { owner: me, ready: true };
        assert!(may_attach(me, id, Some(mine)).is_ok());
        let e = may_attach(me, id, Some(AttachFacts { ready: false, ..mine })).unwrap_err();
        assert_eq!(e.status(), 409, "attach before complete");
        let theirs = may_attach(other, id, Some(mine)).unwrap_err();
        let unknown = may_attach(other, id, None).unwrap_err();
        assert_eq!((theirs.status(), &theirs.message), (400, &unknown.message), "someone else's looks unknown");
        let ids: Vec<MediaId> = (0..MAX_PER_MESSAGE).map(|_| MediaId::new()).collect();
        assert!(attachments(&ids).is_ok());
        assert!(attachments(&[ids.clone(), vec![MediaId::new()]].concat()).is_err());
        assert!(attachments(&[id, id]).unwrap_err().message.starts_with("media_ids"));
        assert!(avatar(me, id, Some((mine, "image/webp"))).is_ok());
        assert!(avatar(me, id, Some((mine, "application/pdf"))).unwrap_err().message.starts_with("avatar_media_id"));
        assert!(avatar(other, id, Some((mine, "image/png"))).unwrap_err().message.starts_with("avatar_media_id"));
    }

    #[test]
    fn thumbnails_fit_the_box_and_bombs_are_refused() {
        assert_eq!(thumb_size(4000, 3000), (320, 240));
        assert_eq!(thumb_size(3000, 4000), (240, 320));
        assert_eq!(thumb_size(100, 50), (100, 50), "never enlarged");
        assert_eq!(thumb_size(20000, 10), (320, 1), "never below a pixel");
        assert!(image_dimensions(8000, 6000).is_ok());
        assert!(image_dimensions(30000, 30000).unwrap_err().message.contains("megapixels"));
        assert!(image_dimensions(0, 10).is_err());
        assert!(image_dimensions(u64::MAX, u64::MAX).is_err(), "no overflow");
    }

    #[test]
    fn declared_types_sizes_and_names() {
        assert_eq!(declared("Image/PNG", 10, "a.png", DEFAULT_MAX_SIZE).unwrap(), "image/png");
        assert_eq!(declared("text/plain; charset=utf-8", 1, "notes.txt", DEFAULT_MAX_SIZE).unwrap(), "text/plain");
        for bad in ["text/html", "image/svg+xml", "application/octet-stream", ""] {
            assert!(declared(bad, 10, "x", DEFAULT_MAX_SIZE).unwrap_err().message.starts_with("content_type"), "{bad}");
        }
        assert!(declared("image/png", 0, "a", DEFAULT_MAX_SIZE).unwrap_err().message.starts_with("size"));
        let big = declared("image/png", DEFAULT_MAX_SIZE as i64 + 1, "a", DEFAULT_MAX_SIZE).unwrap_err();
        assert_eq!(big.status(), 413);
        assert!(declared("image/png", DEFAULT_MAX_SIZE as i64, "a", DEFAULT_MAX_SIZE).is_ok());
        for bad in ["", "  ", "a/b", "a\\b", "a\nb", "a\0b"] {
            assert!(
                declared("image/png", 1, bad, DEFAULT_MAX_SIZE).unwrap_err().message.starts_with("filename"),
                "{bad:?}"
            );
        }
        assert!(declared("image/png", 1, &"x".repeat(256), DEFAULT_MAX_SIZE).is_err());
        assert!(declared("image/png", 1, "東京の写真.png", DEFAULT_MAX_SIZE).is_ok());
    }

    #[test]
    fn sniffing_accepts_each_type_and_refuses_a_mismatch() {
        let cases: &[(&str, &[u8])] = &[
            ("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]),
            ("image/png", b"\x89PNG\r\n\x1a\n...."),
            ("image/gif", b"GIF89a...."),
            ("image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            ("audio/wav", b"RIFF\0\0\0\0WAVEfmt "),
            ("video/mp4", b"\0\0\0\x18ftypmp42"),
            ("video/webm", &[0x1A, 0x45, 0xDF, 0xA3, 1]),
            ("audio/ogg", b"OggS\0"),
            ("audio/mpeg", b"ID3\x04"),
            ("application/pdf", b"%PDF-1.7"),
            ("text/plain", "hello, 世界".as_bytes()),
        ];
        for (ty, head) in cases {
            assert!(sniff(ty, head), "{ty}");
            // Everything else refuses it (text/plain takes any UTF-8, so skip the ASCII-ish ones).
            for (other, _) in cases.iter().filter(|(o, _)| o != ty && *o != "text/plain") {
                let same_family = (ty.ends_with("mp4") && other.ends_with("mp4"))
                    || (ty.ends_with("webm") && other.ends_with("webm"));
                assert!(same_family || !sniff(other, head), "{other} accepted {ty}");
            }
        }
        assert!(!sniff("image/png", b"<html>"));
        assert!(!sniff("text/plain", b"a\0b"));
        assert!(!sniff("text/plain", &[0xC3, 0x28]));
        assert!(sniff("text/plain", &"é".as_bytes()[..1]), "a character cut by the prefix is fine");
    }

    #[test]
    fn dispositions_carry_the_name_safely() {
        assert_eq!(
            content_disposition("image/png", "a b.png"),
            "inline; filename=\"a b.png\"; filename*=UTF-8''a%20b%2Epng"
        );
        let d = content_disposition("text/plain", "east\"京.txt");
        assert!(d.starts_with("attachment; filename=\"east__.txt\""), "{d}");
        assert!(d.ends_with("filename*=UTF-8''east%22%E4%BA%AC%2Etxt"), "{d}");
    }
}
