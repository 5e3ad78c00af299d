//! The realtime protocol: the frames every transport (WebSocket text messages, QUIC length-prefixed
//! JSON) carries, their size limits, and how connections are named and closed. See
//! `docs/protocol.md` for the prose version.
//!
//! - [`close`]: ALPN, WebSocket subprotocol, close reasons and their codes, `error` frame codes.
//! - [`framing`]: QUIC's 4-byte length prefix, sans-IO.

pub mod close;
pub mod framing;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use close::{ALPN, Close, ConnectionCode, FrameErrorCode};

use crate::error::{ApiError, ErrorBody};
use crate::ids::{ConversationId, EventId, NodeId, Seq, SessionId, UserId};
use crate::model::{DeliveryReceipt, Event, MessageDraft, Notice, PresenceChange, ReadReceipt, TypingIndicator};

/// Largest frame a client may send or will receive, in bytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Most events one `sync` replays per conversation before listing it under `truncated`.
pub const SYNC_REPLAY_LIMIT: i64 = 1000;

/// The client's request id, echoed in `reply`, `synced` and `pong`: a number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A number.
    Num(u64),
    /// A string.
    Str(String),
}

/// Frames a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on QUIC (and on a WebSocket opened without a token).
    Auth {
        /// An access token.
        token: String,
    },
    /// Append a message.
    Send {
        /// Request id.
        id: RequestId,
        /// Target conversation.
        conversation_id: ConversationId,
        /// The message, its fields at the frame's top level.
        #[serde(flatten)]
        message: MessageDraft,
    },
    /// Replay what the client missed.
    Sync {
        /// Request id.
        id: RequestId,
        /// The last seq the client has, per conversation (the contract calls these `cursors`).
        #[serde(default, rename = "cursors")]
        positions: BTreeMap<ConversationId, Seq>,
    },
    /// Read receipt.
    Read {
        /// Conversation.
        conversation_id: ConversationId,
        /// Read up to and including this seq.
        seq: Seq,
    },
    /// The user is typing (`active` absent or true), or stopped (false).
    Typing {
        /// Conversation.
        conversation_id: ConversationId,
        /// Started or still typing; false: stopped.
        #[serde(default = "yes")]
        active: bool,
    },
    /// Change a message's text (as `PATCH .../messages/{message_id}`).
    Edit {
        /// Request id.
        id: RequestId,
        /// Conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// The new text.
        text: String,
    },
    /// Recall a message (as `POST .../messages/{message_id}/recall`).
    Recall {
        /// Request id.
        id: RequestId,
        /// Conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
    },
    /// Add (`added` absent or true) or remove a reaction (as `PUT|DELETE .../reactions/{emoji}`).
    React {
        /// Request id.
        id: RequestId,
        /// Conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// The emoji.
        emoji: String,
        /// Add (true) or remove (false).
        #[serde(default = "yes")]
        added: bool,
    },
    /// Liveness check.
    Ping {
        /// Request id.
        id: RequestId,
    },
}

fn yes() -> bool {
    true
}

impl ClientFrame {
    /// The request id of frames that get an answer.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ClientFrame::Send { id, .. }
            | ClientFrame::Sync { id, .. }
            | ClientFrame::Ping { id }
            | ClientFrame::Edit { id, .. }
            | ClientFrame::Recall { id, .. }
            | ClientFrame::React { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// The `ready` frame: who the connection is authenticated as, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// Who.
    pub user_id: UserId,
    /// Their auth session.
    pub session_id: SessionId,
    /// Which node holds the connection.
    pub node_id: NodeId,
}

/// Frames the node sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Authenticated.
    Ready(Ready),
    /// Outcome of a request.
    Reply {
        /// Request id.
        id: RequestId,
        /// Success?
        ok: bool,
        /// The stored event, for a successful send.
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<Box<Event>>,
        /// The failure, when `ok` is false.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A conversation changed.
    Event {
        /// Conversation.
        conversation_id: ConversationId,
        /// The event's seq.
        seq: Seq,
        /// The event.
        event: Box<Event>,
    },
    /// A sync finished.
    Synced {
        /// Request id.
        id: RequestId,
        /// Conversations with more than [`SYNC_REPLAY_LIMIT`] missed events: page them over REST.
        truncated: Vec<ConversationId>,
    },
    /// Someone's read position moved.
    Read(ReadReceipt),
    /// Someone's devices received the log up to a seq.
    Delivered(DeliveryReceipt),
    /// The user deleted a message for themselves on another device: drop its content here too.
    MessageHidden {
        /// Conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// Its seq.
        seq: Seq,
    },
    /// Someone is typing.
    Typing(TypingIndicator),
    /// Something happened to the user outside their conversations (a friend request, ...); the
    /// same notice `GET /v1/notices` lists.
    Notice(Box<Notice>),
    /// A friend went online or offline.
    Presence(PresenceChange),
    /// Right after `ready`: the user's friends who are online now (the others are offline;
    /// `GET /v1/friends` has their `last_seen_at`).
    PresenceSnapshot {
        /// Online friends.
        online: Vec<UserId>,
    },
    /// Answer to ping.
    Pong {
        /// Request id.
        id: RequestId,
    },
    /// A problem with the connection or a frame that has no request id; the connection codes
    /// ([`ConnectionCode`]) come right before the node closes the socket.
    Error {
        /// What went wrong.
        code: FrameErrorCode,
        /// Human text.
        message: String,
    },
}

impl ServerFrame {
    /// A successful reply carrying an event.
    pub fn reply_ok(id: RequestId, event: Event) -> Self {
        Self::Reply { id, ok: true, event: Some(Box::new(event)), error: None }
    }

