//! The domain as clients see it: users, conversations, the per-conversation event log, and the
//! bodies of REST requests and responses. These serde types are the documentation of the JSON
//! shapes; the SDK, the services and the handlers all use them.

pub mod account;
pub mod conversation;
pub mod event;
pub mod group;
pub mod media;
pub mod message;
pub mod notice;
pub mod ops;
pub mod requests;
pub mod social;
pub mod user;

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value: PATCH bodies where
/// `null` clears.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

pub use account::{SessionInfo, SessionPage};
pub use conversation::{
    ConversationKind, ConversationPage, ConversationSummary, DeliveryReceipt, DirectConversation, ReadReceipt,
    ReadState, Role, TYPING_EXPIRES_SECS, TypingIndicator,
};
pub use event::{Event, EventBody, EventPage, Message, MessageDraft, MessageState, NewMessage, ReactionCount};
pub use group::{
    AddMembers, AddOutcome, CreateGroup, CreateInvite, Group, GroupAnnouncement, GroupChanges, GroupInvite,
    GroupMember, InvitePage, JoinGroup, JoinOutcome, JoinRequest, JoinRequestPage, JoinedVia, LeftReason, MemberPage,
    SetAnnouncement, SkipReason, SkippedUser, TransferGroup, UpdateGroup, UpdateMember,
};
pub use media::{CreateMedia, Media, MediaUpload, MediaUrl};
pub use message::{ConversationSettings, CreateReport, EditMessage, Report, SearchHit, SearchPage, UpdateSettings};
pub use notice::{Notice, NoticeBody, NoticePage};
pub use ops::{ClientConfig, Status};
pub use requests::{
    ChangePassword, DeleteAccount, Login, MarkNoticesSeen, MarkRead, OpenDirect, Refresh, Register, SendFriendRequest,
    SendMessage, UpdateProfile,
};
pub use social::{
    BlockPage, BlockedUser, DmPolicy, Friend, FriendPage, FriendRequest, FriendRequestPage, FriendRequestStatus,
    OwnProfile, PresenceChange, PresenceView, Profile, Relationship,
};
pub use user::{AuthResponse, User, UserPage};
