//! The domain as clients see it: users, conversations, the per-conversation event log, and the
//! bodies of REST requests and responses. These serde types are the documentation of the JSON
//! shapes; the SDK, the services and the handlers all use them.

pub mod conversation;
pub mod event;
pub mod ops;
pub mod requests;
pub mod user;

pub use conversation::{
    ConversationKind, ConversationPage, ConversationSummary, DirectConversation, ReadReceipt, ReadState, Role,
    TypingIndicator,
};
pub use event::{Event, EventBody, EventPage, MessageDraft, NewMessage};
pub use ops::{ClientConfig, Status};
pub use requests::{Login, MarkRead, OpenDirect, Refresh, Register, SendMessage};
pub use user::{AuthResponse, User, UserPage};