    /// A failed reply.
    pub fn reply_err(id: RequestId, err: &ApiError) -> Self {
        Self::Reply { id, ok: false, event: None, error: Some(err.body()) }
    }

    /// An `error` frame.
    pub fn error(code: impl Into<FrameErrorCode>, message: impl Into<String>) -> Self {
        Self::Error { code: code.into(), message: message.into() }
    }

    /// An `error` frame for a contract error.
    pub fn api_error(err: &ApiError) -> Self {
        Self::error(err.code, err.message.clone())
    }

    /// An `event` frame.
    pub fn event(event: Event) -> Self {
        Self::Event { conversation_id: event.conversation_id, seq: event.seq, event: Box::new(event) }
    }

    /// JSON text of the frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames serialise")
    }
}

/// Why an incoming frame was rejected.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Over [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a frame we understand.
    #[error("invalid frame: {0}")]
    Invalid(String),
}

impl From<FrameError> for ApiError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::TooLarge(_) => ApiError::too_large(e.to_string()),
            FrameError::Invalid(_) => ApiError::invalid(e.to_string()),
        }
    }
}

/// Parses one client frame, enforcing the size limit.
pub fn parse_client_frame(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    if let Some(field) = crate::rules::text::nul_in_json(bytes) {
        let field = crate::rules::text::printable(&field);
        return Err(FrameError::Invalid(format!("{field}: U+0000 (NUL) is not allowed in text")));
    }
    serde_json::from_slice(bytes).map_err(|e| FrameError::Invalid(crate::rules::text::printable(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ClientMsgId;

    #[test]
    fn parses_contract_frames() {
        let f = parse_client_frame(br#"{"type":"ping","id":7}"#).unwrap();
        assert_eq!(f, ClientFrame::Ping { id: RequestId::Num(7) });
        let f = parse_client_frame(br#"{"type":"sync","id":"a","cursors":{"0190a3c2-0000-7000-8000-000000000000":3}}"#)
            .unwrap();
        assert!(matches!(f, ClientFrame::Sync { positions, .. } if positions.len() == 1));
        assert!(parse_client_frame(b"{nope").is_err());
        assert!(parse_client_frame(br#"{"type":"fly"}"#).is_err());
        assert!(matches!(parse_client_frame(&vec![b' '; MAX_FRAME_BYTES + 1]), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn send_frames_carry_the_draft_at_their_top_level() {
        let conv = ConversationId::new();
        let text = format!(r#"{{"type":"send","id":1,"conversation_id":"{conv}","client_msg_id":"k","text":"hi"}}"#);
        let f = parse_client_frame(text.as_bytes()).unwrap();
        let want = ClientFrame::Send {
            id: RequestId::Num(1),
            conversation_id: conv,
            message: MessageDraft::text(ClientMsgId("k".into()), "hi"),
        };
        assert_eq!(f, want);
        let back: serde_json::Value = serde_json::to_value(&want).unwrap();
        assert_eq!(back["client_msg_id"], "k");
        assert_eq!(back["type"], "send");
        let unknown = text.replace(r#""text":"hi""#, r#""text":"hi","bogus":1"#);
        assert!(parse_client_frame(unknown.as_bytes()).is_err(), "unknown fields are refused");
        let bad = text.replace(r#""text":"hi""#, r#""text":5"#);
        let e = parse_client_frame(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
    }

    #[test]
    fn reply_serialises_without_absent_fields() {
        let f = ServerFrame::Pong { id: RequestId::Str("x".into()) };
        assert_eq!(f.to_json(), r#"{"type":"pong","id":"x"}"#);
        let err = ApiError::invalid("text: too long");
        let j = ServerFrame::reply_err(RequestId::Num(1), &err).to_json();
        assert_eq!(
            j,
            r#"{"type":"reply","id":1,"ok":false,"error":{"code":"invalid_request","message":"text: too long"}}"#
        );
        let j = ServerFrame::error(ConnectionCode::GoingAway, "bye").to_json();
        assert_eq!(j, r#"{"type":"error","code":"going_away","message":"bye"}"#);
    }
}
